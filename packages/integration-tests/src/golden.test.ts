/**
 * Golden counters: every policy's totals and counters on one real capture,
 * pinned exactly (as libCacheSim pins miss counts per algorithm). A change
 * here is a change in what tierlab reports: update deliberately with
 *   UPDATE_GOLDEN=1 npx pnpm@10 test
 * and say why in the commit.
 */
import { join } from 'node:path';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import { firstTouch } from '@tierlab/policy-first-touch';
import type { PolicyFactory } from '@tierlab/memory-tier-api';
import { replay } from '@tierlab/replay';
import { bundledTraces, golden } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';

const fixture = join(import.meta.dirname, '__fixtures__', 'golden-sqlite_orders-dram-pmem.json');

describe('golden counters on sqlite_orders (perf script, system-wide, memcg reclaim), machine dram-pmem', () => {
  it('matches the pinned totals and counters of every policy', async () => {
    const result = await replay({
      trace: join(bundledTraces(), 'sqlite_orders.perf-script.txt.zst'),
      machine: 'dram-pmem',
      policies: [{ factory: firstTouch as unknown as PolicyFactory }, { factory: kmemTiering }],
      seed: 1,
    });
    const actual = {
      trace: { sha256: result.trace.sha256, records: result.trace.records },
      footprintPages: result.footprint.peakLivePages,
      normalizer: result.normalizer,
      policies: Object.fromEntries(
        result.policies.map((p) => [p.policy, { error: p.error ?? null, metrics: p.metrics, counters: p.counters, nodes: p.nodes }]),
      ),
    };
    expect(actual).toEqual(golden(fixture, actual));
    // Relations that must hold whatever the numbers are.
    const ft = result.policies[0]!.metrics!;
    const kt = result.policies[1]!.metrics!;
    expect(ft.accesses).toBe(kt.accesses);
    expect(ft.pgmigrateSuccess).toBe(0);
    expect(kt.pgpromoteSuccess + kt.pgdemoteKswapd + kt.pgdemoteDirect).toBe(kt.pgmigrateSuccess);
  });
});
