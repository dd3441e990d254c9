#!/usr/bin/env node
// Read speed of @tierlab/trace-cmd-dat (the built dist) on one trace.dat, plain or .zst-wrapped.
//
//   node bench/read.mjs [FILE] [--zstd auto|program|js] [--batch N] [--repeat N] [--stats] [--trace-cmd]
//
// FILE defaults to ../shared/traces/git_lua.trace.dat.zst beside the repo. For the read
// speed alone, give a decompressed copy: `zstdcat X.trace.dat.zst > /tmp/X.dat; node bench/read.mjs /tmp/X.dat`.
// Each run is a fresh reader in the same process: run 1 includes the JIT warming up.
// --trace-cmd also times `trace-cmd report -i FILE > /dev/null` (FILE must be decompressed) when trace-cmd is on PATH.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeDecoder } from '@tierlab/trace-core';
import { openTraceDat } from '../dist/index.js';

const args = process.argv.slice(2);
const valued = new Set(['--zstd', '--batch', '--repeat']);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const file = positional[0] ?? path.resolve(repoRoot, '../shared/traces/git_lua.trace.dat.zst');
if (!existsSync(file)) {
  console.error(`no such file: ${file}\nusage: node bench/read.mjs [FILE] [--zstd auto|program|js] [--batch N] [--repeat N] [--stats] [--trace-cmd]`);
  process.exit(2);
}
const zstd = option('zstd', 'auto');
const batchSize = Number(option('batch', '8192'));
const repeat = Number(option('repeat', '5'));

const rate = (records, seconds) => `${(records / seconds / 1e6).toFixed(2)} M records/s`;

// Wall time, and this process's CPU time (user + system; a zstd child is not in it), which a busy machine disturbs less.
const runs = [];
let stats;
for (let run = 1; run <= repeat; run++) {
  const reader = openTraceDat(file, { zstd, batchSize });
  let records = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  for await (const batch of reader.batches()) records += batch.length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpuStart);
  const cpu = (used.user + used.system) / 1e6;
  stats = reader.stats;
  runs.push({ records, seconds, cpu });
  console.log(`run ${run}: ${records} records in ${seconds.toFixed(3)} s (CPU ${cpu.toFixed(3)} s) = ${rate(records, seconds)}`);
}
const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const bestCpu = runs.reduce((a, b) => (b.cpu < a.cpu ? b : a));
console.log(
  `${file}\n` +
    `  ${stats.format}; outer decoder ${describeDecoder(file, { zstd })}; ${(statSync(file).size / 1e6).toFixed(1)} MB on disk, ` +
    `${(stats.bytesRead / 1e6).toFixed(1)} MB read, ${best.records} records\n` +
    `  first run: ${rate(runs[0].records, runs[0].seconds)} (CPU time: ${rate(runs[0].records, runs[0].cpu)})\n` +
    `  best of ${repeat}: ${rate(best.records, best.seconds)} (CPU time: ${rate(bestCpu.records, bestCpu.cpu)})`,
);
if (args.includes('--stats')) console.log(JSON.stringify(stats, null, 2));

if (args.includes('--trace-cmd')) {
  const which = spawnSync('sh', ['-c', 'command -v trace-cmd'], { encoding: 'utf8' });
  if (which.status !== 0) {
    console.log('trace-cmd: not on PATH');
  } else {
    const walls = [];
    const cpus = [];
    for (let run = 0; run < Math.min(repeat, 3); run++) {
      // bash's `time` gives the child's wall, user and system seconds.
      const out = execFileSync('bash', ['-c', 'TIMEFORMAT="%R %U %S"; { time trace-cmd report -i "$1" > /dev/null 2>/dev/null; } 2>&1', 'bash', file], {
        encoding: 'utf8',
      });
      const [wall, user, system] = out.trim().split(/\s+/).map(Number);
      walls.push(wall);
      cpus.push(user + system);
    }
    const wall = Math.min(...walls);
    const cpu = Math.min(...cpus);
    console.log(`  trace-cmd report > /dev/null: best ${wall.toFixed(3)} s = ${rate(best.records, wall)} (CPU time ${cpu.toFixed(3)} s: ${rate(best.records, cpu)})`);
  }
}
