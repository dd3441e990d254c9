import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Normalizer } from '@tierlab/normalizer';
import { openTextTrace } from '@tierlab/trace-text';
import { type EventStream, StreamCollector } from './streams.js';

/**
 * The real capture the kit ships: CPython, 4 named threads allocating,
 * touching and freeing 8 MiB per round (`perf script` text, zstd, 436,297
 * records, kernel 6.18); a copy of tierlab's `traces/py_named_threads.perf-script.txt.zst`.
 */
export function bundledTrace(): string {
  return fileURLToPath(new URL('../traces/py_named_threads.perf-script.txt.zst', import.meta.url));
}

const cache = new Map<string, Promise<EventStream>>();

/**
 * Read a real capture (tracefs, trace-cmd report or perf script text; plain,
 * .zst or .gz) with tierlab's reader and normalizer and keep its events in
 * memory. Cached per path: every case replays the same events.
 */
export function loadTraceEvents(path: string): Promise<EventStream> {
  let stream = cache.get(path);
  if (stream === undefined) {
    stream = readTrace(path);
    cache.set(path, stream);
    // A failed read is not cached: the next case reports it again.
    stream.catch(() => cache.delete(path));
  }
  return stream;
}

async function readTrace(path: string): Promise<EventStream> {
  const collector = new StreamCollector();
  const normalizer = new Normalizer({}, (batch) => collector.push(batch));
  const reader = openTextTrace(path);
  for await (const batch of reader.batches()) normalizer.push(batch);
  normalizer.finish();
  const n = normalizer.stats;
  return collector.finish(
    basename(path),
    `real capture ${basename(path)} (${reader.stats.format}, ${n.records.toLocaleString('en-US')} records, ${n.eventsOut.toLocaleString('en-US')} events)`,
  );
}
