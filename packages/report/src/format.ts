/**
 * A comparison as people read it: a Markdown table for a pull-request
 * comment, and aligned text for a terminal. Changed cells come first
 * (regressions, then improvements, then changes within a threshold, then
 * ungated changes); values are shown in the metric's unit.
 */

import type { CellStatus, CompareReport, MetricDelta } from './compare.js';
import type { MetricUnit } from './metric-directions.js';
import { formatThreshold } from './thresholds.js';

export interface FormatOptions {
  /** Most changed cells listed (regressions are always all listed); default 100. */
  readonly maxRows?: number;
}

const rank: Record<CellStatus, number> = { regression: 0, improvement: 1, within: 2, changed: 3, unchanged: 4, 'not-comparable': 5 };

const allColumns = ['trace', 'policy', 'metric', 'base', 'head', 'delta', 'threshold', 'verdict'] as const;

/** The trace column only when the report spans several traces (one trace is named in the summary). */
const withTrace = (report: CompareReport) => report.traces.length > 1;
const columnsOf = (report: CompareReport): readonly string[] => (withTrace(report) ? allColumns : allColumns.slice(1));

/** Markdown for a pull-request comment: verdict, summary, the changed cells, then what was added, removed or not comparable. */
export function formatCompareMarkdown(report: CompareReport, options: FormatOptions = {}): string {
  const out: string[] = [];
  const s = report.summary;
  out.push(`### tierlab compare: ${report.verdict}`, '');
  out.push(summaryLine(report, (text) => `**${text}**`, code), '');
  const { shown, hidden } = changedRows(report, options);
  const row = (d: MetricDelta) => cells(d, 'markdown', withTrace(report));
  const table = (rows: readonly MetricDelta[]) => markdownTable(columnsOf(report), rows.map(row));
  if (shown.length > 0) {
    out.push(...table(shown));
    if (hidden > 0) out.push('', `${hidden} more changed cells not shown (\`tierlab compare --format json\` lists every cell).`);
  } else if (s.comparedCells > 0) {
    out.push('No metric changed.');
  }
  const sections = listSections(report);
  for (const [title, lines] of sections) {
    out.push('', `**${title}**`, '', ...lines.map((line) => `- ${escapeMarkdown(line)}`));
  }
  const notComparable = report.deltas.filter((d) => d.status === 'not-comparable' && report.thresholds.some((t) => t.metric === d.metric));
  if (notComparable.length > 0) {
    out.push('', '<details><summary>Gated metrics of the pairs that are not comparable</summary>', '');
    out.push(...table(notComparable), '', '</details>');
  }
  const unchanged = report.deltas.filter((d) => d.status === 'unchanged' && d.threshold !== null);
  if (unchanged.length > 0) {
    out.push('', `<details><summary>Unchanged: ${unchanged.length} gated cells (${s.unchanged} cells in all)</summary>`, '');
    out.push(...table(unchanged), '', '</details>');
  }
  out.push('', footer(report));
  return `${out.join('\n')}\n`;
}

/** Aligned text for a terminal: verdict, summary, the changed cells, then notes. */
export function formatCompareText(report: CompareReport, options: FormatOptions = {}): string {
  const out: string[] = [];
  out.push(`tierlab compare: ${report.verdict === 'regression' ? 'REGRESSION' : report.verdict}`);
  out.push(summaryLine(report, (text) => text, (text) => text), '');
  const { shown, hidden } = changedRows(report, options);
  if (shown.length > 0) {
    const columns = columnsOf(report);
    const rows = [[...columns], ...shown.map((d) => cells(d, 'text', withTrace(report)))];
    const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const first = withTrace(report) ? 3 : 2;
    const numeric = new Set([first, first + 1, first + 2]);
    const line = (r: readonly string[]) =>
      r
        .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    out.push(line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows.slice(1)) out.push(line(r));
    if (hidden > 0) out.push(`... ${hidden} more changed cells (--format json lists every cell)`);
  } else if (report.summary.comparedCells > 0) {
    out.push('No metric changed.');
  }
  for (const [title, lines] of listSections(report)) {
    out.push('', `${title}:`, ...lines.map((line) => `  ${line}`));
  }
  out.push('', footer(report));
  return `${out.join('\n')}\n`;
}

function summaryLine(report: CompareReport, strong: (text: string) => string, name: (text: string) => string): string {
  const s = report.summary;
  const only = report.traces.length === 1 ? report.traces[0]! : null;
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const traces = [
    only !== null && only.status === 'compared' ? `${name(only.traceFile)} on ${name(only.machine)} compared` : `${plural(s.tracesCompared, 'trace')} compared`,
    ...(s.tracesNotComparable > 0 ? [`${s.tracesNotComparable} not comparable`] : []),
    ...(s.tracesAdded > 0 ? [`${s.tracesAdded} added`] : []),
    ...(s.tracesRemoved > 0 ? [`${s.tracesRemoved} removed`] : []),
  ].join(', ');
  const regressions = plural(s.regressions, 'regression');
  const cellsLine = [
    s.regressions > 0 ? strong(regressions) : regressions,
    `${plural(s.improvements, 'improvement')} beyond a threshold`,
    `${s.within} changed within a threshold`,
    `${s.changed} changed without a threshold`,
    `${s.unchanged} unchanged`,
  ].join(', ');
  return `${traces}; ${plural(s.comparedCells, 'metric cell')}: ${cellsLine}.`;
}

function footer(report: CompareReport): string {
  const thresholds = report.thresholds.length > 0 ? report.thresholds.map(formatThreshold).join(', ') : 'none';
  const side = (files: readonly string[]) => (files.length === 1 ? files[0]! : `${files.length} results`);
  return `Thresholds (worse than base by more than this is a regression): ${thresholds}. Base: ${side(report.base)}; head: ${side(report.head)}.`;
}

function changedRows(report: CompareReport, options: FormatOptions): { shown: MetricDelta[]; hidden: number } {
  const changed = report.deltas
    .map((d, i) => ({ d, i }))
    .filter(({ d }) => rank[d.status] < rank.unchanged)
    .sort((a, b) => rank[a.d.status] - rank[b.d.status] || a.i - b.i)
    .map(({ d }) => d);
  const regressions = changed.filter((d) => d.status === 'regression').length;
  const limit = Math.max(options.maxRows ?? 100, regressions);
  return { shown: changed.slice(0, limit), hidden: Math.max(0, changed.length - limit) };
}

/** The lists under the table: failed, added and removed policies and traces, pairs not comparable, anomalies, provenance. */
function listSections(report: CompareReport): Array<[string, string[]]> {
  const sections: Array<[string, string[]]> = [];
  const add = (title: string, lines: string[]) => {
    if (lines.length > 0) sections.push([title, lines]);
  };
  const policies = (change: string) => report.policyChanges.filter((p) => p.change === change);
  add(
    'Policies that failed in head',
    policies('failed').map((p) => `${p.policy} on ${p.trace}: ${p.detail ?? ''}`),
  );
  add(
    'Policies added or removed',
    [...policies('added'), ...policies('removed')].map((p) => `${p.policy} ${p.change} on ${p.trace}`),
  );
  add(
    'Policies that failed in base',
    [...policies('recovered'), ...policies('failed-both')].map(
      (p) => `${p.policy} on ${p.trace}: ${p.change === 'recovered' ? 'runs in head' : 'fails in head too'} (${p.detail ?? ''})`,
    ),
  );
  add(
    'Traces added or removed',
    report.traces
      .filter((t) => t.status === 'added' || t.status === 'removed')
      .map((t) => `${t.label} ${t.status} (${t.status === 'added' ? t.head : t.base})`),
  );
  add(
    'Not comparable',
    report.traces.filter((t) => t.status === 'not-comparable').map((t) => `${t.label}: ${t.reasons.join('; ')}`),
  );
  add(
    'Anomalies changed',
    report.anomalyChanges.map(
      (a) => `${a.trace}: ${a.severity} ${a.name} ${count(a.base)} -> ${count(a.head)}${a.regression ? ' (regression)' : ''}`,
    ),
  );
  add(
    'Provenance changed',
    report.traces.flatMap((t) => t.notes.map((note) => `${t.label}: ${note}`)),
  );
  return sections;
}

function cells(d: MetricDelta, style: 'markdown' | 'text', trace: boolean): string[] {
  const [base, head] = formatPair(d.unit, d.base, d.head);
  const name = style === 'markdown' ? code : (text: string) => text;
  const row = [name(d.trace), name(d.policy), name(d.metric), base, head, formatDelta(d), d.threshold?.text ?? '', verdictText(d, style)];
  return trace ? row : row.slice(1);
}

function verdictText(d: MetricDelta, style: 'markdown' | 'text'): string {
  switch (d.status) {
    case 'regression':
      return style === 'markdown' ? '**regression**' : 'REGRESSION';
    case 'improvement':
      return 'improvement';
    case 'within':
      return `within (${d.change})`;
    case 'changed':
      return d.change === 'different' ? 'changed' : `changed (${d.change})`;
    case 'unchanged':
      return 'unchanged';
    default:
      return 'not comparable';
  }
}

function markdownTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const align = columns.map((c) => (['base', 'head', 'delta', 'threshold'].includes(c) ? '--:' : '---'));
  return [`| ${columns.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** Text in a Markdown list item: no emphasis, no HTML, no table breaks. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_<|]/g, (c) => `\\${c}`);
}

/** A name in a table cell, as a code span. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

// ---- numbers ----

const count = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });

interface Scale {
  readonly divisor: number;
  readonly suffix: string;
}

function scaleOf(unit: MetricUnit, magnitude: number): Scale {
  if (unit === 'ns') {
    if (magnitude >= 1e9) return { divisor: 1e9, suffix: ' s' };
    if (magnitude >= 1e6) return { divisor: 1e6, suffix: ' ms' };
    if (magnitude >= 1e3) return { divisor: 1e3, suffix: ' µs' };
    return { divisor: 1, suffix: ' ns' };
  }
  if (unit === 'bytes') {
    if (magnitude >= 2 ** 30) return { divisor: 2 ** 30, suffix: ' GiB' };
    if (magnitude >= 2 ** 20) return { divisor: 2 ** 20, suffix: ' MiB' };
    if (magnitude >= 2 ** 10) return { divisor: 2 ** 10, suffix: ' KiB' };
    return { divisor: 1, suffix: ' B' };
  }
  if (unit === 'share') return { divisor: 0.01, suffix: '%' };
  return { divisor: 1, suffix: '' };
}

function fixed(x: number, digits: number): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Base and head in one unit, with as many decimals as it takes to tell them apart (2 to 6). */
export function formatPair(unit: MetricUnit, base: number, head: number): [string, string] {
  if (unit === 'count' && Number.isInteger(base) && Number.isInteger(head)) return [count(base), count(head)];
  const scale = scaleOf(unit, Math.max(Math.abs(base), Math.abs(head)));
  const one = (x: number, digits: number) => (x === 0 ? '0' : `${fixed(x / scale.divisor, digits)}${scale.suffix}`);
  const at = (digits: number): [string, string] => [one(base, digits), one(head, digits)];
  let digits = 2;
  while (digits < 6 && base !== head && at(digits)[0] === at(digits)[1]) digits++;
  return at(digits);
}

/** `+1.23 ms (+0.05%)`, `-0.68 pt`, `+12 (+3.10%)`. */
export function formatDelta(d: Pick<MetricDelta, 'unit' | 'delta' | 'relative'>): string {
  if (d.delta === 0) return '0';
  const sign = d.delta > 0 ? '+' : '-';
  const magnitude = Math.abs(d.delta);
  if (d.unit === 'share') return `${sign}${significant(magnitude * 100)} pt`;
  let absolute: string;
  if (d.unit === 'count') absolute = `${sign}${count(magnitude)}`;
  else {
    const scale = scaleOf(d.unit, magnitude);
    absolute = `${sign}${significant(magnitude / scale.divisor)}${scale.suffix}`;
  }
  if (d.relative === null) return `${absolute} (from 0)`;
  const percent = Math.abs(d.relative * 100);
  return `${absolute} (${sign}${percent >= 0.01 ? fixed(percent, 2) : significant(percent)}%)`;
}

/** Up to three significant digits, no exponent, no trailing zeros: 968, 1.23, 0.71, 0.0412. */
function significant(x: number): string {
  if (x === 0) return '0';
  const digits = Math.min(12, Math.max(0, 2 - Math.floor(Math.log10(x))));
  return x.toLocaleString('en-US', { maximumFractionDigits: digits });
}
