import type { MachineSpec, NodeKind, ResolvedMachine, ResolvedNode, Watermarks } from '@tierlab/memory-tier-api';
import { PAGE_SIZE } from '@tierlab/memory-tier-api';
import { resolveCapacity } from './capacity.js';
import { invalidField } from './errors.js';
import { memoryTierStart } from './memory-tiers.js';
import { validateMachineSpec } from './validate.js';
import { type WatermarkOptions, computeWatermarks } from './watermarks.js';

/** Watermark knobs applied to every node (vm.min_free_kbytes, vm.watermark_scale_factor). */
export type ResolveOptions = Omit<WatermarkOptions, 'lowmemPages'>;

/** ZONE_DEVICE memory: outside the buddy allocator, so no watermarks and no share of min_free_kbytes. */
const zoneDeviceKinds: readonly NodeKind[] = ['device-private', 'device-coherent'];
const noWatermarks: Watermarks = { min: 0, low: 0, high: 0, promo: 0 };

/**
 * The machine an engine runs. Checks the description (every field, at least one node, unique
 * names, a node with CPUs unless every node says `hasCpus: false`), resolves capacities to base
 * pages against the trace's footprint, numbers nodes in order, assigns memory tiers from the
 * abstract distance (nodes in the same 128-wide chunk share a tier; tier 0 is the fastest),
 * computes each node's watermarks and gathers the sources.
 *
 * Watermarks follow mm/page_alloc.c with every buddy-managed node as one ZONE_NORMAL zone:
 * min_free_kbytes from the pages of all of them, shared out by node size
 * (__setup_per_zone_wmarks). device-private and device-coherent nodes get none.
 */
export function resolveMachine(
  spec: MachineSpec,
  footprintPages: number | null,
  options: ResolveOptions = {},
): ResolvedMachine {
  if (footprintPages !== null && !(Number.isSafeInteger(footprintPages) && footprintPages >= 0)) {
    throw new TypeError(`footprintPages must be null or a non-negative integer, got ${String(footprintPages)}`);
  }
  const machine = validateMachineSpec(spec);
  const capacities = machine.nodes.map((node, index) => {
    const path = ['nodes', index, 'capacity'];
    const pages = resolveCapacity(node.capacity, footprintPages, path);
    if (pages === 0) {
      throw invalidField({}, path, 'a capacity of at least one page', node.capacity, {
        note: footprintPages === 0 ? 'the trace footprint is 0 pages' : 'resolves to 0 pages',
      });
    }
    return pages;
  });

  const tierStarts = [...new Set(machine.nodes.map((node) => memoryTierStart(node.abstractDistance)))].sort((a, b) => a - b);
  const managed = machine.nodes.map((node, index) => (zoneDeviceKinds.includes(node.kind) ? 0 : (capacities[index] ?? 0)));
  const lowmemPages = managed.reduce((sum, pages) => sum + pages, 0);

  const nodes = machine.nodes.map((node, index): ResolvedNode => {
    const capacityPages = capacities[index] ?? 0;
    const managedPages = managed[index] ?? 0;
    return {
      ...node,
      hasCpus: node.hasCpus ?? false,
      inFallbackZonelist: node.inFallbackZonelist ?? !zoneDeviceKinds.includes(node.kind),
      id: index,
      capacityPages,
      capacityBytes: capacityPages * PAGE_SIZE,
      tier: tierStarts.indexOf(memoryTierStart(node.abstractDistance)),
      watermarks:
        node.watermarks !== undefined
          ? { ...node.watermarks, promo: node.watermarks.promo ?? node.watermarks.high + (node.watermarks.low - node.watermarks.min) }
          : managedPages === 0
            ? noWatermarks
            : computeWatermarks(managedPages, { ...options, lowmemPages }),
    };
  });

  const sources: string[] = [];
  const addSource = (source: string | undefined) => {
    if (source !== undefined && !sources.includes(source)) sources.push(source);
  };
  machine.sources?.forEach(addSource);
  for (const node of machine.nodes) addSource(node.source);
  addSource(machine.costs.source);

  return {
    name: machine.name,
    ...(machine.description !== undefined ? { description: machine.description } : {}),
    nodes,
    costs: machine.costs,
    sources,
    pageSize: PAGE_SIZE,
    footprintPages,
  };
}
