/**
 * Proximal operator splitting and ADMM for Landau problems (MODELS.md §1, "proximal operator
 * splitting and ADMM for quadratic/hinge edges"). Both split F into
 *
 *   G(η) = Σ_i w_local·F_local(η_i) + the benefit couplings (smooth, handled by gradients), and
 *   H(η) = Σ over quadratic and hinge edges of w_coup·F_e(η_i, η_j) (handled by closed-form proxes),
 *
 * and both keep per-edge state across iterations in arrays owned by the solver (one slot per
 * quadratic or hinge edge, in problem order). They run on the host over the problem's columns (as
 * the scalar reference does), not as engine kernels: see docs/landau.md for what the engine would
 * need (double-buffered per-edge columns written by the edge's owner).
 *
 * **Proximal splitting** (`method: 'prox'`), one iteration from η with step τ, where d_i =
 * max(1, number of quadratic and hinge edges at module i):
 *   1. forward on G: z_i = η_i − (τ/d_i)·∂G/∂η_i;
 *   2. backward on H, edge by edge in closed form, averaged per module: for each pairwise edge e the
 *      prox of τ·F_e at z moves its two ends by Δ_e (quadratic w(η_i − η_j)²: the mean stays, the
 *      difference d becomes d/(1 + 4τw); active hinge w(βη_j − αη_i)² with gap g > 0: the gap
 *      becomes g' = g/(1 + 2τw(α² + β²)), η_i moves by +2τwα·g', η_j by −2τwβ·g'; inactive hinge: no
 *      move); module i takes z_i + (Σ_{e∋i} Δ_e,i) / d_i, clamped to [0, 1];
 *   3. monotone guard: accept when F does not rise, else halve τ and retry from η (at most
 *      `maxBacktrack` times; then stop with `lineSearchFailed`, keeping η).
 *   For small τ the move is clamp(η − τ·D⁻¹∇F) with D = diag(d_i): a projected gradient step with a
 *   positive diagonal scaling, a descent direction on the box, so the guard's halving ends in an
 *   accepted step unless η is stationary. (Scaling only the H part by D⁻¹ would not be: measured,
 *   it stalled on a random graph.)
 *
 * **ADMM** (`method: 'admm'`): per pairwise edge an auxiliary s_e ≈ D_eη, where D_eη = η_i − η_j
 * (quadratic) or βη_j − αη_i (hinge), and a scaled dual u_e. With φ_e(s) = w·s² (quadratic) or
 * w·max(0, s)² (hinge), one iteration is
 *   1. η-update: `innerSteps` projected gradient steps (step `stepSize`) on
 *      G(η) + (ρ/2)·Σ_e (D_eη − s_e + u_e)²;
 *   2. s-update, closed form: v = D_eη + u_e; s_e = ρv/(2w + ρ), except s_e = v for a hinge with
 *      v ≤ 0 (φ is 0 there);
 *   3. u-update: u_e ← u_e + D_eη − s_e.
 *   Monotone acceptance guard: the ADMM iterate may raise F for a while (that is how ADMM
 *   converges); the reported point is the last iterate that did not raise F over the previous
 *   reported one, so the energy trace never rises. Start: s_e = D_eη0, u_e = 0.
 *
 * @example
 * ```ts
 * const r = relaxSplitting(ringProblem(16), { method: 'admm', rho: 1, innerSteps: 5, stepSize: 0.05 }, 80);
 * console.log(r.energyTrace.at(-1), r.acceptedSteps);
 * ```
 */
import { CheckError } from '../../src/errors.js';
import { CouplingType, deltaF90, type TermWeights, UNIT_TERM_WEIGHTS } from './energies.js';
import type { LandauProblem } from './problem.js';
import { evaluate } from './reference.js';
import type { RelaxResult } from './relax.js';

export interface ProxOptions {
  method: 'prox';
  /** Step τ of the forward step and of the edge proxes (default 0.05). */
  tau?: number;
  /** Halvings of τ the guard may take per iteration (default 5). */
  maxBacktrack?: number;
}

export interface AdmmOptions {
  method: 'admm';
  /** Penalty ρ > 0 (default 1). */
  rho?: number;
  /** Projected gradient steps of the η-update per iteration (default 5). */
  innerSteps?: number;
  /** Step of the η-update (default 0.05). */
  stepSize?: number;
}

export type SplittingOptions = ProxOptions | AdmmOptions;

/** The solver's per-edge view of a problem: the quadratic and hinge edges, in problem order. */
interface PairEdges {
  readonly m: number;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly hinge: Uint8Array;
  readonly w: Float64Array;
  readonly alpha: Float64Array;
  readonly beta: Float64Array;
  /** Pairwise edges per module. */
  readonly degree: Uint32Array;
}

function pairEdges(p: LandauProblem): PairEdges {
  let m = 0;
  for (let e = 0; e < p.edges; e++) if (p.type[e] === CouplingType.quadratic || p.type[e] === CouplingType.hinge) m++;
  const out = {
    m,
    src: new Uint32Array(m),
    dst: new Uint32Array(m),
    hinge: new Uint8Array(m),
    w: new Float64Array(m),
    alpha: new Float64Array(m),
    beta: new Float64Array(m),
    degree: new Uint32Array(p.n),
  };
  let k = 0;
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e];
    if (t !== CouplingType.quadratic && t !== CouplingType.hinge) continue;
    out.src[k] = p.src[e]!;
    out.dst[k] = p.dst[e]!;
    out.hinge[k] = t === CouplingType.hinge ? 1 : 0;
    out.w[k] = p.w[e]!;
    out.alpha[k] = p.alpha[e]!;
    out.beta[k] = p.beta[e]!;
    out.degree[p.src[e]!]!++;
    out.degree[p.dst[e]!]!++;
    k++;
  }
  return out;
}

/** Term weights with the quadratic and hinge couplings switched off: G of the file comment. */
function smoothPart(w: TermWeights): TermWeights {
  return { local: w.local, coupling: [0, 0, w.coupling[2], w.coupling[3]] };
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

function positive(x: number | undefined, name: string, dflt: number): number {
  const v = x ?? dflt;
  if (!(Number.isFinite(v) && v > 0)) throw new CheckError(`${name} must be a number > 0, got ${String(x)}`);
  return v;
}

/**
 * Runs `steps` iterations of proximal splitting or ADMM from the problem's η0 (see the file
 * comment), with fixed term weights. The result has the coordinator's shape: the energy trace (E_init,
 * then one entry per accepted iteration) never rises.
 */
export function relaxSplitting(p: LandauProblem, o: SplittingOptions, steps: number, weights: TermWeights = UNIT_TERM_WEIGHTS): RelaxResult {
  if (!(Number.isInteger(steps) && steps >= 0)) throw new CheckError(`relax.steps must be a non-negative integer, got ${steps}`);
  const edges = pairEdges(p);
  const eta = Float64Array.from(p.eta0);
  const energy0 = evaluate(p, eta, weights);
  const run = o.method === 'prox' ? proxRun(p, edges, o, steps, weights, eta, energy0) : admmRun(p, edges, o, steps, weights, eta, energy0);
  return {
    energyTrace: run.trace,
    deltaF90: { withInit: deltaF90(run.trace), withoutInit: deltaF90(run.trace.slice(1)) },
    acceptedSteps: run.trace.length - 1,
    backtracks: run.backtracks,
    noiseRejections: 0,
    evaluations: run.evaluations,
    stopReason: run.stopReason,
    stopDetail: run.stopDetail,
    onIncrease: 'revert',
    energyFinal: run.trace[run.trace.length - 1]!,
    movedTrace: [],
    stepSizes: run.stepSizes,
    termWeights: weights,
    eta: run.eta,
  };
}

interface Run {
  trace: number[];
  stepSizes: number[];
  backtracks: number;
  evaluations: number;
  stopReason: RelaxResult['stopReason'];
  stopDetail: string;
  eta: Float64Array;
}

function proxRun(p: LandauProblem, E: PairEdges, o: ProxOptions, steps: number, weights: TermWeights, eta: Float64Array, energy0: number): Run {
  const tau0 = positive(o.tau, 'relax.splitting.tau', 0.05);
  const maxBacktrack = o.maxBacktrack ?? 5;
  if (!(Number.isInteger(maxBacktrack) && maxBacktrack >= 0)) throw new CheckError(`relax.splitting.maxBacktrack must be a non-negative integer, got ${String(o.maxBacktrack)}`);
  const wq = weights.coupling[CouplingType.quadratic];
  const wh = weights.coupling[CouplingType.hinge];
  const smooth = smoothPart(weights);
  const n = p.n;
  const gG = new Float64Array(n);
  const z = new Float64Array(n);
  const delta = new Float64Array(n);
  const trial = new Float64Array(n);
  const run: Run = { trace: [energy0], stepSizes: [], backtracks: 0, evaluations: 1, stopReason: 'completed', stopDetail: `ran ${steps} steps`, eta };
  let f = energy0;
  for (let t = 0; t < steps; t++) {
    evaluate(p, eta, smooth, gG);
    let tau = tau0;
    let accepted = false;
    for (let k = 0; k <= maxBacktrack; k++) {
      for (let i = 0; i < n; i++) z[i] = eta[i]! - (tau / Math.max(1, E.degree[i]!)) * gG[i]!;
      delta.fill(0);
      for (let e = 0; e < E.m; e++) {
        const i = E.src[e]!;
        const j = E.dst[e]!;
        if (E.hinge[e] === 0) {
          const w = wq * E.w[e]!;
          const d = z[i]! - z[j]!;
          const half = (d / (1 + 4 * tau * w) - d) / 2;
          delta[i]! += half;
          delta[j]! -= half;
        } else {
          const w = wh * E.w[e]!;
          const al = E.alpha[e]!;
          const be = E.beta[e]!;
          const g = be * z[j]! - al * z[i]!;
          if (g > 0) {
            const gap = g / (1 + 2 * tau * w * (al * al + be * be));
            delta[i]! += 2 * tau * w * al * gap;
            delta[j]! -= 2 * tau * w * be * gap;
          }
        }
      }
      for (let i = 0; i < n; i++) trial[i] = clamp01(z[i]! + delta[i]! / Math.max(1, E.degree[i]!));
      const ft = evaluate(p, trial, weights);
      run.evaluations++;
      if (ft <= f) {
        eta.set(trial);
        f = ft;
        run.trace.push(f);
        run.stepSizes.push(tau);
        accepted = true;
        break;
      }
      run.backtracks++;
      tau *= 0.5;
    }
    if (!accepted) {
      run.stopReason = 'lineSearchFailed';
      run.stopDetail = `no decrease at step ${t + 1} after ${maxBacktrack} halvings of τ (down to ${tau * 2}); kept the previous state`;
      break;
    }
  }
  return run;
}

function admmRun(p: LandauProblem, E: PairEdges, o: AdmmOptions, steps: number, weights: TermWeights, eta0: Float64Array, energy0: number): Run {
  const rho = positive(o.rho, 'relax.splitting.rho', 1);
  const alpha = positive(o.stepSize, 'relax.splitting.stepSize', 0.05);
  const inner = o.innerSteps ?? 5;
  if (!(Number.isInteger(inner) && inner >= 1)) throw new CheckError(`relax.splitting.innerSteps must be a positive integer, got ${String(o.innerSteps)}`);
  const wq = weights.coupling[CouplingType.quadratic];
  const wh = weights.coupling[CouplingType.hinge];
  const smooth = smoothPart(weights);
  const n = p.n;
  const eta = Float64Array.from(eta0);
  const best = eta0;
  // Per-edge state across iterations: the auxiliary s_e and the scaled dual u_e.
  const s = new Float64Array(E.m);
  const u = new Float64Array(E.m);
  const diff = (e: number, x: Float64Array): number => (E.hinge[e] === 0 ? x[E.src[e]!]! - x[E.dst[e]!]! : E.beta[e]! * x[E.dst[e]!]! - E.alpha[e]! * x[E.src[e]!]!);
  for (let e = 0; e < E.m; e++) s[e] = diff(e, eta);
  const g = new Float64Array(n);
  const run: Run = { trace: [energy0], stepSizes: [], backtracks: 0, evaluations: 1, stopReason: 'completed', stopDetail: `ran ${steps} ADMM iterations`, eta: best };
  let fBest = energy0;
  let rejected = 0;
  for (let t = 0; t < steps; t++) {
    for (let k = 0; k < inner; k++) {
      evaluate(p, eta, smooth, g);
      for (let e = 0; e < E.m; e++) {
        const r = rho * (diff(e, eta) - s[e]! + u[e]!);
        if (E.hinge[e] === 0) {
          g[E.src[e]!]! += r;
          g[E.dst[e]!]! -= r;
        } else {
          g[E.src[e]!]! -= E.alpha[e]! * r;
          g[E.dst[e]!]! += E.beta[e]! * r;
        }
      }
      for (let i = 0; i < n; i++) eta[i] = clamp01(eta[i]! - alpha * g[i]!);
    }
    for (let e = 0; e < E.m; e++) {
      const d = diff(e, eta);
      const v = d + u[e]!;
      const w = (E.hinge[e] === 0 ? wq : wh) * E.w[e]!;
      s[e] = E.hinge[e] === 1 && v <= 0 ? v : (rho * v) / (2 * w + rho);
      u[e]! += d - s[e]!;
    }
    const f = evaluate(p, eta, weights);
    run.evaluations++;
    if (f <= fBest) {
      fBest = f;
      best.set(eta);
      run.trace.push(f);
      run.stepSizes.push(alpha);
    } else {
      rejected++;
    }
  }
  if (rejected > 0) run.stopDetail += `; ${rejected} iterates raised F and were not reported (the guard kept the previous point)`;
  return run;
}
