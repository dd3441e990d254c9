import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCreateCommand } from './cli-main.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'create-tierlab-policy-cli-'));

describe('create-tierlab-policy', () => {
  it('writes tierlab-policy-<name> in the working directory and says what to do next', () => {
    const cwd = tmp();
    const r = runCreateCommand(['hot-cold'], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Wrote tierlab-policy-hot-cold \(policy 'hot-cold', export hotCold\)/);
    expect(r.stdout).toMatch(/npm install\n {2}npm test/);
    expect(existsSync(join(cwd, 'tierlab-policy-hot-cold', 'src', 'index.ts'))).toBe(true);
  });

  it('takes --dir, --api-version and --description', () => {
    const cwd = tmp();
    const r = runCreateCommand(['@acme/zone-nvm', '--dir', 'pkg', '--api-version', '~0.1.0', '--description', 'ZONE_NVM'], cwd);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(cwd, 'pkg', 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@acme/tierlab-policy-zone-nvm');
    expect(pkg.peerDependencies['@tierlab/memory-tier-api']).toBe('~0.1.0');
    expect(pkg.description).toBe('ZONE_NVM');
  });

  it('exits 2 with the reason on a bad name, a second name, or a folder in use', () => {
    const cwd = tmp();
    expect(runCreateCommand(['Hot_Cold'], cwd)).toMatchObject({ code: 2, stderr: expect.stringMatching(/'Hot_Cold' is not a policy name/) });
    expect(runCreateCommand(['a', 'b'], cwd)).toMatchObject({ code: 2, stderr: expect.stringMatching(/give one policy name/) });
    expect(runCreateCommand(['--nope'], cwd)).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--nope'/) });
    expect(runCreateCommand(['x'], cwd).code).toBe(0);
    expect(runCreateCommand(['x'], cwd)).toMatchObject({ code: 2, stderr: expect.stringMatching(/exists and is not empty/) });
    expect(runCreateCommand(['--help'], cwd)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^usage: create-tierlab-policy <name>/) });
  });

  it('runs as the package bin (what npm init tierlab-policy runs)', () => {
    const bin = join(import.meta.dirname, '..', 'dist', 'cli.js');
    if (!existsSync(bin)) throw new Error('packages/create-tierlab-policy/dist is missing: build first (pnpm -w exec turbo run build)');
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ 'create-tierlab-policy': './dist/cli.js' });
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const cwd = tmp();
    const r = spawnSync(process.execPath, [bin, 'hot-cold'], { cwd, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Wrote tierlab-policy-hot-cold/);
    expect(existsSync(join(cwd, 'tierlab-policy-hot-cold', 'package.json'))).toBe(true);
  });
});
