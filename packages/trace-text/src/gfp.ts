import { GfpClass } from '@tierlab/trace-core';

const movableHighmem = GfpClass.movable | GfpClass.highmem;

/**
 * Class bits of each flag name the kernel prints in `gfp_flags=`
 * (`__def_gfpflag_names` in include/trace/events/mmflags.h; composites as
 * defined in include/linux/gfp_types.h). Names not listed add nothing.
 */
const tokenClass: Readonly<Record<string, number>> = {
  GFP_TRANSHUGE: movableHighmem,
  GFP_TRANSHUGE_LIGHT: movableHighmem,
  GFP_HIGHUSER_MOVABLE: movableHighmem,
  GFP_HIGHUSER: GfpClass.highmem,
  GFP_KERNEL_ACCOUNT: GfpClass.kernel | GfpClass.account,
  GFP_KERNEL: GfpClass.kernel,
  GFP_NOFS: GfpClass.kernel,
  GFP_NOIO: GfpClass.kernel,
  GFP_ATOMIC: GfpClass.kernel,
  GFP_NOWAIT: GfpClass.kernel,
  __GFP_MOVABLE: GfpClass.movable,
  __GFP_HIGHMEM: GfpClass.highmem,
  __GFP_ZERO: GfpClass.zero,
  __GFP_WRITE: GfpClass.write,
  __GFP_ACCOUNT: GfpClass.account,
};

/**
 * {@link GfpClass} bits of a `gfp_flags=` string such as
 * `GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_COMP`. `kernel` is dropped when
 * the mask is movable (GFP_NOFS|__GFP_MOVABLE is page cache, not kernel memory).
 */
export function classifyGfpFlags(flags: string): number {
  let bits = 0;
  for (const token of flags.split('|')) bits |= tokenClass[token] ?? 0;
  if ((bits & GfpClass.movable) !== 0) bits &= ~GfpClass.kernel;
  return bits;
}
