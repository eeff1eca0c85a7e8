/**
 * CPU kernels of `LandauModule` and `LandauControl` (see actors/landau/index.ts for the phases of a
 * step and actors/landau/energies.ts for the formulas, which these loops inline).
 *
 * Every loop writes every slot of every field its function declares as written, whatever the mode,
 * because state is double-buffered: an unwritten slot would hold the value of two steps ago.
 * Gradient and energy sums run in a fixed order per module (local term, then out-edges in edge order,
 * then in-edges in (source, edge) order), so a module's results do not depend on the partitioning.
 */
import type { CpuKernelContext, KernelRegistration } from '../../src/kernel.js';
import type { TypedArray } from '../../src/types.js';
import { CONTROL_FIELDS, MoveMode, NOISE_STREAM } from '../../actors/landau/index.js';

const CONTROL = 'LandauControl.control';

function control(ctx: CpuKernelContext): Readonly<Record<string, TypedArray>> {
  return ctx.columns[CONTROL]!.fields;
}

export const kernels: KernelRegistration[] = [
  {
    kernel: 'landau.control',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const out = ctx.columns[CONTROL]!.fields;
      for (let i = start; i < end; i++) {
        for (const name of Object.keys(CONTROL_FIELDS)) out[name]![i] = ctx.state[name]![i]!;
      }
    },
  },
  {
    kernel: 'landau.move',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const c = control(ctx);
      const mode = c.mode![0]!;
      const m = c.stepScale![0]!;
      const sigma = c.noiseScale![0]!;
      const tol = c.asyncTol![0]!;
      const eta = ctx.state.eta!;
      const etaPrev = ctx.state.etaPrev!;
      const grad = ctx.state.grad!;
      const gradPrev = ctx.state.gradPrev!;
      const nEta = ctx.next.eta!;
      const nEtaPrev = ctx.next.etaPrev!;
      const nGradPrev = ctx.next.gradPrev!;
      const published = ctx.columns['LandauModule.eta']!.fields.eta!;
      // Optional columns: present when the model was declared with async / noise.
      const gSeen = ctx.state.gSeen;
      const nGSeen = ctx.next.gSeen;
      const active = ctx.state.active;
      const nActive = ctx.next.active;
      const noise = ctx.state.noise;
      const isAsync = gSeen !== undefined && nGSeen !== undefined && active !== undefined && nActive !== undefined;
      const noisy = noise !== undefined && sigma !== 0;
      if (mode === MoveMode.advance) {
        for (let i = start; i < end; i++) {
          const e = eta[i]!;
          const g = grad[i]!;
          nEtaPrev[i] = e;
          nGradPrev[i] = g;
          let moves = true;
          if (isAsync) {
            const seen = gSeen[i]!;
            moves = tol <= 0 || Math.abs(g - seen) > tol;
            nGSeen[i] = moves ? g : seen;
            nActive[i] = moves ? 1 : 0;
          }
          let x = e;
          if (moves) {
            x = noisy ? e - m * g + sigma * noise[i]! : e - m * g;
            x = x < 0 ? 0 : x > 1 ? 1 : x;
          }
          nEta[i] = x;
          published[i] = nEta[i]!;
        }
      } else {
        // retry: step again from the last accepted point (same active set); hold: keep η;
        // revert: back to the last accepted point. etaPrev, gradPrev and the async state carry over.
        for (let i = start; i < end; i++) {
          const base = etaPrev[i]!;
          nEtaPrev[i] = base;
          nGradPrev[i] = gradPrev[i]!;
          if (isAsync) {
            nGSeen[i] = gSeen[i]!;
            nActive[i] = active[i]!;
          }
          let x: number;
          if (mode === MoveMode.retry) {
            if (!isAsync || active[i] === 1) {
              x = base - m * gradPrev[i]!;
              x = x < 0 ? 0 : x > 1 ? 1 : x;
            } else {
              x = base;
            }
          } else if (mode === MoveMode.revert) {
            x = base;
          } else {
            x = eta[i]!;
          }
          nEta[i] = x;
          published[i] = nEta[i]!;
        }
      }
    },
  },
  {
    kernel: 'landau.couple',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const c = control(ctx);
      const wl0 = c.wLocalGate![0]!;
      const wl1 = c.wLocalSequence![0]!;
      const wl2 = c.wLocalConnectivity![0]!;
      const wl3 = c.wLocalLandau![0]!;
      const wq = c.wQuadratic![0]!;
      const wh = c.wHinge![0]!;
      const wgb = c.wGateBenefit![0]!;
      const wdgb = c.wDampedGateBenefit![0]!;
      const eta = ctx.state.eta!;
      const kind = ctx.state.kind!;
      const A = ctx.state.a!;
      const B = ctx.state.b!;
      const H = ctx.state.h!;
      const gOwn = ctx.next.gOwn!;
      const energy = ctx.next.energy!;
      const etaJ = ctx.columns['LandauModule.eta']!.fields.eta!;
      const out = ctx.columns['LandauModule.coupling']!.fields.g!;
      const graph = ctx.graphs.couplings!;
      const rowPtr = graph.rowPtr;
      const dst = graph.dst;
      const type = graph.fields.type!;
      const W = graph.fields.w!;
      // Compiled edge fields (actors/landau/index.ts): hinge α = s1, β = s2; benefit power p = s1.
      const S1 = graph.fields.s1!;
      const S2 = graph.fields.s2!;
      for (let i = start; i < end; i++) {
        const x = eta[i]!;
        const a = A[i]!;
        const b = B[i]!;
        const k = kind[i]!;
        // Local term (energies.ts: localEnergy, localGrad).
        let f: number;
        let g: number;
        if (k === 0 || k === 3) {
          const x2 = x * x;
          const wl = k === 0 ? wl0 : wl3;
          const h = k === 0 ? 0 : H[i]!;
          f = wl * (a * x2 + b * x2 * x2 - h * x);
          g = wl * (2 * a * x + 4 * b * x * x * x - h);
        } else {
          const u = 1 - x;
          const u2 = u * u;
          const wl = k === 1 ? wl1 : wl2;
          f = wl * (a * u2 + b * u2 * u2);
          g = wl * (-2 * a * u - 4 * b * u * u * u);
        }
        // Own out-edges (energies.ts: couplingEnergy, couplingGradI, couplingGradJ).
        for (let e = rowPtr[i]!, eEnd = rowPtr[i + 1]!; e < eEnd; e++) {
          const w = W[e]!;
          const t = type[e]!;
          if (t === 0) {
            const d = x - etaJ[dst[e]!]!;
            const ww = wq * w;
            f += ww * d * d;
            g += 2 * ww * d;
            out[e] = -2 * ww * d;
          } else if (t === 1) {
            const al = S1[e]!;
            const be = S2[e]!;
            const gap = be * etaJ[dst[e]!]! - al * x;
            if (gap > 0) {
              const ww = wh * w;
              f += ww * gap * gap;
              g += -2 * ww * gap * al;
              out[e] = 2 * ww * gap * be;
            } else {
              out[e] = 0;
            }
          } else {
            // w holds w·benefit: F_e = −w·benefit·η_eff.
            const p = S1[e]!;
            const ww = (t === 2 ? wgb : wdgb) * w;
            if (p === 1) {
              f -= ww * x;
              g -= ww;
            } else if (x > 0) {
              f -= ww * Math.pow(x, p);
              g -= ww * p * Math.pow(x, p - 1);
            }
            out[e] = 0;
          }
        }
        gOwn[i] = g;
        energy[i] = f;
      }
    },
  },
  {
    kernel: 'landau.gather',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const gOwn = ctx.state.gOwn!;
      const grad = ctx.next.grad!;
      const msg = ctx.columns['LandauModule.coupling']!.fields.g!;
      const graph = ctx.graphs.couplings!;
      const inRowPtr = graph.inRowPtr;
      const inEdge = graph.inEdge;
      for (let i = start; i < end; i++) {
        let g = gOwn[i]!;
        for (let q = inRowPtr[i]!, qEnd = inRowPtr[i + 1]!; q < qEnd; q++) g += msg[inEdge[q]!]!;
        grad[i] = g;
      }
      const noise = ctx.next.noise;
      if (noise !== undefined) {
        // ξ_i keyed by (seed, kind, module, step, stream): independent of workers and partitions.
        for (let i = start; i < end; i++) noise[i] = ctx.rng.normal(i, NOISE_STREAM, 0);
      }
    },
  },
];
