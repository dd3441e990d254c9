import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatFixtureResult, listFixtures, readFixture, readTieringRun, reclaimFidelity, runFixture, tieringFidelity, tieringResult } from '@tierlab/fidelity';
import { listPresets, loadPreset, parseCapacity } from '@tierlab/machines';
import { writeReplayPerfetto } from '@tierlab/perfetto-export';
import { ErrorCode, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { TOOL_VERSION, formatComparison, replay } from '@tierlab/replay';
import { runCompareCommand, runReportCommand } from '@tierlab/report';
import { runSweepCommand } from '@tierlab/sweep';
import { describePolicies, newPolicyCommand, parsePolicyArgumentAsync, resolvePolicy } from './policies.js';

const USAGE = `tierlab ${TOOL_VERSION}: replay real kernel memory traces through tiering policies

usage:
  tierlab replay <trace> --machine <preset|file> --policy <name|package|./policy.js>[:knob=value,...] [--policy ...]
                 [--json out.json] [--perfetto out.pftrace] [--pid N]... [--comm NAME]... [--seed N] [--interval-ms N]
                 [--format auto|tracefs|trace-cmd-report|perf-script|lackey|trace-processor] [--quiet]
                 [--trace-processor PATH]   (with --format trace-processor: Perfetto's trace_processor_shell)
                 [--damon-target ID=PID]... [--lackey-slice N] [--lackey-ns-per-instruction X]
                 [--overlay overlay.yaml]   (mbind bindings and device accesses added to the trace)
  tierlab compare <base> <head> [--threshold metric=+2%]... [--format text|markdown|json]
                          deltas per trace, policy and metric (exit 0 ok, 1 regression, 2 bad input)
  tierlab sweep <trace>... --out <dir> [--machine M]... [--policy P]... [--jobs N] [--force] [--prune]
                          every trace on every machine through the policies, on worker threads;
                          resumable (finished cells are kept); results in <dir>/results/
  tierlab report <results|sweep-dir>... --out report.html
                          one self-contained HTML file: comparison table and charts per policy
  tierlab fidelity [<fixture-dir>...] [--json out.json]
                          every fixture under traces/fidelity/ (or those named): the kernel's
                          numbers and the model's side by side with their bands; exit 1 if one
                          is out of its band (docs/fidelity.md)
  tierlab fidelity tiering <lab-run-dir> [--knob k=v]...
                          kmem-tiering against a QEMU lab run (scripts/fidelity/lab.sh run)
  tierlab fidelity reclaim <trace> --pid N --limit BYTES [--unaccounted BYTES]
                          the engine's reclaim model against the kernel's own reclaim in a
                          capture made inside a memory cgroup (docs/fidelity.md)
  tierlab policies [<package|./policy.js>...]
                          list the policies (built-in, and any named) with their knobs and kernel names
  tierlab new-policy <name> [--dir <path>] [--api-version <range>] [--force]
                          write a policy package (tierlab-policy-<name>) wired to the conformance kit
  tierlab machines        list the machine presets
  tierlab --version | --help

Traces: tracefs trace/trace_pipe text, trace-cmd report text, perf script text
(default or -F), valgrind lackey --trace-mem=yes output; plain or compressed
(.zst, .gz); the format is read from the content. DAMON damon_aggregated
records are physical regions unless --damon-target maps a target to a pid.`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    process.stdout.write(`${TOOL_VERSION}\n`);
    return 0;
  }
  if (command === 'policies') {
    const named = await Promise.all(argv.slice(1).map((spec) => resolvePolicy(spec, { cwd: process.cwd() })));
    process.stdout.write(describePolicies(named));
    return 0;
  }
  if (command === 'new-policy') {
    process.stdout.write(await newPolicyCommand(argv.slice(1), process.cwd()));
    return 0;
  }
  if (command === 'machines') {
    for (const name of listPresets()) {
      const m = loadPreset(name);
      process.stdout.write(`${name.padEnd(12)} ${m.description ?? ''}\n`);
      for (const n of m.nodes) {
        process.stdout.write(
          `  ${n.name.padEnd(8)} ${n.kind.padEnd(16)} capacity ${String(n.capacity).padEnd(8)} read ${n.readLatencyNs} ns, write ${n.writeLatencyNs} ns\n`,
        );
      }
    }
    return 0;
  }
  if (command === 'fidelity') return fidelity(argv.slice(1));
  if (command === 'sweep') {
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    try {
      const run = await runSweepCommand(argv.slice(1), {
        cwd: process.cwd(),
        signal: controller.signal,
        progress: (text) => process.stderr.write(text),
        tty: process.stderr.isTTY === true,
        columns: process.stderr.columns ?? 80,
      });
      process.stdout.write(run.stdout);
      process.stderr.write(run.stderr);
      return run.exitCode;
    } finally {
      process.off('SIGINT', stop);
    }
  }
  if (command === 'report') {
    const run = runReportCommand(argv.slice(1));
    process.stdout.write(run.stdout);
    process.stderr.write(run.stderr);
    return run.exitCode;
  }
  if (command === 'compare') {
    const run = runCompareCommand(argv.slice(1));
    process.stdout.write(run.stdout);
    process.stderr.write(run.stderr);
    return run.exitCode;
  }
  if (command !== 'replay') {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: `unknown command '${command}'`, expected: 'replay, sweep, compare, report, fidelity, policies, new-policy, machines' });
  }
  const { values, positionals } = parseArgs({
    args: argv.slice(1),
    allowPositionals: true,
    options: {
      machine: { type: 'string', default: 'dram-pmem' },
      policy: { type: 'string', multiple: true },
      json: { type: 'string' },
      perfetto: { type: 'string' },
      pid: { type: 'string', multiple: true },
      comm: { type: 'string', multiple: true },
      seed: { type: 'string', default: '1' },
      'interval-ms': { type: 'string', default: '100' },
      format: { type: 'string', default: 'auto' },
      quiet: { type: 'boolean', default: false },
      'damon-target': { type: 'string', multiple: true },
      'trace-processor': { type: 'string' },
      overlay: { type: 'string' },
      'lackey-slice': { type: 'string' },
      'lackey-ns-per-instruction': { type: 'string' },
    },
  });
  if (positionals.length !== 1) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'replay takes exactly one trace file', expected: 'tierlab replay <trace> ...' });
  }
  const policyArgs = values.policy ?? ['first-touch', 'kmem-tiering'];
  const policies = await Promise.all(policyArgs.map((argument) => parsePolicyArgumentAsync(argument, { cwd: process.cwd() })));
  const seed = integerOption('--seed', values.seed!);
  const intervalMs = Number(values['interval-ms']);
  if (!(intervalMs > 0)) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'bad --interval-ms', expected: 'a positive number', excerpt: values['interval-ms']! });
  }
  const formats = ['auto', 'tracefs', 'trace-cmd-report', 'perf-script', 'lackey', 'trace-processor'] as const;
  const format = values.format as (typeof formats)[number];
  if (!formats.includes(format)) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'bad --format', expected: formats.join(', '), excerpt: String(values.format) });
  }
  let damonTargets: Record<number, number> | undefined;
  for (const pair of values['damon-target'] ?? []) {
    const m = /^(\d+)=(\d+)$/.exec(pair);
    if (!m) throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'bad --damon-target', expected: 'TARGET_ID=PID', excerpt: pair });
    damonTargets = { ...(damonTargets ?? {}), [Number(m[1])]: Number(m[2]) };
  }
  const positive = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!(n > 0)) throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: `bad ${name}`, expected: 'a positive number', excerpt: value });
    return n;
  };
  const lackeySlice = positive('--lackey-slice', values['lackey-slice']);
  const lackeyNs = positive('--lackey-ns-per-instruction', values['lackey-ns-per-instruction']);
  const showProgress = !values.quiet && process.stderr.isTTY === true;
  const started = performance.now();
  const result = await replay({
    trace: positionals[0]!,
    machine: values.machine!,
    policies,
    seed,
    intervalMs,
    format,
    ...(values.pid ? { pids: values.pid.map((p) => integerOption('--pid', p)) } : {}),
    ...(values.comm ? { comms: values.comm } : {}),
    ...(damonTargets ? { damonTargets } : {}),
    ...(values.overlay ? { overlay: values.overlay } : {}),
    ...(values['trace-processor'] ? { traceProcessor: values['trace-processor'] } : {}),
    ...(lackeySlice ? { lackeySliceInstructions: lackeySlice } : {}),
    ...(lackeyNs ? { lackeyNsPerInstruction: lackeyNs } : {}),
    ...(showProgress
      ? {
          onProgress: (p) => {
            process.stderr.write(`\r${p.phase}: ${(p.records / 1e6).toFixed(2)}M records, ${(p.bytes / 1048576).toFixed(0)} MiB read   `);
          },
        }
      : {}),
  });
  if (showProgress) process.stderr.write('\r\x1b[K');
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  if (values.perfetto) writeReplayPerfetto(result, values.perfetto);
  if (!values.quiet) {
    process.stdout.write(`${formatComparison(result)}\n`);
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`\nreplayed ${result.trace.records.toLocaleString('en-US')} records through ${policies.length} policies in ${seconds.toFixed(2)} s${values.json ? `; JSON written to ${values.json}` : ''}${values.perfetto ? `; Perfetto trace written to ${values.perfetto}` : ''}\n`);
  }
  const failed = result.policies.some((p) => p.error !== undefined) || result.anomalies.some((a) => a.severity === 'error');
  return failed ? 1 : 0;
}

/** Errors in what the user typed exit 2; errors in the data exit 1. */
const usageCodes = new Set<string>([
  ErrorCode.usage,
  ErrorCode.policyNotFound,
  ErrorCode.policyKnob,
  ErrorCode.policySpecVersion,
  ErrorCode.machineNotFound,
]);

async function fidelity(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what === 'tiering') return fidelityTiering(rest);
  if (what !== 'reclaim') return fidelitySuite(argv);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      pid: { type: 'string' },
      limit: { type: 'string' },
      unaccounted: { type: 'string', default: '0' },
      'tolerance-ms': { type: 'string', default: '100' },
      json: { type: 'string' },
    },
  });
  if (positionals.length !== 1 || values.pid === undefined || values.limit === undefined) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'fidelity reclaim needs a trace, --pid and --limit', expected: 'tierlab fidelity reclaim <trace> --pid N --limit 48MiB' });
  }
  const bytes = (value: string) => (value.trim() === '0' ? 0 : parseCapacity(value, null) * 4096);
  const r = await reclaimFidelity({
    trace: positionals[0]!,
    pid: integerOption('--pid', values.pid),
    limitBytes: bytes(values.limit),
    unaccountedBytes: bytes(values.unaccounted!),
    windowToleranceMs: Number(values['tolerance-ms']),
  });
  if (values.json) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  const n = (x: number) => x.toLocaleString('en-US');
  process.stdout.write(
    [
      `page-cache reclaim, memcg limit ${n(r.limitPages)} pages (model: ${n(r.modelLimitPages)})`,
      '',
      '                         kernel      model    model/kernel',
      `reclaim windows/passes ${n(r.real.windows).padStart(8)} ${n(r.model.reclaimPasses).padStart(10)}`,
      `evictions              ${n(r.real.evictions).padStart(8)} ${n(r.model.evictions).padStart(10)}    ${pct(r.evictionError)}  (band ±10%)`,
      `refaults               ${n(r.real.refaults).padStart(8)} ${n(r.model.refaults).padStart(10)}    ${pct(r.refaultError)}  (band ±10%)`,
      `victims the model also evicts: ${(r.victimOverlap * 100).toFixed(1)}% (band >= 80%)`,
      `victims within ${r.windowToleranceMs} ms of the kernel's window: ${(r.windowVictimOverlap * 100).toFixed(1)}%`,
      `model minus kernel eviction time, ms: p10 ${r.victimLagMs.p10.toFixed(0)}, p50 ${r.victimLagMs.p50.toFixed(0)}, p90 ${r.victimLagMs.p90.toFixed(0)}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** Every fixture (or the named ones), against its bands. */
async function fidelitySuite(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'string' }, root: { type: 'string', default: 'traces/fidelity' } } });
  const fixtures = positionals.length > 0 ? positionals.map((dir) => readFixture(dir)) : listFixtures(values.root!);
  if (fixtures.length === 0) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: `no fixtures under ${values.root} (each is a directory with a fixture.json)`, expected: 'run from the repository root, or name fixture directories' });
  }
  const results = [];
  for (const fixture of fixtures) {
    process.stderr.write(`fidelity: replaying ${fixture.name}...\n`);
    const r = await runFixture(fixture);
    results.push(r);
    process.stdout.write(`${formatFixtureResult(r)}\n\n`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  const out = results.flatMap((r) => r.rows.filter((x) => !x.ok).map((x) => `${r.fixture}: ${x.name}`));
  process.stdout.write(out.length === 0 ? `all ${results.length} fixtures within their bands\n` : `out of band: ${out.join(', ')}\n`);
  return out.length === 0 ? 0 : 1;
}

/** One lab run's directory, no bands: the numbers side by side (for a new capture, or a knob study). */
async function fidelityTiering(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { knob: { type: 'string', multiple: true }, json: { type: 'string' } } });
  if (positionals.length !== 1) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'fidelity tiering needs one lab run directory', expected: 'tierlab fidelity tiering /var/tmp/tierlab-lab/out/NAME [--knob hotThresholdMs=500]' });
  }
  const knobs: Record<string, number | boolean> = {};
  for (const kv of values.knob ?? []) {
    const [k, v] = kv.split('=');
    if (k === undefined || v === undefined) throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: `bad --knob ${kv}`, expected: 'name=value' });
    knobs[k] = v === 'true' ? true : v === 'false' ? false : Number(v);
  }
  const run = readTieringRun(positionals[0]!);
  const r = await tieringFidelity({ run, knobs });
  if (values.json) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`${formatFixtureResult(tieringResult(run, r))}\n`);
  return 0;
}

function integerOption(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: `bad ${name}`, expected: 'an integer', excerpt: value });
  }
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isTierlabError(error)) {
      process.stderr.write(`tierlab: ${error.message}\n`);
      process.exitCode = usageCodes.has(error.code) ? 2 : 1;
    } else {
      process.stderr.write(`tierlab: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    }
  },
);
