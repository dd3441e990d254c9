const marker = Symbol.for('tierlab.conformance-error');

/** A conformance failure: `what` is the kind of check that failed, the message says what broke and where. */
export class ConformanceError extends Error {
  readonly [marker] = true;
  readonly code = 'TIERLAB_CONFORMANCE';
  /** The check that failed: `shape`, `knobs`, `run`, `clock`, `determinism`, `isolation`, ... */
  readonly what: string;
  /** The engine's error code when a run failed (`POLICY_DECISION`, `POLICY_HOOK_THREW`). */
  readonly engineCode: string | null;
  /** The hook named by the engine's error. */
  readonly hook: string | null;

  constructor(what: string, message: string, extra: { cause?: unknown; code?: string; hook?: string | null } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ConformanceError';
    this.what = what;
    this.engineCode = extra.code ?? null;
    this.hook = extra.hook ?? null;
  }
}

/** True for errors the kit raises (checked by marker, not instanceof: the kit may be installed twice). */
export function isConformanceError(error: unknown): error is ConformanceError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}
