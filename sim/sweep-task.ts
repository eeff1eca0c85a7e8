/**
 * One run of a sweep (sim/sweep.ts), on a piscina worker thread: runs the scenario on that thread
 * alone (workers = 1: the pool's threads are the parallelism) and returns its row of the table.
 * A run that faults is a row with status 'faulted', not a rejected task.
 */
import { RunFailed, runScenario } from './run.js';
import type { ParamValue, RunSummary } from './scenario.js';

/** What the host sends for one run. */
export interface SweepTask {
  index: number;
  /** Scenario name or module path (it crosses a thread boundary, so not a Scenario object). */
  scenario: string;
  /** Raw `key=value` strings, parsed by the scenario's own parseParams in the task. */
  set: Record<string, string>;
  seed: number;
  steps?: number;
  /** The run's own output directory (summary.json, metrics.csv). */
  outDir?: string;
  recordEvery?: number;
  /** Write the run's trace.json into its outDir (sim/trace.ts). */
  trace?: boolean;
  /** Draw the run's plots into its outDir/plots (sim/plots.ts). */
  plots?: boolean;
}

/** One row of the sweep table. */
export interface SweepRow {
  index: number;
  params: Record<string, ParamValue>;
  seed: number;
  status: RunSummary['status'] | 'failed';
  steps: number;
  wallSeconds: number;
  msPerStep: number;
  metrics: Record<string, number>;
  stateChecksum: string;
  validation: { ok: boolean; problems: string[] };
  error?: string;
  outDir?: string;
}

export function rowOf(task: SweepTask, s: RunSummary): SweepRow {
  return {
    index: task.index,
    params: s.params,
    seed: s.seed,
    status: s.status,
    steps: s.steps,
    wallSeconds: s.wallSeconds,
    msPerStep: s.msPerStep,
    metrics: s.metrics,
    stateChecksum: s.stateChecksum,
    validation: s.validation,
    ...(s.error ? { error: `${s.error.name}: ${s.error.message}` } : {}),
    ...(task.outDir ? { outDir: task.outDir } : {}),
  };
}

export default async function runSweepTask(task: SweepTask): Promise<SweepRow> {
  try {
    const s = await runScenario({
      scenario: task.scenario,
      set: task.set,
      seed: task.seed,
      workers: 1,
      ...(task.steps !== undefined ? { steps: task.steps } : {}),
      ...(task.outDir !== undefined ? { outDir: task.outDir } : {}),
      ...(task.recordEvery !== undefined ? { recordEvery: task.recordEvery } : {}),
      ...(task.trace ? { trace: true } : {}),
      ...(task.plots ? { plots: true } : {}),
    });
    return rowOf(task, s);
  } catch (err) {
    if (err instanceof RunFailed) return rowOf(task, err.summary);
    throw err;
  }
}
