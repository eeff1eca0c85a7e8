/// <reference types="@webgpu/types" />
/**
 * Host side of the shared WGSL primitives in kernels/common/: plans that own the scratch buffers of one
 * problem size and record every pass of a primitive into a {@link ComputeBatch}, so that a step's
 * primitives go into the same command encoder as its kernels (ARCHITECTURE §5).
 *
 * | primitive | WGSL | CPU reference (kernels/common/cpu.ts) | agreement |
 * | --- | --- | --- | --- |
 * | {@link ScanPlan} | scan.wgsl | `exclusiveScan` | exact (u32, modulo 2^32) |
 * | {@link CountingSortPlan} | sort.wgsl + scan.wgsl | `countingSortByKey` | exact: offsets, perm, sender |
 * | {@link SegmentReducePlan} | reduce.wgsl | `segmentReduce` | count exact, min/max exact, sum/mean/std in f32 (see {@link REDUCE_TOLERANCE}) |
 * | {@link CellPlan} | cell.wgsl | `cellOf` | exact except within an f32 rounding of a cell boundary |
 *
 * @example
 * ```ts
 * const gpu = new GpuCompute(probe.device);
 * const prims = await GpuPrimitives.create(gpu);
 * const data = gpu.createBuffer({ label: 'counts', data: counts });   // n + 1 elements
 * const scan = prims.scanPlan(n, { total: true });                   // data[n] gets the total
 * const batch = gpu.batch('step');
 * scan.encode(batch, data);
 * const out = batch.read(data);
 * await batch.submit();
 * scan.destroy();
 * ```
 */

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CheckError } from '../../src/errors.js';
import type { ComputeBatch, GpuCompute, Kernel } from './compute.js';

/** The shared WGSL files of kernels/common/. */
export type CommonWgsl = 'scan' | 'sort' | 'reduce' | 'cell' | 'rng';

/** Elements per workgroup of scan.wgsl (`SCAN_BLOCK`). */
export const SCAN_BLOCK = 1024;
/** Records per workgroup of sort.wgsl (`SORT_CHUNK`). */
export const SORT_CHUNK = 1024;
/** Key bits per radix pass of sort.wgsl. */
export const SORT_RADIX_BITS = 8;
/** Digits per radix pass of sort.wgsl (`SORT_RADIX`). */
export const SORT_RADIX = 1 << SORT_RADIX_BITS;
/** Segments per workgroup of reduce.wgsl's segment_reduce_short (`REDUCE_WG`). */
const REDUCE_SEGMENTS_PER_WORKGROUP = 64;
/** Invocations per workgroup of the cell kernel. */
const CELL_WG = 256;

/**
 * Declared agreement of {@link SegmentReducePlan} with the f64 CPU reference, for f32 inputs:
 * |gpu − cpu| ≤ relative · (|cpu| + scale), where scale is Σ|x| of the segment for `sum`, and the mean
 * of |x| for `mean` and `std`. With scale the bound also holds where cancellation makes the result
 * small (a sum near 0 of large values of both signs; the std of a nearly constant segment).
 * Segments of up to 64 values add serially, within 63 · 2^-24 ≈ 3.8e-6 of scale in the worst case;
 * longer ones add 64 strided shares combined in a tree: their worst case grows like length / 64, but
 * rounding errors are random in practice (measured: 1.6e-7 for one segment of 1M normal values).
 * count, min and max are exact.
 */
export const REDUCE_TOLERANCE = { relative: 1e-5 } as const;

const wgslCache = new Map<CommonWgsl, string>();

/**
 * The text of kernels/common/<name>.wgsl. Found beside the sources (sim/gpu/ → ../../kernels) or, when
 * running the compiled JavaScript, beside dist/ (dist/sim/gpu/ → ../../../kernels): tsc does not copy
 * WGSL files into dist/.
 */
export function commonWgsl(name: CommonWgsl): string {
  const cached = wgslCache.get(name);
  if (cached !== undefined) return cached;
  const candidates = [`../../kernels/common/${name}.wgsl`, `../../../kernels/common/${name}.wgsl`].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new CheckError(`kernels/common/${name}.wgsl not found (looked at ${candidates.join(', ')}); reinstall simloom`);
  const text = readFileSync(path, 'utf8');
  wgslCache.set(name, text);
  return text;
}

/** Exclusive-scan kernels, shared by every plan. */
interface ScanKernels {
  blocks: Kernel;
  add: Kernel;
}

interface SortKernels {
  histogram: Kernel;
  scatter: Kernel;
}

interface ReduceKernels {
  short: Kernel;
  args: Kernel;
  long: Kernel;
}

/**
 * Compiled primitive kernels for one {@link GpuCompute}. Create once (compiling takes a while on
 * software adapters), then make a plan per problem size.
 */
export class GpuPrimitives {
  readonly gpu: GpuCompute;
  private readonly scanKernels: ScanKernels;
  private readonly sortKernels: SortKernels;
  private readonly reduceKernels: ReduceKernels;
  private readonly cellKernel: Kernel;
  /** Time spent compiling the kernels, ms. */
  readonly compileMs: number;

  private constructor(gpu: GpuCompute, scan: ScanKernels, sort: SortKernels, reduce: ReduceKernels, cell: Kernel, compileMs: number) {
    this.gpu = gpu;
    this.scanKernels = scan;
    this.sortKernels = sort;
    this.reduceKernels = reduce;
    this.cellKernel = cell;
    this.compileMs = compileMs;
  }

  static async create(gpu: GpuCompute): Promise<GpuPrimitives> {
    const startMs = performance.now();
    const scanCode = commonWgsl('scan');
    const sortCode = commonWgsl('sort');
    const reduceCode = commonWgsl('reduce');
    const scanBindings = { 0: 'uniform', 1: 'storage', 2: 'storage' } as const;
    const reduceBindings = {
      0: 'uniform',
      1: 'read-only-storage',
      2: 'read-only-storage',
      3: 'storage',
      4: 'storage',
      5: 'storage',
    } as const;
    const [blocks, add, histogram, scatter, short, args, long, cell] = await Promise.all([
      gpu.kernel({ label: 'scan.scan_blocks', code: scanCode, entryPoint: 'scan_blocks', bindings: scanBindings }),
      gpu.kernel({ label: 'scan.add_block_offsets', code: scanCode, entryPoint: 'add_block_offsets', bindings: scanBindings }),
      gpu.kernel({
        label: 'sort.sort_histogram',
        code: sortCode,
        entryPoint: 'sort_histogram',
        bindings: { 0: 'uniform', 1: 'read-only-storage', 2: 'read-only-storage', 4: 'storage', 5: 'storage', 9: 'storage' },
      }),
      gpu.kernel({
        label: 'sort.sort_scatter',
        code: sortCode,
        entryPoint: 'sort_scatter',
        bindings: {
          0: 'uniform',
          1: 'read-only-storage',
          2: 'read-only-storage',
          3: 'read-only-storage',
          4: 'storage',
          5: 'storage',
          6: 'storage',
          7: 'storage',
          8: 'storage',
        },
      }),
      gpu.kernel({
        label: 'reduce.segment_reduce_short',
        code: reduceCode,
        entryPoint: 'segment_reduce_short',
        bindings: { ...reduceBindings, 6: 'storage' },
      }),
      gpu.kernel({
        label: 'reduce.segment_reduce_args',
        code: reduceCode,
        entryPoint: 'segment_reduce_args',
        bindings: { 0: 'uniform', 5: 'storage', 6: 'storage' },
      }),
      gpu.kernel({ label: 'reduce.segment_reduce_long', code: reduceCode, entryPoint: 'segment_reduce_long', bindings: reduceBindings }),
      gpu.kernel({
        label: 'cell.cells_of',
        code: `${commonWgsl('cell')}\n${CELLS_OF_WGSL}`,
        entryPoint: 'cells_of',
        bindings: { 0: 'uniform', 1: 'read-only-storage', 2: 'read-only-storage', 3: 'read-only-storage', 4: 'storage' },
      }),
    ]);
    return new GpuPrimitives(gpu, { blocks, add }, { histogram, scatter }, { short, args, long }, cell, performance.now() - startMs);
  }

  /**
   * A plan for exclusive scans of `n` u32 in place. With `total: true` the buffer must hold n + 1
   * elements and element n gets the total (as `exclusiveScan` does when `a.length > n`).
   */
  scanPlan(n: number, options: { total?: boolean } = {}): ScanPlan {
    return new ScanPlan(this.gpu, this.scanKernels, n, options.total ?? false);
  }

  /** A plan for stable counting sorts of `senders * maxPer` record slots into `keys` keys. */
  countingSortPlan(shape: CountingSortShape): CountingSortPlan {
    return new CountingSortPlan(this.gpu, this.scanKernels, this.sortKernels, shape);
  }

  /** A plan for segment reductions over `keys` segments. */
  segmentReducePlan(keys: number): SegmentReducePlan {
    return new SegmentReducePlan(this.gpu, this.reduceKernels, keys);
  }

  /** A plan for the grid cells of `count` positions. */
  cellPlan(grid: GridSpec): CellPlan {
    return new CellPlan(this.cellKernel, grid);
  }
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new CheckError(`${what} must be a non-negative integer, got ${n}`);
}

/** Checks that `elements` u32/f32 fit one storage binding of the device. */
function checkBinding(gpu: GpuCompute, what: string, elements: number): void {
  const max = gpu.limits.maxStorageBufferBindingSize;
  if (elements * 4 > max) {
    throw new CheckError(`${what}: ${elements} elements (${elements * 4} bytes) exceed the device's maxStorageBufferBindingSize of ${max} bytes`);
  }
}

/** Exclusive scan of a fixed length; owns the block-sum buffers of every level. See scan.wgsl. */
export class ScanPlan {
  /** Elements scanned. */
  readonly n: number;
  /** Whether element n gets the total. */
  readonly total: boolean;
  /** Elements per level: level 0 is the data (n or n + 1), level i + 1 has one per block of level i. */
  readonly levelLengths: readonly number[];
  private readonly kernels: ScanKernels;
  /** sums[i] holds the block sums of level i (= the data of level i + 1). */
  private readonly sums: GPUBuffer[];

  constructor(gpu: GpuCompute, kernels: ScanKernels, n: number, total: boolean) {
    checkCount('scan length', n);
    const len = n + (total ? 1 : 0);
    checkBinding(gpu, 'scan', len);
    this.n = n;
    this.total = total;
    this.kernels = kernels;
    const lengths = [len];
    while (len > 0 && Math.ceil(lengths[lengths.length - 1]! / SCAN_BLOCK) > 1) {
      lengths.push(Math.ceil(lengths[lengths.length - 1]! / SCAN_BLOCK));
    }
    this.levelLengths = lengths;
    this.sums = lengths.map((l, i) => gpu.createBuffer({ label: `scan sums level ${i + 1}`, size: 4 * Math.ceil(l / SCAN_BLOCK) }));
  }

  /** Records the scan of `data` (at least n, or n + 1 with a total slot, u32) into `batch`. */
  encode(batch: ComputeBatch, data: GPUBuffer): void {
    const len0 = this.levelLengths[0]!;
    if (len0 === 0) return;
    if (data.size < 4 * len0) throw new CheckError(`scan: buffer ${data.label} has ${data.size} bytes, needs ${4 * len0}`);
    const levels = this.levelLengths.length;
    const levelData = (i: number): GPUBuffer => (i === 0 ? data : this.sums[i - 1]!);
    const params = this.levelLengths.map((len, i) => Uint32Array.of(i === 0 ? this.n : len, len, 0, 0));
    for (let i = 0; i < levels; i++) {
      batch.dispatch(this.kernels.blocks, { 0: params[i]!, 1: levelData(i), 2: this.sums[i]! }, Math.ceil(this.levelLengths[i]! / SCAN_BLOCK));
    }
    for (let i = levels - 2; i >= 0; i--) {
      batch.dispatch(this.kernels.add, { 0: params[i]!, 1: levelData(i), 2: this.sums[i]! }, Math.ceil(this.levelLengths[i]! / SCAN_BLOCK));
    }
  }

  destroy(): void {
    for (const b of this.sums) b.destroy();
  }
}

/** The shape of a counting sort: as `countingSortByKey(senders, maxPer, …, keys, …)`. */
export interface CountingSortShape {
  readonly senders: number;
  readonly maxPer: number;
  readonly keys: number;
}

/**
 * A whole buffer or a range of one (`offset` a multiple of the device's
 * minStorageBufferOffsetAlignment), where a primitive only binds it.
 */
export type BufferBinding = GPUBuffer | { readonly buffer: GPUBuffer; readonly offset?: number; readonly size?: number };

/** The buffers of one counting sort; all u32. */
export interface CountingSortIo {
  /** Records per sender, `senders` elements. */
  readonly sent: BufferBinding;
  /** Key of each raw slot, `senders * maxPer` elements. */
  readonly key: BufferBinding;
  /** Out: `keys + 1` elements; offsets[keys] is the total. */
  readonly offsets: GPUBuffer;
  /** Out: raw slot of each sorted record, `senders * maxPer` elements (the first `total` are written). */
  readonly perm: BufferBinding;
  /** Out: sender of each sorted record, like perm. */
  readonly sender: BufferBinding;
  /** Out: [code, slot] of the first fault (2 = key out of range, 3 = sent over maxPer), 0 if none. */
  readonly fault: GPUBuffer;
  /** Out, optional: key of each sorted record, like perm. */
  readonly sortedKey?: BufferBinding;
}

/**
 * Stable counting sort by key (see sort.wgsl for the method): per-key counts with atomics, scanned into
 * offsets; then LSD radix passes of 8 key bits, each a per-chunk digit histogram, a scan of the
 * (digit, chunk) table and a stable scatter. Owns the ping-pong and table buffers.
 */
export class CountingSortPlan {
  readonly shape: CountingSortShape;
  /** Raw record slots: senders * maxPer. */
  readonly records: number;
  /** Workgroups per pass: ceil(records / SORT_CHUNK). */
  readonly chunks: number;
  /** Radix passes: bytes needed for keys - 1, at least 1. */
  readonly passes: number;
  private readonly sortKernels: SortKernels;
  private readonly offsetsScan: ScanPlan;
  private readonly tableScan: ScanPlan;
  private readonly table: GPUBuffer;
  /** Ping-pong (key, slot) buffers between passes (two each with several passes); tmpKey[0] also takes
   *  the sorted keys of a single pass when the caller does not ask for them. */
  private readonly tmpKey: GPUBuffer[];
  private readonly tmpSlot: GPUBuffer[];

  constructor(gpu: GpuCompute, scanKernels: ScanKernels, sortKernels: SortKernels, shape: CountingSortShape) {
    const { senders, maxPer, keys } = shape;
    checkCount('countingSort senders', senders);
    checkCount('countingSort maxPer', maxPer);
    checkCount('countingSort keys', keys);
    this.shape = { senders, maxPer, keys };
    this.records = senders * maxPer;
    checkBinding(gpu, 'countingSort records', this.records);
    this.chunks = Math.ceil(this.records / SORT_CHUNK);
    let bits = 0;
    while (keys > 1 && 2 ** bits < keys) bits++;
    this.passes = Math.max(1, Math.ceil(bits / SORT_RADIX_BITS));
    this.sortKernels = sortKernels;
    this.offsetsScan = new ScanPlan(gpu, scanKernels, keys, true);
    this.tableScan = new ScanPlan(gpu, scanKernels, SORT_RADIX * this.chunks, false);
    this.table = gpu.createBuffer({ label: 'sort table', size: 4 * SORT_RADIX * this.chunks });
    const pingPong = this.passes > 1 ? 2 : 0;
    this.tmpKey = Array.from({ length: Math.max(1, pingPong) }, (_, i) => gpu.createBuffer({ label: `sort key ${i}`, size: 4 * this.records }));
    this.tmpSlot = Array.from({ length: pingPong }, (_, i) => gpu.createBuffer({ label: `sort slot ${i}`, size: 4 * this.records }));
  }

  /** Records the whole sort into `batch`. */
  encode(batch: ComputeBatch, io: CountingSortIo): void {
    const { maxPer, keys } = this.shape;
    if (io.sortedKey === io.key) throw new CheckError('countingSort: sortedKey must be another buffer than key');
    batch.clear(io.offsets, 0, 4 * (keys + 1));
    batch.clear(io.fault, 0, 8);
    const groups = this.chunks;
    for (let pass = 0; pass < this.passes; pass++) {
      const first = pass === 0;
      const last = pass === this.passes - 1;
      const params = Uint32Array.of(this.records, maxPer, keys, this.chunks, SORT_RADIX_BITS * pass, first ? 1 : 0, last ? 1 : 0, 0);
      // Pass p reads what pass p - 1 wrote, tmp[(p - 1) % 2], and writes tmp[p % 2] or, last, the outputs.
      // Pass 0 reads raw slots and no slot_in: it gets the key buffer again (read-only twice is allowed).
      const keyIn = first ? io.key : this.tmpKey[(pass - 1) % 2]!;
      const slotIn = first ? io.key : this.tmpSlot[(pass - 1) % 2]!;
      const keyOut = last ? (io.sortedKey ?? this.tmpKey[pass % 2]!) : this.tmpKey[pass % 2]!;
      const slotOut = last ? io.perm : this.tmpSlot[pass % 2]!;
      batch.dispatch(this.sortKernels.histogram, { 0: params, 1: io.sent, 2: keyIn, 4: io.offsets, 5: this.table, 9: io.fault }, groups);
      if (first) this.offsetsScan.encode(batch, io.offsets);
      this.tableScan.encode(batch, this.table);
      batch.dispatch(
        this.sortKernels.scatter,
        { 0: params, 1: io.sent, 2: keyIn, 3: slotIn, 4: io.offsets, 5: this.table, 6: keyOut, 7: slotOut, 8: io.sender },
        groups,
      );
    }
  }

  destroy(): void {
    this.offsetsScan.destroy();
    this.tableScan.destroy();
    this.table.destroy();
    for (const b of [...this.tmpKey, ...this.tmpSlot]) b.destroy();
  }
}

/** The buffers of a segment reduction. */
export interface SegmentReduceIo {
  /** f32 values, segment k at offsets[k] .. offsets[k+1]. */
  readonly values: BufferBinding;
  /** u32, keys + 1 elements. */
  readonly offsets: BufferBinding;
  /** Out: u32 count per segment, `keys` elements. */
  readonly counts: BufferBinding;
  /** Out: f32, 5 rows of `keys`: sum, mean, std, min, max (row r of segment k at r * keys + k). */
  readonly stats: BufferBinding;
}

/** Rows of {@link SegmentReduceIo.stats}. */
export const REDUCE_ROWS = ['sum', 'mean', 'std', 'min', 'max'] as const;

/**
 * Segment reductions (reduce.wgsl): one invocation per segment of at most 64 values, one workgroup per
 * longer segment (dispatched indirectly, so no readback decides the grid). Owns the long-segment list.
 */
export class SegmentReducePlan {
  readonly keys: number;
  private readonly gpu: GpuCompute;
  private readonly kernels: ReduceKernels;
  /* layout: longList[0..count) = long segments, longList[keys] = count; args = [x, y, z, count] */
  private readonly longList: GPUBuffer;
  private readonly args: GPUBuffer;

  constructor(gpu: GpuCompute, kernels: ReduceKernels, keys: number) {
    checkCount('segmentReduce keys', keys);
    checkBinding(gpu, 'segmentReduce keys', 5 * keys);
    this.keys = keys;
    this.gpu = gpu;
    this.kernels = kernels;
    this.longList = gpu.createBuffer({ label: 'reduce long segments', size: 4 * (keys + 1) });
    this.args = gpu.createBuffer({ label: 'reduce long args', size: 16, usage: GPUBufferUsage.INDIRECT });
  }

  encode(batch: ComputeBatch, io: SegmentReduceIo): void {
    if (this.keys === 0) return;
    const params = Uint32Array.of(this.keys, this.gpu.limits.maxComputeWorkgroupsPerDimension, 0, 0);
    const bindings = { 0: params, 1: io.values, 2: io.offsets, 3: io.counts, 4: io.stats, 5: this.longList };
    batch.clear(this.args);
    batch.dispatch(this.kernels.short, { ...bindings, 6: this.args }, Math.ceil(this.keys / REDUCE_SEGMENTS_PER_WORKGROUP));
    batch.dispatch(this.kernels.args, { 0: params, 5: this.longList, 6: this.args }, 1);
    batch.dispatchIndirect(this.kernels.long, bindings, this.args);
  }

  destroy(): void {
    this.longList.destroy();
    this.args.destroy();
  }
}

/** A spatial grid, as `cellOf(x, y, z, min, cellSize, dims)` takes it (`cellSize`: one side, or one per axis). */
export interface GridSpec {
  readonly min: readonly [number, number, number];
  readonly cellSize: number | readonly [number, number, number];
  readonly dims: readonly [number, number, number];
}

/** The wrapper kernel around cell.wgsl's `cell_of`: one position per invocation, SoA coordinates. */
const CELLS_OF_WGSL = /* wgsl */ `
struct CellParams {
  grid_min: vec3f,
  count: u32,
  inv_cell_size: vec3f,
  dims: vec3u,
}
@group(0) @binding(0) var<uniform> cell_params: CellParams;
@group(0) @binding(1) var<storage, read> px: array<f32>;
@group(0) @binding(2) var<storage, read> py: array<f32>;
@group(0) @binding(3) var<storage, read> pz: array<f32>;
@group(0) @binding(4) var<storage, read_write> cells: array<u32>;

@compute @workgroup_size(${CELL_WG})
fn cells_of(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${CELL_WG}u + t;
  if (i >= cell_params.count) { return; }
  cells[i] = cell_of(vec3f(px[i], py[i], pz[i]), cell_params.grid_min, cell_params.inv_cell_size, cell_params.dims);
}
`;

/** Grid cells of positions (cell.wgsl), `cells[i] = cellOf(x[i], y[i], z[i], …)`. */
export class CellPlan {
  readonly grid: GridSpec;
  private readonly kernel: Kernel;

  constructor(kernel: Kernel, grid: GridSpec) {
    const cs = typeof grid.cellSize === 'number' ? [grid.cellSize, grid.cellSize, grid.cellSize] : grid.cellSize;
    if (!cs.every((c) => c > 0)) throw new CheckError(`grid.cellSize must be positive, got ${String(grid.cellSize)}`);
    for (const d of grid.dims) if (!Number.isInteger(d) || d < 1) throw new CheckError(`grid.dims must be positive integers, got [${grid.dims.join(', ')}]`);
    this.grid = grid;
    this.kernel = kernel;
  }

  /** Records the cells of the first `count` positions of the f32 columns x, y, z into u32 `cells`. */
  encode(batch: ComputeBatch, io: { x: BufferBinding; y: BufferBinding; z: BufferBinding; cells: BufferBinding }, count: number): void {
    const { min, cellSize, dims } = this.grid;
    const [cx, cy, cz] = typeof cellSize === 'number' ? [cellSize, cellSize, cellSize] : cellSize;
    const params = new ArrayBuffer(48);
    /* layout (WGSL uniform rules: a vec3 aligns to 16 bytes): [min.x, min.y, min.z] f32, count u32,
       [1/cx, 1/cy, 1/cz] f32, pad, [dims.x, dims.y, dims.z] u32, pad */
    new Float32Array(params, 0, 3).set([min[0], min[1], min[2]]);
    new Uint32Array(params, 12, 1)[0] = count;
    new Float32Array(params, 16, 3).set([Math.fround(1 / cx), Math.fround(1 / cy), Math.fround(1 / cz)]);
    new Uint32Array(params, 32, 3).set([dims[0], dims[1], dims[2]]);
    batch.dispatch(this.kernel, { 0: new Uint32Array(params), 1: io.x, 2: io.y, 3: io.z, 4: io.cells }, Math.ceil(count / CELL_WG));
  }
}
