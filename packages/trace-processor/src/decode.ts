/**
 * Decoding of trace processor query results: `QueryResult` messages (one or
 * many, as the /rpc stream sends them) into rows of cells, and the /rpc
 * stream framing (`TraceProcessorRpcStream`: tag 0x0a, varint size, message).
 *
 * Cells come row-major (R0C0, R0C1, …, R1C0, …); a batch may end inside a row,
 * so a partial row is carried to the next batch.
 */

import { CellType, loadTpSchema } from './schema.js';

/** One cell: NULL, an integer (int64 as a Number: exact up to 2^53), a double, a string or a blob. */
export type Cell = null | number | string | Uint8Array;
export type Row = Cell[];

/** A whole decoded QueryResult (see {@link decodeQueryResult}). */
export interface DecodedQueryResult {
  columnNames: string[];
  /** The query's error, '' when none. */
  error: string;
  rows: Row[];
  /** Whether a batch said is_last_batch. */
  complete: boolean;
  /** Batches read. */
  batches: number;
}

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

/** int64 as protobufjs gives it (Number or Long) → Number. */
export function int64ToNumber(v: number | LongLike | bigint): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  const high = v.unsigned ? v.high >>> 0 : v.high;
  return high * 4294967296 + (v.low >>> 0);
}

interface CellsBatchMessage {
  cells?: number[];
  varint_cells?: Array<number | LongLike>;
  float64_cells?: number[];
  blob_cells?: Uint8Array[];
  string_cells?: string;
  is_last_batch?: boolean;
}

export interface QueryResultMessage {
  column_names?: string[];
  error?: string;
  batch?: CellsBatchMessage[];
}

/**
 * Streaming QueryResult decoder: feed it QueryResult messages (bytes or
 * already decoded) in order; it calls `onRows` with the complete rows of each.
 */
export class QueryResultDecoder {
  columnNames: string[] = [];
  error = '';
  complete = false;
  batches = 0;
  rowCount = 0;
  private partial: Row = [];

  constructor(private readonly onRows: (rows: Row[], decoder: QueryResultDecoder) => void) {}

  /** Feeds one serialised QueryResult. */
  pushBytes(bytes: Uint8Array): void {
    const { queryResult } = loadTpSchema();
    this.push(queryResult.decode(bytes) as unknown as QueryResultMessage);
  }

  /** Feeds one decoded QueryResult. */
  push(msg: QueryResultMessage): void {
    if (msg.column_names && msg.column_names.length > 0) {
      // Column names come once, in the first message; later ones repeat them at most.
      if (this.columnNames.length === 0) this.columnNames = [...msg.column_names];
    }
    if (msg.error) this.error = this.error ? `${this.error}\n${msg.error}` : msg.error;
    const rows: Row[] = [];
    for (const batch of msg.batch ?? []) {
      this.batches++;
      this.readBatch(batch, rows);
      if (batch.is_last_batch) this.complete = true;
    }
    this.rowCount += rows.length;
    if (rows.length > 0) this.onRows(rows, this);
  }

  /** Cells left over when the result ended inside a row (should be 0). */
  get danglingCells(): number {
    return this.partial.length;
  }

  private readBatch(batch: CellsBatchMessage, rows: Row[]): void {
    const width = this.columnNames.length;
    if (width === 0 && (batch.cells?.length ?? 0) > 0) {
      throw new Error('QueryResult: cells before column names');
    }
    const strings = batch.string_cells ? batch.string_cells.split('\0') : [];
    const varints = batch.varint_cells ?? [];
    const floats = batch.float64_cells ?? [];
    const blobs = batch.blob_cells ?? [];
    let vi = 0;
    let fi = 0;
    let si = 0;
    let bi = 0;
    let row = this.partial;
    for (const type of batch.cells ?? []) {
      let cell: Cell;
      switch (type) {
        case CellType.null:
          cell = null;
          break;
        case CellType.varint:
          cell = int64ToNumber(varints[vi++]!);
          break;
        case CellType.float64:
          cell = floats[fi++]!;
          break;
        case CellType.string:
          cell = strings[si++] ?? '';
          break;
        case CellType.blob: {
          // A plain copy: protobufjs gives Buffers viewing the message.
          const blob = blobs[bi++];
          cell = blob ? new Uint8Array(blob) : new Uint8Array(0);
          break;
        }
        default:
          throw new Error(`QueryResult: invalid cell type ${type}`);
      }
      row.push(cell);
      if (row.length === width) {
        rows.push(row);
        row = [];
      }
    }
    this.partial = row;
  }
}

/** Decodes one serialised QueryResult (or several concatenated: protobuf merges their repeated fields). */
export function decodeQueryResult(bytes: Uint8Array): DecodedQueryResult {
  const rows: Row[] = [];
  const decoder = new QueryResultDecoder((r) => {
    for (const row of r) rows.push(row);
  });
  decoder.pushBytes(bytes);
  return { columnNames: decoder.columnNames, error: decoder.error, rows, complete: decoder.complete, batches: decoder.batches };
}

/** A TraceProcessorRpc message as far as we read it. */
export interface RpcMessage {
  seq?: number | LongLike;
  fatal_error?: string;
  request?: number;
  response?: number;
  invalid_request?: number;
  query_result?: QueryResultMessage;
}

/**
 * Splits the /rpc byte stream into TraceProcessorRpc messages, whatever the
 * chunking: `push` returns the messages completed by the chunk.
 */
export class RpcStreamDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  bytes = 0;
  messages = 0;

  push(chunk: Uint8Array): RpcMessage[] {
    this.bytes += chunk.length;
    if (this.buf.length === 0) this.buf = chunk;
    else {
      const joined = new Uint8Array(this.buf.length + chunk.length);
      joined.set(this.buf, 0);
      joined.set(chunk, this.buf.length);
      this.buf = joined;
    }
    const out: RpcMessage[] = [];
    const { rpc } = loadTpSchema();
    let pos = 0;
    const buf = this.buf;
    while (pos < buf.length) {
      const tag = buf[pos]!;
      if (tag !== 0x0a) throw new Error(`TraceProcessorRpcStream: expected tag 0x0a at byte ${this.bytes - buf.length + pos}, got 0x${tag.toString(16)}`);
      // varint size
      let p = pos + 1;
      let size = 0;
      let mul = 1;
      let done = false;
      for (let k = 0; k < 10 && p < buf.length; k++) {
        const b = buf[p++]!;
        size += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) {
          done = true;
          break;
        }
      }
      if (!done || p + size > buf.length) break; // incomplete frame: wait for more bytes
      out.push(rpc.decode(buf.subarray(p, p + size)) as unknown as RpcMessage);
      this.messages++;
      pos = p + size;
    }
    this.buf = pos === buf.length ? new Uint8Array(0) : buf.slice(pos);
    return out;
  }

  /** Bytes of an unfinished frame still held. */
  get pending(): number {
    return this.buf.length;
  }
}

/** The /rpc request body for one streaming query (seq 0: always accepted, it restarts the sequence). */
export function encodeQueryRequest(sql: string, seq = 0): Uint8Array {
  const { rpcStream } = loadTpSchema();
  return rpcStream.encode({ msg: [{ seq, request: 3, query_args: { sql_query: sql } }] }).finish();
}
