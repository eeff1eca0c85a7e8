/**
 * The energy coordinator on the engine and on the scalar reference: the published ΔF90 figures, the
 * Landau sweep, η ∈ [0, 1], no energy rise in the fixed-step path, the "Energy increased" error,
 * revert vs compat, the line search, the MODELS.md §1 options, the asynchronous mode on 10,000
 * modules, and bit-identical results on 1 and 2 workers.
 */
import { describe, expect, it } from 'vitest';
import { CouplingType, LocalKind, termWeights } from '../actors/landau/energies.js';
import { baselineProblem, type LandauProblem, ProblemBuilder, randomProblem, ringProblem } from '../actors/landau/problem.js';
import { evaluate, ReferenceBackend } from '../actors/landau/reference.js';
import { gradNormUpdate, relax, type RelaxOptions, type RelaxResult } from '../actors/landau/relax.js';
import { relaxOnEngine, type LandauResults } from '../scenarios/landau-graph.js';
import { DELTA_F90_TARGETS } from '../scenarios/delta-f90.js';
import { runScenario } from '../sim/run.js';
import { CheckError } from '../src/errors.js';

function relErr(x: number, target: number): number {
  return Math.abs(x - target) / Math.abs(target);
}

function expectNonIncreasing(trace: readonly number[], tol = 1e-10): void {
  for (let t = 1; t < trace.length; t++) expect(trace[t]!, `E_${t} > E_${t - 1}`).toBeLessThanOrEqual(trace[t - 1]! + tol);
}

function expectInUnitInterval(eta: ArrayLike<number>): void {
  for (let i = 0; i < eta.length; i++) {
    expect(eta[i]!).toBeGreaterThanOrEqual(0);
    expect(eta[i]!).toBeLessThanOrEqual(1);
  }
}

function onReference(p: LandauProblem, o: RelaxOptions, opts: { noise?: boolean; seed?: number } = {}): RelaxResult {
  return relax(new ReferenceBackend(p, opts), p, o);
}

/** Two modules with no local energy and a quadratic w = 10: at η0 = [0, 0.5] a step of 1.0 overshoots to [1, 0]. */
function overshootProblem(): LandauProblem {
  const b = new ProblemBuilder();
  b.module({ kind: LocalKind.gate, a: 0, b: 0, eta0: 0 });
  b.module({ kind: LocalKind.gate, a: 0, b: 0, eta0: 0.5 });
  b.quadratic(0, 1, 10);
  return b.build();
}

describe('published figures (MODELS.md §1), fixed step 0.05, 80 steps, f64', () => {
  it.each([
    ['baseline', { preset: 'baseline' }, DELTA_F90_TARGETS.baseline],
    ['ring n=16', { preset: 'ring', n: '16' }, DELTA_F90_TARGETS.ring16],
  ] as const)('delta-f90 %s matches E_init, E_80 to 1e-9 relative and ΔF90 exactly', async (name, set, t) => {
    const summary = await runScenario({ scenario: 'delta-f90', workers: 1, set });
    const r = summary.results.landau as LandauResults;
    console.log(`${name}: E_init ${r.energyInit}, E_80 ${r.energyTrace[80]}, ΔF90 ${r.deltaF90.withInit}/${r.deltaF90.withoutInit}`);
    expect(summary.validation).toEqual({ ok: true, problems: [] });
    expect(relErr(r.energyInit, t.energyInit)).toBeLessThan(1e-9);
    expect(relErr(r.energyTrace[80]!, t.energyFinal)).toBeLessThan(1e-9);
    expect(r.deltaF90).toEqual({ withInit: t.withInit, withoutInit: t.withoutInit });
    expect(r.acceptedSteps).toBe(80);
    expect(r.stopReason).toBe('completed');
    expectNonIncreasing(r.energyTrace);
  });

  it('the scalar reference gives the same figures', () => {
    for (const [p, t] of [
      [baselineProblem(), DELTA_F90_TARGETS.baseline],
      [ringProblem(16), DELTA_F90_TARGETS.ring16],
    ] as const) {
      const r = onReference(p, { stepSize: 0.05, steps: 80 });
      expect(relErr(r.energyTrace[0]!, t.energyInit)).toBeLessThan(1e-9);
      expect(relErr(r.energyTrace[80]!, t.energyFinal)).toBeLessThan(1e-9);
      expect(r.deltaF90).toEqual({ withInit: t.withInit, withoutInit: t.withoutInit });
    }
  });

  it('landau-sweep: a = −1 ends at η = 0.70711, F = −0.25', async () => {
    const summary = await runScenario({ scenario: 'landau-sweep', workers: 1 });
    expect(summary.validation).toEqual({ ok: true, problems: [] });
    const sweep = summary.results.sweep as { a: number; eta: number; energy: number }[];
    expect(sweep).toHaveLength(21);
    const end = sweep[0]!;
    console.log(`landau-sweep a=${end.a}: η=${end.eta}, F=${end.energy}`);
    expect(end.a).toBe(-1);
    expect(end.eta.toFixed(5)).toBe('0.70711');
    expect(end.energy).toBeCloseTo(-0.25, 12);
    // Ordered: every a < 0 ends above every a > 0.
    for (const s of sweep) if (s.a > 0) expect(s.eta).toBeLessThan(0.1);
  });
});

describe('monotone relaxation', () => {
  it('η stays in [0, 1] and F never rises in the fixed-step path (random graph, strong benefits push η against the bounds)', async () => {
    const p = randomProblem({ n: 2000, degree: 6, seed: 9, mix: [0.3, 0.2, 0.3, 0.2] });
    const { result } = await relaxOnEngine(p, { stepSize: 0.05, steps: 150 }, { workers: 1 });
    expect(result.stopReason).toBe('completed');
    expectNonIncreasing(result.energyTrace);
    expectInUnitInterval(result.eta);
    expect(result.eta.some((x) => x === 0 || x === 1)).toBe(true); // the clamp was exercised
  });

  it('a step of 1.0 with a quadratic w = 10 and η0 = [0, 0.5] raises "Energy increased" (and restores η0)', async () => {
    const p = overshootProblem();
    expect(() => onReference(p, { stepSize: 1, steps: 5 })).toThrow(CheckError);
    expect(() => onReference(p, { stepSize: 1, steps: 5 })).toThrow(/^Energy increased at step 1: 2\.5 → 10 /);
    await expect(relaxOnEngine(p, { stepSize: 1, steps: 5 }, { workers: 1 })).rejects.toThrow(/^Energy increased at step 1/);
    // Through the scenario runner: the run faults with the message.
    const summary = await runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: 'test/fixtures/landau/overshoot.json' } }).catch((e: { summary?: { status: string; error?: { message: string } } }) => e.summary);
    expect(summary?.status).toBe('faulted');
    expect(summary?.error?.message).toMatch(/^Energy increased at step 1/);
  });

  it('revert restores the previous state and stops; compat keeps the worse state (the original behaviour)', () => {
    const p = overshootProblem();
    const reverted = onReference(p, { stepSize: 1, steps: 5, onIncrease: 'revert' });
    expect(reverted.stopReason).toBe('revertedOnIncrease');
    expect(Array.from(reverted.eta)).toEqual([0, 0.5]);
    expect(reverted.energyTrace).toEqual([2.5]);
    expect(reverted.energyFinal).toBe(2.5);
    const kept = onReference(p, { stepSize: 1, steps: 5, onIncrease: 'compat' });
    expect(kept.stopReason).toBe('keptOnIncrease');
    expect(Array.from(kept.eta)).toEqual([1, 0]);
    expect(kept.energyTrace).toEqual([2.5]); // the increase is not an accepted step
    expect(kept.energyFinal).toBe(10);
  });

  it('Armijo backtracking rescues the overshooting step and reaches the minimum', async () => {
    const p = overshootProblem();
    const ls = { backtrackFactor: 0.5, maxBacktrack: 5, armijoC: 1e-6 };
    const ref = onReference(p, { stepSize: 1, steps: 20, lineSearch: ls });
    const { result } = await relaxOnEngine(p, { stepSize: 1, steps: 20, lineSearch: ls }, { workers: 1 });
    expect(result.energyTrace).toEqual(ref.energyTrace);
    expect(result.backtracks).toBe(ref.backtracks);
    expect(result.backtracks).toBeGreaterThan(0);
    expect(result.stopReason).toBe('completed');
    expectNonIncreasing(result.energyTrace);
    expect(result.energyFinal).toBeLessThan(1e-6);
  });

  it('a failed line search reverts and stops (revert) or takes the full step (compat)', () => {
    // η = 1 with a benefit pushing upwards: the clamp keeps η at 1, so no step decreases F.
    const b = new ProblemBuilder();
    b.module({ kind: LocalKind.gate, a: 0.1, b: 0, eta0: 1 });
    b.gateBenefit(0, undefined, 1, 1);
    const p = b.build();
    const ls = { backtrackFactor: 0.5, maxBacktrack: 3, armijoC: 1e-6 };
    const failed = onReference(p, { stepSize: 0.1, steps: 4, lineSearch: ls });
    expect(failed.stopReason).toBe('lineSearchFailed');
    expect(failed.backtracks).toBe(4); // maxBacktrack + 1, as the original counts a failed search
    expect(failed.eta[0]).toBe(1);
    const compat = onReference(p, { stepSize: 0.1, steps: 4, lineSearch: ls, onIncrease: 'compat' });
    expect(compat.stopReason).toBe('completed'); // the full step does not raise F, so it is accepted
    expect(compat.acceptedSteps).toBe(4);
    expect(compat.backtracks).toBe(16);
  });
});

describe('options of MODELS.md §1, engine against reference', () => {
  const p = randomProblem({ n: 400, degree: 5, seed: 21, mix: [0.4, 0.3, 0.2, 0.1] });
  const cases: [string, RelaxOptions][] = [
    ['normalized gradients + line search', { stepSize: 0.2, steps: 40, normalizeGrads: true, lineSearch: { backtrackFactor: 0.5, maxBacktrack: 5, armijoC: 1e-6 } }],
    ['gradient clipping', { stepSize: 0.05, steps: 40, maxGradNorm: 0.5 }],
    ['stability guard', { stepSize: 1, steps: 40, stabilityGuard: true }],
    ['homotopy', { stepSize: 0.05, steps: 40, homotopy: { couplingScaleStart: 0.2, steps: 10 } }],
    ['GradNorm term weights', { stepSize: 0.05, steps: 40, gradNorm: true }],
    ['term weights', { stepSize: 0.05, steps: 40, termWeights: termWeights({ local: { gate: 2 }, coupling: { hinge: 0.5 } }) }],
  ];
  it.each(cases)('%s', async (_name, o) => {
    const ref = onReference(p, o);
    const { result } = await relaxOnEngine(p, o, { workers: 1 });
    expect(result.acceptedSteps).toBe(ref.acceptedSteps);
    expect(result.stopReason).toBe(ref.stopReason);
    for (let t = 0; t < ref.energyTrace.length; t++) expect(relErr(result.energyTrace[t]!, ref.energyTrace[t]!)).toBeLessThan(1e-12);
    expectInUnitInterval(result.eta);
    if (!o.homotopy && !o.gradNorm) expectNonIncreasing(result.energyTrace);
  });

  it('stability guard: a step far above 2/L would blow up; capped at 0.9·2/L it descends', () => {
    const q = ringProblem(16);
    expect(() => onReference(q, { stepSize: 2, steps: 20 })).toThrow(/^Energy increased/);
    const guarded = onReference(q, { stepSize: 2, steps: 80, stabilityGuard: true });
    expect(guarded.stopReason).toBe('completed');
    expectNonIncreasing(guarded.energyTrace);
    expect(Math.max(...guarded.stepSizes)).toBeLessThan(2);
  });

  it('homotopy: weights ramp, each step is accepted under its own weights, and the end state is scored at full weights', () => {
    const q = ringProblem(16);
    const r = onReference(q, { stepSize: 0.05, steps: 60, homotopy: { couplingScaleStart: 0, steps: 20 } });
    expect(r.stopReason).toBe('completed');
    expect(r.energyFinal).toBeCloseTo(evaluate(q, r.eta, termWeights()), 12);
    expectNonIncreasing(r.energyTrace.slice(21)); // after the ramp the energy function is fixed
  });

  it('GradNorm: the update rule of the original adapter, weights within [floor, ceiling]', () => {
    const o = { targetNorm: 1, alpha: 1.5, updateRate: 0.1, floor: 0.1, ceiling: 2 };
    expect(gradNormUpdate(1, 1, o)).toBe(1);
    expect(gradNormUpdate(1, 3, o)).toBeCloseTo(1 - 0.1 * 1.5 * 2, 15);
    expect(gradNormUpdate(1, 0, o)).toBeCloseTo(1.15, 15);
    expect(gradNormUpdate(0.1, 100, o)).toBe(0.1);
    const r = onReference(ringProblem(16), { stepSize: 0.05, steps: 30, gradNorm: true });
    for (const w of [...r.termWeights.local, ...r.termWeights.coupling]) {
      expect(w).toBeGreaterThanOrEqual(0.1);
      expect(w).toBeLessThanOrEqual(2);
    }
    expect(r.termWeights.local[LocalKind.gate]).not.toBe(1); // present families adapt
    expect(r.termWeights.local[LocalKind.landau]).toBe(1); // absent families do not
  });

  it('orthogonal noise: seeded, identical on engine and reference, never raises F, and changes the path', async () => {
    const o: RelaxOptions = { stepSize: 0.05, steps: 40, noise: { magnitude: 0.02, decay: 0.98 } };
    const ref = onReference(p, o, { noise: true, seed: 7 });
    const { result } = await relaxOnEngine(p, o, { workers: 1, seed: 7 });
    for (let t = 0; t < ref.energyTrace.length; t++) expect(relErr(result.energyTrace[t]!, ref.energyTrace[t]!)).toBeLessThan(1e-12);
    expectNonIncreasing(result.energyTrace);
    const quiet = onReference(p, { stepSize: 0.05, steps: 40 });
    expect(result.eta.some((x, i) => Math.abs(x - quiet.eta[i]!) > 1e-6)).toBe(true);
    const other = onReference(p, o, { noise: true, seed: 8 });
    expect(other.eta.some((x, i) => x !== ref.eta[i])).toBe(true);
  });
});

describe('asynchronous (event-driven) mode', () => {
  it('on a random graph of 10,000 modules: F never rises, fewer module updates, final F within 1e-3 of the synchronous result', async () => {
    const p = randomProblem({ n: 10_000, degree: 4, seed: 3 });
    const sync = onReference(p, { stepSize: 0.05, steps: 400 });
    expectNonIncreasing(sync.energyTrace);
    const { result } = await relaxOnEngine(p, { stepSize: 0.05, steps: 400, async: { tolerance: 1e-4 } }, { workers: 1 });
    expectNonIncreasing(result.energyTrace);
    expectInUnitInterval(result.eta);
    const moved = result.movedTrace.reduce((x, y) => x + y, 0);
    console.log(`async: ${result.acceptedSteps} steps (${result.stopReason}), ${moved} module updates vs ${400 * p.n} synchronous; F ${result.energyFinal} vs ${sync.energyFinal}`);
    expect(relErr(result.energyFinal, sync.energyFinal)).toBeLessThan(1e-3);
    expect(moved).toBeLessThan(0.5 * 400 * p.n);
    expect(result.movedTrace.at(-1)!).toBeLessThan(p.n / 100); // most modules went quiet
  });

  it('a module moves only when its gradient changed by more than the tolerance', () => {
    // Two independent gates: once one stops changing, only it goes quiet.
    const b = new ProblemBuilder();
    b.module({ kind: LocalKind.gate, a: 0.5, b: 0, eta0: 0.5 });
    b.module({ kind: LocalKind.gate, a: 0.5, b: 0, eta0: 0 }); // at its minimum: its gradient never changes
    const p = b.build();
    const r = onReference(p, { stepSize: 0.1, steps: 60, async: { tolerance: 1e-3 } });
    expect(r.movedTrace[0]).toBe(2); // every module acts once at the start
    expect(r.movedTrace.slice(1).every((m) => m <= 1)).toBe(true);
    expect(r.stopReason).toBe('quiescent');
  });
});

describe('determinism', () => {
  it('1 and 2 workers give bit-identical traces and state (phases split across threads)', async () => {
    const p = randomProblem({ n: 5000, degree: 4, seed: 17, mix: [0.4, 0.3, 0.2, 0.1] });
    const o: RelaxOptions = { stepSize: 0.1, steps: 30, lineSearch: { backtrackFactor: 0.5, maxBacktrack: 5, armijoC: 1e-6 } };
    const one = await relaxOnEngine(p, o, { workers: 1 });
    const two = await relaxOnEngine(p, o, { workers: 2, inlineBelow: 1 });
    expect(two.result.energyTrace).toEqual(one.result.energyTrace);
    expect(two.checksum).toBe(one.checksum);
    expect(Array.from(two.result.eta)).toEqual(Array.from(one.result.eta));
  });

  it('f32 precision stays within 1e-5 of f64 on the baseline', async () => {
    const p = baselineProblem();
    const { result } = await relaxOnEngine(p, { stepSize: 0.05, steps: 80 }, { workers: 1, precision: 'f32' });
    expect(relErr(result.energyTrace[80]!, DELTA_F90_TARGETS.baseline.energyFinal)).toBeLessThan(1e-4);
    expect(relErr(result.energyTrace[0]!, DELTA_F90_TARGETS.baseline.energyInit)).toBeLessThan(1e-6);
  });

  it('the coupling type codes are the documented ones', () => {
    expect(CouplingType).toEqual({ quadratic: 0, hinge: 1, gateBenefit: 2, dampedGateBenefit: 3 });
  });
});
