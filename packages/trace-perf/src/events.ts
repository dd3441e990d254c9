/**
 * Event slots: one per tracepoint format in the tracing data, keyed by the
 * payload's common_type. A slot knows which fixed {@link Tracepoint} it is
 * (if any) and where that tracepoint's fields lie in the raw payload, in
 * flat typed arrays for the hot loop.
 */

import { LruFlag, Tracepoint } from '@tierlab/trace-core';
import { GfpClassifier, defaultGfpTable } from './gfp.js';
import { conditionalLetters, printFlagsTable } from './print-fmt.js';
import type { EventFormat, EventField } from './tracing-data.js';

/** Fields per slot. */
export const MAX_FIELDS = 5;

/** How a field is read. */
export const FieldLoc = {
  /** An integer of `size` bytes. */
  number: 0,
  /** `__data_loc`: u32 = length << 16 | offset from the payload start. */
  dataLoc: 1,
  /** `__rel_loc`: u32 = length << 16 | offset from the end of the field. */
  relLoc: 2,
  /** A NUL-terminated string in a fixed `char name[N]`. */
  chars: 3,
} as const;

/** How an integer field is read: by size and signedness; `none` for strings and absent fields. */
export const NumCode = { none: 0, u64: 1, s64: 2, u32: 3, s32: 4, u16: 5, s16: 6, u8: 7, s8: 8 } as const;

function numCode(field: EventField): number {
  if (field.dataLoc || field.relLoc || field.array) return NumCode.none;
  const signed = field.signed ? 1 : 0;
  switch (field.size) {
    case 8:
      return NumCode.u64 + signed;
    case 4:
      return NumCode.u32 + signed;
    case 2:
      return NumCode.u16 + signed;
    case 1:
      return NumCode.u8 + signed;
    default:
      return NumCode.none;
  }
}

/** The fields each fixed tracepoint reads, in order (names as in the kernel's TP_STRUCT__entry). */
const FIELD_NAMES: Readonly<Record<number, readonly string[]>> = {
  [Tracepoint.pageFaultUser]: ['address', 'error_code'],
  [Tracepoint.mmPageAlloc]: ['pfn', 'order', 'gfp_flags', 'migratetype'],
  [Tracepoint.mmPageFree]: ['pfn', 'order'],
  [Tracepoint.rssStat]: ['mm_id', 'curr', 'member', 'size'],
  [Tracepoint.mmFilemapAdd]: ['pfn', 'order', 's_dev', 'i_ino', 'index'],
  [Tracepoint.mmFilemapDelete]: ['pfn', 'order', 's_dev', 'i_ino', 'index'],
  [Tracepoint.mmLruInsertion]: ['pfn', 'lru', 'flags'],
  [Tracepoint.mmLruActivate]: ['pfn'],
  [Tracepoint.schedProcessFork]: ['parent_pid', 'child_pid', 'child_comm'],
  [Tracepoint.schedProcessExec]: ['pid', 'old_pid', 'filename'],
  [Tracepoint.schedProcessExit]: ['pid'],
  [Tracepoint.damonAggregated]: ['start', 'end', 'nr_accesses', 'age', 'target_id'],
  [Tracepoint.writebackDirtyFolio]: ['ino', 'index', 'name'],
  // include/trace/events/migrate.h: `reason` is an int (enum migrate_reason), `mode` an enum migrate_mode.
  [Tracepoint.mmMigratePages]: ['succeeded', 'failed', 'reason'],
  [Tracepoint.mmMigratePagesStart]: ['mode', 'reason'],
};

/** mm_lru_insertion letters (include/trace/events/pagemap.h) and their {@link LruFlag} bits. */
const LRU_LETTER_FLAG: Readonly<Record<string, number>> = {
  M: LruFlag.mapped,
  a: LruFlag.anonymous,
  s: LruFlag.swapCache,
  b: LruFlag.swapBacked,
  d: LruFlag.mappedDisk,
  B: LruFlag.buffers,
};
/** PAGEMAP_* masks, for when the print fmt cannot be read. */
const DEFAULT_LRU_MASKS: readonly { letter: string; mask: number }[] = [
  { letter: 'M', mask: 0x1 },
  { letter: 'a', mask: 0x2 },
  { letter: 's', mask: 0x8 },
  { letter: 'b', mask: 0x10 },
  { letter: 'd', mask: 0x20 },
  { letter: 'B', mask: 0x40 },
];

const fixedIdByName = new Map<string, number>();
for (const [id, name] of Object.entries({
  1: 'page_fault_user',
  2: 'mm_page_alloc',
  3: 'mm_page_free',
  4: 'rss_stat',
  5: 'mm_filemap_add_to_page_cache',
  6: 'mm_filemap_delete_from_page_cache',
  7: 'mm_lru_insertion',
  8: 'mm_lru_activate',
  9: 'sched_process_fork',
  10: 'sched_process_exec',
  11: 'sched_process_exit',
  12: 'damon_aggregated',
  13: 'writeback_dirty_folio',
  14: 'mm_migrate_pages',
  17: 'mm_migrate_pages_start',
})) {
  fixedIdByName.set(name, Number(id));
}

export class EventTable {
  /** common_type -> slot, -1 when the tracing data has no such format. */
  readonly slotOfType = new Int32Array(65536).fill(-1);
  /** Per slot: the fixed Tracepoint id whose fields are decoded, or 0. */
  readonly kind: Uint8Array;
  /** Per slot * MAX_FIELDS: offset in the payload; -1 when the format lacks the field, -2 for no field. */
  readonly offset: Int32Array;
  readonly size: Int32Array;
  readonly signed: Uint8Array;
  readonly loc: Uint8Array;
  /** Per slot * MAX_FIELDS: {@link NumCode} of the field. */
  readonly code: Uint8Array;
  /** Per slot: payload bytes the decoded fields need. */
  readonly minPayload: Int32Array;
  /** Per slot: the event name without its system, as the text reader names events. */
  readonly names: string[] = [];
  readonly systems: string[] = [];
  /** Per slot: its mm_lru_insertion columns (mask, LruFlag bit), flattened; empty for other events. */
  readonly lruColumns: Int32Array[] = [];
  /** Class bits of gfp masks, from mm_page_alloc's print fmt (or the built-in table). */
  gfp: GfpClassifier = new GfpClassifier(defaultGfpTable);

  constructor(formats: readonly EventFormat[]) {
    const n = formats.length;
    this.kind = new Uint8Array(n);
    this.offset = new Int32Array(n * MAX_FIELDS).fill(-2);
    this.size = new Int32Array(n * MAX_FIELDS);
    this.signed = new Uint8Array(n * MAX_FIELDS);
    this.loc = new Uint8Array(n * MAX_FIELDS);
    this.code = new Uint8Array(n * MAX_FIELDS);
    this.minPayload = new Int32Array(n);
    formats.forEach((format, slot) => {
      if (format.id < 65536 && this.slotOfType[format.id] === -1) this.slotOfType[format.id] = slot;
      this.names.push(format.name);
      this.systems.push(format.system);
      this.lruColumns.push(new Int32Array(0));
      const fixed = fixedIdByName.get(format.name) ?? 0;
      const wanted = FIELD_NAMES[fixed];
      if (wanted === undefined) return;
      this.kind[slot] = fixed;
      let minPayload = 8;
      wanted.forEach((fieldName, k) => {
        const field = format.fields.find((f) => f.name === fieldName);
        const at = slot * MAX_FIELDS + k;
        if (field === undefined) {
          this.offset[at] = -1;
          return;
        }
        this.offset[at] = field.offset;
        this.size[at] = field.size;
        this.signed[at] = field.signed ? 1 : 0;
        this.loc[at] = locOf(field);
        this.code[at] = numCode(field);
        minPayload = Math.max(minPayload, field.offset + field.size);
      });
      this.minPayload[slot] = minPayload;
      if (fixed === Tracepoint.mmPageAlloc) {
        const table = printFlagsTable(format.printFmt, 'gfp_flags');
        if (table !== null && table.length > 0) {
          this.gfp = new GfpClassifier(table);
        }
      }
      if (fixed === Tracepoint.mmLruInsertion) {
        let columns = conditionalLetters(format.printFmt, 'flags');
        if (columns.length === 0) columns = [...DEFAULT_LRU_MASKS];
        const flat = new Int32Array(columns.length * 2);
        columns.forEach((column, i) => {
          flat[i * 2] = column.mask;
          flat[i * 2 + 1] = LRU_LETTER_FLAG[column.letter] ?? 0;
        });
        this.lruColumns[slot] = flat;
      }
    });
  }

  get slots(): number {
    return this.names.length;
  }
}

function locOf(field: EventField): number {
  if (field.dataLoc) return FieldLoc.dataLoc;
  if (field.relLoc) return FieldLoc.relLoc;
  if (field.array && field.type.startsWith('char')) return FieldLoc.chars;
  return FieldLoc.number;
}
