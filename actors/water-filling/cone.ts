/**
 * Cone retrieval over the shells (MODELS.md §2): the points whose direction lies within an aperture
 *
 *   α_k = (π/4)·sqrt(r_k/r_max)·e^(−5·ρ_k)·(1 − q)
 *
 * of a unit query direction, where r_k is the radius of the point's shell, ρ_k that shell's local
 * density and q the query's confidence in [0, 1]. The cone widens outward and narrows in crowded
 * shells and for confident queries. ρ_k is the fraction of all points in shell k: the original's
 * kernel density estimate (a Gaussian of bandwidth 0.1 in r) reduces to it when, as after
 * water-filling, every point sits on its shell's radius. Query directions must be unit vectors (the
 * original fed non-unit embeddings to arccos of a clipped dot product and got a half-space).
 *
 * As actors (model {@link coneQueryModel}): `Shell` publishes its aperture factor
 * (π/4)·sqrt(r_k/r_max)·e^(−5ρ_k) (array message `Shell.cone`), `Query` publishes its direction and
 * confidence (`Query.query`), and each `Point` tests every query and sends a `Point.hit` bucket record
 * to each query whose cone holds it; the query's records, sorted by sender, are its answer.
 *
 * @example
 * ```ts
 * const a = coneAperture(512, 1024, 0.01, 0.5); // (π/4)·√0.5·e^(−0.05)·0.5 ≈ 0.264 rad
 * ```
 */
import type { ModelDecl } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

export const CONE_ALPHA0 = Math.PI / 4;
export const CONE_BETA = 5;
/** |‖q‖ − 1| above this is not a unit vector. */
export const UNIT_TOLERANCE = 1e-6;

/** α = (π/4)·sqrt(r/r_max)·e^(−5ρ)·(1 − q). */
export function coneAperture(r: number, rMax: number, density: number, confidence: number): number {
  return CONE_ALPHA0 * Math.sqrt(r / rMax) * Math.exp(-CONE_BETA * density) * (1 - confidence);
}

/** Checks a query direction; throws a RangeError saying how to fix it. */
export function checkUnit(q: readonly number[], where: string): void {
  if (q.length !== 3 || !q.every((x) => Number.isFinite(x))) throw new RangeError(`${where} must be three finite numbers x,y,z, got ${q.join(',')}`);
  const len = Math.hypot(q[0]!, q[1]!, q[2]!);
  if (Math.abs(len - 1) > UNIT_TOLERANCE) throw new RangeError(`${where} must be a unit vector, but ‖q‖ = ${len}; divide it by its norm (cone queries with non-unit vectors give half-spaces, not cones)`);
}

/** Unit vector of (θ, φ). */
export function direction(theta: number, phi: number): [number, number, number] {
  const s = Math.sin(theta);
  return [s * Math.cos(phi), s * Math.sin(phi), Math.cos(theta)];
}

/**
 * The brute-force answer (the tests' oracle and the scenario's self-check): ids of the points whose
 * angle to q is at most the aperture of their shell, ascending.
 */
export function bruteForceCone(
  theta: ArrayLike<number>,
  phi: ArrayLike<number>,
  shell: ArrayLike<number>,
  n: number,
  q: readonly [number, number, number],
  apertureOfShell: ArrayLike<number>,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x, y, z] = direction(theta[i]!, phi[i]!);
    const c = Math.min(1, Math.max(-1, x * q[0] + y * q[1] + z * q[2]));
    if (Math.acos(c) <= apertureOfShell[shell[i]!]!) out.push(i);
  }
  return out;
}

const KERNELS = moduleUrl(import.meta.url, '../../kernels/water-filling/cone');

/** The cone-query model: `points` placed points, `shells` shells, `queries` queries per step. */
export function coneQueryModel(o: { points: number; shells: number; queries: number; rMax: number }): ModelDecl {
  return {
    name: 'cone_query',
    actors: [
      {
        name: 'Point',
        description: 'a placed point: its direction and shell',
        kernels: KERNELS,
        state: { theta: { type: 'f32', unit: 'rad' }, phi: { type: 'f32', unit: 'rad' }, shell: { type: 'u32' }, hits: { type: 'u32', description: 'queries that retrieved the point this step' } },
        params: { queries: { default: o.queries, min: 1, integer: true, description: 'queries tested per step' } },
        messages: { hit: { description: 'the point lies in the query’s cone (key: query)', fields: {}, delivery: { type: 'bucket', to: 'Query', maxPerActor: o.queries } } },
        functions: { test: { kernel: 'cone.point.test', reads: ['theta', 'phi', 'shell'], writes: ['hits'], inputs: ['Shell.cone', 'Query.query'], outputs: ['Point.hit'] } },
      },
      {
        name: 'Shell',
        description: 'a shell: publishes its aperture factor',
        kernels: KERNELS,
        state: { radius: { type: 'f32', unit: 'length' }, density: { type: 'f32', description: 'ρ_k: fraction of the points in the shell' } },
        params: { rMax: { default: o.rMax, min: 0, description: 'radius of the outermost shell' } },
        messages: { cone: { fields: { factor: 'f32' }, delivery: { type: 'array' } } },
        functions: { publish: { kernel: 'cone.shell.publish', reads: ['radius', 'density'], outputs: ['Shell.cone'] } },
      },
      {
        name: 'Query',
        description: 'a cone query: unit direction and confidence',
        kernels: KERNELS,
        state: { x: { type: 'f32' }, y: { type: 'f32' }, z: { type: 'f32' }, confidence: { type: 'f32' }, found: { type: 'u32', description: 'points retrieved' } },
        messages: { query: { fields: { x: 'f32', y: 'f32', z: 'f32', confidence: 'f32' }, delivery: { type: 'array' } } },
        functions: {
          publish: { kernel: 'cone.query.publish', reads: ['x', 'y', 'z', 'confidence'], outputs: ['Query.query'] },
          collect: { kernel: 'cone.query.collect', writes: ['found'], inputs: ['Point.hit'] },
        },
      },
    ],
    population: { Point: { capacity: o.points }, Shell: { capacity: o.shells }, Query: { capacity: o.queries } },
  };
}
