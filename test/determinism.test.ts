/**
 * Determinism (ARCHITECTURE §4): the same seed gives a bit-identical state on 1, 2 or 3 CPU
 * workers, and another seed gives another state; plus a host oracle for one step of circles.
 * `inlineBelow: 0` makes every phase run in worker threads even at these small sizes.
 */
import { describe, expect, it } from 'vitest';
import { chainModel, dampedModel, initialX, initialY } from '../bench/kinds/oscillator.js';
import { circlesReferenceForce } from '../actors/circles/index.js';
import circles from '../scenarios/circles.js';
import { compileModel } from '../src/model.js';
import { runScenario } from '../sim/run.js';
import { parseParams, type RunSummary } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';

const CASES = [
  { scenario: 'circles', set: { n: '3000' }, steps: 10 },
  { scenario: 'deliveries', set: { n: '3000', hubs: '7' }, steps: 10 },
] as const;

describe.each(CASES)('$scenario is deterministic', ({ scenario, set, steps }) => {
  it('same seed ⇒ same stateChecksum and metrics on 1, 2 and 3 workers; another seed ⇒ another checksum', async () => {
    const runs: RunSummary[] = [];
    for (const workers of [1, 2, 3]) runs.push(await runScenario({ scenario, set, steps, workers, seed: 7, inlineBelow: 0 }));
    const other = await runScenario({ scenario, set, steps, workers: 2, seed: 8, inlineBelow: 0 });
    for (const r of [...runs, other]) {
      expect(r.status).toBe('completed');
      expect(r.validation, `${scenario} on ${r.workers} workers, seed ${r.seed}`).toEqual({ ok: true, problems: [] });
    }
    const [one, ...rest] = runs;
    for (const r of rest) {
      expect(r.stateChecksum, `${r.workers} workers vs 1`).toBe(one!.stateChecksum);
      expect(r.metrics, `${r.workers} workers vs 1`).toEqual(one!.metrics);
    }
    expect(other.stateChecksum, 'seed 8 vs seed 7').not.toBe(one!.stateChecksum);
  });
});

describe('circles against its scalar reference', () => {
  it.each([1, 2])('one step moves every agent by circlesReferenceForce (%i worker(s))', async (workers) => {
    const params = parseParams(circles, { n: '3000' });
    const setup = circles.setup(params);
    const spec = compileModel(setup.model);
    const sim = await Simulation.create(spec, { workers, seed: 3, inlineBelow: 0 });
    try {
      await setup.init(sim);
      const n = sim.count('CirclesAgent');
      const s0 = sim.state('CirclesAgent');
      const pos = { x: Float32Array.from(s0.x!.subarray(0, n)), y: Float32Array.from(s0.y!.subarray(0, n)), z: Float32Array.from(s0.z!.subarray(0, n)) };
      sim.stepOnce();
      const s1 = sim.state('CirclesAgent');
      const radius = Number(params.radius);
      const repulse = Number(params.repulse);
      let worst = 0;
      let moved = 0;
      for (let i = 0; i < n; i++) {
        const [fx, fy, fz] = circlesReferenceForce(i, pos, n, radius, repulse);
        const err = Math.max(Math.abs(s1.x![i]! - (pos.x[i]! + fx)), Math.abs(s1.y![i]! - (pos.y[i]! + fy)), Math.abs(s1.z![i]! - (pos.z[i]! + fz)));
        const driftErr = Math.abs(s1.drift![i]! - Math.hypot(fx, fy, fz));
        worst = Math.max(worst, err, driftErr);
        if (fx !== 0 || fy !== 0 || fz !== 0) moved++;
      }
      // f32 storage of positions (~1e-6 at |x| ≤ 14) and the polynomial sin (≤ 6e-8) bound the error.
      expect(worst, 'largest absolute error over all agents').toBeLessThan(1e-5);
      expect(moved, 'most agents have neighbours').toBeGreaterThan(n / 2);
    } finally {
      await sim.close();
    }
  });
});

describe('the chunked schedule', () => {
  // Large enough that parallel phases are claimed in chunks (see Executor.runChunks): element-wise
  // Damped and the message-coupled Chain of the step bench, whose kernels visit contiguous ranges.
  it.each(['Damped', 'Chain'] as const)('%s: bit-identical on 1 thread, 2 static partitions, 2 and 3 threads claiming chunks', async (kind) => {
    const n = 150_000;
    const sums: string[] = [];
    for (const opts of [{ workers: 1 }, { workers: 2, schedule: 'static' as const }, { workers: 2 }, { workers: 3 }]) {
      const sim = await Simulation.create(compileModel(kind === 'Damped' ? dampedModel(n) : chainModel(n)), { seed: 5, ...opts });
      try {
        const s = sim.state(kind);
        for (let i = 0; i < n; i++) s.x![i] = initialX(i);
        if (kind === 'Damped') for (let i = 0; i < n; i++) s.y![i] = initialY(i);
        sim.run(8);
        sums.push(sim.checksum());
      } finally {
        await sim.close();
      }
    }
    expect(new Set(sums).size, sums.join(' ')).toBe(1);
  });

  it('deliveries at 70000 actors (chunked onMessage lists, bucket reductions, graphs, indexes built on every thread): 1, 2 and 3 workers agree', async () => {
    const runs: RunSummary[] = [];
    for (const workers of [1, 2, 3]) runs.push(await runScenario({ scenario: 'deliveries', set: { n: '70000', hubs: '7' }, steps: 3, workers, seed: 7 }));
    for (const r of runs) expect(r.validation, `${r.workers} workers`).toEqual({ ok: true, problems: [] });
    expect(runs.map((r) => r.stateChecksum)).toEqual(runs.map(() => runs[0]!.stateChecksum));
  });
});
