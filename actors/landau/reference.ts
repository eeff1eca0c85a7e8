/**
 * The scalar reference of a Landau problem: total energy and gradient over plain typed arrays, the
 * Gershgorin bound of the stability guard, the per-term gradient norms GradNorm balances, and a
 * {@link RelaxBackend} that steps a relaxation single-threaded. It is the oracle the engine is tested
 * against, the host-side evaluator the coordinator uses for the options that need whole-graph
 * quantities, and the plain TypeScript baseline of the benchmark.
 */
import { normal } from '../../src/rng.js';
import {
  couplingEnergy,
  couplingGradI,
  couplingGradJ,
  CouplingType,
  localCurvature,
  localEnergy,
  localGrad,
  type TermWeights,
} from './energies.js';
import { MoveMode, NEVER_SEEN, NOISE_STREAM } from './index.js';
import type { LandauProblem } from './problem.js';
import type { Evaluation, MoveCommand, RelaxBackend } from './relax.js';

/**
 * F(η) = Σ_i w_local·F_local(η_i) + Σ_e w_coup·F_e(η_i, η_j). When `grad` is given it receives ∇F.
 */
export function evaluate(p: LandauProblem, eta: ArrayLike<number>, weights: TermWeights, grad?: Float64Array): number {
  let energy = 0;
  if (grad) grad.fill(0);
  for (let i = 0; i < p.n; i++) {
    const k = p.kind[i]!;
    const wl = weights.local[k]!;
    energy += wl * localEnergy(k, p.a[i]!, p.b[i]!, p.h[i]!, eta[i]!);
    if (grad) grad[i]! += wl * localGrad(k, p.a[i]!, p.b[i]!, p.h[i]!, eta[i]!);
  }
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e]!;
    const i = p.src[e]!;
    const j = p.dst[e]!;
    const wc = weights.coupling[t]!;
    const w = p.w[e]!;
    const al = p.alpha[e]!;
    const be = p.beta[e]!;
    const bn = p.benefit[e]!;
    const pw = p.power[e]!;
    const x = eta[i]!;
    const y = eta[j]!;
    energy += wc * couplingEnergy(t, w, al, be, bn, pw, x, y);
    if (grad) {
      grad[i]! += wc * couplingGradI(t, w, al, be, bn, pw, x, y);
      grad[j]! += wc * couplingGradJ(t, w, al, be, bn, pw, x, y);
    }
  }
  return energy;
}

/**
 * A Gershgorin bound on the Lipschitz constant of ∇F at η (the stability guard's L): row i sums
 * max(0, w_local·F″_local(η_i)), 2w per incident quadratic edge on the diagonal and 2w off it, and
 * for an active hinge 2wα² or 2wβ² on the diagonal and 2w|αβ| off it. Benefit couplings are linear
 * (p = 1) or ignored (p ≠ 1), as in the original.
 */
export function lipschitzBound(p: LandauProblem, eta: ArrayLike<number>, weights: TermWeights): number {
  const row = new Float64Array(p.n);
  for (let i = 0; i < p.n; i++) {
    const k = p.kind[i]!;
    const curv = weights.local[k]! * localCurvature(k, p.a[i]!, p.b[i]!, p.h[i]!, eta[i]!);
    if (curv > 0) row[i] = curv;
  }
  for (let e = 0; e < p.edges; e++) {
    const i = p.src[e]!;
    const j = p.dst[e]!;
    const t = p.type[e]!;
    const w = p.w[e]! * weights.coupling[t]!;
    if (t === CouplingType.quadratic) {
      row[i]! += 4 * w;
      row[j]! += 4 * w;
    } else if (t === CouplingType.hinge) {
      const al = p.alpha[e]!;
      const be = p.beta[e]!;
      if (be * eta[j]! - al * eta[i]! > 0) {
        const off = 2 * w * Math.abs(al * be);
        row[i]! += 2 * w * al * al + off;
        row[j]! += 2 * w * be * be + off;
      }
    }
  }
  let L = 0;
  for (let i = 0; i < p.n; i++) if (row[i]! > L) L = row[i]!;
  return L;
}

/** Term families of a problem: `local:<kind>` for kinds present, `coup:<type>` for coupling types present. */
export interface TermNorms {
  /** ‖w·∇F_local‖ per local kind (NaN where the kind is absent). */
  local: number[];
  /** √Σ_e (w·∂F_e/∂η_i)² + (w·∂F_e/∂η_j)² per coupling type (NaN where absent). */
  coupling: number[];
}

/** The per-term gradient norms GradNorm balances (weighted, as the original's `_term_grad_norms`). */
export function termGradNorms(p: LandauProblem, eta: ArrayLike<number>, weights: TermWeights): TermNorms {
  const local = [NaN, NaN, NaN, NaN];
  const coupling = [NaN, NaN, NaN, NaN];
  for (let i = 0; i < p.n; i++) {
    const k = p.kind[i]!;
    const g = weights.local[k]! * localGrad(k, p.a[i]!, p.b[i]!, p.h[i]!, eta[i]!);
    local[k] = (Number.isNaN(local[k]!) ? 0 : local[k]!) + g * g;
  }
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e]!;
    const x = eta[p.src[e]!]!;
    const y = eta[p.dst[e]!]!;
    const gi = weights.coupling[t]! * couplingGradI(t, p.w[e]!, p.alpha[e]!, p.beta[e]!, p.benefit[e]!, p.power[e]!, x, y);
    const gj = weights.coupling[t]! * couplingGradJ(t, p.w[e]!, p.alpha[e]!, p.beta[e]!, p.benefit[e]!, p.power[e]!, x, y);
    coupling[t] = (Number.isNaN(coupling[t]!) ? 0 : coupling[t]!) + gi * gi + gj * gj;
  }
  for (let k = 0; k < 4; k++) {
    local[k] = Math.sqrt(local[k]!);
    coupling[k] = Math.sqrt(coupling[k]!);
  }
  return { local, coupling };
}

/**
 * Steps a relaxation on plain arrays, one thread, with exactly the semantics of the engine's kernels
 * (see `landauModuleActor`): a move by the command's mode, then an evaluation of F and ∇F.
 */
export class ReferenceBackend implements RelaxBackend {
  readonly n: number;
  readonly features: { readonly noise: boolean; readonly async: boolean };
  private readonly eta: Float64Array;
  private readonly etaPrev: Float64Array;
  private readonly grad: Float64Array;
  private readonly gradPrev: Float64Array;
  private readonly gSeen: Float64Array;
  private readonly active: Uint8Array;
  private readonly noise: Float64Array | null;
  private steps = 0;

  constructor(
    readonly problem: LandauProblem,
    private readonly opts: { noise?: boolean; seed?: number } = {},
  ) {
    const n = problem.n;
    this.n = n;
    this.eta = Float64Array.from(problem.eta0);
    this.etaPrev = Float64Array.from(problem.eta0);
    this.grad = new Float64Array(n);
    this.gradPrev = new Float64Array(n);
    this.gSeen = new Float64Array(n).fill(NEVER_SEEN);
    this.active = new Uint8Array(n);
    this.noise = opts.noise ? new Float64Array(n) : null;
    this.features = { noise: opts.noise === true, async: true };
  }

  step(cmd: MoveCommand): Evaluation {
    const { eta, etaPrev, grad, gradPrev, gSeen, active } = this;
    const n = this.n;
    const m = cmd.stepScale;
    const isAsync = cmd.asyncTol > 0;
    const noise = this.noise;
    let moved = 0;
    let movedGrad2 = 0;
    const clamp = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
    for (let i = 0; i < n; i++) {
      if (cmd.mode === MoveMode.advance) {
        etaPrev[i] = eta[i]!;
        gradPrev[i] = grad[i]!;
        const moves = !isAsync || Math.abs(grad[i]! - gSeen[i]!) > cmd.asyncTol;
        if (isAsync) {
          if (moves) gSeen[i] = grad[i]!;
          active[i] = moves ? 1 : 0;
        }
        if (moves) {
          const step = noise && cmd.noiseScale !== 0 ? eta[i]! - m * grad[i]! + cmd.noiseScale * noise[i]! : eta[i]! - m * grad[i]!;
          eta[i] = clamp(step);
          moved++;
          movedGrad2 += gradPrev[i]! * gradPrev[i]!;
        }
      } else if (cmd.mode === MoveMode.retry) {
        if (!isAsync || active[i] === 1) {
          eta[i] = clamp(etaPrev[i]! - m * gradPrev[i]!);
          moved++;
          movedGrad2 += gradPrev[i]! * gradPrev[i]!;
        } else {
          eta[i] = etaPrev[i]!;
        }
      } else if (cmd.mode === MoveMode.revert) {
        eta[i] = etaPrev[i]!;
      }
    }
    const energy = evaluate(this.problem, eta, cmd.weights, grad);
    let grad2 = 0;
    let noiseDotGrad = 0;
    for (let i = 0; i < n; i++) grad2 += grad[i]! * grad[i]!;
    if (noise) {
      // The same draws as the engine's gather kernel: kind 0, this evaluation's step index.
      const seed = this.opts.seed ?? 1;
      for (let i = 0; i < n; i++) {
        noise[i] = normal(seed, 0, i, this.steps, NOISE_STREAM, 0);
        noiseDotGrad += noise[i]! * grad[i]!;
      }
    }
    this.steps++;
    return { energy, grad2, moved, movedGrad2: isAsync ? movedGrad2 : NaN, noiseDotGrad };
  }

  etaNow(): Float64Array {
    return Float64Array.from(this.eta);
  }
}
