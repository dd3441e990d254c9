/**
 * Where the real captures are: `../shared/traces` beside the repository (the
 * developers' and CI's set) and the repository's own `traces/` (bundled).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder holding pnpm-workspace.yaml). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('pnpm-workspace.yaml not found above test-support');
    dir = up;
  }
}

/** `../shared/traces`, or null when this checkout has no shared/ beside it. */
export function sharedTraces(): string | null {
  const dir = resolve(repoRoot(), '../shared/traces');
  return existsSync(dir) ? dir : null;
}

/** The repository's bundled traces. */
export function bundledTraces(): string {
  return join(repoRoot(), 'traces');
}

/** Path of a shared capture; throws when shared/ is missing (guard with sharedTraces()). */
export function sharedTrace(name: string): string {
  const dir = sharedTraces();
  if (dir === null) throw new Error('../shared/traces is not beside this checkout');
  return join(dir, name);
}

/** The sections of a `.meta` sidecar: `event_counts:` blocks become name -> count maps; other lines key -> value. */
export interface Meta {
  readonly values: Record<string, string>;
  readonly counts: Record<string, Record<string, number>>;
}

export function readMeta(path: string): Meta {
  const values: Record<string, string> = {};
  const counts: Record<string, Record<string, number>> = {};
  let section: Record<string, number> | null = null;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const block = /^(event_counts[^:]*):\s*$/.exec(line);
    if (block) {
      section = {};
      counts[block[1]!] = section;
      continue;
    }
    const entry = /^ {2}(\S.*?)\s{2,}(\d+)\s*$/.exec(line);
    if (section !== null && entry) {
      section[entry[1]!] = Number(entry[2]);
      continue;
    }
    section = null;
    const kv = /^([A-Za-z0-9_[\].-]+):\s?(.*)$/.exec(line);
    if (kv) values[kv[1]!] = kv[2]!;
  }
  return { values, counts };
}

/**
 * A golden file's pinned value, for `expect(actual).toEqual(golden(path, actual))`.
 * With UPDATE_GOLDEN=1 it first writes `actual` there (update deliberately, say
 * why in the commit); a missing file without it is an error.
 */
export function golden(path: string, actual: unknown): unknown {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`);
  else if (!existsSync(path)) throw new Error(`no golden file ${path}: run with UPDATE_GOLDEN=1 once, check it, commit it`);
  return JSON.parse(readFileSync(path, 'utf8'));
}
