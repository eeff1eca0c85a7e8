/** CPU kernels of the `Tally` kind (see ./tally.ts). */
import { Fault, type KernelRegistration } from '../../src/kernel.js';
import { TALLY_FAULT } from './tally.js';

const { ranTwice: RAN_TWICE, wrongStamp: WRONG_STAMP, wrongInput: WRONG_INPUT } = TALLY_FAULT;

export const kernels: KernelRegistration[] = [
  {
    kernel: 'tally.first',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const a = ctx.state.a!;
      const na = ctx.next.a!;
      const calls = ctx.columns['Tally.callsFirst']!.fields.n!;
      const out = ctx.out['Tally.ping']!;
      const from = out.fields.from!;
      const s = ctx.step;
      const n = ctx.count;
      for (let i = start; i < end; i++) {
        calls[i] = calls[i]! + 1;
        if (na[i] === s + 1) return ctx.fault(Fault.user, i, RAN_TWICE);
        if (a[i] !== s) return ctx.fault(Fault.user, i, WRONG_STAMP);
        na[i] = s + 1;
        const slot = out.emit(i, i + 1 === n ? 0 : i + 1);
        if (slot < 0) return;
        from[slot] = i;
      }
    },
  },
  {
    kernel: 'tally.second',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const a = ctx.state.a!;
      const b = ctx.state.b!;
      const nb = ctx.next.b!;
      const calls = ctx.columns['Tally.callsSecond']!.fields.n!;
      const inp = ctx.in['Tally.ping']!;
      const off = inp.offsets;
      const from = inp.fields.from!;
      const s = ctx.step;
      const n = ctx.count;
      for (let i = start; i < end; i++) {
        calls[i] = calls[i]! + 1;
        if (nb[i] === s + 1) return ctx.fault(Fault.user, i, RAN_TWICE);
        if (b[i] !== s) return ctx.fault(Fault.user, i, WRONG_STAMP);
        if (a[i] !== s + 1 || off[i + 1]! - off[i]! !== 1 || from[off[i]!] !== (i === 0 ? n - 1 : i - 1)) return ctx.fault(Fault.user, i, WRONG_INPUT);
        nb[i] = s + 1;
      }
    },
  },
];
