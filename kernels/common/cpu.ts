/**
 * Shared CPU primitives: exclusive prefix sum, stable counting sort by key, segment reductions and
 * the spatial cell function. The WGSL versions live beside this file and are checked against these.
 */
import type { TypedArray } from '../../src/types.js';
import { makeMessageLoops } from './index-loops.js';

/**
 * In-place exclusive prefix sum over `a[0..n)`, returning the total. `a[n]` (if present) gets the total.
 * @example exclusiveScan(Uint32Array.of(3, 1, 2, 0), 3) // → [0, 3, 4, 6], returns 6
 */
export function exclusiveScan(a: Uint32Array, n: number): number {
  let run = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    a[i] = run;
    run += x;
  }
  if (a.length > n) a[n] = run;
  return run;
}

/**
 * `counts[k]` = the number of records with key k, for k < keys (and `counts[keys]` = 0), over the
 * records of senders `0..senders)` laid out as {@link countingSortByKey} takes them. An exclusive scan
 * of `counts[0..keys]` then gives the offsets.
 */
export function countByKey(senders: number, maxPer: number, sent: Uint32Array, key: Uint32Array, keys: number, counts: Uint32Array): void {
  counts.fill(0, 0, keys + 1);
  if (maxPer === 1) {
    for (let s = 0; s < senders; s++) if (sent[s] !== 0) counts[key[s]!]!++;
  } else {
    for (let s = 0; s < senders; s++) {
      const c = sent[s]!;
      const base = s * maxPer;
      for (let j = 0; j < c; j++) counts[key[base + j]!]!++;
    }
  }
}

/**
 * Stable counting sort of the records emitted by senders `0..senders)`, each having `sent[s]`
 * records in slots `s*maxPer .. s*maxPer+sent[s]` with receiver key `key[slot]`.
 * Produces `offsets[0..keys]` (records of key k at `offsets[k]..offsets[k+1]`), `perm[i]` = raw slot
 * of sorted record i, and `sender[i]`. Order within a key is (sender, sequence): deterministic.
 * Returns the number of records. `cursor` is scratch of length ≥ keys.
 */
export function countingSortByKey(
  senders: number,
  maxPer: number,
  sent: Uint32Array,
  key: Uint32Array,
  keys: number,
  offsets: Uint32Array,
  perm: Uint32Array,
  sender: Uint32Array,
  cursor: Uint32Array,
): number {
  // The engine's loop, uncompiled (the engine compiles one copy per message: ./index-loops.ts).
  return makeMessageLoops(keys, maxPer, sent, key, offsets, perm, sender, cursor, NONE, NONE, NONE).sort(senders);
}

const NONE = new Uint32Array(0);

/** `out[i] = src[perm[i]]` for i < n. */
export function gather(out: TypedArray, src: TypedArray, perm: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = src[perm[i]!]!;
}

/**
 * Segment reductions of `values` over the segments `offsets[k]..offsets[k+1]`, k < keys.
 * Empty segments give count 0, sum 0, mean 0, std 0, min +Inf, max −Inf. `std` is the population
 * standard deviation (two-pass, deterministic).
 */
export function segmentReduce(
  values: TypedArray,
  offsets: Uint32Array,
  keys: number,
  out: { count?: Float64Array; sum?: Float64Array; mean?: Float64Array; std?: Float64Array; min?: Float64Array; max?: Float64Array },
): void {
  const { count, sum, mean, std, min, max } = out;
  for (let k = 0; k < keys; k++) {
    const a = offsets[k]!;
    const b = offsets[k + 1]!;
    const n = b - a;
    let s = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = a; i < b; i++) {
      const x = values[i]!;
      s += x;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    const m = n > 0 ? s / n : 0;
    if (count) count[k] = n;
    if (sum) sum[k] = s;
    if (mean) mean[k] = m;
    if (min) min[k] = lo;
    if (max) max[k] = hi;
    if (std) {
      let ss = 0;
      for (let i = a; i < b; i++) {
        const d = values[i]! - m;
        ss += d * d;
      }
      std[k] = n > 0 ? Math.sqrt(ss / n) : 0;
    }
  }
}

/**
 * Grid cell of a position: per axis floor((p − min) / cellSize) clamped into [0, dims). `cellSize` is
 * one side for every axis or one per axis [x, y, z].
 */
export function cellOf(x: number, y: number, z: number, min: readonly number[], cellSize: number | readonly number[], dims: readonly number[]): number {
  const dx = dims[0]!;
  const dy = dims[1]!;
  const dz = dims[2]!;
  const one = typeof cellSize === 'number';
  let cx = Math.floor((x - min[0]!) * (1 / (one ? cellSize : cellSize[0]!)));
  let cy = Math.floor((y - min[1]!) * (1 / (one ? cellSize : cellSize[1]!)));
  let cz = Math.floor((z - min[2]!) * (1 / (one ? cellSize : cellSize[2]!)));
  cx = cx < 0 ? 0 : cx >= dx ? dx - 1 : cx;
  cy = cy < 0 ? 0 : cy >= dy ? dy - 1 : cy;
  cz = cz < 0 ? 0 : cz >= dz ? dz - 1 : cz;
  return (cz * dy + cy) * dx + cx;
}
