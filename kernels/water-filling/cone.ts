/**
 * CPU kernels of the cone-query model (actors/water-filling/cone.ts). A point is in query j's cone when
 * the cosine of its angle to q_j is at least cos(α), α = factor_shell·(1 − q_j), compared in f64 (the
 * brute force compares angles; the two agree except within rounding of the boundary, see the test).
 */
import type { KernelRegistration } from '../../src/kernel.js';
import { CONE_ALPHA0, CONE_BETA } from '../../actors/water-filling/cone.js';

export const kernels: KernelRegistration[] = [
  {
    kernel: 'cone.shell.publish',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const radius = ctx.state.radius!;
      const density = ctx.state.density!;
      const out = ctx.columns['Shell.cone']!.fields.factor!;
      const rMax = ctx.params.rMax!;
      for (let k = start; k < end; k++) out[k] = CONE_ALPHA0 * Math.sqrt(radius[k]! / rMax) * Math.exp(-CONE_BETA * density[k]!);
    },
  },
  {
    kernel: 'cone.query.publish',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const s = ctx.state;
      const f = ctx.columns['Query.query']!.fields;
      for (let j = start; j < end; j++) {
        f.x![j] = s.x![j]!;
        f.y![j] = s.y![j]!;
        f.z![j] = s.z![j]!;
        f.confidence![j] = s.confidence![j]!;
      }
    },
  },
  {
    kernel: 'cone.point.test',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const theta = ctx.state.theta!;
      const phi = ctx.state.phi!;
      const shell = ctx.state.shell!;
      const hits = ctx.next.hits!;
      const factor = ctx.columns['Shell.cone']!.fields.factor!;
      const q = ctx.columns['Query.query']!.fields;
      const qx = q.x!;
      const qy = q.y!;
      const qz = q.z!;
      const qc = q.confidence!;
      const nq = ctx.params.queries!;
      const out = ctx.out['Point.hit']!;
      for (let i = start; i < end; i++) {
        const st = Math.sin(theta[i]!);
        const x = st * Math.cos(phi[i]!);
        const y = st * Math.sin(phi[i]!);
        const z = Math.cos(theta[i]!);
        const fk = factor[shell[i]!]!;
        let h = 0;
        for (let j = 0; j < nq; j++) {
          const alpha = fk * (1 - qc[j]!);
          let c = x * qx[j]! + y * qy[j]! + z * qz[j]!;
          c = c > 1 ? 1 : c < -1 ? -1 : c;
          if (Math.acos(c) <= alpha) {
            out.emit(i, j);
            h++;
          }
        }
        hits[i] = h;
      }
    },
  },
  {
    kernel: 'cone.query.collect',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const off = ctx.in['Point.hit']!.offsets;
      const found = ctx.next.found!;
      for (let j = start; j < end; j++) found[j] = off[j + 1]! - off[j]!;
    },
  },
];
