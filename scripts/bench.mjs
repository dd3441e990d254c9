#!/usr/bin/env node
// pnpm bench: parse and replay throughput on the largest shared captures, and, in the
// same run, how long `perf script` takes to print the matching perf.data.
// Figures are printed; nothing here is a pass/fail test.
//
//   node scripts/bench.mjs [--trace NAME] [--repeat N]
//
// Needs ../shared/traces beside the repository (or TIERLAB_TRACES=dir).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (pkg) => import(join(root, 'packages', pkg, 'dist', 'index.js'));
const { openTextTrace } = await imp('trace-text');
const { Normalizer } = await imp('normalizer');
const { Engine, LifetimeRecorder } = await imp('engine');
const { loadMachine, resolveMachine } = await imp('machines');
const { createEventBatch } = await imp('memory-tier-api');
const { firstTouch } = await imp('policy-first-touch');
const { kmemTiering } = await imp('policy-kmem-tiering');
const extraPolicies = [
  (await imp('policy-zone-nvm')).zoneNvm,
  (await imp('policy-struct-page')).structPage,
  (await imp('policy-hmmap')).hmmap,
  (await imp('policy-oracle')).oracle,
];
const { describeDecoder } = await imp('trace-core');
const { openPerfData } = await imp('trace-perf');
const { openTraceDat } = await imp('trace-cmd-dat');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a documented override for where the traces are
const traces = process.env.TIERLAB_TRACES ?? resolve(root, '../shared/traces');
if (!existsSync(traces)) {
  console.error(`bench: no traces at ${traces} (set TIERLAB_TRACES)`);
  process.exit(2);
}
const repeat = Number(opt('--repeat', '3'));
const work = join(root, '.bench');
mkdirSync(work, { recursive: true });

const fmt = (x) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
const best = async (fn) => {
  let bestMs = Number.POSITIVE_INFINITY;
  let out;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    out = await fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return { ms: bestMs, out };
};

function decompressed(name) {
  const dest = join(work, name.replace(/\.zst$/, ''));
  if (!existsSync(dest)) {
    execFileSync('zstd', ['-dqf', join(traces, name), '-o', dest]);
  }
  return dest;
}

async function parse(file, zstd) {
  const reader = openTextTrace(file, zstd ? { zstd } : {});
  let records = 0;
  for await (const b of reader.batches()) records += b.length;
  return { records, bytes: reader.stats.bytesRead };
}

/** Normalize once, keeping copies of the event batches, so replay can be timed alone. */
async function normalizeToMemory(file) {
  const batches = [];
  const normalizer = new Normalizer({}, (b) => {
    const copy = createEventBatch(b.length);
    copy.length = b.length;
    for (const key of ['kind', 'time', 'page', 'nrPages', 'flags', 'pid', 'count']) copy[key].set(b[key].subarray(0, b.length));
    batches.push(copy);
  });
  const reader = openTextTrace(file);
  for await (const b of reader.batches()) normalizer.push(b);
  normalizer.finish();
  return { batches, stats: normalizer.stats };
}

const lines = [];
const say = (s) => {
  lines.push(s);
  console.log(s);
};

say(`tierlab bench, node ${process.version}, ${process.arch}, best of ${repeat}`);
say('');

// 1. Parsing text traces.
const parseSet = ['git_lua.trace-cmd-report.txt.zst', 'gcc_lua.tracefs.txt.zst', 'sqlite_orders.perf-script.txt.zst'];
say('parse (reader only: bytes -> raw record batches)');
for (const name of parseSet) {
  if (!existsSync(join(traces, name))) continue;
  const plain = decompressed(name);
  const a = await best(() => parse(plain));
  const b = await best(() => parse(join(traces, name)));
  const mb = statSync(plain).size / 1e6;
  say(
    `  ${name.padEnd(38)} ${fmt(a.out.records)} records: plain ${fmt(a.out.records / a.ms / 1e3)} M rec/s (${fmt(mb / (a.ms / 1e3))} MB/s); ` +
      `.zst via ${describeDecoder(join(traces, name))} ${fmt(b.out.records / b.ms / 1e3)} M rec/s`,
  );
}
const zjs = await best(() => parse(join(traces, 'sqlite_orders.perf-script.txt.zst'), 'js'));
say(`  sqlite_orders.perf-script.txt.zst with in-process fzstd: ${fmt(zjs.out.records / zjs.ms / 1e3)} M rec/s`);
say('');

// 2. perf script on the matching perf.data, in the same run.
const perfData = join(work, 'sqlite_orders.perf.data');
if (!existsSync(perfData)) execFileSync('zstd', ['-dqf', join(traces, 'sqlite_orders.perf.data.zst'), '-o', perfData]);
const perfOk = spawnSync('perf', ['--version']).status === 0;
const textFile = decompressed('sqlite_orders.perf-script.txt.zst');
let perfRate = null;
if (perfOk) {
  const p = await best(() => {
    const r = spawnSync('perf', ['script', '-i', perfData, '--show-lost-events'], { maxBuffer: 1 << 30, stdio: ['ignore', 'ignore', 'ignore'] });
    return r.status;
  });
  const tierlab = await best(() => parse(textFile));
  perfRate = tierlab.out.records / p.ms / 1e3;
  say(`perf script -i sqlite_orders.perf.data > /dev/null: ${fmt(p.ms)} ms = ${fmt(perfRate)} M events/s printed`);
  say(`tierlab parsing the same events from that text:     ${fmt(tierlab.ms)} ms = ${fmt(tierlab.out.records / tierlab.ms / 1e3)} M events/s (${fmt(p.ms / tierlab.ms)}x perf script)`);
  const direct = await best(async () => {
    const reader = openPerfData(perfData);
    let records = 0;
    for await (const b of reader.batches()) records += b.length;
    return records;
  });
  say(`tierlab reading sqlite_orders.perf.data directly:     ${fmt(direct.ms)} ms = ${fmt(direct.out / direct.ms / 1e3)} M events/s (${fmt(p.ms / direct.ms)}x perf script)`);
} else {
  say('perf script: perf is not installed (apt-get install linux-perf); skipped');
}
const dat = join(work, 'git_lua.trace.v6.dat');
if (!existsSync(dat)) execFileSync('zstd', ['-dqf', join(traces, 'git_lua.trace.v6.dat.zst'), '-o', dat]);
const datRead = await best(async () => {
  const reader = openTraceDat(dat);
  let records = 0;
  for await (const b of reader.batches()) records += b.length;
  return records;
});
say(`tierlab reading git_lua.trace.v6.dat directly:        ${fmt(datRead.ms)} ms = ${fmt(datRead.out / datRead.ms / 1e3)} M events/s`);
say('');

// 3. Replay throughput per policy, on normalized events held in memory.
say('replay (engine only, normalized events in memory), machine dram-pmem');
for (const name of ['git_lua.trace-cmd-report.txt.zst', 'sqlite_orders.perf-script.txt.zst']) {
  const file = join(traces, name);
  if (!existsSync(file)) continue;
  const t0 = performance.now();
  const { batches, stats } = await normalizeToMemory(decompressed(name));
  const normMs = performance.now() - t0;
  const events = batches.reduce((s, b) => s + b.length, 0);
  const machine = resolveMachine(loadMachine('dram-pmem'), stats.peakLivePages);
  // What an oracle knows: accesses per page lifetime, as replay's first pass records them.
  const recorder = new LifetimeRecorder();
  for (const b of batches) recorder.push(b);
  const lifetimeAccesses = recorder.result();
  say(`  ${name}: ${fmt(stats.records)} records -> ${fmt(events)} events (read + normalize ${fmt(stats.records / normMs / 1e3)} M rec/s)`);
  for (const factory of [firstTouch, kmemTiering, ...extraPolicies]) {
    const r = await best(() => {
      const policy = factory();
      const engine = new Engine({ machine, policy, seed: 1, ...(policy.observe?.oracle ? { lifetimeAccesses } : {}) });
      for (const b of batches) engine.push(b);
      return engine.finish();
    });
    say(`    ${factory.policyName.padEnd(14)} ${fmt(events / r.ms / 1e3)} M events/s (${fmt(r.ms)} ms)`);
  }
}
say('');

// 4. End to end through the CLI, both policies, the README demo trace.
const cli = join(root, 'apps', 'replay', 'dist', 'cli.js');
const e2e = await best(() =>
  spawnSync(process.execPath, [cli, 'replay', join(traces, 'sqlite_orders.perf-script.txt.zst'), '--machine', 'dram-pmem', '--quiet'], {
    stdio: 'ignore',
  }),
);
say(`end to end: tierlab replay sqlite_orders.perf-script.txt.zst (2 passes, 2 policies): ${fmt(e2e.ms)} ms`);

writeFileSync(join(work, 'bench.txt'), `${lines.join('\n')}\n`);
