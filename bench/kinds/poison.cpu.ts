/** CPU kernel of the `Poison` kind (see ./poison.ts). */
import type { KernelRegistration } from '../../src/kernel.js';

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

export const kernels: KernelRegistration[] = [
  {
    kernel: 'poison.bump',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const nx = ctx.next.x!;
      const ny = ctx.next.y!;
      for (let i = start; i < end; i++) {
        nx[i] = x[i]! + 1;
        ny[i] = y[i]! + 1;
      }
      const a = ctx.params.atActor!;
      if (ctx.step === ctx.params.atStep && a >= start && a < end) (ctx.params.field === 0 ? nx : ny)[a] = BAD[ctx.params.what!]!;
    },
  },
];
