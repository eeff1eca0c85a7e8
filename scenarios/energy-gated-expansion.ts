/**
 * `energy-gated-expansion`: the seed's `energy_gated_expansion` experiment (MODELS.md §1), seeded and
 * deterministic. For each expansion cost c ∈ {0, 0.02, 0.05, 0.1, 0.2} and each of `trials`
 * sequences (n = 64, a dip planted at 20, noise 0.01), a hazard gate decides whether to repair the
 * mistake: gain = η(repaired) − η(sequence) (sampled monotonicity scores), λ = softplus(k·(gain − c)),
 * η_gate = 1 − e^(−λ); the repair is blended in by η_gate (default) or applied iff η_gate > 0.5
 * (`--set repair=hard`, straight-through); redemption = η(after) − η(before). Per cost, the gating
 * metrics of MODELS.md §1: expansion_rate, redemption_mean, hazard_mean, μ̂ and good_bad_ratio.
 *
 *   simloom run energy-gated-expansion [--set trials=50] [--set costs=0,0.02,0.05,0.1,0.2] [--seed 1]
 *
 * One `GateTrial` actor per (cost, trial), one engine step (actors/landau/sequence.ts). Every cost
 * sees the same sequences and the same sampled pairs (common random numbers), so the comparison
 * across costs is paired: the expansion rate cannot rise with the cost and the mean hazard falls.
 * `--set commonPairs=true` also pairs the two scores of each difference (gain, redemption), which
 * removes their sampling noise: redemption is then exactly the repair's effect on the sampled
 * pairs (0 when nothing is repaired). `--set samples=0` uses exact expectations throughout.
 *
 * `results.gatedExpansion.rows`: per cost the five metrics (camelCase: expansionRate,
 * redemptionMean, hazardMean, muHat, goodBadRatio), expansions, the mean gain and η_gate.
 * validate() checks finite metrics, hazard ≥ 0, η_gate = 1 − e^(−λ), the expansion rate not rising
 * and the mean hazard falling as the cost rises.
 */
import { gatedExpansionMetrics, type GatedExpansionMetrics, type GateTrial } from '../actors/landau/energies.js';
import { GATE_TRIAL_KIND, gateTrialActor } from '../actors/landau/sequence.js';
import { UsageError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import { defineScenario } from '../sim/scenario.js';

export interface GatedExpansionRow extends GatedExpansionMetrics {
  cost: number;
  gainMean: number;
  etaGateMean: number;
}

export interface GatedExpansionResults {
  n: number;
  mistakePos: number;
  noise: number;
  samples: number;
  k: number;
  repair: 'soft' | 'hard';
  commonPairs: boolean;
  trials: number;
  costs: number[];
  rows: GatedExpansionRow[];
  /** Largest |η_gate − (1 − e^(−λ))| over all trials. */
  gateIdentityError: number;
}

function parseCosts(raw: string): number[] {
  const costs = raw.split(',').map((x) => Number(x.trim()));
  if (costs.length === 0 || costs.some((c) => !Number.isFinite(c) || c < 0)) throw new UsageError(`--set costs: expected comma-separated numbers ≥ 0, got '${raw}'`);
  return costs;
}

export default defineScenario({
  name: 'energy-gated-expansion',
  description: 'energy-gated expansion of MODELS.md §1: a hazard gate repairs a planted mistake when gain beats cost; gating metrics per cost',
  params: {
    n: { type: 'integer', default: 64, min: 3, max: 100_000, description: 'sequence length' },
    mistakePos: { type: 'integer', default: 20, min: 1, description: 'index of the planted dip' },
    noise: { type: 'number', default: 0.01, min: 0, description: 'noise standard deviation' },
    samples: { type: 'integer', default: 512, min: 0, max: 1_000_000, description: 'sampled pairs per score (0: exact expectations)' },
    trials: { type: 'integer', default: 50, min: 1, max: 1_000_000, description: 'sequences per cost' },
    costs: { type: 'string', default: '0,0.02,0.05,0.1,0.2', description: 'expansion costs, comma-separated' },
    k: { type: 'number', default: 10, min: 0, description: 'gate sharpness' },
    repair: { type: 'string', default: 'soft', choices: ['soft', 'hard'], description: 'soft: blend the repair by η_gate; hard: straight-through, repair iff η_gate > 0.5' },
    commonPairs: { type: 'boolean', default: false, description: 'the two scores of each difference share their sampled pairs' },
  },
  defaultSteps: 1,
  // init() only writes state; the trial is one engine step and results() reads the state: a checkpoint
  // holds everything (test/resume.test.ts).
  resumable: true,
  plots: [{ name: 'expansion', title: 'energy-gated-expansion: share of trials whose gate opened', y: ['expansionRate'], yTitle: 'expansion rate' }],
  setup(p) {
    const n = Number(p.n);
    const pos = Number(p.mistakePos);
    if (pos >= n) throw new UsageError(`--set mistakePos: must be < n = ${n}, got ${pos}`);
    const costs = parseCosts(String(p.costs));
    const trials = Number(p.trials);
    const repair = p.repair === 'hard' ? 'hard' : 'soft';
    return {
      model: defineModel({
        name: 'energy_gated_expansion',
        actors: [gateTrialActor()],
        population: { [GATE_TRIAL_KIND]: { capacity: costs.length * trials } },
        params: {
          [GATE_TRIAL_KIND]: {
            n,
            mistakePos: pos,
            noise: Number(p.noise),
            samples: Number(p.samples),
            k: Number(p.k),
            soft: repair === 'soft' ? 1 : 0,
            commonPairs: p.commonPairs === true ? 1 : 0,
          },
        },
      }),
      init(sim) {
        // Actor a = costIndex·trials + trial.
        const s = sim.state(GATE_TRIAL_KIND);
        costs.forEach((c, ci) => {
          for (let t = 0; t < trials; t++) {
            s.trial![ci * trials + t] = t;
            s.cost![ci * trials + t] = c;
          }
        });
      },
      results(sim) {
        const s = sim.state(GATE_TRIAL_KIND);
        let gateIdentityError = 0;
        const rows = costs.map((cost, ci): GatedExpansionRow => {
          const list: GateTrial[] = [];
          let gain = 0;
          let eta = 0;
          for (let t = 0; t < trials; t++) {
            const a = ci * trials + t;
            const e = s.etaGate![a]!;
            const h = s.hazard![a]!;
            gateIdentityError = Math.max(gateIdentityError, Math.abs(e - (1 - Math.exp(-h))));
            list.push({ eta: e, hazard: h, redemption: s.etaAfter![a]! - s.etaBefore![a]! });
            gain += s.gain![a]! / trials;
            eta += e / trials;
          }
          return { cost, ...gatedExpansionMetrics(list), gainMean: gain, etaGateMean: eta };
        });
        const r: GatedExpansionResults = {
          n,
          mistakePos: pos,
          noise: Number(p.noise),
          samples: Number(p.samples),
          k: Number(p.k),
          repair,
          commonPairs: p.commonPairs === true,
          trials,
          costs,
          rows,
          gateIdentityError,
        };
        return { gatedExpansion: r };
      },
      metrics(sim) {
        const s = sim.state(GATE_TRIAL_KIND);
        const count = sim.count(GATE_TRIAL_KIND);
        let expanded = 0;
        for (let a = 0; a < count; a++) expanded += s.expanded![a]!;
        return { expansionRate: count > 0 ? expanded / count : 0 };
      },
    };
  },
  validate(summary) {
    const r = summary.results.gatedExpansion as GatedExpansionResults | undefined;
    if (!r) return ['results.gatedExpansion is missing'];
    const problems: string[] = [];
    for (const row of r.rows) {
      for (const key of ['expansionRate', 'redemptionMean', 'hazardMean', 'muHat', 'goodBadRatio'] as const) {
        if (!Number.isFinite(row[key])) problems.push(`cost ${row.cost}: ${key} = ${row[key]} is not finite`);
      }
      if (!(row.hazardMean >= 0)) problems.push(`cost ${row.cost}: mean hazard ${row.hazardMean} < 0`);
    }
    if (!(r.gateIdentityError < 1e-12)) problems.push(`η_gate differs from 1 − exp(−λ) by ${r.gateIdentityError}`);
    // Costs in increasing order, paired trials: fewer or equal expansions, strictly lower hazard.
    for (let i = 0; i < r.rows.length; i++) {
      for (let j = 0; j < r.rows.length; j++) {
        const a = r.rows[i]!;
        const b = r.rows[j]!;
        if (!(a.cost < b.cost)) continue;
        if (b.expansionRate > a.expansionRate) problems.push(`the expansion rate rose from ${a.expansionRate} at cost ${a.cost} to ${b.expansionRate} at cost ${b.cost}`);
        if (!(b.hazardMean < a.hazardMean) && r.k > 0) problems.push(`the mean hazard did not fall from cost ${a.cost} (${a.hazardMean}) to ${b.cost} (${b.hazardMean})`);
      }
    }
    return problems;
  },
});
