import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ErrorCode, type PolicyFactory, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import type { PolicyRequest } from '@tierlab/replay';
import { createPolicyPackage, policyPackageNames } from 'create-tierlab-policy';
import { builtinPolicies, resolvePolicy } from './load-policy.js';

export { builtinPolicies, isPathSpec, packageCandidates, resolvePolicy } from './load-policy.js';
export type { ResolvePolicyOptions } from './load-policy.js';

/**
 * Split `spec:knob=value,...` into the spec and its knob settings. The first
 * colon ends the spec, except a Windows drive letter's (`C:\x.js`) and a
 * `file:` URL's scheme; npm names never hold a colon.
 */
export function splitPolicyArgument(argument: string): { spec: string; knobs: string | null } {
  let from = 0;
  if (/^[a-zA-Z]:[\\/]/.test(argument)) from = 2;
  else if (argument.startsWith('file:')) from = 5;
  const colon = argument.indexOf(':', from);
  return colon < 0 ? { spec: argument, knobs: null } : { spec: argument.slice(0, colon), knobs: argument.slice(colon + 1) };
}

function parseKnobs(policy: string, text: string | null): Record<string, string> {
  const options: Record<string, string> = {};
  if (text === null) return options;
  for (const pair of text.split(',')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        source: 'cli',
        policy,
        message: 'bad knob setting',
        expected: 'knob=value',
        excerpt: pair,
      });
    }
    options[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return options;
}

/** `name` or `name:knob=value,knob=value` -> a policy request, for the built-in policies only (synchronous). */
export function parsePolicyArgument(argument: string): PolicyRequest {
  const { spec: name, knobs } = splitPolicyArgument(argument);
  const factory = builtinPolicies.get(name);
  if (factory === undefined) {
    throw new TierlabError({
      code: ErrorCode.policyNotFound,
      source: 'cli',
      message: `unknown policy '${name}'`,
      expected: `one of ${[...builtinPolicies.keys()].join(', ')} (see 'tierlab policies'; packages and files need parsePolicyArgumentAsync)`,
    });
  }
  return { factory, options: parseKnobs(name, knobs) };
}

/**
 * `spec` or `spec:knob=value,...` -> a policy request, where spec is a
 * built-in name, an installed package (`tierlab-policy-foo`,
 * `@scope/tierlab-policy-foo`, or `foo` for short) or a path to a .js/.mjs
 * module, resolved from `cwd`. The knobs are checked at once (one policy is
 * made with them), so a typo fails before the trace is read.
 */
export async function parsePolicyArgumentAsync(argument: string, options: { readonly cwd: string }): Promise<PolicyRequest> {
  const { spec, knobs } = splitPolicyArgument(argument);
  const factory = await resolvePolicy(spec, { cwd: options.cwd });
  const values = parseKnobs(factory.policyName, knobs);
  try {
    factory(values);
  } catch (error) {
    if (isTierlabError(error)) throw error;
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      source: 'cli',
      policy: factory.policyName,
      message: `the policy factory threw with knobs ${JSON.stringify(values)}: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
  return { factory, options: values };
}

/** The policies with their knobs: the built-ins, then any others given (e.g. loaded with --policy). */
export function describePolicies(extra: readonly PolicyFactory[] = []): string {
  const lines: string[] = [];
  const all = new Map<string, PolicyFactory>(builtinPolicies);
  for (const factory of extra) all.set(factory.policyName, factory);
  for (const [name, factory] of all) {
    lines.push(`${name}\n  ${factory.description}`);
    const knobs = Object.entries(factory.knobs);
    if (knobs.length === 0) lines.push('  knobs: none');
    for (const [knob, spec] of knobs) {
      lines.push(`  ${knob} = ${String(spec.default)} (${spec.type})  ${spec.description}`);
      if (spec.kernelName) lines.push(`      kernel: ${spec.kernelName}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const NEW_POLICY_USAGE = `usage: tierlab new-policy <name> [--dir <path>] [--api-version <range>] [--force]
  Writes a policy package (tierlab-policy-<name>, or @scope/tierlab-policy-<name>): every hook
  documented, a README, a vitest test wired to @tierlab/policy-testkit. Then:
  cd <dir> && npm install && npm test`;

/**
 * `tierlab new-policy <name> [--dir path] [--api-version range] [--force]`:
 * scaffold a policy package. Returns the text to print.
 */
export async function newPolicyCommand(args: readonly string[], cwd: string): Promise<string> {
  let parsed: ReturnType<typeof parseNewPolicyArgs>;
  try {
    parsed = parseNewPolicyArgs(args);
  } catch (error) {
    throw new TierlabError({
      code: ErrorCode.usage,
      source: 'cli',
      message: error instanceof Error ? error.message : String(error),
      expected: NEW_POLICY_USAGE,
    });
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'cli', message: 'new-policy takes exactly one name', expected: NEW_POLICY_USAGE });
  }
  const names = policyPackageNames(positionals[0]!);
  const dir = resolve(cwd, values.dir ?? names.directory);
  const written = createPolicyPackage(dir, positionals[0]!, {
    ...(values['api-version'] ? { apiVersion: values['api-version'] } : {}),
    force: values.force === true,
  });
  return `${[
    `wrote ${names.packageName} (policy '${names.policyName}') in ${dir}:`,
    ...written.files.map((f) => `  ${f}`),
    '',
    'next:',
    `  cd ${dir}`,
    '  npm install',
    '  npm test            # the tierlab conformance kit',
    `  tierlab replay <trace> --policy ${names.packageName}   # from a project where it is installed`,
  ].join('\n')}\n`;
}

function parseNewPolicyArgs(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'api-version': { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
}
