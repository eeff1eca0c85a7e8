/**
 * Kinds `Node` and `Hub` of the `deliveries` scenario: a small model that exercises every delivery
 * kind of ARCHITECTURE §3 at once, with quantities whose totals must match on both sides of every
 * message, so that the scenario's own validation checks the message plumbing.
 *
 * Each step, in phases derived from the declarations:
 * 1. `Node.emit` (every step), for node i with integer token balance `value`:
 *    - direct `Node.transfer` (≤ 2 records): sends {@link transferAmount} tokens (at most
 *      ⌊value · share⌋ each, scaled by a 16-bit uniform draw from `ctx.rng`) to (7i + step) mod n and
 *      to (i + 1) mod n, and remembers the total sent in `outflow`;
 *    - direct `Node.ping` (≤ 1 record): with probability `pingRate`, a ping to a random node;
 *    - bucket `Node.report` → `Hub` keyed by `group`: its balance, reduced per hub to
 *      count/mean/std/min/max;
 *    - spatial `Node.location`: its position;
 *    - graph `Node.flow` (forward on `links`): {@link edgeFlow} of the balance on each out-edge;
 *    - graph `Node.echo` (backward on `links`): {@link edgeFlow} of the balance on each in-edge, read
 *      by the source.
 * 2. `Hub.collect`: copies the reductions of its bucket into its state, adds up its records' balances
 *    exactly (integers), and publishes both as the array message `Hub.stats` (one record per hub).
 * 3. `Node.absorb`: value ← value − outflow + tokens received; reads its hub's record of `Hub.stats`
 *    by index; counts neighbours within `radius` (itself excluded by sender id); sums the forward
 *    flows on its in-edges and the echoes on its out-edges.
 *    `Node.onPing` (activation onMessage `Node.ping`): counts the pings received.
 * 4. `Node.jiggle` (activation every 3 steps): moves each node by {@link jiggleMove}, a small
 *    bell-shaped step from `ctx.rng`, kept within [−1, bound], and counts its ticks.
 *
 * Invariants (checked by the scenario's `validate`): tokens are conserved; Σ over hubs of count = n
 * and of sum = Σ value; Σ_i hubMean[group i] = Σ value (within f32 rounding); tokens addressed by
 * senders (Σ target · amount) equal tokens received (Σ self · amount); pings sent = pings received;
 * the neighbour relation is symmetric (Σ neighbours even, Σ (j − i) = 0); graph flows and echoes sent
 * equal those received; every node ticked ⌈steps / 3⌉ times.
 *
 * Exact on every backend. The model has no f64 column (WGSL has none), and everything the validation
 * and the parity test compare exactly is computed in integer arithmetic that CPU and GPU do alike:
 * - balances, transfers and flows are i32; sums that can pass 2^32 (Σ id · amount, Σ (j − i), the
 *   graph sums) are kept as 64-bit integers in two 32-bit columns, `<name>Lo` (u32, the low word) and
 *   `<name>Hi` (the high word: u32, or i32 for the signed `neighbourSkew`), see {@link wideLo};
 * - positions are f32 multiples of {@link POSITION_UNIT} within [−1, 101] (n ≤ 10^6 puts the grid
 *   within [0, 100]), so they, their differences and (in 64-bit integers on the GPU, in f64 on the
 *   CPU) their squared distances are exact, and the radius is a multiple of {@link RADIUS_UNIT}: the
 *   neighbour test is exact. The jiggle move is an integer number of position units built from u32
 *   draws, not from `rng.normal` (computed in f64 on the CPU and in f32 on the GPU, it would make
 *   positions, and through them neighbour counts, differ in the last bits);
 * - `share` and `jiggle` enter as integer multiples of 2^-16 of their f32 values (the GPU holds
 *   parameters as f32), `pingRate` is compared as f32 on both.
 * Only the hub statistics mean and std (and the nodes' copies of the mean) are rounded: f32 on both,
 * from an f64 reduction on the CPU and an f32 one on the GPU.
 */
import { defineActor } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

/** Parameters of the Node kind. */
export const NODE_DEFAULTS = { share: 0.25, pingRate: 0.3, jiggle: 0.1 } as const;

/** RNG streams of the Node kernels (counters: transfer 0, 1; ping 0 = draw, 1 = target; jiggle 0..8). */
export const STREAM = { transfer: 1, ping: 2, jiggle: 3 } as const;

/** Positions are multiples of this (2^-16 length): exact in f32 below 2^8. */
export const POSITION_UNIT = 2 ** -16;
/** The neighbour radius must be a multiple of this (1/256), so that radius² is exact in position units. */
export const RADIUS_UNIT = 2 ** -8;

const TWO16 = 65536;
const TWO32 = 4294967296;

/** Receivers of node i's two transfers at `step`. */
export function transferTargets(i: number, n: number, step: number): [number, number] {
  return [((i % n) * 7 + (step % n)) % n, (i + 1) % n];
}

/** A parameter in [0, 1] as an integer count of 2^-16 of its f32 value (what the GPU holds). */
export function paramUnits(p: number): number {
  return Math.floor(Math.fround(p) * TWO16);
}

/**
 * Tokens sent in one transfer by a node holding `value` ≥ 0 tokens: ⌊⌊value · share⌋ · u⌋, with
 * share = shareUnits / 2^16 ({@link paramUnits}) and u = (draw >>> 16) / 2^16 from a u32 draw. Each
 * product is exact in integers below 2^46 (GPU: 32-bit words), so both backends agree bit for bit;
 * with share ≤ 0.5 two transfers never exceed the balance, which therefore stays ≥ 0.
 */
export function transferAmount(value: number, shareUnits: number, draw: number): number {
  const cap = Math.floor(value / TWO16) * shareUnits + Math.floor(((value % TWO16) * shareUnits) / TWO16);
  return Math.floor((cap * (draw >>> 16)) / TWO16);
}

/**
 * Tokens carried by an edge of weight w ∈ [0, 1] from (or, backwards, to) a node holding `value` ≥ 0:
 * ⌊k · value / 64⌋ with k = ⌊64 w⌋, i.e. ⌊w · value⌋ for the weights of `links` (multiples of 1/64).
 */
export function edgeFlow(weight: number, value: number): number {
  return Math.floor((Math.floor(weight * 64) * value) / 64);
}

/**
 * One axis of a jiggle move, in position units: z · jiggle / {@link POSITION_UNIT} rounded down, where
 * z = (2 (a + b + c) − 3 · 4095) / 4096 for the top 12 bits a, b, c of three u32 draws: the sum of
 * three uniforms, a bell on [−3, 3] with mean 0 and variance 1, so the move has standard deviation
 * `jiggle`. `jiggleUnits` = {@link paramUnits}(jiggle) ≤ 2^16 keeps the product below 2^31.
 */
export function jiggleMove(jiggleUnits: number, d0: number, d1: number, d2: number): number {
  const z = 2 * ((d0 >>> 20) + (d1 >>> 20) + (d2 >>> 20)) - 3 * 4095;
  return (z * jiggleUnits) >> 12;
}

/** The low word of an integer |x| < 2^53: x mod 2^32, in [0, 2^32). */
export function wideLo(x: number): number {
  return x - Math.floor(x / TWO32) * TWO32;
}

/** The high word of an integer |x| < 2^53: ⌊x / 2^32⌋ (negative for x < 0: two's complement). */
export function wideHi(x: number): number {
  return Math.floor(x / TWO32);
}

/** Σ over the first n slots of the 64-bit integers (lo, hi): exact while the result is below 2^53. */
export function wideSum(lo: ArrayLike<number>, hi: ArrayLike<number>, n: number): number {
  let sl = 0;
  let sh = 0;
  for (let i = 0; i < n; i++) {
    sl += lo[i]!;
    sh += hi[i]!;
  }
  return sh * TWO32 + sl;
}

export interface DeliveriesGeometry {
  /** The spatial grid spans [0, width]³ (nodes may sit outside it; they are clamped into border cells). */
  readonly width: number;
  /** Neighbour radius (also the grid cell size), a multiple of {@link RADIUS_UNIT}. */
  readonly radius: number;
}

/** Upper bound of a coordinate (the lower one is −1): an integer, so exact in position units. */
export function positionBound(width: number): number {
  return Math.ceil(width) + 1;
}

/** A 64-bit integer quantity as its two 32-bit columns (see the module documentation). */
function wide(name: string, description: string, unit: string | undefined, signed: boolean) {
  const u = unit === undefined ? {} : { unit };
  return {
    [`${name}Lo`]: { type: 'u32', ...u, description: `${description} (low 32 bits)` },
    [`${name}Hi`]: { type: signed ? 'i32' : 'u32', ...u, description: `${description} (high 32 bits${signed ? ', signed' : ''})` },
  } as const;
}

export function nodeActor(g: DeliveriesGeometry) {
  return defineActor({
    name: 'Node',
    description: 'holds integer tokens, trades them with other nodes, reports to its hub, counts neighbours',
    kernels: moduleUrl(import.meta.url, '../../kernels/deliveries/cpu'),
    state: {
      x: { type: 'f32', unit: 'length', description: 'a multiple of 2^-16' },
      y: { type: 'f32', unit: 'length', description: 'a multiple of 2^-16' },
      z: { type: 'f32', unit: 'length', description: 'a multiple of 2^-16' },
      group: { type: 'u32', description: 'hub id this node reports to' },
      value: { type: 'i32', unit: 'tokens', description: 'token balance (conserved in total)' },
      outflow: { type: 'i32', unit: 'tokens', description: 'tokens sent this step' },
      ...wide('sentAddr', 'Σ receiver id · tokens, as addressed by this sender this step', undefined, false),
      ...wide('recvAddr', 'Σ own id · tokens, over transfers received this step', undefined, false),
      hubMean: { type: 'f32', unit: 'tokens', description: "mean balance of this node's hub (array read by index)" },
      hubCount: { type: 'u32', description: "number of nodes of this node's hub" },
      neighbours: { type: 'u32', description: 'other nodes within radius' },
      ...wide('neighbourSkew', 'Σ (neighbour id − own id): sums to 0 over a symmetric relation', undefined, true),
      ...wide('graphOut', 'Σ forward flow written on out-edges this step', 'tokens', false),
      ...wide('inflow', 'Σ forward flow read on in-edges this step', 'tokens', false),
      ...wide('echoSent', 'Σ echo written on in-edges this step', 'tokens', false),
      ...wide('backflow', 'Σ echo read on out-edges this step', 'tokens', false),
      pingsSent: { type: 'u32', description: 'pings sent since the start' },
      pingsReceived: { type: 'u32', description: 'pings received since the start' },
      ticks: { type: 'u32', description: 'times jiggle ran for this node' },
    },
    params: {
      share: { default: NODE_DEFAULTS.share, min: 0, max: 0.5, description: 'largest fraction of the balance sent in one transfer (used to 2^-16)' },
      pingRate: { default: NODE_DEFAULTS.pingRate, min: 0, max: 1, description: 'probability of a ping per node per step' },
      jiggle: { default: NODE_DEFAULTS.jiggle, min: 0, max: 1, unit: 'length', description: 'standard deviation of a jiggle move per axis (used to 2^-16)' },
      bound: { default: positionBound(g.width), integer: true, min: 1, max: 127, unit: 'length', description: 'jiggle keeps coordinates within [−1, bound] (so positions stay exact)' },
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
        fields: { value: 'i32' },
        delivery: { type: 'bucket', to: 'Hub', maxPerActor: 1, reduce: { value: ['count', 'mean', 'std', 'min', 'max'] } },
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
        writes: ['outflow', 'sentAddrLo', 'sentAddrHi', 'graphOutLo', 'graphOutHi', 'echoSentLo', 'echoSentHi', 'pingsSent'],
        outputs: ['Node.transfer', 'Node.ping', 'Node.report', 'Node.location', 'Node.flow', 'Node.echo'],
      },
      absorb: {
        kernel: 'deliveries.absorb',
        reads: ['value', 'outflow', 'group', 'x', 'y', 'z'],
        writes: [
          'value',
          'recvAddrLo',
          'recvAddrHi',
          'hubMean',
          'hubCount',
          'neighbours',
          'neighbourSkewLo',
          'neighbourSkewHi',
          'inflowLo',
          'inflowHi',
          'backflowLo',
          'backflowHi',
        ],
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
  description: 'collects the balances of its nodes (bucket reductions and records) and publishes them (array)',
  kernels: moduleUrl(import.meta.url, '../../kernels/deliveries/cpu'),
  state: {
    count: { type: 'u32', description: 'nodes that reported this step' },
    sum: { type: 'i32', unit: 'tokens', description: 'Σ of the reported balances, added up exactly from the records' },
    mean: { type: 'f32', unit: 'tokens' },
    std: { type: 'f32', unit: 'tokens', description: 'population standard deviation' },
    min: { type: 'f32', unit: 'tokens', description: '0 when no node reported' },
    max: { type: 'f32', unit: 'tokens', description: '0 when no node reported' },
  },
  messages: {
    stats: {
      description: "the hub's statistics, read by its nodes by hub index",
      fields: { count: 'u32', sum: 'i32', mean: 'f32', std: 'f32', min: 'f32', max: 'f32' },
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

/** The `links` graph declaration: Node → Node with a per-edge weight (multiples of 1/64 in (0, 1]). */
export function linksGraph(maxEdges: number) {
  return { from: 'Node', to: 'Node', fields: { weight: 'f32' }, maxEdges } as const;
}
