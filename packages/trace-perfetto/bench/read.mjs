#!/usr/bin/env node
// Read speed of @tierlab/trace-perfetto (the built dist).
//
//   node bench/read.mjs [FILE.pftrace] [--batch N] [--repeat N] [--compress] [--legacy]
//
// Without FILE, ../shared/traces/gcc_lua.tracefs.txt.zst is read with @tierlab/trace-text
// and written out as a Perfetto trace in the temp folder first (once; reused after).
// Each run is a fresh reader in the same process: run 1 includes the JIT warming up.
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTextTrace } from '@tierlab/trace-text';
import { openPerfetto, writePerfettoFromRaw } from '../dist/index.js';

const args = process.argv.slice(2);
const valued = new Set(['--batch', '--repeat']);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
const batchSize = Number(option('batch', '8192'));
const repeat = Number(option('repeat', '5'));
const compress = args.includes('--compress');
const legacy = args.includes('--legacy');

let file = positional[0];
if (file === undefined) {
  const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
  const source = path.resolve(repoRoot, '../shared/traces/gcc_lua.tracefs.txt.zst');
  if (!existsSync(source)) {
    console.error(`no FILE given and ${source} is missing`);
    process.exit(2);
  }
  file = path.join(tmpdir(), `tierlab-gcc_lua${legacy ? '-legacy' : ''}${compress ? '-z' : ''}.pftrace`);
  if (!existsSync(file)) {
    const start = process.hrtime.bigint();
    await writePerfettoFromRaw(openTextTrace(source).batches(), file, { genericEvents: legacy ? 'legacy' : 'descriptors', compressPackets: compress });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`wrote ${file} (${(statSync(file).size / 1e6).toFixed(1)} MB) in ${seconds.toFixed(2)} s`);
  }
}
if (!existsSync(file)) {
  console.error(`no such file: ${file}`);
  process.exit(2);
}

const rate = (records, bytes, seconds) => `${(records / seconds / 1e6).toFixed(2)} M records/s, ${(bytes / seconds / 1e6).toFixed(0)} MB/s`;
const runs = [];
let stats;
for (let run = 1; run <= repeat; run++) {
  const reader = openPerfetto(file, { batchSize });
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
  `${file}\n  ${(statSync(file).size / 1e6).toFixed(1)} MB on disk, ${stats.packets} packets, ${stats.bundles} bundles, ${best.records} records\n` +
    `  first run: ${rate(runs[0].records, stats.bytesRead, runs[0].seconds)}\n` +
    `  best of ${repeat}: ${rate(best.records, stats.bytesRead, best.seconds)}`,
);
