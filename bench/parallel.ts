/**
 * How much parallel compute the machine really gives two threads: the same fixed work run on one
 * worker thread alone, then on two at once. `capacity` = 2 · t(1 thread) / t(2 threads) is 2 on two
 * free cores and about 1 where two vCPUs share one physical core (SMT siblings or a host CPU quota).
 * It bounds any 2-worker speedup, so the `step` suite reports it next to `twoWorkerSpeedup`.
 *
 * Two loads: `alu` (integer multiply/xor on registers, no memory traffic) and `stream` (x ← x·a + b over
 * a private 16 MiB Float32Array per thread, beyond the L2 cache, like a large element-wise kernel).
 */
import { Worker } from 'node:worker_threads';
import { type CaseOptions, type CaseStats, timeCase } from './common.js';

const PROBE = `
const { parentPort } = require('node:worker_threads');
function alu(n) {
  let a = 1, b = 2;
  for (let i = 0; i < n; i++) { a = (Math.imul(a, 1103515245) + b) | 0; b = ((b ^ (a >>> 7)) + i) | 0; }
  return a + b;
}
const x = new Float32Array(1 << 22);
function stream(reps) {
  for (let r = 0; r < reps; r++) for (let i = 0; i < x.length; i++) x[i] = x[i] * 0.5 + 1;
  return x[0];
}
alu(1e6); stream(1);
parentPort.on('message', ({ kind, amount }) => {
  const r = kind === 'alu' ? alu(amount) : stream(amount);
  parentPort.postMessage(r);
});
parentPort.postMessage('ready');
`;

export interface ParallelCapacity {
  kind: 'alu' | 'stream';
  oneThread: CaseStats;
  twoThreads: CaseStats;
  /** 2 · t1 / t2 (median samples): 2 = two full cores. */
  capacity: number;
}

async function startProbe(): Promise<Worker> {
  const w = new Worker(PROBE, { eval: true });
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  return w;
}

function job(w: Worker, kind: string, amount: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
    w.postMessage({ kind, amount });
  });
}

/** Measures {@link ParallelCapacity} for one load; `amount` is ALU iterations or stream passes. */
export async function parallelCapacity(kind: 'alu' | 'stream', amount: number, o: CaseOptions): Promise<ParallelCapacity> {
  const a = await startProbe();
  const b = await startProbe();
  try {
    const oneThread = await timeCase(`${kind} on 1 thread`, () => job(a, kind, amount), o);
    const twoThreads = await timeCase(`${kind} on 2 threads at once`, () => Promise.all([job(a, kind, amount), job(b, kind, amount)]), o);
    return { kind, oneThread, twoThreads, capacity: (2 * oneThread.medianMs) / twoThreads.medianMs };
  } finally {
    await Promise.all([a.terminate(), b.terminate()]);
  }
}
