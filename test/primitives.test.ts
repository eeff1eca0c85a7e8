/**
 * Shared CPU primitives (kernels/common/cpu.ts) against naive references written here: a running sum,
 * a stable Array.prototype.sort over (key, sender, sequence), per-segment slices reduced with plain
 * array methods, and per-axis clamp(floor((p − min) / cellSize)).
 */
import { describe, expect, it } from 'vitest';
import { cellOf, countingSortByKey, exclusiveScan, gather, segmentReduce } from '../kernels/common/cpu.js';
import { hash32 } from '../src/rng.js';

/** Deterministic draws in [0, n) for building inputs. */
function drawer(seed: number): (n: number) => number {
  let c = 0;
  return (n) => hash32(seed, 0x7e57, 0, 0, 0, c++) % n;
}

// ---------------------------------------------------------------------------------------------

describe('exclusiveScan', () => {
  it('matches the doc example', () => {
    const a = Uint32Array.of(3, 1, 2, 0);
    expect(exclusiveScan(a, 3)).toBe(6);
    expect([...a]).toEqual([0, 3, 4, 6]);
  });

  it('matches a running sum on random arrays, writing the total into a[n] only when it exists', () => {
    const r = drawer(1);
    for (let trial = 0; trial < 200; trial++) {
      const n = r(50);
      const extra = r(3); // 0: no slot for the total; 1: a[n] gets it; 2: a[n+1] untouched
      const input = Array.from({ length: n }, () => r(1000));
      const a = new Uint32Array(n + extra).fill(777);
      a.set(input);
      const total = exclusiveScan(a, n);
      let run = 0;
      const expected = input.map((x) => {
        const v = run;
        run += x;
        return v;
      });
      expect(total).toBe(run);
      expect([...a.subarray(0, n)]).toEqual(expected);
      if (extra >= 1) expect(a[n]).toBe(run);
      if (extra === 2) expect(a[n + 1]).toBe(777);
    }
  });

  it('of nothing is 0', () => {
    const a = Uint32Array.of(5);
    expect(exclusiveScan(a, 0)).toBe(0);
    expect(a[0]).toBe(0);
    expect(exclusiveScan(new Uint32Array(0), 0)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

interface SortCase {
  senders: number;
  maxPer: number;
  keys: number;
  sent: Uint32Array;
  key: Uint32Array;
}

/** Random emissions: sender s sends 0..maxPer records; unused slots hold garbage keys (even out of range). */
function randomCase(seed: number, maxPer: number, opts: { keys?: number; senders?: number; hot?: boolean } = {}): SortCase {
  const r = drawer(seed);
  const senders = opts.senders ?? 1 + r(60);
  const keys = opts.keys ?? 1 + r(20);
  const sent = new Uint32Array(senders);
  const key = new Uint32Array(senders * maxPer).fill(0xffffffff);
  for (let s = 0; s < senders; s++) {
    sent[s] = r(maxPer + 1);
    for (let j = 0; j < sent[s]!; j++) key[s * maxPer + j] = opts.hot ? r(2) * (keys - 1) : r(keys);
  }
  return { senders, maxPer, keys, sent, key };
}

/** The naive reference: list records in (sender, sequence) order and stable-sort them by key. */
function naiveSort(c: SortCase): { offsets: number[]; perm: number[]; sender: number[] } {
  const recs: { slot: number; sender: number; key: number }[] = [];
  for (let s = 0; s < c.senders; s++) {
    for (let j = 0; j < c.sent[s]!; j++) recs.push({ slot: s * c.maxPer + j, sender: s, key: c.key[s * c.maxPer + j]! });
  }
  recs.sort((a, b) => a.key - b.key); // stable since ES2019
  const offsets: number[] = [];
  for (let k = 0; k <= c.keys; k++) offsets.push(recs.filter((x) => x.key < k).length);
  return { offsets, perm: recs.map((x) => x.slot), sender: recs.map((x) => x.sender) };
}

function runSort(c: SortCase): { total: number; offsets: number[]; perm: number[]; sender: number[] } {
  const slots = c.senders * c.maxPer;
  // Scratch starts dirty, as it does when reused from the previous step.
  const offsets = new Uint32Array(c.keys + 1).fill(12345);
  const perm = new Uint32Array(slots).fill(999);
  const sender = new Uint32Array(slots).fill(999);
  const cursor = new Uint32Array(c.keys).fill(4321);
  const total = countingSortByKey(c.senders, c.maxPer, c.sent, c.key, c.keys, offsets, perm, sender, cursor);
  return { total, offsets: [...offsets], perm: [...perm.subarray(0, total)], sender: [...sender.subarray(0, total)] };
}

describe('countingSortByKey', () => {
  it('sorts a hand example by key, keeping (sender, sequence) order within a key', () => {
    // maxPer 2: sender 0 sends keys [2, 0]; sender 1 sends [2]; sender 2 sends nothing; sender 3 sends [0, 2].
    const c: SortCase = { senders: 4, maxPer: 2, keys: 3, sent: Uint32Array.of(2, 1, 0, 2), key: Uint32Array.of(2, 0, 2, 9, 9, 9, 0, 2) };
    const got = runSort(c);
    expect(got.total).toBe(5);
    // key 0: (s0, seq1) slot 1, (s3, seq0) slot 6; key 1: none; key 2: slots 0, 2, 7.
    expect(got.offsets).toEqual([0, 2, 2, 5]);
    expect(got.perm).toEqual([1, 6, 0, 2, 7]);
    expect(got.sender).toEqual([0, 3, 0, 1, 3]);
  });

  it.each([1, 2, 5])('matches a stable sort on 100 random cases with maxPer %i', (maxPer) => {
    for (let t = 0; t < 100; t++) {
      const c = randomCase(1000 * maxPer + t, maxPer);
      const got = runSort(c);
      const want = naiveSort(c);
      expect(got.total, `case ${t}`).toBe(want.perm.length);
      expect(got.offsets, `case ${t}`).toEqual(want.offsets);
      expect(got.perm, `case ${t}`).toEqual(want.perm);
      expect(got.sender, `case ${t}`).toEqual(want.sender);
    }
  });

  it('keeps many records of one key in (sender, sequence) order and leaves the other keys empty', () => {
    // Every record goes to key 0 or key 9 of 10: keys 1..8 are empty segments.
    for (const maxPer of [1, 3]) {
      const c = randomCase(77 + maxPer, maxPer, { keys: 10, senders: 200, hot: true });
      const got = runSort(c);
      expect(got).toEqual({ total: got.perm.length, ...naiveSort(c) });
      for (let k = 1; k < 9; k++) expect(got.offsets[k + 1]).toBe(got.offsets[k]);
      // Within a key, (sender, slot) strictly increases: deterministic whatever the worker count.
      for (let i = 1; i < got.total; i++) {
        const sameKey = c.key[got.perm[i]!] === c.key[got.perm[i - 1]!];
        if (sameKey) expect(got.perm[i]!).toBeGreaterThan(got.perm[i - 1]!);
      }
    }
  });

  it('handles no records at all, and a single key', () => {
    const none = runSort({ senders: 5, maxPer: 2, keys: 4, sent: new Uint32Array(5), key: new Uint32Array(10).fill(3) });
    expect(none).toEqual({ total: 0, offsets: [0, 0, 0, 0, 0], perm: [], sender: [] });
    const one: SortCase = { senders: 3, maxPer: 1, keys: 1, sent: Uint32Array.of(1, 0, 1), key: Uint32Array.of(0, 0, 0) };
    expect(runSort(one)).toEqual({ total: 2, offsets: [0, 2], perm: [0, 2], sender: [0, 2] });
  });
});

// ---------------------------------------------------------------------------------------------

describe('gather', () => {
  it('writes out[i] = src[perm[i]] for i < n and nothing beyond, for each column type', () => {
    const r = drawer(5);
    const perm = Uint32Array.from({ length: 40 }, () => r(25));
    const makers = [
      (n: number) => new Float32Array(n),
      (n: number) => new Float64Array(n),
      (n: number) => new Int32Array(n),
      (n: number) => new Uint32Array(n),
      (n: number) => new Uint8Array(n),
    ];
    for (const make of makers) {
      const src = make(25);
      for (let i = 0; i < 25; i++) src[i] = i * 3 + 1;
      const out = make(40).fill(7);
      gather(out, src, perm, 30);
      const want = [...perm.subarray(0, 30)].map((p) => p * 3 + 1);
      expect([...out.subarray(0, 30)]).toEqual(want);
      expect([...out.subarray(30)]).toEqual(new Array<number>(10).fill(7));
    }
  });
});

// ---------------------------------------------------------------------------------------------

type Stats = { count: number; sum: number; mean: number; std: number; min: number; max: number };

/** Naive per-segment statistics: slice, then plain array methods; std through E[(x − mean)²]. */
function naiveStats(values: ArrayLike<number>, offsets: ArrayLike<number>, keys: number): Stats[] {
  const out: Stats[] = [];
  for (let k = 0; k < keys; k++) {
    const seg = Array.from(values).slice(offsets[k], offsets[k + 1]);
    const n = seg.length;
    const sum = seg.reduce((a, b) => a + b, 0);
    const mean = n ? sum / n : 0;
    const std = n ? Math.sqrt(seg.map((x) => (x - mean) ** 2).reduce((a, b) => a + b, 0) / n) : 0;
    out.push({ count: n, sum, mean, std, min: n ? Math.min(...seg) : Infinity, max: n ? Math.max(...seg) : -Infinity });
  }
  return out;
}

function allStats(keys: number) {
  return {
    count: new Float64Array(keys),
    sum: new Float64Array(keys),
    mean: new Float64Array(keys),
    std: new Float64Array(keys),
    min: new Float64Array(keys),
    max: new Float64Array(keys),
  };
}

describe('segmentReduce', () => {
  it('computes a hand example, std being the population standard deviation', () => {
    // Segments: [1, 2, 3, 4], [], [5], [-2, 2].
    const values = Float64Array.of(1, 2, 3, 4, 5, -2, 2);
    const offsets = Uint32Array.of(0, 4, 4, 5, 7);
    const o = allStats(4);
    segmentReduce(values, offsets, 4, o);
    expect([...o.count]).toEqual([4, 0, 1, 2]);
    expect([...o.sum]).toEqual([10, 0, 5, 0]);
    expect([...o.mean]).toEqual([2.5, 0, 5, 0]);
    // Population std of 1..4 is √1.25 ≈ 1.118 (the sample std would be 1.291).
    expect(o.std[0]).toBeCloseTo(Math.sqrt(1.25), 14);
    expect([o.std[1], o.std[2], o.std[3]]).toEqual([0, 0, 2]);
    expect([...o.min]).toEqual([1, Infinity, 5, -2]);
    expect([...o.max]).toEqual([4, -Infinity, 5, 2]);
  });

  it('matches naive statistics on random f32 and f64 segments with empty ones', () => {
    const r = drawer(9);
    for (let trial = 0; trial < 100; trial++) {
      const keys = 1 + r(15);
      const lens = Array.from({ length: keys }, () => (r(3) === 0 ? 0 : r(12)));
      const offsets = new Uint32Array(keys + 1);
      for (let k = 0; k < keys; k++) offsets[k + 1] = offsets[k]! + lens[k]!;
      const n = offsets[keys]!;
      const values = trial % 2 ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = (r(20001) - 10000) / 64;
      const o = allStats(keys);
      segmentReduce(values, offsets, keys, o);
      naiveStats(values, offsets, keys).forEach((w, k) => {
        const at = `trial ${trial} key ${k}`;
        expect(o.count[k], at).toBe(w.count);
        expect(o.sum[k], at).toBe(w.sum); // values are multiples of 1/64: sums are exact
        expect(o.mean[k], at).toBeCloseTo(w.mean, 12);
        expect(o.std[k], at).toBeCloseTo(w.std, 10);
        expect(o.min[k], at).toBe(w.min);
        expect(o.max[k], at).toBe(w.max);
      });
    }
  });

  it('fills only the outputs asked for', () => {
    const sum = new Float64Array(2).fill(-1);
    const max = new Float64Array(2).fill(-1);
    segmentReduce(Float32Array.of(1, 2, 3), Uint32Array.of(0, 1, 3), 2, { sum, max });
    expect([...sum]).toEqual([1, 5]);
    expect([...max]).toEqual([1, 3]);
  });

  it('is numerically stable for a large common offset (two passes, not E[x²] − mean²)', () => {
    // 1e8 + {1, 2, 3}: population std √(2/3). E[x²] − mean² loses it entirely in f64 (≈ 1e16 − 1e16).
    const o = allStats(1);
    segmentReduce(Float64Array.of(1e8 + 1, 1e8 + 2, 1e8 + 3), Uint32Array.of(0, 3), 1, o);
    expect(o.std[0]).toBeCloseTo(Math.sqrt(2 / 3), 9);
    expect(o.mean[0]).toBe(1e8 + 2);
  });
});

// ---------------------------------------------------------------------------------------------

/** The naive cell: per axis clamp(floor((p − min) / cellSize), 0, dims − 1), x fastest. */
function naiveCell(p: readonly number[], min: readonly number[], cs: number, dims: readonly number[]): number {
  const c = p.map((v, a) => Math.min(dims[a]! - 1, Math.max(0, Math.floor((v - min[a]!) / cs))));
  return (c[2]! * dims[1]! + c[1]!) * dims[0]! + c[0]!;
}

describe('cellOf', () => {
  const dims = [4, 3, 2];
  const min = [0, 0, 0];

  it('numbers cells x fastest, then y, then z', () => {
    expect(cellOf(0.5, 0.5, 0.5, min, 1, dims)).toBe(0);
    expect(cellOf(1.5, 0.5, 0.5, min, 1, dims)).toBe(1);
    expect(cellOf(0.5, 1.5, 0.5, min, 1, dims)).toBe(4);
    expect(cellOf(0.5, 0.5, 1.5, min, 1, dims)).toBe(12);
    expect(cellOf(3.5, 2.5, 1.5, min, 1, dims)).toBe(23); // the last cell
  });

  it('puts a point exactly on a boundary in the upper cell, and the upper bound in the last cell', () => {
    // cellSize 0.25 and min −2 are exact in binary, so these boundaries are exact.
    const m = [-2, -2, -2];
    expect(cellOf(-2, -2, -2, m, 0.25, dims)).toBe(0);
    expect(cellOf(-1.75, -2, -2, m, 0.25, dims)).toBe(1);
    expect(cellOf(-1.75 - 2 ** -40, -2, -2, m, 0.25, dims)).toBe(0);
    expect(cellOf(-2, -1.5, -2, m, 0.25, dims)).toBe(2 * 4);
    expect(cellOf(-2, -2, -1.75, m, 0.25, dims)).toBe(12);
    // max = min + dims·cellSize = −1: on the boundary of a cell beyond the grid, clamped into the last.
    expect(cellOf(-1, -1, -1, m, 0.25, dims)).toBe(23);
  });

  it('clamps positions outside the bounds into the border cells, per axis', () => {
    expect(cellOf(-5, 1.5, 0.5, min, 1, dims)).toBe(4); // x below → 0
    expect(cellOf(99, 1.5, 0.5, min, 1, dims)).toBe(4 + 3); // x above → 3
    expect(cellOf(1.5, -1e30, 1e30, min, 1, dims)).toBe(12 + 1);
    expect(cellOf(-Infinity, Infinity, -Infinity, min, 1, dims)).toBe(2 * 4);
  });

  it('matches the naive cell on 20 000 random points, in and around a skewed grid', () => {
    const r = drawer(21);
    const m = [-3.5, 10, 0.125];
    const cs = 0.75;
    const d = [7, 3, 5];
    for (let i = 0; i < 20_000; i++) {
      // Points span one grid width beyond each side; random doubles almost never sit on a boundary.
      const p = [0, 1, 2].map((a) => m[a]! + (r(1 << 20) / (1 << 20)) * 3 * d[a]! * cs - d[a]! * cs);
      expect(cellOf(p[0]!, p[1]!, p[2]!, m, cs, d)).toBe(naiveCell(p, m, cs, d));
    }
  });

  it('always returns an integer cell inside the grid', () => {
    const r = drawer(22);
    const d = [5, 1, 9];
    for (let i = 0; i < 5000; i++) {
      const p = [0, 1, 2].map(() => (r(2001) - 1000) / 7);
      const c = cellOf(p[0]!, p[1]!, p[2]!, [0, 0, 0], 1.3, d);
      expect(Number.isInteger(c) && c >= 0 && c < 45).toBe(true);
    }
  });
});
