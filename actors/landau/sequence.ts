/**
 * Sequences with a planted mistake, their monotonicity order parameter, and two actor kinds that run
 * the seed's sequence experiments as independent trials (MODELS.md §1: sequence redemption and
 * energy-gated expansion, n = 64, mistake at 20, costs 0…0.2), seeded and deterministic.
 *
 * The seed's sequence module scores a sequence v[0..m) by sampling: `samples` pairs, i uniform in
 * [0, m−2] then j uniform in [i+1, m−1], η = the fraction with v[i] ≤ v[j] (so pairs near the end
 * weigh more: P(i, j) = 1/((m−1)(m−1−i))). Its expectation, {@link expectedMonotonicity}, is a sum
 * over all pairs with those weights. The sequence: linspace(0, 1, n), v[pos] −= 0.5 (the mistake,
 * a dip), then N(0, noise²) added to every value.
 *
 * Determinism (the original draws its pairs from an unseeded `random.Random()`): every draw here is
 * counter-based, keyed by (seed, kind, key, step 0, stream, counter), where `key` is the trial for
 * the sequence's noise (so every actor of a trial sees the same sequence) and as documented per kind
 * for the pairs. Step 0 always: running more steps recomputes the same numbers.
 *
 * Kinds (one step computes everything; the host aggregates):
 * - `PrefixScore` (sequence redemption): one actor per (trial, prefix length L = 2..n). It scores
 *   the prefix v[0..L) and the whole sequence, each with fresh pairs keyed by the actor, as the
 *   original's loop does for every L. Redemption of a trial = mean over L of (1 − η_prefix) −
 *   (1 − η_full): how much lower the loss is when later values are seen.
 * - `GateTrial` (energy-gated expansion): one actor per (cost, trial). gain = η(repaired) − η(v), the
 *   repair being v[pos] ← max(v[pos], v[pos−1]); hazard λ = softplus(k·(gain − cost)); η_gate =
 *   1 − e^(−λ); the repair is applied softly (v[pos] blended by η_gate, the seed's documented
 *   behaviour) or hard (straight-through: only if η_gate > 0.5); redemption = η(after) − η(before);
 *   the trial expands when η_gate > 0.5. Pairs are keyed by the *trial*, not the actor, so every
 *   cost sees the same sequence and the same pairs (common random numbers): the costs are compared
 *   on identical trials, and the expansion rate cannot rise with the cost.
 */
import type { ActorDecl } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';
import { normal, uniform } from '../../src/rng.js';
import { hazard as hazardOf } from './energies.js';

export const PREFIX_KIND = 'PrefixScore';
export const GATE_TRIAL_KIND = 'GateTrial';

/** RNG streams. */
export const SequenceStream = {
  /** Noise of the sequence, counter k = value index. */
  noise: 0x5e01,
  /** PrefixScore: pairs of the prefix score / of the whole-sequence score. */
  prefix: 0x5e02,
  full: 0x5e03,
  /** GateTrial: pairs of the gain's base and repaired scores, and of the before/after scores. */
  gainBase: 0x5e04,
  gainRepaired: 0x5e05,
  before: 0x5e06,
  after: 0x5e07,
} as const;

/** Parameters shared by both kinds (kind params, frozen into the spec). */
export const SEQUENCE_PARAMS = {
  n: { default: 64, min: 2, integer: true, description: 'sequence length' },
  mistakePos: { default: 20, min: 0, integer: true, description: 'index of the planted dip (−0.5)' },
  noise: { default: 0.01, min: 0, description: 'standard deviation of the noise added to every value' },
  samples: { default: 512, min: 0, integer: true, description: 'sampled pairs per score (0: the exact expectation instead)' },
} as const;

/** A draw source for one key: uniform(stream, counter) in [0, 1) and normal(stream, counter). */
export interface Draws {
  uniform(stream: number, counter: number): number;
  normal(stream: number, counter: number): number;
}

/** The counter-based draws of (seed, kind, key) at step 0. */
export function drawsFor(seed: number, kind: number, key: number): Draws {
  return {
    uniform: (stream, counter) => uniform(seed, kind, key, 0, stream, counter),
    normal: (stream, counter) => normal(seed, kind, key, 0, stream, counter),
  };
}

/** linspace(0, 1, n) with a dip of 0.5 at `pos` (when 0 ≤ pos < n), plus N(0, noise²) noise. */
export function sequenceWithMistake(n: number, pos: number, noise: number, draws: Draws): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = n === 1 ? 0 : i === n - 1 ? 1 : i / (n - 1);
  if (pos >= 0 && pos < n) v[pos]! -= 0.5;
  if (noise > 0) for (let i = 0; i < n; i++) v[i]! += noise * draws.normal(SequenceStream.noise, i);
  return v;
}

/**
 * The seed's sampled score of v[0..m): `samples` pairs (i uniform in [0, m−2], j uniform in
 * [i+1, m−1]; counters 2s, 2s+1 of `stream`), the fraction with v[i] ≤ v[j]. `samples` = 0 gives
 * {@link expectedMonotonicity}.
 */
export function sampledMonotonicity(v: ArrayLike<number>, m: number, samples: number, draws: Draws, stream: number): number {
  if (samples === 0) return expectedMonotonicity(v, m);
  let ok = 0;
  for (let s = 0; s < samples; s++) {
    const i = Math.floor(draws.uniform(stream, 2 * s) * (m - 1));
    const j = i + 1 + Math.floor(draws.uniform(stream, 2 * s + 1) * (m - 1 - i));
    if (v[i]! <= v[j]!) ok++;
  }
  return ok / samples;
}

/** E[sampled score] = Σ_{i<j} [v_i ≤ v_j] / ((m−1)(m−1−i)), O(m²). */
export function expectedMonotonicity(v: ArrayLike<number>, m: number): number {
  let sum = 0;
  for (let i = 0; i < m - 1; i++) {
    let ok = 0;
    for (let j = i + 1; j < m; j++) if (v[i]! <= v[j]!) ok++;
    sum += ok / (m - 1 - i);
  }
  return sum / (m - 1);
}

/** The seed's minimal local repair: v[pos] ← max(v[pos], v[pos−1]) (a copy; pos must be ≥ 1). */
export function repaired(v: Float64Array, pos: number, blend = 1): Float64Array {
  const out = Float64Array.from(v);
  if (pos >= 1 && pos < v.length) {
    const orig = out[pos]!;
    const target = Math.max(orig, out[pos - 1]!);
    out[pos] = blend === 1 ? target : (1 - blend) * orig + blend * target;
  }
  return out;
}

export interface SequenceParams {
  n: number;
  mistakePos: number;
  noise: number;
  samples: number;
}

/** One PrefixScore actor: scores of the prefix v[0..length) and of the whole sequence. */
export function prefixScore(p: SequenceParams, seed: number, kind: number, actor: number, trial: number, length: number): { etaPrefix: number; etaFull: number } {
  const v = sequenceWithMistake(p.n, p.mistakePos, p.noise, drawsFor(seed, kind, trial));
  const d = drawsFor(seed, kind, actor);
  return {
    etaPrefix: sampledMonotonicity(v, length, p.samples, d, SequenceStream.prefix),
    etaFull: sampledMonotonicity(v, p.n, p.samples, d, SequenceStream.full),
  };
}

export interface GateTrialParams extends SequenceParams {
  /** Gate sharpness k. */
  k: number;
  /** 1: blend the repair by η_gate (default); 0: straight-through, repair fully iff η_gate > 0.5. */
  soft: number;
  /** 1: the before and after scores use the same pairs, and so do the gain's two scores. */
  commonPairs: number;
}

export interface GateTrialResult {
  gain: number;
  hazard: number;
  etaGate: number;
  expanded: boolean;
  etaBefore: number;
  etaAfter: number;
  redemption: number;
}

/** One GateTrial actor (pairs keyed by the trial: see the file comment). */
export function gateTrial(p: GateTrialParams, seed: number, kind: number, trial: number, cost: number): GateTrialResult {
  const d = drawsFor(seed, kind, trial);
  const v = sequenceWithMistake(p.n, p.mistakePos, p.noise, d);
  const common = p.commonPairs === 1;
  const base = sampledMonotonicity(v, p.n, p.samples, d, SequenceStream.gainBase);
  const fixed = sampledMonotonicity(repaired(v, p.mistakePos), p.n, p.samples, d, common ? SequenceStream.gainBase : SequenceStream.gainRepaired);
  const gain = fixed - base;
  // One gain for both the hazard and η_gate (the original evaluates its gain function twice, with
  // fresh samples each time), so that η_gate = 1 − e^(−λ) holds trial by trial.
  const hazard = hazardOf(gain, cost, p.k);
  const etaGate = 1 - Math.exp(-hazard);
  const expanded = etaGate > 0.5;
  const before = sampledMonotonicity(v, p.n, p.samples, d, SequenceStream.before);
  const blend = p.soft === 1 ? etaGate : expanded ? 1 : 0;
  const after = sampledMonotonicity(blend === 0 ? v : repaired(v, p.mistakePos, blend), p.n, p.samples, d, common ? SequenceStream.before : SequenceStream.after);
  return { gain, hazard, etaGate, expanded, etaBefore: before, etaAfter: after, redemption: after - before };
}

/** `PrefixScore`: one (trial, prefix length) of the sequence-redemption experiment. */
export function prefixScoreActor(): ActorDecl {
  return {
    name: PREFIX_KIND,
    description: 'scores a prefix and the whole of a sequence with a planted mistake (sequence redemption)',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/sequence'),
    state: {
      trial: { type: 'u32', description: 'trial (selects the sequence)' },
      length: { type: 'u32', description: 'prefix length L ≥ 2' },
      etaPrefix: { type: 'f64', description: 'score of v[0..L)' },
      etaFull: { type: 'f64', description: 'score of the whole sequence' },
    },
    params: { ...SEQUENCE_PARAMS },
    functions: { score: { kernel: 'sequence.prefixScore', reads: ['trial', 'length'], writes: ['etaPrefix', 'etaFull'] } },
  };
}

/** `GateTrial`: one (cost, trial) of the energy-gated-expansion experiment. */
export function gateTrialActor(): ActorDecl {
  return {
    name: GATE_TRIAL_KIND,
    description: 'a hazard gate deciding whether to repair a planted mistake (energy-gated expansion)',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/sequence'),
    state: {
      trial: { type: 'u32', description: 'trial (selects the sequence and the pairs)' },
      cost: { type: 'f64', description: 'expansion cost' },
      gain: { type: 'f64', description: 'η(repaired) − η(sequence)' },
      hazard: { type: 'f64', description: 'λ = softplus(k·(gain − cost))' },
      etaGate: { type: 'f64', description: 'η_gate = 1 − exp(−λ)' },
      expanded: { type: 'u8', description: '1 if η_gate > 0.5' },
      etaBefore: { type: 'f64', description: 'score of the sequence' },
      etaAfter: { type: 'f64', description: 'score after the (soft or hard) repair' },
    },
    params: {
      ...SEQUENCE_PARAMS,
      k: { default: 10, min: 0, description: 'gate sharpness' },
      soft: { default: 1, min: 0, max: 1, integer: true, description: '1: blend the repair by η_gate; 0: straight-through (repair iff η_gate > 0.5)' },
      commonPairs: { default: 0, min: 0, max: 1, integer: true, description: '1: before/after (and the gain’s two scores) share their pairs' },
    },
    functions: {
      decide: { kernel: 'sequence.gateTrial', reads: ['trial', 'cost'], writes: ['gain', 'hazard', 'etaGate', 'expanded', 'etaBefore', 'etaAfter'] },
    },
  };
}
