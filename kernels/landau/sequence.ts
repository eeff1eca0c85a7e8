/**
 * CPU kernels of `PrefixScore` and `GateTrial` (actors/landau/sequence.ts). Each actor is one
 * independent trial; the kernels call the scalar reference functions of the kind's file directly
 * (a few thousand draws per actor, a few hundred actors), with the draws keyed as documented there,
 * so a kernel's result is bit-identical to the reference on any number of workers.
 */
import { Fault, type KernelRegistration } from '../../src/kernel.js';
import { gateTrial, prefixScore, type GateTrialParams, type SequenceParams } from '../../actors/landau/sequence.js';

function sequenceParams(p: Readonly<Record<string, number>>): SequenceParams {
  return { n: p.n!, mistakePos: p.mistakePos!, noise: p.noise!, samples: p.samples! };
}

export const kernels: KernelRegistration[] = [
  {
    kernel: 'sequence.prefixScore',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const p = sequenceParams(ctx.params);
      const trial = ctx.state.trial!;
      const length = ctx.state.length!;
      const etaPrefix = ctx.next.etaPrefix!;
      const etaFull = ctx.next.etaFull!;
      for (let a = start; a < end; a++) {
        const L = length[a]!;
        if (!(L >= 2 && L <= p.n)) {
          // A prefix shorter than 2 has no pair; the scenario never builds one.
          ctx.fault(Fault.user, a, L);
          return;
        }
        const r = prefixScore(p, ctx.seed, ctx.kindId, a, trial[a]!, L);
        etaPrefix[a] = r.etaPrefix;
        etaFull[a] = r.etaFull;
      }
    },
  },
  {
    kernel: 'sequence.gateTrial',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const p: GateTrialParams = { ...sequenceParams(ctx.params), k: ctx.params.k!, soft: ctx.params.soft!, commonPairs: ctx.params.commonPairs! };
      const s = ctx.state;
      const out = ctx.next;
      for (let a = start; a < end; a++) {
        const r = gateTrial(p, ctx.seed, ctx.kindId, s.trial![a]!, s.cost![a]!);
        out.gain![a] = r.gain;
        out.hazard![a] = r.hazard;
        out.etaGate![a] = r.etaGate;
        out.expanded![a] = r.expanded ? 1 : 0;
        out.etaBefore![a] = r.etaBefore;
        out.etaAfter![a] = r.etaAfter;
      }
    },
  },
];
