/**
 * A worker thread that is alive but stuck (issue 6's "hung workers are not detected"): with
 * `stepDeadlineMs`, the host stops waiting and throws a WorkerHungError naming the stuck thread, the
 * phase and the step; without a death, nothing else would ever end the wait. The Stall kernel
 * (bench/kinds/stall.ts) gets stuck at a chosen step in the call that covers a chosen actor; with
 * 1000 actors on 2 threads and every phase on the workers, actor 999 is in worker thread 1's partition.
 */
import { describe, expect, it } from 'vitest';
import { stallModel } from '../bench/kinds/stall.js';
import { UsageError } from '../src/errors.js';
import { compileModel } from '../src/model.js';
import { Simulation, WorkerHungError } from '../sim/simulation.js';

describe('stepDeadlineMs', () => {
  it('names the stuck worker, phase and step, after the deadline and not before', async () => {
    const sim = await Simulation.create(compileModel(stallModel(1000, 3, 999)), { workers: 2, seed: 1, inlineBelow: 0, stepDeadlineMs: 300 });
    try {
      sim.run(3);
      expect(sim.state('Stall').x![999]).toBe(3);
      const t0 = performance.now();
      let err: unknown = null;
      try {
        sim.stepOnce();
      } catch (e) {
        err = e;
      }
      const waited = performance.now() - t0;
      expect(err).toBeInstanceOf(WorkerHungError);
      const e = err as WorkerHungError;
      expect(e.code).toBe('E_WORKER_HUNG');
      expect(e.parts).toEqual([1]);
      expect(e.step).toBe(3);
      expect(e.task).toBe('phase 0 (Stall.tick)');
      expect(e.message).toMatch(/^worker thread 1 did not finish phase 0 \(Stall\.tick\) of step 3 within 300 ms \(stepDeadlineMs; \d+ ms so far\)/);
      // Not before the deadline; within a few 50 ms wait slices after it.
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(3000);
    } finally {
      // The stuck thread never reads the stop word: close() terminates it.
      await sim.close();
    }
  });

  it('is refused unless positive', async () => {
    await expect(Simulation.create(compileModel(stallModel(10, 0, 0)), { workers: 1, stepDeadlineMs: 0 })).rejects.toThrow(UsageError);
  });
});
