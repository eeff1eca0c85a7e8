/**
 * WebGPU kernels of the water-filling model: the WGSL twins of kernels/water-filling/cpu.ts, as bodies
 * of `fn kernel_item(a: u32)` over the names the runtime generates (sim/gpu/codegen.ts).
 *
 * Differences from the CPU, all from f32 arithmetic (the CPU computes in f64 and rounds to f32 where
 * the state or a message holds the value): the bucket mean and std are f32 reductions; the prominence
 * test ‖e‖ − μ > τ(σ + 0.1) subtracts in f32; tanh is WGSL's (its argument clamped to ±20, where
 * tanh is ±1 in f32, because some implementations compute it through exp and overflow); the balanced
 * mode's Φ(z) and candidate directions use f32 exp and trig. So a point whose decision sits within
 * f32 rounding of a threshold can go the other way: test/water-filling-parity.test.ts bounds how many.
 * Exact selection thresholds (balanced) are bisections over the f32 bit patterns of the norms
 * (positive floats order as their bits), which give the same value as the CPU's sort.
 *
 * `waterFilling.point.tally` is a no-op here: a GPU run reads its per-pass sums from the backend's
 * reductions of the state columns (stepAndReduce), not from the block tallies.
 */
import type { WebGpuKernelRegistration } from '../../src/kernel.js';

/** Nearest shell radius (ties to the lower index) over `state_radius` of the Shell kind (nearestShell in geometry.ts). */
const NEAREST_WGSL = /* wgsl */ `
fn wf_nearest(r: f32) -> u32 {
  let s = sim.count;
  let r0 = state_radius[0u];
  let span = state_radius[s - 1u] - r0;
  let u = (r - r0) / span;
  var k = 0u;
  if (u >= 1.0) {
    k = s - 1u;
  } else if (u > 0.0) {
    k = min(u32(floor(u * u * f32(s - 1u))), s - 1u);
  }
  loop {
    if (k + 1u < s && state_radius[k + 1u] <= r) { k++; } else { break; }
  }
  loop {
    if (k > 0u && state_radius[k] > r) { k--; } else { break; }
  }
  if (k + 1u < s) {
    let dLo = abs(r - state_radius[k]);
    let dHi = abs(state_radius[k + 1u] - r);
    if (dHi < dLo) { return k + 1u; }
  }
  return k;
}
`;

/** compat's 16 lateral steps (COMPAT_DTHETA, COMPAT_DPHI in reference.ts), as f32. */
const COMPAT_STEPS_WGSL = /* wgsl */ `
var<private> WF_DTHETA: array<f32, 16> = array<f32, 16>(0.0, 0.0110148378, 0.0149537604, 0.00928640924, -0.00234651705, -0.0124720437, -0.014585549, -0.00732931867, 0.00463525485, 0.013622148, 0.0138581926, 0.00519175595, -0.00680985767, -0.0144368289, -0.0127896024, -0.00292635476);
var<private> WF_DPHI: array<f32, 16> = array<f32, 16>(0.0299999993, 0.00352612184, -0.029171098, -0.0103835119, 0.0267301966, 0.0166671071, -0.0228121784, -0.0220296755, 0.0176335573, 0.0261748806, -0.0114805028, -0.0288736578, 0.00469303411, 0.0299768709, 0.00235377299, -0.0294235591);
const WF_THETA_LO: f32 = 9.99999997e-7;
const WF_THETA_HI: f32 = 3.14159179;
const WF_TWO_PI: f32 = 6.28318548;
`;

/** The angular cell of (θ, φ): bands equal in cos θ times sectors in φ (angularCellOf in geometry.ts). */
const CELL_WGSL = /* wgsl */ `
fn wf_cell(theta: f32, phi: f32) -> u32 {
  let bands = u32(param_bands);
  let sectors = u32(param_sectors);
  let b = u32(clamp(floor((1.0 - cos(theta)) * 0.5 * f32(bands)), 0.0, f32(bands - 1u)));
  let two_pi = 6.28318548;
  let p = phi - two_pi * floor(phi / two_pi);
  let s = u32(clamp(floor(p / two_pi * f32(sectors)), 0.0, f32(sectors - 1u)));
  return b * sectors + s;
}
`;

/**
 * Exact selection over shell a's records of `Point.sample` (norms ≥ 0, whose f32 bits order as the
 * values): the m-th largest (`largest`) or smallest norm by bisection over the bit patterns, then the
 * tie id as selectThreshold in reference.ts. Returns (value bits, tie id).
 */
const SELECT_WGSL = /* wgsl */ `
fn wf_select(a0: u32, b0: u32, m: u32, largest: bool) -> vec2u {
  // largest: the greatest T with #(bits ≥ T) ≥ m; smallest: the least T with #(bits ≤ T) ≥ m.
  var lo = 0u;
  var hi = 0x7f800000u;
  loop {
    if (lo >= hi) { break; }
    var mid: u32;
    if (largest) { mid = lo + (hi - lo + 1u) / 2u; } else { mid = lo + (hi - lo) / 2u; }
    var n = 0u;
    for (var j = a0; j < b0; j++) {
      let v = bitcast<u32>(in_Point_sample_norm[j]);
      if ((largest && v >= mid) || (!largest && v <= mid)) { n++; }
    }
    if (largest) {
      if (n >= m) { lo = mid; } else { hi = mid - 1u; }
    } else {
      if (n >= m) { hi = mid; } else { lo = mid + 1u; }
    }
  }
  let t = lo;
  var beyond = 0u;
  for (var j = a0; j < b0; j++) {
    let v = bitcast<u32>(in_Point_sample_norm[j]);
    if ((largest && v > t) || (!largest && v < t)) { beyond++; }
  }
  var need = m - beyond;
  var tie = select(0xffffffffu, 0u, largest);
  if (largest) {
    for (var j = a0; j < b0; j++) {
      if (need == 0u) { break; }
      if (bitcast<u32>(in_Point_sample_norm[j]) == t) { tie = in_Point_sample_sender[j]; need--; }
    }
  } else {
    var j = b0;
    loop {
      if (j <= a0 || need == 0u) { break; }
      j--;
      if (bitcast<u32>(in_Point_sample_norm[j]) == t) { tie = in_Point_sample_sender[j]; need--; }
    }
  }
  return vec2u(t, tie);
}
`;

/** Standard normal CDF (normalCdf in reference.ts: Abramowitz–Stegun 7.1.26), in f32. */
const CDF_WGSL = /* wgsl */ `
fn wf_cdf(z: f32) -> f32 {
  let x = abs(z) / 1.41421356;
  let t = 1.0 / (1.0 + 0.3275911 * x);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(0.5 * (1.0 - y), 0.5 * (1.0 + y), z >= 0.0);
}
`;

export const kernels: WebGpuKernelRegistration[] = [
  {
    kernel: 'waterFilling.point.tally',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
  // Nothing to do on the GPU: the per-pass sums come from the backend's reductions (see the file comment).
}
`,
  },
  {
    kernel: 'waterFilling.point.report',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
  let s = emit_Point_sample(a, state_shell[a]);
  if (s < 0) { return; }
  out_Point_sample_norm[u32(s)] = state_norm[a];
}
`,
  },
  {
    kernel: 'waterFilling.point.reportCells',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${CELL_WGSL}
fn kernel_item(a: u32) {
  let k = state_shell[a];
  let s = emit_Point_sample(a, k);
  if (s < 0) { return; }
  out_Point_sample_norm[u32(s)] = state_norm[a];
  let cells = u32(param_bands) * u32(param_sectors);
  _ = emit_Point_cellSample(a, k * cells + wf_cell(state_theta[a], state_phi[a]));
}
`,
  },
  {
    kernel: 'waterFilling.shell.compat',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${NEAREST_WGSL}
fn kernel_item(a: u32) {
  let c = f32(in_Point_sample_norm_count[a]);
  let cp = state_capacity[a];
  let factor = 1.0 - 0.02 * tanh(clamp((c - cp) / (cp + 1.0), -20.0, 20.0));
  let last = sim.count - 1u;
  let ra = state_radius[a] * factor;
  let rb = state_radius[min(a + 1u, last)] * factor;
  col_Shell_stats_mean[a] = in_Point_sample_norm_mean[a];
  col_Shell_stats_spread[a] = param_tau * (in_Point_sample_norm_std[a] + 0.1);
  col_Shell_stats_rStay[a] = ra;
  col_Shell_stats_rUp[a] = rb;
  col_Shell_stats_kStay[a] = wf_nearest(ra);
  col_Shell_stats_kUp[a] = wf_nearest(rb);
  next_count[a] = in_Point_sample_norm_count[a];
  next_absOverload[a] = abs(c - cp);
  next_outside[a] = 0u;
}
`,
  },
  {
    kernel: 'waterFilling.point.compat',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${COMPAT_STEPS_WGSL}
fn kernel_item(a: u32) {
  let k = state_shell[a];
  let prom = state_norm[a] - col_Shell_stats_mean[k] > col_Shell_stats_spread[k];
  let lat = prom && state_subset[a] == 1u;
  let up = prom && !lat;
  var r2 = col_Shell_stats_rStay[k];
  var k2 = col_Shell_stats_kStay[k];
  if (up) {
    r2 = col_Shell_stats_rUp[k];
    k2 = col_Shell_stats_kUp[k];
  }
  let th = state_theta[a];
  let ph = state_phi[a];
  var t2 = th;
  var p2 = ph;
  if (lat) {
    let d = state_hashDir[a];
    t2 = clamp(th + WF_DTHETA[d], WF_THETA_LO, WF_THETA_HI);
    p2 = ph + WF_DPHI[d];
    p2 = p2 - WF_TWO_PI * floor(p2 / WF_TWO_PI);
  }
  next_r[a] = r2;
  next_shell[a] = k2;
  next_theta[a] = t2;
  next_phi[a] = p2;
  next_promoted[a] = select(0u, 1u, up);
  next_lateralMoved[a] = select(0u, 1u, lat);
  next_delta[a] = abs(r2 - state_r[a]) + abs(t2 - th) + abs(p2 - ph);
}
`,
  },
  {
    kernel: 'waterFilling.shell.balanced',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${SELECT_WGSL}
fn kernel_item(a: u32) {
  var below = 0u;
  for (var j = 0u; j < a; j++) { below += in_Point_sample_norm_count[j]; }
  let c = in_Point_sample_norm_count[a];
  var tNext = sim.count_Point;
  if (a + 1u < sim.count) { tNext = state_target[a + 1u]; }
  let up = u32(clamp(i32(below + c) - i32(tNext), 0, i32(c)));
  let down = u32(clamp(i32(state_target[a]) - i32(below), 0, i32(c - up)));
  let a0 = in_Point_sample_offsets[a];
  let b0 = in_Point_sample_offsets[a + 1u];
  var u = vec2u(0u, 0u);
  var d = vec2u(0u, 0u);
  if (up > 0u) { u = wf_select(a0, b0, up, true); }
  if (down > 0u) { d = wf_select(a0, b0, down, false); }
  col_Shell_stats_upNorm[a] = bitcast<f32>(u.x);
  col_Shell_stats_upTie[a] = u.y;
  col_Shell_stats_downNorm[a] = bitcast<f32>(d.x);
  col_Shell_stats_downTie[a] = d.y;
  col_Shell_stats_mean[a] = in_Point_sample_norm_mean[a];
  col_Shell_stats_std[a] = in_Point_sample_norm_std[a];
  col_Shell_stats_count[a] = c;
  col_Shell_stats_below[a] = below;
  col_Shell_stats_up[a] = up;
  col_Shell_stats_down[a] = down;
  col_Shell_stats_target[a] = state_target[a];
  col_Shell_stats_radius[a] = state_radius[a];
  let dev = abs(f32(c) - state_capacity[a]);
  next_count[a] = c;
  next_absOverload[a] = dev;
  next_outside[a] = select(0u, 1u, dev > max(1.0, param_tolerance * state_capacity[a]));
}
`,
  },
  {
    kernel: 'waterFilling.point.balanced',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${CELL_WGSL}${CDF_WGSL}
fn wf_shell_of_rank(g: f32) -> u32 {
  var lo = 0u;
  var hi = u32(param_shells) - 1u;
  loop {
    if (lo >= hi) { break; }
    let mid = (lo + hi + 1u) / 2u;
    if (f32(col_Shell_stats_target[mid]) <= g) { lo = mid; } else { hi = mid - 1u; }
  }
  return lo;
}
// A direction at angle radius·√u from (θ, φ) towards azimuth 2πv (candidateDirection in reference.ts).
fn wf_candidate(theta: f32, phi: f32, radius: f32, u: f32, v: f32) -> vec2f {
  let al = radius * sqrt(u);
  let be = 6.28318548 * v;
  let st = sin(theta);
  let ct = cos(theta);
  let sp = sin(phi);
  let cp = cos(phi);
  let p = vec3f(st * cp, st * sp, ct);
  let t = vec3f(ct * cp, ct * sp, -st);
  let q = vec3f(-sp, cp, 0.0);
  let w = cos(al) * p + sin(al) * (cos(be) * t + sin(be) * q);
  var ph = atan2(w.y, w.x);
  if (ph < 0.0) { ph += 6.28318548; }
  return vec2f(acos(clamp(w.z, -1.0, 1.0)), ph);
}
fn kernel_item(a: u32) {
  let k = state_shell[a];
  let v = state_norm[a];
  let sd = col_Shell_stats_std[k];
  var z = 0.0;
  if (sd > 0.0) { z = (v - col_Shell_stats_mean[k]) / sd; }
  let nUp = col_Shell_stats_up[k];
  let nDown = col_Shell_stats_down[k];
  let up = nUp > 0u && (v > col_Shell_stats_upNorm[k] || (v == col_Shell_stats_upNorm[k] && a <= col_Shell_stats_upTie[k]));
  let down = nDown > 0u && (v < col_Shell_stats_downNorm[k] || (v == col_Shell_stats_downNorm[k] && a >= col_Shell_stats_downTie[k]));
  let th = state_theta[a];
  let ph = state_phi[a];
  var th2 = th;
  var ph2 = ph;
  var k2 = k;
  var moved = false;
  var prom = 0u;
  var inw = 0u;
  let cells = u32(param_bands) * u32(param_sectors);
  let count = col_Shell_stats_count[k];
  if ((z > param_tau || up) && !down) {
    let base = k * cells;
    let occ0 = f32(col_ShellCell_occupancy_count[base + wf_cell(th, ph)]);
    let m = f32(count) / f32(cells);
    if (occ0 > m && rng_uniform_for(a, 12u, 0u) < (occ0 - m) / occ0) {
      var best = occ0;
      var bt = th;
      var bp = ph;
      for (var j = 0u; j < u32(param_candidates); j++) {
        let c = wf_candidate(th, ph, param_lateralRadius, rng_uniform_for(a, 13u, 2u * j), rng_uniform_for(a, 13u, 2u * j + 1u));
        let oc = f32(col_ShellCell_occupancy_count[base + wf_cell(c.x, c.y)]);
        if (oc < best) {
          best = oc;
          bt = c.x;
          bp = c.y;
        }
      }
      if ((occ0 - 1.0 - best) / m > param_lateralThreshold) {
        th2 = bt;
        ph2 = bp;
        moved = true;
      }
    }
  }
  if (!moved && (up || down)) {
    let b = f32(col_Shell_stats_below[k]);
    var rank = b + wf_cdf(z) * f32(count);
    let last = u32(param_shells) - 1u;
    if (up) {
      rank = max(rank, b + f32(count - nUp));
      k2 = min(last, max(k + 1u, wf_shell_of_rank(rank)));
      prom = 1u;
    } else {
      rank = min(rank, b + f32(nDown) - 1.0);
      k2 = min(max(k, 1u) - 1u, wf_shell_of_rank(rank));
      inw = 1u;
    }
  }
  let r2 = col_Shell_stats_radius[k2];
  next_r[a] = r2;
  next_theta[a] = th2;
  next_phi[a] = ph2;
  next_shell[a] = k2;
  next_promoted[a] = prom;
  next_lateralMoved[a] = select(0u, 1u, moved);
  next_inward[a] = inw;
  next_delta[a] = abs(r2 - state_r[a]) + abs(th2 - th) + abs(ph2 - ph);
}
`,
  },
  {
    kernel: 'waterFilling.cell.publish',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
  let v = in_Point_cellSample_offsets[a + 1u] - in_Point_cellSample_offsets[a];
  col_ShellCell_occupancy_count[a] = v;
  next_occupancy[a] = v;
}
`,
  },
];
