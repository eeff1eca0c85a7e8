/**
 * The engine backend of the coordinator: loads a {@link LandauProblem} into a running simulation of
 * {@link landauModel} and steps it, one engine step per {@link MoveCommand}. The energy monitor is
 * here: after each step it reduces F = Σ energy_i and ‖g‖² = Σ grad_i² over the modules in module
 * order, in f64, so the result does not depend on the number of workers.
 *
 * It talks to the simulation through {@link SimulationLike}, the part of `sim/simulation.ts`'s public
 * API it needs, so that this folder keeps importing only `src/` (ARCHITECTURE §1).
 */
import { BackendError, CheckError } from '../../src/errors.js';
import type { ModelSpec } from '../../src/model.js';
import type { TypedArray } from '../../src/types.js';
import { CouplingType } from './energies.js';
import { COUPLING_GRAPH, COUPLING_WEIGHT_FIELDS, CONTROL_KIND, LOCAL_WEIGHT_FIELDS, MODULE_KIND, MoveMode } from './index.js';
import type { LandauProblem } from './problem.js';
import type { Evaluation, MoveCommand, RelaxBackend } from './relax.js';

/** What the backend uses of `Simulation` (structurally typed). */
export interface SimulationLike {
  readonly spec: ModelSpec;
  count(kind: string): number;
  state(kind: string): Record<string, TypedArray>;
  setGraph(name: string, src: ArrayLike<number>, dst: ArrayLike<number>, fields?: Record<string, ArrayLike<number>>): void;
  /** Synchronous on the cpu backend (a backend that returns a promise is refused). */
  stepOnce(): unknown;
}

/** Writes the problem's modules (η0, kind, a, b, h) and coupling edges into the simulation. */
export function loadProblem(sim: SimulationLike, p: LandauProblem): void {
  const n = sim.count(MODULE_KIND);
  if (n !== p.n) throw new CheckError(`the simulation has ${n} ${MODULE_KIND} actors but the problem has ${p.n} modules; build the model with landauModel({ modules: ${p.n}, … })`);
  const s = sim.state(MODULE_KIND);
  s.eta!.set(p.eta0);
  s.etaPrev!.set(p.eta0);
  s.kind!.set(p.kind);
  s.a!.set(p.a);
  s.b!.set(p.b);
  s.h!.set(p.h);
  sim.setGraph(COUPLING_GRAPH, p.src, p.dst, compileEdges(p));
}

/**
 * The engine's edge fields (see the table in ./index.ts): the coefficient `w` (w, or w·benefit for
 * the benefit couplings, whose energy is −w·benefit·η_eff) and two shape numbers (hinge α, β; benefit
 * power p). The products are exact in the sense that the reference computes the same ones.
 */
export function compileEdges(p: LandauProblem): { type: Uint8Array; w: Float64Array; s1: Float64Array; s2: Float64Array } {
  const m = p.edges;
  const w = new Float64Array(m);
  const s1 = new Float64Array(m);
  const s2 = new Float64Array(m);
  for (let e = 0; e < m; e++) {
    const t = p.type[e]!;
    if (t === CouplingType.quadratic) {
      w[e] = p.w[e]!;
    } else if (t === CouplingType.hinge) {
      w[e] = p.w[e]!;
      s1[e] = p.alpha[e]!;
      s2[e] = p.beta[e]!;
    } else {
      w[e] = p.w[e]! * p.benefit[e]!;
      s1[e] = p.power[e]!;
    }
  }
  return { type: p.type, w, s1, s2 };
}

export class EngineBackend implements RelaxBackend {
  readonly n: number;
  readonly features: { readonly noise: boolean; readonly async: boolean };

  constructor(private readonly sim: SimulationLike) {
    this.n = sim.count(MODULE_KIND);
    const kind = sim.spec.kinds.find((k) => k.name === MODULE_KIND);
    if (!kind) throw new CheckError(`the simulation has no ${MODULE_KIND} kind; build it from landauModel()`);
    const has = (f: string): boolean => kind.fields.some((x) => x.name === f);
    this.features = { noise: has('noise'), async: has('gSeen') };
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
    const pending: unknown = this.sim.stepOnce();
    if (pending instanceof Promise) {
      throw new BackendError('the Landau coordinator steps the simulation synchronously and runs on the cpu backend only (the WGSL kernels of LandauModule are not written yet); use --backend cpu');
    }
    const s = this.sim.state(MODULE_KIND);
    const n = this.n;
    const energyCol = s.energy!;
    const gradCol = s.grad!;
    let energy = 0;
    let grad2 = 0;
    for (let i = 0; i < n; i++) {
      energy += energyCol[i]!;
      const g = gradCol[i]!;
      grad2 += g * g;
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

  etaNow(): Float64Array {
    const eta = this.sim.state(MODULE_KIND).eta!;
    return Float64Array.from(eta.subarray(0, this.n));
  }
}
