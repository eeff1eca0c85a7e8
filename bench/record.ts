/**
 * Records a bench suite's figures in `bench/results/<suite>-cpu-<nproc>core.json`: the suite is run
 * `--runs` times, each in a fresh process (`simloom bench <suite> --json`), and the file keeps every
 * run's full report (appended to the runs already there unless `--fresh`), failed runs with their
 * error, the machine facts and, per figure and ratio, the spread across runs: over the quiet runs
 * (other processes used at most `--quiet-run-below` cores on average while the rows were measured)
 * and over all runs.
 *
 * On a shared machine, other processes' bursts distort the 2-worker figures, so before each run this
 * waits (up to `--max-wait-s`) until the rest of the machine has used less than `--quiet-below` cores
 * for `--quiet-window-s`; every row of a report also carries the foreign load measured while it ran.
 *
 *   npm run build && node dist/bench/record.js step --runs 2
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchResult, log, machineFacts, type SuiteReport } from './common.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

interface Options {
  suite: string;
  runs: number;
  quietBelow: number;
  quietWindowS: number;
  maxWaitS: number;
  quietRunBelow: number;
  fresh: boolean;
  quick: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { suite: '', runs: 2, quietBelow: 0.15, quietWindowS: 10, maxWaitS: 600, quietRunBelow: 0.25, fresh: false, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} expects a non-negative number`);
      return v;
    };
    if (a === '--runs') o.runs = Math.max(1, Math.floor(num()));
    else if (a === '--quiet-below') o.quietBelow = num();
    else if (a === '--quiet-window-s') o.quietWindowS = num();
    else if (a === '--max-wait-s') o.maxWaitS = num();
    else if (a === '--quiet-run-below') o.quietRunBelow = num();
    else if (a === '--fresh') o.fresh = true;
    else if (a === '--quick') o.quick = true;
    else if (!a.startsWith('-') && o.suite === '') o.suite = a;
    else throw new Error(`unknown argument '${a}' (usage: record <suite> [--runs N] [--quiet-below cores] [--quiet-window-s S] [--max-wait-s S] [--quiet-run-below cores] [--fresh] [--quick])`);
  }
  if (o.suite === '') throw new Error('usage: record <suite> [--runs N] [--quiet-below cores] [--quiet-window-s S] [--max-wait-s S] [--quiet-run-below cores] [--fresh] [--quick]');
  return o;
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function cpuJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
  return { busy, total: busy + f[3]! + f[4]! };
}

/**
 * Waits until the machine (us idle) has used fewer than `below` cores in every 2 s sample of the last
 * `windowS` seconds, or `maxWaitS` has passed; returns the wait and the load of the last window.
 */
async function waitForQuiet(below: number, windowS: number, maxWaitS: number): Promise<{ waitedSeconds: number; loadCores: number }> {
  const t0 = Date.now();
  let quietSince = Date.now();
  let windowStart = cpuJiffies();
  for (;;) {
    const a = cpuJiffies();
    await new Promise((r) => setTimeout(r, 2000));
    const b = cpuJiffies();
    if ((b.busy - a.busy) / 100 / 2 >= below) {
      quietSince = Date.now();
      windowStart = b;
    }
    const waitedSeconds = (Date.now() - t0) / 1000;
    const quietFor = (Date.now() - quietSince) / 1000;
    if (quietFor >= windowS || waitedSeconds >= maxWaitS) {
      const loadCores = quietFor > 0 ? (b.busy - windowStart.busy) / 100 / quietFor : (b.busy - a.busy) / 100 / 2;
      return { waitedSeconds, loadCores };
    }
  }
}

function runSuite(suite: string, quick: boolean): Promise<SuiteReport> {
  return new Promise((resolve, reject) => {
    const args = [path.join(repo, 'dist/sim/cli.js'), 'bench', suite, '--json', ...(quick ? ['--quick'] : [])];
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      process.stderr.write(d);
      err = (err + d).slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        const lastLine = err.trim().split('\n').pop() ?? '';
        return reject(new Error(`bench ${suite} exited with code ${code}: ${lastLine}`));
      }
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as SuiteReport);
      } catch {
        reject(new Error(`bench ${suite} printed no JSON report on its last stdout line`));
      }
    });
  });
}

function spread(values: number[]): { values: number[]; mean: number; min: number; max: number; spreadPercent: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { values, mean, min, max, spreadPercent: mean !== 0 ? (100 * (max - min)) / mean : 0 };
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return machineFacts().nproc;
  }
}

interface RunRecord {
  startedAt: string;
  quietWait: { waitedSeconds: number; loadCores: number };
  /** Mean over the report's rows of the CPU other processes used while each row was measured. */
  meanForeignCores: number | null;
  /** meanForeignCores ≤ --quiet-run-below: the run counts in `summary.quietRuns`. */
  quiet: boolean;
  report: SuiteReport;
}

interface FailedRun {
  startedAt: string;
  quietWait: { waitedSeconds: number; loadCores: number };
  error: string;
}

function meanForeign(report: SuiteReport): number | null {
  const fc = report.results.map((x) => x.foreignCores).filter((v): v is number => typeof v === 'number');
  return fc.length > 0 ? fc.reduce((a, b) => a + b, 0) / fc.length : null;
}

/** Per figure and ratio, the values across runs (matched by row name) and their spread. */
function summarize(runs: RunRecord[]): Record<string, unknown> {
  if (runs.length === 0) return { runs: 0 };
  const last = runs[runs.length - 1]!.report;
  const results = last.results.map((row: BenchResult) => {
    const rows = runs.map((x) => x.report.results.find((r) => r.name === row.name)).filter((r): r is BenchResult => r !== undefined);
    return { name: row.name, unit: row.unit, ...spread(rows.map((x) => x.value)), foreignCores: rows.map((x) => x.foreignCores ?? null) };
  });
  const ratios = Object.fromEntries(
    Object.keys(last.ratios).map((k) => [k, spread(runs.map((x) => x.report.ratios[k]).filter((v): v is number => v !== undefined))]),
  );
  return { runs: runs.length, startedAt: runs.map((r) => r.startedAt), results, ratios };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const n = nproc();
  const file = path.join(repo, 'bench/results', `${o.suite}-cpu-${n}core${o.quick ? '-quick' : ''}.json`);
  // Runs accumulate across invocations (unless --fresh), so that quiet runs can be collected over time
  // on a shared machine; a run that fails is kept with its error (a failure is a finding too).
  let runs: RunRecord[] = [];
  let failed: FailedRun[] = [];
  if (!o.fresh && existsSync(file)) {
    const old = JSON.parse(readFileSync(file, 'utf8')) as { runs?: RunRecord[]; failed?: FailedRun[] };
    runs = (old.runs ?? []).map((r) => {
      const meanForeignCores = r.meanForeignCores !== undefined ? r.meanForeignCores : meanForeign(r.report);
      return { ...r, meanForeignCores, quiet: meanForeignCores !== null && meanForeignCores <= o.quietRunBelow };
    });
    failed = old.failed ?? [];
  }
  const write = (): void => {
    const quiet = runs.filter((r) => r.quiet);
    const record = {
      suite: o.suite,
      command: `node dist/sim/cli.js bench ${o.suite} --json${o.quick ? ' --quick' : ''} (each run a fresh process, via node dist/bench/record.js)`,
      machine: { ...machineFacts(), nodeVersion: process.version, nproc: n },
      recordedAt: new Date().toISOString(),
      quietRunBelowCores: o.quietRunBelow,
      summary: { quietRuns: summarize(quiet), allRuns: summarize(runs), failedRuns: failed.length },
      runs,
      failed,
    };
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  };
  for (let r = 0; r < o.runs; r++) {
    const quietWait = await waitForQuiet(o.quietBelow, o.quietWindowS, o.maxWaitS);
    log(`record: run ${r + 1}/${o.runs} of '${o.suite}' (machine load before: ${quietWait.loadCores.toFixed(2)} cores, waited ${quietWait.waitedSeconds.toFixed(0)} s)`);
    const startedAt = new Date().toISOString();
    try {
      const report = await runSuite(o.suite, o.quick);
      const meanForeignCores = meanForeign(report);
      const quiet = meanForeignCores !== null && meanForeignCores <= o.quietRunBelow;
      runs.push({ startedAt, quietWait, meanForeignCores, quiet, report });
      log(`record: run ${r + 1}: other processes used ${meanForeignCores?.toFixed(2) ?? '?'} cores on average (${quiet ? 'quiet' : 'contended'})`);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      log(`record: run ${r + 1} failed: ${error}`);
      failed.push({ startedAt, quietWait, error });
    }
    write();
  }
  log(`record: wrote ${path.relative(repo, file)} (${runs.filter((x) => x.quiet).length} quiet of ${runs.length} runs, ${failed.length} failed)`);
}

main().catch((err: unknown) => {
  process.stderr.write(`record: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
