#!/usr/bin/env node
/**
 * The `simloom` command line: run, resume, inspect, sweep, list, bench (ARCHITECTURE §6, §7).
 * Errors a user can fix print one line to stderr and exit with code 2 (no stack unless --debug).
 *
 * SIGINT/SIGTERM during `run`, `resume` or `sweep`: the first signal lets the current step (or the
 * running simulations) finish, writes a checkpoint and exits 0 with one line naming it; a second one
 * exits at once with 128 + the signal number (130 for SIGINT), as soon as JavaScript runs again.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { SimloomError, UsageError } from '../src/errors.js';
import { CheckpointError, readCheckpointManifest } from './checkpoint.js';
import { formatInspection, inspectCheckpoint } from './inspect.js';
import { resolveCheckpoint, resumeRun, RunFailed, type RunOptions, runScenario } from './run.js';
import { listScenarios, loadScenario, type RunSummary, type Scenario } from './scenario.js';
import { startRunDashboard } from './dashboard/server.js';
import { cmdProfile, printRunExtras, type ProfileFlags } from './profile.js';
import { parseGrid, runSweep } from './sweep.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

function collectSet(v: string, acc: Record<string, string>): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--set expects key=value, got '${v}'`);
  return { ...acc, [v.slice(0, eq)]: v.slice(eq + 1) };
}

interface RunFlags {
  steps?: number;
  /** Always set for `run` (default cpu); for `resume`, unset means the checkpoint's backend. */
  backend?: 'cpu' | 'webgpu' | 'auto';
  workers?: number;
  /** Unset for `resume` (the checkpoint's seed). */
  seed?: number;
  set: Record<string, string>;
  out?: string;
  json?: boolean;
  debug?: boolean;
  progress?: boolean;
  trace?: boolean;
  plots?: boolean;
  stepDeadlineMs?: number;
  dashboard?: boolean;
  checkpointEvery?: number;
  keep?: number;
  checkpointAtEnd?: boolean;
}

const SIGNAL_NUMBER: Readonly<Record<string, number>> = { SIGINT: 2, SIGTERM: 15 };

/**
 * The first SIGINT/SIGTERM aborts `signal` (the run stops between steps and checkpoints); a second
 * exits at once with 128 + its number. `dispose()` restores the default behaviour.
 */
function stopOnSignals(what: string, stopping = 'stopping after the current step and writing a checkpoint'): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  // One listener for both signals, kept for the whole run: removing the last listener of a signal
  // closes Node's handle for it, and a second signal already pending on that handle would be lost.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      process.stderr.write(`${what}: ${sig} again: exiting now\n`);
      process.exit(128 + (SIGNAL_NUMBER[sig] ?? 2));
    }
    process.stderr.write(`${what}: ${sig}: ${stopping} (send it again to exit at once)\n`);
    ac.abort(sig);
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, onSignal);
  return {
    signal: ac.signal,
    dispose() {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, onSignal);
    },
  };
}

/** Progress bar on a TTY, plain periodic lines otherwise. */
function progressReporter(name: string, enabled: boolean): { onProgress: NonNullable<RunOptions['onProgress']>; stop(): void } {
  const tty = process.stderr.isTTY && enabled;
  let bar: cliProgress.SingleBar | null = null;
  let lastLine = 0;
  const started = performance.now();
  return {
    onProgress(done, total) {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: `${name} [{bar}] {value}/{total} steps | {eta_formatted} left`, stream: process.stderr }, cliProgress.Presets.shades_classic);
          bar.start(total, 0);
        }
        bar.update(done);
        if (done === total) bar.stop();
      } else {
        const now = performance.now();
        if (now - lastLine > 5000 || done === total) {
          lastLine = now;
          process.stderr.write(`${name}: step ${done}/${total} (${((now - started) / 1000).toFixed(1)} s)\n`);
        }
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

function checkpointOptions(f: RunFlags): Pick<RunOptions, 'checkpointEvery' | 'keepCheckpoints' | 'checkpointAtEnd'> {
  if (f.keep !== undefined && f.checkpointEvery === undefined) throw new UsageError('--keep applies to --checkpoint-every; give --checkpoint-every N too');
  return {
    ...(f.checkpointEvery !== undefined ? { checkpointEvery: f.checkpointEvery } : {}),
    ...(f.keep !== undefined ? { keepCheckpoints: f.keep } : {}),
    ...(f.checkpointAtEnd ? { checkpointAtEnd: true } : {}),
  };
}

function defaultOut(name: string): string {
  return path.join('runs', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
}

/** Runs (or resumes) with the progress display and signal handling, then prints the outcome line. */
async function runWithUi(name: string, outDir: string, f: RunFlags, go: (o: Pick<RunOptions, 'onBackend' | 'onProgress' | 'signal'>) => Promise<RunSummary>): Promise<void> {
  const progress = progressReporter(name, f.progress !== false);
  const stop = stopOnSignals(name);
  let summary: RunSummary;
  try {
    summary = await go({
      signal: stop.signal,
      onBackend(backend, adapter, note) {
        // The chosen backend and adapter, always printed: a run never falls back silently.
        process.stderr.write(`${name}: backend ${backend}${adapter ? ` on ${adapter.name} (${adapter.type})` : ''} — ${note}\n`);
        if (backend === 'webgpu' && f.workers !== undefined) {
          process.stderr.write(`${name}: --workers ${f.workers} applies to the cpu backend only; this webgpu run uses no CPU workers (recorded as 0)\n`);
        }
      },
      onProgress: progress.onProgress,
    });
  } finally {
    progress.stop();
    stop.dispose();
  }
  const v = summary.validation;
  const where = summary.adapter ? `${summary.backend} (${summary.adapter.name}, ${summary.adapter.type}; ${summary.bytesPerStep?.toDevice ?? 0} B/step to and ${summary.bytesPerStep?.fromDevice ?? 0} B/step from the device)` : `${summary.backend} with ${summary.workers} worker(s)`;
  let line: string;
  if (summary.status === 'aborted') {
    // One line naming the checkpoint; exit 0: stopping on request is not a failure.
    line = summary.checkpoint
      ? `${summary.scenario}: aborted by ${summary.abortedBy ?? 'request'} after step ${summary.steps}; checkpoint ${summary.checkpoint} (continue with: simloom resume ${summary.checkpoint})`
      : `${summary.scenario}: aborted by ${summary.abortedBy ?? 'request'} after step ${summary.steps}; ${summary.checkpointNote ?? (outDir ? 'no checkpoint' : 'no checkpoint (no output directory)')}`;
  } else {
    const resumed = summary.resumedFrom ? ` (resumed at step ${summary.resumedFrom.step})` : '';
    const ckpt = summary.checkpoint ? `; last checkpoint ${summary.checkpoint}` : '';
    const restarts = summary.workerRestarts ? `; ${summary.workerRestarts} worker thread(s) replaced` : '';
    line = `${summary.scenario}: ${summary.status}, ${summary.steps} steps${resumed} in ${summary.wallSeconds.toFixed(2)} s (${summary.msPerStep.toFixed(2)} ms/step) on ${where}${restarts}; validation ${v.ok ? 'ok' : 'FAILED: ' + v.problems.join('; ')}; summary in ${path.join(outDir, 'summary.json')}${ckpt}`;
    if (!v.ok) process.exitCode = 1;
  }
  if (f.json) {
    process.stderr.write(line + '\n');
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(line + '\n');
  }
}

/** What `run` and `resume` flags ask of the run the same way: checkpoints, trace, plots, workers, backend. */
function sharedRunOptions(f: RunFlags): Pick<RunOptions, 'checkpointEvery' | 'keepCheckpoints' | 'checkpointAtEnd' | 'trace' | 'plots' | 'workers' | 'steps' | 'backend' | 'simulation'> {
  return {
    ...(f.stepDeadlineMs !== undefined ? { simulation: { stepDeadlineMs: f.stepDeadlineMs } } : {}),
    ...checkpointOptions(f),
    ...(f.steps !== undefined ? { steps: f.steps } : {}),
    ...(f.workers !== undefined ? { workers: f.workers } : {}),
    ...(f.backend !== undefined ? { backend: f.backend } : {}),
    ...(f.trace ? { trace: true } : {}),
    ...(f.plots ? { plots: true } : {}),
  };
}

/**
 * Runs `go` with the dashboard (when asked), the progress display and signal handling, then prints
 * the outcome line and the trace and plots lines.
 */
async function runCommand(
  scenario: Scenario,
  outDir: string,
  f: RunFlags,
  backend: 'cpu' | 'webgpu' | 'auto',
  go: (o: Pick<RunOptions, 'onBackend' | 'onProgress' | 'signal' | 'onTraceStep' | 'betweenSteps'>) => Promise<RunSummary>,
): Promise<void> {
  const dash = f.dashboard ? await startRunDashboard(scenario, outDir, backend, f.workers) : null;
  let summary: RunSummary | null = null;
  try {
    await runWithUi(scenario.name, outDir, f, async (ui) => {
      if (dash && ui.signal) dash.watch(ui.signal);
      summary = await go({ ...(dash ? dash.runOptions() : {}), ...ui });
      return summary;
    });
  } finally {
    await dash?.close((summary as RunSummary | null)?.status ?? 'faulted');
  }
  if (summary) printRunExtras(scenario.name, summary);
}

async function cmdRun(scenarioName: string, f: RunFlags): Promise<void> {
  const scenario = await loadScenario(scenarioName);
  const outDir = f.out ?? defaultOut(scenario.name);
  const shared = sharedRunOptions(f);
  await runCommand(scenario, outDir, f, f.backend ?? 'cpu', (ui) => runScenario({ scenario: scenarioName === scenario.name ? scenario : scenarioName, seed: f.seed ?? 1, set: f.set, outDir, ...shared, ...ui }));
}

async function cmdResume(where: string, f: RunFlags): Promise<void> {
  const dir = await resolveCheckpoint(where);
  const manifest = await readCheckpointManifest(dir);
  const name = manifest.scenario ?? 'checkpoint';
  const outDir = f.out ?? defaultOut(`${name}-resumed`);
  const shared = sharedRunOptions(f);
  // resumeRun refuses a checkpoint that names no scenario with its own message; the dashboard needs one.
  const scenario = manifest.scenario !== null && f.dashboard ? await loadScenario(manifest.scenario) : null;
  const go = (ui: Parameters<Parameters<typeof runCommand>[4]>[0]): Promise<RunSummary> => resumeRun({ checkpoint: dir, outDir, ...shared, ...ui });
  if (scenario) {
    await runCommand(scenario, outDir, f, f.backend ?? manifest.backend, go);
    return;
  }
  const done: { summary: RunSummary | null } = { summary: null };
  await runWithUi(name, outDir, f, async (ui) => (done.summary = await go(ui)));
  if (done.summary) printRunExtras(name, done.summary);
}

async function cmdInspect(where: string, f: { json?: boolean }): Promise<void> {
  const r = await inspectCheckpoint(where);
  if (f.json) process.stdout.write(JSON.stringify(r) + '\n');
  else process.stdout.write(formatInspection(r) + '\n');
}

interface SweepFlags {
  set: Record<string, string>;
  seeds: number;
  seed: number;
  parallel?: number;
  steps?: number;
  out?: string;
  trace?: boolean;
  plots?: boolean;
  json?: boolean;
  debug?: boolean;
}

async function cmdSweep(scenarioName: string, f: SweepFlags): Promise<void> {
  const scenario = await loadScenario(scenarioName);
  const outDir = f.out ?? defaultOut(`${scenario.name}-sweep`);
  const grid = parseGrid(f.set);
  const stop = stopOnSignals(`${scenario.name} sweep`, 'aborting the runs not finished yet and writing the table');
  let lastLine = 0;
  let r;
  try {
    r = await runSweep({
      scenario: scenarioName,
      grid,
      seeds: f.seeds,
      seed: f.seed,
      ...(f.parallel !== undefined ? { parallel: f.parallel } : {}),
      ...(f.steps !== undefined ? { steps: f.steps } : {}),
      ...(f.trace ? { trace: true } : {}),
      ...(f.plots ? { plots: true } : {}),
      outDir,
      signal: stop.signal,
      onRow(_row, done, total) {
        const now = performance.now();
        if (now - lastLine > 5000 || done === total) {
          lastLine = now;
          process.stderr.write(`${scenario.name} sweep: ${done}/${total} runs done\n`);
        }
      },
    });
  } finally {
    stop.dispose();
  }
  const c = r.counts;
  const line =
    `${r.scenario} sweep: ${r.rows.length} runs (${r.points} point(s) × ${r.seeds.length} seed(s)) in ${r.wallSeconds.toFixed(2)} s on ${r.parallel} thread(s): ` +
    `${c.completed} completed, ${c.valid} valid${c.faulted ? `, ${c.faulted} faulted` : ''}${c.failed ? `, ${c.failed} failed` : ''}${c.aborted ? `, ${c.aborted} aborted` : ''}; table in ${r.files?.csv ?? '(not written)'}`;
  if (f.json) {
    process.stderr.write(line + '\n');
    process.stdout.write(JSON.stringify(r) + '\n');
  } else {
    process.stdout.write(line + '\n');
  }
  // Aborted on request: exit 0, like an aborted run; otherwise every run must be valid.
  if (c.aborted === 0 && c.valid < r.rows.length) process.exitCode = 1;
}

async function cmdList(json: boolean): Promise<void> {
  const rows: { name: string; description: string; params: Record<string, unknown> }[] = [];
  for (const name of listScenarios()) {
    const s = await loadScenario(name);
    rows.push({ name, description: s.description, params: Object.fromEntries(Object.entries(s.params).map(([k, d]) => [k, d.default])) });
  }
  if (json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  // One column for the names, as wide as the longest.
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const ps = Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    process.stdout.write(`${r.name.padEnd(w)}  ${r.description}\n${''.padEnd(w)}  params: ${ps}\n`);
  }
}

async function cmdBench(suite: string | undefined, f: { json?: boolean; quick?: boolean }): Promise<void> {
  const dir = path.resolve(here, '../bench');
  const names = benchSuites(dir);
  if (!suite) {
    process.stdout.write(`bench suites: ${names.join(', ')}\n`);
    return;
  }
  if (!names.includes(suite)) throw new UsageError(`unknown bench suite '${suite}' (available: ${names.join(', ')})`);
  const mod = (await import(pathToFileURL(path.join(dir, `${suite}.bench${ext}`)).href)) as { run?: (o: { quick: boolean }) => Promise<BenchReport> };
  if (typeof mod.run !== 'function') throw new UsageError(`bench suite '${suite}' does not export run()`);
  const report = await mod.run({ quick: f.quick === true });
  for (const r of report.results) process.stderr.write(`${r.name}: ${formatNum(r.value)} ${r.unit}\n`);
  for (const [k, v] of Object.entries(report.ratios)) process.stderr.write(`ratio ${k}: ${formatNum(v)}\n`);
  if (f.json) process.stdout.write(JSON.stringify(report) + '\n');
}

export interface BenchReport {
  suite: string;
  env: { node: string; cpus: number; backend: string; adapter: string | null; workers: number | number[] };
  results: { name: string; unit: string; value: number }[];
  ratios: Record<string, number>;
}

function benchSuites(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(`.bench${ext}`))
    .map((f) => f.slice(0, -`.bench${ext}`.length))
    .sort();
}


function formatNum(v: number): string {
  return Math.abs(v) >= 1000 ? v.toExponential(3) : v.toPrecision(4);
}

/** An option as commander declares it; {@link OPTIONS} holds every one, {@link withOptions} adds them. */
interface OptionDecl {
  flags: string;
  description: string;
  parse?: ((value: string, previous: never) => unknown) | undefined;
  default?: unknown;
}

/**
 * Every option of the commands that run simulations, declared once. A command lists the ones it takes
 * by name, rewording the description (or changing the parser or default) where its meaning differs:
 * `resume --steps` counts steps after the checkpoint, `sweep --set` takes lists.
 */
const OPTIONS = {
  steps: { flags: '--steps <n>', description: 'steps to run (default: the scenario’s)', parse: intArg('--steps', 0) },
  backend: { flags: '--backend <b>', description: 'cpu | webgpu | auto', default: 'cpu' },
  workers: { flags: '--workers <n>', description: 'compute threads including the main thread (default: all cores)', parse: intArg('--workers', 1) },
  seed: { flags: '--seed <s>', description: 'u32 seed', parse: intArg('--seed', 0), default: 1 },
  set: { flags: '--set <key=value>', description: 'scenario parameter (repeatable)', parse: collectSet, default: {} },
  out: { flags: '--out <dir>', description: 'output directory (default runs/<scenario>-<time>)' },
  checkpointEvery: { flags: '--checkpoint-every <n>', description: 'write OUT/checkpoints/step-<N>/ every n steps', parse: intArg('--checkpoint-every', 1) },
  keep: { flags: '--keep <k>', description: 'checkpoints kept by --checkpoint-every (default 3)', parse: intArg('--keep', 1) },
  checkpointAtEnd: { flags: '--checkpoint-at-end', description: 'write a checkpoint after the last step' },
  trace: { flags: '--trace', description: 'write OUT/trace.json (Chrome trace event format: open it in Perfetto or chrome://tracing)' },
  plots: { flags: '--plots', description: 'draw the scenario’s plots of its metrics into OUT/plots/ (SVG and PNG)' },
  dashboard: { flags: '--dashboard', description: 'serve live plots with pause/resume/checkpoint on 127.0.0.1 (the URL and its token are printed)' },
  json: { flags: '--json', description: 'print the summary as JSON on the last stdout line' },
  progress: { flags: '--no-progress', description: 'no progress bar' },
  debug: { flags: '--debug', description: 'print stack traces' },
  seeds: { flags: '--seeds <k>', description: 'seeds per parameter point: seed, seed+1, …', parse: intArg('--seeds', 1), default: 1 },
  parallel: { flags: '--parallel <p>', description: 'runs at once (default: all cores); each run uses one thread', parse: intArg('--parallel', 1) },
  png: { flags: '--no-png', description: 'SVG plots only' },
  stepDeadlineMs: {
    flags: '--step-deadline-ms <ms>',
    description: 'CPU: fail the step with WorkerHungError when a live worker thread has not finished its part within ms (default: no deadline)',
    parse: intArg('--step-deadline-ms', 1),
  },
} satisfies Record<string, OptionDecl>;

type OptionName = keyof typeof OPTIONS;

/** The options `run` and `resume` share after their first ones: checkpoints, outputs, display. */
const RUN_OUTPUT: readonly OptionName[] = ['checkpointEvery', 'keep', 'checkpointAtEnd', 'trace', 'plots', 'dashboard', 'stepDeadlineMs', 'json', 'progress', 'debug'];

/**
 * Adds the named options of {@link OPTIONS} to a command, in order; `[name, changes]` rewords one.
 *
 * @example
 * ```ts
 * withOptions(program.command('run').argument('<scenario>'), ['steps', ['out', { description: 'where' }], 'json']);
 * ```
 */
function withOptions(cmd: Command, names: readonly (OptionName | readonly [OptionName, Partial<OptionDecl>])[]): Command {
  for (const entry of names) {
    const [name, changes] = typeof entry === 'string' ? [entry, {}] : entry;
    const d: OptionDecl = { ...OPTIONS[name], ...changes };
    const o = new Option(d.flags, d.description);
    if (d.parse) o.argParser(d.parse as (value: string, previous: unknown) => unknown);
    if (d.default !== undefined) o.default(d.default);
    cmd.addOption(o);
  }
  return cmd;
}

function checkSeed(seed: number): void {
  if (seed > 0xffffffff) throw new UsageError(`--seed must be ≤ 4294967295, got ${seed}`);
}

/** Checks what commander's parsers leave to the action: the backend's name, the seed's range. */
function checkRunFlags(f: RunFlags): void {
  if (f.backend !== undefined && !['cpu', 'webgpu', 'auto'].includes(f.backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got '${f.backend}'`);
  if (f.seed !== undefined) checkSeed(f.seed);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program.name('simloom').description('actor-based simulation engine: SAB actor state, worker threads, batched kernels').exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let debug = false;
  withOptions(
    program.command('run').description('run a scenario (bare name or file) and write summary.json and metrics.csv').argument('<scenario>', 'scenario name (see `simloom list`) or path to a scenario module'),
    ['steps', 'backend', 'workers', 'seed', 'set', 'out', ...RUN_OUTPUT],
  ).action(async (scenario: string, f: RunFlags) => {
    debug = f.debug === true;
    checkRunFlags(f);
    await cmdRun(scenario, f);
  });
  withOptions(
    program
      .command('profile')
      .description('run with tracing and report where the time goes (report.html with plots); lists in --workers or --set make a scaling study')
      .argument('<scenario>', 'scenario name (see `simloom list`) or path to a scenario module'),
    [
      ['steps', { description: 'steps per run (default: the scenario’s)', parse: intArg('--steps', 1) }],
      'backend',
      ['workers', { flags: '--workers <list>', description: 'compute threads, or a list such as 1,2 (default: all cores)', parse: undefined }],
      'seed',
      ['set', { description: 'scenario parameter, or a list key=a,b,c (repeatable)' }],
      ['out', { description: 'output directory (default runs/<scenario>-profile-<time>)' }],
      ['json', { description: 'print the report as JSON on the last stdout line' }],
      'png',
      'debug',
    ],
  ).action(async (scenario: string, f: ProfileFlags) => {
    debug = f.debug === true;
    await cmdProfile(scenario, f);
  });
  withOptions(
    program
      .command('resume')
      .description('continue a run from a checkpoint: bit-identically on the cpu (any worker count); a webgpu run’s checkpoint goes back onto the GPU unless --backend says otherwise')
      .argument('<checkpoint>', 'a checkpoint directory (…/checkpoints/step-<N>), or a run directory (its newest checkpoint)'),
    [
      ['steps', { description: 'steps to run after the checkpoint (default: the scenario’s)' }],
      ['backend', { description: 'cpu | webgpu | auto (default: the backend the checkpoint was written on)', default: undefined }],
      'workers',
      ['out', { description: 'output directory (default runs/<scenario>-resumed-<time>)' }],
      ['checkpointEvery', { description: 'write OUT/checkpoints/step-<N>/ every n steps (N counts from the original start)' }],
      ...RUN_OUTPUT.filter((o) => o !== 'checkpointEvery'),
    ],
  ).action(async (checkpoint: string, f: RunFlags) => {
    debug = f.debug === true;
    checkRunFlags(f);
    await cmdResume(checkpoint, f);
  });
  withOptions(
    program
      .command('inspect')
      .description("print a checkpoint's manifest and per-kind statistics (count; per field min, mean, max)")
      .argument('<checkpoint>', 'a checkpoint directory, or a run directory (its newest checkpoint)'),
    [['json', { description: 'print JSON' }], 'debug'],
  ).action(async (checkpoint: string, f: { json?: boolean; debug?: boolean }) => {
    debug = f.debug === true;
    await cmdInspect(checkpoint, f);
  });
  withOptions(
    program
      .command('sweep')
      .description('run a scenario over the product of parameter values × seeds on a piscina pool; writes sweep.csv and sweep.json')
      .argument('<scenario>', 'scenario name or path'),
    [
      ['set', { flags: '--set <key=a,b,c>', description: 'values of a parameter, comma-separated (repeatable; the product is swept)' }],
      'seeds',
      ['seed', { description: 'first seed' }],
      'parallel',
      ['steps', { description: 'steps per run (default: the scenario’s)' }],
      ['out', { description: 'output directory (default runs/<scenario>-sweep-<time>)' }],
      ['trace', { description: 'write a trace.json for every run, into OUT/runs/run-<i>/ (Chrome trace event format)' }],
      ['plots', { description: 'draw every run’s plots of its metrics into OUT/runs/run-<i>/plots/ (SVG and PNG)' }],
      ['json', { description: 'print the sweep result as JSON on the last stdout line' }],
      'debug',
    ],
  ).action(async (scenario: string, f: SweepFlags) => {
    debug = f.debug === true;
    checkSeed(f.seed);
    await cmdSweep(scenario, f);
  });
  program
    .command('list')
    .description('list the scenarios with their parameters')
    .option('--json', 'print JSON')
    .action(async (f: { json?: boolean }) => cmdList(f.json === true));
  program
    .command('bench')
    .description('run a benchmark suite from bench/ (tinybench)')
    .argument('[suite]', 'suite name')
    .option('--json', 'print the report as JSON on the last stdout line')
    .option('--quick', 'fewer iterations (smoke test)')
    .action(async (suite: string | undefined, f: { json?: boolean; quick?: boolean }) => cmdBench(suite, f));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (help and version exit 0).
      return err.exitCode === 0 ? 0 : 2;
    }
    const e = err instanceof RunFailed ? err.cause : err;
    // A refused checkpoint is the user's to fix too (another checkpoint, or the right scenario).
    if (e instanceof UsageError || e instanceof CheckpointError) {
      process.stderr.write(`simloom: ${e.message}\n`);
      return 2;
    }
    if (e instanceof SimloomError && !debug) {
      process.stderr.write(`simloom: ${e.name}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`simloom: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  // A reader that stops early (`simloom list | head`) closes the pipe: stop quietly, as Unix tools
  // do, instead of an unhandled EPIPE with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`simloom: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
