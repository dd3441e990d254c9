/**
 * For this package's tests: real replays of real captures, written as
 * `tierlab replay --json` writes them. Not part of the package's exports.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MachineSpec, PolicyFactory } from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { kmemTiering } from '@tierlab/policy-kmem-tiering';
import { type PolicyRequest, type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces } from '@tierlab/test-support';

/** The shipped policies, as the app's registry types them. */
export const firstTouchPolicy = firstTouch as unknown as PolicyFactory;
export const kmemTieringPolicy = kmemTiering;

/** Both shipped policies at their defaults. */
export const bothPolicies: readonly PolicyRequest[] = [{ factory: firstTouchPolicy }, { factory: kmemTieringPolicy }];

export interface TestReplay {
  readonly trace: string;
  readonly machine?: string | MachineSpec;
  readonly policies?: readonly PolicyRequest[];
  readonly seed?: number;
}

/** Replay a trace (a path, or a name in the bundled traces/) and return the result. */
export async function replayResult(options: TestReplay): Promise<ReplayResult> {
  const trace = options.trace.includes('/') ? options.trace : join(bundledTraces(), options.trace);
  return replay({
    trace,
    machine: options.machine ?? 'dram-pmem',
    policies: options.policies ?? bothPolicies,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
}

/** Write a result exactly as the CLI's --json does. */
export function writeResult(path: string, result: ReplayResult | unknown): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** Copy of a result file with `edit` applied to its parsed JSON, written to `to`. */
export function editResult(from: string, to: string, edit: (json: EditableResult) => void): string {
  const json = JSON.parse(readFileSync(from, 'utf8')) as EditableResult;
  edit(json);
  return writeResult(to, json);
}

/** A result file's JSON, loosely typed for editing. */
// biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary fields of parsed JSON
export type EditableResult = Record<string, any>;
