/**
 * Suite `landau`: ms per relaxation step of a Landau graph, side by side in one run.
 *
 * Problem: a seeded random sparse graph at N = 1e5 modules (quick: 2e4), half gate and half
 * sequence modules, average degree 4 (2N edges: 60% quadratic, 20% hinge, 20% gate benefit).
 * One step = one fixed-step projected-gradient move of every module, the evaluation of F and ∇F at
 * the new point, and the energy monitor's f64 reduction of F: what one iteration of the deterministic
 * fixed-step path costs (the coordinator adds a few comparisons; it does not need ‖∇F‖² there, so
 * no case computes it).
 *
 * Cases (timed round-robin, see timeRoundRobin):
 * - `simloom 1 worker`, `simloom 2 workers`: the engine (LandauModule kernels, phases on the calling
 *   thread and one worker thread), f64, with the NaN/Inf check on (the default); for 2 workers also
 *   with the check off, and in f32;
 * - `plain loop`: the comparison peer, what one would write by hand for speed in one thread: one
 *   fused pass over the modules (move, local term, gate benefits folded into a linear term) and one
 *   flat pass over the edges of each shape (sorted by source, both ends updated), instantiated with
 *   `freshCopy` so that V8 compiles it with its arrays as constants, exactly as the engine's kernels;
 * - `plain loop, unspecialised`: the same arithmetic as a method reading its arrays from an object
 *   (the usual way to write it; V8 then reloads every array's pointer and length per access);
 * - `reference`: the scalar reference backend (actors/landau/reference.ts) the tests use as oracle.
 * Before timing, the engine and both plain loops are run side by side and must agree to 1e-9 relative.
 * Every case records `foreignCores`: CPU other processes took while it ran (this machine is shared;
 * a figure taken with a core's worth of foreign load is not a clean one).
 *
 * - `webgpu N=…`: the same fixed-step iteration on the GPU (actors/landau/gpu-engine.ts, f32 layout):
 *   one submit per step with the reductions of F and ‖∇F‖² read back, so a figure includes the
 *   submit-to-readback latency; `details` adds the GPU time per step from timestamp queries. Run at
 *   N = 1e6 and 1e7 on a hardware adapter (quick: at the CPU problem's N); skipped on a software
 *   adapter (lavapipe: correctness only) unless SIMLOOM_BENCH_SOFTWARE_GPU=1.
 *
 * Run: `simloom bench landau [--quick] [--json]` (built), or `npx tsx bench/landau.bench.ts`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { LocalKind, UNIT_TERM_WEIGHTS } from '../actors/landau/energies.js';
import { compileEdges, edgeCapacities, EngineBackend, loadProblem } from '../actors/landau/engine.js';
import { landauModel, MoveMode, type Precision } from '../actors/landau/index.js';
import { type LandauProblem, randomProblem } from '../actors/landau/problem.js';
import { GpuEngineBackend } from '../actors/landau/gpu-engine.js';
import { ReferenceBackend } from '../actors/landau/reference.js';
import type { MoveCommand, RelaxBackend } from '../actors/landau/relax.js';
import type { BenchReport } from '../sim/cli.js';
import { Simulation } from '../sim/simulation.js';
import { compileModel } from '../src/model.js';
import { freshCopy } from '../kernels/common/specialize.js';

const STEP = 0.05;
const ADVANCE: MoveCommand = { mode: MoveMode.advance, stepScale: STEP, noiseScale: 0, asyncTol: 0, weights: UNIT_TERM_WEIGHTS, grad2: false };
const HOLD: MoveCommand = { ...ADVANCE, mode: MoveMode.hold, stepScale: 0 };

type PlainStep = (s: number) => number;

/**
 * The plain baseline's step over its arrays: η ← clamp(η − s·g) fused with the local term (and the
 * folded gate benefits), then one flat pass per edge shape adding to both ends. Returns F at the new
 * point; `grad` holds ∇F there. Written by freshCopy's rules (self-contained, no named inner
 * functions) so that it can be instantiated with its arrays as constants.
 */
function makePlainStep(
  n: number,
  eta: Float64Array,
  grad: Float64Array,
  kind: Uint8Array,
  A: Float64Array,
  B: Float64Array,
  H: Float64Array,
  LIN: Float64Array,
  qSrc: Uint32Array,
  qDst: Uint32Array,
  qW: Float64Array,
  hSrc: Uint32Array,
  hDst: Uint32Array,
  hW: Float64Array,
  hAlpha: Float64Array,
  hBeta: Float64Array,
  bSrc: Uint32Array,
  bC: Float64Array,
  bP: Float64Array,
): PlainStep {
  const mq = qSrc.length;
  const mh = hSrc.length;
  const mb = bSrc.length;
  return function (s: number): number {
    let F = 0;
    for (let i = 0; i < n; i++) {
      let x = eta[i]! - s * grad[i]!;
      x = x < 0 ? 0 : x > 1 ? 1 : x;
      eta[i] = x;
      const k = kind[i]!;
      const a = A[i]!;
      const b = B[i]!;
      const c = LIN[i]!;
      if (k === 0 || k === 3) {
        const x2 = x * x;
        const h = H[i]!;
        F += a * x2 + b * x2 * x2 - h * x - c * x;
        grad[i] = 2 * a * x + 4 * b * x2 * x - h - c;
      } else {
        const u = 1 - x;
        const u2 = u * u;
        F += a * u2 + b * u2 * u2 - c * x;
        grad[i] = -2 * a * u - 4 * b * u2 * u - c;
      }
    }
    for (let e = 0; e < mq; e++) {
      const i = qSrc[e]!;
      const j = qDst[e]!;
      const w = qW[e]!;
      const d = eta[i]! - eta[j]!;
      F += w * d * d;
      grad[i]! += 2 * w * d;
      grad[j]! -= 2 * w * d;
    }
    for (let e = 0; e < mh; e++) {
      const i = hSrc[e]!;
      const j = hDst[e]!;
      const gap = hBeta[e]! * eta[j]! - hAlpha[e]! * eta[i]!;
      if (gap > 0) {
        const w = hW[e]!;
        F += w * gap * gap;
        grad[i]! -= 2 * w * gap * hAlpha[e]!;
        grad[j]! += 2 * w * gap * hBeta[e]!;
      }
    }
    for (let e = 0; e < mb; e++) {
      const i = bSrc[e]!;
      const x = eta[i]!;
      const p = bP[e]!;
      const c = bC[e]!;
      if (p === 1) {
        F -= c * x;
        grad[i]! -= c;
      } else if (x > 0) {
        F -= c * Math.pow(x, p);
        grad[i]! -= c * p * Math.pow(x, p - 1);
      }
    }
    return F;
  };
}

/** Indices 0..m−1 stably sorted by `key` (a counting sort; keys < n). */
function orderBy(key: Uint32Array, n: number): Uint32Array {
  const start = new Uint32Array(n + 1);
  for (const k of key) start[k + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const out = new Uint32Array(key.length);
  for (let e = 0; e < key.length; e++) out[start[key[e]!]!++] = e;
  return out;
}

/** The plain baseline (see the file comment). `specialise: false` gives the same code without freshCopy. */
class PlainLoop {
  readonly eta: Float64Array;
  readonly grad: Float64Array;
  private readonly run: PlainStep;
  constructor(p: LandauProblem, specialise: boolean) {
    this.eta = Float64Array.from(p.eta0);
    this.grad = new Float64Array(p.n);
    const c = compileEdges(p);
    // Edges sorted by source, as a tight loop would store them (locality for the η_i and g_i side).
    const by = <T extends Float64Array | Uint32Array>(a: T, order: Uint32Array): T => a.map((_, k) => a[order[k]!]!) as T;
    const oq = orderBy(c.quadratic.src, p.n);
    const oh = orderBy(c.hinge.src, p.n);
    const ob = orderBy(c.benefit.src, p.n);
    const h = Float64Array.from(p.h, (x, i) => (p.kind[i] === LocalKind.landau ? x : 0));
    const make = specialise ? freshCopy(makePlainStep) : makePlainStep;
    this.run = make(p.n, this.eta, this.grad, p.kind, p.a, p.b, h, c.lin,
      by(c.quadratic.src, oq), by(c.quadratic.dst, oq), by(c.quadratic.w, oq),
      by(c.hinge.src, oh), by(c.hinge.dst, oh), by(c.hinge.w, oh), by(c.hinge.alpha, oh), by(c.hinge.beta, oh),
      by(c.benefit.src, ob), by(c.benefit.c, ob), by(c.benefit.p, ob));
  }

  /** Moves with step s (0: evaluate only), evaluates, returns F. */
  step(s: number): number {
    return this.run(s);
  }
}

/**
 * The previous baseline, kept as the unspecialised peer: a method that reads its arrays from the
 * problem object, an edge-list loop over the couplings in problem order branching on the type.
 */
class NaiveLoop {
  readonly eta: Float64Array;
  readonly grad: Float64Array;
  constructor(private readonly p: LandauProblem) {
    this.eta = Float64Array.from(p.eta0);
    this.grad = new Float64Array(p.n);
  }

  step(s: number): number {
    const { p, eta, grad } = this;
    const n = p.n;
    if (s !== 0) {
      for (let i = 0; i < n; i++) {
        const x = eta[i]! - s * grad[i]!;
        eta[i] = x < 0 ? 0 : x > 1 ? 1 : x;
      }
    }
    let f = 0;
    const { kind, a, b, h } = p;
    for (let i = 0; i < n; i++) {
      const x = eta[i]!;
      const k = kind[i]!;
      if (k === 0 || k === 3) {
        const x2 = x * x;
        const hh = k === 3 ? h[i]! : 0;
        f += a[i]! * x2 + b[i]! * x2 * x2 - hh * x;
        grad[i] = 2 * a[i]! * x + 4 * b[i]! * x2 * x - hh;
      } else {
        const u = 1 - x;
        const u2 = u * u;
        f += a[i]! * u2 + b[i]! * u2 * u2;
        grad[i] = -2 * a[i]! * u - 4 * b[i]! * u2 * u;
      }
    }
    const { src, dst, type, w, alpha, beta, benefit, power } = p;
    for (let e = 0; e < p.edges; e++) {
      const i = src[e]!;
      const j = dst[e]!;
      const t = type[e]!;
      const x = eta[i]!;
      if (t === 0) {
        const d = x - eta[j]!;
        f += w[e]! * d * d;
        grad[i]! += 2 * w[e]! * d;
        grad[j]! -= 2 * w[e]! * d;
      } else if (t === 1) {
        const gap = beta[e]! * eta[j]! - alpha[e]! * x;
        if (gap > 0) {
          f += w[e]! * gap * gap;
          grad[i]! -= 2 * w[e]! * gap * alpha[e]!;
          grad[j]! += 2 * w[e]! * gap * beta[e]!;
        }
      } else {
        const c = w[e]! * benefit[e]!;
        const pw = power[e]!;
        if (pw === 1) {
          f -= c * x;
          grad[i]! -= c;
        } else if (x > 0) {
          f -= c * Math.pow(x, pw);
          grad[i]! -= c * pw * Math.pow(x, pw - 1);
        }
      }
    }
    return f;
  }
}

/** Busy CPU seconds of the whole machine since boot (Linux /proc/stat, USER_HZ = 100), or null. */
function machineBusySeconds(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) / 100;
  } catch {
    return null;
  }
}

interface Case {
  name: string;
  step: () => void;
  /** Mean ms per step of each round. */
  rounds: number[];
  /** CPU cores' worth of time other processes used during this case's rounds (null off Linux). */
  foreign: number[];
  close?: () => Promise<void>;
  sim?: Simulation;
}

/**
 * Times the cases round-robin: round r runs `steps` steps of every case in turn, so a change in the
 * machine's load (it is shared) hits every case alike. Each case is warmed up first.
 */
function timeRoundRobin(cases: Case[], steps: number, rounds: number): void {
  for (const c of cases) for (let k = 0; k < Math.max(5, steps / 4); k++) c.step(); // JIT, caches, workers awake
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const busy0 = machineBusySeconds();
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      for (let k = 0; k < steps; k++) c.step();
      const wall = performance.now() - t0;
      const busy1 = machineBusySeconds();
      const own = process.cpuUsage(own0);
      c.rounds.push(wall / steps);
      if (busy0 !== null && busy1 !== null) c.foreign.push(Math.max(0, (busy1 - busy0 - (own.user + own.system) / 1e6) / (wall / 1000)));
    }
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function engine(p: LandauProblem, workers: number, checkFinite: boolean, precision: Precision = 'f64'): Promise<{ sim: Simulation; backend: RelaxBackend }> {
  const sim = await Simulation.create(compileModel(landauModel({ modules: p.n, edges: p.edges, graphEdges: edgeCapacities(p), precision })), { workers, checkFinite });
  loadProblem(sim, p);
  const backend = new EngineBackend(sim);
  backend.step(HOLD);
  return { sim, backend };
}

function phaseBreakdown(sim: Simulation, before: number[], steps: number): Record<string, number> {
  const out: Record<string, number> = {};
  sim.timings.forEach((t, i) => (out[t.functions.join('+')] = Math.round(((t.kernelMs - before[i]!) / steps) * 1000) / 1000));
  return out;
}

/**
 * The webgpu cases (see the file comment): ms/step (median of rounds, each step awaited) per N, and
 * in `details` the GPU time per step (timestamp queries) and the adapter.
 */
async function gpuCases(sizes: readonly number[], log: (s: string) => void): Promise<{ results: BenchReport['results']; details: Record<string, unknown> }> {
  const { probeWebGpu } = await import('../sim/gpu/device.js');
  const { GpuSimulation } = await import('../sim/gpu/backend.js');
  const probe = await probeWebGpu();
  if (!probe.ok) return { results: [], details: { webgpu: `skipped: ${probe.reason}` } };
  if (probe.info.type !== 'hardware' && process.env.SIMLOOM_BENCH_SOFTWARE_GPU !== '1') {
    probe.destroy();
    return { results: [], details: { webgpu: `skipped: the only adapter is ${probe.info.name} (software); set SIMLOOM_BENCH_SOFTWARE_GPU=1 to time it anyway` } };
  }
  const results: BenchReport['results'] = [];
  const details: Record<string, unknown> = { webgpuAdapter: `${probe.info.name} (${probe.info.type})` };
  try {
    for (const n of sizes) {
      const p = randomProblem({ n, degree: 4, seed: 1 });
      const sim = await GpuSimulation.create(compileModel(landauModel({ modules: p.n, edges: p.edges, graphEdges: edgeCapacities(p), precision: 'f32' })), { probe });
      try {
        loadProblem(sim, p);
        const backend = new GpuEngineBackend(sim);
        await backend.step(HOLD);
        for (let k = 0; k < 10; k++) await backend.step(ADVANCE);
        const gpu0 = sim.stepGpuMs;
        const timed0 = sim.timedSteps;
        const rounds: number[] = [];
        const steps = 50;
        for (let r = 0; r < 5; r++) {
          const t0 = performance.now();
          for (let k = 0; k < steps; k++) await backend.step(ADVANCE);
          rounds.push((performance.now() - t0) / steps);
        }
        const name = `webgpu N=${n}`;
        const value = median(rounds);
        const gpuMs = sim.timing === 'timestamp' ? (sim.stepGpuMs - gpu0) / Math.max(1, sim.timedSteps - timed0) : null;
        results.push({ name, unit: 'ms/step', value });
        details[name] = { rounds: rounds.map((x) => Math.round(x * 1000) / 1000), gpuMsPerStep: gpuMs === null ? null : Math.round(gpuMs * 1000) / 1000, edges: p.edges };
        log(`${name}: ${value.toFixed(3)} ms/step (median of 5 rounds of ${steps} awaited steps; GPU time ${gpuMs === null ? '?' : gpuMs.toFixed(3)} ms/step)`);
      } finally {
        await sim.close();
      }
    }
  } finally {
    probe.destroy();
  }
  return { results, details };
}

export async function run(opts: { quick: boolean }): Promise<BenchReport & { details: Record<string, unknown> }> {
  const n = opts.quick ? 20_000 : 100_000;
  const steps = opts.quick ? 20 : 100;
  const rounds = opts.quick ? 3 : 7;
  const p = randomProblem({ n, degree: 4, seed: 1 });
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  log(`landau bench: N = ${n}, ${p.edges} edges, ${steps} steps × ${rounds} rounds per case`);

  // Agreement check before timing: engine (2 workers) and both plain loops, 20 steps.
  {
    const { sim, backend } = await engine(p, 2, true);
    const plain = new PlainLoop(p, true);
    const naive = new NaiveLoop(p);
    plain.step(0);
    naive.step(0);
    let worst = 0;
    for (let k = 0; k < 20; k++) {
      const a = backend.step(ADVANCE);
      const f = plain.step(STEP);
      const g = naive.step(STEP);
      worst = Math.max(worst, Math.abs(a.energy - f) / Math.abs(f), Math.abs(a.energy - g) / Math.abs(g));
    }
    await sim.close();
    if (!(worst < 1e-9)) throw new Error(`landau bench: engine and plain loops disagree (${worst} relative)`);
    log(`check: engine and plain loops agree to ${worst.toExponential(1)} relative over 20 steps`);
  }

  const cases: Case[] = [];
  for (const [workers, checkFinite, precision] of [
    [1, true, 'f64'],
    [2, true, 'f64'],
    [2, false, 'f64'],
    [2, true, 'f32'],
  ] as const) {
    const { sim, backend } = await engine(p, workers, checkFinite, precision);
    const name = `simloom ${workers} worker${workers > 1 ? 's' : ''}${checkFinite ? '' : ' (checkFinite off)'}${precision === 'f32' ? ' (f32)' : ''}`;
    cases.push({ name, step: () => void backend.step(ADVANCE), rounds: [], foreign: [], sim, close: () => sim.close() });
  }
  const plain = new PlainLoop(p, true);
  plain.step(0);
  cases.push({ name: 'plain loop (1 thread)', step: () => void plain.step(STEP), rounds: [], foreign: [] });
  const naive = new NaiveLoop(p);
  naive.step(0);
  cases.push({ name: 'plain loop, unspecialised (1 thread)', step: () => void naive.step(STEP), rounds: [], foreign: [] });
  const ref = new ReferenceBackend(p);
  ref.step(HOLD);
  cases.push({ name: 'reference backend (1 thread)', step: () => void ref.step(ADVANCE), rounds: [], foreign: [] });

  const before = cases.map((c) => c.sim?.timings.map((t) => t.kernelMs) ?? []);
  const stepsBefore = cases.map((c) => c.sim?.step ?? 0);
  timeRoundRobin(cases, steps, rounds);
  const results: BenchReport['results'] = [];
  const details: Record<string, unknown> = { modules: n, edges: p.edges, stepsPerRound: steps, rounds, order: 'round-robin' };
  for (const [k, c] of cases.entries()) {
    const value = median(c.rounds);
    const foreignCores = c.foreign.length > 0 ? Math.round(median(c.foreign) * 100) / 100 : null;
    results.push({ name: c.name, unit: 'ms/step', value });
    details[c.name] = {
      rounds: c.rounds.map((x) => Math.round(x * 1000) / 1000),
      foreignCores,
      ...(c.sim ? { phaseMsPerStep: phaseBreakdown(c.sim, before[k]!, c.sim.step - stepsBefore[k]!) } : {}),
    };
    log(`${c.name}: ${value.toFixed(3)} ms/step (median of ${rounds} rounds; other processes used ${foreignCores ?? '?'} cores)`);
    await c.close?.();
  }
  const gpu = await gpuCases(opts.quick ? [n] : [1_000_000, 10_000_000], log);
  results.push(...gpu.results);
  Object.assign(details, gpu.details);
  const v = (name: string): number => results.find((r) => r.name === name)!.value;
  const ratios: Record<string, number> = {
    'plain loop ÷ simloom 2 workers': v('plain loop (1 thread)') / v('simloom 2 workers'),
    'plain loop, unspecialised ÷ plain loop': v('plain loop, unspecialised (1 thread)') / v('plain loop (1 thread)'),
    'simloom 1 worker ÷ simloom 2 workers': v('simloom 1 worker') / v('simloom 2 workers'),
    'target 2 ms ÷ simloom 2 workers': 2 / v('simloom 2 workers'),
    ...(gpu.results.some((r) => r.name === 'webgpu N=1000000') ? { 'target 0.2 ms ÷ webgpu N=1e6': 0.2 / v('webgpu N=1000000') } : {}),
  };
  return {
    suite: 'landau',
    env: { node: process.version, cpus: os.availableParallelism(), backend: 'cpu', adapter: null, workers: [1, 2] },
    results,
    ratios,
    details,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(JSON.stringify(report) + '\n');
}
