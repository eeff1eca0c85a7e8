/**
 * `cone-query`: cone retrieval over the shells (MODELS.md §2; actors/water-filling/cone.ts). The
 * points are first placed by water-filling (a CPU simulation of the `water-filling` model, balanced
 * mode unless `mode=compat`), then one engine step of the cone model answers `queries` queries at
 * once: shells publish their aperture factor, queries their direction and confidence, points send a
 * hit to every query whose cone holds them.
 *
 *   simloom run cone-query --set n=20000 queries=16 confidence=0.5
 *   simloom run cone-query --set query=0,0,1 confidence=0
 *
 * Query directions: `query=x,y,z` (one unit vector; anything else is refused with the fix), else the
 * directions of `queries` points chosen by the seed. `summary.results.cone`: per query its direction,
 * confidence, hits and the first ids (up to 20), the aperture range over occupied shells, and
 * `bruteForceAgrees` (every answer equals a brute-force scan of all points).
 */
import { bruteForceCone, checkUnit, coneQueryModel, direction } from '../actors/water-filling/cone.js';
import { shellGeometry } from '../actors/water-filling/geometry.js';
import { uniform } from '../src/rng.js';
import { UsageError } from '../src/errors.js';
import { defineScenario, type RunSummary } from '../sim/scenario.js';
import type { Simulation } from '../sim/simulation.js';
import waterFilling, { configFrom, pointsFrom, runWaterFilling } from './water-filling.js';

export interface ConeQueryResults {
  points: number;
  placement: { mode: string; passes: number; finalOverload: number };
  apertureRange: [number, number];
  queries: { direction: [number, number, number]; confidence: number; hits: number; firstIds: number[] }[];
  totalHits: number;
  bruteForceAgrees: boolean;
}

const QUERY_STREAM = 21;

function parseQuery(s: string): [number, number, number] | null {
  if (s === '') return null;
  const v = s.split(',').map((x) => Number(x.trim()));
  try {
    checkUnit(v, '--set query');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return [v[0]!, v[1]!, v[2]!];
}

export default defineScenario({
  name: 'cone-query',
  description: 'cone retrieval over water-filled shells: aperture (π/4)·√(r/r_max)·e^(−5ρ)·(1−q) around unit query directions',
  params: {
    ...waterFilling.params,
    queries: { type: 'integer', default: 8, min: 1, max: 1024, description: 'queries (directions of seeded random points) when query= is not given' },
    query: { type: 'string', default: '', description: 'one query direction x,y,z (a unit vector)' },
    confidence: { type: 'number', default: 0, min: 0, max: 1, description: 'query confidence q in [0, 1]' },
    n: { type: 'integer', default: 20_000, min: 1, max: 50_000_000, description: 'points (with file=: at most this many rows are read)' },
  },
  defaultSteps: 0,
  resumable: false,
  plots: [{ name: 'hits', title: 'cone-query: points within the cone, per query', y: ['hits'], yTitle: 'points' }],
  setup(p) {
    const cfg = configFrom(p);
    const single = parseQuery(String(p.query));
    const nq = single ? 1 : Number(p.queries);
    const confidence = Number(p.confidence);
    let result: ConeQueryResults | null = null;
    // n for the model: as the water-filling scenario counts it.
    const probe = waterFilling.setup(p).model.population.Point!.capacity;
    return {
      model: coneQueryModel({ points: probe, shells: cfg.geometry.shells, queries: nq, rMax: cfg.geometry.rMax }),
      async init(sim, host) {
        const pts = pointsFrom(p, sim.seed);
        const placed = await runWaterFilling(pts, cfg, { workers: (sim as Partial<Simulation>).workers ?? 1, seed: sim.seed });
        const g = shellGeometry(cfg.geometry, pts.n);
        const counts = new Float64Array(g.shells);
        for (let i = 0; i < pts.n; i++) counts[placed.final.shell[i]!]!++;
        const ps = sim.state('Point');
        ps.theta!.set(placed.final.theta);
        ps.phi!.set(placed.final.phi);
        ps.shell!.set(placed.final.shell);
        const ss = sim.state('Shell');
        ss.radius!.set(g.radii);
        ss.density!.set(counts.map((c) => c / pts.n));
        const qs = sim.state('Query');
        const dirs: [number, number, number][] = [];
        for (let j = 0; j < nq; j++) {
          const at = Math.floor(uniform(sim.seed, 0, j, 0, QUERY_STREAM, 0) * pts.n);
          const d = single ?? direction(placed.final.theta[at]!, placed.final.phi[at]!);
          qs.x![j] = d[0];
          qs.y![j] = d[1];
          qs.z![j] = d[2];
          qs.confidence![j] = confidence;
          dirs.push([qs.x![j]!, qs.y![j]!, qs.z![j]!]);
        }
        sim.uploadState?.();
        await sim.stepOnce();
        await sim.sync?.();
        // The answers: each query's records, sorted by sender.
        const hitIn = (sim as Simulation).messageIn('Point.hit');
        // Apertures as the shells published them (f32 factor times 1 − q), for the brute force.
        const factor = (sim as Simulation).messageColumns('Shell.cone').factor!;
        const queries: ConeQueryResults['queries'] = [];
        let agrees = true;
        let total = 0;
        let lo = Infinity;
        let hi = -Infinity;
        for (let k = 0; k < g.shells; k++) {
          if (counts[k]! === 0) continue;
          const a = factor[k]! * (1 - Math.fround(confidence));
          lo = Math.min(lo, a);
          hi = Math.max(hi, a);
        }
        for (let j = 0; j < nq; j++) {
          const ids = Array.from(hitIn.sender.subarray(hitIn.offsets[j], hitIn.offsets[j + 1]));
          const ap = Float64Array.from(factor, (f) => f * (1 - Math.fround(confidence)));
          const brute = bruteForceCone(placed.final.theta, placed.final.phi, placed.final.shell, pts.n, dirs[j]!, ap);
          if (brute.length !== ids.length || brute.some((x, t) => x !== ids[t])) agrees = false;
          total += ids.length;
          queries.push({ direction: dirs[j]!, confidence, hits: ids.length, firstIds: ids.slice(0, 20) });
          host?.record(j + 1, { hits: ids.length });
        }
        result = {
          points: pts.n,
          placement: { mode: cfg.mode, passes: placed.results.passes, finalOverload: placed.results.finalOverload },
          apertureRange: [lo, hi],
          queries,
          totalHits: total,
          bruteForceAgrees: agrees,
        };
      },
      // One metrics row per query (step = query number, through the runner's InitHost); the summary's
      // metrics are the last row, the total is results.cone.totalHits.
      metrics(): Record<string, number> {
        return result && result.queries.length > 0 ? { hits: result.queries.at(-1)!.hits } : {};
      },
      results() {
        return result ? { cone: result } : {};
      },
    };
  },
  validate(summary: RunSummary) {
    const r = summary.results.cone as ConeQueryResults | undefined;
    if (!r) return ['results.cone is missing'];
    const problems: string[] = [];
    if (!r.bruteForceAgrees) problems.push('a cone answer differs from the brute-force scan');
    if (!(r.apertureRange[0] >= 0 && r.apertureRange[1] <= Math.PI / 4)) problems.push(`apertures [${r.apertureRange.join(', ')}] leave [0, π/4]`);
    return problems;
  },
});
