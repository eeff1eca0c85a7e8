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
 *   phase 2  LandauModule.couple    its local term, its own benefit terms, and for each **own**
 *                                   pairwise edge e = (i, j) (quadratic or hinge) the edge's energy
 *                                   and both gradient contributions from its η and the published η_j:
 *                                   it keeps ∂F_e/∂η_i and F_e in its share (the array message
 *                                   `LandauModule.share`: g, energy) and sends ∂F_e/∂η_j to j as the
 *                                   graph message `LandauModule.quadratic` or `.hinge` (on the reply
 *                                   edge j → i, see below)
 *   phase 3  LandauModule.gather    g_j = share.g_j + Σ of the messages on its reply edges, written to
 *                                   `grad`; and the energy of fixed blocks of modules (ENERGY_BLOCK)
 *
 * So an edge is owned by its source module: the contribution to its owner never leaves the owner,
 * and the contribution to the other end travels as a graph message. The benefit couplings
 * (gateBenefit, dampedGateBenefit) depend on η_i alone and send nothing: a gateBenefit is a linear
 * term, folded at load time into the module's `lin` (Σ w·δ of the gateBenefits it owns, weighted by
 * the gateBenefit term weight at every step); a dampedGateBenefit stays an edge of the message-less
 * graph `benefit` (i → i). Every sum runs in a fixed order (local term, lin, own quadratic edges,
 * own hinge edges, own benefit edges, then the quadratic and the hinge messages received, each list
 * in edge order), so results do not depend on the number of workers. The energy monitor
 * (`./engine.ts`) adds the block sums of share.energy (ENERGY_BLOCK) in block order, in f64.
 *
 * Move modes (the control's `mode`): `advance` keeps the current point as the last accepted one
 * (`etaPrev`, `gradPrev`) and steps from it; `retry` steps again from the last accepted point with a
 * new scale (backtracking); `hold` leaves η alone (a pure evaluation); `revert` restores the last
 * accepted point. The asynchronous variant adds `gSeen`/`active`: in `advance`, a module moves only
 * when its gradient differs from the one it last acted on by more than the control's `asyncTol`.
 *
 * Edge graphs (built by `loadProblem` in ./engine.ts), one per coupling shape so that the loops over
 * edges never branch on a type:
 *
 *   graph           edges                      fields             role
 *   quadratic       quadratic i → j            w, reply           walked by the owner i
 *   quadraticReply  j → i, one per quadratic   –                  carries `LandauModule.quadratic` {g} = ∂F_e/∂η_j = −2w(η_i − η_j)
 *   hinge           hinge i → j                w, alpha, beta,    walked by the owner i
 *                                              reply
 *   hingeReply      j → i, one per hinge       –                  carries `LandauModule.hinge` {g} = ∂F_e/∂η_j = 2w·gap·β (0 if gap ≤ 0)
 *   benefit         dampedGateBenefit i → i    c = w·benefit, p   walked by i; no message
 *
 * Why reply graphs: a graph's edges are stored sorted by source, so a message on the forward edge
 * i → j would be read by j through its in-edge index, one random read per edge. On the reply edge
 * j → i the message is *written* by its destination i (`backward` delivery) and read by its source
 * j, in j's own out-edge range: sequentially. The owner finds the reply edge of forward edge e in
 * the forward graph's u32 field `reply` (computed by loadProblem, which sets both graphs; the CPU
 * kernel checks once that it is a permutation onto the reversed edges). A field rather than the
 * reply graph's in-edge index, so the couple kernel binds no reply graph: on the GPU that is two
 * storage buffers fewer (couple binds 9).
 *
 * Precision: `f64` (default, exact parity with the reference) or `f32`: every column f32 (η, gradients,
 * messages, edge fields, the share, the energy blocks and the control block), which is the layout the
 * webgpu backend can hold (WGSL has no f64). The f32 layout adds three things the GPU needs and the
 * CPU kernels keep up to date as well, so that one model runs on both backends:
 * - state `energy` (the module's share of F) and `gsq` (grad²), written by gather, so that the GPU's
 *   reductions (sum over a state field) give F and ‖∇F‖² without copying state off the device;
 * - the graph `control` (LandauControl → LandauControl, one edge per control word): on the GPU
 *   the host cannot write the control actor's state between steps without downloading every state
 *   column first, but it can set a graph's edges; the WGSL publish kernel copies the graph's fields
 *   into the control message (see actors/landau/gpu-engine.ts).
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

/**
 * Modules per energy block: gather sums share.energy over [i, i + ENERGY_BLOCK) for every i that is
 * a multiple of it and lies in its partition (reading past the partition's end is fine: couple wrote
 * every share in the phase before), into record i of `LandauModule.energyBlock`. The blocks do not
 * depend on the partitioning, so neither does F; the host adds ⌈N/ENERGY_BLOCK⌉ numbers.
 */
export const ENERGY_BLOCK = 4096;

export const MODULE_KIND = 'LandauModule';
export const CONTROL_KIND = 'LandauControl';
/** The three edge graphs (see the table above). */
export const QUADRATIC_GRAPH = 'quadratic';
export const HINGE_GRAPH = 'hinge';
/** The reversed pairwise graphs (j → i for each edge i → j), which carry the messages to j. */
export const QUADRATIC_REPLY_GRAPH = 'quadraticReply';
export const HINGE_REPLY_GRAPH = 'hingeReply';
export const BENEFIT_GRAPH = 'benefit';
/**
 * f32 layout only: the graph that carries the control block to the GPU (see the file comment): one
 * edge 0 → 0 per control word, in {@link CONTROL_WORDS} order, its field `v` the word's value (f32;
 * the mode is a small integer, exact). One field rather than one per word: the host's update before
 * every step is then 6 small buffer writes instead of 17.
 */
export const CONTROL_GRAPH = 'control';

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
/** The control words in CONTROL_FIELDS order (the edges of the control graph). */
export const CONTROL_WORDS = Object.keys(CONTROL_FIELDS) as ControlField[];
export const LOCAL_WEIGHT_FIELDS = ['wLocalGate', 'wLocalSequence', 'wLocalConnectivity', 'wLocalLandau'] as const;
export const COUPLING_WEIGHT_FIELDS = ['wQuadratic', 'wHinge', 'wGateBenefit', 'wDampedGateBenefit'] as const;

export interface LandauKindOptions {
  precision?: Precision;
  /** Declare the asynchronous (event-driven) state `gSeen`, `active`. */
  async?: boolean;
  /** Declare the exploration noise column `noise`. */
  noise?: boolean;
}

/**
 * The move kernel's name for the declared features: `landau.move`, `.async`, `.noise`, `.async.noise`.
 * One CPU function serves all four (it looks at the columns it is given); the WGSL bodies differ,
 * because a WGSL body may only name fields the kind declares (kernels/landau/webgpu.ts).
 */
export function moveKernel(o: LandauKindOptions): string {
  return `landau.move${o.async ? '.async' : ''}${o.noise ? '.noise' : ''}`;
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
    kind: { type: 'u8', description: 'local energy kind: 0 gate, 1 sequence, 2 connectivity, 3 landau' },
    a: f('quadratic coefficient of the local energy'),
    b: f('quartic coefficient of the local energy'),
    h: f('linear field (landau modules only; 0 elsewhere)'),
    lin: f('Σ w·δ over the gateBenefit couplings the module owns: their energy is −w_gateBenefit·lin·η'),
  };
  const moveReads = ['eta', 'etaPrev', 'grad', 'gradPrev'];
  const moveWrites = ['eta', 'etaPrev', 'gradPrev'];
  const gatherWrites = ['grad'];
  if (F === 'f32') {
    state.energy = f('the module\'s share of F at η: its local term, lin and its own edges (written by gather; f32 layout only)');
    state.gsq = f('grad² (written by gather; f32 layout only), summed by a reduction into ‖∇F‖²');
    gatherWrites.push('energy', 'gsq');
  }
  if (o.async) {
    state.gSeen = f('gradient the module last acted on (asynchronous mode)', { initial: NEVER_SEEN });
    state.active = { type: 'u8', description: '1 if the module moved in the last advance (asynchronous mode)' };
    moveReads.push('gSeen', 'active');
    moveWrites.push('gSeen', 'active');
    if (F === 'f32') {
      state.mg2 = f('gradPrev² if the module moved in the last advance or retry, else 0 (asynchronous mode, f32 layout): summed into the moved modules\' ‖g‖²');
      moveWrites.push('mg2');
    }
  }
  if (o.noise) {
    state.noise = f('standard normal ξ drawn at the last evaluation (exploration noise)');
    moveReads.push('noise');
    gatherWrites.push('noise');
    if (F === 'f32') {
      state.ng = f('noise·grad (f32 layout): summed into ξ·∇F for the projection of the next step\'s noise');
      gatherWrites.push('ng');
    }
  }
  return {
    name: MODULE_KIND,
    description: 'a Landau module: order parameter η, local energy, sparse couplings (MODELS.md §1)',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/cpu'),
    state,
    messages: {
      eta: { description: 'η after the move, one record per module', fields: { eta: F }, delivery: { type: 'array' } },
      share: {
        description: 'the module\'s own share after couple: g = its local and lin terms and ∂F_e/∂η_i of its own edges, energy = the same terms\' energy (f64, or f32 in the f32 layout)',
        fields: { g: F, energy: F },
        delivery: { type: 'array' },
      },
      energyBlock: {
        description: 'record i (i a multiple of ENERGY_BLOCK): Σ share.energy over modules [i, i + ENERGY_BLOCK); other records unused',
        fields: { energy: F },
        delivery: { type: 'array' },
      },
      quadratic: {
        description: '∂F_e/∂η_j of quadratic edge e = (i, j), sent by its owner i to j along the reply edge j → i',
        fields: { g: F },
        delivery: { type: 'graph', graph: QUADRATIC_REPLY_GRAPH, direction: 'backward' },
      },
      hinge: {
        description: '∂F_e/∂η_j of hinge edge e = (i, j) (0 when inactive), sent by its owner i to j along the reply edge j → i',
        fields: { g: F },
        delivery: { type: 'graph', graph: HINGE_REPLY_GRAPH, direction: 'backward' },
      },
    },
    functions: {
      move: { kernel: moveKernel(o), reads: moveReads, writes: moveWrites, inputs: [`${CONTROL_KIND}.control`], outputs: [`${MODULE_KIND}.eta`] },
      couple: {
        kernel: 'landau.couple',
        reads: ['kind', 'a', 'b', 'h', 'lin'],
        inputs: [`${CONTROL_KIND}.control`, `${MODULE_KIND}.eta`],
        outputs: [`${MODULE_KIND}.share`, `${MODULE_KIND}.quadratic`, `${MODULE_KIND}.hinge`],
      },
      gather: {
        kernel: o.noise ? 'landau.gather.noise' : 'landau.gather',
        writes: gatherWrites,
        inputs: [`${MODULE_KIND}.share`, `${MODULE_KIND}.quadratic`, `${MODULE_KIND}.hinge`],
        outputs: [`${MODULE_KIND}.energyBlock`],
      },
    },
  };
}

/** The control block's dtypes: CONTROL_FIELDS, with f32 for the f64 fields in the f32 layout. */
export function controlFields(precision: Precision): Record<ControlField, DType> {
  const out = {} as Record<ControlField, DType>;
  for (const [k, t] of Object.entries(CONTROL_FIELDS) as [ControlField, DType][]) out[k] = precision === 'f32' && t === 'f64' ? 'f32' : t;
  return out;
}

/** The `LandauControl` declaration: one actor whose state the host sets before each step. */
export function landauControlActor(precision: Precision = 'f64'): ActorDecl {
  const state: Record<string, FieldDecl> = {};
  const fields = controlFields(precision);
  for (const [k, t] of Object.entries(fields)) state[k] = { type: t };
  return {
    name: CONTROL_KIND,
    description: 'per-step settings of a Landau relaxation, chosen by the host and published to every module',
    kernels: moduleUrl(import.meta.url, '../../kernels/landau/cpu'),
    state,
    messages: { control: { description: 'the control block', fields, delivery: { type: 'array' } } },
    functions: { publish: { kernel: 'landau.control', reads: Object.keys(CONTROL_FIELDS), outputs: [`${CONTROL_KIND}.control`] } },
  };
}

export interface LandauModelOptions extends LandauKindOptions {
  /** Modules (capacity and count of LandauModule). */
  modules: number;
  /** Coupling edges: the capacity of each edge graph unless given per graph below (at least 1 is allocated). */
  edges: number;
  /** Capacities per edge graph (default `edges` each); `edgeCapacities(problem)` gives the exact ones. */
  graphEdges?: { quadratic?: number; hinge?: number; benefit?: number };
  name?: string;
}

/** A model with `modules` LandauModules, one LandauControl and the three edge graphs. */
export function landauModel(o: LandauModelOptions): ModelDecl {
  const F: DType = o.precision ?? 'f64';
  const cap = (k: 'quadratic' | 'hinge' | 'benefit'): number => Math.max(1, o.graphEdges?.[k] ?? o.edges);
  return {
    name: o.name ?? 'landau',
    actors: [landauModuleActor(o), landauControlActor(F === 'f32' ? 'f32' : 'f64')],
    population: { [MODULE_KIND]: { capacity: o.modules }, [CONTROL_KIND]: { capacity: 1 } },
    graphs: {
      [QUADRATIC_GRAPH]: { from: MODULE_KIND, to: MODULE_KIND, maxEdges: cap('quadratic'), fields: { w: F, reply: 'u32' } },
      [HINGE_GRAPH]: { from: MODULE_KIND, to: MODULE_KIND, maxEdges: cap('hinge'), fields: { w: F, alpha: F, beta: F, reply: 'u32' } },
      [BENEFIT_GRAPH]: { from: MODULE_KIND, to: MODULE_KIND, maxEdges: cap('benefit'), fields: { c: F, p: F } },
      [QUADRATIC_REPLY_GRAPH]: { from: MODULE_KIND, to: MODULE_KIND, maxEdges: cap('quadratic') },
      [HINGE_REPLY_GRAPH]: { from: MODULE_KIND, to: MODULE_KIND, maxEdges: cap('hinge') },
      ...(F === 'f32' ? { [CONTROL_GRAPH]: { from: CONTROL_KIND, to: CONTROL_KIND, maxEdges: CONTROL_WORDS.length, fields: { v: 'f32' } } } : {}),
    },
  };
}

export * from './energies.js';
