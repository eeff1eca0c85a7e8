/**
 * Checkpoints (ARCHITECTURE §7): save after 100 steps, load into a fresh simulation (no init, on the
 * same or another worker count), run 100 more → the same stateChecksum as 200 uninterrupted steps,
 * for circles and deliveries. Plus the format itself: layout, atomic rename, replace, prune, spec hash,
 * file-name mapping, restore's own checks. The loader's refusals are in checkpoint-fuzz.test.ts.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckError } from '../src/errors.js';
import { compileModel, type ModelSpec } from '../src/model.js';
import { loadScenario, parseParams, type ScenarioSetup } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';
import {
  beginCheckpoint,
  CHECKPOINT_FORMAT,
  checkpointFiles,
  CheckpointError,
  canonicalJson,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  readCheckpointManifest,
  saveCheckpoint,
  specHash,
  swapBytes,
} from '../sim/checkpoint.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'simloom-ckpt-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function setupOf(scenario: string, set: Record<string, string>): Promise<{ setup: ScenarioSetup; spec: ModelSpec; params: Record<string, number | boolean | string> }> {
  const s = await loadScenario(scenario);
  const params = parseParams(s, set);
  const setup = s.setup(params);
  return { setup, spec: compileModel(setup.model), params };
}

const SEED = 11;
const CASES = [
  { scenario: 'circles', set: { n: '1500' } },
  { scenario: 'deliveries', set: { n: '1500', hubs: '7' } },
] as const;

describe.each(CASES)('$scenario: 100 steps + checkpoint + 100 steps = 200 steps', ({ scenario, set }) => {
  let reference: string;
  let spec: ModelSpec;
  let setup: ScenarioSetup;
  let params: Record<string, number | boolean | string>;

  beforeAll(async () => {
    ({ setup, spec, params } = await setupOf(scenario, set));
    const sim = await Simulation.create(spec, { workers: 1, seed: SEED });
    try {
      await setup.init(sim);
      sim.run(200);
      reference = sim.checksum();
    } finally {
      await sim.close();
    }
  });

  it.each([
    [1, 1],
    [2, 2],
    [1, 2],
    [2, 1],
  ])('saved on %i worker(s), resumed on %i → the uninterrupted checksum', async (saveWorkers, loadWorkers) => {
    const dir = path.join(root, `${scenario}-${saveWorkers}-${loadWorkers}`);
    const a = await Simulation.create(spec, { workers: saveWorkers, seed: SEED, inlineBelow: 0 });
    let at100: string;
    let saved;
    try {
      await setup.init(a);
      a.run(100);
      at100 = a.checksum();
      saved = await saveCheckpoint(a, dir, { scenario, params, workers: saveWorkers, fsync: false });
    } finally {
      await a.close();
    }
    expect(saved.dir).toBe(path.join(dir, 'step-100'));
    expect(saved.manifest.rng).toEqual({ kind: 'counter', seed: SEED, step: 100 });

    // A fresh simulation, without the scenario's init: everything comes from the checkpoint.
    const b = await Simulation.create(spec, { workers: loadWorkers, seed: SEED, inlineBelow: 0 });
    try {
      const snap = await loadCheckpoint(saved.dir, spec);
      expect(snap.manifest.scenario).toBe(scenario);
      b.restore(snap);
      expect(b.step).toBe(100);
      expect(b.checksum(), 'right after restore').toBe(at100);
      b.run(100);
      expect(b.step).toBe(200);
      expect(b.checksum(), `${scenario}: 100 + 100 on ${saveWorkers}→${loadWorkers} workers vs 200 on 1`).toBe(reference);
    } finally {
      await b.close();
    }
  });
});

describe('restore into a simulation that has already run', () => {
  it('deliveries: a simulation 7 steps into its own run, restored at step 100, continues like the uninterrupted run', async () => {
    const { setup, spec } = await setupOf('deliveries', { n: '800', hubs: '5' });
    const ref = await Simulation.create(spec, { workers: 1, seed: SEED });
    const used = await Simulation.create(spec, { workers: 2, seed: SEED, inlineBelow: 0 });
    try {
      await setup.init(ref);
      ref.run(100);
      const snap = ref.snapshot();
      const copy = { ...snap, columns: snap.columns.map((c) => ({ ...c, data: c.data.slice() })), graphs: snap.graphs.map((g) => ({ ...g, src: g.src.slice(), dst: g.dst.slice() })) };
      await setup.init(used);
      used.run(7);
      used.restore(copy);
      ref.run(50);
      used.run(50);
      expect(used.checksum()).toBe(ref.checksum());
    } finally {
      await Promise.all([ref.close(), used.close()]);
    }
  });
});

describe('format', () => {
  it('writes step-<N>/ with manifest.json and one <key>.bin per column, and no temporary directory', async () => {
    const { setup, spec, params } = await setupOf('deliveries', { n: '200', hubs: '4' });
    const sim = await Simulation.create(spec, { workers: 1, seed: 3 });
    const dir = path.join(root, 'format');
    try {
      await setup.init(sim);
      sim.run(4);
      const saved = await saveCheckpoint(sim, dir, { scenario: 'deliveries', params, createdAt: '2025-01-01T00:00:00.000Z' });
      const names = (await readdir(saved.dir)).sort();
      const files = [...checkpointFiles(spec).values()].map((f) => f.file);
      expect(names).toEqual(['manifest.json', ...files].sort());
      expect(await readdir(dir)).toEqual(['step-4']);
      const m = JSON.parse(await readFile(path.join(saved.dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
      expect(m.format).toBe(CHECKPOINT_FORMAT);
      expect(m.specHash).toBe(specHash(spec));
      expect(m).toMatchObject({ step: 4, seed: 3, rng: { kind: 'counter', seed: 3, step: 4 }, scenario: 'deliveries', backend: 'cpu', createdAt: '2025-01-01T00:00:00.000Z', counts: { Node: 200, Hub: 4 } });
      const col = (m.columns as { key: string; dtype: string; length: number; bytes: number; file: string }[]).find((c) => c.key === 'Node.state.sentAddrLo')!;
      expect(col).toMatchObject({ dtype: 'u32', length: 200, bytes: 800, file: 'Node.state.sentAddrLo.bin' });
      // The file is the raw little-endian column.
      const raw = await readFile(path.join(saved.dir, col.file));
      const fromFile = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      expect(Array.from(fromFile)).toEqual(Array.from(sim.state('Node').sentAddrLo!.subarray(0, 200)));
      expect(await readCheckpointManifest(saved.dir)).toEqual(saved.manifest);
    } finally {
      await sim.close();
    }
  });

  it('replaces an existing step-<N>, lists and prunes to the last K, and finds the latest', async () => {
    const { setup, spec } = await setupOf('circles', { n: '300' });
    const sim = await Simulation.create(spec, { workers: 1, seed: 5 });
    const dir = path.join(root, 'prune');
    try {
      await setup.init(sim);
      for (let k = 0; k < 5; k++) {
        sim.run(2);
        await saveCheckpoint(sim, dir, { fsync: false });
      }
      // The same step again: replaced, not duplicated.
      const again = await saveCheckpoint(sim, dir, { fsync: false });
      expect((await loadCheckpoint(again.dir, spec)).step).toBe(10);
      // A leftover of a dead writer (pid 2^31 − 2 does not exist) and of a live one (ours).
      await mkdir(path.join(dir, 'step-3.tmp-2147483646'));
      await mkdir(path.join(dir, `step-3.tmp-${process.pid}`));
      // A writer died after moving step-5 aside but before renaming its replacement: step-5 comes back.
      await mkdir(path.join(dir, 'step-5.old-2147483646'));
      expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([2, 4, 6, 8, 10]);
      const removed = await pruneCheckpoints(dir, 2);
      expect(removed.map((p) => path.basename(p)).sort()).toEqual(['step-2', 'step-3.tmp-2147483646', 'step-4', 'step-5', 'step-6']);
      expect((await readdir(dir)).sort()).toEqual(['step-10', `step-3.tmp-${process.pid}`, 'step-8']);
      expect(await latestCheckpoint(dir)).toBe(path.join(dir, 'step-10'));
      expect(await latestCheckpoint(path.join(dir, 'step-8'))).toBe(path.join(dir, 'step-8'));
      await expect(pruneCheckpoints(dir, 0)).rejects.toThrow(/keep must be a positive integer/);
    } finally {
      await sim.close();
    }
  });

  it('specHash is stable under key order and kernel module location, and changes with the model', async () => {
    const { spec } = await setupOf('circles', { n: '1000' });
    const h = specHash(spec);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const moved = { ...spec, kinds: spec.kinds.map((k) => ({ ...k, kernels: k.kernels.replace(/\.ts$/, '.js').replace('/work/', '/elsewhere/') })) };
    expect(specHash(moved)).toBe(h);
    const reordered = Object.fromEntries(Object.entries(spec).reverse()) as unknown as ModelSpec;
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(spec)[0]);
    expect(specHash(reordered)).toBe(h);
    expect(specHash((await setupOf('circles', { n: '1001' })).spec)).not.toBe(h);
    expect(specHash((await setupOf('circles', { n: '1000', repulse: '0.06' })).spec)).not.toBe(h);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
  });

  it('pins the spec hash of a fixed small model (a change invalidates every checkpoint: bump the format)', () => {
    const spec = compileModel({
      name: 'pin',
      actors: [{ name: 'P', kernels: 'file:///x.js', state: { x: { type: 'f32' }, n: { type: 'u32', initial: 2 } }, params: { a: { default: 0.5, description: 'ignored' } }, functions: { f: { kernel: 'p.f', reads: ['x'], writes: ['x'] } } }],
      population: { P: { capacity: 10, count: 4 } },
    });
    expect(specHash(spec)).toBe('adf1068d7eeb6e867c69da9a37567f4e0beb45461ba04b52b6d553f74da8e6b3');
  });

  it('maps keys to file names without separators, and keeps case-folded names apart', () => {
    const spec = compileModel({
      name: 'cases',
      actors: [{ name: 'P', kernels: 'file:///x.js', state: { x: { type: 'f32' }, X: { type: 'f64' } }, functions: {} }],
      population: { P: { capacity: 3 } },
      graphs: { g: { from: 'P', to: 'P', maxEdges: 4, fields: { w: 'f32' } } },
    });
    expect([...checkpointFiles(spec).values()]).toEqual([
      { key: 'P.state.x', dtype: 'f32', file: 'P.state.x.bin' },
      { key: 'P.state.X', dtype: 'f64', file: 'P.state.X~1.bin' },
      { key: 'graph.g.src', dtype: 'u32', file: 'graph.g.src.bin' },
      { key: 'graph.g.dst', dtype: 'u32', file: 'graph.g.dst.bin' },
      { key: 'graph.g.field.w', dtype: 'f32', file: 'graph.g.field.w.bin' },
    ]);
  });

  it('swapBytes reverses every element (the big-endian path)', () => {
    const b = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    swapBytes(b, 4);
    expect(Array.from(b)).toEqual([4, 3, 2, 1, 8, 7, 6, 5]);
    swapBytes(b, 8);
    expect(Array.from(b)).toEqual([5, 6, 7, 8, 1, 2, 3, 4]);
  });
});

describe('beginCheckpoint: the step loop goes on while the checkpoint is made durable', () => {
  it('returns once the columns are written; the simulation steps on; the checkpoint is the one saveCheckpoint writes', async () => {
    const { setup, spec, params } = await setupOf('deliveries', { n: '300', hubs: '5' });
    const sim = await Simulation.create(spec, { workers: 1, seed: 4 });
    const target = await Simulation.create(spec, { workers: 1, seed: 4 });
    try {
      await setup.init(sim);
      sim.run(6);
      const atSix = sim.checksum();
      const meta = { scenario: 'deliveries', params, createdAt: '2025-01-01T00:00:00.000Z' };
      const pending = await beginCheckpoint(sim, path.join(root, 'begin-a'), meta);
      expect(pending).toMatchObject({ step: 6, dir: path.join(root, 'begin-a', 'step-6') });
      // Step on at once (this overwrites the buffers the snapshot viewed), then wait for the files.
      sim.run(3);
      const saved = await pending.done;
      expect(saved.dir).toBe(pending.dir);
      expect(await readdir(path.join(root, 'begin-a'))).toEqual(['step-6']);
      // The oracle: the blocking writer's checkpoint of the same state, and the state's own checksum.
      const other = await Simulation.create(spec, { workers: 1, seed: 4 });
      try {
        await setup.init(other);
        other.run(6);
        const ref = await saveCheckpoint(other, path.join(root, 'begin-b'), meta);
        expect(saved.manifest).toEqual(ref.manifest);
      } finally {
        await other.close();
      }
      target.restore(await loadCheckpoint(saved.dir, spec));
      expect(target.checksum()).toBe(atSix);
    } finally {
      await sim.close();
      await target.close();
    }
  });

  it('a write that fails rejects beginCheckpoint itself with a CheckpointError naming the path', async () => {
    const { setup, spec } = await setupOf('circles', { n: '100' });
    const sim = await Simulation.create(spec, { workers: 1, seed: 4 });
    try {
      await setup.init(sim);
      const blocker = path.join(root, 'begin-blocked');
      await mkdir(path.dirname(blocker), { recursive: true });
      await writeFile(blocker, 'a file where the checkpoints directory should be');
      await expect(beginCheckpoint(sim, blocker)).rejects.toThrow(CheckpointError);
      await expect(beginCheckpoint(sim, blocker)).rejects.toThrow(/begin-blocked.*check the path/);
    } finally {
      await sim.close();
    }
  });
});

describe('restore checks the snapshot before writing', () => {
  it('refuses another seed, a count above capacity, a wrong dtype, a missing column and a bad edge, leaving the state as it was', async () => {
    const { setup, spec } = await setupOf('deliveries', { n: '200', hubs: '4' });
    const a = await Simulation.create(spec, { workers: 1, seed: 3 });
    const b = await Simulation.create(spec, { workers: 1, seed: 3 });
    const c = await Simulation.create(spec, { workers: 1, seed: 4 });
    try {
      await setup.init(a);
      a.run(3);
      await setup.init(b);
      const before = b.checksum();
      const snap = a.snapshot();
      const copy = { ...snap, columns: snap.columns.map((x) => ({ ...x, data: x.data.slice() })) };
      expect(() => c.restore(copy)).toThrow(/seed 3 but this simulation has seed 4; create the simulation with \{ seed: 3 \}/);
      const cases: [string, unknown, RegExp][] = [
        ['count', { ...copy, counts: { ...copy.counts, Hub: 5 } }, /count of Hub must be an integer in \[0, capacity=4\]/],
        ['dtype', { ...copy, columns: copy.columns.map((x) => (x.key === 'Node.state.x' ? { ...x, data: new Float64Array(200) } : x)) }, /column Node.state.x must be f32 data/],
        ['missing', { ...copy, columns: copy.columns.slice(1) }, /column Node.state.x is missing/],
        ['edge', { ...copy, graphs: copy.graphs.map((g) => ({ ...g, dst: Uint32Array.from(g.dst, (d, i) => (i === 5 ? 200 : d)) })) }, /graph links: edge 5 has destination 200, outside \[0, 200\) of Node/],
        ['step', { ...copy, step: -1 }, /step must be an integer/],
        ['extra kind', { ...copy, counts: { ...copy.counts, Ghost: 1 } }, /counts names "Ghost"/],
      ];
      for (const [what, bad, re] of cases) {
        expect(() => b.restore(bad as typeof copy), what).toThrow(re);
        expect(() => b.restore(bad as typeof copy), what).toThrow(CheckError);
        expect(b.checksum(), `${what}: state untouched`).toBe(before);
        expect(b.step).toBe(0);
      }
      b.restore(copy);
      expect(b.checksum()).toBe(a.checksum());
      expect(b.step).toBe(3);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('a loader error is a CheckpointError (a CheckError) naming the directory', async () => {
    const { spec } = await setupOf('circles', { n: '100' });
    const missing = path.join(root, 'nope');
    await expect(loadCheckpoint(missing, spec)).rejects.toThrow(CheckpointError);
    await expect(loadCheckpoint(missing, spec)).rejects.toThrow(`checkpoint ${missing}: does not exist; pass a checkpoint directory`);
  });
});
