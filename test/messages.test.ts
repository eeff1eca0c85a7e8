/**
 * Every delivery kind of ARCHITECTURE §3 against a host oracle computed by brute force, on one
 * thread and on three (with `inlineBelow: 0`, so partitions really run in worker threads).
 * Receivers fold what they read, in the order they read it, into an order-sensitive hash
 * (test/fixtures/messages.ts), so the checks cover read order, not only sums; the sorted message
 * views (`messageIn`, `messageColumns`, `graph`) are compared record by record as well.
 */
import { describe, expect, it } from 'vitest';
import { defineActor, defineModel, compileModel, type ModelDecl } from '../src/model.js';
import { moduleUrl } from '../src/module-url.js';
import { hash32, uniform } from '../src/rng.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';
import {
  arrayA,
  arrayB,
  arrayC,
  arrayIndex,
  bucketPlan,
  bucketV,
  bucketW,
  BUCKET_MAX,
  DIRECT_MAX,
  directPlan,
  directTag,
  directVal,
  f32bits,
  fold,
  FOLD_START,
  spatialPublishes,
  spatialX,
} from './fixtures/messages.js';

const KERNELS = moduleUrl(import.meta.url, './fixtures/messages');

const CONFIGS: (SimulationOptions & { label: string })[] = [
  { label: '1 thread', workers: 1 },
  { label: '3 threads, worker partitions', workers: 3, inlineBelow: 0 },
];

/** Creates the simulation, runs `init`, then `steps` steps with `check(sim, step)` after each. */
async function runChecked(decl: ModelDecl, opts: SimulationOptions, steps: number, init: (sim: Simulation) => void, check: (sim: Simulation, step: number) => void): Promise<void> {
  const sim = await Simulation.create(compileModel(decl), opts);
  try {
    init(sim);
    for (let s = 0; s < steps; s++) {
      sim.stepOnce();
      check(sim, s);
    }
  } finally {
    await sim.close();
  }
}

/** Compares a typed-array prefix with expected numbers, reporting the first differing index. */
function expectPrefix(what: string, actual: ArrayLike<number>, expected: readonly number[]): void {
  const got = Array.from({ length: expected.length }, (_, i) => actual[i]!);
  const bad = got.findIndex((v, i) => !Object.is(v, expected[i]));
  expect(bad, `${what}: first difference at ${bad}: got ${got[bad]}, expected ${expected[bad]}`).toBe(-1);
}

// --- direct -----------------------------------------------------------------------------------

const N_SRC = 257;
const N_DST = 131;

const directDecl = defineModel({
  name: 'direct',
  actors: [
    defineActor({
      name: 'DSrc',
      kernels: KERNELS,
      state: {},
      params: { receivers: { default: N_DST } },
      messages: { msg: { fields: { tag: 'u32', val: 'f32' }, delivery: { type: 'direct', to: 'DDst', maxPerActor: DIRECT_MAX } } },
      functions: { send: { kernel: 'test.direct.send', outputs: ['DSrc.msg'] } },
    }),
    defineActor({
      name: 'DDst',
      kernels: KERNELS,
      state: { count: { type: 'u32' }, hash: { type: 'u32' }, sum: { type: 'f64' }, wakes: { type: 'u32' }, lastWake: { type: 'u32' } },
      functions: {
        recv: { kernel: 'test.direct.recv', writes: ['count', 'hash', 'sum'], inputs: ['DSrc.msg'] },
        wake: { kernel: 'test.direct.wake', reads: ['wakes'], writes: ['wakes', 'lastWake'], inputs: ['DSrc.msg'], activation: { type: 'onMessage', message: 'DSrc.msg' } },
      },
    }),
  ],
  // Capacities above the live counts: keys, senders and partitions must follow the live counts.
  population: { DSrc: { capacity: 300, count: N_SRC }, DDst: { capacity: 160, count: N_DST } },
});

describe.each(CONFIGS)('direct delivery ($label)', (cfg) => {
  it('delivers each record to its receiver in (sender, sequence) order; onMessage visits exactly the receivers', async () => {
    const wakes = new Array<number>(N_DST).fill(0);
    const lastWake = new Array<number>(N_DST).fill(0);
    let idleSeen = 0;
    await runChecked(directDecl, cfg, 3, () => {}, (sim, step) => {
      const lists: { sender: number; tag: number; val: number }[][] = Array.from({ length: N_DST }, () => []);
      for (let i = 0; i < N_SRC; i++) {
        directPlan(i, step, N_DST).forEach((r, j) => lists[r]!.push({ sender: i, tag: directTag(i, j, step), val: directVal(i, j, step) }));
      }
      const flat = lists.flat();
      const inp = sim.messageIn('DSrc.msg');
      expect(inp.count).toBe(flat.length);
      const offsets = [0];
      for (const l of lists) offsets.push(offsets[offsets.length - 1]! + l.length);
      expectPrefix('offsets', inp.offsets, offsets);
      expectPrefix('sorted senders', inp.sender, flat.map((m) => m.sender));
      expectPrefix('sorted tags', inp.fields.tag!, flat.map((m) => m.tag));
      expectPrefix('sorted vals', inp.fields.val!, flat.map((m) => m.val));

      const st = sim.state('DDst');
      const hashes = lists.map((l) => l.reduce((h, m) => fold(fold(fold(h, m.sender), m.tag), f32bits(m.val)), FOLD_START));
      expectPrefix('receiver counts', st.count!, lists.map((l) => l.length));
      expectPrefix('receiver hashes (read order)', st.hash!, hashes);
      expectPrefix('receiver sums', st.sum!, lists.map((l) => l.reduce((s, m) => s + m.val, 0)));
      lists.forEach((l, r) => {
        if (l.length > 0) {
          wakes[r]!++;
          lastWake[r] = step + 1;
        } else idleSeen++;
      });
      expectPrefix('onMessage visits', st.wakes!, wakes);
      expectPrefix('onMessage keeps idle actors', st.lastWake!, lastWake);
    });
    expect(idleSeen, 'the plan leaves some receivers without messages').toBeGreaterThan(0);
  });
});

// --- bucket -----------------------------------------------------------------------------------

const N_PT = 403;
const N_BOX = 37;
const OPS = ['count', 'sum', 'mean', 'std', 'min', 'max'] as const;

const bucketDecl = defineModel({
  name: 'bucket',
  actors: [
    defineActor({
      name: 'BPt',
      kernels: KERNELS,
      state: {},
      params: { boxes: { default: N_BOX } },
      messages: {
        msg: {
          fields: { v: 'f64', w: 'f32' },
          delivery: { type: 'bucket', to: 'BBox', maxPerActor: BUCKET_MAX, reduce: { v: [...OPS], w: ['max'] } },
        },
      },
      functions: { send: { kernel: 'test.bucket.send', outputs: ['BPt.msg'] } },
    }),
    defineActor({
      name: 'BBox',
      kernels: KERNELS,
      state: {
        count: { type: 'f64' },
        sum: { type: 'f64' },
        mean: { type: 'f64' },
        std: { type: 'f64' },
        min: { type: 'f64' },
        max: { type: 'f64' },
        wmax: { type: 'f64' },
        hash: { type: 'u32' },
      },
      functions: { collect: { kernel: 'test.bucket.collect', writes: [...OPS, 'wmax', 'hash'], inputs: ['BPt.msg'] } },
    }),
  ],
  population: { BPt: { capacity: 420, count: N_PT }, BBox: { capacity: 40, count: N_BOX } },
});

describe.each(CONFIGS)('bucket delivery ($label)', (cfg) => {
  it('reduces count/sum/mean/std/min/max per key like a naive loop, and keeps (sender, sequence) order', async () => {
    await runChecked(bucketDecl, cfg, 3, () => {}, (sim, step) => {
      const lists: { sender: number; v: number; w: number }[][] = Array.from({ length: 40 }, () => []);
      for (let i = 0; i < N_PT; i++) {
        bucketPlan(i, step, N_BOX).forEach((k, j) => lists[k]!.push({ sender: i, v: bucketV(i, j, step), w: Math.fround(bucketW(i, j, step)) }));
      }
      const inp = sim.messageIn('BPt.msg');
      const flat = lists.flat();
      expectPrefix('sorted senders', inp.sender, flat.map((m) => m.sender));
      expectPrefix('sorted v', inp.fields.v!, flat.map((m) => m.v));
      const st = sim.state('BBox');
      for (let k = 0; k < 40; k++) {
        const l = lists[k]!;
        const vs = l.map((m) => m.v);
        const n = vs.length;
        let sum = 0;
        for (const v of vs) sum += v;
        const mean = n > 0 ? sum / n : 0;
        let ss = 0;
        for (const v of vs) ss += (v - mean) ** 2;
        const std = n > 0 ? Math.sqrt(ss / n) : 0;
        const min = n > 0 ? Math.min(...vs) : Infinity;
        const max = n > 0 ? Math.max(...vs) : -Infinity;
        const r = inp.reduce.v!;
        const at = `key ${k} step ${step}`;
        expect(r.count![k], `count ${at}`).toBe(n);
        expect(r.sum![k], `sum ${at}`).toBe(sum); // multiples of 1/8: exact in any order
        expect(r.min![k], `min ${at}`).toBe(min);
        expect(r.max![k], `max ${at}`).toBe(max);
        expect(r.mean![k], `mean ${at}`).toBeCloseTo(mean, 10);
        expect(r.std![k], `std (population) ${at}`).toBeCloseTo(std, 10);
        expect(inp.reduce.w!.max![k], `w max ${at}`).toBe(n > 0 ? Math.max(...l.map((m) => m.w)) : -Infinity);
        expect(Object.keys(inp.reduce.w!), 'only the declared reductions of w').toEqual(['max']);
        if (k < N_BOX) {
          expect(st.count![k], `kernel count ${at}`).toBe(n);
          expect(st.std![k], `kernel std ${at}`).toBeCloseTo(std, 10);
          expect(st.min![k], `kernel min ${at}`).toBe(n > 0 ? min : 0);
          expect(st.hash![k], `kernel read order ${at}`).toBe(l.reduce((h, m) => fold(fold(h, m.sender), m.v * 8), FOLD_START));
        }
      }
      expect(lists.slice(N_BOX - 3, N_BOX).every((l) => l.length === 0), 'the plan leaves the last 3 boxes empty').toBe(true);
      expect(Math.max(...lists.map((l) => l.length)), 'some boxes get many records').toBeGreaterThan(10);
    });
  });
});

// --- array ------------------------------------------------------------------------------------

const N_PUB = 50;
const N_SUB = 77;

const arrayDecl = defineModel({
  name: 'array',
  actors: [
    defineActor({
      name: 'APub',
      kernels: KERNELS,
      state: {},
      messages: { rec: { fields: { a: 'f32', b: 'i32', c: 'u32' }, delivery: { type: 'array' } } },
      functions: { publish: { kernel: 'test.array.publish', outputs: ['APub.rec'] } },
    }),
    defineActor({
      name: 'ASub',
      kernels: KERNELS,
      state: { ra: { type: 'f32' }, rb: { type: 'i32' }, rc: { type: 'u32' }, all: { type: 'u32' } },
      params: { publishers: { default: N_PUB } },
      functions: { read: { kernel: 'test.array.read', writes: ['ra', 'rb', 'rc', 'all'], inputs: ['APub.rec'] } },
    }),
  ],
  population: { APub: { capacity: 64, count: N_PUB }, ASub: { capacity: N_SUB } },
});

describe.each(CONFIGS)('array delivery ($label)', (cfg) => {
  it('reads the record of a sender by index and all records in index order, in the step they were written', async () => {
    await runChecked(arrayDecl, cfg, 3, () => {}, (sim, step) => {
      const cols = sim.messageColumns('APub.rec');
      const idx = Array.from({ length: N_PUB }, (_, i) => i);
      expectPrefix('column a', cols.a!, idx.map((i) => Math.fround(arrayA(i, step))));
      expectPrefix('column b', cols.b!, idx.map((i) => arrayB(i, step)));
      expectPrefix('column c', cols.c!, idx.map((i) => arrayC(i, step)));
      const st = sim.state('ASub');
      const sub = Array.from({ length: N_SUB }, (_, j) => arrayIndex(j, step, N_PUB));
      expectPrefix('read a by index', st.ra!, sub.map((k) => Math.fround(arrayA(k, step))));
      expectPrefix('read b by index', st.rb!, sub.map((k) => arrayB(k, step)));
      expectPrefix('read c by index', st.rc!, sub.map((k) => arrayC(k, step)));
      const all = idx.reduce((h, i) => fold(h, arrayC(i, step)), FOLD_START);
      expectPrefix('broadcast read of every record', st.all!, sub.map(() => all));
    });
  });
});

// --- spatial ----------------------------------------------------------------------------------

const N_SP = 600;
const RADIUS = 1;
const GRID_MIN = [0, 0, 0] as const;
const GRID_MAX = [6, 5.5, 6.3] as const; // dims 6 × 6 × 7: not a cube, so axis order in the key matters

const spatialDecl = defineModel({
  name: 'spatial',
  actors: [
    defineActor({
      name: 'SPt',
      kernels: KERNELS,
      state: { x: { type: 'f32' }, y: { type: 'f32' }, z: { type: 'f32' }, count: { type: 'u32' }, hash: { type: 'u32' }, bad: { type: 'u32' } },
      messages: {
        loc: { fields: { x: 'f32', y: 'f32', z: 'f32', id: 'u32' }, delivery: { type: 'spatial', radius: RADIUS, min: GRID_MIN, max: GRID_MAX } },
      },
      functions: {
        publish: { kernel: 'test.spatial.publish', reads: ['x', 'y', 'z'], outputs: ['SPt.loc'] },
        scan: { kernel: 'test.spatial.scan', reads: ['x', 'y', 'z'], writes: ['count', 'hash', 'bad'], inputs: ['SPt.loc'] },
      },
    }),
  ],
  population: { SPt: { capacity: 640, count: N_SP } },
});

const DIMS = [0, 1, 2].map((a) => Math.ceil((GRID_MAX[a]! - GRID_MIN[a]!) / RADIUS));
/** Oracle cell key: per axis ⌊(p − min) / r⌋ clamped into the grid, x fastest. */
function cellKey(p: readonly number[]): number {
  const c = [0, 1, 2].map((a) => Math.min(DIMS[a]! - 1, Math.max(0, Math.floor((p[a]! - GRID_MIN[a]!) / RADIUS))));
  return (c[2]! * DIMS[1]! + c[1]!) * DIMS[0]! + c[0]!;
}
function outside(p: readonly number[]): boolean {
  return p.some((v, a) => v < GRID_MIN[a]! || v >= GRID_MAX[a]!);
}

function spatialInit(sim: Simulation): void {
  const s = sim.state('SPt');
  for (let i = 0; i < N_SP; i++) {
    // Uniform over a box 1.5 wider than the grid on every side: ~40% of actors lie outside it.
    for (const [a, col] of [s.x!, s.y!, s.z!].entries()) col[i] = -1.5 + uniform(5, 0, i, 0, 0, a) * (GRID_MAX[a]! + 3);
  }
  // Hand-placed pairs that sit in different partitions (ids far apart):
  const place = (i: number, p: [number, number, number]): void => {
    s.x![i] = p[0];
    s.y![i] = p[1];
    s.z![i] = p[2];
  };
  place(0, [-3, -3, -3]); // both far outside the low corner: clamped into cell 0, still neighbours
  place(599, [-3.5, -3.2, -3]);
  place(1, [-0.2, 3, 3]); // one outside the x = 0 face, one inside the border cell
  place(598, [0.5, 3, 3]);
  place(2, [9, 9, 9]); // both far outside the high corner
  place(597, [9.6, 9.2, 9]);
  place(4, [2.95, 2.5, 2.5]); // across a cell boundary inside the grid
  place(596, [3.05, 2.5, 2.5]);
}

describe.each(CONFIGS)('spatial delivery ($label)', (cfg) => {
  it('finds exactly the neighbours within the radius, across partitions and outside the grid, in (cell, sender) order', async () => {
    const coverage = { crossPartition: 0, bothOutside: 0, oneOutside: 0 };
    await runChecked(spatialDecl, cfg, 3, spatialInit, (sim, step) => {
      const s = sim.state('SPt');
      const pos = Array.from({ length: N_SP }, (_, i) => [spatialX(s.x![i]!, step), s.y![i]!, s.z![i]!] as const);
      // Index check: every published record in the cell of its position, senders ascending per cell.
      const inp = sim.messageIn('SPt.loc');
      const cells = DIMS[0]! * DIMS[1]! * DIMS[2]!;
      const byCell: number[][] = Array.from({ length: cells }, () => []);
      for (let i = 0; i < N_SP; i++) if (spatialPublishes(i)) byCell[cellKey(pos[i]!)]!.push(i);
      const flat = byCell.flat();
      expect(inp.count).toBe(flat.length);
      expect(inp.grid?.dims).toEqual(DIMS);
      const offsets = [0];
      for (const l of byCell) offsets.push(offsets[offsets.length - 1]! + l.length);
      expectPrefix('cell offsets', inp.offsets, offsets);
      expectPrefix('senders by (cell, sender)', inp.sender, flat);
      expectPrefix('record x', inp.fields.x!, flat.map((i) => pos[i]![0]));
      expectPrefix('record id', inp.fields.id!, flat);
      // Brute force over all pairs, with the same f32 inputs and arithmetic as the kernel.
      const part = (i: number): number => Math.floor(i / Math.ceil(N_SP / 3));
      const counts: number[] = [];
      const hashes: number[] = [];
      for (let i = 0; i < N_SP; i++) {
        const [x1, y1, z1] = pos[i]!;
        const found: number[] = [];
        for (let j = 0; j < N_SP; j++) {
          if (j === i || !spatialPublishes(j)) continue;
          const [x2, y2, z2] = pos[j]!;
          const dx = x2 - x1;
          const dy = y2 - y1;
          const dz = z2 - z1;
          if (dx * dx + dy * dy + dz * dz < RADIUS * RADIUS) {
            found.push(j);
            if (part(i) !== part(j)) coverage.crossPartition++;
            const out = Number(outside(pos[i]!)) + Number(outside(pos[j]!));
            if (out === 2) coverage.bothOutside++;
            if (out === 1) coverage.oneOutside++;
          }
        }
        found.sort((a, b) => cellKey(pos[a]!) - cellKey(pos[b]!) || a - b);
        counts.push(found.length);
        hashes.push(found.reduce(fold, FOLD_START));
      }
      expectPrefix('neighbour counts', s.count!, counts);
      expectPrefix('neighbour hashes (read order)', s.hash!, hashes);
      expectPrefix('payload travelled with its sender', s.bad!, counts.map(() => 0));
    });
    expect(coverage.crossPartition, 'pairs across partitions').toBeGreaterThan(100);
    expect(coverage.bothOutside, 'pairs with both actors outside the grid').toBeGreaterThan(10);
    expect(coverage.oneOutside, 'pairs with one actor outside the grid').toBeGreaterThan(10);
  });
});

// --- graph ------------------------------------------------------------------------------------

const N_A = 40;
const N_B = 33;
const N_EDGES = 150;

const graphDecl = defineModel({
  name: 'graph',
  actors: [
    defineActor({
      name: 'GA',
      kernels: KERNELS,
      state: { bcount: { type: 'u32' }, bhash: { type: 'u32' } },
      messages: { f: { fields: { val: 'f32', tag: 'u32' }, delivery: { type: 'graph', graph: 'g', direction: 'forward' } } },
      functions: {
        forward: { kernel: 'test.graph.forward', outputs: ['GA.f'] },
        readBackward: { kernel: 'test.graph.readBackward', writes: ['bcount', 'bhash'], inputs: ['GB.b'] },
      },
    }),
    defineActor({
      name: 'GB',
      kernels: KERNELS,
      state: { fcount: { type: 'u32' }, fhash: { type: 'u32' } },
      messages: { b: { fields: { val: 'f32', tag: 'u32' }, delivery: { type: 'graph', graph: 'g', direction: 'backward' } } },
      functions: {
        backward: { kernel: 'test.graph.backward', outputs: ['GB.b'] },
        readForward: { kernel: 'test.graph.readForward', writes: ['fcount', 'fhash'], inputs: ['GA.f'] },
      },
    }),
  ],
  population: { GA: { capacity: 48, count: N_A }, GB: { capacity: 36, count: N_B } },
  graphs: { g: { from: 'GA', to: 'GB', fields: { weight: 'f32', tag: 'u32' }, maxEdges: 160 } },
});

/** Edges in input order (unsorted, with repeats); sources ≥ 35 and destinations ≥ 30 have none. */
function graphEdges(): { src: number[]; dst: number[]; weight: number[]; tag: number[] } {
  const src: number[] = [];
  const dst: number[] = [];
  for (let e = 0; e < N_EDGES - 2; e++) {
    src.push(hash32(21, 0, e, 0, 0, 0) % 35);
    dst.push(hash32(21, 0, e, 0, 1, 0) % 30);
  }
  src.push(src[0]!, src[0]!); // a repeated edge, twice more
  dst.push(dst[0]!, dst[0]!);
  const weight = src.map((_, e) => Math.fround(1 + (hash32(21, 0, e, 0, 2, 0) % 100) / 50));
  const tag = src.map((_, e) => e);
  return { src, dst, weight, tag };
}

describe.each(CONFIGS)('graph delivery ($label)', (cfg) => {
  it('reads forward records on in-edges in (source, edge) order and backward records on out-edges in edge order', async () => {
    const E = graphEdges();
    const edges = E.src.map((s, e) => ({ src: s, dst: E.dst[e]!, weight: E.weight[e]!, tag: E.tag[e]! }));
    // Stored edge order: by source, then input order.
    const stored = [...edges].sort((a, b) => a.src - b.src || a.tag - b.tag);
    await runChecked(
      graphDecl,
      cfg,
      2,
      (sim) => sim.setGraph('g', E.src, E.dst, { weight: E.weight, tag: E.tag }),
      (sim, step) => {
        const g = sim.graph('g');
        expect(g.edges).toBe(N_EDGES);
        expectPrefix('rowPtr', g.rowPtr, Array.from({ length: N_A + 1 }, (_, i) => stored.filter((e) => e.src < i).length));
        expectPrefix('inRowPtr', g.inRowPtr, Array.from({ length: N_B + 1 }, (_, r) => stored.filter((e) => e.dst < r).length));
        expectPrefix('edge tags', g.fields.tag!, stored.map((e) => e.tag));
        expectPrefix('edge dst', g.dst, stored.map((e) => e.dst));
        const fwd = sim.messageColumns('GA.f');
        expectPrefix('forward records per edge', fwd.val!, stored.map((e) => Math.fround((e.src * 0.5 + step) * e.weight)));

        const st = sim.state('GB');
        const fHash: number[] = [];
        const fCount: number[] = [];
        for (let r = 0; r < N_B; r++) {
          const ins = edges.filter((e) => e.dst === r).sort((a, b) => a.src - b.src || a.tag - b.tag);
          fCount.push(ins.length);
          fHash.push(ins.reduce((h, e) => fold(fold(fold(h, e.src), e.tag), f32bits((e.src * 0.5 + step) * e.weight)), FOLD_START));
        }
        expectPrefix('forward: in-edge counts', st.fcount!, fCount);
        expectPrefix('forward: read order (source, edge)', st.fhash!, fHash);

        const sa = sim.state('GA');
        const bHash: number[] = [];
        const bCount: number[] = [];
        for (let i = 0; i < N_A; i++) {
          const outs = edges.filter((e) => e.src === i);
          bCount.push(outs.length);
          bHash.push(outs.reduce((h, e) => fold(fold(fold(h, e.dst), e.tag), f32bits(e.dst * 2 + step + e.weight)), FOLD_START));
        }
        expectPrefix('backward: out-edge counts', sa.bcount!, bCount);
        expectPrefix('backward: read order (edge)', sa.bhash!, bHash);
        expect(fCount.slice(30).every((c) => c === 0) && bCount.slice(35).every((c) => c === 0), 'some actors have no edges').toBe(true);
      },
    );
  });
});
