/**
 * The fidelity suite: every fixture under traces/fidelity/, replayed and
 * compared with what the kernel did, each number against its band.
 *
 * A fixture is a directory with a `fixture.json`:
 * - kind "tiering": a lab run (scripts/fidelity/capture.sh) with the trace,
 *   the guest's counters and zoneinfo; compared by {@link tieringFidelity};
 * - kind "reclaim": a memcg capture (the trace may live elsewhere in the
 *   repository: `trace` is relative to the fixture) with its pid and limit;
 *   compared by {@link reclaimFidelity}.
 * `bands` gives, per compared number, the largest |model / kernel - 1|
 * accepted (or `{ "min": x }` for a share that must reach x). A number
 * outside its band fails the suite, and CI with it.
 */

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCapacity } from '@tierlab/machines';
import { reclaimFidelity } from './reclaim.js';
import { type TieringFidelity, type TieringRun, readTieringRun, relativeError, tieringCounters, tieringFidelity } from './tiering.js';

export type Band = number | { readonly min: number };

export interface FixtureSpec {
  readonly name: string;
  readonly dir: string;
  readonly kind: 'tiering' | 'reclaim';
  readonly bands: Readonly<Record<string, Band>>;
  /** Anything else the manifest says (capture command, kernel, counters...). */
  readonly manifest: Readonly<Record<string, unknown>>;
}

export interface FidelityRow {
  readonly name: string;
  /** The kernel's number (absent for a share the model alone has, such as victim overlap). */
  readonly real: number | null;
  readonly model: number;
  /** model / real - 1, or the share itself for a `min` band. */
  readonly error: number;
  readonly band: Band | null;
  readonly ok: boolean;
}

export interface FixtureResult {
  readonly fixture: string;
  readonly kind: string;
  readonly summary: string;
  readonly rows: readonly FidelityRow[];
  readonly ok: boolean;
}

/** The fixtures under `root` (traces/fidelity), sorted by name. */
export function listFixtures(root: string): FixtureSpec[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'fixture.json')))
    .map((d) => readFixture(join(root, d.name)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function readFixture(dir: string): FixtureSpec {
  const path = join(dir, 'fixture.json');
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new Error(`${path}: not a fixture manifest (${(cause as Error).message})`);
  }
  const kind = manifest.kind;
  if (kind !== 'tiering' && kind !== 'reclaim') throw new Error(`${path}: kind must be "tiering" or "reclaim", got ${JSON.stringify(kind)}`);
  const bands = (manifest.bands ?? {}) as Record<string, Band>;
  for (const [k, b] of Object.entries(bands)) {
    const ok = (typeof b === 'number' && b >= 0) || (typeof b === 'object' && b !== null && typeof b.min === 'number');
    if (!ok) throw new Error(`${path}: band ${k} must be a number >= 0 (largest |model/kernel - 1|) or { "min": share }, got ${JSON.stringify(b)}`);
  }
  return { name: String(manifest.name ?? dir.split('/').pop()), dir, kind, bands, manifest };
}

function row(name: string, real: number | null, model: number, band: Band | undefined): FidelityRow {
  if (band !== undefined && typeof band === 'object') {
    return { name, real, model, error: model, band, ok: model >= band.min };
  }
  const error = relativeError(real ?? 0, model);
  return { name, real, model, error, band: band ?? null, ok: band === undefined || Math.abs(error) <= band };
}

export async function runFixture(fixture: FixtureSpec): Promise<FixtureResult> {
  if (fixture.kind === 'tiering') {
    const run = readTieringRun(fixture.dir, fixture.name);
    return tieringResult(run, await tieringFidelity({ run }), fixture.bands);
  }
  const m = fixture.manifest;
  const trace = resolve(fixture.dir, String(m.trace));
  const bytes = (v: unknown) => (v === undefined || String(v).trim() === '0' ? 0 : parseCapacity(String(v), null) * 4096);
  const r = await reclaimFidelity({
    trace,
    pid: Number(m.pid),
    limitBytes: bytes(m.limit),
    unaccountedBytes: bytes(m.unaccounted),
  });
  const rows = [
    row('evictions', r.real.evictions, r.model.evictions, fixture.bands.evictions),
    row('refaults', r.real.refaults, r.model.refaults, fixture.bands.refaults),
    row('victim_overlap', null, r.victimOverlap, fixture.bands.victim_overlap),
  ];
  const summary = `memcg limit ${String(m.limit)} (model: ${String(m.limit)} - ${String(m.unaccounted ?? 0)} unaccounted), pid ${String(m.pid)}`;
  return { fixture: fixture.name, kind: fixture.kind, summary, rows, ok: rows.every((x) => x.ok) };
}

/** A tiering comparison as rows, each against its band (none: not checked). */
export function tieringResult(run: TieringRun, r: TieringFidelity, bands: Readonly<Record<string, Band>> = {}): FixtureResult {
  const rows = tieringCounters.map((c) => row(c, r.real[c], r.model[c], bands[c]));
  const p = run.params;
  const summary = `${r.kernel.split(' ')[2] ?? r.kernel}; tierwl hot ${p.HOT_MB} MiB, cold ${p.COLD_MB} MiB, ${p.SECONDS} s${p.SHIFT_AT ? `, shift at ${p.SHIFT_AT} s` : ''}; ${r.sweeps} sweeps, ${r.sweepsReplayed} replayed (${r.sweepAccesses.toLocaleString('en-US')} accesses)`;
  return { fixture: run.name, kind: 'tiering', summary, rows, ok: rows.every((x) => x.ok) };
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : 'inf');
const num = (x: number | null) => (x === null ? '' : Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(3));

/** The side-by-side table of one fixture. */
export function formatFixtureResult(r: FixtureResult): string {
  const lines = [`${r.fixture} (${r.kind}): ${r.summary}`];
  lines.push(`  ${'counter'.padEnd(22)}${'kernel'.padStart(10)}${'model'.padStart(10)}${'model/kernel'.padStart(14)}  band`);
  for (const x of r.rows) {
    const band = x.band === null ? '(not checked)' : typeof x.band === 'number' ? `±${(x.band * 100).toFixed(0)}%` : `>= ${(x.band.min * 100).toFixed(0)}%`;
    const err = typeof x.band === 'object' && x.band !== null ? `${(x.model * 100).toFixed(1)}%` : pct(x.error);
    lines.push(`  ${x.name.padEnd(22)}${num(x.real).padStart(10)}${num(x.model).padStart(10)}${err.padStart(14)}  ${band}${x.band === null ? '' : x.ok ? '  ok' : '  OUT OF BAND'}`);
  }
  return lines.join('\n');
}
