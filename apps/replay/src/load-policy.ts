/**
 * Finding a policy by what the user typed after `--policy`: a built-in name,
 * an npm package installed in the user's project (`tierlab-policy-foo`,
 * `@scope/tierlab-policy-foo`, or the short `foo`), or a path to a module.
 *
 * Packages are resolved from the user's working directory, as their own
 * code would import them (the node_modules folders from `cwd` up, then the
 * package's `exports` with the `import`/`node`/`default` conditions), not
 * from where tierlab is installed.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ErrorCode,
  type PolicyFactory,
  SUPPORTED_SPEC_VERSIONS,
  TierlabError,
  isTierlabError,
} from '@tierlab/memory-tier-api';
import { builtinPolicies } from '@tierlab/sweep';

/** The policies that ship with tierlab, by name (one list, kept in @tierlab/sweep). */
export { builtinPolicies };

/** The npm name prefix of policy packages (STYLE.md: `tierlab-policy-*`, `@scope/tierlab-policy-*`). */
export const POLICY_PACKAGE_PREFIX = 'tierlab-policy-';

export interface ResolvePolicyOptions {
  /** The user's project: packages are resolved from here, relative paths against it. */
  readonly cwd: string;
  /** Built-in policies by name (default: {@link builtinPolicies}). */
  readonly builtins?: ReadonlyMap<string, PolicyFactory>;
}

const SOURCE = 'load-policy';
const moduleExtensions = ['.js', '.mjs', '.cjs'];
const typeScriptExtensions = ['.ts', '.mts', '.cts'];
const packageName = /^(?:@[a-z0-9][\w.~-]*\/)?[a-z0-9~][\w.~-]*$/i;

/**
 * The factory `spec` names: a built-in, an installed package or a module
 * file. Throws a TierlabError: POLICY_NOT_FOUND (with what was searched),
 * POLICY_INVALID (with what was found instead), POLICY_SPEC_VERSION (with
 * the versions this tierlab supports).
 */
export async function resolvePolicy(spec: string, options: ResolvePolicyOptions): Promise<PolicyFactory> {
  if (typeof spec !== 'string' || spec.trim() === '') throw new TypeError('resolvePolicy: spec must be a non-empty string');
  if (typeof options?.cwd !== 'string') throw new TypeError('resolvePolicy: options.cwd must be a directory');
  const builtins = options.builtins ?? builtinPolicies;
  const builtin = builtins.get(spec);
  if (builtin !== undefined) return builtin;

  if (isPathSpec(spec)) return loadFromPath(spec, options.cwd);

  const { name, subpath } = splitPackageSpec(spec);
  if (name === null || !packageName.test(name)) {
    throw new TierlabError({
      code: ErrorCode.policyNotFound,
      source: SOURCE,
      message: `policy '${spec}' not found: not a built-in policy, a package name or a path`,
      expected: expectedSpec(builtins),
    });
  }
  const candidates = packageCandidates(name);
  const searched = nodeModulesPaths(options.cwd);
  for (const candidate of candidates) {
    const dir = findPackageDir(candidate, searched);
    if (dir === null) continue;
    const entry = packageEntry(dir, candidate, subpath);
    return loadModule(entry, `package ${candidate}${subpath === '.' ? '' : subpath.slice(1)} (${dir})`);
  }
  const listed = searched.length > 6 ? [...searched.slice(0, 6), `... (${searched.length - 6} more)`] : searched;
  throw new TierlabError({
    code: ErrorCode.policyNotFound,
    source: SOURCE,
    message:
      `policy '${spec}' not found: not a built-in policy (${[...builtins.keys()].join(', ')}), ` +
      `and no package ${candidates.join(' or ')} is installed for ${resolve(options.cwd)}; looked in ${listed.join(', ')}`,
    expected: `${expectedSpec(builtins)}; install the package in your project (npm install ${candidates[0]})`,
  });
}

function expectedSpec(builtins: ReadonlyMap<string, PolicyFactory>): string {
  return `a built-in policy (${[...builtins.keys()].join(', ')}), an installed package (tierlab-policy-NAME, @scope/tierlab-policy-NAME) or a path to a .js/.mjs module`;
}

/** `./x`, `../x`, `/x`, `C:\x`, `file:` URLs, and anything ending in a module extension. */
export function isPathSpec(spec: string): boolean {
  if (spec.startsWith('file:')) return true;
  if (spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..') return true;
  if (spec.startsWith('.\\') || spec.startsWith('..\\')) return true;
  if (isAbsolute(spec) || /^[a-zA-Z]:[\\/]/.test(spec)) return true;
  const ext = extname(spec).toLowerCase();
  return [...moduleExtensions, ...typeScriptExtensions].includes(ext) && !spec.startsWith('@');
}

function splitPackageSpec(spec: string): { name: string | null; subpath: string } {
  const parts = spec.split('/');
  const count = spec.startsWith('@') ? 2 : 1;
  if (parts.length < count || parts.slice(0, count).some((p) => p === '')) return { name: null, subpath: '.' };
  const rest = parts.slice(count).join('/');
  return { name: parts.slice(0, count).join('/'), subpath: rest === '' ? '.' : `./${rest}` };
}

/** `foo` -> tierlab-policy-foo, foo; `@s/foo` -> @s/tierlab-policy-foo, @s/foo; a full name -> itself. */
export function packageCandidates(name: string): string[] {
  const scoped = name.startsWith('@');
  const slash = name.indexOf('/');
  const scope = scoped ? name.slice(0, slash + 1) : '';
  const bare = scoped ? name.slice(slash + 1) : name;
  if (bare.startsWith(POLICY_PACKAGE_PREFIX)) return [name];
  return [`${scope}${POLICY_PACKAGE_PREFIX}${bare}`, name];
}

/**
 * The node_modules folders an ES module in `cwd` would import from: cwd's,
 * then each parent's (the ESM resolver's lookup; no NODE_PATH, no global folders).
 */
function nodeModulesPaths(cwd: string): string[] {
  const out: string[] = [];
  let dir = resolve(cwd);
  for (;;) {
    if (basename(dir) !== 'node_modules') out.push(join(dir, 'node_modules'));
    const up = dirname(dir);
    if (up === dir) return out;
    dir = up;
  }
}

function findPackageDir(name: string, searched: readonly string[]): string | null {
  for (const base of searched) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return null;
}

interface PackageJson {
  readonly name?: string;
  readonly main?: string;
  readonly exports?: unknown;
}

function readPackageJson(dir: string): PackageJson {
  const file = join(dir, 'package.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch (error) {
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      message: `cannot read the package's package.json: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
}

/** The file `import(name + subpath)` loads: `exports` with the import/node/default conditions, else `main`, else index.js. */
function packageEntry(dir: string, name: string, subpath: string): string {
  const pkg = readPackageJson(dir);
  let target: string | null = null;
  if (pkg.exports !== undefined && pkg.exports !== null) {
    const exportsField = pkg.exports;
    const isSubpathMap =
      typeof exportsField === 'object' && !Array.isArray(exportsField) && Object.keys(exportsField).some((k) => k.startsWith('.'));
    const forSubpath = isSubpathMap ? (exportsField as Record<string, unknown>)[subpath] : subpath === '.' ? exportsField : undefined;
    target = forSubpath === undefined ? null : conditionalTarget(forSubpath);
    if (target === null) {
      throw new TierlabError({
        code: ErrorCode.policyInvalid,
        source: SOURCE,
        file: join(dir, 'package.json'),
        message: `package ${name} exports nothing for '${subpath}' that import() can load`,
        expected: `an "exports" entry for '${subpath}' with an "import" or "default" condition`,
      });
    }
  } else if (subpath !== '.') {
    target = subpath;
  } else {
    target = typeof pkg.main === 'string' && pkg.main !== '' ? pkg.main : './index.js';
  }
  let file = resolve(dir, target);
  if (!existsSync(file) && extname(file) === '' && existsSync(`${file}.js`)) file = `${file}.js`;
  if (existsSync(file) && statSync(file).isDirectory() && existsSync(join(file, 'index.js'))) file = join(file, 'index.js');
  if (!existsSync(file)) {
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file: join(dir, 'package.json'),
      message: `package ${name} points at ${target}, which does not exist (not built? run its build)`,
      expected: 'the entry file of the package',
    });
  }
  return file;
}

/** Node's conditional exports for import(): the first of import, node, default (nested, arrays: first that resolves). */
function conditionalTarget(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const t = conditionalTarget(item);
      if (t !== null) return t;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [condition, target] of Object.entries(value)) {
      if (condition === 'import' || condition === 'node' || condition === 'default' || condition === 'module-sync') {
        const t = conditionalTarget(target);
        if (t !== null) return t;
      }
    }
  }
  return null;
}

async function loadFromPath(spec: string, cwd: string): Promise<PolicyFactory> {
  const file = spec.startsWith('file:') ? fileURLToPath(spec) : resolve(cwd, spec);
  if (!existsSync(file)) {
    throw new TierlabError({
      code: ErrorCode.policyNotFound,
      source: SOURCE,
      message: `policy module ${file} not found (resolved from ${resolve(cwd)})`,
      expected: 'a path to a .js or .mjs module exporting a policy factory',
      excerpt: spec,
    });
  }
  if (statSync(file).isDirectory()) {
    const pkg = existsSync(join(file, 'package.json')) ? readPackageJson(file) : {};
    return loadModule(packageEntry(file, pkg.name ?? file, '.'), `package directory ${file}`);
  }
  const ext = extname(file).toLowerCase();
  if (!moduleExtensions.includes(ext) && !typeScriptExtensions.includes(ext)) {
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      message: `a policy module must be JavaScript, not '${ext || '(no extension)'}'`,
      expected: 'a .js, .mjs or .cjs file',
    });
  }
  return loadModule(file, `module ${file}`);
}

async function loadModule(file: string, what: string): Promise<PolicyFactory> {
  let namespace: unknown;
  try {
    namespace = await import(pathToFileURL(file).href);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeScriptExtensions.includes(extname(file).toLowerCase()) && (code === 'ERR_UNKNOWN_FILE_EXTENSION' || error instanceof SyntaxError)) {
      throw new TierlabError({
        code: ErrorCode.policyNotFound,
        source: SOURCE,
        file,
        message: `cannot load a TypeScript policy on Node ${process.versions.node}: this Node does not strip types`,
        expected: 'the built JavaScript (npm run build, then --policy ./dist/index.js), or tierlab run under tsx (npx tsx $(which tierlab) replay ...)',
        cause: error,
      });
    }
    const text = error instanceof Error ? error.message : String(error);
    const missingApi = code === 'ERR_MODULE_NOT_FOUND' && text.includes("'@tierlab/memory-tier-api'");
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      message: `loading ${what} failed: ${text}`,
      ...(missingApi ? { expected: '@tierlab/memory-tier-api installed beside the policy (its peer dependency): npm install @tierlab/memory-tier-api' } : {}),
      cause: error,
    });
  }
  const factory = pickFactory(namespace as Record<string, unknown>, what, file);
  checkSpecVersion(factory, what, file);
  return factory;
}

function isFactory(value: unknown): value is PolicyFactory {
  return typeof value === 'function' && typeof (value as { policyName?: unknown }).policyName === 'string';
}

/** The default export when it is a factory; else the one named export that is (also inside a CommonJS default). */
function pickFactory(namespace: Record<string, unknown>, what: string, file: string): PolicyFactory {
  const def = namespace.default;
  if (isFactory(def)) return checkFactory(def, what, file);
  const named = new Map<PolicyFactory, string>();
  const scan = (record: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(record)) {
      if (key !== 'default' && isFactory(value) && !named.has(value)) named.set(value, `${prefix}${key}`);
    }
  };
  scan(namespace, '');
  if (typeof def === 'object' && def !== null) scan(def as Record<string, unknown>, 'default.');
  if (named.size === 1) return checkFactory([...named.keys()][0]!, what, file);
  if (named.size > 1) {
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      message: `${what} exports several policy factories (${[...named.values()].join(', ')}) and no default one`,
      expected: 'a default export naming the policy to load (export default myPolicy)',
    });
  }
  throw new TierlabError({
    code: ErrorCode.policyInvalid,
    source: SOURCE,
    file,
    message: `${what} is not a policy: it exports ${describeExports(namespace)}`,
    expected: 'a policy factory as the default or a named export: a function with policyName, made with definePolicy() from @tierlab/memory-tier-api',
  });
}

function describeExports(namespace: Record<string, unknown>): string {
  const entries = Object.entries(namespace);
  if (entries.length === 0) return 'nothing';
  return entries
    .slice(0, 8)
    .map(([key, value]) => `${key} (${describeValue(value)})`)
    .join(', ');
}

function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function without policyName';
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (typeof v.name === 'string' && 'specVersion' in v) return `a policy object named '${v.name}', not a factory: export the factory that makes it`;
    const keys = Object.keys(v);
    return keys.length === 0 ? 'an empty object' : `an object with ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
  }
  return value === null ? 'null' : typeof value;
}

function checkFactory(factory: PolicyFactory, what: string, file: string): PolicyFactory {
  const missing: string[] = [];
  if (factory.policyName === '') missing.push('a non-empty policyName');
  if (typeof factory.description !== 'string') missing.push('a description');
  if (typeof factory.knobs !== 'object' || factory.knobs === null) missing.push('a knobs object');
  if (missing.length > 0) {
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      policy: factory.policyName || undefined,
      message: `${what} exports a factory without ${missing.join(', ')}`,
      expected: 'a factory made with definePolicy() (policyName, description, knobs)',
    });
  }
  return factory;
}

/** Make one policy with the default knobs and check its specVersion is one this tierlab runs. */
function checkSpecVersion(factory: PolicyFactory, what: string, file: string): void {
  let policy: unknown;
  try {
    policy = factory();
  } catch (error) {
    if (isTierlabError(error)) throw error;
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      policy: factory.policyName,
      message: `the factory of ${what} threw with the default knobs: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
  if (typeof policy !== 'object' || policy === null) {
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: SOURCE,
      file,
      policy: factory.policyName,
      message: `the factory of ${what} returned ${policy === null ? 'null' : typeof policy}, not a policy object`,
      expected: '{ name, specVersion, ...hooks }',
    });
  }
  const version = (policy as { specVersion?: unknown }).specVersion;
  if (!SUPPORTED_SPEC_VERSIONS.includes(version as number)) {
    throw new TierlabError({
      code: ErrorCode.policySpecVersion,
      source: SOURCE,
      file,
      policy: factory.policyName,
      message: `${what} is written for policy spec version ${String(version)}, which this tierlab does not run`,
      expected: `specVersion ${SUPPORTED_SPEC_VERSIONS.join(' or ')} (supported: ${SUPPORTED_SPEC_VERSIONS.join(', ')}); upgrade tierlab or install a version of the policy for this spec`,
    });
  }
}
