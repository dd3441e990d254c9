import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';

/** A field's path in a machine description: `['nodes', 1, 'readLatencyNs']`. */
export type FieldPath = readonly (string | number)[];

/** 1-based line and column in a machine file. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Where a machine description came from, so errors can point into it. */
export interface Origin {
  readonly file?: string;
  /** Position of the value at a path (or of its nearest existing parent). */
  readonly locate?: (path: FieldPath) => Position | undefined;
}

const errorSource = 'machine';

/** `nodes[1].readLatencyNs` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

/** A short rendering of an offending value: strings quoted, containers summarised. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > 60 ? `${quoted.slice(0, 57)}..."` : quoted;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function where(origin: Origin, path: FieldPath): { file?: string; line?: number; column?: number } {
  const position = origin.locate?.(path);
  return {
    ...(origin.file !== undefined ? { file: origin.file } : {}),
    ...(position !== undefined ? { line: position.line, column: position.column } : {}),
  };
}

/** `nodes[1].readLatencyNs: expected a positive number, got '"x"'` (or `… is missing: expected …`). */
export function invalidField(
  origin: Origin,
  path: FieldPath,
  expected: string,
  value: unknown,
  options: { readonly missing?: boolean; readonly note?: string; readonly showValue?: boolean } = {},
): TierlabError {
  const field = formatPath(path);
  const message = options.missing === true ? `${field} is missing` : field;
  const showValue = options.missing !== true && options.showValue !== false;
  return new TierlabError({
    code: ErrorCode.machineInvalid,
    source: errorSource,
    ...where(origin, path),
    message: options.note !== undefined ? `${message} (${options.note})` : message,
    expected,
    ...(showValue ? { excerpt: describeValue(value) } : {}),
  });
}

export function machineFileError(
  code: ErrorCode,
  file: string,
  message: string,
  options: { readonly expected?: string; readonly position?: Position; readonly cause?: unknown } = {},
): TierlabError {
  return new TierlabError({
    code,
    source: errorSource,
    file,
    message,
    ...(options.position !== undefined ? { line: options.position.line, column: options.position.column } : {}),
    ...(options.expected !== undefined ? { expected: options.expected } : {}),
    ...(options.cause !== undefined ? { cause: options.cause } : {}),
  });
}

export function machineNotFound(message: string, expected: string, file?: string, cause?: unknown): TierlabError {
  return new TierlabError({
    code: ErrorCode.machineNotFound,
    source: errorSource,
    message,
    expected,
    ...(file !== undefined ? { file } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}
