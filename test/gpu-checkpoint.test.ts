/**
 * Checkpoints of a webgpu run (issue 6, docs/checkpoints.md): `GpuSimulation.snapshot()` downloads the
 * state and writes the same checkpoint format as the CPU; `restore()` uploads it. The tests:
 * - the parity model (every delivery kind, a u8 column, a graph with an f32 field): a GPU checkpoint
 *   goes through the untrusted loader and back onto a fresh GPU simulation, which then steps exactly
 *   like the one that was saved; the saved graph equals the edges sorted by source on the host (an
 *   oracle computed here, not read from the GPU); restored onto the CPU it hashes to the GPU's
 *   checksum (the same hash over the same bytes);
 * - circles (f32) and deliveries (integer state) through runScenario/resumeRun: 2N steps on webgpu vs
 *   N + checkpoint + resume N on webgpu: the same stateChecksum; the GPU checkpoint resumed on the CPU
 *   completes, validates, and agrees with the CPU within the parity tolerances of
 *   test/parity-circles.test.ts and test/parity-deliveries.test.ts.
 * - SIGINT during `simloom run --backend webgpu` (the built CLI, spawned): the step finishes, a
 *   checkpoint is written and named, exit 0; `simloom resume` of it runs on the GPU by default and
 *   ends with the checksum of the uninterrupted GPU run.
 * Without an adapter every suite is skipped visibly, with the reason in its name. The CLI test builds
 * dist/ only when dist/sim/cli.js is missing (`npm test` builds first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../src/model.js';
import { loadCheckpoint, saveCheckpoint } from '../sim/checkpoint.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { REDUCE_TOLERANCE } from '../sim/gpu/primitives.js';
import { resumeRun, runScenario } from '../sim/run.js';
import type { RunSummary } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';
import { parityInit, parityModel } from './fixtures/parity/model.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-gpu-ckpt-'));
let dirs = 0;
const fresh = (what: string): string => path.join(tmp, `${what}-${dirs++}`);
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  if (probe.ok) probe.destroy();
});

const POINTS = 300;
const BOXES = 5;
const SEED = 5;

describe.skipIf(!probe.ok)(`GpuSimulation snapshot and restore (parity model)${reason}`, () => {
  const device = probe.ok ? probe : undefined;
  const spec = compileModel(parityModel(POINTS, BOXES));
  const init = (sim: GpuSimulation | Simulation): void => {
    const d = parityInit(POINTS, BOXES, SEED);
    const p = sim.state('P');
    p.x!.set(d.x);
    p.y!.set(d.y);
    p.z!.set(d.z);
    p.grp!.set(d.grp);
    p.val!.set(d.val);
    sim.setGraph('links', d.src, d.dst, { weight: d.weight });
  };

  it('a GPU checkpoint loads through the untrusted loader and steps on exactly like the run it came from', async () => {
    const a = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
    const b = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
    try {
      init(a);
      await a.run(4);
      const saved = await saveCheckpoint(a, fresh('parity'), { backend: 'webgpu', adapter: a.adapter, fsync: false });
      expect(saved.manifest).toMatchObject({ step: 4, seed: SEED, backend: 'webgpu', adapter: { name: a.adapter.name } });
      const snap = await loadCheckpoint(saved.dir, spec);

      // The graph as saved: the edges sorted stably by source, with their weights (host oracle).
      const d = parityInit(POINTS, BOXES, SEED);
      const order = d.src.map((_, e) => e).sort((e1, e2) => d.src[e1]! - d.src[e2]! || e1 - e2);
      const g = snap.graphs[0]!;
      expect(g.edges).toBe(d.src.length);
      expect([...g.src]).toEqual(order.map((e) => d.src[e]));
      expect([...g.dst]).toEqual(order.map((e) => d.dst[e]));
      expect([...g.fields.weight!]).toEqual(order.map((e) => Math.fround(d.weight[e]!)));
      // The u8 column comes back in its own width, and it is not all zeros (absorb wrote it).
      const mark = snap.columns.find((c) => c.key === 'P.state.mark')!;
      expect(mark.data).toBeInstanceOf(Uint8Array);
      expect(mark.data.some((v) => v !== 0)).toBe(true);

      // Into a simulation that has run steps of its own (odd: its parities are flipped) and is ahead.
      init(b);
      await b.run(3);
      b.restore(snap);
      expect(b.step).toBe(4);
      expect(await b.checksum()).toBe(await a.checksum());
      // Steps 4..10 include a jiggle (every 3, offset 1: step 7) and draw from the RNG at every step.
      await a.run(6);
      await b.run(6);
      const ca = await a.checksum();
      expect(await b.checksum()).toBe(ca);
      await a.sync();
      await b.sync();
      for (const kind of ['P', 'B']) {
        const sa = a.state(kind);
        const sb = b.state(kind);
        for (const f of Object.keys(sa)) expect(Buffer.from(sb[f]!.buffer).equals(Buffer.from(sa[f]!.buffer)), `${kind}.${f}`).toBe(true);
      }

      // Onto the CPU: the same bytes, so the same checksum, and the same graph as stored.
      const cpu = await Simulation.create(spec, { workers: 1, seed: SEED });
      try {
        cpu.restore(snap);
        expect(cpu.checksum()).toBe(await GpuSimulation.create(spec, { seed: SEED, probe: device! }).then(async (c) => {
          try {
            c.restore(snap);
            return await c.checksum();
          } finally {
            await c.close();
          }
        }));
        const back = cpu.snapshot().graphs[0]!;
        expect([...back.src]).toEqual([...g.src]);
        expect([...back.fields.weight!]).toEqual([...g.fields.weight!]);
      } finally {
        await cpu.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('restore refuses a snapshot of another seed and leaves the simulation as it was', async () => {
    const a = await GpuSimulation.create(spec, { seed: SEED, probe: device! });
    const other = await GpuSimulation.create(spec, { seed: SEED + 1, probe: device! });
    try {
      init(a);
      init(other);
      await a.run(2);
      await other.run(1);
      const before = await other.checksum();
      const snap = await a.snapshot();
      expect(() => other.restore(snap)).toThrow(/taken with seed 5 but this simulation has seed 6; create the simulation with \{ seed: 5 \}/);
      expect(other.step).toBe(1);
      expect(await other.checksum()).toBe(before);
    } finally {
      await a.close();
      await other.close();
    }
  });
});

/** Final metrics of a resumed-on-CPU run against the reference: exact unless a tolerance is given. */
function expectMetrics(got: Record<string, number>, want: Record<string, number>, tolerance: Record<string, number>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [k, v] of Object.entries(want)) {
    const tol = tolerance[k];
    if (tol === undefined) expect(got[k], k).toBe(v);
    else expect(Math.abs(got[k]! - v), `${k}: ${got[k]} vs ${v}`).toBeLessThanOrEqual(tol);
  }
}

const CASES = [
  {
    scenario: 'circles',
    set: { n: '1500' },
    steps: 10,
    // f32 on both backends, but a different summation order: within the parity tolerance of
    // test/parity-circles.test.ts (meanDrift: REDUCE_TOLERANCE relative; maxDrift 1e-6 absolute).
    cpuTolerance: (ref: RunSummary): Record<string, number> => ({ meanDrift: REDUCE_TOLERANCE.relative * ref.metrics.meanDrift! + 1e-9, maxDrift: 1e-6 }),
  },
  {
    scenario: 'deliveries',
    set: { n: '1500', hubs: '7' },
    steps: 8,
    // Integer state: every metric exact but the Σ of f32 hub means (test/parity-deliveries.test.ts).
    cpuTolerance: (ref: RunSummary): Record<string, number> => ({ hubMeanTotal: 2 * REDUCE_TOLERANCE.relative * ref.metrics.totalValue! }),
  },
] as const;

describe.skipIf(!probe.ok).each(CASES)(`$scenario: checkpoint on webgpu, resume on webgpu or cpu${reason}`, ({ scenario, set, steps, cpuTolerance }) => {
  const n = steps / 2;

  it(`${steps} steps on webgpu = ${n} + checkpoint + resume ${n} on webgpu (same stateChecksum); resumed on cpu within tolerance`, async () => {
    const reference = await runScenario({ scenario, set, steps, seed: SEED, backend: 'webgpu', recordEvery: 1 });
    expect(reference.status).toBe('completed');
    const first = fresh(`${scenario}-a`);
    const a = await runScenario({ scenario, set, steps: n, seed: SEED, backend: 'webgpu', recordEvery: 1, outDir: first, checkpointAtEnd: true });
    expect(a.checkpoint).toBe(path.join(first, 'checkpoints', `step-${n}`));
    const manifest = JSON.parse(readFileSync(path.join(a.checkpoint!, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ scenario, backend: 'webgpu', workers: 0, step: n, seed: SEED, adapter: { name: reference.adapter!.name } });

    // By default the checkpoint goes back onto the GPU.
    const b = await resumeRun({ checkpoint: first, steps: n, recordEvery: 1, outDir: fresh(`${scenario}-b`) });
    expect(b.backend).toBe('webgpu');
    expect(b.status).toBe('completed');
    expect(b.steps).toBe(steps);
    expect(b.validation).toEqual({ ok: true, problems: [] });
    expect(b.stateChecksum).toBe(reference.stateChecksum);
    expect(b.metrics).toEqual(reference.metrics);

    // --backend cpu: the same checkpoint onto the CPU, compared with an all-CPU run of `steps`.
    const cpuRef = await runScenario({ scenario, set, steps, seed: SEED, backend: 'cpu', workers: 1, recordEvery: 1 });
    const c = await resumeRun({ checkpoint: a.checkpoint!, steps: n, backend: 'cpu', workers: 2, recordEvery: 1, outDir: fresh(`${scenario}-c`) });
    expect(c.backend).toBe('cpu');
    expect(c.status).toBe('completed');
    expect(c.steps).toBe(steps);
    expect(c.validation).toEqual({ ok: true, problems: [] });
    expectMetrics(c.metrics, cpuRef.metrics, cpuTolerance(cpuRef));
  });
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/sim/cli.js');

function simloom(args: string[]): { kill(sig: NodeJS.Signals): void; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [cli, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { kill: (sig) => child.kill(sig), done };
}

describe.skipIf(!probe.ok)(`SIGINT during simloom run --backend webgpu${reason}`, () => {
  beforeAll(() => {
    if (!existsSync(cli)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  });

  it('writes a checkpoint of the last step and exits 0; resume puts it back on the GPU and ends where the uninterrupted run ends', async () => {
    const out = fresh('sigint');
    const run = simloom(['run', 'circles', '--set', 'n=1000', '--backend', 'webgpu', '--steps', '100000', '--seed', '7', '--out', out, '--checkpoint-every', '5', '--no-progress']);
    const t0 = Date.now();
    while (!existsSync(path.join(out, 'checkpoints', 'step-5'))) {
      if (Date.now() - t0 > 90_000) throw new Error('no checkpoint step-5 within 90 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backend webgpu on /);
    const m = /^circles: aborted by SIGINT after step (\d+); checkpoint (\S+) \(continue with: simloom resume \S+\)$/.exec(r.stdout.trim());
    expect(m, r.stdout).not.toBeNull();
    const step = Number(m![1]);
    expect(m![2]).toBe(path.join(out, 'checkpoints', `step-${step}`));
    const manifest = JSON.parse(readFileSync(path.join(m![2]!, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ scenario: 'circles', backend: 'webgpu', step, seed: 7 });

    const resumed = simloom(['resume', m![2]!, '--steps', '3', '--out', fresh('sigint-resumed'), '--json', '--no-progress']);
    const rr = await resumed.done;
    expect(rr.code, rr.stderr).toBe(0);
    expect(rr.stderr).toMatch(/^circles: backend webgpu on /m);
    const summary = JSON.parse(rr.stdout.trim().split('\n').at(-1)!) as RunSummary;
    expect(summary).toMatchObject({ status: 'completed', backend: 'webgpu', steps: step + 3, resumedFrom: { step } });
    const reference = await runScenario({ scenario: 'circles', set: { n: '1000' }, steps: step + 3, seed: 7, backend: 'webgpu' });
    expect(summary.stateChecksum).toBe(reference.stateChecksum);
  });
});
