import { isPacketMetaField } from './decoder.js';
import { perfettoTracePacketFields } from './ftrace-event-names.js';
import { WireType } from './schema.js';
import { peekVarint } from './wire.js';

const knownPacketFields = new Set(perfettoTracePacketFields.map(([n]) => n));

/** The wire type Perfetto gives a TracePacket field: varint for the packet's scalars, else length-delimited. */
function expectedWire(field: number): number {
  return isPacketMetaField(field) && field !== 12 && field !== 59 ? WireType.varint : WireType.bytes;
}

/**
 * Whether `head` (the first bytes of a decompressed file) starts like a
 * Perfetto trace: 0x0a (Trace.packet), a length, then TracePacket fields
 * that parse, at least one of them a field Perfetto names, each with the wire
 * type Perfetto gives it. A packet cut by the end of `head` is judged on the
 * fields that fit.
 */
export function sniffPerfetto(head: Uint8Array): boolean {
  if (head.length < 3 || head[0] !== 0x0a) return false;
  const at = { end: 0 };
  const length = peekVarint(head, 1, head.length, at);
  if (length < 1 || length > 256 << 20) return false;
  const start = at.end;
  const whole = start + length <= head.length;
  const end = whole ? start + length : head.length;
  let pos = start;
  let known = 0;
  while (pos < end) {
    const tag = peekVarint(head, pos, end, at);
    if (tag === -1 && !whole) break;
    if (tag < 0) return false;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0 || field >= 2 ** 29) return false;
    if (knownPacketFields.has(field)) {
      if (wire !== expectedWire(field)) return false;
      known++;
    }
    pos = at.end;
    if (wire === WireType.varint) {
      const v = peekVarint(head, pos, end, at);
      if (v === -1 && !whole) break;
      if (v < 0) return false;
      pos = at.end;
    } else if (wire === WireType.bytes) {
      const n = peekVarint(head, pos, end, at);
      if (n === -1 && !whole) break;
      if (n < 0) return false;
      pos = at.end + n;
      if (pos > end) {
        if (whole) return false;
        break;
      }
    } else if (wire === WireType.fixed64 || wire === WireType.fixed32) {
      pos += wire === WireType.fixed64 ? 8 : 4;
      if (pos > end && whole) return false;
    } else {
      return false;
    }
  }
  return known > 0 && (!whole || pos === end);
}
