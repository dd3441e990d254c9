import { ErrorCode, type PolicyFactory, TierlabError } from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import type { PolicyRequest } from '@tierlab/replay';

/** The policies that ship with tierlab, by name. */
export const builtinPolicies: ReadonlyMap<string, PolicyFactory> = new Map<string, PolicyFactory>([
  [firstTouch.policyName, firstTouch as unknown as PolicyFactory],
  [kmemTiering.policyName, kmemTiering as unknown as PolicyFactory],
]);

/** `name` or `name:knob=value,knob=value` -> a policy request. */
export function parsePolicyArgument(argument: string): PolicyRequest {
  const colon = argument.indexOf(':');
  const name = colon < 0 ? argument : argument.slice(0, colon);
  const factory = builtinPolicies.get(name);
  if (factory === undefined) {
    throw new TierlabError({
      code: ErrorCode.policyNotFound,
      source: 'cli',
      message: `unknown policy '${name}'`,
      expected: `one of ${[...builtinPolicies.keys()].join(', ')} (see 'tierlab policies')`,
    });
  }
  const options: Record<string, string> = {};
  if (colon >= 0) {
    for (const pair of argument.slice(colon + 1).split(',')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new TierlabError({
          code: ErrorCode.policyKnob,
          source: 'cli',
          policy: name,
          message: 'bad knob setting',
          expected: 'knob=value',
          excerpt: pair,
        });
      }
      options[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return { factory, options };
}

export function describePolicies(): string {
  const lines: string[] = [];
  for (const [name, factory] of builtinPolicies) {
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
