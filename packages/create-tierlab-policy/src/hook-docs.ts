/**
 * The contract of every hook of policy spec v1 (when it is called, what is
 * guaranteed, what it may do, what happens when it is absent), copied from
 * the `TierPolicy` interface of @tierlab/memory-tier-api when a package is
 * generated. The skeleton puts each above its hook.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const hookOrder = [
  'init',
  'placePage',
  'onPlaced',
  'onFault',
  'onAccessSample',
  'onPressure',
  'onTick',
  'onIo',
  'onFree',
  'finish',
] as const;
export type HookName = (typeof hookOrder)[number];

/**
 * The contract of every hook, as the installed @tierlab/memory-tier-api
 * documents it (its declarations keep the doc comments of src/policy.ts),
 * so a generated skeleton always carries the docs of the API it is written
 * against. A hook whose doc cannot be found points to the API instead.
 */
export function apiHookDocs(): Record<HookName, string> {
  let found: Partial<Record<HookName, string>> = {};
  try {
    const require = createRequire(import.meta.url);
    const manifestFile = require.resolve('@tierlab/memory-tier-api/package.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { types?: string };
    found = extractHookDocs(readFileSync(join(dirname(manifestFile), manifest.types ?? 'dist/index.d.ts'), 'utf8'));
  } catch {
    // Fall through to the pointers below.
  }
  const out = {} as Record<HookName, string>;
  for (const hook of hookOrder) out[hook] = found[hook] ?? `See TierPolicy.${hook} in @tierlab/memory-tier-api (policy spec v1).`;
  return out;
}

/** The doc comments of the hooks of `interface TierPolicy` in a TypeScript source (policy.ts or a .d.ts), by hook. */
export function extractHookDocs(source: string): Partial<Record<HookName, string>> {
  const start = source.indexOf('interface TierPolicy');
  if (start < 0) return {};
  const body = source.slice(start, source.indexOf('\n}', start));
  const out: Partial<Record<HookName, string>> = {};
  const re = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)\?\(/g;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    const hook = m[2] as HookName;
    if (!hookOrder.includes(hook)) continue;
    out[hook] = m[1]!
      .split('\n')
      .map((line) => line.replace(/^\s*\*\s?/, '').trim())
      .filter((line) => line !== '')
      .join('\n');
  }
  return out;
}
