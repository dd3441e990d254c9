import { PAGE_SIZE } from '@tierlab/memory-tier-api';
import { type FieldPath, type Origin, invalidField } from './errors.js';

/** A capacity as written, before the trace's footprint is known. */
export type CapacityValue =
  | { readonly kind: 'bytes'; readonly bytes: number }
  /** `numerator / denominator` bytes, exact (from a decimal string). */
  | { readonly kind: 'exact-bytes'; readonly numerator: bigint; readonly denominator: bigint }
  /** `numerator / denominator` percent of the footprint. */
  | { readonly kind: 'percent'; readonly numerator: bigint; readonly denominator: bigint; readonly text: string };

const unitBytes: Readonly<Record<string, bigint>> = {
  b: 1n,
  kb: 1000n,
  mb: 1000n ** 2n,
  gb: 1000n ** 3n,
  tb: 1000n ** 4n,
  kib: 1024n,
  mib: 1024n ** 2n,
  gib: 1024n ** 3n,
  tib: 1024n ** 4n,
};

export const capacityExpected =
  'bytes as a number, a size with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; e.g. "64GiB"), or a share of the footprint (e.g. "25%")';

const capacityPattern = /^(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]+|%)?$/;

function decimal(text: string): { numerator: bigint; denominator: bigint } {
  const [whole = '', fraction = ''] = text.split('.');
  return { numerator: BigInt(`${whole}${fraction}` || '0'), denominator: 10n ** BigInt(fraction.length) };
}

/** Check a capacity's form; throws with the field's path when it is not one. */
export function parseCapacityValue(value: unknown, path: FieldPath, origin: Origin = {}): CapacityValue {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw invalidField(origin, path, capacityExpected, value);
    return { kind: 'bytes', bytes: value };
  }
  if (typeof value !== 'string') throw invalidField(origin, path, capacityExpected, value);
  const match = capacityPattern.exec(value.trim());
  if (match === null) throw invalidField(origin, path, capacityExpected, value);
  const { numerator, denominator } = decimal(match[1] ?? '0');
  const unit = match[2];
  if (unit === '%') return { kind: 'percent', numerator, denominator, text: value.trim() };
  const multiplier = unit === undefined ? 1n : unitBytes[unit.toLowerCase()];
  if (multiplier === undefined) throw invalidField(origin, path, capacityExpected, value);
  return { kind: 'exact-bytes', numerator: numerator * multiplier, denominator };
}

const pageSize = BigInt(PAGE_SIZE);
/** Largest capacity whose size in bytes is still an exact JavaScript number (8 PiB less a page). */
export const maxCapacityPages = Math.floor(Number.MAX_SAFE_INTEGER / PAGE_SIZE);

/** Pages for a checked capacity; `null` when it is a share and no footprint is known. */
export function capacityPages(capacity: CapacityValue, footprintPages: number | null): number | null {
  let pages: bigint;
  let nonZero: boolean;
  switch (capacity.kind) {
    case 'bytes':
      nonZero = capacity.bytes > 0;
      pages = BigInt(Math.floor(capacity.bytes / PAGE_SIZE));
      break;
    case 'exact-bytes':
      nonZero = capacity.numerator > 0n;
      pages = capacity.numerator / (capacity.denominator * pageSize);
      break;
    case 'percent':
      if (footprintPages === null) return null;
      nonZero = capacity.numerator > 0n && footprintPages > 0;
      pages = (BigInt(footprintPages) * capacity.numerator) / (capacity.denominator * 100n);
      break;
  }
  if (nonZero && pages === 0n) pages = 1n;
  return pages > BigInt(maxCapacityPages) ? Number.POSITIVE_INFINITY : Number(pages);
}

function checkFootprint(footprintPages: number | null): void {
  if (footprintPages !== null && !(Number.isSafeInteger(footprintPages) && footprintPages >= 0)) {
    throw new TypeError(`footprintPages must be null or a non-negative integer, got ${String(footprintPages)}`);
  }
}

/**
 * A capacity in base pages (4 KiB). Numbers are bytes; strings are a size with a unit
 * (B, KiB, MiB, GiB, TiB binary; KB, MB, GB, TB decimal) or a percentage of the trace's
 * footprint (peak live pages). Rounds down to whole pages, but a non-zero capacity is at
 * least one page.
 */
export function parseCapacity(value: number | string, footprintPages: number | null): number {
  checkFootprint(footprintPages);
  return resolveCapacity(value, footprintPages, ['capacity']);
}

export function resolveCapacity(
  value: unknown,
  footprintPages: number | null,
  path: FieldPath,
  origin: Origin = {},
): number {
  const capacity = parseCapacityValue(value, path, origin);
  const pages = capacityPages(capacity, footprintPages);
  if (pages === null) {
    throw invalidField(origin, path, 'a size in bytes (e.g. "64GiB") when no trace footprint is known', value, {
      note: 'a share of the footprint needs the trace',
    });
  }
  if (!Number.isFinite(pages)) {
    throw invalidField(origin, path, `a capacity of at most ${maxCapacityPages} pages (8 PiB)`, value);
  }
  return pages;
}
