/**
 * Throughput of external input: one producer worker → the main thread, 4-field f64 records through a
 * {@link RecordRing}. Free of tinybench so that a suite can call it as one case (it owns a worker and
 * spins a core for the whole measurement, which does not fit tinybench's many-short-iterations model).
 *
 * The consumer is `RecordRing.drain` into a preallocated array, checking every record's sequence
 * number. The producer is plain JS in an inline worker: Node 20 workers cannot load our `.ts` sources,
 * so it frames records exactly as `RecordRing.pushMany` does (only whole records, one ringbuf.js push
 * per batch) on the same SharedArrayBuffer. The clock starts when the producer is loaded and released,
 * and stops when the last record has been drained, so worker start-up is not counted.
 *
 * Run alone: `npx tsx bench/rings.ts [records] [batchRecords]` (or the built `dist/bench/rings.js`).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RecordRing } from '../src/ring.js';

export interface RingThroughputOptions {
  /** Ring capacity in records. Default 4096. */
  capacityRecords?: number;
  /** Records the producer pushes per ringbuf.js push. Default 64; 1 measures single-record pushes. */
  batchRecords?: number;
  /** Abort when no record arrives for this long. Default 10 s. */
  stallMs?: number;
}

export interface RingThroughput {
  recordsPerSecond: number;
  records: number;
  seconds: number;
  fields: number;
  capacityRecords: number;
  batchRecords: number;
  node: string;
}

const FIELDS = ['id', 'a', 'b', 'c'] as const;

/* layout of the control block (Int32Array over its own SAB):
 * [0] go      0 until the consumer releases the producer, then 1
 * [1] failed  set to 1 by the producer if it throws, so the spinning consumer stops at once
 * [2] park    always 0, never notified: Atomics.wait on it with a timeout is a short sleep */
const CTRL_GO = 0;
const CTRL_FAILED = 1;
const CTRL_PARK = 2;
const CTRL_SLOTS = 3;
/**
 * Failed polls (ring full for the producer, empty for the consumer) before a 50 µs sleep. A pure spin
 * is fastest on two free cores, but when both threads share one core (a busy 2-core machine), the
 * spinning side keeps the core for a whole time slice while the other cannot make progress: measured
 * 0.5 M records/s pinned to one core with pure spinning.
 */
const SPINS_BEFORE_SLEEP = 64;
const SLEEP_MS = 0.05;

const PRODUCER = `
const { workerData, parentPort } = require('node:worker_threads');
const { ringbufUrl, sab, ctrlSab, recordSize: n, records, batchRecords } = workerData;
const ctrl = new Int32Array(ctrlSab);
import(ringbufUrl).then(({ RingBuffer }) => {
  const rb = new RingBuffer(sab, Float64Array);
  const batch = new Float64Array(batchRecords * n);
  parentPort.postMessage('ready');
  // Atomics.wait: sleep until the consumer has started its clock and stores go = 1; if it already
  // has, the value is no longer 0 and the wait returns at once.
  Atomics.wait(ctrl, ${CTRL_GO}, 0);
  let i = 0, idle = 0;
  while (i < records) {
    const want = Math.min(batchRecords, records - i);
    for (let r = 0; r < want; r++) {
      const o = r * n, id = i + r;
      batch[o] = id; batch[o + 1] = id * 0.5; batch[o + 2] = -id; batch[o + 3] = 1;
    }
    let sent = 0;
    while (sent < want) {
      // As RecordRing.pushMany: only whole records, all of a batch's fitting records in one push.
      const fit = Math.min(want - sent, Math.floor(rb.availableWrite() / n));
      if (fit === 0) {
        // Atomics.wait on the never-notified park slot: a timed sleep that hands a shared core to the
        // consumer (see SPINS_BEFORE_SLEEP).
        if (++idle % ${SPINS_BEFORE_SLEEP} === 0) Atomics.wait(ctrl, ${CTRL_PARK}, 0, ${SLEEP_MS});
        continue;
      }
      idle = 0;
      const wrote = rb.push(batch, fit * n, sent * n);
      if (wrote !== fit * n) throw new Error('partial push: ' + wrote + ' of ' + fit * n + ' values');
      sent += fit;
    }
    i += want;
  }
  parentPort.postMessage('done');
}).catch((err) => {
  // Atomics.store: the consumer polls this slot from its spin loop on another thread; a plain store
  // would also reach it eventually, but Atomics makes the hand-off explicit and immediate.
  Atomics.store(ctrl, ${CTRL_FAILED}, 1);
  throw err;
});
`;

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer (got ${value})`);
  return value;
}

/** Measures one producer worker → main-thread consumer throughput of 4-field records. */
export async function ringThroughput(records: number, options: RingThroughputOptions = {}): Promise<RingThroughput> {
  positiveInteger(records, 'records');
  const capacityRecords = positiveInteger(options.capacityRecords ?? 4096, 'options.capacityRecords');
  const batchRecords = positiveInteger(options.batchRecords ?? 64, 'options.batchRecords');
  const stallMs = options.stallMs ?? 10_000;

  const ring = RecordRing.create(FIELDS, capacityRecords, 'bench');
  const n = ring.recordSize;
  const ctrlSab = new SharedArrayBuffer(CTRL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  const ctrl = new Int32Array(ctrlSab);
  const worker = new Worker(PRODUCER, {
    eval: true,
    workerData: {
      ringbufUrl: import.meta.resolve('ringbuf.js'),
      sab: ring.descriptor().sab,
      ctrlSab,
      recordSize: n,
      records,
      batchRecords,
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`ring producer exited with code ${code} before starting`)));
    });
    const out = new Float64Array(capacityRecords * n);
    let expected = 0;
    const t0 = performance.now();
    // Atomics.store + notify: release the producer parked in Atomics.wait on this slot; the store is
    // made before the notify so a producer that wakes (or never slept) reads go = 1.
    Atomics.store(ctrl, CTRL_GO, 1);
    Atomics.notify(ctrl, CTRL_GO);
    let lastProgress = t0;
    let idle = 0;
    // Spin on the main thread: yielding to the event loop would measure the event loop, not the ring.
    while (expected < records) {
      const got = ring.drain(out);
      if (got > 0) {
        for (let r = 0; r < got; r++) {
          if (out[r * n] !== expected) {
            throw new Error(`ring bench: record ${expected} arrived as id ${out[r * n]} (lost, torn or reordered)`);
          }
          expected++;
        }
        idle = 0;
        continue;
      }
      if (idle === 0) lastProgress = performance.now();
      if (++idle % SPINS_BEFORE_SLEEP === 0) {
        // Atomics.wait on the never-notified park slot: a timed sleep that hands a shared core to the
        // producer (see SPINS_BEFORE_SLEEP).
        Atomics.wait(ctrl, CTRL_PARK, 0, SLEEP_MS);
      }
      if (idle % 1024 === 0) {
        const now = performance.now();
        // Atomics.load: the producer sets this slot from its thread when it throws; see PRODUCER.
        if (Atomics.load(ctrl, CTRL_FAILED) !== 0) throw new Error('ring bench: the producer worker failed');
        if (now - lastProgress > stallMs) throw new Error(`ring bench: no record for ${stallMs} ms after ${expected}`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      recordsPerSecond: records / seconds,
      records,
      seconds,
      fields: n,
      capacityRecords,
      batchRecords,
      node: process.version,
    };
  } finally {
    await worker.terminate();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const records = Number(process.argv[2] ?? 2_000_000);
  const batchRecords = Number(process.argv[3] ?? 64);
  console.log(JSON.stringify(await ringThroughput(records, { batchRecords })));
}
