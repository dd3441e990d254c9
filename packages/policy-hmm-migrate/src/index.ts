/**
 * hmm-migrate: HMM (Jérôme Glisse, "HMM (Heterogeneous Memory Management)",
 * linux-mm 2014-2017, merged in 4.14; Documentation/mm/hmm.rst) with
 * ZONE_DEVICE device-private memory (MEMORY_DEVICE_PRIVATE): memory the
 * device has and the CPU cannot address. Pages move there only by migration:
 *
 * - Device work: before the device touches a page in system memory, the
 *   driver migrates the virtual range around it to its memory
 *   (migrate_vma_setup() / migrate_vma_pages() / migrate_vma_finalize(),
 *   mm/migrate_device.c), once the page has had `deviceAccessThreshold`
 *   device accesses. Only private anonymous pages migrate (the engine
 *   refuses the others, as migrate_vma_collect does; counted).
 * - CPU fault: a CPU touch of a device-private page faults
 *   (dev_pagemap_ops.migrate_to_ram()) and the driver migrates that one page
 *   back to the faulting CPU's node (as nouveau and lib/test_hmm.c do).
 * - Device memory full: the driver evicts its coldest pages back to system
 *   memory (the engine asks through onPressure for the device node).
 *
 * Allocation is the default local allocation: alloc_pages() cannot return
 * device-private memory.
 */

import {
  ErrorCode,
  FaultKind,
  type NodeId,
  PageKind,
  type PageRef,
  type PolicyContext,
  type PolicyFactory,
  TierlabError,
  definePolicy,
} from '@tierlab/memory-tier-api';

const knobs = {
  deviceAccessThreshold: {
    type: 'number',
    default: 1,
    description:
      'Device accesses to a page in system memory before the driver migrates it (1: migrate on the first device touch; the count restarts when the page comes back)',
  },
  migrateChunkPages: {
    type: 'number',
    default: 1,
    description:
      'Pages per migrate_vma_setup() call: the aligned virtual range of the process around the page (lib/test_hmm.c uses 64 or PTRS_PER_PTE = 512; amdgpu svm_default_granularity 9 = 512)',
    kernelName: 'struct migrate_vma .start/.end (include/linux/migrate.h, mm/migrate_device.c: migrate_vma_setup())',
  },
} as const;

/** The pages of one aligned virtual range of a process that the policy knows are live. */
interface Chunk {
  readonly pid: number;
  readonly index: number;
  readonly pages: Set<PageRef>;
}

export const hmmMigrate: PolicyFactory = definePolicy({
  name: 'hmm-migrate',
  version: '0.1.0',
  description:
    'HMM migrate_vma with ZONE_DEVICE device-private memory: pages migrate to the device for device work and back through migrate_to_ram on a CPU fault',
  knobs,
  build: (k) => {
    for (const [name, value, max] of [
      ['deviceAccessThreshold', k.deviceAccessThreshold, Number.MAX_SAFE_INTEGER],
      ['migrateChunkPages', k.migrateChunkPages, 1 << 18],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > max) {
        throw new TierlabError({
          code: ErrorCode.policyKnob,
          policy: 'hmm-migrate',
          message: `knob '${name}' is out of range`,
          expected: `an integer in 1..${max}`,
          excerpt: String(value),
        });
      }
    }
    const chunkPages = k.migrateChunkPages;
    let cpuNode: NodeId = 0;
    // Device accesses each page had since it was last on the device (dense page ids).
    let deviceCount = new Float64Array(1024);
    // pid -> chunk index -> chunk; page -> its chunk (undefined: not looked up, null: no virtual address).
    const chunks = new Map<number, Map<number, Chunk>>();
    const chunkOfPage: (Chunk | null | undefined)[] = [];
    const none = { add: (_: number) => {}, value: 0 };
    let migrateCalls = none;
    let migrated = none;
    let refusedNotAnon = none;
    let refusedNoRoom = none;
    let migrateToRam = none;
    let migrateToRamByEngine = none;
    let freedOnDevice = none;
    let evicted = none;
    let evictFailed = none;

    const ensure = (page: PageRef): void => {
      if (page < deviceCount.length) return;
      let size = deviceCount.length;
      while (size <= page) size *= 2;
      const grown = new Float64Array(size);
      grown.set(deviceCount);
      deviceCount = grown;
    };

    /** The page's chunk, from its virtual address (looked up once per page lifetime). */
    const chunkOf = (ctx: PolicyContext, page: PageRef): Chunk | null => {
      const known = chunkOfPage[page];
      if (known !== undefined) return known;
      const identity = ctx.pageIdentity(page);
      if (identity === null || identity.vpn < 0 || identity.pid < 0) {
        chunkOfPage[page] = null;
        return null;
      }
      const index = Math.floor(identity.vpn / chunkPages);
      let byIndex = chunks.get(identity.pid);
      if (byIndex === undefined) {
        byIndex = new Map();
        chunks.set(identity.pid, byIndex);
      }
      let chunk = byIndex.get(index);
      if (chunk === undefined) {
        chunk = { pid: identity.pid, index, pages: new Set() };
        byIndex.set(index, chunk);
      }
      chunk.pages.add(page);
      chunkOfPage[page] = chunk;
      return chunk;
    };

    /** One page of a migrate_vma_setup/pages/finalize range: moved, or counted as refused. */
    const migrateOne = (ctx: PolicyContext, page: PageRef, device: NodeId): void => {
      const at = ctx.pageNode(page);
      if (at === device || at < 0) return;
      const nr = ctx.pageNrPages(page);
      const anon = ctx.pageKind(page) === PageKind.anon;
      // The engine refuses non-anonymous pages for device-private targets; a coherent ZONE_DEVICE target takes the same rule here.
      if ((anon || ctx.node(device).cpuAccess === 'faults') && ctx.migrate(page, device, 'other')) {
        migrated.add(nr);
        deviceCount[page] = 0;
      } else if (!anon) {
        refusedNotAnon.add(nr);
      } else {
        refusedNoRoom.add(nr);
      }
    };

    return {
      supports: ['placement', 'reclaim', 'device-memory'],
      observe: {},

      init(ctx) {
        const cpu = ctx.machine.nodes.find((n) => n.hasCpus === true && n.cpuAccess === 'coherent');
        cpuNode = cpu?.id ?? ctx.nodesByTier.find((id) => ctx.node(id).cpuAccess === 'coherent') ?? 0;
        migrateCalls = ctx.counter('migrate_vma_calls', 'migrate_vma_setup() calls: ranges the driver migrated to the device');
        migrated = ctx.counter('migrate_vma_pages', 'base pages migrated to the device');
        refusedNotAnon = ctx.counter('migrate_refused_not_anon', 'base pages refused: not private anonymous memory (page cache, kernel)');
        refusedNoRoom = ctx.counter('migrate_refused_no_room', 'base pages refused: the device memory is at its min watermark');
        migrateToRam = ctx.counter('migrate_to_ram', 'base pages migrated back by migrate_to_ram() on a CPU fault');
        migrateToRamByEngine = ctx.counter('migrate_to_ram_reclaim', 'CPU faults where system memory had no free page above min: the engine reclaimed to bring the page back');
        freedOnDevice = ctx.counter('freed_on_device', 'base pages freed while on the device (no copy back)');
        evicted = ctx.counter('device_evicted_pages', 'base pages the driver evicted from full device memory back to system memory');
        evictFailed = ctx.counter('device_evict_failed', 'base pages the driver could not evict to system memory (reclaimed in place instead)');
      },

      // alloc_pages() never returns device-private memory: the default local allocation.
      placePage: (ctx, _page, hint) => (ctx.node(hint.localNode).cpuAccess === 'coherent' ? hint.localNode : cpuNode),

      onAccessSample(ctx, sample) {
        const device = sample.deviceNode;
        if (device < 0) return;
        const target = ctx.node(device);
        if (target.kind !== 'device-private' && target.kind !== 'device-coherent') return;
        const page = sample.page;
        const node = ctx.pageNode(page);
        if (node === device || node < 0) return;
        ensure(page);
        deviceCount[page] = deviceCount[page]! + sample.count;
        if (deviceCount[page]! < k.deviceAccessThreshold) return;
        // The driver migrates the aligned range around the page, this page first.
        migrateCalls.add(1);
        migrateOne(ctx, page, device);
        if (chunkPages === 1) return;
        const chunk = chunkOf(ctx, page);
        if (chunk === null) return;
        for (const other of chunk.pages) if (other !== page) migrateOne(ctx, other, device);
      },

      onFault(ctx, page, fault) {
        if (fault.kind !== FaultKind.devicePrivate) return;
        ensure(page);
        deviceCount[page] = 0;
        const nr = ctx.pageNrPages(page);
        // migrate_to_ram(): one page, to the faulting CPU's node; when that fails the engine brings it back with reclaim.
        if (ctx.migrate(page, fault.cpuNode, 'other')) migrateToRam.add(nr);
        else migrateToRamByEngine.add(nr);
      },

      onPlaced(ctx, page) {
        ensure(page);
        if (chunkPages > 1) chunkOf(ctx, page);
      },

      onPressure(ctx, node, pagesWanted) {
        if (ctx.node(node).cpuAccess !== 'faults') {
          ctx.reclaim(node, pagesWanted);
          return;
        }
        // Device memory: the driver evicts its coldest pages to system memory (they cannot be swapped from there).
        let freed = 0;
        for (const page of ctx.pagesOnNode(node, pagesWanted)) {
          if (freed >= pagesWanted) break;
          const nr = ctx.pageNrPages(page);
          if (ctx.migrate(page, cpuNode, 'other')) {
            evicted.add(nr);
            freed += nr;
          } else {
            evictFailed.add(nr);
          }
        }
        if (freed < pagesWanted) ctx.reclaim(node, pagesWanted - freed);
      },

      onFree(ctx, page) {
        const node = ctx.pageNode(page);
        if (node >= 0 && ctx.node(node).cpuAccess === 'faults') freedOnDevice.add(ctx.pageNrPages(page));
        if (page < deviceCount.length) deviceCount[page] = 0;
        const chunk = chunkOfPage[page];
        chunkOfPage[page] = undefined;
        if (chunk === undefined || chunk === null) return;
        chunk.pages.delete(page);
        if (chunk.pages.size === 0) chunks.get(chunk.pid)?.delete(chunk.index);
      },
    };
  },
});

export default hmmMigrate;
