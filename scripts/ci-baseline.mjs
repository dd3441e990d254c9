#!/usr/bin/env node
// Our own CI compares policies: the bundled real captures replayed through every built-in
// policy, against the results committed in ci/baselines/. These replays are deterministic,
// so the gate is exact: any metric that moves, a policy or trace that appears, disappears or
// fails, an anomaly that changes, fails the check (exit 1) with the Markdown table of
// `tierlab compare`. When the change is meant, rewrite the baselines and commit them:
//
//   node scripts/ci-baseline.mjs check [--jobs N] [--threshold metric=+1%]... [--keep DIR]
//   node scripts/ci-baseline.mjs update [--jobs N]       (npx pnpm@10 baseline:update)
//
// The matrix: sqlite_orders (perf script), py_named_threads (perf script and tracefs) on
// dram-pmem through every built-in policy; and, for the device policies when they are
// built in, py_named_threads (perf script) with the bundled overlays on the device presets
// (traces/overlays/py-gpu-hmm.yaml on dram-gpu, py-gpu-coherent.yaml on dram-coherent-gpu).
// Needs the packages built (npx pnpm@10 build).

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const imp = async (pkg) => {
  const file = join(root, 'packages', pkg, 'dist', 'index.js');
  if (!existsSync(file)) {
    console.error(`ci-baseline: ${relative(root, file)} is missing: build first (npx pnpm@10 build)`);
    process.exit(2);
  }
  return import(file);
};
const { runSweep, builtinPolicies } = await imp('sweep');
const { compareResults, formatCompareMarkdown } = await imp('report');
const { metricNames } = await imp('memory-tier-api');

const baselines = join(root, 'ci', 'baselines');

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    jobs: { type: 'string' },
    threshold: { type: 'string', multiple: true },
    keep: { type: 'string' },
  },
});
const mode = positionals[0];
if (positionals.length !== 1 || (mode !== 'check' && mode !== 'update')) {
  console.error('usage: node scripts/ci-baseline.mjs check|update [--jobs N] [--threshold metric=+1%]... [--keep DIR]');
  process.exit(2);
}
const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);

/** The sweeps: one per machine (and overlay), each result later named <trace>.<machine>[.<overlay>].json. */
function matrix() {
  const policies = [...builtinPolicies.keys()];
  const sweeps = [
    {
      name: 'dram-pmem',
      traces: ['traces/sqlite_orders.perf-script.txt.zst', 'traces/py_named_threads.perf-script.txt.zst', 'traces/py_named_threads.tracefs.txt.zst'],
      machines: ['dram-pmem'],
      policies,
    },
  ];
  const device = [
    { policy: 'hmm-migrate', machine: 'dram-gpu', overlay: 'traces/overlays/py-gpu-hmm.yaml' },
    { policy: 'coherent-numa', machine: 'dram-coherent-gpu', overlay: 'traces/overlays/py-gpu-coherent.yaml' },
  ];
  for (const d of device) {
    if (!builtinPolicies.has(d.policy)) continue;
    sweeps.push({
      name: `${d.machine}.${basename(d.overlay, '.yaml')}`,
      traces: [{ file: 'traces/py_named_threads.perf-script.txt.zst', overlay: d.overlay }],
      machines: [d.machine],
      policies: ['first-touch', d.policy],
    });
  }
  return sweeps;
}

/** Replay the matrix into `dir`: one file per result, named for people. Returns the file names. */
async function replayAll(dir) {
  const work = join(dir, 'sweeps');
  const names = [];
  const outcomes = await Promise.all(
    matrix().map((sweep) =>
      runSweep({ ...sweep, outDir: join(work, sweep.name), jobs, cwd: root }).then((outcome) => ({ sweep, outcome })),
    ),
  );
  for (const { outcome } of outcomes) {
    if (outcome.failed.length > 0) {
      for (const { cell, error } of outcome.failed) console.error(`ci-baseline: ${cell.trace.file} on ${cell.machine} failed: ${error.code}: ${error.message}`);
      process.exit(1);
    }
    for (const cell of outcome.index.cells) {
      const stem = cell.trace.file.replace(/\.(zst|gz)$/, '').replace(/\.txt$/, '');
      const overlay = cell.overlay === null ? '' : `.${basename(cell.overlay.path).replace(/\.(ya?ml|json)$/, '')}`;
      const name = `${stem}.${cell.machine}${overlay}.json`;
      if (names.includes(name)) throw new Error(`two results named ${name}`);
      copyFileSync(join(outcome.outDir, cell.file), join(dir, name));
      names.push(name);
    }
  }
  rmSync(work, { recursive: true, force: true });
  return names.sort();
}

/** The first JSON paths where two parsed results differ (for changes no metric shows). */
function differences(a, b, path = '', out = []) {
  if (out.length >= 5) return out;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path || '/'}: ${short(a)} -> ${short(b)}`);
    return out;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) differences(a[key], b[key], `${path}/${key}`, out);
  return out;
}
const short = (v) => {
  const text = v === undefined ? 'absent' : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

const started = performance.now();
const head = mkdtempSync(join(tmpdir(), 'tierlab-baseline-'));
const names = await replayAll(head);
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

if (mode === 'update') {
  mkdirSync(baselines, { recursive: true });
  for (const name of readdirSync(baselines)) if (name.endsWith('.json')) rmSync(join(baselines, name));
  for (const name of names) copyFileSync(join(head, name), join(baselines, name));
  rmSync(head, { recursive: true, force: true });
  console.log(`ci-baseline: wrote ${names.length} baselines to ${relative(root, baselines)}/ in ${seconds()} s:`);
  for (const name of names) console.log(`  ${name}`);
  console.log('review the diff (git diff --stat ci/baselines) and commit it with the change that caused it');
  process.exit(0);
}

// check
if (!existsSync(baselines) || !readdirSync(baselines).some((n) => n.endsWith('.json'))) {
  console.error(`ci-baseline: no baselines in ${relative(root, baselines)}/: create them with npx pnpm@10 baseline:update`);
  process.exit(2);
}
const exact = metricNames.map((metric) => `${metric}=0`);
const report = compareResults(baselines, head, { thresholds: [...exact, ...(values.threshold ?? [])], defaultThresholds: false });
const s = report.summary;
const problems = [];
if (s.regressions > 0) problems.push(`${s.regressions} regressions`);
if (s.improvements > 0) problems.push(`${s.improvements} improvements`);
if (s.changed > 0) problems.push(`${s.changed} ungated changes`);
if (s.notComparableCells > 0 || s.tracesNotComparable > 0) problems.push(`${s.tracesNotComparable} results not comparable`);
if (s.tracesAdded + s.tracesRemoved > 0) problems.push(`${s.tracesAdded} results added, ${s.tracesRemoved} removed`);
const policyChanges = report.policyChanges.filter((p) => p.change !== 'failed-both');
if (policyChanges.length > 0) problems.push(`${policyChanges.length} policies added, removed, failed or recovered`);
if (report.anomalyChanges.length > 0) problems.push(`${report.anomalyChanges.length} anomalies changed`);

// Bytes that moved where no compared figure did (counters, series, text): said, not gated.
const drift = [];
for (const name of names) {
  const base = join(baselines, name);
  if (!existsSync(base)) continue;
  const a = readFileSync(base, 'utf8');
  const b = readFileSync(join(head, name), 'utf8');
  if (a !== b) drift.push({ name, paths: differences(JSON.parse(a), JSON.parse(b)) });
}

const printDrift = () => {
  for (const { name, paths } of drift) {
    console.log(`ci-baseline: note: ${name} differs from its baseline (first differences; counters and series are not compared metrics):`);
    for (const p of paths) console.log(`    ${p}`);
  }
};

if (problems.length > 0) {
  // The Markdown of `tierlab compare`, without its fold of the (here, hundreds of) unchanged cells.
  const markdown = formatCompareMarkdown(report, { maxRows: 200 }).replace(/\n<details><summary>Unchanged:[\s\S]*?<\/details>\n/, '\n');
  process.stdout.write(markdown);
  printDrift();
  const kept = values.keep ?? head;
  if (values.keep !== undefined) {
    mkdirSync(kept, { recursive: true });
    for (const name of names) copyFileSync(join(head, name), join(kept, name));
  }
  console.error(`\nci-baseline: FAILED: ${problems.join(', ')} against ${relative(root, baselines)}/ (exact thresholds; ${seconds()} s)`);
  console.error(`the new results are in ${kept}`);
  console.error('if the change is meant: npx pnpm@10 baseline:update, then commit ci/baselines/ with it');
  process.exit(1);
}
if (values.keep !== undefined) {
  mkdirSync(values.keep, { recursive: true });
  for (const name of names) copyFileSync(join(head, name), join(values.keep, name));
}
rmSync(head, { recursive: true, force: true });
printDrift();
if (drift.length > 0) console.log('ci-baseline: the compared metrics are unchanged; refresh the baselines with baseline:update when convenient');
console.log(
  `ci-baseline: ${names.length} results match ${relative(root, baselines)}/: ${s.comparedCells} metric cells unchanged (exact), ${report.traces.length} results, in ${seconds()} s`,
);
