// Ctrl-C: the parent process dies from SIGINT/SIGTERM while trace_processor_shell
// runs; execa's `cleanup` must take the child with it. The parent is a real
// node process running this package (bundled with esbuild into a temp dir).
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
let dir: string;
let parentScript: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tierlab-tp-cleanup-'));
  cpSync(join(pkg, 'proto'), join(dir, 'proto'), { recursive: true });
  await build({
    entryPoints: [join(pkg, 'src/index.ts')],
    outfile: join(dir, 'dist/index.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const fake = join(dir, 'tp-hang');
  writeFileSync(fake, '#!/bin/sh\nexec sleep 60\n');
  chmodSync(fake, 0o755);
  writeFileSync(join(dir, 'trace.pftrace'), new Uint8Array([0x0a, 0x00]));
  parentScript = join(dir, 'parent.mjs');
  writeFileSync(
    parentScript,
    `import { openTraceProcessor } from './dist/index.mjs';
const reader = openTraceProcessor(${JSON.stringify(join(dir, 'trace.pftrace'))}, { binary: ${JSON.stringify(fake)} });
const it = reader.batches();
it.next().catch(() => {});
const wait = () => reader.stats.pid > 0 ? console.log('CHILD ' + reader.stats.pid) : setTimeout(wait, 20);
wait();
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('no orphan trace_processor_shell when the parent is interrupted', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s to the parent kills the child', async (signal) => {
    const parent = spawn(process.execPath, [parentScript], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /CHILD (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      parent.on('exit', () => reject(new Error(`parent exited early: ${out}`)));
    });
    expect(isAlive(childPid)).toBe(true);
    const exited = new Promise((r) => parent.on('exit', r));
    parent.kill(signal);
    await exited;
    const t0 = Date.now();
    while (isAlive(childPid) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(childPid)).toBe(false);
  });
});
