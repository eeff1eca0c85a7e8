/**
 * Small WGSL kernels of the webgpu backend besides the shared primitives (sim/gpu/primitives.ts):
 *
 * - `gather<N>`: `dst_j[i] = src_j[perm[i]]` for N ≤ 4 columns at once, i < total = offsets[keys]
 *   (read on the device, so no readback decides the size). 4-byte words: f32, i32 and u32 alike.
 * - `to_f32`: i32 or u32 words to f32, for the segment reductions of integer bucket fields.
 * - `column_partial` / `column_final`: sum, min and max of the first n elements of a state column,
 *   in f32: each workgroup reduces a tile of COLUMN_TILE elements (serially per invocation, then a
 *   tree), and one workgroup combines the tiles. The results land in the metrics buffer right after
 *   the fault block, so one readback carries both.
 *
 * Each kernel reads its parameters from a uniform buffer the backend writes once (not per step), so
 * that a step uploads no parameters for them.
 */
import type { BindingKind, GpuCompute, Kernel } from './compute.js';

export const GATHER_WG = 256;
export const COLUMN_WG = 256;
const COLUMN_ITEMS = 16;
/** Elements reduced per workgroup by column_partial. */
export const COLUMN_TILE = COLUMN_WG * COLUMN_ITEMS;

function gatherCode(n: number): string {
  const decl: string[] = [];
  const body: string[] = [];
  for (let j = 0; j < n; j++) {
    decl.push(`@group(0) @binding(${3 + 2 * j}) var<storage, read> src${j}: array<u32>;`);
    decl.push(`@group(0) @binding(${4 + 2 * j}) var<storage, read_write> dst${j}: array<u32>;`);
    body.push(`  dst${j}[i] = src${j}[p];`);
  }
  return /* wgsl */ `
struct GatherParams { records: u32, keys: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> gp: GatherParams;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> perm: array<u32>;
${decl.join('\n')}
@compute @workgroup_size(${GATHER_WG})
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${GATHER_WG}u;
  if (i >= gp.records || i >= offsets[gp.keys]) { return; }
  let p = perm[i];
${body.join('\n')}
}`;
}

const TO_F32 = /* wgsl */ `
struct ConvertParams { n: u32, signed: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> cp: ConvertParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(${GATHER_WG})
fn to_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${GATHER_WG}u;
  if (i >= cp.n) { return; }
  let b = src[i];
  dst[i] = select(f32(b), f32(bitcast<i32>(b)), cp.signed != 0u);
}`;

const COLUMN = /* wgsl */ `
// dtype: 0 f32, 1 i32, 2 u32. out_at: word index of [sum, min, max] in the metrics buffer.
struct ColumnParams { n: u32, dtype: u32, out_at: u32, groups: u32 }
@group(0) @binding(0) var<uniform> rp: ColumnParams;
@group(0) @binding(1) var<storage, read> col: array<u32>;
/* layout: partials[3 * g + 0|1|2] = sum, min, max of tile g */
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
/* layout: the metrics buffer: fault block, then [sum, min, max] per reduction as f32 bits */
@group(0) @binding(3) var<storage, read_write> results: array<u32>;

const WG: u32 = ${COLUMN_WG}u;
const ITEMS: u32 = ${COLUMN_ITEMS}u;
// Finite sentinels: WGSL may assume float arithmetic never meets an infinity. The host reports
// min = +Infinity and max = -Infinity itself when there are no actors.
const BIG: f32 = 3.4028234663852886e38;

var<workgroup> s_sum: array<f32, ${COLUMN_WG}>;
var<workgroup> s_min: array<f32, ${COLUMN_WG}>;
var<workgroup> s_max: array<f32, ${COLUMN_WG}>;

fn load(i: u32) -> f32 {
  let b = col[i];
  if (rp.dtype == 0u) { return bitcast<f32>(b); }
  if (rp.dtype == 1u) { return f32(bitcast<i32>(b)); }
  return f32(b);
}

fn tree(t: u32) {
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    workgroupBarrier();
    if (t < w) {
      s_sum[t] = s_sum[t] + s_sum[t + w];
      s_min[t] = min(s_min[t], s_min[t + w]);
      s_max[t] = max(s_max[t], s_max[t + w]);
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(${COLUMN_WG})
fn column_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= rp.groups) { return; } // uniform
  var acc = 0.0;
  var lo = BIG;
  var hi = -BIG;
  let base = g * WG * ITEMS;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG + t;
    if (i < rp.n) {
      let v = load(i);
      acc += v;
      lo = min(lo, v);
      hi = max(hi, v);
    }
  }
  s_sum[t] = acc;
  s_min[t] = lo;
  s_max[t] = hi;
  tree(t);
  if (t == 0u) {
    partials[3u * g] = s_sum[0];
    partials[3u * g + 1u] = s_min[0];
    partials[3u * g + 2u] = s_max[0];
  }
}

@compute @workgroup_size(${COLUMN_WG})
fn column_final(@builtin(local_invocation_index) t: u32) {
  var acc = 0.0;
  var lo = BIG;
  var hi = -BIG;
  for (var g = t; g < rp.groups; g += WG) {
    acc += partials[3u * g];
    lo = min(lo, partials[3u * g + 1u]);
    hi = max(hi, partials[3u * g + 2u]);
  }
  s_sum[t] = acc;
  s_min[t] = lo;
  s_max[t] = hi;
  tree(t);
  if (t == 0u) {
    results[rp.out_at] = bitcast<u32>(s_sum[0]);
    results[rp.out_at + 1u] = bitcast<u32>(s_min[0]);
    results[rp.out_at + 2u] = bitcast<u32>(s_max[0]);
  }
}`;

export interface HelperKernels {
  /** gather[n - 1] gathers n columns. */
  readonly gather: readonly Kernel[];
  readonly toF32: Kernel;
  readonly columnPartial: Kernel;
  readonly columnFinal: Kernel;
}

const cache = new WeakMap<GpuCompute, Promise<HelperKernels>>();

/** Compiles the helper kernels once per harness. */
export function helperKernels(gpu: GpuCompute): Promise<HelperKernels> {
  let pending = cache.get(gpu);
  if (!pending) {
    pending = compileHelpers(gpu);
    cache.set(gpu, pending);
  }
  return pending;
}

async function compileHelpers(gpu: GpuCompute): Promise<HelperKernels> {
  const gathers = [1, 2, 3, 4].map((n) => {
    const bindings: Record<number, BindingKind> = { 0: 'uniform', 1: 'read-only-storage', 2: 'read-only-storage' };
    for (let j = 0; j < n; j++) {
      bindings[3 + 2 * j] = 'read-only-storage';
      bindings[4 + 2 * j] = 'storage';
    }
    return gpu.kernel({ label: `gather${n}`, code: gatherCode(n), entryPoint: 'gather', bindings });
  });
  const [gather, toF32, columnPartial, columnFinal] = await Promise.all([
    Promise.all(gathers),
    gpu.kernel({ label: 'to_f32', code: TO_F32, entryPoint: 'to_f32', bindings: { 0: 'uniform', 1: 'read-only-storage', 2: 'storage' } }),
    gpu.kernel({ label: 'column_partial', code: COLUMN, entryPoint: 'column_partial', bindings: { 0: 'uniform', 1: 'read-only-storage', 2: 'storage' } }),
    gpu.kernel({ label: 'column_final', code: COLUMN, entryPoint: 'column_final', bindings: { 0: 'uniform', 2: 'storage', 3: 'storage' } }),
  ]);
  return { gather, toF32, columnPartial, columnFinal };
}
