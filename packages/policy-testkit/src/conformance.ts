/**
 * The conformance suite: one call from a policy package's own tests
 * registers a case per check, with the checks chosen by the policy's
 * `supports` list (as abstract-level's suite and ESLint's RuleTester do).
 * `describe` and `it` come from the caller, so it runs under vitest,
 * node:test or jest.
 */

import {
  type KnobSpec,
  type MachineSpec,
  type PolicyCapability,
  type PolicyFactory,
  SUPPORTED_SPEC_VERSIONS,
  isTierlabError,
  policyCapabilities,
} from '@tierlab/memory-tier-api';
import { differences } from './compare.js';
import { ConformanceError, isConformanceError } from './errors.js';
import { createClockGuard } from './guard.js';
import { defaultMachines, deviceMachine, tieredMachine, tightMachine, toMachineSpec } from './machines.js';
import { type AnyPolicyFactory, type RunOutcome, type RunSpec, hookNames, makePolicy, messageOf, runInterleaved, runPolicy, where } from './run.js';
import { type EventStream, everyEventKindStream, generatedStreams } from './streams.js';
import { bundledTrace, loadTraceEvents } from './trace-events.js';

/** `describe(name, fn)` of vitest, jest or node:test. */
export type DescribeFunction = (name: string, fn: () => void) => unknown;
/** `it(name, fn)` of vitest, jest or node:test (`it.skip` is used when present). */
export type ItFunction = ((name: string, fn: () => Promise<void>, timeout?: number) => unknown) & {
  skip?: (name: string, fn: () => Promise<void>) => unknown;
};
/** `expect(value).toEqual(other)` of vitest or jest. */
export type ExpectFunction = (actual: unknown) => { toEqual(expected: unknown): void };

/** The ids of the cases; pass some in `skip` to leave them out. */
export const conformanceCaseIds = [
  'shape',
  'knobs',
  'determinism',
  'invariants',
  'page-lifetime',
  'event-kinds',
  'isolation',
  'pressure',
  'clock',
  'placement',
  'promotion',
  'demotion',
  'hint-faults',
  'access-samples',
  'device-memory',
  'metadata',
  'io',
] as const;
export type ConformanceCaseId = (typeof conformanceCaseIds)[number];

export interface ConformanceOptions {
  readonly describe: DescribeFunction;
  readonly it: ItFunction;
  /** When given, each case ends with `expect(problems).toEqual([])`, so your runner shows the list. */
  readonly expect?: ExpectFunction;
  readonly factory: AnyPolicyFactory;
  /** Knob values for every run (default: the policy's defaults). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Machines the general cases run on: preset names, machine files or specs (default dram-pmem, dram-cxl). */
  readonly machines?: readonly (string | MachineSpec)[];
  /** Real captures to replay (default: the one the kit ships, {@link bundledTrace}). */
  readonly traces?: readonly string[];
  /** Seed of ctx.random() (default 1). */
  readonly seed?: number;
  /** Cases to leave out (registered as skipped when the runner has `it.skip`). */
  readonly skip?: readonly ConformanceCaseId[];
  /** Per-case timeout handed to `it` as its third argument (vitest, jest); left out when absent. */
  readonly timeoutMs?: number;
}

export interface ConformanceCase {
  readonly id: ConformanceCaseId;
  readonly title: string;
  /** Resolves when the policy passes; rejects with a ConformanceError (or the expect error) saying what broke. */
  run(): Promise<void>;
}

/** Register the conformance cases of `options.factory` with the caller's describe/it. */
export function runPolicyConformance(options: ConformanceOptions): void {
  if (typeof options?.describe !== 'function' || typeof options.it !== 'function') {
    throw new TypeError('runPolicyConformance: pass describe and it from your test runner');
  }
  const factory = options.factory;
  const name = typeof factory?.policyName === 'string' ? factory.policyName : '(unnamed factory)';
  const skip = new Set<string>(options.skip ?? []);
  options.describe(`tierlab policy conformance: ${name}`, () => {
    for (const c of conformanceCases(options)) {
      if (skip.has(c.id)) {
        options.it.skip?.(c.title, () => c.run());
        continue;
      }
      if (options.timeoutMs === undefined) options.it(c.title, () => c.run());
      else options.it(c.title, () => c.run(), options.timeoutMs);
    }
  });
}

/**
 * The cases for a factory, without registering them: for runners with
 * another shape, or to run them by hand. Which cases there are depends on
 * the policy's `supports` list (read from one policy made at once).
 */
export function conformanceCases(options: Omit<ConformanceOptions, 'describe' | 'it'>): ConformanceCase[] {
  const kit = new Kit(options);
  const supports = kit.supports();
  const cases: ConformanceCase[] = [
    kit.case('shape', 'is a factory of fresh, well-formed spec v1 policies (name, specVersion, supports, hooks)', () => kit.shape()),
    kit.case('knobs', 'checks its knobs: defaults in force, unknown knobs and wrong types rejected', () => kit.knobs()),
    kit.case('determinism', 'is deterministic: two fresh runs with the same seed give identical results JSON', () => kit.determinism()),
    kit.case(
      'invariants',
      'respects node capacity and keeps the engine invariants (Engine.verify() after every batch), charging every access',
      () => kit.invariants(),
    ),
    kit.case('page-lifetime', 'never touches a freed or unknown page (engine validation on; freed ids never reused)', () =>
      kit.pageLifetime(),
    ),
    kit.case('event-kinds', 'handles every event kind: alloc, free, access from every source, lost; folios of 1..512 pages', () =>
      kit.eventKinds(),
    ),
    kit.case('isolation', 'keeps no state between instances: two policies from one factory, interleaved, match runs apart', () =>
      kit.isolation(),
    ),
    kit.case('pressure', 'behaves under memory pressure: a tight machine, no errors, every access charged', () => kit.pressure()),
    kit.case(
      'clock',
      'takes time and randomness only from the context (Date, performance.now, Math.random, hrtime, crypto patched in hooks)',
      () => kit.clock(),
    ),
  ];
  const byCapability: Array<[PolicyCapability, ConformanceCaseId, string, () => Promise<void> | void]> = [
    ['placement', 'placement', "supports 'placement': has placePage and places every page on a node", () => kit.placement()],
    ['promotion', 'promotion', "supports 'promotion': promotes hot slow-tier pages while the fast tier has room", () => kit.promotion()],
    ['demotion', 'demotion', "supports 'demotion': demotes to the slow tier under fast-tier pressure", () => kit.demotion()],
    ['hint-faults', 'hint-faults', "supports 'hint-faults': asks for NUMA hint faults and handles them in onFault", () => kit.hintFaults()],
    ['access-samples', 'access-samples', "supports 'access-samples': asks for samples and handles them in onAccessSample", () =>
      kit.accessSamples(),
    ],
    ['device-memory', 'device-memory', "supports 'device-memory': runs on a machine with device-private memory", () => kit.deviceMemory()],
    ['metadata', 'metadata', "supports 'metadata': accounts metadata on nodes within their capacity", () => kit.metadata()],
    ['io', 'io', "supports 'io': has onIo", () => kit.io()],
  ];
  for (const [capability, id, title, run] of byCapability) {
    if (supports.includes(capability)) cases.push(kit.case(id, title, run));
  }
  return cases;
}

/** Problems found by one case; thrown together at its end. */
class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    if (!this.list.includes(message)) this.list.push(message);
  }
  /** Run `fn`; a failure becomes a problem and the case goes on with the next stream or machine. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      this.add(isConformanceError(error) || isTierlabError(error) ? error.message : `unexpected error: ${messageOf(error)}`);
      return undefined;
    }
  }
}

class Kit {
  private readonly factory: PolicyFactory;
  private readonly name: string;
  private readonly seed: number;
  private readonly machineSpecs: readonly MachineSpec[];
  private readonly tracePaths: readonly string[];
  private generated: ReturnType<typeof generatedStreams> | null = null;

  constructor(private readonly options: Omit<ConformanceOptions, 'describe' | 'it'>) {
    if (typeof options?.factory !== 'function') {
      throw new TypeError('runPolicyConformance: options.factory must be the policy factory (the function your package exports)');
    }
    this.factory = options.factory as unknown as PolicyFactory;
    this.name = typeof options.factory.policyName === 'string' ? options.factory.policyName : '(unnamed factory)';
    this.seed = options.seed ?? 1;
    this.machineSpecs = (options.machines ?? defaultMachines).map(toMachineSpec);
    if (this.machineSpecs.length === 0) throw new TypeError('runPolicyConformance: machines must not be empty');
    this.tracePaths = options.traces ?? [bundledTrace()];
  }

  case(id: ConformanceCaseId, title: string, body: () => Promise<void> | void): ConformanceCase {
    return {
      id,
      title,
      run: async () => {
        await body();
      },
    };
  }

  /** The policy's supports list, read from one policy; empty when the factory is broken (the shape case says why). */
  supports(): readonly PolicyCapability[] {
    try {
      const policy = this.factory(this.options.options as Record<string, unknown> | undefined);
      return Array.isArray(policy?.supports) ? policy.supports : [];
    } catch {
      return [];
    }
  }

  // ---- streams and runs ----

  private gen(): ReturnType<typeof generatedStreams> {
    this.generated ??= generatedStreams();
    return this.generated;
  }

  private async realStreams(): Promise<EventStream[]> {
    return Promise.all(this.tracePaths.map((path) => loadTraceEvents(path)));
  }

  private spec(stream: EventStream, machine: MachineSpec, extra: Partial<RunSpec> = {}): RunSpec {
    return {
      factory: this.options.factory,
      ...(this.options.options === undefined ? {} : { options: this.options.options }),
      stream,
      machine,
      seed: this.seed,
      ...extra,
    };
  }

  /** Throw the case's problems, through the caller's expect when given. */
  private finish(what: string, problems: Problems): void {
    if (this.options.expect !== undefined) {
      this.options.expect(problems.list).toEqual([]);
      return;
    }
    if (problems.list.length === 0) return;
    const shown = problems.list.slice(0, 6).map((p) => `  - ${p}`);
    if (problems.list.length > 6) shown.push(`  - ... and ${problems.list.length - 6} more`);
    const list = shown.join('\n');
    throw new ConformanceError(what, `${this.name}: ${problems.list.length === 1 ? problems.list[0] : `\n${list}`}`);
  }

  private checkOutcome(outcome: RunOutcome, spec: RunSpec, problems: Problems): void {
    const at = where(spec);
    for (const p of outcome.problems.slice(0, 5)) problems.add(`engine invariant broken on ${at}: ${p}`);
    const r = outcome.result;
    if (r.accessesToDeadPages !== 0) problems.add(`${r.accessesToDeadPages} accesses to pages the engine did not hold live on ${at}`);
    // CPU accesses and, where the engine counts them apart, device accesses.
    const charged = r.metrics.accesses + ((r.metrics as Record<string, number>).deviceAccesses ?? 0);
    if (charged !== spec.stream.accesses) {
      problems.add(`charged ${charged} accesses, the stream has ${spec.stream.accesses} (every access must be charged) on ${at}`);
    }
    for (const node of r.nodes) {
      if (node.peakUsedPages > node.capacityPages) {
        problems.add(`node ${node.name} peaked at ${node.peakUsedPages} pages, above its capacity of ${node.capacityPages} on ${at}`);
      }
    }
  }

  // ---- the cases ----

  shape(): void {
    const problems = new Problems();
    const f = this.factory as unknown as Record<string, unknown>;
    if (typeof f.policyName !== 'string' || f.policyName === '') problems.add("the factory has no policyName (make it with definePolicy())");
    if (typeof f.description !== 'string') problems.add('the factory has no description string');
    if (typeof f.knobs !== 'object' || f.knobs === null) {
      problems.add('the factory has no knobs object (use {} for none)');
    } else {
      for (const [knob, spec] of Object.entries(f.knobs as Record<string, KnobSpec>)) {
        if (!['number', 'boolean', 'string'].includes(spec?.type)) problems.add(`knob '${knob}' has type ${String(spec?.type)}, expected number, boolean or string`);
        else if (typeof spec.default !== spec.type) problems.add(`knob '${knob}' is a ${spec.type} but its default is ${JSON.stringify(spec.default)}`);
        if (typeof spec?.description !== 'string' || spec.description === '') problems.add(`knob '${knob}' has no description`);
      }
    }
    const a = problems.attempt(() => makePolicy(this.options.factory, this.options.options));
    const b = problems.attempt(() => makePolicy(this.options.factory, this.options.options));
    if (a === undefined || b === undefined) {
      this.finish('shape', problems);
      return;
    }
    if (a === b) problems.add('the factory returned the same object twice: it must build a fresh policy on every call (state lives in the closure)');
    if (a.name !== this.factory.policyName) problems.add(`the policy is named '${String(a.name)}' but its factory's policyName is '${this.factory.policyName}'`);
    if (!SUPPORTED_SPEC_VERSIONS.includes(a.specVersion)) {
      problems.add(`specVersion ${String(a.specVersion)} is not supported (supported: ${SUPPORTED_SPEC_VERSIONS.join(', ')})`);
    }
    if (a.supports !== undefined) {
      if (!Array.isArray(a.supports)) problems.add('supports is not an array');
      else {
        for (const capability of a.supports) {
          if (!(policyCapabilities as readonly string[]).includes(capability)) {
            problems.add(`supports lists '${String(capability)}', not a capability of spec v1 (${policyCapabilities.join(', ')})`);
          }
        }
      }
    }
    const known = new Set<string>(['name', 'version', 'specVersion', 'description', 'supports', 'observe', 'knobs', ...hookNames]);
    for (const [key, value] of Object.entries(a)) {
      if (hookNames.includes(key as (typeof hookNames)[number]) && value !== undefined && typeof value !== 'function') {
        problems.add(`hook ${key} is a ${typeof value}, not a function`);
      }
      if (!known.has(key) && typeof value === 'function') {
        problems.add(`unknown hook '${key}': spec v1 has ${hookNames.join(', ')} (a misspelt hook is never called)`);
      }
    }
    if (a.observe !== undefined && (typeof a.observe !== 'object' || a.observe === null)) problems.add('observe is not an object');
    const tick = a.observe?.tickMs;
    if (tick !== undefined && !(typeof tick === 'number' && tick >= 0)) problems.add(`observe.tickMs is ${String(tick)}, expected a number >= 0`);
    this.finish('shape', problems);
  }

  knobs(): void {
    const problems = new Problems();
    const specs = this.factory.knobs ?? {};
    const unknown = '__conformanceUnknownKnob';
    const rejects = (options: Record<string, unknown>, what: string) => {
      try {
        this.factory(options);
      } catch (error) {
        if (!isTierlabError(error) || error.code !== 'POLICY_KNOB') {
          problems.add(`${what} threw ${isTierlabError(error) ? error.code : 'a non-TierlabError'} (${messageOf(error)}); expected a TierlabError with code POLICY_KNOB`);
        }
        return;
      }
      problems.add(`${what} was accepted silently; reject it with a TierlabError POLICY_KNOB (definePolicy() does)`);
    };
    rejects({ [unknown]: 1 }, `an unknown knob '${unknown}'`);
    const defaults = problems.attempt(() => makePolicy(this.options.factory));
    for (const [knob, spec] of Object.entries(specs)) {
      const wrong = spec.type === 'string' ? 42 : spec.type === 'boolean' ? 'maybe' : 'not-a-number';
      rejects({ [knob]: wrong }, `knob '${knob}' (${spec.type}) set to ${JSON.stringify(wrong)}`);
      // As typed on the command line: the default, as a string.
      const typed = problems.attempt(() => makePolicy(this.options.factory, { [knob]: String(spec.default) }));
      if (typed?.knobs !== undefined && typed.knobs[knob] !== spec.default) {
        problems.add(`knob '${knob}' given as the string '${String(spec.default)}' (as on the command line) became ${JSON.stringify(typed.knobs[knob])}, expected ${JSON.stringify(spec.default)}`);
      }
      if (defaults?.knobs !== undefined && defaults.knobs[knob] !== spec.default) {
        problems.add(`knob '${knob}' is ${JSON.stringify(defaults.knobs[knob])} by default, but its spec says ${JSON.stringify(spec.default)}`);
      }
    }
    this.finish('knobs', problems);
  }

  async determinism(): Promise<void> {
    const problems = new Problems();
    const g = this.gen();
    const streams = [...(await this.realStreams()), g.everyEventKind, g.pressure, g.hotSlowTier];
    for (const machine of this.machineSpecs) {
      for (const stream of streams) {
        const spec = this.spec(stream, machine);
        const first = problems.attempt(() => runPolicy(spec));
        const second = problems.attempt(() => runPolicy(spec));
        if (first === undefined || second === undefined) continue;
        if (first.json !== second.json) {
          problems.add(
            `not deterministic: two fresh runs on ${where(spec)} differ: ${differences(first.result, second.result).join('; ')} (state kept outside the policy object, or time/randomness not from the context?)`,
          );
        }
      }
    }
    this.finish('determinism', problems);
  }

  async invariants(): Promise<void> {
    const problems = new Problems();
    const g = this.gen();
    const streams = [...(await this.realStreams()), g.everyEventKind, g.pressure];
    for (const machine of [...this.machineSpecs, tightMachine()]) {
      for (const stream of streams) {
        const spec = this.spec(stream, machine, { verifyEachBatch: true });
        const outcome = problems.attempt(() => runPolicy(spec));
        if (outcome !== undefined) this.checkOutcome(outcome, spec, problems);
      }
    }
    this.finish('invariants', problems);
  }

  async pageLifetime(): Promise<void> {
    const problems = new Problems();
    const g = this.gen();
    const streams = [g.staleIds, g.everyEventKind, ...(await this.realStreams())];
    for (const machine of [this.machineSpecs[0]!, tightMachine()]) {
      for (const stream of streams) {
        const spec = this.spec(stream, machine);
        // The engine refuses any use of a page that is not live (POLICY_DECISION, 'page N is not live').
        problems.attempt(() => runPolicy(spec));
      }
    }
    this.finish('page-lifetime', problems);
  }

  eventKinds(): void {
    const problems = new Problems();
    const stream = this.gen().everyEventKind;
    for (const machine of this.machineSpecs) {
      const spec = this.spec(stream, machine, { verifyEachBatch: true });
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome === undefined) continue;
      this.checkOutcome(outcome, spec, problems);
      const lost = outcome.result.series.lostEvents.reduce((sum, n) => sum + n, 0);
      if (lost === 0) problems.add(`the lost-event markers of ${stream.name} were not counted in the series`);
    }
    this.finish('event-kinds', problems);
  }

  async isolation(): Promise<void> {
    const problems = new Problems();
    const g = this.gen();
    const [real] = await this.realStreams();
    const machine = this.machineSpecs[0]!;
    const pairs: Array<[EventStream, EventStream]> = [
      [real ?? g.hotSlowTier, g.everyEventKind],
      [g.pressure, g.pressure],
    ];
    for (const [sa, sb] of pairs) {
      const specA = this.spec(sa, machine, { rowsPerPush: 64 });
      const specB = this.spec(sb, sa === sb ? tightMachine() : machine, { rowsPerPush: 64 });
      const together = problems.attempt(() => runInterleaved([specA, specB]));
      const aloneA = problems.attempt(() => runPolicy(specA));
      const aloneB = problems.attempt(() => runPolicy(specB));
      if (together === undefined || aloneA === undefined || aloneB === undefined) continue;
      const [ta, tb] = together as [RunOutcome, RunOutcome];
      if (ta.policy === tb.policy) problems.add('the factory returned the same object for two runs');
      for (const [t, alone, spec] of [
        [ta, aloneA, specA],
        [tb, aloneB, specB],
      ] as const) {
        if (t.json !== alone.json) {
          problems.add(
            `two policies from one factory share state: ${where(spec)} run next to another instance (on ${where(spec === specA ? specB : specA)}) differs from the same run alone: ${differences(alone.result, t.result).join('; ')}`,
          );
        }
      }
    }
    this.finish('isolation', problems);
  }

  async pressure(): Promise<void> {
    const problems = new Problems();
    const g = this.gen();
    const machine = tightMachine();
    const reclaims = this.supports().includes('reclaim');
    for (const stream of [g.pressure, g.everyEventKind, ...(await this.realStreams())]) {
      const spec = this.spec(stream, machine, { verifyEachBatch: true });
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome === undefined) continue;
      this.checkOutcome(outcome, spec, problems);
      const m = outcome.result.metrics;
      if (reclaims && stream === g.pressure && m.pgsteal + m.pgdemoteKswapd + m.pgdemoteDirect === 0) {
        problems.add(`supports 'reclaim' but neither evicted nor demoted a page on ${where(spec)}, a machine a third the size of the footprint`);
      }
    }
    this.finish('pressure', problems);
  }

  async clock(): Promise<void> {
    const problems = new Problems();
    const g = this.gen();
    const [real] = await this.realStreams();
    const machine = this.machineSpecs[0]!;
    for (const stream of [g.everyEventKind, g.hotSlowTier, ...(real ? [real] : [])]) {
      // 1. Patched to throw: any use inside a hook is named.
      const guard = createClockGuard('throw');
      const spec = this.spec(stream, machine);
      let failed: string | null = null;
      try {
        runPolicy({ ...spec, guard });
      } catch (error) {
        failed = messageOf(error);
      }
      const used = guard.violations;
      if (used.length > 0) {
        for (const v of used.slice(0, 3)) {
          problems.add(`calls ${v.call} inside ${v.hook} (${v.count}×): time and randomness must come from the context (ctx.now(), ctx.random()) [${where(spec)}]`);
        }
        continue;
      }
      if (failed !== null) {
        problems.add(failed);
        continue;
      }
      // 2. Patched to return changing values: the results must not move.
      const baseline = problems.attempt(() => runPolicy(spec));
      const again = problems.attempt(() => runPolicy(spec));
      if (baseline !== undefined && again !== undefined && baseline.json !== again.json) {
        problems.add(`cannot judge on ${where(spec)}: two runs differ even with the clocks untouched (see the determinism case)`);
        continue;
      }
      const varied = problems.attempt(() => runPolicy({ ...spec, guard: createClockGuard('vary') }));
      if (baseline !== undefined && varied !== undefined && baseline.json !== varied.json) {
        problems.add(
          `results change when the wall clock and Math.random change (a clock or random source captured outside the context?) on ${where(spec)}: ${differences(baseline.result, varied.result).join('; ')}`,
        );
      }
    }
    this.finish('clock', problems);
  }

  placement(): void {
    const problems = new Problems();
    const policy = problems.attempt(() => makePolicy(this.options.factory, this.options.options));
    if (policy !== undefined && typeof policy.placePage !== 'function') problems.add("supports 'placement' but has no placePage hook");
    const stream = this.gen().everyEventKind;
    for (const machine of this.machineSpecs) {
      const spec = this.spec(stream, machine);
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome !== undefined && outcome.result.metrics.pgalloc === 0) problems.add(`placed no page on ${where(spec)}`);
    }
    this.finish('placement', problems);
  }

  promotion(): void {
    const problems = new Problems();
    const spec = this.spec(this.gen().hotSlowTier, tieredMachine());
    const outcome = problems.attempt(() => runPolicy(spec));
    if (outcome !== undefined && outcome.result.metrics.pgpromoteSuccess === 0) {
      // Judge only the intervals where the fast tier had room to spare: a policy that keeps
      // it full of pages as hot as those on the slow tier has nothing to promote.
      const fast = outcome.machine.nodes.find((n) => n.tier === 0)!;
      const room = fast.watermarks.promo + 16;
      const s = outcome.result.series;
      let slowAccesses = 0;
      let intervals = 0;
      for (let row = 0; row < s.timeMs.length; row++) {
        const free = fast.capacityPages - (s.usedPages[fast.id]?.[row] ?? fast.capacityPages);
        // The hot rounds run from 1.1 s to 5 s; the last ones are no reason to promote (no future use).
        if (s.timeMs[row]! <= 1100 || s.timeMs[row]! > 4700 || free < room) continue;
        slowAccesses += Math.round(s.accesses[row]! * (1 - s.fastTierAccessShare[row]!));
        intervals++;
      }
      if (intervals >= 3 && slowAccesses > 1000) {
        problems.add(
          `supports 'promotion' but promoted no page on ${where(spec)}: in ${intervals} intervals of ${s.intervalMs} ms the fast tier had at least ${room} pages free while the slow tier served ${slowAccesses} accesses (hot pages touched every 100 ms)`,
        );
      }
    }
    this.finish('promotion', problems);
  }

  demotion(): void {
    const problems = new Problems();
    const spec = this.spec(this.gen().pressure, tightMachine());
    const outcome = problems.attempt(() => runPolicy(spec));
    if (outcome !== undefined) {
      const m = outcome.result.metrics;
      if (m.pgdemoteKswapd + m.pgdemoteDirect === 0) {
        problems.add(`supports 'demotion' but demoted no page on ${where(spec)}, where reclaim ran ${m.kswapdWakeups} times (pgsteal ${m.pgsteal})`);
      }
    }
    this.finish('demotion', problems);
  }

  hintFaults(): void {
    const problems = new Problems();
    const policy = problems.attempt(() => makePolicy(this.options.factory, this.options.options));
    if (policy !== undefined) {
      if (policy.observe?.numaHintFaults === undefined) problems.add("supports 'hint-faults' but observe.numaHintFaults is not set: the engine raises no hint faults");
      if (typeof policy.onFault !== 'function') problems.add("supports 'hint-faults' but has no onFault hook");
    }
    if (problems.list.length === 0) {
      const spec = this.spec(this.gen().hotSlowTier, tieredMachine());
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome !== undefined && (outcome.hookCalls.onFault ?? 0) === 0) {
        problems.add(`onFault was never called on ${where(spec)} (hint faults raised: ${outcome.result.metrics.numaHintFaults})`);
      }
    }
    this.finish('hint-faults', problems);
  }

  accessSamples(): void {
    const problems = new Problems();
    const policy = problems.attempt(() => makePolicy(this.options.factory, this.options.options));
    if (policy !== undefined) {
      if (typeof policy.onAccessSample !== 'function') problems.add("supports 'access-samples' but has no onAccessSample hook");
      if (policy.observe?.oracle !== true && policy.observe?.accesses !== true) {
        problems.add("supports 'access-samples' but neither observe.accesses nor observe.oracle is true: the engine delivers CPU samples only to policies that ask for them");
      }
    }
    if (problems.list.length === 0) {
      const spec = this.spec(this.gen().everyEventKind, this.machineSpecs[0]!);
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome !== undefined && (outcome.hookCalls.onAccessSample ?? 0) === 0) problems.add(`onAccessSample was never called on ${where(spec)}`);
    }
    this.finish('access-samples', problems);
  }

  deviceMemory(): void {
    const problems = new Problems();
    const g = this.gen();
    const machine = deviceMachine();
    const device = machine.nodes.findIndex((n) => n.kind === 'device-private');
    for (const stream of [everyEventKindStream(device), g.pressure]) {
      const spec = this.spec(stream, machine, { verifyEachBatch: true });
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome !== undefined) this.checkOutcome(outcome, spec, problems);
    }
    this.finish('device-memory', problems);
  }

  metadata(): void {
    const problems = new Problems();
    const g = this.gen();
    let accounted = 0;
    for (const stream of [g.everyEventKind, g.pressure]) {
      const spec = this.spec(stream, this.machineSpecs[0]!, { verifyEachBatch: true });
      const outcome = problems.attempt(() => runPolicy(spec));
      if (outcome === undefined) continue;
      this.checkOutcome(outcome, spec, problems);
      accounted += outcome.result.metrics.metadataBytesPeak;
    }
    if (problems.list.length === 0 && accounted === 0) problems.add("supports 'metadata' but accounted no metadata (ctx.allocMetadata was never called)");
    this.finish('metadata', problems);
  }

  io(): void {
    const problems = new Problems();
    const policy = problems.attempt(() => makePolicy(this.options.factory, this.options.options));
    // The engine of spec v1 delivers no I/O events yet: the hook's presence is all there is to check.
    if (policy !== undefined && typeof policy.onIo !== 'function') problems.add("supports 'io' but has no onIo hook");
    this.finish('io', problems);
  }
}
