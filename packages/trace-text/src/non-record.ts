/**
 * Lines that are not records but belong in these files: headers, loss
 * markers, tool chatter. They are rare, so they are matched as strings.
 */

export type NonRecordLine =
  /** tracefs `#` lines, trace-cmd `cpus=N`; `overwritten` from `# entries-in-buffer/entries-written: X/Y`. */
  | { readonly kind: 'header'; readonly overwritten: number }
  /** Blank lines and perf warnings that reached the text. */
  | { readonly kind: 'other' }
  /** `CPU:1 [LOST 1160 EVENTS]`, `tc1: CPU:0 [1117 EVENTS DROPPED]`; count NaN when the marker has none. */
  | { readonly kind: 'lost'; readonly cpu: number; readonly count: number };

const header: NonRecordLine = { kind: 'header', overwritten: 0 };
const other: NonRecordLine = { kind: 'other' };

// tracefs trace_pipe: `CPU:1 [LOST 1160 EVENTS]`, `CPU:1 [LOST EVENTS]` (kernel/trace/trace.c);
// trace-cmd report: `tc25403: CPU:0 [1117 EVENTS DROPPED]`, `CPU:0 [EVENTS DROPPED]`.
const lostMarker = /^(?:\S+: +)?CPU:(\d+) \[(?:LOST (?:(\d+) )?EVENTS|(?:(\d+) )?EVENTS DROPPED)\]\s*$/;
const entriesHeader = /entries-in-buffer\/entries-written:\s*(\d+)\/(\d+)/;
const headerLines = [/^cpus=\d+\s*$/, /^version = \S+\s*$/, /^\s*CPU \d+ is empty\s*$/];
const otherLines = [
  /^\s*$/,
  /^\s*Warning:/,
  /^\s*Processed \d+ (?:events|samples) and lost/,
  /^\s*Check IO\/CPU overload!/,
  /'trace' not valid for/,
];

/** What a line without the record shape is, or null when it is not a known kind. */
export function classifyNonRecordLine(text: string): NonRecordLine | null {
  if (text.startsWith('#')) {
    const m = entriesHeader.exec(text);
    return m === null ? header : { kind: 'header', overwritten: Number(m[2]) - Number(m[1]) };
  }
  const lost = lostMarker.exec(text);
  if (lost !== null) {
    const count = lost[2] ?? lost[3];
    return { kind: 'lost', cpu: Number(lost[1]), count: count === undefined ? Number.NaN : Number(count) };
  }
  if (headerLines.some((re) => re.test(text))) return header;
  if (otherLines.some((re) => re.test(text))) return other;
  return null;
}
