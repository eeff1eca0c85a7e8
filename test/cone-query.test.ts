/**
 * Cone retrieval over the shells (MODELS.md §2): the aperture law by hand, unit-vector validation, and
 * the engine's answers against a brute-force scan written here (angles from atan2(‖a×q‖, a·q), the
 * aperture from the formula in f64), on a water-filled placement.
 */
import { describe, expect, it } from 'vitest';
import { checkUnit, coneAperture } from '../actors/water-filling/cone.js';
import { shellGeometry } from '../actors/water-filling/geometry.js';
import type { ConeQueryResults } from '../scenarios/cone-query.js';
import { runScenario } from '../sim/run.js';
import { syntheticPoints } from '../actors/water-filling/data.js';
import { configFrom, runWaterFilling } from '../scenarios/water-filling.js';
import waterFilling from '../scenarios/water-filling.js';
import { parseParams } from '../sim/scenario.js';

describe('cone aperture', () => {
  it('α = (π/4)·sqrt(r/r_max)·e^(−5ρ)·(1 − q)', () => {
    expect(coneAperture(1024, 1024, 0, 0)).toBeCloseTo(Math.PI / 4, 15);
    expect(coneAperture(256, 1024, 0, 0)).toBeCloseTo(Math.PI / 8, 15);
    expect(coneAperture(1024, 1024, 0.2, 0.5)).toBeCloseTo((Math.PI / 4) * Math.exp(-1) * 0.5, 15);
    expect(coneAperture(1024, 1024, 0, 1)).toBe(0);
  });

  it('refuses non-unit query vectors with the fix', () => {
    expect(() => checkUnit([0, 0, 1], 'q')).not.toThrow();
    expect(() => checkUnit([0.6, 0.8, 0], 'q')).not.toThrow();
    expect(() => checkUnit([1, 1, 0], 'q')).toThrow(/must be a unit vector, but ‖q‖ = 1.414.*divide it by its norm/);
    expect(() => checkUnit([1, 0], 'q')).toThrow(/three finite numbers/);
  });
});

describe('cone-query scenario', () => {
  it('every answer equals a brute-force scan of all points', async () => {
    const set = { n: '4000', dim: '16', shells: '32', queries: '6', confidence: '0.2', data: 'isotropic' };
    const summary = await runScenario({ scenario: 'cone-query', workers: 2, set });
    expect(summary.validation).toEqual({ ok: true, problems: [] });
    const r = summary.results.cone as ConeQueryResults;
    expect(r.queries).toHaveLength(6);
    expect(r.totalHits).toBeGreaterThan(0);
    // Independent oracle: the same placement (same seed), angles by atan2, apertures by the formula.
    const p = parseParams(waterFilling, { n: '4000', dim: '16', shells: '32', data: 'isotropic' });
    const cfg = configFrom(p);
    const pts = syntheticPoints({ n: 4000, dim: 16, data: 'isotropic', seed: 1 });
    const placed = await runWaterFilling(pts, cfg, { workers: 1, seed: 1 });
    const g = shellGeometry(cfg.geometry, 4000);
    const counts = new Float64Array(g.shells);
    for (let i = 0; i < 4000; i++) counts[placed.final.shell[i]!]!++;
    for (const q of r.queries) {
      const want: number[] = [];
      let ambiguous = 0;
      for (let i = 0; i < 4000; i++) {
        const th = placed.final.theta[i]!;
        const ph = placed.final.phi[i]!;
        const a = [Math.sin(th) * Math.cos(ph), Math.sin(th) * Math.sin(ph), Math.cos(th)];
        const d = q.direction;
        const cross = Math.hypot(a[1]! * d[2] - a[2]! * d[1], a[2]! * d[0] - a[0]! * d[2], a[0]! * d[1] - a[1]! * d[0]);
        const angle = Math.atan2(cross, a[0]! * d[0] + a[1]! * d[1] + a[2]! * d[2]);
        const k = placed.final.shell[i]!;
        const alpha = coneAperture(g.radii[k]!, g.rMax, counts[k]! / 4000, 0.2);
        if (Math.abs(angle - alpha) < 1e-5) ambiguous++;
        else if (angle < alpha) want.push(i);
      }
      expect(ambiguous).toBeLessThanOrEqual(1);
      if (ambiguous === 0) expect(q.hits).toBe(want.length);
      expect(Math.abs(q.hits - want.length)).toBeLessThanOrEqual(ambiguous);
      // The answers' first ids (the summary keeps up to 20) are the oracle's.
      if (ambiguous === 0) expect(q.firstIds).toEqual(want.slice(0, 20));
    }
  }, 120_000);

  it('answers one given unit query; refuses a non-unit one', async () => {
    const ok = await runScenario({ scenario: 'cone-query', workers: 1, set: { n: '2000', dim: '8', shells: '16', query: '0,0,1' } });
    expect(ok.validation.ok).toBe(true);
    expect((ok.results.cone as ConeQueryResults).queries[0]!.direction).toEqual([0, 0, 1]);
    await expect(runScenario({ scenario: 'cone-query', set: { query: '1,1,0' } })).rejects.toThrow(/--set query must be a unit vector/);
  }, 120_000);
});
