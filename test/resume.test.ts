/**
 * Resume (issue 6, docs/long-runs.md): for every scenario in scenarios/ that supports it, a run of
 * 100 steps with a checkpoint, resumed for 100 more, ends with the stateChecksum and metrics of the
 * uninterrupted 200-step run, saved and resumed on 1 or 2 workers in every combination. Scenarios
 * that cannot be resumed (their init() drives the engine, or they say `resumable: false`) are refused
 * with a clear error instead. Plus the run side: periodic checkpoints kept to the last K, the metrics
 * CSV of a resumed run starting at its step, and the refusals.
 *
 * Oracle: the uninterrupted run on one worker (the CPU backend is bit-identical on any worker count).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { resumeRun, RunFailed, runScenario } from '../sim/run.js';
import { listScenarios, loadScenario, type RunSummary, type Scenario } from '../sim/scenario.js';
import { counterScenario } from './fixtures/unit-counter/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-resume-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const fresh = (what: string): string => path.join(tmp, `${what}-${dirs++}`);

/**
 * A small size for each shipped scenario. Every scenario must have an entry: a new one is then
 * tested here at a size its author chose, rather than at its (possibly huge) defaults.
 */
const SMALL: Readonly<Record<string, Record<string, string>>> = {
  circles: { n: '1500' },
  deliveries: { n: '1500', hubs: '7' },
  'delta-f90': { steps: '10' },
  'landau-graph': { steps: '10' },
  'landau-sweep': { points: '5', steps: '10' },
  'connectivity-threshold': { n: '6', points: '2', trials: '1' },
  'energy-gated-expansion': { n: '12', mistakePos: '5', samples: '32', trials: '2', costs: '0,0.1' },
  'sequence-redemption': { n: '12', mistakePos: '5', samples: '32', trials: '2' },
  // Both declare resumable: false (their host loop holds the figures): refused before they run.
  'water-filling': { n: '200', dim: '8', shells: '4', passes: '2' },
  'cone-query': { n: '200', dim: '8', shells: '4', passes: '2', queries: '2' },
};
const SEED = 11;

/** The error a run of `scenario` with a checkpoint option ends with, or null when it completes. */
async function checkpointRefusal(scenario: string, set: Record<string, string>): Promise<Error | null> {
  try {
    await runScenario({ scenario, set, steps: 2, workers: 1, seed: SEED, outDir: fresh('probe'), checkpointAtEnd: true });
    return null;
  } catch (err) {
    return err instanceof RunFailed ? (err.cause as Error) : (err as Error);
  }
}

const shipped = listScenarios();

it('every shipped scenario has a small size for these tests', () => {
  expect(shipped.filter((s) => !(s in SMALL))).toEqual([]);
});

describe.each(shipped)('%s', (name) => {
  const set = SMALL[name] ?? {};
  let scenario: Scenario;
  let refusal: Error | null;
  let reference: RunSummary | null = null;

  beforeAll(async () => {
    scenario = await loadScenario(name);
    refusal = await checkpointRefusal(name, set);
    if (refusal === null) reference = await runScenario({ scenario: name, set, steps: 200, workers: 1, seed: SEED });
  });

  it('is resumable, or refuses checkpoints with a UsageError saying why', () => {
    if (refusal === null) {
      expect(scenario.resumable).not.toBe(false);
      expect(reference?.status).toBe('completed');
      return;
    }
    // Not resumable: either declared, or its init() runs the engine itself (a host-driven loop).
    expect(refusal).toBeInstanceOf(UsageError);
    expect(refusal.message).toMatch(/resumable/);
    expect(scenario.resumable).not.toBe(true);
  });

  it.for([
    [1, 1],
    [2, 2],
    [1, 2],
    [2, 1],
  ] as const)('100 steps on %i worker(s) + resume 100 on %i = 200 uninterrupted steps', async ([w1, w2], ctx) => {
    // Not resumable (checked above): a visible skip.
    if (refusal !== null) ctx.skip();
    const first = fresh(`${name}-a`);
    const a = await runScenario({ scenario: name, set, steps: 100, workers: w1, seed: SEED, outDir: first, checkpointAtEnd: true, inlineBelow: 0 });
    expect(a.checkpoint).toBe(path.join(first, 'checkpoints', 'step-100'));
    const second = fresh(`${name}-b`);
    // The run directory is enough: resume takes its newest checkpoint.
    const b = await resumeRun({ checkpoint: first, steps: 100, workers: w2, outDir: second, inlineBelow: 0 });
    expect(b.status).toBe('completed');
    expect(b.steps).toBe(200);
    expect(b.resumedFrom).toEqual({ checkpoint: a.checkpoint, step: 100 });
    expect(b.seed).toBe(SEED);
    expect(b.params).toEqual(reference!.params);
    expect(b.stateChecksum).toBe(reference!.stateChecksum);
    expect(b.metrics).toEqual(reference!.metrics);
    expect(b.validation).toEqual({ ok: true, problems: [] });
    // The resumed run's metrics start at the step it resumed from.
    const rows = readFileSync(path.join(second, 'metrics.csv'), 'utf8').trim().split('\n');
    if (rows.length > 1) expect(rows[1]!.split(',')[0]).toBe('100');
  });
});

describe('checkpoints of a run', () => {
  it('--checkpoint-every N keeps the last K, named by step, with the run facts in the manifest', async () => {
    const out = fresh('every');
    const s = await runScenario({ scenario: 'circles', set: { n: '300' }, steps: 50, workers: 2, seed: 4, outDir: out, checkpointEvery: 10, keepCheckpoints: 2 });
    expect(readdirSync(path.join(out, 'checkpoints')).sort()).toEqual(['step-40', 'step-50']);
    expect(s.checkpoint).toBe(path.join(out, 'checkpoints', 'step-50'));
    const m = JSON.parse(readFileSync(path.join(out, 'checkpoints', 'step-40', 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(m).toMatchObject({ scenario: 'circles', params: { n: 300 }, seed: 4, step: 40, backend: 'cpu', workers: 2 });
  });

  it('--checkpoint-at-end after a checkpoint at the same step writes it once', async () => {
    const out = fresh('end');
    const s = await runScenario({ scenario: 'circles', set: { n: '300' }, steps: 20, workers: 1, outDir: out, checkpointEvery: 10, checkpointAtEnd: true });
    expect(readdirSync(path.join(out, 'checkpoints')).sort()).toEqual(['step-10', 'step-20']);
    expect(s.checkpoint).toBe(path.join(out, 'checkpoints', 'step-20'));
  });

  it('a run without checkpoint options writes none', async () => {
    const out = fresh('none');
    await runScenario({ scenario: 'circles', set: { n: '300' }, steps: 5, workers: 1, outDir: out });
    expect(existsSync(path.join(out, 'checkpoints'))).toBe(false);
  });

  it('a resumed run can checkpoint in turn, with steps counted from the original start', async () => {
    const a = fresh('chain-a');
    const b = fresh('chain-b');
    const c = fresh('chain-c');
    const ref = await runScenario({ scenario: 'circles', set: { n: '400' }, steps: 30, workers: 1, seed: 9 });
    await runScenario({ scenario: 'circles', set: { n: '400' }, steps: 10, workers: 1, seed: 9, outDir: a, checkpointAtEnd: true });
    const sb = await resumeRun({ checkpoint: path.join(a, 'checkpoints', 'step-10'), steps: 10, workers: 2, outDir: b, checkpointEvery: 5 });
    expect(sb.checkpoint).toBe(path.join(b, 'checkpoints', 'step-20'));
    const sc = await resumeRun({ checkpoint: path.join(b, 'checkpoints'), steps: 10, workers: 1, outDir: c });
    expect(sc.steps).toBe(30);
    expect(sc.stateChecksum).toBe(ref.stateChecksum);
  });
});

describe('periodic checkpoints made durable in the background', () => {
  it('write the same checkpoints as checkpoints written in the step loop', async () => {
    const manifests = async (background: boolean): Promise<unknown[]> => {
      const out = fresh(`bg-${background}`);
      await runScenario({ scenario: 'deliveries', set: { n: '300', hubs: '5' }, steps: 10, workers: 1, seed: 2, outDir: out, checkpointEvery: 5, keepCheckpoints: 5, checkpointInBackground: background });
      expect(readdirSync(path.join(out, 'checkpoints')).sort()).toEqual(['step-10', 'step-5']);
      return ['step-5', 'step-10'].map((d) => ({ ...(JSON.parse(readFileSync(path.join(out, 'checkpoints', d, 'manifest.json'), 'utf8')) as object), createdAt: null }));
    };
    expect(await manifests(true)).toEqual(await manifests(false));
  });

  it('a checkpoint that cannot be written faults the run at that step, naming the path', async () => {
    const out = fresh('bg-fail');
    const checkpoints = path.join(out, 'checkpoints');
    const err = await runScenario({
      scenario: 'circles',
      set: { n: '200' },
      steps: 30,
      workers: 1,
      outDir: out,
      checkpointEvery: 10,
      // After the first checkpoint, a file takes the checkpoints directory's place.
      onCheckpoint(_dir, step) {
        if (step !== 10) return;
        rmSync(checkpoints, { recursive: true, force: true });
        writeFileSync(checkpoints, 'not a directory');
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailed);
    const summary = (err as RunFailed).summary;
    expect(summary.status).toBe('faulted');
    expect(summary.steps).toBe(20);
    expect(summary.error?.name).toBe('CheckpointError');
    expect(summary.error?.message).toContain(checkpoints);
  });
});

describe('refusals', () => {
  it('checkpoint options without an output directory', async () => {
    await expect(runScenario({ scenario: 'circles', set: { n: '50' }, steps: 1, workers: 1, checkpointEvery: 1 })).rejects.toThrow(/give --out/);
  });

  it('a scenario that declares resumable: false cannot write checkpoints, nor be resumed', async () => {
    const out = fresh('counter');
    const s = await runScenario({ scenario: counterScenario(), steps: 3, workers: 1, outDir: out, checkpointAtEnd: true });
    expect(s.checkpoint).toBeDefined();
    const closed: Scenario = { ...counterScenario(), resumable: false };
    await expect(runScenario({ scenario: closed, steps: 3, workers: 1, outDir: fresh('closed'), checkpointEvery: 1 })).rejects.toThrow(
      /scenario 'unit-counter' declares resumable: false .*could not be resumed/,
    );
    await expect(resumeRun({ checkpoint: s.checkpoint!, scenario: closed, steps: 1, workers: 1 })).rejects.toThrow(/declares resumable: false/);
    // The scenario object, when its module cannot be found by name, resumes like any other.
    const r = await resumeRun({ checkpoint: s.checkpoint!, scenario: counterScenario(), steps: 2, workers: 1 });
    expect(r.steps).toBe(5);
    expect(r.metrics.meanX).toBe(5);
  });

  it('a directory that holds no checkpoint', async () => {
    await expect(resumeRun({ checkpoint: tmp, steps: 1 })).rejects.toThrow(/holds no manifest\.json/);
  });
});
