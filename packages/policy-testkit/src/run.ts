/**
 * One replay of a policy on a stream and a machine, the way `tierlab replay`
 * runs it (one Engine per policy, same seed), with the policy's hooks
 * wrapped to count calls and to mark hook time for the clock guard.
 */

import { Engine, type EngineResult } from '@tierlab/engine';
import { resolveMachine } from '@tierlab/machines';
import {
  type EventBatch,
  type KnobSpec,
  type MachineSpec,
  type PolicyFactory,
  type ResolvedMachine,
  type TierPolicy,
  isTierlabError,
} from '@tierlab/memory-tier-api';
import { ConformanceError } from './errors.js';
import { type ClockGuard, GUARD_ERROR } from './guard.js';
import { type EventStream, chunkBatches, lifetimeAccessesOf } from './streams.js';

/** The optional hooks of policy spec v1, in the order the spec lists them. */
export const hookNames = [
  'init',
  'placePage',
  'onPlaced',
  'onFault',
  'onAccessSample',
  'onPressure',
  'onTick',
  'onIo',
  'onFree',
  'finish',
] as const;
export type HookName = (typeof hookNames)[number];

/** Any policy factory, whatever its knobs' types. */
export type AnyPolicyFactory = ((options?: never) => TierPolicy) & {
  readonly policyName: string;
  readonly description: string;
  readonly knobs: Readonly<Record<string, KnobSpec>>;
};

export interface RunSpec {
  readonly factory: AnyPolicyFactory;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly stream: EventStream;
  readonly machine: MachineSpec;
  readonly seed: number;
  /** Check Engine.verify() after every batch (and always at the end). */
  readonly verifyEachBatch?: boolean;
  /** Push at most this many rows at a time (interleaving granularity). */
  readonly rowsPerPush?: number;
  readonly guard?: ClockGuard;
}

export interface RunOutcome {
  readonly policy: TierPolicy;
  readonly machine: ResolvedMachine;
  readonly result: EngineResult;
  /** JSON of the result: what determinism is judged on. */
  readonly json: string;
  readonly hookCalls: Readonly<Record<string, number>>;
  /** Engine.verify() problems, with where they were first seen. */
  readonly problems: readonly string[];
}

/** Where a run is, for messages: `py_named_threads.perf-script.txt.zst on dram-pmem (seed 1)`. */
export function where(spec: Pick<RunSpec, 'stream' | 'machine' | 'seed'>): string {
  return `${spec.stream.name} on ${spec.machine.name} (seed ${spec.seed})`;
}

/** Make the policy (a fresh one) and check the factory gave an object. */
export function makePolicy(factory: AnyPolicyFactory, options?: Readonly<Record<string, unknown>>): TierPolicy {
  let policy: unknown;
  try {
    policy = (factory as unknown as PolicyFactory)(options as Record<string, unknown> | undefined);
  } catch (error) {
    throw new ConformanceError('factory', `the factory threw: ${messageOf(error)}`, { cause: error });
  }
  if (typeof policy !== 'object' || policy === null) {
    throw new ConformanceError('factory', `the factory returned ${policy === null ? 'null' : typeof policy}, not a policy object`);
  }
  return policy as TierPolicy;
}

/** The policy with each present hook wrapped (absent hooks stay absent: absence has a meaning). */
function instrument(policy: TierPolicy, calls: Record<string, number>, guard: ClockGuard | undefined): TierPolicy {
  const wrapped = Object.create(policy) as Record<string, unknown>;
  for (const hook of hookNames) {
    const original = (policy as unknown as Record<string, unknown>)[hook];
    if (typeof original !== 'function') continue;
    calls[hook] = 0;
    wrapped[hook] = function (this: unknown, ...args: unknown[]) {
      calls[hook] = calls[hook]! + 1;
      guard?.enter(hook);
      try {
        return (original as (...a: unknown[]) => unknown).apply(policy, args);
      } finally {
        guard?.exit();
      }
    };
  }
  return wrapped as unknown as TierPolicy;
}

interface Live {
  readonly spec: RunSpec;
  readonly policy: TierPolicy;
  readonly machine: ResolvedMachine;
  readonly engine: Engine;
  readonly chunks: readonly EventBatch[];
  readonly calls: Record<string, number>;
  readonly problems: string[];
  next: number;
}

function start(spec: RunSpec): Live {
  const policy = makePolicy(spec.factory, spec.options);
  const machine = resolveMachine(spec.machine, Math.max(1, spec.stream.footprintPages));
  const calls: Record<string, number> = {};
  const instrumented = instrument(policy, calls, spec.guard);
  let engine: Engine;
  try {
    engine = new Engine({
      machine,
      policy: instrumented,
      seed: spec.seed,
      // An oracle is told each page's future accesses, as `tierlab replay` tells it.
      ...(policy.observe?.oracle === true ? { lifetimeAccesses: lifetimeAccessesOf(spec.stream) } : {}),
    });
  } catch (error) {
    throw runError(spec, error);
  }
  const chunks = spec.rowsPerPush === undefined ? spec.stream.batches : chunkBatches(spec.stream.batches, spec.rowsPerPush);
  return { spec, policy, machine, engine, chunks, calls, problems: [], next: 0 };
}

function step(live: Live): boolean {
  if (live.next >= live.chunks.length) return false;
  const batch = live.chunks[live.next]!;
  try {
    live.engine.push(batch);
  } catch (error) {
    throw runError(live.spec, error, `batch ${live.next} (t=${(batch.time[0]! / 1e6).toFixed(3)} ms)`);
  }
  if (live.spec.verifyEachBatch === true && live.problems.length === 0) {
    for (const p of live.engine.verify()) live.problems.push(`after batch ${live.next}: ${p}`);
  }
  live.next++;
  return live.next < live.chunks.length;
}

function end(live: Live): RunOutcome {
  let result: EngineResult;
  try {
    result = live.engine.finish();
  } catch (error) {
    throw runError(live.spec, error, 'finish');
  }
  for (const p of live.engine.verify()) live.problems.push(`at the end: ${p}`);
  return {
    policy: live.policy,
    machine: live.machine,
    result,
    json: JSON.stringify(result),
    hookCalls: { ...live.calls },
    problems: live.problems,
  };
}

/** Replay one fresh policy from the factory on the stream. */
export function runPolicy(spec: RunSpec): RunOutcome {
  const go = () => {
    const live = start(spec);
    while (step(live));
    return end(live);
  };
  return spec.guard ? spec.guard.around(go) : go();
}

/**
 * Replay several fresh policies at once, pushing one chunk to each in turn,
 * so their hooks interleave as they do when `tierlab replay` runs several
 * policies over one stream.
 */
export function runInterleaved(specs: readonly RunSpec[]): RunOutcome[] {
  const lives = specs.map(start);
  let busy = true;
  while (busy) {
    busy = false;
    for (const live of lives) if (step(live)) busy = true;
  }
  return lives.map(end);
}

/** A failed run, as a conformance failure that says what broke and where. */
function runError(spec: RunSpec, error: unknown, at?: string): ConformanceError {
  const place = `${where(spec)}${at ? `, ${at}` : ''}`;
  const guardCause = findGuardError(error);
  if (guardCause !== null) {
    return new ConformanceError('clock', `${guardCause.message} [${place}]`, { cause: error });
  }
  if (isTierlabError(error)) {
    const hook = error.hook ? ` in ${error.hook}` : '';
    const what =
      error.code === 'POLICY_DECISION' && /is not live/.test(error.message)
        ? `touches a freed or unknown page${hook}`
        : error.code === 'POLICY_DECISION'
        ? `made a decision the engine refuses${hook}`
        : error.code === 'POLICY_HOOK_THREW'
          ? `a hook threw${hook}`
          : `the run failed (${error.code})${hook}`;
    return new ConformanceError('run', `${what}: ${error.message} [${place}]`, { cause: error, code: error.code, hook: error.hook ?? null });
  }
  return new ConformanceError('run', `the run failed: ${messageOf(error)} [${place}]`, { cause: error });
}

function findGuardError(error: unknown): Error | null {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if ((e as Error & { code?: string }).code === GUARD_ERROR) return e;
    e = (e as Error & { cause?: unknown }).cause;
  }
  return null;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
