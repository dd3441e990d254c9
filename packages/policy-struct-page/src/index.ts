/**
 * struct-page: the 2015 debate over struct pages for persistent memory
 * ("[RFC PATCH 0/7] evacuate struct page from the block layer", linux-kernel /
 * linux-nvdimm, March 2015). To do I/O directly to PMem the kernel needs, in
 * Matthew Wilcox's list (19 March 2015):
 *   1a. struct pages for PMem, permanently (64 B per 4 KiB, about 1.5%),
 *       in DRAM, or carved from the PMem itself (Boaz Harrosh: "we can
 *       allocate the struct page also from pmem");
 *   1b. struct pages only while a PMem page is under I/O (Boaz Harrosh);
 *   2.  I/O on PFNs, no struct page (here: the I/O bounces through a DRAM copy).
 * Page cache lives on PMem (as with DAX), anonymous memory in DRAM.
 */

import { ErrorCode, PageKind, type PolicyContext, type PolicyFactory, TierlabError, definePolicy } from '@tierlab/memory-tier-api';

export const structPageVariants = ['1a-dram', '1a-pmem', '1b', '2'] as const;
export type StructPageVariant = (typeof structPageVariants)[number];

const NS_PER_US = 1000;

const knobs = {
  variant: {
    type: 'string',
    default: '1a-dram',
    description:
      "How PMem pages get struct pages: '1a-dram' permanent memmap in DRAM, '1a-pmem' permanent memmap carved from the PMem, '1b' allocated only for each I/O's duration, '2' none (PFN-only I/O bouncing through a DRAM copy)",
  },
  structPageBytes: {
    type: 'number',
    default: 64,
    description: 'Size of one struct page (64 B on x86-64)',
    kernelName: 'sizeof(struct page) (include/linux/mm_types.h)',
  },
  ioLatencyUs: {
    type: 'number',
    default: 20,
    description:
      "Time a page-cache fill or writeback spends on the storage device, before the transfer into or out of PMem is added (Intel SSD DC P3700 typical latency, the dram-pmem preset's writeback figure); variant 1b holds the struct page that long",
  },
  structPageAllocNs: {
    type: 'number',
    default: 100,
    description:
      'Variant 1b: CPU time to allocate, initialise and free one struct page around an I/O (assumption: a slab allocation and free, order of 100 ns)',
  },
} as const;

/** Bytes held until an expiry time; peak and time-weighted mean. */
class InFlight {
  private expiry = new Float64Array(256);
  private bytes = new Float64Array(256);
  private head = 0;
  private tail = 0;
  current = 0;
  peak = 0;
  private integral = 0;
  private last = 0;

  /** Release (by `release`) what expired by `now`, integrating over time. */
  advance(now: number, release: (bytes: number) => void): void {
    while (this.head < this.tail && this.expiry[this.head]! <= now) {
      const at = this.expiry[this.head]!;
      const bytes = this.bytes[this.head]!;
      this.head++;
      this.integrate(at);
      this.current -= bytes;
      release(bytes);
    }
    this.integrate(now);
  }

  /** Hold `bytes` until `until` (Infinity: for good). */
  hold(now: number, bytes: number, until: number): void {
    this.integrate(now);
    this.current += bytes;
    if (this.current > this.peak) this.peak = this.current;
    if (until === Number.POSITIVE_INFINITY) return;
    if (this.tail === this.expiry.length) this.compact();
    // Expiries arrive in order unless durations differ: insert sorted from the tail.
    let i = this.tail++;
    while (i > this.head && this.expiry[i - 1]! > until) {
      this.expiry[i] = this.expiry[i - 1]!;
      this.bytes[i] = this.bytes[i - 1]!;
      i--;
    }
    this.expiry[i] = until;
    this.bytes[i] = bytes;
  }

  mean(durationNs: number): number {
    return durationNs > 0 ? this.integral / durationNs : this.current;
  }

  private integrate(t: number): void {
    if (t > this.last) {
      this.integral += this.current * (t - this.last);
      this.last = t;
    }
  }

  private compact(): void {
    const live = this.tail - this.head;
    const size = live * 2 > this.expiry.length ? this.expiry.length * 2 : this.expiry.length;
    const expiry = new Float64Array(size);
    const bytes = new Float64Array(size);
    expiry.set(this.expiry.subarray(this.head, this.tail));
    bytes.set(this.bytes.subarray(this.head, this.tail));
    this.expiry = expiry;
    this.bytes = bytes;
    this.head = 0;
    this.tail = live;
  }
}

export const structPage: PolicyFactory = definePolicy({
  name: 'struct-page',
  version: '0.1.0',
  description:
    'struct page for persistent memory (2015): permanent memmap in DRAM or PMem (1a), struct pages only under I/O (1b), or PFN-only I/O with a bounce copy (2)',
  knobs,
  build: (k) => {
    const variant = k.variant as StructPageVariant;
    if (!(structPageVariants as readonly string[]).includes(variant)) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'struct-page',
        message: `knob 'variant' has an unknown value '${k.variant}'`,
        expected: structPageVariants.join(', '),
        excerpt: k.variant,
      });
    }
    if (!(k.structPageBytes > 0) || !(k.ioLatencyUs >= 0) || !(k.structPageAllocNs >= 0)) {
      throw new TierlabError({
        code: ErrorCode.policyKnob,
        policy: 'struct-page',
        message: 'structPageBytes must be above 0, ioLatencyUs and structPageAllocNs at least 0',
        expected: 'structPageBytes > 0, ioLatencyUs >= 0, structPageAllocNs >= 0',
      });
    }
    let pmemNode = -1;
    let dramNode = -1;
    // Node the metadata lives on (DRAM for 1a-dram and 1b, PMem for 1a-pmem), -1 for none.
    let metadataNode = -1;
    const metadata = new InFlight();
    const none = { add: (_: number) => {}, value: 0 };
    let ios = none;
    let ioBytes = none;
    let allocs = none;
    let allocCost = none;
    let peakDram = none;
    let peakPmem = none;
    let mean = none;
    let perIo = none;
    let copyBytes = none;
    let copyNs = none;

    const release = (ctx: PolicyContext) => (bytes: number) => ctx.freeMetadata(metadataNode, bytes);

    return {
      supports: ['placement', 'metadata', 'io'],

      init(ctx) {
        const nodes = ctx.machine.nodes;
        dramNode = (nodes.find((n) => n.hasCpus === true) ?? nodes[ctx.nodesByTier[0]!]!).id;
        pmemNode = nodes.find((n) => n.persistent && n.cpuAccess === 'coherent' && n.id !== dramNode)?.id ?? -1;
        ios = ctx.counter('pmem_ios', 'page-cache fills and writebacks of pages on PMem');
        ioBytes = ctx.counter('pmem_io_bytes', 'bytes of those I/Os');
        peakDram = ctx.counter('metadata_bytes_peak_dram', 'peak struct-page bytes held in DRAM');
        peakPmem = ctx.counter('metadata_bytes_peak_pmem', 'peak struct-page bytes carved from PMem');
        mean = ctx.counter('metadata_bytes_mean', 'struct-page bytes held, mean over the trace');
        allocs = ctx.counter('struct_page_allocs', '1b: struct pages allocated for an I/O');
        allocCost = ctx.counter('struct_page_alloc_cost_ns', '1b: CPU time allocating and freeing them');
        perIo = ctx.counter('struct_page_alloc_cost_ns_per_io', '1b: that time per I/O');
        copyBytes = ctx.counter('bounce_copy_bytes', '2: bytes copied through a DRAM bounce buffer');
        copyNs = ctx.counter('bounce_copy_ns', '2: time of those copies (bytes / the slower side of the copy)');
        if (pmemNode < 0) {
          ctx.warn('no_persistent_node', `machine ${ctx.machine.name} has no persistent node: no struct pages to account`);
          return;
        }
        if (variant === '1a-dram' || variant === '1a-pmem') {
          // A struct page per 4 KiB of PMem capacity, from boot (memmap_init / vmemmap_populate).
          metadataNode = variant === '1a-dram' ? dramNode : pmemNode;
          const bytes = ctx.node(pmemNode).capacityPages * k.structPageBytes;
          ctx.allocMetadata(metadataNode, bytes);
          metadata.hold(ctx.now(), bytes, Number.POSITIVE_INFINITY);
        } else if (variant === '1b') {
          metadataNode = dramNode;
        }
      },

      placePage: (_ctx, _page, hint) => (hint.kind === PageKind.file && pmemNode >= 0 ? pmemNode : hint.localNode),

      onIo(ctx, page, io) {
        if (pmemNode < 0 || ctx.pageNode(page) !== pmemNode) return;
        ios.add(1);
        ioBytes.add(io.bytes);
        const now = ctx.now();
        const pmem = ctx.node(pmemNode);
        const dram = ctx.node(dramNode);
        if (variant === '1b') {
          // The struct pages exist while the I/O is in flight: device time, then the transfer into or out of PMem.
          metadata.advance(now, release(ctx));
          const bandwidth = io.direction === 'read' ? pmem.writeBandwidthGBs : pmem.readBandwidthGBs;
          const until = now + k.ioLatencyUs * NS_PER_US + io.bytes / bandwidth;
          const bytes = ctx.pageNrPages(page) * k.structPageBytes;
          ctx.allocMetadata(metadataNode, bytes);
          metadata.hold(now, bytes, until);
          allocs.add(ctx.pageNrPages(page));
          allocCost.add(ctx.pageNrPages(page) * k.structPageAllocNs);
        } else if (variant === '2') {
          // No struct page: the block layer moves data through a DRAM buffer and the CPU copies it.
          // Fill: DRAM -> PMem; writeback: PMem -> DRAM. Bandwidth of the slower side (GB/s = bytes/ns).
          const bandwidth =
            io.direction === 'read'
              ? Math.min(dram.readBandwidthGBs, pmem.writeBandwidthGBs)
              : Math.min(pmem.readBandwidthGBs, dram.writeBandwidthGBs);
          copyBytes.add(io.bytes);
          copyNs.add(io.bytes / bandwidth);
        }
      },

      finish(ctx) {
        const now = ctx.now();
        if (metadataNode >= 0) metadata.advance(now, release(ctx));
        if (metadataNode === dramNode && metadataNode >= 0) peakDram.add(metadata.peak);
        if (metadataNode === pmemNode && metadataNode >= 0) peakPmem.add(metadata.peak);
        mean.add(metadata.mean(now));
        if (ios.value > 0) perIo.add(allocCost.value / ios.value);
      },
    };
  },
});

export default structPage;
