import { GfpClass, LruFlag } from '@tierlab/trace-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { openTextTrace, sniffTextFormat } from './reader.js';
import type { TextFormat } from './layout.js';
import {
  capturePath,
  haveTraces,
  headBytes,
  noTracesReason,
  readMeta,
  scanTrace,
  tracesDir,
} from './test-captures.js';
import type { RecordSnapshot, ScanResult } from './test-captures.js';

interface Capture {
  readonly file: string;
  readonly meta: string;
  /** The `.meta` section holding this file's counts. */
  readonly section: string;
  readonly format: TextFormat;
  /** Records to look at, by line. */
  readonly lines?: readonly number[];
}

const captures: readonly Capture[] = [
  { file: 'gcc_lua.tracefs.txt.zst', meta: 'gcc_lua.tracefs.meta', section: 'event_counts', format: 'tracefs', lines: [13, 14, 15, 315, 1992, 1998] },
  { file: 'gcc_lua_lossy.tracefs.txt.zst', meta: 'gcc_lua_lossy.tracefs.meta', section: 'event_counts', format: 'tracefs', lines: [51576, 51577] },
  { file: 'git_lua.trace-cmd-report.txt.zst', meta: 'git_lua.tracecmd.meta', section: 'event_counts', format: 'trace-cmd-report', lines: [6328] },
  { file: 'py_named_threads.tracefs.txt.zst', meta: 'py_named_threads.tracefs.meta', section: 'event_counts', format: 'tracefs', lines: [6469, 14739] },
  { file: 'py_named_threads.perf-script.txt.zst', meta: 'py_named_threads.perf.meta', section: 'event_counts', format: 'perf-script', lines: [6897, 430183] },
  { file: 'py_named_threads.perf-script-F.txt.zst', meta: 'py_named_threads.perf.meta', section: 'event_counts', format: 'perf-script-F', lines: [6897, 430183] },
  { file: 'py_named_threads_lossy.perf-script.txt.zst', meta: 'py_named_threads_lossy.perf.meta', section: 'event_counts', format: 'perf-script', lines: [127] },
  { file: 'py_named_threads_lossy.perf-script-F.txt.zst', meta: 'py_named_threads_lossy.perf.meta', section: 'event_counts', format: 'perf-script-F', lines: [164] },
  {
    file: 'py_named_threads_lossy.trace-cmd-report.txt.zst',
    meta: 'py_named_threads_lossy.tracecmd.meta',
    section: 'event_counts',
    format: 'trace-cmd-report',
    lines: [42585, 42586, 42587, 42980, 42981],
  },
  { file: 'sqlite_orders.perf-script.txt.zst', meta: 'sqlite_orders.perf.meta', section: 'event_counts', format: 'perf-script', lines: [33145, 146985] },
  { file: 'sqlite_orders.perf-script-F.txt.zst', meta: 'sqlite_orders.perf.meta', section: 'event_counts', format: 'perf-script-F', lines: [146985] },
  { file: 'sqlite_orders.damon.tracefs.txt.zst', meta: 'sqlite_orders.damon.meta', section: 'event_counts (tracefs)', format: 'tracefs', lines: [43] },
  { file: 'sqlite_orders.damon.perf-script.txt.zst', meta: 'sqlite_orders.damon.meta', section: 'event_counts (perf script)', format: 'perf-script' },
];

/** `.meta` entries that count lines, not events. */
const markerKeys = {
  header: '(header/comment line)',
  other: '(other lines)',
  lostLines: '(LOST marker lines)',
  lostEvents: '(events reported lost in markers)',
  droppedLines: '(EVENTS DROPPED marker lines, trace-cmd)',
  droppedEvents: '(events reported dropped in markers)',
};

const scans = new Map<string, Promise<ScanResult>>();
/** One pass per capture, shared by the tests that look at it. */
function scan(capture: Capture): Promise<ScanResult> {
  let result = scans.get(capture.file);
  if (result === undefined) {
    result = scanTrace(capturePath(capture.file), {}, capture.lines ?? []);
    scans.set(capture.file, result);
  }
  return result;
}

function captureNamed(file: string): Capture {
  const capture = captures.find((c) => c.file === file);
  if (capture === undefined) throw new Error(`no capture ${file}`);
  return capture;
}

async function record(file: string, line: number): Promise<RecordSnapshot> {
  const found = (await scan(captureNamed(file))).atLine.get(line);
  if (found === undefined) throw new Error(`${file}: no record at line ${line}`);
  return found;
}

describe.skipIf(!haveTraces)(haveTraces ? `every text capture in ${tracesDir}` : `real captures (skipped: ${noTracesReason})`, () => {
  for (const capture of captures) {
    describe(capture.file, () => {
      let result: ScanResult;
      beforeAll(async () => {
        result = await scan(capture);
      });

      it(`is read as ${capture.format}`, () => {
        expect(result.stats.format).toBe(capture.format);
      });

      it('has the per-event counts of its .meta', () => {
        const section = readMeta(capture.meta).sections.get(capture.section);
        expect(section, `section '${capture.section}' in ${capture.meta}`).toBeDefined();
        const expected: Record<string, number> = {};
        for (const [name, count] of section!) if (!name.startsWith('(')) expected[name] = count;
        expect(result.stats.eventCounts).toEqual(expected);
      });

      it('counts headers, loss markers and lost events as its .meta does', () => {
        const meta = readMeta(capture.meta);
        const section = meta.sections.get(capture.section)!;
        const get = (key: string): number => section.get(key) ?? 0;
        const { stats } = result;
        // trace-cmd's `cpus=2` is an "(other lines)" entry in the .meta; the reader counts it as a header.
        expect(stats.headerLines + stats.otherLines).toBe(get(markerKeys.header) + get(markerKeys.other));
        let lostMarkers = get(markerKeys.lostLines) + get(markerKeys.droppedLines);
        let lostEvents = get(markerKeys.lostEvents) + get(markerKeys.droppedEvents);
        const perfLost = meta.values.get('perf_script_lost_records');
        if (perfLost !== undefined && capture.format === 'perf-script') {
          // `361 PERF_RECORD_LOST lines, 308812 samples lost` (only `perf script --show-lost-events` prints them)
          const m = /^(\d+) PERF_RECORD_LOST lines, (\d+) samples lost$/.exec(perfLost);
          expect(m, perfLost).not.toBeNull();
          expect(meta.values.get('perf_script_command')).toContain('--show-lost-events');
          lostMarkers = Number(m![1]);
          lostEvents = Number(m![2]);
        }
        if (capture.format === 'perf-script-F') expect(meta.values.get('perf_script_F_command')).not.toContain('--show-lost-events');
        expect(stats.lostMarkers).toBe(lostMarkers);
        expect(stats.lostEvents).toBe(lostEvents);
        const events = Object.values(stats.eventCounts).reduce((sum, n) => sum + n, 0);
        expect(result.records).toBe(events + stats.lostMarkers);
      });

      it('counts lines and bytes like the .meta', () => {
        const meta = readMeta(capture.meta);
        const text = capture.file.replace(/\.zst$/, '');
        const lines = meta.values.get(`lines[${text}]`);
        if (lines !== undefined && lines !== '-') expect(result.stats.lines).toBe(Number(lines));
        const bytes = meta.values.get(`uncompressed_bytes[${text}]`);
        if (bytes !== undefined) expect(result.stats.bytesRead).toBe(Number(bytes));
        const header = meta.values.get('trace_header');
        const entries = header === undefined ? null : /entries-written: (\d+)\/(\d+)/.exec(header);
        expect(result.stats.bufferOverwritten).toBe(entries === null ? 0 : Number(entries[2]) - Number(entries[1]));
      });

      it('spans the first and last timestamps of the .meta', () => {
        const span = readMeta(capture.meta).values.get('trace_first_last_ts');
        if (span === undefined || capture.meta.includes('damon')) return;
        const [first, last] = span.split(' ').map((s) => Math.round(Number(s) * 1e6) * 1e3);
        expect(result.stats.firstTimeNs).toBe(first);
        expect(result.stats.lastTimeNs).toBe(last);
      });

      it('yields one RawBatch object, refilled', () => {
        expect(result.sameBatchObject).toBe(true);
      });
    });
  }

  describe('decoded fields match the text', () => {
    it('page_fault_user, mm_page_alloc, rss_stat (tracefs)', async () => {
      const file = 'gcc_lua.tracefs.txt.zst';
      // bash-20259   [000] d....  1505.358503: page_fault_user: address=0x558f0ea2a048 ip=0x7f3f9c11f109 error_code=0x6
      expect(await record(file, 13)).toMatchObject({
        event: 'page_fault_user',
        time: 1505358503000,
        cpu: 0,
        tid: 20259,
        pid: -1,
        comm: 'bash',
        a: 0x558f0ea2a048,
        b: 0x6,
      });
      // the file's first mm_page_alloc:
      // bash-20259   [000] .....  1505.358505: mm_page_alloc: page=0000000098725e20 pfn=0x1e7a3d order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP
      const alloc = await record(file, 14);
      expect(alloc).toMatchObject({ event: 'mm_page_alloc', time: 1505358505000, tid: 20259, comm: 'bash', a: 0x1e7a3d, b: 0, d: 1 });
      expect(alloc.c).toBe(GfpClass.movable | GfpClass.highmem | GfpClass.zero);
      expect((await scan(captureNamed(file))).first.get('mm_page_alloc')?.line).toBe(14);
      // bash-20259   [000] ...1.  1505.358506: rss_stat: mm_id=2561042438 curr=1 type=MM_ANONPAGES size=282624B
      expect(await record(file, 15)).toMatchObject({ event: 'rss_stat', a: 2561042438, b: 1, c: 1, d: 282624 });
    });

    it('mm_lru_insertion flags are 6 fixed columns with spaces as unset', async () => {
      // ... mm_lru_insertion: folio=00000000e3fc1b62 pfn=0x13d765 lru=0 flags= a bd
      expect(await record('gcc_lua.tracefs.txt.zst', 315)).toMatchObject({
        event: 'mm_lru_insertion',
        a: 0x13d765,
        b: 0,
        c: LruFlag.anonymous | LruFlag.swapBacked | LruFlag.mappedDisk,
      });
    });

    it('filemap ino is hex and ofs is bytes; writeback ino is decimal', async () => {
      // make-20261   [001] .....  1505.363659: mm_filemap_add_to_page_cache: dev 0:3 ino fe00000 pfn=0x2178e0 ofs=25637703680 order=0
      expect(await record('gcc_lua.tracefs.txt.zst', 1992)).toMatchObject({
        event: 'mm_filemap_add_to_page_cache',
        a: 0x2178e0,
        b: 0,
        c: (0 << 20) | 3,
        d: 0xfe00000,
        e: 25637703680 / 4096,
      });
      // make-20261   [001] d..1.  1505.363916: writeback_dirty_folio: bdi 254:0: ino=266338304 index=6258690
      expect(await record('gcc_lua.tracefs.txt.zst', 1998)).toMatchObject({
        event: 'writeback_dirty_folio',
        a: 266338304,
        b: 6258690,
        c: 254 * 2 ** 20,
      });
      // sqlite3 19874 [000]  1383.016942:            filemap:mm_filemap_add_to_page_cache: dev 254:0 ino 17e003 pfn=0x1ce9bc ofs=2523136 order=2
      expect(await record('sqlite_orders.perf-script.txt.zst', 146985)).toMatchObject({
        event: 'mm_filemap_add_to_page_cache',
        comm: 'sqlite3',
        tid: 19874,
        a: 0x1ce9bc,
        b: 2,
        c: 254 * 2 ** 20,
        d: 0x17e003,
        e: 616,
      });
      // tc20462:              git-20562 [001]  1556.400076: mm_filemap_add_to_page_cache: dev 254:0 ino 19202d pfn=0x16affe ofs=8192 order=1
      expect(await record('git_lua.trace-cmd-report.txt.zst', 6328)).toMatchObject({
        comm: 'git',
        tid: 20562,
        cpu: 1,
        time: 1556400076000,
        a: 0x16affe,
        b: 1,
        d: 0x19202d,
        e: 2,
      });
      // rm 19873 [000]  1382.879101:                 writeback:writeback_dirty_folio: bdi 254:0: ino=266338304 index=6259203
      expect(await record('sqlite_orders.perf-script.txt.zst', 33145)).toMatchObject({
        event: 'writeback_dirty_folio',
        comm: 'rm',
        a: 266338304,
        b: 6259203,
      });
    });

    it('comms with spaces, in records and in sched_process_fork', async () => {
      // py main-loop-24484   [001] .....  2727.892076: sched_process_fork: comm=py main-loop pid=24484 child_comm=py main-loop child_pid=24485
      expect(await record('py_named_threads.tracefs.txt.zst', 6469)).toMatchObject({
        event: 'sched_process_fork',
        comm: 'py main-loop',
        tid: 24484,
        cpu: 1,
        time: 2727892076000,
        a: 24484,
        b: 24485,
        cString: 'py main-loop',
      });
      // alloc worker 1-24486   [001] d....  2727.897549: page_fault_user: address=0x7fb15b0b2f78 ip=0x7fb15c4bd8ea error_code=0x6
      expect(await record('py_named_threads.tracefs.txt.zst', 14739)).toMatchObject({
        comm: 'alloc worker 1',
        tid: 24486,
        a: 0x7fb15b0b2f78,
        b: 6,
      });
      // alloc worker 0 24276 [000]  2643.236397:   exceptions:page_fault_user: address=0x7f1f56fab000 ip=0x7f1f57c39f4b error_code=0x6
      expect(await record('py_named_threads.perf-script.txt.zst', 6897)).toMatchObject({
        event: 'page_fault_user',
        comm: 'alloc worker 0',
        tid: 24276,
        pid: -1,
        a: 0x7f1f56fab000,
      });
      // alloc worker 0 24275/24276 [000]  2645.731148:   sched:sched_process_exit: comm=alloc worker 0 pid=24276 prio=120 group_dead=false
      expect(await record('py_named_threads.perf-script-F.txt.zst', 430183)).toMatchObject({
        event: 'sched_process_exit',
        comm: 'alloc worker 0',
        tid: 24276,
        pid: 24275,
        a: 24276,
      });
    });

    it('sched_process_exec keeps the filename in strings', async () => {
      // bash 24709/24709 [000]  2781.715739:   sched:sched_process_exec: filename=/usr/bin/bash pid=24709 old_pid=24709
      expect(await record('py_named_threads_lossy.perf-script-F.txt.zst', 164)).toMatchObject({
        event: 'sched_process_exec',
        pid: 24709,
        tid: 24709,
        a: 24709,
        b: 24709,
        cString: '/usr/bin/bash',
      });
    });

    it('damon_aggregated regions (tracefs, and trace-cmd without the instance prefix)', async () => {
      // kdamond.0-77      [000] .....  1646.506278: damon_aggregated: target_id=0 nr_regions=1737 4294967296-4300292096: 0 5
      expect(await record('sqlite_orders.damon.tracefs.txt.zst', 43)).toMatchObject({
        event: 'damon_aggregated',
        comm: 'kdamond.0',
        tid: 77,
        a: 4294967296,
        b: 4300292096,
        c: 0,
        d: 5,
        e: 0,
      });
      // `       kdamond.0-77    [000]  2921.769773: damon_aggregated:     target_id=0 nr_regions=1377 8161234944-8166375424: 0 5`
      // follows `tc25403: CPU:0 [1117 EVENTS DROPPED]` and has no `tc25403: ` prefix.
      expect(await record('py_named_threads_lossy.trace-cmd-report.txt.zst', 42587)).toMatchObject({
        event: 'damon_aggregated',
        comm: 'kdamond.0',
        tid: 77,
        time: 2921769773000,
        a: 8161234944,
        b: 8166375424,
        c: 0,
        d: 5,
      });
    });

    it('loss markers become `lost` records', async () => {
      const file = 'py_named_threads_lossy.trace-cmd-report.txt.zst';
      // tc25403: CPU:0 [1117 EVENTS DROPPED] — no timestamp: it takes the previous record's
      const before = await record(file, 42585);
      expect(await record(file, 42586)).toMatchObject({ event: 'LOST', cpu: 0, tid: -1, a: 1117, time: before.time });
      // tc25403: CPU:0 [EVENTS DROPPED]
      expect((await record(file, 42980)).a).toBeNaN();
      // alloc worker 0-25502 [000]  2921.799882: mm_lru_insertion:     folio=0xffffea0006806240 pfn=0x1a0189 lru=0 flags=Ma bd
      expect(await record(file, 42981)).toMatchObject({
        comm: 'alloc worker 0',
        tid: 25502,
        a: 0x1a0189,
        c: LruFlag.mapped | LruFlag.anonymous | LruFlag.swapBacked | LruFlag.mappedDisk,
      });
      // CPU:1 [LOST 1160 EVENTS]
      expect(await record('gcc_lua_lossy.tracefs.txt.zst', 51577)).toMatchObject({ event: 'LOST', cpu: 1, a: 1160 });
      // perf 24708 [001]  2781.715446: PERF_RECORD_LOST lost 330
      expect(await record('py_named_threads_lossy.perf-script.txt.zst', 127)).toMatchObject({
        event: 'LOST',
        comm: 'perf',
        tid: 24708,
        cpu: 1,
        time: 2781715446000,
        a: 330,
      });
    });
  });

  describe('the same capture in perf script and perf script -F', () => {
    for (const name of ['py_named_threads', 'py_named_threads_lossy', 'sqlite_orders']) {
      it(`${name}: identical records except pid (and the -F text has no PERF_RECORD_LOST)`, async () => {
        const plain = await scan(captureNamed(`${name}.perf-script.txt.zst`));
        const withPid = await scan(captureNamed(`${name}.perf-script-F.txt.zst`));
        expect(withPid.digest).toBe(plain.digest);
        expect(withPid.stats.eventCounts).toEqual(plain.stats.eventCounts);
        expect(plain.withPid).toBe(0);
        expect(withPid.withPid).toBe(withPid.records);
      });
    }
  });

  describe('sniffTextFormat', () => {
    it('names the format of every capture from its first bytes', async () => {
      for (const capture of captures) {
        const head = await headBytes(capturePath(capture.file), 64 * 1024);
        expect(sniffTextFormat(head), capture.file).toBe(capture.format);
      }
    });

    it('returns null for a lackey trace', async () => {
      expect(sniffTextFormat(await headBytes(capturePath('lua_tables.lackey.txt.zst'), 64 * 1024))).toBeNull();
    });
  });

  describe('options', () => {
    it('a forced format reads the same; perf-script covers -F', async () => {
      const forced = await scanTrace(capturePath('sqlite_orders.damon.tracefs.txt.zst'), { format: 'tracefs', batchSize: 100 });
      const auto = await scan(captureNamed('sqlite_orders.damon.tracefs.txt.zst'));
      expect(forced.digest).toBe(auto.digest);
      const perf = openTextTrace(capturePath('py_named_threads_lossy.perf-script-F.txt.zst'), { format: 'perf-script', zstd: 'js' });
      let records = 0;
      for await (const batch of perf.batches()) records += batch.length;
      expect(records).toBe(156297);
      expect(perf.stats.format).toBe('perf-script-F');
    });

    it('small batches give the same records', async () => {
      const small = await scanTrace(capturePath('sqlite_orders.damon.perf-script.txt.zst'), { batchSize: 7 });
      const normal = await scan(captureNamed('sqlite_orders.damon.perf-script.txt.zst'));
      expect(small.digest).toBe(normal.digest);
      expect(small.stats).toEqual(normal.stats);
    });

    it('a tracefs file forced to perf-script fails on its first record', async () => {
      const reader = openTextTrace(capturePath('sqlite_orders.damon.tracefs.txt.zst'), { format: 'perf-script' });
      await expect(drain(reader.batches())).rejects.toMatchObject({ code: 'TRACE_SYNTAX', line: 13 });
    });

    it('a lackey trace is not a text trace this reader knows', async () => {
      const reader = openTextTrace(capturePath('sqlite_tiny.lackey.txt.zst'));
      await expect(drain(reader.batches())).rejects.toMatchObject({ code: 'TRACE_FORMAT', source: 'ftrace-text', line: 1 });
    });
  });
});

describe('misuse', () => {
  it('throws TypeError for bad options and a second batches()', () => {
    expect(() => openTextTrace('')).toThrow(TypeError);
    expect(() => openTextTrace('x', { batchSize: 0 })).toThrow(TypeError);
    // @ts-expect-error: not a format
    expect(() => openTextTrace('x', { format: 'lackey' })).toThrow(TypeError);
    const reader = openTextTrace('x');
    reader.batches();
    expect(() => reader.batches()).toThrow(TypeError);
  });
});

async function drain(batches: AsyncGenerator<unknown>): Promise<void> {
  for await (const _ of batches) {
    // read everything
  }
}
