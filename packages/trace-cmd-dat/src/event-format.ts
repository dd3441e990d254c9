/**
 * The event format files embedded in a trace.dat (tracefs
 * `events/<system>/<event>/format`): id, fields with offset/size/sign, and
 * the print fmt line.
 */

export interface FieldFormat {
  readonly name: string;
  /** The declaration as the kernel wrote it, e.g. `unsigned long pfn`, `__data_loc char[] filename`. */
  readonly declaration: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  /** `__data_loc` (offset and length of a dynamic array, from the record start) or `__rel_loc` (from the end of the field). */
  readonly location: 'inline' | 'data_loc' | 'rel_loc';
}

export interface EventFormat {
  readonly id: number;
  readonly system: string;
  readonly name: string;
  readonly fields: readonly FieldFormat[];
  /** The text after `print fmt: `. */
  readonly printFmt: string;
}

const fieldLine = /field:([^;]*);\s*offset:(\d+);\s*size:(\d+);(?:\s*signed:(\d+);)?/;
const fieldName = /([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[[^\]]*\])?\s*$/;

/** Parse one format file; null when it has no name or id. */
export function parseEventFormat(text: string, system: string): EventFormat | null {
  let name = '';
  let id = -1;
  let printFmt = '';
  const fields: FieldFormat[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('name: ')) name = line.slice(6).trim();
    else if (line.startsWith('ID: ')) id = Number(line.slice(4).trim());
    else if (line.startsWith('print fmt: ')) printFmt = line.slice(11);
    else {
      const m = fieldLine.exec(line);
      if (m === null) continue;
      const declaration = m[1]!.trim();
      const n = fieldName.exec(declaration);
      if (n === null) continue;
      fields.push({
        name: n[1]!,
        declaration,
        offset: Number(m[2]),
        size: Number(m[3]),
        signed: m[4] === '1',
        location: declaration.startsWith('__data_loc') ? 'data_loc' : declaration.startsWith('__rel_loc') ? 'rel_loc' : 'inline',
      });
    }
  }
  if (name === '' || !Number.isInteger(id) || id < 0) return null;
  return { id, system, name, fields, printFmt };
}

/** The field named `name`, or undefined. */
export function fieldOf(format: EventFormat, name: string): FieldFormat | undefined {
  return format.fields.find((f) => f.name === name);
}
