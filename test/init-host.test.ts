/**
 * Host-driven scenarios (the loop runs inside init) write their metrics rows through the runner's
 * InitHost, so metrics.csv and --plots show the whole trajectory; setup() is told the backend asked for.
 * Oracles: the scenario's own results (energy trace, overload trajectory), which are computed apart
 * from the rows, and hand-written expectations for a toy scenario.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineActor, defineModel } from '../src/model.js';
import { moduleUrl } from '../src/module-url.js';
import { runScenario } from '../sim/run.js';
import { defineScenario, type SetupContext } from '../sim/scenario.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'simloom-inithost-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function readCsv(file: string): { header: string[]; rows: number[][] } {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  return { header: head!.split(','), rows: lines.map((l) => l.split(',').map(Number)) };
}

/** A kind with no functions: the toy scenarios below only need a model to run. */
const Idle = defineActor({ name: 'Idle', kernels: moduleUrl(import.meta.url, '../kernels/circles/cpu'), state: { v: { type: 'f32' } }, functions: {} });

function toy(rows: readonly number[], seen: SetupContext[]) {
  return defineScenario({
    name: 'toy_host',
    description: 'records the given metrics rows from init',
    params: {},
    defaultSteps: 0,
    resumable: false,
    setup(_p, ctx) {
      seen.push(ctx ?? {});
      return {
        model: defineModel({ name: 'toy_host', actors: [Idle], population: { Idle: { capacity: 1 } } }),
        init(_sim, host) {
          for (const step of rows) host?.record(step, { value: step * 10 });
        },
        metrics: () => ({ value: -1 }),
      };
    },
    validate: () => [],
  });
}

describe('InitHost', () => {
  it('delta-f90: one metrics row per entry of the energy trace, plotted', async () => {
    const out = tmp();
    const summary = await runScenario({ scenario: 'delta-f90', outDir: out, plots: true, workers: 1 });
    expect(summary.status).toBe('completed');
    // The steps ran inside init: msPerStep is timed over them, not reported as 0.
    expect(summary.steps).toBeGreaterThan(0);
    expect(summary.msPerStep).toBeCloseTo((summary.wallSeconds * 1000) / summary.steps, 9);
    const trace = (summary.results as { landau: { energyTrace: number[] } }).landau.energyTrace;
    const { header, rows } = readCsv(path.join(out, 'metrics.csv'));
    expect(header).toEqual(['step', 'energy', 'acceptedSteps']);
    expect(rows.length).toBe(trace.length);
    rows.forEach((r, k) => {
      expect(r[0]).toBe(k);
      expect(r[1]).toBeCloseTo(trace[k]!, 8);
      expect(r[2]).toBe(k);
    });
    // Published: E_init 0.213086960278256 and E_80 −0.00172502137516098 at step size 0.05.
    expect(rows[0]![1]).toBeCloseTo(0.213086960278256, 8);
    expect(rows.at(-1)![1]).toBeCloseTo(-0.00172502137516098, 8);
    const svg = readFileSync(path.join(out, 'plots', 'energy.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
  });

  it('water-filling: one row per pass, equal to the overload trajectory and per-pass moves', async () => {
    const out = tmp();
    const summary = await runScenario({ scenario: 'water-filling', set: { n: '3000', dim: '16', shells: '32', mode: 'compat' }, outDir: out, plots: true, workers: 1 });
    expect(summary.status).toBe('completed');
    const wf = (summary.results as { waterFilling: { passes: number; overloadTrajectory: number[]; promotionsPerPass: number[]; lateralPerPass: number[] } }).waterFilling;
    const { header, rows } = readCsv(path.join(out, 'metrics.csv'));
    expect(header).toEqual(['step', 'overload', 'promotions', 'lateralMoves', 'inwardMoves']);
    expect(rows.length).toBe(wf.passes);
    rows.forEach((r, k) => {
      expect(r[0]).toBe(k + 1);
      expect(r[1]).toBeCloseTo(wf.overloadTrajectory[k]!, 5);
      expect(r[2]).toBe(wf.promotionsPerPass[k]);
      expect(r[3]).toBe(wf.lateralPerPass[k]);
    });
    expect(summary.metrics.overload).toBeCloseTo(wf.overloadTrajectory.at(-1)!, 9);
    for (const name of ['overload', 'moves']) expect(readFileSync(path.join(out, 'plots', `${name}.svg`), 'utf8').startsWith('<svg')).toBe(true);
  });

  it('cone-query: one row per query, summing to the total hits', async () => {
    const out = tmp();
    const summary = await runScenario({ scenario: 'cone-query', set: { n: '3000', dim: '16', shells: '32', queries: '5' }, outDir: out, plots: true, workers: 1 });
    expect(summary.status).toBe('completed');
    const cone = (summary.results as { cone: { totalHits: number; queries: { hits: number }[] } }).cone;
    const { header, rows } = readCsv(path.join(out, 'metrics.csv'));
    expect(header).toEqual(['step', 'hits']);
    expect(rows.map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
    expect(rows.map((r) => r[1])).toEqual(cone.queries.map((q) => q.hits));
    expect(rows.reduce((a, r) => a + r[1]!, 0)).toBe(cone.totalHits);
    expect(readFileSync(path.join(out, 'plots', 'hits.svg'), 'utf8').startsWith('<svg')).toBe(true);
  });

  it('rows recorded by init replace the row after init; setup is told the backend', async () => {
    const seen: SetupContext[] = [];
    const out = tmp();
    const summary = await runScenario({ scenario: toy([0, 2, 5], seen), outDir: out, workers: 1, backend: 'cpu' });
    expect(summary.status).toBe('completed');
    expect(seen).toEqual([{ backend: 'cpu' }]);
    expect(readFileSync(path.join(out, 'metrics.csv'), 'utf8')).toBe('step,value\n0,0\n2,20\n5,50\n');
  });

  it('a step that does not increase is an error naming the scenario', async () => {
    const run = runScenario({ scenario: toy([3, 3], []), workers: 1 });
    await expect(run).rejects.toThrow(/toy_host.*step 3 after step 3/);
  });
});
