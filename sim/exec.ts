/**
 * Runs kernels over partitions. The same Executor is built on the host and in every worker from the
 * frozen spec and the shared buffers, so every thread resolves the same views for a phase.
 */
import { Fault, type CpuKernel, type CpuKernelContext, type FaultCode, type GraphView, type KernelRegistry, type MessageColumns, type MessageIn, type MessageOut } from '../src/kernel.js';
import type { FunctionSpec, KindSpec, MessageSpec, ModelSpec } from '../src/model.js';
import { makeRng } from '../src/rng.js';
import { cellOf } from '../kernels/common/cpu.js';
import type { TypedArray } from '../src/types.js';
import { compileIndexLoops, type IndexLoops } from '../kernels/common/index-loops.js';
import { freshCopy } from '../kernels/common/specialize.js';
import { CTRL, type Views } from './memory.js';
import { EV, type TraceWriter } from './trace.js';

export interface FnPlan {
  spec: FunctionSpec;
  kind: KindSpec;
  kernel: CpuKernel;
  /** Column index per declared field of the kind. */
  columns: number[];
  /** Column index of each written field, in `spec.writes` order. */
  writeColumns: number[];
  /** Written fields as indexes into kind.fields, floats only (for the finite check). */
  floatWrites: number[];
  /** Message id whose active list drives this function, or -1. */
  activeMessage: number;
  /** Spatial messages this function outputs (their keys are computed after the kernel). */
  spatialOutputs: MessageSpec[];
  /** Cached state/next records by parity signature of the kind's columns. */
  cache: Map<number, StateViews>;
  ctx: CpuKernelContext | null;
}

interface StateViews {
  state: Record<string, TypedArray>;
  next: Record<string, TypedArray>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Values of `control[schedule]`: how a parallel phase is split over the threads. */
export const SCHEDULE = { chunks: 0, static: 1 } as const;

/** What a doorbell task < 0 does with its message (see {@link messageTask}). */
export const MSG_TASK = { gather: 0, count: 1, offsets: 2, scatter: 3 } as const;

/** The doorbell task of sub-task `sub` ({@link MSG_TASK}) of message `m`'s index build: −1 − (4m + sub). */
export function messageTask(m: number, sub: number): number {
  return -1 - (4 * m + sub);
}

/** Range `part` of `parts` contiguous ranges of [0, n): [start, end). */
function split(n: number, part: number, parts: number): [number, number] {
  const chunk = Math.ceil(n / parts);
  const start = Math.min(n, part * chunk);
  return [start, Math.min(n, start + chunk)];
}

/** Records one sender may emit per step (slots per sender in the raw columns). */
export function maxPerActor(m: MessageSpec): number {
  const d = m.delivery;
  return d.type === 'direct' || d.type === 'bucket' ? d.maxPerActor : 1;
}

/** Smallest chunk of a parallel phase, in items: a claim and a kernel call cost ~1 µs. */
const MIN_CHUNK = 4096;
/** Chunks per thread of a large parallel phase: enough to even out a thread that starts late. */
const CHUNKS_PER_THREAD = 16;
/**
 * A parallel phase with fewer items than this per thread runs static partitions: every thread then
 * has a share of every function (sim/trace.ts draws one kernel slice per thread), and a phase this
 * small costs little more than the doorbell.
 */
const CHUNKED_FROM = 4 * MIN_CHUNK;

/** Items per chunk of a function that visits `n` items in a phase launched on `parts` threads. */
export function chunkSize(n: number, parts: number): number {
  return Math.max(MIN_CHUNK, Math.ceil(n / (parts * CHUNKS_PER_THREAD)));
}

export class Executor {
  readonly plans: FnPlan[];
  private readonly ctrl: Int32Array;
  private readonly kindIds: Map<string, number>;
  /** This thread's trace ring (sim/trace.ts), or null when the run is not traced. */
  tracer: TraceWriter | null = null;

  constructor(
    readonly spec: ModelSpec,
    readonly views: Views,
    registry: KernelRegistry,
  ) {
    this.ctrl = views.control;
    this.kindIds = new Map(spec.kinds.map((k) => [k.name, k.id]));
    const kindBy = new Map(spec.kinds.map((k) => [k.name, k]));
    const msgBy = new Map(spec.messages.map((m) => [m.name, m]));
    this.plans = spec.functions.map((f) => {
      const kind = kindBy.get(f.kind)!;
      const act = f.activation;
      return {
        spec: f,
        kind,
        kernel: registry.get(f.kernel, 'cpu').cpu,
        columns: kind.fields.map((x) => x.column),
        writeColumns: f.writes.map((w) => kind.fields.find((x) => x.name === w)!.column),
        floatWrites: f.writes
          .map((w) => kind.fields.findIndex((x) => x.name === w))
          .filter((i) => kind.fields[i]!.type === 'f32' || kind.fields[i]!.type === 'f64'),
        activeMessage: act.type === 'onMessage' ? msgBy.get(act.message)!.id : -1,
        spatialOutputs: f.outputs.map((o) => msgBy.get(o)!).filter((m) => m.delivery.type === 'spatial'),
        cache: new Map(),
        ctx: null,
      };
    });
  }

  /** Number of items (actors or active ids) function `f` visits this step. */
  items(f: number): number {
    return this.ctrl[this.views.ctl.items + f]!;
  }

  runs(f: number): boolean {
    return this.ctrl[this.views.ctl.runs + f] === 1;
  }

  /**
   * Runs this thread's share of a parallel launch of `phase` on `parts` threads: chunks claimed from
   * the shared `claim` counter (the default schedule), or the static partition `part` of `parts`.
   */
  runShare(phase: number, part: number, parts: number): void {
    if (this.ctrl[CTRL.schedule] === SCHEDULE.static || this.phaseItems(phase) < parts * CHUNKED_FROM) this.runPartition(phase, part, parts);
    else this.runChunks(phase, part, parts);
  }

  /** Items the functions of `phase` that run this step visit in all (the same on every thread). */
  private phaseItems(phase: number): number {
    let total = 0;
    for (const fid of this.spec.phases[phase]!.functions) if (this.runs(fid)) total += this.items(fid);
    return total;
  }

  /**
   * Claims chunks of the phase's functions until none is left. Chunk j is a fixed range of one
   * function's items (function by function, in phase order, {@link chunkSize} items each), so the
   * ranges never depend on which thread runs them or when: a thread that starts late, or is preempted
   * by another process, just claims fewer, and the others take up its work. Kernels see contiguous
   * item ranges as before, and their results do not depend on how the items were split (the
   * determinism contract across worker counts); the finite check runs on each chunk right after its
   * kernel, while the chunk's output is still in cache.
   */
  runChunks(phase: number, part: number, parts: number): void {
    const ph = this.spec.phases[phase]!;
    const c = this.ctrl;
    const checkFinite = c[CTRL.checkFinite] === 1;
    const tr = this.tracer;
    const tPhase = tr !== null && part !== 0 ? tr.now() : 0;
    // Function f owns the global chunk indexes [first, first + chunks); j only grows.
    let first = 0;
    let j = Atomics.add(c, CTRL.claim, 1);
    for (const fid of ph.functions) {
      if (!this.runs(fid)) continue;
      const n = this.items(fid);
      if (n === 0) continue;
      const cs = chunkSize(n, parts);
      const chunks = Math.ceil(n / cs);
      if (j < first + chunks) {
        const plan = this.plans[fid]!;
        const tk = tr !== null ? tr.now() : 0;
        let visited = 0;
        const ctx = this.context(plan);
        do {
          const start = (j - first) * cs;
          const end = Math.min(n, start + cs);
          this.runRange(plan, ctx, start, end, checkFinite);
          visited += end - start;
          j = Atomics.add(c, CTRL.claim, 1);
        } while (j < first + chunks);
        if (tr !== null) tr.slice(EV.kernel, fid, visited, tk, tr.now());
      }
      first += chunks;
    }
    if (tr !== null && part !== 0) tr.slice(EV.phase, phase, c[CTRL.step]!, tPhase, tr.now());
  }

  /** One kernel call over items [start, end), then its finite check and spatial keys. */
  private runRange(plan: FnPlan, ctx: CpuKernelContext, start: number, end: number, checkFinite: boolean): void {
    plan.kernel(ctx, start, end);
    if (checkFinite && plan.floatWrites.length > 0 && this.ctrl[CTRL.faultCode] === 0) this.checkFinite(plan, ctx, start, end);
    // Spatial keys are computed here, in parallel, rather than serially in the index build.
    for (const m of plan.spatialOutputs) this.spatialKeys(m, ctx.active, start, end);
  }

  /** Runs partition `part` of `parts` of every function of `phase` that runs this step. */
  runPartition(phase: number, part: number, parts: number): void {
    const ph = this.spec.phases[phase]!;
    const checkFinite = this.ctrl[CTRL.checkFinite] === 1;
    const tr = this.tracer;
    // The host's phase slice (with its barrier wait) is recorded by the Simulation; a worker's here.
    const tPhase = tr !== null && part !== 0 ? tr.now() : 0;
    for (const fid of ph.functions) {
      if (!this.runs(fid)) continue;
      const n = this.items(fid);
      const chunk = Math.ceil(n / parts);
      const start = Math.min(n, part * chunk);
      const end = Math.min(n, start + chunk);
      if (start >= end) continue;
      const plan = this.plans[fid]!;
      const tk = tr !== null ? tr.now() : 0;
      this.runRange(plan, this.context(plan), start, end, checkFinite);
      if (tr !== null) tr.slice(EV.kernel, fid, end - start, tk, tr.now());
    }
    if (tr !== null && part !== 0) tr.slice(EV.phase, phase, this.ctrl[CTRL.step]!, tPhase, tr.now());
  }

  /** Grid cell of each record emitted by the senders of items [start, end). */
  private spatialKeys(m: MessageSpec, active: Uint32Array | null, start: number, end: number): void {
    const v = this.views;
    const sent = v.u32(`${m.name}.raw.sent`);
    const key = v.u32(`${m.name}.raw.key`);
    const x = v.get(`${m.name}.raw.x`);
    const y = v.get(`${m.name}.raw.y`);
    const z = v.get(`${m.name}.raw.z`);
    const { min, cellSize, dims } = m.grid!;
    for (let i = start; i < end; i++) {
      const s = active ? active[i]! : i;
      if (sent[s] !== 0) key[s] = cellOf(x[s]!, y[s]!, z[s]!, min, cellSize, dims);
    }
  }

  /** Runs the message sub-task `task` (< 0, see {@link messageTask}) for partition `part` of `parts`. */
  runMessageTask(task: number, part: number, parts: number): void {
    const mt = -1 - task;
    const m = this.spec.messages[mt >> 2]!;
    switch (mt & 3) {
      case MSG_TASK.gather:
        this.gatherPartition(m, part, parts);
        break;
      case MSG_TASK.count:
        this.sortCount(m, part, parts);
        break;
      case MSG_TASK.offsets:
        this.sortOffsets(m, part, parts);
        break;
      default:
        this.sortScatter(m, part, parts);
    }
  }

  /**
   * Parallel index build, step 1 of 3 (sender range `part` of `parts`): this thread's histogram row
   * `psort.hist[part]` = records of its senders per key, and `psort.ranges[part][r]` = records of its
   * senders into key range r. Idempotent (a re-run after a death rewrites the same row).
   * The three steps give exactly the serial countingSortByKey's output: records sorted by key, and
   * within a key by sender range, then sender, then sequence, i.e. by (key, sender, sequence).
   */
  sortCount(m: MessageSpec, part: number, parts: number): void {
    const v = this.views;
    const [s0, s1] = split(this.senders(m), part, parts);
    const perRange = new Float64Array(parts);
    this.indexLoops(m).message.count(s0, s1, part * m.keys, perRange, Math.ceil(m.keys / parts));
    v.scratch(`${m.name}.psort.ranges`)!.set(perRange, part * parts);
  }

  /**
   * Parallel index build, step 2 (key range `part` of `parts`): `offsets[k]` for the keys of this range,
   * and every thread's cursor at each of them (where its first record of key k goes). Idempotent.
   */
  sortOffsets(m: MessageSpec, part: number, parts: number): void {
    const v = this.views;
    const keys = m.keys;
    const hist = v.scratch(`${m.name}.psort.hist`)!;
    const cursor = v.scratch(`${m.name}.psort.cursor`)!;
    const ranges = v.scratch(`${m.name}.psort.ranges`)!;
    const offsets = v.u32(`${m.name}.sorted.offsets`);
    const [k0, k1] = split(keys, part, parts);
    let run = 0;
    for (let r = 0; r < part; r++) for (let p = 0; p < parts; p++) run += ranges[p * parts + r]!;
    if (parts === 2) {
      // The common case, unrolled: V8 keeps `run` in a register and the two rows streaming.
      for (let k = k0; k < k1; k++) {
        const c0 = hist[k]!;
        offsets[k] = run;
        cursor[k] = run;
        cursor[k + keys] = run + c0;
        run += c0 + hist[k + keys]!;
      }
      return;
    }
    for (let k = k0; k < k1; k++) {
      offsets[k] = run;
      for (let p = 0, i = k; p < parts; p++, i += keys) {
        cursor[i] = run;
        run += hist[i]!;
      }
    }
  }

  /**
   * Parallel index build, step 3 (sender range `part`): places this thread's records at its cursors
   * (`sorted.perm`, `sorted.sender`, and every field: no separate gather). Moves the cursors, so a
   * re-run needs step 2 again first.
   */
  sortScatter(m: MessageSpec, part: number, parts: number): void {
    const [s0, s1] = split(this.senders(m), part, parts);
    const loops = this.indexLoops(m);
    const tr = this.tracer;
    loops.message.scatter(s0, s1, part * m.keys);
    const t0 = tr !== null ? tr.now() : 0;
    for (const f of loops.fields) f.scatter(s0, s1);
    if (tr !== null) tr.slice(EV.gather, m.id, s1 - s0, t0, tr.now());
  }

  private readonly loops = new Map<number, IndexLoops>();

  /**
   * The record loops of message `m`'s index build, compiled over its arrays on first use in this
   * thread (kernels/common/index-loops.ts). Direct, bucket and spatial messages only.
   */
  indexLoops(m: MessageSpec): IndexLoops {
    let l = this.loops.get(m.id);
    if (l === undefined) {
      const v = this.views;
      const none = new Uint32Array(0);
      l = compileIndexLoops(
        {
          keys: m.keys,
          maxPer: maxPerActor(m),
          sent: v.u32(`${m.name}.raw.sent`),
          key: v.u32(`${m.name}.raw.key`),
          offsets: v.u32(`${m.name}.sorted.offsets`),
          perm: v.u32(`${m.name}.sorted.perm`),
          sender: v.u32(`${m.name}.sorted.sender`),
          cursor: new Uint32Array(m.keys),
          hist: v.scratch(`${m.name}.psort.hist`) ?? none,
          splitCursor: v.scratch(`${m.name}.psort.cursor`) ?? none,
          dest: v.scratch(`${m.name}.psort.dest`) ?? none,
        },
        m.fields.map((f) => [v.get(`${m.name}.sorted.${f.name}`), v.get(`${m.name}.raw.${f.name}`)] as const),
      );
      this.loops.set(m.id, l);
    }
    return l;
  }

  /** Live senders of message `m`. */
  senders(m: MessageSpec): number {
    return this.ctrl[this.views.ctl.counts + this.kindIds.get(m.sender)!]!;
  }

  /**
   * Part `part` of `parts` of the gather of message `m`'s sorted records: `sorted.f[i] = raw.f[perm[i]]`
   * for the records of this part (contiguous ranges of the sorted list).
   */
  gatherPartition(m: MessageSpec, part: number, parts: number): void {
    const v = this.views;
    const total = this.ctrl[v.ctl.msgCount + m.id]!;
    const chunk = Math.ceil(total / parts);
    const start = Math.min(total, part * chunk);
    const end = Math.min(total, start + chunk);
    if (start >= end) return;
    const tr = this.tracer;
    const t0 = tr !== null ? tr.now() : 0;
    for (const f of this.indexLoops(m).fields) f.gather(start, end);
    if (tr !== null) tr.slice(EV.gather, m.id, end - start, t0, tr.now());
  }

  private checkFinite(plan: FnPlan, ctx: CpuKernelContext, start: number, end: number): void {
    const act = ctx.active;
    for (const fi of plan.floatWrites) {
      const name = plan.kind.fields[fi]!.name;
      const col = ctx.next[name]!;
      // One scan per element type keeps each loop monomorphic: a single loop shared by every kernel
      // saw Float32Array and Float64Array and ran at ~5 ns an element (half the time of a simple
      // 1M-actor kernel, measured in bench/step); the typed loops run at memory speed.
      const a = col instanceof Float32Array ? firstNonFinite32(col, act, start, end) : firstNonFinite64(col as Float64Array, act, start, end);
      if (a >= 0) {
        this.fault(plan, Fault.nonFinite, a, fi);
        return;
      }
    }
  }

  private fault(plan: FnPlan, code: FaultCode, actor: number, detail: number): void {
    const c = this.ctrl;
    // First fault wins: only the thread whose compareExchange sees 0 fills in the details. The
    // details are read by the host after the phase barrier, whose Atomics ops order these writes.
    if (Atomics.compareExchange(c, CTRL.faultCode, 0, code) === 0) {
      c[CTRL.faultKind] = plan.kind.id;
      c[CTRL.faultActor] = actor;
      c[CTRL.faultStep] = c[CTRL.step]!;
      c[CTRL.faultFn] = plan.spec.id;
      c[CTRL.faultDetail] = detail;
    }
  }

  /**
   * Returns the function's kernel context, updated for the current parities and step. There is one
   * context object per function, mutated in place, and its `state`/`next` records come from a cache
   * keyed by parity: objects of one shape, so kernels stay monomorphic (a fresh prototype-linked
   * object per call made V8 deoptimize the circles kernel every step and halved its speed).
   */
  context(plan: FnPlan): CpuKernelContext {
    const v = this.views;
    let sig = 0;
    for (let i = 0; i < plan.columns.length; i++) sig = sig * 2 + v.parity(plan.columns[i]!);
    if (plan.columns.length > 30) sig = -1; // too many fields for a bitmask: no caching
    let views = sig >= 0 ? plan.cache.get(sig) : undefined;
    if (!views) {
      views = this.stateViews(plan);
      if (sig >= 0) plan.cache.set(sig, views);
    }
    const ctx = (plan.ctx ??= this.buildContext(plan, views)) as Mutable<CpuKernelContext>;
    const step = this.ctrl[CTRL.step]!;
    const seed = this.ctrl[CTRL.seed]! >>> 0;
    ctx.state = views.state;
    ctx.next = views.next;
    ctx.step = step;
    ctx.time = step * this.spec.dt;
    ctx.seed = seed;
    ctx.count = this.kindCount(plan.kind);
    if (ctx.rng.step !== step || ctx.rng.seed !== seed) ctx.rng = makeRng(seed, plan.kind.id, step);
    return ctx;
  }

  private stateViews(plan: FnPlan): StateViews {
    const v = this.views;
    const kind = plan.kind;
    const state: Record<string, TypedArray> = {};
    const next: Record<string, TypedArray> = {};
    for (const f of kind.fields) {
      const p = v.parity(f.column);
      state[f.name] = v.get(`${kind.name}.state.${f.name}.${p}`);
      if (plan.spec.writes.includes(f.name)) next[f.name] = v.get(`${kind.name}.state.${f.name}.${1 - p}`);
    }
    return { state, next };
  }

  /** Live actors of a kind (set by the host in the control block). */
  kindCount(kind: KindSpec): number {
    return this.ctrl[this.views.ctl.counts + kind.id]!;
  }

  private buildContext(plan: FnPlan, views: StateViews): CpuKernelContext {
    const spec = this.spec;
    const v = this.views;
    const kind = plan.kind;
    const inputs: Record<string, MessageIn> = {};
    const outputs: Record<string, MessageOut> = {};
    const columns: Record<string, MessageColumns> = {};
    const graphs: Record<string, GraphView> = {};
    const msgBy = new Map(spec.messages.map((m) => [m.name, m]));
    for (const g of spec.graphs) graphs[g.name] = this.graphView(g.name);
    for (const name of plan.spec.inputs) {
      const m = msgBy.get(name)!;
      const t = m.delivery.type;
      if (t === 'array' || t === 'graph') columns[name] = this.messageColumns(m);
      else inputs[name] = this.messageIn(m);
    }
    for (const name of plan.spec.outputs) {
      const m = msgBy.get(name)!;
      const t = m.delivery.type;
      if (t === 'array' || t === 'graph') columns[name] = this.messageColumns(m);
      else outputs[name] = this.messageOut(plan, m);
    }
    const active = plan.activeMessage >= 0 ? v.u32(`${spec.messages[plan.activeMessage]!.name}.sorted.active`) : null;
    const fault = (code: FaultCode, actor: number, detail = 0): void => this.fault(plan, code, actor, detail);
    return {
      kind: kind.name,
      kindId: kind.id,
      fn: plan.spec.name,
      step: 0,
      dt: spec.dt,
      time: 0,
      seed: 0,
      count: 0,
      params: kind.params,
      state: views.state,
      next: views.next,
      in: inputs,
      out: outputs,
      columns,
      graphs,
      active,
      rng: makeRng(0, kind.id, 0),
      fault,
    };
  }

  private messageColumns(m: MessageSpec): MessageColumns {
    const fields: Record<string, TypedArray> = {};
    for (const f of m.fields) fields[f.name] = this.views.get(`${m.name}.columns.${f.name}`);
    return { name: m.name, fields };
  }

  messageIn(m: MessageSpec): MessageIn {
    const v = this.views;
    const fields: Record<string, TypedArray> = {};
    // A reductions-only bucket message (readRecords: false) has no sorted records: no fields, no senders.
    const records = !(m.delivery.type === 'bucket' && m.delivery.readRecords === false);
    if (records) for (const f of m.fields) fields[f.name] = v.get(`${m.name}.sorted.${f.name}`);
    const reduce: Record<string, Record<string, Float64Array>> = {};
    if (m.delivery.type === 'bucket') {
      for (const [field, ops] of Object.entries(m.delivery.reduce ?? {})) {
        reduce[field] = {};
        for (const op of ops) reduce[field][op] = v.f64(`${m.name}.reduce.${field}.${op}`);
      }
    }
    const ctrl = this.ctrl;
    const at = v.ctl.msgCount + m.id;
    const d = m.delivery;
    return {
      name: m.name,
      fields,
      sender: records ? v.u32(`${m.name}.sorted.sender`) : new Uint32Array(0),
      offsets: v.u32(`${m.name}.sorted.offsets`),
      get count() {
        return ctrl[at]!;
      },
      reduce,
      ...(m.grid && d.type === 'spatial' ? { grid: { ...m.grid, radius: d.radius } } : {}),
    };
  }

  private messageOut(plan: FnPlan, m: MessageSpec): MessageOut {
    const v = this.views;
    const fields: Record<string, TypedArray> = {};
    for (const f of m.fields) fields[f.name] = v.get(`${m.name}.raw.${f.name}`);
    const keyCol = v.u32(`${m.name}.raw.key`);
    const sent = v.u32(`${m.name}.raw.sent`);
    const d = m.delivery;
    const maxPer = d.type === 'direct' || d.type === 'bucket' ? d.maxPerActor : 1;
    const spatial = d.type === 'spatial';
    // Receivers are the live actors of the `to` kind, not its capacity: a record to a slot beyond
    // the live count would never be read (or would wake a dead actor), so it is an address fault.
    const ctrl = this.ctrl;
    const liveAt = d.type === 'direct' || d.type === 'bucket' ? this.views.ctl.counts + this.spec.kinds.find((k) => k.name === d.to)!.id : -1;
    // One closure per case, so that each kernel's call site sees a small, monomorphic function.
    // `(key >>> 0) === key` holds exactly for integers in [0, 2^32): no NaN, fraction or negative.
    let emit: (sender: number, key: number) => number;
    if (spatial) {
      emit = (sender, key) => {
        const j = sent[sender]!;
        if (j >= maxPer) {
          this.fault(plan, Fault.capacity, sender, m.id);
          return -1;
        }
        const slot = sender * maxPer + j;
        sent[sender] = j + 1;
        keyCol[slot] = key;
        return slot;
      };
    } else if (maxPer === 1) {
      emit = (sender, key) => {
        if (sent[sender] !== 0) {
          this.fault(plan, Fault.capacity, sender, m.id);
          return -1;
        }
        if (!((key >>> 0) === key && key < ctrl[liveAt]!)) {
          this.fault(plan, Fault.address, sender, m.id);
          return -1;
        }
        sent[sender] = 1;
        keyCol[sender] = key;
        return sender;
      };
    } else {
      emit = (sender, key) => {
        const j = sent[sender]!;
        if (j >= maxPer) {
          this.fault(plan, Fault.capacity, sender, m.id);
          return -1;
        }
        if (!((key >>> 0) === key && key < ctrl[liveAt]!)) {
          this.fault(plan, Fault.address, sender, m.id);
          return -1;
        }
        const slot = sender * maxPer + j;
        sent[sender] = j + 1;
        keyCol[slot] = key;
        return slot;
      };
    }
    return { name: m.name, fields, emit };
  }

  graphView(name: string): GraphView {
    const v = this.views;
    const g = this.spec.graphs.find((x) => x.name === name)!;
    const fields: Record<string, TypedArray> = {};
    for (const f of g.fields) fields[f.name] = v.get(`graph.${name}.field.${f.name}`);
    const ctrl = this.ctrl;
    const at = v.ctl.edges + this.spec.graphs.indexOf(g);
    return {
      name,
      get edges() {
        return ctrl[at]!;
      },
      rowPtr: v.u32(`graph.${name}.rowPtr`),
      dst: v.u32(`graph.${name}.dst`),
      src: v.u32(`graph.${name}.src`),
      inRowPtr: v.u32(`graph.${name}.inRowPtr`),
      inEdge: v.u32(`graph.${name}.inEdge`),
      fields,
    };
  }
}

/**
 * A scan for the first actor in items [start, end) whose value is NaN or ±Infinity, or −1.
 *
 * The common case (all finite) is one sum: f32 values are at most 3.4e38 in magnitude, so the f64 sum
 * of up to 2^32 finite ones stays below 1.5e48 and is finite, while a NaN, or an infinity, makes it
 * NaN or infinite (+Inf and −Inf together give NaN). Only when the sum is not finite is the range
 * searched for the first culprit. Sixteen values per iteration in four chains of pairwise adds keep
 * the adder busy: measured 1.4–1.6× faster than four running sums of v·0 (the scan before), which was
 * itself 0.5–0.8× the time of a simple kernel at 1M actors.
 */
function makeFirstNonFinite() {
  return (col: Float32Array | Float64Array, act: Uint32Array | null, start: number, end: number): number => {
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let i = start;
    if (act === null) {
      for (; i + 15 < end; i += 16) {
        a0 += col[i]! + col[i + 4]! + (col[i + 8]! + col[i + 12]!);
        a1 += col[i + 1]! + col[i + 5]! + (col[i + 9]! + col[i + 13]!);
        a2 += col[i + 2]! + col[i + 6]! + (col[i + 10]! + col[i + 14]!);
        a3 += col[i + 3]! + col[i + 7]! + (col[i + 11]! + col[i + 15]!);
      }
      for (; i < end; i++) a0 += col[i]!;
    } else {
      for (; i + 3 < end; i += 4) {
        a0 += col[act[i]!]!;
        a1 += col[act[i + 1]!]!;
        a2 += col[act[i + 2]!]!;
        a3 += col[act[i + 3]!]!;
      }
      for (; i < end; i++) a0 += col[act[i]!]!;
    }
    const sum = a0 + a1 + a2 + a3;
    if (sum - sum === 0) return -1;
    // v - v is 0 for finite numbers and NaN for NaN and ±Inf.
    for (let j = start; j < end; j++) {
      const a = act === null ? j : act[j]!;
      if (col[a]! - col[a]! !== 0) return a;
    }
    return -1;
  };
}

/**
 * The scan for f32 columns and the one for f64 columns: one source, two copies (freshCopy gives each
 * its own function literal), so each loop only ever sees one element type and V8 keeps it
 * monomorphic (a single loop over both types measured slower in session 1, commit 29f1670). For f64
 * columns finite values can overflow the sum (1e308 + 1e308), which only sends the scan to the
 * search, and the search decides: the result is exact either way.
 */
const firstNonFinite32: (col: Float32Array, act: Uint32Array | null, start: number, end: number) => number = freshCopy(makeFirstNonFinite)();
const firstNonFinite64: (col: Float64Array, act: Uint32Array | null, start: number, end: number) => number = freshCopy(makeFirstNonFinite)();
