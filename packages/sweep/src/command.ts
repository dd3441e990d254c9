/**
 * `tierlab sweep` as a function: arguments in, exit code and output out. It
 * prints nothing and exits nothing: progress goes to the `progress`
 * callback, the rest comes back for the app to write.
 */

import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ErrorCode, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { formatSweepProgress } from './progress.js';
import { type SweepOutcome, runSweep } from './sweep.js';

export const SWEEP_USAGE = `usage:
  tierlab sweep <trace>... --out <dir> [--machine <preset|file>]... [--policy <name[:knob=value,...]>]...
                [--jobs N] [--seed N] [--interval-ms N] [--overlay file] [--pid N]... [--comm NAME]...
                [--force] [--prune] [--quiet]

  Replays every trace on every machine (default dram-pmem) through the policies
  (default first-touch, kmem-tiering), all policies of a trace and machine in one
  replay, on N worker threads (default: the CPUs). Results go to <dir>/results/,
  one file per trace and machine, as 'tierlab replay --json' writes them; the
  index to <dir>/index.json. A result already there is kept: run the same sweep
  again after Ctrl-C or a crash and it resumes.

  --force     replay every cell again
  --prune     delete files in <dir>/results/ that are no cell of this sweep
  --overlay, --pid, --comm apply to every trace

  Then: tierlab compare <base-dir>/results <dir>/results --format markdown

exit status: 0 every cell ran, 1 a cell or a policy failed or an error anomaly
was counted, 2 bad usage or bad input, 130 interrupted`;

export interface SweepCommandIo {
  /** Relative paths are resolved against it. */
  readonly cwd: string;
  /** Ctrl-C: the app aborts it on SIGINT. */
  readonly signal?: AbortSignal;
  /** Where progress text goes (the app: stderr). */
  readonly progress?: (text: string) => void;
  /** Progress as a redrawn bar (a terminal) or one line per cell. */
  readonly tty?: boolean;
  readonly columns?: number;
}

export interface SweepCommandOutput {
  /** 0 ok, 1 a cell, a policy or an error anomaly failed, 2 bad usage or input, 130 interrupted. */
  readonly exitCode: 0 | 1 | 2 | 130;
  readonly stdout: string;
  readonly stderr: string;
  readonly outcome: SweepOutcome | null;
}

/** Run `tierlab sweep` with the arguments after `sweep`. Bad usage and bad input come back as exit code 2; bugs are thrown. */
export async function runSweepCommand(args: readonly string[], io: SweepCommandIo): Promise<SweepCommandOutput> {
  if (args.includes('--help') || args.includes('-h')) return { exitCode: 0, stdout: `${SWEEP_USAGE}\n`, stderr: '', outcome: null };
  let outcome: SweepOutcome;
  let printed = false;
  try {
    const { values, positionals } = parse(args);
    if (positionals.length === 0) throw usage('give one or more trace files');
    if (values.out === undefined) throw usage('give the output folder: --out <dir>');
    const integer = (name: string, value: string | undefined, min: number) => {
      if (value === undefined) return undefined;
      const n = Number(value);
      if (!(Number.isInteger(n) && n >= min)) throw usage(`bad ${name} (a whole number >= ${min})`, value);
      return n;
    };
    const jobs = integer('--jobs', values.jobs, 1);
    const seed = integer('--seed', values.seed, Number.MIN_SAFE_INTEGER);
    const intervalMs = values['interval-ms'] === undefined ? undefined : Number(values['interval-ms']);
    if (intervalMs !== undefined && !(intervalMs > 0)) throw usage('bad --interval-ms (a positive number)', values['interval-ms']);
    const pids = (values.pid ?? []).map((p) => integer('--pid', p, 0)!);
    const traces = positionals.map((file) => ({
      file,
      ...(values.overlay !== undefined ? { overlay: values.overlay } : {}),
      ...(pids.length > 0 ? { pids } : {}),
      ...(values.comm !== undefined ? { comms: values.comm } : {}),
    }));
    const quiet = values.quiet === true;
    const write = io.progress;
    printed = write !== undefined && !quiet;
    outcome = await runSweep({
      traces,
      machines: values.machine ?? ['dram-pmem'],
      policies: values.policy ?? ['first-touch', 'kmem-tiering'],
      outDir: values.out,
      cwd: io.cwd,
      force: values.force === true,
      prune: values.prune === true,
      ...(jobs !== undefined ? { jobs } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(intervalMs !== undefined ? { intervalMs } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      ...(write !== undefined && !quiet
        ? {
            onProgress: (progress) => {
              const text = formatSweepProgress(progress, { tty: io.tty === true, ...(io.columns ? { columns: io.columns } : {}) });
              if (text !== null) write(text);
            },
          }
        : {}),
    });
  } catch (error) {
    if (!isTierlabError(error)) throw error;
    return { exitCode: 2, stdout: '', stderr: `tierlab: ${error.message}\n`, outcome: null };
  }
  return { ...summarize(outcome, io.cwd, printed), outcome };
}

/** The closing summary; `printed`: progress lines went out already (they said where an interrupted sweep stands). */
function summarize(outcome: SweepOutcome, cwd: string, printed: boolean): Omit<SweepCommandOutput, 'outcome'> {
  const show = (path: string) => {
    const rel = relative(cwd, path);
    return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
  };
  const err: string[] = [];
  if (outcome.aborted) {
    const onDisk = outcome.computed.length + outcome.skipped.length;
    return {
      exitCode: 130,
      stdout: '',
      stderr: printed ? '' : `tierlab: sweep interrupted: ${onDisk} cells on disk, ${outcome.pending.length} left; run the same command again to resume\n`,
    };
  }
  const index = outcome.index!;
  const out = [
    `sweep: ${index.summary.cells} cells (${outcome.computed.length} replayed, ${outcome.skipped.length} already there, ${outcome.failed.length} failed) in ${(outcome.elapsedMs / 1000).toFixed(1)} s on ${outcome.jobs} worker${outcome.jobs === 1 ? '' : 's'}`,
    `index    ${show(outcome.indexFile!)}`,
    `results  ${show(`${outcome.outDir}/results`)}   (tierlab compare <base>/results ${show(`${outcome.outDir}/results`)})`,
  ];
  for (const { cell, error } of outcome.failed) err.push(`tierlab: ${cell.trace.file} on ${cell.machine} failed: ${error.code}: ${error.message}`);
  for (const cell of index.cells) {
    if (cell.failedPolicies.length > 0) err.push(`tierlab: ${cell.file}: policies failed: ${cell.failedPolicies.join(', ')}`);
    if (cell.errorAnomalies.length > 0) err.push(`tierlab: ${cell.file}: error anomalies: ${cell.errorAnomalies.join(', ')}`);
  }
  if (outcome.stale.length > 0) {
    err.push(
      `tierlab: warning: ${outcome.stale.length} result files in ${show(`${outcome.outDir}/results`)} are no cell of this sweep (compare reads them all): use --prune or a fresh --out`,
    );
  }
  const failed = index.summary.failed > 0 || index.summary.withErrors > 0;
  return { exitCode: failed ? 1 : 0, stdout: `${out.join('\n')}\n`, stderr: err.length > 0 ? `${err.join('\n')}\n` : '' };
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string', short: 'o' },
        machine: { type: 'string', multiple: true },
        policy: { type: 'string', multiple: true },
        jobs: { type: 'string', short: 'j' },
        seed: { type: 'string' },
        'interval-ms': { type: 'string' },
        overlay: { type: 'string' },
        pid: { type: 'string', multiple: true },
        comm: { type: 'string', multiple: true },
        force: { type: 'boolean' },
        prune: { type: 'boolean' },
        quiet: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw usage(error instanceof Error ? error.message : String(error));
  }
}

function usage(message: string, excerpt?: string): TierlabError {
  return new TierlabError({
    code: ErrorCode.usage,
    source: 'sweep',
    message,
    expected: "tierlab sweep <trace>... --out <dir> (see 'tierlab sweep --help')",
    ...(excerpt !== undefined ? { excerpt } : {}),
  });
}
