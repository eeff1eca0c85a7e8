/**
 * CPU kernels of `CirclesAgent` (see actors/circles).
 *
 * Measured on the 2-core dev machine at 1M agents (one thread's half): visiting agents in storage
 * order took 2.0 s (random memory access into a 12 MB message list), in cell order 1.3 s, and with
 * {@link fastSin} instead of Math.sin (40 ns a call in V8) 0.65 s. So the move kernel:
 * - reads neighbours cell strip by cell strip: for a fixed (cy, cz), the cells of a row are adjacent
 *   keys, so the cells it needs are one contiguous range of the sorted list. It visits only the rows
 *   (within ceil(radius / cellSize) cells in y and z) that the sphere of `radius` around the agent
 *   reaches, and in each row only the x-cells the sphere's chord spans: at density 1, ≈ 165
 *   candidate records per agent with cells of side radius (216 for the whole 3×3×3 block), ≈ 116
 *   with the default cells (radius/4 in x, the radius in y and z: the same 9 rows, tighter strips),
 *   ≈ 85 with cubes of side radius/2 (25 rows);
 * - visits agents in the order of the sorted message list when every agent sent exactly one record
 *   (item q of the partition is the agent `sender[q]`), else in storage order; each agent's result
 *   depends only on its neighbours, so the order changes speed, not results.
 * Self is excluded by d > 0 (its own record sits at distance 0), as in the reference.
 */
import type { KernelRegistration } from '../../src/kernel.js';

const TWO_PI = 2 * Math.PI;
const HALF_PI = Math.PI / 2;
const INV_TWO_PI = 1 / TWO_PI;
const S3 = -1 / 6;
const S5 = 1 / 120;
const S7 = -1 / 5040;
const S9 = 1 / 362880;
const S11 = -1 / 39916800;
const S13 = 1 / 6227020800;

/**
 * sin(x) to within 6e-8 absolute (below f32 resolution of the results): reduction to [−π/2, π/2]
 * and the Taylor series to x¹³.
 */
export function fastSin(x: number): number {
  // Reduce to [−π, π]: x − 2π·round(x / 2π) (floor(y + 0.5) is round for these magnitudes).
  x -= TWO_PI * Math.floor(x * INV_TWO_PI + 0.5);
  if (x > HALF_PI) x = Math.PI - x;
  else if (x < -HALF_PI) x = -Math.PI - x;
  const x2 = x * x;
  return x * (1 + x2 * (S3 + x2 * (S5 + x2 * (S7 + x2 * (S9 + x2 * (S11 + x2 * S13))))));
}

export const kernels: KernelRegistration[] = [
  {
    kernel: 'circles.output',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const z = ctx.state.z!;
      const out = ctx.out['CirclesAgent.location']!;
      const mx = out.fields.x!;
      const my = out.fields.y!;
      const mz = out.fields.z!;
      for (let i = start; i < end; i++) {
        const s = out.emit(i, 0);
        mx[s] = x[i]!;
        my[s] = y[i]!;
        mz[s] = z[i]!;
      }
    },
  },
  {
    kernel: 'circles.move',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const z = ctx.state.z!;
      const nx = ctx.next.x!;
      const ny = ctx.next.y!;
      const nz = ctx.next.z!;
      const drift = ctx.next.drift!;
      const inp = ctx.in['CirclesAgent.location']!;
      const grid = inp.grid!;
      const off = inp.offsets;
      const snd = inp.sender;
      const mx = inp.fields.x!;
      const my = inp.fields.y!;
      const mz = inp.fields.z!;
      const radius = grid.radius;
      const r2 = radius * radius;
      const repulse = ctx.params.repulse!;
      const [csx, csy, csz] = grid.cellSize;
      const invx = 1 / csx;
      const invy = 1 / csy;
      const invz = 1 / csz;
      const reachY = Math.ceil(radius * invy);
      const reachZ = Math.ceil(radius * invz);
      // Slack for the pruning bounds below (relative 1e-9 of the radius, far above f64 rounding of
      // positions < 2^24): a row or cell is skipped only when no record in it can lie within radius.
      const slack = radius * 1e-9;
      const [gx, gy, gz] = grid.min as [number, number, number];
      const [dx, dy, dz] = grid.dims as [number, number, number];
      const scale = (3.141 * -2) / radius;
      // Cell order when the sorted list holds exactly one record per agent (see the file comment).
      const cellOrder = inp.count === ctx.count;
      for (let q = start; q < end; q++) {
        const i = cellOrder ? snd[q]! : q;
        const x1 = cellOrder ? mx[q]! : x[i]!;
        const y1 = cellOrder ? my[q]! : y[i]!;
        const z1 = cellOrder ? mz[q]! : z[i]!;
        let cy = Math.floor((y1 - gy) * invy);
        let cz = Math.floor((z1 - gz) * invz);
        cy = cy < 0 ? 0 : cy >= dy ? dy - 1 : cy;
        cz = cz < 0 ? 0 : cz >= dz ? dz - 1 : cz;
        let fx = 0;
        let fy = 0;
        let fz = 0;
        let count = 0;
        for (let zz = cz > reachZ ? cz - reachZ : 0, zEnd = cz < dz - 1 - reachZ ? cz + reachZ : dz - 1; zz <= zEnd; zz++) {
          // Least |z − z1| over the records of layer zz (border layers also hold clamped records, which
          // lie further out, so the bound stays a lower bound).
          const ez = zz < cz ? z1 - (gz + (zz + 1) * csz) - slack : zz > cz ? gz + zz * csz - z1 - slack : 0;
          const rz = ez > 0 ? r2 - ez * ez : r2;
          if (rz <= 0) continue;
          for (let yy = cy > reachY ? cy - reachY : 0, yEnd = cy < dy - 1 - reachY ? cy + reachY : dy - 1; yy <= yEnd; yy++) {
            const ey = yy < cy ? y1 - (gy + (yy + 1) * csy) - slack : yy > cy ? gy + yy * csy - y1 - slack : 0;
            const ryz = ey > 0 ? rz - ey * ey : rz;
            if (ryz <= 0) continue;
            // Cells of this row that can hold a record with |x − x1| < w: cellOf is monotone in x.
            const w = Math.sqrt(ryz) + slack;
            let xa = Math.floor((x1 - w - gx) * invx);
            let xb = Math.floor((x1 + w - gx) * invx);
            xa = xa < 0 ? 0 : xa >= dx ? dx - 1 : xa;
            xb = xb < 0 ? 0 : xb >= dx ? dx - 1 : xb;
            const row = (zz * dy + yy) * dx;
            const a = off[row + xa]!;
            const b = off[row + xb + 1]!;
            for (let j = a; j < b; j++) {
              const ddx = mx[j]! - x1;
              const ddy = my[j]! - y1;
              const ddz = mz[j]! - z1;
              const d2 = ddx * ddx + ddy * ddy + ddz * ddz;
              if (d2 < r2 && d2 > 0) {
                const d = Math.sqrt(d2);
                const k = (fastSin(d * scale) * repulse) / d;
                fx += k * ddx;
                fy += k * ddy;
                fz += k * ddz;
                count++;
              }
            }
          }
        }
        const c = count > 0 ? count : 1;
        fx /= c;
        fy /= c;
        fz /= c;
        nx[i] = x1 + fx;
        ny[i] = y1 + fy;
        nz[i] = z1 + fz;
        drift[i] = Math.sqrt(fx * fx + fy * fy + fz * fz);
      }
    },
  },
];
