/**
 * SharedArrayBuffer layout of a running model. Every region has a key:
 *   `<Kind>.state.<field>.<0|1>`        one column per buffer of the double-buffered state
 *   `<Kind.msg>.raw.<field>`            output records, slot = sender * maxPerActor + sequence
 *   `<Kind.msg>.raw.key` / `.sent`      receiver key per slot / records emitted per sender
 *   `<Kind.msg>.sorted.<field>`         records sorted by (key, sender, sequence)
 *   `<Kind.msg>.sorted.sender` / `.perm` / `.offsets` / `.active`  (perm: raw slot of each sorted record)
 *   `<Kind.msg>.reduce.<field>.<op>`    bucket reductions per key
 *   `<Kind.msg>.columns.<field>`        array messages (per sender) and graph messages (per edge)
 *   `graph.<name>.<rowPtr|dst|src|inRowPtr|inEdge>` and `graph.<name>.field.<f>`
 *   `control`                           the Int32 control block below
 * A plain {@link Buffers} object of SharedArrayBuffers is what travels to workers in `workerData`.
 */
import type { MessageSpec, ModelSpec } from '../src/model.js';
import { BYTES_PER, type DType, type TypedArray, typedView } from '../src/types.js';

/* layout of `control` (Int32Array):
 * [0] gen        doorbell generation; bumped by the host to start a phase
 * [1] done       wake-up counter: every worker bumps it after finishing a task (completion itself
 *                is each partition's `finished` word in the health block, sim/health.ts)
 * [2] phase      phase index to run
 * [3] step       current step
 * [4] parts      partitions of the current phase (host = partition 0)
 * [5] errors     workers that threw during the phase
 * [6] stop       1 = workers exit their loop
 * [7] checkFinite  1 = scan written float fields for NaN/Inf after each kernel
 * [8..13] fault  code, kindId, actor, step, functionId, detail   (first fault wins on [8])
 * [14] seed      u32 seed (stored as i32 bits)
 * [15] task      what workers run on the doorbell: a phase index ≥ 0, or −1 − m to gather message m
 * [16] claim     next chunk of the current parallel phase to claim (reset to 0 by every ring)
 * [17] schedule  how a parallel phase is split: 0 = chunks claimed from `claim`, 1 = static partitions
 * [18 + f]                      runs[f]    1 if function f runs this step
 * [18 + F + f]                  items[f]   actors (or active ids) function f visits
 * [18 + 2F + c]                 parity[c]  which buffer (0|1) of column c is current
 * [18 + 2F + C + m]             msgCount[m] records of message m this step
 * [18 + 2F + C + M + g]         edges[g]   edge count of graph g
 * [18 + 2F + C + M + G + k]     counts[k]  live actors of kind k
 */
export const CTRL = {
  gen: 0,
  done: 1,
  phase: 2,
  step: 3,
  parts: 4,
  errors: 5,
  stop: 6,
  checkFinite: 7,
  faultCode: 8,
  faultKind: 9,
  faultActor: 10,
  faultStep: 11,
  faultFn: 12,
  faultDetail: 13,
  seed: 14,
  task: 15,
  claim: 16,
  schedule: 17,
  base: 18,
} as const;

export interface ControlOffsets {
  runs: number;
  items: number;
  parity: number;
  msgCount: number;
  edges: number;
  counts: number;
  length: number;
}

export function controlOffsets(spec: ModelSpec): ControlOffsets {
  const F = spec.functions.length;
  const C = spec.columns;
  const M = spec.messages.length;
  const G = spec.graphs.length;
  const runs = CTRL.base;
  const items = runs + F;
  const parity = items + F;
  const msgCount = parity + C;
  const edges = msgCount + M;
  const counts = edges + G;
  return { runs, items, parity, msgCount, edges, counts, length: counts + spec.kinds.length };
}

/** Raw SharedArrayBuffers by key (structured-clone safe; shared, not copied, when posted). */
export interface Buffers {
  readonly control: SharedArrayBuffer;
  readonly regions: Readonly<Record<string, SharedArrayBuffer>>;
}

export interface RegionDecl {
  key: string;
  dtype: DType;
  length: number;
}

/** Every region the model needs, with dtype and length. Deterministic order. */
export function regionsOf(spec: ModelSpec): RegionDecl[] {
  const out: RegionDecl[] = [];
  const kindBy = new Map(spec.kinds.map((k) => [k.name, k]));
  for (const k of spec.kinds) {
    for (const f of k.fields) {
      out.push({ key: `${k.name}.state.${f.name}.0`, dtype: f.type, length: k.capacity });
      out.push({ key: `${k.name}.state.${f.name}.1`, dtype: f.type, length: k.capacity });
    }
  }
  for (const g of spec.graphs) {
    const from = kindBy.get(g.from)!.capacity;
    const to = kindBy.get(g.to)!.capacity;
    out.push({ key: `graph.${g.name}.rowPtr`, dtype: 'u32', length: from + 1 });
    out.push({ key: `graph.${g.name}.dst`, dtype: 'u32', length: g.maxEdges });
    out.push({ key: `graph.${g.name}.src`, dtype: 'u32', length: g.maxEdges });
    out.push({ key: `graph.${g.name}.inRowPtr`, dtype: 'u32', length: to + 1 });
    out.push({ key: `graph.${g.name}.inEdge`, dtype: 'u32', length: g.maxEdges });
    for (const f of g.fields) out.push({ key: `graph.${g.name}.field.${f.name}`, dtype: f.type, length: g.maxEdges });
  }
  for (const m of spec.messages) {
    const d = m.delivery;
    if (d.type === 'array' || d.type === 'graph') {
      for (const f of m.fields) out.push({ key: `${m.name}.columns.${f.name}`, dtype: f.type, length: m.slots });
      continue;
    }
    const senders = kindBy.get(m.sender)!.capacity;
    for (const f of m.fields) out.push({ key: `${m.name}.raw.${f.name}`, dtype: f.type, length: m.slots });
    out.push({ key: `${m.name}.raw.key`, dtype: 'u32', length: m.slots });
    out.push({ key: `${m.name}.raw.sent`, dtype: 'u32', length: senders });
    for (const f of m.fields) out.push({ key: `${m.name}.sorted.${f.name}`, dtype: f.type, length: m.slots });
    out.push({ key: `${m.name}.sorted.sender`, dtype: 'u32', length: m.slots });
    out.push({ key: `${m.name}.sorted.perm`, dtype: 'u32', length: m.slots });
    out.push({ key: `${m.name}.sorted.offsets`, dtype: 'u32', length: m.keys + 1 });
    out.push({ key: `${m.name}.sorted.active`, dtype: 'u32', length: m.keys });
    if (d.type === 'bucket') {
      for (const [field, ops] of Object.entries(d.reduce ?? {})) {
        for (const op of ops) out.push({ key: `${m.name}.reduce.${field}.${op}`, dtype: 'f64', length: m.keys });
      }
    }
  }
  return out;
}

/**
 * Whether message `m`'s index can be built by `threads` threads at once (Executor.sortCount and
 * friends): each thread keeps a histogram and a cursor per key, so the keys must be few enough.
 */
export function parallelSortable(m: MessageSpec, threads: number): boolean {
  const t = m.delivery.type;
  if (threads < 2 || !(t === 'direct' || t === 'bucket' || t === 'spatial')) return false;
  return m.keys <= 4 * m.slots && threads * m.keys * 8 <= 1 << 29;
}

/**
 * Scratch of the parallel index build of every {@link parallelSortable} message, on `threads` threads:
 * `<msg>.psort.hist` and `.psort.cursor` (a row of `keys` u32 per thread: records of the thread's
 * senders per key, then where the next of them goes), `.psort.ranges` (threads × threads: records of
 * sender range p into key range r).
 */
export function sortScratchRegions(spec: ModelSpec, threads: number): RegionDecl[] {
  const out: RegionDecl[] = [];
  for (const m of spec.messages) {
    if (!parallelSortable(m, threads)) continue;
    out.push({ key: `${m.name}.psort.hist`, dtype: 'u32', length: threads * m.keys });
    out.push({ key: `${m.name}.psort.cursor`, dtype: 'u32', length: threads * m.keys });
    out.push({ key: `${m.name}.psort.ranges`, dtype: 'u32', length: threads * threads });
    out.push({ key: `${m.name}.psort.dest`, dtype: 'u32', length: m.slots });
  }
  return out;
}

/** Allocates the model's regions, plus the scratch of parallel index builds on `threads` threads. */
export function allocate(spec: ModelSpec, threads = 1): Buffers {
  const regions: Record<string, SharedArrayBuffer> = {};
  for (const r of [...regionsOf(spec), ...sortScratchRegions(spec, threads)]) {
    const bytes = Math.max(8, Math.ceil((r.length * BYTES_PER[r.dtype]) / 8) * 8);
    regions[r.key] = new SharedArrayBuffer(bytes);
  }
  const control = new SharedArrayBuffer(controlOffsets(spec).length * 4);
  return { control, regions };
}

/** Typed views over {@link Buffers}, built the same way on the host and in every worker. */
export class Views {
  readonly control: Int32Array;
  readonly ctl: ControlOffsets;
  private readonly views = new Map<string, TypedArray>();

  constructor(
    readonly spec: ModelSpec,
    readonly buffers: Buffers,
  ) {
    this.control = new Int32Array(buffers.control);
    this.ctl = controlOffsets(spec);
    for (const r of regionsOf(spec)) {
      const sab = buffers.regions[r.key];
      if (!sab) throw new Error(`missing region ${r.key}`);
      this.views.set(r.key, typedView(r.dtype, sab, 0, r.length));
    }
  }

  get(key: string): TypedArray {
    const v = this.views.get(key);
    if (!v) throw new Error(`no region '${key}'`);
    return v;
  }

  u32(key: string): Uint32Array {
    return this.get(key) as Uint32Array;
  }

  /** A u32 scratch region allocated beside the model's (sortScratchRegions), or null if there is none. */
  scratch(key: string): Uint32Array | null {
    let v = this.views.get(key);
    if (!v) {
      const sab = this.buffers.regions[key];
      if (!sab) return null;
      v = new Uint32Array(sab);
      this.views.set(key, v);
    }
    return v as Uint32Array;
  }

  f64(key: string): Float64Array {
    return this.get(key) as Float64Array;
  }

  /** The buffer (0|1) of column `c` that currently holds the state. */
  parity(column: number): number {
    return this.control[this.ctl.parity + column]!;
  }

  /** Current-state view of a field. */
  current(kind: string, field: string, column: number): TypedArray {
    return this.get(`${kind}.state.${field}.${this.parity(column)}`);
  }
}
