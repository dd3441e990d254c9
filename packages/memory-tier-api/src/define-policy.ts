import { ErrorCode, TierlabError } from './errors.js';
import type { KnobSpec, PolicyFactory, TierPolicy } from './policy.js';

type KnobValues<K extends Record<string, KnobSpec>> = { [P in keyof K]: K[P]['default'] };

/**
 * Make a policy factory from its name, knobs and a builder. The builder gets
 * the knob values (defaults overridden by the caller's options, checked by type)
 * and returns the hooks; the factory stamps name, specVersion and knobs.
 */
export function definePolicy<K extends Record<string, KnobSpec>>(def: {
  name: string;
  version?: string;
  description: string;
  knobs: K;
  build: (knobs: KnobValues<K>) => Omit<TierPolicy, 'name' | 'specVersion' | 'knobs' | 'description'>;
}): PolicyFactory<KnobValues<K>> {
  const factory = (options?: Partial<KnobValues<K>>): TierPolicy => {
    const knobs = resolveKnobs(def.name, def.knobs, options ?? {}) as KnobValues<K>;
    const hooks = def.build(knobs);
    return {
      ...hooks,
      name: def.name,
      ...(def.version === undefined ? {} : { version: def.version }),
      specVersion: 1,
      description: def.description,
      knobs,
    };
  };
  return Object.assign(factory, { policyName: def.name, description: def.description, knobs: def.knobs });
}

/** Defaults overridden by `options`; unknown knobs and wrong types are errors. */
export function resolveKnobs(
  policy: string,
  specs: Record<string, KnobSpec>,
  options: Record<string, unknown>,
): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  for (const [name, value] of Object.entries(options)) {
    const spec = specs[name];
    if (spec === undefined) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy,
        message: `unknown knob '${name}'`,
        expected: `one of ${Object.keys(specs).join(', ') || '(no knobs)'}`,
      });
    }
    const parsed = typeof value === 'string' ? parseKnobValue(policy, name, spec, value) : value;
    if (typeof parsed !== spec.type) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy,
        message: `knob '${name}' has the wrong type`,
        expected: spec.type,
        excerpt: String(value),
      });
    }
    out[name] = parsed as number | boolean | string;
  }
  return out;
}

/** Parse `value` (from `--policy name:knob=value`) as the knob's type. */
export function parseKnobValue(policy: string, name: string, spec: KnobSpec, value: string): number | boolean | string {
  if (spec.type === 'string') return value;
  if (spec.type === 'boolean') {
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
  } else {
    const n = Number(value);
    if (value.trim() !== '' && Number.isFinite(n)) return n;
  }
  throw new TierlabError({
    code: ErrorCode.policyKnob,
    policy,
    message: `bad value for knob '${name}'`,
    expected: spec.type === 'boolean' ? 'true or false' : 'a finite number',
    excerpt: value,
  });
}
