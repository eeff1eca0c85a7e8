/**
 * The energy coordinator: relaxes η by projected gradient steps so that F never increases
 * (MODELS.md §1). It is written once, as the generator {@link relaxSteps} of requests to a backend
 * that moves and evaluates all modules at once; {@link relax} drives it against a synchronous
 * {@link RelaxBackend} (the CPU engine `./engine.ts`, the scalar reference `./reference.ts`) and
 * {@link relaxAsync} against an asynchronous one (the GPU, `./gpu-engine.ts`), so every backend
 * follows the same algorithm line for line.
 *
 * One iteration t, from the current point η_t with F_t and g_t = ∇F(η_t) known:
 *  1. weights: term weights for this iteration (homotopy ramp × GradNorm-adapted weights); when they
 *     differ from those F_t and g_t were evaluated with, re-evaluate first, so that the acceptance
 *     test below always compares two energies of the same function;
 *  2. step size s (stability guard: s ≤ capFraction·2/L, L a Gershgorin bound at η_t), gradient
 *     scale (normalised: 1/‖g‖; clipped: ≤ maxGradNorm/‖g‖);
 *  3. trial η = clamp₀₁(η_t − s·scale·g_t [+ σ_t·ξ⊥]) for every module (asynchronous mode: only for
 *     modules whose gradient changed by more than the tolerance since they last moved);
 *  4. noise: if the noisy trial raises F, retry the same step without noise;
 *     Armijo line search: accept if F(trial) ≤ F_t − c·s·scale²·‖g_t‖², else s ← s·factor, at most
 *     maxBacktrack times; when it still fails, `compat` takes the full step as the original did,
 *     otherwise the previous point is restored and the run stops (`lineSearchFailed`);
 *  5. energy check: F(trial) > F_t + 1e-10 is an increase. In the deterministic fixed-step path
 *     (no line search, noise, homotopy or GradNorm) the default is an error ("Energy increased …",
 *     after restoring η_t); elsewhere the default `revert` restores η_t and stops; `compat` keeps the
 *     worse point and stops (the original's behaviour). `onIncrease` overrides the default;
 *  6. accept: append F(trial) to the energy trace; GradNorm updates the weights from the per-term
 *     gradient norms at the new point.
 *
 * ΔF90 is computed on [E_init, E_1, …] (the canonical value) and on [E_1, …].
 */
import { CheckError } from '../../src/errors.js';
import { deltaF90, sameTermWeights, type TermWeights, UNIT_TERM_WEIGHTS } from './energies.js';
import { MoveMode } from './index.js';
import type { LandauProblem } from './problem.js';
import { lipschitzBound, termGradNorms } from './reference.js';
import type { SplittingOptions } from './splitting.js';

/** What the coordinator asks of a backend for one step: the move, then an evaluation. */
export interface MoveCommand {
  mode: (typeof MoveMode)[keyof typeof MoveMode];
  /** m in η − m·g. */
  stepScale: number;
  /** σ in + σ·ξ (0: no noise). */
  noiseScale: number;
  /** Asynchronous tolerance (≤ 0: every module moves). */
  asyncTol: number;
  weights: TermWeights;
  /**
   * Whether the evaluation must report ‖∇F‖² (default true). The coordinator asks for it only when
   * an option uses it (normalisation, clipping, noise, line search), so that the fixed-step path
   * does not pay an O(N) reduction on the host per step; a backend may then report NaN.
   */
  grad2?: boolean;
}

/** Reductions a backend returns after a step (f64, summed in module order). */
export interface Evaluation {
  /** F at the point after the move. */
  energy: number;
  /** ‖∇F‖² at that point (NaN when the command said `grad2: false`). */
  grad2: number;
  /** Modules that moved (asynchronous mode; otherwise n for advance/retry). */
  moved: number;
  /** Σ over moved modules of the squared gradient they moved along. */
  movedGrad2: number;
  /** ξ·∇F at the point (0 without noise): for projecting the next step's noise. */
  noiseDotGrad: number;
}

export interface RelaxBackend {
  readonly n: number;
  /** Whether the backend can draw exploration noise and run the asynchronous mode. */
  readonly features: { readonly noise: boolean; readonly async: boolean };
  step(cmd: MoveCommand): Evaluation;
  /** A copy of the current η. */
  etaNow(): Float64Array;
}

export interface LineSearchOptions {
  backtrackFactor: number;
  maxBacktrack: number;
  armijoC: number;
}

export type OnIncrease = 'error' | 'revert' | 'compat';

export interface GradNormOptions {
  /** Desired norm per term (default 1). */
  targetNorm?: number;
  /** Restoring strength (default 1.5). */
  alpha?: number;
  /** Fraction of the adjustment applied per step, in (0, 1] (default 0.1). */
  updateRate?: number;
  /** Weight bounds (default 0.1 and 2). */
  floor?: number;
  ceiling?: number;
}

export interface RelaxOptions {
  /** Step size s (default 0.05). */
  stepSize?: number;
  /** Iterations (each accepted or ending the run). */
  steps: number;
  /** Armijo backtracking; absent: fixed step. */
  lineSearch?: LineSearchOptions | null;
  /** Policy when a step raises F (defaults: see the file comment). */
  onIncrease?: OnIncrease;
  /** Absolute tolerance of the increase test (default 1e-10). */
  monotonicTol?: number;
  /** Use g/‖g‖. */
  normalizeGrads?: boolean;
  /** Clip ‖g‖ (after normalisation) to this. */
  maxGradNorm?: number | null;
  /** Cap s at capFraction·2/L (default capFraction 0.9). */
  stabilityGuard?: boolean | { capFraction?: number };
  /** Coupling weights ramp from `couplingScaleStart` to 1 over `steps` iterations. */
  homotopy?: { couplingScaleStart: number; steps: number } | null;
  /** Exploration noise orthogonal to ∇F, σ_t = magnitude·decay^t (needs a backend declared with noise). */
  noise?: { magnitude: number; decay?: number } | null;
  /** GradNorm-style adaptation of the term weights (true: defaults). */
  gradNorm?: boolean | GradNormOptions | null;
  /** Event-driven mode: a module moves only when its gradient changed by more than `tolerance` since it last moved. */
  async?: { tolerance: number } | null;
  /** Initial term weights (default all 1). */
  termWeights?: TermWeights;
  /**
   * Proximal splitting or ADMM instead of gradient steps: run by {@link relaxSplitting} on the host
   * (./splitting.ts), not by {@link relax}, which refuses it. Combines with `steps` and `termWeights` only.
   */
  splitting?: SplittingOptions | null;
}

export type StopReason = 'completed' | 'revertedOnIncrease' | 'keptOnIncrease' | 'lineSearchFailed' | 'quiescent';

export interface RelaxResult {
  /** E_init, then the energy of every accepted step. */
  energyTrace: number[];
  deltaF90: { withInit: number; withoutInit: number };
  acceptedSteps: number;
  /** Step-size reductions of the line search (a failed search counts maxBacktrack + 1, as the original). */
  backtracks: number;
  /** Noisy trials that raised F and were retried without noise. */
  noiseRejections: number;
  /** Backend steps (engine steps): evaluations, trials, retries, re-evaluations, reverts. */
  evaluations: number;
  stopReason: StopReason;
  /** Human-readable detail of the stop (step, energies). */
  stopDetail: string;
  /** The increase policy in force. */
  onIncrease: OnIncrease;
  /** Energy of the final state (differs from the trace's last entry only after `keptOnIncrease`). */
  energyFinal: number;
  /** Asynchronous mode: modules that moved in each accepted step. */
  movedTrace: number[];
  /** Effective step size s of each accepted step. */
  stepSizes: number[];
  /** Term weights in force at the end (without the homotopy scale). */
  termWeights: TermWeights;
  eta: Float64Array;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new CheckError(what);
}

function validate(o: RelaxOptions): void {
  check(!o.splitting, `relax.splitting (${o.splitting?.method ?? ''}) is run by relaxSplitting() (actors/landau/splitting.ts), not by the gradient coordinator`);
  check(Number.isInteger(o.steps) && o.steps >= 0, `relax.steps must be a non-negative integer, got ${o.steps}`);
  const s = o.stepSize ?? 0.05;
  check(Number.isFinite(s) && s > 0, `relax.stepSize must be a number > 0, got ${s}`);
  if (o.lineSearch) {
    const l = o.lineSearch;
    check(l.backtrackFactor > 0 && l.backtrackFactor < 1, `relax.lineSearch.backtrackFactor must be in (0, 1), got ${l.backtrackFactor}`);
    check(Number.isInteger(l.maxBacktrack) && l.maxBacktrack >= 0, `relax.lineSearch.maxBacktrack must be a non-negative integer, got ${l.maxBacktrack}`);
    check(l.armijoC > 0 && l.armijoC < 1, `relax.lineSearch.armijoC must be in (0, 1), got ${l.armijoC}`);
  }
  if (o.onIncrease !== undefined) check(['error', 'revert', 'compat'].includes(o.onIncrease), `relax.onIncrease must be error, revert or compat, got ${String(o.onIncrease)}`);
  if (o.maxGradNorm != null) check(o.maxGradNorm > 0, `relax.maxGradNorm must be > 0, got ${o.maxGradNorm}`);
  if (typeof o.stabilityGuard === 'object') {
    const f = o.stabilityGuard.capFraction ?? 0.9;
    check(f > 0 && f <= 1, `relax.stabilityGuard.capFraction must be in (0, 1], got ${f}`);
  }
  if (o.homotopy) {
    check(o.homotopy.couplingScaleStart >= 0, `relax.homotopy.couplingScaleStart must be ≥ 0, got ${o.homotopy.couplingScaleStart}`);
    check(Number.isInteger(o.homotopy.steps) && o.homotopy.steps > 0, `relax.homotopy.steps must be a positive integer, got ${o.homotopy.steps}`);
  }
  if (o.noise) {
    check(o.noise.magnitude >= 0, `relax.noise.magnitude must be ≥ 0, got ${o.noise.magnitude}`);
    const d = o.noise.decay ?? 1;
    check(d > 0 && d <= 1, `relax.noise.decay must be in (0, 1], got ${d}`);
  }
  if (o.async) check(o.async.tolerance > 0, `relax.async.tolerance must be > 0, got ${o.async.tolerance}`);
  if (o.gradNorm && typeof o.gradNorm === 'object') {
    const g = o.gradNorm;
    check((g.targetNorm ?? 1) > 0, `relax.gradNorm.targetNorm must be > 0`);
    check((g.updateRate ?? 0.1) > 0 && (g.updateRate ?? 0.1) <= 1, `relax.gradNorm.updateRate must be in (0, 1]`);
    check((g.floor ?? 0.1) >= 0 && (g.ceiling ?? 2) >= (g.floor ?? 0.1), `relax.gradNorm needs 0 ≤ floor ≤ ceiling`);
  }
}

/** The GradNorm update of one weight: w·(1 + rate·α·(1 − norm/target)), clamped to [floor, ceiling]. */
export function gradNormUpdate(w: number, norm: number, o: Required<GradNormOptions>): number {
  const next = w * (1 + o.updateRate * o.alpha * (1 - norm / o.targetNorm));
  return Math.min(o.ceiling, Math.max(o.floor, next));
}

function withCouplingScale(w: TermWeights, scale: number): TermWeights {
  if (scale === 1) return w;
  const c = w.coupling;
  return { local: w.local, coupling: [c[0] * scale, c[1] * scale, c[2] * scale, c[3] * scale] };
}

/** A request of the coordinator to its backend: one step, or the current η. */
export type RelaxRequest = { readonly type: 'step'; readonly cmd: MoveCommand } | { readonly type: 'eta' };
/** The backend's answer to a {@link RelaxRequest}. */
export type RelaxResponse = Evaluation | Float64Array;

/** What the coordinator knows of its backend before the first request. */
export interface RelaxBackendInfo {
  readonly n: number;
  readonly features: { readonly noise: boolean; readonly async: boolean };
}

/**
 * A backend that steps asynchronously (the webgpu backend: every step is a submit and a readback).
 * {@link relaxAsync} drives the same algorithm as {@link relax} against it.
 */
export interface AsyncRelaxBackend extends RelaxBackendInfo {
  step(cmd: MoveCommand): Promise<Evaluation>;
  etaNow(): Promise<Float64Array>;
}

/** Relaxes η on `backend` (whose state holds the problem's η0). Throws {@link CheckError} on an energy increase under the `error` policy. */
export function relax(backend: RelaxBackend, problem: LandauProblem, o: RelaxOptions): RelaxResult {
  const run = relaxSteps(backend, problem, o);
  let next = run.next();
  while (!next.done) {
    const req = next.value;
    next = run.next(req.type === 'step' ? backend.step(req.cmd) : backend.etaNow());
  }
  return next.value;
}

/**
 * {@link relax} on a backend whose steps are asynchronous (the same algorithm, request for request).
 *
 * @example
 * ```ts
 * const result = await relaxAsync(new GpuEngineBackend(gpuSim), problem, { stepSize: 0.05, steps: 80 });
 * ```
 */
export async function relaxAsync(backend: AsyncRelaxBackend, problem: LandauProblem, o: RelaxOptions): Promise<RelaxResult> {
  const run = relaxSteps(backend, problem, o);
  let next = run.next();
  while (!next.done) {
    const req = next.value;
    next = run.next(req.type === 'step' ? await backend.step(req.cmd) : await backend.etaNow());
  }
  return next.value;
}

/**
 * The coordinator as a generator of backend requests (see the file comment for the algorithm):
 * each `yield` hands the driver a step or an η request and receives the answer. {@link relax} and
 * {@link relaxAsync} are its two drivers, so the synchronous and asynchronous backends run the same
 * code.
 */
export function* relaxSteps(backend: RelaxBackendInfo, problem: LandauProblem, o: RelaxOptions): Generator<RelaxRequest, RelaxResult, RelaxResponse> {
  validate(o);
  if (o.noise && o.noise.magnitude > 0) check(backend.features.noise, 'relax.noise needs a backend declared with noise (landauModel({ noise: true }) or ReferenceBackend({ noise: true }))');
  if (o.async) check(backend.features.async, 'relax.async needs a backend declared with async (landauModel({ async: true }))');
  check(backend.n === problem.n, `the backend holds ${backend.n} modules but the problem has ${problem.n}`);
  const stepSize = o.stepSize ?? 0.05;
  const ls = o.lineSearch ?? null;
  const tol = o.monotonicTol ?? 1e-10;
  const deterministic = !ls && !o.noise && !o.homotopy && !o.gradNorm;
  const policy: OnIncrease = o.onIncrease ?? (deterministic ? 'error' : 'revert');
  const capFraction = o.stabilityGuard ? (typeof o.stabilityGuard === 'object' ? (o.stabilityGuard.capFraction ?? 0.9) : 0.9) : 0;
  const asyncTol = o.async ? o.async.tolerance : 0;
  const gn: Required<GradNormOptions> | null = o.gradNorm
    ? { targetNorm: 1, alpha: 1.5, updateRate: 0.1, floor: 0.1, ceiling: 2, ...(typeof o.gradNorm === 'object' ? o.gradNorm : {}) }
    : null;
  let baseWeights: TermWeights = o.termWeights ?? UNIT_TERM_WEIGHTS;
  const weightsAt = (t: number): TermWeights => {
    if (!o.homotopy) return baseWeights;
    const start = o.homotopy.couplingScaleStart;
    return withCouplingScale(baseWeights, Math.max(0, start + (1 - start) * Math.min(1, t / o.homotopy.steps)));
  };

  // ‖∇F‖² is read by normalisation, clipping, the noise projection and the Armijo test only.
  const needGrad2 = o.normalizeGrads === true || o.maxGradNorm != null || (o.noise != null && o.noise.magnitude > 0) || ls !== null;
  let evaluations = 0;
  function* step(mode: MoveCommand['mode'], stepScale: number, weights: TermWeights, noiseScale = 0): Generator<RelaxRequest, Evaluation, RelaxResponse> {
    evaluations++;
    return (yield { type: 'step', cmd: { mode, stepScale, noiseScale, asyncTol, weights, grad2: needGrad2 } }) as Evaluation;
  }
  function* etaNow(): Generator<RelaxRequest, Float64Array, RelaxResponse> {
    return (yield { type: 'eta' }) as Float64Array;
  }

  let evalWeights = weightsAt(0);
  let cur = yield* step(MoveMode.hold, 0, evalWeights);
  const trace = [cur.energy];
  const movedTrace: number[] = [];
  const stepSizes: number[] = [];
  let accepted = 0;
  let backtracks = 0;
  let noiseRejections = 0;
  let stopReason: StopReason = 'completed';
  let stopDetail = `ran ${o.steps} steps`;
  let energyFinal = cur.energy;

  for (let t = 0; t < o.steps; t++) {
    const weights = weightsAt(t);
    if (!sameTermWeights(weights, evalWeights)) {
      cur = yield* step(MoveMode.hold, 0, weights);
      evalWeights = weights;
      energyFinal = cur.energy;
    }
    let s = stepSize;
    if (capFraction > 0) {
      const L = lipschitzBound(problem, yield* etaNow(), weights);
      if (L > 0 && Number.isFinite(L)) s = Math.min(s, (capFraction * 2) / L);
    }
    const gnorm = needGrad2 ? Math.sqrt(cur.grad2) : NaN;
    let scale = 1;
    if (o.normalizeGrads && gnorm > 0) scale = 1 / gnorm;
    if (o.maxGradNorm != null) {
      const n2 = gnorm * scale;
      if (n2 > o.maxGradNorm && n2 > 0) scale *= o.maxGradNorm / n2;
    }
    // Orthogonal noise: η − m·g + σ·(ξ − (ξ·g/‖g‖²)·g) = η − (m + σ·ξ·g/‖g‖²)·g + σ·ξ.
    const sigma = o.noise && cur.grad2 > 0 ? o.noise.magnitude * Math.pow(o.noise.decay ?? 1, t) : 0;
    const noiseCoef = sigma !== 0 ? (sigma * cur.noiseDotGrad) / cur.grad2 : 0;

    let trial = yield* step(MoveMode.advance, s * scale + noiseCoef, weights, sigma);
    if (o.async && trial.moved === 0) {
      stopReason = 'quiescent';
      stopDetail = `no module's gradient changed by more than ${asyncTol} at step ${t + 1}`;
      break;
    }
    if (sigma !== 0 && trial.energy > cur.energy + tol) {
      noiseRejections++;
      trial = yield* step(MoveMode.retry, s * scale, weights);
    }
    // The squared norm of the gradient the move used (only moved modules count in asynchronous mode).
    const g2 = scale * scale * (o.async ? trial.movedGrad2 : cur.grad2);
    let sTaken = s;
    if (ls) {
      let k = 0;
      while (!(trial.energy <= cur.energy - ls.armijoC * sTaken * g2) && k < ls.maxBacktrack) {
        sTaken *= ls.backtrackFactor;
        k++;
        trial = yield* step(MoveMode.retry, sTaken * scale, weights);
      }
      backtracks += k;
      if (!(trial.energy <= cur.energy - ls.armijoC * sTaken * g2)) {
        backtracks++;
        if (policy === 'compat') {
          sTaken = s;
          trial = yield* step(MoveMode.retry, s * scale, weights);
        } else {
          yield* step(MoveMode.revert, 0, weights);
          stopReason = 'lineSearchFailed';
          stopDetail = `no sufficient decrease at step ${t + 1} after ${ls.maxBacktrack} backtracks (F ${cur.energy} → ${trial.energy} at s = ${sTaken}); restored the previous state`;
          break;
        }
      }
    }
    if (trial.energy > cur.energy + tol) {
      const what = `at step ${t + 1}: ${cur.energy} → ${trial.energy} (+${trial.energy - cur.energy} > ${tol}, s = ${sTaken})`;
      if (policy === 'compat') {
        energyFinal = trial.energy;
        stopReason = 'keptOnIncrease';
        stopDetail = `energy increased ${what}; kept the worse state (compat)`;
        break;
      }
      yield* step(MoveMode.revert, 0, weights);
      if (policy === 'revert') {
        stopReason = 'revertedOnIncrease';
        stopDetail = `energy increased ${what}; restored the previous state`;
        break;
      }
      throw new CheckError(
        `Energy increased ${what} in the deterministic fixed-step path; the previous state was restored. ` +
          `Lower relax.stepSize, enable relax.lineSearch or the stability guard, or set relax.onIncrease to 'revert' or 'compat'`,
      );
    }
    cur = trial;
    energyFinal = cur.energy;
    trace.push(cur.energy);
    movedTrace.push(trial.moved);
    stepSizes.push(sTaken);
    accepted++;
    if (gn) {
      const norms = termGradNorms(problem, yield* etaNow(), weights);
      const local = [...baseWeights.local] as [number, number, number, number];
      const coupling = [...baseWeights.coupling] as [number, number, number, number];
      for (let k = 0; k < 4; k++) {
        const nl = norms.local[k]!;
        const nc = norms.coupling[k]!;
        if (!Number.isNaN(nl)) local[k] = gradNormUpdate(local[k]!, nl, gn);
        if (!Number.isNaN(nc)) coupling[k] = gradNormUpdate(coupling[k]!, nc, gn);
      }
      baseWeights = { local, coupling };
    }
  }
  return {
    energyTrace: trace,
    deltaF90: { withInit: deltaF90(trace), withoutInit: deltaF90(trace.slice(1)) },
    acceptedSteps: accepted,
    backtracks,
    noiseRejections,
    evaluations,
    stopReason,
    stopDetail,
    onIncrease: policy,
    energyFinal,
    movedTrace,
    stepSizes,
    termWeights: baseWeights,
    eta: yield* etaNow(),
  };
}
