/** A seeded generator (splitmix32 seeding a xorshift128+ style mix), uniform in [0, 1). */
export function createRandom(seed: number): () => number {
  let s0 = splitmix(seed >>> 0);
  let s1 = splitmix(s0 ^ 0x9e3779b9);
  let s2 = splitmix(s1 ^ 0x85ebca6b);
  let s3 = splitmix(s2 ^ 0xc2b2ae35);
  // xoshiro128** (Blackman and Vigna).
  return () => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function splitmix(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
