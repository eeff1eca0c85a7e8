/**
 * `water-filling`: embeddings placed on S radial shells by concurrent water-filling (MODELS.md §2, seed
 * 002 "TheSphere"), with shells and points as actors (actors/water-filling).
 *
 *   simloom run water-filling --set n=100000 data=clustered dim=256 mode=compat tau=1 passes=25
 *   simloom run water-filling --set file=emb.npy mode=balanced
 *
 * The passes run inside the scenario's `init` as a host loop over engine steps (one step per pass),
 * because the stop rules look at the whole population after each pass: compat stops when the mean
 * |count − cap| of the pass was ≤ 8, when the mean |Δ(r, θ, φ)| fell below 1e-3, or after `passes`;
 * balanced stops when every shell is within the tolerance of its capacity, or after `passes`. So
 * `--steps` is not needed; `summary.steps` counts passes. Not resumable (the loop holds the figures).
 *
 * `summary.results.waterFilling`: mode, points, shells, source, passes, promotions, lateralMoves,
 * inwardMoves, overloadTrajectory (mean |count − cap| per pass, before the move), promotionsPerPass,
 * lateralPerPass, finalOverload (after the last move), meanCapacity, occupiedShells,
 * maxOverloadRatio (max |count − cap|/cap after the last move), converged, stopReason,
 * angularDispersion {start, end} (Σ_k Σ_c (n_kc − c_k/C)²/N over the angular cells), and
 * pointsPerSecond = n / (placement + passes) time: the initial placement (radii from norms, nearest
 * shells, the lateral subset, writing the state) and every pass with its per-pass reductions; not the
 * making or loading of the embeddings, nor model compilation and worker start.
 */
import { countRows, syntheticPoints, loadPoints, type PointData, type Workload, WORKLOADS } from '../actors/water-filling/data.js';
import { shellGeometry, type ShellGeometry } from '../actors/water-filling/geometry.js';
import { POINT_KIND, SHELL_KIND, TALLY_BLOCK, waterFillingModel } from '../actors/water-filling/index.js';
import { angularDispersion, initialState, lateralSubset, type Mode, MODES, PASS_DEFAULTS, type PassOptions, type PointState, targetBelow } from '../actors/water-filling/reference.js';
import { UsageError } from '../src/errors.js';
import { compileModel } from '../src/model.js';
import type { TypedArray } from '../src/types.js';
import { reduceOnHost, type ReductionSpecs, type SimulationLike } from '../sim/backend.js';
import { defineScenario, type ParamValues, type RunSummary } from '../sim/scenario.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';

/** compat: the original stops once a pass's mean |count − cap| is at most this. */
export const COMPAT_OVERLOAD_STOP = 8;
/** compat: … or once the mean |Δ| over the n×3 coordinates is below this. */
export const COMPAT_DELTA_STOP = 1e-3;

/** What `summary.results.waterFilling` holds. */
export interface WaterFillingResults {
  mode: Mode;
  points: number;
  shells: number;
  source: string;
  passes: number;
  promotions: number;
  lateralMoves: number;
  inwardMoves: number;
  overloadTrajectory: number[];
  promotionsPerPass: number[];
  lateralPerPass: number[];
  inwardPerPass: number[];
  finalOverload: number;
  meanCapacity: number;
  occupiedShells: number;
  maxOverloadRatio: number;
  converged: boolean;
  stopReason: 'overload' | 'delta' | 'balanced' | 'passes';
  angularDispersion: { start: number; end: number };
  pointsPerSecond: number;
  timing: { placementMs: number; passesMs: number };
}

/** Options of one run (the scenario's parameters, parsed). */
export interface WaterFillingConfig {
  readonly mode: Mode;
  readonly passes: number;
  readonly geometry: { readonly shells: number; readonly rMin: number; readonly rMax: number };
  readonly pass: Omit<PassOptions, 'mode' | 'seed'>;
}

/** Reductions read after every pass (on the GPU computed there, one small readback). */
function passReductions(mode: Mode): ReductionSpecs {
  return {
    overload: { kind: SHELL_KIND, field: 'absOverload', op: 'mean' },
    outside: { kind: SHELL_KIND, field: 'outside', op: 'sum' },
    promotions: { kind: POINT_KIND, field: 'promoted', op: 'sum' },
    lateral: { kind: POINT_KIND, field: 'lateralMoved', op: 'sum' },
    delta: { kind: POINT_KIND, field: 'delta', op: 'sum' },
    ...(mode === 'balanced' ? { inward: { kind: POINT_KIND, field: 'inward', op: 'sum' } } : {}),
  } as const;
}

const POINT_SUMS: ReductionSpecs = {
  promotions: { kind: POINT_KIND, field: 'promoted', op: 'sum' },
  lateral: { kind: POINT_KIND, field: 'lateralMoved', op: 'sum' },
  inward: { kind: POINT_KIND, field: 'inward', op: 'sum' },
  delta: { kind: POINT_KIND, field: 'delta', op: 'sum' },
};

/**
 * One pass on the CPU and its figures: the Shell columns (S values) on the host, the Point sums from
 * the `Point.tally` block records (⌈N/TALLY_BLOCK⌉ of them) rather than a host loop over N points.
 */
async function stepAndTally(sim: SimulationLike): Promise<Record<string, number>> {
  await sim.stepOnce();
  const shells = reduceOnHost(sim, { overload: { kind: SHELL_KIND, field: 'absOverload', op: 'mean' }, outside: { kind: SHELL_KIND, field: 'outside', op: 'sum' } });
  if (!(sim instanceof Simulation)) return { ...shells, ...reduceOnHost(sim, POINT_SUMS) };
  const t = sim.messageColumns('Point.tally');
  const n = sim.count(POINT_KIND);
  let promotions = 0;
  let lateral = 0;
  let inward = 0;
  let delta = 0;
  for (let b = 0; b < n; b += TALLY_BLOCK) {
    promotions += t.promoted![b]!;
    lateral += t.lateral![b]!;
    inward += t.inward![b]!;
    delta += t.delta![b]!;
  }
  return { ...shells, promotions, lateral, inward, delta };
}

/** Final shell figures from the points' shells (host). */
function shellFigures(shell: ArrayLike<number>, n: number, g: ShellGeometry): { overload: number; occupied: number; maxRatio: number } {
  const count = new Float64Array(g.shells);
  for (let i = 0; i < n; i++) count[shell[i]!]!++;
  let s = 0;
  let occupied = 0;
  let maxRatio = 0;
  for (let k = 0; k < g.shells; k++) {
    const d = Math.abs(count[k]! - g.capacity[k]!);
    s += d;
    if (count[k]! > 0) occupied++;
    maxRatio = Math.max(maxRatio, d / g.capacity[k]!);
  }
  return { overload: s / g.shells, occupied, maxRatio };
}

/**
 * Places the points and runs the passes on `sim` (a simulation of {@link waterFillingModel} for
 * `pts`), with the stop rules of the mode. Used by the scenario, the tests and the bench.
 */
/** The metrics row of pass k (0-based): overload before its move, and its moves. */
function passRow(r: WaterFillingResults, k: number): Record<string, number> {
  return {
    overload: r.overloadTrajectory[k]!,
    promotions: r.promotionsPerPass[k]!,
    lateralMoves: r.lateralPerPass[k]!,
    inwardMoves: r.inwardPerPass[k]!,
  };
}

/**
 * Writes a run's initial state into `sim`: the points at placement `st` (from `initialState`) with
 * their norms and compat hash directions, compat's fixed lateral subset (a `lateral` share, drawn
 * with `seed`), and the shells' radii, capacities and balanced targets. Upload is the caller's.
 */
export function writeInitialState(sim: Pick<SimulationLike, 'state'>, pts: PointData, g: ShellGeometry, st: PointState, mode: Mode, lateral: number, seed: number): void {
  const p = sim.state(POINT_KIND);
  p.r!.set(st.r);
  p.theta!.set(st.theta);
  p.phi!.set(st.phi);
  p.shell!.set(st.shell);
  p.norm!.set(pts.norm);
  p.hashDir!.set(pts.hashDir);
  if (mode === 'compat') p.subset!.set(lateralSubset(pts.n, lateral, seed));
  const s = sim.state(SHELL_KIND);
  s.radius!.set(g.radii);
  s.capacity!.set(g.capacity);
  s.target!.set(targetBelow(g).subarray(0, g.shells));
}

export async function runPasses(sim: SimulationLike, pts: PointData, cfg: WaterFillingConfig, seed: number): Promise<WaterFillingResults> {
  const n = pts.n;
  const g = shellGeometry(cfg.geometry, n);
  const t0 = performance.now();
  const st = initialState(pts, g);
  writeInitialState(sim, pts, g, st, cfg.mode, cfg.pass.lateral, seed);
  sim.uploadState?.();
  const t1 = performance.now();
  const dispersionStart = angularDispersion(st, g, cfg.pass.cells);
  const t2 = performance.now();
  const specs = passReductions(cfg.mode);
  const trajectory: number[] = [];
  const promotionsPerPass: number[] = [];
  const lateralPerPass: number[] = [];
  const inwardPerPass: number[] = [];
  let stopReason: WaterFillingResults['stopReason'] = 'passes';
  let converged = false;
  for (let pass = 0; pass < cfg.passes; pass++) {
    const red = sim.stepAndReduce ? await sim.stepAndReduce(specs) : await stepAndTally(sim);
    trajectory.push(red.overload!);
    promotionsPerPass.push(Math.round(red.promotions!));
    lateralPerPass.push(Math.round(red.lateral!));
    inwardPerPass.push(Math.round(red.inward ?? 0));
    if (cfg.mode === 'compat') {
      if (red.overload! <= COMPAT_OVERLOAD_STOP) {
        stopReason = 'overload';
        converged = true;
        break;
      }
      if (red.delta! / (3 * n) < COMPAT_DELTA_STOP) {
        stopReason = 'delta';
        converged = true;
        break;
      }
    } else if (red.outside === 0) {
      stopReason = 'balanced';
      converged = true;
      break;
    }
  }
  const t3 = performance.now();
  await sim.sync?.();
  // Read without marking the state for upload (a GPU simulation's readState; the CPU's state is shared memory).
  const fin = (sim as { readState?: (k: string) => Record<string, TypedArray> }).readState?.(POINT_KIND) ?? sim.state(POINT_KIND);
  const figures = shellFigures(fin.shell!, n, g);
  const end = angularDispersion({ r: fin.r as Float32Array, theta: fin.theta as Float32Array, phi: fin.phi as Float32Array, shell: fin.shell as Uint32Array }, g, cfg.pass.cells);
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
  const placementMs = t1 - t0;
  const passesMs = t3 - t2;
  return {
    mode: cfg.mode,
    points: n,
    shells: g.shells,
    source: pts.source,
    passes: trajectory.length,
    promotions: sum(promotionsPerPass),
    lateralMoves: sum(lateralPerPass),
    inwardMoves: sum(inwardPerPass),
    overloadTrajectory: trajectory,
    promotionsPerPass,
    lateralPerPass,
    inwardPerPass,
    finalOverload: figures.overload,
    meanCapacity: n / g.shells,
    occupiedShells: figures.occupied,
    maxOverloadRatio: figures.maxRatio,
    converged,
    stopReason,
    angularDispersion: { start: dispersionStart, end },
    pointsPerSecond: n / ((placementMs + passesMs) / 1000),
    timing: { placementMs, passesMs },
  };
}

/** The configuration the scenario's parameters describe. */
export function configFrom(p: ParamValues): WaterFillingConfig {
  const mode = String(p.mode) as Mode;
  if (!(Number(p.rMin) > 0)) throw new UsageError(`--set rMin: must be > 0, got ${String(p.rMin)}`);
  if (!(Number(p.rMax) > Number(p.rMin))) throw new UsageError(`--set rMax: must exceed rMin (${String(p.rMin)}), got ${String(p.rMax)}`);
  const passes = Number(p.passes) > 0 ? Number(p.passes) : mode === 'compat' ? 25 : 200;
  return {
    mode,
    passes,
    geometry: { shells: Number(p.shells), rMin: Number(p.rMin), rMax: Number(p.rMax) },
    pass: {
      ...PASS_DEFAULTS,
      tau: Number(p.tau),
      lateral: Number(p.lateral),
      lateralThreshold: Number(p.lateralThreshold),
      candidates: Number(p.candidates),
      lateralRadius: Number(p.lateralRadius),
      tolerance: Number(p.tolerance),
      cells: { bands: Number(p.bands), sectors: Number(p.sectors) },
    },
  };
}

/** The points the parameters name: a file, or a seeded synthetic workload. */
export function pointsFrom(p: ParamValues, seed: number): PointData {
  const file = String(p.file);
  if (file !== '') return loadPoints(file, { dim: Number(p.dim), maxRows: Number(p.n), seed });
  return syntheticPoints({ n: Number(p.n), dim: Number(p.dim), data: String(p.data) as Workload, seed });
}

/**
 * Runs water-filling on a fresh CPU simulation (tests and benchmarks): builds the model, places the
 * points, runs the passes, closes the simulation.
 *
 * @example
 * ```ts
 * const pts = syntheticPoints({ n: 10_000, dim: 64, data: 'clustered', seed: 1 });
 * const cfg = configFrom(parseParams(waterFilling, { mode: 'balanced' }));  // parseParams: sim/scenario.ts
 * const { results } = await runWaterFilling(pts, cfg, { workers: 2, seed: 1 });
 * console.log(results.passes, results.overloadTrajectory);
 * ```
 */
export async function runWaterFilling(
  pts: PointData,
  cfg: WaterFillingConfig,
  opts: SimulationOptions = {},
): Promise<{ results: WaterFillingResults; checksum: string; final: { theta: Float32Array; phi: Float32Array; shell: Uint32Array } }> {
  const g = shellGeometry(cfg.geometry, pts.n);
  const spec = compileModel(waterFillingModel({ mode: cfg.mode, points: pts.n, geometry: g, pass: cfg.pass }));
  const sim = await Simulation.create(spec, opts);
  try {
    const results = await runPasses(sim, pts, cfg, sim.seed);
    const p = sim.state(POINT_KIND);
    const final = { theta: (p.theta as Float32Array).slice(0, pts.n), phi: (p.phi as Float32Array).slice(0, pts.n), shell: (p.shell as Uint32Array).slice(0, pts.n) };
    return { results, checksum: sim.checksum(), final };
  } finally {
    await sim.close();
  }
}

/** Problems of a completed run's results (also used by the tests). */
export function validateWaterFilling(summary: Pick<RunSummary, 'results'>): string[] {
  const r = summary.results.waterFilling as WaterFillingResults | undefined;
  if (!r) return ['results.waterFilling is missing'];
  const problems: string[] = [];
  if (r.overloadTrajectory.length !== r.passes) problems.push(`the trajectory has ${r.overloadTrajectory.length} entries for ${r.passes} passes`);
  if (!r.overloadTrajectory.every((x) => Number.isFinite(x) && x >= 0)) problems.push('the overload trajectory has negative or non-finite entries');
  if (!(r.occupiedShells >= 1 && r.occupiedShells <= r.shells)) problems.push(`occupiedShells ${r.occupiedShells} is outside [1, ${r.shells}]`);
  if (!(r.pointsPerSecond > 0)) problems.push(`pointsPerSecond ${r.pointsPerSecond} is not positive`);
  if (r.mode === 'compat') {
    if (r.inwardMoves !== 0) problems.push(`compat moved ${r.inwardMoves} points inward; the original never does`);
  } else {
    // What balanced mode must show (MODELS.md §2): the overload falls, 10× at least when it started
    // high, and ends within 5% of the mean capacity once converged.
    const start = r.overloadTrajectory[0] ?? 0;
    if (r.converged && !(r.finalOverload <= 0.05 * r.meanCapacity)) problems.push(`converged, but the final mean overload ${r.finalOverload.toFixed(2)} exceeds 5% of the mean capacity ${r.meanCapacity.toFixed(2)}`);
    if (r.converged && start > 10 * 0.05 * r.meanCapacity && !(r.finalOverload <= start / 10)) problems.push(`the mean overload fell only from ${start.toFixed(2)} to ${r.finalOverload.toFixed(2)} (less than 10×)`);
    if (r.passes > 0 && !(r.finalOverload <= start)) problems.push(`the mean overload rose from ${start.toFixed(2)} to ${r.finalOverload.toFixed(2)}`);
  }
  return problems;
}

export default defineScenario({
  name: 'water-filling',
  description: 'embeddings on radial shells by concurrent water-filling: shells and points as actors (MODELS.md §2)',
  params: {
    n: { type: 'integer', default: 100_000, min: 1, max: 50_000_000, description: 'points (with file=: at most this many rows are read)' },
    data: { type: 'string', default: 'clustered', choices: [...WORKLOADS], description: 'synthetic workload: isotropic N(0,I) or clustered (30/40/20/10% scaled ×2.5/1.5/4/0.5)' },
    dim: { type: 'integer', default: 256, min: 1, description: 'embedding dimension (synthetic, or values per row of a raw f32 file)' },
    file: { type: 'string', default: '', description: 'embeddings file: raw little-endian f32 rows of dim values, or .npy (<f4/<f8, C order, 2-D)' },
    shells: { type: 'integer', default: 512, min: 2, description: 'number of shells S' },
    rMin: { type: 'number', default: 128, min: 0, description: 'radius of the innermost shell' },
    rMax: { type: 'number', default: 1024, min: 0, description: 'radius of the outermost shell' },
    mode: { type: 'string', default: 'balanced', choices: [...MODES], description: 'balanced (default) or compat (the shipped optimizer, step for step)' },
    tau: { type: 'number', default: PASS_DEFAULTS.tau, min: 0, description: 'prominence threshold τ' },
    lateral: { type: 'number', default: PASS_DEFAULTS.lateral, min: 0, max: 1, description: 'compat: fraction of points in the fixed lateral subset' },
    lateralThreshold: { type: 'number', default: PASS_DEFAULTS.lateralThreshold, min: 0, description: 'balanced: relative occupancy gain a lateral move needs' },
    candidates: { type: 'integer', default: PASS_DEFAULTS.candidates, min: 1, max: 64, description: 'balanced: candidate directions per lateral search (K)' },
    lateralRadius: { type: 'number', default: PASS_DEFAULTS.lateralRadius, min: 0, max: Math.PI, description: 'balanced: angular radius (rad) of the candidates around a point' },
    tolerance: { type: 'number', default: PASS_DEFAULTS.tolerance, min: 0, description: 'balanced: a shell is balanced when |count − cap| ≤ max(1, tolerance·cap)' },
    bands: { type: 'integer', default: PASS_DEFAULTS.cells.bands, min: 1, max: 64, description: 'angular cells: bands equal in cos θ' },
    sectors: { type: 'integer', default: PASS_DEFAULTS.cells.sectors, min: 1, max: 64, description: 'angular cells: sectors equal in φ' },
    passes: { type: 'integer', default: 0, min: 0, description: 'most passes (0: 25 in compat, 200 in balanced)' },
  },
  defaultSteps: 0,
  resumable: false,
  // `simloom run water-filling --plots`: the passes run inside init, which records one metrics.csv row
  // per pass through the runner's InitHost (step = pass number): the mean overload before the pass's
  // move, and the promotions and lateral and inward moves of that pass.
  plots: [
    { name: 'overload', title: 'water-filling: mean |count − capacity| over the shells, per pass', y: ['overload'], yTitle: 'points' },
    { name: 'moves', title: 'water-filling: moves per pass', y: ['promotions', 'lateralMoves', 'inwardMoves'], yTitle: 'points' },
  ],
  setup(p) {
    const cfg = configFrom(p);
    let results: WaterFillingResults | null = null;
    // The model needs n before the points are made (with the run's seed, in init): for a file the
    // header or size says how many rows it holds.
    const file = String(p.file);
    const n = file === '' ? Number(p.n) : Math.min(Number(p.n), countRows(file, Number(p.dim)));
    return {
      model: waterFillingModel({ mode: cfg.mode, points: n, geometry: shellGeometry(cfg.geometry, n), pass: cfg.pass }),
      async init(sim, host) {
        const r = await runPasses(sim, pointsFrom(p, sim.seed), cfg, sim.seed);
        results = r;
        if (host) for (let k = 0; k < r.passes; k++) host.record(k + 1, passRow(r, k));
      },
      metrics(): Record<string, number> {
        // The summary's metrics are the last recorded row (the last pass); totals are in results.
        return results && results.passes > 0 ? passRow(results, results.passes - 1) : {};
      },
      results() {
        return results ? { waterFilling: results } : {};
      },
    };
  },
  validate: validateWaterFilling,
});
