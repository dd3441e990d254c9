import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isTierlabError } from '@tierlab/memory-tier-api';
import type { TierlabError } from '@tierlab/memory-tier-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTextTrace } from './reader.js';
import { capturePath, haveTraces, headLines, noTracesReason } from './test-captures.js';

// Real lines from the captures, one of them corrupted, in a temp file.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'trace-text-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
function writeTrace(lines: readonly string[]): string {
  const file = path.join(dir, `trace-${++fileCount}.txt`);
  writeFileSync(file, `${lines.join('\n')}\n`, 'latin1');
  return file;
}

async function readAll(file: string): Promise<{ records: number; error: TierlabError | undefined; reader: ReturnType<typeof openTextTrace> }> {
  const reader = openTextTrace(file);
  let records = 0;
  try {
    for await (const batch of reader.batches()) records += batch.length;
  } catch (error) {
    if (!isTierlabError(error)) throw error;
    return { records, error, reader };
  }
  return { records, error: undefined, reader };
}

/** Replace `from` by `to` in line `lineNumber` (1-based), which must contain it. */
function corrupt(lines: readonly string[], lineNumber: number, from: string, to: string): string[] {
  const copy = [...lines];
  const line = copy[lineNumber - 1]!;
  expect(line, `line ${lineNumber}`).toContain(from);
  copy[lineNumber - 1] = line.replace(from, to);
  return copy;
}

describe.skipIf(!haveTraces)(haveTraces ? 'syntax errors on real lines' : `syntax errors on real lines (skipped: ${noTracesReason})`, () => {
  let tracefs: string[];
  let perf: string[];
  let traceCmd: string[];
  beforeAll(async () => {
    tracefs = await headLines(capturePath('gcc_lua.tracefs.txt.zst'), 400);
    perf = await headLines(capturePath('py_named_threads.perf-script.txt.zst'), 40);
    traceCmd = await headLines(capturePath('git_lua.trace-cmd-report.txt.zst'), 40);
  });

  it('the untouched lines read cleanly', async () => {
    for (const lines of [tracefs, perf, traceCmd]) {
      const { error, records } = await readAll(writeTrace(lines));
      expect(error).toBeUndefined();
      expect(records).toBeGreaterThan(20);
    }
  });

  it('a pfn that is not hex: code, location, excerpt and expectation', async () => {
    // line 14: `bash-20259 [000] ..... 1505.358505: mm_page_alloc: page=0000000098725e20 pfn=0x1e7a3d order=0 …`
    const lines = corrupt(tracefs, 14, 'pfn=0x1e7a3d', 'pfn=0xZZ');
    const file = writeTrace(lines);
    const { error } = await readAll(file);
    expect(error).toBeDefined();
    expect(error!.code).toBe('TRACE_SYNTAX');
    expect(error!.source).toBe('ftrace-text');
    expect(error!.file).toBe(file);
    expect(error!.line).toBe(14);
    expect(error!.column).toBe(lines[13]!.indexOf('pfn=0xZZ') + 'pfn='.length + 1);
    expect(error!.expected).toBe("'pfn=0x…'");
    expect(error!.excerpt).toBe(`${lines[13]!.slice(0, 120)}…`);
    expect(error!.message).toContain(`${file}:14:${error!.column}`);
    expect(error!.message).toContain("expected 'pfn=0x…'");
    expect(error!.message).toContain(error!.excerpt);
  });

  it('a missing field', async () => {
    const line = tracefs.findIndex((l) => l.includes('mm_page_free:')) + 1;
    expect(line).toBeGreaterThan(0);
    const { error } = await readAll(writeTrace(corrupt(tracefs, line, ' order=0', '')));
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line, expected: "'order=N'" });
    expect(error!.message).toContain("expected 'order=N'");
  });

  it('a bad timestamp in perf script', async () => {
    // line 5: ` py_named_thread 24272 [000]  2643.203016:   kmem:mm_page_alloc: …`
    const { error } = await readAll(writeTrace(corrupt(perf, 5, '2643.203016:', '2643.2030x6:')));
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line: 5 });
    expect(error!.message).toContain("expected 'SECONDS.MICROS:'");
  });

  it('a first line of no known layout is a format error', async () => {
    const { error } = await readAll(writeTrace(corrupt(perf, 1, '2643.202978:', '2643.2029x8:')));
    expect(error).toMatchObject({ code: 'TRACE_FORMAT', line: 1 });
  });

  it('an unknown rss_stat type in trace-cmd report', async () => {
    const line = traceCmd.findIndex((l) => l.includes('type=MM_ANONPAGES')) + 1;
    const { error } = await readAll(writeTrace(corrupt(traceCmd, line, 'type=MM_ANONPAGES', 'type=MM_BOGUS')));
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line });
    expect(error!.message).toContain("expected 'type=MM_FILEPAGES|MM_ANONPAGES|MM_SWAPENTS|MM_SHMEMPAGES'");
  });

  it('mm_lru_insertion flags with a letter out of place', async () => {
    const line = tracefs.findIndex((l) => l.includes('flags= a bd ')) + 1;
    expect(line).toBeGreaterThan(0);
    const { error } = await readAll(writeTrace(corrupt(tracefs, line, 'flags= a bd ', 'flags= a db ')));
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line });
  });

  it('a line without the record shape names the layout expected', async () => {
    const lines = [...tracefs];
    lines.splice(20, 0, 'this is not a trace line');
    const { error, records } = await readAll(writeTrace(lines));
    expect(records).toBe(0);
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line: 21, column: 1, excerpt: 'this is not a trace line' });
    expect(error!.message).toContain("tracefs record 'COMM-TID [CPU] FLAGS SECONDS.MICROS: EVENT: FIELDS'");
  });

  it('a perf line in a tracefs trace', async () => {
    const lines = [...tracefs];
    lines.splice(20, 0, perf[0]!);
    const { error } = await readAll(writeTrace(lines));
    expect(error).toMatchObject({ code: 'TRACE_SYNTAX', line: 21 });
  });

  it('blank lines and count-less loss markers are counted, not errors', async () => {
    const lines = [...tracefs];
    // the kernel prints `CPU:%d [LOST EVENTS]` when it has no count (kernel/trace/trace.c)
    lines.splice(30, 0, '', 'CPU:1 [LOST EVENTS]');
    const { error, reader } = await readAll(writeTrace(lines));
    expect(error).toBeUndefined();
    expect(reader.stats).toMatchObject({ otherLines: 1, lostMarkers: 1, lostEvents: 0, headerLines: 12 });
  });
});
