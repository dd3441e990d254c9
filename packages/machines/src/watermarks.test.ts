import { describe, expect, it } from 'vitest';
import { calculateMinFreeKbytes, computeWatermarks, intSqrt } from './watermarks.js';

const GiB = 2 ** 30;
const pagesOf = (bytes: number) => bytes / 4096;

describe('intSqrt (lib/math/int_sqrt.c)', () => {
  it('rounds down', () => {
    expect(intSqrt(0)).toBe(0);
    expect(intSqrt(15)).toBe(3);
    expect(intSqrt(16)).toBe(4);
    expect(intSqrt(2 ** 52 - 1)).toBe(2 ** 26 - 1);
    expect(intSqrt(134_217_728)).toBe(11_585); // sqrt(2^27) = 11585.2
  });
});

describe('calculateMinFreeKbytes (mm/page_alloc.c calculate_min_free_kbytes)', () => {
  it('matches the table in the kernel comment above init_per_zone_wmark_min', () => {
    // " * 16MB: 512k ... 1024MB: 4096k ... 4096MB: 8192k  8192MB: 11584k  16384MB: 16384k"
    // (the comment's 8192MB row rounds; int_sqrt(8388608 * 16) = int_sqrt(134217728) = 11585)
    const table: [number, number][] = [
      [16, 512],
      [64, 1024],
      [256, 2048],
      [1024, 4096],
      [4096, 8192],
      [8192, 11585],
      [16384, 16384],
    ];
    for (const [mib, kbytes] of table) expect(calculateMinFreeKbytes((mib * 2 ** 20) / 4096)).toBe(kbytes);
  });

  it('clamps to [128, 262144]', () => {
    // 1 MiB: int_sqrt(1024 * 16) = 128, exactly the floor; 256 KiB: int_sqrt(256 * 16) = 64 -> 128
    expect(calculateMinFreeKbytes(256)).toBe(128);
    expect(calculateMinFreeKbytes(64)).toBe(128);
    expect(calculateMinFreeKbytes(0)).toBe(128);
    // 4 TiB: int_sqrt(4294967296 * 16) = 262144, the ceiling; 16 TiB would give 524288 -> 262144
    expect(calculateMinFreeKbytes(pagesOf(4096 * GiB))).toBe(262_144);
    expect(calculateMinFreeKbytes(pagesOf(16384 * GiB))).toBe(262_144);
  });
});

describe('computeWatermarks (mm/page_alloc.c __setup_per_zone_wmarks)', () => {
  it('4 GiB zone', () => {
    // managed = 4 GiB / 4 KiB = 1048576 pages; lowmem_kbytes = 4194304
    // min_free_kbytes = int_sqrt(4194304 * 16) = int_sqrt(67108864) = 8192
    // pages_min = 8192 >> 2 = 2048; min = 2048 * 1048576 / 1048576 = 2048
    // gap = max(2048 >> 2 = 512, 1048576 * 10 / 10000 = 1048) = 1048
    // low = 2048 + 1048 = 3096; high = 3096 + 1048 = 4144; promo = 4144 + 1048 = 5192
    expect(computeWatermarks(1_048_576)).toEqual({ min: 2048, low: 3096, high: 4144, promo: 5192 });
  });

  it('64 MiB zone: the min/4 floor wins over the scale factor', () => {
    // managed = 16384 pages; lowmem_kbytes = 65536; int_sqrt(65536 * 16) = 1024 kB
    // pages_min = 256; gap = max(256 >> 2 = 64, 16384 * 10 / 10000 = 16) = 64
    expect(computeWatermarks(16_384)).toEqual({ min: 256, low: 320, high: 384, promo: 448 });
  });

  it('1 TiB zone', () => {
    // managed = 268435456 pages; lowmem_kbytes = 1073741824
    // int_sqrt(1073741824 * 16) = int_sqrt(2^34) = 131072 kB (below the 262144 ceiling)
    // pages_min = 32768; gap = max(8192, 268435456 * 10 / 10000 = 268435) = 268435
    // low = 301203; high = 569638; promo = 838073
    expect(computeWatermarks(268_435_456)).toEqual({ min: 32_768, low: 301_203, high: 569_638, promo: 838_073 });
  });

  it('8 TiB zone: min_free_kbytes at its 262144 ceiling', () => {
    // int_sqrt(8589934592 * 16) = 370727 -> clamped to 262144 kB; pages_min = 65536
    // gap = max(16384, 2147483648 * 10 / 10000 = 2147483) = 2147483
    expect(computeWatermarks(2_147_483_648)).toEqual({
      min: 65_536,
      low: 65_536 + 2_147_483,
      high: 65_536 + 2 * 2_147_483,
      promo: 65_536 + 3 * 2_147_483,
    });
  });

  it('tiny zone: the 128 kB floor', () => {
    // 100 pages = 400 kB; int_sqrt(6400) = 80 -> 128 kB; pages_min = 32
    // gap = max(32 >> 2 = 8, 100 * 10 / 10000 = 0) = 8
    expect(computeWatermarks(100)).toEqual({ min: 32, low: 40, high: 48, promo: 56 });
  });

  it("shares min_free_kbytes out by the zone's part of lowmem", () => {
    // A 1 GiB zone (262144 pages) on a machine with 4 GiB of lowmem (1048576 pages):
    // min_free_kbytes = 8192 -> pages_min = 2048; min = 2048 * 262144 / 1048576 = 512
    // gap = max(512 >> 2 = 128, 262144 * 10 / 10000 = 262) = 262
    expect(computeWatermarks(262_144, { lowmemPages: 1_048_576 })).toEqual({ min: 512, low: 774, high: 1036, promo: 1298 });
  });

  it('takes vm.min_free_kbytes and vm.watermark_scale_factor overrides', () => {
    // min_free_kbytes = 65536 -> pages_min = 16384; gap = max(4096, 1048576 * 10 / 10000 = 1048) = 4096
    expect(computeWatermarks(1_048_576, { minFreeKbytes: 65_536 })).toEqual({
      min: 16_384,
      low: 20_480,
      high: 24_576,
      promo: 28_672,
    });
    // watermark_scale_factor = 200 (2%): gap = max(512, 1048576 * 200 / 10000 = 20971) = 20971
    expect(computeWatermarks(1_048_576, { watermarkScaleFactor: 200 })).toEqual({
      min: 2048,
      low: 23_019,
      high: 43_990,
      promo: 64_961,
    });
  });

  it('has no watermarks for an empty zone and rejects misuse', () => {
    expect(computeWatermarks(0)).toEqual({ min: 0, low: 0, high: 0, promo: 0 });
    expect(() => computeWatermarks(-1)).toThrow(TypeError);
    expect(() => computeWatermarks(1.5)).toThrow(TypeError);
    expect(() => computeWatermarks(100, { watermarkScaleFactor: 0 })).toThrow(/1\.\.3000/);
    expect(() => computeWatermarks(100, { watermarkScaleFactor: 3001 })).toThrow(/1\.\.3000/);
    expect(() => computeWatermarks(100, { minFreeKbytes: -5 })).toThrow(TypeError);
    expect(() => computeWatermarks(100, { lowmemPages: 50 })).toThrow(/must include/);
  });
});
