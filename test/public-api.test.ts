/**
 * The package's public entry (index.ts, package.json `exports`): the built entry resolves by the
 * package name and holds the documented names, and a model written against it alone (a kernel
 * compiled over its arrays with the public freshCopy / InstanceCache, as docs/guide.md shows) runs on
 * 1 and 2 workers and equals a hand loop written here, bit for bit.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileModel, defineActor, defineModel, freshCopy, moduleUrl, Simulation } from '../index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('public API', () => {
  it("the built entry resolves as 'simloom' and exports the documented names", () => {
    if (!existsSync(path.join(root, 'dist/index.js'))) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "const m = await import('simloom'); console.log(JSON.stringify(Object.keys(m)))"], { cwd: root, encoding: 'utf8' });
    const names = JSON.parse(out.trim()) as string[];
    for (const n of ['defineActor', 'defineModel', 'compileModel', 'moduleUrl', 'Fault', 'Simulation', 'createSimulation', 'selectBackend', 'defineScenario', 'runScenario', 'resumeRun', 'freshCopy', 'InstanceCache', 'CheckError', 'CapacityError', 'UsageError', 'RecordRing', 'uniform']) {
      expect(names, n).toContain(n);
    }
  });

  it('a kernel compiled over its arrays (freshCopy) runs on 1 and 2 workers and equals a hand loop', async () => {
    const n = 50_000;
    const steps = 12;
    const k = 0.01;
    const damping = 0.05;
    const Spring = defineActor({
      name: 'Spring',
      kernels: moduleUrl(import.meta.url, './fixtures/compiled-kernel/kernels'),
      state: { x: { type: 'f32' }, v: { type: 'f32' } },
      params: { k: { default: k }, damping: { default: damping } },
      functions: { step: { kernel: 'spring.step', reads: ['x', 'v'], writes: ['x', 'v'] } },
    });
    const spec = compileModel(defineModel({ name: 'springs', actors: [Spring], population: { Spring: { capacity: n } } }));
    // Hand loop, in f32 as the columns hold it.
    const f = Math.fround;
    const hx = new Float32Array(n);
    const hv = new Float32Array(n);
    for (let i = 0; i < n; i++) hx[i] = f(Math.sin(i) * 10);
    for (let s = 0; s < steps; s++) {
      for (let i = 0; i < n; i++) {
        const v2 = (hv[i]! - k * hx[i]!) * (1 - damping);
        hv[i] = v2;
        hx[i] = hx[i]! + f(v2);
      }
    }
    for (const workers of [1, 2]) {
      const sim = await Simulation.create(spec, { workers, seed: 1, inlineBelow: 0 });
      const x = sim.state('Spring').x!;
      for (let i = 0; i < n; i++) x[i] = Math.sin(i) * 10;
      sim.run(steps);
      expect(sim.state('Spring').x, `x on ${workers} worker(s)`).toEqual(hx);
      expect(sim.state('Spring').v, `v on ${workers} worker(s)`).toEqual(hv);
      await sim.close();
    }
    // The fixture kernel built its instances on this thread (the host runs partition 0), one per
    // column set (two: the parities), through freshCopy, which makes a new function literal.
    const fixture = await import('./fixtures/compiled-kernel/kernels.js');
    expect(fixture.built).toBeGreaterThanOrEqual(2);
    const make = (a: Float64Array): number => a.length;
    expect(freshCopy(make)).not.toBe(make);
  });
});
