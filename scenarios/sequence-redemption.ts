/**
 * `sequence-redemption`: the seed's `sequence_redemption` experiment (MODELS.md §1), seeded and
 * deterministic. A sequence of n = 64 rising values has a mistake planted at index 20 (a dip of 0.5)
 * and a little noise; it is scored by the seed's sampled monotonicity η (actors/landau/sequence.ts)
 * once per prefix length L = 2..n ("local": only what came before is seen) and once as a whole
 * ("non-local"). A trial's redemption = mean over L of (1 − η_prefix) − (1 − η_full): how much loss
 * the later context takes away. Positive: the mistake weighs less when the sequence is seen whole.
 *
 *   simloom run sequence-redemption [--set trials=10] [--set samples=512] [--seed 1]
 *
 * One `PrefixScore` actor per (trial, L), one engine step. `results.sequenceRedemption`: per trial the
 * sampled redemption and its exact expectation (the same formula on the expected scores, no
 * sampling), their means, and the mean loss per prefix length (sampled and exact). validate()
 * checks finite scores in [0, 1], the sampled mean within 6 standard errors of the exact one, and the
 * mistake's signature in the exact local loss: it jumps when the prefix first contains the mistake.
 */
import { expectedMonotonicity, PREFIX_KIND, prefixScoreActor, sequenceWithMistake, drawsFor } from '../actors/landau/sequence.js';
import { UsageError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import { defineScenario } from '../sim/scenario.js';

export interface SequenceRedemptionResults {
  n: number;
  mistakePos: number;
  noise: number;
  samples: number;
  trials: number;
  perTrial: { trial: number; redemption: number; redemptionExact: number }[];
  redemptionMean: number;
  redemptionExactMean: number;
  /** Standard error of redemptionMean under the sampling (bound: 1/(4·samples) variance per score). */
  standardError: number;
  /** Per prefix length L = 2..n, mean over trials: loss 1 − η of the prefix, sampled and exact. */
  prefixLoss: { length: number; sampled: number; exact: number }[];
  /** Mean over trials of the exact whole-sequence loss 1 − η. */
  fullLossExact: number;
}

export default defineScenario({
  name: 'sequence-redemption',
  description: 'sequence redemption of MODELS.md §1: prefix-only vs whole-sequence monotonicity loss with a mistake planted at 20 of 64',
  params: {
    n: { type: 'integer', default: 64, min: 3, max: 100_000, description: 'sequence length' },
    mistakePos: { type: 'integer', default: 20, min: 1, description: 'index of the planted dip' },
    noise: { type: 'number', default: 0.01, min: 0, description: 'noise standard deviation' },
    samples: { type: 'integer', default: 512, min: 0, max: 1_000_000, description: 'sampled pairs per score (0: exact expectations)' },
    trials: { type: 'integer', default: 10, min: 1, max: 100_000, description: 'sequences' },
  },
  defaultSteps: 1,
  // init() only writes state; the score is one engine step and results() reads the state: a checkpoint
  // holds everything (test/resume.test.ts).
  resumable: true,
  plots: [{ name: 'redemption', title: 'sequence-redemption: mean whole-sequence minus prefix η', y: ['redemptionMean'], yTitle: 'η_full − η_prefix' }],
  setup(p) {
    const n = Number(p.n);
    const pos = Number(p.mistakePos);
    if (pos >= n) throw new UsageError(`--set mistakePos: must be < n = ${n}, got ${pos}`);
    const trials = Number(p.trials);
    const lengths = n - 1;
    const params = { n, mistakePos: pos, noise: Number(p.noise), samples: Number(p.samples) };
    return {
      model: defineModel({
        name: 'sequence_redemption',
        actors: [prefixScoreActor()],
        population: { [PREFIX_KIND]: { capacity: trials * lengths } },
        params: { [PREFIX_KIND]: params },
      }),
      init(sim) {
        // Actor a = trial·(n − 1) + (L − 2).
        const s = sim.state(PREFIX_KIND);
        for (let t = 0; t < trials; t++) {
          for (let L = 2; L <= n; L++) {
            const a = t * lengths + (L - 2);
            s.trial![a] = t;
            s.length![a] = L;
          }
        }
      },
      results(sim) {
        const s = sim.state(PREFIX_KIND);
        const kind = sim.spec.kinds.findIndex((k) => k.name === PREFIX_KIND);
        const prefixLoss = Array.from({ length: lengths }, (_, k) => ({ length: k + 2, sampled: 0, exact: 0 }));
        const perTrial: SequenceRedemptionResults['perTrial'] = [];
        let fullLossExact = 0;
        for (let t = 0; t < trials; t++) {
          const v = sequenceWithMistake(n, pos, params.noise, drawsFor(sim.seed, kind, t));
          const fullExact = 1 - expectedMonotonicity(v, n);
          fullLossExact += fullExact / trials;
          let sampled = 0;
          let exact = 0;
          for (let L = 2; L <= n; L++) {
            const a = t * lengths + (L - 2);
            const prefix = 1 - s.etaPrefix![a]!;
            const prefixExact = 1 - expectedMonotonicity(v, L);
            sampled += prefix - (1 - s.etaFull![a]!);
            exact += prefixExact - fullExact;
            prefixLoss[L - 2]!.sampled += prefix / trials;
            prefixLoss[L - 2]!.exact += prefixExact / trials;
          }
          perTrial.push({ trial: t, redemption: sampled / lengths, redemptionExact: exact / lengths });
        }
        const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
        const samples = params.samples;
        // Each trial's redemption averages `lengths` differences of two independent scores, each
        // with variance ≤ 1/(4·samples); trials are independent.
        const standardError = samples > 0 ? Math.sqrt(2 / (4 * samples) / lengths / trials) : 0;
        const r: SequenceRedemptionResults = {
          n,
          mistakePos: pos,
          noise: params.noise,
          samples,
          trials,
          perTrial,
          redemptionMean: mean(perTrial.map((x) => x.redemption)),
          redemptionExactMean: mean(perTrial.map((x) => x.redemptionExact)),
          standardError,
          prefixLoss,
          fullLossExact,
        };
        return { sequenceRedemption: r };
      },
      metrics(sim) {
        const s = sim.state(PREFIX_KIND);
        const count = sim.count(PREFIX_KIND);
        let d = 0;
        for (let a = 0; a < count; a++) d += s.etaFull![a]! - s.etaPrefix![a]!;
        return { redemptionMean: count > 0 ? d / count : 0 };
      },
    };
  },
  validate(summary) {
    const r = summary.results.sequenceRedemption as SequenceRedemptionResults | undefined;
    if (!r) return ['results.sequenceRedemption is missing'];
    const problems: string[] = [];
    for (const x of r.perTrial) if (!(Number.isFinite(x.redemption) && Math.abs(x.redemption) <= 1)) problems.push(`trial ${x.trial}: redemption ${x.redemption} is not in [−1, 1]`);
    for (const x of r.prefixLoss) if (!(x.sampled >= 0 && x.sampled <= 1 && x.exact >= 0 && x.exact <= 1)) problems.push(`prefix ${x.length}: loss outside [0, 1]`);
    if (Math.abs(r.redemptionMean - r.redemptionExactMean) > 6 * r.standardError + 1e-12) {
      problems.push(`the sampled mean redemption ${r.redemptionMean} is more than 6 standard errors (${r.standardError}) from its expectation ${r.redemptionExactMean}`);
    }
    // Prefix L ends at index L − 1: the first prefix holding the mistake is L = mistakePos + 1.
    const before = r.prefixLoss.find((x) => x.length === r.mistakePos);
    const at = r.prefixLoss.find((x) => x.length === r.mistakePos + 1);
    if (before && at && !(at.exact > before.exact)) problems.push(`the exact prefix loss does not rise when the prefix first holds the mistake (${before.exact} at L = ${before.length}, ${at.exact} at L = ${at.length})`);
    return problems;
  },
});
