/**
 * Ensembles and parameter sweeps (ARCHITECTURE §4, §6; `simloom sweep`): the cartesian product of the
 * values given per parameter, times K seeds, one simulation per piscina task, each on one thread
 * (workers = 1: the pool's threads are the parallelism, and a piscina task costs far too much to
 * drive phases, but nothing next to a whole run). The result is a table, one row per (parameters,
 * seed), written as `sweep.csv` and `sweep.json`, and each run's own `summary.json` and
 * `metrics.csv` under `runs/`.
 *
 * @example
 * ```ts
 * const r = await runSweep({ scenario: 'circles', grid: { n: ['500', '1000'], radius: ['1', '2'] }, seeds: 2, steps: 20, outDir: 'runs/sweep1' });
 * console.log(r.rows.map((row) => [row.params.n, row.seed, row.stateChecksum]));
 * ```
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { UsageError } from '../src/errors.js';
import { loadScenario, type ParamValue, parseParams } from './scenario.js';
import type { SweepRow, SweepTask } from './sweep-task.js';

export type { SweepRow } from './sweep-task.js';

export interface SweepOptions {
  /** Scenario name or module path. */
  scenario: string;
  /** Values per parameter, as `--set key=a,b,c` gives them (raw strings); one value fixes a parameter. */
  grid: Readonly<Record<string, readonly string[]>>;
  /** Seeds per parameter point (default 1): `seed`, `seed + 1`, …, `seed + seeds − 1`. */
  seeds?: number;
  /** First seed (default 1). */
  seed?: number;
  /** Runs at once, one pool thread each (default: available parallelism). */
  parallel?: number;
  steps?: number;
  recordEvery?: number;
  /** Where sweep.csv, sweep.json and runs/ go (nothing written when absent). */
  outDir?: string;
  /** Every run writes `<outDir>/runs/run-<i>/trace.json` (needs outDir). */
  trace?: boolean;
  /** Every run draws its plots into `<outDir>/runs/run-<i>/plots/` (needs outDir). */
  plots?: boolean;
  /** Aborts the runs not finished yet (their rows get status 'aborted'). */
  signal?: AbortSignal;
  /** Called as each run finishes. */
  onRow?: (row: SweepRow, done: number, total: number) => void;
}

export interface SweepResult {
  scenario: string;
  /** The swept parameters and their values, in the order given. */
  grid: Record<string, string[]>;
  points: number;
  seeds: number[];
  parallel: number;
  steps: number | null;
  wallSeconds: number;
  /** Rows by (point, seed), points in odometer order (the last parameter varies fastest). */
  rows: SweepRow[];
  counts: { completed: number; faulted: number; aborted: number; failed: number; valid: number };
  files?: { csv: string; json: string };
}

/** Parses `key=a,b,c` strings into a grid (values are split on commas; a key given twice is an error). */
export function parseGrid(sets: Readonly<Record<string, string>>): Record<string, string[]> {
  const grid: Record<string, string[]> = {};
  for (const [k, raw] of Object.entries(sets)) {
    const values = raw.split(',');
    if (values.some((v) => v.trim() === '')) throw new UsageError(`--set ${k}=${raw}: a value is empty; list values separated by commas, e.g. --set ${k}=1,2,3`);
    grid[k] = values;
  }
  return grid;
}

/** Every combination of the grid's values, the last key varying fastest. */
export function gridPoints(grid: Readonly<Record<string, readonly string[]>>): Record<string, string>[] {
  let points: Record<string, string>[] = [{}];
  for (const [k, values] of Object.entries(grid)) points = points.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  return points;
}

function sweepWorkerFile(): string {
  // From sources the task module is TypeScript: a small .mjs registers tsx first (as worker-boot does).
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? './sweep-boot.mjs' : './sweep-task.js', import.meta.url).href;
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const scenario = await loadScenario(o.scenario);
  const seeds = o.seeds ?? 1;
  if (!Number.isInteger(seeds) || seeds < 1) throw new UsageError(`--seeds must be a positive integer, got ${String(o.seeds)}`);
  const seed0 = o.seed ?? 1;
  if (!Number.isInteger(seed0) || seed0 < 0 || seed0 + seeds - 1 > 0xffffffff) throw new UsageError(`--seed ${String(o.seed)} with --seeds ${seeds}: seeds must stay within [0, 4294967295]`);
  const parallel = o.parallel ?? os.availableParallelism();
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel must be a positive integer, got ${String(o.parallel)}`);
  if (o.steps !== undefined && !(Number.isInteger(o.steps) && o.steps >= 0)) throw new UsageError(`--steps must be a non-negative integer, got ${String(o.steps)}`);
  if ((o.trace || o.plots) && !o.outDir) throw new UsageError(`--${o.trace ? 'trace' : 'plots'} writes into each run's directory under the output directory: give --out (outDir)`);
  const grid: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o.grid)) grid[k] = [...v];
  const points = gridPoints(grid);
  // Every point is parsed here, before any thread starts: a bad value is one UsageError naming it.
  const parsed: Record<string, ParamValue>[] = points.map((p) => parseParams(scenario, p));
  const seedList = Array.from({ length: seeds }, (_, i) => seed0 + i);
  const tasks: SweepTask[] = [];
  const width = String(points.length * seeds - 1).length;
  for (const set of points) {
    for (const seed of seedList) {
      const index = tasks.length;
      tasks.push({
        index,
        scenario: o.scenario,
        set,
        seed,
        ...(o.steps !== undefined ? { steps: o.steps } : {}),
        ...(o.recordEvery !== undefined ? { recordEvery: o.recordEvery } : {}),
        ...(o.trace ? { trace: true } : {}),
        ...(o.plots ? { plots: true } : {}),
        ...(o.outDir ? { outDir: path.join(o.outDir, 'runs', `run-${String(index).padStart(width, '0')}`) } : {}),
      });
    }
  }
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });

  const t0 = performance.now();
  const pool = new Piscina<SweepTask, SweepRow>({
    filename: sweepWorkerFile(),
    minThreads: Math.min(parallel, tasks.length),
    maxThreads: parallel,
    idleTimeout: 1000,
    // Tasks are whole runs: the Atomics fast path buys nothing, and a plain message loop keeps each
    // thread's event loop free between tasks.
    atomics: 'disabled',
  });
  // An error outside any task (a thread that fails to start, an unexpected message) must not go unseen.
  const poolError: { first: Error | null } = { first: null };
  pool.on('error', (err: Error) => {
    poolError.first ??= err;
  });
  const rows: SweepRow[] = new Array<SweepRow>(tasks.length);
  let done = 0;
  const blank = (t: SweepTask, status: SweepRow['status'], error: string): SweepRow => ({
    index: t.index,
    params: parsed[Math.floor(t.index / seeds)]!,
    seed: t.seed,
    status,
    steps: 0,
    wallSeconds: 0,
    msPerStep: 0,
    metrics: {},
    stateChecksum: '',
    validation: { ok: false, problems: [`run ${status}: ${error}`] },
    error,
    ...(t.outDir ? { outDir: t.outDir } : {}),
  });
  try {
    await Promise.all(
      tasks.map(async (t) => {
        let row: SweepRow;
        try {
          row = await pool.run(t, o.signal ? { signal: o.signal } : {});
        } catch (err) {
          const aborted = o.signal?.aborted === true;
          row = blank(t, aborted ? 'aborted' : 'failed', aborted ? `aborted (${String(o.signal?.reason ?? 'abort')})` : err instanceof Error ? `${err.name}: ${err.message}` : String(err));
        }
        rows[t.index] = row;
        done++;
        o.onRow?.(row, done, tasks.length);
      }),
    );
  } finally {
    await pool.destroy();
  }
  if (poolError.first !== null) throw poolError.first;

  const count = (s: SweepRow['status']): number => rows.filter((r) => r.status === s).length;
  const result: SweepResult = {
    scenario: scenario.name,
    grid,
    points: points.length,
    seeds: seedList,
    parallel,
    steps: o.steps ?? null,
    wallSeconds: (performance.now() - t0) / 1000,
    rows,
    counts: { completed: count('completed'), faulted: count('faulted'), aborted: count('aborted'), failed: count('failed'), valid: rows.filter((r) => r.validation.ok).length },
  };
  if (o.outDir) {
    const csv = path.join(o.outDir, 'sweep.csv');
    const json = path.join(o.outDir, 'sweep.json');
    result.files = { csv, json };
    // Temporary names and a rename, as for a run's files: a reader sees a whole table or none.
    writeFileSync(csv + '.partial', sweepCsv(rows));
    writeFileSync(json + '.partial', JSON.stringify(result, null, 2) + '\n');
    renameSync(csv + '.partial', csv);
    renameSync(json + '.partial', json);
  }
  return result;
}

/**
 * The table as CSV: index, seed, one `param.<k>` column per parameter, status, steps, wallSeconds,
 * msPerStep, stateChecksum, validationOk, problems, error, then one `metric.<k>` column per metric
 * (the union over rows, in order of first appearance). Numbers are written as JavaScript prints them
 * (shortest round-trip form).
 */
export function sweepCsv(rows: readonly SweepRow[]): string {
  const paramKeys: string[] = [];
  const metricKeys: string[] = [];
  for (const r of rows) {
    for (const k of Object.keys(r.params)) if (!paramKeys.includes(k)) paramKeys.push(k);
    for (const k of Object.keys(r.metrics)) if (!metricKeys.includes(k)) metricKeys.push(k);
  }
  const head = ['index', 'seed', ...paramKeys.map((k) => `param.${k}`), 'status', 'steps', 'wallSeconds', 'msPerStep', 'stateChecksum', 'validationOk', 'problems', 'error', ...metricKeys.map((k) => `metric.${k}`)];
  const lines = [head.map(csvField).join(',')];
  for (const r of rows) {
    const cells: unknown[] = [
      r.index,
      r.seed,
      ...paramKeys.map((k) => r.params[k]),
      r.status,
      r.steps,
      r.wallSeconds,
      r.msPerStep,
      r.stateChecksum,
      r.validation.ok,
      r.validation.problems.join('; '),
      r.error ?? '',
      ...metricKeys.map((k) => r.metrics[k]),
    ];
    lines.push(cells.map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
