/**
 * WebGPU kernels of the `Node` and `Hub` kinds of the deliveries scenario: the WGSL twins of
 * ./cpu.ts, as bodies of `fn kernel_item(a: u32)` over the names the runtime generates per function
 * (sim/gpu/codegen.ts; docs/webgpu.md).
 *
 * Every integer the CPU forms as a JS number below 2^53 is formed here in 32-bit words: the helpers
 * below ({@link WIDE_WGSL}) multiply two u32 into a 64-bit vec2u(lo, hi) and add such values with
 * carry, so products (id · amount, squared distances in position units) and sums (graph flows,
 * Σ (j − i)) are exact and equal to the CPU's bit for bit. Transfer amounts, edge flows and jiggle
 * moves use the integer formulas of actors/deliveries (transferAmount, edgeFlow, jiggleMove);
 * positions stay multiples of 2^-16, so their f32 arithmetic is exact too. Only the hub mean and std
 * come from f32 reductions (REDUCE_TOLERANCE of the CPU's f64 ones).
 */
import { POSITION_UNIT, STREAM } from '../../actors/deliveries/index.js';
import type { WebGpuKernelRegistration } from '../../src/kernel.js';

/** 64-bit unsigned (or two's complement) integers as vec2u(lo, hi). */
export const WIDE_WGSL = /* wgsl */ `
// a · b exactly, from four 16 × 16-bit products. mid = a0·b1 + (a0·b0 >> 16) < 2^32 cannot
// overflow; adding a1·b0 can, and its carry is worth 2^48, i.e. 2^16 in the high word.
fn wide_mul(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let mid = a0 * b1 + (p00 >> 16u);
  let mid2 = mid + a1 * b0;
  let carry = select(0u, 0x10000u, mid2 < mid);
  return vec2u((mid2 << 16u) | (p00 & 0xffffu), a1 * b1 + (mid2 >> 16u) + carry);
}
fn wide_add(a: vec2u, b: vec2u) -> vec2u {
  let lo = a.x + b.x;
  return vec2u(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
// Sign-extends an i32 to 64 bits.
fn wide_from_i32(v: i32) -> vec2u {
  return vec2u(bitcast<u32>(v), select(0u, 0xffffffffu, v < 0));
}
fn wide_less(a: vec2u, b: vec2u) -> bool {
  return a.y < b.y || (a.y == b.y && a.x < b.x);
}
`;

/**
 * paramUnits, transferAmount, edgeFlow and jiggleMove of actors/deliveries (values ≥ 0), in 32-bit
 * words (needs {@link WIDE_WGSL}). Pure functions: test/parity-deliveries.test.ts runs them on edge
 * and random inputs against the TypeScript ones.
 */
export const FORMULAS_WGSL = /* wgsl */ `
// A parameter in [0, 1] as a count of 2^-16 (exact: p · 2^16 is an f32 product by a power of two).
fn deliveries_units(p: f32) -> u32 {
  return u32(p * 65536.0);
}
// ⌊⌊value · share⌋ · u⌋: cap = ⌊value · share_units / 2^16⌋ split at bit 16 (each part < 2^31), then
// ⌊cap · (draw >> 16) / 2^16⌋ from the 64-bit product (< 2^46).
fn deliveries_transfer_amount(value: i32, share_units: u32, draw: u32) -> i32 {
  let v = u32(value);
  let cap = (v >> 16u) * share_units + (((v & 0xffffu) * share_units) >> 16u);
  let p = wide_mul(cap, draw >> 16u);
  return i32((p.y << 16u) | (p.x >> 16u));
}
// ⌊k · value / 64⌋ with k = ⌊64 · weight⌋ ≤ 64, split at bit 6: k · ⌊value / 64⌋ < 2^31.
fn deliveries_edge_flow(weight: f32, value: i32) -> i32 {
  let k = u32(weight * 64.0);
  let v = u32(value);
  return i32(k * (v >> 6u) + ((k * (v & 63u)) >> 6u));
}
// One axis of a jiggle move in position units: z = 2 (a + b + c) - 3 · 4095 from the top 12 bits of
// three draws, then (z · units) >> 12 (|z · units| < 2^30; >> on i32 is arithmetic, as JS's).
fn deliveries_jiggle_move(units: u32, d0: u32, d1: u32, d2: u32) -> i32 {
  let z = 2 * i32((d0 >> 20u) + (d1 >> 20u) + (d2 >> 20u)) - 3 * 4095;
  return (z * i32(units)) >> 12u;
}
`;

export const kernels: WebGpuKernelRegistration[] = [
  {
    kernel: 'deliveries.emit',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${WIDE_WGSL}${FORMULAS_WGSL}
fn kernel_item(i: u32) {
  let n = sim.count;
  let v = state_value[i];
  // Direct: two transfers, deducted from the balance by absorb through outflow.
  let t1 = (i * 7u + sim.step % n) % n;
  let t2 = (i + 1u) % n;
  let share_units = deliveries_units(param_share);
  let a1 = deliveries_transfer_amount(v, share_units, rng_u32_for(i, ${STREAM.transfer}u, 0u));
  let a2 = deliveries_transfer_amount(v, share_units, rng_u32_for(i, ${STREAM.transfer}u, 1u));
  let s1 = emit_Node_transfer(i, t1);
  if (s1 < 0) { return; }
  out_Node_transfer_amount[s1] = a1;
  let s2 = emit_Node_transfer(i, t2);
  if (s2 < 0) { return; }
  out_Node_transfer_amount[s2] = a2;
  next_outflow[i] = a1 + a2;
  let addr = wide_add(wide_mul(t1, u32(a1)), wide_mul(t2, u32(a2)));
  next_sentAddrLo[i] = addr.x;
  next_sentAddrHi[i] = addr.y;
  // Direct, sparse: a ping to a random node (the uniform draw is exact in f32, as on the CPU).
  var sent = state_pingsSent[i];
  if (rng_uniform_for(i, ${STREAM.ping}u, 0u) < param_pingRate) {
    let s = emit_Node_ping(i, rng_u32_for(i, ${STREAM.ping}u, 1u) % n);
    if (s < 0) { return; }
    out_Node_ping_hop[s] = sim.step;
    sent++;
  }
  next_pingsSent[i] = sent;
  // Bucket: the balance to the hub.
  let r = emit_Node_report(i, state_group[i]);
  if (r < 0) { return; }
  out_Node_report_value[r] = v;
  // Spatial: the position.
  let l = emit_Node_location(i, 0u);
  if (l < 0) { return; }
  out_Node_location_x[l] = state_x[i];
  out_Node_location_y[l] = state_y[i];
  out_Node_location_z[l] = state_z[i];
  // Graph forward: one record per out-edge, written by the source.
  var out = vec2u(0u);
  for (var e = graph_links_rowPtr[i]; e < graph_links_rowPtr[i + 1u]; e++) {
    let f = deliveries_edge_flow(graph_links_weight[e], v);
    col_Node_flow_flow[e] = f;
    out = wide_add(out, wide_from_i32(f));
  }
  next_graphOutLo[i] = out.x;
  next_graphOutHi[i] = out.y;
  // Graph backward: one record per in-edge, written by the destination.
  var back = vec2u(0u);
  for (var q = graph_links_inRowPtr[i]; q < graph_links_inRowPtr[i + 1u]; q++) {
    let e = graph_links_inEdge[q];
    let f = deliveries_edge_flow(graph_links_weight[e], v);
    col_Node_echo_echo[e] = f;
    back = wide_add(back, wide_from_i32(f));
  }
  next_echoSentLo[i] = back.x;
  next_echoSentHi[i] = back.y;
}
`,
  },
  {
    kernel: 'deliveries.collect',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(h: u32) {
  let count = in_Node_report_value_count[h];
  // The exact sum (an i32: at most the total balance), from the hub's records.
  var total = 0;
  for (var q = in_Node_report_offsets[h]; q < in_Node_report_offsets[h + 1u]; q++) {
    total += in_Node_report_value[q];
  }
  // An empty bucket reduces to min +Inf, max -Inf: publish 0 instead (state must be finite).
  let some = count > 0u;
  let mean = select(0.0, in_Node_report_value_mean[h], some);
  let deviation = select(0.0, in_Node_report_value_std[h], some);
  let lo = select(0.0, in_Node_report_value_min[h], some);
  let hi = select(0.0, in_Node_report_value_max[h], some);
  next_count[h] = count;
  next_sum[h] = total;
  next_mean[h] = mean;
  next_std[h] = deviation;
  next_min[h] = lo;
  next_max[h] = hi;
  col_Hub_stats_count[h] = count;
  col_Hub_stats_sum[h] = total;
  col_Hub_stats_mean[h] = mean;
  col_Hub_stats_std[h] = deviation;
  col_Hub_stats_min[h] = lo;
  col_Hub_stats_max[h] = hi;
}
`,
  },
  {
    kernel: 'deliveries.absorb',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${WIDE_WGSL}
fn kernel_item(i: u32) {
  // Direct: tokens in, in (sender, sequence) order.
  var received = 0;
  for (var r = in_Node_transfer_offsets[i]; r < in_Node_transfer_offsets[i + 1u]; r++) {
    received += in_Node_transfer_amount[r];
  }
  next_value[i] = state_value[i] - state_outflow[i] + received;
  let addr = wide_mul(i, u32(received));
  next_recvAddrLo[i] = addr.x;
  next_recvAddrHi[i] = addr.y;
  // Array: the hub's record, by hub index.
  let g = state_group[i];
  next_hubMean[i] = col_Hub_stats_mean[g];
  next_hubCount[i] = col_Hub_stats_count[g];
  // Spatial: other nodes within the radius, over the 3×3×3 cells around this node's (clamped) cell,
  // cell strip by cell strip (cells lo.x..hi.x of a row are adjacent keys). Positions are multiples
  // of 2^-16 below 2^7 and the radius a multiple of 2^-8: in units of 2^-16 they are exact i32, and
  // squared distances exact 64-bit integers, compared with the squared radius as on the CPU.
  let p = vec3f(state_x[i], state_y[i], state_z[i]);
  let pq = vec3i(p * 65536.0);
  let dims = in_Node_location_grid_dims;
  let c = in_Node_location_cell(p);
  let lo = max(c, vec3u(1u)) - vec3u(1u);
  let hi = min(c + vec3u(1u), dims - vec3u(1u));
  let rq = u32(in_Node_location_radius * 65536.0);
  let r2 = wide_mul(rq, rq);
  var count = 0u;
  var skew = vec2u(0u);
  for (var zz = lo.z; zz <= hi.z; zz++) {
    for (var yy = lo.y; yy <= hi.y; yy++) {
      let row = (zz * dims.y + yy) * dims.x;
      let first = in_Node_location_offsets[row + lo.x];
      let end = in_Node_location_offsets[row + hi.x + 1u];
      for (var j = first; j < end; j++) {
        let s = in_Node_location_sender[j];
        if (s == i) { continue; }
        let d = vec3u(abs(vec3i(vec3f(in_Node_location_x[j], in_Node_location_y[j], in_Node_location_z[j]) * 65536.0) - pq));
        if (any(d >= vec3u(rq))) { continue; } // farther than the radius along one axis
        let d2 = wide_add(wide_add(wide_mul(d.x, d.x), wide_mul(d.y, d.y)), wide_mul(d.z, d.z));
        if (wide_less(d2, r2)) {
          count++;
          skew = wide_add(skew, wide_from_i32(i32(s) - i32(i)));
        }
      }
    }
  }
  next_neighbours[i] = count;
  next_neighbourSkewLo[i] = skew.x;
  next_neighbourSkewHi[i] = bitcast<i32>(skew.y);
  // Graph forward: flows on in-edges, in (source, edge) order.
  var fin = vec2u(0u);
  for (var q = graph_links_inRowPtr[i]; q < graph_links_inRowPtr[i + 1u]; q++) {
    fin = wide_add(fin, wide_from_i32(col_Node_flow_flow[graph_links_inEdge[q]]));
  }
  next_inflowLo[i] = fin.x;
  next_inflowHi[i] = fin.y;
  // Graph backward: echoes on out-edges.
  var bin = vec2u(0u);
  for (var e = graph_links_rowPtr[i]; e < graph_links_rowPtr[i + 1u]; e++) {
    bin = wide_add(bin, wide_from_i32(col_Node_echo_echo[e]));
  }
  next_backflowLo[i] = bin.x;
  next_backflowHi[i] = bin.y;
}
`,
  },
  {
    kernel: 'deliveries.onPing',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(i: u32) {
  next_pingsReceived[i] = state_pingsReceived[i] + (in_Node_ping_offsets[i + 1u] - in_Node_ping_offsets[i]);
}
`,
  },
  {
    kernel: 'deliveries.jiggle',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${WIDE_WGSL}${FORMULAS_WGSL}
const DELIVERIES_POSITION_UNIT: f32 = ${POSITION_UNIT};
// The coordinate plus a whole number of position units (exact: a multiple of 2^-16 below 2^7),
// clamped to [-1, bound].
fn deliveries_move(p: f32, i: u32, axis: u32, units: u32) -> f32 {
  let c = 3u * axis;
  let m = deliveries_jiggle_move(units, rng_u32_for(i, ${STREAM.jiggle}u, c), rng_u32_for(i, ${STREAM.jiggle}u, c + 1u), rng_u32_for(i, ${STREAM.jiggle}u, c + 2u));
  return min(max(p + f32(m) * DELIVERIES_POSITION_UNIT, -1.0), param_bound);
}
fn kernel_item(i: u32) {
  let units = deliveries_units(param_jiggle);
  next_x[i] = deliveries_move(state_x[i], i, 0u, units);
  next_y[i] = deliveries_move(state_y[i], i, 1u, units);
  next_z[i] = deliveries_move(state_z[i], i, 2u, units);
  next_ticks[i] = state_ticks[i] + 1u;
}
`,
  },
];
