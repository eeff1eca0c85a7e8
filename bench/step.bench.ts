/**
 * Suite `step`: what a simulation step costs, side by side in one run.
 *
 * (a) Fixed overhead: the tiny model (bench/kinds/tiny.ts: 1000 actors, 3 kinds, 4 functions, 1 direct
 *     message type, 2 phases), µs per `stepOnce`. Every phase is below `inlineBelow`, so it runs on the
 *     calling thread; also timed with `workers: 1` and with every phase forced onto the workers
 *     (`inlineBelow: 0`), whose difference is the doorbell cost of a phase.
 * (b) Throughput at 1M actors, `workers: 1` and `workers: 2`:
 *     - `Damped` (bench/kinds/oscillator.ts): an element-wise 2D damped oscillator, 4 f32 fields, one
 *       phase. `twoWorkerSpeedup` is measured on this model. Also timed with `checkFinite: false`,
 *       and with `schedule: 'static'` (one partition per thread, the schedule before chunks):
 *       `chunksVsStatic` = 2-worker updates/s with chunks ÷ with static partitions.
 *     - Each variant's details carry `indexBuildMs` (Simulation.indexBuildTimes: the serial and the
 *       split index build's moving averages, measured in the same run).
 *     - `Chain`: a ring of coupled oscillators, one direct message per actor per step (publish, index
 *       build, integrate).
 * (c) The same models written naively (bench/naive.ts: one object per actor, a method call per update,
 *     messages as objects in per-actor mailbox arrays, one thread). `vsNaive` = simloom 2-worker ÷ naive
 *     updates/s on `Chain` (same arithmetic and message traffic); `vsNaiveElementwise` the same on
 *     `Damped`. Before any timing, simloom's state after a few steps is checked against the naive
 *     model's (within f32 rounding), and 1- and 2-worker runs against each other (bit-identical).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { compileModel, type ModelDecl } from '../src/model.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';
import { type BenchResult, type CaseOptions, type CaseStats, fmt, log, machineFacts, microseconds, perSecond, type SuiteReport, timeCase, timeInterleaved } from './common.js';
import type { CpuKernelContext } from '../src/kernel.js';
import { NaiveChain, NaiveDamped } from './naive.js';
import { parallelCapacity } from './parallel.js';
import { kernels as dampedKernels } from './kinds/oscillator.cpu.js';
import { chainModel, dampedModel, initialX, initialY, OSC } from './kinds/oscillator.js';
import { TINY, tinyModel } from './kinds/tiny.js';

interface Plan {
  n: number;
  tiny: CaseOptions;
  big: CaseOptions;
  /** Steps run before comparing simloom with the naive model. */
  checkSteps: number;
  /** Interleaved rounds of peer cases (see timeInterleaved). */
  rounds: number;
  /** Machine parallel-capacity probe: ALU iterations, stream passes, timing options. */
  probe: { alu: number; stream: number; o: CaseOptions };
}

function plan(quick: boolean): Plan {
  if (quick) {
    return {
      n: 131_072,
      tiny: { timeMs: 150, iterations: 200, warmupMs: 30, warmupIterations: 50, async: false },
      big: { timeMs: 150, iterations: 5, warmupMs: 20, warmupIterations: 2, async: false },
      checkSteps: 3,
      rounds: 2,
      probe: { alu: 5e6, stream: 2, o: { timeMs: 0, iterations: 2, async: true } },
    };
  }
  return {
    n: 1 << 20,
    tiny: { timeMs: 2500, iterations: 2000, warmupMs: 300, warmupIterations: 500, async: false },
    big: { timeMs: 3000, iterations: 24, warmupMs: 300, warmupIterations: 5, async: false },
    checkSteps: 5,
    rounds: 12,
    probe: { alu: 5e7, stream: 30, o: { timeMs: 0, iterations: 3, warmupIterations: 1, warmupMs: 1, async: true } },
  };
}

// ---------------------------------------------------------------------------------------------
// Phase breakdown from Simulation.timings

interface Snapshot {
  step: number;
  kernelMs: number[];
  indexMs: number[];
  parallel: number[];
  inline: number[];
}

function snapshot(sim: Simulation): Snapshot {
  return {
    step: sim.step,
    kernelMs: sim.timings.map((t) => t.kernelMs),
    indexMs: sim.timings.map((t) => t.indexMs),
    parallel: sim.timings.map((t) => t.parallelLaunches),
    inline: sim.timings.map((t) => t.inlineLaunches),
  };
}

/** Per-step host wall time of each phase (kernels, then index build) between a snapshot and now. */
function breakdown(sim: Simulation, a: Snapshot): Record<string, number | string> {
  const b = snapshot(sim);
  const steps = b.step - a.step;
  const out: Record<string, number | string> = {};
  sim.timings.forEach((t, p) => {
    const par = b.parallel[p]! - a.parallel[p]!;
    const inl = b.inline[p]! - a.inline[p]!;
    out[`phase${p} ${t.functions.join('+')}`] = `${fmt(((b.kernelMs[p]! - a.kernelMs[p]!) * 1000) / steps)} µs kernels + ${fmt(((b.indexMs[p]! - a.indexMs[p]!) * 1000) / steps)} µs index per step (${par} parallel, ${inl} inline launches)`;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) tiny model

/** Replays the tiny model on the host (f32 rounding on every store, as the kernels store) and compares. */
function checkTiny(sim: Simulation): void {
  const steps = sim.step;
  const a = 0.99;
  const b = 0.01;
  let px = Math.fround(1);
  let wx = Math.fround(2);
  const total = new Float64Array(TINY.pongers);
  const perPonger = new Uint32Array(TINY.pongers);
  for (let i = 0; i < TINY.pingers; i++) perPonger[i % TINY.pongers]!++;
  for (let s = 0; s < steps; s++) {
    // Every Pinger holds the same x, so Ponger r receives perPonger[r] copies of it.
    for (let r = 0; r < TINY.pongers; r++) {
      let sum = 0;
      for (let q = 0; q < perPonger[r]!; q++) sum += px;
      total[r] = Math.fround(total[r]! * 0.5 + sum);
    }
    px = Math.fround(px * a + b);
    wx = Math.fround(wx * a + b);
  }
  const p = sim.state('Pinger').x!;
  const w = sim.state('Watcher').x!;
  const t = sim.state('Ponger').total!;
  for (let i = 0; i < TINY.pingers; i++) if (p[i] !== px) throw new Error(`step bench: Pinger ${i}.x = ${p[i]} after ${steps} steps, expected ${px}`);
  for (let i = 0; i < TINY.watchers; i++) if (w[i] !== wx) throw new Error(`step bench: Watcher ${i}.x = ${w[i]} after ${steps} steps, expected ${wx}`);
  for (let r = 0; r < TINY.pongers; r++) if (t[r] !== total[r]) throw new Error(`step bench: Ponger ${r}.total = ${t[r]} after ${steps} steps, expected ${total[r]}`);
}

interface TinyVariant {
  label: string;
  opts: SimulationOptions;
}

/** Times the tiny model's variants interleaved, then replays and checks every one of them. */
async function tinyCases(variants: readonly TinyVariant[], p: Plan): Promise<{ rows: BenchResult[]; stats: CaseStats[]; detail: Record<string, unknown> }> {
  const sims: Simulation[] = [];
  try {
    for (const v of variants) sims.push(await Simulation.create(compileModel(tinyModel()), { seed: 1, ...v.opts }));
    const before = sims.map(snapshot);
    const stats = await timeInterleaved(
      sims.map((sim, i) => ({ name: `tiny ${variants[i]!.label}`, fn: () => sim.stepOnce() })),
      p.tiny,
      p.rounds,
    );
    const detail: Record<string, unknown> = {};
    const rows = sims.map((sim, i) => {
      checkTiny(sim);
      detail[variants[i]!.label] = { ...breakdown(sim, before[i]!), stepsChecked: sim.step };
      return microseconds(`tiny model step (1000 actors, 3 kinds, 4 functions, 1 message type, ${sim.spec.phases.length} phases; ${variants[i]!.label})`, stats[i]!);
    });
    return { rows, stats, detail };
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

// ---------------------------------------------------------------------------------------------
// (b, c) 1M-actor models

type BigModel = 'Damped' | 'Chain';

function modelOf(kind: BigModel, n: number): ModelDecl {
  return kind === 'Damped' ? dampedModel(n) : chainModel(n);
}

async function bigSim(kind: BigModel, n: number, opts: SimulationOptions): Promise<Simulation> {
  const sim = await Simulation.create(compileModel(modelOf(kind, n)), { seed: 1, ...opts });
  const s = sim.state(kind);
  for (let i = 0; i < n; i++) s.x![i] = initialX(i);
  if (kind === 'Damped') for (let i = 0; i < n; i++) s.y![i] = initialY(i);
  return sim;
}

/** State columns after `checkSteps` steps, copied out of the simulation. */
function stateCopy(sim: Simulation, kind: BigModel): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [f, col] of Object.entries(sim.state(kind))) out[f] = Float64Array.from(col.subarray(0, sim.count(kind)));
  return out;
}

/** Largest |simloom − naive| over every field; f32 storage rounds each step by ≤ 2^-24 relative. */
function compareWithNaive(kind: BigModel, ref: Record<string, Float64Array>, naive: NaiveDamped | NaiveChain, steps: number): number {
  let worst = 0;
  const fields = kind === 'Damped' ? ['x', 'y', 'vx', 'vy'] : ['x', 'v'];
  const actors = naive.actors as unknown as Record<string, number>[];
  for (const f of fields) {
    const col = ref[f]!;
    for (let i = 0; i < col.length; i++) {
      const d = Math.abs(col[i]! - actors[i]![f]!);
      if (d > worst) worst = d;
    }
  }
  // Values are O(1); a few f32 roundings per step stay far below 1e-5.
  if (!(worst <= 1e-5)) throw new Error(`step bench: ${kind} simloom and naive differ by ${worst} after ${steps} steps`);
  return worst;
}

interface BigResults {
  rows: BenchResult[];
  w1: number;
  w2: number;
  naive: number;
  details: Record<string, unknown>;
}

async function bigCase(kind: BigModel, p: Plan, withCheckFiniteOff: boolean): Promise<BigResults> {
  const n = p.n;
  const what = kind === 'Damped' ? `element-wise damped oscillator, 4 f32 fields` : `coupled oscillator ring, 2 f32 fields + 1 direct message per actor`;
  const details: Record<string, unknown> = {};

  const variants: { label: string; opts: SimulationOptions }[] = [
    { label: 'workers=1', opts: { workers: 1 } },
    { label: 'workers=2', opts: { workers: 2 } },
  ];
  if (withCheckFiniteOff) {
    variants.push({ label: 'workers=1, checkFinite=false', opts: { workers: 1, checkFinite: false } });
    variants.push({ label: 'workers=2, checkFinite=false', opts: { workers: 2, checkFinite: false } });
    // The schedule before chunks: one contiguous partition per thread (same results).
    variants.push({ label: 'workers=2, schedule=static', opts: { workers: 2, schedule: 'static' } });
  }
  const sims: Simulation[] = [];
  try {
    // Every variant runs `checkSteps` steps from the same start: bit-identical whatever the workers,
    // and equal to the naive model's f64 state within f32 rounding.
    let refSum = '';
    let refState: Record<string, Float64Array> = {};
    for (const v of variants) {
      const sim = await bigSim(kind, n, v.opts);
      sims.push(sim);
      sim.run(p.checkSteps);
      if (refSum === '') {
        refSum = sim.checksum();
        refState = stateCopy(sim, kind);
      } else if (sim.checksum() !== refSum) {
        throw new Error(`step bench: ${kind} with ${v.label} differs from ${variants[0]!.label} after ${p.checkSteps} steps`);
      }
    }
    const naive = kind === 'Damped' ? new NaiveDamped(n) : new NaiveChain(n);
    for (let s = 0; s < p.checkSteps; s++) naive.step();
    details.maxAbsDiffVsNaive = compareWithNaive(kind, refState, naive, p.checkSteps);
    refState = {};

    const before = sims.map(snapshot);
    // The naive model goes last in each round, so its garbage is collected after simloom's samples.
    const stats = await timeInterleaved(
      [...sims.map((sim, i) => ({ name: `${kind} ${variants[i]!.label}`, fn: () => sim.stepOnce() })), { name: `${kind} naive`, fn: () => naive.step() }],
      p.big,
      p.rounds,
    );
    const rows: BenchResult[] = [];
    const perSec: Record<string, number> = {};
    sims.forEach((sim, i) => {
      const v = variants[i]!;
      const row = perSecond(`${kind} (${what}), ${n} actors, ${v.label}`, 'actor updates/s', n, stats[i]!);
      rows.push(row);
      perSec[v.label] = row.value;
      details[v.label] = { ...breakdown(sim, before[i]!), stepMsMedian: stats[i]!.medianMs, indexBuildMs: sim.indexBuildTimes() };
    });
    const ns = stats[sims.length]!;
    const naiveRow = perSecond(`${kind} naive (one object per actor, method call per update${kind === 'Chain' ? ', message objects in per-actor mailbox arrays' : ''}, 1 thread), ${n} actors`, 'actor updates/s', n, ns);
    rows.push(naiveRow);
    details.naiveStepMsMedian = ns.medianMs;
    details.perSecond = perSec;
    return { rows, w1: perSec['workers=1']!, w2: perSec['workers=2']!, naive: naiveRow.value, details };
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

/**
 * The `damped.integrate` kernel called directly on plain SharedArrayBuffer columns through a minimal
 * context, one thread, no runtime around it (no launch, no finite check): the floor a simloom step of
 * `Damped` can reach on one thread, over all actors and over the half a 2-worker step gives each thread.
 */
async function bareKernelCase(n: number, o: CaseOptions): Promise<{ full: CaseStats; half: CaseStats }> {
  const col = (): Float32Array => new Float32Array(new SharedArrayBuffer(n * 4));
  const a = { x: col(), y: col(), vx: col(), vy: col() };
  const b = { x: col(), y: col(), vx: col(), vy: col() };
  for (let i = 0; i < n; i++) {
    a.x[i] = initialX(i);
    a.y[i] = initialY(i);
  }
  const reg = dampedKernels.find((r) => r.kernel === 'damped.integrate')!;
  const ctx = { state: a, next: b, params: { k: OSC.k, c: OSC.c }, dt: OSC.dt };
  let flip = false;
  const call = (end: number): void => {
    // Swap buffers as the runtime does, so every call reads the previous call's output.
    flip = !flip;
    ctx.state = flip ? b : a;
    ctx.next = flip ? a : b;
    reg.cpu(ctx as unknown as CpuKernelContext, 0, end);
  };
  const full = await timeCase('bare Damped kernel, all actors', () => call(n), o);
  const half = await timeCase('bare Damped kernel, half the actors', () => call(n >>> 1), o);
  return { full, half };
}

export async function run({ quick }: { quick: boolean }): Promise<SuiteReport> {
  const p = plan(quick);
  const t0 = performance.now();
  const results: BenchResult[] = [];
  const details: Record<string, unknown> = { quick, machine: machineFacts(), actors: p.n };

  log('step: (a) tiny model');
  const tiny = await tinyCases(
    [
      { label: 'workers=2, every phase inline', opts: { workers: 2 } },
      { label: 'workers=1', opts: { workers: 1 } },
      { label: 'workers=2, every phase forced onto the workers (inlineBelow=0)', opts: { workers: 2, inlineBelow: 0 } },
    ],
    p,
  );
  results.push(...tiny.rows);
  const phases = compileModel(tinyModel()).phases.length;
  const doorbellUs = ((tiny.stats[2]!.medianMs - tiny.stats[0]!.medianMs) * 1000) / phases;
  results.push({ name: 'doorbell cost per parallel phase (forced-parallel − inline tiny step, ÷ phases)', unit: 'µs', value: doorbellUs });
  details.tiny = tiny.detail;

  log('step: (b, c) Damped, 1M actors');
  const damped = await bigCase('Damped', p, true);
  results.push(...damped.rows);
  log('step: (b, c) Chain, 1M actors');
  const chain = await bigCase('Chain', p, false);
  results.push(...chain.rows);

  log('step: diagnostics (bare kernel, machine parallel capacity)');
  const bare = await bareKernelCase(p.n, p.big);
  results.push(perSecond(`Damped kernel called bare (no runtime, no finite check), 1 thread, ${p.n} actors (diagnostic)`, 'actor updates/s', p.n, bare.full));
  results.push(perSecond(`Damped kernel called bare, 1 thread, first half of ${p.n} actors (diagnostic)`, 'actor updates/s', p.n >>> 1, bare.half));
  const alu = await parallelCapacity('alu', p.probe.alu, p.probe.o);
  const stream = await parallelCapacity('stream', p.probe.stream, p.probe.o);
  for (const c of [alu, stream]) {
    results.push({
      name: `machine probe: ${c.kind} load on 2 threads at once, throughput ÷ 1 thread (2 = two full cores; diagnostic)`,
      unit: '×',
      value: c.capacity,
      foreignCores: c.twoThreads.foreignCores,
    });
  }
  details.damped = damped.details;
  details.chain = chain.details;
  details.bareDampedKernelMs = { all: bare.full.medianMs, half: bare.half.medianMs };
  details.parallelProbe = Object.fromEntries([alu, stream].map((c) => [c.kind, { oneThreadMs: c.oneThread.medianMs, twoThreadsMs: c.twoThreads.medianMs, capacity: c.capacity }]));

  const ratios = {
    twoWorkerSpeedup: damped.w2 / damped.w1,
    twoWorkerSpeedupCoupled: chain.w2 / chain.w1,
    vsNaive: chain.w2 / chain.naive,
    vsNaiveElementwise: damped.w2 / damped.naive,
    machineTwoThreadCapacityAlu: alu.capacity,
    machineTwoThreadCapacityStream: stream.capacity,
    chunksVsStatic: damped.w2 / (damped.details.perSecond as Record<string, number>)['workers=2, schedule=static']!,
    twoWorkerSpeedupNoFiniteCheck: (damped.details.perSecond as Record<string, number>)['workers=2, checkFinite=false']! / (damped.details.perSecond as Record<string, number>)['workers=1, checkFinite=false']!,
  };
  details.wallSeconds = (performance.now() - t0) / 1000;
  log(`step: done in ${fmt((performance.now() - t0) / 1000)} s`);
  return {
    suite: 'step',
    env: { node: process.version, cpus: os.availableParallelism(), backend: 'cpu', adapter: null, workers: [1, 2] },
    results,
    ratios,
    details,
  };
}
