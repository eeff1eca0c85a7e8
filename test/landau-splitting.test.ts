/**
 * Proximal splitting and ADMM (actors/landau/splitting.ts) against hand math on one edge, against a
 * reference implementation written here (edge objects and plain loops, from the formulas in the
 * file comment of splitting.ts, with this file's own energy and gradient of F), and against the
 * minimum that long plain gradient descent finds on convex problems.
 */
import { describe, expect, it } from 'vitest';
import { couplingEnergy, couplingGradI, couplingGradJ, CouplingType, localEnergy, localGrad, LocalKind, termWeights, type TermWeights } from '../actors/landau/energies.js';
import { baselineProblem, type LandauProblem, ProblemBuilder, randomProblem, ringProblem } from '../actors/landau/problem.js';
import { ReferenceBackend } from '../actors/landau/reference.js';
import { relax } from '../actors/landau/relax.js';
import { relaxSplitting } from '../actors/landau/splitting.js';
import { runScenario } from '../sim/run.js';
import type { LandauResults } from '../scenarios/landau-graph.js';

// ---- the reference ------------------------------------------------------------------------------

interface Edge {
  i: number;
  j: number;
  hinge: boolean;
  w: number;
  al: number;
  be: number;
}

const clamp = (x: number): number => Math.min(1, Math.max(0, x));

/** F, and ∇ of the smooth part (locals and benefits only) or of all of F. */
function energyOf(p: LandauProblem, eta: number[], w: TermWeights): number {
  let f = 0;
  for (let i = 0; i < p.n; i++) f += w.local[p.kind[i]!]! * localEnergy(p.kind[i]!, p.a[i]!, p.b[i]!, p.h[i]!, eta[i]!);
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e]!;
    f += w.coupling[t]! * couplingEnergy(t, p.w[e]!, p.alpha[e]!, p.beta[e]!, p.benefit[e]!, p.power[e]!, eta[p.src[e]!]!, eta[p.dst[e]!]!);
  }
  return f;
}

function smoothGrad(p: LandauProblem, eta: number[], w: TermWeights): number[] {
  const g = eta.map((x, i) => w.local[p.kind[i]!]! * localGrad(p.kind[i]!, p.a[i]!, p.b[i]!, p.h[i]!, x));
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e]!;
    if (t === CouplingType.quadratic || t === CouplingType.hinge) continue;
    const i = p.src[e]!;
    const j = p.dst[e]!;
    g[i]! += w.coupling[t]! * couplingGradI(t, p.w[e]!, p.alpha[e]!, p.beta[e]!, p.benefit[e]!, p.power[e]!, eta[i]!, eta[j]!);
    g[j]! += w.coupling[t]! * couplingGradJ(t, p.w[e]!, p.alpha[e]!, p.beta[e]!, p.benefit[e]!, p.power[e]!, eta[i]!, eta[j]!);
  }
  return g;
}

function pairs(p: LandauProblem, w: TermWeights): Edge[] {
  const out: Edge[] = [];
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e]!;
    if (t !== CouplingType.quadratic && t !== CouplingType.hinge) continue;
    out.push({ i: p.src[e]!, j: p.dst[e]!, hinge: t === CouplingType.hinge, w: w.coupling[t] * p.w[e]!, al: p.alpha[e]!, be: p.beta[e]! });
  }
  return out;
}

function refProx(p: LandauProblem, tau0: number, steps: number, w: TermWeights): number[] {
  const E = pairs(p, w);
  const deg = new Array<number>(p.n).fill(0);
  for (const e of E) {
    deg[e.i]!++;
    deg[e.j]!++;
  }
  const d = deg.map((x) => Math.max(1, x));
  let eta = Array.from(p.eta0);
  let f = energyOf(p, eta, w);
  const trace = [f];
  for (let t = 0; t < steps; t++) {
    const g = smoothGrad(p, eta, w);
    let tau = tau0;
    let ok = false;
    for (let k = 0; k <= 5 && !ok; k++, tau /= 2) {
      const z = eta.map((x, i) => x - (tau / d[i]!) * g[i]!);
      const move = new Array<number>(p.n).fill(0);
      for (const e of E) {
        // Closed-form prox of τ·F_e at (z_i, z_j).
        if (!e.hinge) {
          const mean = (z[e.i]! + z[e.j]!) / 2;
          const diff = (z[e.i]! - z[e.j]!) / (1 + 4 * tau * e.w);
          move[e.i]! += mean + diff / 2 - z[e.i]!;
          move[e.j]! += mean - diff / 2 - z[e.j]!;
        } else {
          const gap = e.be * z[e.j]! - e.al * z[e.i]!;
          if (gap > 0) {
            const g2 = gap / (1 + 2 * tau * e.w * (e.al ** 2 + e.be ** 2));
            move[e.i]! += 2 * tau * e.w * e.al * g2;
            move[e.j]! -= 2 * tau * e.w * e.be * g2;
          }
        }
      }
      const y = z.map((x, i) => clamp(x + move[i]! / d[i]!));
      const fy = energyOf(p, y, w);
      if (fy <= f) {
        eta = y;
        f = fy;
        trace.push(f);
        ok = true;
      }
    }
    if (!ok) break;
  }
  return trace;
}

function refAdmm(p: LandauProblem, rho: number, inner: number, step: number, iterations: number, w: TermWeights): { trace: number[]; eta: number[] } {
  const E = pairs(p, w);
  const D = (e: Edge, x: number[]): number => (e.hinge ? e.be * x[e.j]! - e.al * x[e.i]! : x[e.i]! - x[e.j]!);
  const eta = Array.from(p.eta0);
  const st = E.map((e) => ({ s: D(e, eta), u: 0 }));
  let best = eta.slice();
  let fBest = energyOf(p, eta, w);
  const trace = [fBest];
  for (let t = 0; t < iterations; t++) {
    for (let k = 0; k < inner; k++) {
      const g = smoothGrad(p, eta, w);
      E.forEach((e, q) => {
        const r = rho * (D(e, eta) - st[q]!.s + st[q]!.u);
        // ∂/∂η of (ρ/2)(D_eη − s + u)² = r·∂(D_eη)/∂η.
        g[e.i]! += e.hinge ? -e.al * r : r;
        g[e.j]! += e.hinge ? e.be * r : -r;
      });
      for (let i = 0; i < p.n; i++) eta[i] = clamp(eta[i]! - step * g[i]!);
    }
    E.forEach((e, q) => {
      const v = D(e, eta) + st[q]!.u;
      // argmin_s φ(s) + (ρ/2)(s − v)²: φ = w·s² (quadratic), w·max(0, s)² (hinge).
      st[q]!.s = e.hinge && v <= 0 ? v : (rho * v) / (2 * e.w + rho);
      st[q]!.u += D(e, eta) - st[q]!.s;
    });
    const f = energyOf(p, eta, w);
    if (f <= fBest) {
      fBest = f;
      best = eta.slice();
      trace.push(f);
    }
  }
  return { trace, eta: best };
}

function expectClose(a: readonly number[], b: readonly number[], rel: number): void {
  expect(a.length).toBe(b.length);
  for (let t = 0; t < a.length; t++) expect(Math.abs(a[t]! - b[t]!), `entry ${t}`).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(b[t]!)));
}

function nonIncreasing(trace: readonly number[]): void {
  for (let t = 1; t < trace.length; t++) expect(trace[t]!).toBeLessThanOrEqual(trace[t - 1]!);
}

/** Two uncoupled-energy modules (landau kind, a = b = h = 0) joined by one pairwise edge. */
function oneEdge(hinge: boolean, eta0: [number, number], w: number, al = 1, be = 1): LandauProblem {
  const b = new ProblemBuilder();
  b.module({ kind: LocalKind.landau, a: 0, b: 0, eta0: eta0[0] });
  b.module({ kind: LocalKind.landau, a: 0, b: 0, eta0: eta0[1] });
  if (hinge) b.hinge(0, 1, w, al, be);
  else b.quadratic(0, 1, w);
  return b.build();
}

const mixed = randomProblem({ n: 200, degree: 5, seed: 9, mix: [0.4, 0.3, 0.15, 0.15] });
const weights = termWeights({ local: { gate: 0.9, sequence: 1.2 }, coupling: { quadratic: 1.1, hinge: 0.8, gateBenefit: 1.3, dampedGateBenefit: 0.7 } });

describe('proximal splitting', () => {
  it('one quadratic edge: the difference shrinks by 1/(1 + 4τw) and the mean stays (hand math)', () => {
    const r = relaxSplitting(oneEdge(false, [0.2, 0.8], 1.5), { method: 'prox', tau: 0.1 }, 1);
    const d = -0.6 / (1 + 4 * 0.1 * 1.5);
    expect(r.eta[0]).toBeCloseTo(0.5 + d / 2, 15);
    expect(r.eta[1]).toBeCloseTo(0.5 - d / 2, 15);
    expect(r.energyTrace[1]).toBeCloseTo(1.5 * d * d, 15);
  });

  it('one active hinge: the gap shrinks by 1/(1 + 2τw(α² + β²)) (hand math); an inactive one does not move', () => {
    const [w, al, be, tau] = [2, 0.5, 1.5, 0.1];
    const r = relaxSplitting(oneEdge(true, [0.6, 0.7], w, al, be), { method: 'prox', tau }, 1);
    const gap = (be * 0.7 - al * 0.6) / (1 + 2 * tau * w * (al * al + be * be));
    expect(r.eta[0]).toBeCloseTo(0.6 + 2 * tau * w * al * gap, 15);
    expect(r.eta[1]).toBeCloseTo(0.7 - 2 * tau * w * be * gap, 15);
    expect(be * r.eta[1]! - al * r.eta[0]!).toBeCloseTo(gap, 15);
    const idle = relaxSplitting(oneEdge(true, [0.9, 0.2], w, al, be), { method: 'prox', tau }, 3);
    expect(Array.from(idle.eta)).toEqual([0.9, 0.2]);
  });

  it('matches the reference on a graph with every term and term weights ≠ 1; F never rises', () => {
    const r = relaxSplitting(mixed, { method: 'prox', tau: 0.3 }, 60, weights);
    expectClose(r.energyTrace, refProx(mixed, 0.3, 60, weights), 1e-12);
    nonIncreasing(r.energyTrace);
    expect(r.backtracks).toBeGreaterThan(0);
    for (const x of r.eta) expect(x >= 0 && x <= 1).toBe(true);
  });

  it('reaches the minimum that long gradient descent finds (baseline, convex)', () => {
    const p = baselineProblem();
    const gd = relax(new ReferenceBackend(p), p, { stepSize: 0.05, steps: 3000, onIncrease: 'revert' });
    const r = relaxSplitting(p, { method: 'prox', tau: 0.2 }, 400);
    expect(Math.abs(r.energyFinal - gd.energyFinal)).toBeLessThan(1e-9 * Math.abs(gd.energyFinal) + 1e-12);
  });
});

describe('ADMM', () => {
  it('matches the reference (per-edge s and u carried across iterations) on a graph with every term; F never rises', () => {
    const r = relaxSplitting(mixed, { method: 'admm', rho: 1.5, innerSteps: 3, stepSize: 0.04 }, 80, weights);
    const ref = refAdmm(mixed, 1.5, 3, 0.04, 80, weights);
    expectClose(r.energyTrace, ref.trace, 1e-12);
    for (let i = 0; i < mixed.n; i++) expect(Math.abs(r.eta[i]! - ref.eta[i]!)).toBeLessThan(1e-12);
    nonIncreasing(r.energyTrace);
  });

  it.each([
    ['baseline', baselineProblem()],
    ['ring n = 16', ringProblem(16)],
  ] as const)('%s: converges to the minimum of long gradient descent', (_name, p) => {
    const gd = relax(new ReferenceBackend(p), p, { stepSize: 0.05, steps: 3000, onIncrease: 'revert' });
    const r = relaxSplitting(p, { method: 'admm', rho: 1, innerSteps: 5, stepSize: 0.05 }, 400);
    expect(Math.abs(r.energyFinal - gd.energyFinal)).toBeLessThan(1e-9 * Math.abs(gd.energyFinal));
  });

  it('an iteration is not one plain gradient step: with the duals the constraint D_eη = s_e is met at the end', () => {
    // Without the per-edge state (s, u reset every iteration) ADMM would be a penalty method biased by ρ;
    // the dual update removes the bias, so the ADMM minimum equals the true one (above) for any ρ.
    const p = ringProblem(16);
    const gd = relax(new ReferenceBackend(p), p, { stepSize: 0.05, steps: 3000, onIncrease: 'revert' });
    for (const rho of [0.3, 3]) {
      const r = relaxSplitting(p, { method: 'admm', rho, innerSteps: 5, stepSize: 0.04 }, 800);
      expect(Math.abs(r.energyFinal - gd.energyFinal), `ρ = ${rho}`).toBeLessThan(1e-7 * Math.abs(gd.energyFinal));
    }
  });
});

describe('in the scenarios', () => {
  it('--set splitting=admm / prox runs on the host, validates, and refuses gradient-coordinator options', async () => {
    for (const splitting of ['admm', 'prox']) {
      const s = await runScenario({ scenario: 'delta-f90', set: { preset: 'ring', splitting, steps: '40' }, workers: 1 });
      expect(s.validation).toEqual({ ok: true, problems: [] });
      const r = s.results.landau as LandauResults;
      expect(r.acceptedSteps).toBeGreaterThan(0);
      nonIncreasing(r.energyTrace);
    }
    await expect(runScenario({ scenario: 'delta-f90', set: { splitting: 'prox', stabilityGuard: 'true' }, workers: 1 })).rejects.toThrow(/does not combine with stabilityGuard/);
  });
});
