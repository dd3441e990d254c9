/**
 * Real sweeps over two bundled captures (sqlite_orders perf script,
 * py_named_threads tracefs) on two machines through first-touch and
 * kmem-tiering, on one and two worker threads; stopped midway and resumed.
 */

import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { replay } from '@tierlab/replay';
import { loadReportInput, renderHtmlReport, renderHtmlReportFrom } from '@tierlab/report';
import { bundledTraces, repoRoot } from '@tierlab/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSweepCommand } from './command.js';
import { codeFingerprint } from './fingerprint.js';
import { planSweep } from './plan.js';
import { builtinPolicies } from './policies.js';
import { formatSweepBar, formatSweepLine, formatSweepProgress } from './progress.js';
import { type SweepOptions, type SweepOutcome, type SweepProgress, runSweep } from './sweep.js';

const tmp = mkdtempSync(join(tmpdir(), 'tierlab-sweep-'));
const root = repoRoot();
// As a user types them, relative to the repository.
const SQLITE = 'traces/sqlite_orders.perf-script.txt.zst';
const PY = 'traces/py_named_threads.tracefs.txt.zst';
const matrix = {
  traces: [SQLITE, PY],
  machines: ['dram-pmem', 'dram-cxl'],
  policies: ['first-touch', 'kmem-tiering'],
  cwd: root,
} satisfies Partial<SweepOptions>;

/** Every file of a sweep's output folder, by relative path -> bytes. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (statSync(path).isFile()) out.set(name, readFileSync(path, 'latin1'));
  }
  return out;
}

let one: SweepOutcome;
let two: SweepOutcome;
const events: SweepProgress[] = [];

beforeAll(async () => {
  one = await runSweep({ ...matrix, outDir: join(tmp, 'jobs1'), jobs: 1, onProgress: (p) => events.push(p) });
  two = await runSweep({ ...matrix, outDir: join(tmp, 'jobs2'), jobs: 2 });
}, 300_000);

describe('runSweep on real captures', () => {
  it('replays the whole matrix: one result per trace and machine, both policies in it', () => {
    expect(one.aborted).toBe(false);
    expect(one.failed).toEqual([]);
    expect(one.computed).toHaveLength(4);
    expect(one.skipped).toEqual([]);
    expect(two.jobs).toBe(2);
    const index = one.index!;
    expect(index.schema).toBe('tierlab-sweep/1');
    expect(index.summary).toEqual({ cells: 4, ok: 4, failed: 0, withErrors: 0 });
    // Sorted by trace file name, then machine.
    expect(index.cells.map((c) => `${c.trace.file} ${c.machine}`)).toEqual([
      'py_named_threads.tracefs.txt.zst dram-cxl',
      'py_named_threads.tracefs.txt.zst dram-pmem',
      'sqlite_orders.perf-script.txt.zst dram-cxl',
      'sqlite_orders.perf-script.txt.zst dram-pmem',
    ]);
    for (const cell of index.cells) {
      const result = JSON.parse(readFileSync(join(one.outDir, cell.file), 'utf8'));
      expect(result.trace.file).toBe(cell.trace.file);
      expect(result.trace.sha256).toBe(cell.trace.sha256);
      expect(result.machine.name).toBe(cell.machine);
      expect(result.policies.map((p: { policy: string }) => p.policy)).toEqual(['first-touch', 'kmem-tiering']);
      expect(cell.resultSha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('gives byte-identical files with 1 and 2 worker threads', () => {
    const a = snapshot(one.outDir);
    const b = snapshot(two.outDir);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBe(5); // four results and the index
    for (const [name, bytes] of a) expect(b.get(name), name).toBe(bytes);
  });

  it('writes each result as `tierlab replay --json` would: byte for byte', async () => {
    const cell = one.index!.cells.find((c) => c.trace.file === 'py_named_threads.tracefs.txt.zst' && c.machine === 'dram-pmem')!;
    const direct = await replay({
      trace: join(bundledTraces(), 'py_named_threads.tracefs.txt.zst'),
      machine: 'dram-pmem',
      policies: [{ factory: builtinPolicies.get('first-touch')! }, { factory: builtinPolicies.get('kmem-tiering')! }],
      seed: 1,
      intervalMs: 100,
    });
    expect(readFileSync(join(one.outDir, cell.file), 'utf8')).toBe(`${JSON.stringify(direct, null, 2)}\n`);
  });

  it('stopped midway by its signal, resumes on the next run: earlier cells skipped, same final bytes', async () => {
    const outDir = join(tmp, 'resume');
    const controller = new AbortController();
    const first = await runSweep({
      ...matrix,
      outDir,
      jobs: 1,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.type === 'cell-done') controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.computed).toHaveLength(1);
    expect(first.pending).toHaveLength(3);
    expect(first.index).toBeNull();
    expect(existsSync(join(outDir, 'index.json'))).toBe(false);
    // The finished cell is on disk, whole; nothing else (no temporary file) is.
    const done = first.computed[0]!;
    expect(readdirSync(join(outDir, 'results'))).toEqual([done.file.replace('results/', '')]);
    const mtime = statSync(join(outDir, done.file)).mtimeMs;
    // What is done can already be looked at: the report of a stopped sweep shows its finished cells.
    expect(renderHtmlReportFrom(loadReportInput([outDir])).match(/<section class="result"/g)).toHaveLength(1);

    const second = await runSweep({ ...matrix, outDir, jobs: 2 });
    expect(second.aborted).toBe(false);
    expect(second.skipped.map((c) => c.key)).toEqual([done.key]);
    expect(second.computed).toHaveLength(3);
    expect(statSync(join(outDir, done.file)).mtimeMs).toBe(mtime);
    const a = snapshot(one.outDir);
    const b = snapshot(outDir);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, bytes] of a) expect(b.get(name), name).toBe(bytes);

    // A third run replays nothing.
    const third = await runSweep({ ...matrix, outDir, jobs: 2 });
    expect(third.computed).toEqual([]);
    expect(third.skipped).toHaveLength(4);
    expect(readFileSync(join(outDir, 'index.json'), 'utf8')).toBe(a.get('index.json'));
  }, 300_000);

  it('reports every cell to onProgress: begin, start and done for each, end; an ETA once a cell is done', () => {
    const types = events.map((e) => e.type).filter((t) => t !== 'cell-progress');
    expect(types[0]).toBe('begin');
    expect(types.at(-1)).toBe('end');
    expect(types.filter((t) => t === 'cell-start')).toHaveLength(4);
    expect(types.filter((t) => t === 'cell-done')).toHaveLength(4);
    const firstDone = events.find((e) => e.type === 'cell-done')!;
    expect(firstDone.etaMs).not.toBeNull();
    expect(events.find((e) => e.type === 'begin')!.etaMs).toBeNull();
    // sqlite_orders has 622,593 records: replay reports progress every 256 Ki of them.
    expect(events.some((e) => e.type === 'cell-progress' && e.records! >= 262144)).toBe(true);
  });

  it('formats progress: one line per cell for a log, a bar no wider than the terminal', () => {
    const lines = events.map((e) => formatSweepLine(e)).filter((l) => l !== null);
    expect(lines[0]).toMatch(/^sweep: 4 cells, 4 to replay on 1 worker -> /);
    expect(lines.filter((l) => /^\[\d\/4\] done .+ on dram-(pmem|cxl): first-touch, kmem-tiering in \d+\.\d s/.test(l!))).toHaveLength(4);
    expect(lines.at(-1)).toMatch(/^sweep: 4 replayed, 0 skipped, 0 failed in \d+:\d\d -> /);
    for (const e of events) {
      for (const columns of [40, 80, 120]) {
        const bar = formatSweepBar(e, columns);
        expect(bar.length).toBeLessThan(columns);
      }
    }
    const done = events.find((e) => e.type === 'cell-done')!;
    expect(formatSweepBar(done, 100)).toMatch(/^sweep \[#+-+\] 1\/4 {2}0:\d\d {2}ETA \d+:\d\d$/);
    const clear = '\r\x1b[K';
    expect(formatSweepProgress(done, { tty: true, columns: 100 })!.startsWith(`${clear}sweep [`)).toBe(true);
    expect(formatSweepProgress(events.at(-1)!, { tty: true })!.startsWith(`${clear}sweep: 4 replayed`)).toBe(true);
    expect(formatSweepProgress(events.find((e) => e.type === 'cell-start')!, { tty: false })).toBeNull();
  });

  it('renders as one HTML report: the results in index order, a section per cell', () => {
    const html = renderHtmlReport(one.index!, { baseDir: one.outDir });
    expect(html.match(/<section class="result"/g)).toHaveLength(4);
    const results = one.index!.cells.map((c) => JSON.parse(readFileSync(join(one.outDir, c.file), 'utf8')));
    expect(html).toBe(renderHtmlReport(results));
  });

  it('lists result files that are no cell of this sweep, and deletes them with prune', async () => {
    const outDir = join(tmp, 'stale');
    await runSweep({ ...matrix, traces: [PY], machines: ['dram-pmem'], outDir, jobs: 1 });
    const other = one.index!.cells.find((c) => c.machine === 'dram-cxl' && c.trace.file.startsWith('py'))!;
    copyFileSync(join(one.outDir, other.file), join(outDir, other.file));
    const again = await runSweep({ ...matrix, traces: [PY], machines: ['dram-pmem'], outDir, jobs: 1 });
    expect(again.skipped).toHaveLength(1);
    expect(again.stale).toEqual([other.file]);
    const pruned = await runSweep({ ...matrix, traces: [PY], machines: ['dram-pmem'], outDir, jobs: 1, prune: true });
    expect(pruned.stale).toEqual([]);
    expect(existsSync(join(outDir, other.file))).toBe(false);
  });

  it('a file that is no trace fails its cell only; the others run and the index says which', async () => {
    const outDir = join(tmp, 'bad-trace');
    const run = await runSweepCommand(['traces/MANIFEST.md', PY, '--out', outDir, '--machine', 'dram-pmem', '--jobs', '2', '--quiet'], { cwd: root });
    expect(run.exitCode).toBe(1);
    const outcome = run.outcome!;
    expect(outcome.failed).toHaveLength(1);
    expect(outcome.failed[0]!.cell.trace.file).toBe('MANIFEST.md');
    expect(outcome.failed[0]!.error.code).toBe('TRACE_FORMAT');
    expect(outcome.index!.summary).toMatchObject({ cells: 2, ok: 1, failed: 1 });
    expect(outcome.index!.cells.find((c) => c.trace.file === 'MANIFEST.md')).toMatchObject({ status: 'failed', resultSha256: null });
    expect(run.stderr).toMatch(/MANIFEST\.md on dram-pmem failed: TRACE_FORMAT/);
    // The failed cell is tried again on the next run; the good one is kept.
    const again = await runSweepCommand(['traces/MANIFEST.md', PY, '--out', outDir, '--machine', 'dram-pmem', '--quiet'], { cwd: root });
    expect(again.outcome!.skipped).toHaveLength(1);
    expect(again.outcome!.failed).toHaveLength(1);
  });
});

describe('planSweep', () => {
  it('keys a cell by what its result depends on: a knob at its default is the same cell, another value is not', async () => {
    const plan = (policies: string[], extra: { seed?: number } = {}) =>
      planSweep({ traces: [PY], machines: ['dram-pmem'], policies, seed: extra.seed ?? 1, intervalMs: 100, cwd: root });
    const [base] = await plan(['first-touch', 'kmem-tiering']);
    const [sameDefault] = await plan(['first-touch', 'kmem-tiering:hotThresholdMs=1000']);
    const [other] = await plan(['first-touch', 'kmem-tiering:hotThresholdMs=500']);
    const [seed2] = await plan(['first-touch', 'kmem-tiering'], { seed: 2 });
    const [reordered] = await plan(['kmem-tiering', 'first-touch']);
    expect(sameDefault!.cell.key).toBe(base!.cell.key);
    expect(other!.cell.key).not.toBe(base!.cell.key);
    expect(seed2!.cell.key).not.toBe(base!.cell.key);
    expect(reordered!.cell.key).not.toBe(base!.cell.key);
    expect(base!.cell.file).toBe(`results/py_named_threads.tracefs.dram-pmem.${base!.cell.key.slice(0, 12)}.json`);
    // The built code is part of the key: the same build, the same fingerprint.
    expect(codeFingerprint()).toMatch(/^[0-9a-f]{64}$/);
    expect(codeFingerprint()).toBe(codeFingerprint());
  });

  it('sweeps one policy over several knob values in groups: one replay holds each policy name once', async () => {
    const cells = await planSweep({
      traces: [PY],
      machines: ['dram-pmem'],
      policies: ['first-touch', 'kmem-tiering', 'kmem-tiering:hotThresholdMs=500', 'kmem-tiering:hotThresholdMs=100'],
      seed: 1,
      intervalMs: 100,
      cwd: root,
    });
    expect(cells.map((c) => c.cell.policies)).toEqual([
      ['first-touch', 'kmem-tiering'],
      ['kmem-tiering:hotThresholdMs=500'],
      ['kmem-tiering:hotThresholdMs=100'],
    ]);
    expect(cells.map((c) => c.cell.file.split('.').at(-3))).toEqual(['g1', 'g2', 'g3']);
  });

  it('a workload overlay is part of the cell and of its key', async () => {
    const plan = (overlay?: string) =>
      planSweep({
        traces: [{ file: 'traces/py_named_threads.perf-script.txt.zst', ...(overlay ? { overlay } : {}) }],
        machines: ['dram-gpu'],
        policies: ['first-touch', 'hmm-migrate'],
        seed: 1,
        intervalMs: 100,
        cwd: root,
      });
    const [plain] = await plan();
    const [withOverlay] = await plan('traces/overlays/py-gpu-hmm.yaml');
    expect(withOverlay!.cell.overlay).toMatchObject({ path: 'traces/overlays/py-gpu-hmm.yaml' });
    expect(withOverlay!.task.overlay).toBe(join(root, 'traces/overlays/py-gpu-hmm.yaml'));
    expect(withOverlay!.cell.key).not.toBe(plain!.cell.key);
  });

  it('refuses bad input before any replay, with the code and what was expected', async () => {
    const attempt = async (options: Partial<Parameters<typeof planSweep>[0]>) => {
      try {
        await planSweep({ traces: [PY], machines: ['dram-pmem'], policies: ['first-touch'], seed: 1, intervalMs: 100, cwd: root, ...options });
      } catch (error) {
        if (!isTierlabError(error)) throw error;
        return error;
      }
      throw new Error('no error');
    };
    const policy = await attempt({ policies: ['first-touch', 'kmem-tierng'] });
    expect(policy.code).toBe('POLICY_NOT_FOUND');
    expect(policy.expected).toMatch(/kmem-tiering/);
    expect((await attempt({ policies: ['kmem-tiering:hotThresholdMs=soon'] })).code).toBe('POLICY_KNOB');
    expect((await attempt({ policies: ['kmem-tiering:hotThreshold=5'] })).message).toMatch(/unknown knob 'hotThreshold'/);
    expect((await attempt({ machines: ['dram-nvme'] })).code).toBe('MACHINE_NOT_FOUND');
    expect((await attempt({ traces: ['traces/nope.txt.zst'] })).message).toMatch(/trace traces\/nope\.txt\.zst not found/);
  });
});

describe('runSweepCommand', () => {
  it('prints usage for --help and exits 2 on bad usage, without replaying', async () => {
    expect((await runSweepCommand(['--help'], { cwd: root })).stdout).toMatch(/^usage:\n {2}tierlab sweep <trace>\.\.\. --out <dir>/);
    const noOut = await runSweepCommand([PY], { cwd: root });
    expect(noOut).toMatchObject({ exitCode: 2, outcome: null });
    expect(noOut.stderr).toMatch(/--out <dir>/);
    expect((await runSweepCommand([PY, '--out', tmp, '--jobs', '0'], { cwd: root })).stderr).toMatch(/bad --jobs/);
    expect((await runSweepCommand([PY, '--out', tmp, '--policy', 'nope'], { cwd: root })).stderr).toMatch(/unknown policy 'nope'/);
  });

  it('over a finished sweep: every cell already there, exit 0, progress lines to the callback', async () => {
    const progress: string[] = [];
    const run = await runSweepCommand(
      [SQLITE, PY, '--out', one.outDir, '--machine', 'dram-pmem', '--machine', 'dram-cxl', '--policy', 'first-touch', '--policy', 'kmem-tiering'],
      { cwd: root, progress: (text) => progress.push(text), tty: false },
    );
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^sweep: 4 cells \(0 replayed, 4 already there, 0 failed\)/);
    expect(run.stdout).toMatch(/index {4}.*index\.json/);
    expect(progress.filter((l) => l.includes(' skipped '))).toHaveLength(4);
    expect(readFileSync(join(one.outDir, 'index.json'), 'utf8')).toBe(snapshot(two.outDir).get('index.json'));
  });
});
