/**
 * valgrind `--tool=lackey --trace-mem=yes` output:
 *
 *   ==PID== banner and summary lines
 *   I  0401ab70,3      instruction fetch (address, size)
 *    L 1fff0006f8,8    load
 *    S 1fff0006f0,8    store
 *    M 1fff000668,8    modify (a load and a store)
 *
 * Addresses are hex without 0x; sizes 1..32 bytes. Lackey gives no time:
 * the instruction count is the clock (`nsPerInstruction`, an assumption the
 * result states). Loads and stores are aggregated per 4 KiB page per slice
 * of `sliceInstructions`, so a billion-line trace becomes a few records per
 * page per slice. An access that crosses a page boundary counts on both pages.
 */

import type { TierlabError } from '@tierlab/memory-tier-api';
import {
  type RawBatch,
  type ReaderStats,
  Tracepoint,
  createRawBatch,
  createReaderStats,
  excerptOf,
  lineBlocks,
  openTrace,
  syntaxError,
} from '@tierlab/trace-core';

export interface LackeyOptions {
  /** Instructions per aggregation slice (default 100000). */
  readonly sliceInstructions?: number;
  /** Trace time per instruction, ns (default 0.5: an assumption, about 1 instruction per cycle at 2 GHz). */
  readonly nsPerInstruction?: number;
  /** Count instruction fetches as reads of code pages (default false: data accesses only). */
  readonly instructions?: boolean;
  readonly batchSize?: number;
  readonly zstd?: 'auto' | 'program' | 'js';
}

export interface LackeyReader {
  readonly stats: ReaderStats;
  batches(): AsyncGenerator<RawBatch>;
}

const READER = 'lackey';
const SPACE = 0x20;
const NL = 0x0a;
const EQ = 0x3d;

/** True when the first bytes look like lackey output (`==PID== ` banner or an `I  ` line). */
export function sniffLackey(head: Uint8Array): boolean {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 512)).toString('latin1');
  return /^==\d+== /.test(text) || /^I {2}[0-9a-f]+,\d+\n/.test(text);
}

export function openLackey(path: string, options: LackeyOptions = {}): LackeyReader {
  const stats = createReaderStats('lackey');
  const slice = options.sliceInstructions ?? 100_000;
  const nsPerInstruction = options.nsPerInstruction ?? 0.5;
  if (!(slice > 0) || !(nsPerInstruction > 0)) throw new TypeError('sliceInstructions and nsPerInstruction must be positive');
  const withInstructions = options.instructions ?? false;
  const batch = createRawBatch(options.batchSize ?? 8192);
  const counts = stats.eventCounts;
  counts.lackey_instruction = 0;
  counts.lackey_load = 0;
  counts.lackey_store = 0;
  counts.lackey_modify = 0;

  // Per-slice aggregation: page -> slot, with counts in typed arrays.
  let slotOf = new Map<number, number>();
  let slotPage = new Float64Array(4096);
  let slotLoads = new Float64Array(4096);
  let slotStores = new Float64Array(4096);
  let slots = 0;
  const touch = (page: number, load: number, store: number) => {
    let slot = slotOf.get(page);
    if (slot === undefined) {
      slot = slots++;
      if (slot === slotPage.length) {
        const grow = (a: Float64Array) => {
          const b = new Float64Array(a.length * 2);
          b.set(a);
          return b;
        };
        slotPage = grow(slotPage);
        slotLoads = grow(slotLoads);
        slotStores = grow(slotStores);
      }
      slotOf.set(page, slot);
      slotPage[slot] = page;
      slotLoads[slot] = 0;
      slotStores[slot] = 0;
    }
    slotLoads[slot] = slotLoads[slot]! + load;
    slotStores[slot] = slotStores[slot]! + store;
  };

  let pid = -1;
  let commId = -1;

  async function* batches(): AsyncGenerator<RawBatch> {
    let instructions = 0;
    let sliceEnd = slice;
    /** Emit the slice's pages in page order (deterministic), then start a new slice. */
    function* flushSlice(endInstr: number): Generator<RawBatch> {
      if (slots === 0) return;
      const order = Array.from({ length: slots }, (_, i) => i).sort((x, y) => slotPage[x]! - slotPage[y]!);
      const t = endInstr * nsPerInstruction;
      for (const slot of order) {
        const k = batch.length++;
        batch.event[k] = Tracepoint.memAccess;
        batch.time[k] = t;
        batch.cpu[k] = 0;
        batch.tid[k] = pid;
        batch.pid[k] = pid;
        batch.comm[k] = commId;
        batch.a[k] = slotPage[slot]!;
        batch.b[k] = slotLoads[slot]!;
        batch.c[k] = slotStores[slot]!;
        batch.d[k] = 0;
        batch.e[k] = 0;
        batch.line[k] = 0;
        if (Number.isNaN(stats.firstTimeNs)) stats.firstTimeNs = t;
        stats.lastTimeNs = t;
        counts.mem_access = (counts.mem_access ?? 0) + 1;
        if (batch.length === batch.event.length) {
          yield batch;
          batch.length = 0;
        }
      }
      slotOf = new Map();
      slots = 0;
    }

    for await (const block of lineBlocks(openTrace(path, options.zstd ? { zstd: options.zstd } : {}))) {
      const bytes = block.bytes;
      const end = bytes.length;
      stats.bytesRead += end;
      let pos = 0;
      let line = block.firstLine;
      while (pos < end) {
        let nl = bytes.indexOf(NL, pos);
        if (nl < 0) nl = end;
        const c0 = bytes[pos];
        if (c0 === 0x49 /* I */ && bytes[pos + 1] === SPACE) {
          instructions++;
          counts.lackey_instruction!++;
          if (withInstructions) parseAccess(bytes, pos + 3, nl, line, pos, 1, 0);
          if (instructions >= sliceEnd) {
            yield* flushSlice(instructions);
            sliceEnd += slice;
          }
        } else if (c0 === SPACE && bytes[pos + 2] === SPACE) {
          const k = bytes[pos + 1];
          if (k === 0x4c /* L */) {
            counts.lackey_load!++;
            parseAccess(bytes, pos + 3, nl, line, pos, 1, 0);
          } else if (k === 0x53 /* S */) {
            counts.lackey_store!++;
            parseAccess(bytes, pos + 3, nl, line, pos, 0, 1);
          } else if (k === 0x4d /* M */) {
            counts.lackey_modify!++;
            parseAccess(bytes, pos + 3, nl, line, pos, 1, 1);
          } else {
            throw bad(bytes, line, pos, nl, 1, "' L ', ' S ' or ' M '");
          }
        } else if (c0 === EQ && bytes[pos + 1] === EQ) {
          stats.headerLines++;
          header(bytes, pos, nl);
        } else if (nl === pos) {
          // blank line
        } else {
          throw bad(bytes, line, pos, nl, 0, "a lackey record ('I  addr,size', ' L addr,size', ' S …', ' M …') or a '==PID==' line");
        }
        stats.lines++;
        line++;
        pos = nl + 1;
      }
      if (batch.length > 0) {
        yield batch;
        batch.length = 0;
      }
    }
    yield* flushSlice(instructions);
    if (batch.length > 0) {
      yield batch;
      batch.length = 0;
    }
  }

  function parseAccess(bytes: Buffer, at: number, nl: number, line: number, lineStart: number, load: number, store: number): void {
    let address = 0;
    let p = at;
    for (; p < nl; p++) {
      const c = bytes[p]!;
      let v: number;
      if (c >= 0x30 && c <= 0x39) v = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) v = c - 0x57;
      else break;
      address = address * 16 + v;
    }
    if (p === at || bytes[p] !== 0x2c /* , */) throw bad(bytes, line, lineStart, nl, p - lineStart, "a hex address and ',size'");
    let size = 0;
    p++;
    const sizeStart = p;
    for (; p < nl; p++) {
      const c = bytes[p]!;
      if (c < 0x30 || c > 0x39) break;
      size = size * 10 + (c - 0x30);
    }
    if (p === sizeStart || size === 0) throw bad(bytes, line, lineStart, nl, sizeStart - lineStart, 'a decimal access size');
    const first = Math.floor(address / 4096);
    const last = Math.floor((address + size - 1) / 4096);
    touch(first, load, store);
    if (last !== first) touch(last, load, store);
  }

  function header(bytes: Buffer, pos: number, nl: number): void {
    // ==PID== Command: prog args
    let p = pos + 2;
    let value = 0;
    while (p < nl && bytes[p]! >= 0x30 && bytes[p]! <= 0x39) value = value * 10 + (bytes[p++]! - 0x30);
    if (pid < 0 && value > 0) pid = value;
    const text = bytes.toString('latin1', p, Math.min(nl, p + 300));
    const command = /^== Command: (\S+)/.exec(text);
    if (command && commId < 0) {
      const name = command[1]!.split('/').pop()!.slice(0, 15);
      commId = batch.strings.length;
      batch.strings.push(name);
    }
  }

  function bad(bytes: Buffer, line: number, lineStart: number, nl: number, column: number, expected: string): TierlabError {
    return syntaxError({
      reader: READER,
      file: path,
      line,
      column: column + 1,
      message: 'malformed lackey line',
      expected,
      excerpt: excerptOf(bytes, lineStart, nl),
    });
  }

  let started = false;
  return {
    stats,
    batches: () => {
      if (started) throw new TypeError('batches() can be called once per reader');
      started = true;
      return batches();
    },
  };
}
