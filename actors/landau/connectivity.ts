/**
 * Kind `ConnectivitySite`: a site of a bond-percolation grid that finds its connected component by
 * iterated min-label propagation, and the graphs of the connectivity-threshold experiment
 * (MODELS.md §1; the seed's `non_local_connectivity_threshold_shift`).
 *
 * State: `label` (u32), the smallest site id the site has heard of, initially its own id; `changed`
 * (u8), whether the last relabel lowered it.
 * Messages: `ConnectivitySite.label` {label: u32}, one record per edge of the graph `bonds` (forward:
 * written by the source, read by the destination); `ConnectivitySite.current` {label: u32}, one
 * record per site (array), read by site index for the optional pointer jump.
 * One step, two phases:
 *
 *   phase 0  publish   every site writes its label on each of its out-edges (and into `current`)
 *   phase 1  relabel   label ← min(label, labels received on its in-edges [, current[label]])
 *
 * Bonds are undirected, so each is stored as two directed edges. Labels only travel along edges, so
 * a label is always the id of a site in the same component, and labels never rise: at the fixed
 * point (no site changed) every site of a component holds the component's smallest id. The number of
 * steps is the largest distance, in hops, from a component's smallest site to its other sites. With
 * `jump` (param, default 0) a site also takes the label of the site its label names (the label's
 * label, read from `current`): still a site of the same component, and the labels converge in far
 * fewer steps (pointer jumping); the fixed point is the same.
 *
 * The graphs: an n × n grid (site (r, c) has id r·n + c) whose 2n(n − 1) bonds are each kept with
 * probability p, plus optional random shortcuts between uniform pairs of sites, as the seed's
 * `build_grid_bond_graph`: ⌊shortcutFraction · kept bonds⌋ draws, a draw whose two ends coincide
 * adds nothing. All draws are counter-based (seed, trial, bond or shortcut index), so for one trial
 * the same uniform numbers decide every p and both variants: bond sets grow with p, and the graph with
 * shortcuts is the graph without them plus edges (the original reuses `seed + trial` the same way).
 */
import type { ActorDecl } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';
import { uniform } from '../../src/rng.js';

export const SITE_KIND = 'ConnectivitySite';
export const BOND_GRAPH = 'bonds';

/** RNG streams of the grid graphs (kind 0 of the host-side draws). */
export const BOND_STREAM = 0xb0d1;
export const SHORTCUT_STREAM = 0x5c01;

export function connectivitySiteActor(): ActorDecl {
  return {
    name: SITE_KIND,
    description: 'a site of a bond-percolation grid; finds its component by min-label propagation',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/connectivity'),
    state: {
      label: { type: 'u32', description: 'smallest site id heard of so far (the component label at the fixed point)' },
      changed: { type: 'u8', description: '1 if the last relabel lowered the label' },
    },
    params: {
      jump: { default: 0, min: 0, max: 1, integer: true, description: 'also take the label of the site the label names (pointer jumping)' },
    },
    messages: {
      label: { description: "the sender's label, on each of its bonds", fields: { label: 'u32' }, delivery: { type: 'graph', graph: BOND_GRAPH, direction: 'forward' } },
      current: { description: "every site's label, read by site index (pointer jump)", fields: { label: 'u32' }, delivery: { type: 'array' } },
    },
    functions: {
      publish: { kernel: 'connectivity.publish', reads: ['label'], outputs: [`${SITE_KIND}.label`, `${SITE_KIND}.current`] },
      relabel: { kernel: 'connectivity.relabel', reads: ['label'], writes: ['label', 'changed'], inputs: [`${SITE_KIND}.label`, `${SITE_KIND}.current`] },
    },
  };
}

/** One grid graph: undirected bonds as pairs of site ids (local ids 0..n²−1). */
export interface GridGraph {
  /** Sites per side. */
  readonly n: number;
  /** Kept grid bonds. */
  readonly bonds: number;
  /** Shortcuts added (draws with two distinct ends). */
  readonly shortcuts: number;
  /** Undirected edges (grid bonds, then shortcuts): ends a[k], b[k]. */
  readonly a: Uint32Array;
  readonly b: Uint32Array;
}

export interface GridGraphOptions {
  n: number;
  p: number;
  /** Fraction of kept bonds drawn as shortcuts (0: none). */
  shortcutFraction: number;
  seed: number;
  trial: number;
}

/**
 * The grid bond graph of one trial (see the file comment). Bond k of the grid: horizontal bonds
 * (r, c)–(r, c+1) first, k = r·(n−1) + c, then vertical (r, c)–(r+1, c), k = n(n−1) + r·n + c; kept
 * when u(seed, trial, k) < p. Shortcut s joins ⌊u·n²⌋ and ⌊u'·n²⌋ (counters 2s, 2s+1).
 */
export function gridBondGraph(o: GridGraphOptions): GridGraph {
  const { n, p, seed, trial } = o;
  const sites = n * n;
  const total = 2 * n * (n - 1);
  const a: number[] = [];
  const b: number[] = [];
  const horizontal = n * (n - 1);
  for (let k = 0; k < total; k++) {
    if (!(uniform(seed, 0, trial, 0, BOND_STREAM, k) < p)) continue;
    if (k < horizontal) {
      const r = Math.floor(k / (n - 1));
      const c = k % (n - 1);
      a.push(r * n + c);
      b.push(r * n + c + 1);
    } else {
      const q = k - horizontal;
      a.push(q);
      b.push(q + n);
    }
  }
  const bonds = a.length;
  const draws = Math.floor(o.shortcutFraction * bonds);
  let shortcuts = 0;
  for (let s = 0; s < draws; s++) {
    const x = Math.floor(uniform(seed, 0, trial, 0, SHORTCUT_STREAM, 2 * s) * sites);
    const y = Math.floor(uniform(seed, 0, trial, 0, SHORTCUT_STREAM, 2 * s + 1) * sites);
    if (x === y) continue;
    a.push(x);
    b.push(y);
    shortcuts++;
  }
  return { n, bonds, shortcuts, a: Uint32Array.from(a), b: Uint32Array.from(b) };
}

/** Size of the largest component among `labels[offset .. offset + sites)` (labels are site ids ≥ offset). */
export function largestComponent(labels: ArrayLike<number>, offset: number, sites: number): number {
  const count = new Uint32Array(sites);
  let best = 0;
  for (let i = 0; i < sites; i++) {
    const c = ++count[labels[offset + i]! - offset]!;
    if (c > best) best = c;
  }
  return best;
}

/**
 * The threshold of a curve η(p): the first p of the grid whose η reaches `level` (the original's
 * definition; 1 when none does), and the linear interpolation between it and the point before (NaN
 * when the first point already reaches it or none does).
 */
export function crossing(ps: readonly number[], eta: readonly number[], level: number): { grid: number; interpolated: number } {
  for (let k = 0; k < ps.length; k++) {
    if (eta[k]! >= level) {
      if (k === 0) return { grid: ps[0]!, interpolated: NaN };
      const p0 = ps[k - 1]!;
      const e0 = eta[k - 1]!;
      return { grid: ps[k]!, interpolated: p0 + ((level - e0) * (ps[k]! - p0)) / (eta[k]! - e0) };
    }
  }
  return { grid: 1, interpolated: NaN };
}
