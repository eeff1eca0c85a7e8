/** CPU kernels of the `messages` bench kinds (see ./relay.ts). */
import type { KernelRegistration } from '../../src/kernel.js';

/** 2^-32 (see relayDestination in ./relay.ts, which this module does not import to stay a leaf). */
const INV_2_32 = 2 ** -32;

export const kernels: KernelRegistration[] = [
  {
    kernel: 'relay.send',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const value = ctx.state.value!;
      const out = ctx.out['Sender.note']!;
      const col = out.fields.value!;
      const fanout = ctx.params.fanout!;
      const receivers = ctx.params.receivers!;
      const salt = Math.imul(ctx.step + 1, 0x85ebca6b);
      for (let i = start; i < end; i++) {
        const v = value[i]!;
        for (let j = 0; j < fanout; j++) {
          // Same formula as relayDestination() in ./relay.ts.
          const to = Math.floor(((Math.imul(i * fanout + j, 0x9e3779b1) ^ salt) >>> 0) * receivers * INV_2_32);
          const s = out.emit(i, to);
          if (s < 0) return;
          col[s] = v + j;
        }
      }
    },
  },
  {
    kernel: 'relay.read',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const inp = ctx.in['Sender.note']!;
      const off = inp.offsets;
      const val = inp.fields.value!;
      const sum = ctx.next.sum!;
      const got = ctx.next.got!;
      for (let r = start; r < end; r++) {
        const a = off[r]!;
        const b = off[r + 1]!;
        let s = 0;
        for (let q = a; q < b; q++) s += val[q]!;
        sum[r] = s;
        got[r] = b - a;
      }
    },
  },
];
