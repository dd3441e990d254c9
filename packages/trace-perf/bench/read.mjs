#!/usr/bin/env node
// Read speed of @tierlab/trace-perf (the built dist) on a decompressed perf.data, and the time of
// `perf script -i` on the same file in the same run, for the ratio.
//
//   node bench/read.mjs [FILE] [--repeat N] [--perf-repeat N] [--batch N] [--no-perf]
//
// FILE defaults to sqlite_orders.perf.data, decompressed once from ../shared/traces/*.zst beside the
// repo into $TMPDIR/tierlab-bench/. Each reader run is a fresh reader in the same process: run 1
// includes the JIT warming up. `perf script` runs with its output to /dev/null.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPerfData } from '../dist/index.js';

const args = process.argv.slice(2);
const valued = new Set(['--repeat', '--perf-repeat', '--batch']);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
const repeat = Number(option('repeat', '7'));
const perfRepeat = Number(option('perf-repeat', '3'));
const batchSize = Number(option('batch', '8192'));

function defaultFile() {
  const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
  const source = path.resolve(repoRoot, '../shared/traces/sqlite_orders.perf.data.zst');
  const dir = path.join(tmpdir(), 'tierlab-bench');
  const target = path.join(dir, 'sqlite_orders.perf.data');
  if (existsSync(target)) return target;
  if (!existsSync(source)) {
    console.error(`no FILE given and ${source} not found`);
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  const z = spawnSync('zstd', ['-dqf', source, '-o', target], { stdio: 'inherit' });
  if (z.status !== 0) {
    console.error('zstd -d failed (is the zstd program installed?)');
    process.exit(2);
  }
  return target;
}

const file = positional[0] ?? defaultFile();
if (!existsSync(file)) {
  console.error(`no such file: ${file}`);
  process.exit(2);
}

const rate = (records, seconds) => `${(records / seconds / 1e6).toFixed(2)} M records/s`;
const runs = [];
let stats;
for (let run = 1; run <= repeat; run++) {
  const reader = openPerfData(file, { batchSize });
  let records = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for await (const batch of reader.batches()) records += batch.length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  stats = reader.stats;
  runs.push({ records, seconds });
  console.log(
    `reader run ${run}: ${records} records in ${seconds.toFixed(3)} s = ${rate(records, seconds)} (cpu ${((cpu.user + cpu.system) / 1e6).toFixed(3)} s)`,
  );
}
const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const median = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];

let perfBest = null;
if (!args.includes('--no-perf')) {
  const which = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (which.status !== 0) {
    console.log('perf script: perf is not installed, skipped');
  } else {
    for (let run = 1; run <= perfRepeat; run++) {
      const start = process.hrtime.bigint();
      const r = spawnSync('perf', ['script', '-i', file], { stdio: ['ignore', 'ignore', 'ignore'] });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (r.status !== 0) {
        console.log(`perf script failed (exit ${r.status}); not timed`);
        break;
      }
      console.log(`perf script run ${run}: ${seconds.toFixed(3)} s = ${rate(best.records, seconds)}`);
      perfBest = perfBest === null ? seconds : Math.min(perfBest, seconds);
    }
  }
}

console.log(
  `${file}\n` +
    `  ${(statSync(file).size / 1e6).toFixed(1)} MB, ${best.records} records (${stats.lostMarkers} loss markers), batch ${batchSize}\n` +
    `  reader first run: ${runs[0].seconds.toFixed(3)} s = ${rate(runs[0].records, runs[0].seconds)}\n` +
    `  reader median of ${repeat}: ${median.seconds.toFixed(3)} s = ${rate(median.records, median.seconds)}\n` +
    `  reader best of ${repeat}: ${best.seconds.toFixed(3)} s = ${rate(best.records, best.seconds)}`,
);
if (perfBest !== null) {
  console.log(
    `  perf script best of ${perfRepeat}: ${perfBest.toFixed(3)} s = ${rate(best.records, perfBest)}\n` +
      `  ratio (perf script best / reader): ${(perfBest / best.seconds).toFixed(1)}x best, ${(perfBest / median.seconds).toFixed(1)}x median, ` +
      `${(perfBest / runs[0].seconds).toFixed(1)}x first run`,
  );
}
