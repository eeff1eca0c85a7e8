/**
 * Helpers shared by the bench suites: one tinybench {@link Bench} per case (so each case gets its own
 * time budget and iteration count, while all cases of a suite still run side by side in one process),
 * the result rows a suite reports, and the machine facts recorded with every figure (STYLE item 11).
 *
 * A suite's `run({quick})` returns a {@link SuiteReport}: the CLI's `BenchReport`, whose result rows
 * also carry the spread of the samples behind each figure (`rmePercent`, `samples`, and the mean next
 * to the median the figure is computed from). The CLI prints `name: value unit` and ignores the rest.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Bench, type FnReturnedObject } from 'tinybench';
import type { BenchReport } from '../sim/cli.js';

export interface BenchResult {
  name: string;
  unit: string;
  /** The figure, computed from the median sample. */
  value: number;
  /** Same figure computed from the mean sample. */
  meanValue?: number;
  /** Relative margin of error of the mean sample (95 %), in percent. */
  rmePercent?: number;
  /** Number of timed samples. */
  samples?: number;
  /** Cores' worth of CPU other processes used while this case ran (0 on a quiet machine). */
  foreignCores?: number | null;
  note?: string;
}

export interface SuiteReport extends BenchReport {
  results: BenchResult[];
  /** Extra measurements that explain the figures (breakdowns, sizes, checks that passed). */
  details?: Record<string, unknown>;
}

export interface CaseOptions {
  /** Time budget of the timed samples, ms (tinybench `time`). */
  timeMs: number;
  /** Minimum timed samples (tinybench `iterations`). */
  iterations: number;
  /** Warm-up budget, ms (0 = no warm-up). */
  warmupMs?: number;
  warmupIterations?: number;
  /**
   * Whether `fn` returns a promise. Always given, because tinybench otherwise calls `fn` once to find
   * out and does not await that call, which would overlap two runs of a worker-driven case.
   */
  async: boolean;
}

/** Latency statistics of one case, in ms per task call. */
export interface CaseStats {
  medianMs: number;
  meanMs: number;
  rmePercent: number;
  samples: number;
  /** CPU used by other processes while the case ran, in cores (see {@link Contention}); null off Linux. */
  foreignCores: number | null;
}

/**
 * CPU time the rest of the machine used during a measurement, in cores: busy time from /proc/stat
 * (user, nice, system, irq, softirq, steal) minus this process's own CPU time (all its threads), over
 * the wall time. On a shared 2-core machine a value of 0.5 means half a core was taken from us, which
 * matters most to the 2-worker figures; every row records it so that a contaminated figure shows.
 */
export class Contention {
  private readonly t0 = performance.now();
  private readonly busy0 = machineBusySeconds();
  private readonly own0 = process.cpuUsage();

  foreignCores(): number | null {
    const busy1 = machineBusySeconds();
    if (busy1 === null || this.busy0 === null) return null;
    const own = process.cpuUsage(this.own0);
    const ownSeconds = (own.user + own.system) / 1e6;
    const wall = (performance.now() - this.t0) / 1000;
    return wall > 0 ? Math.max(0, (busy1 - this.busy0 - ownSeconds) / wall) : null;
  }
}

/** Busy CPU seconds of the whole machine since boot (Linux, USER_HZ = 100), or null. */
function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
    return busy / 100;
  } catch {
    return null;
  }
}

/**
 * Times `fn` with tinybench and returns its latency statistics. `fn` may return
 * `{ overriddenDuration }` (ms) when it measures itself (worker-driven cases whose clock must start
 * after the worker is ready).
 */
export async function timeCase(name: string, fn: () => unknown, o: CaseOptions): Promise<CaseStats> {
  const [stats] = await timeInterleaved([{ name, fn }], o, 1);
  return stats!;
}

export interface NamedCase {
  name: string;
  fn: () => unknown;
  /** This case's own options (budget, iterations, async); default: the group's. */
  o?: CaseOptions;
}

/**
 * Times several cases in `rounds` interleaved rounds (A B C, then C B A, …), each round one tinybench
 * run per case with `1/rounds` of the budget, and pools each case's samples. Peers compared by a
 * ratio are thus measured in the same stretches of time: on a shared machine, another process's burst
 * slows all of them rather than one. Warm-up happens in the first round only. Each case's
 * `foreignCores` is the CPU other processes used during its own rounds.
 */
export async function timeInterleaved(cases: readonly NamedCase[], o: CaseOptions, rounds: number): Promise<CaseStats[]> {
  const samples: number[][] = cases.map(() => []);
  const foreignCpu = cases.map(() => ({ coreSeconds: 0, seconds: 0, known: true }));
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const ci of order) {
      const c = cases[ci]!;
      const co = c.o ?? o;
      const warm = r === 0 && ((co.warmupMs ?? 0) > 0 || (co.warmupIterations ?? 0) > 0);
      const bench = new Bench({
        name: c.name,
        time: co.timeMs / rounds,
        iterations: Math.max(1, Math.ceil(co.iterations / rounds)),
        warmup: warm,
        warmupTime: warm ? (co.warmupMs ?? 0) : 0,
        warmupIterations: warm ? (co.warmupIterations ?? 0) : 0,
        retainSamples: true,
        throws: true,
      });
      bench.add(c.name, c.fn, { async: co.async });
      const contention = new Contention();
      const t0 = performance.now();
      await bench.run();
      const seconds = (performance.now() - t0) / 1000;
      const foreign = contention.foreignCores();
      const fc = foreignCpu[ci]!;
      if (foreign === null) fc.known = false;
      else {
        fc.coreSeconds += foreign * seconds;
        fc.seconds += seconds;
      }
      const res = bench.getTask(c.name)?.result;
      if (!res || (res.state !== 'completed' && res.state !== 'aborted-with-statistics') || !res.latency.samples) {
        throw new Error(`bench case '${c.name}' did not complete (${res?.state ?? 'missing'})`);
      }
      samples[ci]!.push(...res.latency.samples);
    }
  }
  return samples.map((xs, i) => {
    const fc = foreignCpu[i]!;
    return { ...summarize(xs), foreignCores: fc.known && fc.seconds > 0 ? fc.coreSeconds / fc.seconds : null };
  });
}

/** Median, mean and the 95 % relative margin of error of the mean (normal approximation). */
function summarize(xs: number[]): Omit<CaseStats, 'foreignCores'> {
  const sorted = [...xs].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = n >>> 1;
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  const rme = n > 1 && mean > 0 ? (100 * 1.96 * Math.sqrt(variance / n)) / mean : 0;
  return { medianMs: median, meanMs: mean, rmePercent: rme, samples: n };
}

/** A throughput row: `units` per task call, reported per second (median sample; mean alongside). */
export function perSecond(name: string, unit: string, units: number, s: CaseStats, note?: string): BenchResult {
  return {
    name,
    unit,
    value: units / (s.medianMs / 1000),
    meanValue: units / (s.meanMs / 1000),
    rmePercent: s.rmePercent,
    samples: s.samples,
    foreignCores: s.foreignCores,
    ...(note !== undefined ? { note } : {}),
  };
}

/** A latency row in µs per call (median sample; mean alongside). */
export function microseconds(name: string, s: CaseStats, divisor = 1, note?: string): BenchResult {
  return {
    name,
    unit: 'µs',
    value: (s.medianMs * 1000) / divisor,
    meanValue: (s.meanMs * 1000) / divisor,
    rmePercent: s.rmePercent,
    samples: s.samples,
    foreignCores: s.foreignCores,
    ...(note !== undefined ? { note } : {}),
  };
}

export type Measured = FnReturnedObject;

export interface MachineFacts {
  node: string;
  nproc: number;
  availableParallelism: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  date: string;
}

export function machineFacts(): MachineFacts {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // Not Linux: keep os.cpus()'s model.
  }
  return {
    node: process.version,
    nproc: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
  };
}

/** Writes a progress line to stderr (stdout carries only the JSON report). */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function fmt(v: number): string {
  return Math.abs(v) >= 1000 ? v.toExponential(3) : v.toPrecision(4);
}
