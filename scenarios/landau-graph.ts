/**
 * `landau-graph`: relaxes a Landau graph read from a `simloom/landau-graph@1` JSON file
 * (actors/landau/graph-format.ts) with the energy coordinator (actors/landau/relax.ts) on the engine.
 *
 *   simloom run landau-graph --set graph=problem.json [--set steps=N] [--set writeEta=true]
 *
 * Without `graph`, the ΔF90 baseline problem of MODELS.md §1 is used. The relaxation runs inside the
 * scenario's `init` as a host loop over `stepOnce()` (one engine step per move + evaluation; line
 * searches take several), so `--steps` is not needed and should be left out; `summary.steps` counts
 * engine steps. `summary.results.landau` holds `energyTrace` (E_init, then one entry per accepted
 * step), `deltaF90 {withInit, withoutInit}`, `acceptedSteps`, `backtracks`, `stopReason` (+
 * `stopDetail`, `onIncrease`) and `etaFinal` (for up to 10,000 modules, or with writeEta=true).
 *
 * This module also exports {@link landauSetup}, shared by the `landau-sweep` and `delta-f90`
 * scenarios.
 */
import { readFileSync } from 'node:fs';
import { edgeCapacities, EngineBackend, loadProblem } from '../actors/landau/engine.js';
import { type LandauGraph, parseLandauGraph } from '../actors/landau/graph-format.js';
import { landauModel, MODULE_KIND, type Precision } from '../actors/landau/index.js';
import { baselineProblem, type LandauProblem } from '../actors/landau/problem.js';
import { checkGpuRelaxOptions, GpuEngineBackend, isGpuSimulation } from '../actors/landau/gpu-engine.js';
import { relax, relaxAsync, type RelaxOptions, type RelaxResult } from '../actors/landau/relax.js';
import { relaxSplitting } from '../actors/landau/splitting.js';
import { UsageError } from '../src/errors.js';
import { compileModel } from '../src/model.js';
import { defineScenario, type ParamValues, type RunSummary, type ScenarioParamDecl, type ScenarioSetup, type SetupContext } from '../sim/scenario.js';
import type { WebGpuProbe } from '../sim/gpu/device.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';

/** etaFinal is included up to this many modules unless writeEta is set. */
export const ETA_FINAL_LIMIT = 10_000;

/** What `summary.results.landau` holds. */
export interface LandauResults {
  modules: number;
  couplings: number;
  precision: Precision;
  energyTrace: number[];
  energyInit: number;
  energyFinal: number;
  deltaF90: { withInit: number; withoutInit: number };
  acceptedSteps: number;
  backtracks: number;
  noiseRejections: number;
  evaluations: number;
  stopReason: RelaxResult['stopReason'];
  stopDetail: string;
  onIncrease: RelaxResult['onIncrease'];
  /** Whether the energy function stayed the same over the run (no homotopy or GradNorm), so the trace must not rise. */
  fixedEnergy: boolean;
  etaMin: number;
  etaMax: number;
  etaFinal?: number[];
}

export interface LandauRunConfig {
  name: string;
  problem: LandauProblem;
  relax: RelaxOptions;
  precision: Precision;
  writeEta: boolean;
}

/** A scenario setup that loads `problem`, relaxes it in `init` and reports `results.landau`. */
export function landauSetup(cfg: LandauRunConfig, extra?: (r: LandauResults, full: RelaxResult) => Record<string, unknown>): ScenarioSetup {
  const p = cfg.problem;
  let result: RelaxResult | null = null;
  return {
    model: landauModel({
      name: cfg.name.replace(/[^A-Za-z0-9_]/g, '_'),
      modules: p.n,
      edges: p.edges,
      graphEdges: edgeCapacities(p),
      precision: cfg.precision,
      async: cfg.relax.async != null,
      noise: cfg.relax.noise != null && cfg.relax.noise.magnitude > 0,
    }),
    async init(sim, host) {
      loadProblem(sim, p);
      if (cfg.relax.splitting) {
        if (isGpuSimulation(sim)) checkGpuRelaxOptions(cfg.relax);
        checkSplittingOptions(cfg.relax);
        result = relaxSplitting(p, cfg.relax.splitting, cfg.relax.steps, cfg.relax.termWeights);
        // The state ends where the splitting ended, so that results, metrics and the checksum agree.
        const s = sim.state(MODULE_KIND);
        s.eta!.set(result.eta);
        s.etaPrev!.set(result.eta);
      } else if (isGpuSimulation(sim)) {
        checkGpuRelaxOptions(cfg.relax);
        result = await relaxAsync(new GpuEngineBackend(sim), p, cfg.relax);
      } else {
        result = relax(new EngineBackend(sim), p, cfg.relax);
      }
      // metrics.csv (and the energy plot): one row per entry of the energy trace, by accepted step
      // (0 = E_init); backtracks and evaluations are in results.landau.
      if (host) result.energyTrace.forEach((energy, k) => host.record(k, { energy, acceptedSteps: k }));
    },
    metrics(): Record<string, number> {
      if (!result) return {};
      return { energy: result.energyFinal, acceptedSteps: result.acceptedSteps };
    },
    results() {
      if (!result) return {};
      const r = result;
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of r.eta) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      const landau: LandauResults = {
        modules: p.n,
        couplings: p.edges,
        precision: cfg.precision,
        energyTrace: r.energyTrace,
        energyInit: r.energyTrace[0]!,
        energyFinal: r.energyFinal,
        deltaF90: r.deltaF90,
        acceptedSteps: r.acceptedSteps,
        backtracks: r.backtracks,
        noiseRejections: r.noiseRejections,
        evaluations: r.evaluations,
        stopReason: r.stopReason,
        stopDetail: r.stopDetail,
        onIncrease: r.onIncrease,
        fixedEnergy: !cfg.relax.homotopy && !cfg.relax.gradNorm,
        etaMin: lo,
        etaMax: hi,
        ...(cfg.writeEta || p.n <= ETA_FINAL_LIMIT ? { etaFinal: Array.from(r.eta) } : {}),
      };
      return { landau, ...(extra ? extra(landau, r) : {}) };
    },
  };
}

export interface EngineRelaxOptions extends SimulationOptions {
  precision?: Precision;
}

/**
 * Relaxes `problem` on a fresh simulation (programmatic use, tests and benchmarks): builds the model
 * with the features the options need, loads the problem, runs the coordinator, closes the simulation.
 * Returns the coordinator's result and the final state checksum.
 *
 * @example
 * ```ts
 * const { result } = await relaxOnEngine(ringProblem(16), { stepSize: 0.05, steps: 80 }, { workers: 2 });
 * console.log(result.energyTrace.at(-1), result.deltaF90);
 * ```
 */
export async function relaxOnEngine(problem: LandauProblem, options: RelaxOptions, sim: EngineRelaxOptions = {}): Promise<{ result: RelaxResult; checksum: string; steps: number }> {
  const { precision, ...simOptions } = sim;
  const spec = compileModel(
    landauModel({
      modules: problem.n,
      edges: problem.edges,
      graphEdges: edgeCapacities(problem),
      ...(precision ? { precision } : {}),
      async: options.async != null,
      noise: options.noise != null && options.noise.magnitude > 0,
    }),
  );
  const s = await Simulation.create(spec, simOptions);
  try {
    loadProblem(s, problem);
    const result = relax(new EngineBackend(s), problem, options);
    return { result, checksum: s.checksum(), steps: s.step };
  } finally {
    await s.close();
  }
}

export interface GpuRelaxOptions {
  /** An open device (from probeWebGpu), else one is probed and owned by the simulation. */
  probe?: Extract<WebGpuProbe, { ok: true }>;
  seed?: number;
}

/**
 * Relaxes `problem` on the webgpu backend (f32 layout), as {@link relaxOnEngine} does on the CPU.
 * Refuses the splittings with a UsageError (they run on the host).
 *
 * @example
 * ```ts
 * const { result } = await relaxOnGpu(baselineProblem(), { stepSize: 0.05, steps: 80 });
 * ```
 */
export async function relaxOnGpu(problem: LandauProblem, options: RelaxOptions, gpu: GpuRelaxOptions = {}): Promise<{ result: RelaxResult; steps: number }> {
  checkGpuRelaxOptions(options);
  const spec = compileModel(
    landauModel({
      modules: problem.n,
      edges: problem.edges,
      graphEdges: edgeCapacities(problem),
      precision: 'f32',
      async: options.async != null,
      noise: options.noise != null && options.noise.magnitude > 0,
    }),
  );
  const { GpuSimulation: Gpu } = await import('../sim/gpu/backend.js');
  const s = await Gpu.create(spec, { ...(gpu.probe ? { probe: gpu.probe } : {}), ...(gpu.seed === undefined ? {} : { seed: gpu.seed }) });
  try {
    loadProblem(s, problem);
    const result = await relaxAsync(new GpuEngineBackend(s), problem, options);
    return { result, steps: s.step };
  } finally {
    await s.close();
  }
}

/** Checks every Landau run must pass: finite trace, η in [0, 1], no rise of a fixed energy function. */
export function validateLandau(summary: RunSummary): string[] {
  const r = summary.results.landau as LandauResults | undefined;
  if (!r) return ['results.landau is missing'];
  const problems: string[] = [];
  if (!r.energyTrace.every((e) => Number.isFinite(e))) problems.push('the energy trace has non-finite entries');
  if (!(r.etaMin >= 0 && r.etaMax <= 1)) problems.push(`η left [0, 1]: [${r.etaMin}, ${r.etaMax}]`);
  if (r.fixedEnergy) {
    for (let t = 1; t < r.energyTrace.length; t++) {
      if (r.energyTrace[t]! > r.energyTrace[t - 1]! + 1e-10) {
        problems.push(`energy rose at accepted step ${t}: ${r.energyTrace[t - 1]} → ${r.energyTrace[t]}`);
        break;
      }
    }
  }
  if (r.energyTrace.length !== r.acceptedSteps + 1) problems.push(`the trace has ${r.energyTrace.length} entries for ${r.acceptedSteps} accepted steps`);
  return problems;
}

/** `--set` parameters for the coordinator's options, shared by the Landau scenarios. */
export const RELAX_OPTION_PARAMS: Record<string, ScenarioParamDecl> = {
  precision: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'f64', 'f32'],
    description: 'dtype of η, gradients, energies and edge fields: f64 (cpu only), f32 (cpu or webgpu), auto (f32 when the runner says the backend is webgpu, else f64)',
  },
  normalize: { type: 'boolean', default: false, description: 'step along g/‖g‖' },
  maxGradNorm: { type: 'number', default: 0, min: 0, description: 'clip ‖g‖ to this (0: off)' },
  stabilityGuard: { type: 'boolean', default: false, description: 'cap the step at 0.9·2/L (Gershgorin bound)' },
  async: { type: 'number', default: 0, min: 0, description: 'event-driven mode: a module moves when its gradient changed by more than this (0: off)' },
  noise: { type: 'number', default: 0, min: 0, description: 'orthogonal exploration noise magnitude (0: off)' },
  noiseDecay: { type: 'number', default: 0.99, min: 0, max: 1, description: 'noise decay per step' },
  homotopyStart: { type: 'number', default: 1, min: 0, description: 'coupling weight scale at step 0, ramped to 1 over homotopySteps (1: off)' },
  homotopySteps: { type: 'integer', default: 20, min: 1, description: 'steps of the homotopy ramp' },
  gradNorm: { type: 'boolean', default: false, description: 'GradNorm-style term-weight adaptation' },
  splitting: { type: 'string', default: '', choices: ['', 'prox', 'admm'], description: 'proximal operator splitting or ADMM for the quadratic/hinge edges instead of gradient steps (host-side; see docs/landau.md)' },
  proxTau: { type: 'number', default: 0.05, min: 1e-12, description: 'splitting=prox: step τ' },
  admmRho: { type: 'number', default: 1, min: 1e-12, description: 'splitting=admm: penalty ρ' },
  admmInnerSteps: { type: 'integer', default: 5, min: 1, description: 'splitting=admm: projected gradient steps of the η-update' },
  admmStepSize: { type: 'number', default: 0.05, min: 1e-12, description: 'splitting=admm: step of the η-update' },
};

/**
 * What a Landau scenario's `setup` is told besides its parameters (the runner's {@link SetupContext}):
 * with `--backend webgpu`, `precision=auto` means f32; otherwise f64.
 */
export type LandauSetupContext = SetupContext;

/** The precision a run uses: the `precision` parameter, with `auto` resolved by the backend. */
export function resolvePrecision(p: ParamValues, ctx?: LandauSetupContext): Precision {
  const v = String(p.precision ?? 'auto');
  if (v === 'f64' || v === 'f32') return v;
  return ctx?.backend === 'webgpu' ? 'f32' : 'f64';
}

/** Refuses the gradient coordinator's options next to `splitting` (they do not apply to it). */
function checkSplittingOptions(o: RelaxOptions): void {
  const other = (['lineSearch', 'normalizeGrads', 'maxGradNorm', 'stabilityGuard', 'homotopy', 'noise', 'gradNorm', 'async'] as const).filter((k) => o[k] != null && o[k] !== false);
  if (other.length > 0) throw new UsageError(`--set splitting=${o.splitting!.method} does not combine with ${other.join(', ')} (options of the gradient coordinator); drop them or the splitting`);
}

/** The coordinator options chosen by {@link RELAX_OPTION_PARAMS}, on top of `base`. */
export function relaxOptionsFrom(p: ParamValues, base: RelaxOptions): RelaxOptions {
  const o: RelaxOptions = { ...base };
  if (p.normalize === true) o.normalizeGrads = true;
  if (Number(p.maxGradNorm) > 0) o.maxGradNorm = Number(p.maxGradNorm);
  if (p.stabilityGuard === true) o.stabilityGuard = true;
  if (Number(p.async) > 0) o.async = { tolerance: Number(p.async) };
  if (Number(p.noise) > 0) o.noise = { magnitude: Number(p.noise), decay: Number(p.noiseDecay) };
  if (Number(p.homotopyStart) !== 1) o.homotopy = { couplingScaleStart: Number(p.homotopyStart), steps: Number(p.homotopySteps) };
  if (p.gradNorm === true) o.gradNorm = true;
  if (p.splitting === 'prox') o.splitting = { method: 'prox', tau: Number(p.proxTau) };
  if (p.splitting === 'admm') o.splitting = { method: 'admm', rho: Number(p.admmRho), innerSteps: Number(p.admmInnerSteps), stepSize: Number(p.admmStepSize) };
  return o;
}

function loadGraph(file: string): LandauGraph & { source: string } {
  if (file === '') return { problem: baselineProblem(), relax: { stepSize: 0.05, steps: 80, lineSearch: null, onIncrease: null }, source: 'built-in ΔF90 baseline' };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--set graph=${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return { ...parseLandauGraph(text, file), source: file };
}

export default defineScenario({
  name: 'landau-graph',
  description: 'relax a Landau graph from a simloom/landau-graph@1 JSON file so that F never increases (MODELS.md §1)',
  params: {
    graph: { type: 'string', default: '', description: 'path of a simloom/landau-graph@1 JSON file (default: the built-in ΔF90 baseline)' },
    steps: { type: 'integer', default: -1, min: -1, description: 'relaxation steps (-1: the file’s relax.steps)' },
    writeEta: { type: 'boolean', default: false, description: 'include etaFinal however many modules there are' },
    onIncrease: { type: 'string', default: '', choices: ['', 'error', 'revert', 'compat'], description: 'policy when a step raises F (default: the file’s, else error in the fixed-step path, revert elsewhere)' },
    ...RELAX_OPTION_PARAMS,
  },
  defaultSteps: 0,
  // The relaxation runs inside init() (a host-driven loop over engine steps whose coordinator state a
  // checkpoint does not hold), so a checkpoint could not be resumed.
  resumable: false,
  // metrics.csv: one row per entry of the energy trace (step = accepted relaxation step), recorded by
  // init() through the runner's InitHost.
  plots: [{ name: 'energy', title: 'landau-graph: energy F per accepted relaxation step', y: ['energy'], yTitle: 'F' }],
  setup(p, ctx?: LandauSetupContext) {
    const g = loadGraph(String(p.graph));
    const steps = Number(p.steps) >= 0 ? Number(p.steps) : g.relax.steps;
    const onIncrease = String(p.onIncrease) || g.relax.onIncrease;
    const base: RelaxOptions = {
      stepSize: g.relax.stepSize,
      steps,
      lineSearch: g.relax.lineSearch,
      ...(onIncrease ? { onIncrease: onIncrease as RelaxOptions['onIncrease'] } : {}),
    };
    return landauSetup(
      { name: 'landau_graph', problem: g.problem, relax: relaxOptionsFrom(p, base), precision: resolvePrecision(p, ctx), writeEta: p.writeEta === true },
      () => ({ graph: g.source }),
    );
  },
  validate: validateLandau,
});
