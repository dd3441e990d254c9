#!/usr/bin/env node
// Parse speed of @tierlab/trace-text (the built dist) on one trace file, plain or compressed.
//
//   node bench/parse.mjs [FILE] [--format auto|tracefs|trace-cmd-report|perf-script]
//                        [--zstd auto|program|js] [--batch N] [--repeat N] [--stats]
//
// FILE defaults to ../shared/traces/gcc_lua.tracefs.txt.zst beside the repo. For the parse
// speed alone, give a decompressed copy: `zstdcat X.zst > /tmp/X; node bench/parse.mjs /tmp/X`.
// Each run is a fresh reader in the same process: run 1 includes the JIT warming up.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeDecoder } from '@tierlab/trace-core';
import { openTextTrace } from '../dist/index.js';

const args = process.argv.slice(2);
const valued = new Set(['--format', '--zstd', '--batch', '--repeat']);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const file = positional[0] ?? path.resolve(repoRoot, '../shared/traces/gcc_lua.tracefs.txt.zst');
if (!existsSync(file)) {
  console.error(`no such file: ${file}\nusage: node bench/parse.mjs [FILE] [--format F] [--zstd auto|program|js] [--batch N] [--repeat N] [--stats]`);
  process.exit(2);
}
const format = option('format', 'auto');
const zstd = option('zstd', 'auto');
const batchSize = Number(option('batch', '8192'));
const repeat = Number(option('repeat', '5'));

const rate = (records, bytes, seconds) =>
  `${(records / seconds / 1e6).toFixed(2)} M records/s, ${(bytes / seconds / 1e6).toFixed(0)} MB/s of text`;

const runs = [];
let stats;
for (let run = 1; run <= repeat; run++) {
  const reader = openTextTrace(file, { format, zstd, batchSize });
  let records = 0;
  const start = process.hrtime.bigint();
  for await (const batch of reader.batches()) records += batch.length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stats = reader.stats;
  runs.push({ records, seconds });
  console.log(`run ${run}: ${records} records in ${seconds.toFixed(3)} s = ${rate(records, stats.bytesRead, seconds)}`);
}
const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
console.log(
  `${file}\n` +
    `  ${stats.format}; decoder ${describeDecoder(file, { zstd })}; ${(statSync(file).size / 1e6).toFixed(1)} MB on disk, ` +
    `${(stats.bytesRead / 1e6).toFixed(1)} MB of text, ${stats.lines} lines, ${best.records} records\n` +
    `  first run: ${rate(runs[0].records, stats.bytesRead, runs[0].seconds)}\n` +
    `  best of ${repeat}: ${rate(best.records, stats.bytesRead, best.seconds)}`,
);
if (args.includes('--stats')) console.log(JSON.stringify(stats, null, 2));
