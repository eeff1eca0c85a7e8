/**
 * The counter-based RNG (src/rng.ts): a pure function of its key, uniform in [0, 1) on a 24-bit grid,
 * statistically sane, and bit-identical to the WGSL port.
 *
 * Oracles: a BigInt re-implementation of the hash whose constants and key order are read from
 * kernels/common/rng.wgsl (so a drift between the two backends fails here, without a GPU); moments and
 * tail fractions of the uniform and normal distributions with bounds of 6 standard errors for the sample
 * size; chi-square with a fixed critical value. All samples come from fixed keys, so these tests are
 * deterministic: they either always pass or always fail.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hash32, makeRng, mix32, normal, uniform } from '../src/rng.js';

type Key = [number, number, number, number, number, number];
const hashKey = (k: Key): number => hash32(k[0], k[1], k[2], k[3], k[4], k[5]);

/** Random-looking keys drawn from an independent generator (xorshift32), not from the hash under test. */
function keys(n: number, seed: number): Key[] {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
  return Array.from({ length: n }, () => [next(), next(), next(), next(), next(), next()] as Key);
}

const TWO24 = 16777216;
const TWO32 = 4294967296;

// ---------------------------------------------------------------------------------------------
// Independent reference: lowbias32 in BigInt, constants read from the WGSL source.

const wgsl = readFileSync(new URL('../kernels/common/rng.wgsl', import.meta.url), 'utf8');

function wgslReference(): { hash: (k: Key) => number; positions: string[] } {
  const mixBody = /fn mix32[\s\S]*?\n}/.exec(wgsl)?.[0] ?? '';
  type MixStep = { readonly shift: bigint } | { readonly mul: bigint };
  const steps = [...mixBody.matchAll(/x = x (\^ \(x >> (\d+)u\)|\* (0x[0-9a-f]+)u);/g)].map(
    (m): MixStep => (m[2] !== undefined ? { shift: BigInt(m[2]) } : { mul: BigInt(m[3]!) }),
  );
  const K = Object.fromEntries([...wgsl.matchAll(/const RNG_(K\d): u32 = (0x[0-9a-f]+)u;/g)].map((m) => [m[1]!, BigInt(m[2]!)]));
  const hashBody = /fn hash32[\s\S]*?\n}/.exec(wgsl)?.[0] ?? '';
  const order = [...hashBody.matchAll(/mix32\((h \+ \()?(\w+) \^ RNG_(K\d)\)/g)].map((m) => ({ arg: m[2]!, k: K[m[3]!]! }));
  const params = ['seed', 'kind', 'actor', 'step', 'stream', 'counter'];
  const M = 0xffffffffn;
  const mix = (x: bigint): bigint => {
    for (const s of steps) x = 'shift' in s ? x ^ (x >> s.shift) : (x * s.mul) & M;
    return x;
  };
  const hash = (key: Key): number => {
    let h = 0n;
    order.forEach((o, i) => {
      const v = BigInt(key[params.indexOf(o.arg)]! >>> 0) ^ o.k;
      h = mix(i === 0 ? v : (h + v) & M);
    });
    return Number(h);
  };
  return { hash, positions: order.map((o) => o.arg) };
}

describe('hash32 against the WGSL port', () => {
  const ref = wgslReference();

  it('parses the WGSL mixer: six rounds over seed, kind, actor, step, stream, counter', () => {
    // Guards the parser: if the WGSL changes shape, this fails rather than comparing nothing.
    expect(ref.positions).toEqual(['seed', 'kind', 'actor', 'step', 'stream', 'counter']);
  });

  it('equals a BigInt lowbias32 with the WGSL constants on 20 000 keys', () => {
    const ks = [...keys(20_000, 99), [0, 0, 0, 0, 0, 0] as Key, [TWO32 - 1, TWO32 - 1, TWO32 - 1, TWO32 - 1, TWO32 - 1, TWO32 - 1] as Key];
    const mismatches = ks.filter((k) => hashKey(k) !== ref.hash(k));
    expect(mismatches).toEqual([]);
  });

  it('pins known values (the cross-backend stream)', () => {
    // Computed once from src/rng.ts. These pin the stream that kernels/common/rng.wgsl must reproduce
    // bit for bit on the GPU, and that checkpoints and seeded results depend on: changing the mixer,
    // the constants or the key order changes every seeded run, so it must be a deliberate change.
    expect(mix32(0)).toBe(0); // 0 is a fixed point of lowbias32; hash32 xors the seed with K1 first
    expect(mix32(1)).toBe(1753845952);
    expect(mix32(0xffffffff)).toBe(1734902346);
    expect(hash32(0, 0, 0, 0, 0, 0)).toBe(1470703684);
    expect(hash32(1, 0, 0, 0, 0, 0)).toBe(4134492520);
    expect(hash32(0xdeadbeef, 3, 12345, 678, 9, 10)).toBe(3992714243);
    expect(hash32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toBe(929250454);
    // uniform is the top 24 bits: pinned as exact multiples of 2^-24.
    expect(uniform(1, 0, 0, 0, 0, 0) * TWO24).toBe(4134492520 >>> 8);
    expect(uniform(0xdeadbeef, 3, 12345, 678, 9, 10) * TWO24).toBe(3992714243 >>> 8);
    expect(uniform(7, 1, 2, 3, 4, 5)).toBe(0.9160652756690979);
    // normal is f64 here (the GPU agrees to f32 rounding only, see rng.wgsl).
    expect(normal(1, 0, 0, 0, 0, 0)).toBeCloseTo(0.2074915832453895, 12);
    expect(normal(0xdeadbeef, 3, 12345, 678, 9, 10)).toBeCloseTo(-1.1641217617665351, 12);
    expect(normal(7, 1, 2, 3, 4, 5)).toBeCloseTo(0.28185879439341893, 12);
  });
});

// ---------------------------------------------------------------------------------------------

describe('hash32 is a pure function of the whole key', () => {
  const ks = keys(2000, 7);

  it('gives the same u32 for the same key, every time', () => {
    for (const k of ks) {
      const h = hashKey(k);
      expect(Number.isInteger(h) && h >= 0 && h < TWO32).toBe(true);
      expect(hashKey([...k])).toBe(h);
    }
  });

  it('changes when any one component changes (by 1, or in its top bit)', () => {
    const unchanged: string[] = [];
    for (const k of ks) {
      const h = hashKey(k);
      for (let pos = 0; pos < 6; pos++) {
        for (const delta of [1, 0x80000000]) {
          const k2 = [...k] as Key;
          k2[pos] = (k2[pos]! + delta) % TWO32;
          if (hashKey(k2) === h) unchanged.push(`${k.join(',')} pos ${pos} +${delta}`);
        }
      }
    }
    // 24 000 pairs: a 32-bit hash collides on a given pair with probability 2^-32.
    expect(unchanged).toEqual([]);
  });

  it('depends on the position of each value: swapping two components changes it', () => {
    for (const k of ks.slice(0, 200)) {
      for (let a = 0; a < 6; a++) {
        for (let b = a + 1; b < 6; b++) {
          const k2 = [...k] as Key;
          [k2[a], k2[b]] = [k[b]!, k[a]!];
          expect(hashKey(k2)).not.toBe(hashKey(k));
        }
      }
    }
  });

  it('takes every argument modulo 2^32 (negative and large values wrap)', () => {
    for (const k of ks.slice(0, 200)) {
      for (let pos = 0; pos < 6; pos++) {
        const up = [...k] as Key;
        up[pos] = k[pos]! + TWO32;
        const down = [...k] as Key;
        down[pos] = k[pos]! - TWO32;
        expect(hashKey(up)).toBe(hashKey(k));
        expect(hashKey(down)).toBe(hashKey(k));
      }
    }
    expect(hash32(-1, 0, 0, 0, 0, 0)).toBe(hash32(0xffffffff, 0, 0, 0, 0, 0));
  });

  it('avalanches: flipping one input bit flips 16 of 32 output bits on average, for every component and bit', () => {
    const popcount = (x: number): number => {
      let c = 0;
      for (let v = x >>> 0; v; v &= v - 1) c++;
      return c;
    };
    const worst: string[] = [];
    for (let pos = 0; pos < 6; pos++) {
      for (const bit of [0, 1, 7, 15, 16, 31]) {
        let sum = 0;
        for (const k of ks) {
          const k2 = [...k] as Key;
          k2[pos] = (k2[pos]! ^ (1 << bit)) >>> 0;
          sum += popcount(hashKey(k) ^ hashKey(k2));
        }
        const mean = sum / ks.length;
        // One sample has sd √(32·¼) ≈ 2.83; the mean of 2000 has sd 0.063: 0.5 is 8 standard errors.
        if (Math.abs(mean - 16) > 0.5) worst.push(`component ${pos} bit ${bit}: ${mean.toFixed(2)} bits`);
      }
    }
    expect(worst).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

const N = 1_000_000;

/**
 * Chi-square critical value for 63 degrees of freedom at p = 1e-6 (Wilson–Hilferty: 63·(1 − 2/567 +
 * 4.753·√(2/567))³ ≈ 131.7). The expected statistic is 63 ± 11.2.
 */
const CHI2_63 = 131.7;

function chiSquare(counts: ArrayLike<number>, total: number): number {
  const e = total / counts.length;
  let x2 = 0;
  for (let i = 0; i < counts.length; i++) x2 += (counts[i]! - e) ** 2 / e;
  return x2;
}

describe('uniform', () => {
  const u = new Float64Array(N);
  for (let i = 0; i < N; i++) u[i] = uniform(42, 1, i, 17, 3, 0);

  it('is the top 24 bits of the hash: in [0, 1), a multiple of 2^-24, exact in f32', () => {
    let bad = 0;
    for (let i = 0; i < 100_000; i++) {
      const v = u[i]!;
      const h = hash32(42, 1, i, 17, 3, 0);
      if (!(v >= 0 && v < 1) || v * TWO24 !== h >>> 8 || Math.fround(v) !== v) bad++;
    }
    expect(bad).toBe(0);
    // The largest possible value, (2^24 − 1)/2^24, is still below 1 in f32.
    expect(Math.fround((TWO24 - 1) / TWO24)).toBeLessThan(1);
  });

  it('uses all 24 bits: the lowest of them is odd half of the time', () => {
    let odd = 0;
    for (let i = 0; i < N; i++) odd += (u[i]! * TWO24) & 1;
    // sd of the fraction is √(¼/N) = 5e-4; 6 standard errors.
    expect(Math.abs(odd / N - 0.5)).toBeLessThan(0.003);
  });

  it('has the mean 1/2 and variance 1/12 of U(0, 1) within 6 standard errors of 1e6 samples', () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += u[i]!;
    const mean = s / N;
    let ss = 0;
    for (let i = 0; i < N; i++) ss += (u[i]! - mean) ** 2;
    const variance = ss / N;
    // se(mean) = √(1/12/N) = 2.9e-4; se(variance) = √((1/80 − 1/144)/N) = 7.5e-5.
    expect(Math.abs(mean - 0.5)).toBeLessThan(6 * 2.9e-4);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(6 * 7.5e-5);
  });

  it('fills 64 equal bins evenly (chi-square, 63 dof, below the p = 1e-6 critical value)', () => {
    const bins = new Float64Array(64);
    for (let i = 0; i < N; i++) bins[Math.floor(u[i]! * 64)]!++;
    expect(chiSquare(bins, N)).toBeLessThan(CHI2_63);
  });

  it('the low 6 bits of the raw u32 (which uniform drops) are even too', () => {
    const bins = new Float64Array(64);
    for (let i = 0; i < N; i++) bins[hash32(42, 1, i, 17, 3, 0) & 63]!++;
    expect(chiSquare(bins, N)).toBeLessThan(CHI2_63);
  });
});

describe('normal', () => {
  const z = new Float64Array(N);
  for (let i = 0; i < N; i++) z[i] = normal(42, 2, i, 5, 1, 0);

  it('has the moments of N(0, 1) within 6 standard errors of 1e6 samples', () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += z[i]!;
    const mean = s / N;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (let i = 0; i < N; i++) {
      const d = z[i]! - mean;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
    }
    m2 /= N;
    const skew = m3 / N / m2 ** 1.5;
    const kurt = m4 / N / (m2 * m2);
    // se: mean 1/√N = 1e-3; variance √(2/N) = 1.41e-3; skewness √(6/N) = 2.45e-3; kurtosis √(24/N) = 4.9e-3.
    expect(Math.abs(mean)).toBeLessThan(6e-3);
    expect(Math.abs(m2 - 1)).toBeLessThan(6 * 1.41e-3);
    expect(Math.abs(skew)).toBeLessThan(6 * 2.45e-3);
    expect(Math.abs(kurt - 3)).toBeLessThan(6 * 4.9e-3);
  });

  it('puts 68.27% within 1σ and 95.45% within 2σ, and is always finite', () => {
    let in1 = 0;
    let in2 = 0;
    let finite = 0;
    for (let i = 0; i < N; i++) {
      const a = Math.abs(z[i]!);
      if (a < 1) in1++;
      if (a < 2) in2++;
      if (Number.isFinite(a)) finite++;
    }
    expect(finite).toBe(N);
    // se of a fraction p: √(p(1−p)/N): 4.65e-4 and 2.08e-4.
    expect(Math.abs(in1 / N - 0.682689)).toBeLessThan(6 * 4.65e-4);
    expect(Math.abs(in2 / N - 0.9545)).toBeLessThan(6 * 2.08e-4);
  });

  it('is Box–Muller on the uniforms at counters 2c and 2c+1 (the recipe the WGSL port follows)', () => {
    for (let c = 0; c < 1000; c++) {
      const u1 = uniform(9, 1, 4, 2, 0, 2 * c) + 0.5 / TWO24;
      const u2 = uniform(9, 1, 4, 2, 0, 2 * c + 1);
      expect(normal(9, 1, 4, 2, 0, c)).toBeCloseTo(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2), 12);
    }
  });
});

describe('streams for neighbouring keys are not correlated', () => {
  const n = 200_000;
  /** Pearson correlation of f(i) and f(i+1). */
  function lag1(f: (i: number) => number): number {
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    for (let i = 0; i < n; i++) {
      const x = f(i);
      const y = f(i + 1);
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
    const cov = sxy / n - (sx / n) * (sy / n);
    return cov / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
  }
  // Under independence r has sd 1/√n = 2.2e-3; 6 standard errors.
  const bound = 6 / Math.sqrt(n);

  it.each([
    ['actors', (i: number) => uniform(3, 0, i, 10, 0, 0)],
    ['steps', (i: number) => uniform(3, 0, 5, i, 0, 0)],
    ['counters', (i: number) => uniform(3, 0, 5, 10, 0, i)],
    ['streams', (i: number) => uniform(3, 0, 5, 10, i, 0)],
    ['seeds', (i: number) => uniform(i, 0, 5, 10, 0, 0)],
    ['kinds', (i: number) => uniform(3, i, 5, 10, 0, 0)],
  ])('adjacent %s: |lag-1 correlation| < 6/√n', (_what, f) => {
    expect(Math.abs(lag1(f))).toBeLessThan(bound);
  });

  it('pairs of adjacent actors fill an 8×8 grid evenly (chi-square, 63 dof)', () => {
    const bins = new Float64Array(64);
    for (let i = 0; i < n; i++) {
      const a = Math.floor(uniform(3, 0, i, 10, 0, 0) * 8);
      const b = Math.floor(uniform(3, 0, i + 1, 10, 0, 0) * 8);
      bins[a * 8 + b]!++;
    }
    expect(chiSquare(bins, n)).toBeLessThan(CHI2_63);
  });
});

describe('makeRng', () => {
  it('binds (seed, kind, step) and forwards (actor, stream, counter)', () => {
    const r = makeRng(11, 2, 30);
    expect([r.seed, r.kind, r.step]).toEqual([11, 2, 30]);
    for (const [a, s, c] of [[0, 0, 0], [5, 1, 2], [123456, 7, 99]] as const) {
      expect(r.u32(a, s, c)).toBe(hash32(11, 2, a, 30, s, c));
      expect(r.uniform(a, s, c)).toBe(uniform(11, 2, a, 30, s, c));
      expect(r.normal(a, s, c)).toBe(normal(11, 2, a, 30, s, c));
    }
  });

  it('draws the same bits as the six-word functions for random keys (its (seed, kind) prefix is precomputed)', () => {
    for (const k of keys(400, 13)) {
      const r = makeRng(k[0], k[1], k[3]);
      expect(r.u32(k[2], k[4], k[5])).toBe(hashKey(k));
      expect(r.uniform(k[2], k[4], k[5])).toBe(uniform(k[0], k[1], k[2], k[3], k[4], k[5]));
      expect(r.normal(k[2], k[4], k[5] % 2 ** 30)).toBe(normal(k[0], k[1], k[2], k[3], k[4], k[5] % 2 ** 30));
    }
  });
});
