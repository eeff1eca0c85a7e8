/**
 * Geometry of the water-filling sphere (MODELS.md §2): S radial shells with radii
 *
 *   r_k = r_min + (r_max − r_min)·sqrt(k/(S−1)),   k = 0 … S−1,
 *
 * capacities proportional to r^1.5 (cap_k = N·r_k^1.5 / Σ_j r_j^1.5), nearest-radius assignment with
 * ties to the lower index, and the angular cells of a shell used for its occupancy histogram.
 *
 * Radii are rounded to f32 (as the original's JAX arrays and the WGSL kernels hold them), so the CPU
 * and the GPU assign the same shell to the same f32 radius.
 *
 * @example
 * ```ts
 * const g = shellGeometry({ shells: 512, rMin: 128, rMax: 1024 }, 100_000);
 * nearestShell(g.radii, 130.5); // → 0
 * g.capacity[511];              // ≈ 345 points
 * ```
 */

export interface ShellOptions {
  /** Number of shells S (≥ 2). */
  readonly shells: number;
  /** Radius of the innermost shell. */
  readonly rMin: number;
  /** Radius of the outermost shell. */
  readonly rMax: number;
}

export const SHELL_DEFAULTS: ShellOptions = { shells: 512, rMin: 128, rMax: 1024 };

/** Exponent of the capacity law cap ∝ r^1.5. */
export const CAPACITY_EXPONENT = 1.5;

export interface ShellGeometry extends ShellOptions {
  /** r_k, rounded to f32. */
  readonly radii: Float32Array;
  /** cap_k = N·r_k^1.5 / Σ_j r_j^1.5 (f64; not integers). */
  readonly capacity: Float64Array;
  /** Points the capacities are scaled to. */
  readonly points: number;
}

/** Shell radii r_k = r_min + (r_max − r_min)·sqrt(k/(S−1)), as f32. */
export function shellRadii(o: ShellOptions): Float32Array {
  const s = o.shells;
  const out = new Float32Array(s);
  for (let k = 0; k < s; k++) out[k] = o.rMin + (o.rMax - o.rMin) * Math.sqrt(k / (s - 1));
  return out;
}

/** Capacities cap_k = n·r_k^1.5 / Σ_j r_j^1.5 over the given (f32) radii, in f64. */
export function shellCapacities(radii: ArrayLike<number>, n: number): Float64Array {
  const s = radii.length;
  const out = new Float64Array(s);
  let total = 0;
  for (let k = 0; k < s; k++) total += radii[k]! ** CAPACITY_EXPONENT;
  for (let k = 0; k < s; k++) out[k] = (n * radii[k]! ** CAPACITY_EXPONENT) / total;
  return out;
}

/** Radii and capacities for `n` points; checks the options and says which to fix. */
export function shellGeometry(o: ShellOptions, n: number): ShellGeometry {
  if (!Number.isInteger(o.shells) || o.shells < 2) throw new RangeError(`shells must be an integer ≥ 2, got ${o.shells}`);
  if (!(o.rMin > 0)) throw new RangeError(`rMin must be > 0, got ${o.rMin}`);
  if (!(o.rMax > o.rMin)) throw new RangeError(`rMax must exceed rMin (${o.rMin}), got ${o.rMax}`);
  const radii = shellRadii(o);
  return { ...o, radii, capacity: shellCapacities(radii, n), points: n };
}

/**
 * Index of the shell whose radius is nearest to r (ties to the lower index), for ascending radii.
 * A first guess from inverting the sqrt law is corrected by comparing neighbours, so the result is
 * the argmin of |radii[k] − r| whatever the rounding of the guess.
 */
export function nearestShell(radii: ArrayLike<number>, r: number): number {
  const s = radii.length;
  const r0 = radii[0]!;
  const span = radii[s - 1]! - r0;
  const u = (r - r0) / span;
  let k = u <= 0 ? 0 : u >= 1 ? s - 1 : Math.floor(u * u * (s - 1));
  // Walk to the last radius ≤ r (or 0).
  while (k + 1 < s && radii[k + 1]! <= r) k++;
  while (k > 0 && radii[k]! > r) k--;
  if (k + 1 < s) {
    const dLo = Math.abs(r - radii[k]!);
    const dHi = Math.abs(radii[k + 1]! - r);
    if (dHi < dLo) return k + 1;
  }
  return k;
}

/**
 * Angular cells of a shell: `bands` bands equal in cos θ times `sectors` sectors equal in φ, so all
 * cells have the same area (4π / (bands·sectors)) by Archimedes' hat-box theorem.
 */
export interface AngularCells {
  readonly bands: number;
  readonly sectors: number;
}

/** 4 bands × 8 sectors = 32 cells per shell (docs/water-filling.md says why). */
export const ANGULAR_DEFAULTS: AngularCells = { bands: 4, sectors: 8 };

const TWO_PI = 2 * Math.PI;

/** Cell index band·sectors + sector of the direction (θ, φ); θ ∈ [0, π], any φ. */
export function angularCell(theta: number, phi: number, cells: AngularCells): number {
  return angularCellOf(theta, phi, cells.bands, cells.sectors);
}

/** {@link angularCell} with the resolution as numbers (the kernels' form). */
export function angularCellOf(theta: number, phi: number, bands: number, sectors: number): number {
  let b = Math.floor((1 - Math.cos(theta)) * 0.5 * bands);
  b = b < 0 ? 0 : b >= bands ? bands - 1 : b;
  const p = phi - TWO_PI * Math.floor(phi / TWO_PI);
  let s = Math.floor((p / TWO_PI) * sectors);
  s = s < 0 ? 0 : s >= sectors ? sectors - 1 : s;
  return b * sectors + s;
}
