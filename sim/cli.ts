#!/usr/bin/env node
/**
 * The `simloom` command line: run, list, bench (ARCHITECTURE §6).
 * Errors a user can fix print one line to stderr and exit with code 2 (no stack unless --debug).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { SimloomError, UsageError } from '../src/errors.js';
import { RunFailed, runScenario } from './run.js';
import { listScenarios, loadScenario } from './scenario.js';

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
}

async function cmdRun(scenarioName: string, f: RunFlags): Promise<void> {
  const scenario = await loadScenario(scenarioName);
  const outDir = f.out ?? path.join('runs', `${scenario.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const tty = process.stderr.isTTY && f.progress !== false;
  let bar: cliProgress.SingleBar | null = null;
  let lastLine = 0;
  const started = performance.now();
  const summary = await runScenario({
    scenario,
    ...(f.steps !== undefined ? { steps: f.steps } : {}),
    ...(f.workers !== undefined ? { workers: f.workers } : {}),
    seed: f.seed,
    backend: f.backend,
    set: f.set,
    outDir,
    onBackend(backend, adapter, note) {
      // The chosen backend and adapter, always printed: a run never falls back silently.
      process.stderr.write(`${scenario.name}: backend ${backend}${adapter ? ` on ${adapter.name} (${adapter.type})` : ''} — ${note}\n`);
      if (backend === 'webgpu' && f.workers !== undefined) {
        process.stderr.write(`${scenario.name}: --workers ${f.workers} applies to the cpu backend only; this webgpu run uses no CPU workers (recorded as 0)\n`);
      }
    },
    onProgress(done, total) {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: `${scenario.name} [{bar}] {value}/{total} steps | {eta_formatted} left`, stream: process.stderr }, cliProgress.Presets.shades_classic);
          bar.start(total, 0);
        }
        bar.update(done);
        if (done === total) bar.stop();
      } else {
        const now = performance.now();
        if (now - lastLine > 5000 || done === total) {
          lastLine = now;
          process.stderr.write(`${scenario.name}: step ${done}/${total} (${((now - started) / 1000).toFixed(1)} s)\n`);
        }
      }
    },
  });
  const v = summary.validation;
  const where = summary.adapter ? `${summary.backend} (${summary.adapter.name}, ${summary.adapter.type}; ${summary.bytesPerStep?.toDevice ?? 0} B/step to and ${summary.bytesPerStep?.fromDevice ?? 0} B/step from the device)` : `${summary.backend} with ${summary.workers} worker(s)`;
  const line = `${summary.scenario}: ${summary.status}, ${summary.steps} steps in ${summary.wallSeconds.toFixed(2)} s (${summary.msPerStep.toFixed(2)} ms/step) on ${where}; validation ${v.ok ? 'ok' : 'FAILED: ' + v.problems.join('; ')}; summary in ${path.join(outDir, 'summary.json')}`;
  if (f.json) {
    process.stderr.write(line + '\n');
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(line + '\n');
  }
  if (!v.ok) process.exitCode = 1;
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
    if (e instanceof UsageError) {
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
