/**
 * Runs a scenario end to end: parameters, model, population, steps, metrics, results, validation,
 * and the output contract of ARCHITECTURE §6 (`summary.json`, `metrics.csv`).
 *
 * @example
 * ```ts
 * const summary = await runScenario({ scenario: 'circles', steps: 50, workers: 2, set: { n: '10000' }, outDir: 'runs/c1' });
 * console.log(summary.metrics.meanDrift, summary.stateChecksum);
 * ```
 */
import { mkdirSync, openSync, closeSync, writeSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../src/errors.js';
import { compileModel } from '../src/model.js';
import { loadScenario, parseParams, type RunSummary, type Scenario } from './scenario.js';
import { checkReductions, createSimulation, reduceState, selectBackend, type SimulationLike } from './backend.js';

export interface RunOptions {
  scenario: Scenario | string;
  steps?: number;
  workers?: number;
  seed?: number;
  backend?: 'cpu' | 'webgpu' | 'auto';
  /** Raw `--set key=value` pairs. */
  set?: Readonly<Record<string, string>>;
  /** Directory for summary.json and metrics.csv (none written when absent). */
  outDir?: string;
  recordEvery?: number;
  /** Called after every step with (done, total). */
  onProgress?: (done: number, total: number, metrics: Record<string, number> | null) => void;
  /** Passed to the simulation (tests). */
  checkFinite?: boolean;
  /** Passed to the simulation: phases visiting fewer items run on the calling thread (tests use 0 to force worker threads). */
  inlineBelow?: number;
  /** webgpu: GPU timing source, `'auto'` (timestamp queries when offered) or `'submit'`. */
  timing?: 'auto' | 'submit';
  /** Called once the backend is chosen, before the simulation is created (the CLI prints it). */
  onBackend?: (backend: 'cpu' | 'webgpu', adapter: { name: string; type: 'hardware' | 'software' } | null, note: string) => void;
}

export async function runScenario(opts: RunOptions): Promise<RunSummary> {
  const scenario = typeof opts.scenario === 'string' ? await loadScenario(opts.scenario) : opts.scenario;
  const params = parseParams(scenario, opts.set ?? {});
  const steps = opts.steps ?? scenario.defaultSteps;
  if (!Number.isInteger(steps) || steps < 0) throw new UsageError(`--steps must be a non-negative integer, got ${String(opts.steps)}`);
  const backend = opts.backend ?? 'cpu';
  if (!['cpu', 'webgpu', 'auto'].includes(backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got '${String(backend)}'`);
  const workers = opts.workers ?? Math.max(1, os.availableParallelism());
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${String(opts.workers)}`);
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be an integer in [0, 4294967295], got ${String(opts.seed)}`);
  const recordEvery = opts.recordEvery ?? scenario.recordEvery ?? Math.max(1, Math.floor(steps / 100));
  // 0 would record no step but the last (s % 0 is NaN), a fraction only some: refuse both up front.
  if (!Number.isInteger(recordEvery) || recordEvery < 1) throw new UsageError(`recordEvery must be a positive integer, got ${String(recordEvery)}`);

  const setup = scenario.setup(params);
  const spec = compileModel(setup.model);
  const reductions = setup.reductions ?? {};
  checkReductions(spec, reductions);
  const hasReductions = Object.keys(reductions).length > 0;
  // webgpu with no adapter is a UsageError naming the driver install; auto says what it chose and why.
  const selection = await selectBackend(backend, spec);
  opts.onBackend?.(selection.backend, selection.adapter, selection.note);
  const sim: SimulationLike = await createSimulation(spec, selection, {
    workers,
    seed,
    ...(opts.checkFinite === undefined ? {} : { checkFinite: opts.checkFinite }),
    ...(opts.inlineBelow === undefined ? {} : { inlineBelow: opts.inlineBelow }),
    ...(opts.timing === undefined ? {} : { timing: opts.timing }),
  });
  let csv: number | null = null;
  let csvColumns: string[] | null = null;
  const tmpFiles: [string, string][] = [];
  if (opts.outDir) {
    mkdirSync(opts.outDir, { recursive: true });
    const final = path.join(opts.outDir, 'metrics.csv');
    const tmp = final + '.partial';
    csv = openSync(tmp, 'w');
    tmpFiles.push([tmp, final]);
  }
  const writeRow = (step: number, m: Record<string, number>): void => {
    if (csv === null) return;
    if (!csvColumns) {
      csvColumns = Object.keys(m);
      writeSync(csv, ['step', ...csvColumns].join(',') + '\n');
    }
    writeSync(csv, [step, ...csvColumns.map((k) => fmt(m[k]))].join(',') + '\n');
  };

  let metrics: Record<string, number> = {};
  let status: RunSummary['status'] = 'completed';
  let error: RunSummary['error'];
  let thrown: unknown;
  // A GPU fault is raised at one step and detected at a later readback: its error carries the step.
  const stepOf = (e: unknown): number => {
    const st = (e as { step?: unknown }).step;
    return typeof st === 'number' ? st : sim.step;
  };
  // Metrics from reductions computed where the state lives; a scenario without reductions reads the
  // state itself, which on the GPU needs a download first (sync).
  const recordMetrics = async (): Promise<Record<string, number>> => {
    if (!hasReductions) await sim.sync?.();
    return setup.metrics!(sim, await reduceState(sim, reductions));
  };
  let before = sim.transfer ?? null;
  let after = before;
  const t0 = performance.now();
  try {
    await setup.init(sim);
    sim.uploadState?.();
    if (setup.metrics) {
      metrics = await recordMetrics();
      writeRow(0, metrics);
    }
    before = sim.transfer ?? null;
    for (let s = 1; s <= steps; s++) {
      const record = setup.metrics && (s % recordEvery === 0 || s === steps);
      if (record && hasReductions && sim.stepAndReduce) {
        // One submit: the step, the reductions and one small readback (with the fault word).
        metrics = setup.metrics!(sim, await sim.stepAndReduce(reductions));
      } else {
        await sim.stepOnce();
        if (record) metrics = await recordMetrics();
      }
      if (record) writeRow(s, metrics);
      opts.onProgress?.(s, steps, record ? metrics : null);
    }
    after = sim.transfer ?? null;
    // The GPU's state comes back once, for results and the checksum; this also checks the fault word.
    await sim.sync?.();
  } catch (err) {
    status = 'faulted';
    const e = err as Error;
    error = { name: e.name, message: e.message, step: stepOf(err) };
    thrown = err;
  }
  const stepsRun = sim.step;
  const wallSeconds = (performance.now() - t0) / 1000;
  // A throwing results() faults the run like a throwing step: the simulation is still closed and the
  // output files still renamed (it used to escape, leaving worker threads running and .partial files).
  let results: Record<string, unknown> = {};
  if (setup.results && status === 'completed') {
    try {
      results = setup.results(sim);
    } catch (err) {
      status = 'faulted';
      const e = err as Error;
      error = { name: e.name, message: e.message, step: sim.step };
      thrown = err;
    }
  }
  const actors: Record<string, number> = {};
  for (const k of spec.kinds) actors[k.name] = sim.count(k.name);
  let stateChecksum = '';
  try {
    stateChecksum = await sim.checksum();
  } catch (err) {
    // Only a GPU run can fail here (the download); the run's own outcome is already recorded.
    if (status === 'completed') {
      status = 'faulted';
      const e = err as Error;
      error = { name: e.name, message: e.message, step: stepOf(err) };
      thrown = err;
    }
  }
  const final = sim.transfer ?? null;
  const perStep = (x: number): number => (stepsRun > 0 ? Math.round((x / stepsRun) * 10) / 10 : 0);
  const bytesPerStep = before && after ? { toDevice: perStep(after.toDevice - before.toDevice), fromDevice: perStep(after.fromDevice - before.fromDevice) } : { toDevice: 0, fromDevice: 0 };
  const gpuInfo = sim.gpuInfo?.();
  const summary: RunSummary = {
    status,
    scenario: scenario.name,
    params: { ...params },
    steps: sim.step,
    wallSeconds,
    msPerStep: sim.step > 0 ? (wallSeconds * 1000) / sim.step : 0,
    backend: selection.backend,
    adapter: selection.adapter ? { name: selection.adapter.name, type: selection.adapter.type } : null,
    backendNote: selection.note,
    // --workers sizes the cpu backend's thread pool; a webgpu run uses no CPU workers and records 0.
    workers: selection.backend === 'cpu' ? workers : 0,
    bytesPerStep,
    ...(gpuInfo && before && after && final
      ? {
          gpu: {
            ...gpuInfo,
            submitsPerStep: perStep(after.submits - before.submits),
            dispatchesPerStep: perStep(after.dispatches - before.dispatches),
            setupBytesToDevice: before.toDevice,
            finalBytesFromDevice: final.fromDevice - after.fromDevice,
          },
        }
      : {}),
    seed,
    actors,
    metrics,
    stateChecksum,
    results,
    validation: { ok: false, problems: [] },
    phases: sim.timings.map((t) => ({ phase: t.phase, functions: [...t.functions], kernelMs: round3(t.kernelMs), indexMs: round3(t.indexMs) })),
    env: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.availableParallelism() },
    ...(error ? { error } : {}),
  };
  await sim.close();
  if (status === 'completed') {
    let problems: string[];
    try {
      problems = scenario.validate(summary);
    } catch (err) {
      // The run completed; a validate() that throws is a failed validation, recorded with its reason.
      const e = err as Error;
      problems = [`validate() threw ${e.name}: ${e.message}`];
    }
    summary.validation = { ok: problems.length === 0, problems };
  } else {
    summary.validation = { ok: false, problems: [`run ${status}: ${error?.message ?? ''}`] };
  }
  if (csv !== null) closeSync(csv);
  if (opts.outDir) {
    // Written under temporary names and renamed, so a reader never sees a half-written file.
    const final = path.join(opts.outDir, 'summary.json');
    writeFileSync(final + '.partial', JSON.stringify(summary, null, 2) + '\n');
    tmpFiles.push([final + '.partial', final]);
    for (const [tmp, fin] of tmpFiles) renameSync(tmp, fin);
  }
  if (thrown !== undefined) throw new RunFailed(summary, thrown);
  return summary;
}

/** Thrown when a run faults; carries the summary that was written (status 'faulted'). */
export class RunFailed extends Error {
  constructor(
    readonly summary: RunSummary,
    override readonly cause: unknown,
  ) {
    super((cause as Error).message ?? String(cause));
    this.name = 'RunFailed';
  }
}

function fmt(v: number | undefined): string {
  if (v === undefined) return '';
  return Number.isInteger(v) ? String(v) : v.toPrecision(9);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
