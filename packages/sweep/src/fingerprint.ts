/**
 * What code a replay runs, as one hash: the built files of every @tierlab
 * package this sweep's workers load (replay, engine, normalizer, readers,
 * machines, the policies...), found through node_modules as Node finds them,
 * and the versions of their other dependencies. Part of every cell's key, so
 * a sweep after a rebuild replays again instead of keeping results of the
 * old code.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
}

/** sha256 (hex) of the code the sweep's replays depend on. */
export function codeFingerprint(): string {
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  const parts = new Map<string, string>();
  const visit = (dir: string) => {
    for (const dependency of Object.keys(readPackage(dir).dependencies ?? {}).sort()) {
      if (parts.has(dependency)) continue;
      const found = findPackage(dependency, dir);
      if (found === null) {
        parts.set(dependency, 'missing');
        continue;
      }
      const pkg = readPackage(found);
      if (dependency.startsWith('@tierlab/')) {
        parts.set(dependency, `${pkg.version ?? '?'} ${hashBuilt(found)}`);
        visit(found);
      } else {
        parts.set(dependency, pkg.version ?? '?');
      }
    }
  };
  visit(root);
  const text = [...parts]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, part]) => `${name} ${part}`)
    .join('\n');
  return createHash('sha256').update(text).digest('hex');
}

function packageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** `<ancestor>/node_modules/<name>`, the first that exists going up from `from`, resolved through links. */
function findPackage(name: string, from: string): string | null {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The JavaScript in the package's dist/ (what import() loads), file names and contents. */
function hashBuilt(dir: string): string {
  const dist = join(dir, 'dist');
  const hash = createHash('sha256');
  if (!existsSync(dist)) return 'unbuilt';
  for (const name of readdirSync(dist).sort()) {
    if (!name.endsWith('.js')) continue;
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(dist, name)));
  }
  return hash.digest('hex');
}
