import { classifyGfpNames } from '@tierlab/trace-core';

/**
 * {@link GfpClass} bits of a `gfp_flags=` string such as
 * `GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_COMP`. `kernel` is dropped when
 * the mask is movable (GFP_NOFS|__GFP_MOVABLE is page cache, not kernel memory).
 */
export function classifyGfpFlags(flags: string): number {
  return classifyGfpNames(flags.split('|'));
}
