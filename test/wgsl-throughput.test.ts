/**
 * Throughput of the WGSL scan and counting sort at 1M and 4M elements, for the record. Opt-in (it takes
 * a while on a software adapter): `SIMLOOM_WGSL_BENCH=1 npx vitest run test/wgsl-throughput.test.ts`.
 * Prints one line per case with the adapter, Node version, GPU time (timestamp queries, median of
 * REPEATS after a warm-up) and wall time per submit; data stays resident, nothing is read back.
 */
import { describe, expect, it } from 'vitest';
import { hash32 } from '../src/rng.js';
import { GpuCompute, type BatchResult } from '../sim/gpu/compute.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { GpuPrimitives } from '../sim/gpu/primitives.js';

const REPEATS = 5;
const enabled = process.env.SIMLOOM_WGSL_BENCH === '1';
const probe = enabled ? await probeWebGpu() : undefined;
const skipReason = !enabled
  ? ' — SKIPPED: opt-in, set SIMLOOM_WGSL_BENCH=1'
  : probe && !probe.ok
    ? ` — SKIPPED: ${probe.reason}`
    : '';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe.skipIf(skipReason !== '')(`wgsl throughput${skipReason}`, () => {
  it('scan and counting sort at 1M and 4M elements', async () => {
    if (!probe?.ok) return;
    const gpu = new GpuCompute(probe.device);
    const prims = await GpuPrimitives.create(gpu);
    const where = `${probe.info.name} (${probe.info.type}, ${probe.info.backend}), node ${process.version}, timing ${gpu.timestamps ? 'timestamp' : 'submit'}`;
    console.log(`wgsl throughput on ${where}; compile ${prims.compileMs.toFixed(0)} ms`);

    const measure = async (label: string, n: number, record: (batch: ReturnType<GpuCompute['batch']>) => void): Promise<void> => {
      const results: BatchResult[] = [];
      for (let i = 0; i <= REPEATS; i++) {
        const batch = gpu.batch(label);
        record(batch);
        const r = await batch.submit();
        if (i > 0) results.push(r); // the first run warms up (lavapipe compiles on first use)
      }
      const gpuMs = gpu.timestamps ? median(results.map((r) => r.gpuMs!)) : NaN;
      const wallMs = median(results.map((r) => r.wallMs));
      const perSecond = (n / ((gpu.timestamps ? gpuMs : wallMs) / 1e3) / 1e6).toFixed(1);
      console.log(
        `${label}: gpu ${gpuMs.toFixed(1)} ms, wall ${wallMs.toFixed(1)} ms, ${perSecond} M elements/s, ` +
          `${results[0]!.dispatches} dispatches in ${results[0]!.passes} passes`,
      );
      expect(wallMs).toBeGreaterThan(0);
    };

    for (const n of [1 << 20, 1 << 22]) {
      const data = gpu.createBuffer({ label: 'scan data', data: Uint32Array.from({ length: n + 1 }, (_, i) => i & 7) });
      const scan = prims.scanPlan(n, { total: true });
      await measure(`scan ${n} u32`, n, (b) => scan.encode(b, data));
      scan.destroy();
      data.destroy();

      for (const keys of [1024, n]) {
        const key = Uint32Array.from({ length: n }, (_, i) => hash32(1, 0, i, 0, 0, 0) % keys);
        const io = {
          sent: gpu.createBuffer({ label: 'sent', data: new Uint32Array(n).fill(1) }),
          key: gpu.createBuffer({ label: 'key', data: key }),
          offsets: gpu.createBuffer({ label: 'offsets', size: 4 * (keys + 1) }),
          perm: gpu.createBuffer({ label: 'perm', size: 4 * n }),
          sender: gpu.createBuffer({ label: 'sender', size: 4 * n }),
          fault: gpu.createBuffer({ label: 'fault', size: 8 }),
        };
        const sort = prims.countingSortPlan({ senders: n, maxPer: 1, keys });
        await measure(`counting sort ${n} records, ${keys} keys (${sort.passes} radix passes)`, n, (b) => sort.encode(b, io));
        sort.destroy();
        for (const b of Object.values(io)) b.destroy();
      }
    }
    gpu.destroy();
    probe.destroy();
  });
});
