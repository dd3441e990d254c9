import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, type EngineResult } from '@tierlab/engine';
import { loadPreset, resolveMachine } from '@tierlab/machines';
import {
  AccessSource,
  EventFlag,
  EventKind,
  type MachineSpec,
  PageKind,
  type PageIdentity,
  type PolicyFactory,
  createEventBatch,
} from '@tierlab/memory-tier-api';
import { firstTouch } from '@tierlab/policy-first-touch';
import { type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces, golden, sharedTraces } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';
import { hmmMigrate } from './index.js';

const PAGE = 4096;
const MS = 1e6;
const PID = 42;
const DRAM = 0;
const GPU = 1;

/** A scripted event stream for the engine (one batch), with the page identities a driver would know. */
function script() {
  const batch = createEventBatch(1 << 16);
  const identities = new Map<number, PageIdentity>();
  let t = 0;
  const row = (kind: number, page: number, flags: number, node = -1) => {
    const i = batch.length++;
    batch.kind[i] = kind;
    batch.time[i] = t;
    batch.page[i] = page;
    batch.nrPages[i] = 1;
    batch.flags[i] = flags;
    batch.pid[i] = PID;
    batch.count[i] = 1;
    batch.node[i] = node;
    t += 1000;
  };
  return {
    batch,
    identity: (page: number) => identities.get(page) ?? null,
    /** mm_page_alloc and the first-touch fault of an anon page at virtual page `vpn`, or a page-cache page. */
    alloc(page: number, kind: PageKind = PageKind.anon, vpn = 0x10000 + page) {
      identities.set(page, { kind, pid: PID, pfn: page, vpn: kind === PageKind.anon ? vpn : -1 });
      row(EventKind.alloc, page, kind | EventFlag.write);
      row(EventKind.access, page, kind | EventFlag.write | (AccessSource.fault << EventFlag.sourceShift));
    },
    device(page: number, kind: PageKind = PageKind.anon) {
      row(EventKind.access, page, kind | (AccessSource.device << EventFlag.sourceShift), GPU);
    },
    /** A CPU load or store to a mapped page (a sampled access, as lackey shows it). */
    cpu(page: number, kind: PageKind = PageKind.anon) {
      row(EventKind.access, page, kind | (AccessSource.sample << EventFlag.sourceShift));
    },
    free(page: number) {
      row(EventKind.free, page, 0);
      identities.delete(page);
    },
    skipMs(ms: number) {
      t += ms * MS;
    },
  };
}

/** Run a script on dram-gpu (sized for 4096 pages: DRAM far above its watermarks for these few pages). */
function run(s: ReturnType<typeof script>, options: Record<string, unknown> = {}, spec: MachineSpec = loadPreset('dram-gpu')): EngineResult {
  const machine = resolveMachine(spec, 4096);
  const engine = new Engine({ machine, policy: hmmMigrate(options), seed: 1, identity: s.identity });
  engine.push(s.batch);
  expect(engine.verify()).toEqual([]);
  const result = engine.finish();
  expect(result.accessesToDeadPages).toBe(0);
  return result;
}

const c = (r: EngineResult, name: string) => r.counters[`hmm-migrate.${name}`];

describe('hmm-migrate on scripted streams (dram-gpu: gpu0 is device-private)', () => {
  it('migrates on the device touch and faults back once per CPU touch of a device-private page', () => {
    // 8 pages; 3 rounds of (2 device accesses per page, then 3 CPU touches per page).
    const K = 8;
    const rounds = 3;
    const s = script();
    for (let p = 0; p < K; p++) s.alloc(p);
    for (let r = 0; r < rounds; r++) {
      for (let n = 0; n < 2; n++) for (let p = 0; p < K; p++) s.device(p);
      for (let m = 0; m < 3; m++) for (let p = 0; p < K; p++) s.cpu(p);
    }
    const result = run(s);
    // Each round: the first device access migrates the page (migrate_vma), the first CPU touch brings it back (migrate_to_ram).
    expect(result.metrics.devicePrivateFaults).toBe(K * rounds);
    expect(result.metrics.migratedBytesToDevice).toBe(K * rounds * PAGE);
    expect(result.metrics.migratedBytesFromDevice).toBe(K * rounds * PAGE);
    expect(c(result, 'migrate_vma_pages')).toBe(K * rounds);
    expect(c(result, 'migrate_to_ram')).toBe(K * rounds);
    expect(c(result, 'migrate_to_ram_reclaim')).toBe(0);
    // Migrated before the access is charged: every device access is served by the device's memory.
    expect(result.metrics.deviceAccesses).toBe(2 * K * rounds);
    expect(result.metrics.deviceLocalAccessShare).toBe(1);
    expect(result.metrics.cpuAccessesToDevice).toBe(0);
    expect(result.nodes[GPU]!.finalUsedPages).toBe(0);
  });

  it('waits for deviceAccessThreshold device accesses, counting again after a page comes back', () => {
    // Threshold 3, 2 device accesses per round: round 1 counts 2, round 2 reaches 3 and migrates, round 3 counts 1, 2.
    const K = 4;
    const s = script();
    for (let p = 0; p < K; p++) s.alloc(p);
    for (let r = 0; r < 3; r++) {
      for (let n = 0; n < 2; n++) for (let p = 0; p < K; p++) s.device(p);
      for (let p = 0; p < K; p++) s.cpu(p);
    }
    const result = run(s, { deviceAccessThreshold: 3 });
    expect(result.metrics.devicePrivateFaults).toBe(K);
    expect(result.metrics.migratedBytesToDevice).toBe(K * PAGE);
    expect(result.metrics.migratedBytesFromDevice).toBe(K * PAGE);
    expect(result.metrics.deviceLocalAccessShare).toBeCloseTo(2 / 6, 12);
  });

  it('does not migrate page-cache pages to device-private memory (the engine refuses; counted)', () => {
    const s = script();
    s.alloc(0, PageKind.file);
    s.alloc(1);
    for (let n = 0; n < 3; n++) {
      s.device(0, PageKind.file);
      s.device(1);
    }
    s.cpu(0, PageKind.file);
    s.cpu(1);
    const result = run(s);
    // Each device access to the file page asks again and is refused again.
    expect(c(result, 'migrate_refused_not_anon')).toBe(3);
    expect(c(result, 'migrate_vma_pages')).toBe(1);
    expect(result.metrics.migratedBytesToDevice).toBe(PAGE);
    expect(result.metrics.devicePrivateFaults).toBe(1);
    // The file page's device accesses went over the link: 3 of 6 device accesses were remote.
    expect(result.metrics.deviceLocalAccessShare).toBe(0.5);
  });

  it('frees a page that is on the device without copying it back', () => {
    const s = script();
    s.alloc(0);
    s.alloc(1);
    s.device(0);
    s.device(1);
    s.free(0);
    s.cpu(1);
    s.free(1);
    const result = run(s);
    expect(c(result, 'freed_on_device')).toBe(1);
    expect(result.metrics.devicePrivateFaults).toBe(1);
    expect(result.metrics.migratedBytesToDevice).toBe(2 * PAGE);
    expect(result.metrics.migratedBytesFromDevice).toBe(PAGE);
    expect(result.nodes[GPU]!.finalUsedPages).toBe(0);
    expect(result.nodes[DRAM]!.finalUsedPages).toBe(0);
  });

  it('migrates the aligned range of migrateChunkPages around the touched page in one migrate_vma call', () => {
    // 32 pages at virtual pages 0x10000..0x1001f; the device touches page 3 only.
    const s = script();
    for (let p = 0; p < 32; p++) s.alloc(p);
    s.device(3);
    s.cpu(5);
    s.cpu(20);
    const result = run(s, { migrateChunkPages: 16 });
    expect(c(result, 'migrate_vma_calls')).toBe(1);
    expect(c(result, 'migrate_vma_pages')).toBe(16);
    expect(result.metrics.migratedBytesToDevice).toBe(16 * PAGE);
    // Page 5 came along and faults back on its CPU touch; page 20 is in the next chunk, still in DRAM.
    expect(result.metrics.devicePrivateFaults).toBe(1);
    expect(result.metrics.migratedBytesFromDevice).toBe(PAGE);
    expect(result.nodes[GPU]!.finalUsedPages).toBe(15);
  });

  it('stops at the device memory capacity and counts the refusals', () => {
    const spec = loadPreset('dram-gpu');
    const small: MachineSpec = { ...spec, nodes: spec.nodes.map((n) => (n.name === 'gpu0' ? { ...n, capacity: 4 * PAGE } : n)) };
    const s = script();
    for (let p = 0; p < 8; p++) s.alloc(p);
    for (let p = 0; p < 8; p++) s.device(p);
    const result = run(s, {}, small);
    expect(c(result, 'migrate_vma_pages')).toBe(4);
    expect(c(result, 'migrate_refused_no_room')).toBe(4);
    expect(result.nodes[GPU]!.peakUsedPages).toBe(4);
  });

  it('refuses knob values outside their range, naming the knob', () => {
    expect(() => hmmMigrate({ migrateChunkPages: 0 })).toThrow(/migrateChunkPages/);
    expect(() => hmmMigrate({ deviceAccessThreshold: 1.5 })).toThrow(/deviceAccessThreshold/);
    expect(() => hmmMigrate({ chunk: 4 } as never)).toThrow(/unknown knob 'chunk'/);
  });
});

/** What a golden file pins of a replay: inputs' identity and every policy's totals, counters and nodes. */
function goldenOf(result: ReplayResult) {
  return {
    trace: { file: result.trace.file, sha256: result.trace.sha256, records: result.trace.records },
    overlay: result.overlay,
    footprintPages: result.footprint.peakLivePages,
    overlayDeviceAccesses: result.normalizer.overlayDeviceAccesses,
    policies: Object.fromEntries(
      result.policies.map((p) => [
        `${p.policy}${Object.keys(p.knobs).length > 0 ? ` ${JSON.stringify(p.knobs)}` : ''}`,
        { error: p.error ?? null, metrics: p.metrics, counters: p.counters, nodes: p.nodes, warnings: p.warnings },
      ]),
    ),
  };
}

function checkGolden(name: string, actual: unknown): void {
  const fixture = join(import.meta.dirname, '__fixtures__', name);
  expect(actual).toEqual(golden(fixture, actual));
}

const overlays = join(bundledTraces(), 'overlays');

describe('hmm-migrate on the bundled real capture py_named_threads (perf script) with the py-gpu-hmm overlay, machine dram-gpu', () => {
  it('matches the pinned counters, and serves the device from its own memory where first-touch never does', async () => {
    const options = {
      trace: join(bundledTraces(), 'py_named_threads.perf-script.txt.zst'),
      machine: 'dram-gpu',
      overlay: join(overlays, 'py-gpu-hmm.yaml'),
      seed: 1,
    };
    const result = await replay({ ...options, policies: [{ factory: firstTouch as unknown as PolicyFactory }, { factory: hmmMigrate }] });
    const chunked = await replay({ ...options, policies: [{ factory: hmmMigrate, options: { migrateChunkPages: 16 } }] });
    const golden = goldenOf(result);
    Object.assign(golden.policies, goldenOf(chunked).policies);
    checkGolden('golden-py_named_threads-dram-gpu.json', golden);

    const ft = result.policies[0]!;
    const hmm = result.policies[1]!;
    const hmm16 = chunked.policies[0]!;
    for (const p of [ft, hmm, hmm16]) expect(p.error).toBeUndefined();
    expect(hmm.metrics!.accesses).toBe(ft.metrics!.accesses);
    expect(hmm.metrics!.deviceAccesses).toBe(ft.metrics!.deviceAccesses);
    expect(ft.metrics!.deviceLocalAccessShare).toBe(0);
    expect(hmm.metrics!.deviceLocalAccessShare).toBeGreaterThan(0.99);
    // Every byte over the link is accounted: pages to the device by migrate_vma, back by migrate_to_ram or eviction.
    for (const p of [hmm, hmm16]) {
      const counter = (name: string) => p.counters![`hmm-migrate.${name}`]!;
      expect(p.metrics!.migratedBytesToDevice).toBe(counter('migrate_vma_pages') * PAGE);
      expect(p.metrics!.devicePrivateFaults).toBe(counter('migrate_to_ram') + counter('migrate_to_ram_reclaim'));
      expect(p.metrics!.migratedBytesFromDevice).toBe((p.metrics!.devicePrivateFaults + counter('device_evicted_pages')) * PAGE);
      expect(p.metrics!.implicitDeviceAllocations).toBe(0);
    }
    // 16-page ranges: far fewer migrate_vma calls for about the same pages.
    expect(hmm16.counters!['hmm-migrate.migrate_vma_calls']!).toBeLessThan(hmm.counters!['hmm-migrate.migrate_vma_calls']! / 8);
  });
});

const shared = sharedTraces();
const lua = shared === null ? null : join(shared, 'lua_tables.lackey.txt.zst');

describe.skipIf(lua === null || !existsSync(lua))(
  'hmm-migrate on the shared lackey capture lua_tables (every load and store) with the lua-gpu-hmm overlay, machine dram-gpu',
  () => {
    it('pins the ping-pong: CPU touches of pages the device took fault them back, bytes both ways over the link', async () => {
      const result = await replay({
        trace: lua!,
        machine: 'dram-gpu',
        overlay: join(overlays, 'lua-gpu-hmm.yaml'),
        policies: [{ factory: firstTouch as unknown as PolicyFactory }, { factory: hmmMigrate }],
        seed: 1,
      });
      checkGolden('golden-lua_tables-dram-gpu.json', goldenOf(result));
      const ft = result.policies[0]!;
      const hmm = result.policies[1]!;
      expect(ft.metrics!.devicePrivateFaults).toBe(0);
      expect(hmm.metrics!.devicePrivateFaults).toBeGreaterThan(0);
      expect(hmm.metrics!.migratedBytesFromDevice).toBe(hmm.metrics!.devicePrivateFaults * PAGE);
      expect(hmm.metrics!.deviceLocalAccessShare).toBeGreaterThan(ft.metrics!.deviceLocalAccessShare);
    });
  },
);
