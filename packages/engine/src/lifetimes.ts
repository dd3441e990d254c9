import { type EventBatch, EventKind } from '@tierlab/memory-tier-api';

/**
 * The accesses of every page lifetime, in the order of the alloc events: what
 * an oracle knows of the future (Engine option `lifetimeAccesses`).
 */
export class LifetimeRecorder {
  private totals = new Float64Array(1 << 16);
  private count = 0;
  private seqOfPage = new Int32Array(1 << 16).fill(-1);

  push(batch: EventBatch): void {
    for (let i = 0; i < batch.length; i++) {
      const kind = batch.kind[i]!;
      const page = batch.page[i]!;
      if (kind === EventKind.alloc) {
        if (this.count === this.totals.length) {
          const next = new Float64Array(this.totals.length * 2);
          next.set(this.totals);
          this.totals = next;
        }
        while (page >= this.seqOfPage.length) {
          const next = new Int32Array(this.seqOfPage.length * 2).fill(-1);
          next.set(this.seqOfPage);
          this.seqOfPage = next;
        }
        this.seqOfPage[page] = this.count;
        this.totals[this.count++] = 0;
      } else if (kind === EventKind.access) {
        const seq = this.seqOfPage[page] ?? -1;
        if (seq >= 0) this.totals[seq] = this.totals[seq]! + batch.count[i]!;
      }
    }
  }

  result(): Float64Array {
    return this.totals.subarray(0, this.count);
  }
}
