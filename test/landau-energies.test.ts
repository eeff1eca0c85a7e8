/**
 * Landau energies and gradients against central finite differences (η on a grid including 0, 1 and
 * the hinge kinks), the kernels against the scalar reference, the hazard gate, ΔF90 and the
 * gated-expansion metrics.
 */
import { describe, expect, it } from 'vitest';
import {
  benefitEta,
  couplingEnergy,
  couplingGradI,
  couplingGradJ,
  CouplingType,
  dampedBenefit,
  deltaF90,
  gatedExpansionMetrics,
  gateEta,
  gateEtaGrad,
  gateValue,
  hazard,
  localCurvature,
  localEnergy,
  localGrad,
  LocalKind,
  softplus,
  termWeights,
} from '../actors/landau/energies.js';
import { EngineBackend, loadProblem } from '../actors/landau/engine.js';
import { landauModel, MoveMode } from '../actors/landau/index.js';
import { randomProblem } from '../actors/landau/problem.js';
import { evaluate, lipschitzBound, ReferenceBackend, termGradNorms } from '../actors/landau/reference.js';
import { compileModel } from '../src/model.js';
import { Simulation } from '../sim/simulation.js';

const H = 1e-6;
/** η grid: 0, 0.05, …, 1 (exact endpoints). */
const GRID = Array.from({ length: 21 }, (_, k) => (k === 20 ? 1 : k / 20));

function central(f: (x: number) => number, x: number): number {
  return (f(x + H) - f(x - H)) / (2 * H);
}

/**
 * |analytic − FD| within 1e-7 absolute + 1e-7 relative: on smooth stretches the FD error is
 * O(h²·F‴) ≈ 1e-12 plus rounding ≈ 1e-10. Within h of a kink (a function that is C¹ but not C²) the
 * central difference is only first-order accurate; callers pass the bound of that error as `kinkTol`.
 */
function expectClose(analytic: number, fd: number, what: string, kinkTol = 0): void {
  expect(Math.abs(analytic - fd), `${what}: analytic ${analytic} vs FD ${fd}`).toBeLessThan(1e-7 + 1e-7 * Math.abs(fd) + kinkTol);
}

describe('local energies', () => {
  const cases: [string, number, number, number, number][] = [
    ['gate', LocalKind.gate, 0.2, 0.3, 0],
    ['gate a=b=0', LocalKind.gate, 0, 0, 0],
    ['sequence', LocalKind.sequence, 0.3, 0.1, 0],
    ['connectivity', LocalKind.connectivity, 0.25, 0.45, 0],
    ['landau double well', LocalKind.landau, -1, 1, 0],
    ['landau with field', LocalKind.landau, 0.4, 0.7, -0.3],
  ];
  it.each(cases)('%s: dF/dη and d²F/dη² match central differences on the η grid', (name, kind, a, b, h) => {
    for (const eta of GRID) {
      expectClose(localGrad(kind, a, b, h, eta), central((x) => localEnergy(kind, a, b, h, x), eta), `${name} grad at η=${eta}`);
      expectClose(localCurvature(kind, a, b, h, eta), central((x) => localGrad(kind, a, b, h, x), eta), `${name} curvature at η=${eta}`);
    }
  });

  it('matches the closed forms of MODELS.md §1', () => {
    expect(localEnergy(LocalKind.gate, 0.2, 0.3, 0, 0.5)).toBeCloseTo(0.2 * 0.25 + 0.3 * 0.0625, 15);
    expect(localEnergy(LocalKind.sequence, 0.2, 0.3, 0, 0.25)).toBeCloseTo(0.2 * 0.5625 + 0.3 * 0.31640625, 15);
    expect(localEnergy(LocalKind.landau, -1, 1, 0, Math.SQRT1_2)).toBeCloseTo(-0.25, 15);
    expect(localGrad(LocalKind.landau, -1, 1, 0, Math.SQRT1_2)).toBeCloseTo(0, 15);
  });
});

describe('couplings', () => {
  const etaPairs: [number, number][] = [];
  for (const x of GRID) for (const y of [0, 0.3, 0.5, 0.75, 1]) etaPairs.push([x, y]);

  function checkFD(type: number, w: number, alpha: number, beta: number, benefit: number, power: number, x: number, y: number, what: string): void {
    const f = (xi: number, yj: number): number => couplingEnergy(type, w, alpha, beta, benefit, power, xi, yj);
    // A hinge is C¹ with a jump of F″ at gap = 0: within h of it the central difference errs by up
    // to w·(α or β)²·h. max(0, η)^p with 1 < p < 2 at η = 0 errs by w·|benefit|·h^(p−1)/2.
    const gap = beta * y - alpha * x;
    let kink = 0;
    if (type === CouplingType.hinge && Math.abs(gap) <= (alpha + beta) * H) kink = 2 * w * (alpha + beta) ** 2 * H;
    if (type === CouplingType.dampedGateBenefit && power !== 1 && Math.abs(x) <= H) kink = w * Math.abs(benefit) * H ** Math.min(1, power - 1);
    expectClose(couplingGradI(type, w, alpha, beta, benefit, power, x, y), central((t) => f(t, y), x), `${what} ∂/∂η_i at (${x}, ${y})`, kink);
    expectClose(couplingGradJ(type, w, alpha, beta, benefit, power, x, y), central((t) => f(x, t), y), `${what} ∂/∂η_j at (${x}, ${y})`, kink);
  }

  it('quadratic: F = w(η_i − η_j)², gradients (2wd, −2wd)', () => {
    for (const [x, y] of etaPairs) checkFD(CouplingType.quadratic, 0.7, 1, 1, 0, 1, x, y, 'quadratic');
    expect(couplingGradI(CouplingType.quadratic, 0.7, 1, 1, 0, 1, 0.8, 0.3)).toBeCloseTo(2 * 0.7 * 0.5, 15);
  });

  it.each([
    [1, 1],
    [1.2, 0.9],
    [0.5, 2],
    [0, 1],
  ])('hinge α=%d β=%d: gradients match FD on the grid and at the kink; inactive gradients are exactly 0', (alpha, beta) => {
    const w = 0.5;
    for (const [x, y] of etaPairs) {
      checkFD(CouplingType.hinge, w, alpha, beta, 0, 1, x, y, `hinge(${alpha},${beta})`);
      if (beta * y - alpha * x <= 0) {
        expect(couplingGradI(CouplingType.hinge, w, alpha, beta, 0, 1, x, y)).toBe(0);
        expect(couplingGradJ(CouplingType.hinge, w, alpha, beta, 0, 1, x, y)).toBe(0);
        expect(couplingEnergy(CouplingType.hinge, w, alpha, beta, 0, 1, x, y)).toBe(0);
      }
    }
    // On the kink (gap = 0 exactly) both one-sided derivatives are 0, and so is ours.
    if (alpha > 0) {
      const y = 0.6;
      const x = (beta * y) / alpha;
      if (x <= 1) {
        expect(beta * y - alpha * x).toBe(0);
        expect(couplingGradI(CouplingType.hinge, w, alpha, beta, 0, 1, x, y)).toBe(0);
        checkFD(CouplingType.hinge, w, alpha, beta, 0, 1, x, y, 'hinge at the kink');
      }
    }
  });

  it('gateBenefit: F = −w·δ·η_i, gradients (−wδ, 0) for δ of either sign', () => {
    for (const delta of [0.08, -0.05, 0]) {
      for (const [x, y] of etaPairs) checkFD(CouplingType.gateBenefit, 0.8, 1, 1, delta, 1, x, y, `gateBenefit δ=${delta}`);
      expect(couplingGradI(CouplingType.gateBenefit, 0.8, 1, 1, delta, 1, 0.3, 0.9)).toBeCloseTo(-0.8 * delta, 15);
      expect(couplingGradJ(CouplingType.gateBenefit, 0.8, 1, 1, delta, 1, 0.3, 0.9)).toBe(0);
    }
  });

  it('dampedGateBenefit: scaled δ, power p, gradient −w·damping·scaled·p·η^(p−1) (0 at η = 0 when p ≠ 1)', () => {
    for (const p of [1, 1.5, 2, 3, 0.5]) {
      for (const delta of [0.1, -0.1]) {
        const benefit = dampedBenefit(delta, 0.5, 1.5, 2);
        expect(benefit).toBeCloseTo(0.5 * (delta >= 0 ? 1.5 : 2) * delta, 15);
        for (const [x, y] of etaPairs) {
          // p < 1 has an infinite slope at η = 0 (the formula defines it as 0): FD is meaningless there.
          if (p < 1 && x === 0) continue;
          checkFD(CouplingType.dampedGateBenefit, 0.6, 1, 1, benefit, p, x, y, `damped p=${p} δ=${delta}`);
        }
        expect(couplingGradI(CouplingType.dampedGateBenefit, 0.6, 1, 1, benefit, p, 0, 0.5)).toBe(p === 1 ? -0.6 * benefit : 0);
      }
    }
    expect(benefitEta(-0.1, 2)).toBe(0);
    expect(benefitEta(0.5, 1)).toBe(0.5);
  });
});

describe('total energy and the reference helpers', () => {
  const problem = randomProblem({ n: 40, degree: 5, seed: 11, mix: [0.4, 0.3, 0.15, 0.15] });
  const weights = termWeights({ local: { gate: 0.8, sequence: 1.3 }, coupling: { hinge: 1.7, dampedGateBenefit: 0.6 } });

  it('∇F matches central differences of F with non-unit term weights, including η at 0 and 1', () => {
    const eta = Float64Array.from(problem.eta0);
    // η = 0 and η = 1 at modules that own no dampedGateBenefit edge (whose η^1.5 is not C² at 0).
    const smooth = [...Array(problem.n).keys()].filter((i) => ![...Array(problem.edges).keys()].some((e) => problem.src[e] === i && problem.type[e] === CouplingType.dampedGateBenefit));
    expect(smooth.length).toBeGreaterThan(2);
    eta[smooth[0]!] = 0;
    eta[smooth[1]!] = 1;
    const grad = new Float64Array(problem.n);
    evaluate(problem, eta, weights, grad);
    for (let i = 0; i < problem.n; i++) {
      const f = (x: number): number => {
        const e = Float64Array.from(eta);
        e[i] = x;
        return evaluate(problem, e, weights);
      };
      expectClose(grad[i]!, central(f, eta[i]!), `∂F/∂η_${i}`);
    }
  });

  it('term gradient norms and the Gershgorin bound', () => {
    const norms = termGradNorms(problem, problem.eta0, weights);
    expect(norms.local[LocalKind.landau]).toBeNaN(); // no landau module in this problem
    expect(norms.local[LocalKind.gate]).toBeGreaterThan(0);
    const L = lipschitzBound(problem, problem.eta0, weights);
    // Gershgorin bounds the largest eigenvalue of the Hessian: check against a power iteration on FD Hessian-vector products.
    const n = problem.n;
    let v = new Float64Array(n).fill(1 / Math.sqrt(n));
    let lambda = 0;
    const g0 = new Float64Array(n);
    const g1 = new Float64Array(n);
    for (let it = 0; it < 50; it++) {
      const e = Float64Array.from(problem.eta0, (x, i) => x + 1e-6 * v[i]!);
      evaluate(problem, problem.eta0, weights, g0);
      evaluate(problem, e, weights, g1);
      const hv = g1.map((x, i) => (x - g0[i]!) / 1e-6);
      lambda = Math.hypot(...hv);
      v = hv.map((x) => x / lambda);
    }
    expect(lambda).toBeLessThanOrEqual(L * (1 + 1e-6));
  });
});

describe('kernels against the reference', () => {
  const problem = randomProblem({ n: 300, degree: 6, seed: 5, mix: [0.4, 0.3, 0.15, 0.15] });
  const weights = termWeights({ local: { gate: 0.9, sequence: 1.1 }, coupling: { quadratic: 1.2, hinge: 0.7, gateBenefit: 1.5, dampedGateBenefit: 0.8 } });

  it.each(['f64', 'f32'] as const)('one move + evaluation (%s) equals the reference', async (precision) => {
    const sim = await Simulation.create(compileModel(landauModel({ modules: problem.n, edges: problem.edges, precision })), { workers: 1 });
    try {
      loadProblem(sim, problem);
      const engine = new EngineBackend(sim);
      const ref = new ReferenceBackend(problem);
      const tol = precision === 'f64' ? 1e-13 : 1e-5;
      for (const [mode, m] of [
        [MoveMode.hold, 0],
        [MoveMode.advance, 0.05],
        [MoveMode.retry, 0.025],
        [MoveMode.advance, 0.05],
        [MoveMode.revert, 0],
      ] as const) {
        const cmd = { mode, stepScale: m, noiseScale: 0, asyncTol: 0, weights };
        const a = engine.step(cmd);
        const b = ref.step(cmd);
        expect(Math.abs(a.energy - b.energy), `energy after mode ${mode}`).toBeLessThan(tol * (1 + Math.abs(b.energy)));
        expect(Math.abs(a.grad2 - b.grad2), `‖g‖² after mode ${mode}`).toBeLessThan(tol * (1 + b.grad2));
        const ea = engine.etaNow();
        const eb = ref.etaNow();
        for (let i = 0; i < problem.n; i++) expect(Math.abs(ea[i]! - eb[i]!)).toBeLessThan(tol);
      }
    } finally {
      await sim.close();
    }
  });
});

describe('gating', () => {
  it('softplus has the original branches at ±20 and is continuous there', () => {
    expect(softplus(25)).toBe(25);
    expect(softplus(-25)).toBe(Math.exp(-25));
    expect(Math.abs(softplus(20 + 1e-9) - softplus(20 - 1e-9))).toBeLessThan(1e-8);
    expect(Math.abs(softplus(-20 - 1e-9) - softplus(-20 + 1e-9))).toBeLessThan(1e-17);
  });

  it('η_gate = 1 − exp(−softplus(k·net)) equals the logistic σ(k·net); hazard ≥ 0', () => {
    for (const net of [-3, -1, -0.1, 0, 0.05, 0.5, 2]) {
      const eta = gateEta(net, 0);
      expect(Math.abs(eta - 1 / (1 + Math.exp(-10 * net)))).toBeLessThan(1e-15);
      expect(hazard(net, 0)).toBeGreaterThanOrEqual(0);
      expect(gateEtaGrad(net, 0)).toBeCloseTo((gateEta(net + 1e-7, 0) - gateEta(net - 1e-7, 0)) / 2e-7, 6);
    }
    // The baseline's gates: σ(−1) and σ(0.5).
    expect(gateEta(0, 0.1)).toBeCloseTo(1 / (1 + Math.E), 15);
    expect(gateEta(0.1, 0.05)).toBeCloseTo(1 / (1 + Math.exp(-0.5)), 15);
  });

  it('straight-through: hard 0/1 at 0.5 forward, soft gradient backward', () => {
    const open = gateValue(0.2, 0.1, { straightThrough: true });
    expect(open.value).toBe(1);
    expect(open.soft).toBeCloseTo(1 / (1 + Math.exp(-1)), 15);
    expect(open.grad).toBeCloseTo(10 * open.soft * (1 - open.soft), 15);
    expect(gateValue(0.1, 0.2, { straightThrough: true }).value).toBe(0);
    expect(gateValue(0.1, 0.1, { straightThrough: true }).value).toBe(0); // η = 0.5 is not open
    expect(gateValue(0.2, 0.1).value).toBe(open.soft);
  });

  it('gated-expansion metrics follow the original definitions', () => {
    const m = gatedExpansionMetrics([
      { eta: 0.9, hazard: 2, redemption: 0.3 },
      { eta: 0.7, hazard: 1, redemption: -0.1 },
      { eta: 0.2, hazard: 0.1, redemption: 0 },
      { eta: 0.6, hazard: 0.5, redemption: 0.1 },
    ]);
    expect(m.expansions).toBe(3);
    expect(m.expansionRate).toBe(0.75);
    expect(m.redemptionMean).toBeCloseTo(0.075, 15);
    expect(m.hazardMean).toBeCloseTo(0.9, 15);
    expect(m.muHat).toBeCloseTo(3 / (0.4 + 1e-9), 12);
    expect(m.goodBadRatio).toBeCloseTo((2 + 1e-6) / (1 + 1e-6), 12);
  });
});

describe('ΔF90', () => {
  it('is the 1-based position of the first energy at or below E0 − 0.9·(E0 − min E)', () => {
    expect(deltaF90([10, 5, 2, 1.05, 1])).toBe(4); // threshold 1.9: reached at index 3
    expect(deltaF90([10, 1.9])).toBe(2);
    expect(deltaF90([1, 1, 1])).toBe(3); // no drop: the length
    expect(deltaF90([1, 2])).toBe(2); // a rise: no drop below E0
    expect(deltaF90([5])).toBe(1);
    expect(deltaF90([])).toBe(0);
    // The drop uses the minimum, not the last entry.
    expect(deltaF90([10, 0, 5])).toBe(2);
  });
});
