/// <reference types="@webgpu/types" />
/**
 * Finding a WebGPU device through Dawn (the `webgpu` npm package).
 *
 * The native module is imported lazily, so importing this module never fails on a machine where
 * `dawn.node` cannot load; `probeWebGpu()` then answers `{ ok: false, reason }` instead.
 *
 * Lifetime: the `GPU` object returned by Dawn's `create()` is created once and kept in a module-level
 * variable for the life of the process. Dawn's devices and adapters need it alive; dropping it while a
 * device was still in use crashed the process. `destroy()` of a probe destroys only its device.
 *
 * @example
 * ```ts
 * const probe = await probeWebGpu();
 * if (!probe.ok) throw new Error(probe.reason);
 * console.log(probe.info.name, probe.info.type, probe.info.backend);
 * // ... probe.device.createBuffer(...) ...
 * probe.destroy();
 * ```
 */

import type * as WebGpu from 'webgpu'; // types only: erased from the emitted JavaScript

type WebGpuModule = typeof WebGpu;

/** What the engine records about the adapter it runs on (printed and stored in every run's summary). */
export interface GpuAdapterInfo {
  /** The adapter's device name as Dawn reports it (e.g. `llvmpipe-llvm-15-0-6-256-bits-`). */
  name: string;
  vendor: string;
  architecture: string;
  /** The driver's description (e.g. `llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1`). */
  description: string;
  /** `software` for CPU implementations (lavapipe/llvmpipe, SwiftShader, any fallback adapter). */
  type: 'hardware' | 'software';
  /** The Dawn backend asked for: `vulkan` on Linux, `metal` on macOS, `d3d12` on Windows. */
  backend: string;
}

export type WebGpuProbe =
  | { ok: true; info: GpuAdapterInfo; device: GPUDevice; adapter: GPUAdapter; destroy(): void }
  | { ok: false; reason: string };

const NO_ADAPTER_REASON =
  'no WebGPU adapter found; install the software Vulkan driver with `sudo bash scripts/setup-webgpu.sh` ' +
  '(Mesa 25 lavapipe from bookworm-backports) or run on a machine with a GPU';

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader/i;

/**
 * The `GPU` object from Dawn's `create()`. Kept for the process lifetime on purpose (see the module doc):
 * never reset it to undefined.
 */
let gpu: GPU | undefined;

/** Dawn's backend for this platform. Named explicitly so that the recorded backend is a fact, not a guess. */
function platformBackend(): string {
  switch (process.platform) {
    case 'darwin':
      return 'metal';
    case 'win32':
      return 'd3d12';
    default:
      return 'vulkan';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Installs Dawn's WebGPU globals (`GPUBufferUsage`, `GPUMapMode`, `GPUShaderStage`, the interface
 * classes) on `globalThis`, as a browser has them, without replacing anything already there.
 */
function installGlobals(globals: object): void {
  const target = globalThis as Record<string, unknown>;
  for (const [key, value] of Object.entries(globals)) {
    if (!(key in target)) target[key] = value;
  }
}

async function loadGpu(backend: string): Promise<GPU> {
  if (gpu) return gpu;
  const webgpu: WebGpuModule = await import('webgpu');
  installGlobals(webgpu.globals);
  gpu ??= webgpu.create([`backend=${backend}`]);
  return gpu;
}

/** Classifies and copies the adapter's info. */
function describeAdapter(adapter: GPUAdapter, backend: string): GpuAdapterInfo {
  const info = adapter.info;
  // `isFallbackAdapter` moved from GPUAdapter to GPUAdapterInfo in the spec; accept either.
  const fallback =
    info.isFallbackAdapter === true || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const name = info.device || info.description || 'unknown';
  const cpuArchitecture = /^(software|cpu)$/i.test(info.architecture);
  const software = fallback || cpuArchitecture || SOFTWARE_NAMES.test(`${name} ${info.description}`);
  return {
    name,
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    type: software ? 'software' : 'hardware',
    backend,
  };
}

/**
 * Optional features that the device is opened with whenever the adapter offers them:
 * 'timestamp-query' lets sim/gpu/compute.ts time each compute pass on the GPU (lavapipe offers it).
 */
const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['timestamp-query'];

/**
 * Looks for a WebGPU adapter (high-performance preference) and opens a device on it with the adapter's
 * largest `maxStorageBufferBindingSize`, `maxBufferSize`, `maxStorageBuffersPerShaderStage` and
 * `maxUniformBuffersPerShaderStage`, and those of {@link OPTIONAL_FEATURES} the
 * adapter has. Never throws: every failure is a reason.
 */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  const backend = platformBackend();

  let navigatorGpu: GPU;
  try {
    navigatorGpu = await loadGpu(backend);
  } catch (error) {
    return {
      ok: false,
      reason: `the webgpu package (Dawn) could not be loaded: ${messageOf(error)}; run \`npm install\` on a supported platform (linux-x64, linux-arm64, darwin, win32)`,
    };
  }

  let adapter: GPUAdapter | null;
  try {
    adapter = await navigatorGpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { ok: false, reason: `${NO_ADAPTER_REASON} (requestAdapter failed: ${messageOf(error)})` };
  }
  if (!adapter) return { ok: false, reason: NO_ADAPTER_REASON };

  const info = describeAdapter(adapter, backend);

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'simloom',
      requiredFeatures: OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)),
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        // Generated actor kernels bind one buffer per state column and message column they use
        // (circles.move: 11); the default of 8 is too few, the adapter's own limit is what it can do.
        maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
        maxUniformBuffersPerShaderStage: adapter.limits.maxUniformBuffersPerShaderStage,
      },
    });
  } catch (error) {
    return { ok: false, reason: `the WebGPU adapter ${info.name} (${info.backend}) refused a device: ${messageOf(error)}` };
  }

  let destroyed = false;
  return {
    ok: true,
    info,
    device,
    adapter,
    destroy(): void {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
    },
  };
}
