import { GfpClass } from './raw-batch.js';

const movableHighmem = GfpClass.movable | GfpClass.highmem;

/**
 * {@link GfpClass} bits of each flag name the kernel prints in `gfp_flags=`
 * (`__def_gfpflag_names` in include/trace/events/mmflags.h; composites as
 * defined in include/linux/gfp_types.h). Every reader uses this one table, so
 * a mask gets the same bits whichever format it came from. Names not listed add nothing.
 */
export const gfpNameClass: Readonly<Record<string, number>> = {
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
 * {@link GfpClass} bits of the names a mask prints as (`GFP_NOFS`,
 * `__GFP_HIGHMEM`, ...). `kernel` is dropped when the mask is movable
 * (GFP_NOFS|__GFP_MOVABLE is page cache, not kernel memory).
 */
export function classifyGfpNames(names: Iterable<string>): number {
  let bits = 0;
  for (const name of names) bits |= gfpNameClass[name] ?? 0;
  if ((bits & GfpClass.movable) !== 0) bits &= ~GfpClass.kernel;
  return bits;
}
