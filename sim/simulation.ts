/**
 * The host side of a running model: allocates the SharedArrayBuffers, owns the worker threads, runs
 * the phases of each step, builds message indexes between phases, and checks the fault word.
 *
 * @example
 * ```ts
 * const sim = await Simulation.create(compileModel(decl), { workers: 2, seed: 7 });
 * const s = sim.state('Particle');
 * for (let i = 0; i < sim.count('Particle'); i++) s.x![i] = i;
 * sim.run(100);
 * console.log(sim.checksum());
 * await sim.close();
 * ```
 */
import os from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { countByKey, exclusiveScan, segmentReduce } from '../kernels/common/cpu.js';
import { freshCopy } from '../kernels/common/specialize.js';
import { CapacityError, CheckError, InternalError, reviveError, type SerializedError, SimloomError, UsageError } from '../src/errors.js';
import { Fault, KernelRegistry, type GraphView, type MessageIn } from '../src/kernel.js';
import type { KindSpec, MessageSpec, ModelSpec } from '../src/model.js';
import type { TypedArray } from '../src/types.js';
import { checkSnapshot, type SnapshotColumn, type SnapshotGraph, type StateSnapshot } from './checkpoint.js';
import { Executor, maxPerActor, messageTask, MSG_TASK, SCHEDULE } from './exec.js';
import { buildCsr, checkGraphInput } from './graph.js';
import { HEALTH, spin, WATCHDOG_SOURCE } from './health.js';
import { allocate, type Buffers, CTRL, Views } from './memory.js';
import { cpuStepCounters, EV, type Tracer } from './trace.js';
import type { CrashMode, WorkerInit } from './worker.js';

export interface SimulationOptions {
  /**
   * Compute threads, the calling thread included (so `workers: 2` starts one worker thread).
   * Default: `os.availableParallelism()`.
   */
  workers?: number;
  /** u32 seed of the counter-based RNG (default 1). */
  seed?: number;
  /** Scan written float fields for NaN/Inf after every kernel (default true). */
  checkFinite?: boolean;
  /**
   * A phase whose functions visit fewer than this many items in total runs on the calling thread,
   * because waking workers costs ~50 µs (default 16384).
   */
  inlineBelow?: number;
  /**
   * Test hook: make worker `part` fail at `step` in `phase`. `mode` (default `throw`): `throw` raises
   * an error in the kernel, which faults the run; `exit` (process.exit in the thread), `uncaught` (an
   * exception escapes the thread) and `oom` (the thread exceeds a small resourceLimits heap) kill the
   * thread, which is replaced and the phase re-run. `times` (default 1): how many successive threads
   * of that partition fail (a replacement fails too while `times` is not used up). `gather: true`:
   * fail in the step's first message sub-task of any kind (a parallel gather, or the first stage of
   * a split sort) rather than in `phase`; `messageTask`: in the step's first sub-task of that kind
   * (`count`, `offsets` and `scatter` are the split counting sort's, see `indexSplit`).
   */
  crashWorkerAt?: { part: number; step: number; phase: number; mode?: CrashMode; times?: number; gather?: boolean; messageTask?: keyof typeof MSG_TASK };
  /**
   * How the index of a direct, bucket or spatial message with at least 65,536 senders is sorted:
   * `auto` (default) times the serial sort on the calling thread against the sort split over every
   * thread and takes the faster (see {@link SortChoice}); `split` and `serial` always take one. Both
   * give the same index.
   */
  indexSplit?: 'auto' | 'split' | 'serial';
  /**
   * Worker threads that may die within one step: the death that reaches this count abandons the
   * step with a {@link WorkerLostError} and rolls it back (default 3).
   */
  workerDeathLimit?: number;
  /** How long a replacement worker thread may take to start, ms (default 60000). */
  workerStartTimeoutMs?: number;
  /**
   * Records a trace (sim/trace.ts): every thread writes its slices into its own ring, drained into
   * the tracer at the end of each step. Absent: nothing is recorded (one null check per phase).
   */
  tracer?: Tracer;
  /**
   * Longest a step may take, ms, before the host gives up waiting for a worker thread that is alive
   * but does not finish (a kernel in an endless loop, a deadlock): the launch then throws a
   * {@link WorkerHungError} naming the thread, the phase or index build, and the step. Checked while
   * the host waits for workers, every 50 ms. Absent (default): no deadline.
   */
  stepDeadlineMs?: number;
  /**
   * How a parallel phase is split over the threads. `chunks` (default): every thread claims fixed
   * chunks of each function's items from a shared counter until none is left, so a thread that wakes
   * late or is preempted does less and the others more. `static`: one contiguous partition per
   * thread. Phases with fewer than 16384 items per thread run static partitions under either.
   * Results are bit-identical either way (kernels must not depend on how items are split).
   */
  schedule?: 'chunks' | 'static';
  /**
   * Test hook: widen both windows of the doorbell's late-wake-up race. The host spins `notifyMs`
   * between bumping the generation and notifying the workers; each worker spins `rewaitMs` after a
   * task before sleeping again. A worker that is not asleep at the bump then runs the generation,
   * sleeps, and is woken by its late notify: it must not run that generation a second time.
   */
  doorbellRace?: { notifyMs: number; rewaitMs: number };
}

/**
 * Worker threads kept dying (or a replacement would not start): the step was abandoned and rolled
 * back, so the simulation holds the state after `step` completed steps, which a checkpoint can save.
 */
export class WorkerLostError extends SimloomError {
  constructor(
    message: string,
    /** Steps completed: the state the simulation was rolled back to. */
    readonly step: number,
    /** Worker deaths during the abandoned step. */
    readonly deaths: number,
  ) {
    super(message, 'E_WORKER_LOST');
  }
}

/**
 * A worker thread is alive but did not finish its part of a launch within `stepDeadlineMs` of the
 * step's start. The simulation is left as it was mid-step (the thread still runs): close it.
 */
export class WorkerHungError extends SimloomError {
  constructor(
    message: string,
    /** Partitions (worker threads, 1-based) that had not finished. */
    readonly parts: readonly number[],
    /** The step during which they hung (steps completed before it). */
    readonly step: number,
    /** What they were running: `phase N (functions)`, or the index build of a message. */
    readonly task: string,
  ) {
    super(message, 'E_WORKER_HUNG');
  }
}

/** Heap limits of a worker that the `oom` test hook drives out of memory. */
const OOM_TEST_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 } as const;
/**
 * A message with at least this many live senders has its index built by every thread (when there are
 * workers and the senders reach `inlineBelow` too); below, three doorbells cost more than they save.
 */
const PARALLEL_SORT_FROM = 65536;
/** The host waits for workers in slices this long, re-reading the death counter between them. */
const WAIT_SLICE_MS = 50;

/** Phase timing accumulated over a run (wall time on the host, ms). */
export interface PhaseTiming {
  phase: number;
  functions: string[];
  kernelMs: number;
  indexMs: number;
  parallelLaunches: number;
  inlineLaunches: number;
}

export class Simulation {
  readonly spec: ModelSpec;
  readonly workers: number;
  readonly seed: number;
  private readonly views: Views;
  private readonly exec: Executor;
  private readonly threads: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private readonly ctrl: Int32Array;
  private readonly inlineBelow: number;
  private readonly indexSplit: 'auto' | 'split' | 'serial';
  // Worker liveness and replacement (sim/health.ts).
  private readonly health: Int32Array;
  private watchdog: Worker | null = null;
  /** Incarnation of the thread serving partition k (index k; 0 unused). */
  private readonly incarnation: number[] = [];
  private readonly exited = new Set<Worker>();
  /** Messages of 'error' events of worker threads, by partition (they arrive when the host's event loop runs). */
  readonly workerErrors = new Map<number, string>();
  private deathsSeen = 0;
  /** A replacement is pending or did not start: check every thread before the next ring. */
  private workersUnsettled = false;
  private deathsThisStep = 0;
  private restarts = 0;
  private readonly deathLimit: number;
  private readonly startTimeoutMs: number;
  private buffers: Buffers | null = null;
  private crash: SimulationOptions['crashWorkerAt'];
  private readonly race: SimulationOptions['doorbellRace'];
  private readonly deadlineMs: number;
  /** performance.now() when the current step started (for stepDeadlineMs). */
  private stepStart = 0;
  private readonly parityAtStep: Int32Array;
  /** Per phase: the emission counters its functions write, and a backup for those an earlier phase also writes. */
  private readonly phaseSent: { sent: Uint32Array; backup: Uint32Array | null }[][];
  private readonly tracer: Tracer | null;
  private stepIndex = 0;
  private closed = false;
  readonly timings: PhaseTiming[];

  private constructor(spec: ModelSpec, buffers: Buffers, registry: KernelRegistry, opts: SimulationOptions) {
    this.spec = spec;
    this.workers = opts.workers ?? os.availableParallelism();
    this.seed = opts.seed ?? 1;
    this.inlineBelow = opts.inlineBelow ?? 16384;
    this.indexSplit = opts.indexSplit ?? 'auto';
    if (!['auto', 'split', 'serial'].includes(this.indexSplit)) throw new UsageError(`indexSplit must be 'auto', 'split' or 'serial', not '${String(opts.indexSplit)}'`);
    this.deathLimit = opts.workerDeathLimit ?? 3;
    this.startTimeoutMs = opts.workerStartTimeoutMs ?? 60_000;
    this.health = new Int32Array(new SharedArrayBuffer(HEALTH.words(this.workers) * 4));
    this.parityAtStep = new Int32Array(spec.columns);
    this.views = new Views(spec, buffers);
    this.ctrl = this.views.control;
    this.exec = new Executor(spec, this.views, registry);
    this.tracer = opts.tracer ?? null;
    this.race = opts.doorbellRace;
    this.deadlineMs = opts.stepDeadlineMs ?? Number.POSITIVE_INFINITY;
    if (this.tracer !== null) {
      this.tracer.allocate(this.workers);
      this.exec.tracer = this.tracer.host;
    }
    const c = this.ctrl;
    c[CTRL.seed] = this.seed | 0;
    c[CTRL.checkFinite] = opts.checkFinite === false ? 0 : 1;
    c[CTRL.schedule] = opts.schedule === 'static' ? SCHEDULE.static : SCHEDULE.chunks;
    for (const k of spec.kinds) {
      c[this.views.ctl.counts + k.id] = k.count;
      for (const f of k.fields) {
        if (f.initial !== 0) {
          this.views.get(`${k.name}.state.${f.name}.0`).fill(f.initial);
          this.views.get(`${k.name}.state.${f.name}.1`).fill(f.initial);
        }
      }
    }
    // A phase re-run after a worker died must start from the emission counters the phase started
    // with: zero for a message that only this phase outputs (every step zeroes them), a copy taken
    // before the launch for one that an earlier phase also outputs.
    const outputBy = new Map<number, number[]>();
    for (const ph of spec.phases) {
      for (const fid of ph.functions) {
        for (const o of spec.functions[fid]!.outputs) {
          const m = spec.messages.find((x) => x.name === o)!;
          if (m.delivery.type === 'array' || m.delivery.type === 'graph') continue;
          const list = outputBy.get(m.id) ?? [];
          if (!list.includes(ph.index)) list.push(ph.index);
          outputBy.set(m.id, list);
        }
      }
    }
    this.phaseSent = spec.phases.map((ph) =>
      [...outputBy.entries()]
        .filter(([, phases]) => phases.includes(ph.index))
        .map(([mid, phases]) => {
          const sent = this.views.u32(`${spec.messages[mid]!.name}.raw.sent`);
          return { sent, backup: phases[0] !== ph.index ? new Uint32Array(sent.length) : null };
        }),
    );
    this.activates = spec.messages.map((m) => spec.functions.some((f) => f.activation.type === 'onMessage' && f.activation.message === m.name));
    this.timings = spec.phases.map((p) => ({
      phase: p.index,
      functions: p.functions.map((f) => spec.functions[f]!.name),
      kernelMs: 0,
      indexMs: 0,
      parallelLaunches: 0,
      inlineLaunches: 0,
    }));
  }

  /** Allocates memory, loads kernels and starts `workers − 1` worker threads. */
  static async create(spec: ModelSpec, opts: SimulationOptions = {}): Promise<Simulation> {
    const workers = opts.workers ?? os.availableParallelism();
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`options.workers must be a positive integer, got ${String(workers)}`);
    if (opts.stepDeadlineMs !== undefined && !(opts.stepDeadlineMs > 0)) throw new UsageError(`options.stepDeadlineMs must be a positive number of milliseconds, got ${String(opts.stepDeadlineMs)}`);
    if (opts.schedule !== undefined && opts.schedule !== 'chunks' && opts.schedule !== 'static') throw new UsageError(`options.schedule must be 'chunks' or 'static', got ${String(opts.schedule)}`);
    const seed = opts.seed ?? 1;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`options.seed must be an integer in [0, 4294967295], got ${String(seed)}`);
    const registry = new KernelRegistry();
    await registry.load(spec.kinds.map((k) => k.kernels));
    const buffers = allocate(spec, workers);
    const sim = new Simulation(spec, buffers, registry, { ...opts, workers });
    try {
      if (opts.workerDeathLimit !== undefined && !(Number.isInteger(opts.workerDeathLimit) && opts.workerDeathLimit >= 1)) {
        throw new UsageError(`options.workerDeathLimit must be a positive integer, got ${String(opts.workerDeathLimit)}`);
      }
      await sim.startWorkers(buffers, opts.crashWorkerAt);
    } catch (err) {
      await sim.close();
      throw err;
    }
    return sim;
  }

  private async startWorkers(buffers: Buffers, crash?: SimulationOptions['crashWorkerAt']): Promise<void> {
    this.buffers = buffers;
    this.crash = crash;
    if (this.workers < 2) return;
    const w = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { health: this.health, control: this.ctrl, doneIndex: CTRL.done } });
    // The watchdog must never keep the process alive, nor take it down.
    w.unref();
    w.on('error', () => undefined);
    this.watchdog = w;
    const ready: Promise<void>[] = [];
    for (let part = 1; part < this.workers; part++) {
      const t = this.spawnWorker(part, 1);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onExit = (code: number): void => reject(new InternalError(`worker ${part} exited with code ${code} while starting`));
          t.once('error', reject);
          t.once('exit', onExit);
          t.once('message', (m: { ready?: boolean; fatal?: SerializedError }) => {
            t.off('error', reject);
            t.off('exit', onExit);
            if (m.fatal) reject(reviveError(m.fatal, `worker ${part}`));
            else resolve();
          });
        }),
      );
    }
    await Promise.all(ready);
  }

  /**
   * Starts the thread for partition `part` (the first one, or a replacement), with its lifeline to
   * the watchdog. Callable while the host is blocked: the thread loads on its own and announces
   * itself in the health block.
   */
  private spawnWorker(part: number, incarnation: number): Worker {
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url);
    const script = fromSource ? new URL('./worker-boot.mjs', import.meta.url) : entry;
    const { port1, port2 } = new MessageChannel();
    const life = new MessageChannel();
    const crash = this.crash && this.crash.part === part ? this.crash : undefined;
    const init: WorkerInit & { entry: string } = {
      spec: this.spec,
      buffers: this.buffers!,
      part,
      port: port2,
      lifeline: life.port2,
      health: this.health,
      incarnation,
      entry: entry.href,
      ...(this.tracer !== null ? { trace: this.tracer.threadInit(part) } : {}),
      ...(this.race ? { rewaitDelayMs: this.race.rewaitMs } : {}),
      ...(crash
        ? {
            crashAt: {
              step: crash.step,
              phase: crash.phase,
              mode: crash.mode ?? 'throw',
              times: crash.times ?? 1,
              // -2: any message sub-task (`gather: true`); -1: none, the phase's kernels.
              messageTask: crash.messageTask !== undefined ? MSG_TASK[crash.messageTask] : crash.gather === true ? -2 : -1,
            },
          }
        : {}),
    };
    const oom = crash?.mode === 'oom' && incarnation <= (crash.times ?? 1);
    const w = new Worker(script, { workerData: init, transferList: [port2, life.port2], ...(oom ? { resourceLimits: OOM_TEST_LIMITS } : {}) });
    // A thread's 'error' event must always have a listener (an unhandled one would end the process);
    // it is kept for the message of a WorkerLostError. Both events arrive only when the host's event loop runs.
    w.on('error', (e: Error) => this.workerErrors.set(part, `${e.name}: ${e.message}`));
    w.once('exit', (code: number) => {
      this.exited.add(w);
      if (code !== 0 && !this.workerErrors.has(part)) this.workerErrors.set(part, `exited with code ${code}`);
    });
    // Handed over at once, in the same tick: were the port still here when the thread died, it would
    // close on this thread's event loop, which is the one that may be blocked.
    this.watchdog!.postMessage({ part, incarnation, port: life.port1 }, [life.port1]);
    const old = this.threads[part - 1];
    if (old) void old.terminate().catch(() => undefined);
    this.ports[part - 1]?.close();
    this.threads[part - 1] = w;
    this.ports[part - 1] = port1;
    this.incarnation[part] = incarnation;
    return w;
  }

  /** Worker threads that died and were replaced since creation. */
  get workerRestarts(): number {
    return this.restarts;
  }

  /** Partitions whose current thread the watchdog reported dead. */
  private deadParts(): number[] {
    const out: number[] = [];
    for (let k = 1; k < this.workers; k++) if (Atomics.load(this.health, HEALTH.record(k) + HEALTH.dead) === this.incarnation[k]) out.push(k);
    return out;
  }

  /**
   * Replaces every dead worker thread and waits (blocking) until every partition's thread waits on
   * the doorbell. Deaths count against the step's limit, including a replacement that dies while
   * starting; reaching the limit, or a thread that does not start in time, throws
   * {@link WorkerLostError} and leaves `workersUnsettled` set, so that the next launch (a caller may
   * go on stepping) tries again rather than ringing for a thread that is not there.
   */
  private replaceDead(): void {
    const h = this.health;
    this.workersUnsettled = true;
    for (;;) {
      // The watchdog writes the dead word before bumping the counter: every counted death is visible.
      const deaths = Atomics.load(h, HEALTH.deaths);
      const fresh = deaths - this.deathsSeen;
      this.deathsThisStep += fresh;
      this.deathsSeen = deaths;
      const dead = this.deadParts();
      if (fresh > 0 && this.deathsThisStep >= this.deathLimit) {
        const why = dead.map((k) => this.workerErrors.get(k)).filter((x) => x !== undefined);
        throw new WorkerLostError(
          `worker threads died ${this.deathsThisStep} times during step ${this.stepIndex} (partition${dead.length === 1 ? '' : 's'} ${dead.join(', ') || '?'}${why.length > 0 ? `: ${why.join('; ')}` : ''}), ` +
            `the limit is ${this.deathLimit} per step (workerDeathLimit); the step was rolled back, so the state is that of step ${this.stepIndex}. ` +
            `Check the memory available (an out-of-memory thread dies) or run with fewer workers`,
          this.stepIndex,
          this.deathsThisStep,
        );
      }
      for (const k of dead) {
        this.restarts++;
        this.spawnWorker(k, this.incarnation[k]! + 1);
      }
      // Wait for `ready` of every partition (a thread stores its incarnation there and notifies); a
      // death while starting shows up in `dead` (the watchdog notifies `ready` too) and goes round again.
      const t0 = performance.now();
      let died = false;
      for (let k = 1; k < this.workers && !died; k++) {
        const rec = HEALTH.record(k);
        const inc = this.incarnation[k]!;
        while (Atomics.load(h, rec + HEALTH.ready) !== inc) {
          if (Atomics.load(h, rec + HEALTH.dead) === inc) {
            died = true;
            break;
          }
          if (performance.now() - t0 > this.startTimeoutMs) {
            throw new WorkerLostError(
              `worker thread ${k}, started to replace one that died during step ${this.stepIndex}, did not start within ${this.startTimeoutMs} ms; the step was rolled back to step ${this.stepIndex}`,
              this.stepIndex,
              this.deathsThisStep,
            );
          }
          Atomics.wait(h, rec + HEALTH.ready, Atomics.load(h, rec + HEALTH.ready), WAIT_SLICE_MS);
        }
      }
      if (!died && Atomics.load(h, HEALTH.deaths) === this.deathsSeen) {
        this.workersUnsettled = false;
        return;
      }
    }
  }

  /** Steps completed so far. */
  get step(): number {
    return this.stepIndex;
  }

  /** Live actors of a kind. */
  count(kind: string): number {
    return this.ctrl[this.views.ctl.counts + this.kind(kind).id]!;
  }

  /** Sets the live count of a kind (0 ≤ n ≤ capacity). */
  setCount(kind: string, n: number): void {
    const k = this.kind(kind);
    if (!Number.isInteger(n) || n < 0) throw new CheckError(`count of ${kind} must be a non-negative integer, got ${n}`);
    if (n > k.capacity) throw new CapacityError(`${kind} population`, `population.${kind}.capacity`, n, k.capacity);
    this.ctrl[this.views.ctl.counts + k.id] = n;
  }

  private kind(name: string): KindSpec {
    const k = this.spec.kinds.find((x) => x.name === name);
    if (!k) throw new CheckError(`no actor kind '${name}' in model '${this.spec.name}' (kinds: ${this.spec.kinds.map((x) => x.name).join(', ')})`);
    return k;
  }

  /**
   * Current state columns of a kind, by field name (full capacity; the first `count(kind)` are live).
   * Write into them before the first step to initialise; read them between steps. The views change
   * after every step (double buffering): fetch them again rather than keeping them.
   */
  state(kind: string): Record<string, TypedArray> {
    const k = this.kind(kind);
    const out: Record<string, TypedArray> = {};
    for (const f of k.fields) out[f.name] = this.views.current(k.name, f.name, f.column);
    return out;
  }

  /** The sorted input view of a direct, bucket or spatial message, as of the last step. */
  messageIn(name: string): MessageIn {
    const m = this.message(name);
    if (m.delivery.type === 'array' || m.delivery.type === 'graph') throw new CheckError(`message '${name}' is ${m.delivery.type}; read it with messageColumns()`);
    return this.exec.messageIn(m);
  }

  /** Columns of an array (per sender) or graph (per edge) message, as of the last step. */
  messageColumns(name: string): Record<string, TypedArray> {
    const m = this.message(name);
    const out: Record<string, TypedArray> = {};
    for (const f of m.fields) out[f.name] = this.views.get(`${m.name}.columns.${f.name}`);
    return out;
  }

  private message(name: string): MessageSpec {
    const m = this.spec.messages.find((x) => x.name === name);
    if (!m) throw new CheckError(`no message '${name}' (messages: ${this.spec.messages.map((x) => x.name).join(', ')})`);
    return m;
  }

  /**
   * Sets the edges of a graph: edge e goes from `src[e]` to `dst[e]` with attribute `fields[f][e]`.
   * Edges are stored sorted by (source, input order); in-edges are indexed by (source, edge).
   */
  setGraph(name: string, src: ArrayLike<number>, dst: ArrayLike<number>, fields: Record<string, ArrayLike<number>> = {}): void {
    const { gi, g } = checkGraphInput(this.spec, name, src, dst, fields, (k) => this.count(k));
    const n = src.length;
    const v = this.views;
    const order = buildCsr(src, dst, this.count(g.from), this.count(g.to), {
      rowPtr: v.u32(`graph.${name}.rowPtr`),
      src: v.u32(`graph.${name}.src`),
      dst: v.u32(`graph.${name}.dst`),
      inRowPtr: v.u32(`graph.${name}.inRowPtr`),
      inEdge: v.u32(`graph.${name}.inEdge`),
    });
    for (const f of g.fields) {
      const out = v.get(`graph.${name}.field.${f.name}`);
      const col = fields[f.name];
      out.fill(0);
      if (col) for (let i = 0; i < n; i++) out[i] = col[order[i]!]!;
    }
    this.ctrl[v.ctl.edges + gi] = n;
  }

  /** Graph view (CSR both ways) as kernels see it. */
  graph(name: string): GraphView {
    return this.exec.graphView(name);
  }

  /**
   * The state between steps, as a checkpoint saves it (sim/checkpoint.ts): step, seed, live counts,
   * the live slots of the current buffer of every state column, and every graph's edges. The arrays
   * are views of this simulation's memory, not copies: use them before the next step or restore.
   */
  snapshot(): StateSnapshot {
    const counts: Record<string, number> = {};
    const columns: SnapshotColumn[] = [];
    for (const k of this.spec.kinds) {
      const n = this.count(k.name);
      counts[k.name] = n;
      for (const f of k.fields) columns.push({ key: `${k.name}.state.${f.name}`, dtype: f.type, data: this.views.current(k.name, f.name, f.column).subarray(0, n) });
    }
    const graphs = this.spec.graphs.map((g): SnapshotGraph => {
      const v = this.graph(g.name);
      const fields: Record<string, TypedArray> = {};
      for (const f of g.fields) fields[f.name] = v.fields[f.name]!.subarray(0, v.edges);
      return { name: g.name, edges: v.edges, src: v.src.subarray(0, v.edges), dst: v.dst.subarray(0, v.edges), fields };
    });
    return { step: this.stepIndex, seed: this.seed, counts, columns, graphs };
  }

  /**
   * Restores a {@link snapshot} (of this model, taken with this seed). It is checked first, and a
   * CheckError leaves the simulation untouched. Then: live counts; every column written into buffer 0
   * with parity 0 (slots past the count get the field's initial value); graphs rebuilt by setGraph;
   * and the step counter, so the next step draws the same counter-based RNG keys (seed, kind, actor,
   * step, stream, counter) as the run that was saved.
   */
  restore(snap: StateSnapshot): void {
    if (this.closed) throw new CheckError('the simulation is closed; create a new one');
    checkSnapshot(this.spec, snap, this.seed);
    const c = this.ctrl;
    const ctl = this.views.ctl;
    for (const k of this.spec.kinds) c[ctl.counts + k.id] = snap.counts[k.name]!;
    const data = new Map(snap.columns.map((col) => [col.key, col.data]));
    for (const k of this.spec.kinds) {
      for (const f of k.fields) {
        const from = data.get(`${k.name}.state.${f.name}`)!;
        const to = this.views.get(`${k.name}.state.${f.name}.0`);
        to.set(from);
        to.fill(f.initial, from.length);
        c[ctl.parity + f.column] = 0;
      }
    }
    for (const g of snap.graphs) this.setGraph(g.name, g.src, g.dst, g.fields);
    this.stepIndex = snap.step;
    c[CTRL.step] = snap.step;
  }

  /** Runs `n` steps. */
  run(n: number): void {
    for (let i = 0; i < n; i++) this.stepOnce();
  }

  /** Runs one step: every phase, with message indexes built between phases. */
  stepOnce(): void {
    if (this.closed) throw new CheckError('the simulation is closed; create a new one');
    const spec = this.spec;
    const c = this.ctrl;
    const ctl = this.views.ctl;
    const s = this.stepIndex;
    c[CTRL.step] = s;
    this.deathsThisStep = 0;
    this.stepStart = performance.now();
    // Parities as the step starts: a step abandoned because workers kept dying is rolled back to
    // them. Every column has one writer per step (compileModel), so the buffers they point at still
    // hold the previous step's state.
    this.parityAtStep.set(c.subarray(ctl.parity, ctl.parity + spec.columns));
    const tr = this.tracer;
    const tStep = tr !== null ? performance.now() : 0;
    try {
      this.runPhases(s);
    } catch (err) {
      if (err instanceof WorkerLostError) c.set(this.parityAtStep, ctl.parity);
      throw err;
    }
    this.stepIndex = s + 1;
    if (tr !== null) {
      tr.host.sliceMs(EV.step, 0, s, tStep, performance.now());
      tr.endStep(s, cpuStepCounters(spec, this.views));
    }
  }

  private runPhases(s: number): void {
    const spec = this.spec;
    const c = this.ctrl;
    const ctl = this.views.ctl;
    // Decide which functions run and how many items they visit (onMessage ones are set per phase).
    for (const f of spec.functions) {
      const a = f.activation;
      const kid = this.exec.plans[f.id]!.kind.id;
      let runs = 1;
      if (a.type === 'every') runs = s % a.k === (a.offset ?? 0) % a.k ? 1 : 0;
      c[ctl.runs + f.id] = runs;
      c[ctl.items + f.id] = a.type === 'onMessage' ? 0 : c[ctl.counts + kid]!;
    }
    for (const m of spec.messages) {
      c[ctl.msgCount + m.id] = 0;
      if (m.delivery.type !== 'array' && m.delivery.type !== 'graph') this.views.u32(`${m.name}.raw.sent`).fill(0);
    }
    for (const ph of spec.phases) {
      const t0 = performance.now();
      let total = 0;
      for (const fid of ph.functions) {
        const plan = this.exec.plans[fid]!;
        if (plan.activeMessage >= 0 && c[ctl.runs + fid] === 1) {
          const m = spec.messages[plan.activeMessage]!;
          const n = this.activeCount.get(m.id) ?? 0;
          c[ctl.items + fid] = n;
          if (n === 0) c[ctl.runs + fid] = 0;
          else {
            const tc = this.tracer !== null ? performance.now() : 0;
            // Idle actors keep their values: the written columns start as a copy of the current ones.
            plan.spec.writes.forEach((w, wi) => {
              const p = this.views.parity(plan.writeColumns[wi]!);
              this.views.get(`${plan.kind.name}.state.${w}.${1 - p}`).set(this.views.get(`${plan.kind.name}.state.${w}.${p}`));
            });
            if (this.tracer !== null) this.tracer.host.sliceMs(EV.copy, fid, n, tc, performance.now());
          }
        }
        if (c[ctl.runs + fid] === 1) total += c[ctl.items + fid]!;
      }
      this.launch(ph.index, total);
      this.checkFaults();
      // Flip parity of every column written in this phase: later phases and steps read the new values.
      for (const fid of ph.functions) {
        if (c[ctl.runs + fid] !== 1) continue;
        const plan = this.exec.plans[fid]!;
        for (const col of plan.writeColumns) c[ctl.parity + col] = 1 - c[ctl.parity + col]!;
      }
      const t1 = performance.now();
      for (const mid of ph.buildMessages) this.buildIndex(spec.messages[mid]!);
      const t2 = performance.now();
      const tm = this.timings[ph.index]!;
      tm.kernelMs += t1 - t0;
      tm.indexMs += t2 - t1;
      if (this.tracer !== null) this.tracer.host.sliceMs(EV.phase, ph.index, s, t0, t1);
    }
  }

  private readonly activeCount = new Map<number, number>();
  /** Per message: whether a function is activated by it (only then is its active list built). */
  private readonly activates: boolean[];

  private launch(phase: number, totalItems: number): void {
    const tm = this.timings[phase]!;
    if (this.threads.length === 0 || totalItems < this.inlineBelow) {
      tm.inlineLaunches++;
      this.exec.runPartition(phase, 0, 1);
      return;
    }
    tm.parallelLaunches++;
    for (const o of this.phaseSent[phase]!) o.backup?.set(o.sent);
    this.parallel(phase, (part, parts) => this.exec.runShare(phase, part, parts));
  }

  /**
   * Runs a task on every thread: the host runs partition 0, worker k partition k. `task` ≥ 0 is a
   * phase index; < 0 a sub-task of a message's index build (Executor's messageTask). After a worker
   * death the task runs again, `beforeRetry` first when the task cannot simply be repeated.
   */
  private parallel(task: number, host: (part: number, parts: number) => void, beforeRetry?: () => void): void {
    // A thread that died between phases (after finishing its last one) is replaced before the ring.
    if (this.workersUnsettled || Atomics.load(this.health, HEALTH.deaths) !== this.deathsSeen) this.replaceDead();
    for (;;) {
      const gen = this.ring(task);
      let hostError: Error | undefined;
      try {
        host(0, this.threads.length + 1);
      } catch (err) {
        hostError = err instanceof Error ? err : new Error(String(err));
      }
      // Wait for all workers, even if our own partition threw, so no thread is mid-phase when we return.
      const tw = this.tracer !== null ? performance.now() : 0;
      const allDone = this.waitForWorkers(gen);
      if (this.tracer !== null) this.tracer.host.sliceMs(EV.wait, task, this.stepIndex, tw, performance.now());
      if (allDone) {
        this.throwWorkerErrors();
        if (hostError !== undefined) throw hostError;
        return;
      }
      // A thread died mid-phase. Let the others finish this generation, replace the dead, and run
      // the whole phase again: a phase reads the current buffers and writes the next ones, so a
      // re-run from the same inputs writes the same values (emission counters are reset first).
      this.waitForSurvivors(gen);
      if (hostError !== undefined) throw hostError;
      this.replaceDead();
      if (task >= 0) {
        for (const o of this.phaseSent[task]!) {
          if (o.backup) o.sent.set(o.backup);
          else o.sent.fill(0);
        }
      }
      Atomics.store(this.ctrl, CTRL.faultCode, 0);
      beforeRetry?.();
    }
  }

  /** Publishes a task and rings the doorbell; returns the new generation. */
  private ring(task: number): number {
    const c = this.ctrl;
    c[CTRL.task] = task;
    c[CTRL.phase] = Math.max(0, task);
    c[CTRL.parts] = this.threads.length + 1;
    c[CTRL.claim] = 0;
    Atomics.store(c, CTRL.errors, 0);
    // Ring the doorbell: the Atomics.add publishes every plain write above (task, phase, parts,
    // parities, counts) to workers, whose Atomics.load of gen synchronises with it.
    const gen = Atomics.add(c, CTRL.gen, 1) + 1;
    if (this.race) spin(this.race.notifyMs);
    Atomics.notify(c, CTRL.gen);
    return gen;
  }

  /**
   * Blocks until every worker finished generation `gen` (true), or until the watchdog reports a
   * death (false). Completion is each partition's own `finished` word; `done` is only what the host
   * sleeps on (workers bump it after storing `finished`, and it is read before the words are checked,
   * so a bump in between makes the Atomics.wait return at once). The wait is sliced: the watchdog's
   * wake-up can fall between our read of the death counter and the Atomics.wait, and the slice bounds
   * how late we notice it then.
   */
  private waitForWorkers(gen: number): boolean {
    const c = this.ctrl;
    const h = this.health;
    const parts = this.threads.length + 1;
    for (;;) {
      const d = Atomics.load(c, CTRL.done);
      let k = 1;
      while (k < parts && Atomics.load(h, HEALTH.record(k) + HEALTH.finished) === gen) k++;
      if (k === parts) return true;
      if (Atomics.load(h, HEALTH.deaths) !== this.deathsSeen) return false;
      if (Atomics.wait(c, CTRL.done, d, WAIT_SLICE_MS) === 'timed-out' && performance.now() - this.stepStart > this.deadlineMs) this.hung(gen);
    }
  }

  /** Throws the WorkerHungError for the threads that have not finished generation `gen`. */
  private hung(gen: number): never {
    const parts: number[] = [];
    for (let k = 1; k <= this.threads.length; k++) if (Atomics.load(this.health, HEALTH.record(k) + HEALTH.finished) !== gen) parts.push(k);
    const task = this.ctrl[CTRL.task]!;
    let what: string;
    if (task >= 0) what = `phase ${task} (${this.timings[task]!.functions.join(', ')})`;
    else what = `the index build of message '${this.spec.messages[(-1 - task) >> 2]!.name}'`;
    const waited = Math.round(performance.now() - this.stepStart);
    throw new WorkerHungError(
      `worker thread${parts.length === 1 ? '' : 's'} ${parts.join(', ')} did not finish ${what} of step ${this.stepIndex} within ${this.deadlineMs} ms (stepDeadlineMs; ${waited} ms so far) and ${parts.length === 1 ? 'is' : 'are'} still running: ` +
        `look for an endless loop in that phase's kernels, or raise stepDeadlineMs if steps are really this slow; close the simulation (its state is mid-step)`,
      parts,
      this.stepIndex,
      what,
    );
  }

  /** After a death: blocks until every thread that is still alive has finished generation `gen`. */
  private waitForSurvivors(gen: number): void {
    const c = this.ctrl;
    const h = this.health;
    for (;;) {
      const d = Atomics.load(c, CTRL.done);
      const dead = this.deadParts();
      let pending = false;
      for (let k = 1; k < this.workers && !pending; k++) pending = !dead.includes(k) && Atomics.load(h, HEALTH.record(k) + HEALTH.finished) !== gen;
      if (!pending) return;
      Atomics.wait(c, CTRL.done, d, WAIT_SLICE_MS);
    }
  }

  private throwWorkerErrors(): void {
    if (Atomics.load(this.ctrl, CTRL.errors) === 0) return;
    for (let i = 0; i < this.ports.length; i++) {
      const msg: { message: { error?: SerializedError } } | undefined = receiveMessageOnPort(this.ports[i]!);
      if (msg?.message.error) throw reviveError(msg.message.error, `worker ${i + 1}`);
    }
    throw new InternalError('a worker reported an error but sent no details');
  }

  private checkFaults(): void {
    const c = this.ctrl;
    const code = c[CTRL.faultCode]!;
    if (code === Fault.none) return;
    const f = this.spec.functions[c[CTRL.faultFn]!]!;
    const kind = this.spec.kinds[c[CTRL.faultKind]!]!;
    const actor = c[CTRL.faultActor]!;
    const step = c[CTRL.faultStep]!;
    const detail = c[CTRL.faultDetail]!;
    c[CTRL.faultCode] = 0;
    switch (code) {
      case Fault.nonFinite: {
        const field = kind.fields[detail]?.name ?? '?';
        throw new CheckError(`kernel '${f.kernel}' (function ${f.name}) wrote a non-finite value (NaN or Infinity) into ${kind.name}.${field} of actor ${actor} at step ${step}; check the kernel's arithmetic or its inputs`);
      }
      case Fault.capacity: {
        const m = this.spec.messages[detail]!;
        const d = m.delivery;
        const max = d.type === 'direct' || d.type === 'bucket' ? d.maxPerActor : 1;
        const e = new CapacityError(`${kind.name} actor ${actor} emitted more than ${max} records of '${m.name}' at step ${step}`, `messages.${m.name}.delivery.maxPerActor`, max + 1, max);
        throw e;
      }
      case Fault.address: {
        const m = this.spec.messages[detail];
        const d = m?.delivery;
        // Direct and bucket keys are receiver ids, valid below the live count of the receiving kind.
        const range = d && (d.type === 'direct' || d.type === 'bucket') ? `[0, ${this.count(d.to)}) (the live ${d.to} actors)` : `[0, ${m?.keys ?? '?'})`;
        throw new CheckError(`kernel '${f.kernel}' (function ${f.name}) addressed a receiver outside ${range} of '${m?.name ?? '?'}' from ${kind.name} actor ${actor} at step ${step}`);
      }
      default:
        throw new CheckError(`kernel '${f.kernel}' (function ${f.name}) raised fault ${code} (detail ${detail}) at ${kind.name} actor ${actor}, step ${step}`);
    }
  }

  private readonly sortChoices = new Map<number, SortChoice>();
  /** Per-key sum and mean scratch of the reductions-only bucket messages (reduceBySender), by message id. */
  private readonly reduceScratch = new Map<number, { sum: Float64Array; mean: Float64Array; loops: ReduceOneLoops | undefined }>();

  /**
   * Per message whose index can be built on every thread: the moving averages of the two ways of
   * building it (ms, sort and fields in place; NaN until tried), and which one the last build took.
   *
   * @example
   * ```ts
   * sim.run(100);
   * console.log(sim.indexBuildTimes()); // { 'Chain.pull': { serialMs: 31.2, splitMs: 18.7, split: true } }
   * ```
   */
  indexBuildTimes(): Record<string, { serialMs: number; splitMs: number; split: boolean }> {
    const out: Record<string, { serialMs: number; splitMs: number; split: boolean }> = {};
    for (const [mid, ch] of this.sortChoices) out[this.spec.messages[mid]!.name] = { serialMs: ch.ms[0], splitMs: ch.ms[1], split: ch.parallelNow };
    return out;
  }

  /** The receivers of message `m` with at least one record, ascending, for the functions it activates. */
  private buildActive(m: MessageSpec, offsets: Uint32Array): void {
    const active = this.views.u32(`${m.name}.sorted.active`);
    let na = 0;
    for (let k = 0; k < m.keys; k++) if (offsets[k + 1]! > offsets[k]!) active[na++] = k;
    this.activeCount.set(m.id, na);
  }

  private sortChoice(mid: number): SortChoice {
    let ch = this.sortChoices.get(mid);
    if (!ch) {
      ch = new SortChoice();
      this.sortChoices.set(mid, ch);
    }
    ch.next();
    return ch;
  }

  /**
   * The counting sort of message `m`'s records on every thread (Executor.sortCount, sortOffsets,
   * sortScatter: three doorbells), with the serial sort's exact output, fields included (no gather
   * follows). Returns the record count.
   */
  private parallelSort(m: MessageSpec): number {
    const exec = this.exec;
    const v = this.views;
    this.parallel(messageTask(m.id, MSG_TASK.count), (part, parts) => exec.sortCount(m, part, parts));
    const ranges = v.scratch(`${m.name}.psort.ranges`)!;
    const parts = this.threads.length + 1;
    let total = 0;
    for (let i = 0; i < parts * parts; i++) total += ranges[i]!;
    const offsets = (): void => this.parallel(messageTask(m.id, MSG_TASK.offsets), (part, n) => exec.sortOffsets(m, part, n));
    offsets();
    v.u32(`${m.name}.sorted.offsets`)[m.keys] = total;
    // The scatter moves the cursors: a re-run after a death recomputes them first.
    this.parallel(messageTask(m.id, MSG_TASK.scatter), (part, n) => exec.sortScatter(m, part, n), offsets);
    return total;
  }

  private buildIndex(m: MessageSpec): void {
    const v = this.views;
    const c = this.ctrl;
    const d = m.delivery;
    if (d.type === 'array' || d.type === 'graph') return;
    const tr = this.tracer;
    const t0 = tr !== null ? performance.now() : 0;
    const sender = this.spec.kinds.find((k) => k.name === m.sender)!;
    const senders = this.count(sender.name);
    const maxPer = maxPerActor(m);
    const sent = v.u32(`${m.name}.raw.sent`);
    const key = v.u32(`${m.name}.raw.key`);
    // Spatial keys were computed by the output function's partitions (Executor.spatialKeys).
    const offsets = v.u32(`${m.name}.sorted.offsets`);
    let total: number;
    if (d.type === 'bucket' && d.readRecords === false) {
      // Reductions only: no sort, no gather (see reduceBySender).
      const red: BucketReduceField[] = Object.entries(d.reduce ?? {}).map(([field, ops]) => {
        const out: Record<string, Float64Array> = {};
        for (const op of ops) out[op] = v.f64(`${m.name}.reduce.${field}.${op}`);
        return { values: v.get(`${m.name}.raw.${field}`), out };
      });
      let scratch = this.reduceScratch.get(m.id);
      if (!scratch) {
        const sumS = new Float64Array(m.keys);
        const meanS = new Float64Array(m.keys);
        const f0 = red[0];
        // The fused case's loops compiled over this message's arrays (see ReduceOneLoops).
        const loops = maxPer === 1 && f0 !== undefined && !f0.out.min && !f0.out.max ? freshCopy(makeReduceOneLoops)(sent, key, f0.values, offsets, f0.out.sum ?? sumS, f0.out.mean ?? meanS, sumS) : undefined;
        scratch = { sum: sumS, mean: meanS, loops };
        this.reduceScratch.set(m.id, scratch);
      }
      const t1 = tr !== null ? performance.now() : 0;
      total = reduceBySender(senders, maxPer, sent, key, m.keys, offsets, red, scratch.sum, scratch.mean, scratch.loops);
      c[v.ctl.msgCount + m.id] = total;
      if (this.activates[m.id]) this.buildActive(m, offsets);
      if (tr !== null) {
        const t3 = performance.now();
        tr.host.sliceMs(EV.reduce, m.id, total, t1, t3);
        tr.host.sliceMs(EV.index, m.id, total, t0, t3);
      }
      return;
    }
    const canSplit = this.indexSplit !== 'serial' && this.threads.length > 0 && senders >= Math.max(this.inlineBelow, PARALLEL_SORT_FROM) && v.scratch(`${m.name}.psort.hist`) !== null;
    const choice = canSplit ? this.sortChoice(m.id) : null;
    if (choice !== null && this.indexSplit === 'split') choice.parallelNow = true;
    const ts = choice !== null ? performance.now() : 0;
    if (choice?.parallelNow === true) {
      total = this.parallelSort(m);
    } else {
      total = this.exec.indexLoops(m).message.sort(senders);
    }
    c[v.ctl.msgCount + m.id] = total;
    const t1 = tr !== null ? performance.now() : 0;
    // The split sort placed the fields itself (Executor.sortScatter).
    if (choice?.parallelNow === true) {
      // nothing to gather
    } else if (this.threads.length > 0 && total >= this.inlineBelow) this.parallel(messageTask(m.id, MSG_TASK.gather), (part, parts) => this.exec.gatherPartition(m, part, parts));
    else this.exec.gatherPartition(m, 0, 1);
    // Compared with the fields in place either way.
    if (choice !== null) choice.record(performance.now() - ts);
    const t2 = tr !== null ? performance.now() : 0;
    if (d.type === 'bucket') {
      for (const [field, ops] of Object.entries(d.reduce ?? {})) {
        const out: Record<string, Float64Array> = {};
        for (const op of ops) out[op] = v.f64(`${m.name}.reduce.${field}.${op}`);
        segmentReduce(v.get(`${m.name}.sorted.${field}`), offsets, m.keys, out);
      }
    }
    // Active receivers (ascending), for functions activated by this message (none: not built).
    if (d.type !== 'spatial' && this.activates[m.id]) this.buildActive(m, offsets);
    if (tr !== null) {
      const t3 = performance.now();
      tr.host.sliceMs(EV.sort, m.id, total, t0, t1);
      tr.host.sliceMs(EV.reduce, m.id, total, t2, t3);
      tr.host.sliceMs(EV.index, m.id, total, t0, t3);
    }
  }

  /**
   * A 64-bit hash (16 hex digits) over the live slots of every state column, kind by kind and field
   * by field in declaration order. Equal state ⇒ equal checksum, on any number of workers.
   */
  checksum(): string {
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (const k of this.spec.kinds) {
      const n = this.count(k.name);
      for (const f of k.fields) {
        const col = this.views.current(k.name, f.name, f.column);
        const bytes = new Uint8Array(col.buffer, col.byteOffset, n * col.BYTES_PER_ELEMENT);
        [h1, h2] = hashBytes(bytes, h1, h2);
      }
    }
    return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  }

  /** Stops the worker threads. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.ctrl;
    Atomics.store(c, CTRL.stop, 1);
    // Wake every worker so it sees `stop` and leaves its loop.
    Atomics.add(c, CTRL.gen, 1);
    Atomics.notify(c, CTRL.gen);
    await Promise.all(
      this.threads.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (this.exited.has(w)) {
              resolve();
              return;
            }
            const t = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
            w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    for (const p of this.ports) p.close();
    await this.watchdog?.terminate();
  }
}

/** One field of a reductions-only bucket message: its raw record values and the reductions to fill. */
export interface BucketReduceField {
  readonly values: TypedArray;
  readonly out: { count?: Float64Array; sum?: Float64Array; mean?: Float64Array; std?: Float64Array; min?: Float64Array; max?: Float64Array };
}

/**
 * The index of a bucket message whose readers use only its reductions (`readRecords: false`):
 * `offsets[0..keys]` (the exclusive scan of the per-key counts, as the sort gives) and, per field, the
 * segment reductions, without sorting the records. Records are visited in (sender, sequence) order,
 * which is the order the stable counting sort leaves within each key, and each key's sums start at 0
 * and add the same values in the same order as {@link segmentReduce} over the sorted records: the
 * results are bit-identical to countingSortByKey + gather + segmentReduce. `sumScratch` and
 * `meanScratch` (length ≥ keys) hold the sums and means when `sum`/`mean` are not requested.
 * Returns the number of records.
 */
export function reduceBySender(
  senders: number,
  maxPer: number,
  sent: Uint32Array,
  key: Uint32Array,
  keys: number,
  offsets: Uint32Array,
  fields: readonly BucketReduceField[],
  sumScratch: Float64Array,
  meanScratch: Float64Array,
  loops?: ReduceOneLoops,
): number {
  // One record per sender and one field summed without min/max (the common case): counts and sums in
  // one pass over the records.
  const f0 = fields[0];
  // Its two record loops: the compiled ones given, or the same loops uncompiled.
  const one = maxPer === 1 && f0 !== undefined && !f0.out.min && !f0.out.max ? (loops ?? makeReduceOneLoops(sent, key, f0.values, offsets, f0.out.sum ?? sumScratch, f0.out.mean ?? meanScratch, sumScratch)) : undefined;
  const fused = one !== undefined;
  if (fused) {
    (f0!.out.sum ?? sumScratch).fill(0, 0, keys);
    offsets.fill(0, 0, keys + 1);
    one[0](senders);
  } else {
    countByKey(senders, maxPer, sent, key, keys, offsets);
  }
  // Counts before the scan turns them into offsets.
  for (const f of fields) if (f.out.count) for (let k = 0; k < keys; k++) f.out.count[k] = offsets[k]!;
  const total = exclusiveScan(offsets, keys);
  for (let fi = 0; fi < fields.length; fi++) {
    const f = fields[fi]!;
    const { sum, mean, std, min, max } = f.out;
    const x = f.values;
    const sm = sum ?? sumScratch;
    if (fused && fi === 0) {
      // summed above
    } else if (maxPer === 1) {
      sm.fill(0, 0, keys);
      if (min) min.fill(Infinity, 0, keys);
      if (max) max.fill(-Infinity, 0, keys);
      if (!min && !max) {
        for (let s = 0; s < senders; s++) if (sent[s] !== 0) sm[key[s]!]! += x[s]!;
      } else {
        for (let s = 0; s < senders; s++) if (sent[s] !== 0) accumulate(sm, min, max, key[s]!, x[s]!);
      }
    } else {
      sm.fill(0, 0, keys);
      if (min) min.fill(Infinity, 0, keys);
      if (max) max.fill(-Infinity, 0, keys);
      for (let s = 0; s < senders; s++) {
        const c = sent[s]!;
        const base = s * maxPer;
        for (let j = 0; j < c; j++) accumulate(sm, min, max, key[base + j]!, x[base + j]!);
      }
    }
    if (!mean && !std) continue;
    const mn = mean ?? meanScratch;
    for (let k = 0; k < keys; k++) {
      const n = offsets[k + 1]! - offsets[k]!;
      mn[k] = n > 0 ? sm[k]! / n : 0;
    }
    if (!std) continue;
    // The second pass of the two-pass std, its squares summed per key in the same order.
    // (The sums are no longer needed: `sum`, when requested, is its own array, not the scratch.)
    const ss = sumScratch.fill(0, 0, keys);
    if (fused && fi === 0) {
      one[1](senders);
    } else if (maxPer === 1) {
      makeReduceOneLoops(sent, key, x, offsets, sm, mn, ss)[1](senders);
    } else {
      for (let s = 0; s < senders; s++) {
        const c = sent[s]!;
        const base = s * maxPer;
        for (let j = 0; j < c; j++) {
          const k = key[base + j]!;
          const dv = x[base + j]! - mn[k]!;
          ss[k]! += dv * dv;
        }
      }
    }
    for (let k = 0; k < keys; k++) {
      const n = offsets[k + 1]! - offsets[k]!;
      std[k] = n > 0 ? Math.sqrt(ss[k]! / n) : 0;
    }
  }
  return total;
}

/**
 * The two record loops of {@link reduceBySender}'s fused case (one record per sender, first field
 * without min/max), over one message's fixed arrays: `[countAndSum, squares]`. reduceBySender runs
 * them uncompiled when it is given none (and the squares loop for any other field with one record
 * per sender). Built per message through freshCopy (kernels/common/specialize.ts), V8 folds the
 * arrays into the code: measured on the 2-core dev machine at 500K records, the index build took
 * 5.5 ms per pass with the arrays as parameters and 1.4–1.8 ms compiled (docs/water-filling.md).
 * Arguments: `sum` is the first field's `out.sum` or the sum scratch, `mean` its `out.mean` or the mean
 * scratch, `squares` the sum scratch (as reduceBySender picks them).
 */
export type ReduceOneLoops = readonly [countAndSum: (senders: number) => void, squares: (senders: number) => void];

/** The factory of {@link ReduceOneLoops}; self-contained for freshCopy (no outer names, no named inner functions). */
export function makeReduceOneLoops(sent: Uint32Array, key: Uint32Array, x: TypedArray, counts: Uint32Array, sum: Float64Array, mean: Float64Array, squares: Float64Array): ReduceOneLoops {
  return [
    (senders: number): void => {
      for (let s = 0; s < senders; s++) {
        if (sent[s] === 0) continue;
        const k = key[s]!;
        counts[k]!++;
        sum[k]! += x[s]!;
      }
    },
    (senders: number): void => {
      for (let s = 0; s < senders; s++) {
        if (sent[s] === 0) continue;
        const k = key[s]!;
        const dv = x[s]! - mean[k]!;
        squares[k]! += dv * dv;
      }
    },
  ];
}

function accumulate(sum: Float64Array, min: Float64Array | undefined, max: Float64Array | undefined, k: number, v: number): void {
  sum[k]! += v;
  if (min && v < min[k]!) min[k] = v;
  if (max && v > max[k]!) max[k] = v;
}

/**
 * Picks, for one message, between the host's serial counting sort and the one split over every
 * thread, by their measured times: both give the same index, and which one is faster depends on the
 * machine (on a 2-core machine that other processes keep busy, three doorbells wait on a preempted
 * thread and the split loses; on free cores it wins). Each is tried twice first (the first try, which
 * includes compilation, is not counted), then the faster is used, the other retried every
 * {@link SortChoice.RETRY}th build to follow the load: the one in use is a moving average, the
 * other's latest retry is taken as it is.
 */
export class SortChoice {
  static readonly RETRY = 16;
  /** Estimates, ms: [serial, split] (NaN until measured). */
  readonly ms: [number, number] = [Number.NaN, Number.NaN];
  private readonly samples: [number, number] = [0, 0];
  private builds = 0;
  private exploring = false;
  /** Whether the current build runs split over the threads. */
  parallelNow = true;

  next(): void {
    const [serial, split] = this.ms;
    this.exploring = false;
    if (this.samples[1] < 2) this.parallelNow = this.samples[0] >= this.samples[1];
    else if (this.samples[0] < 2) this.parallelNow = false;
    else {
      this.exploring = this.builds % SortChoice.RETRY === SortChoice.RETRY - 1;
      this.parallelNow = split <= serial !== this.exploring;
    }
    this.builds++;
  }

  record(ms: number): void {
    const i = this.parallelNow ? 1 : 0;
    const n = this.samples[i]++;
    if (n === 0) return;
    this.ms[i] = n === 1 || this.exploring ? ms : this.ms[i] * 0.75 + ms * 0.25;
  }
}

/** Two-lane 32-bit multiplicative hash over bytes (words where aligned, then the tail). */
export function hashBytes(bytes: Uint8Array, h1: number, h2: number): [number, number] {
  const nWords = bytes.byteOffset % 4 === 0 ? bytes.length >>> 2 : 0;
  if (nWords > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, nWords);
    for (let i = 0; i < nWords; i++) {
      const x = w[i]!;
      h1 = Math.imul(h1 ^ x, 0x01000193);
      h2 = Math.imul((h2 + x) ^ (h2 >>> 15), 0x85ebca6b);
    }
  }
  for (let i = nWords * 4; i < bytes.length; i++) {
    const x = bytes[i]!;
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = Math.imul((h2 + x) ^ (h2 >>> 15), 0x85ebca6b);
  }
  h1 ^= bytes.length;
  h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  return [h1 >>> 0, h2 >>> 0];
}
