/**
 * Parity of the shared WGSL primitives (kernels/common/*.wgsl through sim/gpu/primitives.ts) with their
 * CPU references in kernels/common/cpu.ts, and the compute harness (sim/gpu/compute.ts) they run on.
 * Integers must match exactly; f32 reductions within REDUCE_TOLERANCE of the f64 CPU result.
 * Without an adapter the suite is skipped visibly, with the reason in its name.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cellOf, countingSortByKey, exclusiveScan, segmentReduce } from '../kernels/common/cpu.js';
import { BackendError } from '../src/errors.js';
import { hash32, normal, uniform } from '../src/rng.js';
import { GpuCompute, workgroupGrid, type Kernel } from '../sim/gpu/compute.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { GpuPrimitives, REDUCE_ROWS, REDUCE_TOLERANCE, type GridSpec } from '../sim/gpu/primitives.js';

const probe = await probeWebGpu();
const gpu = probe.ok ? new GpuCompute(probe.device) : undefined;
const prims = gpu ? await GpuPrimitives.create(gpu) : undefined;
if (probe.ok && prims) {
  console.log(
    `wgsl primitives on ${probe.info.name} (${probe.info.type}, ${probe.info.backend}); ` +
      `timestamps=${gpu!.timestamps}; compile ${prims.compileMs.toFixed(0)} ms`,
  );
}

function env(): { gpu: GpuCompute; prims: GpuPrimitives } {
  if (!gpu || !prims) throw new Error(`unreachable: webgpu unavailable (${probe.ok ? 'no primitives' : probe.reason})`);
  return { gpu, prims };
}

/** Deterministic u32 values below `bound` (bound 0: full range). */
function randomU32(n: number, seed: number, bound = 0): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const h = hash32(seed, 0, i, 0, 0, 0);
    a[i] = bound === 0 ? h : h % bound;
  }
  return a;
}

/** Exact comparison of integer arrays that reports the first difference instead of a huge diff. */
function expectSameU32(actual: Uint32Array, expected: Uint32Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      expect.fail(`${what}: first difference at ${i}: gpu ${actual[i]} vs cpu ${expected[i]}`);
    }
  }
}

const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;

describe.skipIf(!probe.ok)(`wgsl primitives${reason}`, () => {
  afterAll(() => {
    gpu?.destroy();
    if (probe.ok) probe.destroy();
  });

  describe('compute harness', () => {
    it('folds workgroup counts past the per-dimension limit into 2D', () => {
      expect(workgroupGrid(0, 65535)).toEqual([0, 1, 1]);
      expect(workgroupGrid(65535, 65535)).toEqual([65535, 1, 1]);
      expect(workgroupGrid(65536, 65535)).toEqual([32768, 2, 1]);
      for (const n of [65536, 100_000, 16_777_216, 65535 * 7 + 3]) {
        const [x, y] = workgroupGrid(n, 65535);
        expect(x).toBeLessThanOrEqual(65535);
        expect(x * y).toBeGreaterThanOrEqual(n);
        expect(x * y - n).toBeLessThan(y);
      }
    });

    it('numbers workgroups past 65535 through a 2D grid in a kernel', async () => {
      const { gpu } = env();
      const k = await gpu.kernel({
        label: 'test.grid',
        entryPoint: 'main',
        bindings: { 0: 'storage' },
        code: /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> seen: array<atomic<u32>>;
@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  if (w < arrayLength(&seen)) { atomicAdd(&seen[w], 1u); }
}`,
      });
      const count = 70_001;
      const seen = gpu.createBuffer({ label: 'seen', size: 4 * count });
      const batch = gpu.batch('grid');
      batch.dispatch(k, { 0: seen }, count);
      const out = batch.read(seen);
      await batch.submit();
      expectSameU32(out.u32(), new Uint32Array(count).fill(1), 'workgroups seen');
      seen.destroy();
    });

    it('records several dispatches into one submit, counts the bytes that cross, and times the batch', async () => {
      const { gpu } = env();
      const spec = {
        label: 'test.add',
        entryPoint: 'main',
        bindings: { 0: 'uniform', 1: 'storage' },
        code: /* wgsl */ `
struct P { n: u32, add: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + t;
  if (i < p.n) { y[i] = y[i] * 2u + p.add; }
}`,
      } as const;
      const addOne: Kernel = await gpu.kernel(spec);
      // Cached: the same source, entry point and bindings give the same compiled kernel.
      expect(await gpu.kernel({ ...spec, label: 'another label' })).toBe(addOne);
      const n = 1000;
      // Engine state lives in SharedArrayBuffers: uploads take SAB-backed columns as they are.
      const column = new Uint32Array(new SharedArrayBuffer(4 * n));
      for (let i = 0; i < n; i++) column[i] = i;
      const y = gpu.createBuffer({ label: 'y', data: column });
      const before = { ...gpu.transfer };
      const batch = gpu.batch('three steps');
      // One parameter array, changed between dispatches: each dispatch sees the value it was recorded with.
      const params = Uint32Array.of(n, 0, 0, 0);
      for (let step = 1; step <= 3; step++) {
        params[1] = step;
        batch.dispatch(addOne, { 0: params, 1: y }, Math.ceil(n / 64));
      }
      const out = batch.read(y);
      const result = await batch.submit();
      const expected = Uint32Array.from({ length: n }, (_, i) => ((i * 2 + 1) * 2 + 2) * 2 + 3);
      expectSameU32(out.u32(), expected, 'y');
      expect(result.dispatches).toBe(3);
      expect(result.passes).toBe(1);
      expect(gpu.transfer.submits - before.submits).toBe(1);
      expect(gpu.transfer.bytesFromDevice - before.bytesFromDevice).toBe(4 * n);
      // Three parameter blocks, each in its own 256-byte-aligned slot of one uniform write.
      expect(gpu.transfer.uploads - before.uploads).toBe(1);
      expect(gpu.transfer.bytesToDevice - before.bytesToDevice).toBe(3 * gpu.limits.minUniformBufferOffsetAlignment);
      expect(result.wallMs).toBeGreaterThan(0);
      if (gpu.timestamps) {
        expect(result.timing).toBe('timestamp');
        expect(result.gpuMs).toBeGreaterThanOrEqual(0);
        expect(result.passMs).toHaveLength(1);
      } else {
        expect(result.timing).toBe('submit');
        expect(result.gpuMs).toBeNull();
      }
      y.destroy();
    });

    it('rejects a WGSL compile error and an invalid batch with a BackendError', async () => {
      const { gpu } = env();
      await expect(
        gpu.kernel({ label: 'broken', entryPoint: 'main', bindings: {}, code: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }' }),
      ).rejects.toThrow(/kernel 'broken' does not compile: 1:/);
      const k = await gpu.kernel({
        label: 'test.write',
        entryPoint: 'main',
        bindings: { 0: 'storage' },
        code: '@group(0) @binding(0) var<storage, read_write> y: array<u32>;\n@compute @workgroup_size(1) fn main() { y[0] = 7u; }',
      });
      const y = gpu.createBuffer({ label: 'y', size: 4 });
      const batch = gpu.batch('too many workgroups');
      batch.dispatch(k, { 0: y }, [70_000, 1, 1]);
      const failure = await batch.submit().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BackendError);
      expect(String(failure)).toMatch(/batch 'too many workgroups' was rejected: .*70000/);
      y.destroy();
    });
  });

  describe('exclusive scan (scan.wgsl) vs exclusiveScan', () => {
    const sizes = [0, 1, 2, 255, 256, 1023, 1024, 1025, 4097, 65_537, 1_048_576 + 3];
    for (const total of [false, true]) {
      it(`matches exactly for n in ${sizes.join(', ')}${total ? ', with a total slot' : ''}`, async () => {
        const { gpu, prims } = env();
        for (const n of sizes) {
          const input = new Uint32Array(n + (total ? 1 : 0));
          // Small values mostly; the largest size uses the full range to check modulo 2^32 wrapping.
          input.set(randomU32(n, 11 + n, n > 1_000_000 ? 0 : 1000));
          const buffer = gpu.createBuffer({ label: `scan ${n}`, data: input });
          const plan = prims.scanPlan(n, { total });
          const batch = gpu.batch(`scan ${n}`);
          plan.encode(batch, buffer);
          const out = batch.read(buffer);
          await batch.submit();
          const expected = input.slice();
          exclusiveScan(expected, n);
          expectSameU32(out.u32().subarray(0, expected.length), expected, `scan n=${n}`);
          plan.destroy();
          buffer.destroy();
        }
      });
    }

    it('scans 16M + 1 elements with a total slot (three levels)', async () => {
      const { gpu, prims } = env();
      const n = 16 * 1024 * 1024 + 1;
      const input = new Uint32Array(n + 1);
      for (let i = 0; i < n; i++) input[i] = (i * 2654435761) >>> 28; // 0..15, cheap and irregular
      const buffer = gpu.createBuffer({ label: 'scan 16M', data: input });
      const plan = prims.scanPlan(n, { total: true });
      expect(plan.levelLengths).toEqual([n + 1, 16_385, 17]);
      const batch = gpu.batch('scan 16M');
      plan.encode(batch, buffer);
      const out = batch.read(buffer);
      const result = await batch.submit();
      console.log(`scan of ${n} u32 (${result.dispatches} dispatches): gpu ${result.gpuMs?.toFixed(1) ?? '-'} ms, wall ${result.wallMs.toFixed(1)} ms incl. 64 MiB readback`);
      exclusiveScan(input, n);
      expectSameU32(out.u32(), input, 'scan 16M');
      plan.destroy();
      buffer.destroy();
    });
  });

  describe('counting sort (sort.wgsl) vs countingSortByKey', () => {
    interface SortCase {
      senders: number;
      maxPer: number;
      keys: number;
      /** Probability that a sender sent nothing; otherwise it sent 1..maxPer records. */
      idle: number;
    }
    const cases: SortCase[] = [
      { senders: 0, maxPer: 1, keys: 5, idle: 0 },
      { senders: 1, maxPer: 1, keys: 1, idle: 0 },
      { senders: 1, maxPer: 1, keys: 3, idle: 1 },
      { senders: 1000, maxPer: 1, keys: 7, idle: 0.3 },
      { senders: 1023, maxPer: 3, keys: 256, idle: 0.2 },
      { senders: 3001, maxPer: 4, keys: 300, idle: 0.1 }, // 2 radix passes
      { senders: 2500, maxPer: 2, keys: 70_000, idle: 0.5 }, // 3 radix passes, most keys empty
      { senders: 1_000_003, maxPer: 1, keys: 1_000_003, idle: 0.1 }, // ~1M records, 3 passes
      { senders: 300_001, maxPer: 4, keys: 1000, idle: 0.25 }, // ~750k records into few keys
    ];
    for (const c of cases) {
      it(`matches exactly: ${c.senders} senders × ${c.maxPer}, ${c.keys} keys, ${c.idle * 100}% idle`, async () => {
        const { gpu, prims } = env();
        const { senders, maxPer, keys } = c;
        const records = senders * maxPer;
        const sent = new Uint32Array(senders);
        for (let s = 0; s < senders; s++) {
          sent[s] = uniform(5, 1, s, 0, 0, 0) < c.idle ? 0 : 1 + (hash32(5, 2, s, 0, 0, 0) % maxPer);
        }
        // Keys skewed towards small values so that many records share a key (stability matters there).
        const key = new Uint32Array(records);
        for (let r = 0; r < records; r++) {
          const u = uniform(6, 3, r, 0, 0, 0);
          key[r] = Math.min(keys - 1, Math.floor(u * u * keys));
        }
        // Invalid slots (j >= sent[s]) hold garbage keys on purpose: they must be ignored.
        for (let s = 0; s < senders; s++) for (let j = sent[s]!; j < maxPer; j++) key[s * maxPer + j] = 0xdeadbeef;

        const offsets = new Uint32Array(keys + 1);
        const perm = new Uint32Array(records);
        const sender = new Uint32Array(records);
        const total = countingSortByKey(senders, maxPer, sent, key, keys, offsets, perm, sender, new Uint32Array(keys));

        const io = {
          sent: gpu.createBuffer({ label: 'sent', data: sent }),
          key: gpu.createBuffer({ label: 'key', data: key }),
          offsets: gpu.createBuffer({ label: 'offsets', size: 4 * (keys + 1) }),
          perm: gpu.createBuffer({ label: 'perm', size: 4 * records }),
          sender: gpu.createBuffer({ label: 'sender', size: 4 * records }),
          sortedKey: gpu.createBuffer({ label: 'sorted key', size: 4 * records }),
          fault: gpu.createBuffer({ label: 'fault', size: 8 }),
        };
        const plan = prims.countingSortPlan({ senders, maxPer, keys });
        const batch = gpu.batch('sort');
        plan.encode(batch, io);
        const reads = {
          offsets: batch.read(io.offsets),
          perm: batch.read(io.perm, 0, 4 * total),
          sender: batch.read(io.sender, 0, 4 * total),
          sortedKey: batch.read(io.sortedKey, 0, 4 * total),
          fault: batch.read(io.fault),
        };
        const result = await batch.submit();
        if (records >= 500_000) {
          console.log(`sort of ${total} records (${records} slots, ${keys} keys, ${plan.passes} passes, ${result.dispatches} dispatches): gpu ${result.gpuMs?.toFixed(1) ?? '-'} ms, wall ${result.wallMs.toFixed(1)} ms`);
        }
        expect(Array.from(reads.fault.u32())).toEqual([0, 0]);
        expectSameU32(reads.offsets.u32().subarray(0, keys + 1), offsets, 'offsets');
        expectSameU32(reads.perm.u32(), perm.subarray(0, total), 'perm');
        expectSameU32(reads.sender.u32(), sender.subarray(0, total), 'sender');
        const sortedKey = reads.sortedKey.u32();
        for (let i = 0; i < total; i++) {
          if (sortedKey[i] !== key[perm[i]!]) expect.fail(`sortedKey[${i}] = ${sortedKey[i]}, expected ${key[perm[i]!]}`);
        }
        // The CPU order is (key, sender, sequence): check it directly as well, not only via the CPU.
        for (let i = 1; i < total; i++) {
          const a = key[perm[i - 1]!]!;
          const b = key[perm[i]!]!;
          if (a > b || (a === b && perm[i - 1]! >= perm[i]!)) expect.fail(`order broken at ${i}`);
        }
        plan.destroy();
        for (const b of Object.values(io)) b.destroy();
      });
    }

    it('reports the first fault: a key out of range (2) or a sender over maxPer (3)', async () => {
      const { gpu, prims } = env();
      const run = async (sent: Uint32Array, key: Uint32Array, maxPer: number, keys: number): Promise<{ fault: number[]; total: number }> => {
        const records = sent.length * maxPer;
        const io = {
          sent: gpu.createBuffer({ label: 'sent', data: sent }),
          key: gpu.createBuffer({ label: 'key', data: key }),
          offsets: gpu.createBuffer({ label: 'offsets', size: 4 * (keys + 1) }),
          perm: gpu.createBuffer({ label: 'perm', size: 4 * records }),
          sender: gpu.createBuffer({ label: 'sender', size: 4 * records }),
          fault: gpu.createBuffer({ label: 'fault', size: 8 }),
        };
        const plan = prims.countingSortPlan({ senders: sent.length, maxPer, keys });
        const batch = gpu.batch('sort with a fault');
        plan.encode(batch, io);
        const fault = batch.read(io.fault);
        const offsets = batch.read(io.offsets);
        await batch.submit();
        plan.destroy();
        for (const b of Object.values(io)) b.destroy();
        return { fault: Array.from(fault.u32()), total: offsets.u32()[keys]! };
      };
      // Slot 5 addresses key 9 of 4: left out of the sort, fault [2, 5].
      expect(await run(Uint32Array.of(2, 2, 2, 2), Uint32Array.of(0, 1, 2, 3, 0, 9, 1, 1), 2, 4)).toEqual({ fault: [2, 5], total: 7 });
      // Sender 1 claims 3 records with maxPer 2: only 2 are sorted, fault [3, 2] (slot of its first record).
      expect(await run(Uint32Array.of(1, 3), Uint32Array.of(0, 7, 1, 1), 2, 2)).toEqual({ fault: [3, 2], total: 3 });
    });
  });

  describe('segment reduce (reduce.wgsl) vs segmentReduce', () => {
    interface ReduceCase {
      name: string;
      lengths: number[];
    }
    const lengthsOf = (count: number, seed: number, max: number): number[] =>
      Array.from({ length: count }, (_, k) => (uniform(seed, 0, k, 0, 0, 0) < 0.2 ? 0 : hash32(seed, 1, k, 0, 0, 0) % (max + 1)));
    const cases: ReduceCase[] = [
      { name: 'no segments', lengths: [] },
      { name: 'one empty segment', lengths: [0] },
      { name: 'one element', lengths: [1] },
      { name: 'empty, 1, 2, 63, 64, 65 and 1000 elements', lengths: [0, 1, 0, 2, 63, 64, 65, 1000, 0] },
      { name: '5000 short segments, 20% empty', lengths: lengthsOf(5000, 3, 9) },
      { name: '70000 short segments, 20% empty', lengths: lengthsOf(70_000, 4, 20) },
      { name: 'short and long segments mixed', lengths: lengthsOf(3000, 5, 300) },
      // More long segments than maxComputeWorkgroupsPerDimension: the indirect grid folds into 2D.
      { name: '66000 long segments of 65 to 72 values', lengths: Array.from({ length: 66_000 }, (_, k) => 65 + (k % 8)) },
      { name: 'one segment of 1M elements between empty ones', lengths: [0, 1_000_000, 0, 5] },
    ];
    for (const c of cases) {
      it(`${c.name}: count, min, max exact; sum, mean, std within ${REDUCE_TOLERANCE.relative} (scaled)`, async () => {
        const { gpu, prims } = env();
        const keys = c.lengths.length;
        const offsets = new Uint32Array(keys + 1);
        offsets.set(c.lengths);
        const n = exclusiveScan(offsets, keys);
        // Values of both signs around an offset, so that mean and spread are both non-trivial.
        const values = new Float32Array(n);
        for (let i = 0; i < n; i++) values[i] = 3 + 2 * normal(8, 0, i, 0, 0, 0);
        const ref = {
          count: new Float64Array(keys),
          sum: new Float64Array(keys),
          mean: new Float64Array(keys),
          std: new Float64Array(keys),
          min: new Float64Array(keys),
          max: new Float64Array(keys),
        };
        segmentReduce(values, offsets, keys, ref);

        const io = {
          values: gpu.createBuffer({ label: 'values', data: values }),
          offsets: gpu.createBuffer({ label: 'offsets', data: offsets }),
          counts: gpu.createBuffer({ label: 'counts', size: 4 * keys }),
          stats: gpu.createBuffer({ label: 'stats', size: 4 * 5 * keys }),
        };
        const batch = gpu.batch('reduce');
        prims.segmentReducePlan(keys).encode(batch, io);
        const counts = batch.read(io.counts, 0, 4 * keys);
        const stats = batch.read(io.stats, 0, 4 * 5 * keys);
        await batch.submit();
        const gpuCounts = counts.u32();
        const gpuStats = stats.f32();
        const row = (name: (typeof REDUCE_ROWS)[number]): Float32Array =>
          gpuStats.subarray(REDUCE_ROWS.indexOf(name) * keys, (REDUCE_ROWS.indexOf(name) + 1) * keys);
        expect(Array.from(gpuCounts)).toEqual(Array.from(ref.count));
        expect(Array.from(row('min'))).toEqual(Array.from(ref.min));
        expect(Array.from(row('max'))).toEqual(Array.from(ref.max));
        let worst = 0;
        for (let k = 0; k < keys; k++) {
          let absSum = 0;
          for (let i = offsets[k]!; i < offsets[k + 1]!; i++) absSum += Math.abs(values[i]!);
          const meanAbs = c.lengths[k]! > 0 ? absSum / c.lengths[k]! : 0;
          for (const [name, scale] of [['sum', absSum], ['mean', meanAbs], ['std', meanAbs]] as const) {
            const expected = ref[name][k]!;
            const actual = row(name)[k]!;
            const error = Math.abs(actual - expected) / (Math.abs(expected) + scale || 1);
            worst = Math.max(worst, error);
            if (!(error <= REDUCE_TOLERANCE.relative)) expect.fail(`${name}[${k}]: gpu ${actual} vs cpu ${expected} (error ${error.toExponential(2)})`);
          }
        }
        if (keys > 0) console.log(`segment reduce, ${c.name}: worst scaled error ${worst.toExponential(2)}`);
        for (const b of Object.values(io)) b.destroy();
      });
    }
  });

  describe('grid cell (cell.wgsl) vs cellOf', () => {
    const runCells = async (grid: GridSpec, x: Float32Array, y: Float32Array, z: Float32Array): Promise<Uint32Array> => {
      const { gpu, prims } = env();
      const n = x.length;
      const io = {
        x: gpu.createBuffer({ label: 'x', data: x }),
        y: gpu.createBuffer({ label: 'y', data: y }),
        z: gpu.createBuffer({ label: 'z', data: z }),
        cells: gpu.createBuffer({ label: 'cells', size: 4 * n }),
      };
      const batch = gpu.batch('cells');
      prims.cellPlan(grid).encode(batch, io, n);
      const cells = batch.read(io.cells, 0, 4 * n);
      await batch.submit();
      for (const b of Object.values(io)) b.destroy();
      return cells.u32();
    };
    const cpuCells = (grid: GridSpec, x: Float32Array, y: Float32Array, z: Float32Array): Uint32Array =>
      Uint32Array.from(x, (_, i) => cellOf(x[i]!, y[i]!, z[i]!, grid.min, grid.cellSize, grid.dims));

    it('matches exactly for 100 003 random positions, a fifth of them outside the grid (clamped)', async () => {
      // One cell side per axis, so that a mix-up of axes shows.
      const cs = [0.7, 0.45, 1.1] as const;
      const grid: GridSpec = { min: [-5, 0, 2.5], cellSize: cs, dims: [17, 9, 4] };
      const n = 100_003;
      const axis = (a: number): Float32Array =>
        Float32Array.from({ length: n }, (_, i) => grid.min[a]! - 0.1 * cs[a]! * grid.dims[a]! + uniform(9, a, i, 0, 0, 0) * 1.2 * cs[a]! * grid.dims[a]!);
      const [x, y, z] = [axis(0), axis(1), axis(2)];
      expectSameU32(await runCells(grid, x, y, z), cpuCells(grid, x, y, z), 'cells');
    });

    it('matches exactly on cell boundaries when the arithmetic is exact (power-of-two cell size)', async () => {
      const cs = 0.25;
      const grid: GridSpec = { min: [-4, 0, 1], cellSize: cs, dims: [32, 8, 5] };
      const x: number[] = [];
      const y: number[] = [];
      const z: number[] = [];
      for (let i = -2; i <= 34; i++) {
        for (const d of [0, -1e-6, 1e-6]) {
          x.push(grid.min[0] + i * cs + d);
          y.push(grid.min[1] + (i % 10) * cs + d);
          z.push(grid.min[2] + (i % 7) * cs - d);
        }
      }
      const [fx, fy, fz] = [Float32Array.from(x), Float32Array.from(y), Float32Array.from(z)];
      expectSameU32(await runCells(grid, fx, fy, fz), cpuCells(grid, fx, fy, fz), 'boundary cells');
    });

    it('differs by at most one cell per axis on boundaries of a non-dyadic cell size (f32 vs f64)', async () => {
      const grid: GridSpec = { min: [0, 0, 0], cellSize: 0.1, dims: [100, 1, 1] };
      const xs = Float32Array.from({ length: 101 }, (_, i) => i * 0.1);
      const zeros = new Float32Array(xs.length);
      const gpuCells = await runCells(grid, xs, zeros, zeros);
      const cpu = cpuCells(grid, xs, zeros, zeros);
      let differ = 0;
      for (let i = 0; i < xs.length; i++) {
        expect(Math.abs(gpuCells[i]! - cpu[i]!)).toBeLessThanOrEqual(1);
        if (gpuCells[i] !== cpu[i]) differ++;
      }
      console.log(`cell boundaries at multiples of 0.1: ${differ} of ${xs.length} positions in the neighbouring cell (f32 vs f64)`);
    });
  });
});
