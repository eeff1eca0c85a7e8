/**
 * Suite `gpu`: what the webgpu backend costs on the device it finds, in one run (issue 3).
 *
 * 1. Device copy bandwidth: `copyBufferToBuffer` of a large buffer, repeated in one submit, by wall
 *    time (bytes read + bytes written per second); and a WGSL copy kernel (`dst[i] = src[i]`) timed
 *    with timestamp queries where the device has them.
 * 2. An element-wise actor update through the engine (kind `Spring` below: x += v·dt, v −= k·x·dt,
 *    2 f32 fields read and written per actor, plus the finite check), at 10M actors: GPU time per
 *    step and the bandwidth it achieves (16 bytes per actor), and `bandwidthFraction` = that bandwidth
 *    ÷ the copyBufferToBuffer bandwidth (both count bytes read + written).
 * 3. `circles` ms/step (wall, submit to done, one submit per step) at 10K, 1M and 10M agents, with
 *    the default cells and with cubes of side radius.
 * 4. The step floor: a `Spring` step at 10K actors with one metrics readback (a reduction and the
 *    fault word), µs per step, wall time.
 *
 * Every timed figure follows warm-up steps (pipelines compile at their first dispatch: seconds on
 * lavapipe). Sizes: `--quick` uses small ones (for lavapipe); otherwise the issue's, overridable with
 * SIMLOOM_GPU_BENCH_CIRCLES=10000,1000000 and SIMLOOM_GPU_BENCH_ACTORS=10000000. Buffers stay within
 * 128 MiB per binding (10M f32 = 40 MB per column).
 *
 *   simloom bench gpu --json           # on the H100
 *   simloom bench gpu --quick          # on lavapipe
 */
import os from 'node:os';
import { defineActor, defineModel, compileModel } from '../src/model.js';
import type { KernelRegistration, WebGpuKernelRegistration } from '../src/kernel.js';
import { moduleUrl } from '../src/module-url.js';
import { circlesActor } from '../actors/circles/index.js';
import circles from '../scenarios/circles.js';
import type { BenchReport } from '../sim/cli.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { GpuCompute } from '../sim/gpu/compute.js';
import { probeWebGpu } from '../sim/gpu/device.js';

/** The element-wise kind's kernels, CPU and WGSL (this module is the kind's kernels module). */
export const kernels: (KernelRegistration | WebGpuKernelRegistration)[] = [
  {
    kernel: 'spring.step',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const v = ctx.state.v!;
      const nx = ctx.next.x!;
      const nv = ctx.next.v!;
      const k = ctx.params.k!;
      for (let i = start; i < end; i++) {
        nx[i] = x[i]! + v[i]! * ctx.dt;
        nv[i] = v[i]! - k * x[i]! * ctx.dt;
      }
    },
  },
  {
    kernel: 'spring.step',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
  let x = state_x[a];
  let v = state_v[a];
  next_x[a] = x + v * sim.dt;
  next_v[a] = v - param_k * x * sim.dt;
}`,
  },
];

function springModel(n: number) {
  const Spring = defineActor({
    name: 'Spring',
    kernels: moduleUrl(import.meta.url, './gpu.bench'),
    state: { x: { type: 'f32', initial: 1 }, v: { type: 'f32' } },
    params: { k: { default: 0.5 } },
    functions: { step: { kernel: 'spring.step', reads: ['x', 'v'], writes: ['x', 'v'] } },
  });
  return defineModel({ name: 'spring', actors: [Spring], population: { Spring: { capacity: n } }, dt: 0.01 });
}

function sizes(envName: string, fallback: number[]): number[] {
  const raw = process.env[envName];
  if (!raw) return fallback;
  return raw.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${envName}: '${s}' is not a positive integer`);
    return n;
  });
}

function log(line: string): void {
  process.stderr.write(`gpu bench: ${line}\n`);
}

export async function run({ quick }: { quick: boolean }): Promise<BenchReport> {
  const probe = await probeWebGpu();
  if (!probe.ok) throw new Error(`bench gpu needs a WebGPU adapter: ${probe.reason}`);
  const adapter = `${probe.info.name} (${probe.info.type}, ${probe.info.backend})`;
  log(`adapter ${adapter}; ${quick ? 'quick sizes' : 'full sizes'}`);
  const results: BenchReport['results'] = [];
  const ratios: Record<string, number> = {};
  const round = (x: number, d = 3): number => Number(x.toPrecision(d + 2));
  try {
    // 1. Copy bandwidth.
    const gpu = new GpuCompute(probe.device);
    // 256 MiB, or the most one binding of this device holds (lavapipe: 128 MiB), in whole vec4s.
    const copyBytes = Math.floor(Math.min(quick ? 16 << 20 : 256 << 20, gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize) / 16) * 16;
    const a = gpu.createBuffer({ label: 'copy a', size: copyBytes });
    const b = gpu.createBuffer({ label: 'copy b', size: copyBytes });
    const repeats = quick ? 4 : 20;
    const copyOnce = async (): Promise<number> => {
      const batch = gpu.batch('copy');
      for (let r = 0; r < repeats; r++) batch.copy(r % 2 === 0 ? a : b, r % 2 === 0 ? b : a, copyBytes);
      return (await batch.submit()).wallMs;
    };
    await copyOnce(); // warm-up
    let best = Infinity;
    for (let t = 0; t < 3; t++) best = Math.min(best, await copyOnce());
    const copyGBs = (2 * copyBytes * repeats) / (best / 1000) / 1e9;
    results.push({ name: `device copy, copyBufferToBuffer ${copyBytes >> 20} MiB × ${repeats} (read + write, wall)`, unit: 'GB/s', value: round(copyGBs) });
    log(`copyBufferToBuffer: ${copyGBs.toFixed(1)} GB/s`);

    const copyKernel = await gpu.kernel({
      label: 'bench.copy',
      entryPoint: 'main',
      bindings: { 0: 'uniform', 1: 'read-only-storage', 2: 'storage' },
      code: /* wgsl */ `
struct P { n: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4u>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < p.n) { dst[i] = src[i]; }
}`,
    });
    const vecs = copyBytes / 16;
    const kernelOnce = async (): Promise<number> => {
      const batch = gpu.batch('copy kernel');
      for (let r = 0; r < repeats; r++) batch.dispatch(copyKernel, { 0: Uint32Array.of(vecs, 0, 0, 0), 1: r % 2 === 0 ? a : b, 2: r % 2 === 0 ? b : a }, Math.ceil(vecs / 256));
      const res = await batch.submit();
      return res.gpuMs ?? res.wallMs;
    };
    await kernelOnce();
    let bestKernel = Infinity;
    for (let t = 0; t < 3; t++) bestKernel = Math.min(bestKernel, await kernelOnce());
    const kernelGBs = (2 * copyBytes * repeats) / (bestKernel / 1000) / 1e9;
    results.push({ name: `device copy, WGSL kernel ${copyBytes >> 20} MiB × ${repeats} (read + write, ${gpu.timestamps ? 'GPU timestamps' : 'wall'})`, unit: 'GB/s', value: round(kernelGBs) });
    log(`copy kernel: ${kernelGBs.toFixed(1)} GB/s`);
    a.destroy();
    b.destroy();
    gpu.destroy();

    // 2. Element-wise update through the engine.
    const [actors] = sizes('SIMLOOM_GPU_BENCH_ACTORS', [quick ? 1_000_000 : 10_000_000]) as [number];
    {
      const sim = await GpuSimulation.create(compileModel(springModel(actors)), { probe, timing: 'auto' });
      await sim.run(3); // warm-up (pipeline compilation at the first dispatch)
      const steps = quick ? 5 : 50;
      const g0 = sim.stepGpuMs;
      const w0 = sim.stepWallMs;
      const n0 = sim.timedSteps;
      await sim.run(steps);
      const done = sim.timedSteps - n0;
      const gpuMs = sim.timing === 'timestamp' ? (sim.stepGpuMs - g0) / done : (sim.stepWallMs - w0) / done;
      const gbs = (16 * actors) / (gpuMs / 1000) / 1e9;
      results.push({ name: `element-wise update, ${actors} actors (${sim.timing === 'timestamp' ? 'GPU time' : 'wall'} per step)`, unit: 'ms', value: round(gpuMs) });
      results.push({ name: `element-wise update, ${actors} actors (16 B/actor read + written)`, unit: 'GB/s', value: round(gbs) });
      ratios.bandwidthFraction = round(gbs / copyGBs);
      log(`element-wise ${actors}: ${gpuMs.toFixed(3)} ms/step, ${gbs.toFixed(1)} GB/s, fraction of copy ${(gbs / copyGBs).toFixed(3)}`);
      await sim.close();
    }

    // 3. circles ms/step.
    const circleSizes = sizes('SIMLOOM_GPU_BENCH_CIRCLES', quick ? [10_000, 100_000] : [10_000, 1_000_000, 10_000_000]);
    // Each size with the default cells (radius/4 × radius × radius) and with cubes of side radius
    // (FLAME GPU 2's grid), to choose the GPU's default from measurement.
    const shapes = [
      { label: '', cubic: false },
      { label: ', cubic cells of side radius', cubic: true },
    ];
    for (const n of circleSizes) for (const shape of shapes) {
      const p = { n, radius: 2, repulse: 0.05 };
      const setup = circles.setup(p);
      const model = shape.cubic ? { ...setup.model, actors: [circlesActor(Math.max(1, Math.floor(Math.cbrt(n))), p.radius, p.radius)] } : setup.model;
      const sim = await GpuSimulation.create(compileModel(model), { probe, timing: 'submit' });
      const ti = performance.now();
      await setup.init(sim);
      const initMs = performance.now() - ti;
      await sim.run(3);
      const steps = quick ? 5 : n >= 10_000_000 ? 20 : 50;
      const t0 = performance.now();
      await sim.run(steps);
      const ms = (performance.now() - t0) / steps;
      results.push({ name: `circles, ${n} agents${shape.label} (wall per step, one submit)`, unit: 'ms', value: round(ms) });
      log(`circles ${n}${shape.label}: ${ms.toFixed(3)} ms/step (host init ${initMs.toFixed(0)} ms, first step ${sim.firstStepMs.toFixed(0)} ms)`);
      await sim.close();
    }

    // 4. Step floor with one metrics readback.
    {
      const n = 10_000;
      const sim = await GpuSimulation.create(compileModel(springModel(n)), { probe, timing: 'submit' });
      const reductions = { meanX: { kind: 'Spring', field: 'x', op: 'mean' } } as const;
      for (let i = 0; i < 10; i++) await sim.stepAndReduce(reductions);
      const steps = quick ? 50 : 500;
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await sim.stepAndReduce(reductions);
      const us = ((performance.now() - t0) / steps) * 1000;
      results.push({ name: `step floor, ${n} actors, one metrics readback per step (wall)`, unit: 'µs', value: round(us) });
      log(`step floor: ${us.toFixed(1)} µs/step`);
      await sim.close();
    }
  } finally {
    probe.destroy();
  }
  return {
    suite: 'gpu',
    env: { node: process.version, cpus: os.availableParallelism(), backend: 'webgpu', adapter, workers: 0 },
    results,
    ratios,
  };
}
