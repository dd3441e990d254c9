/**
 * Loading policies the way users name them: built-ins, packages installed in
 * the user's project (a real folder with node_modules, outside this
 * workspace), module files; the errors when that fails; a policy whose hook
 * throws replayed next to the built-ins; and a package made by
 * `tierlab new-policy`, built, found by name and replayed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync as makeTempDir, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { type PolicyResult, replay } from '@tierlab/replay';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinPolicies, resolvePolicy } from './load-policy.js';
import { newPolicyCommand, parsePolicyArgument, parsePolicyArgumentAsync, splitPolicyArgument } from './policies.js';

const require = createRequire(import.meta.url);
const repo = join(import.meta.dirname, '..', '..', '..');
const trace = join(repo, 'traces', 'py_named_threads.perf-script.txt.zst');
const apiDir = dirname(require.resolve('@tierlab/memory-tier-api/package.json'));

const made: string[] = [];
/** A temp folder, removed when the file's tests are done. */
function mkdtempSync(prefix: string): string {
  const dir = makeTempDir(prefix);
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A plain-JS factory module (no imports): `name`, `specVersion`, and extra source for the policy object. */
function factoryModule(name: string, options: { specVersion?: number; exportAs?: string; body?: string } = {}): string {
  const id = name.replace(/-/g, '_');
  return `function ${id}(_options = {}) {
  return { name: '${name}', specVersion: ${options.specVersion ?? 1}, supports: ['placement'], ${options.body ?? ''} };
}
${id}.policyName = '${name}';
${id}.description = 'test policy ${name}';
${id}.knobs = {};
${options.exportAs === undefined ? `export default ${id};` : `export { ${id} as ${options.exportAs} };`}
`;
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** A project folder outside the workspace with policy packages installed in its node_modules. */
function makeProject(): string {
  const project = mkdtempSync(join(tmpdir(), 'tierlab-load-policy-'));
  write(join(project, 'package.json'), '{ "name": "my-experiments", "private": true, "type": "module" }\n');
  const nm = join(project, 'node_modules');
  const pkg = (name: string, manifest: Record<string, unknown>, files: Record<string, string>) => {
    write(join(nm, name, 'package.json'), JSON.stringify({ name, version: '1.0.0', keywords: ['tierlab-policy'], ...manifest }));
    for (const [file, text] of Object.entries(files)) write(join(nm, name, file), text);
  };
  // ESM, exports map with conditions, default export.
  pkg(
    'tierlab-policy-foo',
    { type: 'module', exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' } },
    { 'dist/index.js': factoryModule('foo') },
  );
  // Scoped, "main" only, a named export.
  pkg('@acme/tierlab-policy-bar', { type: 'module', main: 'lib/bar.js' }, { 'lib/bar.js': factoryModule('bar', { exportAs: 'bar' }) });
  // CommonJS: module.exports = { factory }.
  pkg(
    'tierlab-policy-cjs',
    { main: 'index.cjs' },
    { 'index.cjs': `function cjs() { return { name: 'cjs', specVersion: 1 }; }\ncjs.policyName = 'cjs'; cjs.description = 'cjs'; cjs.knobs = {};\nmodule.exports = { cjsPolicy: cjs };\n` },
  );
  pkg('tierlab-policy-helpers', { type: 'module' }, { 'index.js': 'export function helper() {}\nexport const config = { fast: 0, slow: 1 };\n' });
  pkg('tierlab-policy-instance', { type: 'module' }, { 'index.js': "export default { name: 'inst', specVersion: 1, placePage: () => 0 };\n" });
  pkg('tierlab-policy-future', { type: 'module' }, { 'index.js': factoryModule('future', { specVersion: 2 }) });
  pkg('tierlab-policy-many', { type: 'module' }, { 'index.js': `${factoryModule('one', { exportAs: 'one' })}\n${factoryModule('two', { exportAs: 'two' })}` });
  pkg('tierlab-policy-unbuilt', { type: 'module', exports: { '.': { import: './dist/index.js' } } }, { 'src/index.ts': '' });
  pkg('tierlab-policy-require-only', { exports: { '.': { require: './index.cjs' } } }, { 'index.cjs': '' });
  // A module that imports the API, as every real policy does.
  mkdirSync(join(nm, '@tierlab'), { recursive: true });
  symlinkSync(apiDir, join(nm, '@tierlab', 'memory-tier-api'), 'dir');
  write(
    join(project, 'policies', 'knobbed.mjs'),
    `import { definePolicy } from '@tierlab/memory-tier-api';
export default definePolicy({
  name: 'knobbed',
  description: 'a policy with a knob',
  knobs: { ratio: { type: 'number', default: 2, description: 'a ratio' } },
  build: () => ({ supports: ['placement'] }),
});
`,
  );
  write(join(project, 'policies', 'plain.mjs'), factoryModule('plain'));
  write(join(project, 'policies', 'broken.mjs'), "throw new Error('boom at import');\n");
  write(join(project, 'policies', 'typed.ts'), `${factoryModule('typed').replace('(_options = {})', '(_options: object = {})')}`);
  write(join(project, 'policies', 'policy.json'), '{}');
  write(
    join(project, 'policies', 'throwing.mjs'),
    `import { definePolicy } from '@tierlab/memory-tier-api';
// Throws in placePage on the 1001st allocation: mid-trace.
export default definePolicy({
  name: 'throwing',
  description: 'deliberately throws in a hook',
  knobs: {},
  build: () => {
    let allocations = 0;
    return {
      supports: ['placement'],
      placePage: (_ctx, _page, hint) => {
        if (++allocations > 1000) throw new Error('deliberate failure after 1000 allocations');
        return hint.localNode;
      },
    };
  },
});
`,
  );
  write(
    join(project, 'policies', 'throwing-init.mjs'),
    `import { definePolicy } from '@tierlab/memory-tier-api';
export default definePolicy({
  name: 'throwing-init',
  description: 'throws before the first event',
  knobs: {},
  build: () => ({ init: () => { throw new Error('cannot start'); } }),
});
`,
  );
  return project;
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (!isTierlabError(error)) throw error;
    return { code: error.code, message: error.message };
  }
  throw new Error('expected a rejection');
}

describe('resolvePolicy', () => {
  const project = makeProject();

  it('returns the built-in policies by name', async () => {
    expect(await resolvePolicy('first-touch', { cwd: project })).toBe(builtinPolicies.get('first-touch'));
    expect(await resolvePolicy('kmem-tiering', { cwd: project })).toBe(builtinPolicies.get('kmem-tiering'));
  });

  it("loads packages installed in the user's project: exports map, main, scoped, CommonJS, by full or short name", async () => {
    expect((await resolvePolicy('tierlab-policy-foo', { cwd: project })).policyName).toBe('foo');
    expect((await resolvePolicy('foo', { cwd: project })).policyName).toBe('foo');
    expect((await resolvePolicy('@acme/tierlab-policy-bar', { cwd: project })).policyName).toBe('bar');
    expect((await resolvePolicy('@acme/bar', { cwd: project })).policyName).toBe('bar');
    expect((await resolvePolicy('tierlab-policy-cjs', { cwd: project })).policyName).toBe('cjs');
    // From a folder inside the project, as Node looks up node_modules.
    const deep = join(project, 'runs', 'today');
    mkdirSync(deep, { recursive: true });
    expect((await resolvePolicy('foo', { cwd: deep })).policyName).toBe('foo');
  });

  it('says where it looked when a package is not installed, and looks from the project, not from tierlab', async () => {
    const r = await rejection(resolvePolicy('tierlab-policy-nope', { cwd: project }));
    expect(r.code).toBe('POLICY_NOT_FOUND');
    const builtins = [...builtinPolicies.keys()].join(', ');
    expect(r.message).toContain(`policy 'tierlab-policy-nope' not found: not a built-in policy (${builtins}), and no package tierlab-policy-nope is installed for ${project}`);
    expect(r.message).toContain(`looked in ${join(project, 'node_modules')}, `);
    expect(r.message).toMatch(/install the package in your project \(npm install tierlab-policy-nope\)/);
    // vitest is installed where tierlab is, not in the user's project.
    const short = await rejection(resolvePolicy('vitest', { cwd: project }));
    expect(short.message).toMatch(/no package tierlab-policy-vitest or vitest is installed/);
  });

  it('says what it found when a module is not a policy', async () => {
    const helpers = await rejection(resolvePolicy('tierlab-policy-helpers', { cwd: project }));
    expect(helpers.code).toBe('POLICY_INVALID');
    expect(helpers.message).toMatch(
      /package tierlab-policy-helpers \(.*\) is not a policy: it exports config \(an object with fast, slow\), helper \(a function without policyName\): expected a policy factory/,
    );
    const instance = await rejection(resolvePolicy('tierlab-policy-instance', { cwd: project }));
    expect(instance.message).toMatch(/default \(a policy object named 'inst', not a factory: export the factory that makes it\)/);
    const many = await rejection(resolvePolicy('tierlab-policy-many', { cwd: project }));
    expect(many.message).toMatch(/exports several policy factories \(one, two\) and no default one/);
    const unbuilt = await rejection(resolvePolicy('tierlab-policy-unbuilt', { cwd: project }));
    expect(unbuilt.message).toMatch(/points at \.\/dist\/index\.js, which does not exist \(not built\? run its build\)/);
    const requireOnly = await rejection(resolvePolicy('tierlab-policy-require-only', { cwd: project }));
    expect(requireOnly.message).toMatch(/exports nothing for '\.' that import\(\) can load/);
  });

  it('refuses a spec version this tierlab does not run, listing the supported ones', async () => {
    const r = await rejection(resolvePolicy('tierlab-policy-future', { cwd: project }));
    expect(r.code).toBe('POLICY_SPEC_VERSION');
    expect(r.message).toMatch(/is written for policy spec version 2, which this tierlab does not run: expected specVersion 1 \(supported: 1\)/);
  });

  it('loads module files by relative path, absolute path and file: URL', async () => {
    expect((await resolvePolicy('./policies/plain.mjs', { cwd: project })).policyName).toBe('plain');
    expect((await resolvePolicy(join(project, 'policies', 'plain.mjs'), { cwd: tmpdir() })).policyName).toBe('plain');
    expect((await resolvePolicy(pathToFileURL(join(project, 'policies', 'plain.mjs')).href, { cwd: tmpdir() })).policyName).toBe('plain');
    expect((await resolvePolicy('./node_modules/tierlab-policy-foo', { cwd: project })).policyName).toBe('foo');
  });

  it('explains missing files, modules that throw, and files that are not JavaScript', async () => {
    const missing = await rejection(resolvePolicy('./policies/nope.mjs', { cwd: project }));
    expect(missing.code).toBe('POLICY_NOT_FOUND');
    expect(missing.message).toContain(`policy module ${join(project, 'policies', 'nope.mjs')} not found (resolved from ${project})`);
    const broken = await rejection(resolvePolicy('./policies/broken.mjs', { cwd: project }));
    expect(broken.code).toBe('POLICY_INVALID');
    expect(broken.message).toMatch(/loading module .*broken\.mjs failed: boom at import/);
    // A policy whose peer dependency is not installed where it is.
    const lonely = mkdtempSync(join(tmpdir(), 'tierlab-load-policy-lonely-'));
    write(join(lonely, 'p.mjs'), "import { definePolicy } from '@tierlab/memory-tier-api';\nexport default definePolicy;\n");
    const peer = await rejection(resolvePolicy('./p.mjs', { cwd: lonely }));
    expect(peer.message).toMatch(/Cannot find package '@tierlab\/memory-tier-api'.*: expected @tierlab\/memory-tier-api installed beside the policy \(its peer dependency\)/s);
    const json = await rejection(resolvePolicy('./policies/policy.json', { cwd: project }));
    expect(json.message).toMatch(/a policy module must be JavaScript, not '\.json'/);
  });

  it('says how to load a TypeScript policy when Node cannot strip types (a real node process, not the test transformer)', () => {
    // vitest would compile the .ts itself: run the loader, bundled with esbuild, in plain node.
    const out = mkdtempSync(join(tmpdir(), 'tierlab-load-policy-bundle-'));
    const esbuild = join(repo, 'node_modules', '.bin', 'esbuild');
    const bundle = spawnSync(esbuild, [join(import.meta.dirname, 'load-policy.ts'), '--bundle', '--platform=node', '--format=esm', '--log-level=error', `--outfile=${join(out, 'load-policy.mjs')}`], { encoding: 'utf8' });
    expect(bundle.stderr).toBe('');
    write(
      join(out, 'run.mjs'),
      `import { resolvePolicy } from './load-policy.mjs';
try {
  const f = await resolvePolicy('./policies/typed.ts', { cwd: ${JSON.stringify(project)} });
  console.log(JSON.stringify({ loaded: f.policyName }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}
`,
    );
    const r = spawnSync(process.execPath, [join(out, 'run.mjs')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    const outcome = JSON.parse(r.stdout.trim().split('\n').pop()!);
    if ((process.features as { typescript?: unknown }).typescript) {
      expect(outcome).toEqual({ loaded: 'typed' });
      return;
    }
    expect(outcome.code).toBe('POLICY_NOT_FOUND');
    expect(outcome.message).toMatch(
      /cannot load a TypeScript policy on Node \d+\.\d+\.\d+: this Node does not strip types: expected the built JavaScript \(npm run build, then --policy \.\/dist\/index\.js\), or tierlab run under tsx/,
    );
  });
});

describe('parsePolicyArgument(Async)', () => {
  const project = makeProject();

  it('keeps name:knob=value for built-ins, sync and async', async () => {
    expect(parsePolicyArgument('kmem-tiering:hotThresholdMs=500,scanDelayMs=100').options).toEqual({ hotThresholdMs: '500', scanDelayMs: '100' });
    const request = await parsePolicyArgumentAsync('kmem-tiering:hotThresholdMs=500', { cwd: project });
    expect(request.factory).toBe(builtinPolicies.get('kmem-tiering'));
    expect(request.options).toEqual({ hotThresholdMs: '500' });
    expect(() => parsePolicyArgument('tierlab-policy-foo')).toThrow(/unknown policy 'tierlab-policy-foo'.*parsePolicyArgumentAsync/);
  });

  it('takes knobs on packages and files, and checks them at once', async () => {
    const file = await parsePolicyArgumentAsync('./policies/knobbed.mjs:ratio=3', { cwd: project });
    expect(file.factory.policyName).toBe('knobbed');
    expect(file.options).toEqual({ ratio: '3' });
    expect((await parsePolicyArgumentAsync('@acme/bar', { cwd: project })).factory.policyName).toBe('bar');
    const unknown = await rejection(parsePolicyArgumentAsync('./policies/knobbed.mjs:ratoi=3', { cwd: project }));
    expect(unknown.code).toBe('POLICY_KNOB');
    expect(unknown.message).toMatch(/\[knobbed\] unknown knob 'ratoi': expected one of ratio/);
    const bad = await rejection(parsePolicyArgumentAsync('./policies/knobbed.mjs:ratio=lots', { cwd: project }));
    expect(bad.message).toMatch(/bad value for knob 'ratio': expected a finite number, got 'lots'/);
    const syntax = await rejection(parsePolicyArgumentAsync('foo:ratio', { cwd: project }));
    expect(syntax.message).toMatch(/bad knob setting: expected knob=value, got 'ratio'/);
  });

  it('splits the spec from the knobs at the right colon', () => {
    expect(splitPolicyArgument('@acme/tierlab-policy-bar:a=1')).toEqual({ spec: '@acme/tierlab-policy-bar', knobs: 'a=1' });
    expect(splitPolicyArgument('C:\\policies\\x.mjs:a=1')).toEqual({ spec: 'C:\\policies\\x.mjs', knobs: 'a=1' });
    expect(splitPolicyArgument('file:///p/x.mjs:a=1')).toEqual({ spec: 'file:///p/x.mjs', knobs: 'a=1' });
    expect(splitPolicyArgument('first-touch')).toEqual({ spec: 'first-touch', knobs: null });
  });
});

describe('a policy whose hook throws, replayed with the built-ins on a real capture', () => {
  it('fails alone, reported with its hook, while the other policies give the results they give without it', async () => {
    const project = makeProject();
    const cwd = { cwd: project };
    const builtins = [await parsePolicyArgumentAsync('first-touch', cwd), await parsePolicyArgumentAsync('kmem-tiering', cwd)];
    const throwing = await parsePolicyArgumentAsync('./policies/throwing.mjs', cwd);
    const throwingInit = await parsePolicyArgumentAsync('./policies/throwing-init.mjs', cwd);
    const alone = await replay({ trace, machine: 'dram-pmem', policies: builtins, seed: 1 });
    const mixed = await replay({ trace, machine: 'dram-pmem', policies: [builtins[0]!, throwing, throwingInit, builtins[1]!], seed: 1 });
    const byName = (policies: readonly PolicyResult[]) => Object.fromEntries(policies.map((p) => [p.policy, p]));
    const a = byName(alone.policies);
    const m = byName(mixed.policies);
    expect(Object.keys(m)).toEqual(['first-touch', 'throwing', 'throwing-init', 'kmem-tiering']);
    expect(m['first-touch']).toEqual(a['first-touch']);
    expect(m['kmem-tiering']).toEqual(a['kmem-tiering']);
    expect(m['first-touch']!.error).toBeUndefined();
    expect(m['first-touch']!.metrics!.accesses).toBeGreaterThan(80_000);
    expect(m.throwing!.error).toEqual({
      code: 'POLICY_HOOK_THREW',
      hook: 'placePage',
      message: '[throwing.placePage] hook threw: deliberate failure after 1000 allocations',
    });
    expect(m['throwing-init']!.error).toMatchObject({ code: 'POLICY_HOOK_THREW', hook: 'init', message: '[throwing-init.init] hook threw: cannot start' });
  });
});

describe('tierlab new-policy, then the package by name', () => {
  it('scaffolds a package that, once built, tierlab finds in the project and replays', async () => {
    const project = makeProject();
    const out = await newPolicyCommand(['hot-cold', '--dir', 'packages/hot-cold'], project);
    expect(out).toMatch(/^wrote tierlab-policy-hot-cold \(policy 'hot-cold'\) in /);
    const pkgDir = join(project, 'packages', 'hot-cold');
    // Build it with this workspace's TypeScript against the API and @types/node linked into the project.
    mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
    symlinkSync(dirname(require.resolve('@types/node/package.json', { paths: [repo] })), join(project, 'node_modules', '@types', 'node'), 'dir');
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [repo] }), '-p', 'tsconfig.build.json'], { cwd: pkgDir, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    symlinkSync(pkgDir, join(project, 'node_modules', 'tierlab-policy-hot-cold'), 'dir');

    const request = await parsePolicyArgumentAsync('hot-cold:preferredTier=1', { cwd: project });
    expect(request.factory.policyName).toBe('hot-cold');
    const result = await replay({ trace, machine: 'dram-pmem', policies: [builtinRequest(), request], seed: 1 });
    const [ft, hc] = result.policies;
    expect(hc!.error).toBeUndefined();
    expect(hc!.knobs).toEqual({ preferredTier: 1 });
    expect(hc!.metrics!.accesses).toBe(ft!.metrics!.accesses);
    // Every page placed on the slow tier first: PMem serves more than it does under first-touch.
    expect(hc!.nodes![1]!.accesses).toBeGreaterThan(ft!.nodes![1]!.accesses);
    expect(hc!.counters!['hot-cold.placed_preferred_tier']).toBeGreaterThan(0);

    const again = await rejection(newPolicyCommand(['hot-cold', '--dir', 'packages/hot-cold'], project));
    expect(again.code).toBe('USAGE');
    expect(again.message).toMatch(/exists and is not empty/);
    expect((await rejection(newPolicyCommand(['Hot_Cold'], project))).message).toMatch(/'Hot_Cold' is not a policy name/);
    expect((await rejection(newPolicyCommand(['x', '--bogus'], project))).message).toMatch(/Unknown option '--bogus'.*usage: tierlab new-policy/s);
    expect((await rejection(newPolicyCommand([], project))).message).toMatch(/new-policy takes exactly one name/);
  });
});

function builtinRequest() {
  return parsePolicyArgument('first-touch');
}
