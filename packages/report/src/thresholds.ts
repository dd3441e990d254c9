/**
 * Regression thresholds: `metric=+2%` (relative to base) or `metric=+5`
 * (absolute, in the metric's unit); for shares also `metric=-1pt`
 * (percentage points). A head value worse than base by more than the
 * threshold is a regression. The sign says which way is worse and must agree
 * with the metric's direction (`+` for lower-is-better, `-` for
 * higher-is-better); it may be left out.
 */

import { ErrorCode, type MetricName, TierlabError, metricNames } from '@tierlab/memory-tier-api';
import { metricDirections, metricUnits } from './metric-directions.js';

export interface Threshold {
  readonly metric: MetricName;
  /** `relative`: a share of the base value; `absolute`: in the metric's unit. */
  readonly kind: 'relative' | 'absolute';
  /** How much worse is tolerated: a fraction for relative (0.01 = 1%), an amount for absolute (shares: 0.01 = 1 point). */
  readonly amount: number;
  /** As written after `=`, e.g. `+1%`, `-1pt`, `+5`. */
  readonly text: string;
}

/** What `compare` gates on when no threshold is given: the headline costs and the fast-tier share. */
export const defaultThresholds: readonly Threshold[] = [
  { metric: 'totalCostNs', kind: 'relative', amount: 0.01, text: '+1%' },
  { metric: 'meanAccessCostNs', kind: 'relative', amount: 0.01, text: '+1%' },
  { metric: 'fastTierAccessShare', kind: 'absolute', amount: 0.01, text: '-1pt' },
];

const syntax = /^([A-Za-z][A-Za-z0-9]*)\s*=\s*(?:(off)|([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(%|pt)?)$/i;

function usage(message: string, excerpt: string, expected: string): TierlabError {
  return new TierlabError({ code: ErrorCode.usage, source: 'compare', message, expected, excerpt });
}

/**
 * Parse `metric=+2%`, `metric=+5`, `share=-1pt`, or `metric=off` (returns
 * `{ metric, off: true }`: drop that metric's default threshold).
 * Throws a TierlabError (USAGE) naming what is wrong.
 */
export function parseThreshold(text: string): Threshold | { readonly metric: MetricName; readonly off: true } {
  const m = syntax.exec(text.trim());
  if (m === null) {
    throw usage('bad threshold', text, "metric=+2% (relative), metric=+5 (absolute), share=-1pt (points) or metric=off");
  }
  const metric = m[1]!;
  if (!(metricNames as readonly string[]).includes(metric)) {
    throw usage(`unknown metric '${metric}' in threshold`, text, `one of ${metricNames.join(', ')}`);
  }
  const name = metric as MetricName;
  if (m[2] !== undefined) return { metric: name, off: true };
  const sign = m[3] ?? '';
  const value = Number(m[4]);
  const suffix = (m[5] ?? '').toLowerCase();
  const direction = metricDirections[name];
  if (direction === 'lower' && sign === '-') {
    throw usage(`${name}: lower is better, so a regression is a rise`, text, `${name}=+${m[4]}${m[5] ?? ''}`);
  }
  if (direction === 'higher' && sign === '+') {
    throw usage(`${name}: higher is better, so a regression is a fall`, text, `${name}=-${m[4]}${m[5] ?? ''}`);
  }
  if (suffix === 'pt' && metricUnits[name] !== 'share') {
    throw usage(`${name} is not a share: 'pt' (percentage points) applies only to shares`, text, `${name}=${sign}${m[4]}% or ${name}=${sign}${m[4]}`);
  }
  const shown = sign !== '' ? sign : direction === 'higher' ? '-' : direction === 'lower' ? '+' : '';
  return {
    metric: name,
    kind: suffix === '%' ? 'relative' : 'absolute',
    amount: suffix === '%' || suffix === 'pt' ? value / 100 : value,
    text: `${shown}${m[4]}${suffix}`,
  };
}

export interface ResolveThresholdOptions {
  /** Start from {@link defaultThresholds} (default true). */
  readonly defaults?: boolean;
}

/** The thresholds in force: defaults, then each given one (a later one for the same metric wins), in metricNames order. */
export function resolveThresholds(given: readonly (string | Threshold)[] = [], options: ResolveThresholdOptions = {}): Threshold[] {
  const byMetric = new Map<MetricName, Threshold>();
  if (options.defaults ?? true) for (const t of defaultThresholds) byMetric.set(t.metric, t);
  for (const entry of given) {
    const t = typeof entry === 'string' ? parseThreshold(entry) : checkThreshold(entry);
    if ('off' in t) byMetric.delete(t.metric);
    else byMetric.set(t.metric, t);
  }
  return metricNames.filter((m) => byMetric.has(m)).map((m) => byMetric.get(m)!);
}

function checkThreshold(t: Threshold): Threshold {
  if (!(metricNames as readonly string[]).includes(t.metric)) throw new TypeError(`unknown metric '${String(t.metric)}' in threshold`);
  if (t.kind !== 'relative' && t.kind !== 'absolute') throw new TypeError(`threshold kind must be 'relative' or 'absolute', got '${String(t.kind)}'`);
  if (!(Number.isFinite(t.amount) && t.amount >= 0)) throw new TypeError(`threshold amount must be a finite number >= 0, got ${String(t.amount)}`);
  return t;
}

/** `totalCostNs=+1%` */
export function formatThreshold(t: Threshold): string {
  return `${t.metric}=${t.text}`;
}
