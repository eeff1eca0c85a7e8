/** CPU kernels of the `step` bench's large models (see ./oscillator.ts for the equations). */
import type { KernelRegistration } from '../../src/kernel.js';

export const kernels: KernelRegistration[] = [
  {
    kernel: 'damped.integrate',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const vx = ctx.state.vx!;
      const vy = ctx.state.vy!;
      const nx = ctx.next.x!;
      const ny = ctx.next.y!;
      const nvx = ctx.next.vx!;
      const nvy = ctx.next.vy!;
      const k = ctx.params.k!;
      const c = ctx.params.c!;
      const dt = ctx.dt;
      for (let i = start; i < end; i++) {
        const px = x[i]!;
        const py = y[i]!;
        const ux = vx[i]! + (-k * px - c * vx[i]!) * dt;
        const uy = vy[i]! + (-k * py - c * vy[i]!) * dt;
        nvx[i] = ux;
        nvy[i] = uy;
        nx[i] = px + ux * dt;
        ny[i] = py + uy * dt;
      }
    },
  },
  {
    kernel: 'chain.publish',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const out = ctx.out['Chain.pull']!;
      const mx = out.fields.x!;
      const n = ctx.count;
      for (let i = start; i < end; i++) {
        const s = out.emit(i, i + 1 === n ? 0 : i + 1);
        if (s < 0) return;
        mx[s] = x[i]!;
      }
    },
  },
  {
    kernel: 'chain.integrate',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const v = ctx.state.v!;
      const nx = ctx.next.x!;
      const nv = ctx.next.v!;
      const inp = ctx.in['Chain.pull']!;
      const off = inp.offsets;
      const mx = inp.fields.x!;
      const k = ctx.params.k!;
      const c = ctx.params.c!;
      const g = ctx.params.g!;
      const dt = ctx.dt;
      for (let i = start; i < end; i++) {
        const xi = x[i]!;
        const vi = v[i]!;
        let f = 0;
        for (let q = off[i]!, b = off[i + 1]!; q < b; q++) f += g * (mx[q]! - xi);
        const u = vi + (-k * xi - c * vi + f) * dt;
        nv[i] = u;
        nx[i] = xi + u * dt;
      }
    },
  },
];
