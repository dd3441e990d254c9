/**
 * GFP masks: Perfetto keeps `gfp_flags` as the kernel's number, the text
 * readers see the names the kernel prints for it. Both become the same
 * {@link GfpClass} bits: the number is first cut into names exactly as the
 * kernel's show_gfp_flags() does (include/trace/events/mmflags.h,
 * __def_gfpflag_names: composites first, each taking its bits), and the names
 * are classified as @tierlab/trace-text classifies them.
 */

import { GfpClass } from '@tierlab/trace-core';

// ___GFP_* bits (include/linux/gfp_types.h, kernels 4.15 to 6.18; without
// CONFIG_KASAN_HW_TAGS, __GFP_SKIP_KASAN is 0).
const HIGHMEM = 0x2;
const DMA = 0x1;
const DMA32 = 0x4;
const MOVABLE = 0x8;
const HIGH = 0x20;
const IO = 0x40;
const FS = 0x80;
const ZERO = 0x100;
const DIRECT_RECLAIM = 0x400;
const KSWAPD_RECLAIM = 0x800;
const WRITE = 0x1000;
const NOWARN = 0x2000;
const COMP = 0x40000;
const NOMEMALLOC = 0x80000;
const HARDWALL = 0x100000;
const ACCOUNT = 0x400000;
const RECLAIM = DIRECT_RECLAIM | KSWAPD_RECLAIM;

const KERNEL = RECLAIM | IO | FS;
const USER = KERNEL | HARDWALL;
const HIGHUSER = USER | HIGHMEM;
const HIGHUSER_MOVABLE = HIGHUSER | MOVABLE;
const TRANSHUGE_LIGHT = (HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN) & ~RECLAIM;

const movableHighmem = GfpClass.movable | GfpClass.highmem;

/** Composite masks in the kernel's printing order, with the classes of their names. */
const composites: ReadonlyArray<readonly [mask: number, classes: number]> = [
  [TRANSHUGE_LIGHT | DIRECT_RECLAIM, movableHighmem], // GFP_TRANSHUGE
  [TRANSHUGE_LIGHT, movableHighmem], // GFP_TRANSHUGE_LIGHT
  [HIGHUSER_MOVABLE, movableHighmem], // GFP_HIGHUSER_MOVABLE
  [HIGHUSER, GfpClass.highmem], // GFP_HIGHUSER
  [USER, 0], // GFP_USER
  [KERNEL | ACCOUNT, GfpClass.kernel | GfpClass.account], // GFP_KERNEL_ACCOUNT
  [KERNEL, GfpClass.kernel], // GFP_KERNEL
  [RECLAIM | IO, GfpClass.kernel], // GFP_NOFS
  [HIGH | KSWAPD_RECLAIM, GfpClass.kernel], // GFP_ATOMIC
  [RECLAIM, GfpClass.kernel], // GFP_NOIO
  [KSWAPD_RECLAIM | NOWARN, GfpClass.kernel], // GFP_NOWAIT (6.x: with __GFP_NOWARN)
  [DMA, 0], // GFP_DMA
  [DMA32, 0], // GFP_DMA32
];

/** {@link GfpClass} bits of a numeric gfp mask, as the text reader gives for the kernel's printing of it. */
export function classifyGfpMask(mask: number): number {
  let rest = mask >>> 0;
  let bits = 0;
  for (const [m, classes] of composites) {
    if ((rest & m) === m) {
      bits |= classes;
      rest &= ~m;
    }
  }
  if (rest & MOVABLE) bits |= GfpClass.movable;
  if (rest & HIGHMEM) bits |= GfpClass.highmem;
  if (rest & ZERO) bits |= GfpClass.zero;
  if (rest & WRITE) bits |= GfpClass.write;
  if (rest & ACCOUNT) bits |= GfpClass.account;
  if ((bits & GfpClass.movable) !== 0) bits &= ~GfpClass.kernel;
  return bits;
}

/**
 * A gfp mask whose classification is `classes` (a RawBatch keeps only the
 * classes, so the writer cannot give back the original mask).
 */
export function gfpMaskOfClasses(classes: number): number {
  let mask = 0;
  if (classes & GfpClass.kernel) mask |= KERNEL;
  if (classes & GfpClass.movable) mask |= MOVABLE;
  if (classes & GfpClass.highmem) mask |= HIGHMEM;
  if (classes & GfpClass.zero) mask |= ZERO;
  if (classes & GfpClass.write) mask |= WRITE;
  if (classes & GfpClass.account) mask |= ACCOUNT;
  return mask >>> 0;
}
