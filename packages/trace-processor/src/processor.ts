/**
 * Reading a Perfetto trace through trace_processor_shell in HTTP RPC mode:
 * the shell is started (execa) on 127.0.0.1:<free port> with the trace, we
 * wait for /status, POST one streaming query to /rpc and turn its rows into
 * RawBatch records. The child is killed when reading ends, fails, is aborted
 * or times out, and (execa `cleanup`) when this process exits.
 */

import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { ErrorCode, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { type RawBatch, type ReaderStats, Tracepoint, createRawBatch, createReaderStats } from '@tierlab/trace-core';
import { type ResultPromise, execa } from 'execa';
import { type Cell, QueryResultDecoder, type Row, RpcStreamDecoder, encodeQueryRequest } from './decode.js';
import { Convert, argSpecs, convertNumber, eventFilterSql, tracepointIdByName } from './events.js';
import { findTraceProcessor } from './find.js';

export const READER_NAME = 'trace-processor';

export interface TraceProcessorOptions {
  /** trace_processor_shell to run (`--trace-processor PATH`); else $TRACE_PROCESSOR_SHELL, else PATH. */
  binary?: string;
  /** Overall deadline for the whole read, ms (execa `timeout` too). Default 600000. */
  timeoutMs?: number;
  /** Deadline for the shell to load the trace and answer /status, ms. Default: timeoutMs. */
  startTimeoutMs?: number;
  /** Aborts the read and kills the shell. */
  signal?: AbortSignal;
  /** Records per batch (default 8192). */
  batchSize?: number;
  /** Environment for the binary search (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface TraceProcessorStats extends ReaderStats {
  /** The binary run. */
  binary: string;
  /** Its pid while running (kept after, for checks), -1 before start. */
  pid: number;
  port: number;
  /** The event table queried: `ftrace_event` (Perfetto v35+) or `raw`. */
  table: string;
  /** Rows the query returned (one per event argument). */
  rows: number;
  rpcMessages: number;
  /** QueryResult batches read. */
  resultBatches: number;
  /** Integer args above 2^53 (inexact as Numbers). */
  inexactValues: number;
}

export interface TraceProcessorReader {
  readonly stats: TraceProcessorStats;
  /** Yields the same RawBatch, refilled: copy what you keep. One call per reader. */
  batches(): AsyncGenerator<RawBatch>;
}

const COLUMNS = ['id', 'ts', 'name', 'cpu', 'tid', 'pid', 'comm', 'key', 'int_value', 'string_value', 'real_value'];

/** The query run: every memory event with its thread, process and args, one row per arg, in time order. */
export function eventsQuery(table: string): string {
  return [
    'SELECT e.id AS id, e.ts AS ts, e.name AS name, e.cpu AS cpu, t.tid AS tid, p.pid AS pid, t.name AS comm,',
    '  a.key AS key, a.int_value AS int_value, a.string_value AS string_value, a.real_value AS real_value',
    `FROM ${table} AS e`,
    'LEFT JOIN thread AS t ON t.utid = e.utid',
    'LEFT JOIN process AS p ON p.upid = t.upid',
    'LEFT JOIN args AS a ON a.arg_set_id = e.arg_set_id',
    `WHERE ${eventFilterSql('e.name')}`,
    'ORDER BY e.ts, e.id',
  ].join('\n');
}

function ioError(message: string, file: string | undefined, excerpt?: string, cause?: unknown): TierlabError {
  return new TierlabError({
    code: ErrorCode.traceIo,
    source: READER_NAME,
    message,
    ...(file === undefined ? {} : { file }),
    ...(excerpt ? { excerpt } : {}),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function request(port: number, path: string, body: Uint8Array | null, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolveRes, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body ? 'POST' : 'GET',
        signal,
        agent: false,
        headers: body ? { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length } : {},
      },
      resolveRes,
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((res) => {
    const t = setTimeout(res, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      res();
    }, { once: true });
  });

/**
 * Reads `path` through trace_processor_shell. Finds the binary now (throws
 * TierlabError TRACE_IO when absent); starts it when `batches()` is iterated.
 */
export function openTraceProcessor(path: string, options: TraceProcessorOptions = {}): TraceProcessorReader {
  const binary = findTraceProcessor({
    ...(options.binary === undefined ? {} : { binary: options.binary }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const timeoutMs = options.timeoutMs ?? 600_000;
  const startTimeoutMs = options.startTimeoutMs ?? timeoutMs;
  const batchSize = options.batchSize ?? 8192;
  if (!(timeoutMs > 0) || !(startTimeoutMs > 0) || !(batchSize > 0)) throw new TypeError('timeoutMs, startTimeoutMs and batchSize must be > 0');
  const stats: TraceProcessorStats = {
    ...createReaderStats('trace-processor'),
    binary,
    pid: -1,
    port: 0,
    table: '',
    rows: 0,
    rpcMessages: 0,
    resultBatches: 0,
    inexactValues: 0,
  };
  let used = false;

  async function* batches(): AsyncGenerator<RawBatch> {
    if (used) throw new TypeError('batches() can be iterated once per reader');
    used = true;
    if (!existsSync(path)) throw ioError(`trace not found: ${path}`, path);
    options.signal?.throwIfAborted();

    const ctl = new AbortController();
    const started = Date.now();
    const deadline = setTimeout(() => ctl.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    const onUserAbort = () => ctl.abort(options.signal?.reason ?? new Error('aborted'));
    options.signal?.addEventListener('abort', onUserAbort, { once: true });

    let stderrTail = '';
    let child: ResultPromise | undefined;
    let exited: { code: number | undefined; signal: string | undefined; message: string } | undefined;
    let childDone: Promise<void> = Promise.resolve();
    try {
      stats.port = await freePort();
      child = execa(binary, ['--httpd', '--http-port', String(stats.port), path], {
        timeout: timeoutMs,
        cancelSignal: ctl.signal,
        forceKillAfterDelay: 2000,
        cleanup: true,
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'pipe',
        buffer: false,
        reject: false,
      });
      stats.pid = child.pid ?? -1;
      child.stderr?.on('data', (d: Buffer) => {
        stderrTail = (stderrTail + d.toString('utf8')).slice(-2000);
      });
      childDone = child.then(
        (r) => {
          exited = { code: r.exitCode, signal: r.signal, message: r.shortMessage ?? '' };
          if (!ctl.signal.aborted) ctl.abort(new Error(`trace_processor_shell exited (${r.shortMessage ?? r.exitCode})`));
        },
        (e: unknown) => {
          exited = { code: undefined, signal: undefined, message: String(e) };
          if (!ctl.signal.aborted) ctl.abort(e);
        },
      );

      // Wait until it has loaded the trace and serves /status.
      for (;;) {
        if (ctl.signal.aborted) throw ctl.signal.reason;
        if (Date.now() - started > startTimeoutMs) throw new Error(`not serving after ${startTimeoutMs} ms`);
        try {
          const res = await request(stats.port, '/status', null, AbortSignal.any([ctl.signal, AbortSignal.timeout(2000)]));
          res.resume();
          if (res.statusCode === 200) break;
        } catch {
          // not listening yet
        }
        await sleep(100, ctl.signal);
      }

      const batch = createRawBatch(batchSize);
      const mapper = new RowMapper(batch, stats);
      for (const table of ['ftrace_event', 'raw']) {
        stats.table = table;
        let rowsSeen = 0;
        const pending: Row[] = [];
        const decoder = new QueryResultDecoder((rows) => {
          for (const r of rows) pending.push(r);
        });
        const rpc = new RpcStreamDecoder();
        const res = await request(stats.port, '/rpc', encodeQueryRequest(eventsQuery(table)), ctl.signal);
        if (res.statusCode !== 200) throw new Error(`/rpc answered HTTP ${res.statusCode}`);
        for await (const chunk of res as AsyncIterable<Buffer>) {
          for (const msg of rpc.push(chunk)) {
            stats.rpcMessages++;
            if (msg.fatal_error) throw new Error(`trace processor RPC error: ${msg.fatal_error}`);
            if (msg.invalid_request) throw new Error(`trace processor does not know RPC method ${msg.invalid_request}`);
            if (msg.query_result) decoder.push(msg.query_result);
          }
          stats.bytesRead += chunk.length;
          if (decoder.error && rowsSeen === 0 && pending.length === 0) break;
          for (const row of pending) {
            rowsSeen++;
            if (mapper.add(row)) {
              yield batch;
              batch.length = 0;
              mapper.flush();
            }
          }
          pending.length = 0;
        }
        stats.resultBatches += decoder.batches;
        stats.rows += decoder.rowCount;
        if (decoder.error) {
          if (table === 'ftrace_event' && rowsSeen === 0 && /no such table/i.test(decoder.error)) continue;
          throw new Error(`query on ${table} failed: ${decoder.error}`);
        }
        if (!decoder.complete) throw new Error(`query result ended before its last batch (${rpc.pending} bytes of an unfinished message)`);
        if (batch.length > 0) yield batch;
        break;
      }
    } catch (e) {
      if (isTierlabError(e)) throw e;
      const why = options.signal?.aborted
        ? 'aborted'
        : ctl.signal.aborted && ctl.signal.reason instanceof Error
          ? ctl.signal.reason.message
          : exited
          ? `trace_processor_shell exited: ${exited.message}`
          : e instanceof Error
            ? e.message
            : String(e);
      throw ioError(`trace_processor_shell (${binary}) could not read the trace: ${why}`, path, stderrTail.trim(), e);
    } finally {
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onUserAbort);
      if (child && !exited) child.kill('SIGTERM');
      await childDone;
    }
  }

  return { stats, batches };
}

const TWO53 = 2 ** 53;

/** Groups a query's rows (one per arg, an event's rows adjacent) into records. */
class RowMapper {
  private readonly stringIds = new Map<string, number>();
  private readonly eventIds = new Map<string, number>();
  private currentId = Number.NaN;
  private index = -1;
  private lastTime = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly batch: RawBatch,
    private readonly stats: TraceProcessorStats,
  ) {
    batch.eventNames.forEach((name, id) => {
      if (name) this.eventIds.set(name, id);
    });
    for (const [name, id] of Object.entries(tracepointIdByName)) this.eventIds.set(name, id);
  }

  private intern(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.batch.strings.length;
      this.batch.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  private eventId(name: string): number {
    let id = this.eventIds.get(name);
    if (id === undefined) {
      id = Math.max(Tracepoint.firstDynamic, this.batch.eventNames.length);
      while (this.batch.eventNames.length < id) this.batch.eventNames.push('');
      this.batch.eventNames.push(name);
      this.eventIds.set(name, id);
    }
    return id;
  }

  /** Adds a row; true when the batch is full and the row was not yet placed (yield, then it is placed by flush). */
  private held: Row | null = null;

  add(row: Row): boolean {
    const id = num(row[0]);
    const b = this.batch;
    if (id !== this.currentId) {
      if (b.length === b.event.length) {
        this.held = row;
        return true;
      }
      this.startRecord(row, id);
    }
    this.applyArg(row);
    return false;
  }

  /** Places a row held back by a full batch (after the caller yielded and reset it). */
  flush(): boolean {
    if (this.held === null) return false;
    const row = this.held;
    this.held = null;
    this.currentId = Number.NaN;
    return this.add(row);
  }

  private startRecord(row: Row, id: number): void {
    const b = this.batch;
    const s = this.stats;
    this.currentId = id;
    const i = b.length++;
    this.index = i;
    const name = typeof row[2] === 'string' ? row[2] : '';
    const time = num(row[1]);
    b.event[i] = this.eventId(name);
    b.time[i] = time;
    b.cpu[i] = row[3] === null ? -1 : num(row[3]);
    b.tid[i] = row[4] === null ? -1 : num(row[4]);
    b.pid[i] = row[5] === null ? -1 : num(row[5]);
    b.comm[i] = this.intern(typeof row[6] === 'string' ? row[6] : '<...>');
    b.a[i] = Number.NaN;
    b.b[i] = Number.NaN;
    b.c[i] = Number.NaN;
    b.d[i] = Number.NaN;
    b.e[i] = Number.NaN;
    b.line[i] = 0;
    s.eventCounts[name] = (s.eventCounts[name] ?? 0) + 1;
    if (time < this.lastTime) s.outOfOrder++;
    this.lastTime = time;
    if (Number.isNaN(s.firstTimeNs)) s.firstTimeNs = time;
    s.lastTimeNs = time;
  }

  private applyArg(row: Row): void {
    const b = this.batch;
    const i = this.index;
    const key = row[7];
    if (typeof key !== 'string') return;
    const field = key.startsWith('args.') ? key.slice(5) : key;
    const spec = argSpecs[b.event[i]!]?.[field];
    if (!spec) return;
    const column = [b.a, b.b, b.c, b.d, b.e][spec.column]!;
    if (spec.convert === Convert.string) {
      const str = row[9];
      column[i] = this.intern(typeof str === 'string' ? str : '');
      return;
    }
    const v = row[8] ?? row[10];
    if (typeof v !== 'number') return;
    if (Math.abs(v) >= TWO53) this.stats.inexactValues++;
    column[i] = convertNumber(spec.convert, v);
  }
}

function num(c: Cell | undefined): number {
  if (typeof c === 'number') return c;
  if (typeof c === 'string') return Number(c);
  return Number.NaN;
}

export { COLUMNS as EVENT_QUERY_COLUMNS };
