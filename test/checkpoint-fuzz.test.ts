/**
 * The checkpoint loader against untrusted input (issue 6, item 7). A valid checkpoint of a small
 * deliveries run (f32, i32 and u32 columns, a graph with an f32 field) is copied and damaged, case by case:
 * named cases for every trick on the list (path tricks in file names, symlinks, FIFOs, oversized and
 * sparse files, wrong dtypes, duplicated/missing/extra entries, wrong spec hash…), then seeded random
 * cases (byte flips, truncations, appended bytes, structured manifest edits, file-system tricks).
 *
 * Each case loads the damaged copy the way `resume` would (`target.restore(await loadCheckpoint(…))`)
 * and must end in one of two ways: refused with a CheckError (in practice a CheckpointError) whose
 * message is one line naming the checkpoint, with the target simulation's checksum and step unchanged;
 * or, for a harmless change (a flipped character in createdAt), loaded with exactly the saved state.
 * Anything else (another error type, a crash, a hang) fails the test.
 *
 *   CHECKPOINT_FUZZ_SEED=7 CHECKPOINT_FUZZ_CASES=2000 npx vitest run test/checkpoint-fuzz.test.ts
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckError } from '../src/errors.js';
import { compileModel, type ModelSpec } from '../src/model.js';
import { loadScenario, parseParams } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';
import { CheckpointError, loadCheckpoint, MAX_MANIFEST_BYTES, saveCheckpoint } from '../sim/checkpoint.js';

const SEED = Number(process.env.CHECKPOINT_FUZZ_SEED ?? 0x5eed1);
const RANDOM_CASES = Number(process.env.CHECKPOINT_FUZZ_CASES ?? 600);

/** mulberry32: a small seeded PRNG, so that a failing case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ctx {
  dir: string;
  rand: () => number;
  int: (n: number) => number;
  pick: <T>(xs: readonly T[]) => T;
}

type Json = Record<string, unknown>;
type Entry = { key: string; dtype: string; length: number; bytes: number; sha256: string; file: string };

async function readManifest(dir: string): Promise<Json & { columns: Entry[]; graphs: (Json & { src: Entry; dst: Entry; fields: Entry[]; edges: number })[]; counts: Json; rng: Json }> {
  return JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as never;
}
async function writeManifest(dir: string, m: unknown): Promise<void> {
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
}
async function dataFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f !== 'manifest.json').sort();
}
/** Sets an own property, even one named '__proto__' (a plain assignment would set the prototype). */
function setOwn(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const EVIL_NUMBERS: readonly unknown[] = [-1, 1.5, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 53 + 2, 1e308, -0.5, '10', null, true, [], {}, ''];
const PATH_TRICKS: readonly string[] = [
  '../x',
  '../../etc/passwd',
  '/etc/passwd',
  'a/b',
  '..',
  '.',
  '',
  'manifest.json',
  'x\u0000y',
  '..\\x',
  'C:\\x',
  'Node.state.x.bin/',
  './Node.state.x.bin',
  'node.state.x.bin',
  'Node.state.x.bin\n',
  'Node.state.y.bin',
];

/** Structured manifest edits: each picks its own target and value from the PRNG. */
const EDITS: readonly { name: string; edit: (m: Awaited<ReturnType<typeof readManifest>>, c: Ctx) => void | Promise<void> }[] = [
  { name: 'length ← evil', edit: (m, c) => void (c.pick(m.columns).length = c.pick(EVIL_NUMBERS) as number) },
  { name: 'bytes ← evil', edit: (m, c) => void (c.pick(m.columns).bytes = c.pick(EVIL_NUMBERS) as number) },
  {
    name: 'oversized length, consistent bytes',
    edit: (m, c) => {
      const e = c.pick(m.columns);
      e.length = c.pick([2 ** 30, 2 ** 40, 2 ** 50, e.length + 1]);
      e.bytes = e.length * (e.dtype === 'f64' ? 8 : 4);
    },
  },
  {
    name: 'wrong dtype, consistent bytes',
    edit: (m, c) => {
      const e = c.pick(m.columns);
      e.dtype = c.pick(['f32', 'f64', 'i32', 'u32', 'u8'].filter((d) => d !== e.dtype));
      e.bytes = e.length * ({ f32: 4, f64: 8, i32: 4, u32: 4, u8: 1 } as Record<string, number>)[e.dtype]!;
    },
  },
  { name: 'dtype ← unknown', edit: (m, c) => void (c.pick(m.columns).dtype = c.pick(['f16', 'F32', 'u64', '', 'float'])) },
  {
    name: 'file ← path trick',
    edit: (m, c) => {
      // Never the column's own name ('Node.state.y.bin' on Node.state.y would change nothing).
      const col = c.pick(m.columns);
      col.file = c.pick(PATH_TRICKS.filter((t) => t !== col.file));
    },
  },
  { name: 'graph file ← path trick', edit: (m, c) => void (c.pick([m.graphs[0]!.src, m.graphs[0]!.dst, ...m.graphs[0]!.fields]).file = c.pick(PATH_TRICKS)) },
  { name: 'key ← unknown', edit: (m, c) => void (c.pick(m.columns).key = c.pick(['Node.state.nope', 'Ghost.state.x', 'Node.msg.transfer.amount', '../x', '__proto__', 'graph.links.src'])) },
  { name: 'duplicate column', edit: (m, c) => void m.columns.push({ ...c.pick(m.columns) }) },
  { name: 'duplicate key', edit: (m, c) => void (m.columns[c.int(m.columns.length)]!.key = m.columns[0]!.key) },
  { name: 'remove column', edit: (m, c) => void m.columns.splice(c.int(m.columns.length), 1) },
  { name: 'sha256 ← other', edit: (m, c) => void (c.pick(m.columns).sha256 = c.pick([m.columns[0]!.sha256.replace(/^./, (x) => (x === '0' ? '1' : '0')), 'x'.repeat(64), '', m.columns[0]!.sha256.toUpperCase()])) },
  { name: 'specHash ← other', edit: (m, c) => void (m.specHash = c.pick(['0'.repeat(64), sha(new Uint8Array([c.int(256)])), 'abc'])) },
  { name: 'format ← other', edit: (m, c) => void (m.format = c.pick(['simloom/checkpoint@2', 'simloom/checkpoint@0', 'other', 1, null])) },
  { name: 'format removed', edit: (m) => void delete m.format },
  { name: 'step ← evil', edit: (m, c) => void (m.step = c.pick(EVIL_NUMBERS)) },
  { name: 'seed ← evil', edit: (m, c) => void (m.seed = c.pick(EVIL_NUMBERS)) },
  { name: 'rng disagrees', edit: (m, c) => void (m.rng = c.pick([{ ...m.rng, step: (m.step as number) + 1 }, { ...m.rng, seed: 99 }, { ...m.rng, kind: 'mt19937' }, { kind: 'counter' }, null]) as Json) },
  { name: 'count ← over capacity', edit: (m, c) => void (m.counts[c.pick(['Node', 'Hub'])] = c.pick([61, 4, 2 ** 31, 2 ** 53])) },
  { name: 'count ← evil', edit: (m, c) => void (m.counts[c.pick(['Node', 'Hub'])] = c.pick(EVIL_NUMBERS)) },
  { name: 'count removed', edit: (m, c) => void delete m.counts[c.pick(['Node', 'Hub'])] },
  { name: 'count extra kind', edit: (m, c) => setOwn(m.counts, c.pick(['Ghost', 'node', '__proto__', 'constructor', 'a/b']), 1) },
  { name: 'counts.__proto__ object', edit: (m) => void (m.counts = JSON.parse('{"Node":60,"Hub":3,"__proto__":{"Ghost":1}}') as Json) },
  {
    name: 'graph edges > maxEdges, consistent lengths',
    edit: (m) => {
      const g = m.graphs[0]!;
      g.edges = 181;
      for (const e of [g.src, g.dst, ...g.fields]) {
        e.length = 181;
        e.bytes = 181 * 4;
      }
    },
  },
  { name: 'graph edges ← evil', edit: (m, c) => void (m.graphs[0]!.edges = c.pick(EVIL_NUMBERS) as number) },
  { name: 'graph renamed', edit: (m, c) => void (m.graphs[0]!.name = c.pick(['other', 'Links', '../x'])) },
  { name: 'graph removed', edit: (m) => void m.graphs.splice(0, 1) },
  { name: 'graph duplicated', edit: (m) => void m.graphs.push(m.graphs[0]!) },
  { name: 'graph from/to swapped', edit: (m) => void (m.graphs[0]!.from = 'Hub') },
  { name: 'graph field removed', edit: (m) => void m.graphs[0]!.fields.splice(0, 1) },
  { name: 'graph src key ← dst', edit: (m) => void (m.graphs[0]!.src.key = 'graph.links.dst') },
  { name: 'extra top-level property', edit: (m, c) => setOwn(m, c.pick(['extra', '__proto__', 'constructor']), 1) },
  { name: 'extra entry property', edit: (m, c) => void ((c.pick(m.columns) as unknown as Json).offset = 8) },
  { name: 'columns ← not an array', edit: (m, c) => void ((m as Json).columns = c.pick([{}, null, 'x', 1])) },
  { name: 'params ← nested', edit: (m, c) => void (m.params = c.pick([{ a: { b: 1 } }, [], { '../x': 1 }, null])) },
  { name: 'scenario ← not a string', edit: (m, c) => void (m.scenario = c.pick([1, {}, 'x'.repeat(300)])) },
  { name: 'backend ← unknown', edit: (m, c) => void (m.backend = c.pick(['cuda', '', null])) },
  {
    name: 'endpoint out of range, consistent sha',
    edit: async (m, c) => {
      const g = m.graphs[0]!;
      const e = c.pick([g.src, g.dst]);
      const file = path.join(c.dir, e.file);
      const b = await readFile(file);
      const u = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      u[c.int(u.length)] = c.pick([60, 61, 2 ** 32 - 1]);
      await writeFile(file, b);
      e.sha256 = sha(b);
    },
  },
  {
    name: 'longer column, consistent bytes and sha',
    edit: async (m, c) => {
      const e = c.pick(m.columns);
      const file = path.join(c.dir, e.file);
      const b = Buffer.concat([await readFile(file), Buffer.alloc(e.bytes / e.length)]);
      await writeFile(file, b);
      e.length += 1;
      e.bytes = b.length;
      e.sha256 = sha(b);
    },
  },
  { name: 'createdAt changed (harmless)', edit: (m, c) => void (m.createdAt = c.pick(['2020-02-02T00:00:00.000Z', 'yesterday'])) },
];

/** File-system tricks. */
const TRICKS: readonly { name: string; apply: (c: Ctx) => Promise<void> }[] = [
  {
    name: 'column → symlink to an identical copy',
    apply: async (c) => {
      const f = c.pick(await dataFiles(c.dir));
      const copy = path.join(c.dir, '..', `${path.basename(c.dir)}-outside.bin`);
      await copyFile(path.join(c.dir, f), copy);
      await unlink(path.join(c.dir, f));
      await symlink(copy, path.join(c.dir, f));
    },
  },
  {
    name: 'column → symlink elsewhere',
    apply: async (c) => {
      const f = c.pick(await dataFiles(c.dir));
      await unlink(path.join(c.dir, f));
      await symlink(c.pick(['/etc/passwd', '/dev/zero', '/nonexistent', '..', 'manifest.json']), path.join(c.dir, f));
    },
  },
  {
    name: 'manifest → symlink',
    apply: async (c) => {
      const copy = path.join(c.dir, '..', `${path.basename(c.dir)}-manifest.json`);
      await copyFile(path.join(c.dir, 'manifest.json'), copy);
      await unlink(path.join(c.dir, 'manifest.json'));
      await symlink(copy, path.join(c.dir, 'manifest.json'));
    },
  },
  {
    name: 'column → directory',
    apply: async (c) => {
      const f = c.pick(await dataFiles(c.dir));
      await unlink(path.join(c.dir, f));
      await mkdir(path.join(c.dir, f));
    },
  },
  {
    name: 'manifest → directory',
    apply: async (c) => {
      await unlink(path.join(c.dir, 'manifest.json'));
      await mkdir(path.join(c.dir, 'manifest.json'));
    },
  },
  { name: 'column missing', apply: async (c) => unlink(path.join(c.dir, c.pick(await dataFiles(c.dir)))) },
  { name: 'manifest missing', apply: (c) => unlink(path.join(c.dir, 'manifest.json')) },
  { name: 'extra file', apply: (c) => writeFile(path.join(c.dir, c.pick(['extra.bin', 'Node.state.ghost.bin', '.hidden', 'manifest.json.bak'])), 'x') },
  { name: 'extra directory', apply: (c) => mkdir(path.join(c.dir, 'sub')) },
  {
    name: 'column → sparse 2 GiB, consistent manifest',
    apply: async (c) => {
      const m = await readManifest(c.dir);
      const e = c.pick(m.columns);
      await truncate(path.join(c.dir, e.file), 2 ** 31);
      e.length = 2 ** 31 / (e.bytes / e.length);
      e.bytes = 2 ** 31;
      await writeManifest(c.dir, m);
    },
  },
  { name: 'manifest → sparse, over the size limit', apply: (c) => truncate(path.join(c.dir, 'manifest.json'), MAX_MANIFEST_BYTES + 1) },
  { name: 'manifest ← not an object', apply: (c) => writeFile(path.join(c.dir, 'manifest.json'), c.pick(['[]', 'null', '42', '"x"', '{}', '', 'true'])) },
  { name: 'manifest ← deep nesting', apply: (c) => writeFile(path.join(c.dir, 'manifest.json'), '['.repeat(200_000) + ']'.repeat(200_000)) },
  { name: 'manifest ← invalid UTF-8', apply: (c) => writeFile(path.join(c.dir, 'manifest.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])) },
  {
    name: 'manifest ← BOM + JSON',
    apply: async (c) => writeFile(path.join(c.dir, 'manifest.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), await readFile(path.join(c.dir, 'manifest.json'))])),
  },
];

describe('checkpoint loader against damaged and crafted input', () => {
  let root: string;
  let base: string;
  let spec: ModelSpec;
  let target: Simulation;
  let good: string;
  let caseNo = 0;
  const stats = new Map<string, { refused: number; loaded: number }>();
  const messages = new Map<string, number>();

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'simloom-ckpt-fuzz-'));
    const scenario = await loadScenario('deliveries');
    const params = parseParams(scenario, { n: '60', hubs: '3' });
    const setup = scenario.setup(params);
    spec = compileModel(setup.model);
    const source = await Simulation.create(spec, { workers: 1, seed: 9 });
    try {
      await setup.init(source);
      source.run(4);
      good = source.checksum();
      base = (await saveCheckpoint(source, path.join(root, 'base'), { scenario: 'deliveries', params, fsync: false })).dir;
    } finally {
      await source.close();
    }
    // The simulation a resume would restore into: some other state, which a refused load must keep.
    target = await Simulation.create(spec, { workers: 1, seed: 9 });
    await setup.init(target);
    target.run(1);
  });

  afterAll(async () => {
    await target?.close();
    await rm(root, { recursive: true, force: true });
    const rows = [...stats.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    const refused = rows.reduce((s, [, v]) => s + v.refused, 0);
    const loaded = rows.reduce((s, [, v]) => s + v.loaded, 0);
    const lines = rows.map(([k, v]) => `  ${k.padEnd(48)} refused ${String(v.refused).padStart(4)}  loaded ${String(v.loaded).padStart(3)}`);
    const top = [...messages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => `  ${String(n).padStart(4)} × ${k}`);
    console.log(`checkpoint fuzz (seed ${SEED}): ${refused + loaded} cases, ${refused} refused with a CheckpointError, ${loaded} harmless changes loaded the saved state\n${lines.join('\n')}\nmost frequent refusals:\n${top.join('\n')}`);
  });

  async function fresh(): Promise<string> {
    const dir = path.join(root, `case-${caseNo++}`);
    await mkdir(dir);
    for (const f of await readdir(base)) await copyFile(path.join(base, f), path.join(dir, f));
    return dir;
  }

  /** Loads `dir` as resume would; checks the outcome (see the file comment). */
  async function attempt(label: string, dir: string, expectRefusal: boolean | 'either' = true): Promise<void> {
    const before = target.checksum();
    const beforeStep = target.step;
    let error: unknown;
    try {
      target.restore(await loadCheckpoint(dir, spec));
    } catch (err) {
      error = err;
    }
    const s = stats.get(label) ?? { refused: 0, loaded: 0 };
    stats.set(label, s);
    if (error === undefined) {
      s.loaded++;
      expect(expectRefusal, `${label}: loaded, but it should have been refused`).not.toBe(true);
      expect(target.checksum(), `${label}: loaded a different state`).toBe(good);
      // Put the target back in a state other than the saved one for the next case.
      target.run(1);
      return;
    }
    s.refused++;
    const shown = error instanceof Error ? `${error.name}: ${error.message}` : typeof error === 'string' ? error : JSON.stringify(error);
    expect(expectRefusal, `${label}: refused (${shown})`).not.toBe(false);
    expect(error, `${label}: ${shown}`).toBeInstanceOf(CheckError);
    expect(error, `${label}: ${shown}`).toBeInstanceOf(CheckpointError);
    const msg = (error as Error).message;
    expect(msg.length).toBeGreaterThan(20);
    expect(msg, 'one line').not.toMatch(/[\n\r]/);
    expect(msg.startsWith(`checkpoint ${dir}`), msg).toBe(true);
    expect(msg, 'says what to do').toMatch(/; (re-create|remove|resume|pass|check)/);
    expect(target.checksum(), `${label}: state touched by a refused load`).toBe(before);
    expect(target.step).toBe(beforeStep);
    const shape = msg
      .slice(`checkpoint ${dir}`.length)
      .replace(/\d+/g, 'N')
      .replace(/"[^"]*"/g, 'S')
      .split(';')[0]!;
    messages.set(shape, (messages.get(shape) ?? 0) + 1);
  }

  it('loads the undamaged checkpoint (the baseline the cases damage)', async () => {
    await attempt('undamaged', await fresh(), false);
    // The directory itself may be reached through a symlink (it is the user's argument).
    const link = path.join(root, 'link-to-base');
    await symlink(base, link);
    await attempt('undamaged via a symlinked directory', link, false);
  });

  it.each(PATH_TRICKS)('refuses the file name %j', async (name) => {
    for (const which of ['column', 'graph'] as const) {
      const dir = await fresh();
      const m = await readManifest(dir);
      (which === 'column' ? m.columns[0]! : m.graphs[0]!.src).file = name;
      await writeManifest(dir, m);
      await attempt(`path trick in a ${which} file name`, dir);
    }
  });

  it.each(EDITS.map((e) => e.name))('manifest edit: %s', async (name) => {
    const e = EDITS.find((x) => x.name === name)!;
    // A few draws each, so that the random choices inside an edit are covered.
    for (let k = 0; k < 4; k++) {
      const dir = await fresh();
      const r = rng(SEED ^ (k * 7919) ^ name.length);
      const c: Ctx = { dir, rand: r, int: (n) => Math.floor(r() * n), pick: (xs) => xs[Math.floor(r() * xs.length)]! };
      const m = await readManifest(dir);
      await e.edit(m, c);
      await writeManifest(dir, m);
      await attempt(`edit: ${name}`, dir, name.includes('harmless') ? false : true);
    }
  });

  it.each(TRICKS.map((t) => t.name))('file-system trick: %s', async (name) => {
    const t = TRICKS.find((x) => x.name === name)!;
    for (let k = 0; k < 3; k++) {
      const dir = await fresh();
      const r = rng(SEED ^ (k * 104729) ^ name.length);
      await t.apply({ dir, rand: r, int: (n) => Math.floor(r() * n), pick: (xs) => xs[Math.floor(r() * xs.length)]! });
      // A byte-order mark before the JSON is harmless (the UTF-8 decoder drops it).
      await attempt(`trick: ${name}`, dir, !name.includes('BOM'));
    }
  });

  it('refuses a FIFO planted as a column file without blocking', async () => {
    const dir = await fresh();
    const f = (await dataFiles(dir))[0]!;
    await unlink(path.join(dir, f));
    try {
      execFileSync('mkfifo', [path.join(dir, f)]);
    } catch {
      console.log('mkfifo is not available: FIFO case skipped');
      return;
    }
    await attempt('trick: column → FIFO', dir);
  });

  it(`survives ${RANDOM_CASES} seeded random cases (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const c0 = { rand: r, int: (n: number) => Math.floor(r() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]! };
    for (let i = 0; i < RANDOM_CASES; i++) {
      const dir = await fresh();
      const c: Ctx = { dir, ...c0 };
      const kind = c.int(6);
      let label: string;
      let expectRefusal: boolean | 'either' = true;
      if (kind === 0) {
        // Byte flips in the manifest: mostly refused; a flip inside createdAt or the scenario name is harmless.
        const file = path.join(dir, 'manifest.json');
        const b = await readFile(file);
        for (let k = 1 + c.int(3); k > 0; k--) {
          const at = c.int(b.length);
          b[at] = b[at]! ^ (1 + c.int(255));
        }
        await writeFile(file, b);
        label = 'random: manifest byte flips';
        expectRefusal = 'either';
      } else if (kind === 1) {
        const file = path.join(dir, c.pick(await dataFiles(dir)));
        const b = await readFile(file);
        if (b.length === 0) continue;
        const at = c.int(b.length);
        b[at] = b[at]! ^ (1 + c.int(255));
        await writeFile(file, b);
        label = 'random: column byte flip';
      } else if (kind === 2) {
        const file = path.join(dir, c.pick([...(await dataFiles(dir)), 'manifest.json']));
        const before = await readFile(file);
        const keep = c.int(before.length);
        const fh = await open(file, 'r+');
        await fh.truncate(keep);
        await fh.close();
        label = 'random: truncation';
        // Cutting only the manifest's trailing newline leaves the same JSON.
        if (file.endsWith('manifest.json') && /^\s*$/.test(before.subarray(keep).toString('latin1'))) expectRefusal = 'either';
      } else if (kind === 3) {
        const file = path.join(dir, c.pick([...(await dataFiles(dir)), 'manifest.json']));
        const extra = Buffer.from(Array.from({ length: 1 + c.int(64) }, () => c.int(256)));
        await appendFile(file, extra);
        label = 'random: appended bytes';
        // Whitespace appended to the manifest is still the same JSON.
        if (file.endsWith('manifest.json') && /^\s*$/.test(extra.toString('latin1'))) expectRefusal = 'either';
      } else if (kind === 4) {
        const e = c.pick(EDITS);
        const m = await readManifest(dir);
        await e.edit(m, c);
        await writeManifest(dir, m);
        label = 'random: structured edit';
        if (e.name.includes('harmless')) expectRefusal = false;
      } else {
        const t = c.pick(TRICKS);
        await t.apply(c);
        label = 'random: file-system trick';
        if (t.name.includes('BOM')) expectRefusal = false;
      }
      await attempt(label, dir, expectRefusal);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
