/**
 * What the run loop (sim/run.ts) needs from a simulation, whichever backend runs it, and how a
 * backend is chosen (ARCHITECTURE §5).
 *
 * - {@link SimulationLike}: the surface shared by the CPU {@link Simulation} (sim/simulation.ts) and
 *   the WebGPU `GpuSimulation` (sim/gpu/backend.ts). Methods that must wait for the GPU return
 *   promises there; the CPU returns plain values, and the run loop awaits both.
 * - Declarative reductions ({@link ReductionSpec}): metrics computed by the backend where the state
 *   lives, so that recording a metric does not copy state: a host loop in f64 on the CPU, a reduction
 *   kernel in f32 on the GPU whose results come back with the fault word in one small readback.
 * - {@link selectBackend}: `cpu`, `webgpu` (refuses with the driver install line when there is no
 *   adapter) or `auto` (a hardware adapter, else the CPU, saying why). Never a silent fallback.
 *
 * @example
 * ```ts
 * const choice = await selectBackend('auto', spec);
 * const sim = await createSimulation(spec, choice, { seed: 7, workers: 2 });
 * await sim.stepOnce();
 * const r = await reduceState(sim, { meanX: { kind: 'Particle', field: 'x', op: 'mean' } });
 * await sim.close();
 * ```
 */
import { BackendError, CheckError, UsageError } from '../src/errors.js';
import type { ModelSpec } from '../src/model.js';
import type { TypedArray } from '../src/types.js';
import type { WebGpuProbe } from './gpu/device.js';
import { Simulation, type SimulationOptions } from './simulation.js';

/** A reduction over the live actors of one state field. */
export interface ReductionSpec {
  readonly kind: string;
  readonly field: string;
  readonly op: 'sum' | 'mean' | 'min' | 'max';
}
export type ReductionSpecs = Readonly<Record<string, ReductionSpec>>;
export const REDUCTION_OPS: readonly ReductionSpec['op'][] = ['sum', 'mean', 'min', 'max'];

/** Phase timing as the summary reports it. */
export interface PhaseTimingLike {
  readonly phase: number;
  readonly functions: readonly string[];
  readonly kernelMs: number;
  readonly indexMs: number;
}

/**
 * The surface of a running simulation that scenarios and the run loop use. `state(kind)` gives the
 * current columns (write them before the first step to initialise); on the GPU they are a host
 * mirror, readable after `await sync()`.
 */
export interface SimulationLike {
  readonly spec: ModelSpec;
  readonly seed: number;
  /** Steps completed so far. */
  readonly step: number;
  readonly timings: readonly PhaseTimingLike[];
  count(kind: string): number;
  setCount(kind: string, n: number): void;
  state(kind: string): Record<string, TypedArray>;
  setGraph(name: string, src: ArrayLike<number>, dst: ArrayLike<number>, fields?: Record<string, ArrayLike<number>>): void;
  stepOnce(): void | Promise<void>;
  run(n: number): void | Promise<void>;
  checksum(): string | Promise<string>;
  close(): Promise<void>;
  /** GPU: brings the host mirror up to date (a download) and checks the fault word. */
  sync?(): Promise<void>;
  /** GPU: uploads what the host wrote (init) now rather than with the first step. */
  uploadState?(): void;
  /** GPU: the reductions computed on the device (with a fault check). */
  reduce?(specs: ReductionSpecs): Promise<Record<string, number>>;
  /** GPU: one step and the reductions after it, in one submit with one readback. */
  stepAndReduce?(specs: ReductionSpecs): Promise<Record<string, number>>;
  /** GPU: the host mirror for reading only (not uploaded again before the next step); see {@link readOnly}. */
  readState?(kind: string): Record<string, TypedArray>;
  /** GPU: host ↔ device bytes and operations since creation. */
  readonly transfer?: { toDevice: number; fromDevice: number; submits: number; dispatches: number };
  /** GPU: compile and timing facts for the summary. */
  gpuInfo?(): GpuRunInfo;
}

/** What a GPU simulation reports about itself in a run's summary (RunSummary.gpu). */
export interface GpuRunInfo {
  compileMs: number;
  timing: 'timestamp' | 'submit';
  firstStepMs: number;
  stepWallMs: number;
  stepGpuMs: number | null;
}

/** Checks reduction declarations against the model: kinds, fields and ops exist; no f64 needed. */
export function checkReductions(spec: ModelSpec, specs: ReductionSpecs): void {
  for (const [name, r] of Object.entries(specs)) {
    const where = `reductions.${name}`;
    const kind = spec.kinds.find((k) => k.name === r.kind);
    if (!kind) throw new CheckError(`${where}.kind: '${r.kind}' is not a kind of model '${spec.name}' (kinds: ${spec.kinds.map((k) => k.name).join(', ')})`);
    if (!kind.fields.some((f) => f.name === r.field)) {
      throw new CheckError(`${where}.field: '${r.field}' is not a state field of ${r.kind} (fields: ${kind.fields.map((f) => f.name).join(', ')})`);
    }
    if (!REDUCTION_OPS.includes(r.op)) throw new CheckError(`${where}.op: '${String(r.op)}' is not one of ${REDUCTION_OPS.join('|')}`);
  }
}

/**
 * Reductions on the host, in f64, over the first `count(kind)` slots: sum, mean (0 for no actors),
 * min (+Infinity for none), max (−Infinity for none).
 */
export function reduceOnHost(sim: SimulationLike, specs: ReductionSpecs): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, r] of Object.entries(specs)) {
    const n = sim.count(r.kind);
    const col = sim.state(r.kind)[r.field]!;
    let sum = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out[name] = r.op === 'sum' ? sum : r.op === 'mean' ? (n > 0 ? sum / n : 0) : r.op === 'min' ? lo : hi;
  }
  return out;
}

/** The reductions, where the backend computes them (GPU) or on the host (CPU). */
export async function reduceState(sim: SimulationLike, specs: ReductionSpecs): Promise<Record<string, number>> {
  if (Object.keys(specs).length === 0) return {};
  return sim.reduce ? sim.reduce(specs) : reduceOnHost(sim, specs);
}

/** The backend a run uses, and why. */
export type BackendSelection =
  | { readonly backend: 'cpu'; readonly adapter: null; readonly note: string }
  | {
      readonly backend: 'webgpu';
      readonly adapter: { readonly name: string; readonly type: 'hardware' | 'software' };
      readonly probe: Extract<WebGpuProbe, { ok: true }>;
      readonly note: string;
    };

/** Columns a webgpu run cannot hold (f64: WGSL has none), as `Kind.field` strings. */
export function f64ColumnNames(spec: ModelSpec): string[] {
  const out: string[] = [];
  for (const k of spec.kinds) for (const f of k.fields) if (f.type === 'f64') out.push(`${k.name}.${f.name}`);
  for (const m of spec.messages) for (const f of m.fields) if (f.type === 'f64') out.push(`message ${m.name}.${f.name}`);
  for (const g of spec.graphs) for (const f of g.fields) if (f.type === 'f64') out.push(`graph ${g.name}.${f.name}`);
  return out;
}

/** The refusal of a model with f64 columns on the GPU: names the column and the way out. */
export function f64Error(spec: ModelSpec, columns: readonly string[]): BackendError {
  const more = columns.length > 1 ? ` (and ${columns.length - 1} more: ${columns.slice(1, 6).join(', ')}${columns.length > 6 ? ', …' : ''})` : '';
  return new BackendError(
    `backend webgpu: ${columns[0]} of model '${spec.name}' is f64${more}, and f64 columns are CPU-only (WGSL has no f64); ` +
      `run it with --backend cpu, or give the kind a precision option that declares these fields f32 for the GPU (ARCHITECTURE §2)`,
  );
}

/**
 * Chooses the backend. `webgpu` with no adapter is a {@link UsageError} whose line says how to install
 * the software driver; `auto` takes a hardware adapter, else the CPU (also for a model with f64
 * columns), and says which and why in `note`.
 */
export async function selectBackend(choice: 'cpu' | 'webgpu' | 'auto', spec?: ModelSpec): Promise<BackendSelection> {
  if (choice === 'cpu') return { backend: 'cpu', adapter: null, note: 'cpu (asked for)' };
  const { probeWebGpu } = await import('./gpu/device.js');
  const probe = await probeWebGpu();
  if (choice === 'webgpu') {
    if (!probe.ok) throw new UsageError(`--backend webgpu: ${probe.reason}`);
    const f64 = spec ? f64ColumnNames(spec) : [];
    if (spec && f64.length > 0) {
      probe.destroy();
      throw f64Error(spec, f64);
    }
    return { backend: 'webgpu', adapter: { name: probe.info.name, type: probe.info.type }, probe, note: `webgpu (asked for) on ${probe.info.name} (${probe.info.type})` };
  }
  // auto
  if (!probe.ok) return { backend: 'cpu', adapter: null, note: `auto chose cpu: ${probe.reason}` };
  if (probe.info.type !== 'hardware') {
    probe.destroy();
    return { backend: 'cpu', adapter: null, note: `auto chose cpu: the only WebGPU adapter is ${probe.info.name} (software); ask for --backend webgpu to use it` };
  }
  const f64 = spec ? f64ColumnNames(spec) : [];
  if (f64.length > 0) {
    probe.destroy();
    return { backend: 'cpu', adapter: null, note: `auto chose cpu: ${f64[0]} is f64, which the GPU cannot hold` };
  }
  return { backend: 'webgpu', adapter: { name: probe.info.name, type: probe.info.type }, probe, note: `auto chose webgpu on ${probe.info.name} (hardware)` };
}

/** Options of {@link createSimulation}: the CPU's, plus GPU timing. */
export interface CreateOptions extends SimulationOptions {
  /** webgpu: `'auto'` (timestamp queries when offered) or `'submit'`. */
  timing?: 'auto' | 'submit';
}

/** Creates the simulation on the selected backend (the GPU module is loaded only for webgpu). */
export async function createSimulation(spec: ModelSpec, selection: BackendSelection, opts: CreateOptions = {}): Promise<SimulationLike> {
  if (selection.backend === 'cpu') {
    const cpu: SimulationOptions = { ...opts };
    delete (cpu as CreateOptions).timing;
    const sim: SimulationLike = await Simulation.create(spec, cpu);
    return sim;
  }
  const { GpuSimulation } = await import('./gpu/backend.js');
  const gpu = await GpuSimulation.create(spec, {
    probe: selection.probe,
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.checkFinite === undefined ? {} : { checkFinite: opts.checkFinite }),
    ...(opts.timing === undefined ? {} : { timing: opts.timing }),
  });
  if (opts.tracer) gpu.attachTracer(opts.tracer);
  return gpu;
}

/**
 * The simulation as a metrics or results hook should see it: `state(kind)` reads without marking the
 * state for upload where the backend can tell the difference (the GPU's {@link SimulationLike.readState}),
 * everything else as is. On the CPU it is the simulation itself.
 *
 * @example
 * ```ts
 * await sim.sync?.();
 * const m = setup.metrics(readOnly(sim), reduced);   // no re-upload of the state on the GPU
 * ```
 */
export function readOnly<S extends SimulationLike>(sim: S): S {
  const read = sim.readState?.bind(sim);
  if (!read) return sim;
  return new Proxy(sim, {
    get(target, prop) {
      if (prop === 'state') return read;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
