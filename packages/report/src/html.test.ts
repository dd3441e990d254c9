/**
 * The HTML report of real replays: sqlite_orders (perf script) on dram-pmem
 * through first-touch, kmem-tiering and struct-page (which accounts
 * metadata), and py_named_threads (perf script) with the bundled py-gpu-hmm
 * overlay on dram-gpu through first-touch and hmm-migrate. Checked as text,
 * then opened in headless Chromium (Debian's /usr/bin/chromium) from disk.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PolicyFactory } from '@tierlab/memory-tier-api';
import { hmmMigrate } from '@tierlab/policy-hmm-migrate';
import { structPage } from '@tierlab/policy-struct-page';
import { type ReplayResult, replay } from '@tierlab/replay';
import { bundledTraces } from '@tierlab/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { runReportCommand } from './html-command.js';
import { loadReportInput, renderHtmlReport, renderHtmlReportFrom } from './html.js';
import { firstTouchPolicy, kmemTieringPolicy, replayResult, writeResult } from './test-replays.js';

const artifacts = join(import.meta.dirname, '..', 'test-artifacts');
const tmp = mkdtempSync(join(tmpdir(), 'tierlab-html-'));
const CHROMIUM = process.env.TIERLAB_CHROMIUM ?? '/usr/bin/chromium';

let sqlite: ReplayResult;
let py: ReplayResult;
let html: string;
let reportFile: string;

interface EmbeddedChart {
  id: string;
  title: string;
  kind: string;
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}
const embedded = (page: string) =>
  (JSON.parse(/<script id="tierlab-data" type="application\/json">(.*?)<\/script>/s.exec(page)![1]!) as { charts: EmbeddedChart[] }).charts;

beforeAll(async () => {
  sqlite = await replayResult({
    trace: 'sqlite_orders.perf-script.txt.zst',
    policies: [{ factory: firstTouchPolicy }, { factory: kmemTieringPolicy }, { factory: structPage as unknown as PolicyFactory }],
  });
  py = await replay({
    trace: join(bundledTraces(), 'py_named_threads.perf-script.txt.zst'),
    machine: 'dram-gpu',
    policies: [{ factory: firstTouchPolicy }, { factory: hmmMigrate as unknown as PolicyFactory }],
    overlay: join(bundledTraces(), 'overlays', 'py-gpu-hmm.yaml'),
  });
  html = renderHtmlReport([sqlite, py]);
  // Outside the tree: the linter would read a .html file here (the screenshots go to test-artifacts/).
  reportFile = join(tmp, 'report.html');
  writeFileSync(reportFile, html);
}, 300_000);

describe('renderHtmlReport on real replays', () => {
  it('is one self-contained file: uPlot and its CSS inline, nothing to fetch, a policy that forbids fetching', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    expect(html).toContain(`default-src 'none'`);
    // The uPlot build from node_modules, whole.
    const uplot = readFileSync(join(import.meta.dirname, '..', 'node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'), 'utf8');
    expect(html).toContain(uplot.slice(0, 200));
    expect(html).toContain(uplot.slice(-200));
    expect(html).toContain('.uplot');
  });

  it('is the same bytes for the same results, in memory or read back from files', () => {
    expect(renderHtmlReport([sqlite, py])).toBe(html);
    const a = writeResult(join(tmp, 'results', 'a-sqlite.json'), sqlite);
    writeResult(join(tmp, 'results', 'b-py.json'), py);
    expect(renderHtmlReportFrom(loadReportInput([join(tmp, 'results')]))).toBe(html);
    expect(renderHtmlReport([JSON.parse(readFileSync(a, 'utf8')), py])).toBe(html);
  });

  it('tabulates every metric per policy, best value marked by the metric direction', () => {
    for (const r of [sqlite, py]) for (const p of r.policies) expect(html).toContain(`<th data-policy="${p.policy}">`);
    const row = (metric: string) => new RegExp(`<tr data-metric="${metric}">(.*?)</tr>`).exec(html)![1]!;
    const shares = sqlite.policies.map((p) => `${(p.metrics!.fastTierAccessShare * 100).toFixed(1)}%`);
    const shareRow = row('fastTierAccessShare');
    for (const s of shares) expect(shareRow).toContain(`>${s}</td>`);
    // Higher is better for the share: the best policy's cell is marked.
    const best = [...sqlite.policies].sort((a, b) => b.metrics!.fastTierAccessShare - a.metrics!.fastTierAccessShare)[0]!;
    expect(shareRow).toContain(`<td class="best" title="${best.metrics!.fastTierAccessShare}">`);
    expect(row('metadataBytesPeak')).toContain('MiB');
    expect(html).toMatch(/metrics are 0 for every policy/);
  });

  it('says what is synthetic and what a result assumes', () => {
    expect(html).toContain('SYNTHETIC overlay <code>py-gpu-hmm.yaml</code>');
    expect(html).toContain('Assumptions (');
    expect(html).toContain('metadata (struct pages and the like) peaks at');
  });

  it('embeds per result two charts of every policy, and per policy four: share, migrations, occupancy, dirty bytes', () => {
    const charts = embedded(html);
    const expected = [sqlite, py].reduce((n, r) => n + 2 + 4 * r.policies.length, 0);
    expect(charts).toHaveLength(expected);
    for (const c of charts) {
      expect(c.x.length).toBeGreaterThan(10);
      for (const s of c.series) expect(s.values).toHaveLength(c.x.length);
    }
    const occupancy = charts.find((c) => c.id === 'r1-p2-occupancy')!;
    expect(occupancy.series.map((s) => s.label)).toEqual(['dram0 (dram)', 'dram0 capacity', 'pmem0 (pmem)', 'pmem0 capacity']);
    const kmem = sqlite.policies[1]!;
    const migrations = charts.find((c) => c.id === 'r1-p2-migrations')!;
    expect(migrations.series.map((s) => (s.values as number[]).reduce((a, b) => a + b, 0))).toEqual([
      kmem.series!.promotedPages.reduce((a, b) => a + b, 0),
      kmem.series!.demotedPages.reduce((a, b) => a + b, 0),
      kmem.series!.evictedPages.reduce((a, b) => a + b, 0),
    ]);
  });
});

describe('runReportCommand', () => {
  it('writes the file given with --out, or prints the HTML', () => {
    const out = join(tmp, 'report.html');
    const run = runReportCommand([join(tmp, 'results'), '--out', out, '--title', 'sqlite and py']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^wrote .*report\.html: 2 results, \d+ KiB/);
    expect(readFileSync(out, 'utf8')).toContain('<title>sqlite and py</title>');
    expect(runReportCommand([join(tmp, 'results', 'a-sqlite.json')]).stdout).toContain('sqlite_orders.perf-script.txt.zst');
  });

  it('exits 2 on bad usage and on a file that is not a result, naming it', () => {
    expect(runReportCommand([])).toMatchObject({ exitCode: 2 });
    const bad = join(tmp, 'bad', 'package.json');
    mkdirSync(join(tmp, 'bad'), { recursive: true });
    writeFileSync(bad, readFileSync(join(import.meta.dirname, '..', 'package.json')));
    const run = runReportCommand([bad]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(bad);
    expect(run.stderr).toMatch(/not a tierlab result/);
  });
});

describe('the report in a real browser', () => {
  const reason = `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set TIERLAB_CHROMIUM`;

  it(`opens from disk in headless Chromium with no console error, every chart drawn${existsSync(CHROMIUM) ? '' : ` (SKIPPED: ${reason})`}`, async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      console.warn(`html.test.ts: skipping the browser test: ${reason}`);
      ctx.skip(reason);
    }
    const { chromium } = await import('playwright-core');
    const userDataDir = mkdtempSync(join(tmpdir(), 'tierlab-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 1000 },
    });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      const fetched: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('request', (request) => {
        if (!request.url().startsWith('file:') && !request.url().startsWith('data:')) fetched.push(request.url());
      });
      await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });
      await page.waitForFunction(() => (globalThis as { tierlabReport?: { ready?: boolean } }).tierlabReport?.ready === true, undefined, { timeout: 30_000 });

      // Per chart: its points, whether any value is not zero, and the pixels drawn in colour (grid and axes are grey).
      const charts = await page.evaluate(() => {
        type Plot = { data: (number | null)[][]; ctx: { canvas: { width: number; height: number }; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
        const report = (globalThis as unknown as { tierlabReport: { charts: { id: string; title: string; uplot: Plot }[] } }).tierlabReport;
        return report.charts.map(({ id, title, uplot }) => {
          const { width, height } = uplot.ctx.canvas;
          const pixels = uplot.ctx.getImageData(0, 0, width, height).data;
          let coloured = 0;
          for (let i = 0; i < pixels.length; i += 4) {
            const r = pixels[i]!;
            const g = pixels[i + 1]!;
            const b = pixels[i + 2]!;
            if (pixels[i + 3]! > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
          }
          const series = uplot.data.slice(1);
          return {
            id,
            title,
            points: uplot.data[0]!.length,
            nonZero: series.some((values) => values.some((v) => v !== null && v !== 0)),
            coloured,
          };
        });
      });
      const tableRows = await page.locator('table.metrics tbody tr').count();
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });
      await page.screenshot({ path: join(artifacts, 'report-top.png') });
      await page.locator('#r1-p2-occupancy').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(artifacts, 'report-policy.png') });

      expect(problems).toEqual([]);
      expect(fetched).toEqual([]);
      expect(charts).toHaveLength(embedded(html).length);
      for (const chart of charts) {
        expect(chart.points, chart.id).toBeGreaterThan(10);
        // Every chart with a non-zero value has its line drawn; capacity lines make every occupancy chart non-zero.
        if (chart.nonZero) expect(chart.coloured, `${chart.id}: ${chart.title}`).toBeGreaterThan(100);
      }
      expect(charts.filter((c) => c.id.endsWith('-share')).every((c) => c.nonZero)).toBe(true);
      expect(charts.filter((c) => c.id.endsWith('-occupancy')).every((c) => c.nonZero)).toBe(true);
      expect(tableRows).toBeGreaterThan(2 * 15);
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
