/** Metrics per interval of trace time, kept as columns. */
export interface SeriesResult {
  readonly intervalMs: number;
  /** End of each interval, ms since the trace began. */
  readonly timeMs: number[];
  readonly accesses: number[];
  readonly accessCostNs: number[];
  readonly fastTierAccessShare: number[];
  readonly promotedPages: number[];
  readonly demotedPages: number[];
  readonly evictedPages: number[];
  readonly dirtyBytesAtRisk: number[];
  readonly lostEvents: number[];
  /** Used base pages per node at the end of each interval: usedPages[node][row]. */
  readonly usedPages: number[][];
}

export class SeriesRecorder {
  private readonly intervalNs: number;
  private end: number;
  private accesses = 0;
  private cost_ = 0;
  private fast = 0;
  private promoted_ = 0;
  private demoted_ = 0;
  private evicted_ = 0;
  private lost_ = 0;
  private readonly out: SeriesResult;

  constructor(intervalNs: number, nodes: number) {
    if (!(intervalNs > 0)) throw new TypeError('intervalMs must be positive');
    this.intervalNs = intervalNs;
    this.end = intervalNs;
    this.out = {
      intervalMs: intervalNs / 1e6,
      timeMs: [],
      accesses: [],
      accessCostNs: [],
      fastTierAccessShare: [],
      promotedPages: [],
      demotedPages: [],
      evictedPages: [],
      dirtyBytesAtRisk: [],
      lostEvents: [],
      usedPages: Array.from({ length: nodes }, () => []),
    };
  }

  cost(ns: number, count: number, fast: boolean): void {
    this.cost_ += ns;
    this.accesses += count;
    if (fast) this.fast += count;
  }
  promoted(n: number): void {
    this.promoted_ += n;
  }
  demoted(n: number): void {
    this.demoted_ += n;
  }
  evicted(n: number): void {
    this.evicted_ += n;
  }
  lost(n: number): void {
    this.lost_ += n;
  }

  /** Close every interval that ends at or before `t`. */
  advance(t: number, used: Float64Array, dirtyBytes: number): void {
    while (t >= this.end) {
      this.row(this.end, used, dirtyBytes);
      this.end += this.intervalNs;
    }
  }

  /** Close the last (partial) interval. */
  close(t: number, used: Float64Array, dirtyBytes: number): void {
    this.advance(t, used, dirtyBytes);
    this.row(t, used, dirtyBytes);
  }

  result(): SeriesResult {
    return this.out;
  }

  private row(t: number, used: Float64Array, dirtyBytes: number): void {
    const o = this.out;
    o.timeMs.push(t / 1e6);
    o.accesses.push(this.accesses);
    o.accessCostNs.push(this.cost_);
    o.fastTierAccessShare.push(this.accesses > 0 ? this.fast / this.accesses : 0);
    o.promotedPages.push(this.promoted_);
    o.demotedPages.push(this.demoted_);
    o.evictedPages.push(this.evicted_);
    o.dirtyBytesAtRisk.push(dirtyBytes);
    o.lostEvents.push(this.lost_);
    for (let n = 0; n < used.length; n++) o.usedPages[n]!.push(used[n]!);
    this.accesses = 0;
    this.cost_ = 0;
    this.fast = 0;
    this.promoted_ = 0;
    this.demoted_ = 0;
    this.evicted_ = 0;
    this.lost_ = 0;
  }
}
