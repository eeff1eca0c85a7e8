/** CPU kernels of the tiny model of the `step` bench (see ./tiny.ts). */
import type { KernelRegistration } from '../../src/kernel.js';

export const kernels: KernelRegistration[] = [
  {
    kernel: 'tiny.ping',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const out = ctx.out['Pinger.ping']!;
      const mx = out.fields.x!;
      const pongers = ctx.params.pongers!;
      for (let i = start; i < end; i++) {
        const s = out.emit(i, i % pongers);
        if (s < 0) return;
        mx[s] = x[i]!;
      }
    },
  },
  {
    kernel: 'tiny.affine',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const nx = ctx.next.x!;
      const a = ctx.params.a!;
      const b = ctx.params.b!;
      for (let i = start; i < end; i++) nx[i] = x[i]! * a + b;
    },
  },
  {
    kernel: 'tiny.pong',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const inp = ctx.in['Pinger.ping']!;
      const off = inp.offsets;
      const mx = inp.fields.x!;
      const total = ctx.state.total!;
      const next = ctx.next.total!;
      for (let r = start; r < end; r++) {
        let s = 0;
        for (let q = off[r]!, b = off[r + 1]!; q < b; q++) s += mx[q]!;
        next[r] = total[r]! * 0.5 + s;
      }
    },
  },
];
