import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';

/** The `source` of errors from this reader. */
export const READER_NAME = 'perf.data';

/** Up to 32 bytes at `at` (relative to `bytes`) as hex, for an error excerpt. */
export function hexExcerpt(bytes: Uint8Array, at: number, count = 32): string {
  const start = Math.max(0, Math.min(at, bytes.length));
  const end = Math.min(bytes.length, start + count);
  let out = '';
  for (let i = start; i < end; i++) out += (i > start ? ' ' : '') + bytes[i]!.toString(16).padStart(2, '0');
  if (end === start) return '(end of file)';
  return end < bytes.length ? `${out} …` : out;
}

/** `[perf.data] file @byte N message: expected …, got '…'` */
export function perfSyntaxError(init: {
  file: string;
  byteOffset: number;
  message: string;
  expected: string;
  excerpt: string;
}): TierlabError {
  return new TierlabError({
    code: ErrorCode.traceSyntax,
    source: READER_NAME,
    file: init.file,
    byteOffset: init.byteOffset,
    message: init.message,
    expected: init.expected,
    excerpt: init.excerpt,
  });
}

/** The file is a perf.data we do not read (big-endian, or the old PERFFILE layout). */
export function perfFormatError(file: string, message: string, excerpt: string): TierlabError {
  return new TierlabError({
    code: ErrorCode.traceFormat,
    source: READER_NAME,
    file,
    byteOffset: 0,
    message,
    expected: "a little-endian perf.data ('PERFILE2', file or pipe mode)",
    excerpt,
  });
}
