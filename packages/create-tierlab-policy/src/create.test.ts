import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_VERSION_RANGE, TESTKIT_VERSION_RANGE, createPolicyPackage } from './create.js';
import { apiHookDocs, extractHookDocs, hookOrder } from './hook-docs.js';

const packagesDir = join(import.meta.dirname, '..', '..');
const tmp = () => mkdtempSync(join(tmpdir(), 'create-tierlab-policy-'));

describe('createPolicyPackage', () => {
  it('writes a package with the keyword, the API as a peer, the API and the kit as dev dependencies', () => {
    const dir = join(tmp(), 'out');
    const created = createPolicyPackage(dir, '@acme/hot-cold', { apiVersion: '^0.1.0', description: 'Hot pages up, cold pages down' });
    expect(created.files).toEqual([
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'vitest.config.ts',
      'README.md',
      '.gitignore',
      'src/index.ts',
      'src/index.test.ts',
    ]);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@acme/tierlab-policy-hot-cold');
    expect(pkg.keywords).toContain('tierlab-policy');
    expect(pkg.type).toBe('module');
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
    expect(pkg.peerDependencies).toEqual({ '@tierlab/memory-tier-api': '^0.1.0' });
    expect(pkg.devDependencies['@tierlab/memory-tier-api']).toBe('^0.1.0');
    expect(pkg.devDependencies['@tierlab/policy-testkit']).toBe(TESTKIT_VERSION_RANGE);
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.scripts.test).toBe('vitest run');
    const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, noUncheckedIndexedAccess: true, verbatimModuleSyntax: true });
    const test = readFileSync(join(dir, 'src/index.test.ts'), 'utf8');
    expect(test).toMatch(/runPolicyConformance\(\{ describe, it, expect, factory: hotCold \}\)/);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/^# @acme\/tierlab-policy-hot-cold\n\nHot pages up, cold pages down/);
    expect(readme).toMatch(/--policy @acme\/tierlab-policy-hot-cold:preferredTier=0/);
  });

  it('puts every hook of the spec in the skeleton, each under its contract', () => {
    const dir = join(tmp(), 'out');
    createPolicyPackage(dir, 'hot-cold');
    const source = readFileSync(join(dir, 'src/index.ts'), 'utf8');
    const hookDocs = apiHookDocs();
    let at = 0;
    for (const hook of hookOrder) {
      const doc = hookDocs[hook].split('\n')[0]!;
      const docAt = source.indexOf(doc, at);
      const hookAt = source.indexOf(`      ${hook}(`, docAt);
      expect(docAt, hook).toBeGreaterThan(at);
      expect(hookAt, hook).toBeGreaterThan(docAt);
      at = hookAt;
    }
    expect(source).toMatch(/export const hotCold = definePolicy\(\{\n {2}name: 'hot-cold',/);
    expect(source).toMatch(/export default hotCold;/);
    expect(source).not.toMatch(/Math\.random\(|Date\.now\(|performance\.now\(|new Date\(/);
  });

  it("copies each hook's doc from the API: the same text as packages/memory-tier-api/src/policy.ts", () => {
    const source = extractHookDocs(readFileSync(join(packagesDir, 'memory-tier-api', 'src', 'policy.ts'), 'utf8'));
    expect(Object.keys(source).sort()).toEqual([...hookOrder].sort());
    // apiHookDocs() reads the built declarations (dist/index.d.ts): rebuild the API if this fails after a doc change.
    const copied = apiHookDocs();
    for (const hook of hookOrder) expect(copied[hook], `doc of ${hook}`).toBe(source[hook]);
    const dir = join(tmp(), 'out');
    createPolicyPackage(dir, 'hot-cold');
    const skeleton = readFileSync(join(dir, 'src/index.ts'), 'utf8');
    for (const hook of hookOrder) {
      const block = source[hook]!.split('\n').map((line) => `       * ${line}`).join('\n');
      expect(skeleton, hook).toContain(block);
    }
  });

  it('writes against the versions of the API and the kit in this repository', () => {
    const version = (name: string) => JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8')).version as string;
    expect(API_VERSION_RANGE).toBe(`^${version('memory-tier-api')}`);
    expect(TESTKIT_VERSION_RANGE).toBe(`^${version('policy-testkit')}`);
  });

  it('refuses a folder that is not empty unless forced', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(() => createPolicyPackage(dir, 'hot-cold')).toThrow(/exists and is not empty: expected a new or empty folder/);
    expect(createPolicyPackage(dir, 'hot-cold', { force: true }).files).toContain('src/index.ts');
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('rejects a bad version range', () => {
    expect(() => createPolicyPackage(join(tmp(), 'x'), 'hot-cold', { apiVersion: '^0.1 .0' })).toThrow(/bad apiVersion/);
  });
});
