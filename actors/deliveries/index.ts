/**
 * Kinds `Node` and `Hub` of the `deliveries` scenario: a small model that exercises every delivery
 * kind of ARCHITECTURE §3 at once, with quantities whose totals must match on both sides of every
 * message, so that the scenario's own validation checks the message plumbing.
 *
 * Each step, in phases derived from the declarations:
 * 1. `Node.emit` (every step), for node i with integer token balance `value`:
 *    - direct `Node.transfer` (≤ 2 records): sends ⌊value · share · u⌋ tokens (u uniform from
 *      `ctx.rng`) to (7i + step) mod n and to (i + 1) mod n, and remembers the total sent in `outflow`;
 *    - direct `Node.ping` (≤ 1 record): with probability `pingRate`, a ping to a random node;
 *    - bucket `Node.report` → `Hub` keyed by `group`: its balance, reduced per hub to
 *      count/sum/mean/std/min/max;
 *    - spatial `Node.location`: its position;
 *    - graph `Node.flow` (forward on `links`): ⌊weight · value⌋ on each out-edge;
 *    - graph `Node.echo` (backward on `links`): ⌊weight · value⌋ on each in-edge, read by the source.
 * 2. `Hub.collect`: copies the reductions of its bucket into its state and publishes them as the
 *    array message `Hub.stats` (one record per hub).
 * 3. `Node.absorb`: value ← value − outflow + tokens received; reads its hub's record of `Hub.stats`
 *    by index; counts neighbours within `radius` (itself excluded by sender id); sums the forward
 *    flows on its in-edges and the echoes on its out-edges.
 *    `Node.onPing` (activation onMessage `Node.ping`): counts the pings received.
 * 4. `Node.jiggle` (activation every 3 steps): moves each node by a small normal step from
 *    `ctx.rng` and counts its ticks.
 *
 * Invariants (checked by the scenario's `validate`): tokens are conserved; Σ over hubs of count = n
 * and of sum = Σ value; Σ_i hubMean[group i] = Σ value; tokens addressed by senders (Σ target ·
 * amount) equal tokens received (Σ self · amount); pings sent = pings received; the neighbour
 * relation is symmetric (Σ neighbours even, Σ (j − i) = 0); graph flows and echoes sent equal
 * those received; every node ticked ⌈steps / 3⌉ times.
 */
import { defineActor } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

/** Parameters of the Node kind. */
export const NODE_DEFAULTS = { share: 0.25, pingRate: 0.3, jiggle: 0.1 } as const;

/** RNG streams of the Node kernels (counters: transfer 0, 1; ping 0 = draw, 1 = target; jiggle 0..2). */
export const STREAM = { transfer: 1, ping: 2, jiggle: 3 } as const;

/** Receivers of node i's two transfers at `step`. */
export function transferTargets(i: number, n: number, step: number): [number, number] {
  return [((i % n) * 7 + (step % n)) % n, (i + 1) % n];
}

/** Tokens sent in one transfer: ⌊value · share · u⌋ for u in [0, 1), so at most value · share. */
export function transferAmount(value: number, share: number, u: number): number {
  return Math.floor(value * share * u);
}

/** Tokens carried by an edge of weight w from (or, backwards, to) a node holding `value`. */
export function edgeFlow(weight: number, value: number): number {
  return Math.floor(weight * value);
}

export interface DeliveriesGeometry {
  /** The spatial grid spans [0, width]³ (nodes may sit outside it; they are clamped into border cells). */
  readonly width: number;
  /** Neighbour radius (also the grid cell size). */
  readonly radius: number;
}

export function nodeActor(g: DeliveriesGeometry) {
  return defineActor({
    name: 'Node',
    description: 'holds integer tokens, trades them with other nodes, reports to its hub, counts neighbours',
    kernels: moduleUrl(import.meta.url, '../../kernels/deliveries/cpu'),
    state: {
      x: { type: 'f32', unit: 'length' },
      y: { type: 'f32', unit: 'length' },
      z: { type: 'f32', unit: 'length' },
      group: { type: 'u32', description: 'hub id this node reports to' },
      value: { type: 'i32', unit: 'tokens', description: 'token balance (conserved in total)' },
      outflow: { type: 'i32', unit: 'tokens', description: 'tokens sent this step' },
      sentAddr: { type: 'f64', description: 'Σ receiver id · tokens, as addressed by this sender this step' },
      recvAddr: { type: 'f64', description: 'Σ own id · tokens, over transfers received this step' },
      hubMean: { type: 'f64', unit: 'tokens', description: "mean balance of this node's hub (array read by index)" },
      hubCount: { type: 'u32', description: "number of nodes of this node's hub" },
      neighbours: { type: 'u32', description: 'other nodes within radius' },
      neighbourSkew: { type: 'f64', description: 'Σ (neighbour id − own id): sums to 0 over a symmetric relation' },
      graphOut: { type: 'f64', unit: 'tokens', description: 'Σ forward flow written on out-edges this step' },
      inflow: { type: 'f64', unit: 'tokens', description: 'Σ forward flow read on in-edges this step' },
      echoSent: { type: 'f64', unit: 'tokens', description: 'Σ echo written on in-edges this step' },
      backflow: { type: 'f64', unit: 'tokens', description: 'Σ echo read on out-edges this step' },
      pingsSent: { type: 'u32', description: 'pings sent since the start' },
      pingsReceived: { type: 'u32', description: 'pings received since the start' },
      ticks: { type: 'u32', description: 'times jiggle ran for this node' },
    },
    params: {
      share: { default: NODE_DEFAULTS.share, min: 0, max: 0.5, description: 'largest fraction of the balance sent in one transfer' },
      pingRate: { default: NODE_DEFAULTS.pingRate, min: 0, max: 1, description: 'probability of a ping per node per step' },
      jiggle: { default: NODE_DEFAULTS.jiggle, min: 0, unit: 'length', description: 'standard deviation of a jiggle move per axis' },
    },
    messages: {
      transfer: {
        description: 'tokens to another node',
        fields: { amount: 'i32' },
        delivery: { type: 'direct', to: 'Node', maxPerActor: 2 },
      },
      ping: {
        description: 'a ping to a random node',
        fields: { hop: 'u32' },
        delivery: { type: 'direct', to: 'Node', maxPerActor: 1 },
      },
      report: {
        description: 'the balance, to the hub of the node',
        fields: { value: 'f64' },
        delivery: { type: 'bucket', to: 'Hub', maxPerActor: 1, reduce: { value: ['count', 'sum', 'mean', 'std', 'min', 'max'] } },
      },
      location: {
        description: 'the position',
        fields: { x: 'f32', y: 'f32', z: 'f32' },
        delivery: { type: 'spatial', radius: g.radius, min: [0, 0, 0], max: [g.width, g.width, g.width] },
      },
      flow: {
        description: 'weighted balance, source → destination of each edge',
        fields: { flow: 'i32' },
        delivery: { type: 'graph', graph: 'links', direction: 'forward' },
      },
      echo: {
        description: 'weighted balance, destination → source of each edge',
        fields: { echo: 'i32' },
        delivery: { type: 'graph', graph: 'links', direction: 'backward' },
      },
    },
    functions: {
      emit: {
        kernel: 'deliveries.emit',
        reads: ['value', 'group', 'x', 'y', 'z', 'pingsSent'],
        writes: ['outflow', 'sentAddr', 'graphOut', 'echoSent', 'pingsSent'],
        outputs: ['Node.transfer', 'Node.ping', 'Node.report', 'Node.location', 'Node.flow', 'Node.echo'],
      },
      absorb: {
        kernel: 'deliveries.absorb',
        reads: ['value', 'outflow', 'group', 'x', 'y', 'z'],
        writes: ['value', 'recvAddr', 'hubMean', 'hubCount', 'neighbours', 'neighbourSkew', 'inflow', 'backflow'],
        inputs: ['Node.transfer', 'Hub.stats', 'Node.location', 'Node.flow', 'Node.echo'],
      },
      onPing: {
        kernel: 'deliveries.onPing',
        reads: ['pingsReceived'],
        writes: ['pingsReceived'],
        inputs: ['Node.ping'],
        activation: { type: 'onMessage', message: 'Node.ping' },
      },
      jiggle: {
        kernel: 'deliveries.jiggle',
        reads: ['x', 'y', 'z', 'ticks'],
        writes: ['x', 'y', 'z', 'ticks'],
        activation: { type: 'every', k: 3 },
      },
    },
  });
}

export const HubActor = defineActor({
  name: 'Hub',
  description: 'collects the balances of its nodes (bucket reductions) and publishes them (array)',
  kernels: moduleUrl(import.meta.url, '../../kernels/deliveries/cpu'),
  state: {
    count: { type: 'f64', description: 'nodes that reported this step' },
    sum: { type: 'f64', unit: 'tokens' },
    mean: { type: 'f64', unit: 'tokens' },
    std: { type: 'f64', unit: 'tokens', description: 'population standard deviation' },
    min: { type: 'f64', unit: 'tokens', description: '0 when no node reported' },
    max: { type: 'f64', unit: 'tokens', description: '0 when no node reported' },
  },
  messages: {
    stats: {
      description: "the hub's reductions, read by its nodes by hub index",
      fields: { count: 'f64', sum: 'f64', mean: 'f64', std: 'f64', min: 'f64', max: 'f64' },
      delivery: { type: 'array' },
    },
  },
  functions: {
    collect: {
      kernel: 'deliveries.collect',
      writes: ['count', 'sum', 'mean', 'std', 'min', 'max'],
      inputs: ['Node.report'],
      outputs: ['Hub.stats'],
    },
  },
});

/** The `links` graph declaration: Node → Node with a per-edge weight. */
export function linksGraph(maxEdges: number) {
  return { from: 'Node', to: 'Node', fields: { weight: 'f32' }, maxEdges } as const;
}
