/**
 * `circles` on cpu and webgpu: positions, drift and the recorded metrics agree within the declared f32
 * tolerances below; the RNG stream that places the agents is the same on both; a webgpu run submits
 * once per step and copies back only the metrics, whatever the actor count.
 *
 * How the tolerances were chosen. Per step, an agent moves by F = mean over its neighbours of
 * sin(−2π'·d/r)·repulse·(x_j − x_i)/d. The CPU sums in f64 and rounds the new position to f32; the GPU
 * sums in f32 (with the same polynomial sin), so its F differs by about count · 2^-24 · repulse ≈ 1e-7
 * (30 neighbours, repulse 0.05): below one f32 unit in the last place (ulp) of a position in a box of
 * width 12 (ulp = 2^-20 ≈ 9.5e-7). Both round the new position to f32, so a step adds at most 1 ulp
 * of difference, and a difference already there feeds through F with |dF/dx| ≤ 2π'/r · repulse ≈ 0.16
 * (a contraction of it, not a growth). Over s steps, then, |Δposition| ≤ 2 · s · ulp(width): the
 * declared bound. Measured at n = 2000 after 5 steps: 9.5e-7 (one ulp) on every axis.
 * Drift = |F| ≤ repulse is not rounded against a large position: its difference is the f32 vs f64 sum,
 * declared 1e-6 (measured 1.3e-8). The recorded metrics are reductions: mean in f32 on the GPU, so
 * relative 1e-5 (REDUCE_TOLERANCE); max is exact of the (tolerant) drifts, so 1e-6 absolute.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import circles from '../scenarios/circles.js';
import { compileModel } from '../src/model.js';
import type { SimulationLike } from '../sim/backend.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { REDUCE_TOLERANCE } from '../sim/gpu/primitives.js';
import { runScenario } from '../sim/run.js';
import { Simulation } from '../sim/simulation.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;

const N = 2000;
const STEPS = 5;
const SEED = 1;
const WIDTH = Math.floor(Math.cbrt(N));
/** One f32 ulp of a position below WIDTH (a power of two at or above it). */
const ULP = 2 ** (Math.ceil(Math.log2(WIDTH)) - 24);
export const CIRCLES_TOLERANCE = {
  /** |Δx|, |Δy|, |Δz| after `steps` steps. */
  position: (steps: number): number => 2 * steps * ULP,
  drift: 1e-6,
  meanDriftRelative: REDUCE_TOLERANCE.relative,
  maxDrift: 1e-6,
} as const;

const params = { n: N, radius: 2, repulse: 0.05 };

async function initialised<S extends SimulationLike>(sim: S): Promise<S> {
  await circles.setup(params).init(sim);
  return sim;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, n: number): { d: number; at: number } {
  let d = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const x = Math.abs(a[i]! - b[i]!);
    if (!(x <= d)) {
      d = x;
      at = i;
    }
  }
  return { d, at };
}

describe.skipIf(!probe.ok)(`circles parity, cpu vs webgpu${reason}`, () => {
  const device = probe.ok ? probe : undefined;
  afterAll(() => {
    if (probe.ok) probe.destroy();
  });

  it(`places agents from the same RNG stream and moves them alike for ${STEPS} steps at n = ${N}`, async () => {
    const spec = compileModel(circles.setup(params).model);
    const cpu = await initialised(await Simulation.create(spec, { workers: 1, seed: SEED }));
    const gpu = await initialised(await GpuSimulation.create(spec, { seed: SEED, probe: device! }));
    try {
      // The initial state comes from the same counter-based RNG stream on the host: equal bit for bit.
      // (The GPU's own draws, rng_uniform_for etc., are compared in test/parity-messages.test.ts.)
      const a0 = cpu.state('CirclesAgent');
      const b0 = gpu.state('CirclesAgent');
      for (const f of ['x', 'y', 'z']) expect(maxDiff(a0[f]!, b0[f]!, N).d).toBe(0);
      const x0 = Float32Array.from(a0.x!);
      for (let s = 1; s <= STEPS; s++) {
        cpu.stepOnce();
        await gpu.stepOnce();
      }
      await gpu.sync();
      const a = cpu.state('CirclesAgent');
      const b = gpu.state('CirclesAgent');
      const report: string[] = [];
      for (const f of ['x', 'y', 'z']) {
        const { d, at } = maxDiff(a[f]!, b[f]!, N);
        report.push(`${f} ${d.toExponential(2)}`);
        expect(d, `${f}[${at}]: webgpu ${b[f]![at]} vs cpu ${a[f]![at]}`).toBeLessThanOrEqual(CIRCLES_TOLERANCE.position(STEPS));
      }
      const dd = maxDiff(a.drift!, b.drift!, N);
      report.push(`drift ${dd.d.toExponential(2)}`);
      expect(dd.d).toBeLessThanOrEqual(CIRCLES_TOLERANCE.drift);
      console.log(`circles n=${N}, ${STEPS} steps: max |webgpu − cpu|: ${report.join(', ')} (bound ${CIRCLES_TOLERANCE.position(STEPS).toExponential(2)} for positions)`);
      // Agents moved (so the comparison is not of two unchanged copies).
      expect(maxDiff(a.x!, x0, N).d).toBeGreaterThan(1e-3);
      let moved = 0;
      for (let i = 0; i < N; i++) if (a.drift![i]! > 0) moved++;
      expect(moved).toBeGreaterThan(N / 2);
    } finally {
      await cpu.close();
      await gpu.close();
    }
  });

  it('records the same metrics through runScenario; one submit per step; bytes per step independent of n', async () => {
    const cpu = await runScenario({ scenario: circles, steps: STEPS, set: { n: String(N) }, backend: 'cpu', workers: 1, recordEvery: 1 });
    const gpu = await runScenario({ scenario: circles, steps: STEPS, set: { n: String(N) }, backend: 'webgpu', recordEvery: 1 });
    expect(gpu.status).toBe('completed');
    expect(gpu.validation.ok).toBe(true);
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.adapter?.name).toBe(probe.ok ? probe.info.name : '');
    expect(gpu.workers).toBe(0);
    const c = cpu.metrics;
    const g = gpu.metrics;
    expect(Math.abs(g.meanDrift! - c.meanDrift!)).toBeLessThanOrEqual(CIRCLES_TOLERANCE.meanDriftRelative * c.meanDrift!);
    expect(Math.abs(g.maxDrift! - c.maxDrift!)).toBeLessThanOrEqual(CIRCLES_TOLERANCE.maxDrift);
    expect(gpu.gpu?.submitsPerStep).toBe(1);

    // 8× the agents: the state is 8× larger, the bytes per step are not.
    const big = await runScenario({ scenario: circles, steps: STEPS, set: { n: String(8 * N) }, backend: 'webgpu', recordEvery: 1 });
    expect(big.status).toBe('completed');
    const small = gpu.bytesPerStep!;
    const large = big.bytesPerStep!;
    console.log(`bytes per step at n=${N}: ${JSON.stringify(small)}; at n=${8 * N}: ${JSON.stringify(large)}; state per step would be ${16 * N} and ${16 * 8 * N}`);
    // Back: the fault block (32 B) and 12 B per reduction at every recorded step, nothing else.
    expect(small.fromDevice).toBe(32 + 12 * 2);
    expect(large.fromDevice).toBe(small.fromDevice);
    // Out: the functions' uniforms every step (constant), plus the primitives' parameters once on the
    // first step (their size grows with log n, by a few hundred bytes at most).
    expect(large.toDevice).toBeLessThan(small.toDevice + 1024 / STEPS);
    expect(small.toDevice).toBeLessThan(2048);
  });

  it('uploads nothing that grows with n in steady-state steps, and submits once per step', async () => {
    const perStep: { to: number; from: number; submits: number }[] = [];
    for (const n of [N, 8 * N]) {
      const spec = compileModel(circles.setup({ ...params, n }).model);
      const sim = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
      await circles.setup({ ...params, n }).init(sim);
      await sim.stepOnce(); // uploads the state and the primitives' parameters
      const t0 = sim.transfer;
      await sim.run(3);
      const t1 = sim.transfer;
      perStep.push({ to: (t1.toDevice - t0.toDevice) / 3, from: (t1.fromDevice - t0.fromDevice) / 3, submits: (t1.submits - t0.submits) / 3 });
      await sim.close();
    }
    expect(perStep[0]).toEqual(perStep[1]);
    expect(perStep[0]!.from).toBe(0);
    expect(perStep[0]!.submits).toBe(1);
  });
});

describe('backend choice without an adapter (Vulkan loader pointed at no driver)', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const run = (backend: string, out: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'sim/cli.ts'), 'run', 'circles', '--backend', backend, '--steps', '1', '--set', 'n=50', '--out', out, '--no-progress'], {
      cwd: root,
      env: { ...process.env, VK_ICD_FILENAMES: path.join(os.tmpdir(), 'simloom-no-such-icd.json') },
      encoding: 'utf8',
    });

  it('--backend webgpu exits 2 with one line that says how to install the driver, creating nothing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simloom-noadapter-'));
    try {
      const out = path.join(dir, 'run');
      const r = run('webgpu', out);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^simloom: --backend webgpu: no WebGPU adapter found; install the software Vulkan driver with `sudo bash scripts\/setup-webgpu\.sh`/m);
      // No JavaScript stack (Dawn itself logs the failed Vulkan calls, with C++ source lines).
      expect(r.stderr).not.toMatch(/^\s+at .*\.[cm]?[jt]s:\d+/m);
      expect(spawnSync('ls', [out]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--backend auto runs on the cpu and says why', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simloom-noadapter-'));
    try {
      const r = run('auto', path.join(dir, 'run'));
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/backend cpu — auto chose cpu: no WebGPU adapter found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
