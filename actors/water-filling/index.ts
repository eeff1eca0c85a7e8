/**
 * The water-filling model (MODELS.md §2, seed 002 "TheSphere") as actors: kinds `Point`, `Shell` and
 * `ShellCell`. One engine step is one pass of the optimizer:
 *
 *   phase 0  Point.report    each point sends its ‖e‖ to its shell (bucket message `Point.sample`,
 *                            reduced per shell into count, mean and population std), and in balanced
 *                            mode a record to its (shell, angular cell) (bucket `Point.cellSample`)
 *   phase 1  Shell.publish   each shell turns its reductions into its statistics and decisions and
 *                            publishes them as the array message `Shell.stats` (one record per shell);
 *            ShellCell.publish  balanced: each (shell, cell) publishes its occupancy (`ShellCell.occupancy`)
 *   phase 2  Point.move      each point reads its shell's record (and the occupancies), decides to
 *                            promote, move laterally, move inward or stay, and writes its new r, θ, φ
 *                            and shell
 *   phase 3  Point.tally     block sums of what the pass did (`Point.tally`, see TALLY_BLOCK): the
 *                            CPU run's per-pass figures (a GPU run reduces the columns on the device)
 *
 * Point state: r, θ, φ, shell, ‖e‖ (`norm`), the original's per-point lateral direction (`hashDir`),
 * compat's lateral-subset flag (`subset`), and what the last pass did (`promoted`, `lateralMoved`,
 * `inward`, `delta` = |Δr| + |Δθ| + |Δφ|) for the per-pass figures. Shell state: its radius and
 * capacity, its integer target T_k (balanced), and the pre-move `count`, `absOverload` = |count − cap|
 * and `outside` (1 when outside the tolerance). The scalar reference of a pass is ./reference.ts.
 *
 * @example
 * ```ts
 * const spec = compileModel(waterFillingModel({ mode: 'compat', points: 100_000, geometry: shellGeometry(SHELL_DEFAULTS, 100_000) }));
 * ```
 */
import type { ActorDecl, ModelDecl } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';
import type { ShellGeometry } from './geometry.js';
import { type Mode, PASS_DEFAULTS, type PassOptions } from './reference.js';

export const POINT_KIND = 'Point';
/**
 * Points per tally block: `Point.tally` record b (b a multiple of this) holds the sums of `promoted`,
 * `lateralMoved`, `inward` and `delta` over points [b, b + TALLY_BLOCK), so the host adds ⌈N/4096⌉
 * records per pass instead of looping over N points (the blocks do not depend on the partitioning).
 */
export const TALLY_BLOCK = 4096;
export const SHELL_KIND = 'Shell';
export const CELL_KIND = 'ShellCell';

const KERNELS = moduleUrl(import.meta.url, '../../kernels/water-filling/cpu');

export interface WaterFillingModelOptions {
  readonly mode: Mode;
  readonly points: number;
  readonly geometry: ShellGeometry;
  /** Pass options (defaults: PASS_DEFAULTS). */
  readonly pass?: Partial<Omit<PassOptions, 'mode' | 'seed'>>;
  readonly name?: string;
  /**
   * Compat only: deliver `Point.sample` through the sorted bucket index (readRecords: true) although
   * its shells read only the reductions, the path before the reductions-only fast path: for measuring
   * the two side by side and testing that they agree. Default false.
   */
  readonly sortedSample?: boolean;
}

/** The fields of `Shell.stats` per mode (one record per shell, f32/u32 so that the GPU holds them). */
const STATS_FIELDS = {
  compat: { mean: 'f32', spread: 'f32', rStay: 'f32', rUp: 'f32', kStay: 'u32', kUp: 'u32' },
  balanced: {
    mean: 'f32',
    std: 'f32',
    count: 'u32',
    below: 'u32',
    up: 'u32',
    down: 'u32',
    upNorm: 'f32',
    upTie: 'u32',
    downNorm: 'f32',
    downTie: 'u32',
    target: 'u32',
    radius: 'f32',
  },
} as const;

/** The model of one water-filling run: kinds, messages and functions for the chosen mode. */
export function waterFillingModel(o: WaterFillingModelOptions): ModelDecl {
  const p = { ...PASS_DEFAULTS, ...o.pass };
  const balanced = o.mode === 'balanced';
  const cells = p.cells.bands * p.cells.sectors;
  const S = o.geometry.shells;
  const point: ActorDecl = {
    name: POINT_KIND,
    description: 'an embedding placed on the sphere: radius, direction and its shell',
    kernels: KERNELS,
    state: {
      r: { type: 'f32', unit: 'length' },
      theta: { type: 'f32', unit: 'rad' },
      phi: { type: 'f32', unit: 'rad' },
      shell: { type: 'u32' },
      norm: { type: 'f32', description: '‖e‖' },
      hashDir: { type: 'u8', description: 'compat: the original lateral direction floor(|Σe|·16) mod 16' },
      subset: { type: 'u8', description: 'compat: 1 for the fixed lateral subset' },
      promoted: { type: 'u8', description: 'the last pass moved the point outward' },
      lateralMoved: { type: 'u8', description: 'the last pass moved the point within its shell' },
      inward: { type: 'u8', description: 'the last pass moved the point inward (balanced)' },
      delta: { type: 'f32', description: '|Δr| + |Δθ| + |Δφ| of the last pass' },
    },
    params: {
      tau: { default: p.tau, min: 0, description: 'prominence threshold τ' },
      lateralThreshold: { default: p.lateralThreshold, min: 0, description: 'balanced: relative occupancy gain a lateral move needs' },
      candidates: { default: p.candidates, min: 1, max: 64, integer: true, description: 'balanced: candidate directions per lateral search (K)' },
      lateralRadius: { default: p.lateralRadius, min: 0, max: Math.PI, unit: 'rad', description: 'balanced: cap radius of the candidates' },
      bands: { default: p.cells.bands, min: 1, integer: true, description: 'angular cells: bands equal in cos θ' },
      sectors: { default: p.cells.sectors, min: 1, integer: true, description: 'angular cells: sectors equal in φ' },
      shells: { default: S, min: 2, integer: true, description: 'number of shells S' },
    },
    messages: {
      sample: {
        description: '‖e‖ of a point, keyed by its shell',
        fields: { norm: 'f32' },
        // Compat's shells read only the reductions: no sort of the N records (readRecords: false);
        // balanced's select over their own records.
        delivery: { type: 'bucket', to: SHELL_KIND, maxPerActor: 1, reduce: { norm: ['count', 'mean', 'std'] }, readRecords: balanced || o.sortedSample === true },
      },
      tally: { description: 'per-pass sums over a block of TALLY_BLOCK points (record b = block start)', fields: { promoted: 'f32', lateral: 'f32', inward: 'f32', delta: 'f32' }, delivery: { type: 'array' } },
      ...(balanced ? { cellSample: { description: 'one record per point, keyed by (shell, angular cell)', fields: {}, delivery: { type: 'bucket', to: CELL_KIND, maxPerActor: 1 } } } : {}),
    },
    functions: {
      report: {
        kernel: balanced ? 'waterFilling.point.reportCells' : 'waterFilling.point.report',
        reads: ['shell', 'norm', 'theta', 'phi'],
        outputs: balanced ? ['Point.sample', 'Point.cellSample'] : ['Point.sample'],
      },
      move: {
        kernel: balanced ? 'waterFilling.point.balanced' : 'waterFilling.point.compat',
        reads: ['r', 'theta', 'phi', 'shell', 'norm', 'hashDir', 'subset'],
        // compat never moves a point inward: `inward` keeps its initial 0 without a store per pass.
        writes: balanced ? ['r', 'theta', 'phi', 'shell', 'promoted', 'lateralMoved', 'inward', 'delta'] : ['r', 'theta', 'phi', 'shell', 'promoted', 'lateralMoved', 'delta'],
        inputs: balanced ? ['Shell.stats', 'ShellCell.occupancy'] : ['Shell.stats'],
      },
      tally: { kernel: 'waterFilling.point.tally', reads: ['promoted', 'lateralMoved', 'inward', 'delta'], outputs: ['Point.tally'] },
    },
  };
  const shell: ActorDecl = {
    name: SHELL_KIND,
    description: 'a radial shell: reduces its points and publishes statistics and decisions',
    kernels: KERNELS,
    state: {
      radius: { type: 'f32', unit: 'length' },
      capacity: { type: 'f32', description: 'cap_k = N·r_k^1.5/Σ r^1.5' },
      target: { type: 'u32', description: 'balanced: T_k = round(Σ_{j<k} cap_j)' },
      count: { type: 'u32', description: 'points in the shell at the start of the pass' },
      absOverload: { type: 'f32', description: '|count − cap| at the start of the pass' },
      outside: { type: 'u8', description: '1 when |count − cap| > max(1, tolerance·cap)' },
    },
    params: {
      tau: { default: p.tau, min: 0, description: 'prominence threshold τ' },
      tolerance: { default: p.tolerance, min: 0, description: 'balanced: relative tolerance of a shell’s count' },
      points: { default: o.points, min: 1, integer: true, description: 'N, the number of points' },
    },
    messages: {
      stats: { description: 'the shell statistics and decisions of this pass', fields: STATS_FIELDS[o.mode], delivery: { type: 'array' } },
    },
    functions: {
      publish: {
        kernel: balanced ? 'waterFilling.shell.balanced' : 'waterFilling.shell.compat',
        reads: ['radius', 'capacity', 'target'],
        writes: ['count', 'absOverload', 'outside'],
        inputs: ['Point.sample'],
        outputs: ['Shell.stats'],
      },
    },
  };
  const cell: ActorDecl = {
    name: CELL_KIND,
    description: 'one angular cell of one shell: publishes its occupancy',
    kernels: KERNELS,
    state: { occupancy: { type: 'u32' } },
    messages: { occupancy: { fields: { count: 'u32' }, delivery: { type: 'array' } } },
    functions: {
      publish: { kernel: 'waterFilling.cell.publish', writes: ['occupancy'], inputs: ['Point.cellSample'], outputs: ['ShellCell.occupancy'] },
    },
  };
  return {
    name: o.name ?? `water_filling_${o.mode}`,
    actors: balanced ? [point, shell, cell] : [point, shell],
    population: {
      [POINT_KIND]: { capacity: o.points },
      [SHELL_KIND]: { capacity: S },
      ...(balanced ? { [CELL_KIND]: { capacity: S * cells } } : {}),
    },
    params: {
      [POINT_KIND]: { tau: p.tau, lateralThreshold: p.lateralThreshold, candidates: p.candidates, lateralRadius: p.lateralRadius, bands: p.cells.bands, sectors: p.cells.sectors, shells: S },
      [SHELL_KIND]: { tau: p.tau, tolerance: p.tolerance, points: o.points },
    },
  };
}
