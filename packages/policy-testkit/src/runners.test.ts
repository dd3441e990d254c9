/**
 * The kit is runner-agnostic: the same call under node:test (a real
 * `node --test` process on the built package), passing a sound policy and
 * failing a broken one with the message in the runner's report.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const fixture = join(import.meta.dirname, '__fixtures__', 'node-test-runner.mjs');

function nodeTest(policy: string) {
  if (!existsSync(join(packageDir, 'dist', 'index.js'))) {
    throw new Error('packages/policy-testkit/dist is missing: build first (pnpm -w exec turbo run build)');
  }
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', fixture], {
    cwd: packageDir,
    encoding: 'utf8',
    env: { ...process.env, POLICY: policy, NODE_OPTIONS: '' },
    timeout: 120_000,
  });
  return { code: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe('the kit under node:test', () => {
  it('passes first-touch', () => {
    const r = nodeTest('first-touch');
    expect(r.output).toMatch(/tierlab policy conformance: first-touch/);
    expect(r.output).toMatch(/is deterministic/);
    expect(r.output).toMatch(/(#|ℹ) fail 0/);
    expect(r.code).toBe(0);
  });

  it('fails a policy that uses Math.random, and the report says so', () => {
    const r = nodeTest('broken');
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/calls Math\.random\(\) inside placePage/);
    expect(r.output).toMatch(/(#|ℹ) fail [1-9]/);
  });
});
