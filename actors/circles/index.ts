/**
 * Kind `CirclesAgent`: the "Circles" benchmark of FLAME GPU 2 (examples/circles_spatial3D).
 * Agents in a cube of side W = floor(cbrt(n)) (density ≈ 1 agent per unit³, so the work per agent
 * stays constant as n grows) publish their position as a spatial message; each agent then sums a
 * force from every other agent within `radius`:
 *
 *   k_ij = sin(−2π' · d_ij / radius) · repulse,   F_i = (Σ_j k_ij · (x_j − x_i) / d_ij) / max(1, count_i)
 *
 * with π' = 3.141 as in the original, and moves by F_i; `drift` = |F_i|. Agents at the same point
 * (d = 0) exert no force on each other.
 */
import { defineActor } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

/** Parameters of the circles model. */
export const CIRCLES_DEFAULTS = { radius: 2, repulse: 0.05 } as const;

/**
 * The kind for a cube of side `width`. Spatial cells have side `cellSize`: by default radius/4 in x
 * and the radius in y and z. The CPU move kernel (kernels/circles/cpu.ts) visits the rows of cells
 * in y and z that the agent's sphere reaches and, in each row, the x-cells its chord spans, so thin
 * x-cells cut the candidate records per agent without adding rows: ≈ 165 with cubes of side radius,
 * ≈ 116 with x-cells of radius/4 (at density 1; ≈ 85 with cubes of radius/2, but 25 rows instead of
 * 9). Measured at 1M agents on 2 workers (scratch A/B, same minutes, same checksum): 0.95–1.01 s per
 * step against 1.09–1.21 s with cubes of side radius (FLAME GPU 2's choice).
 */
export function circlesActor(width: number, radius: number = CIRCLES_DEFAULTS.radius, cellSize: number | readonly [number, number, number] = [radius / 4, radius, radius]) {
  return defineActor({
    name: 'CirclesAgent',
    description: 'a point that repels neighbours within radius (FLAME GPU 2 circles_spatial3D)',
    kernels: moduleUrl(import.meta.url, '../../kernels/circles/cpu'),
    state: {
      x: { type: 'f32', unit: 'length' },
      y: { type: 'f32', unit: 'length' },
      z: { type: 'f32', unit: 'length' },
      drift: { type: 'f32', unit: 'length/step', description: 'distance moved in the last step' },
    },
    params: {
      repulse: { default: CIRCLES_DEFAULTS.repulse, description: 'force scale', min: 0 },
    },
    messages: {
      location: {
        description: 'the agent position',
        fields: { x: 'f32', y: 'f32', z: 'f32' },
        delivery: { type: 'spatial', radius, cellSize, min: [0, 0, 0], max: [width, width, width] },
      },
    },
    functions: {
      output: { kernel: 'circles.output', reads: ['x', 'y', 'z'], outputs: ['CirclesAgent.location'] },
      move: {
        kernel: 'circles.move',
        reads: ['x', 'y', 'z'],
        writes: ['x', 'y', 'z', 'drift'],
        inputs: ['CirclesAgent.location'],
      },
    },
  });
}

/** The scalar reference step for one agent, written for readability (used by tests as an oracle). */
export function circlesReferenceForce(
  i: number,
  pos: { x: ArrayLike<number>; y: ArrayLike<number>; z: ArrayLike<number> },
  n: number,
  radius: number,
  repulse: number,
): [number, number, number] {
  const x1 = pos.x[i]!;
  const y1 = pos.y[i]!;
  const z1 = pos.z[i]!;
  let fx = 0;
  let fy = 0;
  let fz = 0;
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (j === i) continue;
    const dx = pos.x[j]! - x1;
    const dy = pos.y[j]! - y1;
    const dz = pos.z[j]! - z1;
    const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
    if (d < radius && d > 0) {
      const k = Math.sin((d / radius) * 3.141 * -2) * repulse;
      fx += (k * dx) / d;
      fy += (k * dy) / d;
      fz += (k * dz) / d;
      count++;
    }
  }
  const c = count > 0 ? count : 1;
  return [fx / c, fy / c, fz / c];
}
