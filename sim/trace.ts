/**
 * Tracing (issue 7): `trace.json` in Chrome's trace event format (opens in Perfetto and
 * chrome://tracing), recorded cheaply from every thread of a run.
 *
 * Recording. Each thread (the host is partition 0, worker k partition k) owns one ring: a
 * SharedArrayBuffer of fixed-size records `[type, id, arg, startNs, endNs]` (see the layout below).
 * A record is two clock reads and six stores; nothing is allocated. Times are nanoseconds since one
 * origin shared by every thread: `performance.timeOrigin` differs per thread (it is the thread's own
 * start), so each thread converts `performance.timeOrigin + performance.now()` into the host's frame
 * with a per-thread offset computed once.
 *
 * Draining. The host drains every ring at the end of each step, when every worker is parked at the
 * doorbell (so no ring is being written), turns the records into trace events, adds flow arrows for
 * the messages exchanged between phases (output function → index build → input function) and
 * counters (messages/s, active actors, queue depths, bytes copied), and appends them to the file.
 *
 * Bounded memory. A ring holds `capacity` records per thread per step; what a thread records beyond
 * that is counted, not stored. The file holds at most `maxEvents` events; later ones are counted.
 * Both counts are in the run's summary (`summary.trace.droppedEvents`) and in the file's `otherData`,
 * and the CLI prints a warning when they are not zero: nothing is dropped silently.
 *
 * When tracing is off nothing here runs: the hot paths test one `tracer !== null`.
 *
 * @example
 * ```ts
 * const tracer = new Tracer(spec, { file: 'runs/x/trace.json', meta: { scenario: 'circles' } });
 * const sim = await Simulation.create(spec, { workers: 2, tracer });
 * sim.run(10);          // each step drains the rings into the file
 * await sim.close();
 * const stats = tracer.close();  // { events, droppedEvents, … }
 * ```
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import type { FunctionSpec, MessageSpec, ModelSpec } from '../src/model.js';
import { BYTES_PER } from '../src/types.js';
import type { Views } from './memory.js';

/** Record types. */
export const EV = {
  /** host: one step; arg = step. */
  step: 1,
  /** any thread: its part of a phase; id = phase, arg = step. */
  phase: 2,
  /** any thread: one function over its partition; id = function, arg = items visited. */
  kernel: 3,
  /** host: waiting at the barrier for the workers; id = phase (≥ 0) or −1 − m for the gather of message m. */
  wait: 4,
  /** host: the index build of a message; id = message, arg = records. */
  index: 5,
  /** host: the counting sort of a message's keys (serial); id = message. */
  sort: 6,
  /** any thread: its part of the gather of a message's records; id = message, arg = records. */
  gather: 7,
  /** host: segment reductions and the active list of a message; id = message. */
  reduce: 8,
  /** host: copy of idle actors' columns for an on-message function; id = function, arg = bytes. */
  copy: 9,
  /** host: run-loop work (metrics, files, checkpoints…); id = a label registered with {@link Tracer.label}. */
  host: 10,
  /** GPU queue: a phase's kernels; id = phase. */
  gpuKernel: 11,
  /** GPU queue: the index builds after a phase; id = phase. */
  gpuIndex: 12,
  /** GPU queue: other GPU work (reductions, a whole step without timestamps); id = a label. */
  gpuOther: 13,
  /** host: the tracer's own drain of the rings. */
  drain: 14,
} as const;
export type EventType = (typeof EV)[keyof typeof EV];

/** Category (`cat`) of each record type in trace.json; the profile report classifies slices by it. */
export const CATEGORY: Readonly<Record<number, string>> = {
  [EV.step]: 'step',
  [EV.phase]: 'phase',
  [EV.kernel]: 'kernel',
  [EV.wait]: 'wait',
  [EV.index]: 'index',
  [EV.sort]: 'sort',
  [EV.gather]: 'gather',
  [EV.reduce]: 'reduce',
  [EV.copy]: 'copy',
  [EV.host]: 'host',
  [EV.gpuKernel]: 'gpu',
  [EV.gpuIndex]: 'gpu',
  [EV.gpuOther]: 'gpu',
  [EV.drain]: 'trace',
};

/** The argument of a slice that comes from its record's `arg` (the others depend on type and id only). */
const DYNAMIC_ARG: Readonly<Record<number, string>> = {
  [EV.step]: 'step',
  [EV.phase]: 'step',
  [EV.kernel]: 'items',
  [EV.index]: 'records',
  [EV.gather]: 'records',
  [EV.copy]: 'items',
  [EV.drain]: 'step',
};

/** Categories of leaf slices that are a thread's own work (its utilisation counts these). */
export const BUSY_CATEGORIES: readonly string[] = ['kernel', 'gather', 'sort', 'reduce', 'copy'];

/** Trace process id of the run, thread id of partition k (`1 + k`), and of the GPU queue. */
export const TRACE_PID = 1;
export const tidOf = (part: number): number => 1 + part;
export const GPU_TID = 1000;

/** Float64 slots per record. */
const REC = 5;
/** Bytes before the records: the Int32 header, padded to 8 for the Float64Array. */
const HEADER_BYTES = 8;

/* layout of a trace ring (one SharedArrayBuffer per thread, key `trace.ring.<part>`):
 *   Int32   [0]          written   records written since the last drain (may exceed capacity:
 *                                  the excess was dropped and is counted by the drain)
 *   Int32   [1]          spare
 *   Float64 [1 + 5r + 0] type      EV.*
 *           [1 + 5r + 1] id        phase, function or message id (see EV)
 *           [1 + 5r + 2] arg       step, items, records or bytes (see EV)
 *           [1 + 5r + 3] startNs   ns since the trace origin
 *           [1 + 5r + 4] endNs
 */

/** What a thread needs to write its ring (plain data: travels in a worker's workerData). */
export interface TraceThreadInit {
  readonly ring: SharedArrayBuffer;
  /** Records the ring holds. */
  readonly capacity: number;
  /** The trace origin: the host's `performance.timeOrigin + performance.now()` at creation, ms. */
  readonly originMs: number;
}

/** Writes one thread's records. Cheap: no allocation, two clock reads per slice. */
export class TraceWriter {
  private readonly head: Int32Array;
  private readonly rec: Float64Array;
  private readonly capacity: number;
  /** This thread's `performance.timeOrigin` in the trace's frame, ms. */
  private readonly offsetMs: number;

  constructor(init: TraceThreadInit) {
    this.head = new Int32Array(init.ring, 0, 2);
    this.rec = new Float64Array(init.ring, HEADER_BYTES, init.capacity * REC);
    this.capacity = init.capacity;
    this.offsetMs = performance.timeOrigin - init.originMs;
  }

  /** Now, in ns since the trace origin. */
  now(): number {
    return (this.offsetMs + performance.now()) * 1e6;
  }

  /** A `performance.now()` value of this thread (ms), in ns since the trace origin. */
  ns(ms: number): number {
    return (this.offsetMs + ms) * 1e6;
  }

  /** Records a slice [startNs, endNs] on this thread. */
  slice(type: EventType, id: number, arg: number, startNs: number, endNs: number): void {
    // Plain reads and writes: only this thread writes the ring while a step runs, and the host reads
    // it after the step's last barrier (whose Atomics operations order these writes before its reads).
    const i = this.head[0]!;
    this.head[0] = i + 1;
    if (i >= this.capacity) return; // counted as dropped by the drain
    const r = this.rec;
    const o = i * REC;
    r[o] = type;
    r[o + 1] = id;
    r[o + 2] = arg;
    r[o + 3] = startNs;
    r[o + 4] = endNs;
  }

  /** Records a slice between two `performance.now()` values (ms) of this thread. */
  sliceMs(type: EventType, id: number, arg: number, t0Ms: number, t1Ms: number): void {
    this.slice(type, id, arg, this.ns(t0Ms), this.ns(t1Ms));
  }
}

export interface TraceOptions {
  /** Where trace.json goes; null keeps only per-step statistics (the dashboard's utilisation). */
  file?: string | null;
  /** Records each thread's ring holds between two drains, i.e. per step (default 4096). */
  capacity?: number;
  /** Events written to the file at most (default 2,000,000, about 250 MB); later ones are counted as dropped. */
  maxEvents?: number;
  /** Facts written into the file's `otherData` (scenario, backend, workers, actors…). */
  meta?: Record<string, unknown>;
}

/** What a traced step adds as counters (ARCHITECTURE §6). */
export interface StepCounters {
  /** Message records sent this step, all messages; null where they are not known (they stay on the GPU). */
  messages: number | null;
  /** Actors visited this step, by kind (the largest item count of the kind's functions that ran). */
  activeActors: Record<string, number>;
  /** Records in each message list after its index build. */
  queueDepth: Record<string, number>;
  /** Bytes copied by the runtime this step, by what copied them. */
  bytesCopied: Record<string, number>;
}

/** Per-step figures for live listeners (the dashboard). */
export interface TraceStepStats {
  step: number;
  stepMs: number;
  /** Busy fraction of each thread over the step: index 0 the host, k worker k; then the GPU if any. */
  threads: { name: string; busy: number }[];
  messages: number | null;
}

/** Totals of a finished trace, for the run's summary. */
export interface TraceSummary {
  file: string | null;
  steps: number;
  events: number;
  /** Records that did not fit a ring plus events past maxEvents: zero when the trace is complete. */
  droppedEvents: number;
  droppedFromRings: number;
  droppedFromFile: number;
  /** Ring capacity per thread per step, and maxEvents: the knobs to raise when droppedEvents > 0. */
  capacity: number;
  maxEvents: number;
  /** Host time spent draining and writing, ms in total and µs per step. */
  drainMs: number;
  drainUsPerStep: number;
}

interface Drained {
  tid: number;
  type: number;
  id: number;
  arg: number;
  start: number;
  end: number;
}

/** Host side of a trace: owns the rings, drains them and writes the file. */
export class Tracer {
  readonly spec: ModelSpec;
  readonly capacity: number;
  readonly maxEvents: number;
  readonly file: string | null;
  /** The trace origin (host `performance.timeOrigin + performance.now()` at creation), ms. */
  readonly originMs: number;
  private rings: { init: TraceThreadInit; head: Int32Array; rec: Float64Array }[] = [];
  private hostWriter: TraceWriter | null = null;
  private fd: number | null = null;
  private buf: string[] = [];
  private bufChars = 0;
  private events = 0;
  private droppedRings = 0;
  private droppedFile = 0;
  private steps = 0;
  private drainNs = 0;
  private flowId = 0;
  private gpu = false;
  private closed = false;
  private readonly labels = new Map<string, number>();
  private readonly labelNames: string[] = [];
  private readonly meta: Record<string, unknown>;
  private readonly listeners: ((s: TraceStepStats) => void)[] = [];
  /** Per message: producer and consumer functions. */
  private readonly producers: FunctionSpec[][];
  private readonly consumers: FunctionSpec[][];
  private readonly phaseOfFn: number[];
  private readonly fnNames: string[];

  constructor(spec: ModelSpec, opts: TraceOptions = {}) {
    this.spec = spec;
    this.capacity = opts.capacity ?? 4096;
    this.maxEvents = opts.maxEvents ?? 2_000_000;
    if (!Number.isInteger(this.capacity) || this.capacity < 16) throw new RangeError(`trace capacity must be an integer ≥ 16, got ${String(opts.capacity)}`);
    if (!Number.isInteger(this.maxEvents) || this.maxEvents < 1) throw new RangeError(`trace maxEvents must be a positive integer, got ${String(opts.maxEvents)}`);
    this.file = opts.file ?? null;
    this.meta = { ...(opts.meta ?? {}) };
    this.originMs = performance.timeOrigin + performance.now();
    this.producers = spec.messages.map((m) => spec.functions.filter((f) => f.outputs.includes(m.name)));
    this.consumers = spec.messages.map((m) => spec.functions.filter((f) => f.inputs.includes(m.name)));
    this.phaseOfFn = spec.functions.map((f) => spec.phases.find((p) => p.functions.includes(f.id))?.index ?? -1);
    this.fnNames = spec.functions.map((f) => f.name);
  }

  /** Opens `<file>.partial` (on allocation, so a simulation that fails to start leaves no file open). */
  private open(): void {
    if (this.file === null || this.fd !== null || this.closed) return;
    this.fd = openSync(this.file + '.partial', 'w');
    writeSync(this.fd, '{"traceEvents":[\n');
  }

  /** Allocates one ring per thread (host + workers − 1); `gpu` adds the GPU queue track. */
  allocate(threads: number, opts: { gpu?: boolean } = {}): void {
    if (this.rings.length > 0) throw new Error('Tracer.allocate called twice: a tracer serves one simulation');
    this.gpu = opts.gpu === true;
    for (let part = 0; part < threads; part++) {
      const ring = new SharedArrayBuffer(HEADER_BYTES + this.capacity * REC * 8);
      const init: TraceThreadInit = { ring, capacity: this.capacity, originMs: this.originMs };
      this.rings.push({ init, head: new Int32Array(ring, 0, 2), rec: new Float64Array(ring, HEADER_BYTES, this.capacity * REC) });
    }
    this.hostWriter = new TraceWriter(this.rings[0]!.init);
    this.open();
    this.emitMetadata();
  }

  /** Threads with a ring (host included). */
  get threads(): number {
    return this.rings.length;
  }

  /** The ring of partition `part`, for its thread's {@link TraceWriter}. */
  threadInit(part: number): TraceThreadInit {
    const r = this.rings[part];
    if (!r) throw new Error(`no trace ring for partition ${part} (allocated ${this.rings.length})`);
    return r.init;
  }

  /** The host thread's writer. */
  get host(): TraceWriter {
    if (!this.hostWriter) throw new Error('Tracer.allocate must be called before recording');
    return this.hostWriter;
  }

  /** Id of a label for {@link EV.host} and {@link EV.gpuOther} slices. */
  label(name: string): number {
    let id = this.labels.get(name);
    if (id === undefined) {
      id = this.labelNames.length;
      this.labels.set(name, id);
      this.labelNames.push(name);
    }
    return id;
  }

  /** A host slice of run-loop work between two `performance.now()` values (ms). */
  hostSlice(name: string, t0Ms: number, t1Ms: number): void {
    this.host.sliceMs(EV.host, this.label(name), 0, t0Ms, t1Ms);
  }

  /** Calls `fn` with each step's figures (after the step's drain). */
  onStep(fn: (s: TraceStepStats) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Ends step `step`: drains every ring, writes the step's slices, its flows and its counters. Call it
   * when no worker is inside a task (the CPU simulation calls it at the end of each traced step).
   */
  endStep(step: number, counters: StepCounters | null): void {
    const t0 = performance.now();
    const recs = this.drain();
    // Parents before their children (same start, longer first): viewers nest slices in file order.
    recs.sort((a, b) => a.tid - b.tid || a.start - b.start || b.end - a.end);
    for (const r of recs) this.emit(this.sliceEvent(r));
    this.emitFlows(recs);
    const stepRec = recs.find((r) => r.type === EV.step);
    const stepNs = stepRec ? stepRec.end - stepRec.start : 0;
    const at = stepRec ? stepRec.end : this.host.now();
    if (counters) this.emitCounters(at, stepNs, counters);
    this.steps++;
    if (this.listeners.length > 0) {
      const stats = this.stepStats(step, stepNs, recs, counters);
      for (const fn of this.listeners) fn(stats);
    }
    this.flush(false);
    const t1 = performance.now();
    this.drainNs += (t1 - t0) * 1e6;
    // The drain is host work too: recorded in the next drain, so the trace shows its own cost.
    this.host.sliceMs(EV.drain, 0, step, t0, t1);
  }

  /** Takes every ring's records and empties the rings (counting what did not fit). */
  private drain(): Drained[] {
    const recs: Drained[] = [];
    for (let part = 0; part < this.rings.length; part++) {
      const r = this.rings[part]!;
      // Workers are parked at the doorbell: their last ring writes happened before their final
      // Atomics.add on `done`, which the host's Atomics.load of `done` synchronised with.
      const written = Atomics.load(r.head, 0);
      const n = Math.min(written, this.capacity);
      this.droppedRings += written - n;
      const tid = tidOf(part);
      const rec = r.rec;
      for (let i = 0; i < n; i++) {
        const o = i * REC;
        const type = rec[o]!;
        const isGpu = type === EV.gpuKernel || type === EV.gpuIndex || type === EV.gpuOther;
        recs.push({ tid: isGpu ? GPU_TID : tid, type, id: rec[o + 1]!, arg: rec[o + 2]!, start: rec[o + 3]!, end: rec[o + 4]! });
      }
      // The next doorbell's Atomics.add publishes this reset to the worker before it writes again.
      Atomics.store(r.head, 0, 0);
    }
    return recs;
  }

  /**
   * A GPU batch (one submit), laid on the GPU queue track from `submitMs` (host `performance.now()`)
   * on: each timed section back to back with its GPU duration (timestamp queries). GPU and host
   * clocks are not correlated, so the placement is an estimate; the durations are measured. Without
   * timestamps the batch is one slice from submit to done.
   */
  gpuBatch(submitMs: number, wallMs: number, sections: readonly { label: string; passes: number; gpuMs: number | null }[], name: string): void {
    const w = this.host;
    let t = w.ns(submitMs);
    const end = w.ns(submitMs + wallMs);
    const timed = sections.filter((s) => s.gpuMs !== null && s.passes > 0);
    if (timed.length === 0) {
      w.slice(EV.gpuOther, this.label(name), 0, t, end);
      return;
    }
    for (const s of timed) {
      const d = s.gpuMs! * 1e6;
      const m = /^([ki])(\d+)$/.exec(s.label);
      const t1 = Math.min(end, t + d);
      if (m) w.slice(m[1] === 'k' ? EV.gpuKernel : EV.gpuIndex, Number(m[2]), 0, t, t1);
      else w.slice(EV.gpuOther, this.label(s.label), 0, t, t1);
      t = t1;
    }
  }

  /** Finishes the file (events, then `otherData` with the totals) and returns the totals. */
  close(extraMeta: Record<string, unknown> = {}): TraceSummary {
    if (!this.closed) {
      this.open(); // a run that never started still gets a (valid, empty) trace.json
      this.closed = true;
      // What the host recorded after the last step (its drain, the final metrics…).
      for (const r of this.drain()) this.emit(this.sliceEvent(r));
      this.flush(true);
      if (this.fd !== null) {
        const otherData = { ...this.meta, ...extraMeta, ...this.totals(), labels: this.labelNames };
        writeSync(this.fd, `\n],"displayTimeUnit":"ms","otherData":${JSON.stringify(otherData)}}\n`);
        closeSync(this.fd);
        this.fd = null;
        renameSync(this.file + '.partial', this.file!);
      }
    }
    return { file: this.file, ...this.totals() };
  }

  private totals(): Omit<TraceSummary, 'file'> {
    const drainMs = this.drainNs / 1e6;
    return {
      steps: this.steps,
      events: this.events,
      droppedEvents: this.droppedRings + this.droppedFile,
      droppedFromRings: this.droppedRings,
      droppedFromFile: this.droppedFile,
      capacity: this.capacity,
      maxEvents: this.maxEvents,
      drainMs: Math.round(drainMs * 1000) / 1000,
      drainUsPerStep: this.steps > 0 ? Math.round((drainMs * 1000 * 10) / this.steps) / 10 : 0,
    };
  }

  private emit(json: string): void {
    if (this.fd === null) return;
    if (this.events >= this.maxEvents) {
      this.droppedFile++;
      return;
    }
    this.buf.push(json);
    this.bufChars += json.length + 2;
    this.events++;
  }

  /** Writes the buffered events when they reach 1 MB (or always, at the end). */
  private flush(force: boolean): void {
    if (this.fd === null || this.buf.length === 0) return;
    if (!force && this.bufChars < 1 << 20) return;
    // The first event of the file has no leading comma; later chunks continue the array.
    const head = this.wroteAny ? ',\n' : '';
    writeSync(this.fd, head + this.buf.join(',\n'));
    this.wroteAny = true;
    this.buf = [];
    this.bufChars = 0;
  }
  private wroteAny = false;

  private emitMetadata(): void {
    const label = typeof this.meta.scenario === 'string' ? this.meta.scenario : this.spec.name;
    const m = (name: string, tid: number | null, args: Record<string, unknown>): void => {
      this.emit(JSON.stringify({ ph: 'M', name, pid: TRACE_PID, ...(tid === null ? {} : { tid }), args }));
    };
    const backend = typeof this.meta.backend === 'string' ? this.meta.backend : this.gpu ? 'webgpu' : 'cpu';
    m('process_name', null, { name: `simloom ${label} (${backend}${this.gpu ? '' : `, ${this.rings.length} thread(s)`})` });
    for (let part = 0; part < this.rings.length; part++) {
      m('thread_name', tidOf(part), { name: part === 0 ? 'host (partition 0)' : `worker ${part}` });
      m('thread_sort_index', tidOf(part), { sort_index: part });
    }
    if (this.gpu) {
      m('thread_name', GPU_TID, { name: 'GPU queue' });
      m('thread_sort_index', GPU_TID, { sort_index: 999 });
    }
  }

  private sliceName(r: Drained): { name: string; args: Record<string, unknown> } {
    const spec = this.spec;
    const msg = (id: number): MessageSpec | undefined => spec.messages[id];
    switch (r.type) {
      case EV.step:
        return { name: `step ${r.arg}`, args: { step: r.arg } };
      case EV.phase: {
        const fns = spec.phases[r.id]?.functions.map((f) => this.fnNames[f]) ?? [];
        return { name: `phase ${r.id}`, args: { phase: r.id, step: r.arg, functions: fns.join(' ') } };
      }
      case EV.kernel: {
        const f = spec.functions[r.id];
        return { name: f?.name ?? `function ${r.id}`, args: { fn: f?.name, kind: f?.kind, phase: this.phaseOfFn[r.id], items: r.arg } };
      }
      case EV.wait:
        return { name: 'barrier wait', args: r.id >= 0 ? { phase: r.id } : { gather: msg(-1 - r.id)?.name } };
      case EV.index:
        return { name: `index ${msg(r.id)?.name ?? r.id}`, args: { message: msg(r.id)?.name, records: r.arg } };
      case EV.sort:
        return { name: `sort ${msg(r.id)?.name ?? r.id}`, args: { message: msg(r.id)?.name } };
      case EV.gather:
        return { name: `gather ${msg(r.id)?.name ?? r.id}`, args: { message: msg(r.id)?.name, records: r.arg } };
      case EV.reduce:
        return { name: `reduce ${msg(r.id)?.name ?? r.id}`, args: { message: msg(r.id)?.name } };
      case EV.copy:
        return { name: `copy idle ${this.fnNames[r.id] ?? r.id}`, args: { fn: this.fnNames[r.id], items: r.arg } };
      case EV.host:
        return { name: this.labelNames[r.id] ?? `host ${r.id}`, args: {} };
      case EV.gpuKernel: {
        const fns = spec.phases[r.id]?.functions.map((f) => this.fnNames[f]) ?? [];
        return { name: `phase ${r.id} kernels`, args: { phase: r.id, functions: fns.join(' ') } };
      }
      case EV.gpuIndex:
        return { name: `phase ${r.id} index builds`, args: { phase: r.id } };
      case EV.gpuOther:
        return { name: this.labelNames[r.id] ?? `gpu ${r.id}`, args: {} };
      case EV.drain:
        return { name: 'trace drain', args: { step: r.arg } };
      default:
        return { name: `event ${r.type}`, args: {} };
    }
  }

  /**
   * The JSON of a slice. Built from cached fragments: a (type, id) always has the same name and the
   * same arguments but for the one that comes from the record's `arg` (DYNAMIC_ARG), so only the
   * numbers are formatted per event (measured: 3× cheaper than JSON.stringify of a fresh object).
   */
  private sliceEvent(r: Drained): string {
    const ts = Math.round(r.start) / 1000;
    const dur = Math.max(0, Math.round(r.end) - Math.round(r.start)) / 1000;
    const key = r.type * 0x200000 + (r.id + 0x100000);
    let f = r.type === EV.step ? undefined : this.fragments.get(key);
    if (!f) {
      const { name, args } = this.sliceName(r);
      const dyn = DYNAMIC_ARG[r.type] ?? null;
      const fixed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(args)) if (k !== dyn && v !== undefined) fixed[k] = v;
      const argsHead = JSON.stringify(fixed).slice(0, -1);
      f = { head: `{"name":${JSON.stringify(name)},"cat":"${CATEGORY[r.type] ?? 'other'}","ph":"X","pid":${TRACE_PID}`, args: dyn === null ? argsHead : `${argsHead}${argsHead.length > 1 ? ',' : ''}"${dyn}":` };
      if (r.type !== EV.step) this.fragments.set(key, f);
    }
    const dynValue = DYNAMIC_ARG[r.type] === undefined ? '' : String(r.arg);
    return `${f.head},"tid":${r.tid},"ts":${ts},"dur":${dur},"args":${f.args}${dynValue}}}`;
  }
  private readonly fragments = new Map<number, { head: string; args: string }>();

  /** Flow arrows: output function → index build → input function, per message, within the step. */
  private emitFlows(recs: readonly Drained[]): void {
    const spec = this.spec;
    for (const m of spec.messages) {
      const prod = new Set(this.producers[m.id]!.map((f) => f.id));
      const cons = new Set(this.consumers[m.id]!.map((f) => f.id));
      if (prod.size === 0 || cons.size === 0) continue;
      let from: Drained[];
      let mid: Drained[];
      let to: Drained[];
      if (this.gpu) {
        const pPhases = new Set([...prod].map((f) => this.phaseOfFn[f]));
        const cPhases = new Set([...cons].map((f) => this.phaseOfFn[f]));
        from = recs.filter((r) => r.type === EV.gpuKernel && pPhases.has(r.id));
        mid = recs.filter((r) => r.type === EV.gpuIndex && pPhases.has(r.id) && spec.phases[r.id]?.buildMessages.includes(m.id));
        to = recs.filter((r) => r.type === EV.gpuKernel && cPhases.has(r.id));
      } else {
        from = recs.filter((r) => r.type === EV.kernel && prod.has(r.id));
        mid = recs.filter((r) => r.type === EV.index && r.id === m.id);
        to = recs.filter((r) => r.type === EV.kernel && cons.has(r.id));
      }
      const hub = mid[0];
      if (hub) {
        for (const a of from) if (a.end <= hub.end) this.flow(m.name, a, hub);
        for (const b of to) if (b.start >= hub.start) this.flow(m.name, hub, b);
      } else {
        // array and graph messages have no index build: the arrow goes straight to the reader.
        for (const a of from) for (const b of to) if (b.start >= a.end) this.flow(m.name, a, b);
      }
    }
  }

  private flow(name: string, a: Drained, b: Drained): void {
    const id = ++this.flowId;
    // Each end sits inside its slice (its midpoint), so that both viewers bind it to that slice.
    const ta = Math.round((a.start + a.end) / 2) / 1000;
    const tb = Math.round((b.start + b.end) / 2) / 1000;
    const n = JSON.stringify(name);
    this.emit(`{"name":${n},"cat":"message","ph":"s","id":${id},"ts":${ta},"pid":${TRACE_PID},"tid":${a.tid}}`);
    this.emit(`{"name":${n},"cat":"message","ph":"f","bp":"e","id":${id},"ts":${tb},"pid":${TRACE_PID},"tid":${b.tid}}`);
  }

  private emitCounters(atNs: number, stepNs: number, c: StepCounters): void {
    const ts = Math.round(atNs) / 1000;
    const counter = (name: string, args: Record<string, number>): void => {
      if (Object.keys(args).length > 0) this.emit(JSON.stringify({ name, cat: 'counter', ph: 'C', ts, pid: TRACE_PID, args }));
    };
    if (c.messages !== null) {
      counter('messages per step', { records: c.messages });
      counter('messages/s', { value: stepNs > 0 ? Math.round(c.messages / (stepNs / 1e9)) : 0 });
    }
    counter('active actors', c.activeActors);
    counter('queue depth', c.queueDepth);
    counter('bytes copied', c.bytesCopied);
  }

  private stepStats(step: number, stepNs: number, recs: readonly Drained[], c: StepCounters | null): TraceStepStats {
    const busy = new Map<number, number>();
    for (const r of recs) {
      const cat = CATEGORY[r.type]!;
      if (BUSY_CATEGORIES.includes(cat) || cat === 'gpu') busy.set(r.tid, (busy.get(r.tid) ?? 0) + (r.end - r.start));
    }
    const threads = this.rings.map((_, part) => ({ name: part === 0 ? 'host' : `worker ${part}`, busy: stepNs > 0 ? Math.min(1, (busy.get(tidOf(part)) ?? 0) / stepNs) : 0 }));
    if (this.gpu) threads.push({ name: 'GPU', busy: stepNs > 0 ? Math.min(1, (busy.get(GPU_TID) ?? 0) / stepNs) : 0 });
    return { step, stepMs: stepNs / 1e6, threads, messages: c?.messages ?? 0 };
  }
}

/**
 * The counters of the step that just ran on the CPU, read from the control block: records per
 * message, actors visited per kind, and the bytes the runtime copied (gathers of message records and
 * copies of idle actors' columns for on-message functions).
 */
export function cpuStepCounters(spec: ModelSpec, views: Views): StepCounters {
  const c = views.control;
  const ctl = views.ctl;
  let messages = 0;
  const queueDepth: Record<string, number> = {};
  let gatherBytes = 0;
  for (const m of spec.messages) {
    const d = m.delivery.type;
    if (d === 'array' || d === 'graph') continue;
    const n = c[ctl.msgCount + m.id]!;
    messages += n;
    queueDepth[m.name] = n;
    let recBytes = 4; // the sorted sender id
    for (const f of m.fields) recBytes += BYTES_PER[f.type];
    gatherBytes += n * recBytes;
  }
  const activeActors: Record<string, number> = {};
  let copyBytes = 0;
  for (const f of spec.functions) {
    if (c[ctl.runs + f.id] !== 1) continue;
    const items = c[ctl.items + f.id]!;
    activeActors[f.kind] = Math.max(activeActors[f.kind] ?? 0, items);
    if (f.activation.type === 'onMessage' && items > 0) {
      const kind = spec.kinds.find((k) => k.name === f.kind)!;
      for (const w of f.writes) copyBytes += kind.capacity * BYTES_PER[kind.fields.find((x) => x.name === w)!.type];
    }
  }
  return { messages, activeActors, queueDepth, bytesCopied: { gather: gatherBytes, idleCopy: copyBytes } };
}

