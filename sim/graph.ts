/**
 * Graph input checks and CSR construction shared by the CPU runtime and the WebGPU backend, so both
 * store edges in the same order: sorted by (source, input order), in-edges indexed by (source, edge).
 */
import { exclusiveScan } from '../kernels/common/cpu.js';
import { CapacityError, CheckError } from '../src/errors.js';
import type { GraphSpec, ModelSpec } from '../src/model.js';

/** Validates `setGraph` arguments against the spec and live counts; returns the graph and its index. */
export function checkGraphInput(
  spec: ModelSpec,
  name: string,
  src: ArrayLike<number>,
  dst: ArrayLike<number>,
  fields: Record<string, ArrayLike<number>>,
  count: (kind: string) => number,
): { gi: number; g: GraphSpec } {
  const gi = spec.graphs.findIndex((g) => g.name === name);
  if (gi < 0) throw new CheckError(`no graph '${name}' (graphs: ${spec.graphs.map((g) => g.name).join(', ') || 'none'})`);
  const g = spec.graphs[gi]!;
  const n = src.length;
  if (dst.length !== n) throw new CheckError(`graph '${name}': src has ${n} entries but dst has ${dst.length}`);
  if (n > g.maxEdges) throw new CapacityError(`graph '${name}'`, `graphs.${name}.maxEdges`, n, g.maxEdges);
  const nFrom = count(g.from);
  const nTo = count(g.to);
  for (let e = 0; e < n; e++) {
    const s = src[e]!;
    const d = dst[e]!;
    if (!(Number.isInteger(s) && s >= 0 && s < nFrom)) throw new CheckError(`graph '${name}': edge ${e} has source ${s}, outside [0, ${nFrom}) of ${g.from}`);
    if (!(Number.isInteger(d) && d >= 0 && d < nTo)) throw new CheckError(`graph '${name}': edge ${e} has destination ${d}, outside [0, ${nTo}) of ${g.to}`);
  }
  for (const f of g.fields) {
    const col = fields[f.name];
    if (col && col.length !== n) throw new CheckError(`graph '${name}': field '${f.name}' has ${col.length} entries, expected ${n}`);
  }
  for (const k of Object.keys(fields)) {
    if (!g.fields.some((f) => f.name === k)) throw new CheckError(`graph '${name}' has no field '${k}' (fields: ${g.fields.map((f) => f.name).join(', ') || 'none'})`);
  }
  return { gi, g };
}

export interface CsrArrays {
  rowPtr: Uint32Array;
  src: Uint32Array;
  dst: Uint32Array;
  inRowPtr: Uint32Array;
  inEdge: Uint32Array;
}

/**
 * Fills `out` from checked edges: a stable counting sort of the edges by source, then of edge ids
 * (already in source order) by destination. Returns `order`: input edge of each stored edge, for
 * permuting per-edge fields.
 */
export function buildCsr(src: ArrayLike<number>, dst: ArrayLike<number>, nFrom: number, nTo: number, out: CsrArrays): Uint32Array {
  const n = src.length;
  const { rowPtr, inRowPtr, inEdge } = out;
  rowPtr.fill(0);
  for (let e = 0; e < n; e++) rowPtr[src[e]!]!++;
  exclusiveScan(rowPtr, nFrom);
  const cur = rowPtr.slice(0, nFrom);
  const order = new Uint32Array(n);
  for (let e = 0; e < n; e++) order[cur[src[e]!]!++] = e;
  for (let i = 0; i < n; i++) {
    const e = order[i]!;
    out.src[i] = src[e]!;
    out.dst[i] = dst[e]!;
  }
  inRowPtr.fill(0);
  for (let i = 0; i < n; i++) inRowPtr[out.dst[i]!]!++;
  exclusiveScan(inRowPtr, nTo);
  const icur = inRowPtr.slice(0, nTo);
  for (let i = 0; i < n; i++) inEdge[icur[out.dst[i]!]!++] = i;
  return order;
}
