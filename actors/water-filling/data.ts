/**
 * Embeddings for the water-filling model (MODELS.md §2): seeded synthetic workloads and loading from a
 * file. The model needs three numbers per point, so an embedding e ∈ R^D is reduced as soon as it is
 * made or read and never kept: its norm ‖e‖, a direction on the sphere (θ, φ) from a fixed random
 * projection R^D → R³ (similar embeddings get nearby directions; an isotropic workload gets uniform
 * directions), and `hashDir` = floor(|Σ_j e_j|·16) mod 16, the per-point lateral direction of the
 * original optimizer (compat mode).
 *
 * Workloads (`data=`):
 * - `isotropic`: e ~ N(0, I_D);
 * - `clustered`: 30% / 40% / 20% / 10% of the points scaled ×2.5 / ×1.5 / ×4.0 / ×0.5, shuffled
 *   (group sizes ⌊0.3N⌋, ⌊0.4N⌋, ⌊0.2N⌋ and the rest, as the original's test).
 * Value j of point i is a pure function of (seed, i, j) built on the counter-based RNG of src/rng.ts,
 * so a workload is the same whatever the order or chunking of its generation.
 *
 * Files (`file=`): raw little-endian f32 rows of `dim` values, or `.npy` (versions 1–3, `<f4` or
 * `<f8`, C order, 2-D). Every check fails with a {@link DataError} that says what to fix.
 *
 * @example
 * ```ts
 * const pts = syntheticPoints({ n: 100_000, dim: 256, data: 'clustered', seed: 1 });
 * pts.norm[0]; // ≈ 40 for a point of the ×2.5 group (‖e‖ ≈ 2.5·√256)
 * const loaded = loadPoints('embeddings.npy', { seed: 1 });
 * ```
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../../src/errors.js';
import { hash32, mix32, uniform } from '../../src/rng.js';

/** The per-point reduction of the embeddings (length n each). */
export interface PointData {
  readonly n: number;
  readonly dim: number;
  /** ‖e‖ (computed in f64, stored as f32). */
  readonly norm: Float32Array;
  /** Polar angle of the projected direction, [0, π]. */
  readonly theta: Float32Array;
  /** Azimuth of the projected direction, [0, 2π). */
  readonly phi: Float32Array;
  /** floor(|Σ_j e_j|·16) mod 16: the original optimizer's per-point lateral direction. */
  readonly hashDir: Uint8Array;
  /** Where the points came from (`clustered (seed 1)`, a file name). */
  readonly source: string;
}

export type Workload = 'isotropic' | 'clustered';
export const WORKLOADS: readonly Workload[] = ['isotropic', 'clustered'];

/** Fractions and scales of the clustered workload's groups. */
export const CLUSTER_GROUPS: readonly { readonly fraction: number; readonly scale: number }[] = [
  { fraction: 0.3, scale: 2.5 },
  { fraction: 0.4, scale: 1.5 },
  { fraction: 0.2, scale: 4.0 },
  { fraction: 0.1, scale: 0.5 },
];

/** Number of the original's lateral directions (n_harmonic_directions). */
export const HASH_DIRECTIONS = 16;

/** RNG streams (kind slot 0x57f = "water-filling data"). */
const DATA_KIND = 0x57f;
const STREAM_VALUES = 1;
const STREAM_SHUFFLE = 2;
const STREAM_PROJECTION = 3;
const WEYL = 0x9e3779b9;
const INV24 = 1 / 16777216;
const TWO_PI = 2 * Math.PI;

/** A user-fixable problem with an embeddings file or option. */
export class DataError extends UsageError {}

/**
 * Fills `out[0..dim)` with standard normals for point `i`: Box–Muller on uniforms from a Weyl
 * sequence over the point's key, one lowbias32 round per uniform.
 */
function normalsFor(key: number, dim: number, out: Float64Array): void {
  for (let j = 0; j < dim; j += 2) {
    const a = mix32((key + Math.imul(j + 1, WEYL)) >>> 0);
    const b = mix32((key + Math.imul(j + 2, WEYL)) >>> 0);
    const u1 = ((a >>> 8) + 0.5) * INV24;
    const u2 = (b >>> 8) * INV24;
    const rad = Math.sqrt(-2 * Math.log(u1));
    out[j] = rad * Math.cos(TWO_PI * u2);
    if (j + 1 < dim) out[j + 1] = rad * Math.sin(TWO_PI * u2);
  }
}

/** The fixed projection R^dim → R³ (three Gaussian rows), seeded. */
export function projection(dim: number, seed: number): Float64Array {
  const p = new Float64Array(3 * dim);
  const row = new Float64Array(dim + 1);
  for (let a = 0; a < 3; a++) {
    normalsFor(hash32(seed, DATA_KIND, a, 0, STREAM_PROJECTION, 0), dim, row);
    p.set(row.subarray(0, dim), a * dim);
  }
  return p;
}

/** Accumulates the reduction of embeddings row by row. */
class Reducer {
  readonly norm: Float32Array;
  readonly theta: Float32Array;
  readonly phi: Float32Array;
  readonly hashDir: Uint8Array;
  private readonly proj: Float64Array;

  constructor(
    readonly n: number,
    readonly dim: number,
    seed: number,
  ) {
    this.norm = new Float32Array(n);
    this.theta = new Float32Array(n);
    this.phi = new Float32Array(n);
    this.hashDir = new Uint8Array(n);
    this.proj = projection(dim, seed);
  }

  /** Reduces row `i` given as `e[off + j]·scale`, j < dim. */
  add(i: number, e: ArrayLike<number>, off: number, scale: number): void {
    const d = this.dim;
    const p = this.proj;
    let ss = 0;
    let sum = 0;
    let x = 0;
    let y = 0;
    let z = 0;
    for (let j = 0; j < d; j++) {
      const v = e[off + j]! * scale;
      ss += v * v;
      sum += v;
      x += p[j]! * v;
      y += p[d + j]! * v;
      z += p[2 * d + j]! * v;
    }
    this.norm[i] = Math.sqrt(ss);
    const len = Math.sqrt(x * x + y * y + z * z);
    const cz = len > 0 ? z / len : 1;
    this.theta[i] = Math.acos(cz < -1 ? -1 : cz > 1 ? 1 : cz);
    const ph = Math.atan2(y, x);
    this.phi[i] = ph < 0 ? ph + TWO_PI : ph;
    // The original: (|Σe|·n_dirs).astype(int32) % n_dirs, with Σe in f32.
    this.hashDir[i] = Math.floor(Math.abs(Math.fround(sum)) * HASH_DIRECTIONS) % HASH_DIRECTIONS;
  }

  done(source: string): PointData {
    return { n: this.n, dim: this.dim, norm: this.norm, theta: this.theta, phi: this.phi, hashDir: this.hashDir, source };
  }
}

export interface SyntheticOptions {
  readonly n: number;
  readonly dim: number;
  readonly data: Workload;
  readonly seed: number;
}

/** Scale of every point of a workload (clustered: the groups, shuffled by a seeded Fisher–Yates). */
export function workloadScales(o: SyntheticOptions): Float32Array {
  const scale = new Float32Array(o.n).fill(1);
  if (o.data === 'isotropic') return scale;
  const sizes = CLUSTER_GROUPS.map((g) => Math.floor(o.n * g.fraction));
  sizes[sizes.length - 1] = o.n - sizes.slice(0, -1).reduce((a, b) => a + b, 0);
  let p = 0;
  CLUSTER_GROUPS.forEach((g, gi) => {
    for (let c = 0; c < sizes[gi]!; c++) scale[p++] = g.scale;
  });
  for (let i = o.n - 1; i > 0; i--) {
    const j = Math.floor(uniform(o.seed, DATA_KIND, i, 0, STREAM_SHUFFLE, 0) * (i + 1));
    const t = scale[i]!;
    scale[i] = scale[j]!;
    scale[j] = t;
  }
  return scale;
}

/** Seeded synthetic embeddings, reduced point by point (O(dim) memory besides the result). */
export function syntheticPoints(o: SyntheticOptions): PointData {
  if (!Number.isInteger(o.n) || o.n < 1) throw new DataError(`n must be a positive integer, got ${o.n}`);
  if (!Number.isInteger(o.dim) || o.dim < 1) throw new DataError(`dim must be a positive integer, got ${o.dim}`);
  if (!WORKLOADS.includes(o.data)) throw new DataError(`data must be one of ${WORKLOADS.join('|')}, got '${String(o.data)}'`);
  const scale = workloadScales(o);
  const r = new Reducer(o.n, o.dim, o.seed);
  const e = new Float64Array(o.dim + 1);
  for (let i = 0; i < o.n; i++) {
    normalsFor(hash32(o.seed, DATA_KIND, i, 0, STREAM_VALUES, 0), o.dim, e);
    r.add(i, e, 0, scale[i]!);
  }
  return r.done(`${o.data} (seed ${o.seed})`);
}

/** Header facts of a `.npy` file. */
export interface NpyHeader {
  readonly dtype: 'f4' | 'f8';
  readonly rows: number;
  readonly cols: number;
  /** Byte offset of the data. */
  readonly dataOffset: number;
}

/** Parses a `.npy` header (versions 1–3); throws {@link DataError} naming what is wrong. */
export function parseNpyHeader(buf: Uint8Array, file: string): NpyHeader {
  const where = `file=${file}`;
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (buf.length < 10 || magic.some((b, i) => buf[i] !== b)) throw new DataError(`${where}: not a .npy file (bad magic); save it with numpy.save, or give raw little-endian f32 rows with another extension and set dim=`);
  const major = buf[6]!;
  if (major < 1 || major > 3) throw new DataError(`${where}: .npy format version ${major}.${buf[7]} is not supported (1.0–3.0 are)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (buf.length < start + hlen) throw new DataError(`${where}: the .npy header is truncated (needs ${start + hlen} bytes)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + hlen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) throw new DataError(`${where}: bad .npy header (needs descr, fortran_order and shape): ${header.trim()}`);
  if (descr !== '<f4' && descr !== '<f8') throw new DataError(`${where}: dtype '${descr}' is not supported; save the array as float32 or float64 little-endian (arr.astype('<f4'))`);
  if (fortran === 'True') throw new DataError(`${where}: the array is in Fortran order; save it in C order (numpy.ascontiguousarray(arr))`);
  const dims = shape.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  if (dims.length !== 2 || dims.some((d) => !Number.isInteger(d) || d < 0)) throw new DataError(`${where}: the array has shape (${shape}); it must be 2-D (points × dim)`);
  if (dims[0] === 0 || dims[1] === 0) throw new DataError(`${where}: the array is empty (shape (${shape}))`);
  return { dtype: descr === '<f4' ? 'f4' : 'f8', rows: dims[0]!, cols: dims[1]!, dataOffset: start + hlen };
}

/** Rows of an embeddings file (from the .npy header, or the size of a raw f32 file and `dim`), checked as {@link loadPoints} does. */
export function countRows(file: string, dim: number): number {
  return fileLayout(file, dim).rows;
}

interface FileLayout {
  rows: number;
  cols: number;
  dtype: 'f4' | 'f8';
  offset: number;
}

function fileLayout(file: string, dim: number | undefined, fdIn?: number): FileLayout {
  let fd: number;
  if (fdIn !== undefined) fd = fdIn;
  else {
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      throw new DataError(`file=${file}: cannot open it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  try {
    const size = fstatSync(fd).size;
    if (file.toLowerCase().endsWith('.npy')) {
      const head = new Uint8Array(Math.min(size, 65536 + 12));
      readSync(fd, head, 0, head.length, 0);
      const h = parseNpyHeader(head, file);
      const need = h.dataOffset + h.rows * h.cols * (h.dtype === 'f4' ? 4 : 8);
      if (size !== need) throw new DataError(`file=${file}: ${size} bytes, but the header's shape (${h.rows}, ${h.cols}) of ${h.dtype === 'f4' ? 'float32' : 'float64'} needs ${need}; the file is truncated or padded`);
      return { rows: h.rows, cols: h.cols, dtype: h.dtype, offset: h.dataOffset };
    }
    if (dim === undefined || !Number.isInteger(dim) || dim < 1) throw new DataError(`file=${file}: a raw f32 file needs dim= (values per row)`);
    if (size === 0) throw new DataError(`file=${file}: the file is empty`);
    if (size % (4 * dim) !== 0) {
      const hint = size % 4 === 0 ? `it holds ${size / 4} f32 values, which is not a multiple of dim=${dim}; set dim= to the embedding dimension` : 'its size is not a multiple of 4 bytes, so it is not raw f32';
      throw new DataError(`file=${file}: ${size} bytes is not a whole number of rows of ${dim} little-endian f32 values (${4 * dim} bytes each): ${hint}`);
    }
    return { rows: size / (4 * dim), cols: dim, dtype: 'f4', offset: 0 };
  } finally {
    if (fdIn === undefined) closeSync(fd);
  }
}

export interface LoadOptions {
  /** Values per row of a raw f32 file (ignored for .npy, whose header gives it). */
  readonly dim?: number;
  /** Use at most this many rows (default: all). */
  readonly maxRows?: number;
  /** Seed of the projection to directions. */
  readonly seed: number;
}

/** Rows read per chunk: the file is streamed, never held whole. */
const CHUNK_BYTES = 1 << 22;

/**
 * Loads embeddings from a raw little-endian f32 file (`dim` values per row) or a `.npy` file and
 * reduces them row by row. Throws {@link DataError} for a missing file, a size that is not a whole
 * number of rows, a bad header, or a NaN/Infinity (naming the row and column).
 */
export function loadPoints(file: string, o: LoadOptions): PointData {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new DataError(`file=${file}: cannot open it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const { rows, cols, dtype, offset } = fileLayout(file, o.dim, fd);
    const use = o.maxRows !== undefined ? Math.min(o.maxRows, rows) : rows;
    const width = dtype === 'f4' ? 4 : 8;
    const rowBytes = cols * width;
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
    const raw = new Uint8Array(perChunk * rowBytes);
    const red = new Reducer(use, cols, o.seed);
    for (let r0 = 0; r0 < use; r0 += perChunk) {
      const nr = Math.min(perChunk, use - r0);
      const bytes = nr * rowBytes;
      let got = 0;
      while (got < bytes) {
        const k = readSync(fd, raw, got, bytes - got, offset + r0 * rowBytes + got);
        if (k === 0) throw new DataError(`file=${file}: ended early at byte ${offset + r0 * rowBytes + got}`);
        got += k;
      }
      const view = dtype === 'f4' ? new Float32Array(raw.buffer, 0, nr * cols) : new Float64Array(raw.buffer, 0, nr * cols);
      for (let q = 0; q < nr; q++) {
        const base = q * cols;
        for (let j = 0; j < cols; j++) {
          if (!Number.isFinite(view[base + j]!)) throw new DataError(`file=${file}: row ${r0 + q}, column ${j} is ${view[base + j]}; embeddings must be finite`);
        }
        red.add(r0 + q, view, base, 1);
      }
    }
    return red.done(file);
  } finally {
    closeSync(fd);
  }
}
