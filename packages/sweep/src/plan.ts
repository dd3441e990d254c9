/**
 * The matrix of a sweep, as cells: one cell is one replay() of one trace on
 * one machine through a group of policies, written to one result file. Each
 * cell has a key, the sha256 of everything its result depends on, so a cell
 * whose file is already there is not replayed again.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { listPresets, loadMachine } from '@tierlab/machines';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { TOOL_NAME, TOOL_VERSION } from '@tierlab/replay';
import { hashFile } from '@tierlab/trace-core';
import { codeFingerprint } from './fingerprint.js';
import { type PolicySpec, parsePolicySpec, builtinPolicies } from './policies.js';

/** A trace with what belongs to it: a workload overlay, and pid or comm filters. */
export interface SweepTrace {
  readonly file: string;
  /** A workload overlay file (mbind bindings, device accesses) for this trace. */
  readonly overlay?: string;
  readonly pids?: readonly number[];
  readonly comms?: readonly string[];
}

/** The version of the cell key: bump it when what a key covers changes. */
export const SWEEP_KEY_VERSION = 1;

/** Folder of the result files, inside the sweep's output folder. */
export const RESULTS_DIR = 'results';

export interface SweepCell {
  /** sha256 (hex) of the tool version and built code, trace content, machine description, overlay, options and policies with their resolved knobs. */
  readonly key: string;
  /** The result file, relative to the output folder: `results/<trace>.<machine>[.gN].<key>.json`. */
  readonly file: string;
  readonly trace: {
    /** As given. */
    readonly path: string;
    readonly file: string;
    readonly sha256: string;
    readonly bytes: number;
  };
  /** As given: a preset name or a machine file. */
  readonly machine: string;
  /** The machine's own name (what `compare` matches). */
  readonly machineName: string;
  /** The policy specs of this cell, as given, in the order given. */
  readonly policies: readonly string[];
  /** 0 unless one policy name is swept with several knob settings: the n-th setting of each name replays in group n. */
  readonly group: number;
  readonly overlay: { readonly path: string; readonly sha256: string } | null;
  readonly pids: readonly number[];
  readonly comms: readonly string[];
}

/** What a worker needs to replay one cell: absolute paths, names and strings only. */
export interface CellTask {
  readonly trace: string;
  readonly machine: string;
  readonly policies: readonly { readonly name: string; readonly options: Readonly<Record<string, string>> }[];
  readonly seed: number;
  readonly intervalMs: number;
  readonly pids: readonly number[];
  readonly comms: readonly string[];
  readonly overlay: string | null;
}

export interface PlanOptions {
  readonly traces: readonly (string | SweepTrace)[];
  readonly machines: readonly string[];
  readonly policies: readonly string[];
  readonly seed: number;
  readonly intervalMs: number;
  /** Relative paths are resolved against this folder. */
  readonly cwd: string;
}

export interface PlannedCell {
  readonly cell: SweepCell;
  readonly task: CellTask;
}

/**
 * Every cell of the matrix, in index order (trace file name, trace path,
 * machine, group), duplicates (same key) dropped. Throws a TierlabError for a
 * missing trace or overlay, an unknown machine or policy, or a bad knob.
 */
export async function planSweep(options: PlanOptions): Promise<PlannedCell[]> {
  if (options.traces.length === 0) throw usage('no traces given');
  if (options.machines.length === 0) throw usage('no machines given');
  if (options.policies.length === 0) throw usage('no policies given');
  const specs = options.policies.map((spec) => parsePolicySpec(spec, builtinPolicies));
  const groups = groupPolicies(specs);
  const machines = options.machines.map((machine) => {
    const spec = loadMachine(isPreset(machine) ? machine : resolve(options.cwd, machine));
    return { given: machine, task: isPreset(machine) ? machine : resolve(options.cwd, machine), spec, slug: machineSlug(machine) };
  });
  const traces: Array<{ given: SweepTrace; path: string; sha256: string; bytes: number; overlay: { path: string; abs: string; sha256: string } | null }> = [];
  for (const entry of options.traces) {
    const given: SweepTrace = typeof entry === 'string' ? { file: entry } : entry;
    const path = resolve(options.cwd, given.file);
    if (!isFile(path)) throw usage(`trace ${given.file} not found`, given.file);
    let overlay: { path: string; abs: string; sha256: string } | null = null;
    if (given.overlay !== undefined) {
      const abs = resolve(options.cwd, given.overlay);
      if (!isFile(abs)) throw usage(`overlay ${given.overlay} not found`, given.overlay);
      overlay = { path: given.overlay, abs, sha256: sha256(readFileSync(abs)) };
    }
    traces.push({ given, path, sha256: await hashFile(path), bytes: statSync(path).size, overlay });
  }

  const code = codeFingerprint();
  const planned: PlannedCell[] = [];
  const seen = new Set<string>();
  for (const trace of traces) {
    const file = basename(trace.path);
    const pids = [...(trace.given.pids ?? [])];
    const comms = [...(trace.given.comms ?? [])];
    for (const machine of machines) {
      groups.forEach((group, index) => {
        const key = sha256(
          JSON.stringify({
            sweepKey: SWEEP_KEY_VERSION,
            tool: `${TOOL_NAME} ${TOOL_VERSION}`,
            code,
            trace: { file, sha256: trace.sha256 },
            machine: machine.spec,
            overlay: trace.overlay === null ? null : { file: basename(trace.overlay.abs), sha256: trace.overlay.sha256 },
            options: { seed: options.seed, intervalMs: options.intervalMs, pids, comms },
            policies: group.map((p) => ({ name: p.name, version: p.version, knobs: p.knobs })),
          }),
        );
        if (seen.has(key)) return;
        seen.add(key);
        const name = [traceStem(file), machine.slug, ...(groups.length > 1 ? [`g${index + 1}`] : []), key.slice(0, 12), 'json'].join('.');
        planned.push({
          cell: {
            key,
            file: `${RESULTS_DIR}/${name}`,
            trace: { path: trace.given.file, file, sha256: trace.sha256, bytes: trace.bytes },
            machine: machine.given,
            machineName: machine.spec.name,
            policies: group.map((p) => p.spec),
            group: index,
            overlay: trace.overlay === null ? null : { path: trace.overlay.path, sha256: trace.overlay.sha256 },
            pids,
            comms,
          },
          task: {
            trace: trace.path,
            machine: machine.task,
            policies: group.map((p) => ({ name: p.name, options: p.options })),
            seed: options.seed,
            intervalMs: options.intervalMs,
            pids,
            comms,
            overlay: trace.overlay?.abs ?? null,
          },
        });
      });
    }
  }
  return planned.sort((a, b) => compareCells(a.cell, b.cell));
}

/** Index order: trace file name, trace path, machine, group, then key. */
export function compareCells(a: SweepCell, b: SweepCell): number {
  return (
    compareStrings(a.trace.file, b.trace.file) ||
    compareStrings(a.trace.path, b.trace.path) ||
    compareStrings(a.machine, b.machine) ||
    a.group - b.group ||
    compareStrings(a.key, b.key)
  );
}

/** By UTF-16 code units: the same order on every machine and locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Policies replay together when their names differ (one replay() holds each
 * name once); the n-th spec of a name goes to group n.
 */
function groupPolicies(specs: readonly PolicySpec[]): PolicySpec[][] {
  const groups: PolicySpec[][] = [];
  const count = new Map<string, number>();
  for (const spec of specs) {
    const n = count.get(spec.name) ?? 0;
    count.set(spec.name, n + 1);
    (groups[n] ??= []).push(spec);
  }
  return groups;
}

function isPreset(machine: string): boolean {
  return listPresets().includes(machine);
}

function machineSlug(machine: string): string {
  const name = isPreset(machine) ? machine : basename(machine, extname(machine));
  return slug(name);
}

/** `sqlite_orders.perf-script.txt.zst` -> `sqlite_orders.perf-script`. */
function traceStem(file: string): string {
  return slug(file.replace(/\.(zst|gz)$/, '').replace(/\.txt$/, ''));
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_') || '_';
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function usage(message: string, excerpt?: string): TierlabError {
  return new TierlabError({ code: ErrorCode.usage, source: 'sweep', message, ...(excerpt !== undefined ? { excerpt } : {}) });
}
