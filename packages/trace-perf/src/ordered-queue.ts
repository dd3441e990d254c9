/**
 * perf's ordered-events queue (tools/perf/util/ordered-events.c), as
 * `perf script` runs it: every record with a timestamp is queued; at each
 * PERF_RECORD_FINISHED_ROUND the records up to the previous round's
 * largest timestamp are delivered, sorted by time and, for equal times, in
 * the order they were queued; the rest wait for the next round.
 *
 * A queued record is only its time and where its bytes are (a buffer id
 * and an offset): records are decoded when delivered. The records of a
 * round are a few runs already in time order (one per CPU buffer read), so
 * a natural merge sort does the sorting.
 */

export class OrderedQueue {
  /** Queued records, columns; [0, sortedPrefix) is what earlier flushes left, in order. */
  time: Float64Array;
  buffer: Int32Array;
  offset: Int32Array;
  /** Per record: the attr index of a sample (its layout), 0 for other records. */
  attr: Int32Array;
  length = 0;
  private sortedPrefix = 0;
  private time2: Float64Array;
  private buffer2: Int32Array;
  private offset2: Int32Array;
  private attr2: Int32Array;
  private runs = new Int32Array(1024);
  /** oe->max_timestamp: the largest queued time since the queue was last empty. */
  private maxTimestamp = 0;
  /** oe->next_flush: records up to this time go out at the next round. */
  private nextFlush = 0;

  constructor(capacity = 1 << 16) {
    this.time = new Float64Array(capacity);
    this.buffer = new Int32Array(capacity);
    this.offset = new Int32Array(capacity);
    this.attr = new Int32Array(capacity);
    this.time2 = new Float64Array(capacity);
    this.buffer2 = new Int32Array(capacity);
    this.offset2 = new Int32Array(capacity);
    this.attr2 = new Int32Array(capacity);
  }

  /** Queue a record (perf's queue_event: after every record of the same or an earlier time). */
  push(time: number, buffer: number, offset: number, attr: number): void {
    const n = this.length;
    if (n === this.time.length) this.grow();
    if (n === 0 || time >= this.maxTimestamp) this.maxTimestamp = time;
    this.time[n] = time;
    this.buffer[n] = buffer;
    this.offset[n] = offset;
    this.attr[n] = attr;
    this.length = n + 1;
  }

  /** FINISHED_ROUND: sort, and return how many records (from index 0) are due now. */
  flushRound(): number {
    const n = this.length;
    if (n === 0) return 0;
    const limit = this.nextFlush;
    this.sort();
    const time = this.time;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (time[mid]! <= limit) lo = mid + 1;
      else hi = mid;
    }
    this.nextFlush = this.maxTimestamp;
    return lo;
  }

  /** End of data: sort, and return the count of all records. */
  flushAll(): number {
    if (this.length === 0) return 0;
    this.sort();
    return this.length;
  }

  /** Drop the first `count` records (delivered); the rest become the sorted prefix. */
  consume(count: number): void {
    const n = this.length;
    if (count > 0 && count < n) {
      this.time.copyWithin(0, count, n);
      this.buffer.copyWithin(0, count, n);
      this.offset.copyWithin(0, count, n);
      this.attr.copyWithin(0, count, n);
    }
    this.length = n - count;
    this.sortedPrefix = this.length;
  }

  private grow(): void {
    const size = this.time.length * 2;
    const grow = <T extends Float64Array | Int32Array>(old: T, next: T): T => {
      next.set(old as never);
      return next;
    };
    this.time = grow(this.time, new Float64Array(size));
    this.buffer = grow(this.buffer, new Int32Array(size));
    this.offset = grow(this.offset, new Int32Array(size));
    this.attr = grow(this.attr, new Int32Array(size));
    this.time2 = new Float64Array(size);
    this.buffer2 = new Int32Array(size);
    this.offset2 = new Int32Array(size);
    this.attr2 = new Int32Array(size);
  }

  /** Stable sort of [0, length) by time: merge the runs (the sorted prefix, then non-decreasing stretches). */
  private sort(): void {
    const n = this.length;
    let runCount = findRuns(this.time, this.sortedPrefix, n, this.runs);
    while (runCount < 0) {
      // More runs than room: grow and look again.
      this.runs = new Int32Array(this.runs.length * 2);
      runCount = findRuns(this.time, this.sortedPrefix, n, this.runs);
    }
    const a = { time: this.time, buffer: this.buffer, offset: this.offset, attr: this.attr };
    const b = { time: this.time2, buffer: this.buffer2, offset: this.offset2, attr: this.attr2 };
    let from = a;
    let to = b;
    while (runCount > 1) {
      runCount = mergePass(from, to, this.runs, runCount, n);
      const swap = from;
      from = to;
      to = swap;
    }
    this.time = from.time;
    this.buffer = from.buffer;
    this.offset = from.offset;
    this.attr = from.attr;
    this.time2 = to.time;
    this.buffer2 = to.buffer;
    this.offset2 = to.offset;
    this.attr2 = to.attr;
  }
}

/** Queue columns. */
interface Columns {
  time: Float64Array;
  buffer: Int32Array;
  offset: Int32Array;
  attr: Int32Array;
}

/**
 * Starts of the runs of [0, n) into `runs` (then n): [0, sortedPrefix) is one,
 * then each maximal non-decreasing stretch. Returns the count, or -1 when
 * `runs` is too small.
 */
function findRuns(time: Float64Array, sortedPrefix: number, n: number, runs: Int32Array): number {
  let runCount = 0;
  let i = 0;
  if (sortedPrefix > 0) {
    runs[runCount++] = 0;
    i = sortedPrefix;
  }
  const room = runs.length - 1;
  while (i < n) {
    if (runCount >= room) return -1;
    runs[runCount++] = i;
    i++;
    while (i < n && time[i]! >= time[i - 1]!) i++;
  }
  runs[runCount] = n;
  return runCount;
}

/** Merge neighbouring runs of `from` into `to` (ties from the left run: stable); returns the new run count. */
function mergePass(from: Columns, to: Columns, runs: Int32Array, runCount: number, n: number): number {
  let out = 0;
  for (let r = 0; r < runCount; r += 2) {
    const start = runs[r]!;
    const mid = runs[r + 1]!;
    const end = r + 1 < runCount ? runs[r + 2]! : mid;
    if (mid === end || from.time[mid - 1]! <= from.time[mid]!) copyRange(from, to, start, end, start);
    else mergeTwo(from, to, start, mid, end);
    runs[out++] = start;
  }
  runs[out] = n;
  return out;
}

function copyRange(from: Columns, to: Columns, start: number, end: number, at: number): void {
  to.time.set(from.time.subarray(start, end), at);
  to.buffer.set(from.buffer.subarray(start, end), at);
  to.offset.set(from.offset.subarray(start, end), at);
  to.attr.set(from.attr.subarray(start, end), at);
}

function mergeTwo(from: Columns, to: Columns, start: number, mid: number, end: number): void {
  const st = from.time;
  const sb = from.buffer;
  const so = from.offset;
  const sa = from.attr;
  const dt = to.time;
  const db = to.buffer;
  const dO = to.offset;
  const da = to.attr;
  let k = start;
  let x = start;
  let y = mid;
  let tx = st[x]!;
  let ty = st[y]!;
  for (;;) {
    if (ty < tx) {
      dt[k] = ty;
      db[k] = sb[y]!;
      dO[k] = so[y]!;
      da[k] = sa[y]!;
      k++;
      y++;
      if (y === end) break;
      ty = st[y]!;
    } else {
      dt[k] = tx;
      db[k] = sb[x]!;
      dO[k] = so[x]!;
      da[k] = sa[x]!;
      k++;
      x++;
      if (x === mid) break;
      tx = st[x]!;
    }
  }
  if (x < mid) copyRange(from, to, x, mid, k);
  else if (y < end) copyRange(from, to, y, end, k);
}
