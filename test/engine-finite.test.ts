/**
 * The finite check (Executor.checkFinite): one NaN, +Inf or −Inf written anywhere in an f32 or an f64
 * field is reported as a CheckError naming the kernel, the kind, the field, that actor and that step,
 * on one thread and on 2 and 3 threads claiming chunks (70000 actors: chunks of 4096), including the
 * first and last actor, chunk edges, and a tail that is not a multiple of the check's 4-wide unroll.
 * Oracle: the (actor, step, field, value) the Poison kernel was told to write (bench/kinds/poison.ts).
 */
import { describe, expect, it } from 'vitest';
import { type PoisonAt, poisonModel } from '../bench/kinds/poison.js';
import { CheckError } from '../src/errors.js';
import { compileModel } from '../src/model.js';
import { Simulation } from '../sim/simulation.js';

const N = 70_001;

async function poisoned(at: PoisonAt, workers: number): Promise<unknown> {
  const sim = await Simulation.create(compileModel(poisonModel(N, at)), { workers, seed: 1 });
  try {
    sim.run(at.atStep + 3);
    return null;
  } catch (err) {
    return err;
  } finally {
    await sim.close();
  }
}

const CASES: PoisonAt[] = [
  { atStep: 0, atActor: 0, field: 'x', what: 'NaN' },
  { atStep: 2, atActor: 4095, field: 'x', what: '+Inf' },
  { atStep: 1, atActor: 4096, field: 'x', what: '-Inf' },
  { atStep: 3, atActor: N - 1, field: 'x', what: 'NaN' },
  { atStep: 1, atActor: N - 2, field: 'y', what: '+Inf' },
  { atStep: 2, atActor: 35_001, field: 'y', what: 'NaN' },
];

describe('a non-finite value written into state', () => {
  it.each([1, 2, 3])('is reported with its kind, field, actor and step (%i thread(s))', async (workers) => {
    for (const at of CASES) {
      const err = await poisoned(at, workers);
      expect(err, JSON.stringify(at)).toBeInstanceOf(CheckError);
      expect((err as Error).message).toBe(
        `kernel 'poison.bump' (function Poison.bump) wrote a non-finite value (NaN or Infinity) into Poison.${at.field} of actor ${at.atActor} at step ${at.atStep}; check the kernel's arithmetic or its inputs`,
      );
    }
  });

  it('finite values near the f32 and f64 limits are not reported', async () => {
    const sim = await Simulation.create(compileModel(poisonModel(N, { atStep: 99, atActor: 0, field: 'x', what: 'NaN' })), { workers: 2, seed: 1 });
    try {
      const x = sim.state('Poison').x!;
      // Every actor at the largest finite f32 (the check sums the values in f64: 70001 of them stay
      // far below the f64 limit), a few at its negative and at the smallest subnormals.
      x.fill(3.4028234663852886e38);
      x[1] = -3.4028234663852886e38;
      x[2] = 1.401298464324817e-45;
      x[N - 1] = -1.401298464324817e-45;
      // f64: finite values whose sum overflows (the scan then searches, and finds nothing).
      sim.state('Poison').y!.fill(1e308);
      sim.run(2);
      expect(sim.state('Poison').y![N - 1]).toBe(1e308);
      expect(sim.state('Poison').x![0]).toBe(3.4028234663852886e38);
      expect(sim.state('Poison').x![N - 2]).toBe(3.4028234663852886e38);
    } finally {
      await sim.close();
    }
  });
});
