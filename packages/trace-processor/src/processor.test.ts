import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { type RawBatch, Tracepoint, createRawBatch } from '@tierlab/trace-core';
import { writePerfettoFromRaw } from '@tierlab/trace-perfetto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcStreamDecoder } from './decode.js';
import { findTraceProcessor } from './find.js';
import { EVENT_QUERY_COLUMNS, openTraceProcessor } from './processor.js';
import { CellType, loadTpSchema } from './schema.js';

let dir: string;
let trace: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tierlab-tp-'));
  trace = join(dir, 'dummy.pftrace');
  writeFileSync(trace, new Uint8Array([0x0a, 0x00]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function drain(batches: AsyncGenerator<RawBatch>): Promise<number> {
  let n = 0;
  for await (const b of batches) n += b.length;
  return n;
}

async function expectTraceIo(p: Promise<unknown>, pattern: RegExp): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Error);
  expect(isTierlabError(e)).toBe(true);
  expect((e as { code: string }).code).toBe('TRACE_IO');
  expect((e as Error).message).toMatch(pattern);
  return e as Error;
}

describe('findTraceProcessor', () => {
  it('says what it searched when nothing is found', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    let err: unknown;
    try {
      findTraceProcessor({ env: { PATH: `${empty}:/nonexistent-tierlab` } });
    } catch (e) {
      err = e;
    }
    expect(isTierlabError(err)).toBe(true);
    const e = err as Error & { code: string; expected: string };
    expect(e.code).toBe('TRACE_IO');
    expect(e.message).toContain('trace_processor_shell not found');
    expect(e.message).toContain('$TRACE_PROCESSOR_SHELL (unset)');
    expect(e.message).toContain(empty);
    expect(e.message).toContain('trace_processor_shell, trace_processor');
    expect(e.expected).toContain('--trace-processor PATH');
  });

  it('explicit binary, then $TRACE_PROCESSOR_SHELL, then PATH', () => {
    const a = script('trace_processor_shell', '#!/bin/sh\nexit 0\n');
    expect(findTraceProcessor({ env: { PATH: dir } })).toBe(a);
    expect(findTraceProcessor({ env: { TRACE_PROCESSOR_SHELL: a, PATH: '' } })).toBe(a);
    expect(() => findTraceProcessor({ binary: join(dir, 'missing'), env: { PATH: dir } })).toThrow(/not found or not executable at .*missing.*searched: --trace-processor/);
    expect(() => findTraceProcessor({ env: { TRACE_PROCESSOR_SHELL: trace, PATH: dir } })).toThrow(/TRACE_PROCESSOR_SHELL names .* not an executable file/);
    rmSync(a);
  });

  it('openTraceProcessor throws at once when the binary is absent', () => {
    expect(() => openTraceProcessor(trace, { env: { PATH: '/nonexistent-tierlab' } })).toThrow(/trace_processor_shell not found; searched/);
  });
});

describe('child process failure paths (fake trace_processor_shell scripts, real child processes)', () => {
  it('a shell that exits non-zero: TRACE_IO with its stderr, no child left', async () => {
    const bin = script('tp-exit', '#!/bin/sh\necho "Could not read trace: $4" >&2\nexit 3\n');
    const reader = openTraceProcessor(trace, { binary: bin, timeoutMs: 20_000 });
    const e = await expectTraceIo(drain(reader.batches()), /exited/);
    expect((e as unknown as { excerpt: string }).excerpt).toContain('Could not read trace');
    expect((e as unknown as { excerpt: string }).excerpt).toContain('dummy.pftrace');
    expect(reader.stats.pid).toBeGreaterThan(0);
    expect(isAlive(reader.stats.pid)).toBe(false);
  });

  it('a shell that hangs without serving: start timeout, child killed', async () => {
    const bin = script('tp-hang', '#!/bin/sh\nexec sleep 60\n');
    const reader = openTraceProcessor(trace, { binary: bin, startTimeoutMs: 800 });
    const t0 = Date.now();
    await expectTraceIo(drain(reader.batches()), /not serving after 800 ms/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(isAlive(reader.stats.pid)).toBe(false);
  });

  it('the overall deadline (execa timeout) kills a hanging shell', async () => {
    const bin = script('tp-hang2', '#!/bin/sh\nexec sleep 60\n');
    const reader = openTraceProcessor(trace, { binary: bin, timeoutMs: 700 });
    await expectTraceIo(drain(reader.batches()), /timed out|exited/);
    expect(isAlive(reader.stats.pid)).toBe(false);
  });

  it('an abort signal kills the shell', async () => {
    const bin = script('tp-hang3', '#!/bin/sh\nexec sleep 60\n');
    const ctl = new AbortController();
    const reader = openTraceProcessor(trace, { binary: bin, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 300);
    await expectTraceIo(drain(reader.batches()), /aborted/);
    expect(isAlive(reader.stats.pid)).toBe(false);
  });

  it('a missing trace is TRACE_IO before anything is started', async () => {
    const bin = script('tp-never', '#!/bin/sh\nexit 0\n');
    const reader = openTraceProcessor(join(dir, 'nope.pftrace'), { binary: bin });
    await expectTraceIo(drain(reader.batches()), /trace not found/);
    expect(reader.stats.pid).toBe(-1);
  });
});

// A stub server (node) answering /status and /rpc with canned, pre-encoded
// responses: the full pipeline (spawn, wait, POST /rpc, chunked stream,
// decode, map) without the real binary.
const STUB = `#!/usr/bin/env node
const http = require('node:http');
const fs = require('node:fs');
const port = Number(process.argv[process.argv.indexOf('--http-port') + 1]);
const dir = process.env.STUB_DIR;
let n = 0;
http.createServer((req, res) => {
  const body = [];
  req.on('data', (d) => body.push(d));
  req.on('end', () => {
    if (req.url === '/status') { res.writeHead(200); res.end(); return; }
    if (req.url !== '/rpc') { res.writeHead(404); res.end(); return; }
    fs.writeFileSync(dir + '/request-' + n + '.bin', Buffer.concat(body));
    const out = fs.readFileSync(dir + '/response-' + n + '.bin');
    n++;
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
    let i = 0;
    const step = () => { if (i >= out.length) { if (!process.env.STUB_HOLD) res.end(); return; } res.write(out.subarray(i, i + 50)); i += 50; setTimeout(step, 1); };
    step();
  });
}).listen(port, '127.0.0.1');
`;

/** Encodes rows of EVENT_QUERY_COLUMNS as a /rpc response stream of `perMessage` rows per message. */
function encodeRows(rows: Array<Array<number | string | null>>, perMessage: number, error?: string): Uint8Array {
  const { rpcStream } = loadTpSchema();
  const msgs: object[] = [];
  for (let i = 0; i < Math.max(1, rows.length); i += perMessage) {
    const cells: number[] = [];
    const varint_cells: number[] = [];
    const float64_cells: number[] = [];
    let string_cells = '';
    for (const row of rows.slice(i, i + perMessage)) {
      for (const v of row) {
        if (v === null) cells.push(CellType.null);
        else if (typeof v === 'string') {
          cells.push(CellType.string);
          string_cells += `${v}\0`;
        } else if (Number.isInteger(v)) {
          cells.push(CellType.varint);
          varint_cells.push(v);
        } else {
          cells.push(CellType.float64);
          float64_cells.push(v);
        }
      }
    }
    const last = i + perMessage >= rows.length;
    msgs.push({
      seq: msgs.length,
      response: 3,
      query_result: {
        ...(i === 0 ? { column_names: EVENT_QUERY_COLUMNS } : {}),
        ...(error ? { error } : {}),
        batch: [{ cells, varint_cells, float64_cells, string_cells, is_last_batch: last }],
      },
    });
  }
  return rpcStream.encode(rpcStream.fromObject({ msg: msgs })).finish();
}

describe('full pipeline against a stub server', () => {
  // id, ts, name, cpu, tid, pid, comm, key, int_value, string_value, real_value
  const rows: Array<Array<number | string | null>> = [
    [1, 100, 'mm_page_alloc', 0, 42, 40, 'gcc', 'args.pfn', 0x1234, null, null],
    [1, 100, 'mm_page_alloc', 0, 42, 40, 'gcc', 'args.order', 0, null, null],
    [1, 100, 'mm_page_alloc', 0, 42, 40, 'gcc', 'args.gfp_flags', 0x100cca, null, null],
    [1, 100, 'mm_page_alloc', 0, 42, 40, 'gcc', 'args.migratetype', 1, null, null],
    [2, 150, 'sched_process_exec', 1, 43, 43, 'sh', 'filename', null, '/usr/bin/ls', null],
    [2, 150, 'sched_process_exec', 1, 43, 43, 'sh', 'pid', 43, null, null],
    [2, 150, 'sched_process_exec', 1, 43, 43, 'sh', 'old_pid', 43, null, null],
    [3, 200, 'mm_lru_insertion', 0, 42, 40, 'gcc', 'pfn', 0x1234, null, null],
    [3, 200, 'mm_lru_insertion', 0, 42, 40, 'gcc', 'lru', 1, null, null],
    [3, 200, 'mm_lru_insertion', 0, 42, 40, 'gcc', 'flags', 0x1 | 0x2 | 0x10, null, null],
    [4, 250, 'mm_lru_deactivate', 0, 42, null, null, null, null, null, null],
    [5, 300, 'rss_stat', 0, 42, 40, 'gcc', 'size', 8192, null, null],
    [5, 300, 'rss_stat', 0, 42, 40, 'gcc', 'member', 1, null, null],
  ];

  it('falls back from ftrace_event to raw, streams rows into RawBatches across batch boundaries', async () => {
    const stubDir = mkdtempSync(join(dir, 'stub-'));
    writeFileSync(join(stubDir, 'response-0.bin'), encodeRows([], 1, 'no such table: ftrace_event'));
    writeFileSync(join(stubDir, 'response-1.bin'), encodeRows(rows, 4));
    const bin = script('tp-stub.cjs', STUB);
    const reader = openTraceProcessor(trace, { binary: bin, batchSize: 2, timeoutMs: 30_000, env: { PATH: '' } });
    process.env.STUB_DIR = stubDir;
    const records: Array<Record<string, number | string>> = [];
    try {
      for await (const b of reader.batches()) {
        expect(b.length).toBeLessThanOrEqual(2);
        for (let i = 0; i < b.length; i++) {
          records.push({
            event: b.eventNames[b.event[i]!]!,
            time: b.time[i]!,
            cpu: b.cpu[i]!,
            tid: b.tid[i]!,
            pid: b.pid[i]!,
            comm: b.strings[b.comm[i]!]!,
            a: b.a[i]!,
            b: b.b[i]!,
            c: b.event[i] === Tracepoint.schedProcessExec ? b.strings[b.c[i]!]! : b.c[i]!,
            d: b.d[i]!,
          });
        }
      }
    } finally {
      delete process.env.STUB_DIR;
    }
    const req0 = new RpcStreamDecoder().push(readFileSync(join(stubDir, 'request-0.bin'))) as unknown as Array<{ query_args: { sql_query: string } }>;
    const req1 = new RpcStreamDecoder().push(readFileSync(join(stubDir, 'request-1.bin'))) as unknown as Array<{ query_args: { sql_query: string } }>;
    expect(req0[0]!.query_args.sql_query).toContain('FROM ftrace_event AS e');
    expect(req1[0]!.query_args.sql_query).toContain('FROM raw AS e');
    expect(reader.stats.table).toBe('raw');
    expect(records).toHaveLength(5);
    expect(records[0]).toMatchObject({ event: 'mm_page_alloc', time: 100, cpu: 0, tid: 42, pid: 40, comm: 'gcc', a: 0x1234, b: 0, d: 1 });
    expect(records[0]!.c).toBeGreaterThan(0); // GfpClass bits of GFP_HIGHUSER_MOVABLE
    expect(records[1]).toMatchObject({ event: 'sched_process_exec', a: 43, b: 43, c: '/usr/bin/ls', comm: 'sh' });
    expect(records[2]).toMatchObject({ event: 'mm_lru_insertion', a: 0x1234, b: 1, c: 1 | 2 | 8 });
    expect(records[3]).toMatchObject({ event: 'mm_lru_deactivate', pid: -1, comm: '<...>' });
    expect(records[4]).toMatchObject({ event: 'rss_stat', c: 1, d: 8192 });
    expect(reader.stats.eventCounts).toEqual({ mm_page_alloc: 1, sched_process_exec: 1, mm_lru_insertion: 1, mm_lru_deactivate: 1, rss_stat: 1 });
    expect(reader.stats.rows).toBe(rows.length);
    expect(reader.stats.firstTimeNs).toBe(100);
    expect(reader.stats.lastTimeNs).toBe(300);
    expect(isAlive(reader.stats.pid)).toBe(false);
  });

  it('a consumer that stops early, or a stream that never ends, leaves no child', async () => {
    const stubDir = mkdtempSync(join(dir, 'stub-'));
    writeFileSync(join(stubDir, 'response-0.bin'), encodeRows(rows, 2));
    const bin = script('tp-stub2.cjs', STUB);
    process.env.STUB_DIR = stubDir;
    try {
      const reader = openTraceProcessor(trace, { binary: bin, batchSize: 1 });
      for await (const b of reader.batches()) {
        expect(b.length).toBe(1);
        break;
      }
      expect(isAlive(reader.stats.pid)).toBe(false);

      // The stub holds the response open: the overall deadline ends it.
      process.env.STUB_HOLD = '1';
      const truncated = encodeRows(rows, 2);
      writeFileSync(join(stubDir, 'response-0.bin'), truncated.subarray(0, truncated.length - 10));
      const stuck = openTraceProcessor(trace, { binary: bin, timeoutMs: 2500 });
      await expectTraceIo(drain(stuck.batches()), /timed out|exited/);
      expect(isAlive(stuck.stats.pid)).toBe(false);
    } finally {
      delete process.env.STUB_DIR;
      delete process.env.STUB_HOLD;
    }
  });
});

function realBinary(): string | undefined {
  try {
    return findTraceProcessor();
  } catch {
    return undefined;
  }
}
const real = realBinary();

describe.skipIf(!real)(
  `real trace_processor_shell${real ? ` (${real})` : ' — SKIPPED: no trace_processor_shell on PATH or in $TRACE_PROCESSOR_SHELL'}`,
  () => {
    it('reads a trace written by @tierlab/trace-perfetto', async () => {
      const file = join(dir, 'real.pftrace');
      const b = createRawBatch(4);
      const comm = b.strings.push('tierlab') - 1;
      const rec = (event: number, time: number, a: number, bb: number) => {
        const i = b.length++;
        b.event[i] = event;
        b.time[i] = time;
        b.cpu[i] = 0;
        b.tid[i] = 1234;
        b.pid[i] = 1234;
        b.comm[i] = comm;
        b.a[i] = a;
        b.b[i] = bb;
        b.c[i] = 1;
        b.d[i] = 0;
      };
      rec(Tracepoint.mmPageAlloc, 1_000_000, 0x4242, 0);
      rec(Tracepoint.mmPageFree, 2_000_000, 0x4242, 0);
      await writePerfettoFromRaw([b], file);
      expect(existsSync(file)).toBe(true);
      const reader = openTraceProcessor(file, { timeoutMs: 60_000 });
      const got: Array<[string, number, number]> = [];
      for await (const batch of reader.batches()) {
        for (let i = 0; i < batch.length; i++) got.push([batch.eventNames[batch.event[i]!]!, batch.time[i]!, batch.a[i]!]);
      }
      expect(got).toEqual([
        ['mm_page_alloc', 1_000_000, 0x4242],
        ['mm_page_free', 2_000_000, 0x4242],
      ]);
      expect(isAlive(reader.stats.pid)).toBe(false);
      // the shell printed its version: keep it in the log
      console.log(execFileSync(real!, ['--version']).toString().trim());
    });
  },
);
