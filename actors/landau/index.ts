/**
 * Kind `LandauModule`: a module with an order parameter η ∈ [0, 1] and a local Landau energy, joined
 * to others by sparse coupling edges (MODELS.md §1), and kind `LandauControl`: one actor that carries
 * the per-step settings the host chooses (step scale, mode, term weights) to every module.
 *
 * One engine step is one projected-gradient move followed by one evaluation of F and ∇F:
 *
 *   phase 0  LandauControl.publish  state → array message `LandauControl.control` (1 record)
 *   phase 1  LandauModule.move      η ← clamp₀₁(η − m·g [+ σ·ξ]) per the control's mode; publishes the
 *                                   new η as the array message `LandauModule.eta`
 *   phase 2  LandauModule.couple    for each out-edge e = (i, j) of its own, module i computes the
 *                                   edge's energy and both gradient contributions from its η and the
 *                                   published η_j: it keeps ∂F_e/∂η_i and F_e (`gOwn`, `energy`, with
 *                                   its local term) and sends ∂F_e/∂η_j to j as the forward graph
 *                                   message `LandauModule.coupling`
 *   phase 3  LandauModule.gather    g_i = gOwn_i + Σ over in-edges of the messages (in (source, edge)
 *                                   order), written to `grad`
 *
 * So an edge is owned by its source module: the contribution to its owner never leaves the owner,
 * and the contribution to the other end travels as a graph message. Every sum runs in a fixed order
 * (local term, out-edges by edge id, in-edges by (source, edge)), so results do not depend on the
 * number of workers. The energy monitor (`./engine.ts`) reduces Σ energy_i and Σ g_i² on the host
 * in module order, in f64.
 *
 * Move modes (the control's `mode`): `advance` keeps the current point as the last accepted one
 * (`etaPrev`, `gradPrev`) and steps from it; `retry` steps again from the last accepted point with a
 * new scale (backtracking); `hold` leaves η alone (a pure evaluation); `revert` restores the last
 * accepted point. The asynchronous variant adds `gSeen`/`active`: in `advance`, a module moves only
 * when its gradient differs from the one it last acted on by more than the control's `asyncTol`.
 *
 * Edges carry their parameters in a compiled form (`compileEdges` in ./engine.ts), three numbers per
 * edge so that the coupling loop reads as little memory as possible:
 *
 *   type                 w               s1        s2
 *   0 quadratic          w               –         –
 *   1 hinge              w               α         β
 *   2 gateBenefit        w·δ             1         –
 *   3 dampedGateBenefit  w·benefit       p         –      (benefit = damping·scaled δ)
 *
 * Precision: `f64` (default, exact parity with the reference) or `f32` for η, gradients, messages and
 * edge fields; the per-module sums `gOwn`, `energy` and the control block are always f64.
 */
import type { ActorDecl, FieldDecl, ModelDecl } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';
import type { DType } from '../../src/types.js';

export type Precision = 'f64' | 'f32';

/** Move modes, the `mode` field of the control message. */
export const MoveMode = { advance: 0, retry: 1, hold: 2, revert: 3 } as const;
export type MoveModeName = keyof typeof MoveMode;

/** Value of `gSeen` for a module that has never moved (finite, so the NaN/Inf check stays on). */
export const NEVER_SEEN = 1e30;

/** RNG stream of the orthogonal exploration noise ξ (drawn by `gather` per module and step). */
export const NOISE_STREAM = 0x4e01;

export const MODULE_KIND = 'LandauModule';
export const CONTROL_KIND = 'LandauControl';
export const COUPLING_GRAPH = 'couplings';

/** Fields of the control block (state of the one LandauControl actor and its array message). */
export const CONTROL_FIELDS = {
  mode: 'i32',
  /** m: the multiplier of the gradient in the move (step size × normalisation/clipping scale, plus the noise projection). */
  stepScale: 'f64',
  /** σ: the multiplier of the noise ξ in the move. */
  noiseScale: 'f64',
  /** Asynchronous mode: a module moves when |g − gSeen| > asyncTol; ≤ 0 moves every module. */
  asyncTol: 'f64',
  wLocalGate: 'f64',
  wLocalSequence: 'f64',
  wLocalConnectivity: 'f64',
  wLocalLandau: 'f64',
  wQuadratic: 'f64',
  wHinge: 'f64',
  wGateBenefit: 'f64',
  wDampedGateBenefit: 'f64',
} as const satisfies Record<string, DType>;
export type ControlField = keyof typeof CONTROL_FIELDS;
export const LOCAL_WEIGHT_FIELDS = ['wLocalGate', 'wLocalSequence', 'wLocalConnectivity', 'wLocalLandau'] as const;
export const COUPLING_WEIGHT_FIELDS = ['wQuadratic', 'wHinge', 'wGateBenefit', 'wDampedGateBenefit'] as const;

export interface LandauKindOptions {
  precision?: Precision;
  /** Declare the asynchronous (event-driven) state `gSeen`, `active`. */
  async?: boolean;
  /** Declare the exploration noise column `noise`. */
  noise?: boolean;
}

/** The `LandauModule` declaration for the chosen precision and features. */
export function landauModuleActor(o: LandauKindOptions = {}): ActorDecl {
  const F: DType = o.precision ?? 'f64';
  const f = (description: string, extra: Partial<FieldDecl> = {}): FieldDecl => ({ type: F, description, ...extra });
  const state: Record<string, FieldDecl> = {
    eta: f('order parameter η ∈ [0, 1]'),
    etaPrev: f('η at the last accepted point (restored by retry and revert)'),
    grad: f('∂F/∂η at η (written by gather)'),
    gradPrev: f('∂F/∂η at etaPrev'),
    // Always f64: per-module sums the energy monitor reduces in f64.
    gOwn: { type: 'f64', description: 'w_local·F′_local(η) + Σ over own out-edges of w_coup·∂F_e/∂η_i' },
    energy: { type: 'f64', description: 'energy share: w_local·F_local(η) + Σ over own out-edges of w_coup·F_e' },
    kind: { type: 'u8', description: 'local energy kind: 0 gate, 1 sequence, 2 connectivity, 3 landau' },
    a: f('quadratic coefficient of the local energy'),
    b: f('quartic coefficient of the local energy'),
    h: f('linear field (landau modules only)'),
  };
  const moveReads = ['eta', 'etaPrev', 'grad', 'gradPrev'];
  const moveWrites = ['eta', 'etaPrev', 'gradPrev'];
  const gatherWrites = ['grad'];
  if (o.async) {
    state.gSeen = f('gradient the module last acted on (asynchronous mode)', { initial: NEVER_SEEN });
    state.active = { type: 'u8', description: '1 if the module moved in the last advance (asynchronous mode)' };
    moveReads.push('gSeen', 'active');
    moveWrites.push('gSeen', 'active');
  }
  if (o.noise) {
    state.noise = f('standard normal ξ drawn at the last evaluation (exploration noise)');
    moveReads.push('noise');
    gatherWrites.push('noise');
  }
  return {
    name: MODULE_KIND,
    description: 'a Landau module: order parameter η, local energy, sparse couplings (MODELS.md §1)',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/cpu'),
    state,
    messages: {
      eta: { description: 'η after the move, one record per module', fields: { eta: F }, delivery: { type: 'array' } },
      coupling: { description: '∂F_e/∂η_j of edge e = (i, j), sent by its owner i to j', fields: { g: F }, delivery: { type: 'graph', graph: COUPLING_GRAPH, direction: 'forward' } },
    },
    functions: {
      move: { kernel: 'landau.move', reads: moveReads, writes: moveWrites, inputs: [`${CONTROL_KIND}.control`], outputs: [`${MODULE_KIND}.eta`] },
      couple: {
        kernel: 'landau.couple',
        reads: ['eta', 'kind', 'a', 'b', 'h'],
        writes: ['gOwn', 'energy'],
        inputs: [`${CONTROL_KIND}.control`, `${MODULE_KIND}.eta`],
        outputs: [`${MODULE_KIND}.coupling`],
      },
      gather: { kernel: 'landau.gather', reads: ['gOwn'], writes: gatherWrites, inputs: [`${MODULE_KIND}.coupling`] },
    },
  };
}

/** The `LandauControl` declaration: one actor whose state the host sets before each step. */
export function landauControlActor(): ActorDecl {
  const state: Record<string, FieldDecl> = {};
  for (const [k, t] of Object.entries(CONTROL_FIELDS)) state[k] = { type: t };
  return {
    name: CONTROL_KIND,
    description: 'per-step settings of a Landau relaxation, chosen by the host and published to every module',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/cpu'),
    state,
    messages: { control: { description: 'the control block', fields: { ...CONTROL_FIELDS }, delivery: { type: 'array' } } },
    functions: { publish: { kernel: 'landau.control', reads: Object.keys(CONTROL_FIELDS), outputs: [`${CONTROL_KIND}.control`] } },
  };
}

export interface LandauModelOptions extends LandauKindOptions {
  /** Modules (capacity and count of LandauModule). */
  modules: number;
  /** Coupling edges (capacity of the graph; at least 1 is allocated). */
  edges: number;
  name?: string;
}

/** A model with `modules` LandauModules, one LandauControl and the coupling graph. */
export function landauModel(o: LandauModelOptions): ModelDecl {
  const F: DType = o.precision ?? 'f64';
  return {
    name: o.name ?? 'landau',
    actors: [landauModuleActor(o), landauControlActor()],
    population: { [MODULE_KIND]: { capacity: o.modules }, [CONTROL_KIND]: { capacity: 1 } },
    graphs: {
      [COUPLING_GRAPH]: {
        from: MODULE_KIND,
        to: MODULE_KIND,
        maxEdges: Math.max(1, o.edges),
        fields: { type: 'u8', w: F, s1: F, s2: F },
      },
    },
  };
}

export * from './energies.js';
