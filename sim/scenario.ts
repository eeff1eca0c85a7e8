/**
 * Scenarios: a model, a population, a run plan and a validation of their own (STYLE 12).
 *
 * @example
 * ```ts
 * export default defineScenario({
 *   name: 'particles',
 *   description: 'damped particles',
 *   params: { n: { type: 'integer', default: 1000, min: 1, description: 'particles' } },
 *   defaultSteps: 100,
 *   setup: (p) => ({
 *     model: defineModel({ name: 'particles', actors: [Particle], population: { Particle: { capacity: Number(p.n) } } }),
 *     init(sim) { const s = sim.state('Particle'); for (let i = 0; i < sim.count('Particle'); i++) s.x![i] = i; },
 *     metrics(sim) { return { meanX: mean(sim.state('Particle').x!, sim.count('Particle')) }; },
 *   }),
 *   validate: (summary) => (summary.metrics.meanX! > 0 ? [] : ['meanX should stay positive']),
 * });
 * ```
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../src/errors.js';
import type { ModelDecl } from '../src/model.js';
import type { ReductionSpecs, SimulationLike } from './backend.js';
import type { TraceSummary } from './trace.js';

export type ParamValue = number | boolean | string;
export type ParamValues = Readonly<Record<string, ParamValue>>;

export interface ScenarioParamDecl {
  readonly type: 'number' | 'integer' | 'boolean' | 'string';
  readonly default: ParamValue;
  readonly description: string;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
}

/**
 * What the runner gives a scenario's `init`: `record(step, metrics)` appends a row to metrics.csv
 * (and to the `--plots` series) for a host-driven loop inside init. `step` is the scenario's own
 * step count for that loop (e.g. accepted relaxation steps), strictly increasing; the metrics must
 * have the keys `metrics()` returns. When init records rows, the
 * runner does not add its own row for the state after init.
 *
 * @example
 * ```ts
 * async init(sim, host) {
 *   for (let k = 1; k <= 10; k++) { sim.stepOnce(); host?.record(k, { energy: energyNow(sim) }); }
 * }
 * ```
 */
export interface InitHost {
  record(step: number, metrics: Record<string, number>): void;
}

export interface ScenarioSetup {
  readonly model: ModelDecl;
  /**
   * Fills the initial state and graphs (runs on the host before the first step). A scenario whose
   * init drives the engine itself (a host loop over `stepOnce()`, like the Landau relaxations) can
   * write metrics rows for that loop with `host.record` (see {@link InitHost}).
   */
  init(sim: SimulationLike, host?: InitHost): void | Promise<void>;
  /**
   * Reductions over state fields, computed by the backend where the state lives (CPU: a host loop in
   * f64; GPU: a reduction kernel in f32, read back with the fault word in one small readback) at every
   * recorded step, and passed to {@link metrics} as `reduced` by name. Metrics built from them copy no
   * state off the GPU; a scenario whose metrics read `sim.state()` instead makes a webgpu run download
   * the state at every recorded step (correct, and visible in the summary's bytesPerStep).
   */
  readonly reductions?: ReductionSpecs;
  /** Metrics recorded every `recordEvery` steps and after the last step. */
  metrics?(sim: SimulationLike, reduced: Readonly<Record<string, number>>): Record<string, number>;
  /** Scenario-specific results, written to `summary.results` (the state is downloaded first on the GPU). */
  results?(sim: SimulationLike): Record<string, unknown>;
}

/**
 * One of a scenario's main plots: a line chart of metrics.csv columns, written by `simloom run
 * --plots` as `plots/<name>.svg` and `.png` (sim/plots.ts). Plain data, checked against the recorded
 * columns when the plots are drawn.
 */
export interface PlotDecl {
  /** File name (letters, digits, '-', '_'). */
  readonly name: string;
  readonly title: string;
  /** Columns of metrics.csv drawn as lines, one colour each. */
  readonly y: readonly string[];
  /** Column on the x axis (default `step`). */
  readonly x?: string;
  readonly xTitle?: string;
  readonly yTitle?: string;
  readonly logY?: boolean;
}

/** What the runner tells a scenario's `setup` besides its parameters. */
export interface SetupContext {
  /** The backend asked for (`--backend`); `auto` is resolved only after setup, from the model it returns. */
  readonly backend?: 'cpu' | 'webgpu' | 'auto';
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly params: Readonly<Record<string, ScenarioParamDecl>>;
  readonly defaultSteps: number;
  /** Record metrics every this many steps (default: about 100 rows per run, at least every step). */
  readonly recordEvery?: number;
  /** The scenario's main plots (`simloom run --plots`); default: one line chart per metric. */
  readonly plots?: readonly PlotDecl[];
  /**
   * Builds the model and its init. `context.backend` is the backend the user asked for (`auto`
   * before it is resolved), so a scenario can choose column types that backend holds (e.g. f32
   * instead of f64 for webgpu).
   */
  setup(params: ParamValues, context?: SetupContext): ScenarioSetup;
  /** Problems found in a completed run's summary; an empty list means the run is valid. */
  validate(summary: RunSummary): string[];
  /**
   * Whether a checkpoint of this scenario can be resumed (`simloom resume`, docs/long-runs.md).
   * Resume restores actor state only: init() does not run, and whatever the scenario keeps in its
   * setup closure (a host-side coordinator, counters, caches) starts fresh. A scenario whose steps
   * depend on such state must say `false`; resume and checkpoint options then refuse it with a clear
   * error. Default: true, except that a scenario whose init() runs engine steps itself (a host-driven
   * loop) is treated as not resumable unless it says `true`.
   */
  readonly resumable?: boolean;
}

export function defineScenario(s: Scenario): Scenario {
  return s;
}

/** Outcome of a run, written as `summary.json`. */
export interface RunSummary {
  status: 'completed' | 'faulted' | 'aborted';
  scenario: string;
  params: Record<string, ParamValue>;
  steps: number;
  /** The whole run: init (or restore), the steps, the final checkpoint and sync. */
  wallSeconds: number;
  /** Of wallSeconds, the time before the first step: init (or restore), state upload, the first metrics row. */
  initSeconds: number;
  /**
   * Per step this run stepped, timed over the step loop alone (init excluded, the final sync of a GPU
   * run included). For a host-driven init with no runner steps: wallSeconds per engine step init ran.
   */
  msPerStep: number;
  backend: 'cpu' | 'webgpu';
  adapter: { name: string; type: 'hardware' | 'software' } | null;
  /** How the backend was chosen (e.g. `auto chose cpu: …`). */
  backendNote?: string;
  /** CPU compute threads; 0 on webgpu (`--workers` applies to the cpu backend only). */
  workers: number;
  /**
   * Host ↔ device bytes per step, averaged over the steps run (uploads before the first step and the
   * final download excluded). 0 on the cpu backend.
   */
  bytesPerStep?: { toDevice: number; fromDevice: number };
  /** webgpu only: compile time, GPU timing source, and setup/final transfers. */
  gpu?: {
    compileMs: number;
    timing: 'timestamp' | 'submit';
    /** Wall time of the first step (includes the driver's lazy pipeline compilation), ms. */
    firstStepMs: number;
    /** Submit-to-done wall time per step after the first, ms. */
    stepWallMs: number;
    /** GPU time per step after the first (timestamp queries), ms; null without them. */
    stepGpuMs: number | null;
    submitsPerStep: number;
    dispatchesPerStep: number;
    setupBytesToDevice: number;
    finalBytesFromDevice: number;
  };
  seed: number;
  actors: Record<string, number>;
  metrics: Record<string, number>;
  stateChecksum: string;
  results: Record<string, unknown>;
  validation: { ok: boolean; problems: string[] };
  /** With --trace (or --dashboard): the trace's totals; `droppedEvents` > 0 means the trace is incomplete. */
  trace?: TraceSummary;
  /** With --plots: the files written, or why they could not be. */
  plots?: { files: string[] } | { error: string };
  /** Per phase: host wall time on cpu; on webgpu the GPU time of its kernels and index builds (timestamp queries, steps after the first; 0 without them). */
  phases: { phase: number; functions: string[]; kernelMs: number; indexMs: number }[];
  env: { node: string; platform: string; cpus: number };
  error?: { name: string; message: string; step: number };
  /** A resumed run: the checkpoint it started from and that checkpoint's step (`steps` counts from the original start). */
  resumedFrom?: { checkpoint: string; step: number };
  /** The last checkpoint this run wrote (periodic, at the end, on abort, or after workers kept dying). */
  checkpoint?: string;
  /** Why an aborted run wrote no checkpoint. */
  checkpointNote?: string;
  /** What stopped an aborted run (e.g. `SIGINT`). */
  abortedBy?: string;
  /** Worker threads that died and were replaced during the run (absent when none). */
  workerRestarts?: number;
}

/** Parses `--set key=value` pairs against a scenario's parameter declarations. */
export function parseParams(scenario: Scenario, set: Readonly<Record<string, string>>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [k, d] of Object.entries(scenario.params)) out[k] = d.default;
  const known = Object.keys(scenario.params);
  for (const [k, raw] of Object.entries(set)) {
    const d = scenario.params[k];
    if (!d) {
      throw new UsageError(`--set ${k}: '${k}' is not a parameter of scenario '${scenario.name}' (known: ${known.join(', ') || 'none'})`);
    }
    out[k] = parseValue(`--set ${k}`, d, raw);
  }
  return out;
}

function parseValue(where: string, d: ScenarioParamDecl, raw: string): ParamValue {
  switch (d.type) {
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UsageError(`${where}: expected true or false, got '${raw}'`);
    case 'string':
      if (d.choices && !d.choices.includes(raw)) throw new UsageError(`${where}: expected one of ${d.choices.join('|')}, got '${raw}'`);
      return raw;
    case 'number':
    case 'integer': {
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new UsageError(`${where}: expected a number, got '${raw}'`);
      if (d.type === 'integer' && !Number.isInteger(v)) throw new UsageError(`${where}: expected an integer, got '${raw}'`);
      if (d.min !== undefined && v < d.min) throw new UsageError(`${where}: must be ≥ ${d.min}, got ${raw}`);
      if (d.max !== undefined && v > d.max) throw new UsageError(`${where}: must be ≤ ${d.max}, got ${raw}`);
      return v;
    }
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
const scenariosDir = path.resolve(here, '../scenarios');
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Names of the scenarios shipped in `scenarios/`. */
export function listScenarios(): string[] {
  try {
    return readdirSync(scenariosDir)
      .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.startsWith('_'))
      .map((f) => f.slice(0, -ext.length))
      .sort();
  } catch {
    return [];
  }
}

/** Loads a scenario by bare name (`circles`) or by file path (`./my-scenario.js`). */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  let url: string;
  const looksLikePath = /[\\/]/.test(nameOrPath) || /\.(m?js|ts)$/.test(nameOrPath);
  if (looksLikePath) {
    const file = path.resolve(nameOrPath);
    // Checked before importing: a missing dependency of an existing file also fails with
    // ERR_MODULE_NOT_FOUND, and must not be reported as this file being missing.
    if (!existsSync(file)) throw new UsageError(`scenario file '${nameOrPath}' was not found`);
    // `scenarios/<name>.ts` names a shipped scenario (ARCHITECTURE §6): the built CLI runs its compiled twin.
    const twin = path.join(scenariosDir, path.basename(file, '.ts') + ext);
    const shipped = ext === '.js' && file === path.resolve(here, '../../scenarios', path.basename(file)) && file.endsWith('.ts') && existsSync(twin);
    url = pathToFileURL(shipped ? twin : file).href;
  } else {
    const names = listScenarios();
    if (!names.includes(nameOrPath)) {
      throw new UsageError(`unknown scenario '${nameOrPath}' (available: ${names.join(', ')}); run 'simloom list' to see them`);
    }
    url = pathToFileURL(path.join(scenariosDir, nameOrPath + ext)).href;
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (looksLikePath && code === 'ERR_UNKNOWN_FILE_EXTENSION' && nameOrPath.endsWith('.ts')) {
      throw new UsageError(`scenario file '${nameOrPath}' is TypeScript, which the built CLI cannot load; compile it to .js first`);
    }
    if (looksLikePath && (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNKNOWN_FILE_EXTENSION')) {
      throw new UsageError(`scenario file '${nameOrPath}' could not be loaded: ${String((err as Error).message).split('\n')[0]}`);
    }
    throw err;
  }
  const s = mod.default as Scenario | undefined;
  if (!s || typeof s.setup !== 'function' || typeof s.validate !== 'function') {
    throw new UsageError(`'${nameOrPath}' does not export a scenario as its default export (use defineScenario)`);
  }
  return s;
}
