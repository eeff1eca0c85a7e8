/**
 * `delta-f90`: the ΔF90 benchmark of MODELS.md §1 on the engine, with two presets: the `baseline`
 * (two gates, a quadratic and a gate benefit) and the dense `ring` of n modules. Fixed step 0.05,
 * 80 steps by default; ΔF90 is reported with E_init (canonical) and without.
 *
 *   simloom run delta-f90 [--set preset=baseline|ring] [--set n=16] [--set stepSize=0.05] [--set steps=80]
 *
 * With the default step size and steps, validate() holds the run to the published figures to 1e-9
 * relative (energies) and exactly (ΔF90) in f64, to 1e-4 and ±1 step in f32 (cpu or webgpu):
 *   baseline:      E_init 0.213086960278256, E_80 −0.00172502137516098, ΔF90 19 / 23
 *   ring, n = 16:  E_init 0.343395517774265, E_80  0.00498623074611142, ΔF90 45 / 48
 * The problems have no randomness; the seed plays no part.
 */
import { baselineProblem, ringProblem } from '../actors/landau/problem.js';
import { defineScenario } from '../sim/scenario.js';
import { landauSetup, type LandauResults, type LandauSetupContext, RELAX_OPTION_PARAMS, relaxOptionsFrom, resolvePrecision, validateLandau } from './landau-graph.js';

/** The published figures (fixed step 0.05, 80 steps, f64). */
export const DELTA_F90_TARGETS = {
  baseline: { energyInit: 0.213086960278256, energyFinal: -0.00172502137516098, withInit: 19, withoutInit: 23 },
  ring16: { energyInit: 0.343395517774265, energyFinal: 0.00498623074611142, withInit: 45, withoutInit: 48 },
} as const;

function relErr(x: number, target: number): number {
  return Math.abs(x - target) / Math.abs(target);
}

export default defineScenario({
  name: 'delta-f90',
  description: 'ΔF90 benchmark of MODELS.md §1: baseline (2 gates) or dense ring of n gates, fixed-step relaxation',
  params: {
    preset: { type: 'string', default: 'baseline', choices: ['baseline', 'ring'], description: 'problem' },
    n: { type: 'integer', default: 16, min: 3, max: 10_000_000, description: 'modules of the ring preset' },
    stepSize: { type: 'number', default: 0.05, min: 1e-12, description: 'fixed step size' },
    steps: { type: 'integer', default: 80, min: 0, description: 'relaxation steps' },
    ...RELAX_OPTION_PARAMS,
  },
  defaultSteps: 0,
  // The relaxation runs inside init() (a host-driven loop over engine steps whose coordinator state a
  // checkpoint does not hold), so a checkpoint could not be resumed.
  resumable: false,
  // metrics.csv: one row per entry of the energy trace (step = accepted relaxation step), recorded by
  // init() through the runner's InitHost.
  plots: [{ name: 'energy', title: 'delta-f90: energy F per accepted relaxation step', y: ['energy'], yTitle: 'F' }],
  setup(p, ctx?: LandauSetupContext) {
    const ring = p.preset === 'ring';
    const problem = ring ? ringProblem(Number(p.n)) : baselineProblem();
    return landauSetup(
      {
        name: 'delta_f90',
        problem,
        relax: relaxOptionsFrom(p, { stepSize: Number(p.stepSize), steps: Number(p.steps) }),
        precision: resolvePrecision(p, ctx),
        writeEta: false,
      },
      () => ({ preset: ring ? `ring n=${Number(p.n)}` : 'baseline' }),
    );
  },
  validate(summary) {
    const problems = validateLandau(summary);
    const r = summary.results.landau as LandauResults | undefined;
    const p = summary.params;
    const plain = Object.keys(RELAX_OPTION_PARAMS).every((k) => k === 'precision' || p[k] === RELAX_OPTION_PARAMS[k]!.default);
    const key = p.preset === 'baseline' ? 'baseline' : Number(p.n) === 16 ? 'ring16' : null;
    if (!r || !key || !plain || p.stepSize !== 0.05 || p.steps !== 80) return problems;
    const t = DELTA_F90_TARGETS[key];
    const e80 = r.energyTrace[80];
    if (e80 === undefined) return [...problems, `only ${r.acceptedSteps} of 80 steps were accepted (${r.stopDetail})`];
    // f64: the published figures to 1e-9; f32 (cpu or webgpu): 1e-4 relative, ΔF90 within one step.
    const tol = r.precision === 'f64' ? 1e-9 : 1e-4;
    const slack = r.precision === 'f64' ? 0 : 1;
    if (relErr(r.energyInit, t.energyInit) > tol) problems.push(`E_init ${r.energyInit} differs from ${t.energyInit} by more than ${tol} relative`);
    if (relErr(e80, t.energyFinal) > tol) problems.push(`E_80 ${e80} differs from ${t.energyFinal} by more than ${tol} relative`);
    if (Math.abs(r.deltaF90.withInit - t.withInit) > slack) problems.push(`ΔF90 with E_init is ${r.deltaF90.withInit}, expected ${t.withInit}`);
    if (Math.abs(r.deltaF90.withoutInit - t.withoutInit) > slack) problems.push(`ΔF90 without E_init is ${r.deltaF90.withoutInit}, expected ${t.withoutInit}`);
    return problems;
  },
});
