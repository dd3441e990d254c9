/**
 * Per-page state in typed arrays, indexed by dense page id, and per-node
 * LRU lists as intrusive doubly linked lists (the kernel's lruvec, one
 * active and one inactive list per node).
 */

export const PageFlag = {
  live: 1,
  dirty: 2,
  /** Accessed since the last reclaim scan looked at it (PG_referenced / the young bit). */
  referenced: 4,
  /** On the active LRU list. */
  active: 8,
  /** Made PROT_NONE by the NUMA scanner; the next access is a hint fault. */
  protNone: 16,
  /** Mapped into an address space (it was faulted in), so the NUMA scanner can see it. */
  mapped: 32,
  /** The accessed (young) bit, for A-bit scanners (ctx.testAndClearYoung). */
  young: 64,
} as const;

export const NOT_RESIDENT = -1;
const NIL = -1;

export class PageTable {
  capacity = 0;
  node = new Int8Array(0);
  nrPages = new Uint16Array(0);
  kind = new Uint8Array(0);
  flags = new Uint8Array(0);
  pid = new Int32Array(0);
  lastAccess = new Float64Array(0);
  dirtySince = new Float64Array(0);
  scanTimeMs = new Float64Array(0);
  lruPrev = new Int32Array(0);
  lruNext = new Int32Array(0);
  procPrev = new Int32Array(0);
  procNext = new Int32Array(0);
  procOf = new Int32Array(0);
  /** Node an explicit memory policy binds the page to, -1 none. */
  boundNode = new Int8Array(0);
  /** Accesses still to come for the page (oracle runs only). */
  future = new Float64Array(0);

  /** Heads and tails of LRU lists: index node * 2 + (active ? 1 : 0). Head is most recent. */
  readonly lruHead: Int32Array;
  readonly lruTail: Int32Array;
  /** Base pages on each list. */
  readonly lruPages: Float64Array;

  constructor(nodes: number, initial = 4096) {
    this.lruHead = new Int32Array(nodes * 2).fill(NIL);
    this.lruTail = new Int32Array(nodes * 2).fill(NIL);
    this.lruPages = new Float64Array(nodes * 2);
    this.grow(initial);
  }

  ensure(id: number): void {
    if (id >= this.capacity) {
      let cap = this.capacity;
      while (cap <= id) cap *= 2;
      this.grow(cap);
    }
  }

  private grow(capacity: number): void {
    const g = <T extends Int8Array | Uint8Array | Uint16Array | Int32Array | Float64Array>(old: T, next: T): T => {
      next.set(old as never);
      return next;
    };
    this.node = g(this.node, new Int8Array(capacity));
    this.nrPages = g(this.nrPages, new Uint16Array(capacity));
    this.kind = g(this.kind, new Uint8Array(capacity));
    this.flags = g(this.flags, new Uint8Array(capacity));
    this.pid = g(this.pid, new Int32Array(capacity));
    this.lastAccess = g(this.lastAccess, new Float64Array(capacity));
    this.dirtySince = g(this.dirtySince, new Float64Array(capacity));
    this.scanTimeMs = g(this.scanTimeMs, new Float64Array(capacity));
    this.lruPrev = g(this.lruPrev, new Int32Array(capacity));
    this.lruNext = g(this.lruNext, new Int32Array(capacity));
    this.procPrev = g(this.procPrev, new Int32Array(capacity));
    this.procNext = g(this.procNext, new Int32Array(capacity));
    this.procOf = g(this.procOf, new Int32Array(capacity));
    this.boundNode = g(this.boundNode, new Int8Array(capacity));
    this.future = g(this.future, new Float64Array(capacity));
    this.capacity = capacity;
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.capacity && (this.flags[id]! & PageFlag.live) !== 0;
  }

  /** Put a page at the head of a list. */
  lruAdd(id: number, node: number, active: boolean): void {
    const list = node * 2 + (active ? 1 : 0);
    const head = this.lruHead[list]!;
    this.lruPrev[id] = NIL;
    this.lruNext[id] = head;
    if (head !== NIL) this.lruPrev[head] = id;
    else this.lruTail[list] = id;
    this.lruHead[list] = id;
    this.lruPages[list] = this.lruPages[list]! + this.nrPages[id]!;
    if (active) this.flags[id] = this.flags[id]! | PageFlag.active;
    else this.flags[id] = this.flags[id]! & (~PageFlag.active);
  }

  lruRemove(id: number): void {
    const node = this.node[id]!;
    if (node < 0) return;
    const list = node * 2 + ((this.flags[id]! & PageFlag.active) !== 0 ? 1 : 0);
    const prev = this.lruPrev[id]!;
    const next = this.lruNext[id]!;
    if (prev !== NIL) this.lruNext[prev] = next;
    else this.lruHead[list] = next;
    if (next !== NIL) this.lruPrev[next] = prev;
    else this.lruTail[list] = prev;
    this.lruPages[list] = this.lruPages[list]! - (this.nrPages[id]!);
  }
}
