/**
 * `landau-sweep`: the disorder → order sweep of MODELS.md §1. One uncoupled `landau` module per a in
 * linspace(aMin, aMax, points) with F = aη² + bη⁴ (b = 1, h = 0), η0 = 0.1, fixed step 0.05, 200 steps.
 * For a < 0 the minimum sits at η* = √(−a/2b) with F* = −a²/4b: a = −1 ends at η = 0.70711, F = −0.25.
 *
 *   simloom run landau-sweep [--set points=21] [--set steps=200]
 *
 * `results.sweep` lists {a, eta, energy} per module; validate() checks the a = −1 end point when the
 * sweep includes a = −1 with b = 1.
 */
import { localEnergy, LocalKind } from '../actors/landau/energies.js';
import { linspace, sweepProblem } from '../actors/landau/problem.js';
import { defineScenario } from '../sim/scenario.js';
import { landauSetup, type LandauResults, type LandauSetupContext, RELAX_OPTION_PARAMS, relaxOptionsFrom, resolvePrecision, validateLandau } from './landau-graph.js';

export interface SweepPoint {
  a: number;
  eta: number;
  energy: number;
}

export default defineScenario({
  name: 'landau-sweep',
  description: 'Landau sweep of MODELS.md §1: F = aη² + bη⁴ for a in linspace(−1, 1, 21); a = −1 ends at η = 0.70711, F = −0.25',
  params: {
    aMin: { type: 'number', default: -1, description: 'first a' },
    aMax: { type: 'number', default: 1, description: 'last a' },
    points: { type: 'integer', default: 21, min: 1, max: 1_000_000, description: 'values of a' },
    b: { type: 'number', default: 1, min: 1e-12, description: 'quartic coefficient' },
    eta0: { type: 'number', default: 0.1, min: 0, max: 1, description: 'initial η' },
    stepSize: { type: 'number', default: 0.05, min: 1e-12, description: 'fixed step size' },
    steps: { type: 'integer', default: 200, min: 0, description: 'relaxation steps' },
    ...RELAX_OPTION_PARAMS,
  },
  defaultSteps: 0,
  // The relaxation runs inside init() (a host-driven loop over engine steps whose coordinator state a
  // checkpoint does not hold), so a checkpoint could not be resumed.
  resumable: false,
  // metrics.csv: one row per entry of the energy trace (step = accepted relaxation step), recorded by
  // init() through the runner's InitHost.
  plots: [{ name: 'energy', title: 'landau-sweep: total energy F per accepted relaxation step', y: ['energy'], yTitle: 'F' }],
  setup(p, ctx?: LandauSetupContext) {
    const as = linspace(Number(p.aMin), Number(p.aMax), Number(p.points));
    const b = Number(p.b);
    const problem = sweepProblem(as, b, Number(p.eta0));
    return landauSetup(
      { name: 'landau_sweep', problem, relax: relaxOptionsFrom(p, { stepSize: Number(p.stepSize), steps: Number(p.steps) }), precision: resolvePrecision(p, ctx), writeEta: false },
      (_r, full) => ({
        sweep: as.map((a, i): SweepPoint => {
          const eta = full.eta[i]!;
          return { a, eta, energy: localEnergy(LocalKind.landau, a, b, 0, eta) };
        }),
      }),
    );
  },
  validate(summary) {
    const problems = validateLandau(summary);
    const sweep = summary.results.sweep as SweepPoint[] | undefined;
    if (!sweep) return [...problems, 'results.sweep is missing'];
    const at = sweep.find((s) => s.a === -1);
    if (at && summary.params.b === 1 && Number(summary.params.steps) >= 200) {
      // f64: as published; f32 (cpu or webgpu): η to 1e-5, F to 1e-6 (f32 rounding of η and the step).
      const f64 = (summary.results.landau as LandauResults | undefined)?.precision === 'f64';
      if (Math.abs(at.eta - Math.SQRT1_2) > (f64 ? 5e-6 : 1e-5)) problems.push(`a = −1 ends at η = ${at.eta}, expected 0.70711`);
      if (Math.abs(at.energy + 0.25) > (f64 ? 1e-9 : 1e-6)) problems.push(`a = −1 ends at F = ${at.energy}, expected −0.25`);
    }
    return problems;
  },
});
