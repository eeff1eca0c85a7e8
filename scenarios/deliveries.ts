/**
 * `deliveries`: a small model that uses every delivery kind (direct, bucket, array, spatial, graph
 * both ways), an onMessage and an every-k function, and the counter-based RNG, with invariants that
 * tie what senders wrote to what receivers read (see actors/deliveries for the step).
 *
 * The structure (positions, hub of each node, graph edges and weights) depends only on the
 * parameters, not on the seed; the seed drives the transfers, pings and jiggle moves.
 *
 * It runs on `--backend cpu` and `--backend webgpu` alike (no f64 column), with the same validation:
 * every check is exact (integers) except the two that involve the f32 hub mean and std, whose
 * tolerances are stated in `validate` (test/parity-deliveries.test.ts compares the backends).
 *
 *   simloom run deliveries --set n=20000 --set hubs=16 --steps 50
 */
import { HubActor, linksGraph, nodeActor, POSITION_UNIT, RADIUS_UNIT, wideSum } from '../actors/deliveries/index.js';
import { UsageError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import { hash32, uniform } from '../src/rng.js';
import { REDUCE_TOLERANCE } from '../sim/gpu/primitives.js';
import { defineScenario } from '../sim/scenario.js';
import type { Simulation } from '../sim/simulation.js';

/** Seed of the seed-independent structure (positions, graph). */
const STRUCTURE_SEED = 0x5eed;
const POSITION_STREAM = 1;
const GRAPH_STREAM = 2;

/** Node i reports to hub i mod hubs, so hub h has ⌊n / hubs⌋ or ⌈n / hubs⌉ nodes. */
function hubSize(h: number, n: number, hubs: number): number {
  return Math.floor(n / hubs) + (h < n % hubs ? 1 : 0);
}

/** Edges of `links`: `degree` out-edges per node to hashed destinations, weights in (0, 1]. */
export function deliveriesEdges(n: number, degree: number): { src: Uint32Array; dst: Uint32Array; weight: Float32Array } {
  const m = n * degree;
  const src = new Uint32Array(m);
  const dst = new Uint32Array(m);
  const weight = new Float32Array(m);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < degree; k++) {
      const e = i * degree + k;
      src[e] = i;
      dst[e] = hash32(STRUCTURE_SEED, 0, i, 0, GRAPH_STREAM, 2 * k) % n;
      weight[e] = (1 + (hash32(STRUCTURE_SEED, 0, i, 0, GRAPH_STREAM, 2 * k + 1) % 64)) / 64;
    }
  }
  return { src, dst, weight };
}

/** u ∈ [0, 1) onto [−0.5, width + 0.5), rounded down to a multiple of the position unit. */
function position(u: number, width: number): number {
  return Math.floor((u * (width + 1)) / POSITION_UNIT) * POSITION_UNIT - 0.5;
}

function sumOf(col: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += col[i]!;
  return s;
}

export default defineScenario({
  name: 'deliveries',
  description: 'nodes trade tokens (direct), report to hubs (bucket), read hub stats (array), count neighbours (spatial) and exchange flows on a graph (both ways)',
  params: {
    n: { type: 'integer', default: 20_000, min: 2, max: 1_000_000, description: 'number of nodes' },
    hubs: { type: 'integer', default: 16, min: 1, description: 'number of hubs (at most n)' },
    degree: { type: 'integer', default: 3, min: 0, max: 64, description: 'out-edges per node on the links graph' },
    radius: { type: 'number', default: 1, min: 0.0625, max: 100, description: 'neighbour radius (also the grid cell size), a multiple of 1/256' },
    initialValue: { type: 'integer', default: 1000, min: 0, description: 'tokens each node starts with' },
  },
  defaultSteps: 30,
  // `simloom run deliveries --plots` draws them into plots/<name>.svg and .png: the conserved token
  // total as the nodes hold it and as the hubs see it (three lines on top of one another while the
  // plumbing is right), the tokens moved in each step, and the pings (cumulative: the lines coincide).
  plots: [
    { name: 'tokens', title: 'deliveries: tokens held by the nodes, summed by the hubs, rebuilt from hub means', y: ['totalValue', 'hubSumTotal', 'hubMeanTotal'], yTitle: 'tokens' },
    { name: 'transfers', title: 'deliveries: tokens transferred per step', y: ['transferred'], yTitle: 'tokens per step' },
    { name: 'pings', title: 'deliveries: pings sent and received (cumulative)', y: ['pingsSent', 'pingsReceived'], yTitle: 'pings' },
  ],
  setup(p) {
    const n = Number(p.n);
    const hubs = Number(p.hubs);
    const degree = Number(p.degree);
    const radius = Number(p.radius);
    const initialValue = Number(p.initialValue);
    if (hubs > n) throw new UsageError(`--set hubs=${hubs}: must be ≤ n (${n}) so that every hub has a node`);
    if (!Number.isInteger(radius / RADIUS_UNIT)) {
      throw new UsageError(`--set radius=${radius}: must be a multiple of 1/256 (e.g. ${Math.round(radius / RADIUS_UNIT) * RADIUS_UNIT}), so that the neighbour test is exact on every backend`);
    }
    if (n * initialValue > 0x7fffffff) {
      throw new UsageError(`--set initialValue=${initialValue}: n · initialValue must stay ≤ 2147483647 (balances are i32)`);
    }
    // About one node per unit³ of the grid; positions span [−0.5, width + 0.5]³, so some nodes sit
    // outside the grid and are clamped into its border cells. They are multiples of 2^-16 (see
    // actors/deliveries: exact on every backend).
    const width = Math.max(1, Math.cbrt(n));
    const edges = deliveriesEdges(n, degree);
    return {
      model: defineModel({
        name: 'deliveries',
        actors: [nodeActor({ width, radius }), HubActor],
        population: { Node: { capacity: n }, Hub: { capacity: hubs } },
        graphs: { links: linksGraph(Math.max(1, n * degree)) },
      }),
      init(sim) {
        const s = sim.state('Node');
        for (let i = 0; i < n; i++) {
          s.x![i] = position(uniform(STRUCTURE_SEED, 0, i, 0, POSITION_STREAM, 0), width);
          s.y![i] = position(uniform(STRUCTURE_SEED, 0, i, 0, POSITION_STREAM, 1), width);
          s.z![i] = position(uniform(STRUCTURE_SEED, 0, i, 0, POSITION_STREAM, 2), width);
          s.group![i] = i % hubs;
          s.value![i] = initialValue;
        }
        sim.setGraph('links', edges.src, edges.dst, { weight: edges.weight });
      },
      metrics(sim) {
        const s = sim.state('Node');
        const h = sim.state('Hub');
        return {
          totalValue: sumOf(s.value!, n),
          transferred: sumOf(s.outflow!, n),
          sentAddr: wideSum(s.sentAddrLo!, s.sentAddrHi!, n),
          recvAddr: wideSum(s.recvAddrLo!, s.recvAddrHi!, n),
          hubCountTotal: sumOf(h.count!, hubs),
          hubSumTotal: sumOf(h.sum!, hubs),
          hubMeanTotal: sumOf(s.hubMean!, n),
          hubCountSq: sumOf(s.hubCount!, n),
          neighbourLinks: sumOf(s.neighbours!, n),
          neighbourSkew: wideSum(s.neighbourSkewLo!, s.neighbourSkewHi!, n),
          graphOut: wideSum(s.graphOutLo!, s.graphOutHi!, n),
          inflow: wideSum(s.inflowLo!, s.inflowHi!, n),
          echoSent: wideSum(s.echoSentLo!, s.echoSentHi!, n),
          backflow: wideSum(s.backflowLo!, s.backflowHi!, n),
          pingsSent: sumOf(s.pingsSent!, n),
          pingsReceived: sumOf(s.pingsReceived!, n),
          ticks: sumOf(s.ticks!, n),
        };
      },
      results(sim: Simulation) {
        const h = sim.state('Hub');
        const s = sim.state('Node');
        // min ≤ mean ≤ max and 0 ≤ std ≤ max − min, as the largest violation relative to the hub's
        // largest |value| (0 when all hold; validate allows the f32 rounding of mean and std).
        let hubOrderExcess = 0;
        for (let k = 0; k < hubs; k++) {
          const lo = h.min![k]!;
          const hi = h.max![k]!;
          const mean = h.mean![k]!;
          const std = h.std![k]!;
          const excess = Math.max(0, lo - mean, mean - hi, -std, std - (hi - lo)) / Math.max(1, Math.abs(lo), Math.abs(hi));
          if (!(excess <= hubOrderExcess)) hubOrderExcess = excess; // NaN sticks
        }
        let outside = 0;
        for (let i = 0; i < n; i++) {
          for (const c of [s.x!, s.y!, s.z!]) {
            const v = c[i]!;
            if (v < 0 || v > width) {
              outside++;
              break;
            }
          }
        }
        let hubCountSqExpected = 0;
        for (let k = 0; k < hubs; k++) hubCountSqExpected += hubSize(k, n, hubs) ** 2;
        return {
          nodes: n,
          hubs,
          edges: edges.src.length,
          width,
          radius,
          initialTotal: n * initialValue,
          hubCountSqExpected,
          hubOrderExcess,
          nodesOutsideGrid: outside,
        };
      },
    };
  },
  validate(summary) {
    const problems: string[] = [];
    const m = summary.metrics;
    const r = summary.results as {
      nodes: number;
      initialTotal: number;
      hubCountSqExpected: number;
      hubOrderExcess: number;
    };
    const metric = (k: string): number => m[k] ?? NaN;
    const equal = (what: string, a: number, b: number, tol = 0): void => {
      if (!(Math.abs(a - b) <= tol)) problems.push(`${what}: ${a} ≠ ${b}`);
    };
    equal('tokens are conserved (total balance vs n · initialValue)', metric('totalValue'), r.initialTotal);
    // Every check is exact (integer sums, below 2^53 as f64), except those on the f32 hub mean and std.
    equal('tokens addressed by senders vs received (Σ id · amount)', metric('sentAddr'), metric('recvAddr'));
    equal('pings sent vs received', metric('pingsSent'), metric('pingsReceived'));
    equal('forward graph flow written vs read', metric('graphOut'), metric('inflow'));
    equal('backward graph echo written vs read', metric('echoSent'), metric('backflow'));
    equal('neighbour relation is symmetric (Σ (j − i) over neighbour pairs)', metric('neighbourSkew'), 0);
    if (metric('neighbourLinks') % 2 !== 0) problems.push(`neighbour links ${metric('neighbourLinks')} is odd: the relation is not symmetric`);
    const ticks = Math.ceil(summary.steps / 3);
    equal(`every node ticks every 3rd step (${ticks} times)`, metric('ticks'), r.nodes * ticks);
    if (summary.steps > 0) {
      equal('nodes reported to hubs (Σ hub count vs n)', metric('hubCountTotal'), r.nodes);
      equal('hub sums vs total balance', metric('hubSumTotal'), metric('totalValue'));
      // Hub means are f32. On the CPU each is an f64 mean rounded to f32 (relative error ≤ 2^-24), on
      // the GPU an f32 reduction within REDUCE_TOLERANCE of the f64 one: |Δmean| ≤ relative ·
      // (mean + mean |x|) = 2 · relative · mean for balances ≥ 0. Σ_i hubMean[group i] weighs each
      // hub's mean by its count, so the sum is off by at most that factor of the total balance.
      const rel = summary.backend === 'webgpu' ? 2 * REDUCE_TOLERANCE.relative : 2 ** -23;
      equal('Σ over nodes of their hub mean vs total balance', metric('hubMeanTotal'), metric('totalValue'), rel * Math.max(1, r.initialTotal));
      equal('Σ over nodes of their hub count vs Σ hub size²', metric('hubCountSq'), r.hubCountSqExpected);
      // The same bound for mean and std relative to the hub's largest |balance| (min and max are exact
      // below 2^24 and rounded monotonically above, so on the CPU only values above 2^24 can differ).
      if (!(r.hubOrderExcess <= rel)) problems.push(`a hub violates min ≤ mean ≤ max or 0 ≤ std ≤ max − min by ${r.hubOrderExcess} of its largest balance (allowed: ${rel}, f32 rounding)`);
    }
    return problems;
  },
});
