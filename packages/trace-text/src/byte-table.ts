/**
 * An open-addressing table from byte strings to small integers. Keys are
 * hashed from their length and a few 4-byte words ({@link hashRange}); a hit
 * is verified against a copy of the bytes, so no string is made per lookup.
 */

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;

/**
 * A cheap hash of `bytes[start, end)`: its length and its first, middle and
 * last 4 bytes (all bytes when shorter than 4). `view` spans the same bytes as `bytes`.
 */
export function hashRange(bytes: Uint8Array, view: DataView, start: number, end: number): number {
  const length = end - start;
  let h = Math.imul(length + 1, P1);
  if (length >= 4) {
    h = Math.imul(h ^ view.getInt32(start, true), P2);
    h = Math.imul(h ^ view.getInt32(end - 4, true), P1);
    if (length > 8) h = Math.imul(h ^ view.getInt32(start + (length >> 1) - 2, true), P2);
  } else {
    for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, P2);
  }
  return h ^ (h >>> 15);
}

/** A DataView over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class ByteTable {
  private slots: Int32Array;
  private mask: number;
  private entryHash: Int32Array;
  private entryStart: Int32Array;
  private entryLength: Int32Array;
  private entryValue: Int32Array;
  private arena: Uint8Array;
  private arenaView: DataView;
  private arenaUsed = 0;
  /** Entries stored. */
  size = 0;

  constructor(initialSlots = 256) {
    let n = 16;
    while (n < initialSlots) n <<= 1;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    this.entryHash = new Int32Array(n >> 1);
    this.entryStart = new Int32Array(n >> 1);
    this.entryLength = new Int32Array(n >> 1);
    this.entryValue = new Int32Array(n >> 1);
    this.arena = new Uint8Array(n * 16);
    this.arenaView = viewOf(this.arena);
  }

  /** The value stored for `bytes[start, end)` (hash `hash`, `view` over `bytes`), or -1. */
  get(bytes: Uint8Array, view: DataView, start: number, end: number, hash: number): number {
    const length = end - start;
    const mask = this.mask;
    const slots = this.slots;
    let slot = hash & mask;
    for (;;) {
      const entry = slots[slot]!;
      if (entry === 0) return -1;
      const k = entry - 1;
      if (this.entryHash[k] === hash && this.entryLength[k] === length) {
        const arenaView = this.arenaView;
        const at = this.entryStart[k]! - start;
        let i = start;
        const wordsEnd = end - 3;
        while (i < wordsEnd && arenaView.getInt32(at + i, true) === view.getInt32(i, true)) i += 4;
        if (i >= wordsEnd) {
          const arena = this.arena;
          while (i < end && arena[at + i] === bytes[i]) i++;
          if (i === end) return this.entryValue[k]!;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Store `value` for `bytes[start, end)`; the bytes must not be present yet. */
  set(bytes: Uint8Array, start: number, end: number, hash: number, value: number): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const length = end - start;
    if (this.arenaUsed + length > this.arena.length) {
      const bigger = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + length));
      bigger.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = bigger;
      this.arenaView = viewOf(bigger);
    }
    this.arena.set(bytes.subarray(start, end), this.arenaUsed);
    const k = this.size++;
    this.entryHash[k] = hash;
    this.entryStart[k] = this.arenaUsed;
    this.entryLength[k] = length;
    this.entryValue[k] = value;
    this.arenaUsed += length;
    this.place(k);
  }

  private place(k: number): void {
    let slot = this.entryHash[k]! & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = k + 1;
  }

  private grow(): void {
    const n = this.slots.length * 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    const widen = (old: Int32Array): Int32Array => {
      const a = new Int32Array(n >> 1);
      a.set(old);
      return a;
    };
    this.entryHash = widen(this.entryHash);
    this.entryStart = widen(this.entryStart);
    this.entryLength = widen(this.entryLength);
    this.entryValue = widen(this.entryValue);
    for (let k = 0; k < this.size; k++) this.place(k);
  }
}
