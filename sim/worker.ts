/**
 * Worker entry: a long-lived thread that owns views over the model's SharedArrayBuffers and runs its
 * partition of each phase when the host rings the doorbell (`control[gen]`).
 *
 * It also holds one end of a lifeline MessagePort whose other end lives in the host's watchdog
 * thread (sim/simulation.ts): however this thread dies (an exception that escapes, process.exit in
 * the thread, worker.terminate(), the heap limit of resourceLimits), Node closes the port, and the
 * watchdog, whose event loop is free while the host blocks in Atomics.wait, reports the death.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../src/errors.js';
import { KernelRegistry } from '../src/kernel.js';
import type { ModelSpec } from '../src/model.js';
import { Executor } from './exec.js';
import { type Buffers, CTRL, Views } from './memory.js';
import { HEALTH, spin } from './health.js';
import { type TraceThreadInit, TraceWriter } from './trace.js';

/** How a test makes a worker fail (see SimulationOptions.crashWorkerAt). */
export type CrashMode = 'throw' | 'exit' | 'uncaught' | 'oom';

export interface WorkerInit {
  spec: ModelSpec;
  buffers: Buffers;
  /** This worker's partition index (the host is partition 0). */
  part: number;
  port: MessagePort;
  /** Held, never used: its closing tells the host's watchdog that this thread is gone. */
  lifeline: MessagePort;
  /** The health block (sim/health.ts), shared with the host and the watchdog. */
  health: Int32Array;
  /** 1 for the first thread of this partition, +1 for every replacement. */
  incarnation: number;
  /**
   * Test hook: fail in this phase at this step, the first `times` incarnations of this partition.
   * `throw`: a kernel error, reported to the host (the run faults); `exit`: process.exit(1) in the
   * thread; `uncaught`: an exception escapes the thread's loop; `oom`: allocate until the thread's
   * resourceLimits heap limit ends it. `messageTask` ≥ 0 (a MSG_TASK value): fail in the step's
   * first message sub-task of that kind (gather, or a stage of the split sort) instead of a phase's
   * kernels; -2: in its first message sub-task of any kind; -1: in `phase`.
   */
  crashAt?: { step: number; phase: number; mode: CrashMode; times: number; messageTask: number };
  /** This partition's trace ring (sim/trace.ts), when the run is traced. */
  trace?: TraceThreadInit;
  /**
   * Test hook (SimulationOptions.doorbellRace): spin this long after finishing a task before going
   * back to sleep on the doorbell, which widens the window in which the host's wake-up for the next
   * generation can arrive after this thread already ran that generation.
   */
  rewaitDelayMs?: number;
}

/** Keeps allocating until V8 reaches the heap limit and Node ends this thread (ERR_WORKER_OUT_OF_MEMORY). */
function exhaustHeap(): never {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array<number>(1 << 16).fill(hoard.length));
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const registry = new KernelRegistry();
  await registry.load(init.spec.kinds.map((k) => k.kernels));
  const views = new Views(init.spec, init.buffers);
  const exec = new Executor(init.spec, views, registry);
  if (init.trace) exec.tracer = new TraceWriter(init.trace);
  const ctrl = views.control;
  const health = init.health;
  const rec = HEALTH.record(init.part);
  const crash = init.crashAt && init.incarnation <= init.crashAt.times ? init.crashAt : null;
  const rewaitDelay = init.rewaitDelayMs ?? 0;
  // Read the generation before announcing readiness: the host may ring the doorbell as soon as it
  // sees `ready`, and a generation read after that ring would make us wait for the next one (a
  // deadlock when the first step follows Simulation.create immediately).
  let seen = Atomics.load(ctrl, CTRL.gen);
  // Two announcements: the health word, for a host that is blocked waiting for a replacement (it
  // cannot receive messages then), and a message, for Simulation.create's startup.
  Atomics.store(health, rec + HEALTH.ready, init.incarnation);
  Atomics.notify(health, rec + HEALTH.ready);
  parentPort!.postMessage({ ready: true });
  for (;;) {
    // Sleep until the host bumps the generation. Atomics.wait returns at once if gen already moved
    // on, so a doorbell rung before we got here is never lost.
    // Loop rather than trust one return: a wake-up that did not come with a new generation must
    // never re-run the last task (a re-run emits every record a second time). Such wake-ups happen:
    // the host bumps gen, then notifies; a thread that was not asleep at the bump sees the new gen
    // at once, runs it, goes back to sleep, and is then woken by that same, late notify (a host
    // preempted between the two, on a loaded machine). test/engine-doorbell.test.ts forces it.
    while (Atomics.load(ctrl, CTRL.gen) === seen) Atomics.wait(ctrl, CTRL.gen, seen);
    seen = Atomics.load(ctrl, CTRL.gen);
    // The host writes phase, parts, step and parities before bumping gen; the Atomics.load above
    // synchronises with that Atomics.add, so the plain reads below see the host's writes.
    if (ctrl[CTRL.stop] === 1) break;
    const phase = ctrl[CTRL.phase]!;
    const parts = ctrl[CTRL.parts]!;
    const task = ctrl[CTRL.task]!;
    const hit = crash !== null && ctrl[CTRL.step] === crash.step && (crash.messageTask === -1 ? task >= 0 && phase === crash.phase : task < 0 && (crash.messageTask === -2 || (-1 - task) % 4 === crash.messageTask));
    if (hit && crash.mode === 'exit') process.exit(1);
    if (hit && crash.mode === 'uncaught') throw new Error(`test crash (uncaught) in worker ${init.part} at step ${crash.step}`);
    if (hit && crash.mode === 'oom') exhaustHeap();
    try {
      if (hit) throw new Error(`test crash in worker ${init.part} at step ${crash.step}`);
      if (init.part < parts) {
        if (task >= 0) exec.runShare(phase, init.part, parts);
        else exec.runMessageTask(task, init.part, parts);
      }
    } catch (err) {
      init.port.postMessage({ error: serializeError(err) });
      // Count the error before `done`, so the host sees it when it sees us finished.
      Atomics.add(ctrl, CTRL.errors, 1);
    }
    // Publish completion: the generation this partition finished is the word the host waits for.
    // A per-partition word rather than a shared count: a count reset for the next generation could
    // take a late increment from the previous one (a survivor of a death finishing after the re-run
    // was rung) and let the host go on while this thread still runs. Our state writes happen-before
    // this store, and the host's Atomics.load of the word makes them visible to it.
    Atomics.store(health, rec + HEALTH.finished, seen);
    // Then wake the host: `done` only ever grows, and the host sleeps on it after reading it (so an
    // increment between its check of the finished words and its sleep is never lost).
    Atomics.add(ctrl, CTRL.done, 1);
    Atomics.notify(ctrl, CTRL.done);
    if (rewaitDelay > 0) spin(rewaitDelay);
  }
}

main().catch((err: unknown) => {
  parentPort!.postMessage({ fatal: serializeError(err) });
});
