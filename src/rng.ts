/**
 * Counter-based random numbers: every draw is a pure function of
 * (seed, kind, actor, step, stream, counter), so results never depend on the number of workers,
 * the order in which partitions run, or whether a partition was re-run after a crash.
 *
 * The hash uses only 32-bit integer multiply, xor, add and shifts so that the WGSL version
 * (`kernels/common/rng.wgsl`) produces the same bits. Mixer: Chris Wellons' "lowbias32".
 *
 * @example
 * ```ts
 * const u = uniform(seed, kindId, actor, step, 0, 0); // in [0, 1)
 * ```
 */

/** One round of the lowbias32 integer mixer. Input and output are u32 (as JS numbers). */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x;
}

/** Distinct odd constants per key position, so (a, b) and (b, a) hash differently. */
const K1 = 0x9e3779b9;
const K2 = 0x85ebca6b;
const K3 = 0xc2b2ae35;
const K4 = 0x27d4eb2f;
const K5 = 0x165667b1;

/** The 32-bit hash of a full key. All arguments are taken modulo 2^32. */
export function hash32(seed: number, kind: number, actor: number, step: number, stream: number, counter: number): number {
  return hashFrom(hashPrefix(seed, kind), actor, step, stream, counter);
}

/**
 * The hash state after (seed, kind), the key's first two words: a kernel's generator draws with
 * the same seed and kind all the time, so {@link makeRng} computes it once and each draw mixes four
 * words instead of six (the same bits as {@link hash32}).
 */
export function hashPrefix(seed: number, kind: number): number {
  const h = mix32((seed ^ K1) >>> 0);
  return mix32((h + (kind ^ K2)) >>> 0);
}

/** {@link hash32} of (seed, kind, actor, step, stream, counter), from `prefix` = hashPrefix(seed, kind). */
export function hashFrom(prefix: number, actor: number, step: number, stream: number, counter: number): number {
  let h = mix32((prefix + (actor ^ K3)) >>> 0);
  h = mix32((h + (step ^ K4)) >>> 0);
  h = mix32((h + (stream ^ K5)) >>> 0);
  h = mix32((h + (counter ^ K1)) >>> 0);
  return h;
}

const INV24 = 1 / 16777216;

/** {@link uniform} of (seed, kind, actor, step, stream, counter), from `prefix` = hashPrefix(seed, kind). */
export function uniformFrom(prefix: number, actor: number, step: number, stream: number, counter: number): number {
  return (hashFrom(prefix, actor, step, stream, counter) >>> 8) * INV24;
}

/** A uniform draw in [0, 1) with 24 bits (exactly representable in f32, so CPU and GPU agree). */
export function uniform(seed: number, kind: number, actor: number, step: number, stream: number, counter: number): number {
  return (hash32(seed, kind, actor, step, stream, counter) >>> 8) * INV24;
}

/**
 * A standard normal draw (Box–Muller on counters 2c and 2c+1). Computed in f64 here; the GPU computes
 * it in f32, so GPU normals agree to f32 rounding, not bit for bit.
 */
export function normal(seed: number, kind: number, actor: number, step: number, stream: number, counter: number): number {
  const u1 = uniform(seed, kind, actor, step, stream, 2 * counter) + INV24 * 0.5; // in (0, 1)
  const u2 = uniform(seed, kind, actor, step, stream, 2 * counter + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A random generator bound to (seed, kind, step): what a kernel sees as `ctx.rng`. */
export interface Rng {
  readonly seed: number;
  readonly kind: number;
  readonly step: number;
  /** Uniform in [0, 1) for (actor, stream, counter). */
  uniform(actor: number, stream: number, counter: number): number;
  /** Standard normal for (actor, stream, counter). */
  normal(actor: number, stream: number, counter: number): number;
  /** Raw u32 for (actor, stream, counter). */
  u32(actor: number, stream: number, counter: number): number;
}

export function makeRng(seed: number, kind: number, step: number): Rng {
  const prefix = hashPrefix(seed, kind);
  const uni = (a: number, s: number, c: number): number => uniformFrom(prefix, a, step, s, c);
  return {
    seed,
    kind,
    step,
    uniform: uni,
    // As normal(): Box–Muller on counters 2c and 2c+1.
    normal: (a, s, c) => Math.sqrt(-2 * Math.log(uni(a, s, 2 * c) + INV24 * 0.5)) * Math.cos(2 * Math.PI * uni(a, s, 2 * c + 1)),
    u32: (a, s, c) => hashFrom(prefix, a, step, s, c),
  };
}
