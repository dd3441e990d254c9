import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';

/** The `source` of errors from this reader. */
export const READER_NAME = 'trace.dat';

/** Up to `length` bytes from `start` as hex pairs (`17 08 44 74 …`), for error excerpts. */
export function hexExcerpt(bytes: Uint8Array, start: number, length = 16): string {
  const from = Math.max(0, Math.min(start, bytes.length));
  const end = Math.min(bytes.length, from + length);
  const out: string[] = [];
  for (let i = from; i < end; i++) out.push(bytes[i]!.toString(16).padStart(2, '0'));
  if (end < bytes.length && end - from === length) out.push('…');
  return out.length === 0 ? '(end of file)' : out.join(' ');
}

/** A TRACE_SYNTAX error at a byte offset of the (decompressed) trace.dat. */
export function datError(init: {
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
