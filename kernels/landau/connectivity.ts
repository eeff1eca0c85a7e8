/**
 * CPU kernels of `ConnectivitySite` (actors/landau/connectivity.ts): publish a label on every bond,
 * then take the smallest label received. Small graphs (the experiment's grids have 2,500 sites), so
 * plain loops over the context's arrays.
 */
import type { KernelRegistration } from '../../src/kernel.js';

export const kernels: KernelRegistration[] = [
  {
    kernel: 'connectivity.publish',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const label = ctx.state.label!;
      const g = ctx.graphs.bonds!;
      const src = g.src;
      const out = ctx.columns['ConnectivitySite.label']!.fields.label!;
      const current = ctx.columns['ConnectivitySite.current']!.fields.label!;
      // Out-edges of the partition's sites are one contiguous range (edges are sorted by source).
      for (let e = g.rowPtr[start]!, eEnd = g.rowPtr[end]!; e < eEnd; e++) out[e] = label[src[e]!]!;
      for (let i = start; i < end; i++) current[i] = label[i]!;
    },
  },
  {
    kernel: 'connectivity.relabel',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const label = ctx.state.label!;
      const next = ctx.next.label!;
      const changed = ctx.next.changed!;
      const g = ctx.graphs.bonds!;
      const inRowPtr = g.inRowPtr;
      const inEdge = g.inEdge;
      const msg = ctx.columns['ConnectivitySite.label']!.fields.label!;
      const current = ctx.columns['ConnectivitySite.current']!.fields.label!;
      const jump = ctx.params.jump === 1;
      for (let i = start; i < end; i++) {
        const own = label[i]!;
        let m = own;
        for (let q = inRowPtr[i]!, qEnd = inRowPtr[i + 1]!; q < qEnd; q++) {
          const l = msg[inEdge[q]!]!;
          if (l < m) m = l;
        }
        if (jump) {
          const l = current[own]!;
          if (l < m) m = l;
        }
        next[i] = m;
        changed[i] = m < own ? 1 : 0;
      }
    },
  },
];
