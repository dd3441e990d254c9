/**
 * The perf.data file header (struct perf_file_header), the attr section
 * (struct perf_file_attr: perf_event_attr then the section of its ids) and
 * the feature index after the data section.
 */

import { ATTR_FLAG_SAMPLE_ID_ALL, FILE_HEADER_SIZE, MAGIC_HI, MAGIC_LO, PIPE_HEADER_SIZE } from './perf-abi.js';

export interface Section {
  readonly offset: number;
  readonly size: number;
}

export interface FileHeader {
  readonly pipe: boolean;
  /** File mode only. */
  readonly attrSize: number;
  readonly attrs: Section;
  readonly data: Section;
  /** 256 feature bits (adds_features). */
  readonly features: Uint8Array;
}

/** One event of the recording: the fields of perf_event_attr the reader uses, and its sample ids. */
export interface PerfAttr {
  readonly type: number;
  readonly config: number;
  readonly sampleType: number;
  readonly readFormat: number;
  readonly sampleIdAll: boolean;
  readonly ids: readonly number[];
}

export type MagicKind = 'le' | 'be' | 'perffile1' | 'none';

/** What the first 8 bytes say. */
export function magicKind(head: Uint8Array): MagicKind {
  if (head.length < 8) return 'none';
  const text = String.fromCharCode(...head.subarray(0, 8));
  if (text === 'PERFILE2') return 'le';
  if (text === '2ELIFREP') return 'be';
  if (text === 'PERFFILE') return 'perffile1';
  return 'none';
}

/** u64 (little-endian) at `p` as a Number (exact below 2^53). */
export function u64(view: DataView, p: number): number {
  return view.getUint32(p + 4, true) * 4294967296 + view.getUint32(p, true);
}

/** Parse the header from the first 16 (pipe) or 104 (file) bytes. Null when the sizes make no sense. */
export function parseFileHeader(head: Uint8Array): FileHeader | null {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length < PIPE_HEADER_SIZE) return null;
  if (view.getUint32(0, true) !== MAGIC_LO || view.getUint32(4, true) !== MAGIC_HI) return null;
  const size = u64(view, 8);
  if (size === PIPE_HEADER_SIZE) {
    return { pipe: true, attrSize: 0, attrs: { offset: 0, size: 0 }, data: { offset: PIPE_HEADER_SIZE, size: Number.POSITIVE_INFINITY }, features: new Uint8Array(32) };
  }
  if (size < FILE_HEADER_SIZE || head.length < FILE_HEADER_SIZE) return null;
  const section = (p: number): Section => ({ offset: u64(view, p), size: u64(view, p + 8) });
  return {
    pipe: false,
    attrSize: u64(view, 16),
    attrs: section(24),
    data: section(40),
    features: head.slice(72, 104),
  };
}

export function hasFeature(header: FileHeader, bit: number): boolean {
  return ((header.features[bit >> 3]! >> (bit & 7)) & 1) === 1;
}

/** The feature bits that are set, in order (the order of the feature index entries). */
export function featureBits(header: FileHeader): number[] {
  const bits: number[] = [];
  for (let bit = 0; bit < 256; bit++) if (hasFeature(header, bit)) bits.push(bit);
  return bits;
}

/** Read a perf_event_attr at `p` (its own `size` field says how long it is). */
export function parseAttr(view: DataView, p: number, ids: readonly number[]): PerfAttr {
  const flags = view.getUint32(p + 40, true);
  return {
    type: view.getUint32(p, true),
    config: u64(view, p + 8),
    sampleType: u64(view, p + 24),
    readFormat: u64(view, p + 32),
    sampleIdAll: (flags & ATTR_FLAG_SAMPLE_ID_ALL) !== 0,
    ids,
  };
}
