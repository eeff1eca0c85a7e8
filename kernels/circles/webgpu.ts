/**
 * WebGPU kernels of `CirclesAgent`: the WGSL twins of kernels/circles/cpu.ts, as bodies of
 * `fn kernel_item(a: u32)` over the names the runtime generates per function (sim/gpu/codegen.ts).
 *
 * - `circles.output`: one spatial record per agent, its position.
 * - `circles.move`: the force of every neighbour within `radius`, read cell strip by cell strip (for a
 *   fixed (cy, cz), cells cx−reach..cx+reach are adjacent keys, so their records are one contiguous
 *   range of the sorted list), reach = ceil(radius / cellSize). Unlike the CPU it does not prune rows
 *   and strips by the sphere: uniform loops keep the invocations of a workgroup in step. One invocation per agent in storage order; the
 *   scenario stores agents in cell order, so neighbouring invocations read neighbouring records.
 *
 * sin is {@link CIRCLES_SIN_WGSL}, the same reduction and Taylor polynomial as the CPU's `fastSin`,
 * rather than WGSL's `sin`, whose accuracy the spec bounds only on [−π, π] (2^-11 absolute there):
 * the argument here spans [−2π', 0], and a polynomial gives the same answer on every GPU.
 *
 * Agreement with the CPU (which sums forces in f64 and rounds positions to f32): see
 * test/parity-circles.test.ts for the measured differences and the declared tolerance.
 */
import type { WebGpuKernelRegistration } from '../../src/kernel.js';

/** sin(x) in f32: reduction to [−π/2, π/2] and the Taylor series to x¹³ (fastSin in cpu.ts). */
export const CIRCLES_SIN_WGSL = /* wgsl */ `
const CIRCLES_PI: f32 = 3.141592653589793;
const CIRCLES_TWO_PI: f32 = 6.283185307179586;
const CIRCLES_HALF_PI: f32 = 1.5707963267948966;
const CIRCLES_INV_TWO_PI: f32 = 0.15915494309189535;
fn circles_sin(x_in: f32) -> f32 {
  var x = x_in - CIRCLES_TWO_PI * floor(x_in * CIRCLES_INV_TWO_PI + 0.5);
  if (x > CIRCLES_HALF_PI) {
    x = CIRCLES_PI - x;
  } else if (x < -CIRCLES_HALF_PI) {
    x = -CIRCLES_PI - x;
  }
  let x2 = x * x;
  return x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362880.0 + x2 * (-1.0 / 39916800.0 + x2 * (1.0 / 6227020800.0)))))));
}
`;

export const kernels: WebGpuKernelRegistration[] = [
  {
    kernel: 'circles.output',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
  let s = emit_CirclesAgent_location(a, 0u);
  if (s < 0) { return; }
  let slot = u32(s);
  out_CirclesAgent_location_x[slot] = state_x[a];
  out_CirclesAgent_location_y[slot] = state_y[a];
  out_CirclesAgent_location_z[slot] = state_z[a];
}
`,
  },
  {
    kernel: 'circles.move',
    backend: 'webgpu',
    wgsl: /* wgsl */ `${CIRCLES_SIN_WGSL}
fn kernel_item(a: u32) {
  let p = vec3f(state_x[a], state_y[a], state_z[a]);
  let dims = in_CirclesAgent_location_grid_dims;
  let c = in_CirclesAgent_location_cell(p);
  let radius = in_CirclesAgent_location_radius;
  // Cells to visit on each side, per axis: ceil(radius / cellSize) (an f32 product a hair above an integer
  // adds one more layer of cells, which costs time, never results).
  let reach = vec3u(ceil(radius * in_CirclesAgent_location_inv_cell_size));
  // c - reach and c + reach clamped into the grid.
  let lo = max(c, reach) - reach;
  let hi = min(c + reach, dims - vec3u(1u));
  let scale = (3.141 * -2.0) / radius;
  var f = vec3f(0.0);
  var count = 0u;
  for (var zz = lo.z; zz <= hi.z; zz++) {
    for (var yy = lo.y; yy <= hi.y; yy++) {
      let row = (zz * dims.y + yy) * dims.x;
      let first = in_CirclesAgent_location_offsets[row + lo.x];
      let end = in_CirclesAgent_location_offsets[row + hi.x + 1u];
      for (var j = first; j < end; j++) {
        let d = vec3f(in_CirclesAgent_location_x[j], in_CirclesAgent_location_y[j], in_CirclesAgent_location_z[j]) - p;
        let d2 = d.x * d.x + d.y * d.y + d.z * d.z;
        // d2 > 0 excludes the agent's own record (and agents at the same point), as on the CPU.
        if (d2 < radius * radius && d2 > 0.0) {
          let dist = sqrt(d2);
          f += (circles_sin(dist * scale) * param_repulse / dist) * d;
          count++;
        }
      }
    }
  }
  f = f / f32(max(count, 1u));
  next_x[a] = p.x + f.x;
  next_y[a] = p.y + f.y;
  next_z[a] = p.z + f.z;
  next_drift[a] = sqrt(f.x * f.x + f.y * f.y + f.z * f.z);
}
`,
  },
];
