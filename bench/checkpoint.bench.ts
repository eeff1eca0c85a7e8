/**
 * Suite `checkpoint`: how long a checkpoint takes to save and to load at 10M actors (issue 6 target:
 * ≤ 2 s each way), 1M with --quick.
 *
 * The model is one kind, `Particle`, with four f32 columns (x, y, vx, vy): 160 MB of state at 10M.
 * It runs one step first (so parity is flipped and the current buffer is buffer 1), then each sample:
 * - save: `saveCheckpoint` with fsync (hash every column, write, fsync, manifest, rename);
 * - load: `loadCheckpoint` (every check, read every file into a fresh buffer, verify SHA-256);
 * - restore: `Simulation.restore` into a second simulation (copy into its SharedArrayBuffers);
 * - background: `beginCheckpoint` (what `--checkpoint-every` uses): how long the step loop is held
 *   (until the column files are written) and when the checkpoint is durable (fsync, manifest, rename);
 * the restored state's checksum is checked against the saved one's, outside the timing.
 * The load reads files just written, so it is served from the page cache: it measures the loader's
 * own cost (checks, copies, hashing), not the disk. The figure is the median of the samples.
 *
 *   simloom bench checkpoint [--quick] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KernelRegistration } from '../src/kernel.js';
import { compileModel, defineActor, defineModel } from '../src/model.js';
import { moduleUrl } from '../src/module-url.js';
import type { BenchReport } from '../sim/cli.js';
import { beginCheckpoint, loadCheckpoint, saveCheckpoint } from '../sim/checkpoint.js';
import { Simulation } from '../sim/simulation.js';

/** The kernel of the bench's kind (this module is also its kernels module): x += vx·dt, y += vy·dt. */
export const kernels: KernelRegistration[] = [
  {
    kernel: 'checkpointBench.drift',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const { x, y, vx, vy } = ctx.state;
      const nx = ctx.next.x!;
      const ny = ctx.next.y!;
      for (let i = start; i < end; i++) {
        nx[i] = x![i]! + vx![i]! * ctx.dt;
        ny[i] = y![i]! + vy![i]! * ctx.dt;
      }
    },
  },
];

function model(n: number) {
  const Particle = defineActor({
    name: 'Particle',
    kernels: moduleUrl(import.meta.url, './checkpoint.bench'),
    state: { x: { type: 'f32' }, y: { type: 'f32' }, vx: { type: 'f32' }, vy: { type: 'f32' } },
    functions: { drift: { kernel: 'checkpointBench.drift', reads: ['x', 'y', 'vx', 'vy'], writes: ['x', 'y'] } },
  });
  return defineModel({ name: 'checkpoint_bench', actors: [Particle], population: { Particle: { capacity: n } }, dt: 0.01 });
}

interface Row {
  name: string;
  unit: string;
  value: number;
  note?: string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function run({ quick }: { quick: boolean }): Promise<BenchReport & { results: Row[]; details: Record<string, unknown> }> {
  const n = quick ? 1_000_000 : 10_000_000;
  const samples = quick ? 2 : 3;
  const label = quick ? '1M' : '10M';
  const spec = compileModel(model(n));
  const source = await Simulation.create(spec, { workers: 1, seed: 1 });
  const target = await Simulation.create(spec, { workers: 1, seed: 1 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'simloom-bench-checkpoint-'));
  const save: number[] = [];
  const load: number[] = [];
  const restore: number[] = [];
  const held: number[] = [];
  const durable: number[] = [];
  let bytes = 0;
  try {
    const s = source.state('Particle');
    for (let i = 0; i < n; i++) {
      s.x![i] = (i % 1000) * 0.5;
      s.y![i] = Math.floor(i / 1000) * 0.5;
      s.vx![i] = ((i * 7) % 13) - 6;
      s.vy![i] = ((i * 5) % 11) - 5;
    }
    source.run(1);
    const expected = source.checksum();
    // One warm-up round (first touches of the page cache and of the target's memory), then the samples.
    for (let k = -1; k < samples; k++) {
      const t0 = performance.now();
      const saved = await saveCheckpoint(source, dir, { scenario: null, backend: 'cpu', workers: 1 });
      const t1 = performance.now();
      const snap = await loadCheckpoint(saved.dir, spec);
      const t2 = performance.now();
      target.restore(snap);
      const t3 = performance.now();
      if (target.checksum() !== expected) throw new Error('checkpoint bench: the restored state differs from the saved one');
      bytes = saved.bytes;
      const t4 = performance.now();
      const pending = await beginCheckpoint(source, path.join(dir, 'background'), { scenario: null, backend: 'cpu', workers: 1 });
      const t5 = performance.now();
      await pending.done;
      const t6 = performance.now();
      if (k < 0) continue;
      save.push((t1 - t0) / 1000);
      load.push((t2 - t1) / 1000);
      restore.push((t3 - t2) / 1000);
      held.push((t5 - t4) / 1000);
      durable.push((t6 - t4) / 1000);
      log(
        `checkpoint ${label}: sample ${k + 1}/${samples}: save ${(t1 - t0).toFixed(0)} ms, load ${(t2 - t1).toFixed(0)} ms, restore ${(t3 - t2).toFixed(0)} ms; ` +
          `background: loop held ${(t5 - t4).toFixed(0)} ms, durable after ${(t6 - t4).toFixed(0)} ms`,
      );
    }
  } finally {
    await Promise.all([source.close(), target.close()]);
    await rm(dir, { recursive: true, force: true });
  }
  const mb = bytes / 1e6;
  const saveS = median(save);
  const loadS = median(load);
  const restoreS = median(restore);
  const results: Row[] = [
    { name: `save ${label} actors (4 f32 columns, fsync)`, unit: 's', value: saveS },
    { name: `load ${label} actors (checks, read, SHA-256)`, unit: 's', value: loadS, note: 'files served from the page cache (just written)' },
    { name: `restore ${label} actors into a simulation`, unit: 's', value: restoreS },
    { name: `load + restore ${label} actors`, unit: 's', value: loadS + restoreS },
    { name: `background checkpoint ${label}: step loop held`, unit: 's', value: median(held), note: 'beginCheckpoint, as --checkpoint-every uses it' },
    { name: `background checkpoint ${label}: durable after`, unit: 's', value: median(durable) },
    { name: 'checkpoint size', unit: 'MB', value: mb },
    { name: 'save throughput', unit: 'MB/s', value: mb / saveS },
    { name: 'load + restore throughput', unit: 'MB/s', value: mb / (loadS + restoreS) },
  ];
  return {
    suite: 'checkpoint',
    env: { node: process.version, cpus: os.availableParallelism(), backend: 'cpu', adapter: null, workers: 1 },
    results,
    // Fractions of the 2 s target of issue 6 (≤ 1 meets it); meaningful at 10M, not with --quick.
    ratios: { saveOfTarget: saveS / 2, loadRestoreOfTarget: (loadS + restoreS) / 2 },
    details: { actors: n, samples, tmpdir: os.tmpdir(), saveS: save, loadS: load, restoreS: restore, backgroundHeldS: held, backgroundDurableS: durable },
  };
}
