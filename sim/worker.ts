/**
 * Worker entry: a long-lived thread that owns views over the model's SharedArrayBuffers and runs its
 * partition of each phase when the host rings the doorbell (`control[gen]`).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../src/errors.js';
import { KernelRegistry } from '../src/kernel.js';
import type { ModelSpec } from '../src/model.js';
import { Executor } from './exec.js';
import { type Buffers, CTRL, Views } from './memory.js';

export interface WorkerInit {
  spec: ModelSpec;
  buffers: Buffers;
  /** This worker's partition index (the host is partition 0). */
  part: number;
  port: MessagePort;
  /** Test hook: throw in this phase at this step (for crash tests). */
  crashAt?: { step: number; phase: number };
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const registry = new KernelRegistry();
  await registry.load(init.spec.kinds.map((k) => k.kernels));
  const views = new Views(init.spec, init.buffers);
  const exec = new Executor(init.spec, views, registry);
  const ctrl = views.control;
  // Read the generation before announcing readiness: the host may ring the doorbell as soon as it
  // sees `ready`, and a generation read after that ring would make us wait for the next one (a
  // deadlock when the first step follows Simulation.create immediately).
  let seen = Atomics.load(ctrl, CTRL.gen);
  parentPort!.postMessage({ ready: true });
  for (;;) {
    // Sleep until the host bumps the generation. Atomics.wait returns at once if gen already moved
    // on, so a doorbell rung before we got here is never lost.
    Atomics.wait(ctrl, CTRL.gen, seen);
    seen = Atomics.load(ctrl, CTRL.gen);
    // The host writes phase, parts, step and parities before bumping gen; the Atomics.load above
    // synchronises with that Atomics.add, so the plain reads below see the host's writes.
    if (ctrl[CTRL.stop] === 1) break;
    const phase = ctrl[CTRL.phase]!;
    const parts = ctrl[CTRL.parts]!;
    try {
      if (init.crashAt && ctrl[CTRL.step] === init.crashAt.step && phase === init.crashAt.phase) {
        throw new Error(`test crash in worker ${init.part} at step ${init.crashAt.step}`);
      }
      const task = ctrl[CTRL.task]!;
      if (init.part < parts) {
        if (task >= 0) exec.runPartition(phase, init.part, parts);
        else exec.gatherPartition(init.spec.messages[-1 - task]!, init.part, parts);
      }
    } catch (err) {
      init.port.postMessage({ error: serializeError(err) });
      // Count the error before `done`, so the host sees it when it sees us finished.
      Atomics.add(ctrl, CTRL.errors, 1);
    }
    // Publish completion: the host waits on `done`. Our state writes happen-before this Atomics.add,
    // and the host's Atomics.load of `done` makes them visible to it.
    Atomics.add(ctrl, CTRL.done, 1);
    Atomics.notify(ctrl, CTRL.done);
  }
}

main().catch((err: unknown) => {
  parentPort!.postMessage({ fatal: serializeError(err) });
});
