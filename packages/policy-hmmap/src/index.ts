/**
 * hmmap: Adam Manzanares's "heterogeneous memory map" ("[LSF/MM TOPIC] Page
 * Cache Flexibility for NVM", lsf-pc / linux-mm, 21 February 2019;
 * github.com/westerndigitalcorporation/hmmap). An mmap-able device whose
 * pages live on NVM behind a pluggable DRAM cache: an access to a page that
 * is not cached faults, and the cache manager makes room and fills a DRAM
 * page from the backend (hmmap_core.c: hmmap_handle_fault()).
 *
 * The cache manager modelled is hmmap's two-level (2Q) cache
 * (hmmap_mod/two_level_cache.c): new pages enter the inactive list; the
 * accessed (young) bit, tested and cleared as pages pass the list heads,
 * warms a page and then moves it to the active list; about 2/3 of the cache
 * is kept active; evictions go in small batches (evict_list_size, 2), taking
 * pages that are not warm first. Modes: 'cache' (every page through the
 * cache), 'dax' (every page mapped in place on NVM, no cache) and
 * 'write-protect' (DAX mapped read-only; a write faults and the page goes
 * through the cache, so writes land in DRAM and reach NVM only on eviction).
 */

import { ErrorCode, PageKind, type PolicyContext, type PolicyFactory, TierlabError, definePolicy } from '@tierlab/memory-tier-api';

export const hmmapModes = ['cache', 'dax', 'write-protect'] as const;
export type HmmapMode = (typeof hmmapModes)[number];

const CACHE_LINE_BYTES = 64;
const NONE = 0;
const INACTIVE = 1;
const ACTIVE = 2;

const knobs = {
  mode: {
    type: 'string',
    default: 'cache',
    description:
      "'cache': every page through the DRAM cache; 'dax': mapped in place on NVM, no cache; 'write-protect': DAX read-only, writes fault into the cache",
    kernelName: 'sysfs hmmap/hmmap_dev_dax and hmmap/hmmap_dev_wrprotect (hmmap_mod/hmmap_core.c)',
  },
  cacheShare: {
    type: 'number',
    default: 0.9,
    description:
      'Share of the DRAM node (above its high watermark) given to the cache; the rest serves pages hmmap does not manage (kernel pages)',
    kernelName: 'module parameter cache_size (hmmap_mod/hmmap_core.c; the cache is vzalloc()ed in DRAM)',
  },
  activeRatio: {
    type: 'number',
    default: 2 / 3,
    description:
      'Share of the cache kept on the active list; the inactive list is aged when it holds more than the rest',
    kernelName: 'two_level_reserve_page(): watermark = (num_entries / 3) * 2 (hmmap_mod/two_level_cache.c)',
  },
  evictBatch: {
    type: 'number',
    default: 2,
    description: 'Pages evicted together when the cache is full',
    kernelName: 'sysfs two_level/evict_list_size, default PAGES_TO_CLEAR = 2 (hmmap_mod/two_level_cache.c)',
  },
  agingPeriodMs: {
    type: 'number',
    default: 0,
    description:
      'Also age the lists in the background every this many ms (one pass over the inactive list, the active list trimmed to activeRatio); 0: only on faults, as hmmap does',
  },
} as const;

export const hmmap: PolicyFactory = definePolicy({
  name: 'hmmap',
  version: '0.1.0',
  description:
    'hmmap (Adam Manzanares, LSF/MM 2019): NVM behind a pluggable DRAM cache with two-level (2Q) aging on the young bit; DAX and write-protect modes',
  knobs,
  build: (k) => {
    const mode = k.mode as HmmapMode;
    if (!(hmmapModes as readonly string[]).includes(mode)) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'hmmap',
        message: `knob 'mode' has an unknown value '${k.mode}'`,
        expected: hmmapModes.join(', '),
        excerpt: k.mode,
      });
    }
    if (!(k.cacheShare > 0 && k.cacheShare <= 1) || !(k.activeRatio > 0 && k.activeRatio < 1) || !(k.evictBatch >= 1)) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'hmmap',
        message: 'cacheShare must be in (0, 1], activeRatio in (0, 1), evictBatch at least 1',
        expected: '0 < cacheShare <= 1, 0 < activeRatio < 1, evictBatch >= 1',
      });
    }
    const evictBatch = Math.floor(k.evictBatch);
    let dramNode = -1;
    let nvmNode = -1;
    /** Cache size in base pages, and the list thresholds (base pages). */
    let capacity = 0;
    let activeWatermark = 0;
    let inactiveWatermark = 0;

    // The two lists as intrusive doubly linked lists over page ids; head = oldest.
    let next = new Int32Array(0);
    let prev = new Int32Array(0);
    let list = new Uint8Array(0); // NONE, INACTIVE, ACTIVE
    let warm = new Uint8Array(0); // PageActive on the inactive list: seen young once
    let dirty = new Uint8Array(0); // written while cached (PageDirty)
    let nrOf = new Uint16Array(0);
    const head = [-1, -1, -1];
    const tail = [-1, -1, -1];
    const pages = [0, 0, 0]; // base pages per list
    const entries = [0, 0, 0];

    const none = { add: (_: number) => {}, value: 0 };
    let hits = none;
    let misses = none;
    let daxAccesses = none;
    let ioFills = none;
    let hitRatio = none;
    let fills = none;
    let fillFailed = none;
    let evictions = none;
    let dirtyEvictions = none;
    let writebackBytes = none;
    let avoidedBytes = none;
    let toActive = none;
    let toInactive = none;
    let peakPages = none;
    let capacityPages = none;
    let peak = 0;
    // The page of the last page-cache fill seen by onIo.
    let fillPage = -1;

    const ensure = (page: number) => {
      if (page < list.length) return;
      let size = Math.max(1024, list.length);
      while (size <= page) size *= 2;
      const grow32 = (a: Int32Array) => {
        const b = new Int32Array(size).fill(-1);
        b.set(a);
        return b;
      };
      const grow8 = (a: Uint8Array) => {
        const b = new Uint8Array(size);
        b.set(a);
        return b;
      };
      next = grow32(next);
      prev = grow32(prev);
      list = grow8(list);
      warm = grow8(warm);
      dirty = grow8(dirty);
      const nr = new Uint16Array(size);
      nr.set(nrOf);
      nrOf = nr;
    };

    const unlink = (page: number) => {
      const l = list[page]!;
      const p = prev[page]!;
      const n = next[page]!;
      if (p === -1) head[l] = n;
      else next[p] = n;
      if (n === -1) tail[l] = p;
      else prev[n] = p;
      next[page] = -1;
      prev[page] = -1;
      pages[l] = pages[l]! - nrOf[page]!;
      entries[l] = entries[l]! - 1;
      list[page] = NONE;
    };

    const append = (page: number, l: number) => {
      const t = tail[l]!;
      prev[page] = t;
      next[page] = -1;
      if (t === -1) head[l] = page;
      else next[t] = page;
      tail[l] = page;
      list[page] = l;
      pages[l] = pages[l]! + nrOf[page]!;
      entries[l] = entries[l]! + 1;
    };

    const cached = () => pages[INACTIVE]! + pages[ACTIVE]!;

    /** A listed page the engine moved away (reclaim of other pages' memory): forget it. */
    const stale = (ctx: PolicyContext, page: number): boolean => {
      if (ctx.pageNode(page) === dramNode) return false;
      unlink(page);
      warm[page] = 0;
      dirty[page] = 0;
      return true;
    };

    /** two_level_update_inactive(): look at the inactive head once. */
    const updateInactive = (ctx: PolicyContext) => {
      const page = head[INACTIVE]!;
      if (page === -1 || stale(ctx, page)) return;
      unlink(page);
      const young = ctx.testAndClearYoung(page);
      if (young && warm[page] === 1) {
        warm[page] = 0;
        append(page, ACTIVE);
        toActive.add(nrOf[page]!);
      } else {
        warm[page] = young ? 1 : 0;
        append(page, INACTIVE);
      }
    };

    /** two_level_recharge_inactive(): look at `count` base pages from the active head. */
    const recharge = (ctx: PolicyContext, count: number) => {
      let seen = 0;
      let left = entries[ACTIVE]!;
      while (seen < count && left-- > 0) {
        const page = head[ACTIVE]!;
        if (page === -1) break;
        if (stale(ctx, page)) continue;
        seen += nrOf[page]!;
        unlink(page);
        if (ctx.testAndClearYoung(page)) {
          append(page, ACTIVE);
        } else {
          append(page, INACTIVE);
          toInactive.add(nrOf[page]!);
        }
      }
    };

    /** two_level_find_evict_item(): the first page of a list that is not warm, or the first one. */
    const findVictim = (ctx: PolicyContext, l: number, first: boolean): number => {
      let page = head[l]!;
      while (page !== -1) {
        const after = next[page]!;
        if (!stale(ctx, page) && (first || warm[page] === 0)) return page;
        page = after;
      }
      return -1;
    };

    /** Write back if dirty and drop from the cache: the page returns to NVM. */
    const evict = (ctx: PolicyContext, page: number) => {
      const nr = nrOf[page]!;
      unlink(page);
      warm[page] = 0;
      evictions.add(nr);
      if (dirty[page] === 1) {
        dirtyEvictions.add(nr);
        writebackBytes.add(nr * ctx.machine.pageSize);
        dirty[page] = 0;
      }
      if (!ctx.migrate(page, nvmNode, 'demote')) ctx.evict(page);
    };

    /** two_level_evict_items(): up to evictBatch pages; returns base pages freed. */
    const evictItems = (ctx: PolicyContext): number => {
      let freed = 0;
      for (let n = 0; n < evictBatch; n++) {
        let page = findVictim(ctx, INACTIVE, false);
        if (page === -1) page = findVictim(ctx, ACTIVE, false);
        if (page === -1) page = findVictim(ctx, INACTIVE, true);
        if (page === -1) page = findVictim(ctx, ACTIVE, true);
        if (page === -1) break;
        freed += nrOf[page]!;
        evict(ctx, page);
      }
      return freed;
    };

    /** two_level_reserve_page(): age a little, make room for `nr` base pages. */
    const reserve = (ctx: PolicyContext, nr: number) => {
      if (capacity - cached() >= nr) {
        if (pages[INACTIVE]! > inactiveWatermark) updateInactive(ctx);
        return;
      }
      if (pages[ACTIVE]! > activeWatermark) recharge(ctx, pages[ACTIVE]! - activeWatermark);
      else updateInactive(ctx);
      while (capacity - cached() < nr) if (evictItems(ctx) === 0) break;
    };

    /** A fault on a page that is not cached: fill a DRAM page from NVM. */
    const fill = (ctx: PolicyContext, page: number, write: boolean) => {
      const nr = ctx.pageNrPages(page);
      if (nr > capacity) {
        fillFailed.add(nr);
        return;
      }
      reserve(ctx, nr);
      if (!ctx.migrate(page, dramNode, 'promote')) {
        fillFailed.add(nr);
        return;
      }
      ensure(page);
      nrOf[page] = nr;
      warm[page] = 0;
      dirty[page] = write ? 1 : 0;
      // The faulting access, retried on the new mapping, leaves the page young.
      append(page, INACTIVE);
      fills.add(nr);
      if (cached() > peak) peak = cached();
    };

    /** One background aging pass (agingPeriodMs). */
    const age = (ctx: PolicyContext) => {
      for (let n = entries[INACTIVE]!; n > 0; n--) updateInactive(ctx);
      if (pages[ACTIVE]! > activeWatermark) recharge(ctx, pages[ACTIVE]! - activeWatermark);
    };

    const managed = (kind: number) => kind === PageKind.anon || kind === PageKind.file;

    return {
      supports: ['placement', 'reclaim', 'promotion', 'demotion', 'access-samples', 'io'],
      // Every CPU access is seen because hmmap sees every access to a page it has not
      // mapped (cache mode: not cached; write-protect: a write to a read-only DAX page).
      // Accesses to mapped pages are used only to count hits and dirty cache pages;
      // the cache decides on the young bit alone.
      observe: k.agingPeriodMs > 0 ? { accesses: true, tickMs: k.agingPeriodMs } : { accesses: true },

      init(ctx) {
        const nodes = ctx.machine.nodes;
        dramNode = (nodes.find((n) => n.hasCpus === true) ?? nodes[ctx.nodesByTier[0]!]!).id;
        const slow = nodes.find((n) => n.persistent && n.cpuAccess === 'coherent' && n.id !== dramNode);
        nvmNode = slow?.id ?? ctx.demotionTarget(dramNode);
        if (nvmNode < 0) ctx.warn('no_nvm_node', `machine ${ctx.machine.name} has no slower node: nothing to cache`);
        const dram = ctx.node(dramNode);
        capacity = mode === 'dax' || nvmNode < 0 ? 0 : Math.floor(k.cacheShare * Math.max(0, dram.capacityPages - dram.watermarks.high));
        activeWatermark = Math.floor(capacity * k.activeRatio);
        inactiveWatermark = Math.floor(capacity * (1 - k.activeRatio));
        hits = ctx.counter('cache_hits', 'accesses served by a cached DRAM page (no fault)');
        misses = ctx.counter('cache_misses', 'accesses that faulted a page into the cache');
        daxAccesses = ctx.counter('dax_accesses', 'accesses served in place on NVM (dax, and reads in write-protect mode)');
        ioFills = ctx.counter('io_fill_accesses', 'page-cache fills of managed pages on NVM: I/O into the page where it lives, neither hit nor miss');
        hitRatio = ctx.counter('cache_hit_ratio', 'cache_hits / accesses to pages hmmap manages');
        fills = ctx.counter('cache_fills', 'base pages copied from NVM into the cache');
        fillFailed = ctx.counter('cache_fill_failed', 'base pages that could not be cached (DRAM full of other pages)');
        evictions = ctx.counter('cache_evictions', 'base pages evicted from the cache back to NVM');
        dirtyEvictions = ctx.counter('cache_dirty_evictions', 'of those, dirty (written back)');
        writebackBytes = ctx.counter('nvm_writeback_bytes', 'bytes written back to NVM by evictions of dirty pages');
        avoidedBytes = ctx.counter(
          'nvm_write_bytes_avoided',
          'write-protect and cache modes: bytes of stores absorbed by cached pages that DAX would have sent to NVM (64 B a store)',
        );
        toActive = ctx.counter('active_promotions', 'base pages moved from the inactive to the active list');
        toInactive = ctx.counter('active_demotions', 'base pages moved from the active to the inactive list');
        peakPages = ctx.counter('cache_pages_peak', 'peak base pages in the cache');
        capacityPages = ctx.counter('cache_capacity_pages', 'cache size in base pages');
        capacityPages.add(capacity);
      },

      placePage(_ctx, _page, hint) {
        // The device's pages live on NVM; kernel memory is not hmmap's.
        return managed(hint.kind) && nvmNode >= 0 ? nvmNode : hint.localNode;
      },

      onIo(_ctx, page, io) {
        if (io.direction === 'read') fillPage = page;
      },

      onAccessSample(ctx, sample) {
        const page = sample.page;
        if (page === fillPage) {
          // A page-cache fill (the engine calls onIo just before): I/O into the page where it
          // lives, not a CPU access through the mapping, so neither a hit nor a fault.
          fillPage = -1;
          if (managed(ctx.pageKind(page)) && ctx.pageNode(page) === nvmNode) ioFills.add(sample.count);
          return;
        }
        if (sample.deviceNode >= 0 || nvmNode < 0) return;
        if (!managed(ctx.pageKind(page))) return;
        const node = ctx.pageNode(page);
        if (page < list.length && list[page] !== NONE) {
          if (node === dramNode) {
            hits.add(sample.count);
            if (sample.write) {
              dirty[page] = 1;
              avoidedBytes.add(CACHE_LINE_BYTES * sample.count);
            }
            return;
          }
          stale(ctx, page);
        }
        if (node !== nvmNode) return; // a page that fell back to DRAM: not the device's
        if (mode === 'dax' || (mode === 'write-protect' && !sample.write)) {
          daxAccesses.add(sample.count);
          return;
        }
        misses.add(sample.count);
        fill(ctx, page, sample.write);
      },

      onTick(ctx) {
        age(ctx);
      },

      onPressure(ctx, node, pagesWanted) {
        let freed = 0;
        if (node === dramNode) {
          while (freed < pagesWanted) {
            const n = evictItems(ctx);
            if (n === 0) break;
            freed += n;
          }
        }
        if (freed < pagesWanted) ctx.reclaim(node, pagesWanted - freed);
      },

      onFree(_ctx, page) {
        if (page < list.length && list[page] !== NONE) unlink(page);
        if (page < list.length) {
          warm[page] = 0;
          dirty[page] = 0;
        }
      },

      finish() {
        const managedAccesses = hits.value + misses.value + daxAccesses.value;
        hitRatio.add(managedAccesses > 0 ? hits.value / managedAccesses : 0);
        peakPages.add(peak);
      },
    };
  },
});

export default hmmap;
