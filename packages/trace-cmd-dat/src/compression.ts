/**
 * The compression of v7 sections and trace data chunks, named in the file
 * header (`zstd`, `zlib` or `none`). zstd is decoded by fzstd, zlib by node:zlib.
 */

import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';

/** Decompress `source`, whose uncompressed size is `size` (a check, not a limit: the caller compares). */
export type Decompress = (source: Uint8Array, size: number) => Uint8Array;

/** The decompressor for a compression name, or null when the name is unknown. */
export function decompressorFor(name: string): Decompress | null {
  // fzstd is about ten times slower when handed an output buffer, so it allocates its own.
  if (name === 'zstd') return (source) => zstdDecompress(source);
  if (name === 'zlib') return (source) => inflateSync(source);
  return null;
}
