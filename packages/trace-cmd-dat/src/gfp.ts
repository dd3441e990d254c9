import { classifyGfpNames } from '@tierlab/trace-core';
import { type PrintTable, printFlags } from './print-fmt.js';

const SLOTS = 1024;

/**
 * gfp_flags value → class bits, through the print fmt's own flag table
 * (this kernel's __GFP_* bit values), cached in a small open-addressing table.
 */
export class GfpClassifier {
  private readonly keys = new Float64Array(SLOTS).fill(-1);
  private readonly values = new Int32Array(SLOTS);
  private used = 0;

  /** `table` is null when the print fmt had none: every mask then classifies as 0. */
  constructor(private readonly table: PrintTable | null) {}

  /** Class bits of a mask given as its low and high 32-bit words. */
  classify(lo: number, hi: number): number {
    if (hi >= 0x200000) return this.compute(lo, hi);
    const key = hi * 4294967296 + lo;
    let slot = (Math.imul(lo ^ hi, 0x9e3779b1) >>> 22) & (SLOTS - 1);
    for (let probe = 0; probe < SLOTS; probe++) {
      const k = this.keys[slot]!;
      if (k === key) return this.values[slot]!;
      if (k === -1) {
        const bits = this.compute(lo, hi);
        if (this.used < SLOTS / 2) {
          this.keys[slot] = key;
          this.values[slot] = bits;
          this.used++;
        }
        return bits;
      }
      slot = (slot + 1) & (SLOTS - 1);
    }
    return this.compute(lo, hi);
  }

  private compute(lo: number, hi: number): number {
    const value = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    // The kernel prints `none` for 0 (`(REC->gfp_flags) ? __print_flags(…) : "none"`).
    if (value === 0n || this.table === null) return 0;
    return classifyGfpNames(printFlags(value, this.table));
  }
}
