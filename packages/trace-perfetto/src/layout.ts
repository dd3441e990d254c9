/**
 * A field layout: for each field number of a message (a typed Perfetto event
 * or a generic event's descriptor), which RawBatch column it fills, how its
 * bytes are encoded and how its value converts.
 */

import type protobuf from 'protobufjs';
import { Convert } from './fields.js';
import type { TracepointFields } from './fields.js';
import { FieldType } from './schema.js';

/** How a field's value is encoded on the wire. */
export const Encoding = {
  unsigned: 0,
  signed: 1,
  zigzag: 2,
  fixed64: 3,
  sfixed64: 4,
  fixed32: 5,
  sfixed32: 6,
  double: 7,
  float: 8,
  string: 9,
  bool: 10,
  /** Not a value we read (bytes, messages). */
  other: 11,
} as const;

export interface Layout {
  /** Column (0..4 for a..e) by field number; -1: not read. */
  readonly column: Int8Array;
  readonly convert: Uint8Array;
  readonly encoding: Uint8Array;
  /** Columns that hold string ids (preset to -1 so an absent string can be told). */
  readonly stringColumns: number;
}

/** Encoding of a .proto scalar type name (protobufjs Field.type). */
export function encodingOfProtoType(type: string): number {
  switch (type) {
    case 'uint32':
    case 'uint64':
    case 'enum':
      return Encoding.unsigned;
    case 'int32':
    case 'int64':
      return Encoding.signed;
    case 'sint32':
    case 'sint64':
      return Encoding.zigzag;
    case 'fixed64':
      return Encoding.fixed64;
    case 'sfixed64':
      return Encoding.sfixed64;
    case 'fixed32':
      return Encoding.fixed32;
    case 'sfixed32':
      return Encoding.sfixed32;
    case 'double':
      return Encoding.double;
    case 'float':
      return Encoding.float;
    case 'string':
      return Encoding.string;
    case 'bool':
      return Encoding.bool;
    default:
      return Encoding.other;
  }
}

/** Encoding of a FieldDescriptorProto.Type. */
export function encodingOfDescriptorType(type: number): number {
  switch (type) {
    case FieldType.uint32:
    case FieldType.uint64:
    case FieldType.enum:
      return Encoding.unsigned;
    case FieldType.int32:
    case FieldType.int64:
      return Encoding.signed;
    case FieldType.sint32:
    case FieldType.sint64:
      return Encoding.zigzag;
    case FieldType.fixed64:
      return Encoding.fixed64;
    case FieldType.sfixed64:
      return Encoding.sfixed64;
    case FieldType.fixed32:
      return Encoding.fixed32;
    case FieldType.sfixed32:
      return Encoding.sfixed32;
    case FieldType.double:
      return Encoding.double;
    case FieldType.float:
      return Encoding.float;
    case FieldType.string:
      return Encoding.string;
    case FieldType.bool:
      return Encoding.bool;
    default:
      return Encoding.other;
  }
}

/** A layout from (field number, field name, encoding) triples, keeping the fields `spec` names. */
export function buildLayout(fields: ReadonlyArray<readonly [number, string, number]>, spec: TracepointFields | undefined): Layout {
  let max = 0;
  for (const [number] of fields) max = Math.max(max, number);
  const column = new Int8Array(max + 1).fill(-1);
  const convert = new Uint8Array(max + 1);
  const encoding = new Uint8Array(max + 1).fill(Encoding.other);
  let stringColumns = 0;
  for (const [number, name, enc] of fields) {
    encoding[number] = enc;
    const s = spec?.fields.find((x) => x.name === name);
    if (s === undefined) continue;
    column[number] = s.column;
    convert[number] = s.convert;
    if (s.convert === Convert.string) stringColumns |= 1 << s.column;
  }
  return { column, convert, encoding, stringColumns };
}

/** The layout of a typed Perfetto message (from our .proto subset). */
export function layoutOfType(type: protobuf.Type, spec: TracepointFields | undefined): Layout {
  return buildLayout(
    type.fieldsArray.map((f) => [f.id, f.name, encodingOfProtoType(f.type)] as const),
    spec,
  );
}

/** A layout that reads nothing (events recorded by name only). */
export const EMPTY_LAYOUT: Layout = { column: new Int8Array(0), convert: new Uint8Array(0), encoding: new Uint8Array(0), stringColumns: 0 };
