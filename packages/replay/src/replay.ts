/**
 * The replay pipeline: trace file -> reader -> normalizer -> one engine per
 * policy, all fed from one stream of event batches, -> a result that carries
 * everything it depends on.
 *
 * Capacities given as a share of the footprint need the footprint first: a
 * first pass normalizes the trace without replaying it and measures peak
 * live memory. Memory grows with the pages the trace touches, never with its
 * number of events.
 */

import { basename } from 'node:path';
import { Engine, type EngineResult, LifetimeRecorder } from '@tierlab/engine';
import { loadMachine, resolveMachine } from '@tierlab/machines';
import {
  type AnomalyStat,
  ErrorCode,
  type EventBatch,
  type MachineSpec,
  type PolicyFactory,
  type ResolvedMachine,
  SUPPORTED_SPEC_VERSIONS,
  TierlabError,
  type TierPolicy,
  isTierlabError,
} from '@tierlab/memory-tier-api';
import { Normalizer, type NormalizerStats, type ResolvedOverlay } from '@tierlab/normalizer';
import { type ReaderStats, describeDecoder, hashFile } from '@tierlab/trace-core';
import { type OverlayInfo, loadOverlay } from './overlay.js';
import { openAnyTrace } from './readers.js';

export const TOOL_NAME = 'tierlab';
export const TOOL_VERSION = '0.1.0';
export const RESULT_SCHEMA = 'tierlab-result/1';

export interface PolicyRequest {
  readonly factory: PolicyFactory;
  /** Knob values (strings from the command line are parsed by the knob's type). */
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface ReplayOptions {
  readonly trace: string;
  /** A preset name, a path to a machine file, or a machine spec. */
  readonly machine: string | MachineSpec;
  readonly policies: readonly PolicyRequest[];
  readonly seed?: number;
  readonly intervalMs?: number;
  readonly pids?: readonly number[];
  readonly comms?: readonly string[];
  readonly format?: 'auto' | 'tracefs' | 'trace-cmd-report' | 'perf-script' | 'lackey' | 'trace-processor';
  /** With format `trace-processor`: the trace_processor_shell binary. */
  readonly traceProcessor?: string;
  readonly zstd?: 'auto' | 'program' | 'js';
  /** DAMON regions: physical (default) or virtual addresses of targets (target_id -> pid). */
  readonly damonTargets?: Readonly<Record<number, number>>;
  /** valgrind lackey: instructions per aggregation slice (100000) and ns per instruction (0.5). */
  readonly lackeySliceInstructions?: number;
  readonly lackeyNsPerInstruction?: number;
  /** A workload overlay file (JSON or YAML): mbind bindings and device accesses added to the trace. */
  readonly overlay?: string;
  /**
   * Check every engine's own invariants (Engine.verify(): capacity, one node
   * per page, LRU lists) after every N batches and at the end; a violation is
   * an error-level anomaly. Slow: for tests and debugging.
   */
  readonly verifyEveryBatches?: number;
  /** Called about every 256 Ki records with the phase and progress. */
  readonly onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  readonly phase: 'footprint' | 'replay';
  readonly records: number;
  readonly bytes: number;
}

export interface PolicyResult extends Partial<EngineResult> {
  readonly policy: string;
  readonly version: string | null;
  readonly specVersion: number;
  readonly knobs: Readonly<Record<string, number | boolean | string>>;
  readonly observe: unknown;
  /** Present when the policy failed: the run of the other policies is unaffected. */
  readonly error?: { readonly code: string; readonly message: string; readonly hook: string | null };
}

export interface ReplayResult {
  readonly schema: string;
  readonly tool: { readonly name: string; readonly version: string };
  readonly trace: {
    readonly file: string;
    readonly sha256: string;
    readonly format: string;
    readonly compression: string;
    readonly bytes: number;
    readonly lines: number;
    readonly records: number;
    readonly durationNs: number;
    readonly eventCounts: Readonly<Record<string, number>>;
    readonly lostMarkers: number;
    readonly lostEvents: number;
    readonly bufferOverwritten: number;
  };
  readonly options: {
    readonly seed: number;
    readonly intervalMs: number;
    readonly pids: readonly number[];
    readonly comms: readonly string[];
    readonly damonTargets?: Readonly<Record<number, number>>;
    readonly lackeySliceInstructions?: number;
    readonly lackeyNsPerInstruction?: number;
  };
  readonly machine: ResolvedMachine;
  /** The synthetic overlay this result used, or null: a result that used one says so. */
  readonly overlay: OverlayInfo | null;
  readonly footprint: { readonly peakLivePages: number; readonly peakLiveBytes: number };
  readonly normalizer: NormalizerStats;
  readonly linking: {
    /** Faults whose page the trace showed allocated or already linked. */
    readonly faultsLinkedShare: number;
    /** Page-cache insertions whose pfn the trace showed allocated. */
    readonly filemapLinkedShare: number;
  };
  readonly anomalies: readonly AnomalyStat[];
  readonly assumptions: readonly string[];
  readonly policies: readonly PolicyResult[];
}

/** What every replay assumes; printed in every result. */
export const ASSUMPTIONS: readonly string[] = [
  'Accesses are what the tracepoints show: user page faults (page_fault_user), LRU activations (mm_lru_activate), page-cache fills (mm_filemap_add_to_page_cache) and file-page dirtying (writeback_dirty_folio). Loads and stores to already-mapped pages raise no tracepoint and are not charged.',
  'Each access is charged the read or write latency of the node holding the page; a page-cache fill is charged as a write and, on persistent media, as a whole page written; other writes as one 64-byte line.',
  'The page a trace allocates is the unit of placement (a folio of 2^order base pages), from mm_page_alloc to mm_page_free.',
  'Pages the trace touches without showing their allocation get an implicit page at first touch (counted in the normalizer stats).',
  'Eviction is possible for every page (swap for anon, writeback then drop for dirty file pages); a later access refaults at the machine\'s major-fault cost.',
  'Dirty file pages are written back dirty_expire_centisecs (30 s) after they were dirtied; until then they are at risk on a volatile node.',
  'kswapd runs immediately after the event that woke it; its work is counted as background cost, not on the workload\'s path.',
  'All CPUs are on the machine\'s node with CPUs; node distances follow the abstract distance.',
];

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const seed = options.seed ?? 1;
  const intervalMs = options.intervalMs ?? 100;
  const spec = typeof options.machine === 'string' ? loadMachine(options.machine) : options.machine;
  const policies = options.policies.map((request) => instantiate(request));
  const names = new Set<string>();
  for (const p of policies) {
    if (names.has(p.name)) {
      throw new TierlabError({ code: ErrorCode.usage, message: `policy '${p.name}' given twice` });
    }
    names.add(p.name);
  }
  const sha256 = await hashFile(options.trace);

  // Pass 1, when a capacity is relative (the footprint) or a policy is an oracle (the future).
  let footprintPages: number | null = null;
  let lifetimeAccesses: Float64Array | undefined;
  const relative = spec.nodes.some((n) => typeof n.capacity === 'string' && n.capacity.trim().endsWith('%'));
  const oracle = policies.some((p) => p.observe?.oracle === true);
  if (relative || oracle) {
    const lifetimes = oracle ? new LifetimeRecorder() : null;
    const pass = await runPass(options, null, null, lifetimes);
    footprintPages = Math.max(1, pass.normalizer.stats.peakLivePages);
    lifetimeAccesses = lifetimes?.result();
  }
  const machine = resolveMachine(spec, footprintPages);
  const overlay = options.overlay === undefined ? null : loadOverlay(options.overlay, machine);

  // Pass 2: replay through every policy at once.
  const engines: EngineSlot[] = [];
  for (const policy of policies) {
    try {
      engines.push({ engine: null, policy, error: null, batches: 0, violations: [] });
      const slot = engines[engines.length - 1]!;
      slot.engine = new Engine({
        machine,
        policy,
        seed,
        intervalMs,
        identity: (page) => identityOf(page),
        ...(policy.observe?.oracle === true && lifetimeAccesses ? { lifetimeAccesses } : {}),
      });
    } catch (error) {
      engines[engines.length - 1]!.error = describeError(error);
    }
  }
  const pass = await runPass(options, engines, overlay?.overlay ?? null);
  if (options.verifyEveryBatches !== undefined) {
    for (const slot of engines) if (slot.engine !== null) slot.violations.push(...slot.engine.verify());
  }
  const results: PolicyResult[] = engines.map(({ engine, policy, error }) => {
    const base = {
      policy: policy.name,
      version: policy.version ?? null,
      specVersion: policy.specVersion,
      knobs: policy.knobs ?? {},
      observe: policy.observe ?? {},
    };
    if (error !== null || engine === null) return { ...base, error: error ?? { code: 'UNKNOWN', message: 'no engine', hook: null } };
    try {
      return { ...base, ...engine.finish() };
    } catch (e) {
      return { ...base, error: describeError(e) };
    }
  });

  const reader = pass.readerStats;
  const n = pass.normalizer.stats;
  const anomalies: AnomalyStat[] = [];
  if (reader.bufferOverwritten > 0) {
    anomalies.push({
      name: 'buffer_overwritten',
      severity: 'warning',
      value: reader.bufferOverwritten,
      description: 'events the ring buffer overwrote before the trace was read (entries-written minus entries-in-buffer)',
    });
  }
  anomalies.push(...pass.normalizer.anomalies());
  for (const slot of engines) {
    if (slot.violations.length > 0) {
      anomalies.push({
        name: `${slot.policy.name}.engine_invariants`,
        severity: 'error',
        value: slot.violations.length,
        description: `engine invariants broken (Engine.verify()), first: ${slot.violations[0]}`,
      });
    }
  }
  for (const r of results) {
    if ((r.accessesToDeadPages ?? 0) > 0) {
      anomalies.push({
        name: `${r.policy}.accesses_to_dead_pages`,
        severity: 'error',
        value: r.accessesToDeadPages!,
        description: 'events on pages the engine did not hold live',
      });
    }
  }
  return {
    schema: RESULT_SCHEMA,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    trace: {
      file: basename(options.trace),
      sha256,
      format: reader.format,
      compression: describeDecoder(options.trace, { zstd: options.zstd ?? 'auto' }).replace(/ \(.*\)$/, ''),
      bytes: reader.bytesRead,
      lines: reader.lines,
      records: n.records,
      durationNs: Number.isNaN(n.lastTimeNs) ? 0 : n.lastTimeNs - n.firstTimeNs,
      eventCounts: sortKeys(reader.eventCounts),
      lostMarkers: reader.lostMarkers,
      lostEvents: reader.lostEvents,
      bufferOverwritten: reader.bufferOverwritten,
    },
    options: {
      seed,
      intervalMs,
      pids: [...(options.pids ?? [])],
      comms: [...(options.comms ?? [])],
      ...(options.damonTargets ? { damonTargets: { ...options.damonTargets } } : {}),
      ...(options.lackeySliceInstructions ? { lackeySliceInstructions: options.lackeySliceInstructions } : {}),
      ...(options.lackeyNsPerInstruction ? { lackeyNsPerInstruction: options.lackeyNsPerInstruction } : {}),
    },
    machine,
    overlay: overlay?.info ?? null,
    footprint: { peakLivePages: n.peakLivePages, peakLiveBytes: n.peakLivePages * 4096 },
    normalizer: { ...n },
    linking: {
      faultsLinkedShare: n.faults > 0 ? (n.faultsLinkedAlloc + n.faultsExisting) / n.faults : 1,
      filemapLinkedShare: n.filemapAdds > 0 ? n.filemapAddsLinked / n.filemapAdds : 1,
    },
    anomalies,
    assumptions: [
      ...ASSUMPTIONS,
      ...(reader.format === 'lackey'
        ? [
            `valgrind lackey has no clock: trace time is instructions x ${options.lackeyNsPerInstruction ?? 0.5} ns; loads and stores are aggregated per page per ${options.lackeySliceInstructions ?? 100000} instructions.`,
          ]
        : []),
      ...(overlay
        ? [
            `SYNTHETIC OVERLAY ${overlay.info.file} (sha256 ${overlay.info.sha256.slice(0, 12)}): ${overlay.info.bindings} memory-policy bindings and ${overlay.info.deviceAccesses} device-access schedules were added to the real capture; device accesses are not in the trace.`,
          ]
        : []),
      ...results
        .filter((r) => (r.observe as { oracle?: boolean })?.oracle === true)
        .map((r) => `ORACLE: policy ${r.policy} knows every access in advance (ctx.pageFutureAccesses): an upper bound, not a mechanism any kernel has.`),
      ...results
        .filter((r) => (r.observe as { oracle?: boolean; accesses?: boolean })?.accesses === true && (r.observe as { oracle?: boolean }).oracle !== true)
        .map((r) => `policy ${r.policy} sees every CPU access the trace shows (observe.accesses), as its design's fault or lookup path would.`),
      ...(n.damonRegions > 0
        ? [
            `DAMON regions (damon_aggregated) become accesses to every page of a region, weighted by nr_accesses; regions are read as ${options.damonTargets ? 'virtual addresses of the targets given' : 'physical addresses (paddr)'}.`,
          ]
        : []),
    ],
    policies: results,
  };
}

function instantiate(request: PolicyRequest): TierPolicy {
  let policy: TierPolicy;
  try {
    policy = request.factory(request.options as Record<string, unknown> | undefined);
  } catch (error) {
    if (isTierlabError(error)) throw error;
    throw new TierlabError({
      code: ErrorCode.policyInvalid,
      policy: request.factory.policyName,
      message: `the policy factory threw: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
  if (typeof policy !== 'object' || policy === null || typeof policy.name !== 'string') {
    throw new TierlabError({ code: ErrorCode.policyInvalid, message: 'the factory did not return a policy object', expected: '{ name, specVersion, ...hooks }' });
  }
  if (!SUPPORTED_SPEC_VERSIONS.includes(policy.specVersion)) {
    throw new TierlabError({
      code: ErrorCode.policySpecVersion,
      policy: policy.name,
      message: `specVersion ${String(policy.specVersion)} is not supported`,
      expected: `one of ${SUPPORTED_SPEC_VERSIONS.join(', ')}`,
    });
  }
  return policy;
}

function describeError(error: unknown): NonNullable<PolicyResult['error']> {
  if (isTierlabError(error)) return { code: error.code, message: error.message, hook: error.hook ?? null };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), hook: null };
}

/** Page identities of the pass under way (the normalizer's), for ctx.pageIdentity. */
let currentNormalizer: Normalizer | null = null;
function identityOf(page: number) {
  return currentNormalizer === null ? null : currentNormalizer.identity(page);
}

interface PassResult {
  readonly readerStats: ReaderStats;
  readonly normalizer: Normalizer;
}

interface EngineSlot {
  engine: Engine | null;
  readonly policy: TierPolicy;
  error: PolicyResult['error'] | null;
  batches: number;
  readonly violations: string[];
}

async function runPass(
  options: ReplayOptions,
  engines: EngineSlot[] | null,
  overlay: ResolvedOverlay | null = null,
  lifetimes: LifetimeRecorder | null = null,
): Promise<PassResult> {
  const reader = await openAnyTrace(options.trace, {
    format: options.format ?? 'auto',
    ...(options.zstd ? { zstd: options.zstd } : {}),
    ...(options.traceProcessor ? { traceProcessor: options.traceProcessor } : {}),
    ...(options.lackeySliceInstructions ? { lackeySliceInstructions: options.lackeySliceInstructions } : {}),
    ...(options.lackeyNsPerInstruction ? { lackeyNsPerInstruction: options.lackeyNsPerInstruction } : {}),
  });
  let normalizer: Normalizer | null = null;
  const verifyEvery = options.verifyEveryBatches ?? 0;
  const sink = (batch: EventBatch) => {
    if (lifetimes !== null) lifetimes.push(batch);
    if (engines === null) return;
    for (const slot of engines) {
      if (slot.engine === null) continue;
      try {
        slot.engine.push(batch);
        if (verifyEvery > 0 && ++slot.batches % verifyEvery === 0) slot.violations.push(...slot.engine.verify());
      } catch (error) {
        slot.error = describeError(error);
        slot.engine = null;
      }
    }
  };
  normalizer = new Normalizer(
    {
      ...(options.pids ? { pids: options.pids } : {}),
      ...(options.comms ? { comms: options.comms } : {}),
      ...(options.damonTargets ? { damonAddress: 'vaddr' as const, damonTargets: options.damonTargets } : {}),
      ...(overlay ? { overlay } : {}),
    },
    sink,
  );
  currentNormalizer = normalizer;
  let nextProgress = 1 << 18;
  for await (const batch of reader.batches()) {
    normalizer.push(batch);
    if (options.onProgress && normalizer.stats.records >= nextProgress) {
      nextProgress = normalizer.stats.records + (1 << 18);
      options.onProgress({ phase: engines === null ? 'footprint' : 'replay', records: normalizer.stats.records, bytes: reader.stats.bytesRead });
    }
  }
  normalizer.finish();
  return { readerStats: reader.stats, normalizer };
}

function sortKeys(record: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}
