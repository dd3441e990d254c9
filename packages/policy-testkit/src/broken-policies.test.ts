/**
 * The kit against deliberately broken policies: each must fail, in the case
 * that checks what it breaks, with a message that says what broke. The kit
 * is run through a fake describe/it that records each case's outcome, as a
 * third party's runner would.
 */
import { type PolicyFactory, definePolicy } from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { describe, expect, it } from 'vitest';
import { type AnyPolicyFactory, type ConformanceCaseId, runPolicyConformance } from './index.js';

interface Outcome {
  readonly title: string;
  readonly error: string | null;
}

/** Run the kit with a describe/it that only records: titles and failure messages. */
async function runKit(factory: AnyPolicyFactory | PolicyFactory): Promise<Outcome[]> {
  const registered: Array<{ title: string; fn: () => Promise<void> }> = [];
  const fakeDescribe = (_name: string, fn: () => void) => fn();
  const fakeIt = (title: string, fn: () => Promise<void>) => {
    registered.push({ title, fn });
  };
  runPolicyConformance({ describe: fakeDescribe, it: fakeIt, factory: factory as AnyPolicyFactory });
  const outcomes: Outcome[] = [];
  for (const { title, fn } of registered) {
    try {
      await fn();
      outcomes.push({ title, error: null });
    } catch (error) {
      outcomes.push({ title, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return outcomes;
}

const caseTitle: Partial<Record<ConformanceCaseId, RegExp>> = {
  shape: /^is a factory/,
  determinism: /^is deterministic/,
  'page-lifetime': /^never touches a freed/,
  isolation: /^keeps no state between instances/,
  pressure: /^behaves under memory pressure/,
  clock: /^takes time and randomness only from the context/,
};

function failureOf(outcomes: Outcome[], id: ConformanceCaseId): string | null {
  const found = outcomes.find((o) => caseTitle[id]!.test(o.title));
  if (found === undefined) throw new Error(`case ${id} was not registered`);
  return found.error;
}

// ---- the broken policies ----

const badNode = definePolicy({
  name: 'broken-bad-node',
  description: 'placePage returns a node the machine does not have',
  knobs: {},
  build: () => ({ supports: ['placement'], placePage: () => 99 }),
});

const migratesFreed = definePolicy({
  name: 'broken-migrates-freed',
  description: 'remembers every page it placed, forgets none on free, and moves the oldest ones around on every tick',
  knobs: {},
  build: () => {
    const placed: number[] = [];
    return {
      supports: ['placement'],
      observe: { tickMs: 100 },
      onPlaced: (_ctx, page) => {
        placed.push(page);
      },
      onTick: (ctx) => {
        for (const page of placed.slice(0, 8)) {
          const node = ctx.pageNode(page);
          if (node >= 0) ctx.migrate(page, ctx.nodesByTier[(ctx.nodesByTier.indexOf(node) + 1) % ctx.nodesByTier.length]!, 'other');
        }
      },
    };
  },
});

const usesMathRandom = definePolicy({
  name: 'broken-uses-math-random',
  description: 'places pages at random with Math.random instead of ctx.random',
  knobs: {},
  build: () => ({
    supports: ['placement'],
    placePage: (ctx, _page, hint) => (Math.random() < 0.5 ? hint.localNode : ctx.nodesByTier[ctx.nodesByTier.length - 1]!),
  }),
});

const usesDateNow = definePolicy({
  name: 'broken-uses-date-now',
  description: 'ages pages by the wall clock',
  knobs: {},
  build: () => {
    let last = 0;
    return {
      supports: ['placement'],
      placePage: (ctx, _page, hint) => {
        const now = Date.now();
        const slow = now - last > 5;
        last = now;
        return slow ? ctx.nodesByTier[ctx.nodesByTier.length - 1]! : hint.localNode;
      },
    };
  },
});

// Module state, reset in init: a single run is deterministic, two instances at once interfere.
let sharedAllocations = 0;
const sharesState = definePolicy({
  name: 'broken-shares-state',
  description: 'alternates fast and slow placement with a counter shared by every instance',
  knobs: {},
  build: () => ({
    supports: ['placement'],
    init: () => {
      sharedAllocations = 0;
    },
    placePage: (ctx, _page, hint) => (sharedAllocations++ % 2 === 0 ? hint.localNode : ctx.nodesByTier[ctx.nodesByTier.length - 1]!),
  }),
});

const throwsInHook = definePolicy({
  name: 'broken-throws-in-hook',
  description: 'throws when asked to reclaim',
  knobs: {},
  build: () => ({
    supports: ['placement', 'reclaim'],
    onPressure: () => {
      throw new Error('pressure is not my problem');
    },
  }),
});

// Module state never reset: every policy made is different from the one before.
let policiesMade = 0;
const nonDeterministic = definePolicy({
  name: 'broken-non-deterministic',
  description: 'places by the parity of how many policies the module has made',
  knobs: {},
  build: () => {
    const parity = policiesMade++ % 2;
    return {
      supports: ['placement'],
      placePage: (ctx, page, hint) => ((page + parity) % 3 === 0 ? ctx.nodesByTier[ctx.nodesByTier.length - 1]! : hint.localNode),
    };
  },
});

const lazyPromoter = definePolicy({
  name: 'broken-lazy-promoter',
  description: "claims 'promotion' and 'demotion' but only ever places pages",
  knobs: {},
  build: () => ({ supports: ['placement', 'promotion', 'demotion'] }),
});

const misspeltHook = definePolicy({
  name: 'broken-misspelt-hook',
  description: 'has onPresure instead of onPressure',
  knobs: {},
  build: () => ({ supports: ['placement', 'reclaim'], onPresure: () => {} }) as never,
});

// ---- the tests ----

describe('the conformance kit fails broken policies and says what broke', () => {
  it('passes a sound policy (first-touch) in every case, through the same fake runner', async () => {
    const outcomes = await runKit(firstTouch);
    expect(outcomes.length).toBeGreaterThanOrEqual(9);
    expect(outcomes.filter((o) => o.error !== null)).toEqual([]);
  });

  it('fails a policy whose placePage returns a node the machine does not have', async () => {
    const outcomes = await runKit(badNode);
    const message = failureOf(outcomes, 'determinism');
    expect(message).toMatch(/broken-bad-node/);
    expect(message).toMatch(/made a decision the engine refuses in placePage/);
    expect(message).toMatch(/returned node 99: expected a node id 0\.\.1/);
    expect(failureOf(outcomes, 'pressure')).toMatch(/returned node 99/);
  });

  it('fails a policy that migrates a page after it was freed', async () => {
    const outcomes = await runKit(migratesFreed);
    const message = failureOf(outcomes, 'page-lifetime');
    expect(message).toMatch(/touches a freed or unknown page in onTick: \[broken-migrates-freed\.onTick\] (migrate|pageNode): page \d+ is not live: expected a live page id/);
    expect(message).toMatch(/stale-ids/);
  });

  it('fails a policy that uses Math.random, naming the call and the hook', async () => {
    const outcomes = await runKit(usesMathRandom);
    expect(failureOf(outcomes, 'clock')).toMatch(/calls Math\.random\(\) inside placePage \(\d+×\): time and randomness must come from the context/);
    expect(failureOf(outcomes, 'determinism')).toMatch(/not deterministic: two fresh runs on .* differ: metrics\.\w+: [\d.]+ ≠ [\d.]+/);
  });

  it('fails a policy that reads the wall clock', async () => {
    const outcomes = await runKit(usesDateNow);
    expect(failureOf(outcomes, 'clock')).toMatch(/calls Date\.now\(\) inside placePage/);
  });

  it('fails a policy whose instances share state, and only in the isolation case', async () => {
    const outcomes = await runKit(sharesState);
    expect(failureOf(outcomes, 'isolation')).toMatch(
      /two policies from one factory share state: .* run next to another instance .* differs from the same run alone: /,
    );
    expect(failureOf(outcomes, 'determinism')).toBeNull();
    expect(failureOf(outcomes, 'clock')).toBeNull();
  });

  it('fails a policy that throws in a hook, naming the hook and the error', async () => {
    const outcomes = await runKit(throwsInHook);
    expect(failureOf(outcomes, 'pressure')).toMatch(/a hook threw in onPressure: \[broken-throws-in-hook\.onPressure\] hook threw: pressure is not my problem \[pressure on tight-dram-pmem/);
    // Where memory is plentiful the hook is never called: those runs pass.
    expect(outcomes.find((o) => /^handles every event kind/.test(o.title))?.error).toBeNull();
  });

  it('fails a policy that is not deterministic from one run to the next', async () => {
    const outcomes = await runKit(nonDeterministic);
    expect(failureOf(outcomes, 'determinism')).toMatch(/not deterministic: two fresh runs on py_named_threads\.perf-script\.txt\.zst on dram-pmem \(seed 1\) differ: /);
    // The clock case cannot tell a clock apart from other non-determinism, and says so.
    expect(failureOf(outcomes, 'clock')).toMatch(/cannot judge on .*: two runs differ even with the clocks untouched \(see the determinism case\)/);
  });

  it('fails a policy that claims promotion and demotion but does neither', async () => {
    const outcomes = await runKit(lazyPromoter);
    const promotion = outcomes.find((o) => /^supports 'promotion'/.test(o.title))!.error;
    expect(promotion).toMatch(
      /supports 'promotion' but promoted no page on hot-slow-tier on dram-pmem \(seed 1\): in \d+ intervals of 100 ms the fast tier had at least \d+ pages free while the slow tier served \d+ accesses/,
    );
    const demotion = outcomes.find((o) => /^supports 'demotion'/.test(o.title))!.error;
    expect(demotion).toMatch(/supports 'demotion' but demoted no page on pressure on tight-dram-pmem \(seed 1\), where reclaim ran \d+ times/);
  });

  it('fails a policy with a misspelt hook', async () => {
    const outcomes = await runKit(misspeltHook);
    expect(failureOf(outcomes, 'shape')).toMatch(/unknown hook 'onPresure': spec v1 has init, placePage, .*onPressure/);
  });
});
