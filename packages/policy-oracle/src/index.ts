/**
 * oracle: clairvoyant placement, the upper bound the other rows are measured
 * against. Told every access and each page's remaining accesses
 * (observe.oracle, ctx.pageFutureAccesses), it keeps in the fast tier the
 * pages with the most accesses still to come, in the spirit of Belady's MIN
 * (L. A. Belady, "A study of replacement algorithms for a virtual-storage
 * computer", IBM Systems Journal 5(2), 1966): after each access to a
 * slow-tier page it promotes the page if more accesses remain for it than for
 * the coldest fast-tier page, demoting that one. Fast-tier pages sit in a
 * min-heap keyed by their remaining accesses, so each decision is O(log n).
 * No kernel can do this: results that include it say so (observe.oracle).
 */

import { type PageRef, type PolicyContext, type PolicyFactory, definePolicy } from '@tierlab/memory-tier-api';

/** Min-heap of pages keyed by remaining accesses, with positions for decrease-key and removal. */
class PageHeap {
  private pages = new Int32Array(1024);
  private keys = new Float64Array(1024);
  private pos = new Int32Array(1024).fill(-1);
  size = 0;

  has(page: PageRef): boolean {
    return page < this.pos.length && this.pos[page]! >= 0;
  }

  peek(): PageRef {
    return this.size > 0 ? this.pages[0]! : -1;
  }

  peekKey(): number {
    return this.size > 0 ? this.keys[0]! : Number.POSITIVE_INFINITY;
  }

  /** Insert, or move an existing page to its new key. */
  set(page: PageRef, key: number): void {
    if (this.has(page)) {
      const i = this.pos[page]!;
      const old = this.keys[i]!;
      this.keys[i] = key;
      if (key < old) this.up(i);
      else if (key > old) this.down(i);
      return;
    }
    if (page >= this.pos.length) {
      let n = this.pos.length;
      while (n <= page) n *= 2;
      const pos = new Int32Array(n).fill(-1);
      pos.set(this.pos);
      this.pos = pos;
    }
    if (this.size === this.pages.length) {
      const pages = new Int32Array(this.size * 2);
      const keys = new Float64Array(this.size * 2);
      pages.set(this.pages);
      keys.set(this.keys);
      this.pages = pages;
      this.keys = keys;
    }
    const i = this.size++;
    this.pages[i] = page;
    this.keys[i] = key;
    this.pos[page] = i;
    this.up(i);
  }

  remove(page: PageRef): void {
    if (!this.has(page)) return;
    const i = this.pos[page]!;
    const last = --this.size;
    this.pos[page] = -1;
    if (i === last) return;
    const moved = this.pages[last]!;
    this.pages[i] = moved;
    this.keys[i] = this.keys[last]!;
    this.pos[moved] = i;
    this.up(i);
    this.down(this.pos[moved]!);
  }

  private swap(a: number, b: number): void {
    const pa = this.pages[a]!;
    const ka = this.keys[a]!;
    this.pages[a] = this.pages[b]!;
    this.keys[a] = this.keys[b]!;
    this.pages[b] = pa;
    this.keys[b] = ka;
    this.pos[this.pages[a]!] = a;
    this.pos[this.pages[b]!] = b;
  }

  /** Ties broken by page id, so a run repeats exactly. */
  private less(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka < kb || (ka === kb && this.pages[a]! < this.pages[b]!);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.less(l, m)) m = l;
      if (r < this.size && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

export const oracle: PolicyFactory<Record<string, never>> = definePolicy({
  name: 'oracle',
  version: '0.1.0',
  description:
    'Clairvoyant placement (an upper bound no kernel has): the fast tier holds the pages with the most accesses still to come',
  knobs: {},
  build: () => {
    const heap = new PageHeap();
    let fast = -1;
    let slow = -1;
    const none = { add: (_: number) => {}, value: 0 };
    let swaps = none;
    let placedSlow = none;
    let retired = none;

    /** Fast-tier pages in the heap that the engine moved or evicted meanwhile are dropped on sight. */
    const coldest = (ctx: PolicyContext): PageRef => {
      for (;;) {
        const page = heap.peek();
        if (page === -1 || ctx.pageNode(page) === fast) return page;
        heap.remove(page);
      }
    };

    /** Demote the coldest fast-tier page; false when none or it cannot move. */
    const demoteColdest = (ctx: PolicyContext, below: number): boolean => {
      const victim = coldest(ctx);
      if (victim === -1 || heap.peekKey() >= below) return false;
      heap.remove(victim);
      if (slow >= 0 && ctx.migrate(victim, slow, 'demote')) return true;
      ctx.evict(victim);
      return true;
    };

    return {
      supports: ['placement', 'reclaim', 'promotion', 'demotion', 'access-samples'],
      observe: { oracle: true },

      init(ctx) {
        const nodes = ctx.machine.nodes;
        fast = (nodes.find((n) => n.hasCpus === true) ?? nodes[ctx.nodesByTier[0]!]!).id;
        slow = ctx.demotionTarget(fast);
        swaps = ctx.counter('promotions_by_future', 'slow-tier pages promoted because more accesses remained for them');
        retired = ctx.counter('demoted_after_last_access', 'fast-tier base pages demoted right after their last access');
        placedSlow = ctx.counter('placed_slow_no_future', 'base pages placed on the slow tier because no access of theirs remained');
      },

      placePage(ctx, page, hint) {
        // A page no access will touch again goes straight to the slow tier.
        if (slow >= 0 && ctx.pageFutureAccesses(page) === 0) {
          placedSlow.add(hint.nrPages);
          return slow;
        }
        return fast;
      },

      onPlaced(ctx, page, node) {
        if (node === fast) heap.set(page, ctx.pageFutureAccesses(page));
      },

      onAccessSample(ctx, sample) {
        const page = sample.page;
        const node = ctx.pageNode(page);
        const remaining = ctx.pageFutureAccesses(page);
        if (node === fast) {
          if (remaining > 0 || sample.deviceNode >= 0 || slow < 0) {
            heap.set(page, remaining);
            return;
          }
          // Its last access: make room for pages that still have some (Belady evicts these first).
          heap.remove(page);
          if (!ctx.migrate(page, slow, 'demote')) ctx.evict(page);
          retired.add(ctx.pageNrPages(page));
          return;
        }
        if (node < 0 || slow < 0 || remaining === 0 || sample.deviceNode >= 0) return;
        // Promote if the fast tier has room above its high watermark, or can be made to have it
        // by demoting pages with fewer accesses to come.
        const nr = ctx.pageNrPages(page);
        const high = ctx.node(fast).watermarks.high;
        while (ctx.freePages(fast) - nr < high) {
          if (!demoteColdest(ctx, remaining)) return;
        }
        if (ctx.migrate(page, fast, 'promote')) {
          heap.set(page, remaining);
          swaps.add(nr);
        }
      },

      onPressure(ctx, node, pagesWanted) {
        if (node !== fast) {
          // Evict the pages with the fewest accesses to come (a slow scan: pressure on the slow tier is rare).
          const pages = ctx.pagesOnNode(node, Number.POSITIVE_INFINITY);
          const future = new Map(pages.map((page) => [page, ctx.pageFutureAccesses(page)]));
          pages.sort((a, b) => future.get(a)! - future.get(b)! || a - b);
          let freed = 0;
          for (const page of pages) {
            if (freed >= pagesWanted) break;
            freed += ctx.pageNrPages(page);
            ctx.evict(page);
          }
          return;
        }
        // Reclaim takes the pages with the fewest accesses to come first.
        const target = ctx.freePages(fast) + pagesWanted;
        while (ctx.freePages(fast) < target) {
          if (!demoteColdest(ctx, Number.POSITIVE_INFINITY)) break;
        }
        if (ctx.freePages(fast) < target) ctx.reclaim(node, target - ctx.freePages(fast));
      },

      onFree(_ctx, page) {
        heap.remove(page);
      },
    };
  },
});

export default oracle;
