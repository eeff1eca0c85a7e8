/**
 * The scalar reference of one water-filling pass, written for readability and checked by the tests
 * against MODELS.md §2; the engine's kernels (kernels/water-filling) must give the same results.
 *
 * A pass reads the state at its start (pre-move counts), then every point moves at once:
 *
 * compat (the shipped optimizer, step for step):
 *   shell k: count c_k, mean μ_k and population std σ_k of ‖e‖ over its points (self included),
 *            pressure p_k = (c_k − cap_k)/(cap_k + 1), factor f_k = 1 − 0.02·tanh(p_k)
 *   point:   prominent ⇔ ‖e‖ − μ_k > τ·(σ_k + 0.1)
 *            prominent and in the fixed lateral subset → θ, φ step along its fixed direction (no promotion)
 *            prominent otherwise → promoted to k' = min(k + 1, S − 1)
 *            r ← r_{k'}·f_k (k' = k unless promoted), the shell of the new r is the nearest one
 *
 * balanced (the default): see {@link balancedPass}.
 *
 * @example
 * ```ts
 * const g = shellGeometry(SHELL_DEFAULTS, pts.n);
 * const st = initialState(pts, g);
 * const o = { ...PASS_DEFAULTS, mode: 'compat', seed: 1 } as const;
 * const report = compatPass(st, pts, g, o, lateralSubset(pts.n, o.lateral, 1)); // mutates st
 * ```
 */
import { angularCell, type AngularCells, nearestShell, type ShellGeometry } from './geometry.js';
import { HASH_DIRECTIONS, type PointData } from './data.js';
import { hashPrefix, uniform, uniformFrom } from '../../src/rng.js';

export type Mode = 'compat' | 'balanced';
export const MODES: readonly Mode[] = ['compat', 'balanced'];

/** Options of a water-filling run (shell geometry aside). */
export interface PassOptions {
  readonly mode: Mode;
  /** Prominence threshold τ (compat: in units of σ + 0.1; balanced: a z-score). */
  readonly tau: number;
  /** compat: fraction of points in the fixed lateral subset (the original: 0.30). */
  readonly lateral: number;
  /** balanced: a lateral move needs (occupancy here − 1 − occupancy there)/mean occupancy above this. */
  readonly lateralThreshold: number;
  /** balanced: candidate directions scored per lateral search (K). */
  readonly candidates: number;
  /** balanced: angular radius (rad) of the cap around a point's direction where candidates lie. */
  readonly lateralRadius: number;
  /** balanced: converged when every shell has |count − cap| ≤ max(1, tolerance·cap). */
  readonly tolerance: number;
  readonly cells: AngularCells;
  readonly seed: number;
}

export const PASS_DEFAULTS: Omit<PassOptions, 'mode' | 'seed'> = {
  tau: 1.0,
  lateral: 0.3,
  lateralThreshold: 0.1,
  candidates: 8,
  lateralRadius: 0.6,
  tolerance: 0.05,
  cells: { bands: 4, sectors: 8 },
};

/** compat: the original's 16 lateral steps, Δθ = 0.015·sin(2.1·a_d), Δφ = 0.03·cos(3.7·a_d), a_d = 2πd/16 (f32). */
export const COMPAT_DTHETA = Float32Array.from({ length: HASH_DIRECTIONS }, (_, d) => 0.15 * Math.sin(((2 * Math.PI * d) / HASH_DIRECTIONS) * 2.1) * 0.1);
export const COMPAT_DPHI = Float32Array.from({ length: HASH_DIRECTIONS }, (_, d) => 0.3 * Math.cos(((2 * Math.PI * d) / HASH_DIRECTIONS) * 3.7) * 0.1);
/** compat: θ is clipped into [THETA_EPS, π − THETA_EPS] after a lateral step. */
export const THETA_EPS = 1e-6;
/** The osmotic factor's strength: r ← r·(1 − OSMOTIC·tanh(p)). */
export const OSMOTIC = 0.02;

/** RNG kind slot of the compat lateral subset (drawn once at initialisation). */
export const RNG_KIND = 0x57e;
/** Kind id of `Point` in the water-filling model (the first kind): balanced draws are keyed by it, as ctx.rng's. */
export const POINT_KIND_ID = 0;
/** RNG streams of the water-filling model. */
export const STREAM_SUBSET = 11;
export const STREAM_LEAVE = 12;
export const STREAM_CANDIDATE = 13;

const TWO_PI = 2 * Math.PI;
const F32_PI = Math.fround(Math.PI);
const F32_TWO_PI = Math.fround(TWO_PI);

/** compat initial radii: linear min–max map of ‖e‖ into [r_min, 0.8·r_max] (f32), as the original. */
export function initialRadii(norm: Float32Array, g: ShellGeometry): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < norm.length; i++) {
    const v = norm[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(norm.length);
  const top = 0.8 * g.rMax;
  for (let i = 0; i < norm.length; i++) out[i] = g.rMin + ((norm[i]! - lo) / (hi - lo + 1e-8)) * (top - g.rMin);
  return out;
}

/** compat: the fixed lateral subset, point i is in it when uniform(seed, i) < fraction. */
export function lateralSubset(n: number, fraction: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  // uniform(seed, RNG_KIND, i, 0, STREAM_SUBSET, 0), with the (seed, kind) words hashed once.
  const prefix = hashPrefix(seed, RNG_KIND);
  for (let i = 0; i < n; i++) out[i] = uniformFrom(prefix, i, 0, STREAM_SUBSET, 0) < fraction ? 1 : 0;
  return out;
}

/** Integer targets: T_k = round(Σ_{j<k} cap_j), T_S = N, so target counts T_{k+1} − T_k sum to N. */
export function targetBelow(g: ShellGeometry): Uint32Array {
  const s = g.shells;
  const t = new Uint32Array(s + 1);
  let acc = 0;
  for (let k = 0; k < s; k++) {
    t[k] = Math.round(acc);
    acc += g.capacity[k]!;
  }
  t[s] = g.points;
  return t;
}

/** Per-shell count, mean and population std of ‖e‖ (two-pass, f64): the host oracle of the reductions. */
export function shellStats(shell: ArrayLike<number>, norm: ArrayLike<number>, shells: number): { count: Float64Array; mean: Float64Array; std: Float64Array } {
  const count = new Float64Array(shells);
  const sum = new Float64Array(shells);
  for (let i = 0; i < shell.length; i++) {
    count[shell[i]!]!++;
    sum[shell[i]!]! += norm[i]!;
  }
  const mean = new Float64Array(shells);
  for (let k = 0; k < shells; k++) mean[k] = count[k]! > 0 ? sum[k]! / count[k]! : 0;
  const ss = new Float64Array(shells);
  for (let i = 0; i < shell.length; i++) {
    const d = norm[i]! - mean[shell[i]!]!;
    ss[shell[i]!]! += d * d;
  }
  const std = new Float64Array(shells);
  for (let k = 0; k < shells; k++) std[k] = count[k]! > 0 ? Math.sqrt(ss[k]! / count[k]!) : 0;
  return { count, mean, std };
}

/** The mutable state of the points. */
export interface PointState {
  readonly r: Float32Array;
  readonly theta: Float32Array;
  readonly phi: Float32Array;
  readonly shell: Uint32Array;
}

/** What a pass reports: pre-move shell figures and the moves it made. */
export interface PassReport {
  /** Mean over shells of |count − cap| before the move. */
  overload: number;
  /** Shells outside the tolerance before the move (balanced; 0 in compat). */
  outside: number;
  promotions: number;
  lateralMoves: number;
  /** balanced: points moved to an inner shell. */
  inward: number;
  /** Mean over the n×3 coordinates of |Δ(r, θ, φ)|. */
  meanDelta: number;
}

/** The initial state: compat radii from the norms, directions from the data, nearest shells. */
export function initialState(pts: PointData, g: ShellGeometry): PointState {
  const r = initialRadii(pts.norm, g);
  const shell = new Uint32Array(pts.n);
  for (let i = 0; i < pts.n; i++) shell[i] = nearestShell(g.radii, r[i]!);
  return { r, theta: pts.theta.slice(), phi: pts.phi.slice(), shell };
}

function overloadOf(count: Float64Array, g: ShellGeometry): number {
  let s = 0;
  for (let k = 0; k < g.shells; k++) s += Math.abs(count[k]! - g.capacity[k]!);
  return s / g.shells;
}

/** One compat pass (see the file comment); mutates `st`. */
export function compatPass(st: PointState, pts: PointData, g: ShellGeometry, o: PassOptions, subset: Uint8Array): PassReport {
  const S = g.shells;
  const { count, mean, std } = shellStats(st.shell, pts.norm, S);
  const factor = new Float64Array(S);
  for (let k = 0; k < S; k++) factor[k] = 1 - OSMOTIC * Math.tanh((count[k]! - g.capacity[k]!) / (g.capacity[k]! + 1));
  let promotions = 0;
  let lateralMoves = 0;
  let delta = 0;
  // The shells publish mean and threshold as f32 (the engine's array message holds them so).
  const mean32 = Float32Array.from(mean);
  const spread32 = Float32Array.from(std, (x) => o.tau * (x + 0.1));
  for (let i = 0; i < pts.n; i++) {
    const k = st.shell[i]!;
    const prominent = pts.norm[i]! - mean32[k]! > spread32[k]!;
    let k2 = k;
    const th = st.theta[i]!;
    const ph = st.phi[i]!;
    let th2 = th;
    let ph2 = ph;
    if (prominent && subset[i] === 1) {
      lateralMoves++;
      const d = pts.hashDir[i]!;
      th2 = Math.fround(th + COMPAT_DTHETA[d]!);
      th2 = th2 < THETA_EPS ? Math.fround(THETA_EPS) : th2 > F32_PI - THETA_EPS ? Math.fround(F32_PI - THETA_EPS) : th2;
      ph2 = Math.fround(ph + COMPAT_DPHI[d]!);
      ph2 = Math.fround(ph2 - F32_TWO_PI * Math.floor(ph2 / F32_TWO_PI));
    } else if (prominent) {
      promotions++;
      k2 = Math.min(k + 1, S - 1);
    }
    const r2 = Math.fround(g.radii[k2]! * Math.fround(factor[k]!));
    delta += Math.abs(r2 - st.r[i]!) + Math.abs(th2 - th) + Math.abs(ph2 - ph);
    st.r[i] = r2;
    st.theta[i] = th2;
    st.phi[i] = ph2;
    st.shell[i] = nearestShell(g.radii, r2);
  }
  return { overload: overloadOf(count, g), outside: 0, promotions, lateralMoves, inward: 0, meanDelta: delta / (3 * pts.n) };
}

/**
 * Standard normal CDF Φ(z) = ½(1 + erf(z/√2)) with erf from Abramowitz–Stegun 7.1.26
 * (|error| < 1.5e-7): only rank estimates use it.
 */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Per-shell quotas and selection thresholds of a balanced pass. */
export interface BalancedShell {
  count: number;
  mean: number;
  std: number;
  below: number;
  /** Points sent outward (U) and inward (D). */
  up: number;
  down: number;
  /** The U-th largest ‖e‖ and the last sender id taken among points equal to it. */
  upNorm: number;
  upTie: number;
  /** The D-th smallest ‖e‖ and the first sender id taken among points equal to it. */
  downNorm: number;
  downTie: number;
}

/**
 * Exact selection of the m-th largest (or smallest) value among `vals` with sender ids `ids`
 * (ids ascending), ranking by (value desc, id asc) for `largest`, (value asc, id desc) otherwise.
 * Returns the threshold value and the tie id: a point is selected iff value beyond the threshold,
 * or equal to it and id ≤ tie (largest) / id ≥ tie (smallest).
 */
export function selectThreshold(vals: Float32Array, ids: Uint32Array, m: number, largest: boolean): { value: number; tie: number } {
  const sorted = Float32Array.from(vals).sort();
  const c = sorted.length;
  const value = largest ? sorted[c - m]! : sorted[m - 1]!;
  let beyond = 0;
  for (let j = 0; j < c; j++) if (largest ? vals[j]! > value : vals[j]! < value) beyond++;
  let need = m - beyond;
  let tie = largest ? 0 : 0xffffffff;
  if (largest) {
    for (let j = 0; j < c && need > 0; j++) if (vals[j] === value) { tie = ids[j]!; need--; }
  } else {
    for (let j = c - 1; j >= 0 && need > 0; j--) if (vals[j] === value) { tie = ids[j]!; need--; }
  }
  return { value, tie };
}

/** The shell side of a balanced pass: counts, moments, cumulative flux and thresholds. */
export function balancedShells(st: PointState, pts: PointData, g: ShellGeometry, target: Uint32Array): BalancedShell[] {
  const S = g.shells;
  const { count, mean, std } = shellStats(st.shell, pts.norm, S);
  // Members of each shell in ascending id order.
  const offsets = new Uint32Array(S + 1);
  for (let i = 0; i < pts.n; i++) offsets[st.shell[i]! + 1]!++;
  for (let k = 0; k < S; k++) offsets[k + 1]! += offsets[k]!;
  const cursor = offsets.slice(0, S);
  const ids = new Uint32Array(pts.n);
  for (let i = 0; i < pts.n; i++) ids[cursor[st.shell[i]!]!++] = i;
  const out: BalancedShell[] = [];
  let below = 0;
  for (let k = 0; k < S; k++) {
    const c = count[k]!;
    const fluxOut = below + c - target[k + 1]!;
    const fluxIn = below - target[k]!;
    const up = Math.max(0, Math.min(fluxOut, c));
    const down = Math.max(0, Math.min(-fluxIn, c - up));
    const a = offsets[k]!;
    const b = offsets[k + 1]!;
    const mine = ids.subarray(a, b);
    const vals = Float32Array.from(mine, (i) => pts.norm[i]!);
    const u = up > 0 ? selectThreshold(vals, mine, up, true) : { value: 0, tie: 0 };
    const d = down > 0 ? selectThreshold(vals, mine, down, false) : { value: 0, tie: 0 };
    out.push({ count: c, mean: Math.fround(mean[k]!), std: Math.fround(std[k]!), below, up, down, upNorm: u.value, upTie: u.tie, downNorm: d.value, downTie: d.tie });
    below += c;
  }
  return out;
}

/** Largest j in [0, S) with target[j] ≤ g (binary search). */
export function shellOfRank(target: Uint32Array, shells: number, g: number): number {
  let lo = 0;
  let hi = shells - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (target[mid]! <= g) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The frame of a lateral search at (θ, φ), written into `out` (length ≥ 8): the unit vector p and
 * the tangent basis e_θ = t, e_φ = q, as [px, py, pz, tx, ty, tz, qx, qy]. A point's K candidates
 * share it ({@link candidateFromFrame}).
 */
export function lateralFrame(theta: number, phi: number, out: Float64Array): void {
  const st = Math.sin(theta);
  const ct = Math.cos(theta);
  const sp = Math.sin(phi);
  const cp = Math.cos(phi);
  out[0] = st * cp;
  out[1] = st * sp;
  out[2] = ct;
  out[3] = ct * cp;
  out[4] = ct * sp;
  out[5] = -st;
  out[6] = -sp;
  out[7] = cp;
}

/**
 * A candidate direction in the frame `f` of {@link lateralFrame}: at angle lateralRadius·√u from
 * p (uniform over the cap for small radii) towards azimuth 2πv. Writes (θ', φ') into `out`.
 */
export function candidateFromFrame(f: Float64Array, radius: number, u: number, v: number, out: Float64Array): void {
  const a = radius * Math.sqrt(u);
  const b = TWO_PI * v;
  const ca = Math.cos(a);
  const sa = Math.sin(a);
  const cb = Math.cos(b);
  const sb = Math.sin(b);
  const x = ca * f[0]! + sa * (cb * f[3]! + sb * f[6]!);
  const y = ca * f[1]! + sa * (cb * f[4]! + sb * f[7]!);
  let z = ca * f[2]! + sa * (cb * f[5]!);
  z = z > 1 ? 1 : z < -1 ? -1 : z;
  let ph = Math.atan2(y, x);
  if (ph < 0) ph += TWO_PI;
  out[0] = Math.acos(z);
  out[1] = ph;
}

const frame = new Float64Array(8);

/**
 * Candidate direction j of point i's lateral search: a direction at angle lateralRadius·√u from
 * (θ, φ) (uniform over the cap for small radii) towards azimuth 2πv, u and v from the RNG. Writes
 * (θ', φ') into `out` (no allocation per candidate). The same as {@link lateralFrame} then
 * {@link candidateFromFrame}, which the CPU kernel calls with one frame per point.
 */
export function candidateDirection(theta: number, phi: number, radius: number, u: number, v: number, out: Float64Array): void {
  lateralFrame(theta, phi, frame);
  candidateFromFrame(frame, radius, u, v, out);
}

/**
 * One balanced pass; mutates `st`. Per shell k (pre-move): count c_k, mean μ_k, std σ_k, the
 * points below it B_k, and the integer targets T (targetBelow). The flux across the boundary under
 * shell k is B_k − T_k: the osmotic pressure of everything inside it. Shell k sends
 * U_k = clamp(B_{k+1} − T_{k+1}, 0, c_k) points out (its U_k largest ‖e‖) and
 * D_k = clamp(T_k − B_k, 0, c_k − U_k) in (its D_k smallest): flow in both directions, each exact.
 *
 * A point with z = (‖e‖ − μ_k)/σ_k > τ (prominent relative to its own shell's spread) or chosen to
 * go out searches laterally first: when its angular cell holds occ₀ points, more than the shell's
 * mean m = c_k/C, it leaves with probability (occ₀ − m)/occ₀ and scores K candidate directions
 * around its own; it moves to the best (least occupied) if (occ₀ − 1 − occ_best)/m exceeds
 * lateralThreshold, and then stays in the shell this pass. Otherwise points chosen to go out
 * (in) jump to the shell where their estimated rank B_k + c_k·Φ(z) falls among the targets, at
 * least one shell out (in). Every point sits at its shell's radius.
 */
export function balancedPass(st: PointState, pts: PointData, g: ShellGeometry, o: PassOptions, target: Uint32Array, step: number, kindId = POINT_KIND_ID): PassReport {
  const S = g.shells;
  const C = o.cells.bands * o.cells.sectors;
  const sh = balancedShells(st, pts, g, target);
  const occ = new Uint32Array(S * C);
  for (let i = 0; i < pts.n; i++) occ[st.shell[i]! * C + angularCell(st.theta[i]!, st.phi[i]!, o.cells)]!++;
  let outside = 0;
  let overload = 0;
  for (let k = 0; k < S; k++) {
    const dev = Math.abs(sh[k]!.count - g.capacity[k]!);
    overload += dev;
    if (dev > Math.max(1, o.tolerance * g.capacity[k]!)) outside++;
  }
  let promotions = 0;
  let lateralMoves = 0;
  let inward = 0;
  let delta = 0;
  for (let i = 0; i < pts.n; i++) {
    const k = st.shell[i]!;
    const s = sh[k]!;
    const v = pts.norm[i]!;
    const z = s.std > 0 ? (v - s.mean) / s.std : 0;
    const up = s.up > 0 && (v > s.upNorm || (v === s.upNorm && i <= s.upTie));
    const down = s.down > 0 && (v < s.downNorm || (v === s.downNorm && i >= s.downTie));
    const th = st.theta[i]!;
    const ph = st.phi[i]!;
    let th2 = th;
    let ph2 = ph;
    let k2 = k;
    let moved = false;
    if ((z > o.tau || up) && !down) {
      const c0 = angularCell(th, ph, o.cells);
      const occ0 = occ[k * C + c0]!;
      const m = s.count / C;
      if (occ0 > m && uniform(o.seed, kindId, i, step, STREAM_LEAVE, 0) < (occ0 - m) / occ0) {
        let best = occ0;
        let bt = th;
        let bp = ph;
        const cand = new Float64Array(2);
        for (let j = 0; j < o.candidates; j++) {
          candidateDirection(th, ph, o.lateralRadius, uniform(o.seed, kindId, i, step, STREAM_CANDIDATE, 2 * j), uniform(o.seed, kindId, i, step, STREAM_CANDIDATE, 2 * j + 1), cand);
          const ct = cand[0]!;
          const cp = cand[1]!;
          const oc = occ[k * C + angularCell(ct, cp, o.cells)]!;
          if (oc < best) {
            best = oc;
            bt = ct;
            bp = cp;
          }
        }
        if ((occ0 - 1 - best) / m > o.lateralThreshold) {
          th2 = Math.fround(bt);
          ph2 = Math.fround(bp);
          moved = true;
          lateralMoves++;
        }
      }
    }
    if (!moved && (up || down)) {
      const q = normalCdf(z);
      let rank = s.below + q * s.count;
      if (up) {
        rank = Math.max(rank, s.below + s.count - s.up);
        k2 = Math.min(S - 1, Math.max(k + 1, shellOfRank(target, S, rank)));
        promotions++;
      } else {
        rank = Math.min(rank, s.below + s.down - 1);
        k2 = Math.max(0, Math.min(k - 1, shellOfRank(target, S, rank)));
        inward++;
      }
    }
    const r2 = g.radii[k2]!;
    delta += Math.abs(r2 - st.r[i]!) + Math.abs(th2 - th) + Math.abs(ph2 - ph);
    st.r[i] = r2;
    st.theta[i] = th2;
    st.phi[i] = ph2;
    st.shell[i] = k2;
  }
  return { overload: overload / S, outside, promotions, lateralMoves, inward, meanDelta: delta / (3 * pts.n) };
}

/** Angular occupancy dispersion: Σ_k Σ_c (n_kc − c_k/C)² / N (≈ 1 − 1/C for random directions, 0 when even). */
export function angularDispersion(st: PointState, g: ShellGeometry, cells: AngularCells): number {
  const C = cells.bands * cells.sectors;
  const occ = new Float64Array(g.shells * C);
  const count = new Float64Array(g.shells);
  const n = st.shell.length;
  for (let i = 0; i < n; i++) {
    occ[st.shell[i]! * C + angularCell(st.theta[i]!, st.phi[i]!, cells)]!++;
    count[st.shell[i]!]!++;
  }
  let s = 0;
  for (let k = 0; k < g.shells; k++) {
    const m = count[k]! / C;
    for (let c = 0; c < C; c++) s += (occ[k * C + c]! - m) ** 2;
  }
  return n > 0 ? s / n : 0;
}
