/**
 * Error codes and the one error class for bad input and broken decisions.
 * Check errors with {@link isTierlabError} and `.code`, not `instanceof`
 * (two copies of this package may be installed). Programmer misuse is a `TypeError`.
 */

export const ErrorCode = {
  /** A trace line or record is not what its format says. */
  traceSyntax: 'TRACE_SYNTAX',
  /** The trace format could not be recognised. */
  traceFormat: 'TRACE_FORMAT',
  /** The trace file could not be opened or decompressed. */
  traceIo: 'TRACE_IO',
  /** A machine description is invalid. */
  machineInvalid: 'MACHINE_INVALID',
  /** A machine preset or file was not found. */
  machineNotFound: 'MACHINE_NOT_FOUND',
  /** A policy could not be found or loaded. */
  policyNotFound: 'POLICY_NOT_FOUND',
  /** A module was loaded but is not a policy. */
  policyInvalid: 'POLICY_INVALID',
  /** The policy's specVersion is not supported. */
  policySpecVersion: 'POLICY_SPEC_VERSION',
  /** A knob name or value is wrong. */
  policyKnob: 'POLICY_KNOB',
  /** A policy hook threw. */
  policyHookThrew: 'POLICY_HOOK_THREW',
  /** A policy decision broke an invariant (capacity, page state). */
  policyDecision: 'POLICY_DECISION',
  /** Command-line usage. */
  usage: 'USAGE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const marker = Symbol.for('tierlab.error');

/** Where in an input an error is. */
export interface ErrorLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly byteOffset?: number;
}

export interface TierlabErrorInit extends ErrorLocation {
  readonly code: ErrorCode;
  readonly message: string;
  /** The reader (`ftrace-text`), or `engine`, `machine`, `cli`. */
  readonly source?: string;
  /** The offending input, cut to a readable length. */
  readonly excerpt?: string;
  /** What was expected there. */
  readonly expected?: string;
  readonly policy?: string;
  readonly hook?: string;
  readonly cause?: unknown;
}

export class TierlabError extends Error {
  readonly [marker] = true;
  readonly code: ErrorCode;
  readonly source: string | undefined;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly byteOffset: number | undefined;
  readonly excerpt: string | undefined;
  readonly expected: string | undefined;
  readonly policy: string | undefined;
  readonly hook: string | undefined;

  constructor(init: TierlabErrorInit) {
    super(formatErrorMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'TierlabError';
    this.code = init.code;
    this.source = init.source;
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
    this.byteOffset = init.byteOffset;
    this.excerpt = init.excerpt;
    this.expected = init.expected;
    this.policy = init.policy;
    this.hook = init.hook;
  }
}

/** `[source] file:line:col message: expected …, got '…'` */
export function formatErrorMessage(init: TierlabErrorInit): string {
  let where = '';
  if (init.file !== undefined) {
    where = init.file;
    if (init.line !== undefined) where += `:${init.line}`;
    if (init.line !== undefined && init.column !== undefined) where += `:${init.column}`;
    if (init.line === undefined && init.byteOffset !== undefined) where += ` @byte ${init.byteOffset}`;
    where += ' ';
  }
  const who = init.policy !== undefined ? `[${init.policy}${init.hook ? `.${init.hook}` : ''}] ` : '';
  const src = init.source !== undefined ? `[${init.source}] ` : '';
  let msg = `${src}${who}${where}${init.message}`;
  if (init.expected !== undefined) msg += `: expected ${init.expected}`;
  if (init.excerpt !== undefined) msg += `${init.expected !== undefined ? ',' : ':'} got '${init.excerpt}'`;
  return msg;
}

export function isTierlabError(error: unknown): error is TierlabError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}
