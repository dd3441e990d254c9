/**
 * coherent-numa: coherent device memory (CDM) as a NUMA node kept outside
 * N_MEMORY (N_COHERENT_MEMORY), as argued on linux-mm by Anshuman Khandual
 * ("[RFC] Define coherent device memory node", 2016-2017) and Balbir Singh
 * ("Coherent Device Memory (Not for inclusion)", 2017). The CPU reaches the
 * device's memory with ordinary loads and stores over a coherent link
 * (NVLink 2.0, CAPI), but the node is isolated:
 *
 * - No implicit allocation lands there: the node is in no other node's
 *   fallback zonelist (the machine says so with `inFallbackZonelist: false`),
 *   and `placePage` never names it. Only an explicit memory policy
 *   (mbind(MPOL_BIND), from a workload overlay; the engine obeys it) puts
 *   pages there.
 * - kswapd leaves the node alone: `onPressure` for it does nothing.
 * - NUMA balancing (autonuma) does not move pages in or out: the policy asks
 *   for no hint faults.
 * - Misplaced pages are moved by the device driver, explicitly: unbound pages
 *   in system memory that the device keeps accessing are migrated to the
 *   device node. The trigger follows the driver that runs on this hardware
 *   (NVIDIA UVM's access counters, on by default on POWER9 with ATS): a
 *   counter per region of memory counts the device's remote accesses; at the
 *   threshold the driver is notified and migrates the region.
 */

import {
  ErrorCode,
  type NodeId,
  PageKind,
  type PageRef,
  type PolicyContext,
  type PolicyFactory,
  TierlabError,
  definePolicy,
} from '@tierlab/memory-tier-api';

const PAGE_KB = 4;
const UVM_ACCESS_COUNTERS =
  'NVIDIA open-gpu-kernel-modules, kernel-open/nvidia-uvm/uvm_gpu_access_counters.c';

const knobs = {
  driverMigration: {
    type: 'boolean',
    default: true,
    description:
      'The device driver migrates unbound pages the device keeps accessing to the device node (explicit migration; autonuma stays off the node)',
    kernelName: `uvm_perf_access_counter_mimc_migration_enable (${UVM_ACCESS_COUNTERS}: on by default on POWER9 with ATS)`,
  },
  accessCounterThreshold: {
    type: 'number',
    default: 256,
    description: 'Device accesses to system memory in one region that notify the driver, which then migrates the region',
    kernelName: `uvm_perf_access_counter_threshold (${UVM_ACCESS_COUNTERS}: default 256, 1..65535)`,
  },
  accessCounterGranularityKb: {
    type: 'number',
    default: 2048,
    description: 'Region one access counter covers, KiB (a multiple of 4); the region is virtual here (per process), physical in the driver',
    kernelName: `uvm_perf_access_counter_granularity (${UVM_ACCESS_COUNTERS}: "2m"; 64k, 2m, 16m, 16g)`,
  },
  kswapdOnDevice: {
    type: 'boolean',
    default: false,
    description: 'Let kswapd reclaim the device node like any other (false: the RFC keeps kswapd off N_COHERENT_MEMORY nodes)',
  },
} as const;

/** One access-counter region: the live pages the policy knows in it and the device accesses counted since the last notification. */
interface Region {
  readonly pid: number;
  readonly index: number;
  readonly pages: Set<PageRef>;
  count: number;
}

export const coherentNuma: PolicyFactory = definePolicy({
  name: 'coherent-numa',
  version: '0.1.0',
  description:
    'Coherent device memory as a NUMA node outside N_MEMORY (N_COHERENT_MEMORY): explicit mempolicy only, no kswapd or autonuma on it, driver migration of misplaced pages',
  knobs,
  build: (k) => {
    if (!Number.isInteger(k.accessCounterThreshold) || k.accessCounterThreshold < 1 || k.accessCounterThreshold > 65535) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'coherent-numa',
        message: "knob 'accessCounterThreshold' is out of range",
        expected: 'an integer in 1..65535 (the driver module parameter range)',
        excerpt: String(k.accessCounterThreshold),
      });
    }
    if (!Number.isInteger(k.accessCounterGranularityKb) || k.accessCounterGranularityKb < PAGE_KB || k.accessCounterGranularityKb % PAGE_KB !== 0) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'coherent-numa',
        message: "knob 'accessCounterGranularityKb' is not a whole number of pages",
        expected: 'a multiple of 4 (KiB), at least 4',
        excerpt: String(k.accessCounterGranularityKb),
      });
    }
    const regionPages = k.accessCounterGranularityKb / PAGE_KB;
    let isDevice = new Uint8Array(0);
    let fallbackNode: NodeId = 0;
    // pid -> region index -> region; page -> its region (undefined: not looked up, null: no virtual address).
    const regions = new Map<number, Map<number, Region>>();
    const regionOfPage: (Region | null | undefined)[] = [];
    const none = { add: (_: number) => {}, value: 0 };
    let deviceNodeAllocations = none;
    let notifications = none;
    let migrated = none;
    let noRoom = none;
    let failed = none;
    let unindexed = none;
    let kswapdSkipped = none;

    /** The page's access-counter region, from its virtual address (looked up once per page lifetime). */
    const regionOf = (ctx: PolicyContext, page: PageRef): Region | null => {
      const known = regionOfPage[page];
      if (known !== undefined) return known;
      const identity = ctx.pageIdentity(page);
      if (identity === null || identity.vpn < 0 || identity.pid < 0) {
        regionOfPage[page] = null;
        return null;
      }
      const index = Math.floor(identity.vpn / regionPages);
      let byIndex = regions.get(identity.pid);
      if (byIndex === undefined) {
        byIndex = new Map();
        regions.set(identity.pid, byIndex);
      }
      let region = byIndex.get(index);
      if (region === undefined) {
        region = { pid: identity.pid, index, pages: new Set(), count: 0 };
        byIndex.set(index, region);
      }
      region.pages.add(page);
      regionOfPage[page] = region;
      return region;
    };

    const forget = (page: PageRef): void => {
      const region = regionOfPage[page];
      regionOfPage[page] = undefined;
      if (region === undefined || region === null) return;
      region.pages.delete(page);
      // A region with no live page left is dropped with its count (bounded memory; the driver's counters are physical).
      if (region.pages.size === 0) regions.get(region.pid)?.delete(region.index);
    };

    return {
      supports: ['placement', 'reclaim', 'device-memory'],
      // No hint faults: autonuma stays off the device node. Device accesses reach onAccessSample anyway.
      observe: {},

      init(ctx) {
        isDevice = Uint8Array.from(ctx.machine.nodes, (n) => (n.kind === 'device-coherent' || n.kind === 'device-private' ? 1 : 0));
        const cpuNode = ctx.machine.nodes.find((n) => n.hasCpus === true && isDevice[n.id] === 0);
        fallbackNode = cpuNode?.id ?? ctx.nodesByTier.find((id) => isDevice[id] === 0 && ctx.node(id).cpuAccess === 'coherent') ?? 0;
        for (const n of ctx.machine.nodes) {
          if (n.kind === 'device-coherent' && n.inFallbackZonelist !== false) {
            ctx.warn(
              'device_node_in_zonelist',
              `${n.name} is a device-coherent node in the fallback zonelists (inFallbackZonelist is not false): without N_COHERENT_MEMORY the page allocator spills implicit allocations onto it`,
            );
          }
        }
        deviceNodeAllocations = ctx.counter('device_node_allocations', 'base pages allocated on a device node (explicit: mbind; the engine counts implicit ones)');
        notifications = ctx.counter('access_counter_notifications', 'regions whose device-access counter reached the threshold');
        migrated = ctx.counter('driver_migrated_pages', 'base pages the driver migrated to the device node');
        noRoom = ctx.counter('driver_migrate_no_room', 'base pages not migrated: the device node would fall below its low watermark');
        failed = ctx.counter('driver_migrate_failed', 'base pages the engine refused to migrate');
        unindexed = ctx.counter('device_accesses_unindexed', 'device accesses to pages with no known virtual address (not counted in a region)');
        kswapdSkipped = ctx.counter('kswapd_skipped_pages', 'base pages kswapd or direct reclaim asked of the device node and did not get');
      },

      // The default local allocation; never the device node (it is outside N_MEMORY).
      placePage: (_ctx, _page, hint) => (isDevice[hint.localNode] === 1 ? fallbackNode : hint.localNode),

      onPlaced(ctx, page, node) {
        if (isDevice[node] === 1) deviceNodeAllocations.add(ctx.pageNrPages(page));
        if (k.driverMigration) regionOf(ctx, page);
      },

      onAccessSample(ctx, sample) {
        const device = sample.deviceNode;
        if (device < 0 || !k.driverMigration || isDevice[device] !== 1 || ctx.node(device).cpuAccess !== 'coherent') return;
        const node = ctx.pageNode(sample.page);
        if (node === device || node < 0) return;
        const region = regionOf(ctx, sample.page);
        if (region === null) {
          unindexed.add(sample.count);
          return;
        }
        region.count += sample.count;
        if (region.count < k.accessCounterThreshold) return;
        // The notification: the driver clears the counter and migrates the region's pages in system memory.
        region.count = 0;
        notifications.add(1);
        const low = ctx.node(device).watermarks.low;
        for (const page of region.pages) {
          const at = ctx.pageNode(page);
          if (at === device || at < 0 || isDevice[at] === 1 || ctx.pageKind(page) === PageKind.kernel) continue;
          const nr = ctx.pageNrPages(page);
          // Stay above the low watermark: the driver never pushes the node into reclaim (kswapd would not come).
          if (ctx.freePages(device) - nr < low) {
            noRoom.add(nr);
            continue;
          }
          if (ctx.migrate(page, device, 'other')) migrated.add(nr);
          else failed.add(nr);
        }
      },

      onPressure(ctx, node, pagesWanted) {
        if (isDevice[node] === 1 && !k.kswapdOnDevice) {
          kswapdSkipped.add(pagesWanted);
          return;
        }
        ctx.reclaim(node, pagesWanted);
      },

      onFree(_ctx, page) {
        forget(page);
      },
    };
  },
});

export default coherentNuma;
