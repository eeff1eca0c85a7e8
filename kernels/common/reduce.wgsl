// Segment reductions over f32 values: the GPU twin of `segmentReduce` in kernels/common/cpu.ts.
// Segment k is values[offsets[k] .. offsets[k+1]), k < keys (offsets as built by sort.wgsl).
//
// Three dispatches (sim/gpu/primitives.ts records them; workgroups are numbered wid.x + wid.y * nwg.x,
// so that more than 65535 of them fold into a 2D grid):
//   1. `segment_reduce_short`: one invocation per segment. A short segment (at most REDUCE_SHORT
//      values) is reduced there, serially; a long one is appended to long_list (atomic count).
//   2. `segment_reduce_args`: one invocation turns the count into indirect dispatch arguments.
//      (The args buffer is bound as storage here and as the indirect buffer in 3: two usages that
//      WebGPU allows only in different dispatches.)
//   3. `segment_reduce_long`, dispatched indirectly: one workgroup per long segment. Each invocation
//      accumulates a strided share, then the workgroup combines the shares in a tree.
// So a million one-value segments cost a million short loops, not a million workgroups (on lavapipe,
// 1M segments: about 30 ms instead of 8.7 s with a workgroup per segment), and a huge segment still
// gets a whole workgroup. The order of long_list depends on timing, but a segment's result does not:
// the order of its additions depends only on its length, so runs are bit-for-bit reproducible.
// `std` is the population standard deviation, two-pass as on the CPU: first the mean, then the mean
// of squared deviations from it.
//
// Rounding, against the f64 CPU result, relative to S = sum of |x| over the segment: a short segment
// adds serially, at most (n - 1) * 2^-24 * S <= 3.8e-6 S; a long one at most
// (n / REDUCE_WG + log2(REDUCE_WG)) * 2^-24 * S, and typically (random rounding) far less: 1.6e-7 S
// measured for one segment of 1M values. The declared tolerance is in sim/gpu/primitives.ts.
//
// Outputs:
/*   layout: counts[k] = offsets[k+1] - offsets[k] (u32, exact)                                   */
/*   layout: stats[row * keys + k], row = 0 sum, 1 mean, 2 std, 3 min, 4 max; f32 bit patterns       */
// stats is declared array<u32> here so that an empty segment's min = +Inf and max = -Inf are stored as
// bit patterns: WGSL lets an implementation assume that float arithmetic never meets an infinity, but a
// u32 store is exact. Readers (other kernels, the host) view the same buffer as f32. Empty segments give
// count 0, sum 0, mean 0, std 0, min +Inf, max -Inf, as on the CPU.

const REDUCE_WG: u32 = 64u;
const REDUCE_SHORT: u32 = 64u; // longest segment reduced by a single invocation
const F32_POS_INF_BITS: u32 = 0x7f800000u;
const F32_NEG_INF_BITS: u32 = 0xff800000u;

struct ReduceParams {
  keys: u32,
  max_per_dimension: u32, // the device's maxComputeWorkgroupsPerDimension, for the indirect grid
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;
@group(0) @binding(4) var<storage, read_write> stats: array<u32>;
/* layout: long_list[0..count) = the long segments, in no particular order; long_list[keys] = count
   (copied there by segment_reduce_args: segment_reduce_long cannot bind long_args, which it is
   dispatched with) */
@group(0) @binding(5) var<storage, read_write> long_list: array<u32>;
/* layout: [x, y, z] workgroups of segment_reduce_long (indirect arguments), then the long count */
@group(0) @binding(6) var<storage, read_write> long_args: array<atomic<u32>, 4>;

var<workgroup> share_sum: array<f32, REDUCE_WG>;
var<workgroup> share_min: array<f32, REDUCE_WG>;
var<workgroup> share_max: array<f32, REDUCE_WG>;
var<workgroup> long_count: u32;

fn write_stats(k: u32, n: u32, total: f32, mean: f32, std_dev: f32, lo: f32, hi: f32) {
  let keys = params.keys;
  counts[k] = n;
  if (n > 0u) {
    stats[k] = bitcast<u32>(total);
    stats[keys + k] = bitcast<u32>(mean);
    stats[2u * keys + k] = bitcast<u32>(std_dev);
    stats[3u * keys + k] = bitcast<u32>(lo);
    stats[4u * keys + k] = bitcast<u32>(hi);
  } else {
    stats[k] = 0u;
    stats[keys + k] = 0u;
    stats[2u * keys + k] = 0u;
    stats[3u * keys + k] = F32_POS_INF_BITS;
    stats[4u * keys + k] = F32_NEG_INF_BITS;
  }
}

// One invocation reduces values[a .. b) serially (b - a <= REDUCE_SHORT).
fn reduce_short(k: u32, a: u32, b: u32) {
  let n = b - a;
  var total = 0.0;
  var lo = 0.0;
  if (n > 0u) { lo = values[a]; }
  var hi = lo;
  for (var i = a; i < b; i++) {
    let x = values[i];
    total += x;
    lo = min(lo, x);
    hi = max(hi, x);
  }
  var mean = 0.0;
  if (n > 0u) { mean = total / f32(n); }
  var squares = 0.0;
  for (var i = a; i < b; i++) {
    let d = values[i] - mean;
    squares += d * d;
  }
  var std_dev = 0.0;
  if (n > 0u) { std_dev = sqrt(squares / f32(n)); }
  write_stats(k, n, total, mean, std_dev, lo, hi);
}

// Tree-combines the shares of the REDUCE_WG invocations into share_*[0]. Called in uniform control flow.
fn combine_shares(t: u32) {
  for (var stride = REDUCE_WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (t < stride) {
      share_sum[t] += share_sum[t + stride];
      share_min[t] = min(share_min[t], share_min[t + stride]);
      share_max[t] = max(share_max[t], share_max[t + stride]);
    }
  }
  workgroupBarrier();
}

// The whole workgroup reduces segment k = values[a .. b), b - a > REDUCE_SHORT. Uniform control flow.
fn reduce_long(k: u32, a: u32, b: u32, t: u32) {
  let n = b - a;
  // Pass 1: sum, min, max. min and max start at the segment's first value, which is in the segment.
  var total = 0.0;
  var lo = values[a];
  var hi = lo;
  for (var i = a + t; i < b; i += REDUCE_WG) {
    let x = values[i];
    total += x;
    lo = min(lo, x);
    hi = max(hi, x);
  }
  share_sum[t] = total;
  share_min[t] = lo;
  share_max[t] = hi;
  combine_shares(t);
  total = share_sum[0];
  lo = share_min[0];
  hi = share_max[0];
  let mean = total / f32(n);
  workgroupBarrier(); // everyone has read share_*[0] before pass 2 overwrites it

  // Pass 2: sum of squared deviations from the mean.
  var squares = 0.0;
  for (var i = a + t; i < b; i += REDUCE_WG) {
    let d = values[i] - mean;
    squares += d * d;
  }
  share_sum[t] = squares;
  share_min[t] = 0.0;
  share_max[t] = 0.0;
  combine_shares(t);
  if (t == 0u) { write_stats(k, n, total, mean, sqrt(share_sum[0] / f32(n)), lo, hi); }
}

@compute @workgroup_size(REDUCE_WG)
fn segment_reduce_short(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let k = (wid.x + wid.y * nwg.x) * REDUCE_WG + t;
  if (k >= params.keys) { return; }
  let a = offsets[k];
  let b = offsets[k + 1u];
  if (b - a <= REDUCE_SHORT) {
    reduce_short(k, a, b);
  } else {
    long_list[atomicAdd(&long_args[3], 1u)] = k;
  }
}

@compute @workgroup_size(1)
fn segment_reduce_args() {
  // The same folding as workgroupGrid in sim/gpu/compute.ts: x * y >= count, x and y within the limit.
  let count = atomicLoad(&long_args[3]);
  let y = max(1u, (count + params.max_per_dimension - 1u) / params.max_per_dimension);
  atomicStore(&long_args[0], (count + y - 1u) / y);
  atomicStore(&long_args[1], y);
  atomicStore(&long_args[2], 1u);
  long_list[params.keys] = count;
}

@compute @workgroup_size(REDUCE_WG)
fn segment_reduce_long(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  if (t == 0u) { long_count = long_list[params.keys]; }
  let count = workgroupUniformLoad(&long_count); // uniform for the barriers of reduce_long
  let w = wid.x + wid.y * nwg.x;
  if (w >= count) { return; }
  let k = long_list[w];
  reduce_long(k, offsets[k], offsets[k + 1u], t);
}
