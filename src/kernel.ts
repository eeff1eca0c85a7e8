/**
 * The CPU kernel contract and the kernel registry.
 *
 * A CPU kernel updates the actors `[start, end)` of one kind in one phase. It reads the current state
 * through `ctx.state`, writes the next state through `ctx.next`, reads message inputs through
 * `ctx.in` and writes outputs through `ctx.out`. When the function is activated by messages,
 * `ctx.active` lists the actor ids to visit and `[start, end)` indexes that list. A phase may call a
 * kernel several times, on disjoint ranges, in any order and on any thread: its results must not
 * depend on how the items are split.
 *
 * Kernels never throw: they call `ctx.fault(...)` (first fault wins) and return; the host turns the
 * fault into a {@link CheckError} or {@link CapacityError} after the phase.
 *
 * A WebGPU kernel is registered as `{ kernel, backend: 'webgpu', wgsl }`: `wgsl` is the body of the
 * kernel, a WGSL function `fn kernel_item(a: u32)` (a = actor id) written against names that the
 * runtime generates per function (`sim`, `state_<field>`, `next_<field>`, `param_<name>`,
 * `in_<msg>_<field>`, `emit_<msg>`, `fault`, `rng_uniform_for`, …; see {@link WebGpuKernelRegistration}
 * and sim/gpu/codegen.ts). WebGPU kernels live beside the CPU ones in `kernels/<kind>/webgpu.ts`.
 *
 * @example
 * ```ts
 * // kernels/particle/cpu.ts
 * export const kernels: KernelRegistration[] = [{
 *   kernel: 'particle.move', backend: 'cpu',
 *   cpu(ctx, start, end) {
 *     const x = ctx.state.x!, v = ctx.state.v!, nx = ctx.next.x!, nv = ctx.next.v!;
 *     const damping = ctx.params.damping!;
 *     for (let i = start; i < end; i++) { nv[i] = v[i]! * (1 - damping); nx[i] = x[i]! + nv[i]! * ctx.dt; }
 *   },
 * }];
 * ```
 */
import { BackendError, CheckError } from './errors.js';
import type { Rng } from './rng.js';
import type { TypedArray } from './types.js';

/** Fault codes written into the shared fault word. */
export const Fault = {
  none: 0,
  /** NaN or ±Inf written into a float state field. */
  nonFinite: 1,
  /** An address (actor id, key, edge) outside its valid range. */
  address: 2,
  /** A sender emitted more records than `maxPerActor`. */
  capacity: 3,
  /** A kernel-defined condition (see the kernel's docs). */
  user: 4,
} as const;
export type FaultCode = (typeof Fault)[keyof typeof Fault];

/** Output side of a direct, bucket or spatial message. */
export interface MessageOut {
  readonly name: string;
  /** Raw output columns, indexed by slot. */
  readonly fields: Readonly<Record<string, TypedArray>>;
  /**
   * Reserves the next record of `sender` and returns its slot, or -1 (after setting a fault) when the
   * sender has used `maxPerActor` slots or `key` is out of range. Spatial messages ignore `key`.
   * A function bound to its message, so a kernel may keep it in a variable or pass it on.
   */
  readonly emit: (sender: number, key: number) => number;
}

/** Input side of a direct, bucket or spatial message: records sorted by key, then (sender, sequence). */
export interface MessageIn {
  readonly name: string;
  /** Sorted record columns. */
  readonly fields: Readonly<Record<string, TypedArray>>;
  /** Sender id of each sorted record. */
  readonly sender: Uint32Array;
  /** `offsets[k]..offsets[k+1]` are the records of key k (receiver id or grid cell). */
  readonly offsets: Uint32Array;
  /** Number of records this step. */
  readonly count: number;
  /** Bucket reductions: `reduce[field][reduction][key]`. */
  readonly reduce: Readonly<Record<string, Readonly<Record<string, Float64Array>>>>;
  /** Spatial grid geometry (spatial messages only). */
  readonly grid?: SpatialGrid;
}

export interface SpatialGrid {
  readonly min: readonly number[];
  /** Cell side per axis [x, y, z] (a delivery's single `cellSize` is repeated). */
  readonly cellSize: readonly [number, number, number];
  readonly dims: readonly number[];
  readonly radius: number;
}

/** Columns of an array message (indexed by sender) or a graph message (indexed by edge). */
export interface MessageColumns {
  readonly name: string;
  readonly fields: Readonly<Record<string, TypedArray>>;
}

/**
 * A graph in CSR form, both directions. Out-edges of s: edge ids `rowPtr[s]..rowPtr[s+1]` with
 * destinations `dst[e]`; in-edges of r: `inRowPtr[r]..inRowPtr[r+1]` index `inEdge`, which holds edge
 * ids sorted by (source, edge id).
 */
export interface GraphView {
  readonly name: string;
  readonly edges: number;
  readonly rowPtr: Uint32Array;
  readonly dst: Uint32Array;
  readonly src: Uint32Array;
  readonly inRowPtr: Uint32Array;
  readonly inEdge: Uint32Array;
  readonly fields: Readonly<Record<string, TypedArray>>;
}

export interface CpuKernelContext {
  readonly kind: string;
  readonly kindId: number;
  readonly fn: string;
  readonly step: number;
  readonly dt: number;
  /** Virtual time at the start of this step (`step * dt`). */
  readonly time: number;
  readonly seed: number;
  /** Live actors of this kind. */
  readonly count: number;
  readonly params: Readonly<Record<string, number>>;
  /** Current values of every state field of the kind (fields already written this step show their new values). */
  readonly state: Readonly<Record<string, TypedArray>>;
  /** Next-step buffers of the fields this function writes. */
  readonly next: Readonly<Record<string, TypedArray>>;
  /** Direct, bucket and spatial inputs. */
  readonly in: Readonly<Record<string, MessageIn>>;
  /** Direct, bucket and spatial outputs. */
  readonly out: Readonly<Record<string, MessageOut>>;
  /** Array and graph messages (inputs and outputs): columns indexed by sender or edge. */
  readonly columns: Readonly<Record<string, MessageColumns>>;
  readonly graphs: Readonly<Record<string, GraphView>>;
  /** Actor ids to visit when the function is activated by messages, else null. */
  readonly active: Uint32Array | null;
  readonly rng: Rng;
  /** Records a fault (first one wins); the kernel should return soon after. */
  fault(code: FaultCode, actor: number, detail?: number): void;
}

export type CpuKernel = (ctx: CpuKernelContext, start: number, end: number) => void;

/** A CPU kernel registration (the name predates the WebGPU variant; {@link CpuKernelRegistration} is an alias). */
export interface KernelRegistration {
  readonly kernel: string;
  readonly backend: 'cpu';
  readonly cpu: CpuKernel;
}
export type CpuKernelRegistration = KernelRegistration;

/**
 * A WebGPU kernel: the WGSL body of `fn kernel_item(a: u32)`, called once per actor `a` (for an
 * `onMessage` function, once per receiver that got at least one record). The runtime prepends a
 * preamble generated per function from the model spec, holding only the names the body uses:
 *
 * | name | what |
 * | --- | --- |
 * | `sim.step`, `sim.seed`, `sim.count`, `sim.items`, `sim.time`, `sim.dt`, `sim.count_<Kind>`, `sim.edges_<graph>` | the step's uniforms |
 * | `state_<field>` | current state of every field of the kind (read-only) |
 * | `next_<field>` | next-step buffer of every field the function writes (write `next_<f>[a]` only) |
 * | `param_<name>` | the kind's parameters, `const f32` |
 * | `in_<msg>_<field>`, `in_<msg>_offsets`, `in_<msg>_sender`, `in_<msg>_keys` | direct/bucket/spatial input, sorted by (key, sender, sequence) |
 * | `in_<msg>_<field>_<op>` | bucket reductions per key (`count` u32, others f32) |
 * | `in_<msg>_grid_min`, `in_<msg>_grid_dims`, `in_<msg>_cell_size`, `in_<msg>_inv_cell_size` (vec3f, per axis), `in_<msg>_radius`, `in_<msg>_cell(p)` | spatial grid |
 * | `out_<msg>_<field>`, `emit_<msg>(sender, key) -> i32` | direct/bucket/spatial output: emit reserves a slot or returns -1 after a fault |
 * | `col_<msg>_<field>` | array message (per sender) or graph message (per edge) columns |
 * | `graph_<G>_<rowPtr\|dst\|src\|inRowPtr\|inEdge\|field>` | CSR of a graph |
 * | `fault(code, actor, detail)` | records a fault (first wins) |
 * | `rng_uniform_for(actor, stream, counter)`, `rng_normal_for`, `rng_u32_for` | the counter-based RNG bound to (seed, kind, step) |
 *
 * Message names contain a dot (`CirclesAgent.location`); in WGSL names the dot becomes `_`
 * (`in_CirclesAgent_location_x`).
 */
export interface WebGpuKernelRegistration {
  readonly kernel: string;
  readonly backend: 'webgpu';
  readonly wgsl: string;
}

/** A registration for any backend; a kernels module exports `kernels` as an array of these. */
export type AnyKernelRegistration = KernelRegistration | WebGpuKernelRegistration;
export type KernelBackend = AnyKernelRegistration['backend'];

/**
 * The module expected to hold the WebGPU twins of a kind's CPU kernels: `kernels/<kind>/cpu.ts` →
 * `kernels/<kind>/webgpu.ts`, `<name>.cpu.ts` → `<name>.webgpu.ts`, any other `<name>.ts` →
 * `<name>.webgpu.ts` (same extension as the CPU module).
 */
export function webgpuModuleUrl(cpuUrl: string): string {
  const m = /^(.*\/)([^/]*?)(\.(?:ts|js|mjs))$/.exec(cpuUrl);
  if (!m) return cpuUrl;
  const [, dir, stem, ext] = m as unknown as [string, string, string, string];
  if (stem === 'cpu') return `${dir}webgpu${ext}`;
  if (stem.endsWith('.cpu')) return `${dir}${stem.slice(0, -4)}.webgpu${ext}`;
  return `${dir}${stem}.webgpu${ext}`;
}

/**
 * Per-thread kernel registry, one entry per (kernel, backend). A duplicate registration is an error;
 * a missing one is a {@link BackendError} naming the kernel and the backend.
 */
export class KernelRegistry {
  private readonly map = new Map<string, AnyKernelRegistration>();
  /** Modules imported by {@link load}, for the hint of a missing registration. */
  private readonly loaded: string[] = [];

  register(r: AnyKernelRegistration): void {
    const key = `${r.backend}:${r.kernel}`;
    const prev = this.map.get(key);
    if (prev && prev !== r) throw new CheckError(`kernel '${r.kernel}' is registered twice for backend '${r.backend}'; give each kernel a unique name`);
    this.map.set(key, r);
  }

  get(kernel: string, backend: 'cpu'): CpuKernelRegistration;
  get(kernel: string, backend: 'webgpu'): WebGpuKernelRegistration;
  get(kernel: string, backend: KernelBackend): AnyKernelRegistration {
    const r = this.map.get(`${backend}:${kernel}`);
    if (!r) {
      const example = backend === 'cpu' ? `cpu(ctx, start, end) { … }` : 'wgsl: `fn kernel_item(a: u32) { … }`';
      const where = backend === 'webgpu' ? 'kernels/<kind>/webgpu.ts' : "the kind's kernels module";
      throw new BackendError(
        `no '${backend}' implementation of kernel '${kernel}' is registered; export it from ${where} (kernels: [{ kernel: '${kernel}', backend: '${backend}', ${example} }])` +
          (this.loaded.length > 0 ? ` (modules loaded: ${this.loaded.join(', ')})` : ''),
      );
    }
    return r;
  }

  /** Whether (kernel, backend) is registered. */
  has(kernel: string, backend: KernelBackend): boolean {
    return this.map.has(`${backend}:${kernel}`);
  }

  /**
   * Imports each module URL once and registers its exported `kernels`. With `webgpu: true`, also
   * imports each module's {@link webgpuModuleUrl} sibling where one exists.
   */
  async load(urls: readonly string[], options: { webgpu?: boolean } = {}): Promise<void> {
    const all = [...new Set(urls)];
    for (const url of all) await this.loadModule(url, false);
    if (options.webgpu) {
      for (const url of all) {
        const sibling = webgpuModuleUrl(url);
        if (sibling !== url && !all.includes(sibling)) await this.loadModule(sibling, true);
      }
    }
  }

  private async loadModule(url: string, optional: boolean): Promise<void> {
    let mod: { kernels?: unknown };
    try {
      mod = (await import(url)) as { kernels?: unknown };
    } catch (err) {
      // A missing optional sibling is not an error here: get() names the missing kernel and backend.
      const e = err as { code?: string; url?: string; message?: string };
      if (optional && e.code === 'ERR_MODULE_NOT_FOUND' && (e.url === url || (e.message ?? '').includes(new URL(url).pathname))) return;
      throw err;
    }
    if (!Array.isArray(mod.kernels)) throw new CheckError(`kernels module ${url} must export 'kernels: AnyKernelRegistration[]' (KernelRegistration[] for CPU kernels, WebGpuKernelRegistration[] for WebGPU ones)`);
    for (const r of mod.kernels as AnyKernelRegistration[]) this.register(r);
    this.loaded.push(url);
  }
}
