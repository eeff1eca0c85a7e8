/**
 * Worker liveness (ARCHITECTURE §7): how the host learns that a worker thread died while it is
 * blocked in `Atomics.wait`, when no event ('exit', 'error', a message) can reach it.
 *
 * Every worker thread holds one end of a "lifeline" MessageChannel; the other end is sent to the
 * watchdog, a tiny thread that does nothing but wait on its event loop. However a thread dies (an
 * exception that escapes, process.exit in the thread, worker.terminate(), the heap limit of
 * resourceLimits), Node closes its ports when it tears the thread down, after its JavaScript has
 * stopped; the watchdog's 'close' listener then marks the death in the health block and wakes the
 * host with Atomics.notify on `control[done]`. Measured on Node 20.20: the host sees the death
 * 2–4 ms after process.exit or an uncaught exception in the thread, ~110 ms after an OOM at a 32 MB
 * heap limit (the allocation loop itself), and a port handed to the watchdog after its peer died
 * still reports 'close'.
 *
 * The doorbell path pays nothing for this: the host already waits on `done`, now in 50 ms slices,
 * and reads one more word when it wakes.
 */

/* layout of `health` (Int32Array). Record 0 holds counters; record k (k ≥ 1) belongs to partition k:
 * [0]        deaths    worker threads the watchdog saw die (bumped once per death)
 * [1]        lastPart  partition of the latest death (diagnostics)
 * [4k + 0]   ready     incarnation of partition k's thread once it waits on the doorbell (0: none yet)
 * [4k + 1]   dead      incarnation of partition k's thread that died (0: none)
 * [4k + 2]   finished  doorbell generation partition k last finished
 * [4k + 3]   spare
 */
export const HEALTH = {
  deaths: 0,
  lastPart: 1,
  ready: 0,
  dead: 1,
  finished: 2,
  /** Index of partition `part`'s record. */
  record: (part: number): number => 4 * part,
  /** Words for `threads` partitions (host included). */
  words: (threads: number): number => 4 * (threads + 1),
} as const;

/** Busy-waits `ms` milliseconds (test hooks only: a timer would need the event loop). */
export function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/**
 * The watchdog thread's code (CommonJS, run with `eval: true` so that it needs no file next to the
 * built or the source module). It receives `{ part, incarnation, port }` for every worker thread.
 * Publishing order: the dead word, then the counter (the host reads the counter, then the words),
 * then the wake-up on `done`, which the host waits on during a phase.
 */
export const WATCHDOG_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const health = workerData.health;
const control = workerData.control;
parentPort.on('message', (m) => {
  if (m.stop) { parentPort.close(); return; }
  m.port.on('close', () => {
    Atomics.store(health, 4 * m.part + ${HEALTH.dead}, m.incarnation);
    Atomics.store(health, ${HEALTH.lastPart}, m.part);
    Atomics.add(health, ${HEALTH.deaths}, 1);
    Atomics.notify(health, 4 * m.part + ${HEALTH.ready});
    Atomics.notify(control, workerData.doneIndex);
  });
  m.port.start();
});
`;
