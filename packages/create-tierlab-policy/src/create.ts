import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { apiHookDocs } from './hook-docs.js';
import { type PolicyPackageNames, policyPackageNames } from './names.js';
import { renderPolicyPackage } from './templates.js';

/** Versions of the tierlab packages this scaffold writes against (released together with it). */
export const API_VERSION_RANGE = '^0.1.0';
export const TESTKIT_VERSION_RANGE = '^0.1.0';

export interface CreatePolicyOptions {
  /** Range of @tierlab/memory-tier-api, peer and dev dependency (default {@link API_VERSION_RANGE}). */
  readonly apiVersion?: string;
  /** Range of @tierlab/policy-testkit, dev dependency (default {@link TESTKIT_VERSION_RANGE}). */
  readonly testkitVersion?: string;
  /** One line on what the policy does. */
  readonly description?: string;
  /** SPDX license of the new package (default Apache-2.0). */
  readonly license?: string;
  /** Write into a folder that is not empty, replacing files of the same name. */
  readonly force?: boolean;
}

export interface CreatedPolicyPackage extends PolicyPackageNames {
  /** Absolute path of the package. */
  readonly dir: string;
  /** Files written, relative to `dir`. */
  readonly files: readonly string[];
}

/**
 * Write a policy package into `dir`: package.json (the `tierlab-policy`
 * keyword, the API as a peer dependency, the API and the conformance kit as
 * dev dependencies), tsconfig, src/index.ts with every hook of the spec
 * documented, a vitest test wired to the kit, and a README.
 */
export function createPolicyPackage(dir: string, name: string, options: CreatePolicyOptions = {}): CreatedPolicyPackage {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('createPolicyPackage: dir must be a path');
  const names = policyPackageNames(name);
  const apiVersion = options.apiVersion ?? API_VERSION_RANGE;
  const testkitVersion = options.testkitVersion ?? TESTKIT_VERSION_RANGE;
  for (const [what, range] of [
    ['apiVersion', apiVersion],
    ['testkitVersion', testkitVersion],
  ] as const) {
    if (typeof range !== 'string' || range.trim() === '' || /\s/.test(range.trim())) {
      throw new TierlabError({
        code: ErrorCode.usage,
        source: 'create-tierlab-policy',
        message: `bad ${what}`,
        expected: 'a version range such as ^0.1.0, or a file:/link: spec',
        excerpt: String(range),
      });
    }
  }
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0 && options.force !== true) {
    throw new TierlabError({
      code: ErrorCode.usage,
      source: 'create-tierlab-policy',
      message: `${target} exists and is not empty`,
      expected: 'a new or empty folder (or --force to write into it)',
    });
  }
  const files = renderPolicyPackage(names, {
    hookDocs: apiHookDocs(),
    apiVersion,
    testkitVersion,
    description: options.description ?? 'A tierlab memory-tiering policy',
    license: options.license ?? 'Apache-2.0',
  });
  for (const [path, text] of Object.entries(files)) {
    const file = join(target, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return { ...names, dir: target, files: Object.keys(files) };
}
