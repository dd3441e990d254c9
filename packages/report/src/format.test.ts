import { describe, expect, it } from 'vitest';
import { formatDelta, formatPair } from './format.js';

describe('numbers in the tables', () => {
  it('base and head share a unit and show enough decimals to differ', () => {
    expect(formatPair('ns', 95_310_585.3, 95_351_553.1)).toEqual(['95.31 ms', '95.35 ms']);
    expect(formatPair('ns', 95_351_553.1, 95_350_585.2)).toEqual(['95.352 ms', '95.351 ms']);
    expect(formatPair('ns', 113.2212, 113.0658)).toEqual(['113.22 ns', '113.07 ns']);
    expect(formatPair('ns', 999, 2_500)).toEqual(['1.00 µs', '2.50 µs']);
    expect(formatPair('bytes', 277_027_776, 275_454_912)).toEqual(['264.19 MiB', '262.69 MiB']);
    expect(formatPair('share', 0.1008, 0.094)).toEqual(['10.08%', '9.40%']);
    expect(formatPair('count', 84_028, 83_523)).toEqual(['84,028', '83,523']);
    expect(formatPair('ns', 0, 0)).toEqual(['0', '0']);
    expect(formatPair('bytes', 1_101_004.8, 0)).toEqual(['1.05 MiB', '0']);
  });

  it('deltas: absolute in their own scale, relative to base, points for shares', () => {
    expect(formatDelta({ unit: 'ns', delta: -968, relative: -968 / 95_351_553 })).toBe('-968 ns (-0.00102%)');
    expect(formatDelta({ unit: 'ns', delta: 4_767_577.6, relative: 0.05 })).toBe('+4.77 ms (+5.00%)');
    expect(formatDelta({ unit: 'share', delta: -0.0068, relative: -0.0675 })).toBe('-0.68 pt');
    expect(formatDelta({ unit: 'count', delta: -505, relative: -505 / 84_028 })).toBe('-505 (-0.60%)');
    expect(formatDelta({ unit: 'bytes', delta: 733_184, relative: null })).toBe('+716 KiB (from 0)');
    expect(formatDelta({ unit: 'count', delta: 0, relative: 0 })).toBe('0');
  });
});
