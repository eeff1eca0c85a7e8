/// <reference types="@webgpu/types" />
/**
 * The `webgpu` backend: a model's state resident in GPU buffers, every phase of a step recorded into
 * one command encoder and submitted once (ARCHITECTURE §5). Same surface as the CPU
 * {@link Simulation} for the run loop ({@link SimulationLike}).
 *
 * Memory (sim/gpu/layout.ts): columns are packed into blocks, one GPU buffer and one WGSL struct per
 * group of columns, because a shader stage may bind only ~16 storage buffers. A state column holds
 * both of its buffers (double-buffered, parity kept on the host as on the CPU) as two halves of one
 * section; a direct/bucket/spatial message has a raw block (fields by slot, key, sent), a sorted block
 * (fields, sender), offsets, and for bucket reductions a block of counts and stat rows; array and graph
 * messages one block of columns; each graph a block of its CSR arrays. Everything is 4 bytes per
 * element (`u8` is widened to `u32`; `f64` is refused). The host keeps a mirror of the current state
 * per kind: written by `init` through {@link GpuSimulation.state}, uploaded before the first step (or
 * the next step after the host wrote into it again), and refreshed only by {@link GpuSimulation.sync}.
 *
 * A step is ONE {@link ComputeBatch}:
 * 1. clear the `sent` counts of every direct/bucket/spatial message;
 * 2. for each phase: for each function that runs (activation as on the CPU), its generated kernel
 *    (sim/gpu/codegen.ts) over the kind's live actors. An `onMessage` function is launched over ALL
 *    receivers; one without records (`offsets[a] == offsets[a+1]`) copies its written fields current →
 *    next and returns, so idle actors keep their values. The CPU visits the compacted active list
 *    instead; on a GPU a compaction would cost a scan and an indirect dispatch to save idle
 *    invocations that cost a load and a copy each. The finite check of every written f32 field runs
 *    inside the kernel's entry point (a bit test on the exponent);
 * 3. flip the parity of written columns: host bookkeeping that reaches the kernels as element offsets
 *    (`cur_<f>`, `nxt_<f>`) in their `sim` uniforms, so every kernel's bind group is built once;
 * 4. build the indexes of the phase's messages with the shared primitives: cell keys (spatial),
 *    stable counting sort by (key, sender, sequence), a gather of every field (4-byte words), segment
 *    reductions (bucket; integer fields are converted to f32 first; count is u32, the rest f32).
 * No readback per step. At a step that records metrics the declared reductions run after the last
 * phase and their results come back with the fault word in one small readback.
 *
 * Faults: kernels write the fault block (first fault wins, with kind, actor, step, function and
 * detail). The host reads it with each metrics readback, in {@link GpuSimulation.sync} and
 * {@link GpuSimulation.checksum}, so a fault is reported at the next of those, with the step at which
 * it was raised (in the message and in `error.step`); the CPU reports it after the phase.
 *
 * Transfers: per step, the host writes the `sim` uniforms of the functions (one `writeBuffer` of at
 * most 256 bytes per function) and, at record steps, reads back the fault block plus 12 bytes per
 * reduction; the shared primitives' parameters are written with the first step and then skipped as
 * unchanged. Nothing scales with the number of actors.
 */
import { BackendError, CapacityError, CheckError, InternalError } from '../../src/errors.js';
import { Fault, KernelRegistry } from '../../src/kernel.js';
import type { FieldSpec, FunctionSpec, KindSpec, MessageSpec, ModelSpec } from '../../src/model.js';
import { type TypedArray, typedView } from '../../src/types.js';
import { f64ColumnNames, f64Error, type GpuRunInfo, type ReductionSpecs, type SimulationLike } from '../backend.js';
import { carriedMessages, checkSnapshot, type SnapshotColumn, type SnapshotGraph, type StateSnapshot } from '../checkpoint.js';
import { buildCsr, checkGraphInput } from '../graph.js';
import { hashBytes } from '../simulation.js';
import { EV, type Tracer } from '../trace.js';
import { ACTOR_WG, FAULT_AT, FAULT_WORDS, generateKernel, type GeneratedKernel, simFieldNames } from './codegen.js';
import { type BatchResult, type BindingKind, type ComputeBatch, GpuCompute, type Kernel, type PendingRead } from './compute.js';
import { type GpuAdapterInfo, probeWebGpu, type WebGpuProbe } from './device.js';
import { COLUMN_TILE, GATHER_WG, helperKernels, type HelperKernels } from './helpers.js';
import { type Block, layoutModel, type ModelLayout, type Section, sectionRange } from './layout.js';
import { type BufferBinding, type CellPlan, type CountingSortPlan, GpuPrimitives, type SegmentReducePlan } from './primitives.js';

export interface GpuSimulationOptions {
  /** u32 seed of the counter-based RNG (default 1). */
  seed?: number;
  /** Test written f32 fields for NaN/Inf in every kernel (default true). */
  checkFinite?: boolean;
  /** `'auto'`: timestamp queries when the device offers them (per-phase GPU time); `'submit'`: wall time only. */
  timing?: 'auto' | 'submit';
  /** An open device to run on (from probeWebGpu); else one is probed and owned by this simulation. */
  probe?: Extract<WebGpuProbe, { ok: true }>;
}

/** Most reductions one readback carries. */
export const MAX_REDUCTIONS = 64;

/** GPU phase timing accumulated over a run, ms. */
export interface GpuPhaseTiming {
  phase: number;
  functions: string[];
  /** GPU time of the phase's kernels (timestamp queries), else 0. */
  kernelMs: number;
  /** GPU time of the phase's index builds (timestamp queries), else 0. */
  indexMs: number;
}

/** Host ↔ device bytes, split into setup (uploads before the first step), steps and final downloads. */
export interface GpuTransferReport {
  toDevice: number;
  fromDevice: number;
  submits: number;
  dispatches: number;
}

interface Column {
  readonly kind: KindSpec;
  readonly field: FieldSpec;
  readonly buffer: GPUBuffer;
  readonly section: Section;
  /** Padded capacity: the two halves of the column start at 0 and `padded` elements into the section. */
  readonly padded: number;
  /** Host mirror of the current state (capacity elements, the field's own dtype). */
  readonly mirror: TypedArray;
}

interface MessageBuffers {
  readonly spec: MessageSpec;
  readonly maxPer: number;
  /** Per live sender count: the sort plan and the cached bind groups of the index build. */
  index?: {
    senders: number;
    sort: CountingSortPlan;
    params: GPUBuffer[];
    gathers: { kernel: Kernel; group: GPUBindGroup }[];
    converts: { kernel: Kernel; group: GPUBindGroup }[];
  };
  offsets?: GPUBuffer;
  perm?: GPUBuffer;
  sortFault?: GPUBuffer;
  cell?: CellPlan;
  /** Bucket reductions: the field, its ops, f32 values (a converted copy for integer fields), the plan. */
  reduces: { field: string; values: BufferBinding; convert: GPUBuffer | null; plan: SegmentReducePlan }[];
}

interface FnPlan {
  readonly spec: FunctionSpec;
  readonly kind: KindSpec;
  readonly gen: GeneratedKernel;
  readonly kernel: Kernel;
  readonly writeColumns: readonly number[];
  group?: GPUBindGroup;
}

interface ReducePlan {
  readonly key: string;
  readonly specs: readonly { name: string; column: number; n: number }[];
  readonly params: GPUBuffer[];
  readonly partials: GPUBuffer[];
  readonly groups: number[];
  /** Bind groups of column_partial by the column's parity. */
  readonly partialGroups: [GPUBindGroup | undefined, GPUBindGroup | undefined][];
  readonly finalGroups: GPUBindGroup[];
}

const UNIFORM_SLOT = 256;
/** Largest block: a device may allow more per binding, but a few hundred MB per buffer is plenty. */
const MAX_BLOCK_BYTES = 1 << 30;

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** The simulation on the GPU. See the module documentation. */
export class GpuSimulation implements SimulationLike {
  readonly spec: ModelSpec;
  readonly seed: number;
  readonly backend = 'webgpu' as const;
  readonly adapter: GpuAdapterInfo;
  readonly gpu: GpuCompute;
  readonly layout: ModelLayout;
  readonly timings: GpuPhaseTiming[];
  /** Milliseconds spent compiling kernels and pipelines at creation. */
  readonly compileMs: number;
  /** Timing source of {@link timings}. */
  readonly timing: 'timestamp' | 'submit';
  /** Wall time from submit to done of the first step: includes the driver's lazy pipeline compilation (ms). */
  firstStepMs = 0;
  /** Wall time from submit to done, summed over steps after the first (ms). */
  stepWallMs = 0;
  /** GPU time of steps after the first (timestamp queries), summed (ms); 0 without them. */
  stepGpuMs = 0;
  /** Steps whose times are in {@link stepWallMs}, {@link stepGpuMs} and {@link timings}. */
  timedSteps = 0;

  private readonly probe: Extract<WebGpuProbe, { ok: true }>;
  private readonly ownsProbe: boolean;
  private readonly prims: GpuPrimitives;
  private readonly helpers: HelperKernels;
  private readonly blockBuffers = new Map<Block, GPUBuffer>();
  private readonly columns: Column[];
  private readonly parity: Uint8Array;
  private readonly counts: number[];
  private readonly edges: number[];
  private readonly messages: MessageBuffers[];
  private readonly fns: FnPlan[];
  private readonly simUniform: GPUBuffer;
  private readonly simSlot: number;
  /** Bytes of the uniform buffer that hold data: up to the end of the last function's struct. */
  private readonly uniformBytes: number;
  private readonly metrics: GPUBuffer;
  private readonly buffers: GPUBuffer[] = [];
  private readonly hostDirty: boolean[];
  private gpuAhead = false;
  private stepIndex = 0;
  /** Steps run by this object (a restored simulation starts at the checkpoint's step, but compiles at its own first). */
  private stepsHere = 0;
  private closed = false;
  private reducePlan: ReducePlan | undefined;
  /** A fault was read from the device; the next batch clears the block. */
  private clearFault = false;
  /** Records each step on the host and GPU queue tracks (sim/trace.ts); see {@link attachTracer}. */
  private tracer: Tracer | null = null;
  private tracedBytes = { toDevice: 0, fromDevice: 0 };

  private constructor(
    spec: ModelSpec,
    layout: ModelLayout,
    probe: Extract<WebGpuProbe, { ok: true }>,
    ownsProbe: boolean,
    gpu: GpuCompute,
    prims: GpuPrimitives,
    helpers: HelperKernels,
    gens: { fn: FunctionSpec; gen: GeneratedKernel; kernel: Kernel }[],
    seed: number,
    compileMs: number,
  ) {
    this.spec = spec;
    this.layout = layout;
    this.seed = seed;
    this.probe = probe;
    this.ownsProbe = ownsProbe;
    this.adapter = probe.info;
    this.gpu = gpu;
    this.prims = prims;
    this.helpers = helpers;
    this.compileMs = compileMs;
    this.timing = gpu.timestamps ? 'timestamp' : 'submit';
    this.counts = spec.kinds.map((k) => k.count);
    this.edges = spec.graphs.map(() => 0);
    this.hostDirty = spec.kinds.map(() => true);
    this.parity = new Uint8Array(spec.columns);

    for (const b of layout.blocks) this.blockBuffers.set(b, this.buffer(b.label, b.bytes));

    // State: both halves of each column in a block section, and a host mirror with the initial values.
    this.columns = [];
    for (const k of spec.kinds) {
      for (const f of k.fields) {
        const section = this.section(`state.${k.name}.${f.name}`);
        const mirror = typedView(f.type, new ArrayBuffer(Math.max(8, alignUp(k.capacity * (f.type === 'u8' ? 1 : 4), 8))), 0, k.capacity);
        if (f.initial !== 0) mirror.fill(f.initial);
        this.columns[f.column] = { kind: k, field: f, buffer: this.blockBuffers.get(section.block)!, section, padded: layout.padded.get(k.name)!, mirror };
      }
    }

    this.messages = spec.messages.map((m) => {
      const d = m.delivery;
      const maxPer = d.type === 'direct' || d.type === 'bucket' ? d.maxPerActor : 1;
      const mb: MessageBuffers = { spec: m, maxPer, reduces: [] };
      if (d.type === 'array' || d.type === 'graph') return mb;
      mb.offsets = this.buffer(`${m.name}.sorted.offsets`, 4 * (m.keys + 1));
      mb.perm = this.buffer(`${m.name}.sorted.perm`, 4 * m.slots);
      mb.sortFault = this.buffer(`${m.name}.sort.fault`, 8);
      if (d.type === 'spatial' && m.grid) {
        const g = m.grid;
        mb.cell = prims.cellPlan({ min: [g.min[0]!, g.min[1]!, g.min[2]!], cellSize: [g.cellSize[0], g.cellSize[1], g.cellSize[2]], dims: [g.dims[0]!, g.dims[1]!, g.dims[2]!] });
      }
      if (d.type === 'bucket') {
        for (const field of Object.keys(d.reduce ?? {})) {
          const type = m.fields.find((f) => f.name === field)!.type;
          const convert = type === 'f32' ? null : this.buffer(`${m.name}.reduce.${field}.values`, 4 * m.slots);
          mb.reduces.push({ field, values: convert ?? this.range(`in.${m.name}.${field}`), convert, plan: prims.segmentReducePlan(m.keys) });
        }
      }
      return mb;
    });

    this.simSlot = alignUp(Math.max(...spec.kinds.map((k) => simFieldNames(spec, k).length * 4), 16), Math.max(UNIFORM_SLOT, gpu.limits.minUniformBufferOffsetAlignment));
    this.simUniform = gpu.device.createBuffer({
      label: 'sim uniforms',
      size: Math.max(this.simSlot, this.simSlot * spec.functions.length),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.buffers.push(this.simUniform);
    /* layout: metrics buffer (u32 words): [0, 8) fault block (codegen FAULT_AT), then [sum, min, max] per reduction */
    this.metrics = this.buffer('metrics', 4 * (FAULT_WORDS + 3 * MAX_REDUCTIONS));

    const kindBy = new Map(spec.kinds.map((k) => [k.name, k]));
    this.fns = gens.map(({ fn, gen, kernel }) => {
      const kind = kindBy.get(fn.kind)!;
      return { spec: fn, kind, gen, kernel, writeColumns: fn.writes.map((w) => kind.fields.find((f) => f.name === w)!.column) };
    });
    this.uniformBytes = Math.max(16, ...this.fns.map((f) => f.spec.id * this.simSlot + 4 * f.gen.simFields.length));
    this.timings = spec.phases.map((p) => ({ phase: p.index, functions: p.functions.map((f) => spec.functions[f]!.name), kernelMs: 0, indexMs: 0 }));
  }

  /**
   * Opens (or takes) a device, loads the kinds' WebGPU kernels (`kernels/<kind>/webgpu.ts`), generates
   * and compiles every function's shader and the primitives. Refuses f64 columns with a
   * {@link BackendError} naming them, and a missing WebGPU kernel with one naming kernel and backend.
   */
  static async create(spec: ModelSpec, opts: GpuSimulationOptions = {}): Promise<GpuSimulation> {
    const seed = opts.seed ?? 1;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new CheckError(`options.seed must be an integer in [0, 4294967295], got ${String(seed)}`);
    const f64 = f64ColumnNames(spec);
    if (f64.length > 0) throw f64Error(spec, f64);
    const registry = new KernelRegistry();
    await registry.load(
      spec.kinds.map((k) => k.kernels),
      { webgpu: true },
    );
    const bodies = spec.functions.map((fn) => ({ fn, wgsl: registry.get(fn.kernel, 'webgpu').wgsl }));

    let probe = opts.probe;
    const ownsProbe = !probe;
    if (!probe) {
      const p = await probeWebGpu();
      if (!p.ok) throw new BackendError(`backend webgpu: ${p.reason}`);
      probe = p;
    }
    const gpu = new GpuCompute(probe.device, { timing: opts.timing ?? 'auto', skipUnchangedUniforms: true });
    try {
      const t0 = performance.now();
      const limits = gpu.limits;
      const layout = layoutModel(spec, Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, MAX_BLOCK_BYTES));
      const checkFinite = opts.checkFinite !== false;
      const gens = bodies.map(({ fn, wgsl }) => {
        const gen = generateKernel(spec, layout, fn, wgsl, { checkFinite });
        const storage = gen.bindings.filter((b) => b.kind !== 'uniform').length;
        if (storage > limits.maxStorageBuffersPerShaderStage) {
          throw new BackendError(
            `backend webgpu: kernel '${fn.kernel}' of ${fn.kind} binds ${storage} storage buffers (${gen.bindings.map((b) => b.name).join(', ')}), more than this device's maxStorageBuffersPerShaderStage (${limits.maxStorageBuffersPerShaderStage}); split the function so that each part reads and writes fewer messages`,
          );
        }
        return { fn, gen };
      });
      const [prims, helpers, ...kernels] = await Promise.all([
        GpuPrimitives.create(gpu),
        helperKernels(gpu),
        ...gens.map(async ({ fn, gen }) => {
          const bindings: Record<number, BindingKind> = {};
          for (const b of gen.bindings) bindings[b.binding] = b.kind;
          const kernel = await gpu.kernel({ label: gen.label, code: gen.code, entryPoint: gen.entryPoint, bindings });
          return { fn, gen, kernel };
        }),
      ]);
      return new GpuSimulation(spec, layout, probe, ownsProbe, gpu, prims, helpers, kernels, seed, performance.now() - t0);
    } catch (err) {
      gpu.destroy();
      if (ownsProbe) probe.destroy();
      throw err;
    }
  }

  private buffer(label: string, bytes: number, usage = 0): GPUBuffer {
    const b = this.gpu.createBuffer({ label, size: bytes, usage });
    this.buffers.push(b);
    return b;
  }

  private section(key: string): Section {
    const s = this.layout.sections.get(key);
    if (!s) throw new InternalError(`webgpu: no GPU section '${key}'`);
    return s;
  }

  /** A whole section (or `elements` of it from its start) as a binding range. */
  private range(key: string, elements?: number): { buffer: GPUBuffer; offset: number; size: number } {
    const s = this.section(key);
    return sectionRange(s, this.blockBuffers.get(s.block)!, undefined, 0, elements);
  }

  /** The current (or next) half of a state column, `elements` long, as a binding range. */
  private half(column: number, which: 'current' | 'next', elements: number): { buffer: GPUBuffer; offset: number; size: number } {
    const c = this.columns[column]!;
    const p = which === 'current' ? this.parity[column]! : 1 - this.parity[column]!;
    return { buffer: c.buffer, offset: c.section.offset + 4 * p * c.padded, size: 4 * Math.max(1, elements) };
  }

  /** Steps completed so far. */
  get step(): number {
    return this.stepIndex;
  }

  /** Host ↔ device traffic since creation (see {@link GpuCompute.transfer}). */
  get transfer(): GpuTransferReport {
    const t = this.gpu.transfer;
    return { toDevice: t.bytesToDevice, fromDevice: t.bytesFromDevice, submits: t.submits, dispatches: t.dispatches };
  }

  private kind(name: string): KindSpec {
    const k = this.spec.kinds.find((x) => x.name === name);
    if (!k) throw new CheckError(`no actor kind '${name}' in model '${this.spec.name}' (kinds: ${this.spec.kinds.map((x) => x.name).join(', ')})`);
    return k;
  }

  count(kind: string): number {
    return this.counts[this.kind(kind).id]!;
  }

  setCount(kind: string, n: number): void {
    const k = this.kind(kind);
    if (!Number.isInteger(n) || n < 0) throw new CheckError(`count of ${kind} must be a non-negative integer, got ${n}`);
    if (n > k.capacity) throw new CapacityError(`${kind} population`, `population.${kind}.capacity`, n, k.capacity);
    this.counts[k.id] = n;
  }

  /**
   * The host mirror of a kind's current state (full capacity; the first `count(kind)` are live). Write
   * into it before the first step to initialise: it is uploaded before the next GPU work. After steps
   * have run it is stale until `await sim.sync()`: reading it earlier is a {@link CheckError}, never
   * silently old values.
   */
  state(kind: string): Record<string, TypedArray> {
    const k = this.kind(kind);
    if (this.gpuAhead) {
      throw new CheckError(`the state of ${kind} lives on the GPU and has advanced since the last download; await sim.sync() before sim.state('${kind}') (or declare reductions for metrics)`);
    }
    this.hostDirty[k.id] = true;
    const out: Record<string, TypedArray> = {};
    for (const f of k.fields) out[f.name] = this.columns[f.column]!.mirror;
    return out;
  }

  /**
   * The host mirror of a kind's current state for reading only, as {@link state} gives it but not
   * marked for upload: metrics and results read the state after a {@link sync}, and uploading it
   * back unchanged before the next step would copy the whole state to the device for nothing. A
   * write into these arrays is not uploaded (use {@link state} to write).
   */
  readState(kind: string): Record<string, TypedArray> {
    const k = this.kind(kind);
    if (this.gpuAhead) {
      throw new CheckError(`the state of ${kind} lives on the GPU and has advanced since the last download; await sim.sync() before reading it (or declare reductions for metrics)`);
    }
    const out: Record<string, TypedArray> = {};
    for (const f of k.fields) out[f.name] = this.columns[f.column]!.mirror;
    return out;
  }

  /** Uploads the host mirror of every kind handed out by state() since the last upload into the current halves. */
  uploadState(): void {
    this.checkOpen();
    for (const k of this.spec.kinds) {
      if (!this.hostDirty[k.id]) continue;
      this.hostDirty[k.id] = false;
      for (const f of k.fields) {
        const c = this.columns[f.column]!;
        const data = f.type === 'u8' ? Uint32Array.from(c.mirror) : c.mirror;
        this.gpu.write(c.buffer, data, c.section.offset + 4 * this.parity[f.column]! * c.padded);
      }
    }
  }

  /**
   * Sets the edges of a graph as the CPU runtime does (edges sorted by (source, input order), in-edges
   * indexed by (source, edge)), built on the host and uploaded.
   */
  setGraph(name: string, src: ArrayLike<number>, dst: ArrayLike<number>, fields: Record<string, ArrayLike<number>> = {}): void {
    this.checkOpen();
    const { gi, g } = checkGraphInput(this.spec, name, src, dst, fields, (k) => this.count(k));
    const n = src.length;
    const rowPtr = new Uint32Array(this.kind(g.from).capacity + 1);
    const gsrc = new Uint32Array(Math.max(1, n));
    const gdst = new Uint32Array(Math.max(1, n));
    const inRowPtr = new Uint32Array(this.kind(g.to).capacity + 1);
    const inEdge = new Uint32Array(Math.max(1, n));
    const order = buildCsr(src, dst, this.count(g.from), this.count(g.to), { rowPtr, src: gsrc, dst: gdst, inRowPtr, inEdge });
    const put = (key: string, data: ArrayBufferView): void => {
      const s = this.section(key);
      this.gpu.write(this.blockBuffers.get(s.block)!, data, s.offset);
    };
    put(`graph.${name}.rowPtr`, rowPtr);
    put(`graph.${name}.inRowPtr`, inRowPtr);
    put(`graph.${name}.src`, gsrc);
    put(`graph.${name}.dst`, gdst);
    put(`graph.${name}.inEdge`, inEdge);
    for (const f of g.fields) {
      const col = fields[f.name];
      const out = typedView(f.type === 'u8' ? 'u32' : f.type, new ArrayBuffer(4 * Math.max(1, g.maxEdges)), 0, g.maxEdges);
      if (col) for (let i = 0; i < n; i++) out[i] = col[order[i]!]!;
      put(`graph.${name}.f.${f.name}`, out);
    }
    this.edges[gi] = n;
  }

  /** Runs `n` steps. */
  async run(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.stepOnce();
  }

  /** Traces every later step: host encode and wait, the step's GPU sections on a GPU queue track. */
  attachTracer(tracer: Tracer): void {
    tracer.allocate(1, { gpu: true });
    this.tracer = tracer;
    const t = this.transfer;
    this.tracedBytes = { toDevice: t.toDevice, fromDevice: t.fromDevice };
  }

  /** Runs one step: one batch, one submit, no readback. */
  async stepOnce(): Promise<void> {
    await this.advance(null);
  }

  /** One step, then the reductions, in one submit with one readback (which also checks faults). */
  async stepAndReduce(specs: ReductionSpecs): Promise<Record<string, number>> {
    return (await this.advance(specs))!;
  }

  /** The reductions of the current state, computed on the GPU (one submit, one small readback). */
  async reduce(specs: ReductionSpecs): Promise<Record<string, number>> {
    this.checkOpen();
    this.uploadState();
    const batch = this.gpu.batch(`reduce at step ${this.stepIndex}`);
    this.beginBatch(batch);
    const read = this.encodeReductions(batch, specs);
    await batch.submit();
    return this.finishReductions(specs, read);
  }

  private beginBatch(batch: ComputeBatch): void {
    if (this.clearFault) {
      batch.clear(this.metrics, 0, 4 * FAULT_WORDS);
      this.clearFault = false;
    }
  }

  private async advance(specs: ReductionSpecs | null): Promise<Record<string, number> | null> {
    this.checkOpen();
    this.uploadState();
    const spec = this.spec;
    const s = this.stepIndex;
    const runs = spec.functions.map((f) => {
      const a = f.activation;
      return a.type === 'every' ? s % a.k === (a.offset ?? 0) % a.k : true;
    });
    const tEncode = this.tracer !== null ? performance.now() : 0;
    const batch = this.gpu.batch(`step ${s}`);
    this.beginBatch(batch);
    for (const mb of this.messages) {
      if (!mb.offsets) continue;
      const sent = this.section(`out.${mb.spec.name}.sent`);
      batch.clear(this.blockBuffers.get(sent.block)!, sent.offset, sent.bytes);
    }
    // Each function's uniforms hold the parities its phase sees, so they are filled phase by phase
    // (parities flip between phases) and written once before the submit.
    const uniforms = new ArrayBuffer(this.uniformBytes);
    // Sections split the step's timestamps per phase; without timestamps they would only split passes.
    const timed = this.gpu.timestamps;
    for (const ph of spec.phases) {
      if (timed) batch.section(`k${ph.index}`);
      for (const fid of ph.functions) {
        if (!runs[fid]) continue;
        const plan = this.fns[fid]!;
        this.fillUniforms(uniforms, plan, s);
        batch.dispatchGroup(plan.kernel, this.fnGroup(plan), Math.ceil(this.counts[plan.kind.id]! / ACTOR_WG));
      }
      for (const fid of ph.functions) {
        if (!runs[fid]) continue;
        for (const col of this.fns[fid]!.writeColumns) this.parity[col] = 1 - this.parity[col]!;
      }
      if (timed) batch.section(`i${ph.index}`);
      for (const mid of ph.buildMessages) this.encodeIndex(batch, this.messages[mid]!);
    }
    let read: PendingRead | null = null;
    if (specs) {
      if (timed) batch.section('metrics');
      read = this.encodeReductions(batch, specs);
    }
    this.writeUniforms(uniforms);
    this.stepIndex = s + 1;
    this.gpuAhead = true;
    const tSubmit = this.tracer !== null ? performance.now() : 0;
    const result = await batch.submit();
    this.account(result, this.stepsHere++ === 0);
    if (this.tracer !== null) this.traceStep(s, tEncode, tSubmit, result);
    return specs && read ? this.finishReductions(specs, read) : null;
  }

  /** One traced step: host slices (encode, submit → done), the GPU queue's sections, counters. */
  private traceStep(s: number, tEncode: number, tSubmit: number, result: BatchResult): void {
    const tr = this.tracer!;
    const tDone = performance.now();
    tr.hostSlice('encode step', tEncode, tSubmit);
    tr.hostSlice('submit → done', tSubmit, tDone);
    tr.host.sliceMs(EV.step, 0, s, tEncode, tDone);
    tr.gpuBatch(tSubmit, result.wallMs, result.sections, s === 0 ? 'first step (pipeline compilation)' : 'step (no timestamp queries)');
    const t = this.transfer;
    const bytesCopied = { toDevice: t.toDevice - this.tracedBytes.toDevice, fromDevice: t.fromDevice - this.tracedBytes.fromDevice };
    this.tracedBytes = { toDevice: t.toDevice, fromDevice: t.fromDevice };
    const activeActors: Record<string, number> = {};
    for (const k of this.spec.kinds) activeActors[k.name] = this.counts[k.id]!;
    // Message counts stay on the device (reading them back would cost a readback per step).
    tr.endStep(s, { messages: null, activeActors, queueDepth: {}, bytesCopied });
  }

  /** Compile and timing facts for a run's summary (per-step figures averaged over steps after the first). */
  gpuInfo(): GpuRunInfo {
    const n = Math.max(1, this.timedSteps);
    const r = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      compileMs: r(this.compileMs),
      timing: this.timing,
      firstStepMs: r(this.firstStepMs),
      stepWallMs: r(this.stepWallMs / n),
      stepGpuMs: this.timing === 'timestamp' ? r(this.stepGpuMs / n) : null,
    };
  }

  /**
   * Adds a step's times. The first step is kept apart: drivers compile pipelines at their first
   * dispatch (0.4–3 s each on lavapipe), which would swamp every per-phase figure.
   */
  private account(result: BatchResult, first: boolean): void {
    if (first) {
      this.firstStepMs = result.wallMs;
      return;
    }
    this.timedSteps++;
    this.stepWallMs += result.wallMs;
    if (result.gpuMs !== null) this.stepGpuMs += result.gpuMs;
    for (const sec of result.sections) {
      if (sec.gpuMs === null) continue;
      const m = /^([ki])(\d+)$/.exec(sec.label);
      if (!m) continue;
      const t = this.timings[Number(m[2])];
      if (!t) continue;
      if (m[1] === 'k') t.kernelMs += sec.gpuMs;
      else t.indexMs += sec.gpuMs;
    }
  }

  /* layout: sim uniform slot of function f at f * simSlot: SimParams (codegen simFieldNames): step,
     seed, count, items, time (f32), dt (f32), kind, fn_id, count_<Kind>…, edges_<graph>…, then
     cur_<f>, nxt_<f> per field of the function's kind (element offsets of the two halves), padding */
  private fillUniforms(data: ArrayBuffer, plan: FnPlan, step: number): void {
    const o = (plan.spec.id * this.simSlot) / 4;
    const u = new Uint32Array(data);
    const f = new Float32Array(data);
    const n = this.counts[plan.kind.id]!;
    u[o] = step >>> 0;
    u[o + 1] = this.seed >>> 0;
    u[o + 2] = n;
    u[o + 3] = n;
    f[o + 4] = step * this.spec.dt;
    f[o + 5] = this.spec.dt;
    u[o + 6] = plan.kind.id;
    u[o + 7] = plan.spec.id;
    let w = o + 8;
    for (const c of this.counts) u[w++] = c;
    for (const e of this.edges) u[w++] = e;
    for (const fld of plan.kind.fields) {
      const c = this.columns[fld.column]!;
      const p = this.parity[fld.column]!;
      u[w++] = p * c.padded;
      u[w++] = (1 - p) * c.padded;
    }
  }

  /** One writeBuffer of the step's uniforms (all functions), counted as host → device bytes. */
  private writeUniforms(data: ArrayBuffer): void {
    this.gpu.device.queue.writeBuffer(this.simUniform, 0, data);
    this.gpu.transfer.bytesToDevice += data.byteLength;
    this.gpu.transfer.uploads++;
  }

  /** The function's bind group: built once (parities are offsets in its uniforms, not bindings). */
  private fnGroup(plan: FnPlan): GPUBindGroup {
    if (plan.group) return plan.group;
    const bindings: Record<number, GPUBuffer | { buffer: GPUBuffer; offset: number; size: number }> = {};
    for (const b of plan.gen.bindings) {
      const r = b.resource;
      switch (r.type) {
        case 'sim':
          bindings[b.binding] = { buffer: this.simUniform, offset: plan.spec.id * this.simSlot, size: 4 * plan.gen.simFields.length };
          break;
        case 'fault':
          bindings[b.binding] = this.metrics;
          break;
        case 'block':
          bindings[b.binding] = this.blockBuffers.get(r.block)!;
          break;
        case 'offsets': {
          const mb = this.messages.find((m) => m.spec.name === r.message);
          if (!mb?.offsets) throw new InternalError(`webgpu: no offsets for ${r.message}`);
          bindings[b.binding] = mb.offsets;
          break;
        }
      }
    }
    plan.group = this.gpu.bindGroup(plan.kernel, bindings);
    return plan.group;
  }

  /**
   * Records the index build of a direct/bucket/spatial message: cell keys (spatial), the counting sort
   * by (key, sender, sequence), the gather of every field and the segment reductions (bucket).
   */
  private encodeIndex(batch: ComputeBatch, mb: MessageBuffers): void {
    const m = mb.spec;
    const d = m.delivery;
    if (d.type === 'array' || d.type === 'graph') return;
    const senders = this.counts[this.kind(m.sender).id]!;
    const index = this.indexPlan(mb, senders);
    if (mb.cell) {
      const n = m.name;
      mb.cell.encode(batch, { x: this.range(`out.${n}.x`), y: this.range(`out.${n}.y`), z: this.range(`out.${n}.z`), cells: this.range(`out.${n}.key`) }, senders);
    }
    index.sort.encode(batch, {
      sent: this.range(`out.${m.name}.sent`),
      key: this.range(`out.${m.name}.key`),
      offsets: mb.offsets!,
      perm: mb.perm!,
      sender: this.range(`in.${m.name}.sender`),
      fault: mb.sortFault!,
    });
    const records = senders * mb.maxPer;
    for (const g of index.gathers) batch.dispatchGroup(g.kernel, g.group, Math.ceil(records / GATHER_WG));
    for (const c of index.converts) batch.dispatchGroup(c.kernel, c.group, Math.ceil(records / GATHER_WG));
    for (const red of mb.reduces) {
      red.plan.encode(batch, {
        values: red.values,
        offsets: mb.offsets!,
        counts: this.range(`red.${m.name}.${red.field}.count`),
        stats: this.range(`red.${m.name}.${red.field}.stats`),
      });
    }
  }

  /** The sort plan and the cached gather/convert bind groups of a message for `senders` live senders. */
  private indexPlan(mb: MessageBuffers, senders: number): NonNullable<MessageBuffers['index']> {
    if (mb.index && mb.index.senders === senders) return mb.index;
    if (mb.index) {
      mb.index.sort.destroy();
      for (const b of mb.index.params) b.destroy();
    }
    const m = mb.spec;
    const records = senders * mb.maxPer;
    const sort = this.prims.countingSortPlan({ senders, maxPer: mb.maxPer, keys: m.keys });
    const params: GPUBuffer[] = [];
    const gp = this.gpu.createBuffer({ label: `${m.name} gather params`, data: Uint32Array.of(records, m.keys, 0, 0), usage: GPUBufferUsage.UNIFORM });
    params.push(gp);
    const gathers: { kernel: Kernel; group: GPUBindGroup }[] = [];
    const fields = m.fields.map((f) => f.name);
    for (let i = 0; i < fields.length; i += 4) {
      const chunk = fields.slice(i, i + 4);
      const kernel = this.helpers.gather[chunk.length - 1]!;
      const bindings: Record<number, GPUBuffer | { buffer: GPUBuffer; offset: number; size: number }> = { 0: gp, 1: mb.offsets!, 2: mb.perm! };
      chunk.forEach((f, j) => {
        bindings[3 + 2 * j] = this.range(`out.${m.name}.${f}`);
        bindings[4 + 2 * j] = this.range(`in.${m.name}.${f}`);
      });
      gathers.push({ kernel, group: this.gpu.bindGroup(kernel, bindings) });
    }
    const converts: { kernel: Kernel; group: GPUBindGroup }[] = [];
    for (const red of mb.reduces) {
      if (!red.convert) continue;
      const type = m.fields.find((f) => f.name === red.field)!.type;
      const cp = this.gpu.createBuffer({ label: `${m.name}.${red.field} convert params`, data: Uint32Array.of(records, type === 'i32' ? 1 : 0, 0, 0), usage: GPUBufferUsage.UNIFORM });
      params.push(cp);
      converts.push({ kernel: this.helpers.toF32, group: this.gpu.bindGroup(this.helpers.toF32, { 0: cp, 1: this.range(`in.${m.name}.${red.field}`), 2: red.convert }) });
    }
    mb.index = { senders, sort, params, gathers, converts };
    return mb.index;
  }

  /** Records the reductions of the current state and the readback of the fault block + results. */
  private encodeReductions(batch: ComputeBatch, specs: ReductionSpecs): PendingRead {
    const names = Object.keys(specs);
    if (names.length > MAX_REDUCTIONS) throw new CheckError(`at most ${MAX_REDUCTIONS} reductions per readback on webgpu, got ${names.length}; merge some metrics`);
    const plan = this.reductionPlan(specs);
    plan.specs.forEach((r, i) => {
      if (r.n === 0) return;
      const p = this.parity[r.column]!;
      const pair = plan.partialGroups[i]!;
      let group = pair[p];
      if (!group) {
        group = this.gpu.bindGroup(this.helpers.columnPartial, { 0: plan.params[i]!, 1: this.half(r.column, 'current', r.n), 2: plan.partials[i]! });
        pair[p] = group;
      }
      batch.dispatchGroup(this.helpers.columnPartial, group, plan.groups[i]!);
      batch.dispatchGroup(this.helpers.columnFinal, plan.finalGroups[i]!, 1);
    });
    return batch.read(this.metrics, 0, 4 * (FAULT_WORDS + 3 * names.length));
  }

  private reductionPlan(specs: ReductionSpecs): ReducePlan {
    const entries = Object.entries(specs);
    const key = JSON.stringify(entries.map(([n, r]) => [n, r.kind, r.field, this.count(r.kind)]));
    if (this.reducePlan?.key === key) return this.reducePlan;
    if (this.reducePlan) for (const b of [...this.reducePlan.params, ...this.reducePlan.partials]) b.destroy();
    const list = entries.map(([name, r], i) => {
      const kind = this.kind(r.kind);
      const field = kind.fields.find((f) => f.name === r.field);
      if (!field) throw new CheckError(`reductions.${name}.field: '${r.field}' is not a state field of ${r.kind}`);
      const dtype = field.type === 'f32' ? 0 : field.type === 'i32' ? 1 : 2;
      return { name, column: field.column, n: this.count(r.kind), dtype, at: FAULT_WORDS + 3 * i };
    });
    const groups = list.map((r) => Math.max(1, Math.ceil(r.n / COLUMN_TILE)));
    // Parameters live in buffers written once per plan, not per step (see helpers.ts).
    const params = list.map((r, i) => this.gpu.createBuffer({ label: `reduce ${r.name} params`, data: Uint32Array.of(r.n, r.dtype, r.at, groups[i]!), usage: GPUBufferUsage.UNIFORM }));
    const partials = list.map((r, i) => this.gpu.createBuffer({ label: `reduce ${r.name} partials`, size: 12 * groups[i]! }));
    const finalGroups = list.map((_, i) => this.gpu.bindGroup(this.helpers.columnFinal, { 0: params[i]!, 2: partials[i]!, 3: this.metrics }));
    this.reducePlan = { key, specs: list, params, partials, groups, partialGroups: list.map(() => [undefined, undefined]), finalGroups };
    return this.reducePlan;
  }

  private finishReductions(specs: ReductionSpecs, read: PendingRead): Record<string, number> {
    const words = read.u32();
    this.checkFaultWords(words);
    const f = new Float32Array(words.buffer, words.byteOffset, words.length);
    const out: Record<string, number> = {};
    Object.entries(specs).forEach(([name, r], i) => {
      const n = this.count(r.kind);
      const at = FAULT_WORDS + 3 * i;
      const sum = n > 0 ? f[at]! : 0;
      const lo = n > 0 ? f[at + 1]! : Infinity;
      const hi = n > 0 ? f[at + 2]! : -Infinity;
      out[name] = r.op === 'sum' ? sum : r.op === 'mean' ? (n > 0 ? sum / n : 0) : r.op === 'min' ? lo : hi;
    });
    return out;
  }

  /** Throws the error of a fault block that holds a fault (and arranges for the block to be cleared). */
  private checkFaultWords(words: Uint32Array): void {
    if (words[FAULT_AT.code] === Fault.none) return;
    this.clearFault = true;
    throw gpuFaultError(this.spec, words, (k) => this.count(k), this.stepIndex);
  }

  /** Downloads the current state of every kind into the host mirror and checks the fault block. */
  async sync(): Promise<void> {
    this.checkOpen();
    if (!this.gpuAhead) {
      if (this.stepIndex > 0) await this.checkFaults();
      return;
    }
    const batch = this.gpu.batch(`sync at step ${this.stepIndex}`);
    this.beginBatch(batch);
    const reads = this.encodeStateReads(batch);
    const fault = batch.read(this.metrics, 0, 4 * FAULT_WORDS);
    await batch.submit();
    this.finishStateReads(reads);
    this.checkFaultWords(fault.u32());
  }

  /**
   * The state between steps, as a checkpoint saves it (sim/checkpoint.ts), in the same form as the
   * CPU's `Simulation.snapshot()`: step, seed, live counts, the live slots of every state column and
   * every graph's edges in stored order. One submit downloads what the host does not hold yet: every
   * state column once (nothing when the host mirror is current, e.g. right after {@link sync}), the
   * graphs' `src`, `dst` and field columns, and the fault block, which is checked first: a checkpoint
   * never records the state a fault left behind. The columns are views of the host mirror, valid until
   * the next {@link sync} or {@link restore}; the graph arrays are copies.
   *
   * @example
   * ```ts
   * await gpuSim.run(100);
   * await saveCheckpoint(gpuSim, 'runs/c1/checkpoints', { scenario: 'circles', backend: 'webgpu' });
   * ```
   */
  async snapshot(): Promise<StateSnapshot> {
    this.checkOpen();
    this.uploadState();
    const batch = this.gpu.batch(`snapshot at step ${this.stepIndex}`);
    this.beginBatch(batch);
    const state = this.gpuAhead ? this.encodeStateReads(batch) : [];
    const graphReads = this.spec.graphs.map((g, gi) => {
      const e = this.edges[gi]!;
      const at = (key: string): PendingRead => {
        const s = this.section(key);
        return batch.read(this.blockBuffers.get(s.block)!, s.offset, 4 * e);
      };
      return { g, e, src: at(`graph.${g.name}.src`), dst: at(`graph.${g.name}.dst`), fields: g.fields.map((f) => ({ f, read: at(`graph.${g.name}.f.${f.name}`) })) };
    });
    // Array and graph messages whose writers skip steps carry values into later steps: they belong
    // to the state a resume needs (sim/checkpoint.ts, carriedMessages).
    const messageReads = carriedMessages(this.spec).flatMap((m) => {
      const n = m.delivery.type === 'graph' ? this.edges[this.spec.graphs.findIndex((g) => g.name === (m.delivery as { graph: string }).graph)]! : this.counts[this.kind(m.sender).id]!;
      return m.fields.map((f) => {
        const sec = this.section(`col.${m.name}.${f.name}`);
        return { key: `${m.name}.columns.${f.name}`, type: f.type, n, read: batch.read(this.blockBuffers.get(sec.block)!, sec.offset, 4 * n) };
      });
    });
    const fault = batch.read(this.metrics, 0, 4 * FAULT_WORDS);
    await batch.submit();
    this.checkFaultWords(fault.u32());
    this.finishStateReads(state);
    const counts: Record<string, number> = {};
    const columns: SnapshotColumn[] = [];
    for (const k of this.spec.kinds) {
      const n = this.counts[k.id]!;
      counts[k.name] = n;
      for (const f of k.fields) columns.push({ key: `${k.name}.state.${f.name}`, dtype: f.type, data: this.columns[f.column]!.mirror.subarray(0, n) });
    }
    const graphs = graphReads.map(({ g, e, src, dst, fields }): SnapshotGraph => {
      const out: Record<string, TypedArray> = {};
      for (const { f, read } of fields) {
        const words = read.bytes();
        // u8 is widened to a u32 on the GPU; the others are stored in their own 4-byte type.
        out[f.name] = f.type === 'u8' ? Uint8Array.from(new Uint32Array(words)) : typedView(f.type, words, 0, e);
      }
      return { name: g.name, edges: e, src: new Uint32Array(src.bytes()), dst: new Uint32Array(dst.bytes()), fields: out };
    });
    const messages: SnapshotColumn[] = messageReads.map(({ key, type, n, read }) => {
      const words = read.bytes();
      return { key, dtype: type, data: type === 'u8' ? Uint8Array.from(new Uint32Array(words)) : typedView(type, words, 0, n) };
    });
    return { step: this.stepIndex, seed: this.seed, counts, columns, graphs, ...(messages.length > 0 ? { messages } : {}) };
  }

  /** {@link restore} writes the snapshot's carried message columns itself (sim/checkpoint.ts restoreSnapshot). */
  readonly restoresMessages = true;

  /**
   * Restores a {@link snapshot} (from either backend: the format is the same) taken with this seed.
   * It is checked first ({@link checkSnapshot}), and a CheckError leaves the simulation untouched.
   * Then, as on the CPU: live counts; every column written into the host mirror (slots past the count
   * get the field's initial value) and uploaded into the first half with parity 0 before the next GPU
   * work; graphs rebuilt and uploaded by {@link setGraph} (the stored order is sorted by source, so the
   * CSR is the same); the step counter, so that the counter-based RNG draws the keys of the run that
   * was saved; the columns of carried messages (array and graph messages whose writers skip steps).
   * A fault left in the fault block is cleared with the next submit.
   */
  restore(snap: StateSnapshot): void {
    this.checkOpen();
    checkSnapshot(this.spec, snap, this.seed);
    const data = new Map(snap.columns.map((c) => [c.key, c.data]));
    for (const k of this.spec.kinds) {
      this.counts[k.id] = snap.counts[k.name]!;
      for (const f of k.fields) {
        const from = data.get(`${k.name}.state.${f.name}`)!;
        const mirror = this.columns[f.column]!.mirror;
        mirror.set(from);
        mirror.fill(f.initial, from.length);
        this.parity[f.column] = 0;
      }
      this.hostDirty[k.id] = true;
    }
    this.gpuAhead = false;
    this.clearFault = true;
    for (const g of snap.graphs) this.setGraph(g.name, g.src, g.dst, g.fields);
    // Carried message columns: the live part, zeros after it (u8 widened to u32 as on the device).
    const messages = new Map((snap.messages ?? []).map((c) => [c.key, c.data]));
    for (const m of carriedMessages(this.spec)) {
      for (const f of m.fields) {
        const sec = this.section(`col.${m.name}.${f.name}`);
        const words = typedView(f.type === 'u8' ? 'u32' : f.type, new ArrayBuffer(sec.bytes), 0, sec.bytes / 4);
        words.set(messages.get(`${m.name}.columns.${f.name}`)!);
        this.gpu.write(this.blockBuffers.get(sec.block)!, words, sec.offset);
      }
    }
    this.stepIndex = snap.step;
  }

  /** Records a download of the live slots of every state column (the current halves). */
  private encodeStateReads(batch: ComputeBatch): { column: Column; read: PendingRead }[] {
    const reads: { column: Column; read: PendingRead }[] = [];
    for (const k of this.spec.kinds) {
      const n = this.counts[k.id]!;
      if (n === 0) continue;
      for (const f of k.fields) {
        const h = this.half(f.column, 'current', n);
        reads.push({ column: this.columns[f.column]!, read: batch.read(h.buffer, h.offset, 4 * n) });
      }
    }
    return reads;
  }

  /** Copies downloaded columns into the host mirror (u8 narrowed from u32); the mirror is then current. */
  private finishStateReads(reads: readonly { column: Column; read: PendingRead }[]): void {
    for (const { column, read } of reads) {
      const bytes = read.bytes();
      if (column.field.type === 'u8') column.mirror.set(new Uint32Array(bytes));
      else new Uint8Array(column.mirror.buffer, column.mirror.byteOffset, bytes.byteLength).set(new Uint8Array(bytes));
    }
    this.gpuAhead = false;
  }

  /** Reads the fault block alone (one tiny readback) and throws a fault it holds. */
  async checkFaults(): Promise<void> {
    this.checkOpen();
    const batch = this.gpu.batch('fault check');
    this.beginBatch(batch);
    const fault = batch.read(this.metrics, 0, 4 * FAULT_WORDS);
    await batch.submit();
    this.checkFaultWords(fault.u32());
  }

  /**
   * The same 64-bit hash as the CPU's `Simulation.checksum` over the live slots of every column (u8 in
   * its own width), after downloading the state.
   */
  async checksum(): Promise<string> {
    await this.sync();
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (const k of this.spec.kinds) {
      const n = this.counts[k.id]!;
      for (const f of k.fields) {
        const col = this.columns[f.column]!.mirror;
        [h1, h2] = hashBytes(new Uint8Array(col.buffer, col.byteOffset, n * col.BYTES_PER_ELEMENT), h1, h2);
      }
    }
    return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  }

  private checkOpen(): void {
    if (this.closed) throw new CheckError('the simulation is closed; create a new one');
  }

  /** Frees every buffer and, if this simulation opened the device, the device. Safe to call twice. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const mb of this.messages) {
      mb.index?.sort.destroy();
      for (const b of mb.index?.params ?? []) b.destroy();
      for (const r of mb.reduces) r.plan.destroy();
    }
    if (this.reducePlan) for (const b of [...this.reducePlan.params, ...this.reducePlan.partials]) b.destroy();
    for (const b of this.buffers) b.destroy();
    this.gpu.destroy();
    if (this.ownsProbe) this.probe.destroy();
    return Promise.resolve();
  }
}

/** An error with the step at which a GPU fault was raised (the run loop records it as `error.step`). */
export type FaultWithStep = Error & { step: number };

/** The error for a fault block, worded as the CPU runtime's, with the step it was raised at. */
export function gpuFaultError(spec: ModelSpec, words: Uint32Array, countOf: (kind: string) => number, detectedAt: number): FaultWithStep {
  const code = words[FAULT_AT.code]!;
  const f = spec.functions[words[FAULT_AT.fn]!];
  const kind = spec.kinds[words[FAULT_AT.kind]!];
  const actor = words[FAULT_AT.actor]!;
  const step = words[FAULT_AT.step]!;
  const detail = words[FAULT_AT.detail]!;
  const fname = f ? `kernel '${f.kernel}' (function ${f.name})` : `function ${words[FAULT_AT.fn]}`;
  const kname = kind?.name ?? `kind ${words[FAULT_AT.kind]}`;
  const where = ` (raised on the GPU at step ${step}, detected after step ${detectedAt})`;
  let err: Error;
  switch (code) {
    case Fault.nonFinite: {
      const field = kind?.fields[detail]?.name ?? '?';
      err = new CheckError(`${fname} wrote a non-finite value (NaN or Infinity) into ${kname}.${field} of actor ${actor} at step ${step}; check the kernel's arithmetic or its inputs${where}`);
      break;
    }
    case Fault.capacity: {
      const m = spec.messages[detail];
      const d = m?.delivery;
      const max = d && (d.type === 'direct' || d.type === 'bucket') ? d.maxPerActor : 1;
      err = new CapacityError(`${kname} actor ${actor} emitted more than ${max} records of '${m?.name ?? '?'}' at step ${step}${where}`, `messages.${m?.name ?? '?'}.delivery.maxPerActor`, max + 1, max);
      break;
    }
    case Fault.address: {
      const m = spec.messages[detail];
      const d = m?.delivery;
      const range = d && (d.type === 'direct' || d.type === 'bucket') ? `[0, ${countOf(d.to)}) (the live ${d.to} actors)` : `[0, ${m?.keys ?? '?'})`;
      err = new CheckError(`${fname} addressed a receiver outside ${range} of '${m?.name ?? '?'}' from ${kname} actor ${actor} at step ${step}${where}`);
      break;
    }
    default:
      err = new CheckError(`${fname} raised fault ${code} (detail ${detail}) at ${kname} actor ${actor}, step ${step}${where}`);
  }
  return Object.assign(err, { step });
}
