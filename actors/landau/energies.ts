/**
 * The mathematics of Landau modules (MODELS.md §1), one small pure function per term, written to be
 * checked against the text: local energies and their derivatives, coupling energies and their
 * gradients, the hazard gate, ΔF90 and the gated-expansion metrics. The kernels in
 * `kernels/landau/cpu.ts` inline the same formulas; tests hold both to these functions and to
 * central finite differences.
 *
 * Every module has an order parameter η ∈ [0, 1]. Total energy:
 *
 *   F = Σ_i w_local[kind_i] · F_local(η_i)  +  Σ_edges w_coup[type_e] · F_e(η_i, η_j)
 *
 * where the term weights `w_local` (per local kind) and `w_coup` (per coupling type) default to 1.
 */

/** Local energy kinds (the `kind` state column holds the code). */
export const LocalKind = { gate: 0, sequence: 1, connectivity: 2, landau: 3 } as const;
export type LocalKindName = keyof typeof LocalKind;
export const LOCAL_KINDS: readonly LocalKindName[] = ['gate', 'sequence', 'connectivity', 'landau'];

/** Coupling types (the `type` edge field holds the code). */
export const CouplingType = { quadratic: 0, hinge: 1, gateBenefit: 2, dampedGateBenefit: 3 } as const;
export type CouplingTypeName = keyof typeof CouplingType;
export const COUPLING_TYPES: readonly CouplingTypeName[] = ['quadratic', 'hinge', 'gateBenefit', 'dampedGateBenefit'];

// ---------------------------------------------------------------------------------------------
// Local energies

/**
 * Local energy of one module.
 * - gate:                   F = aη² + bη⁴
 * - sequence, connectivity: F = a(1−η)² + b(1−η)⁴
 * - landau:                 F = aη² + bη⁴ − hη   (a may be negative: a double well)
 */
export function localEnergy(kind: number, a: number, b: number, h: number, eta: number): number {
  switch (kind) {
    case LocalKind.gate: {
      const e2 = eta * eta;
      return a * e2 + b * e2 * e2;
    }
    case LocalKind.sequence:
    case LocalKind.connectivity: {
      const u = 1 - eta;
      const u2 = u * u;
      return a * u2 + b * u2 * u2;
    }
    default: {
      const e2 = eta * eta;
      return a * e2 + b * e2 * e2 - h * eta;
    }
  }
}

/** dF_local/dη: gate 2aη + 4bη³; sequence/connectivity −2a(1−η) − 4b(1−η)³; landau 2aη + 4bη³ − h. */
export function localGrad(kind: number, a: number, b: number, h: number, eta: number): number {
  switch (kind) {
    case LocalKind.gate:
      return 2 * a * eta + 4 * b * eta * eta * eta;
    case LocalKind.sequence:
    case LocalKind.connectivity: {
      const u = 1 - eta;
      return -2 * a * u - 4 * b * u * u * u;
    }
    default:
      return 2 * a * eta + 4 * b * eta * eta * eta - h;
  }
}

/** d²F_local/dη²: 2a + 12bη² (gate, landau) or 2a + 12b(1−η)² (sequence, connectivity). */
export function localCurvature(kind: number, a: number, b: number, _h: number, eta: number): number {
  const x = kind === LocalKind.sequence || kind === LocalKind.connectivity ? 1 - eta : eta;
  return 2 * a + 12 * b * x * x;
}

// ---------------------------------------------------------------------------------------------
// Couplings. An edge joins module i (its source, listed first) and module j. Its shape parameters:
//   quadratic          w                       F = w(η_i − η_j)²
//   hinge              w, alpha, beta          F = w·max(0, βη_j − αη_i)²
//   gateBenefit        w, benefit = δ          F = −w·δ·η_i                (j plays no part)
//   dampedGateBenefit  w, benefit, power p     F = −w·benefit·η_eff,  η_eff = η_i if p = 1 else max(0, η_i)^p
// where for dampedGateBenefit benefit = damping · (δ ≥ 0 ? positiveScale·δ : negativeScale·δ)
// (see `dampedBenefit`), so that both benefit couplings share one formula (gateBenefit is p = 1).

/** The folded benefit of a dampedGateBenefit coupling: damping · (s⁺δ if δ ≥ 0 else s⁻δ). */
export function dampedBenefit(delta: number, damping: number, positiveScale: number, negativeScale: number): number {
  return damping * (delta >= 0 ? positiveScale * delta : negativeScale * delta);
}

/** Energy of one coupling edge (before its term weight). */
export function couplingEnergy(type: number, w: number, alpha: number, beta: number, benefit: number, power: number, etaI: number, etaJ: number): number {
  switch (type) {
    case CouplingType.quadratic: {
      const d = etaI - etaJ;
      return w * d * d;
    }
    case CouplingType.hinge: {
      const gap = beta * etaJ - alpha * etaI;
      return gap > 0 ? w * gap * gap : 0;
    }
    default:
      return -w * benefit * benefitEta(etaI, power);
  }
}

/** ∂F_e/∂η_i. Exactly 0 for an inactive hinge (gap ≤ 0). */
export function couplingGradI(type: number, w: number, alpha: number, beta: number, benefit: number, power: number, etaI: number, etaJ: number): number {
  switch (type) {
    case CouplingType.quadratic:
      return 2 * w * (etaI - etaJ);
    case CouplingType.hinge: {
      const gap = beta * etaJ - alpha * etaI;
      return gap > 0 ? -2 * w * gap * alpha : 0;
    }
    default: {
      const d = benefitEtaGrad(etaI, power);
      return d === 0 ? 0 : -w * benefit * d;
    }
  }
}

/** ∂F_e/∂η_j. Exactly 0 for an inactive hinge and for the benefit couplings. */
export function couplingGradJ(type: number, w: number, alpha: number, beta: number, _benefit: number, _power: number, etaI: number, etaJ: number): number {
  switch (type) {
    case CouplingType.quadratic:
      return -2 * w * (etaI - etaJ);
    case CouplingType.hinge: {
      const gap = beta * etaJ - alpha * etaI;
      return gap > 0 ? 2 * w * gap * beta : 0;
    }
    default:
      return 0;
  }
}

/** η_eff of the benefit couplings: η if p = 1, else max(0, η)^p. */
export function benefitEta(eta: number, power: number): number {
  if (power === 1) return eta;
  return eta > 0 ? Math.pow(eta, power) : 0;
}

/** dη_eff/dη: 1 if p = 1, else p·η^(p−1) for η > 0 and 0 at η ≤ 0. */
export function benefitEtaGrad(eta: number, power: number): number {
  if (power === 1) return 1;
  return eta > 0 ? power * Math.pow(eta, power - 1) : 0;
}

// ---------------------------------------------------------------------------------------------
// Term weights

/** Term weights: one per local kind and one per coupling type (the original's `local:<Class>` and `coup:<Class>` keys). */
export interface TermWeights {
  readonly local: readonly [gate: number, sequence: number, connectivity: number, landau: number];
  readonly coupling: readonly [quadratic: number, hinge: number, gateBenefit: number, dampedGateBenefit: number];
}

export const UNIT_TERM_WEIGHTS: TermWeights = Object.freeze({ local: [1, 1, 1, 1] as const, coupling: [1, 1, 1, 1] as const });

export function termWeights(partial?: { local?: Partial<Record<LocalKindName, number>>; coupling?: Partial<Record<CouplingTypeName, number>> }): TermWeights {
  const l = partial?.local ?? {};
  const c = partial?.coupling ?? {};
  return {
    local: [l.gate ?? 1, l.sequence ?? 1, l.connectivity ?? 1, l.landau ?? 1],
    coupling: [c.quadratic ?? 1, c.hinge ?? 1, c.gateBenefit ?? 1, c.dampedGateBenefit ?? 1],
  };
}

export function sameTermWeights(x: TermWeights, y: TermWeights): boolean {
  for (let k = 0; k < 4; k++) if (x.local[k] !== y.local[k] || x.coupling[k] !== y.coupling[k]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Gating: η_gate = 1 − exp(−softplus(k·net)), net = gain − cost.

/** Default gate sharpness k. */
export const GATE_K = 10;

/** softplus(x) = log(1 + eˣ), with the original's branches: x above 20 → x, below −20 → eˣ. */
export function softplus(x: number): number {
  if (x > 20) return x;
  if (x < -20) return Math.exp(x);
  return Math.log1p(Math.exp(x));
}

/** Hazard λ = softplus(k·(gain − cost)) ≥ 0: the expansion rate per step. */
export function hazard(gain: number, cost: number, k: number = GATE_K): number {
  return softplus(k * (gain - cost));
}

/**
 * The one-step open probability η_gate = 1 − exp(−λ). Algebraically this is the logistic σ(k·net);
 * computed through the hazard as the original does (they differ by rounding only).
 */
export function gateEta(gain: number, cost: number, k: number = GATE_K): number {
  return 1 - Math.exp(-hazard(gain, cost, k));
}

/** dη_gate/d(net) = k·σ(k·net)·(1 − σ(k·net)): the gradient a straight-through gate passes back. */
export function gateEtaGrad(gain: number, cost: number, k: number = GATE_K): number {
  const s = gateEta(gain, cost, k);
  return k * s * (1 - s);
}

/** A gate decision: the hard 0/1 at 0.5 (open when η > 0.5, as the original tests `eta_gate > 0.5`). */
export function gateOpen(eta: number): boolean {
  return eta > 0.5;
}

/**
 * The gate's value for use downstream: soft η_gate, or with `straightThrough` the hard 0/1 value
 * forward while `grad` stays the soft gradient dη/d(net) (the straight-through estimator).
 */
export function gateValue(gain: number, cost: number, opts: { k?: number; straightThrough?: boolean } = {}): { value: number; soft: number; grad: number; hazard: number } {
  const k = opts.k ?? GATE_K;
  const soft = gateEta(gain, cost, k);
  return { value: opts.straightThrough ? (gateOpen(soft) ? 1 : 0) : soft, soft, grad: gateEtaGrad(gain, cost, k), hazard: hazard(gain, cost, k) };
}

// ---------------------------------------------------------------------------------------------
// Metrics

/**
 * ΔF90: the number of entries of `energies` up to and including the first one at which 90% of the
 * total drop E[0] − min(E) is reached (the original's `delta_f90`: a 1-based position, so a trace
 * [E_init, E_1, …] that reaches the threshold at E_18 gives 19). With no drop, the trace length.
 */
export function deltaF90(energies: readonly number[]): number {
  if (energies.length < 2) return energies.length;
  const e0 = energies[0]!;
  let min = Infinity;
  for (const e of energies) if (e < min) min = e;
  const drop = e0 - min;
  if (!(drop > 0)) return energies.length;
  const threshold = e0 - 0.9 * drop;
  for (let i = 0; i < energies.length; i++) if (energies[i]! <= threshold) return i + 1;
  return energies.length;
}

/** One trial of an energy-gated expansion: the gate's η, its hazard, and the redemption observed. */
export interface GateTrial {
  readonly eta: number;
  readonly hazard: number;
  /** Improvement of the downstream order parameter (0 when the gate stayed closed). */
  readonly redemption: number;
}

export interface GatedExpansionMetrics {
  /** Fraction of trials whose gate opened (η > 0.5). */
  expansionRate: number;
  /** Mean redemption over all trials. */
  redemptionMean: number;
  /** Mean hazard over all trials. */
  hazardMean: number;
  /** μ̂ = expansions / (Σ max(redemption, 0) + 1e-9). */
  muHat: number;
  /** (good + 1e-6) / (bad + 1e-6): good = opened with redemption > 0, bad = opened without. */
  goodBadRatio: number;
  trials: number;
  expansions: number;
}

export function gatedExpansionMetrics(trials: readonly GateTrial[]): GatedExpansionMetrics {
  let expansions = 0;
  let good = 0;
  let bad = 0;
  let redemption = 0;
  let positive = 0;
  let hazardSum = 0;
  for (const t of trials) {
    redemption += t.redemption;
    positive += Math.max(t.redemption, 0);
    hazardSum += t.hazard;
    if (gateOpen(t.eta)) {
      expansions++;
      if (t.redemption > 0) good++;
      else bad++;
    }
  }
  const n = trials.length;
  return {
    expansionRate: n > 0 ? expansions / n : 0,
    redemptionMean: n > 0 ? redemption / n : 0,
    hazardMean: n > 0 ? hazardSum / n : 0,
    muHat: expansions / (positive + 1e-9),
    goodBadRatio: (good + 1e-6) / (bad + 1e-6),
    trials: n,
    expansions,
  };
}
