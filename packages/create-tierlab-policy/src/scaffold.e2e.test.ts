/**
 * SLOW (about 20-60 s; npm install from the registry): the generated
 * package passes its own tests as generated, for real.
 *
 * Outside any workspace (the OS temp folder), this packs the tierlab
 * packages the generated package needs from THIS checkout (`pnpm pack`:
 * memory-tier-api, engine, trace-core, trace-text, normalizer, machines,
 * policy-testkit), runs the `create-tierlab-policy` bin, points the
 * generated package's @tierlab dependencies at the tarballs (npm
 * `overrides` for the ones it gets through the kit), then runs
 * `npm install` (vitest, typescript and @types/node come from the npm
 * registry), `npm run typecheck`, `npm test` and `npm run build`, and
 * imports the built package by name from another project.
 *
 * Needs the workspace built (dist/ of those packages) and pnpm and npm on PATH.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const packagesDir = join(import.meta.dirname, '..', '..');
const packed = ['memory-tier-api', 'engine', 'trace-core', 'trace-text', 'normalizer', 'machines', 'policy-testkit'];
const work = mkdtempSync(join(tmpdir(), 'tierlab-scaffold-e2e-'));

/** npm and pnpm without the npm_config_* / pnpm variables of the runner that started us. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|PNPM_|pnpm_|VITEST|NODE_OPTIONS$|INIT_CWD$|FORCE_COLOR$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

function run(command: string, args: readonly string[], cwd: string, timeout = 300_000): SpawnSyncReturns<string> {
  const r = spawnSync(command, [...args], { cwd, encoding: 'utf8', env: cleanEnv(), timeout, maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} in ${cwd} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

afterAll(() => {
  if (process.env.KEEP_SCAFFOLD_E2E !== '1') rmSync(work, { recursive: true, force: true });
});

describe('SLOW e2e: a generated policy package installs from packed tarballs and passes its own tests', () => {
  it('packs, scaffolds, installs, typechecks, tests, builds, and imports by name', () => {
    const started = Date.now();
    // 1. Pack this checkout's packages (pnpm rewrites workspace: ranges to versions).
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    for (const name of packed) {
      const dir = join(packagesDir, name);
      if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`packages/${name}/dist is missing: build first (pnpm -w exec turbo run build)`);
      run('pnpm', ['pack', '--pack-destination', tarballs], dir);
    }
    const specs: Record<string, string> = {};
    for (const file of readdirSync(tarballs)) {
      const match = /^tierlab-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(file);
      if (match) specs[`@tierlab/${match[1]}`] = `file:${join(tarballs, file)}`;
    }
    expect(Object.keys(specs).sort()).toEqual(packed.map((p) => `@tierlab/${p}`).sort());
    const kit = readdirSync(tarballs).find((f) => f.startsWith('tierlab-policy-testkit-'))!;
    const kitFiles = run('tar', ['-tzf', join(tarballs, kit)], work).stdout;
    expect(kitFiles).toMatch(/package\/traces\/py_named_threads\.perf-script\.txt\.zst/);

    // 2. Scaffold with the bin, as `npm init tierlab-policy e2e-check` would.
    const bin = join(import.meta.dirname, '..', 'dist', 'cli.js');
    run(process.execPath, [bin, 'e2e-check'], work);
    const pkgDir = join(work, 'tierlab-policy-e2e-check');
    const pkgFile = join(pkgDir, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    expect(pkg.peerDependencies).toEqual({ '@tierlab/memory-tier-api': '^0.1.0' });

    // 3. Point the @tierlab dependencies at the tarballs, direct and through the kit.
    for (const name of Object.keys(pkg.devDependencies)) if (specs[name]) pkg.devDependencies[name] = specs[name];
    pkg.overrides = specs;
    writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);

    // 4. Install and run what the generated package ships.
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], pkgDir);
    const lock = readFileSync(join(pkgDir, 'package-lock.json'), 'utf8');
    for (const name of packed) expect(lock).toContain(`tarballs/tierlab-${name}-`);
    run('npm', ['run', 'typecheck'], pkgDir);
    const test = run('npx', ['vitest', 'run'], pkgDir);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
    const output = `${test.stdout}\n${test.stderr}`.replace(/\u001b\[[0-9;]*m/g, '');
    expect(output).toMatch(/tierlab policy conformance: e2e-check|src\/index\.test\.ts/);
    expect(output).toMatch(/Tests\s+\d+ passed \(\d+\)/);
    expect(output).not.toMatch(/failed/);
    run('npm', ['run', 'build'], pkgDir);
    expect(existsSync(join(pkgDir, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(pkgDir, 'dist', 'index.test.js'))).toBe(false);

    // 5. Another project imports it by name (the exports map, ESM, the default export is the factory).
    const consumer = join(work, 'consumer');
    mkdirSync(join(consumer, 'node_modules'), { recursive: true });
    writeFileSync(join(consumer, 'package.json'), '{ "type": "module", "private": true }\n');
    symlinkSync(pkgDir, join(consumer, 'node_modules', 'tierlab-policy-e2e-check'), 'dir');
    writeFileSync(
      join(consumer, 'check.mjs'),
      "const m = await import('tierlab-policy-e2e-check');\nconst p = m.default();\nconsole.log(JSON.stringify({ policyName: m.default.policyName, named: m.e2eCheck === m.default, specVersion: p.specVersion, supports: p.supports }));\n",
    );
    const imported = JSON.parse(run(process.execPath, ['check.mjs'], consumer).stdout);
    expect(imported).toEqual({ policyName: 'e2e-check', named: true, specVersion: 1, supports: ['placement', 'reclaim'] });
    // How long this took, for whoever wonders why the suite is slow.
    console.info(`scaffold e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);
});
