/**
 * Worker threads that die mid-step (ARCHITECTURE §7, issue 6): the death is seen while the host is
 * blocked in the phase barrier, the thread is replaced and the phase re-run, and the run ends with the
 * checksum of a run in which nothing died, whichever way the thread went (process.exit in the thread,
 * an exception escaping it, its resourceLimits heap exhausted). Three deaths in one step roll the
 * step back and stop the run with a WorkerLostError and a checkpoint of the last good step, which
 * resumes to the same result.
 *
 * Oracle: the same model on one thread (no workers to lose), bit-identical by the determinism contract.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel, type ModelSpec } from '../src/model.js';
import { resumeRun, RunFailed, runScenario } from '../sim/run.js';
import { loadScenario, parseParams, type ScenarioSetup } from '../sim/scenario.js';
import { Simulation, WorkerLostError } from '../sim/simulation.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-crash-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SEED = 3;
const STEPS = 12;
const CRASH_STEP = 5;
let spec: ModelSpec;
let setup: ScenarioSetup;
/** Checksums after each step of the one-thread run: [0] initial … [STEPS]. */
const reference: string[] = [];

beforeAll(async () => {
  const s = await loadScenario('deliveries');
  setup = s.setup(parseParams(s, { n: '2000', hubs: '5' }));
  spec = compileModel(setup.model);
  const sim = await Simulation.create(spec, { workers: 1, seed: SEED });
  try {
    await setup.init(sim);
    reference.push(sim.checksum());
    for (let i = 0; i < STEPS; i++) {
      sim.stepOnce();
      reference.push(sim.checksum());
    }
  } finally {
    await sim.close();
  }
});

/** A simulation on `workers` threads, every phase on the workers, partition 1 dying as told. */
async function crashing(mode: 'exit' | 'uncaught' | 'oom', phase: number, times = 1, workers = 2, gather = false): Promise<Simulation> {
  const sim = await Simulation.create(spec, { workers, seed: SEED, inlineBelow: 0, crashWorkerAt: { part: 1, step: CRASH_STEP, phase, mode, times, gather } });
  await setup.init(sim);
  return sim;
}

/** Runs STEPS steps, expects `restarts` replaced threads and the checksum of the run where nothing died, and closes. */
async function expectRecovered(sim: Simulation, restarts: number, label?: string): Promise<void> {
  try {
    sim.run(STEPS);
    expect(sim.workerRestarts, label).toBe(restarts);
    expect(sim.checksum(), label).toBe(reference[STEPS]);
  } finally {
    await sim.close();
  }
}

describe('a worker thread that dies mid-phase is replaced and the phase re-run', () => {
  it.for(['exit', 'uncaught', 'oom'] as const)('%s: same checksum as the run where nothing died', async (mode) => {
    // The last phase: by then earlier phases of the step have flipped parities and emitted messages.
    await expectRecovered(await crashing(mode, spec.phases.length - 1), 1);
  });

  it('a death in every phase of the model, and in a gather of sorted messages, once each', async () => {
    const cases = [...spec.phases.map((p) => ({ phase: p.index, gather: false })), { phase: 0, gather: true }];
    for (const c of cases) {
      await expectRecovered(await crashing('exit', c.phase, 1, 2, c.gather), 1, JSON.stringify(c));
    }
  });

  it('a death in each stage of the split index build (count, offsets, scatter) is recovered', async () => {
    // 70,000 nodes: their messages reach the split sort's 65,536 senders; indexSplit forces it.
    const s = await loadScenario('deliveries');
    const big = s.setup(parseParams(s, { n: '70000', hubs: '5' }));
    const bigSpec = compileModel(big.model);
    const steps = 4;
    const one = await Simulation.create(bigSpec, { workers: 1, seed: SEED });
    let expected: string;
    try {
      await big.init(one);
      one.run(steps);
      expected = one.checksum();
    } finally {
      await one.close();
    }
    for (const stage of ['count', 'offsets', 'scatter'] as const) {
      const sim = await Simulation.create(bigSpec, { workers: 2, seed: SEED, inlineBelow: 0, indexSplit: 'split', crashWorkerAt: { part: 1, step: 2, phase: 0, mode: 'exit', messageTask: stage } });
      try {
        await big.init(sim);
        sim.run(steps);
        expect(sim.workerRestarts, stage).toBe(1);
        expect(Object.values(sim.indexBuildTimes()).some((t) => t.split), stage).toBe(true);
        expect(sim.checksum(), stage).toBe(expected);
      } finally {
        await sim.close();
      }
    }
  });

  it('on 3 threads, the dead one among two survivors', async () => {
    await expectRecovered(await crashing('uncaught', 0, 1, 3), 1);
  });

  it('two deaths in one step (the replacement dies too) are still recovered', async () => {
    await expectRecovered(await crashing('exit', 0, 2), 2);
  });

  it('the third death in one step rolls the step back and throws WorkerLostError; stepping on recovers', async () => {
    const sim = await crashing('exit', spec.phases.length - 1, 3);
    try {
      let thrown: unknown;
      try {
        sim.run(STEPS);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(WorkerLostError);
      const e = thrown as WorkerLostError;
      expect(e.message).toMatch(new RegExp(`^worker threads died 3 times during step ${CRASH_STEP} \\(partition 1.*the limit is 3 per step \\(workerDeathLimit\\); the step was rolled back`));
      expect(e.step).toBe(CRASH_STEP);
      // Rolled back: exactly the state after CRASH_STEP completed steps.
      expect(sim.step).toBe(CRASH_STEP);
      expect(sim.checksum()).toBe(reference[CRASH_STEP]);
      // A caller may go on: the next step starts a new thread (this one lives) and repeats the step.
      sim.run(STEPS - CRASH_STEP);
      expect(sim.workerRestarts).toBe(3);
      expect(sim.checksum()).toBe(reference[STEPS]);
    } finally {
      await sim.close();
    }
  });
});

describe('in a run', () => {
  it('a killed worker leaves the summary unchanged but for workerRestarts', async () => {
    const plain = await runScenario({ scenario: 'circles', set: { n: '3000' }, steps: 8, workers: 2, seed: SEED, inlineBelow: 0 });
    const crashed = await runScenario({
      scenario: 'circles',
      set: { n: '3000' },
      steps: 8,
      workers: 2,
      seed: SEED,
      inlineBelow: 0,
      simulation: { crashWorkerAt: { part: 1, step: 4, phase: 1, mode: 'oom' } },
    });
    expect(crashed.status).toBe('completed');
    expect(crashed.workerRestarts).toBe(1);
    expect(crashed.stateChecksum).toBe(plain.stateChecksum);
    expect(crashed.metrics).toEqual(plain.metrics);
  });

  it('repeated deaths fault the run with a checkpoint of the last good step, which resumes to the same result', async () => {
    const out = path.join(tmp, 'lost');
    const plain = await runScenario({ scenario: 'circles', set: { n: '3000' }, steps: 8, workers: 1, seed: SEED });
    const err = await runScenario({
      scenario: 'circles',
      set: { n: '3000' },
      steps: 8,
      workers: 2,
      seed: SEED,
      inlineBelow: 0,
      outDir: out,
      simulation: { crashWorkerAt: { part: 1, step: 4, phase: 0, mode: 'exit', times: 3 } },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunFailed);
    const s = (err as RunFailed).summary;
    expect(s.status).toBe('faulted');
    expect(s.steps).toBe(4);
    expect(s.error?.name).toBe('WorkerLostError');
    const ckpt = path.join(out, 'checkpoints', 'step-4');
    expect(s.checkpoint).toBe(ckpt);
    expect(s.error?.message).toContain(`; checkpoint of step 4: ${ckpt}`);
    const resumed = await resumeRun({ checkpoint: ckpt, steps: 4, workers: 2, inlineBelow: 0 });
    expect(resumed.stateChecksum).toBe(plain.stateChecksum);
  });
});
