import Long from 'long';
import { describe, expect, it } from 'vitest';
import { QueryResultDecoder, type Row, RpcStreamDecoder, decodeQueryResult, encodeQueryRequest } from './decode.js';
import { CellType, loadTpSchema } from './schema.js';

const C = CellType;

/** Encodes QueryResult messages with protobufjs from our .proto subset (as the shell's serializer would). */
function encodeResult(msg: object): Uint8Array {
  const { queryResult } = loadTpSchema();
  const err = queryResult.verify(msg);
  if (err) throw new Error(err);
  return queryResult.encode(queryResult.fromObject(msg)).finish();
}

const big = Long.fromString('9007199254740993'); // 2^53 + 1, inexact as a Number
const blob = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);

// 3 columns: ts (varint), name (string), extra (any type); 4 rows over 3 batches,
// the second row split across batches 1 and 2.
const batches = [
  {
    cells: [C.varint, C.string, C.float64, C.varint, C.string],
    varint_cells: [1000, 2000],
    float64_cells: [1.5],
    string_cells: 'mm_page_alloc\0mm_page_free\0',
  },
  {
    cells: [C.null, C.varint, C.string, C.blob],
    varint_cells: [big],
    string_cells: 'rss_stat\0',
    blob_cells: [blob],
  },
  {
    cells: [C.varint, C.string, C.string],
    varint_cells: [-5],
    string_cells: 'sched_process_exec\0/usr/bin/ls\0',
    is_last_batch: true,
  },
];
const expectedRows: Row[] = [
  [1000, 'mm_page_alloc', 1.5],
  [2000, 'mm_page_free', null],
  [9007199254740992, 'rss_stat', blob],
  [-5, 'sched_process_exec', '/usr/bin/ls'],
];

describe('decodeQueryResult', () => {
  it('decodes every cell type over several batches, a row split across batches, is_last_batch', () => {
    const bytes = encodeResult({ column_names: ['ts', 'name', 'extra'], batch: batches });
    const r = decodeQueryResult(bytes);
    expect(r.columnNames).toEqual(['ts', 'name', 'extra']);
    expect(r.error).toBe('');
    expect(r.batches).toBe(3);
    expect(r.complete).toBe(true);
    expect(r.rows).toEqual(expectedRows);
  });

  it('merges concatenated QueryResult messages (protobuf repeated-field merge)', () => {
    const first = encodeResult({ column_names: ['ts', 'name', 'extra'], batch: [batches[0]] });
    const rest = encodeResult({ batch: [batches[1], batches[2]] });
    const joined = new Uint8Array(first.length + rest.length);
    joined.set(first);
    joined.set(rest, first.length);
    expect(decodeQueryResult(joined).rows).toEqual(expectedRows);
  });

  it('reports the error string, and a result without is_last_batch as incomplete', () => {
    const r = decodeQueryResult(encodeResult({ column_names: ['x'], error: 'no such table: ftrace_event', batch: [{ cells: [] }] }));
    expect(r.error).toBe('no such table: ftrace_event');
    expect(r.rows).toEqual([]);
    const partial = decodeQueryResult(encodeResult({ column_names: ['ts', 'name', 'extra'], batch: [batches[0]] }));
    expect(partial.complete).toBe(false);
    expect(partial.rows).toHaveLength(1);
  });

  it('keeps rows of an error raised while iterating', () => {
    const r = decodeQueryResult(
      encodeResult({
        column_names: ['v'],
        batch: [{ cells: [C.varint, C.varint], varint_cells: [1, 2], is_last_batch: true }],
        error: 'interrupted',
      }),
    );
    expect(r.rows).toEqual([[1], [2]]);
    expect(r.error).toBe('interrupted');
  });

  it('rejects an invalid cell type and cells before column names', () => {
    expect(() => decodeQueryResult(encodeResult({ column_names: ['v'], batch: [{ cells: [C.invalid] }] }))).toThrow(/invalid cell type 0/);
    expect(() => decodeQueryResult(encodeResult({ batch: [{ cells: [C.null] }] }))).toThrow(/before column names/);
  });

  it('streams: rows arrive per pushed message', () => {
    const seen: number[] = [];
    const d = new QueryResultDecoder((rows) => seen.push(rows.length));
    d.pushBytes(encodeResult({ column_names: ['ts', 'name', 'extra'], batch: [batches[0]] }));
    expect(d.danglingCells).toBe(2);
    d.pushBytes(encodeResult({ batch: [batches[1]] }));
    d.pushBytes(encodeResult({ batch: [batches[2]] }));
    expect(seen).toEqual([1, 2, 1]);
    expect(d.rowCount).toBe(4);
    expect(d.complete).toBe(true);
    expect(d.danglingCells).toBe(0);
  });
});

describe('RpcStreamDecoder', () => {
  function rpcStream(): Uint8Array {
    const { rpcStream } = loadTpSchema();
    return rpcStream
      .encode(
        rpcStream.fromObject({
          msg: [
            { seq: 0, response: 3, query_result: { column_names: ['ts', 'name', 'extra'], batch: [batches[0]] } },
            { seq: 1, response: 3, query_result: { batch: [batches[1]] } },
            { seq: 2, response: 3, query_result: { batch: [batches[2]] } },
          ],
        }),
      )
      .finish();
  }

  it.each([1, 3, 7, 64, 100000])('decodes framed responses fed %i bytes at a time', (step) => {
    const bytes = rpcStream();
    const rpc = new RpcStreamDecoder();
    const rows: Row[] = [];
    const d = new QueryResultDecoder((r) => rows.push(...r));
    for (let i = 0; i < bytes.length; i += step) {
      for (const msg of rpc.push(bytes.subarray(i, i + step))) {
        expect(msg.response).toBe(3);
        if (msg.query_result) d.push(msg.query_result);
      }
    }
    expect(rpc.messages).toBe(3);
    expect(rpc.pending).toBe(0);
    expect(rows).toEqual(expectedRows);
    expect(d.complete).toBe(true);
  });

  it('rejects a stream not framed as field 1', () => {
    expect(() => new RpcStreamDecoder().push(new Uint8Array([0x12, 0x00]))).toThrow(/expected tag 0x0a/);
  });

  it('encodes a query request as TraceProcessorRpcStream { msg { request: TPM_QUERY_STREAMING, query_args } }', () => {
    const bytes = encodeQueryRequest('SELECT 1');
    const [msg] = new RpcStreamDecoder().push(bytes) as unknown as Array<{ request: number; query_args: { sql_query: string } }>;
    expect(msg!.request).toBe(3);
    expect(msg!.query_args.sql_query).toBe('SELECT 1');
    // field 103 (query_args), wire type 2 → tag varint 0xba 0x06
    expect(Buffer.from(bytes).includes(Buffer.from([0xba, 0x06]))).toBe(true);
  });
});
