/**
 * The doorbell runs every partition of a phase exactly once per step (issue 2's flake: a worker
 * partition that ran twice, "actor 750 emitted more than 1 records … at step 112").
 *
 * Oracle: the `Tally` kind (bench/kinds/tally.ts) counts each actor's kernel invocations in plain shared
 * columns that the engine never resets, and stamps its double-buffered state with the step; exactly
 * one run per actor per step gives, by hand, calls = steps and stamps = steps, and any second run,
 * skipped run or missing message makes a kernel raise Fault.user (a CheckError naming the actor).
 *
 * 1. The late-wake-up race, forced: `doorbellRace` makes the host notify late and the worker dawdle
 *    before sleeping again, so every worker wakes once per generation it already ran. A worker that
 *    trusts the wake-up (the engine before "wait until the generation really moves") faults here.
 * 2. Many small steps on 2 and 3 threads with both cores kept busy by extra spinning threads, so the
 *    host and the workers are preempted at arbitrary points (the flake's circumstances).
 */
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyModel } from '../bench/kinds/tally.js';
import { compileModel } from '../src/model.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';

/** Runs `steps` steps of Tally(n) and checks every actor's invocation counts and stamps. */
async function tally(n: number, steps: number, opts: SimulationOptions): Promise<void> {
  const sim = await Simulation.create(compileModel(tallyModel(n)), { seed: 1, inlineBelow: 0, ...opts });
  try {
    sim.run(steps);
    const calls = [sim.messageColumns('Tally.callsFirst').n!, sim.messageColumns('Tally.callsSecond').n!];
    const s = sim.state('Tally');
    for (const [name, col] of [['calls of first', calls[0]!], ['calls of second', calls[1]!], ['stamp a', s.a!], ['stamp b', s.b!]] as const) {
      let bad = -1;
      for (let i = 0; i < n && bad < 0; i++) if (col[i] !== steps) bad = i;
      expect(bad < 0 ? 'every actor' : `actor ${bad}: ${col[bad]}`, `${name} after ${steps} steps`).toBe('every actor');
    }
  } finally {
    await sim.close();
  }
}

describe('every partition runs once per step', () => {
  it.each([2, 3])('a late doorbell notify never re-runs a generation (%i threads)', async (workers) => {
    // 4 ms late notify, 1 ms dawdle: the worker runs a 1000-actor partition (µs), sleeps, and is
    // woken again by the notify of the generation it just ran, on every ring it sees early.
    await tally(3000, 40, { workers, doorbellRace: { notifyMs: 4, rewaitMs: 1 } });
  });

  describe('under load', () => {
    const spinners: Worker[] = [];
    beforeAll(async () => {
      // Two threads that spin until terminated: with the host and the workers that is more runnable
      // threads than this machine's cores, so every thread is preempted at arbitrary points.
      for (let i = 0; i < 2; i++) {
        const w = new Worker('require("node:worker_threads").parentPort.postMessage(0); for (;;);', { eval: true });
        await new Promise((resolve) => w.once('message', resolve));
        spinners.push(w);
      }
    });
    afterAll(async () => {
      await Promise.all(spinners.map((w) => w.terminate()));
    });

    it.each([2, 3])('many small steps on %i threads, every phase and gather on the workers', async (workers) => {
      await tally(600, 1500, { workers });
    });
  });
});

describe('chunked phases (large enough to be claimed in chunks)', () => {
  it.each([2, 3])('visit every actor exactly once per step on %i threads', async (workers) => {
    // 70000 actors on 2 threads: chunks of 4096 items, 18 per function, claimed from the counter.
    await tally(70_000, 30, { workers });
  });
});
