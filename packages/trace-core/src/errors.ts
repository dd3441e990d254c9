import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';

/** The bytes of one line around `column`, as readable text, at most 120 characters. */
export function excerptOf(bytes: Uint8Array, lineStart: number, lineEnd: number): string {
  const end = Math.min(lineEnd, lineStart + 120);
  let s = Buffer.from(bytes.buffer, bytes.byteOffset + lineStart, end - lineStart).toString('latin1');
  if (end < lineEnd) s += '…';
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x20 || c === 0x7f ? '?' : s[i];
  }
  return out;
}

/** `[reader] file:line:col message: expected …, got '…'` */
export function syntaxError(init: {
  reader: string;
  file: string;
  line: number;
  column: number;
  message: string;
  expected: string;
  excerpt: string;
}): TierlabError {
  return new TierlabError({
    code: ErrorCode.traceSyntax,
    source: init.reader,
    file: init.file,
    line: init.line,
    column: init.column,
    message: init.message,
    expected: init.expected,
    excerpt: init.excerpt,
  });
}
