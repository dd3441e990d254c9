/**
 * compare: base results against head results, per (trace, policy, metric).
 *
 * Results are matched by trace (sha256 and file name) and machine name; when
 * one side holds several results of one trace on one machine, by options too.
 * A matched pair is compared only when both are tierlab-result/1 and were
 * replayed on the same machine description with the same options; otherwise
 * its cells are reported as not comparable. Traces and policies found on one
 * side only are reported as added or removed.
 */

import { ErrorCode, type MetricName, TierlabError, isTierlabError, metricNames } from '@tierlab/memory-tier-api';
import type { PolicyResult, ReplayResult } from '@tierlab/replay';
import { type LoadedResult, type ResultSource, loadResults } from './load.js';
import { type MetricDirection, type MetricUnit, metricDirections, metricUnits } from './metric-directions.js';
import { type Threshold, resolveThresholds } from './thresholds.js';

export type Verdict = 'pass' | 'regression' | 'improvement-only';

/**
 * `regression`: worse than base by more than its threshold. `improvement`: better by more than it.
 * `within`: changed within its threshold. `changed`: changed, no threshold (not gated).
 * `unchanged`. `not-comparable`: the pair differs in schema, machine or options.
 */
export type CellStatus = 'regression' | 'improvement' | 'within' | 'changed' | 'unchanged' | 'not-comparable';

export interface MetricDelta {
  /** The trace comparison's label (see {@link TraceComparison.label}). */
  readonly trace: string;
  readonly policy: string;
  readonly metric: MetricName;
  readonly direction: MetricDirection;
  readonly unit: MetricUnit;
  readonly base: number;
  readonly head: number;
  /** head - base. */
  readonly delta: number;
  /** delta / |base|; 0 when both are 0; null when base is 0 and head is not. */
  readonly relative: number | null;
  /** Which way head moved, read by the metric's direction (`different` for a metric with no better side). */
  readonly change: 'better' | 'worse' | 'same' | 'different';
  readonly threshold: Threshold | null;
  readonly status: CellStatus;
}

export interface TraceComparison {
  /** `file`, with ` on <machine>` when the report spans several machines. */
  readonly label: string;
  readonly traceFile: string;
  readonly traceSha256: string;
  readonly machine: string;
  readonly status: 'compared' | 'not-comparable' | 'added' | 'removed';
  /** The base and head files (null on the side that lacks the trace). */
  readonly base: string | null;
  readonly head: string | null;
  /** Why the pair is not comparable. */
  readonly reasons: readonly string[];
  /** Provenance that changed without blocking the comparison: tool and policy versions, knobs. */
  readonly notes: readonly string[];
}

export interface PolicyChange {
  readonly trace: string;
  readonly policy: string;
  /** `failed`: ran in base, failed in head (a regression). `recovered`: the other way round. */
  readonly change: 'added' | 'removed' | 'failed' | 'recovered' | 'failed-both';
  /** The error, for failures. */
  readonly detail: string | null;
}

export interface AnomalyChange {
  readonly trace: string;
  readonly name: string;
  readonly severity: 'info' | 'warning' | 'error';
  readonly base: number;
  readonly head: number;
  /** An error-level anomaly that rose: a regression. */
  readonly regression: boolean;
}

export interface CompareSummary {
  /** Regressed cells, policies that failed in head and error anomalies that rose (in comparable pairs). */
  readonly regressions: number;
  readonly improvements: number;
  readonly within: number;
  readonly changed: number;
  readonly unchanged: number;
  /** Cells compared (every status but not-comparable). */
  readonly comparedCells: number;
  readonly notComparableCells: number;
  readonly tracesCompared: number;
  readonly tracesNotComparable: number;
  readonly tracesAdded: number;
  readonly tracesRemoved: number;
  readonly policiesAdded: number;
  readonly policiesRemoved: number;
  readonly policiesFailed: number;
}

export interface CompareReport {
  /** `regression` if anything regressed; `improvement-only` if nothing did and a gated metric improved beyond its threshold; else `pass`. */
  readonly verdict: Verdict;
  readonly thresholds: readonly Threshold[];
  /** The result files (or in-memory results) of each side. */
  readonly base: readonly string[];
  readonly head: readonly string[];
  readonly traces: readonly TraceComparison[];
  readonly policyChanges: readonly PolicyChange[];
  readonly anomalyChanges: readonly AnomalyChange[];
  /** Every cell, in trace, policy and metricNames order. */
  readonly deltas: readonly MetricDelta[];
  readonly summary: CompareSummary;
}

export interface CompareOptions {
  /** `metric=+2%`, `metric=+5`, `share=-1pt`, `metric=off`, or Threshold objects, applied over the defaults. */
  readonly thresholds?: readonly (string | Threshold)[];
  /** Start from the default thresholds (totalCostNs +1%, meanAccessCostNs +1%, fastTierAccessShare -1pt); default true. */
  readonly defaultThresholds?: boolean;
}

/**
 * Compare base against head. Each side is a result file, a folder of result
 * files, a result object, or a list of these. Throws a TierlabError (USAGE)
 * for an unreadable or invalid result or threshold, naming the file or the
 * threshold and what is wrong.
 */
export function compareResults(base: ResultSource, head: ResultSource, options: CompareOptions = {}): CompareReport {
  const thresholds = resolveThresholds(options.thresholds ?? [], { defaults: options.defaultThresholds ?? true });
  const baseResults = loadResults(base);
  const headResults = loadResults(head);
  const pairs = pairResults(baseResults, headResults);
  const labels = labelPairs(pairs);
  const byMetric = new Map(thresholds.map((t) => [t.metric, t]));

  const traces: TraceComparison[] = [];
  const policyChanges: PolicyChange[] = [];
  const anomalyChanges: AnomalyChange[] = [];
  const deltas: MetricDelta[] = [];

  pairs.forEach((pair, index) => {
    const label = labels[index]!;
    const any = (pair.base ?? pair.head)!;
    const common = { label, traceFile: any.traceFile, traceSha256: any.traceSha256, machine: any.machineName };
    if (pair.base === null || pair.head === null) {
      traces.push({
        ...common,
        status: pair.base === null ? 'added' : 'removed',
        base: pair.base?.source ?? null,
        head: pair.head?.source ?? null,
        reasons: [],
        notes: [],
      });
      return;
    }
    const reasons = [...pair.reasons, ...comparability(pair.base, pair.head)];
    const b = pair.base.result;
    const h = pair.head.result;
    const comparable = reasons.length === 0;
    traces.push({
      ...common,
      status: comparable ? 'compared' : 'not-comparable',
      base: pair.base.source,
      head: pair.head.source,
      reasons,
      notes: b !== null && h !== null ? provenanceNotes(b, h) : [],
    });
    if (b === null || h === null) return;
    for (const name of policyNames(b, h)) {
      const bp = b.policies.find((p) => p.policy === name);
      const hp = h.policies.find((p) => p.policy === name);
      if (bp === undefined || hp === undefined) {
        policyChanges.push({ trace: label, policy: name, change: bp === undefined ? 'added' : 'removed', detail: null });
        continue;
      }
      if (bp.error !== undefined || hp.error !== undefined) {
        const change = bp.error === undefined ? 'failed' : hp.error === undefined ? 'recovered' : 'failed-both';
        const error = hp.error ?? bp.error!;
        policyChanges.push({ trace: label, policy: name, change, detail: `${error.code}${error.hook ? ` in ${error.hook}` : ''}: ${error.message}` });
        continue;
      }
      for (const metric of metricNames) {
        // A metric newer than one side's tool has no cell.
        if (typeof bp.metrics?.[metric] !== 'number' || typeof hp.metrics?.[metric] !== 'number') continue;
        deltas.push(compareCell(label, name, metric, bp, hp, comparable ? (byMetric.get(metric) ?? null) : null, comparable));
      }
    }
    if (comparable) anomalyChanges.push(...compareAnomalies(label, b, h));
  });

  const count = (status: CellStatus) => deltas.filter((d) => d.status === status).length;
  // A policy that failed in head is a regression where the pair is comparable.
  const compared = new Set(traces.filter((t) => t.status === 'compared').map((t) => t.label));
  const failed = policyChanges.filter((p) => p.change === 'failed' && compared.has(p.trace)).length;
  const summary: CompareSummary = {
    regressions: count('regression') + failed + anomalyChanges.filter((a) => a.regression).length,
    improvements: count('improvement'),
    within: count('within'),
    changed: count('changed'),
    unchanged: count('unchanged'),
    comparedCells: deltas.length - count('not-comparable'),
    notComparableCells: count('not-comparable'),
    tracesCompared: traces.filter((t) => t.status === 'compared').length,
    tracesNotComparable: traces.filter((t) => t.status === 'not-comparable').length,
    tracesAdded: traces.filter((t) => t.status === 'added').length,
    tracesRemoved: traces.filter((t) => t.status === 'removed').length,
    policiesAdded: policyChanges.filter((p) => p.change === 'added').length,
    policiesRemoved: policyChanges.filter((p) => p.change === 'removed').length,
    policiesFailed: failed,
  };
  const verdict: Verdict = summary.regressions > 0 ? 'regression' : summary.improvements > 0 ? 'improvement-only' : 'pass';
  return {
    verdict,
    thresholds,
    base: baseResults.map((r) => r.source),
    head: headResults.map((r) => r.source),
    traces,
    policyChanges,
    anomalyChanges,
    deltas,
    summary,
  };
}

/** Exit status of `tierlab compare`: 0 within thresholds (pass or improvement-only), 1 regression. Bad input is 2 (see {@link compareExitCodes}). */
export function compareExitCode(report: CompareReport): 0 | 1 {
  return report.verdict === 'regression' ? 1 : 0;
}

/** Exit status for an error `compareResults` threw: 2 for a TierlabError (bad usage or bad input), 70 for anything else (a bug, as the app reports internal errors). */
export function compareErrorExitCode(error: unknown): 2 | 70 {
  return isTierlabError(error) ? compareExitCodes.badInput : 70;
}

/** Exit statuses of `tierlab compare`. */
export const compareExitCodes = {
  /** Nothing regressed (verdict pass or improvement-only). */
  pass: 0,
  /** A metric regressed beyond its threshold, a policy failed in head, or an error anomaly rose. */
  regression: 1,
  /** Bad usage or bad input: an unreadable or invalid result file, a bad threshold. */
  badInput: 2,
} as const;

// ---- matching ----

interface Pair {
  readonly base: LoadedResult | null;
  readonly head: LoadedResult | null;
  /** Reasons found while matching (a changed trace hash). */
  readonly reasons: readonly string[];
}

const optionsKey = (r: LoadedResult) => JSON.stringify(r.raw.options ?? null);

function pairResults(base: readonly LoadedResult[], head: readonly LoadedResult[]): Pair[] {
  const groupKey = (r: LoadedResult) => `${r.traceSha256}\0${r.traceFile}\0${r.machineName}`;
  const keys: string[] = [];
  const groups = new Map<string, { base: LoadedResult[]; head: LoadedResult[] }>();
  for (const [side, list] of [['base', base], ['head', head]] as const) {
    for (const r of list) {
      const key = groupKey(r);
      let group = groups.get(key);
      if (group === undefined) {
        group = { base: [], head: [] };
        groups.set(key, group);
        keys.push(key);
      }
      const same = group[side].find((other) => optionsKey(other) === optionsKey(r));
      if (same !== undefined) {
        throw new TierlabError({
          code: ErrorCode.usage,
          source: 'compare',
          file: r.source,
          message: `${side} holds two results of trace ${r.traceFile} on machine ${r.machineName} with the same options (the other is ${same.source})`,
          expected: 'one result per trace, machine and options on each side',
        });
      }
      group[side].push(r);
    }
  }
  const pairs: Pair[] = [];
  const added: LoadedResult[] = [];
  const removed: LoadedResult[] = [];
  for (const key of keys) {
    const group = groups.get(key)!;
    const headLeft = [...group.head];
    const baseLeft: LoadedResult[] = [];
    for (const b of group.base) {
      const i = headLeft.findIndex((h) => optionsKey(h) === optionsKey(b));
      if (i >= 0) pairs.push({ base: b, head: headLeft.splice(i, 1)[0]!, reasons: [] });
      else baseLeft.push(b);
    }
    if (baseLeft.length === 1 && headLeft.length === 1) {
      // Same trace and machine, other options: matched, and reported as not comparable.
      pairs.push({ base: baseLeft[0]!, head: headLeft[0]!, reasons: [] });
    } else {
      removed.push(...baseLeft);
      added.push(...headLeft);
    }
  }
  // A trace file whose content changed (same name and machine, another sha256): one pair, not comparable.
  for (const b of [...removed]) {
    const i = added.findIndex((h) => h.traceFile === b.traceFile && h.machineName === b.machineName);
    if (i < 0) continue;
    const h = added.splice(i, 1)[0]!;
    removed.splice(removed.indexOf(b), 1);
    pairs.push({
      base: b,
      head: h,
      reasons: [`the trace file changed: sha256 ${b.traceSha256.slice(0, 12)} in base, ${h.traceSha256.slice(0, 12)} in head`],
    });
  }
  for (const b of removed) pairs.push({ base: b, head: null, reasons: [] });
  for (const h of added) pairs.push({ base: null, head: h, reasons: [] });
  // In the order the results were given: base first, then what only head has.
  const order = (p: Pair) => (p.base !== null ? base.indexOf(p.base) : base.length + head.indexOf(p.head!));
  return pairs.sort((a, b) => order(a) - order(b));
}

function labelPairs(pairs: readonly Pair[]): string[] {
  const machines = new Set(pairs.map((p) => (p.base ?? p.head)!.machineName));
  const labels = pairs.map((p) => {
    const r = (p.base ?? p.head)!;
    return machines.size > 1 ? `${r.traceFile} on ${r.machineName}` : r.traceFile;
  });
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return labels.filter((l) => l === label).length > 1 ? `${label} #${n}` : label;
  });
}

// ---- comparability and provenance ----

const nodeSpecFields = [
  'name',
  'kind',
  'capacity',
  'readLatencyNs',
  'writeLatencyNs',
  'readBandwidthGBs',
  'writeBandwidthGBs',
  'persistent',
  'cpuAccess',
  'structPages',
  'abstractDistance',
  'hasCpus',
  'inFallbackZonelist',
] as const;
const costFields = [
  'pageFaultNs',
  'hintFaultNs',
  'migrationFixedNs',
  'tlbShootdownNs',
  'reclaimPerPageNs',
  'majorFaultNs',
  'writebackPageNs',
  'deviceRemoteAccessNs',
] as const;

const show = (value: unknown) => (value === undefined ? 'absent' : JSON.stringify(value));

/** Why two matched results cannot be compared: schema, machine description, options. Empty when they can. */
function comparability(base: LoadedResult, head: LoadedResult): string[] {
  if (base.result === null || head.result === null) {
    return [`schema ${base.schema} in base, ${head.schema} in head: this compare reads tierlab-result/1 only`];
  }
  const reasons: string[] = [];
  const bm = base.result.machine;
  const hm = head.result.machine;
  const machine: string[] = [];
  if (bm.nodes.length !== hm.nodes.length) machine.push(`${bm.nodes.length} nodes in base, ${hm.nodes.length} in head`);
  bm.nodes.forEach((bn, i) => {
    const hn = hm.nodes[i];
    if (hn === undefined) return;
    for (const field of nodeSpecFields) {
      if (JSON.stringify(bn[field]) !== JSON.stringify(hn[field])) machine.push(`nodes[${i}].${field} ${show(bn[field])} -> ${show(hn[field])}`);
    }
  });
  for (const field of costFields) {
    if (bm.costs[field] !== hm.costs[field]) machine.push(`costs.${field} ${show(bm.costs[field])} -> ${show(hm.costs[field])}`);
  }
  if (bm.pageSize !== hm.pageSize) machine.push(`pageSize ${bm.pageSize} -> ${hm.pageSize}`);
  if (machine.length > 0) reasons.push(`machine ${bm.name} is described differently: ${machine.join(', ')}`);
  const bo = base.result.options as unknown as Record<string, unknown>;
  const ho = head.result.options as unknown as Record<string, unknown>;
  const options = [...new Set([...Object.keys(bo), ...Object.keys(ho)])]
    .filter((key) => JSON.stringify(bo[key]) !== JSON.stringify(ho[key]))
    .map((key) => `${key} ${show(bo[key])} -> ${show(ho[key])}`);
  if (options.length > 0) reasons.push(`options differ: ${options.join(', ')}`);
  const overlay = (r: LoadedResult) => (r.raw.overlay as { file?: string; sha256?: string } | null | undefined) ?? null;
  const bOverlay = overlay(base);
  const hOverlay = overlay(head);
  if (JSON.stringify(bOverlay) !== JSON.stringify(hOverlay)) {
    const describe = (o: { file?: string; sha256?: string } | null) => (o === null ? 'none' : `${o.file} (sha256 ${String(o.sha256).slice(0, 12)})`);
    reasons.push(`workload overlay ${describe(bOverlay)} in base, ${describe(hOverlay)} in head`);
  }
  return reasons;
}

/** What changed in provenance without making the pair incomparable. */
function provenanceNotes(base: ReplayResult, head: ReplayResult): string[] {
  const notes: string[] = [];
  if (base.tool.version !== head.tool.version) notes.push(`${base.tool.name} ${base.tool.version} -> ${head.tool.version}`);
  if (base.trace.format !== head.trace.format) notes.push(`trace read as ${base.trace.format} in base, ${head.trace.format} in head`);
  for (const bp of base.policies) {
    const hp = head.policies.find((p) => p.policy === bp.policy);
    if (hp === undefined) continue;
    if (bp.version !== hp.version) notes.push(`${bp.policy} version ${show(bp.version)} -> ${show(hp.version)}`);
    if (bp.specVersion !== hp.specVersion) notes.push(`${bp.policy} specVersion ${bp.specVersion} -> ${hp.specVersion}`);
    const keys = [...new Set([...Object.keys(bp.knobs), ...Object.keys(hp.knobs)])];
    const knobs = keys.filter((k) => bp.knobs[k] !== hp.knobs[k]).map((k) => `${k} ${show(bp.knobs[k])} -> ${show(hp.knobs[k])}`);
    if (knobs.length > 0) notes.push(`${bp.policy} knobs: ${knobs.join(', ')}`);
  }
  return notes;
}

function policyNames(base: ReplayResult, head: ReplayResult): string[] {
  const names = base.policies.map((p) => p.policy);
  for (const p of head.policies) if (!names.includes(p.policy)) names.push(p.policy);
  return names;
}

// ---- cells ----

function compareCell(
  trace: string,
  policy: string,
  metric: MetricName,
  bp: PolicyResult,
  hp: PolicyResult,
  threshold: Threshold | null,
  comparable: boolean,
): MetricDelta {
  const base = bp.metrics![metric];
  const head = hp.metrics![metric];
  const direction = metricDirections[metric];
  const delta = head - base;
  const tolerance = 1e-9 * Math.max(Math.abs(base), Math.abs(head));
  const same = Math.abs(delta) <= tolerance;
  const relative = same ? 0 : base !== 0 ? delta / Math.abs(base) : null;
  const worse = direction === 'lower' ? delta : direction === 'higher' ? -delta : Math.abs(delta);
  const change = same ? 'same' : direction === 'neither' ? 'different' : worse > 0 ? 'worse' : 'better';
  let status: CellStatus;
  if (!comparable) status = 'not-comparable';
  else if (same) status = 'unchanged';
  else if (threshold === null) status = 'changed';
  else {
    const limit = threshold.kind === 'relative' ? threshold.amount * Math.abs(base) : threshold.amount;
    if (worse > limit + tolerance) status = 'regression';
    else if (direction !== 'neither' && -worse > limit + tolerance) status = 'improvement';
    else status = 'within';
  }
  return { trace, policy, metric, direction, unit: metricUnits[metric], base, head, delta, relative, change, threshold, status };
}

function compareAnomalies(trace: string, base: ReplayResult, head: ReplayResult): AnomalyChange[] {
  const names = [...new Set([...base.anomalies.map((a) => a.name), ...head.anomalies.map((a) => a.name)])];
  const out: AnomalyChange[] = [];
  for (const name of names) {
    const b = base.anomalies.find((a) => a.name === name);
    const h = head.anomalies.find((a) => a.name === name);
    const bv = b?.value ?? 0;
    const hv = h?.value ?? 0;
    if (bv === hv) continue;
    const severity = (h ?? b)!.severity;
    out.push({ trace, name, severity, base: bv, head: hv, regression: severity === 'error' && hv > bv });
  }
  return out;
}
