/**
 * compare on real results: base from real replays of the bundled captures;
 * heads from genuinely different real replays (a kmem-tiering knob, a machine
 * with less DRAM, another seed, fewer policies) and from edited numbers.
 */

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPreset } from '@tierlab/machines';
import { type MachineSpec, isTierlabError } from '@tierlab/memory-tier-api';
import type { ReplayResult } from '@tierlab/replay';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCompareCommand } from './command.js';
import { type CompareReport, compareErrorExitCode, compareExitCode, compareResults } from './compare.js';
import { formatCompareMarkdown, formatCompareText, formatPair } from './format.js';
import { editResult, firstTouchPolicy, kmemTieringPolicy, replayResult, writeResult } from './test-replays.js';

const tmp = mkdtempSync(join(tmpdir(), 'tierlab-compare-'));
const path = (...parts: string[]) => join(tmp, ...parts);
const SQLITE = 'sqlite_orders.perf-script.txt.zst';
const PY = 'py_named_threads.perf-script.txt.zst';

const cell = (report: CompareReport, policy: string, metric: string, trace = SQLITE) =>
  report.deltas.find((d) => d.trace === trace && d.policy === policy && d.metric === metric)!;
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as ReplayResult;

/** A table row of the Markdown for one cell. */
const row = (markdown: string, policy: string, metric: string) =>
  markdown.split('\n').find((line) => line.includes(`| \`${policy}\` | \`${metric}\` |`));

beforeAll(async () => {
  const base = await replayResult({ trace: SQLITE });
  writeResult(path('base', 'sqlite.json'), base);
  writeResult(path('base', 'py.json'), await replayResult({ trace: PY }));
  // The same replays again: a head with no change.
  writeResult(path('same', 'sqlite.json'), await replayResult({ trace: SQLITE }));
  writeResult(path('same', 'py.json'), await replayResult({ trace: PY }));
  // kmem-tiering promoting only pages re-touched within 1 ms of the scan.
  writeResult(
    path('hot1', 'sqlite.json'),
    await replayResult({ trace: SQLITE, policies: [{ factory: firstTouchPolicy }, { factory: kmemTieringPolicy, options: { hotThresholdMs: 1 } }] }),
  );
  // The same machine name with half the DRAM.
  const preset = loadPreset('dram-pmem');
  const smaller: MachineSpec = { ...preset, nodes: preset.nodes.map((n, i) => (i === 0 ? { ...n, capacity: '12.5%' } : n)) };
  writeResult(path('small-dram', 'sqlite.json'), await replayResult({ trace: SQLITE, machine: smaller }));
  writeResult(path('seed2', 'sqlite.json'), await replayResult({ trace: SQLITE, seed: 2 }));
  writeResult(path('first-touch-only', 'sqlite.json'), await replayResult({ trace: SQLITE, policies: [{ factory: firstTouchPolicy }] }));
});

describe('compare on real results', () => {
  it('identical replays pass, exit 0, every cell unchanged', () => {
    expect(readFileSync(path('same', 'sqlite.json'), 'utf8')).toBe(readFileSync(path('base', 'sqlite.json'), 'utf8'));
    const report = compareResults(path('base'), path('same'));
    expect(report.verdict).toBe('pass');
    expect(compareExitCode(report)).toBe(0);
    expect(report.summary).toMatchObject({ regressions: 0, improvements: 0, changed: 0, within: 0, tracesCompared: 2 });
    expect(report.summary.unchanged).toBe(report.deltas.length);
    expect(report.deltas.length).toBeGreaterThanOrEqual(2 * 2 * 29);
    const markdown = formatCompareMarkdown(report);
    expect(markdown).toMatch(/^### tierlab compare: pass\n/);
    expect(markdown).toContain('No metric changed.');
    expect(markdown).toContain('<details><summary>Unchanged: 12 gated cells');
    // Two traces: a trace column.
    expect(markdown).toContain('| trace | policy | metric | base | head | delta | threshold | verdict |');
    expect(markdown).toContain(`| \`${PY}\` | \`kmem-tiering\` | \`fastTierAccessShare\` |`);
    const run = runCompareCommand([path('base'), path('same')]);
    expect(run).toMatchObject({ exitCode: 0, stderr: '' });
    expect(run.stdout).toMatch(/^tierlab compare: pass\n2 traces compared; \d+ metric cells: 0 regressions/);
  });

  it('a real change of a kmem-tiering knob: no regression under the default thresholds, a regression under a tighter one', () => {
    const base = read(path('base', 'sqlite.json'));
    const head = read(path('hot1', 'sqlite.json'));
    const b = base.policies[1]!.metrics!;
    const h = head.policies[1]!.metrics!;
    // A genuinely different replay: fewer promotions, fewer accesses served by DRAM.
    expect(h.pgpromoteSuccess).toBeLessThan(b.pgpromoteSuccess);
    expect(h.fastTierAccessShare).toBeLessThan(b.fastTierAccessShare);
    expect(b.fastTierAccessShare - h.fastTierAccessShare).toBeLessThan(0.01);

    const loose = compareResults(path('base', 'sqlite.json'), path('hot1', 'sqlite.json'));
    // Mixed, as a real knob change is: DRAM serves a little less (within the default threshold) while
    // no promotion means no kswapd work to make room, so the total cost drops by more than 1%.
    expect(loose.verdict).toBe('improvement-only');
    expect(compareExitCode(loose)).toBe(0);
    expect(cell(loose, 'kmem-tiering', 'fastTierAccessShare')).toMatchObject({ status: 'within', change: 'worse' });
    expect(cell(loose, 'kmem-tiering', 'totalCostNs')).toMatchObject({ status: 'improvement', change: 'better' });
    expect(cell(loose, 'kmem-tiering', 'pgpromoteSuccess')).toMatchObject({ status: 'changed', change: 'better', threshold: null });
    expect(cell(loose, 'first-touch', 'totalCostNs').status).toBe('unchanged');
    expect(loose.traces[0]!.notes).toEqual(['kmem-tiering knobs: hotThresholdMs 1000 -> 1']);

    const tight = compareResults(path('base', 'sqlite.json'), path('hot1', 'sqlite.json'), {
      thresholds: ['fastTierAccessShare=-0.5pt', 'meanAccessCostNs=+0.1%'],
    });
    expect(tight.verdict).toBe('regression');
    expect(compareExitCode(tight)).toBe(1);
    expect(cell(tight, 'kmem-tiering', 'fastTierAccessShare')).toMatchObject({ status: 'regression', threshold: { text: '-0.5pt' } });
    expect(cell(tight, 'kmem-tiering', 'meanAccessCostNs').status).toBe('regression');
    expect(tight.summary.regressions).toBe(2);

    const markdown = formatCompareMarkdown(tight);
    expect(markdown).toMatch(/^### tierlab compare: regression\n\n`sqlite_orders.perf-script.txt.zst` on `dram-pmem` compared; \d+ metric cells: \*\*2 regressions\*\*, /);
    const lines = markdown.split('\n');
    // One trace: it is named in the summary, not in a column.
    const header = lines.indexOf('| policy | metric | base | head | delta | threshold | verdict |');
    expect(lines[header + 1]).toBe('| --- | --- | --: | --: | --: | --: | --- |');
    expect(header).toBeGreaterThan(0);
    // Regressions first, then the other changed cells.
    expect(lines[header + 2]).toMatch(/\| `kmem-tiering` \| `meanAccessCostNs` \| .* \| \+0\.1% \| \*\*regression\*\* \|$/);
    const [shareBase, shareHead] = formatPair('share', b.fastTierAccessShare, h.fastTierAccessShare);
    expect(lines[header + 3]).toMatch(
      new RegExp(`^\\| \`kmem-tiering\` \\| \`fastTierAccessShare\` \\| ${shareBase} \\| ${shareHead} \\| -0\\.\\d+ pt \\| -0\\.5pt \\| \\*\\*regression\\*\\* \\|$`),
    );
    expect(row(markdown, 'kmem-tiering', 'pgpromoteSuccess')).toMatch(/\| changed \(better\) \|$/);
    expect(markdown).toContain('**Provenance changed**\n\n- sqlite\\_orders.perf-script.txt.zst: kmem-tiering knobs: hotThresholdMs 1000 -> 1');
    expect(markdown).toMatch(/Thresholds \(worse than base by more than this is a regression\): meanAccessCostNs=\+0\.1%, fastTierAccessShare=-0\.5pt, totalCostNs=\+1%\./);
    expect(markdown).not.toMatch(/\p{Extended_Pictographic}/u);

    const text = formatCompareText(tight);
    expect(text).toMatch(/^tierlab compare: REGRESSION\n/);
    expect(text).toMatch(/\npolicy\s+metric\s+base\s+head\s+delta\s+threshold\s+verdict\n-+ /);
    expect(text).toMatch(/kmem-tiering\s+fastTierAccessShare\s+.*-0\.5pt\s+REGRESSION/);

    const run = runCompareCommand([
      path('base', 'sqlite.json'),
      path('hot1', 'sqlite.json'),
      '--threshold',
      'fastTierAccessShare=-0.5pt',
      '--threshold',
      'meanAccessCostNs=+0.1%',
      '--format',
      'markdown',
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe(markdown);
  });

  it('a number edited in head: regression beyond +1% totalCostNs, improvement-only below', () => {
    const worse = editResult(path('base', 'sqlite.json'), path('edited', 'worse.json'), (r) => {
      r.policies[1].metrics.totalCostNs *= 1.05;
    });
    const report = compareResults(path('base', 'sqlite.json'), worse);
    expect(report.verdict).toBe('regression');
    expect(cell(report, 'kmem-tiering', 'totalCostNs')).toMatchObject({ status: 'regression', change: 'worse' });
    expect(cell(report, 'kmem-tiering', 'totalCostNs').relative).toBeCloseTo(0.05, 12);
    expect(report.summary).toMatchObject({ regressions: 1, changed: 0, within: 0 });
    expect(row(formatCompareMarkdown(report), 'kmem-tiering', 'totalCostNs')).toMatch(/ ms \| \+\d+\.\d+ ms \(\+5\.00%\) \| \+1% \| \*\*regression\*\* \|$/);
    expect(runCompareCommand([path('base', 'sqlite.json'), worse]).exitCode).toBe(1);

    const slightly = editResult(path('base', 'sqlite.json'), path('edited', 'slightly.json'), (r) => {
      r.policies[1].metrics.totalCostNs *= 1.009;
    });
    expect(compareResults(path('base', 'sqlite.json'), slightly).verdict).toBe('pass');
    expect(cell(compareResults(path('base', 'sqlite.json'), slightly), 'kmem-tiering', 'totalCostNs').status).toBe('within');

    const better = editResult(path('base', 'sqlite.json'), path('edited', 'better.json'), (r) => {
      r.policies[1].metrics.totalCostNs *= 0.9;
    });
    const improved = compareResults(path('base', 'sqlite.json'), better);
    expect(improved.verdict).toBe('improvement-only');
    expect(compareExitCode(improved)).toBe(0);
    expect(cell(improved, 'kmem-tiering', 'totalCostNs')).toMatchObject({ status: 'improvement', change: 'better' });
  });

  it('a machine with less DRAM under the same name is a different real replay, reported as not comparable', () => {
    const base = read(path('base', 'sqlite.json'));
    const head = read(path('small-dram', 'sqlite.json'));
    expect(head.machine.name).toBe(base.machine.name);
    expect(head.machine.nodes[0]!.capacityPages).toBeLessThan(base.machine.nodes[0]!.capacityPages);
    expect(head.policies[0]!.metrics!.meanAccessCostNs).toBeGreaterThan(base.policies[0]!.metrics!.meanAccessCostNs);

    const report = compareResults(path('base', 'sqlite.json'), path('small-dram', 'sqlite.json'));
    expect(report.verdict).toBe('pass');
    expect(report.traces[0]).toMatchObject({
      status: 'not-comparable',
      reasons: ['machine dram-pmem is described differently: nodes[0].capacity "25%" -> "12.5%"'],
    });
    expect(report.deltas.every((d) => d.status === 'not-comparable')).toBe(true);
    expect(report.summary).toMatchObject({ comparedCells: 0, tracesNotComparable: 1, regressions: 0 });
    const markdown = formatCompareMarkdown(report);
    expect(markdown).toContain('**Not comparable**\n\n- sqlite\\_orders.perf-script.txt.zst: machine dram-pmem is described differently: nodes[0].capacity "25%" -> "12.5%"');
    expect(markdown).toContain('<details><summary>Gated metrics of the pairs that are not comparable</summary>');
    expect(row(markdown, 'first-touch', 'meanAccessCostNs')).toMatch(/\| not comparable \|$/);
  });

  it('other options (a seed) make a pair not comparable', () => {
    const report = compareResults(path('base', 'sqlite.json'), path('seed2', 'sqlite.json'));
    expect(report.traces[0]).toMatchObject({ status: 'not-comparable', reasons: ['options differ: seed 1 -> 2'] });
    expect(report.verdict).toBe('pass');
  });

  it('policies added or removed are reported', () => {
    const removed = compareResults(path('base', 'sqlite.json'), path('first-touch-only', 'sqlite.json'));
    expect(removed.verdict).toBe('pass');
    expect(removed.policyChanges).toEqual([{ trace: SQLITE, policy: 'kmem-tiering', change: 'removed', detail: null }]);
    expect(removed.summary).toMatchObject({ policiesRemoved: 1, unchanged: removed.deltas.length });
    expect(new Set(removed.deltas.map((d) => d.policy))).toEqual(new Set(['first-touch']));
    expect(formatCompareMarkdown(removed)).toContain(`**Policies added or removed**\n\n- kmem-tiering removed on sqlite\\_orders.perf-script.txt.zst`);

    const added = compareResults(path('first-touch-only', 'sqlite.json'), path('base', 'sqlite.json'));
    expect(added.policyChanges).toEqual([{ trace: SQLITE, policy: 'kmem-tiering', change: 'added', detail: null }]);
    expect(formatCompareText(added)).toContain('Policies added or removed:\n  kmem-tiering added on sqlite_orders.perf-script.txt.zst');
  });

  it('traces added or removed are reported; several files or folders make a side', () => {
    const removed = compareResults(path('base'), path('same', 'sqlite.json'));
    expect(removed.traces.map((t) => [t.label, t.status])).toEqual([
      [PY, 'removed'],
      [SQLITE, 'compared'],
    ]);
    expect(removed.verdict).toBe('pass');
    const added = compareResults([path('base', 'sqlite.json')], [path('same', 'py.json'), path('same', 'sqlite.json')]);
    expect(added.traces.map((t) => [t.label, t.status])).toEqual([
      [SQLITE, 'compared'],
      [PY, 'added'],
    ]);
    expect(added.summary).toMatchObject({ tracesAdded: 1, tracesCompared: 1 });
    expect(formatCompareMarkdown(added)).toContain(`**Traces added or removed**\n\n- py\\_named\\_threads.perf-script.txt.zst added`);
  });

  it('results in memory compare like files', async () => {
    const result = read(path('base', 'py.json'));
    const report = compareResults(result, [result]);
    expect(report.base).toEqual(['(in memory #1)']);
    expect(report.verdict).toBe('pass');
    expect(report.summary.unchanged).toBe(report.deltas.length);
  });

  it('a result of another schema version, or of another trace content, is not comparable', () => {
    const v2 = editResult(path('base', 'sqlite.json'), path('edited', 'v2.json'), (r) => {
      r.schema = 'tierlab-result/2';
      r.policies = 'changed shape';
    });
    const report = compareResults(path('base', 'sqlite.json'), v2);
    expect(report.traces[0]).toMatchObject({
      status: 'not-comparable',
      reasons: ['schema tierlab-result/1 in base, tierlab-result/2 in head: this compare reads tierlab-result/1 only'],
    });
    expect(report.deltas).toEqual([]);

    const other = editResult(path('base', 'sqlite.json'), path('edited', 'other-sha.json'), (r) => {
      r.trace.sha256 = '0'.repeat(64);
    });
    const changed = compareResults(path('base', 'sqlite.json'), other);
    expect(changed.traces).toHaveLength(1);
    expect(changed.traces[0]!.reasons).toEqual(['the trace file changed: sha256 55f423fd8acf in base, 000000000000 in head']);
  });

  it('a policy that fails in head, or an error anomaly that rises, is a regression', () => {
    const failed = editResult(path('base', 'sqlite.json'), path('edited', 'failed.json'), (r) => {
      const p = r.policies[1];
      r.policies[1] = {
        policy: p.policy,
        version: p.version,
        specVersion: p.specVersion,
        knobs: p.knobs,
        observe: p.observe,
        error: { code: 'POLICY_DECISION', message: 'returned node 99', hook: 'placePage' },
      };
    });
    const report = compareResults(path('base', 'sqlite.json'), failed);
    expect(report.verdict).toBe('regression');
    expect(report.policyChanges).toEqual([
      { trace: SQLITE, policy: 'kmem-tiering', change: 'failed', detail: 'POLICY_DECISION in placePage: returned node 99' },
    ]);
    expect(formatCompareMarkdown(report)).toContain('**Policies that failed in head**\n\n- kmem-tiering on sqlite\\_orders.perf-script.txt.zst: POLICY\\_DECISION in placePage: returned node 99');
    const back = compareResults(failed, path('base', 'sqlite.json'));
    expect(back.verdict).toBe('pass');
    expect(back.policyChanges[0]!.change).toBe('recovered');

    const dead = editResult(path('base', 'sqlite.json'), path('edited', 'dead.json'), (r) => {
      r.anomalies.push({ name: 'kmem-tiering.accesses_to_dead_pages', severity: 'error', value: 3, description: 'events on pages the engine did not hold live' });
    });
    const anomalous = compareResults(path('base', 'sqlite.json'), dead);
    expect(anomalous.verdict).toBe('regression');
    expect(anomalous.anomalyChanges).toEqual([
      { trace: SQLITE, name: 'kmem-tiering.accesses_to_dead_pages', severity: 'error', base: 0, head: 3, regression: true },
    ]);
  });
});

describe('bad input exits 2 with a message naming the file and what is wrong', () => {
  const fail = (...args: string[]) => {
    const run = runCompareCommand(args);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    return run.stderr;
  };

  it('a missing file', () => {
    expect(fail(path('base', 'sqlite.json'), path('nowhere.json'))).toBe(
      `tierlab: [compare] ${path('nowhere.json')} cannot read: no such file or folder\n`,
    );
  });

  it('a file that is not JSON, or not a result', () => {
    const notJson = path('bad', 'not-json.json');
    mkdirSync(path('bad'), { recursive: true });
    writeFileSync(notJson, '{"schema": "tierlab-result/1",');
    expect(fail(notJson, path('base', 'sqlite.json'))).toMatch(new RegExp(`^tierlab: \\[compare\\] ${notJson} not JSON \\(.+\\): expected a result written by tierlab replay --json\\n$`));
    const other = path('bad', 'package.json');
    writeFileSync(other, '{"name": "x"}');
    expect(fail(path('base', 'sqlite.json'), other)).toContain(`${other} not a tierlab result (schema is missing): expected "schema": "tierlab-result/1"`);
  });

  it('a result that breaks the schema names the path', () => {
    const broken = editResult(path('base', 'sqlite.json'), path('bad', 'broken.json'), (r) => {
      delete r.policies[0].metrics.totalCostNs;
      r.trace.records = 'many';
    });
    expect(fail(path('base', 'sqlite.json'), broken)).toBe(
      `tierlab: [compare] ${broken} not a valid tierlab-result/1 result: /trace/records: must be integer; /policies/0/metrics/totalCostNs: is missing\n`,
    );
    try {
      compareResults(path('base', 'sqlite.json'), broken);
      expect.unreachable();
    } catch (error) {
      expect(isTierlabError(error) && error.code === 'USAGE' && error.file === broken).toBe(true);
      expect(compareErrorExitCode(error)).toBe(2);
    }
    expect(compareErrorExitCode(new RangeError('a bug'))).toBe(70);
  });

  it('a folder without results, two results of one trace on one side', () => {
    mkdirSync(path('empty'), { recursive: true });
    expect(fail(path('empty'), path('base'))).toContain(`${path('empty')} the folder holds no .json result files`);
    expect(fail(path('base', 'sqlite.json'), '--head', path('same', 'sqlite.json'))).toContain('give a base and a head');
    expect(fail('--base', path('base', 'sqlite.json'), '--head', path('same', 'sqlite.json'), '--head', path('hot1', 'sqlite.json'))).toContain(
      'head holds two results of trace sqlite_orders.perf-script.txt.zst on machine dram-pmem with the same options',
    );
  });

  it('bad usage', () => {
    expect(fail()).toContain('no base results given');
    expect(fail(path('base'))).toContain('give a base and a head');
    expect(fail(path('base'), path('same'), '--threshold', 'totalCostNs=-1%')).toContain('totalCostNs: lower is better, so a regression is a rise');
    expect(fail(path('base'), path('same'), '--format', 'html')).toContain("bad --format (text, markdown or json): expected tierlab compare <base> <head> (see 'tierlab compare --help'), got 'html'");
    expect(fail(path('base'), path('same'), '--colour')).toContain("Unknown option '--colour'");
    expect(runCompareCommand(['--help'])).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('exit status: 0 within thresholds, 1 regression, 2 bad usage or bad input') });
  });
});

describe('--format json', () => {
  it('is the report', () => {
    const run = runCompareCommand(['--base', path('base'), '--head', path('same'), '--format', 'json', '--no-default-thresholds', '-t', 'pgsteal=+0']);
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.stdout) as CompareReport;
    expect(report.verdict).toBe('pass');
    expect(report.thresholds).toEqual([{ metric: 'pgsteal', kind: 'absolute', amount: 0, text: '+0' }]);
    expect(report.deltas.length).toBe(run.report!.deltas.length);
  });
});
