/**
 * The CPU kernel contract and the kernel registry.
 *
 * A CPU kernel updates the actors `[start, end)` of one kind in one phase. It reads the current state
 * through `ctx.state`, writes the next state through `ctx.next`, reads message inputs through
 * `ctx.in` and writes outputs through `ctx.out`. When the function is activated by messages,
 * `ctx.active` lists the actor ids to visit and `[start, end)` indexes that list.
 *
 * Kernels never throw: they call `ctx.fault(...)` (first fault wins) and return; the host turns the
 * fault into a {@link CheckError} or {@link CapacityError} after the phase.
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
import { CheckError } from './errors.js';
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
   */
  emit(sender: number, key: number): number;
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
  readonly cellSize: number;
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

export interface KernelRegistration {
  readonly kernel: string;
  readonly backend: 'cpu';
  readonly cpu: CpuKernel;
}

/** Per-thread kernel registry. A duplicate registration is an error; a missing one names kernel and backend. */
export class KernelRegistry {
  private readonly map = new Map<string, KernelRegistration>();

  register(r: KernelRegistration): void {
    const key = `${r.backend}:${r.kernel}`;
    const prev = this.map.get(key);
    if (prev && prev !== r) throw new CheckError(`kernel '${r.kernel}' is registered twice for backend '${r.backend}'; give each kernel a unique name`);
    this.map.set(key, r);
  }

  get(kernel: string, backend: 'cpu'): KernelRegistration {
    const r = this.map.get(`${backend}:${kernel}`);
    if (!r) {
      throw new CheckError(`no '${backend}' implementation of kernel '${kernel}' is registered; export it from the kind's kernels module (kernels: [{ kernel: '${kernel}', backend: '${backend}', … }])`);
    }
    return r;
  }

  /** Imports each module URL once and registers its exported `kernels`. */
  async load(urls: readonly string[]): Promise<void> {
    for (const url of new Set(urls)) {
      const mod = (await import(url)) as { kernels?: unknown };
      if (!Array.isArray(mod.kernels)) throw new CheckError(`kernels module ${url} must export 'kernels: KernelRegistration[]'`);
      for (const r of mod.kernels as KernelRegistration[]) this.register(r);
    }
  }
}
