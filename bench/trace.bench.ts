/**
 * Suite `trace`: what `--trace` costs (issue 7 target: ≤ 3 % at circles n = 100K on 2 workers;
 * n = 20K with --quick).
 *
 * Two simulations of the same model run side by side in one process, one untraced and one traced
 * into a real trace.json (rings, drain, JSON, file writes: everything `simloom run --trace` does per
 * step). Samples alternate between them in ABBA order, each sample `stepsPerSample` steps, so that a
 * burst of load from another process on this shared machine hits both alike. The overhead is the
 * median of the paired ratios (traced / untraced, adjacent samples) minus one; the medians of each
 * side are reported too. Idle simulations cost nothing meanwhile: their workers sleep in Atomics.wait.
 *
 * Alongside, two figures that no load can blur: the tracer's own host time per step (drain, JSON,
 * writes; measured by the tracer) and the cost of one record on a thread (a tight loop of
 * TraceWriter.slice with its clock reads).
 *
 *   simloom bench trace [--quick] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileModel, type ModelSpec } from '../src/model.js';
import type { BenchReport } from '../sim/cli.js';
import { loadScenario, parseParams } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';
import { EV, Tracer, TraceWriter } from '../sim/trace.js';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** ns per TraceWriter.slice with two clock reads, as a kernel's wrapper pays it. */
function recordCost(spec: ModelSpec): number {
  const t = new Tracer(spec, { file: null, capacity: 1 << 16 });
  t.allocate(1);
  const w = new TraceWriter(t.threadInit(0));
  const n = 1 << 16;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const a = w.now();
      w.slice(EV.kernel, 0, i, a, w.now());
    }
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
    t.endStep(round, null);
  }
  t.close();
  return best;
}

export async function run({ quick }: { quick: boolean }): Promise<BenchReport & { details: Record<string, unknown> }> {
  const n = quick ? 20_000 : 100_000;
  const workers = 2;
  const stepsPerSample = quick ? 2 : 3;
  const pairs = quick ? 4 : 12;
  const scenario = await loadScenario('circles');
  const setup = scenario.setup(parseParams(scenario, { n: String(n) }));
  const spec = compileModel(setup.model);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'simloom-trace-bench-'));
  const tracer = new Tracer(spec, { file: path.join(dir, 'trace.json'), meta: { scenario: 'circles', bench: 'trace' } });
  const off = await Simulation.create(spec, { workers, seed: 1 });
  const on = await Simulation.create(spec, { workers, seed: 1, tracer });
  const load0 = os.loadavg()[0]!;
  const offMs: number[] = [];
  const onMs: number[] = [];
  const ratios: number[] = [];
  try {
    await setup.init(off);
    await setup.init(on);
    // Warm-up: JIT of kernels and of the tracer's drain.
    off.run(2);
    on.run(2);
    const sample = (sim: Simulation): number => {
      const t0 = performance.now();
      sim.run(stepsPerSample);
      return (performance.now() - t0) / stepsPerSample;
    };
    for (let p = 0; p < pairs; p++) {
      // ABBA: off,on then on,off, so that neither side always runs second.
      let a: number;
      let b: number;
      if (p % 2 === 0) {
        a = sample(off);
        b = sample(on);
      } else {
        b = sample(on);
        a = sample(off);
      }
      offMs.push(a);
      onMs.push(b);
      ratios.push(b / a);
      process.stderr.write(`trace bench: pair ${p + 1}/${pairs}: off ${a.toFixed(1)} ms/step, on ${b.toFixed(1)} ms/step\n`);
    }
    if (off.checksum() !== on.checksum()) throw new Error('traced and untraced simulations diverged: tracing changed the state');
  } finally {
    await off.close();
    await on.close();
  }
  const totals = tracer.close();
  rmSync(dir, { recursive: true, force: true });
  const perRecordNs = recordCost(spec);
  const load1 = os.loadavg()[0]!;
  const overhead = (median(ratios) - 1) * 100;
  const offMed = median(offMs);
  const onMed = median(onMs);
  const eventsPerStep = totals.steps > 0 ? totals.events / totals.steps : 0;
  const results = [
    { name: `circles n=${n}, ${workers} workers, trace off`, unit: 'ms/step', value: offMed },
    { name: `circles n=${n}, ${workers} workers, trace on`, unit: 'ms/step', value: onMed },
    { name: 'tracing overhead (median of paired ratios)', unit: '%', value: overhead },
    { name: 'tracer host time per step (drain, JSON, write)', unit: 'µs', value: totals.drainUsPerStep },
    { name: 'tracer host time, share of a traced step', unit: '%', value: (totals.drainUsPerStep / 1000 / onMed) * 100 },
    { name: 'trace events per step', unit: 'events', value: eventsPerStep },
    { name: 'one record on a thread (two clock reads + stores)', unit: 'ns', value: perRecordNs },
  ];
  return {
    suite: 'trace',
    env: { node: process.version, cpus: os.availableParallelism(), backend: 'cpu', adapter: null, workers },
    results,
    ratios: { 'trace on / off (median of pairs)': median(ratios), 'trace on / off (medians)': onMed / offMed },
    details: {
      n,
      stepsPerSample,
      pairs,
      offMs,
      onMs,
      ratios,
      droppedEvents: totals.droppedEvents,
      loadAverage: { before: load0, after: load1 },
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      target: 'overhead ≤ 3 %',
    },
  };
}
