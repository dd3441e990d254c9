/**
 * The tracing data perf stores with tracepoint events (HEADER_TRACING_DATA
 * feature in file mode, PERF_RECORD_HEADER_TRACING_DATA in pipe mode): the
 * tracefs `format` file of every recorded event, which gives each field's
 * offset, size and signedness in the raw payload, and the print fmt.
 * Layout as written by tools/perf/util/trace-event-info.c and read by
 * trace-event-read.c.
 */

/** One field of an event's raw payload. */
export interface EventField {
  readonly name: string;
  /** The C declaration without the name, e.g. `unsigned long`, `char[16]`, `__data_loc char[]`. */
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  /** `__data_loc`: a u32 holding (length << 16 | offset from the payload start). */
  readonly dataLoc: boolean;
  /** `__rel_loc`: like `__data_loc`, offset counted from the end of this field. */
  readonly relLoc: boolean;
  /** A fixed array (`char comm[16]`). */
  readonly array: boolean;
}

/** One event's format file. */
export interface EventFormat {
  readonly system: string;
  readonly name: string;
  /** The tracepoint id: perf_event_attr.config and the payload's common_type. */
  readonly id: number;
  readonly fields: readonly EventField[];
  readonly printFmt: string;
}

export interface TracingData {
  readonly version: string;
  readonly bigEndian: boolean;
  readonly longSize: number;
  readonly pageSize: number;
  readonly events: readonly EventFormat[];
}

const MAGIC = [0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]; // "\027\010Dtracing"

/** Thrown with the offset (inside the tracing data) where it went wrong. */
export class TracingDataError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Parse the tracing data in `bytes`; formats of the `ftrace` system are skipped. */
export function parseTracingData(bytes: Uint8Array): TracingData {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number, what: string): void => {
    if (p + n > bytes.length) throw new TracingDataError(`tracing data ends inside ${what}`, p);
  };
  need(MAGIC.length, 'the magic');
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new TracingDataError("tracing data does not start with '\\027\\010Dtracing'", i);
  }
  p = MAGIC.length;
  const cString = (what: string): string => {
    const end = bytes.indexOf(0, p);
    if (end < 0) throw new TracingDataError(`tracing data ends inside ${what}`, p);
    const s = latin1(bytes, p, end);
    p = end + 1;
    return s;
  };
  const version = cString('the version');
  need(6, 'the header');
  const bigEndian = bytes[p] !== 0;
  const little = !bigEndian;
  const longSize = bytes[p + 1]!;
  p += 2;
  const pageSize = view.getUint32(p, little);
  p += 4;
  const u32 = (what: string): number => {
    need(4, what);
    const v = view.getUint32(p, little);
    p += 4;
    return v;
  };
  const u64 = (what: string): number => {
    need(8, what);
    const lo = view.getUint32(little ? p : p + 4, little);
    const hi = view.getUint32(little ? p + 4 : p, little);
    p += 8;
    return hi * 4294967296 + lo;
  };
  const skip = (n: number, what: string): void => {
    need(n, what);
    p += n;
  };

  // header_page and header_event: a name, a u64 size and that many bytes.
  for (const section of ['header_page', 'header_event']) {
    const name = cString(section);
    if (name !== section) throw new TracingDataError(`expected '${section}' in the tracing data, got '${name}'`, p);
    skip(u64(section), section);
  }
  // ftrace formats: not needed.
  const ftraceCount = u32('the ftrace format count');
  for (let i = 0; i < ftraceCount; i++) skip(u64('an ftrace format'), 'an ftrace format');
  // Event formats, by system.
  const events: EventFormat[] = [];
  const systems = u32('the system count');
  for (let s = 0; s < systems; s++) {
    const system = cString('a system name');
    const count = u32('an event count');
    for (let i = 0; i < count; i++) {
      const size = u64('an event format');
      need(size, 'an event format');
      const text = latin1(bytes, p, p + size);
      const format = parseEventFormat(system, text);
      if (format !== null) events.push(format);
      p += size;
    }
  }
  // kallsyms (u32 size), printk formats (u32 size) and, from 0.6, saved cmdlines (u64 size): not needed.
  return { version, bigEndian, longSize, pageSize, events };
}

/** Parse one tracefs `format` file; null when it has no name or id. */
export function parseEventFormat(system: string, text: string): EventFormat | null {
  let name = '';
  let id = -1;
  let printFmt = '';
  const fields: EventField[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('name:')) name = trimmed.slice(5).trim();
    else if (trimmed.startsWith('ID:')) id = Number(trimmed.slice(3).trim());
    else if (trimmed.startsWith('print fmt:')) printFmt = trimmed.slice(10).trim();
    else if (trimmed.startsWith('field:')) {
      const field = parseFieldLine(trimmed);
      if (field !== null) fields.push(field);
    }
  }
  if (name === '' || !Number.isInteger(id) || id < 0) return null;
  return { system, name, id, fields, printFmt };
}

/** `field:unsigned long pfn;	offset:8;	size:8;	signed:0;` */
function parseFieldLine(line: string): EventField | null {
  const parts = line.split(';');
  const declaration = parts[0]!.slice('field:'.length).trim();
  let offset = Number.NaN;
  let size = Number.NaN;
  let signed = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!.trim();
    if (part.startsWith('offset:')) offset = Number(part.slice(7));
    else if (part.startsWith('size:')) size = Number(part.slice(5));
    else if (part.startsWith('signed:')) signed = Number(part.slice(7)) !== 0;
  }
  if (!Number.isInteger(offset) || !Number.isInteger(size)) return null;
  // The name is the last identifier, before any [N] of an array.
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$/.exec(declaration);
  if (m === null) return null;
  const fieldName = m[1]!;
  const type = declaration.slice(0, m.index).trim() + (m[2] ?? '');
  return {
    name: fieldName,
    type,
    offset,
    size,
    signed,
    dataLoc: type.startsWith('__data_loc'),
    relLoc: type.startsWith('__rel_loc'),
    array: m[2] !== undefined,
  };
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}
