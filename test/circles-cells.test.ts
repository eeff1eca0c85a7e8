/**
 * The spatial delivery's `cellSize` option and the circles move kernel's row/strip pruning: for cells
 * of side radius, radius/2 and radius/3 (reach 1, 2 and 3 cells), one step moves every agent by the
 * brute-force reference force (actors/circles `circlesReferenceForce`, which tests every pair), and
 * agents outside the grid bounds (clamped into border cells) keep their neighbours.
 */
import { describe, expect, it } from 'vitest';
import { circlesActor, circlesReferenceForce } from '../actors/circles/index.js';
import { compileModel, defineModel } from '../src/model.js';
import { uniform } from '../src/rng.js';
import type { SimulationLike } from '../sim/backend.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { Simulation } from '../sim/simulation.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;

const RADIUS = 2;
const REPULSE = 0.05;

type CellSize = number | readonly [number, number, number];
const cases = (sizes: CellSize[]): { cellSize: CellSize }[] => sizes.map((cellSize) => ({ cellSize }));

async function oneStep(n: number, width: number, cellSize: CellSize, spread: number, backend: 'cpu' | 'webgpu' = 'cpu'): Promise<{ worst: number; moved: number }> {
  const spec = compileModel(
    defineModel({
      name: 'circles_cells',
      actors: [circlesActor(width, RADIUS, cellSize)],
      population: { CirclesAgent: { capacity: n } },
      params: { CirclesAgent: { repulse: REPULSE } },
    }),
  );
  const sim: SimulationLike =
    backend === 'cpu' ? await Simulation.create(spec, { workers: 2, seed: 5, inlineBelow: 0 }) : await GpuSimulation.create(spec, { seed: 5, probe: probe.ok ? probe : undefined });
  try {
    const s = sim.state('CirclesAgent');
    // `spread` > 1 puts some agents outside [0, width]³, in the clamped border cells.
    const lo = -(spread - 1) * width * 0.5;
    for (let i = 0; i < n; i++) {
      s.x![i] = lo + uniform(11, 0, i, 0, 0, 0) * width * spread;
      s.y![i] = lo + uniform(11, 0, i, 0, 0, 1) * width * spread;
      s.z![i] = lo + uniform(11, 0, i, 0, 0, 2) * width * spread;
    }
    sim.setCount('CirclesAgent', n);
    const pos = { x: Float32Array.from(s.x!.subarray(0, n)), y: Float32Array.from(s.y!.subarray(0, n)), z: Float32Array.from(s.z!.subarray(0, n)) };
    await sim.stepOnce();
    if (sim instanceof GpuSimulation) await sim.sync();
    const s1 = sim.state('CirclesAgent');
    let worst = 0;
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const [fx, fy, fz] = circlesReferenceForce(i, pos, n, RADIUS, REPULSE);
      const err = Math.max(Math.abs(s1.x![i]! - (pos.x[i]! + fx)), Math.abs(s1.y![i]! - (pos.y[i]! + fy)), Math.abs(s1.z![i]! - (pos.z[i]! + fz)));
      worst = Math.max(worst, err);
      if (fx !== 0 || fy !== 0 || fz !== 0) moved++;
    }
    return { worst, moved };
  } finally {
    await sim.close();
  }
}

describe('circles with spatial cells finer than the radius', () => {
  // Also cells of a different side per axis (finer in x, the axis of the cell strips; and in z).
  // (Objects, not bare arrays: it.each spreads an array into several arguments.)
  it.each(cases([RADIUS, RADIUS / 2, RADIUS / 3, [RADIUS / 2, RADIUS, RADIUS], [RADIUS / 4, RADIUS, RADIUS / 3]]))('cellSize $cellSize: one step equals the brute-force reference for every agent', async ({ cellSize }) => {
    const n = 2500;
    const { worst, moved } = await oneStep(n, 12, cellSize, 1);
    expect(worst, 'largest absolute error over all agents').toBeLessThan(1e-5);
    expect(moved).toBeGreaterThan(n / 2);
  });

  it.each(cases([RADIUS, RADIUS / 2, [RADIUS / 2, RADIUS, RADIUS]]))('cellSize $cellSize: agents outside the grid bounds still see every neighbour', async ({ cellSize }) => {
    const n = 2000;
    const { worst, moved } = await oneStep(n, 10, cellSize, 1.6);
    expect(worst).toBeLessThan(1e-5);
    expect(moved).toBeGreaterThan(n / 4);
  });

  it('rejects a cellSize that is not a positive number or three of them, naming the field', () => {
    for (const cs of [0, [1, 0, 1], [1, 1], [1, Number.NaN, 1]]) {
      const bad = () =>
        compileModel(
          defineModel({
            name: 'bad',
            actors: [circlesActor(10, RADIUS, cs as number)],
            population: { CirclesAgent: { capacity: 10 } },
          }),
        );
      expect(bad, JSON.stringify(cs)).toThrow(/delivery\.cellSize/);
    }
  });

  it('a cell side per axis gives per-axis grid dimensions', () => {
    const spec = compileModel(defineModel({ name: 'dims', actors: [circlesActor(10, RADIUS, [0.5, 2, 4])], population: { CirclesAgent: { capacity: 10 } } }));
    expect(spec.messages[0]!.grid).toEqual({ min: [0, 0, 0], cellSize: [0.5, 2, 4], dims: [20, 5, 3] });
  });
});

describe.skipIf(!probe.ok)(`circles with finer cells on webgpu${reason}`, () => {
  // The GPU sums forces in f32: one step differs from the f64 reference by under 1e-5 at width 12.
  it.each(cases([RADIUS, RADIUS / 2, RADIUS / 3, [RADIUS / 2, RADIUS, RADIUS], [RADIUS / 4, RADIUS, RADIUS / 3]]))('cellSize $cellSize: one step equals the brute-force reference within f32 tolerance', async ({ cellSize }) => {
    const n = 1500;
    const { worst, moved } = await oneStep(n, 11, cellSize, 1.3, 'webgpu');
    expect(worst).toBeLessThan(1e-5);
    expect(moved).toBeGreaterThan(n / 2);
  });
});
