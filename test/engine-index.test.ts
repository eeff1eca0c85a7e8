/**
 * The message index built by every thread at once (Executor.sortCount / sortOffsets / sortScatter),
 * used when a message has ≥ 65536 live senders and the simulation has workers.
 *
 * Oracle: a reference written here from the relay kind's destination formula (bench/kinds/relay.ts):
 * every sender i emits records j = 0..fanout−1 to relayDestination(i, j, …) with value value[i] + j,
 * and receiver r must read exactly its records, in (sender, sequence) order, at offsets that are the
 * running counts. Checked after each of two steps on 1 thread (the serial sort) and on 2 and 3.
 */
import { describe, expect, it } from 'vitest';
import { relayDestination, relayModel } from '../bench/kinds/relay.js';
import { compileModel } from '../src/model.js';
import { Simulation, SortChoice } from '../sim/simulation.js';

const SIZE = { senders: 70_000, receivers: 3001, fanout: 3 };

/** Offsets, senders and values of the records each receiver should read at `step`. */
function reference(step: number, value: Float32Array): { offsets: Uint32Array; sender: Uint32Array; value: Float32Array } {
  const { senders, receivers, fanout } = SIZE;
  const total = senders * fanout;
  const dest = new Uint32Array(total);
  const offsets = new Uint32Array(receivers + 1);
  for (let i = 0; i < senders; i++) {
    for (let j = 0; j < fanout; j++) {
      const r = relayDestination(i, j, fanout, step, receivers);
      dest[i * fanout + j] = r;
      offsets[r + 1]!++;
    }
  }
  for (let r = 0; r < receivers; r++) offsets[r + 1]! += offsets[r]!;
  const next = offsets.slice(0, receivers);
  const sender = new Uint32Array(total);
  const val = new Float32Array(total);
  // Senders in increasing order, each sender's records in sequence order: the required read order.
  for (let i = 0; i < senders; i++) {
    for (let j = 0; j < fanout; j++) {
      const d = next[dest[i * fanout + j]!]!++;
      sender[d] = i;
      val[d] = value[i]! + j;
    }
  }
  return { offsets, sender, value: val };
}

/** First index where a and b differ, or −1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('index of a large message built on every thread', () => {
  it.each([1, 2, 3])('delivers every record in (sender, sequence) order (%i thread(s))', async (workers) => {
    const sim = await Simulation.create(compileModel(relayModel(SIZE)), { workers, seed: 1 });
    try {
      const value = sim.state('Sender').value as Float32Array;
      for (let i = 0; i < SIZE.senders; i++) value[i] = (i % 977) * 0.5;
      for (let step = 0; step < 2; step++) {
        sim.stepOnce();
        const ref = reference(step, value);
        const got = sim.messageIn('Sender.note');
        const total = SIZE.senders * SIZE.fanout;
        expect(got.count, `records at step ${step}`).toBe(total);
        expect(firstDiff(got.offsets, ref.offsets, SIZE.receivers + 1), `first wrong offset at step ${step}`).toBe(-1);
        expect(firstDiff(got.sender, ref.sender, total), `first wrong sender at step ${step}`).toBe(-1);
        expect(firstDiff(got.fields.value!, ref.value, total), `first wrong value at step ${step}`).toBe(-1);
        const gotCount = sim.state('Receiver').got!;
        let bad = -1;
        for (let r = 0; r < SIZE.receivers && bad < 0; r++) if (gotCount[r] !== ref.offsets[r + 1]! - ref.offsets[r]!) bad = r;
        expect(bad, `first receiver with a wrong count at step ${step}`).toBe(-1);
      }
    } finally {
      await sim.close();
    }
  });
});

describe('a worker that dies during the index build', () => {
  it('is replaced, and the build is redone with the same result', async () => {
    // crashWorkerAt.gather: the worker exits in its first message task of step 0, the counting step
    // (the first build of an index is split over the threads, see SortChoice).
    const sim = await Simulation.create(compileModel(relayModel(SIZE)), { workers: 2, seed: 1, crashWorkerAt: { part: 1, step: 0, phase: 0, mode: 'exit', gather: true } });
    try {
      const value = sim.state('Sender').value as Float32Array;
      for (let i = 0; i < SIZE.senders; i++) value[i] = (i % 977) * 0.5;
      sim.run(2);
      expect(sim.workerRestarts).toBe(1);
      const ref = reference(1, value);
      const got = sim.messageIn('Sender.note');
      expect(firstDiff(got.sender, ref.sender, SIZE.senders * SIZE.fanout)).toBe(-1);
      expect(firstDiff(got.offsets, ref.offsets, SIZE.receivers + 1)).toBe(-1);
    } finally {
      await sim.close();
    }
  });
});

describe('SortChoice', () => {
  /** Drives a SortChoice for `builds` builds where the split sort takes splitMs(b) and the serial one serialMs(b). */
  function drive(builds: number, splitMs: (b: number) => number, serialMs: (b: number) => number): boolean[] {
    const ch = new SortChoice();
    const out: boolean[] = [];
    for (let b = 0; b < builds; b++) {
      ch.next();
      out.push(ch.parallelNow);
      ch.record(ch.parallelNow ? splitMs(b) : serialMs(b));
    }
    return out;
  }

  it('tries both twice, then keeps the faster and retries the other every 16th build', () => {
    const picks = drive(48, () => 5, () => 10);
    expect(picks.slice(0, 4)).toEqual([true, false, true, false]);
    const serialAt = picks.map((p, i) => (p ? -1 : i)).filter((i) => i >= 4);
    expect(serialAt).toEqual([15, 31, 47]);
    expect(drive(40, () => 10, () => 5).slice(4).filter((p) => p).length).toBe(2);
  });

  it('does not count the first try of each (compilation), so a slow start does not decide', () => {
    // The first split build takes 100 ms, later ones 5 ms; serial always 10 ms.
    const picks = drive(20, (b) => (b === 0 ? 100 : 5), () => 10);
    expect(picks.slice(4, 15).every((p) => p)).toBe(true);
  });

  it('follows the load both ways within one retry', () => {
    // Split 5 ms until build 40, then 40 ms; serial always 10 ms: dropped right after the slowdown.
    const down = drive(120, (b) => (b < 40 ? 5 : 40), () => 10);
    expect(down.slice(45).filter((p) => p).length).toBeLessThanOrEqual(6);
    // Split 40 ms until build 40, then 5 ms: taken back at the first retry after that.
    const up = drive(120, (b) => (b < 40 ? 40 : 5), () => 10);
    expect(up.slice(4, 40).filter((p) => p).length).toBeLessThanOrEqual(3);
    const serialAfter = up.map((p, i) => (p ? -1 : i)).filter((i) => i >= 48);
    expect(serialAfter).toEqual([63, 79, 95, 111]);
  });
});
