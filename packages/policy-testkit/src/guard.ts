/**
 * Clocks and randomness outside the context, caught: while a policy hook
 * runs, `Date.now()`, `new Date()`, `Date()`, `performance.now()`,
 * `process.hrtime()`, `process.hrtime.bigint()`, `Math.random()`,
 * `crypto.getRandomValues()` and `crypto.randomUUID()` either throw
 * (`throw`) or return values that change from run to run (`vary`); outside
 * hooks they behave as usual. Every call inside a hook is recorded.
 *
 * Installed only around a synchronous replay, so no other code (the test
 * runner's timers) runs while the globals are patched.
 */

export type GuardMode = 'throw' | 'vary';

export interface GuardViolation {
  /** What was called, e.g. `Math.random()`. */
  readonly call: string;
  /** The hook it was called from. */
  readonly hook: string;
  readonly count: number;
}

export interface ClockGuard {
  /** Mark that a hook starts / ends (hooks may nest through the engine). */
  enter(hook: string): void;
  exit(): void;
  readonly violations: readonly GuardViolation[];
  /** Patch the globals, run `fn`, restore them. */
  around<T>(fn: () => T): T;
}

/** The marker on errors the guard throws, so the kit can tell them from the policy's own. */
export const GUARD_ERROR = 'TIERLAB_CONFORMANCE_CLOCK';

let varySeed = 0x5eed;

export function createClockGuard(mode: GuardMode): ClockGuard {
  const hooks: string[] = [];
  const counts = new Map<string, { call: string; hook: string; count: number }>();
  // A generator for varied values that differs on every guard made.
  let state = (varySeed = (varySeed * 1103515245 + 12345) >>> 0);
  const nextRandom = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  let clockSkewMs = 1e6 * (1 + (state % 1000));

  const inHook = () => hooks.length > 0;
  const hit = (call: string): void => {
    const hook = hooks[hooks.length - 1]!;
    const key = `${call}\u0000${hook}`;
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { call, hook, count: 1 });
    else entry.count++;
    if (mode === 'throw') {
      const error = new Error(`${call} called inside ${hook}: time and randomness must come from the context (ctx.now(), ctx.random())`);
      (error as Error & { code: string }).code = GUARD_ERROR;
      throw error;
    }
  };
  const skewedNow = (real: number) => {
    clockSkewMs += 1000 + Math.floor(nextRandom() * 1000);
    return real + clockSkewMs;
  };

  return {
    enter(hook) {
      hooks.push(hook);
    },
    exit() {
      hooks.pop();
    },
    get violations() {
      return [...counts.values()];
    },
    around(fn) {
      const restore: Array<() => void> = [];
      const patch = <O extends object, K extends keyof O>(target: O, key: K, value: O[K]) => {
        const own = Object.getOwnPropertyDescriptor(target, key);
        try {
          Object.defineProperty(target, key, { value, configurable: true, writable: true, enumerable: own?.enumerable ?? false });
        } catch {
          return; // not patchable here; the other checks still run
        }
        restore.push(() => {
          if (own === undefined) delete (target as Record<PropertyKey, unknown>)[key as PropertyKey];
          else Object.defineProperty(target, key, own);
        });
      };

      const RealDate = Date;
      const realDateNow = Date.now;
      const realRandom = Math.random;
      const GuardedDate: DateConstructor = new Proxy(RealDate, {
        construct(target, args, newTarget): object {
          if (inHook() && args.length === 0) {
            hit('new Date()');
            return new target(skewedNow(realDateNow()));
          }
          return Reflect.construct(target, args, newTarget === GuardedDate ? target : newTarget);
        },
        apply(target, thisArg, args) {
          if (inHook()) {
            hit('Date()');
            return new target(skewedNow(realDateNow())).toString();
          }
          return Reflect.apply(target, thisArg, args);
        },
        get(target, key, receiver) {
          if (key === 'now') return guardedDateNow;
          return Reflect.get(target, key, receiver);
        },
      });
      const guardedDateNow = () => {
        if (!inHook()) return realDateNow();
        hit('Date.now()');
        return skewedNow(realDateNow());
      };
      patch(globalThis, 'Date', GuardedDate);
      patch(RealDate, 'now', guardedDateNow);
      patch(Math, 'random', () => {
        if (!inHook()) return realRandom();
        hit('Math.random()');
        return nextRandom();
      });
      if (typeof performance !== 'undefined') {
        const realNow = performance.now.bind(performance);
        patch(performance, 'now', () => {
          if (!inHook()) return realNow();
          hit('performance.now()');
          return skewedNow(realNow());
        });
      }
      const realHrtime = process.hrtime;
      const hrtime = ((previous?: [number, number]) => {
        if (!inHook()) return realHrtime(previous);
        hit('process.hrtime()');
        return [Math.floor(skewedNow(0) / 1000), 0] as [number, number];
      }) as typeof process.hrtime;
      hrtime.bigint = () => {
        if (!inHook()) return realHrtime.bigint();
        hit('process.hrtime.bigint()');
        return BigInt(Math.floor(skewedNow(0))) * 1_000_000n;
      };
      patch(process, 'hrtime', hrtime);
      const webCrypto = globalThis.crypto;
      if (webCrypto !== undefined) {
        const realGetRandomValues = webCrypto.getRandomValues.bind(webCrypto);
        const realRandomUUID = webCrypto.randomUUID.bind(webCrypto);
        patch(webCrypto, 'getRandomValues', (<T extends ArrayBufferView | null>(array: T): T => {
          if (!inHook()) return realGetRandomValues(array as never) as T;
          hit('crypto.getRandomValues()');
          if (array !== null) {
            const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
            for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(nextRandom() * 256);
          }
          return array;
        }) as typeof webCrypto.getRandomValues);
        patch(webCrypto, 'randomUUID', (() => {
          if (!inHook()) return realRandomUUID();
          hit('crypto.randomUUID()');
          const hex = Array.from({ length: 32 }, () => Math.floor(nextRandom() * 16).toString(16)).join('');
          return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
        }) as typeof webCrypto.randomUUID);
      }
      try {
        return fn();
      } finally {
        for (let i = restore.length - 1; i >= 0; i--) restore[i]!();
      }
    },
  };
}
