import { isTierlabError } from '@tierlab/memory-tier-api';
import { describe, expect, it } from 'vitest';
import { policyPackageNames } from './names.js';

describe('policyPackageNames', () => {
  it('prefixes a short name, keeps a prefixed one, and keeps the scope', () => {
    expect(policyPackageNames('hot-cold')).toEqual({
      packageName: 'tierlab-policy-hot-cold',
      scope: null,
      policyName: 'hot-cold',
      exportName: 'hotCold',
      directory: 'tierlab-policy-hot-cold',
    });
    expect(policyPackageNames('tierlab-policy-hot-cold').packageName).toBe('tierlab-policy-hot-cold');
    expect(policyPackageNames('@acme/zone-nvm')).toMatchObject({
      packageName: '@acme/tierlab-policy-zone-nvm',
      scope: '@acme',
      policyName: 'zone-nvm',
      exportName: 'zoneNvm',
      directory: 'tierlab-policy-zone-nvm',
    });
    expect(policyPackageNames('@acme/tierlab-policy-hmmap').packageName).toBe('@acme/tierlab-policy-hmmap');
  });

  it('makes an export name that is a valid identifier', () => {
    expect(policyPackageNames('delete').exportName).toBe('deletePolicy');
    expect(policyPackageNames('tpp-2q').exportName).toBe('tpp2q');
  });

  it('rejects what npm or the spec would not take, with a TierlabError USAGE', () => {
    for (const bad of ['', 'Hot', 'hot_cold', '9lives', 'a/b', '@acme/', 'tierlab-policy-', 'hot--cold', '-x']) {
      let error: unknown;
      try {
        policyPackageNames(bad);
      } catch (e) {
        error = e;
      }
      expect(isTierlabError(error), bad).toBe(true);
      expect((error as { code: string }).code).toBe('USAGE');
      expect((error as Error).message).toMatch(/is not a policy name: expected a kebab-case name/);
    }
  });
});
