import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';

/** npm name prefix of policy packages (STYLE.md: `tierlab-policy-*`, `@scope/tierlab-policy-*`). */
export const POLICY_PACKAGE_PREFIX = 'tierlab-policy-';

export interface PolicyPackageNames {
  /** npm name: `tierlab-policy-foo` or `@scope/tierlab-policy-foo`. */
  readonly packageName: string;
  /** `@scope` or null. */
  readonly scope: string | null;
  /** The policy's own name (`TierPolicy.name`): `foo`. */
  readonly policyName: string;
  /** The factory's export: `foo` -> `foo`, `hot-cold` -> `hotCold`. */
  readonly exportName: string;
  /** Default folder to write to: the unscoped package name. */
  readonly directory: string;
}

const reserved = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await arguments eval'.split(
    ' ',
  ),
);

/**
 * The names of a policy package from what the user typed: `foo`,
 * `tierlab-policy-foo`, `@acme/foo` or `@acme/tierlab-policy-foo`. The policy
 * part is kebab-case: lowercase letters, digits and dashes.
 */
export function policyPackageNames(input: string): PolicyPackageNames {
  if (typeof input !== 'string') throw new TypeError('policyPackageNames: the name must be a string');
  const name = input.trim();
  const match = /^(?:(@[a-z0-9][a-z0-9._~-]*)\/)?(.+)$/.exec(name);
  const scope = match?.[1] ?? null;
  let base = match?.[2] ?? '';
  if (base.startsWith(POLICY_PACKAGE_PREFIX)) base = base.slice(POLICY_PACKAGE_PREFIX.length);
  if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(base) || (scope === null && name.includes('/'))) {
    throw new TierlabError({
      code: ErrorCode.usage,
      source: 'create-tierlab-policy',
      message: `'${input}' is not a policy name`,
      expected:
        'a kebab-case name starting with a letter (hot-cold), optionally scoped (@acme/hot-cold) or already prefixed (tierlab-policy-hot-cold)',
    });
  }
  const packageName = `${scope === null ? '' : `${scope}/`}${POLICY_PACKAGE_PREFIX}${base}`;
  if (packageName.length > 214) {
    throw new TierlabError({
      code: ErrorCode.usage,
      source: 'create-tierlab-policy',
      message: `the package name ${packageName} is longer than npm allows`,
      expected: 'at most 214 characters',
    });
  }
  const camel = base.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return {
    packageName,
    scope,
    policyName: base,
    exportName: reserved.has(camel) ? `${camel}Policy` : camel,
    directory: `${POLICY_PACKAGE_PREFIX}${base}`,
  };
}
