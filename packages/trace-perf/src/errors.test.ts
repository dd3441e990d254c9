import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import type { TierlabError } from '@tierlab/memory-tier-api';
import { sharedTrace, sharedTraces } from '@tierlab/test-support';
import { openTrace } from '@tierlab/trace-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPerfData, sniffPerfData } from './reader.js';

async function readAll(file: string): Promise<number> {
  const reader = openPerfData(file);
  let n = 0;
  for await (const batch of reader.batches()) n += batch.length;
  return n;
}

async function failure(file: string): Promise<TierlabError> {
  try {
    await readAll(file);
  } catch (error) {
    if (isTierlabError(error)) return error;
    throw error;
  }
  throw new Error(`${file} was read without an error`);
}

const shared = sharedTraces();
const dir = mkdtempSync(path.join(tmpdir(), 'tierlab-perf-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The decompressed bytes of a small real capture. */
let capture: Buffer = Buffer.alloc(0);

/** Offsets of the first `n` records of the data section. */
function recordOffsets(bytes: Buffer, n: number): number[] {
  const dataOffset = Number(bytes.readBigUInt64LE(40));
  const offsets: number[] = [];
  let p = dataOffset;
  while (offsets.length < n) {
    offsets.push(p);
    p += bytes.readUInt16LE(p + 6);
  }
  return offsets;
}

describe('files that are not a perf.data file', () => {
  it('a missing file is TRACE_IO, a directory (perf record --threads) TRACE_FORMAT', async () => {
    expect((await failure(path.join(dir, 'missing.data'))).code).toBe('TRACE_IO');
    const error = await failure(dir);
    expect(error.code).toBe('TRACE_FORMAT');
    expect(error.source).toBe('perf.data');
  });
});

describe.skipIf(shared === null)(`bad perf.data gives TRACE_SYNTAX errors with a byte offset${shared === null ? ' (skipped: ../shared/traces not found)' : ''}`, () => {
  beforeAll(async () => {
    const parts: Uint8Array[] = [];
    for await (const chunk of openTrace(sharedTrace('sqlite_orders.damon.perf.data.zst'))) parts.push(chunk);
    capture = Buffer.concat(parts);
  });

  it('sniffs the start of a perf.data, and not of other files', () => {
    expect(sniffPerfData(capture.subarray(0, 104))).toBe(true);
    expect(sniffPerfData(capture.subarray(0, 8))).toBe(true);
    expect(sniffPerfData(readFileSync(sharedTrace('sqlite_orders.damon.meta')).subarray(0, 104))).toBe(false);
    // A header size that is neither pipe (16) nor file mode (104).
    const odd = Buffer.from(capture.subarray(0, 104));
    odd.writeBigUInt64LE(40n, 8);
    expect(sniffPerfData(odd)).toBe(false);
    expect(sniffPerfData(new Uint8Array(0))).toBe(false);
  });

  it('reads the untouched copy', async () => {
    const file = path.join(dir, 'whole.data');
    writeFileSync(file, capture);
    expect(await readAll(file)).toBe(11561);
  });

  it('a truncated copy', async () => {
    const file = path.join(dir, 'truncated.data');
    const cut = Math.floor(capture.length * 0.6);
    writeFileSync(file, capture.subarray(0, cut));
    const error = await failure(file);
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.source).toBe('perf.data');
    expect(error.file).toBe(file);
    expect(error.byteOffset).toBe(cut);
    expect(error.expected).toMatch(/data section/);
    expect(error.message).toContain(`${file} @byte ${cut}`);
  });

  it('a copy cut inside the header', async () => {
    const file = path.join(dir, 'header.data');
    writeFileSync(file, capture.subarray(0, 50));
    const error = await failure(file);
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(8);
  });

  it('bad magic', async () => {
    const file = path.join(dir, 'magic.data');
    writeFileSync(file, readFileSync(sharedTrace('sqlite_orders.damon.meta')));
    const error = await failure(file);
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(0);
    expect(error.expected).toBe("'PERFILE2'");
    // The excerpt is the bytes, in hex.
    expect(error.excerpt).toMatch(/^[0-9a-f]{2}( [0-9a-f]{2})+/);
  });

  it('a record whose size is smaller than its header', async () => {
    const file = path.join(dir, 'size.data');
    const bytes = Buffer.from(capture);
    const at = recordOffsets(bytes, 200)[199]!;
    bytes.writeUInt16LE(4, at + 6);
    writeFileSync(file, bytes);
    const error = await failure(file);
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(at);
    expect(error.message).toMatch(/record size 4/);
    expect(error.excerpt!.startsWith(bytes.subarray(at, at + 4).toString('hex').replace(/(..)(?!$)/g, '$1 '))).toBe(true);
  });

  it('a record that runs past the data section', async () => {
    const file = path.join(dir, 'overrun.data');
    const bytes = Buffer.from(capture);
    const dataOffset = Number(bytes.readBigUInt64LE(40));
    const dataSize = Number(bytes.readBigUInt64LE(48));
    // Make the last record of the data section 8 bytes longer than what is left.
    let p = dataOffset;
    let last = p;
    while (p < dataOffset + dataSize) {
      last = p;
      p += bytes.readUInt16LE(p + 6);
    }
    bytes.writeUInt16LE(bytes.readUInt16LE(last + 6) + 8, last + 6);
    writeFileSync(file, bytes);
    const error = await failure(file);
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(last);
  });

  it('a sample of a tracepoint the tracing data does not describe', async () => {
    const file = path.join(dir, 'type.data');
    const bytes = Buffer.from(capture);
    // The first SAMPLE record: raw data is its last field (u32 size, then common_type).
    const at = recordOffsets(bytes, 5000).find((p) => bytes.readUInt32LE(p) === 9)!;
    const size = bytes.readUInt16LE(at + 6);
    // sample_type IP|TID|TIME|CPU|PERIOD|RAW|IDENTIFIER (this capture): raw at 8 + 6 * 8.
    const raw = at + 8 + 6 * 8;
    expect(raw + 4 + bytes.readUInt32LE(raw)).toBeLessThanOrEqual(at + size);
    bytes.writeUInt16LE(0xfffe, raw + 4);
    writeFileSync(file, bytes);
    const error = await failure(file);
    expect(error.code).toBe('TRACE_SYNTAX');
    expect(error.byteOffset).toBe(at);
    expect(error.message).toMatch(/tracepoint id 65534/);
  });
});
