import { describe, expect, it } from 'vitest';
import { createClockGuard } from './guard.js';

describe('the clock guard', () => {
  it('throws inside a hook, names the call and the hook, and leaves code outside hooks alone', () => {
    const guard = createClockGuard('throw');
    const outside: number[] = [];
    const caught: string[] = [];
    guard.around(() => {
      outside.push(Date.now(), Math.random(), performance.now());
      guard.enter('placePage');
      for (const call of [() => Math.random(), () => Date.now(), () => new Date(), () => performance.now(), () => process.hrtime.bigint()]) {
        try {
          call();
        } catch (error) {
          caught.push((error as Error).message);
        }
      }
      guard.exit();
      outside.push(new Date(2020, 1, 1).getFullYear());
    });
    expect(outside.every((n) => Number.isFinite(n))).toBe(true);
    expect(outside[3]).toBe(2020);
    expect(caught).toHaveLength(5);
    expect(caught[0]).toMatch(/^Math\.random\(\) called inside placePage: time and randomness must come from the context/);
    expect(guard.violations.map((v) => `${v.call} in ${v.hook}`)).toEqual([
      'Math.random() in placePage',
      'Date.now() in placePage',
      'new Date() in placePage',
      'performance.now() in placePage',
      'process.hrtime.bigint() in placePage',
    ]);
  });

  it('returns changing values in vary mode, and restores every global afterwards', () => {
    const before = { Date: globalThis.Date, now: Date.now, random: Math.random, perf: performance.now, hrtime: process.hrtime };
    const guard = createClockGuard('vary');
    const seen: number[] = [];
    guard.around(() => {
      guard.enter('onTick');
      seen.push(Math.random(), Math.random(), Date.now(), Date.now());
      guard.exit();
    });
    expect(seen[0]).not.toBe(seen[1]);
    expect(seen[3]! - seen[2]!).toBeGreaterThanOrEqual(1000);
    expect(guard.violations.map((v) => [v.call, v.count])).toEqual([
      ['Math.random()', 2],
      ['Date.now()', 2],
    ]);
    expect(globalThis.Date).toBe(before.Date);
    expect(Date.now).toBe(before.now);
    expect(Math.random).toBe(before.random);
    expect(performance.now).toBe(before.perf);
    expect(process.hrtime).toBe(before.hrtime);
    expect(Object.getOwnPropertyDescriptor(performance, 'now')).toBeUndefined();
  });

  it('restores the globals when the run throws', () => {
    const random = Math.random;
    expect(() =>
      createClockGuard('throw').around(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(Math.random).toBe(random);
  });
});
