/**
 * Soak run (issue 6: "the process's memory stays flat however long the run"): circles at a small
 * size through the whole run path (runScenario with metrics.csv streaming to disk, periodic
 * checkpoints pruned to the last 2, worker threads), for a wall-clock duration or a step count,
 * sampling the process's RSS every second. After a warm-up it reports how much RSS grew: the median
 * of the last minute against the median of the first minute after warm-up, and the least-squares
 * slope over all post-warm-up samples.
 *
 * Not part of the test suite; run it by hand (it takes minutes):
 *
 *   npx tsx bench/soak.ts --quick                 # 5 minutes
 *   npx tsx bench/soak.ts --minutes 30 --n 1000 --workers 2
 *   node dist/bench/soak.js --steps 1000000 --json
 *
 * Writes `<out>/rss.csv` (one sample per second) and `<out>/soak.json` (the report; also printed).
 * Under `node --expose-gc`, every 10th sample follows a full GC (`gc: 1` in rss.csv), so that
 * `heapUsed` there is the live heap: a leak shows as a rising floor, not as V8's lazy collection.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runScenario } from '../sim/run.js';

export interface SoakSample {
  /** Seconds since the run started. */
  t: number;
  step: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** 1 when a full GC ran just before this sample (node --expose-gc). */
  gc: number;
}

export interface SoakReport {
  scenario: 'circles';
  n: number;
  workers: number;
  seconds: number;
  steps: number;
  stepsPerSecond: number;
  warmupSeconds: number;
  /** Median RSS over the first minute after warm-up, and over the last minute, MB. */
  rssAfterWarmupMb: number;
  rssEndMb: number;
  /** (end − after warm-up) / after warm-up, percent: the figure issue 6 bounds by 5 %. */
  rssGrowthPercent: number;
  /** Least-squares slope of RSS over post-warm-up samples, MB per hour. */
  rssSlopeMbPerHour: number;
  rssMaxMb: number;
  heapUsedEndMb: number;
  /** With --expose-gc: live heap (after a full GC) after warm-up and at the end, MB. */
  liveHeapAfterWarmupMb?: number;
  liveHeapEndMb?: number;
  checkpointEvery: number;
  status: string;
  env: { node: string; platform: string; cpus: number };
}

const MB = 1024 * 1024;

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function slopePerSecond(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

/** Growth figures from samples: warm-up excluded, one-minute windows at both ends (shorter for short runs). */
export function summarise(samples: readonly SoakSample[], warmupSeconds: number): Pick<SoakReport, 'rssAfterWarmupMb' | 'rssEndMb' | 'rssGrowthPercent' | 'rssSlopeMbPerHour' | 'rssMaxMb'> {
  const post = samples.filter((s) => s.t >= warmupSeconds);
  const span = post.length > 0 ? post.at(-1)!.t - post[0]!.t : 0;
  const window = Math.min(60, Math.max(1, span / 4));
  const first = post.filter((s) => s.t <= post[0]!.t + window).map((s) => s.rssMb);
  const last = post.filter((s) => s.t >= post.at(-1)!.t - window).map((s) => s.rssMb);
  const a = median(first);
  const b = median(last);
  return {
    rssAfterWarmupMb: round(a),
    rssEndMb: round(b),
    rssGrowthPercent: round(((b - a) / a) * 100),
    rssSlopeMbPerHour: round(slopePerSecond(post.map((s) => s.t), post.map((s) => s.rssMb)) * 3600),
    rssMaxMb: round(Math.max(...samples.map((s) => s.rssMb))),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export async function soak(o: { seconds?: number; steps?: number; n: number; workers: number; checkpointEvery: number; out: string; warmupSeconds?: number; log?: (line: string) => void }): Promise<SoakReport> {
  mkdirSync(o.out, { recursive: true });
  const duration = o.seconds ?? Infinity;
  // At least a minute, or a tenth of the run: JIT, pools and the first checkpoints settle by then.
  const warmup = o.warmupSeconds ?? (Number.isFinite(duration) ? Math.max(60, duration / 10) : 60);
  const samples: SoakSample[] = [];
  let step = 0;
  const t0 = performance.now();
  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = (): void => {
    const full = gc !== undefined && samples.length % 10 === 9;
    if (full) gc();
    const m = process.memoryUsage();
    samples.push({ t: round((performance.now() - t0) / 1000), step, rssMb: round(m.rss / MB), heapUsedMb: round(m.heapUsed / MB), externalMb: round(m.external / MB), arrayBuffersMb: round(m.arrayBuffers / MB), gc: full ? 1 : 0 });
    const s = samples.at(-1)!;
    if (samples.length % 60 === 0) o.log?.(`soak: ${s.t.toFixed(0)} s, step ${s.step}, rss ${s.rssMb} MB, heap ${s.heapUsedMb} MB`);
  };
  // The run loop yields to the event loop every 20 ms, so this timer and the deadline fire on time.
  const timer = setInterval(sample, 1000);
  const ac = new AbortController();
  const deadline = Number.isFinite(duration) ? setTimeout(() => ac.abort('soak deadline'), duration * 1000) : null;
  let status = 'completed';
  try {
    const summary = await runScenario({
      scenario: 'circles',
      set: { n: String(o.n) },
      steps: o.steps ?? 2_000_000_000,
      workers: o.workers,
      seed: 1,
      outDir: path.join(o.out, 'run'),
      recordEvery: 10,
      checkpointEvery: o.checkpointEvery,
      keepCheckpoints: 2,
      signal: ac.signal,
      onProgress(done) {
        step = done;
      },
    });
    status = summary.status;
  } finally {
    clearInterval(timer);
    if (deadline) clearTimeout(deadline);
  }
  sample();
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(path.join(o.out, 'rss.csv'), ['t,step,rssMb,heapUsedMb,externalMb,arrayBuffersMb,gc', ...samples.map((s) => `${s.t},${s.step},${s.rssMb},${s.heapUsedMb},${s.externalMb},${s.arrayBuffersMb},${s.gc}`)].join('\n') + '\n');
  const live = samples.filter((s) => s.gc === 1 && s.t >= warmup);
  const report: SoakReport = {
    scenario: 'circles',
    n: o.n,
    workers: o.workers,
    seconds: round(seconds),
    steps: step,
    stepsPerSecond: round(step / seconds),
    warmupSeconds: warmup,
    ...summarise(samples, warmup),
    heapUsedEndMb: samples.at(-1)!.heapUsedMb,
    ...(live.length >= 2 ? { liveHeapAfterWarmupMb: live[0]!.heapUsedMb, liveHeapEndMb: live.at(-1)!.heapUsedMb } : {}),
    checkpointEvery: o.checkpointEvery,
    status,
    env: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.availableParallelism() },
  };
  writeFileSync(path.join(o.out, 'soak.json'), JSON.stringify({ ...report, samples: samples.length }, null, 2) + '\n');
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      steps: { type: 'string' },
      n: { type: 'string', default: '1000' },
      workers: { type: 'string', default: '2' },
      'checkpoint-every': { type: 'string', default: '5000' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const minutes = values.minutes !== undefined ? Number(values.minutes) : values.steps !== undefined ? undefined : values.quick ? 5 : 30;
  const out = values.out ?? mkdtempSync(path.join(os.tmpdir(), 'simloom-soak-'));
  const log = (line: string): void => void process.stderr.write(line + '\n');
  log(`soak: circles n=${values.n} on ${values.workers} worker(s) for ${minutes !== undefined ? `${minutes} min` : `${values.steps} steps`}; output in ${out}`);
  const report = await soak({
    ...(minutes !== undefined ? { seconds: minutes * 60 } : {}),
    ...(values.steps !== undefined ? { steps: Number(values.steps) } : {}),
    n: Number(values.n),
    workers: Number(values.workers),
    checkpointEvery: Number(values['checkpoint-every']),
    out,
    log,
  });
  log(
    `soak: ${report.steps} steps in ${report.seconds} s (${report.stepsPerSecond}/s); RSS ${report.rssAfterWarmupMb} MB after ${report.warmupSeconds} s warm-up → ${report.rssEndMb} MB at the end ` +
      `(${report.rssGrowthPercent >= 0 ? '+' : ''}${report.rssGrowthPercent} %, slope ${report.rssSlopeMbPerHour} MB/h, max ${report.rssMaxMb} MB)`,
  );
  if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
}

const isMain = process.argv[1] !== undefined && /soak\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  main().catch((err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
