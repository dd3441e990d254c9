/**
 * Which reader reads a file: decided from its (decompressed) first bytes,
 * never from its name. Every reader yields the same RawBatch records.
 */

import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import { type RawBatch, type ReaderStats, openTrace, reorderBatches } from '@tierlab/trace-core';
import { openTraceDat, sniffTraceDat } from '@tierlab/trace-cmd-dat';
import { openPerfData, sniffPerfData } from '@tierlab/trace-perf';
import { openPerfetto, sniffPerfetto } from '@tierlab/trace-perfetto';
import { openTraceProcessor } from '@tierlab/trace-processor';
import { openLackey, sniffLackey } from '@tierlab/trace-lackey';
import { openTextTrace, sniffTextFormat } from '@tierlab/trace-text';

export interface TraceReader {
  readonly stats: ReaderStats;
  batches(): AsyncGenerator<RawBatch>;
}

export interface ReaderOptions {
  readonly format?: 'auto' | 'tracefs' | 'trace-cmd-report' | 'perf-script' | 'lackey' | 'trace-processor';
  /** `trace-processor` format: the trace_processor_shell to run (else $TRACE_PROCESSOR_SHELL, else PATH). */
  readonly traceProcessor?: string;
  readonly zstd?: 'auto' | 'program' | 'js';
  /** valgrind lackey: instructions per aggregation slice, and ns per instruction. */
  readonly lackeySliceInstructions?: number;
  readonly lackeyNsPerInstruction?: number;
}

/** The first `n` decompressed bytes of a trace. */
export async function traceHead(path: string, n = 65536, zstd: ReaderOptions['zstd'] = 'auto'): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  for await (const chunk of openTrace(path, { zstd: zstd ?? 'auto' })) {
    parts.push(chunk);
    got += chunk.length;
    if (got >= n) break;
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Open a trace with the reader its content calls for. */
export async function openAnyTrace(path: string, options: ReaderOptions = {}): Promise<TraceReader> {
  const zstd = options.zstd ? { zstd: options.zstd } : {};
  const format = options.format ?? 'auto';
  const lackey = () =>
    openLackey(path, {
      ...zstd,
      ...(options.lackeySliceInstructions ? { sliceInstructions: options.lackeySliceInstructions } : {}),
      ...(options.lackeyNsPerInstruction ? { nsPerInstruction: options.lackeyNsPerInstruction } : {}),
    });
  if (format === 'lackey') return lackey();
  if (format === 'trace-processor') {
    // Perfetto's own trace_processor_shell reads the trace (any format it knows), over HTTP RPC on 127.0.0.1.
    return openTraceProcessor(path, options.traceProcessor === undefined ? {} : { binary: options.traceProcessor });
  }
  if (format !== 'auto') return openTextTrace(path, { format, ...zstd });
  const head = await traceHead(path, 65536, options.zstd);
  if (sniffPerfData(head)) return openPerfData(path, zstd);
  if (sniffTraceDat(head)) return openTraceDat(path, zstd);
  if (sniffPerfetto(head)) {
    // Perfetto bundles hold one CPU's events each: put them in time order.
    const reader = openPerfetto(path, zstd);
    return { stats: reader.stats, batches: () => reorderBatches(reader.batches(), reader.stats) };
  }
  if (sniffLackey(head)) return lackey();
  if (sniffTextFormat(head) !== null) return openTextTrace(path, { format: 'auto', ...zstd });
  throw new TierlabError({
    code: ErrorCode.traceFormat,
    source: 'trace',
    file: path,
    message: 'unrecognised trace format',
    expected: 'perf.data (file or pipe mode), Perfetto protobuf, trace-cmd trace.dat (v6, v7), tracefs or trace-cmd report text, perf script text, or valgrind lackey output',
    excerpt: Buffer.from(head.subarray(0, 80)).toString('latin1').replace(/[^\x20-\x7e]/g, '.'),
  });
}
