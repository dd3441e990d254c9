import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type EngineResult } from '@tierlab/engine';
import { loadPreset, resolveMachine } from '@tierlab/machines';
import {
  AccessSource,
  EventFlag,
  EventKind,
  type MachineSpec,
  PageKind,
  type PageIdentity,
  type PolicyFactory,
  createEventBatch,
} from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces, golden } from '@tierlab/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { coherentNuma } from './index.js';

const PAGE = 4096;
const PID = 42;
const DRAM = 0;
const GPU = 1;

/** A scripted event stream for the engine (one batch), with the page identities the normalizer would give. */
function script() {
  const batch = createEventBatch(1 << 16);
  const identities = new Map<number, PageIdentity>();
  let t = 0;
  const row = (kind: number, page: number, flags: number, node = -1) => {
    const i = batch.length++;
    batch.kind[i] = kind;
    batch.time[i] = t;
    batch.page[i] = page;
    batch.nrPages[i] = 1;
    batch.flags[i] = flags;
    batch.pid[i] = PID;
    batch.count[i] = 1;
    batch.node[i] = node;
    t += 1000;
  };
  return {
    batch,
    identity: (page: number) => identities.get(page) ?? null,
    /** mm_page_alloc and its first-touch fault; `bound`: the node an mbind(MPOL_BIND) names, -1 for none. */
    alloc(page: number, bound = -1, vpn = 0x10000 + page) {
      identities.set(page, { kind: PageKind.anon, pid: PID, pfn: page, vpn });
      row(EventKind.alloc, page, PageKind.anon | EventFlag.write, bound);
      row(EventKind.access, page, PageKind.anon | EventFlag.write | (AccessSource.fault << EventFlag.sourceShift));
    },
    device(page: number) {
      row(EventKind.access, page, PageKind.anon | (AccessSource.device << EventFlag.sourceShift), GPU);
    },
    cpu(page: number) {
      row(EventKind.access, page, PageKind.anon | (AccessSource.sample << EventFlag.sourceShift));
    },
    free(page: number) {
      row(EventKind.free, page, 0);
      identities.delete(page);
    },
  };
}

/** A copy of dram-coherent-gpu with other capacities or zonelist membership. */
function variant(dram: number | string, gpu: number | string, inFallbackZonelist = false): MachineSpec {
  const spec = loadPreset('dram-coherent-gpu');
  return {
    ...spec,
    name: `dram-coherent-gpu-variant`,
    nodes: spec.nodes.map((n) => (n.name === 'gpu0' ? { ...n, capacity: gpu, inFallbackZonelist } : { ...n, capacity: dram })),
  };
}

function run(s: ReturnType<typeof script>, options: Record<string, unknown> = {}, spec: MachineSpec = loadPreset('dram-coherent-gpu'), footprint = 4096): EngineResult {
  const machine = resolveMachine(spec, footprint);
  const engine = new Engine({ machine, policy: coherentNuma(options), seed: 1, identity: s.identity });
  engine.push(s.batch);
  expect(engine.verify()).toEqual([]);
  const result = engine.finish();
  expect(result.accessesToDeadPages).toBe(0);
  return result;
}

const c = (r: EngineResult, name: string) => r.counters[`coherent-numa.${name}`];

describe('coherent-numa on scripted streams (dram-coherent-gpu: gpu0 is outside the fallback zonelists)', () => {
  it('puts only mbind-bound pages on the device node, even when DRAM is short (reclaim instead of spilling)', () => {
    // DRAM: 256 pages; 600 unbound pages and 40 bound ones.
    const s = script();
    for (let p = 0; p < 600; p++) s.alloc(p);
    for (let p = 600; p < 640; p++) s.alloc(p, GPU);
    const result = run(s, {}, variant(256 * PAGE, 1024 * PAGE));
    expect(result.metrics.implicitDeviceAllocations).toBe(0);
    expect(result.nodes[GPU]!.allocatedPages).toBe(40);
    expect(c(result, 'device_node_allocations')).toBe(40);
    expect(result.metrics.pgsteal).toBeGreaterThan(0);
    expect(result.metrics.pgdemoteKswapd + result.metrics.pgdemoteDirect).toBe(0);
    // CPU touches of the bound pages (their first-touch faults) cross the coherent link.
    expect(result.metrics.cpuAccessesToDevice).toBe(40);
    expect(result.metrics.cpuAccessToDeviceCostNs).toBe(40 * 900);
  });

  it('lets the driver migrate a region once its device-access counter reaches the threshold', () => {
    // 8 pages in two 16 KiB regions (4 pages each); threshold 6: the 6th device access in region 0 notifies.
    const s = script();
    for (let p = 0; p < 8; p++) s.alloc(p);
    for (let round = 0; round < 2; round++) for (let p = 0; p < 4; p++) s.device(p);
    s.device(4);
    s.cpu(0);
    const options = { accessCounterThreshold: 6, accessCounterGranularityKb: 16 };
    const result = run(s, options);
    expect(c(result, 'access_counter_notifications')).toBe(1);
    expect(c(result, 'driver_migrated_pages')).toBe(4);
    expect(result.metrics.migratedBytesToDevice).toBe(4 * PAGE);
    expect(result.nodes[GPU]!.finalUsedPages).toBe(4);
    // 5 remote accesses, the 6th migrates its region first, then 2 local; page 4's region stays at 1.
    expect(result.metrics.deviceAccesses).toBe(9);
    expect(result.metrics.deviceLocalAccessShare).toBeCloseTo(3 / 9, 12);
    // The CPU reaches the migrated page over the link; nothing faults (coherent memory).
    expect(result.metrics.cpuAccessesToDevice).toBe(1);
    expect(result.metrics.devicePrivateFaults).toBe(0);
    expect(result.metrics.implicitDeviceAllocations).toBe(0);

    const off = run(s, { ...options, driverMigration: false });
    expect(off.metrics.migratedBytesToDevice).toBe(0);
    expect(off.metrics.deviceLocalAccessShare).toBe(0);
  });

  it('forgets a region with its pages: frees drop the count', () => {
    const s = script();
    for (let p = 0; p < 4; p++) s.alloc(p);
    for (let p = 0; p < 4; p++) s.device(p);
    for (let p = 0; p < 4; p++) s.free(p);
    for (let p = 4; p < 8; p++) s.alloc(p, -1, 0x10000 + p - 4);
    for (let p = 4; p < 8; p++) s.device(p);
    const result = run(s, { accessCounterThreshold: 6, accessCounterGranularityKb: 16 });
    expect(c(result, 'access_counter_notifications')).toBe(0);
    expect(result.metrics.migratedBytesToDevice).toBe(0);
  });

  it('leaves the device node to explicit placement under pressure: onPressure reclaims nothing there', () => {
    // gpu0 holds 8 pages; 9 pages are bound to it. The policy gives reclaim nothing; only the engine's last resort evicts.
    const s = script();
    for (let p = 0; p < 9; p++) s.alloc(p, GPU);
    const isolated = run(s, {}, variant('100%', 8 * PAGE));
    expect(c(isolated, 'kswapd_skipped_pages')).toBeGreaterThan(0);
    expect(isolated.warnings['engine.oom_avoided']?.count).toBe(1);
    const reclaimed = run(s, { kswapdOnDevice: true }, variant('100%', 8 * PAGE));
    expect(c(reclaimed, 'kswapd_skipped_pages')).toBe(0);
    expect(reclaimed.warnings['engine.oom_avoided']).toBeUndefined();
    expect(reclaimed.metrics.pgsteal).toBeGreaterThan(0);
  });

  it('warns when the machine keeps a device-coherent node in the fallback zonelists', () => {
    const s = script();
    s.alloc(0);
    const result = run(s, {}, variant('100%', '100%', true));
    expect(result.warnings['coherent-numa.device_node_in_zonelist']?.count).toBe(1);
    expect(run(s).warnings).toEqual({});
  });

  it('refuses knob values outside their range, naming the knob', () => {
    expect(() => coherentNuma({ accessCounterThreshold: 0 })).toThrow(/accessCounterThreshold/);
    expect(() => coherentNuma({ accessCounterGranularityKb: 6 })).toThrow(/accessCounterGranularityKb/);
    expect(() => coherentNuma({ threshold: 4 } as never)).toThrow(/unknown knob 'threshold'/);
  });
});

function goldenOf(result: ReplayResult) {
  return {
    trace: { file: result.trace.file, sha256: result.trace.sha256, records: result.trace.records },
    machine: result.machine.name,
    overlay: result.overlay,
    footprintPages: result.footprint.peakLivePages,
    overlayBoundPages: result.normalizer.overlayBoundPages,
    overlayDeviceAccesses: result.normalizer.overlayDeviceAccesses,
    policies: Object.fromEntries(
      result.policies.map((p) => [p.policy, { error: p.error ?? null, metrics: p.metrics, counters: p.counters, nodes: p.nodes, warnings: p.warnings }]),
    ),
  };
}

const trace = join(bundledTraces(), 'py_named_threads.perf-script.txt.zst');
const overlay = join(bundledTraces(), 'overlays', 'py-gpu-coherent.yaml');
const both = [{ factory: firstTouch as unknown as PolicyFactory }, { factory: coherentNuma }];

describe('coherent-numa on the bundled real capture py_named_threads (perf script) with the py-gpu-coherent overlay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tierlab-coherent-numa-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches the pinned counters on dram-coherent-gpu', async () => {
    const result = await replay({ trace, machine: 'dram-coherent-gpu', overlay, policies: both, seed: 1 });
    const fixture = join(import.meta.dirname, '__fixtures__', 'golden-py_named_threads-dram-coherent-gpu.json');
    const actual = goldenOf(result);
    expect(actual).toEqual(golden(fixture, actual));

    const ft = result.policies[0]!.metrics!;
    const cdm = result.policies[1]!.metrics!;
    expect(cdm.accesses).toBe(ft.accesses);
    expect(cdm.implicitDeviceAllocations).toBe(0);
    // Every page on the device node got there by mbind or by the driver's migration.
    expect(result.policies[1]!.nodes![GPU]!.allocatedPages).toBe(result.normalizer.overlayBoundPages);
    expect(cdm.migratedBytesToDevice).toBe(result.policies[1]!.counters!['coherent-numa.driver_migrated_pages']! * PAGE);
    expect(cdm.deviceLocalAccessShare).toBeGreaterThan(ft.deviceLocalAccessShare);
    expect(cdm.cpuAccessesToDevice).toBeGreaterThanOrEqual(ft.cpuAccessesToDevice);
  });

  it('N_COHERENT_MEMORY keeps implicit allocations off the device node; as an ordinary NUMA node it takes many', async () => {
    // DRAM at half the footprint. Machine files written here: gpu0 outside the zonelists (N_COHERENT_MEMORY), and inside (a plain NUMA node).
    const cdmFile = join(dir, 'dram-coherent-gpu-half-dram.json');
    const numaFile = join(dir, 'dram-gpu-numa-half-dram.json');
    writeFileSync(cdmFile, JSON.stringify({ ...variant('50%', '100%', false), name: 'dram-coherent-gpu-half-dram' }));
    writeFileSync(numaFile, JSON.stringify({ ...variant('50%', '100%', true), name: 'dram-gpu-numa-half-dram' }));
    const cdm = await replay({ trace, machine: cdmFile, overlay, policies: [{ factory: coherentNuma }], seed: 1 });
    const numa = await replay({ trace, machine: numaFile, overlay, policies: both, seed: 1 });

    const isolated = cdm.policies[0]!;
    expect(isolated.error).toBeUndefined();
    expect(isolated.metrics!.implicitDeviceAllocations).toBe(0);
    expect(isolated.nodes![GPU]!.allocatedPages).toBe(cdm.normalizer.overlayBoundPages);
    // DRAM is short: the kernel reclaims rather than spill onto device memory.
    expect(isolated.metrics!.pgsteal).toBeGreaterThan(0);
    expect(isolated.nodes![DRAM]!.peakUsedPages).toBeLessThanOrEqual(isolated.nodes![DRAM]!.capacityPages);

    const spilled = numa.policies[0]!;
    expect(spilled.policy).toBe('first-touch');
    expect(spilled.metrics!.implicitDeviceAllocations).toBeGreaterThan(1000);
    expect(spilled.metrics!.allocFallback).toBeGreaterThan(1000);
    // The policy cannot undo the zonelist: on this machine it says so.
    expect(numa.policies[1]!.warnings!['coherent-numa.device_node_in_zonelist']?.count).toBe(1);
  });
});
