/**
 * Event streams the kit replays: a real capture, read and normalized once and
 * kept in memory as columnar batches, and short generated streams for the
 * edge cases a capture may not show (every access source, multi-page folios,
 * lost events, page-id reuse, pressure, hot pages on a slow tier).
 */

import { LifetimeRecorder } from '@tierlab/engine';
import {
  AccessSource,
  type AccessSource as AccessSourceValue,
  type EventBatch,
  EventFlag,
  EventKind,
  PageKind,
  type PageKind as PageKindValue,
  createEventBatch,
} from '@tierlab/memory-tier-api';

/** A replayable stream of memory events, held in memory. */
export interface EventStream {
  /** Short name used in failure messages: the capture's file name, or the generated stream's. */
  readonly name: string;
  readonly description: string;
  /** The events, in time order; every batch is owned by the stream (never refilled). */
  readonly batches: readonly EventBatch[];
  /** Peak live base pages: what relative machine capacities (`25%`) resolve against. */
  readonly footprintPages: number;
  /** Sum of `count` over access rows: what the engine must charge. */
  readonly accesses: number;
  readonly events: number;
}

const MS = 1e6;

type Column = Exclude<EventBatch[keyof EventBatch], number>;

/** A batch with every column (whatever columns the API version has) mapped by `fn`. */
function mapColumns(batch: EventBatch, length: number, fn: (column: Column) => Column): EventBatch {
  const out: Record<string, unknown> = { length };
  for (const [key, value] of Object.entries(batch)) {
    if (ArrayBuffer.isView(value)) out[key] = fn(value as Column);
  }
  return out as unknown as EventBatch;
}

/** Copy the first `batch.length` rows of a batch (the normalizer refills its batch). */
export function copyBatch(batch: EventBatch): EventBatch {
  const n = batch.length;
  return mapColumns(batch, n, (column) => column.slice(0, n) as Column);
}

const lifetimes = new WeakMap<EventStream, Float64Array>();

/**
 * Accesses of every page lifetime, in the order of the alloc events: what an
 * oracle policy is told of the future (ctx.pageFutureAccesses), computed as
 * `tierlab replay` computes it.
 */
export function lifetimeAccessesOf(stream: EventStream): Float64Array {
  let totals = lifetimes.get(stream);
  if (totals !== undefined) return totals;
  const recorder = new LifetimeRecorder();
  for (const b of stream.batches) recorder.push(b);
  totals = recorder.result();
  lifetimes.set(stream, totals);
  return totals;
}

/** Views of at most `rows` rows each over a stream's batches (no copy), for fine interleaving. */
export function chunkBatches(batches: readonly EventBatch[], rows: number): EventBatch[] {
  const out: EventBatch[] = [];
  for (const b of batches) {
    for (let start = 0; start < b.length; start += rows) {
      const end = Math.min(b.length, start + rows);
      out.push(mapColumns(b, end - start, (column) => column.subarray(start, end) as Column));
    }
  }
  return out;
}

/** Collects batches and measures footprint and accesses as they go by. */
export class StreamCollector {
  readonly batches: EventBatch[] = [];
  private readonly live = new Map<number, number>();
  private livePages = 0;
  private peak = 0;
  private accessCount = 0;
  private eventCount = 0;

  /** Take a copy of `batch`. */
  push(batch: EventBatch): void {
    this.adopt(copyBatch(batch));
  }

  /** Take `batch` itself: the caller gives it up. */
  adopt(copy: EventBatch): void {
    for (let i = 0; i < copy.length; i++) {
      const kind = copy.kind[i]!;
      const page = copy.page[i]!;
      if (kind === EventKind.alloc) {
        const nr = copy.nrPages[i]!;
        this.live.set(page, nr);
        this.livePages += nr;
        if (this.livePages > this.peak) this.peak = this.livePages;
      } else if (kind === EventKind.free) {
        const nr = this.live.get(page);
        if (nr !== undefined) {
          this.live.delete(page);
          this.livePages -= nr;
        }
      } else if (kind === EventKind.access) {
        this.accessCount += copy.count[i]!;
      }
    }
    this.eventCount += copy.length;
    this.batches.push(copy);
  }

  finish(name: string, description: string): EventStream {
    return {
      name,
      description,
      batches: this.batches,
      footprintPages: this.peak,
      accesses: this.accessCount,
      events: this.eventCount,
    };
  }
}

interface AccessOptions {
  readonly source?: AccessSourceValue;
  readonly write?: boolean;
  readonly count?: number;
  readonly pid?: number;
  readonly unlinked?: boolean;
  /** Source `device`: the node of the device that accesses (-1: none named). */
  readonly node?: number;
}

/** Writes a generated stream row by row, in time order, into small batches. */
export class StreamBuilder {
  private readonly collector = new StreamCollector();
  private batch: EventBatch;
  private last = 0;

  constructor(private readonly rowsPerBatch = 256) {
    this.batch = createEventBatch(rowsPerBatch);
  }

  alloc(timeNs: number, page: number, nrPages = 1, kind: PageKindValue = PageKind.anon, pid = 42, write = true): void {
    this.row(EventKind.alloc, timeNs, page, nrPages, kind | (write ? EventFlag.write : 0), pid, 1);
  }

  free(timeNs: number, page: number, pid = 42): void {
    this.row(EventKind.free, timeNs, page, 1, 0, pid, 1);
  }

  access(timeNs: number, page: number, options: AccessOptions = {}): void {
    const source = options.source ?? AccessSource.fault;
    const flags =
      (source << EventFlag.sourceShift) | (options.write ? EventFlag.write : 0) | (options.unlinked ? EventFlag.unlinked : 0);
    this.row(EventKind.access, timeNs, page, 1, flags, options.pid ?? 42, options.count ?? 1, options.node ?? -1);
  }

  lost(timeNs: number, count: number): void {
    this.row(EventKind.lost, timeNs, -1, 1, 0, -1, count);
  }

  finish(name: string, description: string): EventStream {
    this.flush();
    return this.collector.finish(name, description);
  }

  private row(kind: number, time: number, page: number, nrPages: number, flags: number, pid: number, count: number, node = -1): void {
    if (time < this.last) throw new TypeError(`generated stream goes back in time: ${time} < ${this.last}`);
    this.last = time;
    const b = this.batch;
    const i = b.length++;
    b.kind[i] = kind;
    b.time[i] = time;
    b.page[i] = page;
    b.nrPages[i] = nrPages;
    b.flags[i] = flags;
    b.pid[i] = pid;
    b.count[i] = count;
    // The node column (alloc: bound node; device access: the device), when this API version has it.
    const nodes = (b as { node?: Int8Array }).node;
    if (nodes !== undefined) nodes[i] = node;
    if (b.length === this.rowsPerBatch) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    this.collector.adopt(copyBatch(this.batch));
    this.batch = createEventBatch(this.rowsPerBatch);
  }
}

const sources: readonly AccessSourceValue[] = [
  AccessSource.fault,
  AccessSource.activate,
  AccessSource.ioFill,
  AccessSource.dirty,
  AccessSource.sample,
  AccessSource.device,
];

/**
 * Every event kind and every access source: pages of each kind (anon, file,
 * kernel, device) in folios of 1, 4 and 512 base pages, reads and writes from
 * every source, aggregated samples, pid -1, unlinked pages, lost-event
 * markers with and without a count, events at the same instant, frees, and
 * page ids reused after their free (as the normalizer reuses them). 12 s of
 * trace time, so scanners and ticks fire. Device accesses name `deviceNode`.
 */
export function everyEventKindStream(deviceNode = -1): EventStream {
  const s = new StreamBuilder();
  const kinds: readonly PageKindValue[] = [PageKind.anon, PageKind.file, PageKind.kernel, PageKind.device];
  const folios = [1, 4, 512];
  let page = 0;
  let t = 0;
  const live: Array<{ page: number; pid: number }> = [];
  // 3 processes, every kind, every folio size, 8 of each.
  for (let round = 0; round < 8; round++) {
    for (const kind of kinds) {
      for (const nr of folios) {
        const pid = kind === PageKind.kernel ? -1 : 100 + (page % 3);
        s.alloc(t, page, nr, kind, pid, round % 2 === 0);
        s.access(t, page, { source: AccessSource.fault, write: true, pid });
        live.push({ page, pid });
        page++;
        t += 10_000;
      }
    }
  }
  s.lost(t, 0);
  s.lost(t, 100);
  // Touch everything from every source, reads and writes, over 12 s.
  for (let step = 0; step < 120; step++) {
    t = 100 * MS * (step + 1);
    const source = sources[step % sources.length]!;
    for (let i = step % 5; i < live.length; i += 5) {
      const { page: p, pid } = live[i]!;
      s.access(t, p, {
        source,
        write: (step + i) % 3 === 0,
        count: source === AccessSource.sample ? 1 + (i % 7) : 1,
        pid: step % 11 === 0 ? -1 : pid,
        unlinked: step % 13 === 0,
        node: source === AccessSource.device ? deviceNode : -1,
      });
    }
    if (step % 17 === 16) s.lost(t, step);
    // Free a few pages and reuse their ids, at the same instant.
    if (step % 10 === 9 && live.length > 10) {
      const victim = live.splice(step % live.length, 1)[0]!;
      s.free(t, victim.page, victim.pid);
      s.alloc(t, victim.page, 1, PageKind.anon, victim.pid, true);
      s.access(t, victim.page, { source: AccessSource.fault, write: true, pid: victim.pid });
      live.push(victim);
    }
  }
  t += MS;
  for (const { page: p, pid } of live.splice(0, live.length / 2)) s.free(t, p, pid);
  return s.finish('every-event-kind', 'generated: every page kind, folio size, access source and event kind, page-id reuse, 12 s');
}

/**
 * Memory pressure: 6000 anon pages of two processes faulted in over 3 s while
 * older pages are touched again (LRU activations) and a fifth are freed.
 * Replayed on a machine far smaller than its footprint.
 */
export function pressureStream(): EventStream {
  const s = new StreamBuilder();
  const live: number[] = [];
  let t = 0;
  for (let page = 0; page < 6000; page++) {
    t = page * 500_000;
    const pid = 200 + (page % 2);
    s.alloc(t, page, 1, page % 10 === 0 ? PageKind.file : PageKind.anon, pid, true);
    s.access(t, page, { source: page % 10 === 0 ? AccessSource.ioFill : AccessSource.fault, write: true, pid });
    live.push(page);
    if (page % 7 === 0 && live.length > 50) {
      // Re-touch an old page (a working set that is larger than the fast tier).
      const old = live[(page * 31) % live.length]!;
      s.access(t, old, { source: AccessSource.activate, pid });
      s.access(t, old, { source: AccessSource.fault, write: page % 2 === 0, pid });
    }
    if (page % 5 === 4) {
      const victim = live.splice((page * 17) % live.length, 1)[0]!;
      s.free(t, victim, 200 + (victim % 2));
    }
  }
  return s.finish('pressure', 'generated: 6000 pages faulted in over 3 s, old pages re-touched, a fifth freed');
}

/**
 * Hot pages on a slow tier: 2000 anon pages faulted in at once (a quarter
 * fit in the fast tier of the default machines, the rest fall back to the
 * slow tier), the first 400 freed at 1 s so the fast tier has room, then
 * every remaining page touched every 100 ms from 1.1 s to 5 s.
 */
export function hotSlowTierStream(): EventStream {
  const s = new StreamBuilder();
  const pages = 2000;
  for (let page = 0; page < pages; page++) {
    s.alloc(page * 1000, page, 1, PageKind.anon, 42, true);
    s.access(page * 1000, page, { source: AccessSource.fault, write: true, pid: 42 });
  }
  for (let page = 0; page < 400; page++) s.free(1000 * MS + page, page, 42);
  for (let round = 0; round < 40; round++) {
    const t = (1100 + round * 100) * MS;
    for (let page = 400; page < pages; page++) s.access(t + page, page, { source: AccessSource.fault, pid: 42 });
  }
  return s.finish('hot-slow-tier', 'generated: 1600 pages, most on the slow tier, touched every 100 ms for 4 s with the fast tier partly free');
}

/**
 * Freed pages whose ids are never reused: 1000 pages, half freed at 1 s,
 * the rest touched every second to 10 s while new pages (new ids) come and
 * go. A policy that keeps a page id past its free and uses it is caught here
 * (with reused ids, as in a real capture, the stale id may happen to be live).
 */
export function staleIdsStream(): EventStream {
  const s = new StreamBuilder();
  for (let page = 0; page < 1000; page++) {
    s.alloc(page * 1000, page, 1, page % 4 === 0 ? PageKind.file : PageKind.anon, 300, true);
    s.access(page * 1000, page, { source: AccessSource.fault, write: true, pid: 300 });
  }
  for (let page = 0; page < 1000; page += 2) s.free(1000 * MS + page, page, 300);
  let next = 1000;
  for (let second = 2; second <= 10; second++) {
    const t = second * 1000 * MS;
    for (let page = 1; page < 1000; page += 2) s.access(t + page, page, { source: AccessSource.fault, pid: 300 });
    const first = next;
    for (let k = 0; k < 50; k++) {
      s.alloc(t + 5000 + k, next, 1, PageKind.anon, 301, true);
      s.access(t + 5000 + k, next, { source: AccessSource.fault, write: true, pid: 301 });
      next++;
    }
    for (let k = 0; k < 50; k += 2) s.free(t + 500 * MS + k, first + k, 301);
  }
  return s.finish('stale-ids', 'generated: half the pages freed at 1 s and their ids never reused, 10 s of touches and churn');
}

/** The generated streams, by name. */
export function generatedStreams(): Record<'everyEventKind' | 'pressure' | 'hotSlowTier' | 'staleIds', EventStream> {
  return {
    everyEventKind: everyEventKindStream(),
    pressure: pressureStream(),
    hotSlowTier: hotSlowTierStream(),
    staleIds: staleIdsStream(),
  };
}
