/**
 * The reductions-only bucket index (delivery `readRecords: false`, sim/simulation.ts reduceBySender):
 * against the sorted path (countingSortByKey + gather + segmentReduce, bit for bit) and against a host
 * oracle written here (records grouped per key by a plain loop, statistics in f64), directly on
 * random records with one and several records per sender, and in the engine on the water-filling
 * compat model (whose shells read only the reductions) on 1 and 2 workers.
 */
import { describe, expect, it } from 'vitest';
import { syntheticPoints } from '../actors/water-filling/data.js';
import { shellGeometry } from '../actors/water-filling/geometry.js';
import { waterFillingModel } from '../actors/water-filling/index.js';
import { initialState, PASS_DEFAULTS, type PassOptions } from '../actors/water-filling/reference.js';
import { countingSortByKey, gather, segmentReduce } from '../kernels/common/cpu.js';
import { writeInitialState } from '../scenarios/water-filling.js';
import { freshCopy, specialisedCopies } from '../kernels/common/specialize.js';
import { makeReduceOneLoops, reduceBySender, Simulation } from '../sim/simulation.js';
import { compileModel, type ModelDecl } from '../src/model.js';
import { randomRecords } from './fixtures/records.js';

const OPS = ['count', 'sum', 'mean', 'std', 'min', 'max'] as const;
type Out = Record<(typeof OPS)[number], Float64Array>;

const newOut = (keys: number): Out => Object.fromEntries(OPS.map((op) => [op, new Float64Array(keys)])) as Out;

describe('reduceBySender', () => {
  for (const maxPer of [1, 3]) {
    it(`equals the sorted path bit for bit and the host oracle (maxPerActor ${maxPer})`, () => {
      const senders = 20_000;
      const keys = 97;
      const { sent, key, values } = randomRecords(senders, maxPer, keys, 11 + maxPer);
      // Sorted path.
      const offsets = new Uint32Array(keys + 1);
      const perm = new Uint32Array(senders * maxPer);
      const sender = new Uint32Array(senders * maxPer);
      const total = countingSortByKey(senders, maxPer, sent, key, keys, offsets, perm, sender, new Uint32Array(keys));
      const sorted = new Float32Array(total);
      gather(sorted, values, perm, total);
      const a = newOut(keys);
      segmentReduce(sorted, offsets, keys, a);
      // Fast path.
      const offsets2 = new Uint32Array(keys + 1).fill(123);
      const b = newOut(keys);
      const total2 = reduceBySender(senders, maxPer, sent, key, keys, offsets2, [{ values, out: b }], new Float64Array(keys), new Float64Array(keys));
      expect(total2).toBe(total);
      expect(offsets2).toEqual(offsets);
      for (const op of OPS) expect(b[op], op).toEqual(a[op]);
      // Host oracle: each key's values collected by a plain loop.
      const groups: number[][] = Array.from({ length: keys }, () => []);
      for (let s = 0; s < senders; s++) for (let j = 0; j < sent[s]!; j++) groups[key[s * maxPer + j]!]!.push(values[s * maxPer + j]!);
      let empty = 0;
      for (let k = 0; k < keys; k++) {
        const g = groups[k]!;
        expect(b.count[k]).toBe(g.length);
        if (g.length === 0) {
          empty++;
          expect([b.sum[k], b.mean[k], b.std[k], b.min[k], b.max[k]]).toEqual([0, 0, 0, Infinity, -Infinity]);
          continue;
        }
        const mean = g.reduce((x, y) => x + y, 0) / g.length;
        const std = Math.sqrt(g.reduce((x, y) => x + (y - mean) ** 2, 0) / g.length);
        expect(b.mean[k]).toBeCloseTo(mean, 8);
        expect(b.sum[k]).toBeCloseTo(mean * g.length, 5);
        expect(b.std[k]).toBeCloseTo(std, 8);
        expect(b.min[k]).toBe(Math.min(...g));
        expect(b.max[k]).toBe(Math.max(...g));
      }
      expect(empty).toBeGreaterThan(0);
      expect(empty).toBeLessThan(keys / 2);
    });
  }

  it('the loops compiled over one message’s arrays (makeReduceOneLoops through freshCopy) give the same bits', () => {
    const senders = 30_000;
    const keys = 53;
    const { sent, key, values } = randomRecords(senders, 1, keys, 9);
    const made = (specialisedCopies().makeReduceOneLoops ?? 0) + 1;
    // With and without `sum` and `mean` among the requested reductions (else the scratch holds them).
    for (const ops of [['count', 'mean', 'std'], ['count', 'sum', 'mean', 'std'], ['std'], ['sum', 'mean']] as const) {
      const plainOut = Object.fromEntries(ops.map((op) => [op, new Float64Array(keys)]));
      const plainTotal = reduceBySender(senders, 1, sent, key, keys, new Uint32Array(keys + 1), [{ values, out: plainOut }], new Float64Array(keys), new Float64Array(keys));
      const out = Object.fromEntries(ops.map((op) => [op, new Float64Array(keys)])) as Partial<Out>;
      const offsets = new Uint32Array(keys + 1);
      const sumS = new Float64Array(keys);
      const meanS = new Float64Array(keys);
      const loops = freshCopy(makeReduceOneLoops)(sent, key, values, offsets, out.sum ?? sumS, out.mean ?? meanS, sumS);
      // Twice: the second call must not see the first one's sums.
      for (let rep = 0; rep < 2; rep++) {
        expect(reduceBySender(senders, 1, sent, key, keys, offsets, [{ values, out }], sumS, meanS, loops)).toBe(plainTotal);
        for (const op of ops) expect(out[op], op).toEqual(plainOut[op]);
      }
    }
    expect(specialisedCopies().makeReduceOneLoops).toBeGreaterThanOrEqual(made);
  });

  it('fills only the requested reductions (std without sum or mean uses the scratch)', () => {
    const senders = 5000;
    const keys = 31;
    const { sent, key, values } = randomRecords(senders, 1, keys, 5);
    const all = newOut(keys);
    reduceBySender(senders, 1, sent, key, keys, new Uint32Array(keys + 1), [{ values, out: all }], new Float64Array(keys), new Float64Array(keys));
    const std = new Float64Array(keys);
    const count = new Float64Array(keys);
    reduceBySender(senders, 1, sent, key, keys, new Uint32Array(keys + 1), [{ values, out: { std, count } }], new Float64Array(keys), new Float64Array(keys));
    expect(std).toEqual(all.std);
    expect(count).toEqual(all.count);
  });
});

describe('readRecords: false in the engine', () => {
  const pts = syntheticPoints({ n: 20_000, dim: 16, data: 'clustered', seed: 4 });
  const g = shellGeometry({ shells: 96, rMin: 128, rMax: 1024 }, pts.n);

  async function run(sortedSample: boolean, workers: number, passes: number) {
    const o: PassOptions = { ...PASS_DEFAULTS, mode: 'compat', seed: 1 };
    const spec = compileModel(waterFillingModel({ mode: 'compat', points: pts.n, geometry: g, pass: o, sortedSample }));
    const sim = await Simulation.create(spec, { workers, seed: 1, inlineBelow: workers > 1 ? 0 : 16384 });
    writeInitialState(sim, pts, g, initialState(pts, g), 'compat', o.lateral, 1);
    const reductions: { count: Float64Array; mean: Float64Array; std: Float64Array; offsets: Uint32Array; records: number; fields: number; senders: number }[] = [];
    for (let pass = 0; pass < passes; pass++) {
      sim.stepOnce();
      const m = sim.messageIn('Point.sample');
      const r = m.reduce.norm!;
      reductions.push({ count: r.count!.slice(), mean: r.mean!.slice(), std: r.std!.slice(), offsets: m.offsets.slice(0, g.shells + 1), records: m.count, fields: Object.keys(m.fields).length, senders: m.sender.length });
    }
    const checksum = sim.checksum();
    await sim.close();
    return { reductions, checksum };
  }

  it('gives the sorted path’s reductions, offsets and state bit for bit, on 1 and 2 workers', async () => {
    const passes = 6;
    const sorted = await run(true, 1, passes);
    expect(sorted.reductions[0]!.fields).toBe(1);
    for (const workers of [1, 2]) {
      const fast = await run(false, workers, passes);
      expect(fast.checksum).toBe(sorted.checksum);
      for (let p = 0; p < passes; p++) {
        const a = sorted.reductions[p]!;
        const b = fast.reductions[p]!;
        expect(b.records).toBe(pts.n);
        expect(b.records).toBe(a.records);
        expect(b.offsets).toEqual(a.offsets);
        expect(b.count).toEqual(a.count);
        expect(b.mean).toEqual(a.mean);
        expect(b.std).toEqual(a.std);
        // No records are delivered on the fast path.
        expect(b.fields).toBe(0);
        expect(b.senders).toBe(0);
      }
    }
    // The passes moved points: the reductions changed between the first and the last.
    expect(sorted.reductions[passes - 1]!.count).not.toEqual(sorted.reductions[0]!.count);
  });

  it('rejects a readRecords that is not a boolean', () => {
    const decl = waterFillingModel({ mode: 'compat', points: 100, geometry: shellGeometry({ shells: 8, rMin: 128, rMax: 1024 }, 100) });
    const point = decl.actors[0]!;
    const bad: ModelDecl = {
      ...decl,
      actors: [{ ...point, messages: { ...point.messages, sample: { fields: { norm: 'f32' }, delivery: { type: 'bucket', to: 'Shell', maxPerActor: 1, readRecords: 'no' as unknown as boolean } } } }, ...decl.actors.slice(1)],
    };
    expect(() => compileModel(bad)).toThrow(/readRecords/);
  });
});
