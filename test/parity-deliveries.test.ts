/**
 * `deliveries` on cpu and webgpu: the scenario that uses every delivery kind (direct, bucket with
 * reductions, array, spatial, graph forward and backward), onMessage and every-k activation and the
 * RNG, compared field by field after every step, then end to end through runScenario.
 *
 * What must agree, and why (actors/deliveries explains the construction):
 * - bit for bit: every integer field (balances, transfers, 64-bit sums as lo/hi words, neighbour
 *   counts, pings, ticks, hub counts and exact sums) and the positions, which stay multiples of 2^-16
 *   so that f32 arithmetic on them is exact; hub min and max (exact reductions of the balances).
 *   The transfers (u32 draws), pings (uniform and u32 draws) and jiggle moves (u32 draws) make the
 *   state depend on the RNG at every step, so equal state means equal RNG streams.
 * - within {@link REDUCE_TOLERANCE} (relative 1e-5, the declared bound of the GPU's f32 segment
 *   reductions against the CPU's f64 ones: |Δ| ≤ relative · (|cpu| + scale), scale = mean |x| of the
 *   hub's balances = its mean, since balances are ≥ 0): hub mean and std, and each node's copy of its
 *   hub's mean. Measured on lavapipe: see the console line of the step test.
 * - metrics: all exact except `hubMeanTotal` (Σ over nodes of their hub's mean), within
 *   2 · relative of the total balance.
 * The integer formulas in WGSL (64-bit products and sums from 32-bit words, transfer amounts, edge
 * flows, jiggle moves) are also checked on edge and random inputs beyond what a small run reaches:
 * a small run never fills the high words.
 * Without an adapter the GPU suites are skipped visibly, with the reason in their names.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { edgeFlow, jiggleMove, transferAmount } from '../actors/deliveries/index.js';
import { FORMULAS_WGSL, WIDE_WGSL } from '../kernels/deliveries/webgpu.js';
import deliveries from '../scenarios/deliveries.js';
import { UsageError } from '../src/errors.js';
import { compileModel } from '../src/model.js';
import { hash32 } from '../src/rng.js';
import type { TypedArray } from '../src/types.js';
import { f64ColumnNames } from '../sim/backend.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { GpuCompute } from '../sim/gpu/compute.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { REDUCE_TOLERANCE } from '../sim/gpu/primitives.js';
import { runScenario } from '../sim/run.js';
import { parseParams } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;

const SET = { n: '1500', hubs: '7' } as const;
/** Jiggle (every 3 steps) runs at steps 0, 3 and 6. */
const STEPS = 7;
const SEED = 11;
const REL = REDUCE_TOLERANCE.relative;

type State = Record<string, TypedArray>;
/** Fields compared within a tolerance (absolute, from the CPU state at slot i); all others bit for bit. */
const CLOSE: Record<string, Record<string, (s: State, i: number) => number>> = {
  Node: { hubMean: (s, i) => 2 * REL * Math.abs(s.hubMean![i]!) },
  Hub: { mean: (s, i) => 2 * REL * Math.abs(s.mean![i]!), std: (s, i) => REL * (Math.abs(s.std![i]!) + Math.abs(s.mean![i]!)) },
};

describe('deliveries on every backend (no device needed)', () => {
  it('declares no f64 column, so selectBackend does not refuse it on webgpu', () => {
    expect(f64ColumnNames(compileModel(deliveries.setup(parseParams(deliveries, SET)).model))).toEqual([]);
  });

  it('refuses a radius that is not a multiple of 1/256 (the neighbour test would not be exact)', () => {
    expect(() => deliveries.setup(parseParams(deliveries, { radius: '0.1' }))).toThrow(UsageError);
    expect(() => deliveries.setup(parseParams(deliveries, { radius: '0.1' }))).toThrow(/--set radius=0\.1: must be a multiple of 1\/256 \(e\.g\. 0\.1015625\)/);
    expect(() => deliveries.setup(parseParams(deliveries, { radius: '1.5' }))).not.toThrow();
  });
});

const TWO32 = 2n ** 32n;
const U64 = 2n ** 64n;

describe.skipIf(!probe.ok)(`deliveries parity, cpu vs webgpu${reason}`, () => {
  const device = probe.ok ? probe : undefined;
  afterAll(() => {
    if (probe.ok) probe.destroy();
  });

  it('WGSL 64-bit words and integer formulas equal the TypeScript ones bit for bit on edge and random inputs', async () => {
    const edges = [0, 1, 2, 63, 64, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffeffff, 0xffffffff];
    const cases: number[][] = [];
    for (const a of edges) for (const b of edges) cases.push([a, b]);
    for (let k = 0; k < 4096; k++) cases.push([hash32(3, 0, k, 0, 0, 0), hash32(3, 0, k, 0, 0, 1)]);
    // Per case: a, b, value (a balance, < 2^31), draw, weight bits (f32 in [0, 1]), three jiggle draws.
    const input = new Uint32Array(8 * cases.length);
    cases.forEach(([a, b], k) => {
      const h = (c: number): number => hash32(5, 0, k, 0, 0, c);
      const value = k < edges.length ** 2 ? [0, 1, 63, 64, 65535, 65536, 0x7fffffff][k % 7]! : h(0) >>> (h(1) % 32) >>> 1;
      const weight = k % 3 === 0 ? (h(2) % 65) / 64 : Math.fround((h(2) >>> 8) / 2 ** 24);
      input.set([a!, b!, value, k % 5 === 0 ? [0, 0xffffffff][k % 2]! : h(3), new Uint32Array(Float32Array.of(weight).buffer)[0]!, h(4), h(5), h(6)], 8 * k);
    });
    const gpu = new GpuCompute(device!.device);
    try {
      const kernel = await gpu.kernel({
        label: 'test.deliveries.formulas',
        entryPoint: 'main',
        bindings: { 0: 'read-only-storage', 1: 'storage' },
        code: /* wgsl */ `${WIDE_WGSL}${FORMULAS_WGSL}
@group(0) @binding(0) var<storage, read> cases: array<u32>;
@group(0) @binding(1) var<storage, read_write> results: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let k = (wid.x + wid.y * nwg.x) * 64u + t;
  if (k >= arrayLength(&cases) / 8u) { return; }
  let at = 8u * k;
  let a = cases[at];
  let b = cases[at + 1u];
  let value = i32(cases[at + 2u]);
  let m = wide_mul(a, b);
  let s = wide_add(m, wide_from_i32(bitcast<i32>(b)));
  results[at] = m.x;
  results[at + 1u] = m.y;
  results[at + 2u] = s.x;
  results[at + 3u] = s.y;
  results[at + 4u] = select(0u, 1u, wide_less(m, vec2u(b, a)));
  results[at + 5u] = bitcast<u32>(deliveries_transfer_amount(value, a % 32769u, cases[at + 3u]));
  results[at + 6u] = bitcast<u32>(deliveries_edge_flow(bitcast<f32>(cases[at + 4u]), value));
  results[at + 7u] = bitcast<u32>(deliveries_jiggle_move(b % 65537u, cases[at + 5u], cases[at + 6u], cases[at + 7u]));
}`,
      });
      const inBuf = gpu.createBuffer({ label: 'cases', data: input });
      const outBuf = gpu.createBuffer({ label: 'results', size: input.byteLength });
      const batch = gpu.batch('formulas');
      batch.dispatch(kernel, { 0: inBuf, 1: outBuf }, Math.ceil(cases.length / 64));
      const read = batch.read(outBuf);
      await batch.submit();
      const out = read.u32();
      const weights = new Float32Array(input.buffer);
      for (let k = 0; k < cases.length; k++) {
        const at = 8 * k;
        const [a, b, value, draw] = [input[at]!, input[at + 1]!, input[at + 2]!, input[at + 3]!];
        const m = BigInt(a) * BigInt(b);
        const s = (m + BigInt.asUintN(64, BigInt(b | 0))) % U64;
        const expected = [
          Number(m % TWO32),
          Number(m / TWO32),
          Number(s % TWO32),
          Number(s / TWO32),
          m < BigInt(a) * TWO32 + BigInt(b) ? 1 : 0,
          transferAmount(value, a % 32769, draw) >>> 0,
          edgeFlow(weights[at + 4]!, value) >>> 0,
          jiggleMove(b % 65537, input[at + 5]!, input[at + 6]!, input[at + 7]!) >>> 0,
        ];
        const got = Array.from(out.subarray(at, at + 8));
        if (got.some((g, j) => g !== expected[j])) {
          expect.fail(`case ${k} (a ${a}, b ${b}, value ${value}, draw ${draw}, weight ${weights[at + 4]}): webgpu [${got.join(', ')}] vs cpu [${expected.join(', ')}]`);
        }
      }
      inBuf.destroy();
      outBuf.destroy();
    } finally {
      gpu.destroy();
    }
  });

  it(`matches the CPU after each of ${STEPS} steps: integers and positions bit for bit, hub mean and std within REDUCE_TOLERANCE`, async () => {
    const params = parseParams(deliveries, SET);
    const setup = deliveries.setup(params);
    const spec = compileModel(setup.model);
    const cpu = await Simulation.create(spec, { workers: 1, seed: SEED });
    const gpu = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
    try {
      await setup.init(cpu);
      await setup.init(gpu);
      const x0 = Float32Array.from(cpu.state('Node').x!);
      const worst: Record<string, number> = {};
      const seen = { transferred: 0, neighbours: 0, pings: 0, flows: 0, hubStd: 0 };
      for (let step = 0; step < STEPS; step++) {
        cpu.stepOnce();
        await gpu.stepOnce();
        await gpu.sync();
        for (const kind of spec.kinds) {
          const a = cpu.state(kind.name);
          const b = gpu.state(kind.name);
          const n = cpu.count(kind.name);
          for (const f of kind.fields) {
            const tol = CLOSE[kind.name]?.[f.name];
            const ca = a[f.name]!;
            const cb = b[f.name]!;
            for (let i = 0; i < n; i++) {
              if (tol) {
                const d = Math.abs(ca[i]! - cb[i]!);
                if (!(d <= tol(a, i))) expect.fail(`step ${step}: ${kind.name}.${f.name}[${i}]: webgpu ${cb[i]} vs cpu ${ca[i]} (|d| = ${d} > ${tol(a, i)})`);
                const r = d / Math.max(1, Math.abs(ca[i]!));
                if (!(r <= (worst[`${kind.name}.${f.name}`] ?? 0))) worst[`${kind.name}.${f.name}`] = r;
              } else if (!Object.is(ca[i], cb[i])) {
                expect.fail(`step ${step}: ${kind.name}.${f.name}[${i}]: webgpu ${cb[i]} vs cpu ${ca[i]} (${f.type}, must be equal)`);
              }
            }
          }
        }
        const s = cpu.state('Node');
        for (let i = 0; i < cpu.count('Node'); i++) {
          seen.transferred += s.outflow![i]!;
          seen.neighbours += s.neighbours![i]!;
          if (s.inflowLo![i] !== 0) seen.flows++;
        }
        const h = cpu.state('Hub');
        for (let k = 0; k < cpu.count('Hub'); k++) if (h.std![k]! > 0) seen.hubStd++;
        seen.pings = Array.from(s.pingsReceived!).reduce((p, q) => p + q, 0);
      }
      const rel = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`);
      console.log(`deliveries n=${SET.n}, ${STEPS} steps: integer fields and positions bit for bit; largest relative |webgpu − cpu|: ${rel.join(', ')} (tolerance ${2 * REL})`);
      // Not vacuous: tokens moved, nodes have neighbours and in-flows, pings arrived, hubs spread,
      // and jiggle moved the nodes.
      const n = Number(SET.n);
      expect(seen.transferred).toBeGreaterThan(n * 100);
      expect(seen.neighbours).toBeGreaterThan(n);
      expect(seen.flows).toBeGreaterThan(n);
      expect(seen.pings).toBeGreaterThan(n);
      expect(seen.hubStd).toBeGreaterThan(0);
      expect(cpu.state('Node').ticks![0]).toBe(3);
      let moved = 0;
      for (let i = 0; i < n; i++) if (cpu.state('Node').x![i] !== x0[i]) moved++;
      expect(moved).toBeGreaterThan(n * 0.9);
    } finally {
      await cpu.close();
      await gpu.close();
    }
  });

  it('records the same metrics through runScenario, validation ok on both', async () => {
    const run = (backend: 'cpu' | 'webgpu') => runScenario({ scenario: deliveries, steps: STEPS, set: SET, backend, workers: 1, seed: SEED, recordEvery: 1 });
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    for (const r of [cpu, gpu]) {
      expect(r.status, r.backend).toBe('completed');
      expect(r.validation, r.backend).toEqual({ ok: true, problems: [] });
    }
    expect(gpu.backend).toBe('webgpu');
    const total = cpu.results.initialTotal as number;
    for (const [name, c] of Object.entries(cpu.metrics)) {
      const g = gpu.metrics[name]!;
      if (name === 'hubMeanTotal') expect(Math.abs(g - c), name).toBeLessThanOrEqual(2 * REL * total);
      else expect(g, name).toBe(c);
    }
    expect(Object.keys(gpu.metrics).sort()).toEqual(Object.keys(cpu.metrics).sort());
    expect({ ...gpu.results, hubOrderExcess: 0 }).toEqual({ ...cpu.results, hubOrderExcess: 0 });
    // The metrics read the state (downloaded at each recorded step), but reading it does not send it
    // back: per step the host uploads the functions' uniforms, less than one state column (4 B × n).
    expect(gpu.bytesPerStep!.toDevice).toBeLessThan(4 * Number(SET.n));
    console.log(
      `deliveries n=${SET.n}, ${STEPS} steps through runScenario: hubMeanTotal webgpu ${gpu.metrics.hubMeanTotal} vs cpu ${cpu.metrics.hubMeanTotal}; ` +
        `webgpu ${gpu.gpu?.stepWallMs.toFixed(1)} ms/step after a first step of ${gpu.gpu?.firstStepMs.toFixed(0)} ms, ${JSON.stringify(gpu.bytesPerStep)} B/step`,
    );
  });
});
