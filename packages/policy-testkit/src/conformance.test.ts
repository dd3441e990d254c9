/**
 * The kit in CI: every policy in this repository passes it. first-touch and
 * kmem-tiering by name; every other workspace package with the
 * `tierlab-policy` keyword is found and run too, so a new policy is checked
 * the day it lands.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { firstTouch } from '@tierlab/policy-first-touch';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import { describe, expect, it } from 'vitest';
import { type AnyPolicyFactory, runPolicyConformance } from './index.js';

runPolicyConformance({ describe, it, expect, factory: firstTouch });
runPolicyConformance({ describe, it, expect, factory: kmemTiering });

const packagesDir = join(import.meta.dirname, '..', '..');
const named = new Set(['@tierlab/policy-first-touch', '@tierlab/policy-kmem-tiering']);
for (const dir of readdirSync(packagesDir).sort()) {
  const manifestFile = join(packagesDir, dir, 'package.json');
  if (!existsSync(manifestFile)) continue;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    name: string;
    keywords?: string[];
    main?: string;
    exports?: { '.'?: { import?: string } };
  };
  if (!manifest.keywords?.includes('tierlab-policy') || named.has(manifest.name)) continue;
  // The entry `import(name)` loads, through the package's exports map.
  const entry = join(packagesDir, dir, manifest.exports?.['.']?.import ?? manifest.main ?? 'index.js');
  if (!existsSync(entry)) {
    describe(`tierlab policy conformance: ${manifest.name}`, () => {
      it('is built', () => {
        throw new Error(`${manifest.name} has no ${entry}: build the workspace first (pnpm -w exec turbo run build)`);
      });
    });
    continue;
  }
  const module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  const factory = (module.default ?? Object.values(module).find((v) => typeof v === 'function' && 'policyName' in v)) as AnyPolicyFactory;
  runPolicyConformance({ describe, it, expect, factory });
}
