/**
 * The webgpu backend of the coordinator: steps a {@link landauModel} in the f32 layout on the GPU,
 * one engine step per {@link MoveCommand}, with {@link relaxAsync} (every step is a submit and a
 * readback, so the backend is asynchronous). The kernels are kernels/landau/webgpu.ts.
 *
 * Per step the host
 * 1. sets the graph `control` (one edge per control word, field `v`) to the command (mode, step
 *    scale, term weights): the GPU's state cannot be written between steps without downloading it
 *    first, a graph's edges can (6 small buffer writes, independent of the number of modules);
 * 2. runs the step and the reductions Σ energy and Σ gsq (F and ‖∇F‖², f32 on the GPU), and with
 *    the asynchronous mode Σ active and Σ mg2 (modules moved, their ‖g‖²), with the noise Σ ng
 *    (ξ·∇F), in one submit, with one readback of a few words.
 * `etaNow()` (the stability guard, GradNorm and the end of the run) downloads the state.
 *
 * It talks to the simulation through {@link GpuSimulationLike}, the part of `sim/gpu/backend.ts`'s
 * public API it needs, so that this folder keeps importing only `src/` (ARCHITECTURE §1).
 */
import { CheckError, UsageError } from '../../src/errors.js';
import type { ModelSpec } from '../../src/model.js';
import type { TypedArray } from '../../src/types.js';
import { CONTROL_GRAPH, CONTROL_WORDS, COUPLING_WEIGHT_FIELDS, LOCAL_WEIGHT_FIELDS, MODULE_KIND, MoveMode } from './index.js';
import type { AsyncRelaxBackend, Evaluation, MoveCommand, RelaxOptions } from './relax.js';

/** What the backend uses of `GpuSimulation` (structurally typed). */
export interface GpuSimulationLike {
  readonly spec: ModelSpec;
  count(kind: string): number;
  state(kind: string): Record<string, TypedArray>;
  setGraph(name: string, src: ArrayLike<number>, dst: ArrayLike<number>, fields?: Record<string, ArrayLike<number>>): void;
  stepAndReduce(specs: Readonly<Record<string, { kind: string; field: string; op: 'sum' | 'mean' | 'min' | 'max' }>>): Promise<Record<string, number>>;
  sync(): Promise<void>;
}

/** Whether `sim` is a GPU simulation the {@link GpuEngineBackend} can drive (and not the CPU's). */
export function isGpuSimulation(sim: object): sim is GpuSimulationLike {
  const s = sim as Partial<GpuSimulationLike> & { messageColumns?: unknown };
  return typeof s.stepAndReduce === 'function' && typeof s.sync === 'function' && typeof s.messageColumns !== 'function';
}

/**
 * Refuses the coordinator options the GPU cannot run, with a {@link UsageError} (exit code 2 in the
 * CLI) that names the option and the way out: the splittings, which run on the host.
 */
export function checkGpuRelaxOptions(o: RelaxOptions): void {
  if (o.splitting) throw new UsageError(`--backend webgpu: --set splitting=${o.splitting.method} runs on the host over the problem's columns, not on an engine backend; run it with --backend cpu`);
}

type Reductions = Record<string, { kind: string; field: string; op: 'sum' }>;

/**
 * @example
 * ```ts
 * const sim = await GpuSimulation.create(compileModel(landauModel({ modules: p.n, edges: p.edges, precision: 'f32' })));
 * loadProblem(sim, p);
 * const result = await relaxAsync(new GpuEngineBackend(sim), p, { stepSize: 0.05, steps: 80 });
 * ```
 */
export class GpuEngineBackend implements AsyncRelaxBackend {
  readonly n: number;
  readonly features: { readonly noise: boolean; readonly async: boolean };
  private steps = 0;
  /** The control words, CONTROL_WORDS order: the field `v` of the control graph's edges. */
  private readonly control = new Float32Array(CONTROL_WORDS.length);
  private readonly controlEdges = new Uint32Array(CONTROL_WORDS.length);
  private readonly reductions: Reductions;

  constructor(private readonly sim: GpuSimulationLike) {
    this.n = sim.count(MODULE_KIND);
    const kind = sim.spec.kinds.find((k) => k.name === MODULE_KIND);
    if (!kind) throw new CheckError(`the simulation has no ${MODULE_KIND} kind; build it from landauModel()`);
    const has = (f: string): boolean => kind.fields.some((x) => x.name === f);
    if (!has('gsq') || !sim.spec.graphs.some((g) => g.name === CONTROL_GRAPH)) {
      throw new UsageError(`--backend webgpu: the Landau model must be built in the f32 layout (landauModel({ precision: 'f32' }), or --set precision=f32)`);
    }
    this.features = { noise: has('noise'), async: has('gSeen') };
    const sum = (field: string): Reductions[string] => ({ kind: MODULE_KIND, field, op: 'sum' });
    this.reductions = { energy: sum('energy'), grad2: sum('gsq') };
    if (this.features.async) Object.assign(this.reductions, { moved: sum('active'), movedGrad2: sum('mg2') });
    if (this.features.noise) this.reductions.noiseDotGrad = sum('ng');
  }

  async step(cmd: MoveCommand): Promise<Evaluation> {
    const c = this.control;
    const at = (f: (typeof CONTROL_WORDS)[number]): number => CONTROL_WORDS.indexOf(f);
    c[at('mode')] = cmd.mode;
    c[at('stepScale')] = cmd.stepScale;
    c[at('noiseScale')] = cmd.noiseScale;
    c[at('asyncTol')] = cmd.asyncTol;
    for (let k = 0; k < 4; k++) {
      c[at(LOCAL_WEIGHT_FIELDS[k]!)] = cmd.weights.local[k]!;
      c[at(COUPLING_WEIGHT_FIELDS[k]!)] = cmd.weights.coupling[k]!;
    }
    this.sim.setGraph(CONTROL_GRAPH, this.controlEdges, this.controlEdges, { v: c });
    const r = await this.sim.stepAndReduce(this.reductions);
    const energy = r.energy!;
    if (!Number.isFinite(energy)) throw new CheckError(`the energy of the Landau modules is ${energy} after engine step ${this.steps} on the GPU; check the problem's coefficients (a, b, h, w) for non-finite or huge values`);
    this.steps++;
    const moves = cmd.mode === MoveMode.advance || cmd.mode === MoveMode.retry;
    const counted = moves && cmd.asyncTol > 0 && this.features.async;
    return {
      energy,
      grad2: cmd.grad2 === false ? NaN : r.grad2!,
      moved: counted ? Math.round(r.moved!) : moves ? this.n : 0,
      movedGrad2: counted ? r.movedGrad2! : NaN,
      noiseDotGrad: this.features.noise ? r.noiseDotGrad! : 0,
    };
  }

  async etaNow(): Promise<Float64Array> {
    await this.sim.sync();
    return Float64Array.from(this.sim.state(MODULE_KIND).eta!.subarray(0, this.n));
  }
}
