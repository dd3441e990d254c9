/**
 * Memory tiering against a real kernel: the fixtures under traces/fidelity/
 * (QEMU lab runs of a Debian 6.1 kernel with an NVDIMM onlined by dax/kmem,
 * demotion_enabled=1, numa_balancing=2; scripts/fidelity/capture.sh) replayed
 * through kmem-tiering on a machine read off the guest, every counter against
 * the band in the fixture's manifest.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@tierlab/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { type FixtureResult, formatFixtureResult, listFixtures, readFixture, runFixture } from './suite.js';
import { foldSweeps, guestKnobs, guestMachine, parseZoneinfo, readTieringRun, readWorkloadLog, taskClockOf } from './tiering.js';

const root = join(repoRoot(), 'traces', 'fidelity');
const tiering = listFixtures(root).filter((f) => f.kind === 'tiering');

describe('the tiering fixtures', () => {
  it('are there, with their manifests and bands', () => {
    expect(tiering.map((f) => f.name)).toEqual(expect.arrayContaining(['tier-hot128', 'tier-shift']));
    for (const f of tiering) {
      for (const c of ['pgpromote_success', 'pgpromote_candidate', 'pgdemote_kswapd', 'numa_hint_faults']) expect(f.bands[c], `${f.name} ${c}`).toBeDefined();
      expect(String(f.manifest.kernel)).toMatch(/6\.1\.\d+/);
      expect(String(f.manifest.memoryTiers)).toMatch(/memory_tier\d+ 1;memory_tier4 0;|memory_tier4 0;memory_tier\d+ 1;/);
    }
  });
});

describe.each(tiering.map((f) => [f.name, f] as const))('%s: kmem-tiering against the kernel', (_name, fixture) => {
  let result: FixtureResult;
  beforeAll(async () => {
    result = await runFixture(fixture);
    process.stdout.write(`${formatFixtureResult(result)}\n`);
  }, 240_000);

  it('every prediction within its band', () => {
    const out = result.rows.filter((r) => !r.ok).map((r) => `${r.name}: kernel ${r.real}, model ${r.model} (${(r.error * 100).toFixed(1)}%, band ${JSON.stringify(r.band)})`);
    expect(out).toEqual([]);
  });

  it('compares the kernel counters the manifest recorded', () => {
    const vmstat = fixture.manifest.vmstat as Record<string, number>;
    for (const r of result.rows) expect(r.real, r.name).toBe(vmstat[r.name]);
    // The kernel promoted and demoted: the run exercised both mechanisms.
    expect(vmstat.pgpromote_success).toBeGreaterThan(1000);
    expect(vmstat.pgdemote_kswapd).toBeGreaterThan(1000);
  });
});

describe('reading a lab run', () => {
  const dir = join(root, 'tier-hot128');
  const has = existsSync(join(dir, 'fixture.json'));

  it.runIf(has)('reads the guest: two nodes, node 1 all ZONE_MOVABLE, watermarks with the DMA zone protection', () => {
    const run = readTieringRun(dir);
    const zones = parseZoneinfo(readFileSync(join(dir, 'zoneinfo.before'), 'utf8'));
    const dma = zones.find((z) => z.node === 0 && z.zone === 'DMA')!;
    const dma32 = zones.find((z) => z.node === 0 && z.zone === 'DMA32')!;
    expect(dma.protectionMovable).toBeGreaterThan(0);
    const machine = guestMachine(run);
    expect(machine.nodes.map((n) => [n.kind, n.hasCpus, n.movableOnly])).toEqual([
      ['dram', true, false],
      ['pmem', false, true],
    ]);
    expect(machine.nodes[0]!.capacity).toBe((dma.free + dma32.free) * 4096);
    expect(machine.nodes[0]!.watermarks!.low).toBe(dma.low + dma.protectionMovable + dma32.low);
    expect(guestKnobs(run)).toMatchObject({ numaBalancing: 2, demotionEnabled: true, hotThresholdMs: 1000, scanSizeMb: 256 });
  });

  it.runIf(has)('reads the workload log: sweeps inside the loop, CPU time growing only while it runs', async () => {
    const run = readTieringRun(dir);
    const log = await readWorkloadLog(run.trace, run.pid);
    expect(log.sweeps.length).toBeGreaterThan(100);
    const hot = Number(run.params.HOT_MB) * 256;
    for (const sw of log.sweeps) {
      expect(sw.pages).toBe(hot);
      expect(sw.endNs).toBeGreaterThanOrEqual(sw.startNs);
    }
    expect(log.kswapd.demotedPages).toBeGreaterThan(0);
    expect(log.kswapd.awakeNs).toBeGreaterThan(0);
    const clock = taskClockOf(log, run.pid);
    const first = log.busy[0]!;
    expect(clock(run.pid, first[0] - 1e9)).toBe(0);
    expect(clock(run.pid, first[1])).toBeCloseTo(first[1] - first[0], -3);
    expect(clock(run.pid + 1, 123)).toBe(123);
    // Folding keeps the first sweep, and at most one per 100 ms of each range besides the slow ones.
    const folded = foldSweeps(log.sweeps, 100e6);
    expect(folded[0]).toEqual(log.sweeps[0]);
    expect(folded.length).toBeLessThan(log.sweeps.length);
  });

  it('refuses a directory that is not a lab run, naming the missing file', () => {
    expect(() => readTieringRun(join(repoRoot(), 'traces'))).toThrow(/no trace\.tracefs\.txt/);
    expect(() => readFixture(join(repoRoot(), 'traces'))).toThrow(/fixture\.json/);
  });
});
