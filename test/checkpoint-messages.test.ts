/**
 * Message buffers in checkpoints (issue 6): an array message written every 3rd step and read at every
 * step carries values from one step into later ones, so a checkpoint taken between two writes must
 * hold it (sim/checkpoint.ts, carriedMessages). The model is test/fixtures/carried; its `acc` after s
 * steps follows by hand (expectedAcc), which is the oracle, together with the uninterrupted run.
 *
 * - the model's state after 10 steps equals the hand computation (CPU and GPU);
 * - 10 steps = 5 + checkpoint + resume 5 (the first resumed step reads the board of step 3), on 1 and
 *   2 workers both ways, and on the GPU (GPU → GPU and GPU → CPU);
 * - without the board, a restored run reads zeros and ends elsewhere: the checkpoint is needed;
 * - a checkpoint whose manifest lacks the board is refused, naming the message and why.
 * Models without carried messages (every shipped scenario) write the manifest they always did.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import circles from '../scenarios/circles.js';
import deliveries from '../scenarios/deliveries.js';
import { compileModel } from '../src/model.js';
import { carriedMessages, CheckpointError, loadCheckpoint, restoreSnapshot, saveCheckpoint } from '../sim/checkpoint.js';
import { GpuSimulation } from '../sim/gpu/backend.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { resumeRun, runScenario } from '../sim/run.js';
import { parseParams } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';
import { carriedModel, carriedScenario, expectedAcc } from './fixtures/carried/model.js';
import { parityModel } from './fixtures/parity/model.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-ckpt-messages-'));
let dirs = 0;
const fresh = (what: string): string => path.join(tmp, `${what}-${dirs++}`);
const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  if (probe.ok) probe.destroy();
});

const PUBS = 5;
const SUBS = 40;
const SEED = 3;
const spec = compileModel(carriedModel(PUBS, SUBS));
const expected = (steps: number): number[] => Array.from({ length: SUBS }, (_, j) => expectedAcc(j, steps, PUBS));

describe('which messages a checkpoint holds', () => {
  it('an array message whose writer runs every 3 steps is carried; messages written every step are not', () => {
    expect(carriedMessages(spec).map((m) => m.name)).toEqual(['Pub.board']);
    expect(carriedMessages(compileModel(parityModel(50, 3)))).toEqual([]);
    expect(carriedMessages(compileModel(deliveries.setup(parseParams(deliveries, { n: '100', hubs: '4' })).model))).toEqual([]);
    expect(carriedMessages(compileModel(circles.setup(parseParams(circles, { n: '100' })).model))).toEqual([]);
  });
});

describe('carried message columns on the CPU', () => {
  it('the model does what the hand computation says (10 steps, 1 and 2 workers)', async () => {
    for (const workers of [1, 2]) {
      const sim = await Simulation.create(spec, { seed: SEED, workers, inlineBelow: 0 });
      try {
        sim.run(10);
        expect([...sim.state('Sub').acc!]).toEqual(expected(10));
      } finally {
        await sim.close();
      }
    }
  });

  it.for([
    [1, 2],
    [2, 1],
  ] as const)('10 steps = 5 on %i worker(s) + checkpoint + resume 5 on %i (the board of step 3 comes back)', async ([w1, w2]) => {
    const reference = await runScenario({ scenario: carriedScenario, steps: 10, workers: 1, seed: SEED });
    const first = fresh('cpu');
    const a = await runScenario({ scenario: carriedScenario, steps: 5, workers: w1, seed: SEED, outDir: first, checkpointAtEnd: true, inlineBelow: 0 });
    const manifest = JSON.parse(readFileSync(path.join(a.checkpoint!, 'manifest.json'), 'utf8')) as { messages?: { key: string; length: number }[] };
    expect(manifest.messages?.map((e) => [e.key, e.length])).toEqual([['Pub.board.columns.val', PUBS]]);
    const b = await resumeRun({ checkpoint: a.checkpoint!, scenario: carriedScenario, steps: 5, workers: w2, inlineBelow: 0 });
    expect(b.stateChecksum).toBe(reference.stateChecksum);
  });

  it('restored without the board, the run reads zeros and ends elsewhere (the checkpoint is needed)', async () => {
    const a = await Simulation.create(spec, { seed: SEED, workers: 1 });
    const b = await Simulation.create(spec, { seed: SEED, workers: 1 });
    const c = await Simulation.create(spec, { seed: SEED, workers: 1 });
    try {
      a.run(5);
      const saved = await saveCheckpoint(a, fresh('bare'), { fsync: false });
      const snap = await loadCheckpoint(saved.dir, spec);
      expect([...snap.messages![0]!.data]).toEqual(Array.from({ length: PUBS }, (_, i) => a.messageColumns('Pub.board').val![i]));
      await restoreSnapshot(b, snap);
      c.restore(snap); // the actor state alone: Simulation.restore does not know carried messages
      expect([...c.messageColumns('Pub.board').val!]).toEqual(new Array<number>(PUBS).fill(0));
      a.run(5);
      b.run(5);
      c.run(5);
      expect([...a.state('Sub').acc!]).toEqual(expected(10));
      expect([...b.state('Sub').acc!]).toEqual(expected(10));
      expect([...c.state('Sub').acc!]).not.toEqual(expected(10));
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });

  it('a checkpoint without the board is refused before anything is read, naming the message and why', async () => {
    const a = await runScenario({ scenario: carriedScenario, steps: 4, workers: 1, seed: SEED, outDir: fresh('strip'), checkpointAtEnd: true });
    const file = path.join(a.checkpoint!, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as { messages?: unknown };
    delete m.messages;
    writeFileSync(file, JSON.stringify(m));
    rmSync(path.join(a.checkpoint!, 'Pub.board.columns.val.bin'));
    const err = await loadCheckpoint(a.checkpoint!, spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(
      /message column Pub\.board\.columns\.val is missing from messages \(array message 'Pub\.board' is written by Pub\.publish \(every 3 steps\) and keeps its values between writes, so the steps after a resume read it\); the checkpoint was written without it/,
    );
    await expect(resumeRun({ checkpoint: a.checkpoint!, scenario: carriedScenario, steps: 1, workers: 1 })).rejects.toThrow(/Pub\.board/);
  });
});

describe('the loader treats message entries as untrusted', () => {
  it.for([
    ['an oversized length', (e: Record<string, unknown>) => Object.assign(e, { length: 1e9, bytes: 4e9 }), /messages\[0\]: Pub\.board\.columns\.val has length 1000000000, expected 5/],
    ['a path in the file name', (e: Record<string, unknown>) => Object.assign(e, { file: '../Sub.state.acc.bin' }), /names file "\.\.\/Sub\.state\.acc\.bin", expected "Pub\.board\.columns\.val\.bin"/],
    ['a state column as a message', (e: Record<string, unknown>) => Object.assign(e, { key: 'Sub.state.acc' }), /messages\[0\] has key "Sub\.state\.acc", which is not a column of a message that model 'carried' carries across steps/],
    ['another dtype', (e: Record<string, unknown>) => Object.assign(e, { dtype: 'f32' }), /Pub\.board\.columns\.val is f32 but the model declares u32/],
  ] as const)('refuses %s', async ([, edit, re]) => {
    const a = await runScenario({ scenario: carriedScenario, steps: 2, workers: 1, seed: SEED, outDir: fresh('fuzz'), checkpointAtEnd: true });
    const file = path.join(a.checkpoint!, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as { messages: Record<string, unknown>[] };
    edit(m.messages[0]!);
    writeFileSync(file, JSON.stringify(m));
    const err = await loadCheckpoint(a.checkpoint!, spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(re);
  });
});

describe.skipIf(!probe.ok)(`carried message columns on webgpu${reason}`, () => {
  it('GPU 10 steps = GPU 5 + checkpoint + resume 5 on the GPU = the hand computation; the GPU checkpoint resumes on the CPU too', async () => {
    const gpu = await GpuSimulation.create(spec, { seed: SEED, probe: probe.ok ? probe : undefined! });
    try {
      await gpu.run(10);
      await gpu.sync();
      expect([...gpu.state('Sub').acc!]).toEqual(expected(10));
    } finally {
      await gpu.close();
    }
    const reference = await runScenario({ scenario: carriedScenario, steps: 10, workers: 1, seed: SEED });
    const first = fresh('gpu');
    const a = await runScenario({ scenario: carriedScenario, steps: 5, backend: 'webgpu', seed: SEED, outDir: first, checkpointAtEnd: true });
    expect(a.backend).toBe('webgpu');
    const onGpu = await resumeRun({ checkpoint: a.checkpoint!, scenario: carriedScenario, steps: 5 });
    expect(onGpu.backend).toBe('webgpu');
    expect(onGpu.stateChecksum).toBe(reference.stateChecksum);
    const onCpu = await resumeRun({ checkpoint: a.checkpoint!, scenario: carriedScenario, steps: 5, backend: 'cpu', workers: 2, inlineBelow: 0 });
    expect(onCpu.stateChecksum).toBe(reference.stateChecksum);
    // And a CPU checkpoint onto the GPU.
    const cpuFirst = await runScenario({ scenario: carriedScenario, steps: 5, workers: 1, seed: SEED, outDir: fresh('cpu-to-gpu'), checkpointAtEnd: true });
    const toGpu = await resumeRun({ checkpoint: cpuFirst.checkpoint!, scenario: carriedScenario, steps: 5, backend: 'webgpu' });
    expect(toGpu.backend).toBe('webgpu');
    expect(toGpu.stateChecksum).toBe(reference.stateChecksum);
  });
});
