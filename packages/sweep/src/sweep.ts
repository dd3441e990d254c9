/**
 * runSweep: every trace on every machine through the policies, one cell per
 * (trace, machine) with all its policies in one replay(), on worker threads.
 *
 * Why one replay() per cell and not one per policy: replay() reads and
 * normalizes the trace once for all its policies (the read is most of the
 * time), and `tierlab compare` matches results by trace, machine and
 * options, so one result file per trace and machine is what it pairs.
 * Cells share nothing, so they run in any order on any worker and each
 * result is byte-identical to a `tierlab replay --json` of the same inputs,
 * whatever `jobs` is.
 */

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TOOL_NAME, TOOL_VERSION } from '@tierlab/replay';
import { removeStaleTempFiles, writeFileAtomic } from './atomic.js';
import { type CellTask, type PlannedCell, RESULTS_DIR, type SweepCell, type SweepTrace, planSweep, sha256 } from './plan.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

export const SWEEP_SCHEMA = 'tierlab-sweep/1';
/** The index of a sweep, in its output folder. */
export const INDEX_FILE = 'index.json';

export interface SweepOptions {
  /** Trace files, or traces with their overlay and filters. */
  readonly traces: readonly (string | SweepTrace)[];
  /** `name` or `name:knob=value,...`, in the order the results list them. */
  readonly policies: readonly string[];
  /** Preset names or machine files. */
  readonly machines: readonly string[];
  /** Results go to `<outDir>/results/`, the index to `<outDir>/index.json`. */
  readonly outDir: string;
  /** Worker threads; default os.availableParallelism(). */
  readonly jobs?: number;
  readonly seed?: number;
  readonly intervalMs?: number;
  /** Relative paths are resolved against this folder; default process.cwd(). */
  readonly cwd?: string;
  /** Replay every cell even when its result is already there. */
  readonly force?: boolean;
  /** Delete result files in `<outDir>/results/` that are no cell of this sweep (left by another sweep into the same folder). */
  readonly prune?: boolean;
  /** Stops the sweep: running replays are ended, finished cells stay on disk, no index is written. */
  readonly signal?: AbortSignal;
  /** Called on every event (see {@link SweepProgress}); must not throw. */
  readonly onProgress?: (progress: SweepProgress) => void;
}

export interface CellError {
  readonly code: string;
  readonly message: string;
}

export interface SweepIndexCell extends SweepCell {
  readonly status: 'ok' | 'failed';
  /** sha256 of the result file's bytes; null when the cell failed. */
  readonly resultSha256: string | null;
  /** Why the replay failed (bad trace data, a crash); null when it ran. */
  readonly error: CellError | null;
  /** Policies that failed inside the replay (an `error` in their entry). */
  readonly failedPolicies: readonly string[];
  /** Names of error-level anomalies in the result (`tierlab replay` exits 1 on one). */
  readonly errorAnomalies: readonly string[];
}

/** `<outDir>/index.json`: the same bytes for the same inputs, whatever the jobs and however many runs it took. */
export interface SweepIndex {
  readonly schema: typeof SWEEP_SCHEMA;
  readonly tool: { readonly name: string; readonly version: string };
  readonly inputs: {
    readonly traces: readonly SweepTrace[];
    readonly machines: readonly string[];
    readonly policies: readonly string[];
    readonly seed: number;
    readonly intervalMs: number;
  };
  readonly summary: { readonly cells: number; readonly ok: number; readonly failed: number; readonly withErrors: number };
  /** Sorted by trace file name, trace path, machine, group. */
  readonly cells: readonly SweepIndexCell[];
}

export type SweepEventType = 'begin' | 'cell-skipped' | 'cell-start' | 'cell-progress' | 'cell-done' | 'cell-failed' | 'end';

/** What happened, and where the sweep stands. */
export interface SweepProgress {
  readonly type: SweepEventType;
  /** The cell the event is about (null for begin and end). */
  readonly cell: SweepCell | null;
  /** For cell-failed. */
  readonly error: CellError | null;
  /** For cell-done and cell-failed: how long the replay took. */
  readonly cellMs: number | null;
  /** For cell-progress: the phase and records read so far. */
  readonly phase: 'footprint' | 'replay' | null;
  readonly records: number | null;
  readonly total: number;
  /** Cells replayed in this run, cells whose result was already there, cells that failed. */
  readonly computed: number;
  readonly skipped: number;
  readonly failed: number;
  /** Cells whose result was already there when the sweep began (all reported as cell-skipped right after begin). */
  readonly alreadyDone: number;
  readonly running: number;
  readonly jobs: number;
  readonly elapsedMs: number;
  /** Estimated time to the end, from the trace bytes replayed so far; null until a cell has finished. */
  readonly etaMs: number | null;
  /** For end: the sweep was stopped by its signal. */
  readonly aborted: boolean;
  readonly outDir: string;
}

export interface SweepOutcome {
  /** Absolute. */
  readonly outDir: string;
  /** `<outDir>/index.json`, absolute; null when the sweep was aborted. */
  readonly indexFile: string | null;
  readonly index: SweepIndex | null;
  readonly aborted: boolean;
  /** Cells replayed in this run, in index order. */
  readonly computed: readonly SweepCell[];
  /** Cells whose result was already on disk, in index order. */
  readonly skipped: readonly SweepCell[];
  readonly failed: readonly { readonly cell: SweepCell; readonly error: CellError }[];
  /** Cells not run because the sweep was aborted. */
  readonly pending: readonly SweepCell[];
  /** Result files in `<outDir>/results/` that are no cell of this sweep (deleted when `prune`). */
  readonly stale: readonly string[];
  readonly jobs: number;
  readonly elapsedMs: number;
}

/**
 * Run the matrix. Each finished cell is written at once (temp file, then
 * rename); a cell whose result is already there is skipped, so a sweep
 * stopped by Ctrl-C or a crash resumes where it was. Resolves when every
 * cell is done or the signal aborted it (`aborted: true`, no index written).
 * Throws a TierlabError before any replay for a missing trace, an unknown
 * machine or policy, or a bad knob.
 */
export async function runSweep(options: SweepOptions): Promise<SweepOutcome> {
  const started = performance.now();
  const cwd = options.cwd ?? process.cwd();
  const outDir = resolve(cwd, options.outDir);
  const seed = options.seed ?? 1;
  const intervalMs = options.intervalMs ?? 100;
  const requestedJobs = options.jobs ?? availableParallelism();
  if (!(Number.isInteger(requestedJobs) && requestedJobs >= 1)) throw new TypeError(`jobs must be a whole number >= 1, got ${requestedJobs}`);
  if (!(Number.isInteger(seed))) throw new TypeError(`seed must be an integer, got ${seed}`);
  if (!(intervalMs > 0)) throw new TypeError(`intervalMs must be positive, got ${intervalMs}`);

  const planned = await planSweep({
    traces: options.traces,
    machines: options.machines,
    policies: options.policies,
    seed,
    intervalMs,
    cwd,
  });
  const resultsDir = join(outDir, RESULTS_DIR);
  mkdirSync(resultsDir, { recursive: true });
  removeStaleTempFiles(resultsDir);
  removeStaleTempFiles(outDir);

  const stale = staleResults(resultsDir, planned);
  if (options.prune === true) for (const file of stale) rmSync(join(outDir, file), { force: true });

  const records = new Map<string, { sha256: string; failedPolicies: string[]; errorAnomalies: string[] }>();
  const failures = new Map<string, CellError>();
  const skipped: PlannedCell[] = [];
  const toRun: PlannedCell[] = [];
  for (const item of planned) {
    const existing = options.force === true ? null : readExisting(join(outDir, item.cell.file), item.cell);
    if (existing === null) toRun.push(item);
    else {
      skipped.push(item);
      records.set(item.cell.key, existing);
    }
  }

  // The index of an earlier run stops being true as soon as a cell is written; the new one replaces it at the end.
  if (toRun.length > 0) rmSync(join(outDir, INDEX_FILE), { force: true });
  const jobs = Math.max(1, Math.min(requestedJobs, toRun.length));
  const weight = (cell: SweepCell) => Math.max(1, cell.trace.bytes);
  const totalWeight = toRun.reduce((sum, item) => sum + weight(item.cell), 0);
  let doneWeight = 0;
  let runningWeight = 0;
  let computed = 0;
  let failedCount = 0;
  let running = 0;
  let skippedSoFar = 0;
  let aborted = options.signal?.aborted === true;
  let callbackError: unknown = null;
  const computeStarted = performance.now();

  const emit = (type: SweepEventType, extra: Partial<Pick<SweepProgress, 'cell' | 'error' | 'cellMs' | 'phase' | 'records'>> = {}) => {
    if (options.onProgress === undefined || callbackError !== null) return;
    const computeMs = performance.now() - computeStarted;
    const remaining = totalWeight - doneWeight - runningWeight / 2;
    const progress: SweepProgress = {
      type,
      cell: extra.cell ?? null,
      error: extra.error ?? null,
      cellMs: extra.cellMs ?? null,
      phase: extra.phase ?? null,
      records: extra.records ?? null,
      total: planned.length,
      computed,
      skipped: skippedSoFar,
      failed: failedCount,
      alreadyDone: skipped.length,
      running,
      jobs,
      elapsedMs: performance.now() - started,
      etaMs: doneWeight > 0 ? Math.max(0, (computeMs * remaining) / doneWeight) : toRun.length === 0 ? 0 : null,
      aborted,
      outDir,
    };
    try {
      options.onProgress(progress);
    } catch (error) {
      callbackError = error;
    }
  };

  emit('begin');
  for (const item of skipped) {
    skippedSoFar++;
    emit('cell-skipped', { cell: item.cell });
  }

  // Largest traces first, so the last cells to finish are short ones.
  const queue = [...toRun].sort((a, b) => weight(b.cell) - weight(a.cell));
  const computedKeys = new Set<string>();
  const workers = new Set<Worker>();
  const onAbort = () => {
    aborted = true;
    for (const worker of workers) void worker.terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const lane = async () => {
      let worker: Worker | null = null;
      try {
        for (;;) {
          if (aborted || callbackError !== null) return;
          const item = queue.shift();
          if (item === undefined) return;
          if (worker === null) {
            worker = startWorker();
            workers.add(worker);
          }
          running++;
          runningWeight += weight(item.cell);
          emit('cell-start', { cell: item.cell });
          const cellStarted = performance.now();
          const reply = await runOnWorker(
            worker,
            item.task,
            (phase, count) => emit('cell-progress', { cell: item.cell, phase, records: count }),
            () => aborted,
          );
          running--;
          runningWeight -= weight(item.cell);
          if (reply.type === 'aborted') return;
          const cellMs = performance.now() - cellStarted;
          doneWeight += weight(item.cell);
          if (reply.type === 'done') {
            writeFileAtomic(join(outDir, item.cell.file), reply.text);
            records.set(item.cell.key, describeResult(reply.text));
            computedKeys.add(item.cell.key);
            computed++;
            emit('cell-done', { cell: item.cell, cellMs });
          } else {
            failures.set(item.cell.key, reply.error);
            failedCount++;
            emit('cell-failed', { cell: item.cell, error: reply.error, cellMs });
          }
          if (reply.workerLost) {
            workers.delete(worker);
            void worker.terminate();
            worker = null;
          }
        }
      } finally {
        if (worker !== null) {
          workers.delete(worker);
          await worker.terminate();
        }
      }
    };
    await Promise.all(Array.from({ length: toRun.length === 0 ? 0 : jobs }, lane));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    for (const worker of workers) await worker.terminate();
  }
  if (callbackError !== null) throw callbackError;

  const cells = (list: readonly PlannedCell[]) => list.map((item) => item.cell);
  const failed = planned.filter((item) => failures.has(item.cell.key)).map((item) => ({ cell: item.cell, error: failures.get(item.cell.key)! }));
  const pending = planned.filter((item) => !records.has(item.cell.key) && !failures.has(item.cell.key));
  let index: SweepIndex | null = null;
  let indexFile: string | null = null;
  if (!aborted) {
    index = buildIndex(options, seed, intervalMs, planned, records, failures);
    indexFile = join(outDir, INDEX_FILE);
    writeFileAtomic(indexFile, `${JSON.stringify(index, null, 2)}\n`);
  }
  emit('end');
  return {
    outDir,
    indexFile,
    index,
    aborted,
    computed: cells(planned.filter((item) => computedKeys.has(item.cell.key))),
    skipped: cells(skipped),
    failed,
    pending: cells(pending),
    stale: options.prune === true ? [] : stale,
    jobs,
    elapsedMs: performance.now() - started,
  };
}

function buildIndex(
  options: SweepOptions,
  seed: number,
  intervalMs: number,
  planned: readonly PlannedCell[],
  records: ReadonlyMap<string, { sha256: string; failedPolicies: string[]; errorAnomalies: string[] }>,
  failures: ReadonlyMap<string, CellError>,
): SweepIndex {
  const cells: SweepIndexCell[] = planned.map(({ cell }) => {
    const record = records.get(cell.key);
    const error = failures.get(cell.key) ?? null;
    return {
      ...cell,
      status: record !== undefined ? 'ok' : 'failed',
      resultSha256: record?.sha256 ?? null,
      error,
      failedPolicies: record?.failedPolicies ?? [],
      errorAnomalies: record?.errorAnomalies ?? [],
    };
  });
  const ok = cells.filter((c) => c.status === 'ok').length;
  return {
    schema: SWEEP_SCHEMA,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    inputs: {
      traces: options.traces.map((t) => (typeof t === 'string' ? { file: t } : { ...t })),
      machines: [...options.machines],
      policies: [...options.policies],
      seed,
      intervalMs,
    },
    summary: {
      cells: cells.length,
      ok,
      failed: cells.length - ok,
      withErrors: cells.filter((c) => c.failedPolicies.length > 0 || c.errorAnomalies.length > 0).length,
    },
    cells,
  };
}

/** A result already on disk for this cell, or null: missing, unreadable, or not this cell's trace. */
function readExisting(path: string, cell: SweepCell): { sha256: string; failedPolicies: string[]; errorAnomalies: string[] } | null {
  if (!existsSync(path)) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const record = describeResult(text);
    const json = JSON.parse(text) as { trace?: { sha256?: unknown } };
    return json.trace?.sha256 === cell.trace.sha256 ? record : null;
  } catch {
    return null;
  }
}

/** What the index keeps of a result: its hash, failed policies and error anomalies. Throws on text that is not a result. */
function describeResult(text: string): { sha256: string; failedPolicies: string[]; errorAnomalies: string[] } {
  const json = JSON.parse(text) as {
    schema?: unknown;
    policies?: { policy: string; error?: unknown }[];
    anomalies?: { name: string; severity: string }[];
  };
  if (typeof json.schema !== 'string' || !Array.isArray(json.policies) || !Array.isArray(json.anomalies)) {
    throw new TypeError('not a tierlab result');
  }
  return {
    sha256: sha256(text),
    failedPolicies: json.policies.filter((p) => p.error !== undefined).map((p) => p.policy),
    errorAnomalies: json.anomalies.filter((a) => a.severity === 'error').map((a) => a.name),
  };
}

function staleResults(resultsDir: string, planned: readonly PlannedCell[]): string[] {
  const expected = new Set(planned.map((item) => item.cell.file));
  return readdirSync(resultsDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => `${RESULTS_DIR}/${name}`)
    .filter((file) => !expected.has(file))
    .sort();
}

// ---- workers ----

type LaneReply =
  | { readonly type: 'done'; readonly text: string; readonly workerLost: false }
  | { readonly type: 'failed'; readonly error: CellError; readonly workerLost: boolean }
  | { readonly type: 'aborted' };

/** The worker entry: dist/worker.js beside this module, or, when this module runs from src/ (tests), the built one. */
function workerUrl(): URL {
  const beside = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../dist/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`the sweep worker is missing (${fileURLToPath(built)}): build @tierlab/sweep first (npx pnpm@10 build)`);
}

function startWorker(): Worker {
  // No execArgv of the parent (a test runner's loaders): the worker is plain built JavaScript.
  return new Worker(workerUrl(), { execArgv: [] });
}

let nextRequest = 0;

function runOnWorker(
  worker: Worker,
  task: CellTask,
  onProgress: (phase: 'footprint' | 'replay', records: number) => void,
  isAborted: () => boolean,
): Promise<LaneReply> {
  const id = ++nextRequest;
  return new Promise((settle) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (reply: WorkerReply) => {
      if (reply.id !== id) return;
      if (reply.type === 'progress') {
        onProgress(reply.phase, reply.records);
        return;
      }
      cleanup();
      settle(reply.type === 'done' ? { type: 'done', text: reply.text, workerLost: false } : { type: 'failed', error: reply.error, workerLost: false });
    };
    const onError = (error: Error) => {
      cleanup();
      settle({ type: 'failed', error: { code: 'INTERNAL', message: `the worker thread crashed: ${error.stack ?? error.message}` }, workerLost: true });
    };
    const onExit = (code: number) => {
      cleanup();
      // terminate() on abort ends the worker; an exit on its own is a crash (process.exit in a policy, say).
      settle(isAborted() ? { type: 'aborted' } : { type: 'failed', error: { code: 'INTERNAL', message: `the worker thread exited with code ${code}` }, workerLost: true });
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ id, task } satisfies WorkerRequest);
  });
}
