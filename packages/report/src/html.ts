/**
 * The HTML report: one self-contained file (uPlot and its CSS inlined, the
 * data embedded, a Content-Security-Policy that forbids any fetch), so it
 * opens from disk, a CI artifact or a mail attachment with no network.
 *
 * Per result (one trace on one machine): what was replayed, anomalies, the
 * comparison table of every metric, charts of every policy over trace time,
 * then per policy its fast-tier share, migrations, occupancy per node, dirty
 * bytes at risk and, when it has any, metadata bytes.
 */

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { ErrorCode, type MetricName, TierlabError, metricNames } from '@tierlab/memory-tier-api';
import type { PolicyResult, ReplayResult } from '@tierlab/replay';
import { loadResults } from './load.js';
import { type MetricUnit, metricDirections, metricUnits } from './metric-directions.js';

/** What `runSweep` writes to `<outDir>/index.json` (`tierlab-sweep/1`), as far as the report reads it. */
export interface SweepIndexLike {
  readonly schema: string;
  readonly cells: readonly {
    /** The result file, relative to the sweep's output folder. */
    readonly file: string;
    readonly status: string;
    readonly trace?: { readonly file: string };
    readonly machine?: string;
    readonly policies?: readonly string[];
    readonly error?: { readonly code: string; readonly message: string } | null;
  }[];
}

export interface HtmlReportOptions {
  /** The page's title; default `tierlab report`. */
  readonly title?: string;
  /** For a sweep index given as an object: its output folder (the cells' files are relative to it). */
  readonly baseDir?: string;
}

/** The sweep index schema the report reads. */
export const SWEEP_INDEX_SCHEMA = 'tierlab-sweep/1';

/** True for a parsed `<outDir>/index.json` of a sweep. */
export function isSweepIndex(value: unknown): value is SweepIndexLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { schema?: unknown }).schema === SWEEP_INDEX_SCHEMA &&
    Array.isArray((value as { cells?: unknown }).cells)
  );
}

/** A cell of a sweep that has no result (its replay failed), listed at the top of the report. */
export interface MissingCell {
  readonly label: string;
  readonly error: string;
}

/**
 * The report as one HTML document. `input` is a list of results (as
 * `tierlab replay --json` writes them) or a sweep index (with
 * `options.baseDir`, its output folder). Results are validated; a bad one
 * throws a TierlabError (USAGE) naming it. Same input, same bytes.
 */
export function renderHtmlReport(input: readonly ReplayResult[] | SweepIndexLike, options: HtmlReportOptions = {}): string {
  const { results, missing } = resolveInput(input, options);
  return renderDocument(results, missing, options.title ?? 'tierlab report');
}

/**
 * Read what `tierlab report` is given: result files, folders of them, sweep
 * output folders (holding index.json) or sweep index files.
 */
export function loadReportInput(paths: readonly string[]): { results: ReplayResult[]; missing: MissingCell[] } {
  const results: ReplayResult[] = [];
  const missing: MissingCell[] = [];
  for (const path of paths) {
    const index = sweepIndexAt(path);
    if (index !== null) {
      const loaded = resolveInput(index.index, { baseDir: index.baseDir });
      results.push(...loaded.results);
      missing.push(...loaded.missing);
    } else {
      // A sweep folder without its index (a sweep that was stopped): its results so far.
      const partial = join(path, 'results');
      results.push(...validated(isDirectory(path) && !hasJson(path) && isDirectory(partial) ? partial : path));
    }
  }
  return { results, missing };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function hasJson(dir: string): boolean {
  return readdirSync(dir).some((name) => name.endsWith('.json'));
}

/** Render what {@link loadReportInput} read. */
export function renderHtmlReportFrom(loaded: { results: readonly ReplayResult[]; missing: readonly MissingCell[] }, options: { title?: string } = {}): string {
  return renderDocument(loaded.results, loaded.missing, options.title ?? 'tierlab report');
}

function sweepIndexAt(path: string): { index: SweepIndexLike; baseDir: string } | null {
  let file = path;
  try {
    if (statSync(path).isDirectory()) {
      file = join(path, 'index.json');
      if (!existsSync(file)) return null;
    } else if (!path.endsWith('.json')) {
      return null;
    }
  } catch {
    return null; // loadResults reports the missing path
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  return isSweepIndex(json) ? { index: json, baseDir: dirname(resolve(file)) } : null;
}

function resolveInput(input: readonly ReplayResult[] | SweepIndexLike, options: HtmlReportOptions): { results: ReplayResult[]; missing: MissingCell[] } {
  if (Array.isArray(input)) return { results: validated(input as readonly ReplayResult[]), missing: [] };
  if (!isSweepIndex(input)) throw new TypeError(`renderHtmlReport takes a list of results or a ${SWEEP_INDEX_SCHEMA} index`);
  if (options.baseDir === undefined) throw new TypeError('renderHtmlReport: a sweep index needs options.baseDir, the folder its cells are relative to');
  const files: string[] = [];
  const missing: MissingCell[] = [];
  for (const cell of input.cells) {
    if (cell.status === 'ok') files.push(join(options.baseDir, cell.file));
    else {
      const label = `${cell.trace?.file ?? cell.file} on ${cell.machine ?? '?'}${cell.policies ? ` (${cell.policies.join(', ')})` : ''}`;
      missing.push({ label, error: cell.error ? `${cell.error.code}: ${cell.error.message}` : cell.status });
    }
  }
  return { results: files.length === 0 ? [] : validated(files), missing };
}

function validated(source: string | readonly (string | ReplayResult)[]): ReplayResult[] {
  const loaded = loadResults(source);
  const out: ReplayResult[] = [];
  for (const r of loaded) {
    if (r.result === null) {
      throw new TierlabError({ code: ErrorCode.usage, source: 'report', file: r.source, message: `a ${r.schema} result: this report reads tierlab-result/1` });
    }
    out.push(r.result);
  }
  return out;
}

// ---- the document ----

interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
  readonly dash?: boolean;
}

interface ChartSpec {
  readonly id: string;
  readonly title: string;
  /** The y axis label, with its unit. */
  readonly y: string;
  /** `share`: a percentage, 0..100. */
  readonly kind: 'share' | 'plain';
  /** Seconds of trace time. */
  readonly x: readonly number[];
  readonly series: readonly SeriesSpec[];
}

/** Okabe & Ito's palette: told apart with any colour vision. */
const policyColors = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#8c564b'];
const nodeColors = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00'];
const migrationColors = { promoted: '#009E73', demoted: '#E69F00', evicted: '#D55E00' };

function renderDocument(results: readonly ReplayResult[], missing: readonly MissingCell[], title: string): string {
  const charts: ChartSpec[] = [];
  const colorOf = new Map<string, string>();
  for (const r of results) {
    for (const p of r.policies) {
      if (!colorOf.has(p.policy)) colorOf.set(p.policy, policyColors[colorOf.size % policyColors.length]!);
    }
  }
  const sections = results.map((r, i) => renderResult(r, `r${i + 1}`, charts, colorOf));
  const toc =
    results.length > 1
      ? `<nav><ol>${results.map((r, i) => `<li><a href="#r${i + 1}">${esc(resultLabel(r))}</a></li>`).join('')}</ol></nav>`
      : '';
  const failedCells =
    missing.length > 0
      ? `<div class="box error"><strong>${missing.length} sweep cell${missing.length === 1 ? '' : 's'} without a result</strong><ul>${missing
          .map((m) => `<li>${esc(m.label)}: <code>${esc(m.error)}</code></li>`)
          .join('')}</ul></div>`
      : '';
  const tools = [...new Set(results.map((r) => `${r.tool.name} ${r.tool.version}`))].join(', ');
  const data = JSON.stringify({ charts }).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const { js, css } = uplotAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="${esc(tools || 'tierlab')}">
<title>${esc(title)}</title>
<style>${guard(css, 'style')}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="meta">${results.length} result${results.length === 1 ? '' : 's'} (${results.reduce((n, r) => n + r.policies.length, 0)} policy runs)${tools ? ` from ${esc(tools)}` : ''}. Charts: drag to zoom, double-click to reset; the legend shows the values under the cursor.</p>
${toc}
${failedCells}
</header>
<main>
${sections.join('\n')}
</main>
<script id="tierlab-data" type="application/json">${data}</script>
<script>${guard(js, 'script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

function resultLabel(r: ReplayResult): string {
  return `${r.trace.file}${r.overlay ? ` + ${r.overlay.file}` : ''} on ${r.machine.name}`;
}

function renderResult(r: ReplayResult, id: string, charts: ChartSpec[], colorOf: ReadonlyMap<string, string>): string {
  const out: string[] = [];
  const t = r.trace;
  out.push(`<section class="result" id="${id}">`);
  out.push(`<h2>${esc(t.file)}${r.overlay ? ` <span class="synthetic">+ ${esc(r.overlay.file)}</span>` : ''} <span class="on">on</span> ${esc(r.machine.name)}</h2>`);
  out.push(
    `<p class="meta">${esc(t.format)}, ${num(t.records)} records, ${num(t.durationNs / 1e6, 1)} ms of trace, sha256 <code>${esc(t.sha256.slice(0, 12))}</code>; seed ${r.options.seed}, interval ${r.options.intervalMs} ms${
      r.options.pids.length > 0 ? `, pids ${esc(r.options.pids.join(' '))}` : ''
    }${r.options.comms.length > 0 ? `, comms ${esc(r.options.comms.join(' '))}` : ''}; footprint ${bytes(r.footprint.peakLiveBytes)}; ${esc(r.tool.name)} ${esc(r.tool.version)}</p>`,
  );
  out.push(
    `<p class="meta">machine <strong>${esc(r.machine.name)}</strong>: ${r.machine.nodes
      .map((n) => `${esc(n.name)} ${esc(n.kind)} ${bytes(n.capacityBytes)} (tier ${n.tier}, ${n.readLatencyNs}/${n.writeLatencyNs} ns r/w)`)
      .join(', ')}</p>`,
  );
  if (r.overlay) {
    out.push(
      `<div class="box synthetic">SYNTHETIC overlay <code>${esc(r.overlay.file)}</code> (sha256 <code>${esc(r.overlay.sha256.slice(0, 12))}</code>): ${r.overlay.bindings} memory-policy bindings and ${r.overlay.deviceAccesses} device-access schedules added to the real capture. ${esc(r.overlay.description)}</div>`,
    );
  }
  const loud = r.anomalies.filter((a) => a.severity !== 'info');
  const info = r.anomalies.filter((a) => a.severity === 'info');
  if (loud.length > 0) {
    out.push(
      `<ul class="anomalies">${loud.map((a) => `<li class="${a.severity}"><strong>${a.severity}</strong> <code>${esc(a.name)}</code> = ${num(a.value)}: ${esc(a.description)}</li>`).join('')}</ul>`,
    );
  }
  if (info.length > 0) {
    out.push(
      `<details><summary>${info.length} info-level anomal${info.length === 1 ? 'y' : 'ies'}</summary><ul class="anomalies">${info
        .map((a) => `<li><code>${esc(a.name)}</code> = ${num(a.value)}: ${esc(a.description)}</li>`)
        .join('')}</ul></details>`,
    );
  }

  out.push('<h3>Comparison</h3>', comparisonTable(r));

  const ran = r.policies.filter((p) => p.error === undefined && p.series !== undefined);
  if (ran.length > 0) {
    const x = seconds(ran[0]!.series!.timeMs);
    const overview: ChartSpec[] = [
      {
        id: `${id}-share`,
        title: 'Fast-tier share of accesses, every policy',
        y: 'fast-tier share (%)',
        kind: 'share',
        x,
        series: ran.map((p) => ({ label: p.policy, color: colorOf.get(p.policy)!, values: percent(p.series!.fastTierAccessShare, p.series!.accesses) })),
      },
      {
        id: `${id}-stall`,
        title: 'Memory stall time per interval, every policy',
        y: 'stall time (ms)',
        kind: 'plain',
        x,
        series: ran.map((p) => ({ label: p.policy, color: colorOf.get(p.policy)!, values: scaled(p.series!.accessCostNs, 1e-6) })),
      },
    ];
    const shown = overview.map(titled);
    charts.push(...shown);
    out.push('<h3>Over trace time, every policy</h3>', chartGrid(shown));
  }

  r.policies.forEach((p, index) => {
    const pid = `${id}-p${index + 1}`;
    out.push(`<h3 class="policy" style="border-color:${colorOf.get(p.policy)}">${esc(p.policy)}</h3>`);
    const knobs = Object.entries(p.knobs);
    out.push(
      `<p class="meta">version ${esc(p.version ?? 'none')}, spec ${p.specVersion}${knobs.length > 0 ? `; knobs ${knobs.map(([k, v]) => `<code>${esc(k)}=${esc(String(v))}</code>`).join(' ')}` : '; no knobs'}</p>`,
    );
    if (p.error !== undefined) {
      out.push(`<div class="box error">failed${p.error.hook ? ` in <code>${esc(p.error.hook)}</code>` : ''}: <code>${esc(p.error.code)}</code> ${esc(p.error.message)}</div>`);
      return;
    }
    if (p.series === undefined) return;
    const specs = policyCharts(r, p, pid, colorOf.get(p.policy)!).map(titled);
    charts.push(...specs);
    const peak = p.metrics?.metadataBytesPeak ?? 0;
    if (peak > 0 && !Array.isArray((p.series as unknown as Record<string, unknown>).metadataBytes)) {
      out.push(`<p class="meta">metadata (struct pages and the like) peaks at <strong>${bytes(peak)}</strong>; the result has no per-interval series of it.</p>`);
    }
    out.push(chartGrid(specs));
  });

  if (r.assumptions.length > 0) {
    out.push(`<details><summary>Assumptions (${r.assumptions.length})</summary><ul>${r.assumptions.map((a) => `<li>${esc(a)}</li>`).join('')}</ul></details>`);
  }
  out.push('</section>');
  return out.join('\n');
}

function policyCharts(r: ReplayResult, p: PolicyResult, pid: string, color: string): ChartSpec[] {
  const s = p.series!;
  const x = seconds(s.timeMs);
  const pageBytes = r.machine.pageSize ?? 4096;
  const mib = pageBytes / 1048576;
  const specs: ChartSpec[] = [
    {
      id: `${pid}-share`,
      title: `${p.policy}: fast-tier share of accesses`,
      y: 'fast-tier share (%)',
      kind: 'share',
      x,
      series: [{ label: 'fast-tier share', color, values: percent(s.fastTierAccessShare, s.accesses) }],
    },
    {
      id: `${pid}-migrations`,
      title: `${p.policy}: migrations and evictions per interval`,
      y: 'pages per interval',
      kind: 'plain',
      x,
      series: [
        { label: 'promoted', color: migrationColors.promoted, values: s.promotedPages },
        { label: 'demoted', color: migrationColors.demoted, values: s.demotedPages },
        { label: 'evicted', color: migrationColors.evicted, values: s.evictedPages },
      ],
    },
    {
      id: `${pid}-occupancy`,
      title: `${p.policy}: occupancy per node (dashed: capacity)`,
      y: 'used (MiB)',
      kind: 'plain',
      x,
      series: r.machine.nodes.flatMap((node, n) => {
        const color = nodeColors[n % nodeColors.length]!;
        const capacityPages = p.nodes?.[n]?.capacityPages ?? node.capacityBytes / pageBytes;
        return [
          { label: `${node.name} (${node.kind})`, color, values: scaled(s.usedPages[n] ?? [], mib) },
          { label: `${node.name} capacity`, color, values: x.map(() => round(capacityPages * mib)), dash: true },
        ];
      }),
    },
    {
      id: `${pid}-dirty`,
      title: `${p.policy}: dirty bytes at risk on volatile nodes`,
      y: 'dirty at risk (MiB)',
      kind: 'plain',
      x,
      series: [{ label: 'dirty at risk', color: '#D55E00', values: scaled(s.dirtyBytesAtRisk, 1 / 1048576) }],
    },
  ];
  const metadata = (s as unknown as Record<string, unknown>).metadataBytes;
  if (Array.isArray(metadata) && metadata.some((v) => typeof v === 'number' && v > 0)) {
    specs.push({
      id: `${pid}-metadata`,
      title: `${p.policy}: metadata bytes`,
      y: 'metadata (MiB)',
      kind: 'plain',
      x,
      series: [{ label: 'metadata', color: '#CC79A7', values: scaled(metadata as number[], 1 / 1048576) }],
    });
  }
  return specs;
}

/** The title, saying so when every value is 0 (capacity lines aside): an empty chart reads as a finding, not a bug. */
function titled(spec: ChartSpec): ChartSpec {
  const flat = spec.series.filter((s) => s.dash !== true).every((s) => s.values.every((v) => v === null || v === 0));
  return flat ? { ...spec, title: `${spec.title} (all zero)` } : spec;
}

function chartGrid(specs: readonly ChartSpec[]): string {
  return `<div class="charts">${specs.map((c) => `<div class="chart" id="${esc(c.id)}" data-title="${esc(c.title)}"></div>`).join('')}</div>`;
}

// ---- the comparison table ----

const metricLabels: Partial<Record<MetricName, string>> = {
  accesses: 'accesses (trace)',
  reads: 'reads (trace)',
  writes: 'writes (trace)',
  accessCostNs: 'memory stall time',
  meanAccessCostNs: 'mean access cost',
  fastTierAccessShare: 'fast-tier share of accesses',
  totalCostNs: 'total time charged',
  pageFaults: 'page faults (trace)',
  numaHintFaults: 'NUMA hint faults',
  numaPteUpdates: 'NUMA PTE updates',
  pgpromoteSuccess: 'promotions (pages)',
  pgdemoteKswapd: 'demotions by kswapd (pages)',
  pgdemoteDirect: 'demotions in direct reclaim (pages)',
  pgmigrateSuccess: 'migrations (pages)',
  migratedBytes: 'migrated',
  migrationCostNs: 'migration time',
  pgalloc: 'pages allocated (trace)',
  allocFallback: 'alloc fallbacks',
  kswapdWakeups: 'kswapd wakeups',
  allocstall: 'direct reclaim stalls',
  memcgReclaims: 'memcg reclaim passes',
  pgscan: 'pages scanned by reclaim',
  pgsteal: 'evicted (pages)',
  workingsetRefault: 'refaults',
  kswapdCostNs: 'kswapd time',
  directReclaimCostNs: 'direct reclaim time',
  dirtyBytesAtRiskPeak: 'dirty at risk (peak)',
  dirtyBytesAtRiskMean: 'dirty at risk (mean)',
  persistentWriteBytes: 'persistent writes',
  metadataBytesPeak: 'metadata (peak)',
  deviceAccesses: 'device accesses',
  deviceAccessCostNs: 'device access time',
  deviceLocalAccessShare: 'device-local share',
  cpuAccessesToDevice: 'CPU accesses to device memory',
  cpuAccessToDeviceCostNs: 'CPU access time to device memory',
  devicePrivateFaults: 'CPU faults on device-private pages',
  migratedBytesToDevice: 'migrated to device',
  migratedBytesFromDevice: 'migrated from device',
  implicitDeviceAllocations: 'implicit device allocations',
};

function comparisonTable(r: ReplayResult): string {
  const policies = r.policies;
  const head = `<thead><tr><th>metric</th>${policies.map((p) => `<th data-policy="${esc(p.policy)}">${esc(p.policy)}</th>`).join('')}<th>better</th></tr></thead>`;
  const shown: string[] = [];
  const zero: string[] = [];
  for (const metric of metricNames) {
    const values = policies.map((p) => (p.error === undefined ? p.metrics?.[metric] : undefined));
    const present = values.filter((v): v is number => typeof v === 'number');
    if (present.length === 0) continue;
    const direction = metricDirections[metric];
    const distinct = new Set(present).size > 1;
    const best = !distinct || direction === 'neither' ? null : direction === 'lower' ? Math.min(...present) : Math.max(...present);
    const cells = policies
      .map((p, i) => {
        const v = values[i];
        if (p.error !== undefined) return '<td class="failed">failed</td>';
        if (typeof v !== 'number') return '<td>-</td>';
        return `<td${best !== null && v === best ? ' class="best"' : ''} title="${esc(String(v))}">${formatValue(v, metricUnits[metric])}</td>`;
      })
      .join('');
    const label = metricLabels[metric];
    const row = `<tr data-metric="${metric}"><th>${label ? `${esc(label)} ` : ''}<code>${metric}</code></th>${cells}<td class="direction">${direction === 'neither' ? '' : direction}</td></tr>`;
    (present.every((v) => v === 0) ? zero : shown).push(row);
  }
  const table = `<table class="metrics">${head}<tbody>${shown.join('')}</tbody></table>`;
  const folded =
    zero.length > 0
      ? `<details><summary>${zero.length} metrics are 0 for every policy</summary><table class="metrics">${head}<tbody>${zero.join('')}</tbody></table></details>`
      : '';
  return `<div class="table-wrap">${table}</div>${folded}`;
}

function formatValue(v: number, unit: MetricUnit): string {
  if (unit === 'share') return `${(v * 100).toFixed(1)}%`;
  if (unit === 'bytes') return bytes(v);
  if (unit === 'ns') {
    const a = Math.abs(v);
    if (a >= 1e9) return `${num(v / 1e9, 3)} s`;
    if (a >= 1e6) return `${num(v / 1e6, 2)} ms`;
    if (a >= 1e3) return `${num(v / 1e3, 2)} µs`;
    return `${num(v, 1)} ns`;
  }
  return Number.isInteger(v) ? num(v) : num(v, 2);
}

// ---- numbers ----

const num = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function bytes(b: number): string {
  const a = Math.abs(b);
  if (a >= 1 << 30) return `${num(b / (1 << 30), 2)} GiB`;
  if (a >= 1 << 20) return `${num(b / (1 << 20), 1)} MiB`;
  if (a >= 1 << 10) return `${num(b / (1 << 10), 1)} KiB`;
  return `${num(b)} B`;
}

/** Six significant digits: charts need no more, and the file stays small. */
function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v;
}

function seconds(timeMs: readonly number[]): number[] {
  return timeMs.map((t) => round(t / 1000));
}

function scaled(values: readonly number[], factor: number): number[] {
  return values.map((v) => round(v * factor));
}

/** A share in %, or a gap (null) in an interval without accesses. */
function percent(share: readonly number[], accesses: readonly number[]): (number | null)[] {
  return share.map((v, i) => ((accesses[i] ?? 0) > 0 ? round(v * 100) : null));
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Inline text that cannot close its element early. */
function guard(text: string, element: 'script' | 'style'): string {
  return text.replace(new RegExp(`</(${element})`, 'gi'), '<\\/$1');
}

// ---- uPlot, read from its package at render time ----

let assets: { js: string; css: string } | null = null;

function uplotAssets(): { js: string; css: string } {
  if (assets !== null) return assets;
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('uplot/package.json'));
  assets = {
    js: readFileSync(join(dir, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(join(dir, 'dist', 'uPlot.min.css'), 'utf8'),
  };
  return assets;
}

// ---- the page ----

const PAGE_CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; background: #fff; margin: 0; }
header, main { max-width: 1500px; margin: 0 auto; padding: 0 24px; }
h1 { font-size: 24px; margin: 20px 0 4px; }
h2 { font-size: 20px; margin: 0 0 6px; }
h2 .on { color: #777; font-weight: normal; }
h3 { font-size: 16px; margin: 20px 0 6px; }
h3.policy { border-left: 6px solid #999; padding-left: 8px; }
section.result { border-top: 2px solid #ddd; padding: 18px 0 8px; margin-top: 18px; }
.meta { color: #444; margin: 2px 0; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f4f4f4; padding: 0 3px; border-radius: 3px; }
nav ol { columns: 2; margin: 6px 0; }
.box { border-radius: 4px; padding: 8px 12px; margin: 8px 0; }
.box.error { background: #fdecea; border: 1px solid #e0a29a; }
.box.synthetic, .synthetic { background: #fff4d6; }
.box.synthetic { border: 1px solid #e5c36a; }
ul.anomalies { padding-left: 20px; margin: 6px 0; }
ul.anomalies li.error { color: #a40000; }
ul.anomalies li.warning { color: #8a5a00; }
.table-wrap { overflow-x: auto; }
table.metrics { border-collapse: collapse; margin: 4px 0 8px; font-variant-numeric: tabular-nums; }
table.metrics th, table.metrics td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; }
table.metrics thead th { border-bottom: 2px solid #bbb; text-align: right; white-space: nowrap; }
table.metrics thead th:first-child { text-align: left; }
table.metrics tbody th { text-align: left; font-weight: normal; white-space: nowrap; }
table.metrics td { text-align: right; white-space: nowrap; }
table.metrics td.best { background: #e3f4e8; font-weight: 600; }
table.metrics td.failed { color: #a40000; }
table.metrics td.direction { color: #888; font-size: 12px; text-align: left; }
details { margin: 6px 0; }
summary { cursor: pointer; color: #333; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px 18px; margin: 6px 0 12px; }
.chart { min-height: 250px; }
.chart .u-title { font-size: 13px; font-weight: 600; }
.chart .u-legend { font-size: 12px; }
`;

/** Builds every chart from the embedded data; `window.tierlabReport` lists them (tests read it). */
const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('tierlab-data').textContent);
  var charts = [];
  var HEIGHT = 200;
  function fmt(v) {
    if (v == null) return '-';
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function range(kind) {
    return function (u, min, max) {
      if (kind === 'share') return [0, max == null || max <= 0 ? 100 : Math.min(100, Math.max(5, max * 1.1))];
      var lo = Math.min(0, min == null ? 0 : min);
      var hi = max == null || max <= lo ? lo + 1 : max * 1.08;
      return [lo, hi];
    };
  }
  function make(spec) {
    var el = document.getElementById(spec.id);
    if (!el) return;
    var opts = {
      title: spec.title,
      width: Math.max(300, el.clientWidth),
      height: HEIGHT,
      scales: { x: { time: false }, y: { range: range(spec.kind) } },
      axes: [
        { label: 'trace time (s)', stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' } },
        { label: spec.y, size: 60, stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' } }
      ],
      series: [{ label: 'time (s)', value: function (u, v) { return fmt(v); } }].concat(spec.series.map(function (s) {
        return {
          label: s.label,
          stroke: s.color,
          width: s.dash ? 1 : 1.75,
          dash: s.dash ? [6, 4] : undefined,
          spanGaps: false,
          // Points too on short series, so an interval between two gaps (no accesses) still shows.
          points: { show: !s.dash && spec.x.length <= 400, size: spec.x.length <= 60 ? 5 : 3 },
          value: function (u, v) { return fmt(v); }
        };
      })),
      legend: { live: true }
    };
    var u = new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
    charts.push({ id: spec.id, title: spec.title, kind: spec.kind, uplot: u });
  }
  data.charts.forEach(make);
  var pending = 0;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      charts.forEach(function (c) {
        var el = document.getElementById(c.id);
        var width = Math.max(300, el.clientWidth);
        if (width !== c.uplot.width) c.uplot.setSize({ width: width, height: HEIGHT });
      });
    }, 100);
  });
  window.tierlabReport = { charts: charts, ready: true };
})();
`;
