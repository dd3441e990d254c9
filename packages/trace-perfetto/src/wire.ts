/**
 * 64-bit varints straight from a protobufjs Reader's bytes, as exact Numbers
 * when they fit in 53 bits (protobufjs' own int64()/uint64() make a Long per
 * value). Callers check {@link UNSAFE} to count values that did not fit.
 */

import type protobuf from 'protobufjs';

const TWO_32 = 4294967296;
/** Values at or above this (in magnitude) may have lost precision as a Number. */
export const UNSAFE = 2 ** 53;

/** An unsigned varint of up to 10 bytes (padded encodings accepted). */
export function readUint64(r: protobuf.Reader): number {
  const buf = r.buf;
  const end = r.len;
  let pos = r.pos;
  let lo = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw rangeError(r);
    b = buf[pos++]!;
    lo |= (b & 127) << shift;
    if (b < 128) {
      r.pos = pos;
      return lo >>> 0;
    }
  }
  if (pos >= end) throw rangeError(r);
  b = buf[pos++]!;
  lo |= (b & 15) << 28;
  let hi = (b & 127) >>> 4;
  if (b >= 128) {
    for (let shift = 3; ; shift += 7) {
      if (shift > 31 + 7) throw new RangeError(`varint longer than 10 bytes at ${pos}`);
      if (pos >= end) throw rangeError(r);
      b = buf[pos++]!;
      if (shift < 32) hi |= (b & 127) << shift;
      if (b < 128) break;
    }
  }
  r.pos = pos;
  return (hi >>> 0) * TWO_32 + (lo >>> 0);
}

/** A signed (two's complement) int64 varint. */
export function readInt64(r: protobuf.Reader): number {
  const buf = r.buf;
  const end = r.len;
  let pos = r.pos;
  let lo = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw rangeError(r);
    b = buf[pos++]!;
    lo |= (b & 127) << shift;
    if (b < 128) {
      r.pos = pos;
      return lo >>> 0;
    }
  }
  if (pos >= end) throw rangeError(r);
  b = buf[pos++]!;
  lo |= (b & 15) << 28;
  let hi = (b & 127) >>> 4;
  if (b >= 128) {
    for (let shift = 3; ; shift += 7) {
      if (shift > 31 + 7) throw new RangeError(`varint longer than 10 bytes at ${pos}`);
      if (pos >= end) throw rangeError(r);
      b = buf[pos++]!;
      if (shift < 32) hi |= (b & 127) << shift;
      if (b < 128) break;
    }
  }
  r.pos = pos;
  return (hi | 0) * TWO_32 + (lo >>> 0);
}

/** A zigzag-encoded sint64. */
export function readSint64(r: protobuf.Reader): number {
  const u = readUint64(r);
  // Exact while u < 2^53; beyond that the caller counts the value as unsafe anyway.
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** A little-endian fixed64 as a Number (unsigned, or signed when `signed`). */
export function readFixed64(r: protobuf.Reader, signed: boolean): number {
  const lo = r.fixed32();
  const hi = r.fixed32();
  return (signed ? hi | 0 : hi) * TWO_32 + lo;
}

/**
 * A varint (up to 10 bytes, padding allowed) in `buf` at `pos`, its end put in
 * `at.end`; -1 when it runs past `end`, -2 when it is longer than 10 bytes.
 */
export function peekVarint(buf: Uint8Array, pos: number, end: number, at: { end: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    value += (b & 127) * scale;
    scale *= 128;
    if (b < 128) {
      at.end = pos;
      return value;
    }
  }
  return -2;
}

function rangeError(r: protobuf.Reader): RangeError {
  return new RangeError(`index out of range: ${r.pos} + 1 > ${r.len}`);
}
