/**
 * The engine's layout and its speed devices: edges split by shape and ordered for the reply graphs,
 * gate benefits folded into `lin`, the reply-graph check, the energy blocks, and kernels specialised
 * through freshCopy (with its fallback).
 */
import { describe, expect, it } from 'vitest';
import { CouplingType, UNIT_TERM_WEIGHTS } from '../actors/landau/energies.js';
import { compileEdges, edgeCapacities, EngineBackend, loadProblem } from '../actors/landau/engine.js';
import { ENERGY_BLOCK, landauModel, MODULE_KIND, MoveMode, QUADRATIC_GRAPH, QUADRATIC_REPLY_GRAPH } from '../actors/landau/index.js';
import { ProblemBuilder, randomProblem } from '../actors/landau/problem.js';
import { evaluate } from '../actors/landau/reference.js';
import { relaxOnEngine } from '../scenarios/landau-graph.js';
import { freshCopy, InstanceCache, specialisedCopies } from '../kernels/common/specialize.js';
import { Simulation } from '../sim/simulation.js';
import { compileModel } from '../src/model.js';

describe('compiled edges', () => {
  it('split by shape, pairwise edges sorted by (i, j), gate benefits folded into lin', () => {
    const b = new ProblemBuilder();
    for (let i = 0; i < 4; i++) b.module({ kind: 0, a: 0.1, b: 0.1, eta0: 0.5 });
    b.quadratic(2, 1, 0.5).hinge(0, 3, 0.2, 0.7, 1.3).quadratic(0, 3, 0.1).quadratic(0, 1, 0.3);
    b.gateBenefit(1, 2, 0.8, 0.05).gateBenefit(1, undefined, 0.5, -0.02);
    b.dampedGateBenefit(3, 0, { w: 0.4, delta: 0.1, damping: 0.5, power: 1.5, positiveScale: 1, negativeScale: 2 });
    const p = b.build();
    const c = compileEdges(p);
    expect(Array.from(c.quadratic.src)).toEqual([0, 0, 2]);
    expect(Array.from(c.quadratic.dst)).toEqual([1, 3, 1]);
    expect(Array.from(c.quadratic.w)).toEqual([0.3, 0.1, 0.5]);
    // The reply graph (j → i) is stored by j, stably: reply edges of (0,1), (2,1) first, then (0,3).
    expect(Array.from(c.quadratic.reply)).toEqual([0, 2, 1]);
    expect(Array.from(c.hinge.reply)).toEqual([0]);
    expect(Array.from(c.hinge.alpha)).toEqual([0.7]);
    expect(c.lin[1]).toBeCloseTo(0.8 * 0.05 + 0.5 * -0.02, 15);
    expect(Array.from(c.lin)).toEqual([0, c.lin[1], 0, 0]);
    expect(Array.from(c.benefit.src)).toEqual([3]);
    expect(Array.from(c.benefit.dst)).toEqual([3]); // a benefit acts on its owner only
    expect(c.benefit.c[0]).toBeCloseTo(0.4 * 0.5 * 0.1, 15);
    expect(edgeCapacities(p)).toEqual({ quadratic: 3, hinge: 1, benefit: 1 });
    expect(p.type.filter((t) => t === CouplingType.gateBenefit)).toHaveLength(2);
  });
});

describe('the engine', () => {
  it('faults when a reply graph does not mirror its forward graph', async () => {
    const p = randomProblem({ n: 50, degree: 4, seed: 2 });
    const sim = await Simulation.create(compileModel(landauModel({ modules: p.n, edges: p.edges, graphEdges: edgeCapacities(p) })), { workers: 1 });
    try {
      loadProblem(sim, p);
      const c = compileEdges(p);
      // A reply graph that is not the reversal: one reply edge points back to another module.
      const back = Array.from(c.quadratic.src);
      back[0] = (back[0]! + 1) % p.n;
      sim.setGraph(QUADRATIC_REPLY_GRAPH, c.quadratic.dst, back);
      expect(() => new EngineBackend(sim).step({ mode: MoveMode.hold, stepScale: 0, noiseScale: 0, asyncTol: 0, weights: UNIT_TERM_WEIGHTS })).toThrow(/reply graphs 'quadraticReply'\/'hingeReply' do not mirror .*load couplings with loadProblem\(\)/);
    } finally {
      await sim.close();
    }
  });

  it('F from the energy blocks equals the reference on several blocks, on 1 and 2 workers', async () => {
    const p = randomProblem({ n: 3 * ENERGY_BLOCK + 17, degree: 4, seed: 8, mix: [0.4, 0.3, 0.2, 0.1] });
    const o = { stepSize: 0.05, steps: 5 };
    const one = await relaxOnEngine(p, o, { workers: 1 });
    const two = await relaxOnEngine(p, o, { workers: 2, inlineBelow: 1 });
    expect(two.result.energyTrace).toEqual(one.result.energyTrace);
    const e0 = evaluate(p, p.eta0, UNIT_TERM_WEIGHTS);
    expect(Math.abs(one.result.energyTrace[0]! - e0) / Math.abs(e0)).toBeLessThan(1e-13);
  });

  it('kernels are specialised copies (freshCopy succeeded under this test runner)', async () => {
    await relaxOnEngine(randomProblem({ n: 100, degree: 4, seed: 1 }), { stepSize: 0.05, steps: 2 }, { workers: 1 });
    const made = specialisedCopies();
    for (const k of ['makeMove', 'makeCouple', 'makeGather']) expect(made[k] ?? 0, k).toBeGreaterThan(0);
    expect(MODULE_KIND).toBe('LandauModule');
    expect(QUADRATIC_GRAPH).toBe('quadratic');
  });
});

describe('freshCopy', () => {
  it('returns a working copy with a new literal, and the factory itself when a bundler helper shows in its source', () => {
    function makeSum(a: Float64Array): (n: number) => number {
      return function (n: number): number {
        let s = 0;
        for (let i = 0; i < n; i++) s += a[i]!;
        return s;
      };
    }
    const copy = freshCopy(makeSum);
    expect(copy).not.toBe(makeSum);
    expect(copy(Float64Array.of(1, 2, 3))(3)).toBe(6);
    const helper = Object.assign((): number => 1, { toString: () => 'function () { return __name(1); }' });
    expect(freshCopy(helper)).toBe(helper);
  });

  it('InstanceCache builds once per key and stops specialising past its limit', () => {
    const cache = new InstanceCache<object, boolean>(2);
    const keys = [{}, {}, {}];
    const built = keys.map((k) => cache.get(k, (specialise) => specialise));
    expect(built).toEqual([true, true, false]);
    expect(cache.get(keys[0]!, () => false)).toBe(true);
  });
});
