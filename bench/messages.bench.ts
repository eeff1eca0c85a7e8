/**
 * Suite `messages`: how fast records move between threads, side by side in one run.
 *
 * (a) simloom SAB message lists: `Sender`s emit `fanout` direct messages each per step to
 *     pseudo-random `Receiver`s, the host builds the per-receiver index (counting sort + gather),
 *     receivers read every record (bench/kinds/relay.ts). Timed per step (`Simulation.stepOnce`),
 *     index build included; messages/s = records delivered per step / step time.
 * (b) SAB rings: one producer worker → main through a {@link RecordRing} (bench/rings.ts), 4 f64
 *     fields a record, with 64-record pushes and with one record per push.
 * (c) worker `postMessage`, one small object `{to, value}` per message, worker → main; the main thread
 *     counts arrivals and sums the values (so a lost message fails the case).
 * (d) `postMessage` batched: 1024 `[to, value]` records per Float64Array, its buffer transferred.
 *
 * Every case checks what arrived before its figure is reported. Ratios:
 *   sabVsPostMessage = (a) / (c)   ringsVsPostMessage = (b, 1 record per push) / (c)
 *   batchedVsPostMessage = (d) / (c)   sabVsBatched = (a) / (d)   ringsBatchedVsBatched = (b, 64) / (d)
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { compileModel } from '../src/model.js';
import { Simulation } from '../sim/simulation.js';
import { type CaseOptions, type CaseStats, fmt, log, machineFacts, type Measured, perSecond, type SuiteReport, timeInterleaved } from './common.js';
import { relayDestination, relayModel, type RelaySize } from './kinds/relay.js';
import { ringThroughput } from './rings.js';

const WORKERS = 2;
/** Records per postMessage in case (d). */
const BATCH_RECORDS = 1024;

interface Plan {
  relay: RelaySize;
  postSingle: number;
  postBatched: number;
  ringRecords: number;
  ringSingleRecords: number;
  sim: CaseOptions;
  post: CaseOptions;
  ring: CaseOptions;
  /** Interleaved rounds (see timeInterleaved). */
  rounds: number;
}

function plan(quick: boolean): Plan {
  if (quick) {
    return {
      relay: { senders: 32_768, receivers: 16_384, fanout: 4 },
      postSingle: 20_000,
      postBatched: 200_000,
      ringRecords: 200_000,
      ringSingleRecords: 50_000,
      sim: { timeMs: 200, iterations: 5, warmupIterations: 2, warmupMs: 20, async: false },
      post: { timeMs: 100, iterations: 2, warmupIterations: 1, warmupMs: 1, async: true },
      ring: { timeMs: 0, iterations: 1, async: true },
      rounds: 1,
    };
  }
  return {
    relay: { senders: 262_144, receivers: 65_536, fanout: 4 },
    postSingle: 200_000,
    postBatched: 4_000_000,
    ringRecords: 4_000_000,
    ringSingleRecords: 1_000_000,
    sim: { timeMs: 4000, iterations: 30, warmupIterations: 10, warmupMs: 300, async: false },
    post: { timeMs: 3000, iterations: 8, warmupIterations: 2, warmupMs: 1, async: true },
    ring: { timeMs: 0, iterations: 8, warmupIterations: 1, warmupMs: 1, async: true },
    rounds: 4,
  };
}

/** Checks the receivers' view of the last step against a host-side replay of every record. */
function checkRelay(sim: Simulation, size: RelaySize): void {
  const step = sim.step - 1;
  const { senders, receivers, fanout } = size;
  const value = sim.state('Sender').value!;
  const sum = new Float64Array(receivers);
  const got = new Uint32Array(receivers);
  for (let i = 0; i < senders; i++) {
    for (let j = 0; j < fanout; j++) {
      const to = relayDestination(i, j, fanout, step, receivers);
      sum[to] = sum[to]! + Math.fround(value[i]! + j);
      got[to]!++;
    }
  }
  const r = sim.state('Receiver');
  const rs = r.sum!;
  const rg = r.got!;
  for (let k = 0; k < receivers; k++) {
    // Records reach a receiver in (sender, sequence) order, the order of the replay above, so the f64
    // sums are bit-identical.
    if (rg[k] !== got[k] || rs[k] !== sum[k]) {
      throw new Error(`messages bench: receiver ${k} at step ${step} got ${rg[k]} records summing ${rs[k]}, expected ${got[k]} summing ${sum[k]}`);
    }
  }
  const delivered = sim.messageIn('Sender.note').count;
  if (delivered !== senders * fanout) throw new Error(`messages bench: ${delivered} records delivered, expected ${senders * fanout}`);
}

interface PhaseSnapshot {
  step: number;
  kernelMs: number[];
  indexMs: number[];
}

function snapshot(sim: Simulation): PhaseSnapshot {
  return { step: sim.step, kernelMs: sim.timings.map((t) => t.kernelMs), indexMs: sim.timings.map((t) => t.indexMs) };
}

/** Host wall time per step of each phase's kernels and index build between two snapshots. */
function breakdown(sim: Simulation, a: PhaseSnapshot): Record<string, number> {
  const b = snapshot(sim);
  const steps = b.step - a.step;
  const out: Record<string, number> = {};
  sim.timings.forEach((t, p) => {
    out[`phase${p} ${t.functions.join('+')} kernel ms/step`] = (b.kernelMs[p]! - a.kernelMs[p]!) / steps;
    out[`phase${p} index ms/step`] = (b.indexMs[p]! - a.indexMs[p]!) / steps;
  });
  return out;
}

/** A relay simulation with its senders' values set, one step run and checked. */
async function relaySim(size: RelaySize, workers: number): Promise<Simulation> {
  const sim = await Simulation.create(compileModel(relayModel(size)), { workers, seed: 1 });
  const value = sim.state('Sender').value!;
  for (let i = 0; i < size.senders; i++) value[i] = (i % 1000) * 0.25;
  sim.stepOnce();
  checkRelay(sim, size);
  return sim;
}

/* The posting worker: plain JS (eval), so it runs from sources and from dist alike. */
const POSTER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ count, batch, receivers }) => {
  if (batch === 0) {
    for (let i = 0; i < count; i++) parentPort.postMessage({ to: i % receivers, value: i * 0.5 });
    return;
  }
  for (let i = 0; i < count; ) {
    const n = Math.min(batch, count - i);
    const a = new Float64Array(n * 2);
    for (let r = 0; r < n; r++, i++) { a[2 * r] = i % receivers; a[2 * r + 1] = i * 0.5; }
    parentPort.postMessage(a, [a.buffer]);
  }
});
parentPort.postMessage('ready');
`;

/** A long-lived worker that posts `count` records to the main thread on request. */
class Poster {
  private readonly worker: Worker;
  private want = 0;
  private got = 0;
  private sum = 0;
  private done: (() => void) | null = null;
  private fail: ((e: Error) => void) | null = null;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (m: unknown) => {
      if (m instanceof Float64Array) {
        for (let r = 1; r < m.length; r += 2) this.sum += m[r]!;
        this.got += m.length >>> 1;
      } else {
        this.got++;
        this.sum += (m as { value: number }).value;
      }
      if (this.got === this.want) this.done?.();
    });
    worker.on('error', (e) => this.fail?.(e));
  }

  static async start(): Promise<Poster> {
    const w = new Worker(POSTER, { eval: true });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    return new Poster(w);
  }

  /** Posts `count` records (`batch` 0: one object each) and resolves when all have arrived. */
  async transfer(count: number, batch: number): Promise<void> {
    this.want = count;
    this.got = 0;
    this.sum = 0;
    await new Promise<void>((resolve, reject) => {
      this.done = resolve;
      this.fail = reject;
      this.worker.postMessage({ count, batch, receivers: 65_536 });
    });
    this.done = null;
    // Σ i·0.5 for i < count: exact in f64 for these counts, so any lost or duplicated record shows.
    const expected = (count * (count - 1)) / 4;
    if (this.sum !== expected) throw new Error(`postMessage bench: values sum to ${this.sum}, expected ${expected}`);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

async function ringCase(records: number, batchRecords: number): Promise<Measured> {
  const r = await ringThroughput(records, { batchRecords });
  return { overriddenDuration: r.seconds * 1000 };
}

export async function run({ quick }: { quick: boolean }): Promise<SuiteReport> {
  const p = plan(quick);
  const t0 = performance.now();
  const size = p.relay;
  const records = size.senders * size.fanout;
  const sims: Simulation[] = [];
  let poster: Poster | null = null;
  try {
    log('messages: setting up (2 simulations, 1 posting worker)');
    const workers = [WORKERS, 1];
    for (const w of workers) sims.push(await relaySim(size, w));
    const post = await Poster.start();
    poster = post;
    const before = sims.map(snapshot);
    log(`messages: timing 6 cases in ${p.rounds} interleaved rounds`);
    const stats = await timeInterleaved(
      [
        ...sims.map((sim, i) => ({ name: `SAB message lists, workers=${workers[i]}`, fn: () => sim.stepOnce() })),
        { name: 'ring, 64 records per push', fn: () => ringCase(p.ringRecords, 64), o: p.ring },
        { name: 'ring, 1 record per push', fn: () => ringCase(p.ringSingleRecords, 1), o: p.ring },
        { name: 'postMessage single', fn: () => post.transfer(p.postSingle, 0), o: p.post },
        { name: 'postMessage batched', fn: () => post.transfer(p.postBatched, BATCH_RECORDS), o: p.post },
      ],
      p.sim,
      p.rounds,
    );
    for (const sim of sims) checkRelay(sim, size);
    const [s2, s1, r64, r1, ps, pb] = stats as [CaseStats, CaseStats, CaseStats, CaseStats, CaseStats, CaseStats];
    const sabName = (w: number): string => `SAB message lists (direct, ${size.senders} senders × ${size.fanout} → ${size.receivers} receivers, workers=${w}, index build included)`;
    const ringName = (b: number): string => `SAB ring (RecordRing, 1 producer worker → main, 4×f64 records, ${b} record(s) per push)`;
    const sab2 = perSecond(sabName(WORKERS), 'messages/s', records, s2);
    const sab1 = perSecond(sabName(1), 'messages/s', records, s1);
    const ring64 = perSecond(ringName(64), 'messages/s', p.ringRecords, r64);
    const ring1 = perSecond(ringName(1), 'messages/s', p.ringSingleRecords, r1);
    const single = perSecond('worker postMessage, one {to, value} object per message (worker → main)', 'messages/s', p.postSingle, ps);
    const batched = perSecond(`worker postMessage, ${BATCH_RECORDS} [to, value] records per transferred Float64Array (worker → main)`, 'messages/s', p.postBatched, pb);
    const ratios = {
      sabVsPostMessage: sab2.value / single.value,
      ringsVsPostMessage: ring1.value / single.value,
      batchedVsPostMessage: batched.value / single.value,
      sabVsBatched: sab2.value / batched.value,
      ringsBatchedVsBatched: ring64.value / batched.value,
      sabTwoWorkersVsOne: sab2.value / sab1.value,
    };
    log(`messages: done in ${fmt((performance.now() - t0) / 1000)} s`);
    return {
      suite: 'messages',
      env: { node: process.version, cpus: os.availableParallelism(), backend: 'cpu', adapter: null, workers },
      results: [sab2, sab1, ring64, ring1, single, batched],
      ratios,
      details: {
        quick,
        machine: machineFacts(),
        relay: { ...size, recordsPerStep: records },
        sabBreakdownWorkers2: { ...breakdown(sims[0]!, before[0]!), stepMsMedian: s2.medianMs },
        sabBreakdownWorkers1: { ...breakdown(sims[1]!, before[1]!), stepMsMedian: s1.medianMs },
        postMessage: { singleMessagesPerIteration: p.postSingle, batchedRecordsPerIteration: p.postBatched, batchRecords: BATCH_RECORDS },
        rings: { records64: p.ringRecords, records1: p.ringSingleRecords, capacityRecords: 4096 },
        rounds: p.rounds,
        checks: 'the first and last SAB steps checked against a host replay (counts exact, f64 sums bit-identical); every postMessage transfer checked by its value sum; ring sequence numbers checked record by record',
        wallSeconds: (performance.now() - t0) / 1000,
      },
    };
  } finally {
    await Promise.all(sims.map((s) => s.close()));
    await poster?.close();
  }
}
