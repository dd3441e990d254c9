/**
 * The reclaim fixtures under traces/fidelity/ (memcg captures: the kernel's
 * reclaim against the engine's model), each row against its band; and for a
 * capture that measured its cgroup's kernel memory
 * (scripts/fidelity/capture-reclaim.sh), "unaccounted" is what the samples give.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@tierlab/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { type FixtureResult, formatFixtureResult, listFixtures, runFixture } from './suite.js';

const root = join(repoRoot(), 'traces', 'fidelity');
const reclaim = listFixtures(root).filter((f) => f.kind === 'reclaim');
const MiB = 2 ** 20;

/**
 * capture-reclaim.sh's rule: the median memory.kmem.usage_in_bytes over the
 * samples where memory.usage_in_bytes was within 1 MiB of the limit, in bytes.
 */
function kmemAtLimit(samplesTsv: string, limitBytes: number): { median: number; samples: number } {
  const atLimit = samplesTsv
    .trim()
    .split('\n')
    .map((line) => line.split('\t').map(Number))
    .filter((s) => (s[2] ?? 0) >= limitBytes - MiB)
    .map((s) => s[3] ?? 0)
    .sort((a, b) => a - b);
  const n = atLimit.length;
  const median = n % 2 ? atLimit[(n - 1) / 2]! : (atLimit[n / 2 - 1]! + atLimit[n / 2]!) / 2;
  return { median, samples: n };
}

describe('the reclaim fixtures', () => {
  it('are there, with pid, limit and bands', () => {
    expect(reclaim.map((f) => f.name)).toEqual(expect.arrayContaining(['reclaim-sqlite', 'reclaim-sqlite-kmem']));
    for (const f of reclaim) {
      expect(Number(f.manifest.pid), f.name).toBeGreaterThan(0);
      for (const b of ['evictions', 'refaults', 'victim_overlap']) expect(f.bands[b], `${f.name} ${b}`).toBeDefined();
    }
  });
});

describe.each(reclaim.map((f) => [f.name, f] as const))('%s: the reclaim model against the kernel', (_name, fixture) => {
  let result: FixtureResult;
  beforeAll(async () => {
    result = await runFixture(fixture);
    process.stdout.write(`${formatFixtureResult(result)}\n`);
  }, 240_000);

  it('every row within its band', () => {
    const out = result.rows.filter((r) => !r.ok).map((r) => `${r.name}: kernel ${r.real}, model ${r.model} (${(r.error * 100).toFixed(1)}%, band ${JSON.stringify(r.band)})`);
    expect(out).toEqual([]);
  });
});

describe.each(reclaim.filter((f) => f.manifest.kmem !== undefined).map((f) => [f.name, f] as const))('%s: the measured unaccounted charge', (_name, fixture) => {
  const samplesFile = join(fixture.dir, 'kmem-samples.tsv');

  it('is the median kmem charge at the limit, as the samples give it', () => {
    expect(existsSync(samplesFile)).toBe(true);
    const counters = Object.fromEntries(
      readFileSync(join(fixture.dir, 'memcg.counters'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    const limitBytes = Number(counters['memory.limit_in_bytes']);
    expect(limitBytes).toBe(48 * MiB);
    const kmem = fixture.manifest.kmem as Record<string, number>;
    const { median, samples } = kmemAtLimit(readFileSync(samplesFile, 'utf8'), limitBytes);
    expect(samples).toBeGreaterThan(10);
    expect(kmem.samplesAtLimit).toBe(samples);
    expect(kmem.atLimitMedianBytes).toBe(median);
    expect(fixture.manifest.unaccounted).toBe(`${Math.round(median / 1024)}KiB`);
    // The peak is no smaller than any sample, and the cgroup did reach its limit.
    expect(kmem.maxUsageBytes).toBe(Number(counters['memory.kmem.max_usage_in_bytes']));
    expect(kmem.maxUsageBytes).toBeGreaterThanOrEqual(median);
    expect(Number(counters['memory.max_usage_in_bytes'])).toBe(limitBytes);
  });
});
