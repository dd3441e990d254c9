/**
 * Line layouts of the ftrace-style text formats, and how to tell them apart
 * from one record line. Everything here works on bytes.
 */

/** A text format as reported in `ReaderStats.format`. */
export type TextFormat = 'tracefs' | 'trace-cmd-report' | 'perf-script' | 'perf-script-F';

export const SP = 32;
export const DASH = 45;
export const DOT = 46;
export const SLASH = 47;
export const COLON = 58;
export const HASH = 35;
export const LBRACK = 91;
export const RBRACK = 93;

/** How a record line is cut; the two perf formats share one layout (PID/TID is seen per line). */
export const Layout = { unknown: 0, tracefs: 1, traceCmd: 2, perf: 3 } as const;
export type Layout = (typeof Layout)[keyof typeof Layout];

export function layoutOf(format: TextFormat): Layout {
  if (format === 'tracefs') return Layout.tracefs;
  if (format === 'trace-cmd-report') return Layout.traceCmd;
  return Layout.perf;
}

/** The layout a line of `format` must have, for error messages. */
export function layoutExpectation(layout: Layout): string {
  switch (layout) {
    case Layout.tracefs:
      return "a tracefs record 'COMM-TID [CPU] FLAGS SECONDS.MICROS: EVENT: FIELDS'";
    case Layout.traceCmd:
      return "a trace-cmd report record 'INSTANCE: COMM-TID [CPU] SECONDS.MICROS: EVENT: FIELDS'";
    case Layout.perf:
      return "a perf script record 'COMM TID [CPU] SECONDS.MICROS: GROUP:EVENT: FIELDS' (or 'COMM PID/TID …')";
    default:
      return "a tracefs, trace-cmd report or perf script record ('… [CPU] SECONDS.MICROS: EVENT: FIELDS')";
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** Index of the `]` when `bytes[open]` is the `[` of a ` [CPU] ` anchor inside [start, end), else -1. */
export function anchorClose(bytes: Uint8Array, start: number, open: number, end: number): number {
  if (open <= start || bytes[open - 1] !== SP) return -1;
  let j = open + 1;
  while (j < end && isDigit(bytes[j])) j++;
  if (j === open + 1 || j + 1 >= end || bytes[j] !== RBRACK || bytes[j + 1] !== SP) return -1;
  return j;
}

/** Index of the `[` of the first ` [CPU] ` anchor in [start, end), or -1. */
export function findAnchor(bytes: Uint8Array, start: number, end: number): number {
  let open = start;
  for (;;) {
    open = bytes.indexOf(LBRACK, open);
    if (open < 0 || open >= end) return -1;
    if (anchorClose(bytes, start, open, end) >= 0) return open;
    open++;
  }
}

/**
 * Where comm starts after a trace-cmd instance prefix (`tc20462: `): the
 * first token when the line starts with a non-space and the token ends in `:`.
 * `start` when there is none (comm is right-aligned in 16 columns, so a line
 * without a prefix starts with a space).
 */
export function instancePrefixEnd(bytes: Uint8Array, start: number, limit: number): number {
  if (bytes[start] === SP) return start;
  let space = start + 1;
  while (space < limit && bytes[space] !== SP) space++;
  return space < limit && bytes[space - 1] === COLON ? space + 1 : start;
}

/** The format of one record line `bytes[start, end)`, or null when it has no record shape. */
export function classifyRecordLine(bytes: Uint8Array, start: number, end: number): TextFormat | null {
  const open = findAnchor(bytes, start, end);
  if (open < 0) return null;
  let j = anchorClose(bytes, start, open, end) + 2;
  while (j < end && bytes[j] === SP) j++;
  let hasFlags = false;
  if (j < end && !isDigit(bytes[j])) {
    hasFlags = true;
    while (j < end && bytes[j] !== SP) j++;
    while (j < end && bytes[j] === SP) j++;
  }
  const timeStart = j;
  while (j < end && isDigit(bytes[j])) j++;
  if (j === timeStart) return null;
  if (bytes[j] === DOT) {
    j++;
    while (j < end && isDigit(bytes[j])) j++;
  }
  if (j >= end || bytes[j] !== COLON) return null;

  let q = open - 1;
  while (q > start && bytes[q - 1] === SP) q--;
  const tidEnd = q;
  while (q > start && isDigit(bytes[q - 1])) q--;
  if (q === tidEnd || q === start) return null;
  const separator = bytes[q - 1];
  if (instancePrefixEnd(bytes, start, q) > start) return 'trace-cmd-report';
  if (separator === DASH) return hasFlags ? 'tracefs' : 'trace-cmd-report';
  if (hasFlags) return null;
  if (separator === SP) return 'perf-script';
  if (separator === SLASH) {
    const pidEnd = q - 1;
    let r = pidEnd;
    while (r > start && isDigit(bytes[r - 1])) r--;
    return r < pidEnd && r > start && bytes[r - 1] === SP ? 'perf-script-F' : null;
  }
  return null;
}
