/**
 * `simloom bench gpu` at its full-size settings (not --quick), with small actor counts from the
 * environment, on whatever adapter this machine has: the path the H100 run takes
 * (scripts/device-runs.sh bench) must run to the end. It once did not: its 256 MiB copy binding
 * exceeded lavapipe's 128 MiB limit. Checks the report's shape and its arithmetic (the ratio against
 * the rows it is made of), not speed. Skipped, with the reason, where no adapter exists.
 */
import { describe, expect, it } from 'vitest';
import { probeWebGpu } from '../sim/gpu/device.js';

const probe = await probeWebGpu();
const reason = probe.ok ? '' : ` — SKIPPED: ${probe.reason}`;
if (probe.ok) probe.destroy();

describe.skipIf(!probe.ok)(`bench gpu, full-size path${reason}`, () => {
  it('runs every part and reports bandwidthFraction as element-wise GB/s ÷ copy GB/s', async () => {
    process.env.SIMLOOM_GPU_BENCH_CIRCLES = '2000';
    process.env.SIMLOOM_GPU_BENCH_ACTORS = '20000';
    try {
      const { run } = await import('../bench/gpu.bench.js');
      const report = await run({ quick: false });
      const row = (re: RegExp) => {
        const r = report.results.find((x) => re.test(x.name));
        expect(r, String(re)).toBeDefined();
        expect(r!.value).toBeGreaterThan(0);
        return r!;
      };
      const copy = row(/^device copy, copyBufferToBuffer \d+ MiB/);
      row(/^device copy, WGSL kernel/);
      row(/^element-wise update, 20000 actors \(.* per step\)/);
      const elementwise = row(/^element-wise update, 20000 actors \(16 B/);
      row(/^circles, 2000 agents \(wall/);
      row(/^circles, 2000 agents, cubic cells of side radius/);
      row(/^step floor, 10000 actors/);
      // Both figures are rounded to 5 significant digits in the report.
      expect(report.ratios.bandwidthFraction).toBeCloseTo(elementwise.value / copy.value, 3);
    } finally {
      delete process.env.SIMLOOM_GPU_BENCH_CIRCLES;
      delete process.env.SIMLOOM_GPU_BENCH_ACTORS;
    }
  });
});
