/**
 * CPU kernels of the `Node` and `Hub` kinds of the deliveries scenario (see actors/deliveries), the
 * reference for their WGSL twins in ./webgpu.ts.
 * Every kernel writes only the slots of its own actors: message slots of its senders, graph columns
 * of its own out-edges (forward) or in-edges (backward), so partitions never write the same memory.
 * Integer sums are formed as JS numbers (integers below 2^53, hence exact whatever the order) and
 * stored as 64-bit integers in two 32-bit columns (wideLo / wideHi); the GPU forms the same 64-bit
 * values with 32-bit words.
 */
import { edgeFlow, jiggleMove, paramUnits, POSITION_UNIT, STREAM, transferAmount, transferTargets, wideHi, wideLo } from '../../actors/deliveries/index.js';
import type { KernelRegistration } from '../../src/kernel.js';

export const kernels: KernelRegistration[] = [
  {
    kernel: 'deliveries.emit',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const n = ctx.count;
      const step = ctx.step;
      const rng = ctx.rng;
      const shareUnits = paramUnits(ctx.params.share!);
      // The GPU compares the draw with the f32 parameter: so does the CPU (draws are exact in f32).
      const pingRate = Math.fround(ctx.params.pingRate!);
      const value = ctx.state.value!;
      const group = ctx.state.group!;
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const z = ctx.state.z!;
      const pingsSent = ctx.state.pingsSent!;
      const outflow = ctx.next.outflow!;
      const sentAddrLo = ctx.next.sentAddrLo!;
      const sentAddrHi = ctx.next.sentAddrHi!;
      const graphOutLo = ctx.next.graphOutLo!;
      const graphOutHi = ctx.next.graphOutHi!;
      const echoSentLo = ctx.next.echoSentLo!;
      const echoSentHi = ctx.next.echoSentHi!;
      const nextPings = ctx.next.pingsSent!;
      const transfer = ctx.out['Node.transfer']!;
      const amount = transfer.fields.amount!;
      const ping = ctx.out['Node.ping']!;
      const hop = ping.fields.hop!;
      const report = ctx.out['Node.report']!;
      const reported = report.fields.value!;
      const location = ctx.out['Node.location']!;
      const lx = location.fields.x!;
      const ly = location.fields.y!;
      const lz = location.fields.z!;
      const links = ctx.graphs.links!;
      const weight = links.fields.weight!;
      const flow = ctx.columns['Node.flow']!.fields.flow!;
      const echo = ctx.columns['Node.echo']!.fields.echo!;
      const { rowPtr, inRowPtr, inEdge } = links;
      for (let i = start; i < end; i++) {
        const v = value[i]!;
        // Direct: two transfers, deducted from the balance by absorb through `outflow`.
        const [t1, t2] = transferTargets(i, n, step);
        const a1 = transferAmount(v, shareUnits, rng.u32(i, STREAM.transfer, 0));
        const a2 = transferAmount(v, shareUnits, rng.u32(i, STREAM.transfer, 1));
        const s1 = transfer.emit(i, t1);
        if (s1 < 0) return;
        amount[s1] = a1;
        const s2 = transfer.emit(i, t2);
        if (s2 < 0) return;
        amount[s2] = a2;
        outflow[i] = a1 + a2;
        const addr = t1 * a1 + t2 * a2; // < 2^51
        sentAddrLo[i] = wideLo(addr);
        sentAddrHi[i] = wideHi(addr);
        // Direct, sparse: a ping to a random node.
        let sent = pingsSent[i]!;
        if (rng.uniform(i, STREAM.ping, 0) < pingRate) {
          const s = ping.emit(i, rng.u32(i, STREAM.ping, 1) % n);
          if (s < 0) return;
          hop[s] = step;
          sent++;
        }
        nextPings[i] = sent;
        // Bucket: the balance to the hub.
        const r = report.emit(i, group[i]!);
        if (r < 0) return;
        reported[r] = v;
        // Spatial: the position.
        const l = location.emit(i, 0);
        if (l < 0) return;
        lx[l] = x[i]!;
        ly[l] = y[i]!;
        lz[l] = z[i]!;
        // Graph forward: one record per out-edge, written by the source.
        let out = 0;
        for (let e = rowPtr[i]!, eEnd = rowPtr[i + 1]!; e < eEnd; e++) {
          const f = edgeFlow(weight[e]!, v);
          flow[e] = f;
          out += f;
        }
        graphOutLo[i] = wideLo(out);
        graphOutHi[i] = wideHi(out);
        // Graph backward: one record per in-edge, written by the destination.
        let back = 0;
        for (let q = inRowPtr[i]!, qEnd = inRowPtr[i + 1]!; q < qEnd; q++) {
          const e = inEdge[q]!;
          const f = edgeFlow(weight[e]!, v);
          echo[e] = f;
          back += f;
        }
        echoSentLo[i] = wideLo(back);
        echoSentHi[i] = wideHi(back);
      }
    },
  },
  {
    kernel: 'deliveries.collect',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const report = ctx.in['Node.report']!;
      const red = report.reduce.value!;
      const off = report.offsets;
      const reported = report.fields.value!;
      const stats = ctx.columns['Hub.stats']!.fields;
      const count = red.count!;
      for (let h = start; h < end; h++) {
        const c = count[h]!;
        ctx.next.count![h] = c;
        stats.count![h] = c;
        // The exact sum (an i32: at most the total balance), from the hub's records.
        let sum = 0;
        for (let q = off[h]!, qEnd = off[h + 1]!; q < qEnd; q++) sum += reported[q]!;
        ctx.next.sum![h] = sum;
        stats.sum![h] = sum;
      }
      for (const name of ['mean', 'std', 'min', 'max'] as const) {
        const src = red[name]!;
        const state = ctx.next[name]!;
        const pub = stats[name]!;
        for (let h = start; h < end; h++) {
          // An empty bucket reduces to min +Inf, max −Inf: publish 0 instead (state must be finite).
          const v = count[h]! > 0 ? src[h]! : 0;
          state[h] = v;
          pub[h] = v;
        }
      }
    },
  },
  {
    kernel: 'deliveries.absorb',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const value = ctx.state.value!;
      const outflow = ctx.state.outflow!;
      const group = ctx.state.group!;
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const z = ctx.state.z!;
      const nValue = ctx.next.value!;
      const recvAddrLo = ctx.next.recvAddrLo!;
      const recvAddrHi = ctx.next.recvAddrHi!;
      const hubMean = ctx.next.hubMean!;
      const hubCount = ctx.next.hubCount!;
      const neighbours = ctx.next.neighbours!;
      const skewLo = ctx.next.neighbourSkewLo!;
      const skewHi = ctx.next.neighbourSkewHi!;
      const inflowLo = ctx.next.inflowLo!;
      const inflowHi = ctx.next.inflowHi!;
      const backflowLo = ctx.next.backflowLo!;
      const backflowHi = ctx.next.backflowHi!;
      const transfer = ctx.in['Node.transfer']!;
      const tOff = transfer.offsets;
      const amount = transfer.fields.amount!;
      const stats = ctx.columns['Hub.stats']!.fields;
      const statMean = stats.mean!;
      const statCount = stats.count!;
      const loc = ctx.in['Node.location']!;
      const grid = loc.grid!;
      const lOff = loc.offsets;
      const lSender = loc.sender;
      const lx = loc.fields.x!;
      const ly = loc.fields.y!;
      const lz = loc.fields.z!;
      const r2 = grid.radius * grid.radius;
      // This kernel visits ±1 cells per axis: the deliveries model's cells are at least the radius.
      const invX = 1 / grid.cellSize[0];
      const invY = 1 / grid.cellSize[1];
      const invZ = 1 / grid.cellSize[2];
      const [gx, gy, gz] = grid.min as [number, number, number];
      const [dx, dy, dz] = grid.dims as [number, number, number];
      const links = ctx.graphs.links!;
      const { rowPtr, inRowPtr, inEdge } = links;
      const flow = ctx.columns['Node.flow']!.fields.flow!;
      const echo = ctx.columns['Node.echo']!.fields.echo!;
      for (let i = start; i < end; i++) {
        // Direct: tokens in, in (sender, sequence) order.
        let received = 0;
        for (let r = tOff[i]!, rEnd = tOff[i + 1]!; r < rEnd; r++) received += amount[r]!;
        nValue[i] = value[i]! - outflow[i]! + received;
        const addr = i * received; // < 2^51
        recvAddrLo[i] = wideLo(addr);
        recvAddrHi[i] = wideHi(addr);
        // Array: the hub's record, by hub index.
        const g = group[i]!;
        hubMean[i] = statMean[g]!;
        hubCount[i] = statCount[g]!;
        // Spatial: other nodes within the radius, over the 3×3×3 cells around this node's (clamped) cell.
        // Positions are multiples of 2^-16 below 2^7 and the radius a multiple of 2^-8, so the
        // differences, their squares and sums (below 2^52 units of 2^-32) and r2 are exact in f64.
        const x1 = x[i]!;
        const y1 = y[i]!;
        const z1 = z[i]!;
        const cx = clampCell(Math.floor((x1 - gx) * invX), dx);
        const cy = clampCell(Math.floor((y1 - gy) * invY), dy);
        const cz = clampCell(Math.floor((z1 - gz) * invZ), dz);
        const x0 = cx > 0 ? cx - 1 : 0;
        const x2 = cx < dx - 1 ? cx + 1 : dx - 1;
        let count = 0;
        let skew = 0;
        for (let zz = cz > 0 ? cz - 1 : 0, zEnd = cz < dz - 1 ? cz + 1 : dz - 1; zz <= zEnd; zz++) {
          for (let yy = cy > 0 ? cy - 1 : 0, yEnd = cy < dy - 1 ? cy + 1 : dy - 1; yy <= yEnd; yy++) {
            const row = (zz * dy + yy) * dx;
            // Cells x0..x2 of one row are adjacent keys: one contiguous range of records.
            for (let j = lOff[row + x0]!, jEnd = lOff[row + x2 + 1]!; j < jEnd; j++) {
              const s = lSender[j]!;
              if (s === i) continue;
              const ddx = lx[j]! - x1;
              const ddy = ly[j]! - y1;
              const ddz = lz[j]! - z1;
              if (ddx * ddx + ddy * ddy + ddz * ddz < r2) {
                count++;
                skew += s - i;
              }
            }
          }
        }
        neighbours[i] = count;
        skewLo[i] = wideLo(skew);
        skewHi[i] = wideHi(skew);
        // Graph forward: flows on in-edges, in (source, edge) order.
        let fin = 0;
        for (let q = inRowPtr[i]!, qEnd = inRowPtr[i + 1]!; q < qEnd; q++) fin += flow[inEdge[q]!]!;
        inflowLo[i] = wideLo(fin);
        inflowHi[i] = wideHi(fin);
        // Graph backward: echoes on out-edges.
        let bin = 0;
        for (let e = rowPtr[i]!, eEnd = rowPtr[i + 1]!; e < eEnd; e++) bin += echo[e]!;
        backflowLo[i] = wideLo(bin);
        backflowHi[i] = wideHi(bin);
      }
    },
  },
  {
    kernel: 'deliveries.onPing',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const active = ctx.active!;
      const off = ctx.in['Node.ping']!.offsets;
      const received = ctx.state.pingsReceived!;
      const next = ctx.next.pingsReceived!;
      for (let q = start; q < end; q++) {
        const i = active[q]!;
        next[i] = received[i]! + (off[i + 1]! - off[i]!);
      }
    },
  },
  {
    kernel: 'deliveries.jiggle',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const units = paramUnits(ctx.params.jiggle!);
      const bound = ctx.params.bound!;
      const rng = ctx.rng;
      const x = ctx.state.x!;
      const y = ctx.state.y!;
      const z = ctx.state.z!;
      const ticks = ctx.state.ticks!;
      const nx = ctx.next.x!;
      const ny = ctx.next.y!;
      const nz = ctx.next.z!;
      const nTicks = ctx.next.ticks!;
      // A coordinate plus a whole number of position units, clamped to [−1, bound]: exact in f32.
      const move = (p: number, i: number, axis: number): number => {
        const c = 3 * axis;
        const m = jiggleMove(units, rng.u32(i, STREAM.jiggle, c), rng.u32(i, STREAM.jiggle, c + 1), rng.u32(i, STREAM.jiggle, c + 2));
        return Math.min(Math.max(p + m * POSITION_UNIT, -1), bound);
      };
      for (let i = start; i < end; i++) {
        nx[i] = move(x[i]!, i, 0);
        ny[i] = move(y[i]!, i, 1);
        nz[i] = move(z[i]!, i, 2);
        nTicks[i] = ticks[i]! + 1;
      }
    },
  },
];

function clampCell(c: number, dims: number): number {
  return c < 0 ? 0 : c >= dims ? dims - 1 : c;
}
