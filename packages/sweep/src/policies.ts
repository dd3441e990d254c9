/**
 * The policies a sweep can name, and `name[:knob=value,...]` specs. The
 * worker threads resolve names here too: a factory cannot cross a thread,
 * a name can.
 */

import { ErrorCode, type PolicyFactory, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { coherentNuma } from '@tierlab/policy-coherent-numa';
import { firstTouch } from '@tierlab/policy-first-touch';
import { hmmMigrate } from '@tierlab/policy-hmm-migrate';
import { hmmap } from '@tierlab/policy-hmmap';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import { oracle } from '@tierlab/policy-oracle';
import { structPage } from '@tierlab/policy-struct-page';
import { zoneNvm } from '@tierlab/policy-zone-nvm';

const factories = [firstTouch, kmemTiering, coherentNuma, hmmMigrate, zoneNvm, structPage, hmmap, oracle] as unknown as PolicyFactory[];

/**
 * The policies that ship with tierlab, by name: the one list (the `tierlab`
 * command's loader uses it too). No packages or files from the user's project.
 */
export const builtinPolicies: ReadonlyMap<string, PolicyFactory> = new Map(factories.map((f) => [f.policyName, f]));

/** One `--policy` argument, parsed and checked. */
export interface PolicySpec {
  /** As given, e.g. `kmem-tiering:hotThresholdMs=500`. */
  readonly spec: string;
  readonly name: string;
  /** Knob settings as given (strings; the factory parses them by the knob's type). */
  readonly options: Readonly<Record<string, string>>;
  /** Every knob's value after defaults and parsing, in the factory's order: what the result will record. */
  readonly knobs: Readonly<Record<string, number | boolean | string>>;
  /** The policy's version (null when it has none). */
  readonly version: string | null;
}

/**
 * `name` or `name:knob=value,knob=value` -> a checked spec: the name is one
 * of {@link builtinPolicies} and the knobs are made into a policy once, so a
 * typo fails before any trace is read. Throws a TierlabError
 * (POLICY_NOT_FOUND, POLICY_KNOB).
 */
export function parsePolicySpec(spec: string, policies: ReadonlyMap<string, PolicyFactory> = builtinPolicies): PolicySpec {
  if (typeof spec !== 'string' || spec.trim() === '') throw new TypeError('a policy spec is a non-empty string');
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const factory = policies.get(name);
  if (factory === undefined) {
    throw new TierlabError({
      code: ErrorCode.policyNotFound,
      source: 'sweep',
      message: `unknown policy '${name}'`,
      expected: `one of ${[...policies.keys()].join(', ')}`,
      excerpt: spec,
    });
  }
  const options: Record<string, string> = {};
  for (const pair of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new TierlabError({ code: ErrorCode.policyKnob, source: 'sweep', policy: name, message: 'bad knob setting', expected: 'knob=value', excerpt: pair });
    }
    options[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  let policy: ReturnType<PolicyFactory>;
  try {
    policy = factory(options);
  } catch (error) {
    if (isTierlabError(error)) throw error;
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: 'sweep',
      policy: name,
      message: `the policy factory threw with knobs ${JSON.stringify(options)}: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
  return { spec, name, options, knobs: { ...(policy.knobs ?? {}) }, version: policy.version ?? null };
}
