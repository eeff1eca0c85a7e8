/**
 * `simloom profile <scenario>`: runs a scenario with tracing and reports where the time goes (issue 7):
 * time per phase and function, thread utilisation and load imbalance, barrier wait, messages per step,
 * GPU against CPU time, and the top bottleneck in one sentence; `report.html` with plots (SVG through
 * vega-lite, PNG copies in `plots/`), `report.json`, and a text report on stdout. With a list in
 * `--workers` or in a `--set`, it is a scaling study: one traced run per combination, then cost per
 * actor against actor count and speedup against workers.
 *
 * Every number of the report is computed from `trace.json` alone ({@link analyzeTrace}), so a test
 * can recompute them from the file, and a trace recorded elsewhere (`simloom run --trace`) can be
 * analysed the same way.
 *
 * How the step time is divided ({@link ProfileReport.breakdown}), per parallel launch of a phase:
 * the mean of the threads' kernel time is `work` (split by function), the slowest thread's excess
 * over that mean is `imbalance`, the rest of the phase's wall time is `dispatch` (waking the workers,
 * barriers, fault checks). Index builds split into the serial sort and reductions on the host and the
 * (parallel) gather with its barrier; what is left of a step is `other`. On webgpu the step is host
 * encoding, the GPU's time per phase (timestamp queries) and the rest of submit → done.
 *
 *   simloom profile circles --steps 20 --workers 2
 *   simloom profile circles --steps 10 --workers 1,2 --set n=10000,100000
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import asciichart from 'asciichart';
import type { TopLevelSpec } from 'vega-lite';
import { UsageError } from '../src/errors.js';
import { writeChart } from './plots.js';
import { runScenario } from './run.js';
import { loadScenario, type RunSummary } from './scenario.js';
import { BUSY_CATEGORIES, GPU_TID } from './trace.js';

/** One event of trace.json, as far as the analysis reads it. */
export interface TraceEvent {
  name: string;
  cat?: string;
  ph: string;
  ts: number;
  dur?: number;
  pid?: number;
  tid?: number;
  id?: number;
  args?: Record<string, unknown>;
}

export interface TraceFile {
  traceEvents: TraceEvent[];
  otherData?: Record<string, unknown>;
}

interface Slice {
  name: string;
  cat: string;
  tid: number;
  start: number;
  end: number;
  dur: number;
  args: Record<string, unknown>;
}

/** Quantiles of per-step times, ms. */
export interface StepStats {
  mean: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export interface ProfileReport {
  scenario: string;
  backend: string;
  workers: number;
  /** Threads with a track (host and workers; the GPU queue apart). */
  threads: number;
  actors: number;
  params: Record<string, unknown>;
  /** Steps in the trace, and the first ones left out of every figure below (warm-up: JIT, pipeline compilation). */
  stepsTraced: number;
  warmupSteps: number;
  /** Steps the figures are computed over. */
  steps: number;
  droppedEvents: number;
  /** The machine: cores, and the 1-minute load average when the run started and ended (null if unknown). */
  machine: { cpus: number; loadStart: number | null; loadEnd: number | null };
  /** A warning when other processes competed for the CPUs (load average above the cores), else null. */
  contention: string | null;
  stepMs: StepStats;
  /** The first (warm-up) step, ms. */
  firstStepMs: number | null;
  /** Per step: [step, ms], every traced step. */
  stepSeries: [number, number][];
  /** Sum of the analysed steps' durations, ms. */
  wallMs: number;
  /** Per phase, per step means (ms). */
  phases: {
    phase: number;
    functions: string[];
    /** Host wall time of the phase, per step. */
    wallMs: number;
    /** Steps in which the phase ran on the workers too. */
    parallelSteps: number;
    kernels: { fn: string; kind: string; ms: number; perThreadMs: number[]; items: number }[];
    /** Slowest thread over the mean, summed over launches, as a share of the mean (0 = balanced). */
    imbalance: number;
  }[];
  /** Per message with an index build, per step means (ms). */
  indexes: { message: string; wallMs: number; sortMs: number; gatherMs: number; reduceMs: number; waitMs: number; records: number }[];
  /** Per thread: busy time per step and its share of the step time. */
  threadStats: { tid: number; name: string; busyMs: number; utilisation: number }[];
  /** Over every parallel launch: (Σ slowest − Σ mean) / Σ mean. */
  loadImbalance: number;
  /** Host time waiting for workers at barriers, per step (ms) and share of the step. */
  barrierWaitMs: number;
  barrierWaitShare: number;
  /** Mean of the `messages per step` and `messages/s` counters; null when not recorded (webgpu). */
  messagesPerStep: number | null;
  messagesPerSecond: number | null;
  queueDepth: Record<string, number>;
  activeActors: Record<string, number>;
  bytesCopiedPerStep: Record<string, number>;
  /** Busy time per step, ms: all CPU threads together, and the GPU queue. */
  cpuMs: number;
  gpuMs: number | null;
  /** Run-loop time between steps (metrics, trace drains), per step, ms. */
  betweenStepsMs: number;
  /** Where a step's time goes, ms per step, largest first; sums to the mean step time. */
  breakdown: { label: string; category: 'work' | 'imbalance' | 'dispatch' | 'index' | 'gather' | 'copy' | 'gpu' | 'host' | 'other'; ms: number; share: number }[];
  bottleneck: string;
}

const round = (x: number, d = 3): number => {
  const f = 10 ** d;
  return Math.round(x * f) / f;
};

function stats(xs: readonly number[]): StepStats {
  if (xs.length === 0) return { mean: 0, median: 0, p95: 0, min: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const mid = s.length >> 1;
  return {
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
    median: round(s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2),
    p95: round(q(0.95)),
    min: round(s[0]!),
    max: round(s.at(-1)!),
  };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
/** A string or number argument as text, else `fallback`. */
const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback);

/**
 * The report of a trace. Steps are the host's `step` slices; with 3 or more, the first is warm-up
 * and left out. Every figure is per analysed step unless it says otherwise.
 */
export function analyzeTrace(trace: TraceFile): ProfileReport {
  const od = trace.otherData ?? {};
  const evs = trace.traceEvents;
  const names = new Map<number, string>();
  for (const e of evs) if (e.ph === 'M' && e.name === 'thread_name' && e.tid !== undefined) names.set(e.tid, str(e.args?.name, String(e.tid)));
  const slices: Slice[] = [];
  for (const e of evs) {
    if (e.ph !== 'X') continue;
    const dur = e.dur ?? 0;
    slices.push({ name: e.name, cat: e.cat ?? '', tid: e.tid ?? 0, start: e.ts, end: e.ts + dur, dur, args: e.args ?? {} });
  }
  const steps = slices.filter((s) => s.cat === 'step').sort((a, b) => a.start - b.start);
  const warmup = steps.length >= 3 ? 1 : 0;
  const used = steps.slice(warmup);
  const n = Math.max(1, used.length);
  const wallUs = used.reduce((a, s) => a + s.dur, 0);
  const gpu = names.has(GPU_TID) || slices.some((s) => s.tid === GPU_TID);
  const cpuTids = [...names.keys()].filter((t) => t !== GPU_TID).sort((a, b) => a - b);
  // The analysed step containing time t (binary search over the used steps), or −1.
  const stepAt = (t: number): number => {
    let lo = 0;
    let hi = used.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = used[mid]!;
      if (t < s.start) hi = mid - 1;
      else if (t > s.end) lo = mid + 1;
      else return mid;
    }
    return -1;
  };
  const inSteps = slices.filter((s) => s.cat !== 'step' && stepAt(s.start) >= 0);
  const firstStepStart = used[0]?.start ?? Infinity;
  const between = slices.filter((s) => (s.cat === 'host' || s.cat === 'trace') && s.tid !== GPU_TID && s.start >= firstStepStart && stepAt(s.start) < 0);
  const perStep = (us: number): number => round(us / 1000 / n);
  const sum = (xs: readonly Slice[]): number => xs.reduce((a, s) => a + s.dur, 0);

  // Threads: busy = leaf work slices (kernel, gather, sort, reduce, copy); the GPU: its slices.
  const busyBy = new Map<number, number>();
  for (const s of inSteps) {
    if (BUSY_CATEGORIES.includes(s.cat) || (s.tid === GPU_TID && s.cat === 'gpu')) busyBy.set(s.tid, (busyBy.get(s.tid) ?? 0) + s.dur);
  }
  const threadStats = [...cpuTids, ...(gpu ? [GPU_TID] : [])].map((tid) => ({
    tid,
    name: names.get(tid) ?? String(tid),
    busyMs: perStep(busyBy.get(tid) ?? 0),
    utilisation: wallUs > 0 ? round((busyBy.get(tid) ?? 0) / wallUs, 4) : 0,
  }));

  // Phases: host phase slices are the launches; a worker's phase slice inside one makes it parallel.
  const phaseMeta = (od.phases as { phase: number; functions: string[] }[] | undefined) ?? [];
  const phaseIds = new Set<number>([...phaseMeta.map((p) => p.phase), ...inSteps.filter((s) => s.cat === 'phase').map((s) => num(s.args.phase))]);
  const kernels = inSteps.filter((s) => s.cat === 'kernel');
  const breakdown = new Map<string, { category: ProfileReport['breakdown'][number]['category']; us: number }>();
  const add = (label: string, category: ProfileReport['breakdown'][number]['category'], us: number): void => {
    const b = breakdown.get(label) ?? { category, us: 0 };
    b.us += us;
    breakdown.set(label, b);
  };
  let sumMax = 0;
  let sumMean = 0;
  const phases: ProfileReport['phases'] = [];
  const host = cpuTids[0] ?? 1;
  const phaseSlices = inSteps.filter((s) => s.cat === 'phase');
  for (const p of [...phaseIds].sort((a, b) => a - b)) {
    const launches = phaseSlices.filter((s) => s.tid === host && num(s.args.phase) === p);
    let pMax = 0;
    let pMean = 0;
    let parallelSteps = 0;
    const fnMs = new Map<string, { kind: string; perThread: Map<number, number>; items: number }>();
    for (const l of launches) {
      // Every thread's kernels of this launch: workers start after the host's doorbell and end before its barrier.
      const within = kernels.filter((k) => num(k.args.phase) === p && k.start >= l.start - 1e-3 && k.start <= l.end + 1e-3);
      const byThread = new Map<number, number>();
      for (const k of within) {
        byThread.set(k.tid, (byThread.get(k.tid) ?? 0) + k.dur);
        const fn = str(k.args.fn, k.name);
        const f = fnMs.get(fn) ?? { kind: str(k.args.kind, ''), perThread: new Map<number, number>(), items: 0 };
        f.perThread.set(k.tid, (f.perThread.get(k.tid) ?? 0) + k.dur);
        f.items += num(k.args.items);
        fnMs.set(fn, f);
      }
      const workersIn = phaseSlices.filter((s) => s.tid !== host && num(s.args.phase) === p && s.start >= l.start && s.start <= l.end).length;
      const threadsIn = Math.max(1, byThread.size, workersIn + 1);
      const busy = [...byThread.values()];
      const mx = busy.length ? Math.max(...busy) : 0;
      const mean = busy.reduce((a, b) => a + b, 0) / threadsIn;
      if (workersIn > 0) {
        parallelSteps++;
        pMax += mx;
        pMean += mean;
      }
      // Work split by function in proportion to its share of the launch's kernel time.
      const total = busy.reduce((a, b) => a + b, 0);
      for (const k of within) add(`kernel ${str(k.args.fn, k.name)}`, 'work', total > 0 ? (k.dur / total) * mean : 0);
      add('load imbalance', 'imbalance', mx - mean);
      add('dispatch and barriers', 'dispatch', Math.max(0, l.dur - mx - sum(inSteps.filter((c) => c.cat === 'copy' && c.tid === host && c.start >= l.start && c.end <= l.end))));
    }
    sumMax += pMax;
    sumMean += pMean;
    const meta = phaseMeta.find((x) => x.phase === p);
    phases.push({
      phase: p,
      functions: meta?.functions ?? [...fnMs.keys()],
      wallMs: perStep(sum(launches)),
      parallelSteps,
      kernels: [...fnMs.entries()].map(([fn, f]) => ({
        fn,
        kind: f.kind,
        ms: perStep([...f.perThread.values()].reduce((a, b) => a + b, 0)),
        perThreadMs: cpuTids.map((t) => perStep(f.perThread.get(t) ?? 0)),
        items: round(f.items / n, 1),
      })),
      imbalance: pMean > 0 ? round(pMax / pMean - 1, 4) : 0,
    });
  }
  for (const c of inSteps.filter((s) => s.cat === 'copy')) add('copy of idle actors', 'copy', c.dur);

  // Index builds (host): the serial sort and reductions, the gather with its barrier.
  const indexSlices = inSteps.filter((s) => s.cat === 'index' && s.tid === host);
  const messages = [...new Set(indexSlices.map((s) => str(s.args.message, s.name)))];
  const indexes = messages.map((m) => {
    const ix = indexSlices.filter((s) => str(s.args.message, s.name) === m);
    const inside = (c: string, tid?: number): Slice[] => inSteps.filter((s) => s.cat === c && (tid === undefined || s.tid === tid) && ix.some((x) => s.start >= x.start && s.start <= x.end));
    const sort = sum(inside('sort', host));
    const reduce = sum(inside('reduce', host));
    const wait = sum(inside('wait', host));
    const gather = sum(inside('gather'));
    const wall = sum(ix);
    add(`sort ${m} (serial)`, 'index', sort + reduce);
    add(`gather ${m}`, 'gather', Math.max(0, wall - sort - reduce));
    return { message: m, wallMs: perStep(wall), sortMs: perStep(sort), gatherMs: perStep(gather), reduceMs: perStep(reduce), waitMs: perStep(wait), records: round(ix.reduce((a, s) => a + num(s.args.records), 0) / n, 1) };
  });

  // GPU steps: host encode, GPU time per phase, the rest of submit → done.
  let gpuUs: number | null = null;
  if (gpu) {
    const g = inSteps.filter((s) => s.tid === GPU_TID);
    gpuUs = sum(g);
    for (const s of g) add(`GPU ${s.name}`, 'gpu', s.dur);
    const enc = inSteps.filter((s) => s.tid === host && s.cat === 'host' && s.name === 'encode step');
    add('host: encode step', 'host', sum(enc));
    const wait = inSteps.filter((s) => s.tid === host && s.cat === 'host' && s.name === 'submit → done');
    add('submit → done beyond GPU time', 'dispatch', Math.max(0, sum(wait) - gpuUs));
  }
  const accounted = [...breakdown.values()].reduce((a, b) => a + b.us, 0);
  add('other (host, in step)', 'other', Math.max(0, wallUs - accounted));
  const bd = [...breakdown.entries()]
    .map(([label, b]) => ({ label, category: b.category, ms: perStep(b.us), share: wallUs > 0 ? round(b.us / wallUs, 4) : 0 }))
    .filter((b) => b.ms > 0)
    .sort((a, b) => b.ms - a.ms);

  const waits = inSteps.filter((s) => s.cat === 'wait' && s.tid === host);
  const counters = evs.filter((e) => e.ph === 'C' && used.some((s) => e.ts >= s.start && e.ts <= s.end + 1));
  const meanArgs = (name: string): Record<string, number> => {
    const cs = counters.filter((c) => c.name === name);
    const out: Record<string, number> = {};
    for (const c of cs) for (const [k, v] of Object.entries(c.args ?? {})) out[k] = (out[k] ?? 0) + num(v);
    for (const k of Object.keys(out)) out[k] = round(out[k]! / Math.max(1, cs.length), 1);
    return out;
  };
  const mps = counters.filter((c) => c.name === 'messages per step');
  const mpsRate = counters.filter((c) => c.name === 'messages/s');
  const actorsMeta = od.actors ?? od.kinds;
  const actors = typeof actorsMeta === 'object' && actorsMeta !== null ? Object.values(actorsMeta as Record<string, number>).reduce((a, b) => a + num(b), 0) : 0;
  const cpuUs = cpuTids.reduce((a, t) => a + (busyBy.get(t) ?? 0), 0);

  const report: ProfileReport = {
    scenario: str(od.scenario, '?'),
    backend: str(od.backend, gpu ? 'webgpu' : 'cpu'),
    workers: num(od.workers),
    threads: cpuTids.length,
    actors,
    params: (od.params as Record<string, unknown> | undefined) ?? {},
    stepsTraced: steps.length,
    warmupSteps: warmup,
    steps: used.length,
    droppedEvents: num(od.droppedEvents),
    machine: { cpus: num(od.cpus), loadStart: typeof od.loadAverageStart === 'number' ? od.loadAverageStart : null, loadEnd: typeof od.loadAverageEnd === 'number' ? od.loadAverageEnd : null },
    contention: null,
    stepMs: stats(used.map((s) => s.dur / 1000)),
    firstStepMs: warmup ? round(steps[0]!.dur / 1000) : null,
    stepSeries: steps.map((s) => [num(s.args.step), round(s.dur / 1000)]),
    wallMs: round(wallUs / 1000),
    phases,
    indexes,
    threadStats,
    loadImbalance: sumMean > 0 ? round(sumMax / sumMean - 1, 4) : 0,
    barrierWaitMs: perStep(sum(waits)),
    barrierWaitShare: wallUs > 0 ? round(sum(waits) / wallUs, 4) : 0,
    messagesPerStep: mps.length ? round(mps.reduce((a, c) => a + num(c.args?.records), 0) / mps.length, 1) : null,
    messagesPerSecond: mpsRate.length ? Math.round(mpsRate.reduce((a, c) => a + num(c.args?.value), 0) / mpsRate.length) : null,
    queueDepth: meanArgs('queue depth'),
    activeActors: meanArgs('active actors'),
    bytesCopiedPerStep: meanArgs('bytes copied'),
    cpuMs: perStep(cpuUs),
    gpuMs: gpuUs === null ? null : perStep(gpuUs),
    betweenStepsMs: perStep(sum(between)),
    breakdown: bd,
    bottleneck: '',
  };
  report.bottleneck = bottleneckSentence(report);
  const load = Math.max(report.machine.loadStart ?? 0, report.machine.loadEnd ?? 0);
  if (report.machine.cpus > 0 && load > report.machine.cpus) {
    report.contention = `The machine was busy (load average ${load.toFixed(1)} on ${report.machine.cpus} cores): other processes competed for the CPUs, so times and speedups are pessimistic`;
  }
  return report;
}

const pct = (x: number): string => `${(x * 100).toFixed(x >= 0.1 ? 0 : 1)}%`;

/** The top item of the breakdown, in one sentence with what would help. */
export function bottleneckSentence(r: ProfileReport): string {
  const top = r.breakdown[0];
  if (!top || r.steps === 0) return 'No step was traced, so there is nothing to report.';
  const share = pct(top.share);
  const threads = r.threads;
  switch (top.category) {
    case 'work': {
      const fn = top.label.replace(/^kernel /, '');
      const ph = r.phases.find((p) => p.kernels.some((k) => k.fn === fn));
      const bal = ph ? `load imbalance ${pct(ph.imbalance)}` : '';
      return threads > 1
        ? `The kernel of ${fn}${ph ? ` (phase ${ph.phase})` : ''} takes ${share} of the step time, spread over ${threads} threads (${bal}): it is compute-bound, so a cheaper kernel or more cores would help most.`
        : `The kernel of ${fn}${ph ? ` (phase ${ph.phase})` : ''} takes ${share} of the step time on a single thread: more workers (--workers) would help most.`;
    }
    case 'imbalance': {
      const worst = [...r.phases].sort((a, b) => b.imbalance - a.imbalance)[0];
      return `Load imbalance: the slowest thread works ${pct(worst?.imbalance ?? r.loadImbalance)} longer than the mean${worst ? ` in phase ${worst.phase}` : ''}, which idles the others for ${share} of the step; partitions of more even cost would help.`;
    }
    case 'dispatch':
      return r.backend === 'webgpu'
        ? `Waiting on the GPU beyond its measured busy time (submit, driver, readback) takes ${share} of the step: fewer submits or larger steps per submit would help.`
        : `Waking the workers and waiting at barriers takes ${share} of the step: the phases are too short to pay for ${threads} threads, so fewer workers or a higher inlineBelow would help.`;
    case 'index':
      return `The serial index build (${top.label.replace(/ \(serial\)$/, '').replace(/^sort /, 'counting sort of ')}) takes ${share} of the step on the host and does not get faster with more workers: it is the part to parallelise next.`;
    case 'gather':
      return `The gather of message records (${top.label.replace(/^gather /, '')}) takes ${share} of the step: memory bandwidth bound, it gains little from more threads.`;
    case 'copy':
      return `Copying the columns of idle actors for on-message functions takes ${share} of the step: functions that write fewer fields would help.`;
    case 'gpu':
      return `The GPU's ${top.label.replace(/^GPU /, '')} take ${share} of the step${r.gpuMs !== null ? ` (GPU busy ${pct(r.gpuMs / Math.max(1e-9, r.stepMs.mean))} of the step)` : ''}: the kernel itself is the bottleneck, not the host.`;
    case 'host':
      return `Host work on the GPU path (${top.label.replace(/^host: /, '')}) takes ${share} of the step: the GPU waits for the host.`;
    default:
      return `Host work inside the step outside phases and index builds takes ${share} of the step time.`;
  }
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const big = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : String(Math.round(x)));
const bytes = (x: number): string => (x >= 1 << 20 ? `${(x / (1 << 20)).toFixed(1)} MiB` : x >= 1024 ? `${(x / 1024).toFixed(1)} KiB` : `${Math.round(x)} B`);

/** The report as text for a terminal, with the step times as an ASCII chart. */
export function formatReport(r: ProfileReport): string {
  const L: string[] = [];
  const ps = Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  L.push(`${r.scenario} (${ps}) on ${r.backend}${r.backend === 'cpu' ? ` with ${r.workers} thread(s)` : ''}: ${r.actors} actors, ${r.steps} steps analysed${r.warmupSteps ? ` (step 0, ${ms(r.firstStepMs ?? 0)} ms, left out as warm-up)` : ''}`);
  if (r.droppedEvents > 0) L.push(`WARNING: the trace dropped ${r.droppedEvents} events; the figures below miss them`);
  if (r.contention) L.push(`WARNING: ${r.contention}`);
  L.push(`bottleneck   ${r.bottleneck}`);
  L.push(`step time    median ${ms(r.stepMs.median)} ms, mean ${ms(r.stepMs.mean)}, p95 ${ms(r.stepMs.p95)}, min ${ms(r.stepMs.min)}, max ${ms(r.stepMs.max)}`);
  L.push('where a step goes (ms per step):');
  for (const b of r.breakdown.slice(0, 8)) L.push(`  ${b.label.padEnd(42)} ${ms(b.ms).padStart(8)}  ${pct(b.share).padStart(5)}`);
  const tnames = r.threadStats.filter((t) => t.tid !== GPU_TID).map((t) => t.name);
  L.push(`time per phase and function (ms per step; ${tnames.join(' | ')}):`);
  for (const p of r.phases) {
    L.push(`  phase ${p.phase}  wall ${ms(p.wallMs)}${p.parallelSteps ? `, parallel in ${p.parallelSteps}/${r.steps} steps, imbalance ${pct(p.imbalance)}` : ', on the host'}`);
    for (const k of p.kernels) L.push(`    ${k.fn.padEnd(36)} ${k.perThreadMs.map((x) => ms(x).padStart(8)).join(' |')}   (${big(k.items)} items/step)`);
  }
  for (const ix of r.indexes) L.push(`  index ${ix.message}: wall ${ms(ix.wallMs)} = sort ${ms(ix.sortMs)} + gather ${ms(ix.gatherMs)} (all threads) + wait ${ms(ix.waitMs)} + reduce ${ms(ix.reduceMs)}; ${big(ix.records)} records`);
  L.push(`threads      ${r.threadStats.map((t) => `${t.name} ${pct(t.utilisation)} busy`).join(', ')}; load imbalance ${pct(r.loadImbalance)}`);
  L.push(`barrier wait ${ms(r.barrierWaitMs)} ms per step on the host (${pct(r.barrierWaitShare)} of the step)`);
  if (r.messagesPerStep !== null) L.push(`messages     ${big(r.messagesPerStep)} per step (${big(r.messagesPerSecond ?? 0)}/s); queue depth ${Object.entries(r.queueDepth).map(([k, v]) => `${k} ${big(v)}`).join(', ') || '–'}`);
  const copied = Object.entries(r.bytesCopiedPerStep).map(([k, v]) => `${k} ${bytes(v)}`).join(', ');
  if (copied) L.push(`bytes copied ${copied} per step`);
  L.push(`GPU vs CPU   CPU busy ${ms(r.cpuMs)} ms per step over ${r.threads} thread(s); ${r.gpuMs === null ? 'no GPU' : `GPU busy ${ms(r.gpuMs)} ms per step`}`);
  if (r.betweenStepsMs > 0) L.push(`between steps ${ms(r.betweenStepsMs)} ms per step (metrics, trace drain)`);
  const ys = r.stepSeries.map(([, v]) => v);
  if (ys.length >= 2) {
    L.push('step time (ms) over steps:');
    L.push(asciichart.plot(ys.length > 70 ? ys.filter((_, i) => i % Math.ceil(ys.length / 70) === 0) : ys, { height: 6, format: (x: number) => ms(x).padStart(8) }));
  }
  return L.join('\n');
}

/** One run of a scaling study. */
export interface ScalingPoint {
  label: string;
  workers: number;
  actors: number;
  params: Record<string, string>;
  msPerStep: number;
  /** Median step time per actor, ns. */
  nsPerActor: number;
  /** Time on the fewest workers tried (same other parameters) over this time. */
  speedup: number | null;
  efficiency: number | null;
}

export function scalingStudy(runs: readonly { label: string; params: Record<string, string>; report: ProfileReport }[]): ScalingPoint[] {
  const key = (p: Record<string, string>): string => JSON.stringify(Object.entries(p).filter(([k]) => k !== 'workers').sort());
  const pts = runs.map((r) => ({
    label: r.label,
    workers: r.report.workers,
    actors: r.report.actors,
    params: r.params,
    msPerStep: r.report.stepMs.median,
    nsPerActor: r.report.actors > 0 ? round((r.report.stepMs.median * 1e6) / r.report.actors, 2) : 0,
    speedup: null as number | null,
    efficiency: null as number | null,
  }));
  for (const p of pts) {
    const peers = pts.filter((q) => key(q.params) === key(p.params));
    const base = peers.reduce((a, b) => (b.workers < a.workers ? b : a), p);
    if (base.msPerStep > 0) {
      p.speedup = round(base.msPerStep / p.msPerStep, 3);
      p.efficiency = round(p.speedup / (p.workers / base.workers), 3);
    }
  }
  return pts;
}

// ---------------------------------------------------------------------------------------------
// Plots of the report (vega-lite)

function breakdownSpec(r: ProfileReport): TopLevelSpec {
  return {
    title: 'Where a step goes (ms per step)',
    width: 520,
    height: { step: 18 },
    data: { values: r.breakdown.map((b) => ({ ...b, pct: pct(b.share) })) },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 340 } },
      x: { field: 'ms', type: 'quantitative', title: 'ms per step' },
      color: { field: 'category', type: 'nominal', title: 'kind of time' },
      tooltip: [{ field: 'label' }, { field: 'ms' }, { field: 'pct' }],
    },
  };
}

function perThreadSpec(r: ProfileReport): TopLevelSpec {
  const values: { thread: string; slice: string; ms: number }[] = [];
  const cpu = r.threadStats.filter((t) => t.tid !== GPU_TID);
  for (const p of r.phases) for (const k of p.kernels) k.perThreadMs.forEach((v, i) => values.push({ thread: cpu[i]?.name ?? String(i), slice: `phase ${p.phase}: ${k.fn}`, ms: v }));
  for (const ix of r.indexes) {
    values.push({ thread: cpu[0]?.name ?? 'host', slice: `sort+reduce ${ix.message}`, ms: ix.sortMs + ix.reduceMs });
    values.push({ thread: cpu[0]?.name ?? 'host', slice: 'barrier wait', ms: ix.waitMs });
  }
  values.push({ thread: cpu[0]?.name ?? 'host', slice: 'barrier wait', ms: Math.max(0, r.barrierWaitMs - r.indexes.reduce((a, i) => a + i.waitMs, 0)) });
  return {
    title: 'Time per phase and function, per thread (ms per step)',
    width: 520,
    height: { step: 28 },
    data: { values: values.filter((v) => v.ms > 0) },
    mark: 'bar',
    encoding: {
      y: { field: 'thread', type: 'nominal', title: null, sort: cpu.map((t) => t.name) },
      x: { field: 'ms', type: 'quantitative', title: 'ms per step', stack: 'zero' },
      color: { field: 'slice', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 300 } },
    },
  };
}

function utilisationSpec(r: ProfileReport): TopLevelSpec {
  return {
    title: 'Thread utilisation (busy share of the step time)',
    width: 520,
    height: { step: 24 },
    data: { values: r.threadStats.map((t) => ({ thread: t.name, busy: t.utilisation * 100 })) },
    mark: 'bar',
    encoding: {
      y: { field: 'thread', type: 'nominal', title: null, sort: null },
      x: { field: 'busy', type: 'quantitative', title: '% busy', scale: { domain: [0, 100] } },
      color: { value: '#4c78a8' },
    },
  };
}

function stepSeriesSpec(r: ProfileReport): TopLevelSpec {
  return {
    title: 'Step time over the run',
    width: 520,
    height: 200,
    data: { values: r.stepSeries.map(([step, v]) => ({ step, ms: v, warmup: step < r.warmupSteps ? 'warm-up (left out)' : 'analysed' })) },
    layer: [
      { mark: { type: 'line', color: '#4c78a8' }, encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'ms', type: 'quantitative', title: 'ms', scale: { type: 'log' } } } },
      { mark: { type: 'point', filled: true }, encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'ms', type: 'quantitative' }, color: { field: 'warmup', type: 'nominal', title: null, legend: { orient: 'top-right' } } } },
    ],
  };
}

/** A Gantt chart of one step (the median one) from the trace: what every thread did when. */
function timelineSpec(trace: TraceFile, r: ProfileReport): TopLevelSpec | null {
  const steps = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'step').sort((a, b) => a.ts - b.ts);
  const used = steps.slice(r.warmupSteps);
  if (used.length === 0) return null;
  const byDur = [...used].sort((a, b) => (a.dur ?? 0) - (b.dur ?? 0));
  const s = byDur[byDur.length >> 1]!;
  const t0 = s.ts;
  const t1 = s.ts + (s.dur ?? 0);
  const names = new Map<number, string>();
  for (const e of trace.traceEvents) if (e.ph === 'M' && e.name === 'thread_name' && e.tid !== undefined) names.set(e.tid, str(e.args?.name, String(e.tid)));
  const leaf = new Set([...BUSY_CATEGORIES, 'wait', 'gpu', 'host']);
  const values = trace.traceEvents
    .filter((e) => e.ph === 'X' && leaf.has(e.cat ?? '') && e.ts >= t0 && e.ts <= t1)
    .map((e) => ({ thread: names.get(e.tid ?? 0) ?? String(e.tid), start: (e.ts - t0) / 1000, end: (e.ts + (e.dur ?? 0) - t0) / 1000, what: e.cat === 'wait' ? 'barrier wait' : e.name }));
  return {
    title: `A typical step (step ${str(s.args?.step, '?')}, the median: ${ms((s.dur ?? 0) / 1000)} ms)`,
    width: 520,
    height: { step: 26 },
    data: { values },
    mark: { type: 'bar', cornerRadius: 1 },
    encoding: {
      y: { field: 'thread', type: 'nominal', title: null, sort: [...names.values()] },
      x: { field: 'start', type: 'quantitative', title: 'ms since the step began' },
      x2: { field: 'end' },
      color: { field: 'what', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 300 } },
    },
  };
}

function scalingSpecs(pts: readonly ScalingPoint[]): { name: string; spec: TopLevelSpec }[] {
  const out: { name: string; spec: TopLevelSpec }[] = [];
  out.push({
    name: 'cost-per-actor',
    spec: {
      title: 'Cost per actor against actor count',
      width: 480,
      height: 240,
      data: { values: pts.map((p) => ({ ...p, threads: `${p.workers} thread(s)` })) },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'actors', type: 'quantitative', title: 'actors', scale: { type: 'log' } },
        y: { field: 'nsPerActor', type: 'quantitative', title: 'ns per actor per step', scale: { zero: false } },
        color: { field: 'threads', type: 'nominal', title: null },
      },
    },
  });
  const sp = pts.filter((p) => p.speedup !== null).map((p) => ({ workers: p.workers, speedup: p.speedup, series: `${p.actors} actors` }));
  const ws = [...new Set(pts.map((p) => p.workers))].sort((a, b) => a - b);
  const ideal = ws.map((w) => ({ workers: w, speedup: w / ws[0]!, series: 'ideal' }));
  out.push({
    name: 'speedup',
    spec: {
      title: 'Speedup against workers',
      width: 480,
      height: 240,
      data: { values: [...sp, ...ideal] },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'workers', type: 'quantitative', title: 'compute threads', axis: { tickMinStep: 1 } },
        y: { field: 'speedup', type: 'quantitative', title: `speedup over ${ws[0]} thread(s)` },
        color: { field: 'series', type: 'nominal', title: null },
        strokeDash: { condition: { test: "datum.series === 'ideal'", value: [4, 3] }, value: [1, 0] },
      },
    },
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// report.html

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface RunOut {
  label: string;
  params: Record<string, string>;
  dir: string;
  summary: RunSummary;
  report: ProfileReport;
  trace: TraceFile;
}

/** Writes report.html (SVG inline), report.json and plots/*.svg|png; returns the HTML path. */
export async function writeReport(outDir: string, runs: readonly RunOut[], opts: { png: boolean }): Promise<{ html: string; files: string[] }> {
  const plotsDir = path.join(outDir, 'plots');
  const files: string[] = [];
  const sections: string[] = [];
  const chart = async (name: string, spec: TopLevelSpec): Promise<string> => {
    const written = await writeChart(plotsDir, name, spec);
    if (!opts.png) {
      const { rmSync } = await import('node:fs');
      rmSync(written[1]!, { force: true });
      written.pop();
    }
    files.push(...written);
    return `<figure>${readFileSync(written[0]!, 'utf8')}</figure>`;
  };
  const scaling = runs.length > 1 ? scalingStudy(runs.map((r) => ({ label: r.label, params: r.params, report: r.report }))) : null;
  if (scaling) {
    const plots: string[] = [];
    for (const s of scalingSpecs(scaling)) plots.push(await chart(s.name, s.spec));
    const rows = scaling
      .map((p) => `<tr><td>${esc(p.label)}</td><td>${p.workers}</td><td>${p.actors}</td><td>${ms(p.msPerStep)}</td><td>${p.nsPerActor}</td><td>${p.speedup ?? '–'}</td><td>${p.efficiency === null ? '–' : pct(p.efficiency)}</td></tr>`)
      .join('');
    const busy = runs.find((r) => r.report.contention)?.report.contention;
    sections.push(`<section><h2>Scaling study</h2>${busy ? `<p class="warning"><b>Contention in at least one run.</b> ${esc(busy)}.</p>` : ''}<div class="plots">${plots.join('')}</div>
<table><tr><th>run</th><th>threads</th><th>actors</th><th>median ms/step</th><th>ns per actor per step</th><th>speedup</th><th>efficiency</th></tr>${rows}</table></section>`);
  }
  for (const r of runs) {
    const p = runs.length > 1 ? `${r.label}-` : '';
    const rep = r.report;
    const plots: string[] = [];
    plots.push(await chart(`${p}breakdown`, breakdownSpec(rep)));
    const tl = timelineSpec(r.trace, rep);
    if (tl) plots.push(await chart(`${p}timeline`, tl));
    plots.push(await chart(`${p}per-thread`, perThreadSpec(rep)));
    plots.push(await chart(`${p}utilisation`, utilisationSpec(rep)));
    if (rep.stepSeries.length >= 2) plots.push(await chart(`${p}step-time`, stepSeriesSpec(rep)));
    const facts: [string, string][] = [
      ['step time', `median ${ms(rep.stepMs.median)} ms (mean ${ms(rep.stepMs.mean)}, p95 ${ms(rep.stepMs.p95)}, min ${ms(rep.stepMs.min)}, max ${ms(rep.stepMs.max)})`],
      ['threads', rep.threadStats.map((t) => `${t.name} ${pct(t.utilisation)} busy`).join(', ')],
      ['load imbalance', pct(rep.loadImbalance)],
      ['barrier wait (host)', `${ms(rep.barrierWaitMs)} ms per step (${pct(rep.barrierWaitShare)})`],
      ['messages', rep.messagesPerStep === null ? 'not recorded on this backend' : `${big(rep.messagesPerStep)} per step, ${big(rep.messagesPerSecond ?? 0)}/s`],
      ['bytes copied', Object.entries(rep.bytesCopiedPerStep).map(([k, v]) => `${k} ${bytes(v)}`).join(', ') || '–'],
      ['GPU vs CPU', `CPU busy ${ms(rep.cpuMs)} ms per step over ${rep.threads} thread(s); ${rep.gpuMs === null ? 'no GPU' : `GPU busy ${ms(rep.gpuMs)} ms per step`}`],
      ['between steps', `${ms(rep.betweenStepsMs)} ms per step (metrics, trace drain)`],
      ['trace', `${r.summary.trace?.events ?? '?'} events, ${rep.droppedEvents} dropped; <code>${esc(path.relative(outDir, path.join(r.dir, 'trace.json')) || 'trace.json')}</code> opens in Perfetto`],
    ];
    const phaseRows = rep.phases
      .flatMap((ph) => ph.kernels.map((k) => `<tr><td>${ph.phase}</td><td>${esc(k.fn)}</td>${k.perThreadMs.map((x) => `<td>${ms(x)}</td>`).join('')}<td>${ph.parallelSteps ? pct(ph.imbalance) : 'host only'}</td></tr>`))
      .join('');
    const tHead = rep.threadStats.filter((t) => t.tid !== GPU_TID).map((t) => `<th>${esc(t.name)} ms</th>`).join('');
    const ps = Object.entries(rep.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    sections.push(`<section><h2>${esc(rep.scenario)} ${esc(ps)} · ${esc(rep.backend)}${rep.backend === 'cpu' ? ` · ${rep.workers} thread(s)` : ''} · ${rep.actors} actors</h2>
<p class="bottleneck"><b>Bottleneck.</b> ${esc(rep.bottleneck)}</p>
${rep.contention ? `<p class="warning"><b>Contention.</b> ${esc(rep.contention)}.</p>` : ''}
<p class="muted">${rep.steps} steps analysed${rep.warmupSteps ? `; step 0 (${ms(rep.firstStepMs ?? 0)} ms) left out as warm-up` : ''}. Every figure is computed from <code>trace.json</code>.${rep.droppedEvents > 0 ? ` <b>The trace dropped ${rep.droppedEvents} events.</b>` : ''}</p>
<table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>
<h3>Time per phase and function (ms per step)</h3>
<table><tr><th>phase</th><th>function</th>${tHead}<th>imbalance</th></tr>${phaseRows}</table>
<div class="plots">${plots.join('')}</div></section>`);
  }
  const head = runs[0]!.report;
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>simloom profile · ${esc(head.scenario)}</title>
<style>
body{font:14px/1.45 "DejaVu Sans","Liberation Sans",sans-serif;color:#1d2330;margin:0;background:#f7f8fa}
header{background:white;border-bottom:1px solid #e4e7ec;padding:14px 24px}h1{font-size:19px;margin:0}
section{background:white;border:1px solid #e4e7ec;border-radius:8px;margin:16px 24px;padding:12px 18px}
h2{font-size:16px;margin:4px 0 8px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0}th,td{text-align:left;padding:3px 12px 3px 0;border-bottom:1px solid #f0f1f3;font-variant-numeric:tabular-nums;vertical-align:top}
th{color:#475467;font-weight:600}.bottleneck{background:#fff7e6;border-left:4px solid #f08c00;padding:8px 12px;margin:8px 0}
.warning{background:#fdecec;border-left:4px solid #d92d20;padding:6px 12px;margin:8px 0}.muted{color:#667085}.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:8px 0}code{font-size:12px}
</style></head><body>
<header><h1>simloom profile · ${esc(head.scenario)}</h1><div class="muted">${esc(new Date().toISOString())} · Node ${esc(process.version)} · ${os.availableParallelism()} cores · ${runs.length} run(s)</div></header>
${sections.join('\n')}
</body></html>
`;
  mkdirSync(outDir, { recursive: true });
  const htmlFile = path.join(outDir, 'report.html');
  writeFileSync(htmlFile, html);
  writeFileSync(path.join(outDir, 'report.json'), JSON.stringify({ runs: runs.map((r) => ({ label: r.label, params: r.params, dir: r.dir, report: r.report })), scaling }, null, 2) + '\n');
  return { html: htmlFile, files };
}

// ---------------------------------------------------------------------------------------------
// The command

export interface ProfileFlags {
  steps?: number;
  backend: 'cpu' | 'webgpu' | 'auto';
  workers?: string;
  seed: number;
  set: Record<string, string>;
  out?: string;
  json?: boolean;
  png?: boolean;
  debug?: boolean;
}

function parseWorkers(v: string | undefined): (number | undefined)[] {
  if (v === undefined) return [undefined];
  const parts = v.split(',').map((s) => s.trim());
  return parts.map((p) => {
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--workers must be a positive integer or a list such as 1,2; got '${v}'`);
    return n;
  });
}

/** Every combination of the list values in `set` (`n=1000,10000` is a list of two). */
export function expandSets(set: Readonly<Record<string, string>>): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const [k, v] of Object.entries(set)) {
    const vals = v.split(',').map((s) => s.trim());
    if (vals.some((x) => x === '')) throw new UsageError(`--set ${k}: empty value in list '${v}'`);
    out = out.flatMap((o) => vals.map((x) => ({ ...o, [k]: x })));
  }
  return out;
}

/** Reads a trace.json written by `simloom run --trace` (or the profile's runs). */
export function readTrace(file: string): TraceFile {
  const t = JSON.parse(readFileSync(file, 'utf8')) as TraceFile;
  if (!Array.isArray(t.traceEvents)) throw new UsageError(`${file} is not a trace event file (no traceEvents array)`);
  return t;
}

export async function cmdProfile(scenarioName: string, f: ProfileFlags): Promise<void> {
  if (!['cpu', 'webgpu', 'auto'].includes(f.backend)) throw new UsageError(`--backend must be cpu, webgpu or auto, got '${f.backend}'`);
  const scenario = await loadScenario(scenarioName);
  const workersList = parseWorkers(f.workers);
  const sets = expandSets(f.set);
  const grid = sets.flatMap((set) => workersList.map((w) => ({ set, workers: w })));
  if (grid.length > 64) throw new UsageError(`the scaling study would make ${grid.length} runs; 64 at most (shorten the lists in --workers and --set)`);
  const outDir = f.out ?? path.join('runs', `${scenario.name}-profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const runs: RunOut[] = [];
  for (const [i, g] of grid.entries()) {
    const label = [g.workers !== undefined ? `w${g.workers}` : '', ...Object.entries(g.set).filter(([k]) => sets.length > 1 && f.set[k]!.includes(',')).map(([k, v]) => `${k}${v}`)].filter(Boolean).join('-') || 'run';
    const dir = grid.length > 1 ? path.join(outDir, 'runs', label) : outDir;
    process.stderr.write(`${scenario.name}: profiling run ${i + 1}/${grid.length}${grid.length > 1 ? ` (${label})` : ''} …\n`);
    let summary: RunSummary;
    try {
      summary = await runScenario({
        scenario,
        ...(f.steps !== undefined ? { steps: f.steps } : {}),
        ...(g.workers !== undefined ? { workers: g.workers } : {}),
        seed: f.seed,
        backend: f.backend,
        set: g.set,
        outDir: dir,
        trace: true,
        onBackend(backend, adapter, note) {
          if (i === 0) process.stderr.write(`${scenario.name}: backend ${backend}${adapter ? ` on ${adapter.name} (${adapter.type})` : ''} — ${note}\n`);
        },
      });
    } catch (err) {
      const s = (err as { summary?: RunSummary }).summary;
      if (!s?.trace) throw err;
      summary = s;
      process.stderr.write(`${scenario.name}: run ${label} ${s.status}: ${s.error?.message ?? ''}; reporting what was traced\n`);
    }
    const trace = readTrace(path.join(dir, 'trace.json'));
    const report = analyzeTrace(trace);
    writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    runs.push({ label, params: g.set, dir, summary, report, trace });
  }
  const { html } = await writeReport(outDir, runs, { png: f.png !== false });
  const text: string[] = [];
  for (const r of runs) text.push(formatReport(r.report));
  if (runs.length > 1) {
    const pts = scalingStudy(runs.map((r) => ({ label: r.label, params: r.params, report: r.report })));
    const rows = ['scaling study (median step time):', `  ${'run'.padEnd(20)} ${'threads'.padStart(7)} ${'actors'.padStart(10)} ${'ms/step'.padStart(9)} ${'ns/actor'.padStart(9)} ${'speedup'.padStart(8)}`];
    for (const p of pts) rows.push(`  ${p.label.padEnd(20)} ${String(p.workers).padStart(7)} ${String(p.actors).padStart(10)} ${ms(p.msPerStep).padStart(9)} ${p.nsPerActor.toFixed(0).padStart(9)} ${(p.speedup === null ? '–' : p.speedup.toFixed(2)).padStart(8)}`);
    text.push(rows.join('\n'));
  }
  text.push(`report: ${html} (plots in ${path.join(outDir, 'plots')})`);
  const out = text.join('\n\n') + '\n';
  if (f.json) {
    process.stderr.write(out);
    process.stdout.write(JSON.stringify({ html, runs: runs.map((r) => ({ label: r.label, params: r.params, dir: r.dir, report: r.report })) }) + '\n');
  } else process.stdout.write(out);
}

/** What `run --trace` and `--plots` wrote, on stderr; a trace that dropped events says so. */
export function printRunExtras(name: string, s: RunSummary): void {
  const t = s.trace;
  if (t?.file) process.stderr.write(`${name}: trace ${t.file} (${t.events} events; open it in Perfetto, or run 'simloom profile')\n`);
  if (t && t.droppedEvents > 0) {
    process.stderr.write(
      `${name}: warning: the trace dropped ${t.droppedEvents} events (${t.droppedFromRings} past a ring's ${t.capacity} records per thread per step, ${t.droppedFromFile} past maxEvents ${t.maxEvents})\n`,
    );
  }
  const p = s.plots;
  if (p && 'files' in p) process.stderr.write(`${name}: plots ${p.files.filter((x) => x.endsWith('.svg')).join(', ')} (and .png)\n`);
  else if (p) process.stderr.write(`${name}: no plots: ${p.error}\n`);
}
