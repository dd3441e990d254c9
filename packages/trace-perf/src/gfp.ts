import { GfpClass, gfpNameClass } from '@tierlab/trace-core';
import type { FlagName } from './print-fmt.js';

const bit = (n: number): bigint => 1n << BigInt(n);
// ___GFP_*_BIT numbers of include/linux/gfp_types.h (6.x).
const DMA = bit(0);
const HIGHMEM = bit(1);
const DMA32 = bit(2);
const MOVABLE = bit(3);
const HIGH = bit(5);
const IO = bit(6);
const FS = bit(7);
const DIRECT_RECLAIM = bit(10);
const KSWAPD_RECLAIM = bit(11);
const NOWARN = bit(13);
const RECLAIM = DIRECT_RECLAIM | KSWAPD_RECLAIM;
const COMP = bit(18);
const NOMEMALLOC = bit(19);
const HARDWALL = bit(20);
const ACCOUNT = bit(22);
const USER = RECLAIM | IO | FS | HARDWALL;
const HIGHUSER = USER | HIGHMEM;
const HIGHUSER_MOVABLE = HIGHUSER | MOVABLE;
const TRANSHUGE_LIGHT = (HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN) & ~RECLAIM;

/**
 * The kernel's gfp flag table in print order, for when the tracing data's
 * print fmt cannot be read (include/trace/events/mmflags.h, 6.x).
 */
export const defaultGfpTable: readonly FlagName[] = [
  { value: TRANSHUGE_LIGHT | DIRECT_RECLAIM, name: 'GFP_TRANSHUGE' },
  { value: TRANSHUGE_LIGHT, name: 'GFP_TRANSHUGE_LIGHT' },
  { value: HIGHUSER_MOVABLE, name: 'GFP_HIGHUSER_MOVABLE' },
  { value: HIGHUSER, name: 'GFP_HIGHUSER' },
  { value: USER, name: 'GFP_USER' },
  { value: RECLAIM | IO | FS | ACCOUNT, name: 'GFP_KERNEL_ACCOUNT' },
  { value: RECLAIM | IO | FS, name: 'GFP_KERNEL' },
  { value: RECLAIM | IO, name: 'GFP_NOFS' },
  { value: HIGH | KSWAPD_RECLAIM, name: 'GFP_ATOMIC' },
  { value: RECLAIM, name: 'GFP_NOIO' },
  { value: KSWAPD_RECLAIM | NOWARN, name: 'GFP_NOWAIT' },
  { value: DMA, name: 'GFP_DMA' },
  { value: DMA32, name: 'GFP_DMA32' },
  { value: RECLAIM, name: '__GFP_RECLAIM' },
  ...[
    'DMA',
    'HIGHMEM',
    'DMA32',
    'MOVABLE',
    'RECLAIMABLE',
    'HIGH',
    'IO',
    'FS',
    'ZERO',
    '',
    'DIRECT_RECLAIM',
    'KSWAPD_RECLAIM',
    'WRITE',
    'NOWARN',
    'RETRY_MAYFAIL',
    'NOFAIL',
    'NORETRY',
    'MEMALLOC',
    'COMP',
    'NOMEMALLOC',
    'HARDWALL',
    'THISNODE',
    'ACCOUNT',
    'ZEROTAGS',
    'NO_OBJ_EXT',
  ]
    .map((name, n) => ({ value: bit(n), name: `__GFP_${name}` }))
    .filter((flag) => flag.name !== '__GFP_'),
];

/**
 * {@link GfpClass} bits of a gfp mask, from the names libtraceevent prints
 * for it: walk the table in order, print a name when all its bits are still
 * set and clear them (tep's TEP_PRINT_FLAGS); `kernel` is dropped when the
 * mask is movable, as the text reader does.
 */
export function classifyGfpMask(mask: bigint, table: readonly FlagName[]): number {
  let rest = mask;
  let bits = 0;
  for (const flag of table) {
    if (flag.value > 0n && (rest & flag.value) === flag.value) {
      bits |= gfpNameClass[flag.name] ?? 0;
      rest &= ~flag.value;
    }
  }
  if ((bits & GfpClass.movable) !== 0) bits &= ~GfpClass.kernel;
  return bits;
}

/** Class bits by mask, memoized in a small open-addressing table of typed arrays. */
export class GfpClassifier {
  private keys = new Float64Array(256).fill(-1);
  private values = new Int32Array(256);
  private used = 0;

  constructor(private readonly table: readonly FlagName[]) {}

  /** Class bits of `mask` (a non-negative integer below 2^53). */
  classify(mask: number): number {
    const keys = this.keys;
    const slotMask = keys.length - 1;
    let slot = (Math.imul(mask | 0, 0x9e3779b1) >>> 12) & slotMask;
    for (;;) {
      const k = keys[slot]!;
      if (k === mask) return this.values[slot]!;
      if (k === -1) break;
      slot = (slot + 1) & slotMask;
    }
    const bits = classifyGfpMask(BigInt(mask), this.table);
    if (this.used * 2 >= keys.length) this.grow();
    this.insert(mask, bits);
    return bits;
  }

  private insert(mask: number, bits: number): void {
    const keys = this.keys;
    const slotMask = keys.length - 1;
    let slot = (Math.imul(mask | 0, 0x9e3779b1) >>> 12) & slotMask;
    while (keys[slot] !== -1) slot = (slot + 1) & slotMask;
    keys[slot] = mask;
    this.values[slot] = bits;
    this.used++;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(oldKeys.length * 2).fill(-1);
    this.values = new Int32Array(oldKeys.length * 2);
    this.used = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== -1) this.insert(oldKeys[i]!, oldValues[i]!);
  }
}
