/**
 * Backend parity of the message plumbing: the parity model (test/fixtures/parity) exercises every
 * delivery kind (direct, bucket with every segment reduction, array, spatial, graph forward and
 * backward), onMessage and every-k activation and the RNG through the webgpu backend, compared field by
 * field with the CPU runtime after every step. Values are exact in f32 by construction, so every field
 * must match bit for bit except those computed by a division, sqrt, log or cos, which match within
 * {@link REDUCE_TOLERANCE} (bucket mean/std) or {@link NORMAL_TOLERANCE} (the normal draw).
 *
 * Also: the kernel registry holds one implementation per (kernel, backend); a missing webgpu kernel
 * and an f64 column are refused with a BackendError before any device work; GPU faults come back
 * with the step at which they were raised. Without an adapter the GPU part is skipped visibly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BackendError, CapacityError, CheckError } from '../src/errors.js';
import { KernelRegistry, webgpuModuleUrl } from '../src/kernel.js';
import { compileModel, type ModelSpec } from '../src/model.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { REDUCE_TOLERANCE } from '../sim/gpu/primitives.js';
import { Simulation } from '../sim/simulation.js';
import type { SimulationLike } from '../sim/backend.js';
import { faultyModel, KERNELS, parityInit, parityModel } from './fixtures/parity/model.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;

/** |gpu − cpu| of the Box–Muller normal in f32 vs f64 (measured 8e-7 over 400 keys in webgpu-probe). */
const NORMAL_TOLERANCE = 4e-6;
const POINTS = 300;
const BOXES = 12;
const STEPS = 7;
const SEED = 7;

function init(sim: SimulationLike): void {
  const p = parityInit(POINTS, BOXES, SEED);
  const s = sim.state('P');
  s.x!.set(p.x);
  s.y!.set(p.y);
  s.z!.set(p.z);
  s.grp!.set(p.grp);
  s.val!.set(p.val);
  sim.setGraph('links', p.src, p.dst, { weight: p.weight });
}

/** Fields that must agree bit for bit, and those within a tolerance (absolute, given the |cpu| value). */
const EXACT: Record<string, readonly string[]> = {
  P: ['x', 'y', 'z', 'grp', 'val', 'r', 'acc', 'fsum', 'nb', 'nbacc', 'inflow', 'backflow', 'hubCnt', 'pings', 'ticks', 'mark'],
  B: ['cnt', 'wsum', 'wmin', 'wmax', 'ksum', 'kmin', 'racc'],
};
// |w| ≤ 50, so the reduction tolerance's scale (mean |x| of a segment) is at most 50.
const reduceTol = (cpu: number): number => REDUCE_TOLERANCE.relative * (Math.abs(cpu) + 50);
const CLOSE: Record<string, Record<string, (cpu: number) => number>> = {
  P: { rn: () => NORMAL_TOLERANCE, hubMean: reduceTol },
  B: { wmean: reduceTol, wstd: reduceTol },
};

describe('kernel registry: one implementation per (kernel, backend)', () => {
  it('holds a cpu and a webgpu kernel of one name, refuses a duplicate, names a missing one', () => {
    const reg = new KernelRegistry();
    reg.register({ kernel: 'k', backend: 'cpu', cpu() {} });
    reg.register({ kernel: 'k', backend: 'webgpu', wgsl: 'fn kernel_item(a: u32) {}' });
    expect(reg.get('k', 'webgpu').wgsl).toContain('kernel_item');
    expect(() => reg.register({ kernel: 'k', backend: 'webgpu', wgsl: '' })).toThrow(/kernel 'k' is registered twice for backend 'webgpu'/);
    expect(() => reg.get('other', 'webgpu')).toThrow(BackendError);
    expect(() => reg.get('other', 'webgpu')).toThrow(/no 'webgpu' implementation of kernel 'other'/);
  });

  it('finds the WebGPU twin module beside the CPU one', () => {
    expect(webgpuModuleUrl('file:///a/kernels/circles/cpu.ts')).toBe('file:///a/kernels/circles/webgpu.ts');
    expect(webgpuModuleUrl('file:///a/bench/kinds/relay.cpu.js')).toBe('file:///a/bench/kinds/relay.webgpu.js');
    expect(webgpuModuleUrl('file:///a/test/fixtures/messages.ts')).toBe('file:///a/test/fixtures/messages.webgpu.ts');
    expect(webgpuModuleUrl(KERNELS)).toMatch(/fixtures\/parity\/webgpu\.ts$/);
  });
});

describe('webgpu refusals (no device needed)', () => {
  it('refuses f64 columns with a BackendError naming the field and the precision option', async () => {
    // (deliveries used to be the example; it has no f64 column since it runs on webgpu too.)
    const spec: ModelSpec = compileModel({
      name: 'wide',
      actors: [{ name: 'A', kernels: new URL('./fixtures/faults.ts', import.meta.url).href, state: { v: { type: 'f32' }, total: { type: 'f64' } }, functions: { f: { kernel: 'fault.noop' } } }],
      population: { A: { capacity: 4 } },
    });
    const err = await GpuSimulation.create(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toMatch(/A\.total of model 'wide' is f64.*CPU-only.*--backend cpu.*precision option/);
  });

  it('refuses a kind without WebGPU kernels with a BackendError naming kernel and backend', async () => {
    const spec: ModelSpec = compileModel({
      name: 'nogpu',
      actors: [{ name: 'A', kernels: new URL('./fixtures/faults.ts', import.meta.url).href, state: { v: { type: 'f32' } }, functions: { f: { kernel: 'fault.noop' } } }],
      population: { A: { capacity: 4 } },
    });
    await expect(GpuSimulation.create(spec)).rejects.toThrow(/no 'webgpu' implementation of kernel 'fault\.noop'/);
  });
});

describe.skipIf(!probe.ok)(`parity: every delivery kind, cpu vs webgpu${reason}`, () => {
  const device = probe.ok ? probe : undefined;
  afterAll(() => {
    if (probe.ok) probe.destroy();
  });

  it(`matches the CPU after each of ${STEPS} steps (exact where f32 is exact, else within tolerance)`, async () => {
    const spec = compileModel(parityModel(POINTS, BOXES));
    const cpu = await Simulation.create(spec, { workers: 1, seed: SEED });
    const gpu = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
    try {
      init(cpu);
      init(gpu);
      const seen = { direct: 0, neighbours: 0, pings: 0, ticks: 0, reports: 0, flows: 0 };
      for (let step = 0; step < STEPS; step++) {
        cpu.stepOnce();
        await gpu.stepOnce();
        await gpu.sync();
        for (const kind of ['P', 'B'] as const) {
          const a = cpu.state(kind);
          const b = gpu.state(kind);
          const n = cpu.count(kind);
          for (const f of EXACT[kind]!) {
            for (let i = 0; i < n; i++) {
              if (!Object.is(a[f]![i], b[f]![i])) expect.fail(`step ${step}: ${kind}.${f}[${i}]: webgpu ${b[f]![i]} vs cpu ${a[f]![i]}`);
            }
          }
          for (const [f, tol] of Object.entries(CLOSE[kind]!)) {
            for (let i = 0; i < n; i++) {
              const d = Math.abs(a[f]![i]! - b[f]![i]!);
              if (!(d <= tol(a[f]![i]!))) expect.fail(`step ${step}: ${kind}.${f}[${i}]: webgpu ${b[f]![i]} vs cpu ${a[f]![i]} (|d| = ${d} > ${tol(a[f]![i]!)})`);
            }
          }
        }
        const p = cpu.state('P');
        const bx = cpu.state('B');
        for (let i = 0; i < POINTS; i++) {
          if (p.acc![i] !== 0x811c9dc5) seen.direct++;
          seen.neighbours += p.nb![i]!;
          if (p.inflow![i] !== 0) seen.flows++;
        }
        for (let b = 0; b < BOXES; b++) seen.reports += bx.cnt![b]!;
        seen.pings = Array.from(p.pings!).reduce((x, y) => x + y, 0);
        seen.ticks = Array.from(p.ticks!).reduce((x, y) => x + y, 0);
      }
      // Not vacuous: every delivery kind carried records.
      expect(seen.direct).toBeGreaterThan(POINTS);
      expect(seen.neighbours).toBeGreaterThan(POINTS);
      expect(seen.reports).toBeGreaterThan(POINTS);
      expect(seen.flows).toBeGreaterThan(POINTS);
      expect(seen.pings).toBeGreaterThan(POINTS / 2);
      // jiggle ran at steps 1 and 4 of 0..6.
      expect(seen.ticks).toBe(2 * POINTS);
      // The same seed gives the same GPU state again (deterministic sort, reductions and kernels).
      const again = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
      init(again);
      await again.run(STEPS);
      expect(await again.checksum()).toBe(await gpu.checksum());
      await again.close();
    } finally {
      await cpu.close();
      await gpu.close();
    }
  });

  for (const [mode, name, cls, text] of [
    [1, 'a NaN', CheckError, /kernel 'parity\.faulty' \(function F\.act\) wrote a non-finite value \(NaN or Infinity\) into F\.v of actor 5 at step 2/],
    [2, 'an address beyond the live count', CheckError, /addressed a receiver outside \[0, 64\) \(the live F actors\) of 'F\.hit' from F actor 5 at step 2/],
    [3, 'one record too many', CapacityError, /F actor 5 emitted more than 2 records of 'F\.hit' at step 2/],
  ] as const) {
    it(`reports ${name} with the step it was raised at, worded as on the CPU`, async () => {
      const spec = compileModel(faultyModel(mode, 2, 5));
      const cpu = await Simulation.create(spec, { workers: 1 });
      const cpuErr = (() => {
        try {
          cpu.run(5);
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      await cpu.close();
      expect(cpuErr).toBeInstanceOf(cls);
      expect(cpuErr!.message).toMatch(text);
      const gpu = await GpuSimulation.create(spec, { probe: device! });
      try {
        await gpu.run(5); // no readback per step: the fault waits for the next one
        const err = (await gpu.sync().catch((e: unknown) => e)) as Error & { step?: number };
        expect(err).toBeInstanceOf(cls);
        expect(err.message).toMatch(text);
        expect(err.message).toMatch(/raised on the GPU at step 2, detected after step 5/);
        expect(err.step).toBe(2);
        // The fault block is cleared once reported.
        await expect(gpu.checkFaults()).resolves.toBeUndefined();
      } finally {
        await gpu.close();
      }
    });
  }
});
