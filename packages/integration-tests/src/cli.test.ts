import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTrace } from '@tierlab/trace-core';
import { openPerfetto, sniffPerfetto, writePerfettoFromRaw } from '@tierlab/trace-perfetto';
import { openTextTrace } from '@tierlab/trace-text';
import { bundledTraces, repoRoot, sharedTrace, sharedTraces } from '@tierlab/test-support';
import { describe, expect, it } from 'vitest';

const cli = join(repoRoot(), 'apps', 'replay', 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'tierlab-it-'));

async function firstBytes(path: string, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const chunk of openTrace(path)) {
    parts.push(Buffer.from(chunk));
    got += chunk.length;
    if (got >= n) break;
  }
  return Buffer.concat(parts);
}

function tierlab(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Result {
  trace: { sha256: string; records: number; format: string; eventCounts: Record<string, number> };
  machine: { nodes: Array<{ capacityPages: number }> };
  policies: Array<{ policy: string; knobs: Record<string, unknown>; metrics: Record<string, number>; counters: Record<string, number>; error?: unknown }>;
  anomalies: Array<{ name: string; severity: string; value: number }>;
  assumptions: string[];
}

describe('tierlab replay on bundled real captures', () => {
  const trace = join(bundledTraces(), 'py_named_threads.perf-script.txt.zst');

  it('prints the comparison table and writes byte-identical JSON on two runs', () => {
    const a = tierlab('replay', trace, '--machine', 'dram-pmem', '--policy', 'first-touch', '--policy', 'kmem-tiering', '--json', join(tmp, 'a.json'));
    expect(a.stderr).not.toMatch(/internal error/);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/first-touch\s+kmem-tiering/);
    expect(a.stdout).toMatch(/memory stall time/);
    expect(a.stdout).toMatch(/fast-tier share of accesses/);
    const b = tierlab('replay', trace, '--machine', 'dram-pmem', '--json', join(tmp, 'b.json'), '--quiet');
    expect(b.code).toBe(0);
    const bytesA = readFileSync(join(tmp, 'a.json'));
    const bytesB = readFileSync(join(tmp, 'b.json'));
    expect(bytesA.equals(bytesB)).toBe(true);
    const result = JSON.parse(bytesA.toString('utf8')) as Result;
    // Provenance: the trace's hash, the machine resolved, both policies with their knobs, the assumptions.
    expect(result.trace.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.policies.map((p) => p.policy)).toEqual(['first-touch', 'kmem-tiering']);
    expect(result.policies[1]!.knobs.hotThresholdMs).toBe(1000);
    expect(result.assumptions.length).toBeGreaterThan(3);
    // The same accesses are charged to every policy; only where they are served differs.
    expect(result.policies[0]!.metrics.accesses).toBe(result.policies[1]!.metrics.accesses);
    // first-touch never migrates.
    expect(result.policies[0]!.metrics.pgmigrateSuccess).toBe(0);
    expect(result.policies[0]!.metrics.numaHintFaults).toBe(0);
  });

  it('replays tracefs text and perf script text of the same workload to the same scale', () => {
    const perf = tierlab('replay', trace, '--json', join(tmp, 'perf.json'), '--quiet');
    const tracefs = tierlab('replay', join(bundledTraces(), 'py_named_threads.tracefs.txt.zst'), '--json', join(tmp, 'tracefs.json'), '--quiet');
    expect(perf.code).toBe(0);
    expect(tracefs.code).toBe(0);
    const p = JSON.parse(readFileSync(join(tmp, 'perf.json'), 'utf8')) as Result;
    const t = JSON.parse(readFileSync(join(tmp, 'tracefs.json'), 'utf8')) as Result;
    expect(p.trace.format).toBe('perf-script');
    expect(t.trace.format).toBe('tracefs');
    // Two runs of one workload (8 MiB per round, 4 threads): fault counts within 1% of each other.
    const pf = p.policies[0]!.metrics.pageFaults!;
    const tf = t.policies[0]!.metrics.pageFaults!;
    expect(Math.abs(pf - tf) / pf).toBeLessThan(0.01);
  });

  it('sets knobs with --policy name:knob=value and records them', () => {
    const r = tierlab('replay', trace, '--policy', 'kmem-tiering:hotThresholdMs=500,scanDelayMs=100', '--json', join(tmp, 'k.json'), '--quiet');
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(tmp, 'k.json'), 'utf8')) as Result;
    expect(result.policies[0]!.knobs.hotThresholdMs).toBe(500);
    expect(result.policies[0]!.knobs.scanDelayMs).toBe(100);
  });

  it('rejects an unknown policy, knob or machine with the choices', () => {
    const p = tierlab('replay', trace, '--policy', 'no-such-policy');
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/policy 'no-such-policy' not found: not a built-in policy \(first-touch, kmem-tiering, coherent-numa, hmm-migrate, zone-nvm, struct-page, hmmap, oracle\)/);
    expect(p.stderr).toMatch(/looked in .*node_modules/);
    const k = tierlab('replay', trace, '--policy', 'kmem-tiering:hotThreshold=5');
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/unknown knob 'hotThreshold': expected one of .*hotThresholdMs/);
    const v = tierlab('replay', trace, '--policy', 'kmem-tiering:hotThresholdMs=fast');
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/bad value for knob 'hotThresholdMs': expected a finite number, got 'fast'/);
    const m = tierlab('replay', trace, '--machine', 'no-such-machine');
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/no-such-machine/);
  });

  it('reports a malformed line with file, line, excerpt and what was expected', async () => {
    // Real lines from the capture, one of them damaged.
    const real = (await firstBytes(join(bundledTraces(), 'py_named_threads.tracefs.txt.zst'), 1 << 16)).toString('latin1').split('\n').slice(0, 60);
    const target = real.findIndex((l, i) => i > 20 && l.includes('mm_page_alloc:'));
    real[target] = real[target]!.replace(/pfn=0x[0-9a-f]+/, 'pfn=0xZZ');
    const bad = join(tmp, 'bad.tracefs.txt');
    writeFileSync(bad, `${real.join('\n')}\n`);
    const r = tierlab('replay', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`bad.tracefs.txt:${target + 1}:`);
    expect(r.stderr).toContain('pfn=0xZZ');
    expect(r.stderr).toMatch(/expected/);
  });
});

describe('tierlab replay of a Perfetto trace', () => {
  it('gives the same numbers as the text capture it was written from', async () => {
    const text = join(bundledTraces(), 'py_named_threads.tracefs.txt.zst');
    const pftrace = join(tmp, 'py.pftrace');
    await writePerfettoFromRaw(openTextTrace(text).batches(), pftrace);
    const a = tierlab('replay', pftrace, '--quiet', '--json', join(tmp, 'pf.json'));
    const b = tierlab('replay', text, '--quiet', '--json', join(tmp, 'pf-text.json'));
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const pf = JSON.parse(readFileSync(join(tmp, 'pf.json'), 'utf8')) as Result;
    const tx = JSON.parse(readFileSync(join(tmp, 'pf-text.json'), 'utf8')) as Result;
    expect(pf.trace.format).toBe('perfetto');
    expect(pf.policies.map((p) => p.metrics)).toEqual(tx.policies.map((p) => p.metrics));
  });
});

describe('tierlab replay --format trace-processor', () => {
  it('says where it looked when trace_processor_shell is not installed', () => {
    const r = spawnSync(process.execPath, [cli, 'replay', join(bundledTraces(), 'py_named_threads.perf-script.txt.zst'), '--format', 'trace-processor'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: tmp, TRACE_PROCESSOR_SHELL: '' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[trace-processor\] trace_processor_shell not found; searched: .*PATH/);
  });
});

describe('tierlab replay --perfetto', () => {
  it('writes the replay as a Perfetto trace that reads back', async () => {
    const out = join(tmp, 'replay.pftrace');
    const r = tierlab('replay', join(bundledTraces(), 'py_named_threads.perf-script.txt.zst'), '--quiet', '--perfetto', out);
    expect(r.code).toBe(0);
    expect(sniffPerfetto(await firstBytes(out, 4096))).toBe(true);
    const reader = openPerfetto(out);
    for await (const _ of reader.batches()) {
      // a replay export holds tracks and counters, no ftrace events
    }
    expect(reader.stats.format).toBe('perfetto');
  });
});

describe.skipIf(sharedTraces() === null)('tierlab replay on shared captures', () => {
  it('counts lost events of a lossy capture and says so in the result', () => {
    const r = tierlab('replay', sharedTrace('gcc_lua_lossy.tracefs.txt.zst'), '--json', join(tmp, 'lossy.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning lost_events = 73,132/);
    const result = JSON.parse(readFileSync(join(tmp, 'lossy.json'), 'utf8')) as Result;
    expect(result.anomalies.find((a) => a.name === 'lost_events')!.value).toBe(73132);
  });

  it('replays trace-cmd report text', () => {
    const r = tierlab('replay', sharedTrace('py_named_threads_lossy.trace-cmd-report.txt.zst'), '--quiet', '--json', join(tmp, 'tc.json'));
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(tmp, 'tc.json'), 'utf8')) as Result;
    expect(result.trace.format).toBe('trace-cmd-report');
    expect(result.trace.eventCounts.mm_page_alloc).toBe(73437);
  });

  it('replays valgrind lackey output and DAMON regions, stating what they assume', () => {
    const l = tierlab('replay', sharedTrace('sqlite_tiny.lackey.txt.zst'), '--lackey-ns-per-instruction', '0.3', '--quiet', '--json', join(tmp, 'lackey.json'));
    expect(l.code).toBe(0);
    const lackey = JSON.parse(readFileSync(join(tmp, 'lackey.json'), 'utf8')) as Result;
    expect(lackey.trace.format).toBe('lackey');
    expect(lackey.assumptions.some((a) => a.includes('instructions x 0.3 ns'))).toBe(true);
    // Every load, store and modify of the capture is charged (modify = load + store; page-crossing accesses count twice).
    // sqlite_tiny.lackey.meta: L 670,498, S 283,209, M 9,235.
    const exact = 670_498 + 283_209 + 2 * 9_235;
    expect(lackey.policies[0]!.metrics.accesses).toBeGreaterThanOrEqual(exact);
    expect(lackey.policies[0]!.metrics.accesses! - exact).toBeLessThan(1000);
    const d = tierlab('replay', sharedTrace('sqlite_orders.damon.perf-script.txt.zst'), '--quiet', '--json', join(tmp, 'damon.json'));
    expect(d.code).toBe(0);
    const damon = JSON.parse(readFileSync(join(tmp, 'damon.json'), 'utf8')) as Result;
    expect(damon.trace.eventCounts.damon_aggregated).toBe(11330);
    expect(damon.assumptions.some((a) => a.includes('physical addresses (paddr)'))).toBe(true);
    expect(damon.policies[0]!.metrics.accesses).toBeGreaterThan(0);
  });

  it('replays trace.dat and its trace-cmd report text to the same numbers', () => {
    const dat = tierlab('replay', sharedTrace('git_lua.trace.dat.zst'), '--quiet', '--json', join(tmp, 'dat.json'));
    const txt = tierlab('replay', sharedTrace('git_lua.trace-cmd-report.txt.zst'), '--quiet', '--json', join(tmp, 'txt.json'));
    expect(dat.code).toBe(0);
    expect(txt.code).toBe(0);
    const a = JSON.parse(readFileSync(join(tmp, 'dat.json'), 'utf8')) as Result;
    const b = JSON.parse(readFileSync(join(tmp, 'txt.json'), 'utf8')) as Result;
    expect(a.trace.format).toBe('trace.dat v7');
    expect(a.trace.eventCounts).toEqual(b.trace.eventCounts);
    expect(a.policies.map((p) => p.metrics)).toEqual(b.policies.map((p) => p.metrics));
  });

  it('replays perf.data directly to the same numbers as its perf script text', () => {
    const data = tierlab('replay', sharedTrace('sqlite_orders.perf.data.zst'), '--quiet', '--json', join(tmp, 'perfdata.json'));
    const text = tierlab('replay', sharedTrace('sqlite_orders.perf-script.txt.zst'), '--quiet', '--json', join(tmp, 'perftext.json'));
    expect(data.code).toBe(0);
    expect(text.code).toBe(0);
    const a = JSON.parse(readFileSync(join(tmp, 'perfdata.json'), 'utf8')) as Result;
    const b = JSON.parse(readFileSync(join(tmp, 'perftext.json'), 'utf8')) as Result;
    expect(a.trace.format).toBe('perf.data');
    expect(a.trace.eventCounts).toEqual(b.trace.eventCounts);
    // perf.data has nanosecond timestamps, the text microseconds: time-weighted means differ in the 7th digit.
    for (const [i, policy] of a.policies.entries()) {
      for (const [name, value] of Object.entries(policy.metrics)) {
        const other = b.policies[i]!.metrics[name]!;
        expect(Math.abs(value - other), `${policy.policy}.${name}`).toBeLessThanOrEqual(Math.abs(other) * 1e-6);
      }
    }
  });
});
