import type { Watermarks } from '@tierlab/memory-tier-api';

/** Knobs of the kernel's watermark computation (mm/page_alloc.c). */
export interface WatermarkOptions {
  /** vm.min_free_kbytes as written by an administrator; replaces the computed default. */
  readonly minFreeKbytes?: number;
  /** vm.watermark_scale_factor (1..3000, in 1/10000 of the zone); kernel default 10. */
  readonly watermarkScaleFactor?: number;
  /**
   * Managed pages of every lowmem zone on the machine (what nr_free_buffer_pages() counts at
   * boot), from which min_free_kbytes is computed and then shared out by zone size. Defaults
   * to `managedPages`: a machine with this one zone.
   */
  readonly lowmemPages?: number;
}

/** Default of vm.watermark_scale_factor (mm/page_alloc.c: watermark_scale_factor = 10). */
export const defaultWatermarkScaleFactor = 10;
/** Bounds calculate_min_free_kbytes() clamps the computed min_free_kbytes to, in KiB. */
export const minFreeKbytesFloor = 128;
export const minFreeKbytesCeiling = 262144;

/** PAGE_SIZE >> 10 and PAGE_SHIFT - 10 for 4 KiB pages. */
const kbytesPerPage = 4;
const kbytesToPagesShift = 2;

/** lib/math/int_sqrt.c int_sqrt(): the integer square root, rounded down. */
export function intSqrt(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`intSqrt needs a non-negative integer, got ${value}`);
  let root = Math.floor(Math.sqrt(value));
  while (root * root > value) root -= 1;
  while ((root + 1) * (root + 1) <= value) root += 1;
  return root;
}

/**
 * mm/page_alloc.c calculate_min_free_kbytes() (called from init_per_zone_wmark_min()):
 * min_free_kbytes = int_sqrt(lowmem_kbytes * 16), clamped to [128, 262144].
 */
export function calculateMinFreeKbytes(lowmemPages: number): number {
  checkPages('lowmemPages', lowmemPages);
  const lowmemKbytes = lowmemPages * kbytesPerPage;
  const computed = intSqrt(lowmemKbytes * 16);
  return Math.min(Math.max(computed, minFreeKbytesFloor), minFreeKbytesCeiling);
}

function checkPages(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative integer number of pages, got ${String(value)}`);
  }
}

/**
 * The min, low, high and promo watermarks (in pages) of a zone of `managedPages`, as
 * mm/page_alloc.c __setup_per_zone_wmarks() sets them for a lowmem (not highmem, not
 * ZONE_MOVABLE) zone:
 *
 *   pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
 *   min  = pages_min * managed / lowmem_pages               (this zone's share)
 *   gap  = max(min >> 2, mult_frac(managed, watermark_scale_factor, 10000))
 *   low  = min + gap;  high = low + gap;  promo = high + gap (WMARK_PROMO)
 *
 * min_free_kbytes comes from calculate_min_free_kbytes() unless `minFreeKbytes` is given.
 */
export function computeWatermarks(managedPages: number, options: WatermarkOptions = {}): Watermarks {
  checkPages('managedPages', managedPages);
  const lowmemPages = options.lowmemPages ?? managedPages;
  checkPages('lowmemPages', lowmemPages);
  if (lowmemPages < managedPages) {
    throw new TypeError(`lowmemPages (${lowmemPages}) must include this zone's managedPages (${managedPages})`);
  }
  const scaleFactor = options.watermarkScaleFactor ?? defaultWatermarkScaleFactor;
  if (!Number.isInteger(scaleFactor) || scaleFactor < 1 || scaleFactor > 3000) {
    throw new TypeError(`watermarkScaleFactor must be an integer in 1..3000 (vm.watermark_scale_factor), got ${scaleFactor}`);
  }
  const minFreeKbytes = options.minFreeKbytes ?? calculateMinFreeKbytes(lowmemPages);
  if (!Number.isSafeInteger(minFreeKbytes) || minFreeKbytes < 0) {
    throw new TypeError(`minFreeKbytes must be a non-negative integer (vm.min_free_kbytes), got ${minFreeKbytes}`);
  }
  if (managedPages === 0) return { min: 0, low: 0, high: 0, promo: 0 };

  const managed = BigInt(managedPages);
  const pagesMin = BigInt(minFreeKbytes >> kbytesToPagesShift);
  // tmp = (u64)pages_min * zone_managed_pages(zone); do_div(tmp, lowmem_pages);
  const min = (pagesMin * managed) / BigInt(lowmemPages);
  // tmp = max_t(u64, tmp >> 2, mult_frac(zone_managed_pages(zone), watermark_scale_factor, 10000));
  const byScale = (managed * BigInt(scaleFactor)) / 10000n;
  const quarter = min >> 2n;
  const gap = quarter > byScale ? quarter : byScale;
  const low = min + gap;
  const high = low + gap;
  const promo = high + gap;
  return { min: Number(min), low: Number(low), high: Number(high), promo: Number(promo) };
}
