import { loadMachine } from '@tierlab/machines';
import type { MachineSpec, NodeSpec } from '@tierlab/memory-tier-api';

/** The machines the general cases run on unless told otherwise. */
export const defaultMachines: readonly string[] = ['dram-pmem', 'dram-cxl'];

export function toMachineSpec(machine: string | MachineSpec): MachineSpec {
  return typeof machine === 'string' ? loadMachine(machine) : machine;
}

function withCapacities(base: MachineSpec, name: string, capacities: readonly string[]): MachineSpec {
  return {
    ...base,
    name,
    description: `${base.name} with capacities ${capacities.join(' / ')} of the footprint (tierlab policy-testkit)`,
    nodes: base.nodes.map((node, i) => ({ ...node, capacity: capacities[i] ?? node.capacity })),
  };
}

/** dram-pmem, the fast and the slow tier together holding a third of the footprint: reclaim runs all the time. */
export function tightMachine(): MachineSpec {
  return withCapacities(loadMachine('dram-pmem'), 'tight-dram-pmem', ['8%', '25%']);
}

/** dram-pmem as shipped (DRAM 25%, PMem 100% of the footprint): the machine of the promotion cases. */
export function tieredMachine(): MachineSpec {
  return loadMachine('dram-pmem');
}

/**
 * dram-pmem plus device-private memory (ZONE_DEVICE: every CPU access
 * faults, never in a zonelist), for policies that model device memory.
 */
export function deviceMachine(): MachineSpec {
  const base = loadMachine('dram-pmem');
  const device: NodeSpec = {
    name: 'gpu0',
    kind: 'device-private',
    capacity: '50%',
    readLatencyNs: 600,
    writeLatencyNs: 600,
    readBandwidthGBs: 25,
    writeBandwidthGBs: 25,
    persistent: false,
    cpuAccess: 'faults',
    structPages: true,
    abstractDistance: 4000,
    hasCpus: false,
    inFallbackZonelist: false,
    source:
      'illustrative figures for a device reached over PCIe 4.0 x16 (~25 GB/s each way); tierlab policy-testkit uses it only to exercise device-memory policies',
  };
  return { ...base, name: 'dram-pmem-device', nodes: [...base.nodes, device] };
}
