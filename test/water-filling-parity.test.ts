/**
 * Water-filling on cpu and webgpu (issue 5): a 10,000-point compat run, pass by pass. Shell counts
 * must be equal, or differ in at most 0.1% of the points where f32 rounding decides a threshold (the
 * GPU's f32 bucket mean/std and prominence subtraction, WGSL's tanh; see kernels/water-filling/webgpu.ts).
 * Skipped visibly without a WebGPU adapter; on CI it runs on the software adapter (lavapipe).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticPoints } from '../actors/water-filling/data.js';
import { shellGeometry } from '../actors/water-filling/geometry.js';
import { waterFillingModel } from '../actors/water-filling/index.js';
import { PASS_DEFAULTS } from '../actors/water-filling/reference.js';
import { runPasses, type WaterFillingConfig } from '../scenarios/water-filling.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { Simulation } from '../sim/simulation.js';
import { compileModel } from '../src/model.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;
const N = 10_000;
/** Points whose outcome may differ because f32 rounding decides a threshold: 0.1% of N. */
const SLACK = Math.ceil(0.001 * N);

describe.skipIf(!probe.ok)(`water-filling parity, cpu vs webgpu${reason}`, () => {
  afterAll(() => {
    if (probe.ok) probe.destroy();
  });
  const pts = syntheticPoints({ n: N, dim: 64, data: 'clustered', seed: 4 });

  it('compat, 25 passes: shell counts equal or within 0.1% of the points, the same figures per pass', async () => {
    const cfg: WaterFillingConfig = { mode: 'compat', passes: 25, geometry: { shells: 128, rMin: 128, rMax: 1024 }, pass: { ...PASS_DEFAULTS } };
    const spec = compileModel(waterFillingModel({ mode: 'compat', points: N, geometry: shellGeometry(cfg.geometry, N), pass: cfg.pass }));
    const cpu = await Simulation.create(spec, { workers: 1, seed: 1 });
    const gpu = await GpuSimulation.create(spec, { seed: 1, probe: probe.ok ? probe : undefined! });
    try {
      const a = await runPasses(cpu, pts, cfg, 1);
      const b = await runPasses(gpu, pts, cfg, 1);
      console.log(`compat parity: cpu ${a.promotions}/${a.lateralMoves}, gpu ${b.promotions}/${b.lateralMoves} (promotions/lateral), final overload ${a.finalOverload.toFixed(3)} vs ${b.finalOverload.toFixed(3)}`);
      expect(b.passes).toBe(a.passes);
      const cs = cpu.state('Point').shell!;
      const gs = gpu.readState('Point').shell!;
      const g = shellGeometry(cfg.geometry, N);
      const ca = new Int32Array(g.shells);
      const cb = new Int32Array(g.shells);
      let moved = 0;
      for (let i = 0; i < N; i++) {
        ca[cs[i]!]!++;
        cb[gs[i]!]!++;
        if (cs[i] !== gs[i]) moved++;
      }
      let diff = 0;
      for (let k = 0; k < g.shells; k++) diff += Math.abs(ca[k]! - cb[k]!);
      console.log(`compat parity: ${moved} points in another shell, Σ|Δcount| = ${diff}`);
      expect(diff / 2).toBeLessThanOrEqual(SLACK);
      expect(moved).toBeLessThanOrEqual(SLACK);
      for (let t = 0; t < a.passes; t++) {
        expect(Math.abs(a.promotionsPerPass[t]! - b.promotionsPerPass[t]!)).toBeLessThanOrEqual(SLACK);
        expect(Math.abs(a.lateralPerPass[t]! - b.lateralPerPass[t]!)).toBeLessThanOrEqual(SLACK);
        expect(Math.abs(a.overloadTrajectory[t]! - b.overloadTrajectory[t]!)).toBeLessThanOrEqual((2 * SLACK) / g.shells + 1e-3);
      }
    } finally {
      await cpu.close();
      await gpu.close();
    }
  }, 300_000);
});

describe.skipIf(!probe.ok)(`water-filling balanced parity, cpu vs webgpu${reason}`, () => {
  const pts = syntheticPoints({ n: N, dim: 64, data: 'clustered', seed: 4 });

  it('balanced: the first pass moves the same points (within 0.1%), and both converge to the capacities', async () => {
    const geometry = { shells: 128, rMin: 128, rMax: 1024 };
    const cfg: WaterFillingConfig = { mode: 'balanced', passes: 1, geometry, pass: { ...PASS_DEFAULTS } };
    const spec = compileModel(waterFillingModel({ mode: 'balanced', points: N, geometry: shellGeometry(geometry, N), pass: cfg.pass }));
    const device = await probeWebGpu();
    if (!device.ok) return;
    const cpu = await Simulation.create(spec, { workers: 1, seed: 1 });
    const gpu = await GpuSimulation.create(spec, { seed: 1, probe: device });
    try {
      const a1 = await runPasses(cpu, pts, cfg, 1);
      const b1 = await runPasses(gpu, pts, cfg, 1);
      const cs = cpu.state('Point').shell!;
      const gs = gpu.readState('Point').shell!;
      let other = 0;
      for (let i = 0; i < N; i++) if (cs[i] !== gs[i]) other++;
      console.log(`balanced parity, pass 1: cpu ${a1.promotions} out / ${a1.inwardMoves} in / ${a1.lateralMoves} lateral, gpu ${b1.promotions} / ${b1.inwardMoves} / ${b1.lateralMoves}; ${other} points in another shell`);
      expect(other).toBeLessThanOrEqual(SLACK);
      expect(Math.abs(a1.promotions - b1.promotions)).toBeLessThanOrEqual(SLACK);
      expect(Math.abs(a1.lateralMoves - b1.lateralMoves)).toBeLessThanOrEqual(SLACK);
      // Then both run to convergence from the start.
      const full = { ...cfg, passes: 200 };
      const a = await runPasses(cpu, pts, full, 1);
      const b = await runPasses(gpu, pts, full, 1);
      console.log(`balanced parity: cpu ${a.passes} passes → overload ${a.finalOverload.toFixed(3)}, gpu ${b.passes} passes → ${b.finalOverload.toFixed(3)}`);
      expect(a.converged && b.converged).toBe(true);
      expect(b.finalOverload).toBeLessThanOrEqual(0.05 * b.meanCapacity);
    } finally {
      await cpu.close();
      await gpu.close();
      device.destroy();
    }
  }, 300_000);
});
