import { isTierlabError } from '@tierlab/memory-tier-api';
import { describe, expect, it } from 'vitest';
import { maxCapacityPages, parseCapacity } from './capacity.js';

describe('parseCapacity', () => {
  it('reads numbers as bytes and rounds down to 4 KiB pages', () => {
    expect(parseCapacity(4096, null)).toBe(1);
    expect(parseCapacity(8191, null)).toBe(1);
    expect(parseCapacity(8192, null)).toBe(2);
    expect(parseCapacity(64 * 2 ** 30, null)).toBe(16 * 2 ** 20);
  });

  it('gives a non-zero capacity at least one page, and zero none', () => {
    expect(parseCapacity(1, null)).toBe(1);
    expect(parseCapacity('100B', null)).toBe(1);
    expect(parseCapacity(0, null)).toBe(0);
    expect(parseCapacity('0GiB', null)).toBe(0);
  });

  it('reads binary units', () => {
    expect(parseCapacity('4KiB', null)).toBe(1);
    expect(parseCapacity('2MiB', null)).toBe(512);
    expect(parseCapacity('64GiB', null)).toBe(16_777_216);
    expect(parseCapacity('1TiB', null)).toBe(268_435_456);
    expect(parseCapacity('1.5GiB', null)).toBe(393_216);
    expect(parseCapacity(' 512 MiB ', null)).toBe(131_072);
  });

  it('reads decimal units', () => {
    // 1 GB = 10^9 B = 244140.625 pages -> 244140
    expect(parseCapacity('1GB', null)).toBe(244_140);
    expect(parseCapacity('4KB', null)).toBe(0 + 1); // 4000 B is under a page: rounds up to the one-page minimum
    expect(parseCapacity('8.192KB', null)).toBe(2);
    expect(parseCapacity('1MB', null)).toBe(244);
    expect(parseCapacity('1TB', null)).toBe(244_140_625);
    expect(parseCapacity('4096', null)).toBe(1);
    expect(parseCapacity('4096B', null)).toBe(1);
  });

  it('reads percentages of the footprint exactly', () => {
    expect(parseCapacity('25%', 1000)).toBe(250);
    expect(parseCapacity('100%', 1000)).toBe(1000);
    expect(parseCapacity('150%', 1000)).toBe(1500);
    expect(parseCapacity('12.5%', 1000)).toBe(125);
    // 0.58 * 10000 is 5799.999… in floating point; the decimal is read exactly
    expect(parseCapacity('0.58%', 1_000_000)).toBe(5800);
    expect(parseCapacity('33.3%', 3)).toBe(1); // 0.999 pages: at least one page
    expect(parseCapacity('25%', 0)).toBe(0);
  });

  it('refuses a percentage without a footprint', () => {
    expect(() => parseCapacity('25%', null)).toThrow(/capacity.*share of the footprint needs the trace.*expected a size in bytes/);
  });

  it('names the field and what was expected for bad values', () => {
    for (const bad of ['lots', '64 GiBs', '-1GiB', '1e9', '10 %%', '', 'GiB']) {
      try {
        parseCapacity(bad, 100);
        expect.unreachable(`accepted ${bad}`);
      } catch (error) {
        expect(isTierlabError(error)).toBe(true);
        if (!isTierlabError(error)) throw error;
        expect(error.code).toBe('MACHINE_INVALID');
        expect(error.message).toContain('capacity: expected bytes as a number, a size with a unit');
        expect(error.excerpt).toBe(JSON.stringify(bad));
      }
    }
    expect(() => parseCapacity(-4096, null)).toThrow(/got '-4096'/);
    expect(() => parseCapacity(Number.NaN, null)).toThrow(/got 'NaN'/);
  });

  it('refuses capacities whose byte count is not an exact number', () => {
    expect(parseCapacity(maxCapacityPages * 4096, null)).toBe(maxCapacityPages);
    expect(() => parseCapacity('16PiB', null)).toThrow(/expected bytes/);
    expect(() => parseCapacity('9000TiB', null)).toThrow(/at most .* pages \(8 PiB\)/);
  });

  it('treats a bad footprint as misuse', () => {
    expect(() => parseCapacity('25%', -1)).toThrow(TypeError);
    expect(() => parseCapacity('25%', 1.5)).toThrow(TypeError);
  });
});
