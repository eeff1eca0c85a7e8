/** CPU kernel of the `Stall` kind (see ./stall.ts). */
import type { KernelRegistration } from '../../src/kernel.js';

/** How long the stuck call spins: far beyond any test's deadline, yet not forever. */
const STUCK_MS = 600_000;

export const kernels: KernelRegistration[] = [
  {
    kernel: 'stall.tick',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const x = ctx.state.x!;
      const nx = ctx.next.x!;
      for (let i = start; i < end; i++) nx[i] = x[i]! + 1;
      const a = ctx.params.atActor!;
      if (ctx.step === ctx.params.atStep && a >= start && a < end) {
        const until = Date.now() + STUCK_MS;
        while (Date.now() < until);
      }
    },
  },
];
