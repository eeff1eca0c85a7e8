/**
 * WebGPU groundwork: finds an adapter through Dawn, runs a tiny compute kernel against a host oracle, and
 * checks that the WGSL port of the counter-based RNG (kernels/common/rng.wgsl) gives the same bits as
 * src/rng.ts. Without an adapter the suite is skipped visibly, with the reason in its name.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hash32, mix32, normal, uniform } from '../src/rng.js';
import { probeWebGpu } from '../sim/gpu/device.js';

const probeStartMs = performance.now();
const probe = await probeWebGpu();
const probeMs = performance.now() - probeStartMs;

if (probe.ok) {
  console.log(
    `webgpu adapter: ${probe.info.name} | type=${probe.info.type} backend=${probe.info.backend} ` +
      `vendor=${probe.info.vendor} architecture=${probe.info.architecture} | ${probe.info.description} | ` +
      `probe (import + adapter + device) ${probeMs.toFixed(0)} ms`,
  );
} else {
  console.warn(`webgpu unavailable: ${probe.reason}`);
}

const rngWgsl = readFileSync(new URL('../kernels/common/rng.wgsl', import.meta.url), 'utf8');

/** The device, for tests that run only when the probe succeeded. */
function gpuDevice(): GPUDevice {
  if (!probe.ok) throw new Error(`unreachable: webgpu unavailable (${probe.reason})`);
  return probe.device;
}

/** Runs `entryPoint` over `invocations` threads (workgroup size 64) and reads back `outputBytes`. */
async function runKernel(
  code: string,
  input: ArrayBufferView<ArrayBuffer>,
  outputBytes: number,
  invocations: number,
): Promise<ArrayBuffer> {
  const device = gpuDevice();
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const compilation = await module.getCompilationInfo();
  const errors = compilation.messages.filter((m) => m.type === 'error');
  expect(errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });

  const inputBuffer = device.createBuffer({ size: input.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(inputBuffer, 0, input);
  const outputBuffer = device.createBuffer({ size: outputBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: outputBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: inputBuffer } },
      { binding: 1, resource: { buffer: outputBuffer } },
    ],
  });

  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(invocations / 64));
  pass.end();
  encoder.copyBufferToBuffer(outputBuffer, 0, readback, 0, outputBytes);
  device.queue.submit([encoder.finish()]);

  await readback.mapAsync(GPUMapMode.READ);
  const result = readback.getMappedRange().slice(0);
  readback.unmap();
  const validationError = await device.popErrorScope();
  expect(validationError?.message).toBeUndefined();
  inputBuffer.destroy();
  outputBuffer.destroy();
  readback.destroy();
  return result;
}

describe.skipIf(!probe.ok)(`webgpu probe${probe.ok ? '' : ` — SKIPPED: ${probe.reason}`}`, () => {
  afterAll(() => {
    if (probe.ok) probe.destroy();
  });

  it('reports the adapter it found', () => {
    if (!probe.ok) return;
    expect(probe.info.name).not.toBe('');
    expect(['hardware', 'software']).toContain(probe.info.type);
    expect(probe.device.limits.maxStorageBufferBindingSize).toBe(probe.adapter.limits.maxStorageBufferBindingSize);
    expect(probe.device.limits.maxBufferSize).toBe(probe.adapter.limits.maxBufferSize);
  });

  it('computes y[i] = x[i] * 2 + 1 over 1000 f32 exactly as the host does', async () => {
    const n = 1000;
    const x = new Float32Array(n);
    // Values in [-1000, 1000) with no denormals; some fixed edge values first.
    x.set([0, -0, 1, -1, 0.5, -0.5, 16777215, -16777216, 1e-3, 3.4e37]);
    for (let i = 10; i < n; i++) x[i] = uniform(7, 1, i, 0, 0, 0) * 2000 - 1000;
    const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i < arrayLength(&y)) {
    y[i] = x[i] * 2.0 + 1.0;
  }
}`;
    const y = new Float32Array(await runKernel(code, x, n * 4, n));
    // 2x is exact in f32; the f64 sum rounded once to f32 is the correctly rounded f32 sum.
    const expected = Float32Array.from(x, (v) => Math.fround(Math.fround(v * 2) + 1));
    expect(Array.from(y)).toEqual(Array.from(expected));
  });

  it('matches src/rng.ts: mix32, hash32 and rng_uniform bit for bit, rng_normal to f32 rounding', async () => {
    const keyWords = 6;
    const keys: number[][] = [
      [0, 0, 0, 0, 0, 0],
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0x80000000, 1, 0x7fffffff, 2, 0x9e3779b9, 0x85ebca6b],
      [42, 3, 1_000_000, 12_345, 7, 0x7fffffff],
    ];
    for (let i = 0; keys.length < 400; i++) {
      keys.push([
        hash32(1, 0, i, 0, 0, 0),
        i % 5,
        hash32(2, 0, i, 0, 0, 0) >>> (i % 20),
        i * 17,
        i % 3,
        hash32(3, 0, i, 0, 0, 0),
      ]);
    }
    const n = keys.length;
    const input = Uint32Array.from(keys.flat());
    const outWords = 4; // mix32(key[0]), hash32(key), rng_uniform(key) bits, rng_normal(key) bits
    const code = `${rngWgsl}
@group(0) @binding(0) var<storage, read> keys: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= arrayLength(&keys) / ${keyWords}u) { return; }
  let k = i * ${keyWords}u;
  let seed = keys[k]; let kind = keys[k + 1u]; let actor = keys[k + 2u];
  let step = keys[k + 3u]; let stream = keys[k + 4u]; let counter = keys[k + 5u];
  out[i * ${outWords}u] = mix32(seed);
  out[i * ${outWords}u + 1u] = hash32(seed, kind, actor, step, stream, counter);
  out[i * ${outWords}u + 2u] = bitcast<u32>(rng_uniform(seed, kind, actor, step, stream, counter));
  out[i * ${outWords}u + 3u] = bitcast<u32>(rng_normal(seed, kind, actor, step, stream, counter));
}`;
    const result = await runKernel(code, input, n * outWords * 4, n);
    const words = new Uint32Array(result);
    const floats = new Float32Array(result);

    const gpuMix: number[] = [];
    const gpuHash: number[] = [];
    const gpuUniform: number[] = [];
    const hostMix: number[] = [];
    const hostHash: number[] = [];
    const hostUniform: number[] = [];
    let maxNormalError = 0;
    for (let i = 0; i < n; i++) {
      const [seed, kind, actor, step, stream, counter] = keys[i]! as [number, number, number, number, number, number];
      gpuMix.push(words[i * outWords]!);
      gpuHash.push(words[i * outWords + 1]!);
      gpuUniform.push(floats[i * outWords + 2]!);
      hostMix.push(mix32(seed));
      hostHash.push(hash32(seed, kind, actor, step, stream, counter));
      hostUniform.push(uniform(seed, kind, actor, step, stream, counter));
      const hostNormal = normal(seed, kind, actor, step, stream, counter);
      maxNormalError = Math.max(maxNormalError, Math.abs(floats[i * outWords + 3]! - hostNormal));
    }
    expect(gpuMix).toEqual(hostMix);
    expect(gpuHash).toEqual(hostHash);
    expect(gpuUniform).toEqual(hostUniform);
    // WGSL's accuracy bounds: cos 2^-11 absolute on [-π, π], log 2^-21 absolute near 1 or 3 ULP, sqrt
    // 2.5 ULP; times |sqrt(-2 log u1)| <= 5.9, that is at most about 3e-3. Real drivers do far better.
    console.log(`rng_normal: max |gpu - host| over ${n} keys = ${maxNormalError.toExponential(2)}`);
    expect(maxNormalError).toBeLessThan(3e-3);
  });
});
