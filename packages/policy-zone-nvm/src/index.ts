/**
 * zone-nvm: ZONE_NVM (Huaisheng Ye, "[RFC PATCH v1 0/6] use mm to manage
 * NVDIMM (pmem) zone", linux-mm, May 2018). The NVDIMM becomes a memory zone
 * of its own; allocations that ask for it (__GFP_NVM in GFP_ZONE_TABLE, RFC
 * patch 3/6) get it: the page cache, and "critical pages" (never defined in
 * the thread), so that dirty data survives power loss. Everything else is
 * allocated from DRAM and, as the RFC's GFP_ZONE_TABLE has it, never falls
 * back to the NVM zone: DRAM is reclaimed instead.
 *
 * Matthew Wilcox's objection (same thread, 8 May 2018): "Some dirty data will
 * still be in the CPU caches." Ordinary stores to a page-cache page on
 * NVDIMM stay in the volatile CPU caches until they are evicted or flushed;
 * the policy counts those bytes for `cacheFlushWindowUs` after each write.
 */

import {
  ErrorCode,
  PageKind,
  type PolicyContext,
  type PolicyFactory,
  TierlabError,
  definePolicy,
  pageKindNames,
} from '@tierlab/memory-tier-api';

/** One CPU cache line: what an ordinary store leaves dirty in the cache hierarchy. */
const CACHE_LINE_BYTES = 64;
const NS_PER_US = 1000;

const knobs = {
  criticalKinds: {
    type: 'string',
    default: '',
    description:
      'Page kinds allocated from the NVM zone besides the page cache, as a comma list of anon, kernel ("critical pages" of the RFC, which the thread never defined); empty for none',
    kernelName: '__GFP_NVM (RFC patch 3/6: include/linux/gfp.h, GFP_ZONE_TABLE)',
  },
  fallbackToNvm: {
    type: 'boolean',
    default: false,
    description:
      'Let pages that do not ask for the NVM zone fall back to it when DRAM is low (the zonelist default); false: they stay in DRAM and kswapd reclaims DRAM, as ZONE_NVM reached only through __GFP_NVM',
    kernelName: 'GFP_ZONE_TABLE / ZONE_NVM (RFC patch 3/6: mm, zone_type: create ZONE_NVM and fill into GFP_ZONE_TABLE)',
  },
  cacheFlushWindowUs: {
    type: 'number',
    default: 3000,
    description:
      'How long a store to an NVM page-cache page stays in the volatile CPU caches before it reaches the NVDIMM: 0 models eADR or a clwb+sfence after every store; the default is the time to turn over a Cascade Lake L3 (about 38.5 MiB) at PMem write bandwidth (13.9 GB/s), about 2.9 ms',
  },
} as const;

/** Bytes left in the CPU caches for a window after each write: peak and time-weighted mean (a FIFO of expiries). */
class CacheWindow {
  private expiry = new Float64Array(1024);
  private bytes = new Float64Array(1024);
  private head = 0;
  private tail = 0;
  current = 0;
  peak = 0;
  private integral = 0;
  private last = 0;

  constructor(private readonly windowNs: number) {}

  /** Expire what left the caches by `now`, integrating bytes over time. */
  advance(now: number): void {
    while (this.head < this.tail && this.expiry[this.head]! <= now) {
      const at = this.expiry[this.head]!;
      this.integral += this.current * (at - this.last);
      this.last = at;
      this.current -= this.bytes[this.head]!;
      this.head++;
    }
    if (now > this.last) {
      this.integral += this.current * (now - this.last);
      this.last = now;
    }
  }

  add(now: number, bytes: number): void {
    this.advance(now);
    if (this.windowNs <= 0) return;
    if (this.tail === this.expiry.length) this.compact();
    this.expiry[this.tail] = now + this.windowNs;
    this.bytes[this.tail] = bytes;
    this.tail++;
    this.current += bytes;
    if (this.current > this.peak) this.peak = this.current;
  }

  mean(durationNs: number): number {
    return durationNs > 0 ? this.integral / durationNs : 0;
  }

  private compact(): void {
    const live = this.tail - this.head;
    if (live * 2 > this.expiry.length) {
      const expiry = new Float64Array(this.expiry.length * 2);
      const bytes = new Float64Array(this.expiry.length * 2);
      expiry.set(this.expiry.subarray(this.head, this.tail));
      bytes.set(this.bytes.subarray(this.head, this.tail));
      this.expiry = expiry;
      this.bytes = bytes;
    } else {
      this.expiry.copyWithin(0, this.head, this.tail);
      this.bytes.copyWithin(0, this.head, this.tail);
    }
    this.head = 0;
    this.tail = live;
  }
}

function parseCriticalKinds(value: string): Set<number> {
  const kinds = new Set<number>();
  for (const part of value.split(',')) {
    const name = part.trim();
    if (name === '') continue;
    const kind = (pageKindNames as readonly string[]).indexOf(name);
    if (kind < 0 || kind === PageKind.device) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'zone-nvm',
        message: `knob 'criticalKinds' names an unknown page kind '${name}'`,
        expected: 'a comma list of anon, kernel (file pages always go to the NVM zone), or empty',
        excerpt: value,
      });
    }
    if (kind !== PageKind.file) kinds.add(kind);
  }
  return kinds;
}

export const zoneNvm: PolicyFactory = definePolicy({
  name: 'zone-nvm',
  version: '0.1.0',
  description:
    'ZONE_NVM (Huaisheng Ye, RFC 2018): page cache and critical pages allocated from the NVDIMM so dirty data survives power loss; other pages from DRAM only',
  knobs,
  build: (k) => {
    const critical = parseCriticalKinds(k.criticalKinds);
    const windowNs = Math.max(0, k.cacheFlushWindowUs) * NS_PER_US;
    const window = new CacheWindow(windowNs);
    let nvmNode = -1;
    let dramNode = -1;
    // Page kinds that ask for the NVM zone, indexed by PageKind.
    const wantsNvm = new Uint8Array(4);
    wantsNvm[PageKind.file] = 1;
    for (const kind of critical) wantsNvm[kind] = 1;
    // The page of the last page-cache fill seen by onIo: its sample is the fill, not a store.
    let fillPage = -1;
    const none = { add: (_: number) => {}, value: 0 };
    let nvmPages = none;
    let pageCacheOffNvm = none;
    let fallbackPages = none;
    let linesWritten = none;
    let atRiskPeak = none;
    let atRiskMean = none;

    const onNvm = (ctx: PolicyContext, page: number): boolean => {
      const node = ctx.pageNode(page);
      return node >= 0 && node === nvmNode;
    };

    return {
      supports: ['placement', 'reclaim', 'io'],
      // Every access is observed only to count the cache lines stores leave
      // in the CPU caches (Wilcox's objection); placement never reads it.
      observe: { accesses: true },

      init(ctx) {
        const nodes = ctx.machine.nodes;
        dramNode = (nodes.find((n) => n.hasCpus === true) ?? nodes[ctx.nodesByTier[0]!]!).id;
        nvmNode = nodes.find((n) => n.persistent && n.cpuAccess === 'coherent' && n.id !== dramNode)?.id ?? -1;
        if (nvmNode < 0) {
          ctx.warn('no_persistent_node', `machine ${ctx.machine.name} has no persistent node: every page is allocated locally`);
        }
        nvmPages = ctx.counter('nvm_zone_pages', 'base pages allocated from the NVM zone (page cache and critical pages)');
        pageCacheOffNvm = ctx.counter(
          'page_cache_off_nvm_pages',
          'page-cache and critical base pages that asked for the NVM zone but landed elsewhere (NVM zone full): at risk',
        );
        fallbackPages = ctx.counter(
          'nvm_fallback_pages',
          'base pages that did not ask for the NVM zone but landed on it (DRAM between its min and low watermark)',
        );
        linesWritten = ctx.counter('cpu_cache_lines_written', 'stores to NVM page-cache (and critical) pages, 64 B lines');
        atRiskPeak = ctx.counter(
          'cpu_cache_bytes_at_risk_peak',
          'peak bytes of stores to the NVM page cache still in the volatile CPU caches (cacheFlushWindowUs after each store)',
        );
        atRiskMean = ctx.counter('cpu_cache_bytes_at_risk_mean', 'the same, mean over the trace');
      },

      placePage(ctx, _page, hint) {
        if (nvmNode < 0) return hint.localNode;
        if (wantsNvm[hint.kind] === 1) return nvmNode;
        // Not an NVM allocation: DRAM. Below its low watermark the zonelist
        // would fall back to the NVM node; ZONE_NVM as posted reclaims DRAM instead.
        if (!k.fallbackToNvm) {
          const dram = ctx.node(hint.localNode);
          // This page still falls back (counted in nvm_fallback_pages); kswapd makes room for the next ones.
          if (ctx.freePages(hint.localNode) - hint.nrPages < dram.watermarks.low) ctx.wakeKswapd(hint.localNode);
        }
        return hint.localNode;
      },

      onPlaced(ctx, page, node) {
        if (nvmNode < 0) return;
        const nr = ctx.pageNrPages(page);
        const wanted = wantsNvm[ctx.pageKind(page)] === 1;
        if (node === nvmNode) {
          if (wanted) nvmPages.add(nr);
          else fallbackPages.add(nr);
        } else if (wanted) {
          pageCacheOffNvm.add(nr);
        }
      },

      onIo(_ctx, page, io) {
        if (io.direction === 'read') fillPage = page;
      },

      onAccessSample(ctx, sample) {
        const page = sample.page;
        if (page === fillPage) {
          // The page-cache fill itself (the engine calls onIo just before): clean data, its copy is on disk.
          fillPage = -1;
          return;
        }
        if (!sample.write || sample.deviceNode >= 0 || nvmNode < 0) return;
        if (wantsNvm[ctx.pageKind(page)] !== 1 || !onNvm(ctx, page)) return;
        linesWritten.add(sample.count);
        window.add(ctx.now(), CACHE_LINE_BYTES * sample.count);
      },

      finish(ctx) {
        window.advance(ctx.now());
        atRiskPeak.add(window.peak);
        atRiskMean.add(window.mean(ctx.now()));
      },
    };
  },
});

export default zoneNvm;
