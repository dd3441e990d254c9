import { describe, expect, it } from 'vitest';
import { sniffPerfetto } from './sniff.js';
import { fileBytes, havePerfetto, haveTraces, noPerfettoReason, perfettoFile } from './test-data.js';
import { captureFile } from './test-data.js';
import { openTrace } from '@tierlab/trace-core';

async function head(file: string, size = 4096): Promise<Uint8Array> {
  for await (const chunk of openTrace(file)) return chunk.subarray(0, size);
  return new Uint8Array(0);
}

describe.skipIf(!havePerfetto)(havePerfetto ? 'sniffPerfetto' : `sniffPerfetto (skipped: ${noPerfettoReason})`, () => {
  it.each([
    'ms_android_basic_memory.pftrace',
    'ms_android_sched_ftrace.perfetto-trace',
    'ms_android_sched_perf_sampling.pftrace',
    'ms_chrome_trackevents.pftrace.gz',
  ])('knows %s (decompressed)', (name) => {
    const bytes = fileBytes(perfettoFile(name));
    expect(sniffPerfetto(bytes.subarray(0, 4096))).toBe(true);
    // A head that ends inside the first packet is judged on the fields that fit.
    expect(sniffPerfetto(bytes.subarray(0, 40))).toBe(true);
  });

  it.skipIf(!haveTraces)('refuses text, trace.dat and perf.data heads', async () => {
    for (const name of [
      'gcc_lua.tracefs.txt.zst',
      'git_lua.trace-cmd-report.txt.zst',
      'py_named_threads.perf-script.txt.zst',
      'lua_tables.lackey.txt.zst',
      'git_lua.trace.dat.zst',
      'py_named_threads.perf.data.zst',
    ]) {
      expect(sniffPerfetto(await head(captureFile(name))), name).toBe(false);
    }
  });

  it('refuses short and odd input', () => {
    expect(sniffPerfetto(new Uint8Array(0))).toBe(false);
    expect(sniffPerfetto(Uint8Array.from([0x0a]))).toBe(false);
    expect(sniffPerfetto(Buffer.from('\n# tracer: nop\n#\n', 'latin1'))).toBe(false);
    // 0x0a, length 4, then field 4 (inode_file_map, a message) as a varint: wrong wire type.
    expect(sniffPerfetto(Uint8Array.from([0x0a, 0x04, 0x20, 0x01, 0x20, 0x01]))).toBe(false);
  });
});
