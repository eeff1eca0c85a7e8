/// <reference types="@webgpu/types" />
/**
 * A small compute harness over a `GPUDevice`: the pieces every WebGPU kernel of the engine needs.
 *
 * - Buffers: {@link GpuCompute.createBuffer} makes storage buffers (optionally from a typed array);
 *   {@link GpuCompute.write} uploads. Every byte that crosses host → device or device → host is counted
 *   in {@link GpuCompute.transfer}, so a step can prove that its state stayed resident.
 * - Kernels: {@link GpuCompute.kernel} compiles a WGSL entry point once (cached by source, entry point,
 *   binding layout and constants) into a pipeline with an explicit bind group layout, so that several
 *   entry points of one WGSL module can each bind only what they use. Compilation time is recorded
 *   apart from run time.
 * - Batches: {@link GpuCompute.batch} records dispatches, copies, clears and readbacks into ONE command
 *   encoder and submits it once ({@link ComputeBatch.submit}), as a simulation step should
 *   (ARCHITECTURE §5). Consecutive dispatches share one compute pass; WebGPU makes each dispatch's
 *   storage writes visible to the next dispatch (Dawn inserts the barriers).
 * - Timing: with the adapter feature 'timestamp-query' on the device, each compute pass carries
 *   begin/end timestamps and {@link BatchResult.gpuMs} is the GPU time of the passes; otherwise only
 *   {@link BatchResult.wallMs} (submit → work done and readbacks mapped) is measured.
 *
 * Small per-dispatch parameters (`var<uniform>` structs) are given inline as typed arrays; a batch packs
 * them into one uniform buffer written with one `queue.writeBuffer` just before its submit.
 *
 * Validation errors: every device call of a batch runs inside `submit()`, between a pushed and a popped
 * error scope, so a bad binding or dispatch rejects that submit with a {@link BackendError} that names
 * the batch, instead of surfacing later as an uncaptured error.
 *
 * @example
 * ```ts
 * const probe = await probeWebGpu();
 * if (!probe.ok) throw new Error(probe.reason);
 * const gpu = new GpuCompute(probe.device);
 * const double = await gpu.kernel({
 *   label: 'double', entryPoint: 'main',
 *   bindings: { 0: 'uniform', 1: 'storage' },
 *   code: `@group(0) @binding(0) var<uniform> n: vec4u;
 *          @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *          @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *            if (id.x < n.x) { y[id.x] *= 2.0; } }`,
 * });
 * const y = gpu.createBuffer({ label: 'y', data: Float32Array.of(1, 2, 3) });
 * const batch = gpu.batch('example');
 * batch.dispatch(double, { 0: Uint32Array.of(3, 0, 0, 0), 1: y }, Math.ceil(3 / 64));
 * const out = batch.read(y);
 * const result = await batch.submit();
 * console.log(new Float32Array(out.bytes()), result.gpuMs ?? result.wallMs);
 * ```
 */

import { BackendError, CheckError } from '../../src/errors.js';

/** How an entry point uses one binding of group 0. */
export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

/** What {@link GpuCompute.kernel} compiles. */
export interface KernelSpec {
  /** Names the kernel in errors and timings, e.g. `scan.scan_blocks`. */
  readonly label: string;
  /** Complete WGSL source (prepend libraries such as rng.wgsl yourself). */
  readonly code: string;
  readonly entryPoint: string;
  /**
   * The bindings of `@group(0)` this entry point uses, binding number → kind. The pipeline layout has
   * exactly these entries, so other entry points of the same module may use other bindings.
   */
  readonly bindings: Readonly<Record<number, BindingKind>>;
  /** Values for WGSL `override` constants. */
  readonly constants?: Readonly<Record<string, number>>;
}

/** A compiled entry point, ready for {@link ComputeBatch.dispatch}. */
export interface Kernel {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly bindings: Readonly<Record<number, BindingKind>>;
  /** Time to create the shader module (if not cached) and the pipeline, in ms. */
  readonly compileMs: number;
}

/** A typed array of parameters, bound as a `var<uniform>` struct. */
export type UniformData = Uint32Array | Int32Array | Float32Array;

/**
 * What a binding is given: a whole buffer, a range of one (`offset` a multiple of the device's
 * `minStorageBufferOffsetAlignment`), or, for a `'uniform'` binding only, inline parameter data.
 */
export type BindingResource = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number } | UniformData;

/** Bytes and operations across the host ↔ device boundary since the harness was created. */
export interface TransferStats {
  /** Bytes written by the host into device buffers: initial data, writes and uniform parameters. */
  bytesToDevice: number;
  /** Bytes read back to the host (not counting timestamp queries, which are instrumentation). */
  bytesFromDevice: number;
  /** Host → device write operations (each `writeBuffer`). */
  uploads: number;
  /** Device → host readbacks (each mapped staging buffer). */
  downloads: number;
  /** Command buffers submitted. */
  submits: number;
  /** Compute dispatches recorded and submitted. */
  dispatches: number;
}

/** What {@link ComputeBatch.submit} resolves to. */
export interface BatchResult {
  readonly label: string;
  readonly dispatches: number;
  /** Compute passes in the encoder (copies, clears and readbacks split passes). */
  readonly passes: number;
  /** Host time from `queue.submit` until the work is done and every readback is mapped, in ms. */
  readonly wallMs: number;
  /** `'timestamp'` when gpuMs comes from timestamp queries; `'submit'` when only wallMs is known. */
  readonly timing: 'timestamp' | 'submit';
  /** GPU time summed over the compute passes, in ms; null without timestamp queries. */
  readonly gpuMs: number | null;
  /** GPU time of each compute pass, in ms (empty without timestamp queries). */
  readonly passMs: readonly number[];
  /** The kernel labels of each compute pass, joined by '+' (one label per pass with `profile`). */
  readonly passLabels: readonly string[];
  /**
   * The batch's sections ({@link ComputeBatch.section}) in order, each with its compute passes and their
   * GPU time (null without timestamp queries). Commands before the first section form a section ''.
   */
  readonly sections: readonly { readonly label: string; readonly passes: number; readonly gpuMs: number | null }[];
}

/** Options of {@link GpuCompute.batch}. */
export interface BatchOptions {
  /**
   * Give every dispatch its own compute pass, so that with timestamp queries {@link BatchResult.passMs}
   * times each kernel. For profiling: passes cost a little more than dispatches within one pass.
   */
  readonly profile?: boolean;
}

/** A readback recorded in a batch; its bytes are available once the batch's submit has resolved. */
export interface PendingRead {
  /** The bytes read; throws if the batch has not been submitted and awaited yet. */
  bytes(): ArrayBuffer;
  u32(): Uint32Array;
  f32(): Float32Array;
}

/** Options of {@link GpuCompute}. */
export interface GpuComputeOptions {
  /**
   * `'auto'` (default): timestamp queries when the device has 'timestamp-query', else submit timing.
   * `'submit'`: never timestamp queries (they add a resolve and a readback to every batch).
   */
  readonly timing?: 'auto' | 'submit';
  /**
   * Skip the uniform arena's `writeBuffer` when a batch's packed parameters are byte-for-byte those of
   * the last write into the same arena (default false). A simulation records the same primitive
   * parameters every step, so with this on its steady-state steps upload no parameters at all.
   */
  readonly skipUnchangedUniforms?: boolean;
}

type Command =
  | {
      type: 'dispatch';
      kernel: Kernel;
      bindings: Readonly<Record<number, BindingResource>>;
      workgroups: readonly [number, number, number] | { indirect: GPUBuffer; offset: number };
      /** A bind group made beforehand ({@link GpuCompute.bindGroup}); `bindings` is then empty. */
      group?: GPUBindGroup;
    }
  | { type: 'section'; label: string }
  | { type: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number }
  | { type: 'clear'; buffer: GPUBuffer; offset: number; size: number | undefined }
  | { type: 'read'; buffer: GPUBuffer; offset: number; size: number; target: ReadSlot };

interface ReadSlot {
  staging?: GPUBuffer;
  bytes?: ArrayBuffer;
}

const BYTES_PER_TIMESTAMP = 8;
/** WebGPU's limit on the queries of one query set. */
const MAX_QUERIES = 4096;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function alignUp(x: number, alignment: number): number {
  return Math.ceil(x / alignment) * alignment;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isUniformData(r: BindingResource): r is UniformData {
  return ArrayBuffer.isView(r);
}

/**
 * Folds `count` workgroups into a grid of at most `maxPerDimension` per axis, as [x, y, 1] with
 * x * y >= count and fewer than y extra workgroups. Kernels number their workgroups
 * `wid.x + wid.y * nwg.x` and return at once when that is >= count.
 */
export function workgroupGrid(count: number, maxPerDimension: number): [number, number, number] {
  if (!Number.isInteger(count) || count < 0) throw new CheckError(`workgroupGrid: count must be a non-negative integer, got ${count}`);
  if (count <= maxPerDimension) return [count, 1, 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y > maxPerDimension) {
    throw new CheckError(`workgroupGrid: ${count} workgroups exceed ${maxPerDimension}² of the device; split the work`);
  }
  return [Math.ceil(count / y), y, 1];
}

/** The compute harness over one device. See the module documentation. */
export class GpuCompute {
  readonly device: GPUDevice;
  /** True when batches are timed with timestamp queries. */
  readonly timestamps: boolean;
  readonly transfer: TransferStats = { bytesToDevice: 0, bytesFromDevice: 0, uploads: 0, downloads: 0, submits: 0, dispatches: 0 };

  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly kernels = new Map<string, Promise<Kernel>>();
  /** Free MAP_READ staging buffers by byte size. */
  private readonly stagingPool = new Map<number, GPUBuffer[]>();
  /** One uniform buffer reused by every batch (queue order makes reuse safe: see ComputeBatch.submit). */
  private uniformArena: GPUBuffer | undefined;
  /** @internal What the arena holds since its last write (with skipUnchangedUniforms). */
  arenaContent: Uint8Array | undefined;
  /** @internal See {@link GpuComputeOptions.skipUnchangedUniforms}. */
  readonly skipUnchangedUniforms: boolean;

  constructor(device: GPUDevice, options: GpuComputeOptions = {}) {
    this.device = device;
    this.timestamps = (options.timing ?? 'auto') === 'auto' && device.features.has('timestamp-query');
    this.skipUnchangedUniforms = options.skipUnchangedUniforms ?? false;
  }

  /**
   * Makes a bind group for `kernel` from buffers (no inline uniform data), to be reused across batches
   * with {@link ComputeBatch.dispatchGroup}: a caller that binds the same buffers every step saves the
   * bind group creation that {@link ComputeBatch.dispatch} does at each submit.
   */
  bindGroup(kernel: Kernel, bindings: Readonly<Record<number, GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number }>>): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = Object.keys(kernel.bindings).map((binding) => {
      const r = bindings[Number(binding)];
      if (r === undefined) throw new CheckError(`bind group of '${kernel.label}': binding ${binding} (${kernel.bindings[Number(binding)]}) is not given`);
      if (ArrayBuffer.isView(r)) throw new CheckError(`bind group of '${kernel.label}': binding ${binding} is inline data; a reusable bind group takes buffers only`);
      return { binding: Number(binding), resource: 'buffer' in r ? r : { buffer: r } };
    });
    return this.device.createBindGroup({ label: kernel.label, layout: kernel.layout, entries });
  }

  /** The device's limits (maxComputeWorkgroupsPerDimension, maxStorageBufferBindingSize, ...). */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /**
   * Creates a storage buffer usable as a copy source and destination, initialised from `data` (counted
   * as uploaded bytes) or zeroed with `size` bytes. Sizes are rounded up to a multiple of 4 and to at
   * least 4 bytes (WebGPU refuses empty bindings), so `arrayLength` in WGSL may exceed the data; pass
   * lengths as parameters. `data` may be a view of a SharedArrayBuffer (engine state columns are): see
   * {@link GpuCompute.write}.
   */
  createBuffer(init: { label: string; data?: ArrayBufferView; size?: number; usage?: GPUBufferUsageFlags }): GPUBuffer {
    const bytes = init.data?.byteLength ?? init.size;
    if (bytes === undefined || !Number.isInteger(bytes) || bytes < 0) {
      throw new CheckError(`createBuffer(${init.label}): give data or a non-negative integer size in bytes`);
    }
    const maxBytes = this.device.limits.maxBufferSize;
    if (bytes > maxBytes) throw new CheckError(`createBuffer(${init.label}): ${bytes} bytes exceed the device's maxBufferSize ${maxBytes}`);
    const buffer = this.device.createBuffer({
      label: init.label,
      size: Math.max(4, alignUp(bytes, 4)),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | (init.usage ?? 0),
    });
    if (init.data && init.data.byteLength > 0) this.write(buffer, init.data);
    return buffer;
  }

  /**
   * Uploads `data` into `buffer` at `byteOffset` (queue order: before any later submit). A view of a
   * SharedArrayBuffer is copied into a private ArrayBuffer first: Dawn crashes on shared memory.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    if (data.byteLength % 4 !== 0) throw new CheckError(`write(${buffer.label}): ${data.byteLength} bytes is not a multiple of 4`);
    if (data.buffer instanceof SharedArrayBuffer) {
      // Dawn (webgpu 0.6.2) has no overload for a SharedArrayBuffer and kills the process (SIGSEGV)
      // when given a typed array over one, so shared columns go through a private copy.
      this.device.queue.writeBuffer(buffer, byteOffset, new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    } else {
      this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    }
    this.transfer.bytesToDevice += data.byteLength;
    this.transfer.uploads++;
  }

  /** Reads `size` bytes (default: to the end) of `buffer` from `byteOffset`, in its own submit. */
  async read(buffer: GPUBuffer, byteOffset = 0, size?: number): Promise<ArrayBuffer> {
    const batch = this.batch(`read ${buffer.label}`);
    const pending = batch.read(buffer, byteOffset, size);
    await batch.submit();
    return pending.bytes();
  }

  /**
   * Compiles (once) a WGSL entry point into a compute pipeline with an explicit layout. Rejects with a
   * {@link BackendError} carrying the compiler's messages (line:column) when the WGSL does not compile.
   */
  kernel(spec: KernelSpec): Promise<Kernel> {
    const key = [
      spec.entryPoint,
      JSON.stringify(Object.entries(spec.bindings)),
      JSON.stringify(spec.constants ?? {}),
      spec.code,
    ].join('\0');
    let pending = this.kernels.get(key);
    if (!pending) {
      pending = this.compile(spec);
      this.kernels.set(key, pending);
      // A failed compile is not cached: the next call tries again (and fails the same way, visibly).
      pending.catch(() => this.kernels.delete(key));
    }
    return pending;
  }

  private async compile(spec: KernelSpec): Promise<Kernel> {
    const startMs = performance.now();
    let module = this.modules.get(spec.code);
    if (!module) {
      module = this.device.createShaderModule({ label: spec.label, code: spec.code });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        const lines = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
        throw new BackendError(`webgpu: WGSL of kernel '${spec.label}' does not compile: ${lines}`);
      }
      this.modules.set(spec.code, module);
    }
    const entries: GPUBindGroupLayoutEntry[] = Object.entries(spec.bindings).map(([binding, kind]) => ({
      binding: Number(binding),
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: kind },
    }));
    this.device.pushErrorScope('validation');
    const layout = this.device.createBindGroupLayout({ label: spec.label, entries });
    const pipelineLayout = this.device.createPipelineLayout({ label: spec.label, bindGroupLayouts: [layout] });
    const layoutError = await this.device.popErrorScope();
    if (layoutError) throw new BackendError(`webgpu: bind group layout of kernel '${spec.label}' is invalid: ${layoutError.message}`);
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label: spec.label,
        layout: pipelineLayout,
        compute: { module, entryPoint: spec.entryPoint, ...(spec.constants ? { constants: { ...spec.constants } } : {}) },
      });
    } catch (error) {
      throw new BackendError(`webgpu: pipeline of kernel '${spec.label}' (entry point ${spec.entryPoint}) failed: ${messageOf(error)}`);
    }
    return { label: spec.label, pipeline, layout, bindings: spec.bindings, compileMs: performance.now() - startMs };
  }

  /** Starts recording a batch: everything recorded goes into one command encoder and one submit. */
  batch(label = 'batch', options: BatchOptions = {}): ComputeBatch {
    return new ComputeBatch(this, label, options.profile ?? false);
  }

  /** Folds `count` workgroups into a grid within this device's maxComputeWorkgroupsPerDimension. */
  grid(count: number): [number, number, number] {
    return workgroupGrid(count, this.device.limits.maxComputeWorkgroupsPerDimension);
  }

  /** @internal A MAP_READ staging buffer of exactly `size` bytes, from the pool or new. */
  takeStaging(size: number): GPUBuffer {
    const free = this.stagingPool.get(size);
    const reused = free?.pop();
    if (reused) return reused;
    return this.device.createBuffer({ label: `staging ${size}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** @internal Returns an unmapped staging buffer to the pool. */
  giveStaging(buffer: GPUBuffer): void {
    let free = this.stagingPool.get(buffer.size);
    if (!free) {
      free = [];
      this.stagingPool.set(buffer.size, free);
    }
    free.push(buffer);
  }

  /** @internal The uniform arena, grown to at least `size` bytes. */
  arena(size: number): GPUBuffer {
    if (!this.uniformArena || this.uniformArena.size < size) {
      this.uniformArena?.destroy();
      this.arenaContent = undefined;
      this.uniformArena = this.device.createBuffer({
        label: 'uniform arena',
        size: Math.max(256, 2 ** Math.ceil(Math.log2(size))),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
    }
    return this.uniformArena;
  }

  /** Frees the harness's own buffers (staging pool, uniform arena). Buffers you created are yours. */
  destroy(): void {
    for (const list of this.stagingPool.values()) for (const b of list) b.destroy();
    this.stagingPool.clear();
    this.uniformArena?.destroy();
    this.uniformArena = undefined;
    this.arenaContent = undefined;
  }
}

/** Commands recorded for one submit. Created by {@link GpuCompute.batch}; submit once. */
export class ComputeBatch {
  readonly label: string;
  private readonly gpu: GpuCompute;
  private readonly commands: Command[] = [];
  private readonly profile: boolean;
  /** Inline uniform data, copied when recorded (so the caller may reuse its array), keyed by content. */
  private readonly uniformCopies = new Map<string, UniformData>();
  private submitted = false;

  constructor(gpu: GpuCompute, label: string, profile: boolean) {
    this.gpu = gpu;
    this.label = label;
    this.profile = profile;
  }

  /** Number of dispatches recorded so far. */
  get dispatchCount(): number {
    return this.commands.filter((c) => c.type === 'dispatch').length;
  }

  /**
   * Records a dispatch. `bindings` gives a resource for every binding of the kernel's layout.
   * `workgroups` is a count (folded into 2D past maxComputeWorkgroupsPerDimension: see
   * {@link workgroupGrid}) or an explicit [x, y, z]. A zero count records nothing.
   */
  dispatch(kernel: Kernel, bindings: Readonly<Record<number, BindingResource>>, workgroups: number | readonly [number, number, number]): this {
    this.checkOpen();
    const grid = typeof workgroups === 'number' ? this.gpu.grid(workgroups) : workgroups;
    this.checkBindings(kernel, bindings);
    if (grid[0] * grid[1] * grid[2] === 0) return this;
    this.commands.push({ type: 'dispatch', kernel, bindings: this.snapshot(bindings), workgroups: grid });
    return this;
  }

  /**
   * Records a dispatch whose workgroup counts [x, y, z] (three u32) are read from `indirect` at
   * `offset` when it runs: for sizes that earlier dispatches of the same batch compute (a compacted
   * list, an active set) without a readback. `indirect` needs GPUBufferUsage.INDIRECT; counts above
   * maxComputeWorkgroupsPerDimension dispatch nothing (fold them as {@link workgroupGrid} does).
   */
  dispatchIndirect(kernel: Kernel, bindings: Readonly<Record<number, BindingResource>>, indirect: GPUBuffer, offset = 0): this {
    this.checkOpen();
    this.checkBindings(kernel, bindings);
    this.commands.push({ type: 'dispatch', kernel, bindings: this.snapshot(bindings), workgroups: { indirect, offset } });
    return this;
  }

  /**
   * Records a dispatch with a bind group made by {@link GpuCompute.bindGroup} for this kernel (no
   * inline uniform data). `workgroups` as in {@link dispatch}; a zero count records nothing.
   */
  dispatchGroup(kernel: Kernel, group: GPUBindGroup, workgroups: number | readonly [number, number, number]): this {
    this.checkOpen();
    const grid = typeof workgroups === 'number' ? this.gpu.grid(workgroups) : workgroups;
    if (grid[0] * grid[1] * grid[2] === 0) return this;
    this.commands.push({ type: 'dispatch', kernel, bindings: {}, workgroups: grid, group });
    return this;
  }

  /**
   * Starts a section named `label`: the current compute pass ends, and the passes recorded from here
   * to the next section are timed together in {@link BatchResult.sections} (a simulation step makes one
   * section per phase's kernels and one per phase's index build).
   */
  section(label: string): this {
    this.checkOpen();
    this.commands.push({ type: 'section', label });
    return this;
  }

  /** Records a buffer-to-buffer copy (sizes and offsets multiples of 4). */
  copy(src: GPUBuffer, dst: GPUBuffer, size: number, srcOffset = 0, dstOffset = 0): this {
    this.checkOpen();
    if (size > 0) this.commands.push({ type: 'copy', src, srcOffset, dst, dstOffset, size });
    return this;
  }

  /** Records zeroing `size` bytes (default: to the end) of `buffer` from `offset`. */
  clear(buffer: GPUBuffer, offset = 0, size?: number): this {
    this.checkOpen();
    this.commands.push({ type: 'clear', buffer, offset, size });
    return this;
  }

  /**
   * Records a readback of `size` bytes (default: to the end) of `buffer` from `byteOffset`, at this
   * point of the command stream. The bytes are available from the returned handle after submit.
   */
  read(buffer: GPUBuffer, byteOffset = 0, size?: number): PendingRead {
    this.checkOpen();
    const bytes = size ?? buffer.size - byteOffset;
    const target: ReadSlot = {};
    if (bytes > 0) this.commands.push({ type: 'read', buffer, offset: byteOffset, size: alignUp(bytes, 4), target });
    else target.bytes = new ArrayBuffer(0);
    const label = this.label;
    const get = (): ArrayBuffer => {
      if (!target.bytes) throw new CheckError(`read of ${buffer.label} in batch '${label}': await submit() first`);
      return target.bytes.byteLength === bytes ? target.bytes : target.bytes.slice(0, bytes);
    };
    return { bytes: get, u32: () => new Uint32Array(get()), f32: () => new Float32Array(get()) };
  }

  /**
   * Encodes everything into one command encoder, submits it once and waits for the GPU (and the
   * readbacks). Rejects with a {@link BackendError} on a validation or out-of-memory error.
   */
  async submit(): Promise<BatchResult> {
    this.checkOpen();
    this.submitted = true;
    const gpu = this.gpu;
    const device = gpu.device;

    // Uniform parameters: one slot per inline uniform, aligned for a bind offset, one write.
    const align = device.limits.minUniformBufferOffsetAlignment;
    const uniformSlots = new Map<UniformData, number>();
    let arenaBytes = 0;
    for (const c of this.commands) {
      if (c.type !== 'dispatch') continue;
      for (const r of Object.values(c.bindings)) {
        if (isUniformData(r) && !uniformSlots.has(r)) {
          uniformSlots.set(r, arenaBytes);
          arenaBytes = alignUp(arenaBytes + alignUp(r.byteLength, 16), align);
        }
      }
    }

    const passCount = this.countPasses();
    // A query set holds at most MAX_QUERIES timestamps; a batch with more passes is timed by wall clock.
    const timed = gpu.timestamps && passCount > 0 && 2 * passCount <= MAX_QUERIES;

    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let arena: GPUBuffer | undefined;
    if (arenaBytes > 0) {
      arena = gpu.arena(arenaBytes);
      const packed = new Uint8Array(arenaBytes);
      for (const [data, offset] of uniformSlots) packed.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
      const last = gpu.arenaContent;
      const unchanged = gpu.skipUnchangedUniforms && last !== undefined && last.length >= arenaBytes && sameBytes(last, packed);
      if (!unchanged) {
        // Reusing the arena across batches is safe: writeBuffer and submit run in queue order, so a
        // batch submitted earlier has read its parameters before this write lands.
        device.queue.writeBuffer(arena, 0, packed);
        gpu.transfer.bytesToDevice += arenaBytes;
        gpu.transfer.uploads++;
        if (gpu.skipUnchangedUniforms) gpu.arenaContent = packed;
      }
    }

    let querySet: GPUQuerySet | undefined;
    let resolve: GPUBuffer | undefined;
    let timestampRead: GPUBuffer | undefined;
    if (timed) {
      querySet = device.createQuerySet({ label: `${this.label} timestamps`, type: 'timestamp', count: 2 * passCount });
      resolve = device.createBuffer({ size: 2 * passCount * BYTES_PER_TIMESTAMP, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      timestampRead = gpu.takeStaging(2 * passCount * BYTES_PER_TIMESTAMP);
    }

    const encoder = device.createCommandEncoder({ label: this.label });
    let pass: GPUComputePassEncoder | undefined;
    let passIndex = 0;
    const endPass = (): void => {
      pass?.end();
      pass = undefined;
    };
    const reads: { slot: ReadSlot; staging: GPUBuffer; size: number }[] = [];
    const passLabels: string[] = [];
    /* layout: sectionPasses[i] = [label, first pass index, end pass index) */
    const sectionPasses: { label: string; first: number; end: number }[] = [{ label: '', first: 0, end: 0 }];
    let dispatches = 0;
    for (const c of this.commands) {
      switch (c.type) {
        case 'section':
          endPass();
          sectionPasses[sectionPasses.length - 1]!.end = passIndex;
          sectionPasses.push({ label: c.label, first: passIndex, end: passIndex });
          break;
        case 'dispatch': {
          if (!pass) {
            pass = encoder.beginComputePass({
              label: `${this.label} pass ${passIndex}`,
              ...(querySet
                ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * passIndex, endOfPassWriteIndex: 2 * passIndex + 1 } }
                : {}),
            });
            passIndex++;
            passLabels.push(c.kernel.label);
          } else {
            passLabels[passLabels.length - 1] += `+${c.kernel.label}`;
          }
          let group = c.group;
          if (!group) {
            const entries: GPUBindGroupEntry[] = Object.keys(c.kernel.bindings).map((binding) => {
              const r = c.bindings[Number(binding)]!;
              if (isUniformData(r)) {
                return { binding: Number(binding), resource: { buffer: arena!, offset: uniformSlots.get(r)!, size: alignUp(r.byteLength, 16) } };
              }
              return { binding: Number(binding), resource: 'buffer' in r ? r : { buffer: r } };
            });
            group = device.createBindGroup({ label: c.kernel.label, layout: c.kernel.layout, entries });
          }
          pass.setPipeline(c.kernel.pipeline);
          pass.setBindGroup(0, group);
          if ('indirect' in c.workgroups) pass.dispatchWorkgroupsIndirect(c.workgroups.indirect, c.workgroups.offset);
          else pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
          dispatches++;
          if (this.profile) endPass();
          break;
        }
        case 'copy':
          endPass();
          encoder.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
          break;
        case 'clear':
          endPass();
          encoder.clearBuffer(c.buffer, c.offset, c.size);
          break;
        case 'read': {
          endPass();
          const staging = gpu.takeStaging(c.size);
          encoder.copyBufferToBuffer(c.buffer, c.offset, staging, 0, c.size);
          reads.push({ slot: c.target, staging, size: c.size });
          break;
        }
      }
    }
    endPass();
    sectionPasses[sectionPasses.length - 1]!.end = passIndex;
    if (querySet && resolve && timestampRead) {
      encoder.resolveQuerySet(querySet, 0, 2 * passCount, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, timestampRead, 0, resolve.size);
    }
    const startMs = performance.now();
    device.queue.submit([encoder.finish()]);
    // Both pops are called before any await, so another batch's scopes cannot interleave with ours.
    const [validation, outOfMemory] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
    const error = validation ?? outOfMemory;
    if (error) {
      for (const r of reads) r.staging.destroy();
      querySet?.destroy();
      resolve?.destroy();
      timestampRead?.destroy();
      throw new BackendError(`webgpu: batch '${this.label}' was rejected: ${error.message}`);
    }
    gpu.transfer.submits++;
    gpu.transfer.dispatches += dispatches;

    const maps: Promise<void>[] = reads.map((r) => r.staging.mapAsync(GPUMapMode.READ));
    if (timestampRead) maps.push(timestampRead.mapAsync(GPUMapMode.READ));
    await Promise.all([...maps, device.queue.onSubmittedWorkDone()]);
    const wallMs = performance.now() - startMs;

    for (const r of reads) {
      r.slot.bytes = r.staging.getMappedRange(0, r.size).slice(0);
      r.staging.unmap();
      gpu.giveStaging(r.staging);
      gpu.transfer.bytesFromDevice += r.size;
      gpu.transfer.downloads++;
    }
    const passMs: number[] = [];
    if (timestampRead) {
      const ticks = new BigInt64Array(timestampRead.getMappedRange().slice(0));
      timestampRead.unmap();
      gpu.giveStaging(timestampRead);
      for (let i = 0; i < passCount; i++) passMs.push(Number(ticks[2 * i + 1]! - ticks[2 * i]!) / 1e6);
      querySet?.destroy();
      resolve?.destroy();
    }
    const sections = sectionPasses
      .filter((x, i) => i > 0 || x.end > x.first)
      .map((x) => ({
        label: x.label,
        passes: x.end - x.first,
        gpuMs: timed ? passMs.slice(x.first, x.end).reduce((a, b) => a + b, 0) : null,
      }));
    return {
      label: this.label,
      dispatches,
      passes: passCount,
      wallMs,
      timing: timed ? 'timestamp' : 'submit',
      gpuMs: timed ? passMs.reduce((a, b) => a + b, 0) : null,
      passMs,
      passLabels,
      sections,
    };
  }

  /** Compute passes the commands will need: a run of consecutive dispatches is one pass (or, with
   *  `profile`, each dispatch). */
  private countPasses(): number {
    if (this.profile) return this.dispatchCount;
    let passes = 0;
    let inPass = false;
    for (const c of this.commands) {
      if (c.type === 'dispatch') {
        if (!inPass) passes++;
        inPass = true;
      } else {
        // Copies, clears, reads and section starts all end the current pass.
        inPass = false;
      }
    }
    return passes;
  }

  /**
   * The bindings with inline uniform data copied as it is now, so that a caller may change and reuse
   * one parameter array between dispatches. Equal contents share one copy, hence one uniform slot.
   */
  private snapshot(bindings: Readonly<Record<number, BindingResource>>): Record<number, BindingResource> {
    const out: Record<number, BindingResource> = {};
    for (const [binding, r] of Object.entries(bindings)) {
      if (isUniformData(r)) {
        const key = new Uint32Array(r.buffer, r.byteOffset, r.length).join(',');
        let copy = this.uniformCopies.get(key);
        if (!copy) {
          copy = r.slice();
          this.uniformCopies.set(key, copy);
        }
        out[Number(binding)] = copy;
      } else {
        out[Number(binding)] = r;
      }
    }
    return out;
  }

  private checkBindings(kernel: Kernel, bindings: Readonly<Record<number, BindingResource>>): void {
    for (const [binding, kind] of Object.entries(kernel.bindings)) {
      const r = bindings[Number(binding)];
      if (r === undefined) throw new CheckError(`dispatch of '${kernel.label}': binding ${binding} (${kind}) is not given`);
      if (isUniformData(r) && kind !== 'uniform') {
        throw new CheckError(`dispatch of '${kernel.label}': binding ${binding} is ${kind}; inline data is only for uniform bindings`);
      }
    }
  }

  private checkOpen(): void {
    if (this.submitted) throw new CheckError(`batch '${this.label}' was already submitted; start a new batch`);
  }
}
