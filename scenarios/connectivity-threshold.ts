/**
 * `connectivity-threshold`: the connectivity threshold shift of MODELS.md §1 (the seed's
 * `non_local_connectivity_threshold_shift`). On an n × n grid (n = 50) each bond is kept with
 * probability p ∈ linspace(0.4, 0.7, 16); the order parameter η is the fraction of sites in the
 * largest connected component, averaged over `trials` seeded graphs per p; the threshold is the
 * first p whose mean η reaches 0.5. The same graphs plus 2% random shortcuts (⌊0.02·kept bonds⌋
 * random pairs) lower it: the original finds ≈ 0.52 without and ≈ 0.46 with shortcuts.
 *
 *   simloom run connectivity-threshold [--set trials=5] [--set jump=true] [--seed 1]
 *
 * Every graph of the sweep (points × trials × {without, with shortcuts}, 160 grids by default) is
 * one disjoint part of a single `bonds` graph of `ConnectivitySite` actors, and all of them find
 * their components at once by min-label propagation (actors/landau/connectivity.ts), one engine step
 * per round, until no site changes. The host then counts labels per grid. A union-find over the same
 * edges checks every label (`results.connectivity.oracleAgrees`).
 *
 * `results.connectivity`: `ps`, for `withoutShortcuts` and `withShortcuts` the mean η per p, η per
 * trial, the connectivity energy F = (1 − η)² + (1 − η)⁴ of the mean, and the threshold (first grid
 * p reaching 0.5, and interpolated linearly); `shift` (without − with), `rounds` (propagation steps),
 * `converged`, `oracleAgrees`. validate() checks convergence, the oracle, η ∈ (0, 1], η not
 * decreasing in p and never lower with shortcuts in any trial (the draws are shared, so both hold
 * exactly), and a threshold that is not higher with shortcuts.
 */
import { BOND_GRAPH, connectivitySiteActor, crossing, gridBondGraph, largestComponent, SITE_KIND } from '../actors/landau/connectivity.js';
import { linspace } from '../actors/landau/problem.js';
import { CheckError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import { defineScenario } from '../sim/scenario.js';

/** One curve of the sweep. */
export interface ConnectivityCurve {
  /** Mean η per p. */
  eta: number[];
  /** η per p, per trial: perTrial[k][t]. */
  perTrial: number[][];
  /** F = (1 − η)² + (1 − η)⁴ of the mean η per p (the seed's ConnectivityModule, α = β = 1). */
  energy: number[];
  /** First p of the grid whose mean η ≥ threshold (1 if none: the original's convention). */
  thresholdP: number;
  /** Linear interpolation of the crossing between that p and the one before (null if not bracketed). */
  thresholdInterpolated: number | null;
  /** Grid bonds and shortcuts kept, summed over the curve's graphs. */
  bonds: number;
  shortcuts: number;
}

export interface ConnectivityResults {
  n: number;
  ps: number[];
  trials: number;
  shortcutFraction: number;
  threshold: number;
  withoutShortcuts: ConnectivityCurve;
  withShortcuts: ConnectivityCurve;
  /** thresholdP without − with shortcuts. */
  shift: number;
  /** Engine steps (propagation rounds) until no label changed, the last one included. */
  rounds: number;
  converged: boolean;
  jump: boolean;
  /** Whether every site's label equals the smallest site id of its union-find component. */
  oracleAgrees: boolean;
}

/** Smallest site id of each site's component, by union-find over undirected edges (a, b). */
export function unionFindLabels(sites: number, a: ArrayLike<number>, b: ArrayLike<number>): Uint32Array {
  const parent = new Uint32Array(sites);
  for (let i = 0; i < sites; i++) parent[i] = i;
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r]!;
    while (parent[x] !== r) {
      const up = parent[x]!;
      parent[x] = r;
      x = up;
    }
    return r;
  };
  for (let k = 0; k < a.length; k++) {
    const x = find(a[k]!);
    const y = find(b[k]!);
    // Union by smaller id: every root is its component's smallest id.
    if (x < y) parent[y] = x;
    else if (y < x) parent[x] = y;
  }
  const out = new Uint32Array(sites);
  for (let i = 0; i < sites; i++) out[i] = find(i);
  return out;
}

const energyOf = (eta: number): number => (1 - eta) ** 2 + (1 - eta) ** 4;

export default defineScenario({
  name: 'connectivity-threshold',
  description: 'connectivity threshold shift of MODELS.md §1: largest-component fraction vs bond probability on a 50×50 grid, with and without 2% shortcuts',
  params: {
    n: { type: 'integer', default: 50, min: 2, max: 2000, description: 'grid sites per side' },
    pMin: { type: 'number', default: 0.4, min: 0, max: 1, description: 'first bond probability' },
    pMax: { type: 'number', default: 0.7, min: 0, max: 1, description: 'last bond probability' },
    points: { type: 'integer', default: 16, min: 1, max: 1000, description: 'bond probabilities (linspace)' },
    shortcutFraction: { type: 'number', default: 0.02, min: 0, max: 1, description: 'shortcuts drawn per kept bond in the second curve' },
    trials: { type: 'integer', default: 5, min: 1, max: 10_000, description: 'seeded graphs per point' },
    threshold: { type: 'number', default: 0.5, min: 0, max: 1, description: 'level of η that defines the threshold' },
    jump: { type: 'boolean', default: false, description: 'pointer jumping: also take the label of the site a label names (same result, fewer rounds)' },
    maxRounds: { type: 'integer', default: 1_000_000, min: 1, description: 'give up after this many propagation steps' },
  },
  defaultSteps: 0,
  // init() drives the propagation and keeps the results on the host: a checkpoint could not resume it.
  resumable: false,
  plots: [{ name: 'threshold', title: 'connectivity-threshold: bond probability at which mean η reaches 0.5', y: ['thresholdWithout', 'thresholdWith'], yTitle: 'p' }],
  setup(p) {
    const n = Number(p.n);
    const ps = linspace(Number(p.pMin), Number(p.pMax), Number(p.points));
    const trials = Number(p.trials);
    const fraction = Number(p.shortcutFraction);
    const sitesPerGrid = n * n;
    const grids = 2 * ps.length * trials;
    const maxUndirected = 2 * n * (n - 1) + Math.floor(fraction * 2 * n * (n - 1));
    let results: ConnectivityResults | null = null;
    return {
      model: defineModel({
        name: 'connectivity_threshold',
        actors: [connectivitySiteActor()],
        population: { [SITE_KIND]: { capacity: grids * sitesPerGrid } },
        graphs: { [BOND_GRAPH]: { from: SITE_KIND, to: SITE_KIND, maxEdges: Math.max(1, grids * 2 * maxUndirected) } },
        params: { [SITE_KIND]: { jump: p.jump === true ? 1 : 0 } },
      }),
      async init(sim) {
        // Grid g = (variant v, point k, trial t) holds sites g·n² .. (g+1)·n² − 1.
        const gridOf = (v: number, k: number, t: number): number => (v * ps.length + k) * trials + t;
        const a: number[] = [];
        const b: number[] = [];
        const kept = [
          [0, 0],
          [0, 0],
        ];
        for (let v = 0; v < 2; v++) {
          for (let k = 0; k < ps.length; k++) {
            for (let t = 0; t < trials; t++) {
              const g = gridBondGraph({ n, p: ps[k]!, shortcutFraction: v === 1 ? fraction : 0, seed: sim.seed, trial: t });
              const offset = gridOf(v, k, t) * sitesPerGrid;
              for (let e = 0; e < g.a.length; e++) {
                a.push(offset + g.a[e]!);
                b.push(offset + g.b[e]!);
              }
              kept[v]![0]! += g.bonds;
              kept[v]![1]! += g.shortcuts;
            }
          }
        }
        // Each undirected edge as two directed ones.
        sim.setGraph(BOND_GRAPH, [...a, ...b], [...b, ...a]);
        const sites = sim.count(SITE_KIND);
        const label = sim.state(SITE_KIND).label!;
        for (let i = 0; i < sites; i++) label[i] = i;

        let rounds = 0;
        let converged = false;
        const maxRounds = Number(p.maxRounds);
        while (rounds < maxRounds) {
          await sim.stepOnce();
          if (sim.sync) await sim.sync();
          rounds++;
          const changed = sim.state(SITE_KIND).changed!;
          let any = false;
          for (let i = 0; i < sites; i++) {
            if (changed[i] !== 0) {
              any = true;
              break;
            }
          }
          if (!any) {
            converged = true;
            break;
          }
        }
        const labels = sim.state(SITE_KIND).label!;
        const oracle = unionFindLabels(sites, a, b);
        let oracleAgrees = true;
        for (let i = 0; i < sites; i++) {
          if (labels[i] !== oracle[i]) {
            oracleAgrees = false;
            break;
          }
        }
        const level = Number(p.threshold);
        const curve = (v: number): ConnectivityCurve => {
          const perTrial = ps.map((_, k) => Array.from({ length: trials }, (_, t) => largestComponent(labels, gridOf(v, k, t) * sitesPerGrid, sitesPerGrid) / sitesPerGrid));
          const eta = perTrial.map((xs) => xs.reduce((x, y) => x + y, 0) / trials);
          const c = crossing(ps, eta, level);
          return {
            eta,
            perTrial,
            energy: eta.map(energyOf),
            thresholdP: c.grid,
            thresholdInterpolated: Number.isNaN(c.interpolated) ? null : c.interpolated,
            bonds: kept[v]![0]!,
            shortcuts: kept[v]![1]!,
          };
        };
        const without = curve(0);
        const withShortcuts = curve(1);
        results = {
          n,
          ps,
          trials,
          shortcutFraction: fraction,
          threshold: level,
          withoutShortcuts: without,
          withShortcuts,
          shift: without.thresholdP - withShortcuts.thresholdP,
          rounds,
          converged,
          jump: p.jump === true,
          oracleAgrees,
        };
        if (!converged) throw new CheckError(`connectivity-threshold: labels still changing after ${maxRounds} propagation steps; raise --set maxRounds or use --set jump=true`);
      },
      metrics(): Record<string, number> {
        if (!results) return {};
        return { thresholdWithout: results.withoutShortcuts.thresholdP, thresholdWith: results.withShortcuts.thresholdP, rounds: results.rounds };
      },
      results() {
        return results ? { connectivity: results } : {};
      },
    };
  },
  validate(summary) {
    const r = summary.results.connectivity as ConnectivityResults | undefined;
    if (!r) return ['results.connectivity is missing'];
    const problems: string[] = [];
    if (!r.converged) problems.push(`labels did not converge in ${r.rounds} rounds`);
    if (!r.oracleAgrees) problems.push('some site label differs from the union-find component minimum');
    for (const [name, c] of [
      ['without shortcuts', r.withoutShortcuts],
      ['with shortcuts', r.withShortcuts],
    ] as const) {
      c.perTrial.forEach((xs, k) =>
        xs.forEach((x, t) => {
          if (!(x > 0 && x <= 1)) problems.push(`${name}: η = ${x} at p = ${r.ps[k]}, trial ${t} is outside (0, 1]`);
          if (k > 0 && x < c.perTrial[k - 1]![t]!) problems.push(`${name}: η fell from ${c.perTrial[k - 1]![t]} to ${x} between p = ${r.ps[k - 1]} and ${r.ps[k]} in trial ${t} (bond sets grow with p)`);
        }),
      );
    }
    r.withShortcuts.perTrial.forEach((xs, k) =>
      xs.forEach((x, t) => {
        if (x < r.withoutShortcuts.perTrial[k]![t]!) problems.push(`η with shortcuts ${x} < without ${r.withoutShortcuts.perTrial[k]![t]} at p = ${r.ps[k]}, trial ${t}`);
      }),
    );
    if (r.withShortcuts.thresholdP > r.withoutShortcuts.thresholdP) problems.push(`the threshold with shortcuts (${r.withShortcuts.thresholdP}) is above the one without (${r.withoutShortcuts.thresholdP})`);
    return problems;
  },
});
