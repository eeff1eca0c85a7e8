/**
 * Suite `water-filling`: points per second of the water-filling model (MODELS.md §2, issue 5).
 *
 * Workload: clustered embeddings, N = 500,000 (quick: 100,000), D = 256, seed 1, made once before
 * timing (their making is not timed; the scenario's pointsPerSecond excludes it too).
 * Cases, timed interleaved (bench/common.ts, timeInterleaved) so that peers share the machine's load:
 * - `compat N=…, 1 worker` / `2 workers`: one full compat run per sample, 25 passes (the original's
 *   figure: 0.17 M points/s on a 16-core CPU with JAX): initial placement (radii from norms, nearest
 *   shells, lateral subset, writing the state) plus 25 passes with their per-pass figures. The
 *   simulation (memory, worker threads) is created once per case, outside the timing, as a long-lived
 *   run would; points/s = N / (placement + passes), the scenario's definition. NaN/Inf check on.
 * - `balanced N=…, 2 workers`: time to convergence (every shell within 5% of its capacity), and its
 *   passes in `details`.
 * - `… sorted sample index (before)`: the compat cases with `Point.sample` delivered through the sorted
 *   bucket index (the path before `readRecords: false`), for the side-by-side figure.
 * - `webgpu compat N=…`: the same run on the GPU when a hardware adapter exists (or on a software one
 *   with SIMLOOM_BENCH_SOFTWARE_GPU=1); skipped with the reason otherwise.
 * Every row records `foreignCores`: CPU other processes took while it ran (this machine is shared).
 *
 * Run: `simloom bench water-filling [--quick] [--json]` (built), or `npx tsx bench/water-filling.bench.ts`.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { syntheticPoints, type PointData } from '../actors/water-filling/data.js';
import { shellGeometry } from '../actors/water-filling/geometry.js';
import { waterFillingModel } from '../actors/water-filling/index.js';
import { PASS_DEFAULTS } from '../actors/water-filling/reference.js';
import { runPasses, type WaterFillingConfig, type WaterFillingResults } from '../scenarios/water-filling.js';
import { Simulation } from '../sim/simulation.js';
import { compileModel } from '../src/model.js';
import { log, machineFacts, type BenchResult, type SuiteReport, timeInterleaved, type NamedCase } from './common.js';

const GEOMETRY = { shells: 512, rMin: 128, rMax: 1024 };

function config(mode: 'compat' | 'balanced'): WaterFillingConfig {
  return { mode, passes: mode === 'compat' ? 25 : 200, geometry: GEOMETRY, pass: { ...PASS_DEFAULTS } };
}

async function cpuSim(pts: PointData, mode: 'compat' | 'balanced', workers: number, sortedSample = false): Promise<Simulation> {
  const cfg = config(mode);
  return Simulation.create(compileModel(waterFillingModel({ mode, points: pts.n, geometry: shellGeometry(cfg.geometry, pts.n), pass: cfg.pass, sortedSample })), { workers, seed: 1 });
}

function phaseBreakdown(sim: Simulation, before: { kernelMs: number; indexMs: number }[], passes: number): Record<string, number> {
  const out: Record<string, number> = {};
  sim.timings.forEach((t, i) => {
    out[`${t.functions.join('+')} kernel`] = Math.round(((t.kernelMs - before[i]!.kernelMs) / passes) * 1000) / 1000;
    out[`${t.functions.join('+')} index`] = Math.round(((t.indexMs - before[i]!.indexMs) / passes) * 1000) / 1000;
  });
  return out;
}

async function webgpuCase(pts: PointData, log2: (s: string) => void): Promise<{ result: BenchResult | null; details: Record<string, unknown> }> {
  const { probeWebGpu } = await import('../sim/gpu/device.js');
  const probe = await probeWebGpu();
  if (!probe.ok) return { result: null, details: { webgpu: `skipped: ${probe.reason}` } };
  if (probe.info.type !== 'hardware' && process.env.SIMLOOM_BENCH_SOFTWARE_GPU !== '1') {
    probe.destroy();
    return { result: null, details: { webgpu: `skipped: the only adapter is ${probe.info.name} (software); set SIMLOOM_BENCH_SOFTWARE_GPU=1 to time it anyway` } };
  }
  const { GpuSimulation } = await import('../sim/gpu/backend.js');
  const cfg = config('compat');
  const sim = await GpuSimulation.create(compileModel(waterFillingModel({ mode: 'compat', points: pts.n, geometry: shellGeometry(cfg.geometry, pts.n), pass: cfg.pass })), { probe, seed: 1 });
  try {
    // One run to compile the pipelines, then timed runs.
    await runPasses(sim, pts, cfg, 1);
    const runs: WaterFillingResults[] = [];
    for (let r = 0; r < 3; r++) runs.push(await runPasses(sim, pts, cfg, 1));
    const pps = runs.map((x) => x.pointsPerSecond).sort((a, b) => a - b)[1]!;
    const name = `webgpu compat N=${pts.n}, 25 passes`;
    log2(`${name}: ${(pps / 1e6).toFixed(3)} M points/s on ${probe.info.name} (${probe.info.type})`);
    return {
      result: { name, unit: 'points/s', value: pps, note: `${probe.info.name} (${probe.info.type})` },
      details: { webgpuAdapter: `${probe.info.name} (${probe.info.type})`, webgpuRuns: runs.map((x) => ({ pointsPerSecond: Math.round(x.pointsPerSecond), promotions: x.promotions, lateralMoves: x.lateralMoves, ...x.timing })) },
    };
  } finally {
    await sim.close();
  }
}

export async function run(opts: { quick: boolean }): Promise<SuiteReport> {
  const n = opts.quick ? 100_000 : 500_000;
  const dim = 256;
  const t0 = performance.now();
  const pts = syntheticPoints({ n, dim, data: 'clustered', seed: 1 });
  log(`water-filling bench: clustered N = ${n}, D = ${dim} (made in ${((performance.now() - t0) / 1000).toFixed(1)} s, not timed)`);

  const sims = {
    c1: await cpuSim(pts, 'compat', 1),
    c2: await cpuSim(pts, 'compat', 2),
    b2: await cpuSim(pts, 'balanced', 2),
    s1: await cpuSim(pts, 'compat', 1, true),
    s2: await cpuSim(pts, 'compat', 2, true),
  };
  const last: Record<string, WaterFillingResults> = {};
  const runs: Record<string, WaterFillingResults[]> = {};
  const warmed = new Set<string>();
  const breakdown: Record<string, Record<string, number>> = {};
  const caseOf = (name: string, sim: Simulation, mode: 'compat' | 'balanced'): NamedCase => ({
    name,
    fn: async () => {
      const before = sim.timings.map((t) => ({ kernelMs: t.kernelMs, indexMs: t.indexMs }));
      const r = await runPasses(sim, pts, config(mode), 1);
      last[name] = r;
      // The first call of each case is tinybench's warm-up: kept out of the figures.
      if (warmed.has(name)) (runs[name] ??= []).push(r);
      else warmed.add(name);
      breakdown[name] = phaseBreakdown(sim, before, r.passes);
    },
  });
  const cases = [
    caseOf('compat 1 worker', sims.c1, 'compat'),
    caseOf('compat 2 workers', sims.c2, 'compat'),
    caseOf('balanced 2 workers', sims.b2, 'balanced'),
    caseOf('compat 1 worker, sorted sample index', sims.s1, 'compat'),
    caseOf('compat 2 workers, sorted sample index', sims.s2, 'compat'),
  ];
  let stats;
  try {
    stats = await timeInterleaved(cases, { timeMs: opts.quick ? 3000 : 12_000, iterations: opts.quick ? 2 : 4, warmupIterations: 1, async: true }, 2);
  } finally {
    for (const s of Object.values(sims)) await s.close();
  }
  // Figures by the scenario's definition (N / (placement + passes), from each run's own timing): the
  // tinybench sample also holds the run's end-of-run figures (final counts, angular dispersion over N
  // points), which pointsPerSecond leaves out; its rate is in details as wallPointsPerSecond.
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pps = (name: string): number => median(runs[name]!.map((r) => r.pointsPerSecond));
  const results: BenchResult[] = [];
  const [c1, c2, b2, s1, s2] = stats as [(typeof stats)[0], (typeof stats)[0], (typeof stats)[0], (typeof stats)[0], (typeof stats)[0]];
  results.push({ name: `compat N=${n}, 25 passes, 1 worker`, unit: 'points/s', value: pps('compat 1 worker'), samples: runs['compat 1 worker']!.length, rmePercent: c1.rmePercent, foreignCores: c1.foreignCores });
  results.push({ name: `compat N=${n}, 25 passes, 2 workers`, unit: 'points/s', value: pps('compat 2 workers'), samples: runs['compat 2 workers']!.length, rmePercent: c2.rmePercent, foreignCores: c2.foreignCores });
  const bal = last['balanced 2 workers']!;
  const balMs = median(runs['balanced 2 workers']!.map((r) => r.timing.placementMs + r.timing.passesMs));
  results.push({ name: `balanced N=${n}, 2 workers, time to convergence`, unit: 'ms', value: balMs, samples: runs['balanced 2 workers']!.length, rmePercent: b2.rmePercent, foreignCores: b2.foreignCores, note: `${bal.passes} passes, ${bal.stopReason}` });
  // The path before the reductions-only index (Point.sample sorted although the shells read only its
  // reductions), timed interleaved with the rows above.
  results.push({ name: `compat N=${n}, 25 passes, 1 worker, sorted sample index (before)`, unit: 'points/s', value: pps('compat 1 worker, sorted sample index'), samples: runs['compat 1 worker, sorted sample index']!.length, rmePercent: s1.rmePercent, foreignCores: s1.foreignCores });
  results.push({ name: `compat N=${n}, 25 passes, 2 workers, sorted sample index (before)`, unit: 'points/s', value: pps('compat 2 workers, sorted sample index'), samples: runs['compat 2 workers, sorted sample index']!.length, rmePercent: s2.rmePercent, foreignCores: s2.foreignCores });
  for (const r of results) log(`${r.name}: ${r.unit === 'points/s' ? `${(r.value / 1e6).toFixed(3)} M points/s` : `${r.value.toFixed(1)} ms`} (foreign load ${r.foreignCores?.toFixed(2) ?? '?'} cores)`);
  const gpu = await webgpuCase(pts, log);
  if (gpu.result) results.push(gpu.result);
  const comp = last['compat 2 workers']!;
  return {
    suite: 'water-filling',
    env: { node: process.version, cpus: os.availableParallelism(), backend: gpu.result ? 'cpu+webgpu' : 'cpu', adapter: gpu.result?.note ?? null, workers: [1, 2] },
    results,
    ratios: { twoWorkerSpeedup: results[1]!.value / results[0]!.value, vsOriginalCpu: results[1]!.value / 170_000, reduceOnlyVsSorted1: results[0]!.value / results[3]!.value, reduceOnlyVsSorted2: results[1]!.value / results[4]!.value },
    details: {
      wallPointsPerSecond: { '1 worker': n / (c1.medianMs / 1000), '2 workers': n / (c2.medianMs / 1000) },
      balancedPasses: runs['balanced 2 workers']!.map((r) => r.passes),
      compat: { passes: comp.passes, promotions: comp.promotions, lateralMoves: comp.lateralMoves, overloadFirst: comp.overloadTrajectory[0], overloadLast: comp.overloadTrajectory.at(-1), timing: comp.timing },
      balanced: { passes: bal.passes, stopReason: bal.stopReason, overloadFirst: bal.overloadTrajectory[0], finalOverload: bal.finalOverload, timing: bal.timing },
      msPerPass: breakdown,
      machine: machineFacts(),
      ...gpu.details,
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  void run({ quick }).then((r) => process.stdout.write(JSON.stringify(r, null, 1) + '\n'));
}
