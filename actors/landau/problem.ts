/**
 * A Landau problem in memory: modules and coupling edges as columns (structure of arrays), plus the
 * builders for the problems of MODELS.md §1 (the ΔF90 baseline, the dense ring, the Landau sweep) and
 * for seeded random sparse graphs. The same object feeds the scalar reference, the engine and the
 * JSON format (`./graph-format.ts`).
 */
import { hash32, uniform } from '../../src/rng.js';
import { CouplingType, dampedBenefit, gateEta, GATE_K, LocalKind } from './energies.js';

export interface LandauProblem {
  /** Number of modules. */
  readonly n: number;
  /** Local energy kind per module ({@link LocalKind} code). */
  readonly kind: Uint8Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  /** Linear field of `landau` modules (0 elsewhere). */
  readonly h: Float64Array;
  /** Initial order parameter, in [0, 1]. */
  readonly eta0: Float64Array;
  /** Number of coupling edges. */
  readonly edges: number;
  /** Module i of each edge (its owner: the edge is stored with its source). */
  readonly src: Uint32Array;
  /** Module j of each edge (= i for a benefit coupling given without j). */
  readonly dst: Uint32Array;
  /** {@link CouplingType} code per edge. */
  readonly type: Uint8Array;
  readonly w: Float64Array;
  /** Hinge scale on η_i (1 elsewhere). */
  readonly alpha: Float64Array;
  /** Hinge scale on η_j (1 elsewhere). */
  readonly beta: Float64Array;
  /** Benefit couplings: δ (gateBenefit) or damping·scaled δ (dampedGateBenefit); 0 elsewhere. */
  readonly benefit: Float64Array;
  /** Benefit couplings: the power p on η_i (1 for gateBenefit); 1 elsewhere. */
  readonly power: Float64Array;
}

export interface ModuleSpec {
  kind: number;
  a: number;
  b: number;
  h?: number;
  eta0: number;
}

/** Collects modules and couplings, then freezes them into a {@link LandauProblem}. */
export class ProblemBuilder {
  private readonly mods: Required<ModuleSpec>[] = [];
  private readonly edgeRows: [src: number, dst: number, type: number, w: number, alpha: number, beta: number, benefit: number, power: number][] = [];

  get modules(): number {
    return this.mods.length;
  }

  module(m: ModuleSpec): number {
    this.mods.push({ h: 0, ...m });
    return this.mods.length - 1;
  }

  /** A gate module whose η0 comes from the hazard gate: η0 = 1 − exp(−softplus(k·(gain − cost))). */
  gate(p: { gain: number; cost: number; a: number; b: number; k?: number }): number {
    return this.module({ kind: LocalKind.gate, a: p.a, b: p.b, eta0: gateEta(p.gain, p.cost, p.k ?? GATE_K) });
  }

  quadratic(i: number, j: number, w: number): this {
    this.edgeRows.push([i, j, CouplingType.quadratic, w, 1, 1, 0, 1]);
    return this;
  }

  hinge(i: number, j: number, w: number, alpha = 1, beta = 1): this {
    this.edgeRows.push([i, j, CouplingType.hinge, w, alpha, beta, 0, 1]);
    return this;
  }

  gateBenefit(i: number, j: number | undefined, w: number, delta: number): this {
    this.edgeRows.push([i, j ?? i, CouplingType.gateBenefit, w, 1, 1, delta, 1]);
    return this;
  }

  dampedGateBenefit(i: number, j: number | undefined, p: { w: number; delta: number; damping: number; power: number; positiveScale: number; negativeScale: number }): this {
    const benefit = dampedBenefit(p.delta, p.damping, p.positiveScale, p.negativeScale);
    this.edgeRows.push([i, j ?? i, CouplingType.dampedGateBenefit, p.w, 1, 1, benefit, p.power]);
    return this;
  }

  build(): LandauProblem {
    const n = this.mods.length;
    const m = this.edgeRows.length;
    const p = {
      n,
      kind: new Uint8Array(n),
      a: new Float64Array(n),
      b: new Float64Array(n),
      h: new Float64Array(n),
      eta0: new Float64Array(n),
      edges: m,
      src: new Uint32Array(m),
      dst: new Uint32Array(m),
      type: new Uint8Array(m),
      w: new Float64Array(m),
      alpha: new Float64Array(m),
      beta: new Float64Array(m),
      benefit: new Float64Array(m),
      power: new Float64Array(m),
    };
    this.mods.forEach((x, i) => {
      p.kind[i] = x.kind;
      p.a[i] = x.a;
      p.b[i] = x.b;
      p.h[i] = x.h;
      p.eta0[i] = x.eta0;
    });
    this.edgeRows.forEach((r, e) => {
      [p.src[e], p.dst[e], p.type[e], p.w[e], p.alpha[e], p.beta[e], p.benefit[e], p.power[e]] = r;
    });
    return p;
  }
}

/**
 * The ΔF90 benchmark's baseline (MODELS.md §1): two gates (gain 0, cost .1, a .2, b .3) and
 * (gain .1, cost .05, a .25, b .35), η0 from the gates (σ(−1), σ(0.5) with k = 10); a quadratic .7 on
 * (0, 1) and a gateBenefit .8 on (1, 0) with δ = .08.
 */
export function baselineProblem(): LandauProblem {
  const b = new ProblemBuilder();
  b.gate({ gain: 0, cost: 0.1, a: 0.2, b: 0.3 });
  b.gate({ gain: 0.1, cost: 0.05, a: 0.25, b: 0.35 });
  b.quadratic(0, 1, 0.7);
  b.gateBenefit(1, 0, 0.8, 0.08);
  return b.build();
}

/**
 * The dense ring of n modules (MODELS.md §1): gate i has gain .02·(i mod 5), cost .1, a .15, b .05
 * and η0 from the gate; for each i (indices mod n) a quadratic .6 on (i, i+1), a gateBenefit .4 on
 * (i+1, i) with δ = .05 and a quadratic .3 on (i, i+2).
 */
export function ringProblem(n: number): LandauProblem {
  const b = new ProblemBuilder();
  for (let i = 0; i < n; i++) b.gate({ gain: 0.02 * (i % 5), cost: 0.1, a: 0.15, b: 0.05 });
  for (let i = 0; i < n; i++) {
    b.quadratic(i, (i + 1) % n, 0.6);
    b.gateBenefit((i + 1) % n, i, 0.4, 0.05);
    b.quadratic(i, (i + 2) % n, 0.3);
  }
  return b.build();
}

/** The Landau sweep: one uncoupled `landau` module per a in `as`, with b, h = 0 and η0. */
export function sweepProblem(as: readonly number[], b = 1, eta0 = 0.1): LandauProblem {
  const pb = new ProblemBuilder();
  for (const a of as) pb.module({ kind: LocalKind.landau, a, b, h: 0, eta0 });
  return pb.build();
}

/** `linspace(lo, hi, n)` as numpy computes it: lo + k·(hi − lo)/(n − 1), the last point exact. */
export function linspace(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [lo];
  const step = (hi - lo) / (n - 1);
  return Array.from({ length: n }, (_, k) => (k === n - 1 ? hi : lo + k * step));
}

export interface RandomProblemOptions {
  n: number;
  /** Average number of edges a module takes part in (edges = n·degree/2). */
  degree: number;
  seed: number;
  /** Share of coupling types, in the order quadratic, hinge, gateBenefit, dampedGateBenefit (default 0.6, 0.2, 0.2, 0). */
  mix?: readonly [number, number, number, number];
}

/** RNG stream for random problems, apart from the kernels' streams. */
const RANDOM_PROBLEM_STREAM = 0x1a4d;

/**
 * A seeded random sparse graph: even modules are gates, odd ones sequence modules (half and half, as
 * the benchmark asks), with a, b ∈ [0.05, 0.45], η0 ∈ [0, 1]; n·degree/2 edges between uniformly
 * drawn distinct endpoints, weights in [0.05, 0.55]. Every draw is a counter-based hash of the seed,
 * so the problem does not depend on anything else.
 */
export function randomProblem(o: RandomProblemOptions): LandauProblem {
  const { n, seed } = o;
  if (!(Number.isInteger(n) && n >= 2)) throw new RangeError(`randomProblem: n must be an integer ≥ 2, got ${n}`);
  const mix = o.mix ?? [0.6, 0.2, 0.2, 0];
  const total = mix[0] + mix[1] + mix[2] + mix[3];
  const u = (actor: number, counter: number): number => uniform(seed, 0, actor, 0, RANDOM_PROBLEM_STREAM, counter);
  const b = new ProblemBuilder();
  for (let i = 0; i < n; i++) {
    const kind = i % 2 === 0 ? LocalKind.gate : LocalKind.sequence;
    b.module({ kind, a: 0.05 + 0.4 * u(i, 0), b: 0.05 + 0.4 * u(i, 1), eta0: u(i, 2) });
  }
  const m = Math.round((n * o.degree) / 2);
  for (let e = 0; e < m; e++) {
    const i = hash32(seed, 1, e, 0, RANDOM_PROBLEM_STREAM, 0) % n;
    let j = hash32(seed, 1, e, 0, RANDOM_PROBLEM_STREAM, 1) % (n - 1);
    if (j >= i) j++;
    const w = 0.05 + 0.5 * u(n + e, 0);
    const pick = u(n + e, 1) * total;
    if (pick < mix[0]) b.quadratic(i, j, w);
    else if (pick < mix[0] + mix[1]) b.hinge(i, j, w, 0.5 + u(n + e, 2), 0.5 + u(n + e, 3));
    else if (pick < mix[0] + mix[1] + mix[2]) b.gateBenefit(i, j, w, 0.2 * u(n + e, 2) - 0.05);
    else b.dampedGateBenefit(i, j, { w, delta: 0.2 * u(n + e, 2) - 0.05, damping: 0.5, power: 1.5, positiveScale: 1, negativeScale: 2 });
  }
  return b.build();
}
