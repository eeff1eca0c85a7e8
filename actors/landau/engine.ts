/**
 * The engine backend of the coordinator: loads a {@link LandauProblem} into a running simulation of
 * {@link landauModel} and steps it, one engine step per {@link MoveCommand}. The energy monitor is
 * here: after each step it adds the gather kernel's block sums of share.energy (blocks of
 * ENERGY_BLOCK modules, in block order) and, when the command asks for it, ‖g‖² = Σ grad_i² in
 * module order, in f64, so the result does not depend on the number of workers.
 *
 * It talks to the simulation through {@link SimulationLike}, the part of `sim/simulation.ts`'s public
 * API it needs, so that this folder keeps importing only `src/` (ARCHITECTURE §1).
 */
import { BackendError, CheckError } from '../../src/errors.js';
import type { ModelSpec } from '../../src/model.js';
import type { TypedArray } from '../../src/types.js';
import { CouplingType, LocalKind } from './energies.js';
import { BENEFIT_GRAPH, COUPLING_WEIGHT_FIELDS, CONTROL_KIND, ENERGY_BLOCK, HINGE_GRAPH, HINGE_REPLY_GRAPH, LOCAL_WEIGHT_FIELDS, MODULE_KIND, MoveMode, QUADRATIC_GRAPH, QUADRATIC_REPLY_GRAPH } from './index.js';
import type { LandauProblem } from './problem.js';
import type { Evaluation, MoveCommand, RelaxBackend } from './relax.js';

/** What the backend uses of `Simulation` (structurally typed). */
export interface SimulationLike {
  readonly spec: ModelSpec;
  count(kind: string): number;
  state(kind: string): Record<string, TypedArray>;
  /** Columns of an array or graph message, as of the last step (the cpu backend has it; EngineBackend needs it). */
  messageColumns?(name: string): Record<string, TypedArray>;
  setGraph(name: string, src: ArrayLike<number>, dst: ArrayLike<number>, fields?: Record<string, ArrayLike<number>>): void;
  /** Synchronous on the cpu backend (a backend that returns a promise is refused). */
  stepOnce(): unknown;
}

/** A problem's couplings as the engine stores them (see the graph table in ./index.ts). */
export interface CompiledEdges {
  /** `reply[e]`: the index of edge e's reply edge (j → i) in the reply graph's stored order. */
  quadratic: { src: Uint32Array; dst: Uint32Array; w: Float64Array; reply: Uint32Array };
  hinge: { src: Uint32Array; dst: Uint32Array; w: Float64Array; alpha: Float64Array; beta: Float64Array; reply: Uint32Array };
  /** dampedGateBenefit couplings as edges i → i: c = w·benefit, p = power. */
  benefit: { src: Uint32Array; dst: Uint32Array; c: Float64Array; p: Float64Array };
  /** Per module: Σ w·δ over the gateBenefit couplings it owns, in coupling order. */
  lin: Float64Array;
}

/**
 * Splits a problem's couplings by shape: quadratic and hinge edges, each list sorted by (i, j, coupling
 * order) — the order the reply graphs need (see ./index.ts) —, the dampedGateBenefits as edges i → i
 * with c = w·benefit (coupling order), and the gateBenefits folded into a per-module linear
 * coefficient (their energy −w·δ·η_i is linear in η_i and needs no edge and no message).
 */
export function compileEdges(p: LandauProblem): CompiledEdges {
  const count = [0, 0, 0, 0];
  for (let e = 0; e < p.edges; e++) count[p.type[e]!]!++;
  const nq = count[CouplingType.quadratic]!;
  const nh = count[CouplingType.hinge]!;
  const nb = count[CouplingType.dampedGateBenefit]!;
  const out: CompiledEdges = {
    quadratic: { src: new Uint32Array(nq), dst: new Uint32Array(nq), w: new Float64Array(nq), reply: new Uint32Array(nq) },
    hinge: { src: new Uint32Array(nh), dst: new Uint32Array(nh), w: new Float64Array(nh), alpha: new Float64Array(nh), beta: new Float64Array(nh), reply: new Uint32Array(nh) },
    benefit: { src: new Uint32Array(nb), dst: new Uint32Array(nb), c: new Float64Array(nb), p: new Float64Array(nb) },
    lin: new Float64Array(p.n),
  };
  let q = 0;
  let h = 0;
  let b = 0;
  for (let e = 0; e < p.edges; e++) {
    const t = p.type[e]!;
    const i = p.src[e]!;
    if (t === CouplingType.quadratic) {
      out.quadratic.src[q] = i;
      out.quadratic.dst[q] = p.dst[e]!;
      out.quadratic.w[q++] = p.w[e]!;
    } else if (t === CouplingType.hinge) {
      out.hinge.src[h] = i;
      out.hinge.dst[h] = p.dst[e]!;
      out.hinge.w[h] = p.w[e]!;
      out.hinge.alpha[h] = p.alpha[e]!;
      out.hinge.beta[h++] = p.beta[e]!;
    } else if (t === CouplingType.gateBenefit) {
      out.lin[i]! += p.w[e]! * p.benefit[e]!;
    } else {
      out.benefit.src[b] = i;
      out.benefit.dst[b] = i;
      out.benefit.c[b] = p.w[e]! * p.benefit[e]!;
      out.benefit.p[b++] = p.power[e]!;
    }
  }
  sortPairs(out.quadratic, p.n);
  sortPairs(out.hinge, p.n);
  replyIndex(out.quadratic, p.n);
  replyIndex(out.hinge, p.n);
  return out;
}

/** Sorts an edge list's columns in place by (src, dst), stably (two counting-sort passes). */
function sortPairs<T extends { src: Uint32Array; dst: Uint32Array }>(edges: T, n: number): void {
  const m = edges.src.length;
  const byDst = countingOrder(edges.dst, n, null);
  const order = countingOrder(edges.src, n, byDst);
  for (const col of Object.values(edges) as (Uint32Array | Float64Array)[]) {
    const copy = col.slice();
    for (let k = 0; k < m; k++) col[k] = copy[order[k]!]!;
  }
}

/**
 * Fills `reply`: the reply graph is set from (dst, src) in forward order and stored sorted by its
 * source (the forward dst), stably, so forward edge e's reply edge sits at e's rank in a stable sort
 * by dst.
 */
function replyIndex(edges: { dst: Uint32Array; reply: Uint32Array }, n: number): void {
  const order = countingOrder(edges.dst, n, null);
  for (let k = 0; k < order.length; k++) edges.reply[order[k]!] = k;
}

/** A stable counting sort's order of `keys` (< n), visiting indices in `within` order (null: 0..m−1). */
function countingOrder(keys: Uint32Array, n: number, within: Uint32Array | null): Uint32Array {
  const m = keys.length;
  const start = new Uint32Array(n + 1);
  for (let k = 0; k < m; k++) start[keys[k]! + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const out = new Uint32Array(m);
  for (let k = 0; k < m; k++) {
    const e = within ? within[k]! : k;
    out[start[keys[e]!]!++] = e;
  }
  return out;
}

/** Edge capacities per graph for a problem: `landauModel({ …, graphEdges: edgeCapacities(p) })`. */
export function edgeCapacities(p: LandauProblem): { quadratic: number; hinge: number; benefit: number } {
  const count = [0, 0, 0, 0];
  for (let e = 0; e < p.edges; e++) count[p.type[e]!]!++;
  return { quadratic: count[CouplingType.quadratic]!, hinge: count[CouplingType.hinge]!, benefit: count[CouplingType.dampedGateBenefit]! };
}

/** Writes the problem's modules (η0, kind, a, b, h, lin) and coupling edges into the simulation. */
export function loadProblem(sim: SimulationLike, p: LandauProblem): void {
  const n = sim.count(MODULE_KIND);
  if (n !== p.n) throw new CheckError(`the simulation has ${n} ${MODULE_KIND} actors but the problem has ${p.n} modules; build the model with landauModel({ modules: ${p.n}, … })`);
  const c = compileEdges(p);
  const s = sim.state(MODULE_KIND);
  s.eta!.set(p.eta0);
  s.etaPrev!.set(p.eta0);
  s.kind!.set(p.kind);
  s.a!.set(p.a);
  s.b!.set(p.b);
  // Only landau modules have a linear field; the kernels apply h to every kind.
  const h = s.h!;
  for (let i = 0; i < n; i++) h[i] = p.kind[i] === LocalKind.landau ? p.h[i]! : 0;
  s.lin!.set(c.lin);
  sim.setGraph(QUADRATIC_GRAPH, c.quadratic.src, c.quadratic.dst, { w: c.quadratic.w, reply: c.quadratic.reply });
  sim.setGraph(QUADRATIC_REPLY_GRAPH, c.quadratic.dst, c.quadratic.src);
  sim.setGraph(HINGE_GRAPH, c.hinge.src, c.hinge.dst, { w: c.hinge.w, alpha: c.hinge.alpha, beta: c.hinge.beta, reply: c.hinge.reply });
  sim.setGraph(HINGE_REPLY_GRAPH, c.hinge.dst, c.hinge.src);
  sim.setGraph(BENEFIT_GRAPH, c.benefit.src, c.benefit.dst, { c: c.benefit.c, p: c.benefit.p });
}

const ENERGY_BLOCKS = `${MODULE_KIND}.energyBlock`;
const CPU_ONLY = 'the Landau coordinator steps the simulation synchronously and runs on the cpu backend only (the WGSL kernels of LandauModule are not written yet); use --backend cpu';

/** Σ of the block sums x[0], x[block], x[2·block], … below n, in order, in f64. */
function sumBlocks(x: TypedArray, n: number, block: number): number {
  let s = 0;
  for (let i = 0; i < n; i += block) s += x[i]!;
  return s;
}

export class EngineBackend implements RelaxBackend {
  readonly n: number;
  private steps = 0;
  readonly features: { readonly noise: boolean; readonly async: boolean };

  constructor(private readonly sim: SimulationLike) {
    this.n = sim.count(MODULE_KIND);
    const kind = sim.spec.kinds.find((k) => k.name === MODULE_KIND);
    if (!kind) throw new CheckError(`the simulation has no ${MODULE_KIND} kind; build it from landauModel()`);
    const has = (f: string): boolean => kind.fields.some((x) => x.name === f);
    this.features = { noise: has('noise'), async: has('gSeen') };
    if (typeof sim.messageColumns !== 'function') throw new BackendError(CPU_ONLY);
  }

  step(cmd: MoveCommand): Evaluation {
    const c = this.sim.state(CONTROL_KIND);
    c.mode![0] = cmd.mode;
    c.stepScale![0] = cmd.stepScale;
    c.noiseScale![0] = cmd.noiseScale;
    c.asyncTol![0] = cmd.asyncTol;
    for (let k = 0; k < 4; k++) {
      c[LOCAL_WEIGHT_FIELDS[k]!]![0] = cmd.weights.local[k]!;
      c[COUPLING_WEIGHT_FIELDS[k]!]![0] = cmd.weights.coupling[k]!;
    }
    let pending: unknown;
    try {
      pending = this.sim.stepOnce();
    } catch (err) {
      // The couple kernel's reply-graph check (kernels/landau/cpu.ts: Fault.user, detail REPLY_FAULT = 1).
      if (err instanceof CheckError && /'landau\.couple'.* fault 4 \(detail 1\)/.test(err.message)) {
        throw new CheckError(`the reply graphs '${QUADRATIC_REPLY_GRAPH}'/'${HINGE_REPLY_GRAPH}' do not mirror '${QUADRATIC_GRAPH}'/'${HINGE_GRAPH}' edge for edge; load couplings with loadProblem() (${err.message})`);
      }
      throw err;
    }
    if (pending instanceof Promise) {
      throw new BackendError(CPU_ONLY);
    }
    const n = this.n;
    const energy = sumBlocks(this.energyBlocks(), n, ENERGY_BLOCK);
    if (!Number.isFinite(energy)) throw new CheckError(`the energy of the Landau modules is ${energy} after engine step ${this.steps}; check the problem's coefficients (a, b, h, w) for non-finite or huge values`);
    this.steps++;
    const s = this.sim.state(MODULE_KIND);
    const gradCol = s.grad!;
    let grad2 = NaN;
    if (cmd.grad2 !== false) {
      grad2 = 0;
      for (let i = 0; i < n; i++) {
        const g = gradCol[i]!;
        grad2 += g * g;
      }
    }
    const moves = cmd.mode === MoveMode.advance || cmd.mode === MoveMode.retry;
    let moved = moves ? n : 0;
    let movedGrad2 = NaN;
    if (moves && cmd.asyncTol > 0) {
      const active = s.active!;
      const gradPrev = s.gradPrev!;
      moved = 0;
      movedGrad2 = 0;
      for (let i = 0; i < n; i++) {
        if (active[i] === 1) {
          moved++;
          movedGrad2 += gradPrev[i]! * gradPrev[i]!;
        }
      }
    }
    let noiseDotGrad = 0;
    const noise = s.noise;
    if (noise) for (let i = 0; i < n; i++) noiseDotGrad += noise[i]! * gradCol[i]!;
    return { energy, grad2, moved, movedGrad2, noiseDotGrad };
  }

  /** The energyBlock column (f64, or f32 in the f32 layout). */
  private energyBlocks(): TypedArray {
    return this.sim.messageColumns!(ENERGY_BLOCKS).energy!;
  }

  etaNow(): Float64Array {
    const eta = this.sim.state(MODULE_KIND).eta!;
    return Float64Array.from(eta.subarray(0, this.n));
  }
}
