import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listPresets, loadPreset } from './load.js';
import { memtierAdistanceDram, memtierDefaultDaxAdistance, perfToAbstractDistance } from './memory-tiers.js';
import { resolveMachine } from './resolve.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { files: string[] };

describe('presets', () => {
  it('ships dram-pmem, dram-cxl and dram-only in the package', () => {
    expect(listPresets()).toEqual(['dram-coherent-gpu', 'dram-cxl', 'dram-gpu', 'dram-only', 'dram-pmem']);
    expect(packageJson.files).toContain('presets');
  });

  for (const name of ['dram-pmem', 'dram-cxl', 'dram-only', 'dram-gpu', 'dram-coherent-gpu']) {
    it(`${name} loads, is named after its file, cites every figure and resolves`, () => {
      const spec = loadPreset(name);
      expect(spec.name).toBe(name);
      expect(spec.sources?.length).toBeGreaterThan(0);
      expect(spec.costs.source).toMatch(/HeMem memsim\/shared\.h at commit dbdfce8c/);
      for (const node of spec.nodes) {
        // every figure of a node is named in its source, with where it comes from
        for (const field of ['readLatencyNs', 'writeLatencyNs', 'readBandwidthGBs', 'writeBandwidthGBs', 'abstractDistance', 'capacity']) {
          expect(node.source, `${name}.${node.name}.${field}`).toContain(field);
        }
      }
      const machine = resolveMachine(spec, 1_048_576);
      expect(machine.nodes.map((node) => node.id)).toEqual(spec.nodes.map((_, index) => index));
      expect(machine.nodes.filter((node) => node.hasCpus).map((node) => node.kind)).toEqual(['dram']);
      expect(machine.sources.length).toBeGreaterThanOrEqual(spec.sources?.length ?? 0);
      for (const node of machine.nodes) {
        expect(node.capacityPages).toBeGreaterThan(0);
        // Device memory has no zone watermarks (no kswapd).
        if (node.kind.startsWith('device')) continue;
        expect(node.watermarks.min).toBeLessThan(node.watermarks.low);
        expect(node.watermarks.promo).toBeLessThan(node.capacityPages);
      }
    });
  }

  it('dram-pmem: DRAM a quarter of the footprint, PMem all of it, PMem a lower tier', () => {
    const machine = resolveMachine(loadPreset('dram-pmem'), 1_000_000);
    const [dram, pmem] = machine.nodes;
    expect(dram).toMatchObject({ name: 'dram0', kind: 'dram', capacityPages: 250_000, tier: 0, hasCpus: true, abstractDistance: 576 });
    expect(pmem).toMatchObject({
      name: 'pmem0',
      kind: 'pmem',
      capacityPages: 1_000_000,
      tier: 1,
      hasCpus: false,
      persistent: true,
      abstractDistance: memtierDefaultDaxAdistance,
    });
    // Izraelevitz et al. 2019: random loads 305 ns on Optane DC, about 3x DRAM's
    expect(pmem?.readLatencyNs).toBe(305);
    expect((pmem?.readLatencyNs ?? 0) / (dram?.readLatencyNs ?? 1)).toBeCloseTo(3, 0);
    expect([pmem?.readBandwidthGBs, pmem?.writeBandwidthGBs]).toEqual([39.4, 13.9]);
    expect(machine.costs).toMatchObject({ pageFaultNs: 2000, tlbShootdownNs: 4000, migrationFixedNs: 1000 });
  });

  it('dram-pmem: with HMAT data the kernel would put PMem at about 4100, still the second tier', () => {
    const [dram, pmem] = loadPreset('dram-pmem').nodes;
    if (dram === undefined || pmem === undefined) throw new Error('dram-pmem has two nodes');
    // 576 * (305 + 90) / (102 + 87) = 1203; 1203 * (105600 + 76800) / (39400 + 13900) = 4116
    expect(perfToAbstractDistance(pmem, dram)).toBe(4116);
    expect(resolveMachine({ ...loadPreset('dram-pmem'), nodes: [dram, { ...pmem, abstractDistance: 4116 }] }, 100).nodes[1]?.tier).toBe(1);
  });

  it('dram-cxl: CXL 70..90 ns over DRAM (Pond) and an abstract distance the kernel would compute', () => {
    const spec = loadPreset('dram-cxl');
    const [dram, cxl] = spec.nodes;
    if (dram === undefined || cxl === undefined) throw new Error('dram-cxl has two nodes');
    const extra = cxl.readLatencyNs - dram.readLatencyNs;
    expect(extra).toBeGreaterThanOrEqual(70);
    expect(extra).toBeLessThanOrEqual(90);
    expect(dram.abstractDistance).toBe(memtierAdistanceDram);
    // 576 * (158 + 158) / (78 + 78) = 1166; 1166 * (307200 + 307200) / (36000 + 36000) = 9949
    expect(perfToAbstractDistance(cxl, dram)).toBe(9949);
    expect(cxl.abstractDistance).toBe(perfToAbstractDistance(cxl, dram));
    expect(resolveMachine(spec, 4096).nodes.map((node) => node.tier)).toEqual([0, 1]);
  });

  it('dram-only: one DRAM node holding the whole footprint', () => {
    const machine = resolveMachine(loadPreset('dram-only'), 4096);
    expect(machine.nodes).toHaveLength(1);
    expect(machine.nodes[0]).toMatchObject({ capacityPages: 4096, tier: 0, hasCpus: true });
    // the same DRAM figures as dram-pmem, so the two compare like for like
    const pmemDram = loadPreset('dram-pmem').nodes[0];
    expect(machine.nodes[0]?.readLatencyNs).toBe(pmemDram?.readLatencyNs);
    expect(machine.nodes[0]?.readBandwidthGBs).toBe(pmemDram?.readBandwidthGBs);
  });

  it('needs a footprint for the shares the presets are written in', () => {
    expect(() => resolveMachine(loadPreset('dram-pmem'), null)).toThrow(/nodes\[0\]\.capacity .*needs the trace/);
  });
});
