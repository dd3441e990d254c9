/**
 * Captures made here with `perf record` (compressed with -z, and in pipe
 * mode) against `perf script` of the same file, when perf is installed and
 * the test runs as root; skipped, saying why, otherwise.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sniffPerfData } from './reader.js';
import { compareWithText } from './test-compare.js';

const EVENTS = [
  'kmem:mm_page_alloc',
  'kmem:mm_page_free',
  'kmem:rss_stat',
  'exceptions:page_fault_user',
  'pagemap:mm_lru_insertion',
  'pagemap:mm_lru_activate',
  'filemap:mm_filemap_add_to_page_cache',
  'filemap:mm_filemap_delete_from_page_cache',
  'writeback:writeback_dirty_folio',
  'writeback:writeback_dirty_inode',
  'sched:sched_process_fork',
  'sched:sched_process_exec',
  'sched:sched_process_exit',
].join(',');

/** A few processes and threads touching and reading files, for half a second or so. */
const WORKLOAD = 'for i in 1 2 3; do (ls -lR /usr/lib > /dev/null 2>&1; cat /etc/* > /dev/null 2>&1; head -c 4000000 /dev/zero | od > /dev/null) & done; wait';

function whyNot(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  const version = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return 'perf is not installed';
  return null;
}

const reason = whyNot();
const dir = reason === null ? mkdtempSync(path.join(tmpdir(), 'tierlab-perf-')) : '';
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Record `name`; returns null on success, else perf's complaint. */
function record(name: string, extra: string[], pipe: boolean, events = ['-a', '-m', '16', '-e', EVENTS]): string | null {
  const file = path.join(dir, name);
  const args = ['record', ...extra, ...events, '-o', pipe ? '-' : file, '--', 'sh', '-c', WORKLOAD];
  const r = spawnSync('perf', args, { encoding: pipe ? 'buffer' : 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) return `perf record failed (exit ${r.status}): ${String(r.stderr).trim().slice(-300)}`;
  if (pipe) writeFileSync(file, r.stdout as Buffer);
  return null;
}

/** `perf script` of `name` into `name.txt` (optionally with -F fields). */
function script(name: string, fields: string | null): string {
  const file = path.join(dir, name);
  const out = path.join(dir, `${name}${fields === null ? '' : '.F'}.txt`);
  const args = ['script', '-i', file, ...(fields === null ? ['--show-lost-events'] : ['-F', fields])];
  const fd = openSync(out, 'w');
  const r = spawnSync('perf', args, { stdio: ['ignore', fd, 'ignore'] });
  closeSync(fd);
  if (r.status !== 0) throw new Error(`perf script -i ${file} failed (exit ${r.status})`);
  return out;
}

function head(file: string, n: number): Uint8Array {
  const fd = openSync(file, 'r');
  const buf = new Uint8Array(n);
  const got = readSync(fd, buf, 0, n, 0);
  closeSync(fd);
  return buf.subarray(0, got);
}

const skipped = reason === null ? '' : ` (skipped: ${reason})`;

/** Drop the lines of samples of `event` (not tracepoints: the text reader does not read them); returns how many. */
function dropEvent(textFile: string, event: string): number {
  const lines = readFileSync(textFile, 'utf8').split('\n');
  const kept = lines.filter((line) => !line.includes(` ${event}: `));
  writeFileSync(textFile, kept.join('\n'));
  return lines.length - kept.length;
}

describe.skipIf(reason !== null)(`captures made with perf record here${skipped}`, () => {
  const cases = [
    { name: 'compressed.data', extra: ['-z'], pipe: false, what: 'perf record -z (PERF_RECORD_COMPRESSED)' },
    { name: 'pipe.data', extra: [], pipe: true, what: 'pipe mode (perf record -o -)' },
    { name: 'pipe-compressed.data', extra: ['-z'], pipe: true, what: 'pipe mode with -z' },
  ];
  for (const c of cases) {
    it(`${c.what} gives the records of its perf script text`, async (ctx) => {
      const failure = record(c.name, c.extra, c.pipe);
      if (failure !== null) {
        console.warn(`skipping ${c.what}: ${failure}`);
        ctx.skip();
        return;
      }
      const file = path.join(dir, c.name);
      const h = head(file, 104);
      expect(sniffPerfData(h)).toBe(true);
      // Header size 16 in pipe mode, 104 in file mode; -z in file mode sets feature HEADER_COMPRESSED (bit 27).
      expect(h[8]).toBe(c.pipe ? 16 : 104);
      if (!c.pipe && c.extra.includes('-z')) expect(h[72 + 3]! & (1 << 3)).not.toBe(0);

      const result = await compareWithText(file, script(c.name, null), { comparePid: false, skipLost: false });
      expect(result.mismatches).toEqual([]);
      expect(result.extraPerf).toBe(0);
      expect(result.extraText).toBe(0);
      expect(result.records).toBeGreaterThan(100);
      expect(result.perfStats.eventCounts).toEqual(result.textStats.eventCounts);
      expect(result.perfStats.lostMarkers).toBe(result.textStats.lostMarkers);
      expect(result.perfStats.lostEvents).toBe(result.textStats.lostEvents);
      expect(result.perfStrings).toEqual(result.textStrings);

      const withPid = await compareWithText(file, script(c.name, 'comm,pid,tid,cpu,time,event,trace'), {
        comparePid: true,
        skipLost: true,
      });
      expect(withPid.mismatches).toEqual([]);
      expect(withPid.extraPerf + withPid.extraText).toBe(0);
    });
  }

  it('several attrs with different sample layouts (a software event beside tracepoints): their samples are skipped and counted', async (ctx) => {
    const failure = record('mixed.data', [], false, ['-e', 'page-faults', '-e', 'kmem:mm_page_alloc,sched:sched_process_exec']);
    if (failure !== null) {
      console.warn(`skipping the mixed capture: ${failure}`);
      ctx.skip();
      return;
    }
    const text = script('mixed.data', null);
    const dropped = dropEvent(text, 'page-faults');
    expect(dropped).toBeGreaterThan(0);
    const result = await compareWithText(path.join(dir, 'mixed.data'), text, { comparePid: false, skipLost: false });
    expect(result.mismatches).toEqual([]);
    expect(result.extraPerf + result.extraText).toBe(0);
    expect(result.records).toBeGreaterThan(10);
    expect(result.perfStats.skippedSamples).toBe(dropped);
  });
});
