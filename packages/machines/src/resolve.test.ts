import type { MachineSpec, NodeSpec } from '@tierlab/memory-tier-api';
import { describe, expect, it } from 'vitest';
import { loadPreset } from './load.js';
import { resolveMachine } from './resolve.js';
import { computeWatermarks } from './watermarks.js';

const base = loadPreset('dram-pmem');
const dram = base.nodes[0] as NodeSpec;
const pmem = base.nodes[1] as NodeSpec;

function machine(nodes: NodeSpec[]): MachineSpec {
  return { ...base, nodes };
}

describe('resolveMachine', () => {
  it('resolves capacities, ids, tiers and the footprint', () => {
    const resolved = resolveMachine(base, 40_000);
    expect(resolved.pageSize).toBe(4096);
    expect(resolved.footprintPages).toBe(40_000);
    expect(resolved.nodes.map((node) => [node.id, node.name, node.capacityPages, node.capacityBytes, node.tier])).toEqual([
      [0, 'dram0', 10_000, 40_960_000, 0],
      [1, 'pmem0', 40_000, 163_840_000, 1],
    ]);
    expect(resolved.nodes.map((node) => node.inFallbackZonelist)).toEqual([true, true]);
  });

  it('shares min_free_kbytes between nodes as the kernel shares it between zones', () => {
    // 10000 + 40000 = 50000 managed pages = 200000 kB of lowmem
    // min_free_kbytes = int_sqrt(200000 * 16) = int_sqrt(3200000) = 1788 -> pages_min = 447
    // dram0: min = 447 * 10000 / 50000 = 89; gap = max(89 >> 2 = 22, 10000 * 10 / 10000 = 10) = 22
    // pmem0: min = 447 * 40000 / 50000 = 357; gap = max(357 >> 2 = 89, 40000 * 10 / 10000 = 40) = 89
    const [dramNode, pmemNode] = resolveMachine(base, 40_000).nodes;
    expect(dramNode?.watermarks).toEqual({ min: 89, low: 111, high: 133, promo: 155 });
    expect(pmemNode?.watermarks).toEqual({ min: 357, low: 446, high: 535, promo: 624 });
    expect(pmemNode?.watermarks).toEqual(computeWatermarks(40_000, { lowmemPages: 50_000 }));
  });

  it('passes watermark overrides through', () => {
    const [dramNode] = resolveMachine(base, 40_000, { minFreeKbytes: 4000, watermarkScaleFactor: 100 }).nodes;
    // pages_min = 1000; min = 1000 * 10000 / 50000 = 200; gap = max(50, 10000 * 100 / 10000 = 100) = 100
    expect(dramNode?.watermarks).toEqual({ min: 200, low: 300, high: 400, promo: 500 });
  });

  it('takes a node\'s watermarks as given (read off /proc/zoneinfo), promo defaulting to high + (low - min)', () => {
    const given = machine([{ ...dram, watermarks: { min: 336, low: 499, high: 662 } }, { ...pmem, watermarks: { min: 470, low: 699, high: 928, promo: 1200 } }]);
    const [dramNode, pmemNode] = resolveMachine(given, 40_000).nodes;
    expect(dramNode?.watermarks).toEqual({ min: 336, low: 499, high: 662, promo: 825 });
    expect(pmemNode?.watermarks).toEqual({ min: 470, low: 699, high: 928, promo: 1200 });
    expect(() => resolveMachine(machine([{ ...dram, watermarks: { min: 10, low: 5, high: 20 } }]), 40_000)).toThrow(/min <= low <= high/);
    expect(() => resolveMachine(machine([{ ...dram, watermarks: { min: 1, low: 2, high: 3, wmark: 4 } as never }]), 40_000)).toThrow(/wmark/);
  });

  it('puts nodes in the same 128-wide abstract distance chunk in one tier, fastest first', () => {
    const nodes: NodeSpec[] = [
      { ...pmem, name: 'slow', abstractDistance: 2880 },
      { ...dram, name: 'dram0', abstractDistance: 576 },
      { ...dram, name: 'dram1', hasCpus: false, abstractDistance: 600 }, // chunk 512..639, like DRAM
      { ...dram, name: 'hbm0', kind: 'hbm', hasCpus: false, abstractDistance: 400 }, // chunk 384..511: faster
      { ...pmem, name: 'slow2', abstractDistance: 2900 }, // chunk 2816..2943, like slow
      { ...pmem, name: 'slower', abstractDistance: 2944 },
    ];
    const resolved = resolveMachine(machine(nodes), 1000);
    expect(resolved.nodes.map((node) => [node.name, node.tier])).toEqual([
      ['slow', 2],
      ['dram0', 1],
      ['dram1', 1],
      ['hbm0', 0],
      ['slow2', 2],
      ['slower', 3],
    ]);
  });

  it('gives ZONE_DEVICE nodes no watermarks and keeps them out of the zonelists', () => {
    const device: NodeSpec = {
      ...pmem,
      name: 'gpu0',
      kind: 'device-private',
      cpuAccess: 'faults',
      persistent: false,
      capacity: '16GiB',
      abstractDistance: 5000,
    };
    delete (device as { inFallbackZonelist?: boolean }).inFallbackZonelist;
    const resolved = resolveMachine(machine([{ ...dram, capacity: '4GiB' }, device]), null);
    expect(resolved.nodes[1]).toMatchObject({ inFallbackZonelist: false, watermarks: { min: 0, low: 0, high: 0, promo: 0 } });
    // the DRAM node alone makes up lowmem: the 4 GiB figures
    expect(resolved.nodes[0]?.watermarks).toEqual({ min: 2048, low: 3096, high: 4144, promo: 5192 });
  });

  it('validates the description', () => {
    expect(() => resolveMachine(machine([]), 100)).toThrow(/nodes: expected a list of at least one node, got '\[\]'/);
    expect(() => resolveMachine(machine([dram, { ...pmem, name: 'dram0' }]), 100)).toThrow(/nodes\[1\]\.name: expected a name no other node has/);
    const { hasCpus: _dramCpus, ...dramUnsaid } = dram;
    const { hasCpus: _pmemCpus, ...pmemUnsaid } = pmem;
    expect(() => resolveMachine(machine([dramUnsaid, pmem]), 100)).toThrow(/no node has CPUs/);
    expect(() => resolveMachine(machine([{ ...dram, hasCpus: false }, pmemUnsaid]), 100)).toThrow(/no node has CPUs/);
    // explicitly none: every node says hasCpus: false
    expect(resolveMachine(machine([{ ...dram, hasCpus: false }, { ...pmem, hasCpus: false }]), 100).nodes).toHaveLength(2);
    expect(() => resolveMachine(machine([dram, { ...pmem, readBandwidthGBs: 0 }]), 100)).toThrow(
      /nodes\[1\]\.readBandwidthGBs: expected a positive number, got '0'/,
    );
    expect(() => resolveMachine(machine([dram, { ...pmem, cpuAccess: 'faults', hasCpus: true }]), 100)).toThrow(
      /nodes\[1\]\.hasCpus: expected false for a node the CPU cannot load from/,
    );
    expect(() => resolveMachine(machine([dram, pmem]), 0)).toThrow(
      /nodes\[0\]\.capacity \(the trace footprint is 0 pages\): expected a capacity of at least one page, got '"25%"'/,
    );
    expect(() => resolveMachine(machine([{ ...dram, capacity: 0 }, pmem]), 100)).toThrow(/nodes\[0\]\.capacity \(resolves to 0 pages\)/);
    expect(() => resolveMachine(base, -1)).toThrow(TypeError);
  });

  it('collects sources once each, machine first', () => {
    const resolved = resolveMachine(base, 100);
    expect(resolved.sources.slice(0, base.sources?.length)).toEqual(base.sources);
    expect(resolved.sources).toContain(dram.source);
    expect(resolved.sources).toContain(base.costs.source);
    expect(new Set(resolved.sources).size).toBe(resolved.sources.length);
  });
});
