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
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { SimloomError, UsageError } from '../src/errors.js';
import { CheckpointError, readCheckpointManifest } from './checkpoint.js';
import { formatInspection, inspectCheckpoint } from './inspect.js';
import { resolveCheckpoint, resumeRun, RunFailed, type RunOptions, runScenario } from './run.js';
import { listScenarios, loadScenario, type RunSummary } from './scenario.js';
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
  backend: 'cpu' | 'webgpu' | 'auto';
  workers?: number;
  seed: number;
  set: Record<string, string>;
  out?: string;
  json?: boolean;
  debug?: boolean;
  progress?: boolean;
  trace?: boolean;
  plots?: boolean;
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

async function cmdRun(scenarioName: string, f: RunFlags): Promise<void> {
  const scenario = await loadScenario(scenarioName);
  const outDir = f.out ?? defaultOut(scenario.name);
  const ck = checkpointOptions(f);
  const dash = f.dashboard ? await startRunDashboard(scenario, outDir, f.backend, f.workers) : null;
  let summary: RunSummary | null = null;
  try {
    await runWithUi(scenario.name, outDir, f, async (ui) => {
      if (dash && ui.signal) dash.watch(ui.signal);
      summary = await runScenario({
        scenario,
        ...(f.steps !== undefined ? { steps: f.steps } : {}),
        ...(f.workers !== undefined ? { workers: f.workers } : {}),
        seed: f.seed,
        backend: f.backend,
        set: f.set,
        outDir,
        ...(f.trace ? { trace: true } : {}),
        ...(f.plots ? { plots: true } : {}),
        ...(dash ? dash.runOptions() : {}),
        ...ck,
        ...ui,
      });
      return summary;
    });
  } finally {
    await dash?.close((summary as RunSummary | null)?.status ?? 'faulted');
  }
  if (summary) printRunExtras(scenario.name, summary);
}

async function cmdResume(where: string, f: RunFlags): Promise<void> {
  const dir = await resolveCheckpoint(where);
  const manifest = await readCheckpointManifest(dir);
  const name = manifest.scenario ?? 'checkpoint';
  const outDir = f.out ?? defaultOut(`${name}-resumed`);
  const ck = checkpointOptions(f);
  await runWithUi(name, outDir, f, (ui) =>
    resumeRun({
      checkpoint: dir,
      ...(f.steps !== undefined ? { steps: f.steps } : {}),
      ...(f.workers !== undefined ? { workers: f.workers } : {}),
      backend: f.backend,
      outDir,
      ...ck,
      ...ui,
    }),
  );
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
  for (const r of rows) {
    const ps = Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    process.stdout.write(`${r.name.padEnd(18)} ${r.description}\n${''.padEnd(18)} params: ${ps}\n`);
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

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program.name('simloom').description('actor-based simulation engine: SAB actor state, worker threads, batched kernels').exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let debug = false;
  program
    .command('run')
    .description('run a scenario (bare name or file) and write summary.json and metrics.csv')
    .argument('<scenario>', 'scenario name (see `simloom list`) or path to a scenario module')
    .option('--steps <n>', 'steps to run (default: the scenario’s)', intArg('--steps', 0))
    .option('--backend <b>', 'cpu | webgpu | auto', 'cpu')
    .option('--workers <n>', 'compute threads including the main thread (default: all cores)', intArg('--workers', 1))
    .option('--seed <s>', 'u32 seed', intArg('--seed', 0), 1)
    .option('--set <key=value>', 'scenario parameter (repeatable)', collectSet, {})
    .option('--out <dir>', 'output directory (default runs/<scenario>-<time>)')
    .option('--checkpoint-every <n>', 'write OUT/checkpoints/step-<N>/ every n steps', intArg('--checkpoint-every', 1))
    .option('--keep <k>', 'checkpoints kept by --checkpoint-every (default 3)', intArg('--keep', 1))
    .option('--checkpoint-at-end', 'write a checkpoint after the last step')
    .option('--trace', 'write OUT/trace.json (Chrome trace event format: open it in Perfetto or chrome://tracing)')
    .option('--plots', 'draw the scenario’s plots of its metrics into OUT/plots/ (SVG and PNG)')
    .option('--dashboard', 'serve live plots with pause/resume/checkpoint on 127.0.0.1 (the URL and its token are printed)')
    .option('--json', 'print the summary as JSON on the last stdout line')
    .option('--no-progress', 'no progress bar')
    .option('--debug', 'print stack traces')
    .action(async (scenario: string, f: RunFlags) => {
      debug = f.debug === true;
      if (!['cpu', 'webgpu', 'auto'].includes(f.backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got '${f.backend}'`);
      if (f.seed > 0xffffffff) throw new UsageError(`--seed must be ≤ 4294967295, got ${f.seed}`);
      await cmdRun(scenario, f);
    });
  program
    .command('profile')
    .description('run with tracing and report where the time goes (report.html with plots); lists in --workers or --set make a scaling study')
    .argument('<scenario>', 'scenario name (see `simloom list`) or path to a scenario module')
    .option('--steps <n>', 'steps per run (default: the scenario’s)', intArg('--steps', 1))
    .option('--backend <b>', 'cpu | webgpu | auto', 'cpu')
    .option('--workers <list>', 'compute threads, or a list such as 1,2 (default: all cores)')
    .option('--seed <s>', 'u32 seed', intArg('--seed', 0), 1)
    .option('--set <key=value>', 'scenario parameter, or a list key=a,b,c (repeatable)', collectSet, {})
    .option('--out <dir>', 'output directory (default runs/<scenario>-profile-<time>)')
    .option('--json', 'print the report as JSON on the last stdout line')
    .option('--no-png', 'SVG plots only')
    .option('--debug', 'print stack traces')
    .action(async (scenario: string, f: ProfileFlags) => {
      debug = f.debug === true;
      await cmdProfile(scenario, f);
    });
  program
    .command('resume')
    .description('continue a run from a checkpoint, bit-identically on the cpu (any worker count)')
    .argument('<checkpoint>', 'a checkpoint directory (…/checkpoints/step-<N>), or a run directory (its newest checkpoint)')
    .option('--steps <n>', 'steps to run after the checkpoint (default: the scenario’s)', intArg('--steps', 0))
    .option('--backend <b>', 'cpu (a webgpu backend cannot restore checkpoints yet)', 'cpu')
    .option('--workers <n>', 'compute threads including the main thread (default: all cores)', intArg('--workers', 1))
    .option('--out <dir>', 'output directory (default runs/<scenario>-resumed-<time>)')
    .option('--checkpoint-every <n>', 'write OUT/checkpoints/step-<N>/ every n steps (N counts from the original start)', intArg('--checkpoint-every', 1))
    .option('--keep <k>', 'checkpoints kept by --checkpoint-every (default 3)', intArg('--keep', 1))
    .option('--checkpoint-at-end', 'write a checkpoint after the last step')
    .option('--json', 'print the summary as JSON on the last stdout line')
    .option('--no-progress', 'no progress bar')
    .option('--debug', 'print stack traces')
    .action(async (checkpoint: string, f: RunFlags) => {
      debug = f.debug === true;
      if (!['cpu', 'webgpu', 'auto'].includes(f.backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got '${f.backend}'`);
      await cmdResume(checkpoint, f);
    });
  program
    .command('inspect')
    .description("print a checkpoint's manifest and per-kind statistics (count; per field min, mean, max)")
    .argument('<checkpoint>', 'a checkpoint directory, or a run directory (its newest checkpoint)')
    .option('--json', 'print JSON')
    .option('--debug', 'print stack traces')
    .action(async (checkpoint: string, f: { json?: boolean; debug?: boolean }) => {
      debug = f.debug === true;
      await cmdInspect(checkpoint, f);
    });
  program
    .command('sweep')
    .description('run a scenario over the product of parameter values × seeds on a piscina pool; writes sweep.csv and sweep.json')
    .argument('<scenario>', 'scenario name or path')
    .option('--set <key=a,b,c>', 'values of a parameter, comma-separated (repeatable; the product is swept)', collectSet, {})
    .option('--seeds <k>', 'seeds per parameter point: seed, seed+1, …', intArg('--seeds', 1), 1)
    .option('--seed <s>', 'first seed', intArg('--seed', 0), 1)
    .option('--parallel <p>', 'runs at once (default: all cores); each run uses one thread', intArg('--parallel', 1))
    .option('--steps <n>', 'steps per run (default: the scenario’s)', intArg('--steps', 0))
    .option('--out <dir>', 'output directory (default runs/<scenario>-sweep-<time>)')
    .option('--json', 'print the sweep result as JSON on the last stdout line')
    .option('--debug', 'print stack traces')
    .action(async (scenario: string, f: SweepFlags) => {
      debug = f.debug === true;
      if (f.seed > 0xffffffff) throw new UsageError(`--seed must be ≤ 4294967295, got ${f.seed}`);
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
