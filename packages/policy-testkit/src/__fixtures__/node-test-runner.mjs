// The kit under node:test, as a third party without vitest would use it.
// POLICY=first-touch runs a sound policy; POLICY=broken one that uses Math.random.
import { describe, it } from 'node:test';
import { definePolicy } from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { runPolicyConformance } from '@tierlab/policy-testkit';

const broken = definePolicy({
  name: 'random-placement',
  description: 'uses Math.random',
  knobs: {},
  build: () => ({ supports: ['placement'], placePage: (_ctx, _page, hint) => (Math.random() < 0.5 ? hint.localNode : 1) }),
});

runPolicyConformance({ describe, it, factory: process.env.POLICY === 'broken' ? broken : firstTouch });
