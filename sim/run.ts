/**
 * Runs a scenario end to end: parameters, model, population, steps, metrics, results, validation,
 * and the output contract of ARCHITECTURE §6 (`summary.json`, `metrics.csv`, `checkpoints/`), and
 * the long-run behaviour of §7 (docs/long-runs.md): periodic checkpoints, resume, and a clean stop
 * between steps when asked (SIGINT/SIGTERM in the CLI).
 *
 * @example
 * ```ts
 * const summary = await runScenario({ scenario: 'circles', steps: 50, workers: 2, set: { n: '10000' }, outDir: 'runs/c1', checkpointEvery: 25 });
 * console.log(summary.metrics.meanDrift, summary.stateChecksum);
 * const more = await resumeRun({ checkpoint: 'runs/c1/checkpoints/step-50', steps: 50, outDir: 'runs/c1b' });
 * ```
 */
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InternalError, UsageError } from '../src/errors.js';
import { compileModel, type ModelSpec } from '../src/model.js';
import { beginCheckpoint, type Checkpointable, type CheckpointMeta, latestCheckpoint, loadCheckpoint, MAX_STEP, pruneCheckpoints, readCheckpointManifest, type Restorable, restoreSnapshot, saveCheckpoint, type SavedCheckpoint, type StateSnapshot } from './checkpoint.js';
import { listScenarios, loadScenario, type ParamValue, parseParams, type RunSummary, type Scenario } from './scenario.js';
import { checkReductions, createSimulation, readOnly, reduceState, selectBackend, type BackendSelection, type SimulationLike } from './backend.js';
import { MetricSeries, plotRun } from './plots.js';
import { Tracer, type TraceStepStats } from './trace.js';
import { type SimulationOptions, WorkerLostError } from './simulation.js';

export interface RunOptions {
  scenario: Scenario | string;
  steps?: number;
  workers?: number;
  seed?: number;
  backend?: 'cpu' | 'webgpu' | 'auto';
  /** Raw `--set key=value` pairs. */
  set?: Readonly<Record<string, string>>;
  /** Directory for summary.json, metrics.csv and checkpoints/ (none written when absent). */
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
  /** Write `<outDir>/trace.json` (sim/trace.ts); `capacity` (records per thread per step) and `maxEvents` bound it. */
  trace?: boolean | { capacity?: number; maxEvents?: number };
  /** Called after each step with its per-thread utilisation (the run is traced, in memory if `trace` is off). */
  onTraceStep?: (stats: TraceStepStats) => void;
  /**
   * Awaited after every step, after its metrics, checkpoint and progress: the dashboard pauses the
   * run here, saves the checkpoints it was asked for, and lets its server answer.
   */
  betweenSteps?: (at: BetweenSteps) => Promise<void> | void;
  /** Draw the scenario's plots of its metrics into `<outDir>/plots/` (SVG and PNG; sim/plots.ts). */
  plots?: boolean;
  /** Called once the backend is chosen, before the simulation is created (the CLI prints it). */
  onBackend?: (backend: 'cpu' | 'webgpu', adapter: { name: string; type: 'hardware' | 'software' } | null, note: string) => void;
  /** Write a checkpoint into `<outDir>/checkpoints/step-<N>/` after every step N that is a multiple of this. */
  checkpointEvery?: number;
  /**
   * Make the periodic checkpoints of `checkpointEvery` durable in the background (default true): the
   * step loop waits until the columns are hashed and written into the page cache, not for the fsyncs,
   * the manifest and the renames (sim/checkpoint.ts beginCheckpoint); the next checkpoint, and the
   * end of the run, wait for them. `false` waits for all of it, as the other checkpoints do.
   */
  checkpointInBackground?: boolean;
  /** Checkpoints kept by `checkpointEvery` (default 3): older ones are removed after each save. */
  keepCheckpoints?: number;
  /** Write a checkpoint after the last step too. */
  checkpointAtEnd?: boolean;
  /**
   * Stops the run between two steps: the run ends with status 'aborted' and, with an outDir and a
   * resumable scenario, a checkpoint of the last completed step. Its `reason` (e.g. 'SIGINT') is
   * recorded.
   */
  signal?: AbortSignal;
  /** Called after every checkpoint written. */
  onCheckpoint?: (dir: string, step: number) => void;
  /** Passed to the CPU simulation: worker-death limits, the hung-worker deadline and the crash test hook. */
  simulation?: Pick<SimulationOptions, 'crashWorkerAt' | 'workerDeathLimit' | 'workerStartTimeoutMs' | 'stepDeadlineMs'>;
}

/** Options of {@link resumeRun}: a run's, less what the checkpoint decides (scenario, parameters, seed). */
export interface ResumeOptions extends Omit<RunOptions, 'scenario' | 'set' | 'seed'> {
  /**
   * A checkpoint directory (`…/checkpoints/step-<N>`), a checkpoints directory or a run's output
   * directory (its newest checkpoint is used).
   */
  checkpoint: string;
  /** Steps to run after the checkpoint's step (default: the scenario's defaultSteps). */
  steps?: number;
  /**
   * Where the restored state runs: default, the backend recorded in the manifest (a webgpu run's
   * checkpoint is uploaded onto the GPU); `'cpu'` or `'webgpu'` to move it, since the format is the same.
   */
  backend?: 'cpu' | 'webgpu' | 'auto';
  /**
   * The scenario, for one that the manifest's name cannot find (defined in code rather than in a
   * file); its name must equal the manifest's.
   */
  scenario?: Scenario;
}

/** Metrics rows are written to the file at least this often (and before every checkpoint). */
const CSV_FLUSH_MS = 1000;
const CSV_FLUSH_BYTES = 64 * 1024;
/** The run loop lets the event loop turn (signals, timers, progress) at least this often. */
const YIELD_MS = 20;

export async function runScenario(opts: RunOptions): Promise<RunSummary> {
  const scenario = typeof opts.scenario === 'string' ? await loadScenario(opts.scenario) : opts.scenario;
  const params = parseParams(scenario, opts.set ?? {});
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be an integer in [0, 4294967295], got ${String(opts.seed)}`);
  return execute(scenario, params, seed, opts, null, await scenarioRef(opts.scenario, scenario));
}

/**
 * How a checkpoint's manifest names the scenario, so that resume finds it again: a shipped scenario by
 * its name, even when given by its file (`scenarios/circles.ts`: the name survives moving the
 * checkout); another module path as an absolute path; else the name.
 */
async function scenarioRef(given: Scenario | string, scenario: Scenario): Promise<string> {
  if (typeof given !== 'string' || !/[\\/]|\.(m?js|ts)$/.test(given)) return scenario.name;
  if (listScenarios().includes(scenario.name) && (await loadScenario(scenario.name).catch(() => null)) === scenario) return scenario.name;
  const ref = path.resolve(given);
  return ref.length <= 200 ? ref : scenario.name;
}

/**
 * Continues a run from a checkpoint: the scenario and parameters named in its manifest build the
 * model, the checkpoint is loaded (every byte checked, sim/checkpoint.ts) and restored in place of
 * the scenario's init(), and `steps` more steps run. On the CPU the result is bit-identical to the
 * uninterrupted run, on any number of workers. The summary's `steps` counts from the start of the
 * original run; `resumedFrom` names the checkpoint; metrics.csv starts at the checkpoint's step.
 */
export async function resumeRun(opts: ResumeOptions): Promise<RunSummary> {
  const dir = await resolveCheckpoint(opts.checkpoint);
  const manifest = await readCheckpointManifest(dir);
  if (manifest.scenario === null) {
    throw new UsageError(`checkpoint ${dir} names no scenario (it was saved through the API without one), so resume cannot rebuild its model; restore it with Simulation.restore() instead`);
  }
  if (opts.scenario && opts.scenario.name !== manifest.scenario) {
    throw new UsageError(`checkpoint ${dir} was written by scenario '${manifest.scenario}', not '${opts.scenario.name}'`);
  }
  const scenario = opts.scenario ?? (await loadScenario(manifest.scenario));
  if (scenario.resumable === false) {
    throw new UsageError(`scenario '${scenario.name}' declares resumable: false (it keeps host-side state that a checkpoint does not hold), so its checkpoint ${dir} cannot be resumed; run it again from the start`);
  }
  // The recorded values go through the scenario's own parser: a parameter since removed or retyped is a clear error.
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(manifest.params)) set[k] = String(v);
  let params: Record<string, ParamValue>;
  try {
    params = parseParams(scenario, set);
  } catch (err) {
    throw new UsageError(`checkpoint ${dir} was written with parameters that scenario '${scenario.name}' no longer accepts (${(err as Error).message})`);
  }
  // A checkpoint goes back where it came from (a webgpu run's onto the GPU) unless a backend is asked for.
  const backend = opts.backend ?? manifest.backend;
  return execute(scenario, params, manifest.seed, { ...opts, backend }, dir, manifest.scenario);
}

/**
 * The checkpoint a user means by `p`: a step directory as is; otherwise the newest checkpoint under
 * `p` (a checkpoints directory) or `p/checkpoints` (a run's output directory).
 */
export async function resolveCheckpoint(p: string): Promise<string> {
  const found = (await latestCheckpoint(p)) ?? (await latestCheckpoint(path.join(p, 'checkpoints')));
  // Anything else goes to the manifest reader, whose error names the path and what to pass.
  return found ?? p;
}

/** Why checkpoints of this scenario could not be resumed, or null when they can. */
function notResumable(scenario: Scenario, initSteps: number): string | null {
  if (scenario.resumable === false) return `scenario '${scenario.name}' declares resumable: false (it keeps host-side state that a checkpoint does not hold)`;
  if (scenario.resumable !== true && initSteps > 0) {
    return `scenario '${scenario.name}' ran ${initSteps} engine steps inside its init() (a host-driven loop whose state a checkpoint does not hold) and does not declare resumable: true`;
  }
  return null;
}

function isCheckpointable(sim: SimulationLike): sim is SimulationLike & Checkpointable {
  return typeof (sim as Partial<Checkpointable>).snapshot === 'function';
}

function canRestore(sim: SimulationLike): sim is SimulationLike & { restore(snap: StateSnapshot): void | Promise<void> } {
  return typeof (sim as { restore?: unknown }).restore === 'function';
}

async function execute(
  scenario: Scenario,
  params: Record<string, ParamValue>,
  seed: number,
  opts: Omit<RunOptions, 'scenario' | 'set' | 'seed'>,
  resumeDir: string | null,
  scenarioRef: string,
): Promise<RunSummary> {
  const steps = opts.steps ?? scenario.defaultSteps;
  if (!Number.isInteger(steps) || steps < 0) throw new UsageError(`--steps must be a non-negative integer, got ${String(opts.steps)}`);
  const backend = opts.backend ?? 'cpu';
  if (!['cpu', 'webgpu', 'auto'].includes(backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got '${String(backend)}'`);
  const workers = opts.workers ?? Math.max(1, os.availableParallelism());
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${String(opts.workers)}`);
  const recordEvery = opts.recordEvery ?? scenario.recordEvery ?? Math.max(1, Math.floor(steps / 100));
  // 0 would record no step but the last (s % 0 is NaN), a fraction only some: refuse both up front.
  if (!Number.isInteger(recordEvery) || recordEvery < 1) throw new UsageError(`recordEvery must be a positive integer, got ${String(recordEvery)}`);
  const every = opts.checkpointEvery;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) throw new UsageError(`--checkpoint-every must be a positive integer, got ${String(every)}`);
  const keep = opts.keepCheckpoints ?? 3;
  if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`--keep must be a positive integer, got ${String(opts.keepCheckpoints)}`);
  const wantCheckpoints = every !== undefined || opts.checkpointAtEnd === true;
  if (wantCheckpoints && !opts.outDir) throw new UsageError('checkpoints are written under the output directory: give --out (outDir) with --checkpoint-every or --checkpoint-at-end');
  if (wantCheckpoints && scenario.resumable === false) {
    throw new UsageError(`--checkpoint-every/--checkpoint-at-end: ${notResumable(scenario, 0)!}, so its checkpoints could not be resumed`);
  }

  const setup = scenario.setup(params, { backend });
  const spec = compileModel(setup.model);
  const reductions = setup.reductions ?? {};
  checkReductions(spec, reductions);
  const hasReductions = Object.keys(reductions).length > 0;
  // Loaded before the backend starts: a refused checkpoint costs no worker threads or GPU device.
  const snap = resumeDir === null ? null : await loadCheckpoint(resumeDir, spec);
  if (snap && snap.step + steps > MAX_STEP) throw new UsageError(`--steps ${steps}: the run would pass step ${MAX_STEP}, the most a checkpoint can hold`);
  // webgpu with no adapter is a UsageError naming the driver install; auto says what it chose and why.
  const selection = await selectBackend(backend, spec);
  opts.onBackend?.(selection.backend, selection.adapter, selection.note);
  const tracer = runTracer(opts, spec, scenario.name, params, selection, workers, seed, snap ? { checkpoint: snap.dir, step: snap.step } : null);
  const series = opts.plots ? new MetricSeries() : null;
  const sim: SimulationLike = await createSimulation(spec, selection, {
    workers,
    seed,
    ...(tracer ? { tracer } : {}),
    ...(opts.checkFinite === undefined ? {} : { checkFinite: opts.checkFinite }),
    ...(opts.inlineBelow === undefined ? {} : { inlineBelow: opts.inlineBelow }),
    ...(opts.timing === undefined ? {} : { timing: opts.timing }),
    ...(selection.backend === 'cpu' ? (opts.simulation ?? {}) : {}),
  });
  const unsupported = (what: string): UsageError =>
    new UsageError(`${what}: the ${selection.backend} backend cannot ${what.startsWith('resume') ? 'restore' : 'save'} checkpoints yet; run with --backend cpu`);
  if ((wantCheckpoints && !isCheckpointable(sim)) || (snap && !canRestore(sim))) {
    await sim.close();
    throw unsupported(snap ? 'resume' : '--checkpoint-every/--checkpoint-at-end');
  }

  // metrics.csv: rows are buffered and written at least every CSV_FLUSH_MS (and before every
  // checkpoint and at the end), so a long run's file follows it on disk and memory stays flat.
  let csv: number | null = null;
  let csvColumns: string[] | null = null;
  let csvBuffer = '';
  let lastFlush = performance.now();
  const tmpFiles: [string, string][] = [];
  if (opts.outDir) {
    mkdirSync(opts.outDir, { recursive: true });
    const final = path.join(opts.outDir, 'metrics.csv');
    const tmp = final + '.partial';
    csv = openSync(tmp, 'w');
    tmpFiles.push([tmp, final]);
  }
  const flushCsv = (): void => {
    if (csv === null || csvBuffer.length === 0) return;
    writeSync(csv, csvBuffer);
    csvBuffer = '';
    lastFlush = performance.now();
  };
  let lastRecorded = -1;
  const writeRow = (step: number, m: Record<string, number>): void => {
    lastRecorded = step;
    series?.add(step, m);
    if (csv === null) return;
    if (!csvColumns) {
      csvColumns = Object.keys(m);
      csvBuffer += ['step', ...csvColumns].join(',') + '\n';
    }
    csvBuffer += [step, ...csvColumns.map((k) => fmt(m[k]))].join(',') + '\n';
    if (csvBuffer.length >= CSV_FLUSH_BYTES || performance.now() - lastFlush >= CSV_FLUSH_MS) flushCsv();
  };

  const checkpointsDir = opts.outDir ? path.join(opts.outDir, 'checkpoints') : null;
  // Held in an object: TypeScript does not see the closure below assign it.
  const written: { last: { dir: string; step: number } | null } = { last: null };
  let resumeBlocked: string | null = null;
  // What every checkpoint of this run records: resume rebuilds the model from it.
  const checkpointMeta: CheckpointMeta = {
    scenario: scenarioRef,
    params,
    backend: selection.backend,
    adapter: selection.adapter,
    workers: selection.backend === 'cpu' ? workers : 0,
  };
  // A periodic checkpoint is made durable in the background (at most one at a time): the step loop
  // waits until its columns are written. A failure after that faults the run where it is awaited:
  // before the next checkpoint, or after the last step.
  let inFlight: Promise<void> | null = null;
  const settleCheckpoint = async (): Promise<void> => {
    const p = inFlight;
    inFlight = null;
    if (p) await p;
  };
  const recordSaved = async (saved: SavedCheckpoint): Promise<void> => {
    await pruneCheckpoints(checkpointsDir!, keep);
    written.last = { dir: saved.dir, step: saved.manifest.step };
    opts.onCheckpoint?.(saved.dir, saved.manifest.step);
  };
  const checkpoint = async (background = false): Promise<string> => {
    await settleCheckpoint();
    flushCsv();
    // On the GPU, snapshot() downloads the state (and the graphs, and the fault word) in one submit.
    const target = sim as SimulationLike & Checkpointable;
    if (background && opts.checkpointInBackground !== false) {
      const pending = await beginCheckpoint(target, checkpointsDir!, checkpointMeta);
      const p = pending.done.then(recordSaved);
      p.catch(() => undefined);
      inFlight = p;
      return pending.dir;
    }
    const saved = await saveCheckpoint(target, checkpointsDir!, checkpointMeta);
    await recordSaved(saved);
    return saved.dir;
  };

  let metrics: Record<string, number> = {};
  let status: RunSummary['status'] = 'completed';
  let error: RunSummary['error'];
  let thrown: unknown;
  let abortedBy: string | undefined;
  // A GPU fault is raised at one step and detected at a later readback: its error carries the step.
  const stepOf = (e: unknown): number => {
    const st = (e as { step?: unknown }).step;
    return typeof st === 'number' ? st : sim.step;
  };
  // Metrics from reductions computed where the state lives; a scenario without reductions reads the
  // state itself, which on the GPU needs a download first (sync).
  const recordMetrics = async (): Promise<Record<string, number>> => {
    const tm = tracer !== null ? performance.now() : 0;
    if (!hasReductions) await sim.sync?.();
    const m = setup.metrics!(readOnly(sim), await reduceState(sim, reductions));
    if (tracer !== null) tracer.hostSlice('record metrics', tm, performance.now());
    return m;
  };
  let before = sim.transfer ?? null;
  let after = before;
  const t0 = performance.now();
  // The step loop's start and end (after the final sync); NaN when the run faulted before or in it.
  let tLoop = Number.NaN;
  let tLoopEnd = Number.NaN;
  let startStep = 0;
  try {
    if (snap) {
      // Restore replaces init(): the scenario's setup closure starts fresh (docs/long-runs.md).
      // With the columns of messages that carry values across steps (sim/checkpoint.ts carriedMessages).
      await restoreSnapshot(sim as SimulationLike & Restorable, snap);
    } else {
      let initRows = -1;
      await setup.init(sim, {
        record: (step, m) => {
          if (!Number.isInteger(step) || step <= initRows) {
            throw new InternalError(`scenario '${scenario.name}': init recorded a metrics row at step ${step} after step ${initRows}; steps must be increasing integers`);
          }
          initRows = step;
          writeRow(step, m);
        },
      });
      resumeBlocked = notResumable(scenario, sim.step);
      if (resumeBlocked && wantCheckpoints) throw new UsageError(`--checkpoint-every/--checkpoint-at-end: ${resumeBlocked}, so its checkpoints could not be resumed`);
    }
    startStep = sim.step;
    sim.uploadState?.();
    if (setup.metrics) {
      metrics = await recordMetrics();
      // A host-driven init that recorded its own rows has already written the state after init.
      if (lastRecorded < 0) writeRow(startStep, metrics);
    }
    before = sim.transfer ?? null;
    tLoop = performance.now();
    let lastYield = tLoop;
    for (let i = 1; i <= steps; i++) {
      // Between steps: a stop request (signal) ends the run here, with the state of a whole step.
      if (opts.signal?.aborted) {
        status = 'aborted';
        break;
      }
      const s = startStep + i;
      const record = setup.metrics && (s % recordEvery === 0 || i === steps);
      if (record && hasReductions && sim.stepAndReduce) {
        // One submit: the step, the reductions and one small readback (with the fault word).
        metrics = setup.metrics!(readOnly(sim), await sim.stepAndReduce(reductions));
      } else {
        await sim.stepOnce();
        if (record) metrics = await recordMetrics();
      }
      if (record) writeRow(s, metrics);
      if (every !== undefined && s % every === 0) await checkpoint(true);
      opts.onProgress?.(i, steps, record ? metrics : null);
      if (opts.betweenSteps) await opts.betweenSteps({ sim, step: s, done: i, total: steps, metrics: record ? metrics : null, params, checkpointMeta });
      // A CPU step is synchronous: let the event loop turn now and then, so that a signal's handler
      // (and timers, and progress output) runs between steps.
      if (performance.now() - lastYield >= YIELD_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
    await settleCheckpoint();
    after = sim.transfer ?? null;
    // The GPU's state comes back once, for results and the checksum; this also checks the fault word.
    await sim.sync?.();
    tLoopEnd = performance.now();
    if (status === 'aborted') {
      abortedBy = typeof opts.signal?.reason === 'string' ? opts.signal.reason : 'abort';
      // The summary's metrics (and the last row) are those of the step the run stopped at.
      if (setup.metrics && lastRecorded !== sim.step) {
        metrics = await recordMetrics();
        writeRow(sim.step, metrics);
      }
      if (checkpointsDir && !resumeBlocked && isCheckpointable(sim) && written.last?.step !== sim.step) await checkpoint();
    } else if (opts.checkpointAtEnd && written.last?.step !== sim.step) {
      await checkpoint();
    }
  } catch (err) {
    status = 'faulted';
    const e = err as Error;
    error = { name: e.name, message: e.message, step: stepOf(err) };
    thrown = err;
    try {
      await settleCheckpoint();
    } catch (cerr) {
      if (cerr !== err) error.message += `; a checkpoint being written failed too: ${(cerr as Error).message}`;
    }
    // Workers kept dying: the simulation rolled the step back, so its state is the last good step's.
    if (err instanceof WorkerLostError && checkpointsDir && !resumeBlocked) {
      try {
        const dir = written.last?.step === sim.step ? written.last.dir : await checkpoint();
        error.message += `; checkpoint of step ${sim.step}: ${dir}`;
      } catch (cerr) {
        error.message += `; the checkpoint of step ${sim.step} failed too: ${(cerr as Error).message}`;
      }
    }
  }
  const stepsRun = sim.step - startStep;
  const tEnd = performance.now();
  const wallSeconds = (tEnd - t0) / 1000;
  // The step loop's time (a run that faulted in the loop: until the fault); a run that never reached
  // the loop (it faulted in init, or a host-driven init did all the stepping) spent it all before.
  const inLoop = !Number.isNaN(tLoop);
  const loopMs = inLoop ? (Number.isNaN(tLoopEnd) ? tEnd : tLoopEnd) - tLoop : tEnd - t0;
  // A throwing results() faults the run like a throwing step: the simulation is still closed and the
  // output files still renamed (it used to escape, leaving worker threads running and .partial files).
  let results: Record<string, unknown> = {};
  if (setup.results && status !== 'faulted') {
    try {
      results = setup.results(readOnly(sim));
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
    if (status !== 'faulted') {
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
  const restarts = (sim as { workerRestarts?: number }).workerRestarts ?? 0;
  const ckpt = written.last;
  const traceSummary = tracer?.close({ status, stepsRun, wallSeconds, actors, loadAverageEnd: os.loadavg()[0] }) ?? null;
  const summary: RunSummary = {
    status,
    scenario: scenario.name,
    params: { ...params },
    steps: sim.step,
    wallSeconds,
    initSeconds: ((inLoop ? tLoop : tEnd) - t0) / 1000,
    // Over the steps this run stepped; a host-driven init that stepped the engine itself (and no
    // step after it) is timed over the steps it ran.
    msPerStep: stepsRun > 0 ? loopMs / stepsRun : sim.step > 0 && !snap ? (wallSeconds * 1000) / sim.step : 0,
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
    ...(traceSummary ? { trace: traceSummary } : {}),
    phases: sim.timings.map((t) => ({ phase: t.phase, functions: [...t.functions], kernelMs: round3(t.kernelMs), indexMs: round3(t.indexMs) })),
    env: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.availableParallelism() },
    ...(resumeDir !== null ? { resumedFrom: { checkpoint: resumeDir, step: startStep } } : {}),
    ...(ckpt ? { checkpoint: ckpt.dir } : {}),
    ...(restarts > 0 ? { workerRestarts: restarts } : {}),
    ...(abortedBy !== undefined ? { abortedBy } : {}),
    ...(status === 'aborted' && resumeBlocked ? { checkpointNote: `no checkpoint: ${resumeBlocked}` } : {}),
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
  } else if (status === 'aborted') {
    const where = ckpt ? `; resume it with: simloom resume ${ckpt.dir}` : '';
    summary.validation = { ok: false, problems: [`run aborted (${abortedBy ?? 'abort'}) after step ${sim.step} of ${startStep + steps}, not validated${where}`] };
  } else {
    summary.validation = { ok: false, problems: [`run ${status}: ${error?.message ?? ''}`] };
  }
  flushCsv();
  if (csv !== null) closeSync(csv);
  if (opts.outDir) {
    if (series !== null) summary.plots = await plotRun(path.join(opts.outDir, 'plots'), scenario, series);
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

/** What {@link RunOptions.betweenSteps} is told after each step. */
export interface BetweenSteps {
  sim: SimulationLike;
  /** Steps completed (counted from the original start on a resumed run). */
  step: number;
  /** Steps of this run done, and to do. */
  done: number;
  total: number;
  /** The metrics recorded at this step, or null when it recorded none. */
  metrics: Record<string, number> | null;
  params: Readonly<Record<string, ParamValue>>;
  /**
   * What a checkpoint of this run records (scenario as resume finds it, parameters, backend, adapter,
   * workers): pass it to saveCheckpoint so that a checkpoint taken here resumes like the run's own.
   */
  checkpointMeta: CheckpointMeta;
}

/**
 * The run's tracer: with `trace`, writing `<outDir>/trace.json`; with only `onTraceStep`, in memory
 * (per-step figures, no file); else none.
 */
function runTracer(
  opts: Pick<RunOptions, 'trace' | 'onTraceStep' | 'outDir' | 'plots'>,
  spec: ModelSpec,
  scenario: string,
  params: Readonly<Record<string, ParamValue>>,
  selection: BackendSelection,
  workers: number,
  seed: number,
  resumedFrom: { checkpoint: string; step: number } | null,
): Tracer | null {
  if (opts.plots && !opts.outDir) throw new UsageError('--plots writes into the output directory: give --out (outDir)');
  if (!opts.trace && !opts.onTraceStep) return null;
  if (opts.trace && !opts.outDir) throw new UsageError('--trace writes trace.json into the output directory: give --out (outDir)');
  const o = typeof opts.trace === 'object' ? opts.trace : {};
  let file: string | null = null;
  if (opts.trace) {
    mkdirSync(opts.outDir!, { recursive: true });
    file = path.join(opts.outDir!, 'trace.json');
  }
  try {
    const tracer = new Tracer(spec, {
      file,
      ...(o.capacity === undefined ? {} : { capacity: o.capacity }),
      ...(o.maxEvents === undefined ? {} : { maxEvents: o.maxEvents }),
      meta: {
        scenario,
        params,
        seed,
        backend: selection.backend,
        adapter: selection.adapter?.name ?? null,
        workers: selection.backend === 'cpu' ? workers : 0,
        kinds: Object.fromEntries(spec.kinds.map((k) => [k.name, k.count])),
        phases: spec.phases.map((p) => ({ phase: p.index, functions: p.functions.map((f) => spec.functions[f]!.name), builds: p.buildMessages.map((m) => spec.messages[m]!.name) })),
        node: process.version,
        cpus: os.availableParallelism(),
        // Other processes' load: a profile on a busy machine says so next to its figures.
        loadAverageStart: os.loadavg()[0],
        // A resumed run's steps start at the checkpoint's step.
        ...(resumedFrom ? { resumedFrom } : {}),
      },
    });
    if (opts.onTraceStep) tracer.onStep(opts.onTraceStep);
    return tracer;
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(`--trace: ${err.message}`);
    throw err;
  }
}
