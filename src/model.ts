/**
 * Declarations: what a user writes to describe actor kinds, their messages and functions, and the
 * model that joins them. Declarations are plain data (no functions, no classes), so a compiled
 * {@link ModelSpec} survives `structuredClone` into a worker's `workerData`. Kernels are referenced by
 * name and registered per backend in `kernels/<kind>/cpu.ts` (see `src/kernel.ts`).
 *
 * @example
 * ```ts
 * const Particle = defineActor({
 *   name: 'Particle',
 *   kernels: new URL('../../kernels/particle/cpu.js', import.meta.url).href,
 *   state: { x: { type: 'f32' }, v: { type: 'f32' } },
 *   params: { damping: { default: 0.1, description: 'velocity damping per step', unit: '1/step' } },
 *   messages: { pos: { fields: { x: 'f32' }, delivery: { type: 'array' } } },
 *   functions: {
 *     publish: { kernel: 'particle.publish', reads: ['x'], outputs: ['Particle.pos'] },
 *     move: { kernel: 'particle.move', reads: ['x', 'v'], writes: ['x', 'v'], inputs: ['Particle.pos'] },
 *   },
 * });
 * const spec = compileModel(defineModel({ name: 'demo', actors: [Particle], population: { Particle: { capacity: 1000 } } }));
 * ```
 */
import { CheckError } from './errors.js';
import { type DType, isDType } from './types.js';

export interface FieldDecl {
  readonly type: DType;
  /** Initial value of every slot (default 0). */
  readonly initial?: number;
  readonly description?: string;
  readonly unit?: string;
}

export interface ParamDecl {
  readonly default: number;
  readonly description?: string;
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

/** Segment reductions computed per key for a bucket message field. */
export type Reduction = 'count' | 'sum' | 'mean' | 'std' | 'min' | 'max';
export const REDUCTIONS: readonly Reduction[] = ['count', 'sum', 'mean', 'std', 'min', 'max'];

/**
 * How a message type is delivered.
 * - `direct`: to one actor id of kind `to`; up to `maxPerActor` records per sender per step.
 * - `bucket`: keyed many-to-one into actors of kind `to` (key = receiver id), with optional segment
 *   reductions per key (`std` is the population standard deviation).
 * - `array`: one record per sender slot, read by sender index (also serves as broadcast).
 * - `spatial`: at most one record per sender at a 3D position (fields `x`, `y`, `z`), read by
 *   receivers as neighbours within `radius`; the grid spans `min`..`max` (positions outside are
 *   clamped into the border cells, which stays correct). Its cells have side `cellSize` (default
 *   `radius`), one number or one per axis `[x, y, z]`; a reader visits `ceil(radius / cellSize)`
 *   cells on each side of its own, per axis. Cells finer than the radius cost more index memory but
 *   fewer candidate records per reader (see actors/circles for a measured choice).
 * - `graph`: one record per edge of the named graph; `forward`: written by the edge's source, read by
 *   its destination; `backward`: written by the destination, read by the source.
 */
export type Delivery =
  | { readonly type: 'direct'; readonly to: string; readonly maxPerActor: number }
  | {
      readonly type: 'bucket';
      readonly to: string;
      readonly maxPerActor: number;
      readonly reduce?: Readonly<Record<string, readonly Reduction[]>>;
      /**
       * `false`: the readers use only the reductions (`reduce`, and the per-key counts as `offsets`),
       * never the records themselves, so the CPU index build skips the sort: the reductions are
       * accumulated in sender order straight from the raw records (the same sums in the same order as
       * the sorted path, so bit-identical), and the readers' `fields` are empty and `sender` has length
       * 0. Default `true`. The WebGPU backend reduces on the device either way.
       */
      readonly readRecords?: boolean;
    }
  | { readonly type: 'array' }
  | {
      readonly type: 'spatial';
      readonly radius: number;
      /**
       * Side of a grid cell (default `radius`), the same on every axis or `[x, y, z]`; readers must
       * visit `ceil(radius / cellSize)` cells each side, per axis.
       */
      readonly cellSize?: number | readonly [number, number, number];
      readonly min: readonly [number, number, number];
      readonly max: readonly [number, number, number];
    }
  | { readonly type: 'graph'; readonly graph: string; readonly direction: 'forward' | 'backward' };

export interface MessageDecl {
  readonly fields: Readonly<Record<string, DType>>;
  readonly delivery: Delivery;
  readonly description?: string;
}

/**
 * When a function runs.
 * - `always` (default): every step.
 * - `every`: when `step % k === offset`.
 * - `onMessage`: only for actors that received at least one record of `message` this step
 *   (a direct, bucket or spatial message). Idle actors are not visited; their written fields keep
 *   their values.
 */
export type Activation =
  | { readonly type: 'always' }
  | { readonly type: 'every'; readonly k: number; readonly offset?: number }
  | { readonly type: 'onMessage'; readonly message: string };

export interface FunctionDecl {
  /** Kernel name, registered per backend (e.g. `circles.move`). */
  readonly kernel: string;
  /** State fields read (written fields are readable too without being listed). */
  readonly reads?: readonly string[];
  /** State fields written (into the `next` buffer). A field is written by at most one function. */
  readonly writes?: readonly string[];
  /** Message types read, by full name `Kind.message`. */
  readonly inputs?: readonly string[];
  /** Message types written, by full name `Kind.message` (must be declared by this kind). */
  readonly outputs?: readonly string[];
  readonly activation?: Activation;
}

export interface ActorDecl {
  readonly name: string;
  /** Module URL (file: URL) that exports `kernels: KernelRegistration[]` for this kind. */
  readonly kernels: string;
  readonly description?: string;
  readonly state: Readonly<Record<string, FieldDecl>>;
  readonly params?: Readonly<Record<string, ParamDecl>>;
  readonly messages?: Readonly<Record<string, MessageDecl>>;
  readonly functions: Readonly<Record<string, FunctionDecl>>;
}

export interface GraphDecl {
  readonly from: string;
  readonly to: string;
  /** Per-edge attribute columns (e.g. a coupling weight). */
  readonly fields?: Readonly<Record<string, DType>>;
}

export interface PopulationDecl {
  /** Maximum number of actors of this kind (memory is allocated for this many). */
  readonly capacity: number;
  /** Initial live count (default = capacity). */
  readonly count?: number;
}

export interface ModelDecl {
  readonly name: string;
  readonly actors: readonly ActorDecl[];
  readonly population: Readonly<Record<string, PopulationDecl>>;
  readonly graphs?: Readonly<Record<string, GraphDecl & { readonly maxEdges: number }>>;
  /** Kind parameters overriding declared defaults: `{ Kind: { param: value } }`. */
  readonly params?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Virtual time per step (default 1). */
  readonly dt?: number;
}

/** Identity helpers that keep literal types and document intent. */
export function defineActor<const T extends ActorDecl>(decl: T): T {
  return decl;
}
export function defineModel<const T extends ModelDecl>(decl: T): T {
  return decl;
}

// ---------------------------------------------------------------------------------------------
// Compiled spec

export interface FieldSpec {
  readonly name: string;
  readonly type: DType;
  readonly initial: number;
  /** Index of this column in the model's global column table. */
  readonly column: number;
}

export interface MessageSpec {
  /** Full name `Kind.message`. */
  readonly name: string;
  readonly id: number;
  readonly sender: string;
  readonly fields: readonly { readonly name: string; readonly type: DType }[];
  readonly delivery: Delivery;
  /** Number of receiver keys: actors of `to` (direct/bucket), grid cells (spatial), edges (graph), senders (array). */
  readonly keys: number;
  /** Slot capacity of the raw output list. */
  readonly slots: number;
  /** For spatial: grid geometry. */
  readonly grid?: { readonly min: readonly number[]; readonly cellSize: readonly [number, number, number]; readonly dims: readonly number[] };
}

export interface FunctionSpec {
  readonly id: number;
  /** `Kind.function`. */
  readonly name: string;
  readonly kind: string;
  readonly kernel: string;
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly activation: Activation;
}

export interface KindSpec {
  readonly name: string;
  readonly id: number;
  readonly kernels: string;
  readonly capacity: number;
  readonly count: number;
  readonly fields: readonly FieldSpec[];
  readonly params: Readonly<Record<string, number>>;
  readonly paramDecls: Readonly<Record<string, ParamDecl>>;
  readonly functions: readonly string[];
}

export interface GraphSpec {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly maxEdges: number;
  readonly fields: readonly { readonly name: string; readonly type: DType }[];
}

/** A phase: functions that can run together, then the message indexes to build after them. */
export interface PhaseSpec {
  readonly index: number;
  readonly functions: readonly number[];
  /** Messages output in this phase whose receiver index is built right after it. */
  readonly buildMessages: readonly number[];
}

export interface ModelSpec {
  readonly name: string;
  readonly dt: number;
  readonly kinds: readonly KindSpec[];
  readonly messages: readonly MessageSpec[];
  readonly functions: readonly FunctionSpec[];
  readonly graphs: readonly GraphSpec[];
  readonly phases: readonly PhaseSpec[];
  /** Number of state columns (each is double-buffered). */
  readonly columns: number;
}

function fail(where: string, what: string): never {
  throw new CheckError(`${where}: ${what}`);
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(where: string, name: string): void {
  if (!NAME.test(name)) fail(where, `name '${name}' must match ${String(NAME)}`);
}

function checkPositiveInt(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(where, `must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * Validates a model declaration and compiles it into a frozen {@link ModelSpec}: column table,
 * message table and the phases of a step derived from declared dependencies.
 * Throws {@link CheckError} naming the kind, field and fix.
 */
export function compileModel(decl: ModelDecl): ModelSpec {
  checkName('model.name', decl.name);
  const kindNames = new Set<string>();
  for (const a of decl.actors) {
    checkName(`actor '${a.name}'`, a.name);
    if (kindNames.has(a.name)) fail(`actor '${a.name}'`, 'is declared twice; give each actor kind a unique name');
    kindNames.add(a.name);
  }
  for (const k of Object.keys(decl.population)) {
    if (!kindNames.has(k)) fail(`population.${k}`, `names no declared actor kind (known: ${[...kindNames].join(', ')})`);
  }

  // Graphs
  const graphs: GraphSpec[] = [];
  for (const [gname, g] of Object.entries(decl.graphs ?? {})) {
    checkName(`graphs.${gname}`, gname);
    if (!kindNames.has(g.from)) fail(`graphs.${gname}.from`, `names no declared actor kind '${g.from}' (known: ${[...kindNames].join(', ')})`);
    if (!kindNames.has(g.to)) fail(`graphs.${gname}.to`, `names no declared actor kind '${g.to}' (known: ${[...kindNames].join(', ')})`);
    checkPositiveInt(`graphs.${gname}.maxEdges`, g.maxEdges);
    const fields = Object.entries(g.fields ?? {}).map(([name, type]) => {
      checkName(`graphs.${gname}.fields`, name);
      if (!isDType(type)) fail(`graphs.${gname}.fields.${name}`, `type '${String(type)}' is not one of f32|f64|i32|u32|u8`);
      return { name, type };
    });
    graphs.push({ name: gname, from: g.from, to: g.to, maxEdges: g.maxEdges, fields });
  }
  const graphByName = new Map(graphs.map((g) => [g.name, g]));

  let column = 0;
  const kinds: KindSpec[] = [];
  const messages: MessageSpec[] = [];
  const functions: FunctionSpec[] = [];
  const popOf = (k: string): PopulationDecl => {
    const p = decl.population[k];
    if (!p) fail(`population.${k}`, `is missing; declare { capacity } for every actor kind`);
    return p;
  };

  decl.actors.forEach((a, kindId) => {
    const where = `actor '${a.name}'`;
    if (typeof a.kernels !== 'string' || a.kernels.length === 0) fail(`${where}.kernels`, 'must be the URL of the module that registers its kernels');
    const pop = popOf(a.name);
    const capacity = checkPositiveInt(`population.${a.name}.capacity`, pop.capacity);
    const count = pop.count ?? capacity;
    if (!Number.isInteger(count) || count < 0 || count > capacity) {
      fail(`population.${a.name}.count`, `must be an integer in [0, capacity=${capacity}], got ${count}`);
    }
    const fields: FieldSpec[] = [];
    for (const [fname, f] of Object.entries(a.state)) {
      checkName(`${where}.state`, fname);
      if (!isDType(f.type)) fail(`${where}.state.${fname}.type`, `'${String(f.type)}' is not one of f32|f64|i32|u32|u8`);
      fields.push({ name: fname, type: f.type, initial: f.initial ?? 0, column: column++ });
    }
    const paramDecls = a.params ?? {};
    const params: Record<string, number> = {};
    // Defaults obey their own min/max/integer, like overrides: a bad default is a declaration bug.
    const checkParam = (pw: string, pd: ParamDecl, v: unknown): number => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(pw, `must be a finite number, got ${String(v)}`);
      if (pd.min !== undefined && v < pd.min) fail(pw, `must be ≥ ${pd.min}, got ${v}`);
      if (pd.max !== undefined && v > pd.max) fail(pw, `must be ≤ ${pd.max}, got ${v}`);
      if (pd.integer && !Number.isInteger(v)) fail(pw, `must be an integer, got ${v}`);
      return v;
    };
    for (const [pname, p] of Object.entries(paramDecls)) {
      checkName(`${where}.params`, pname);
      if (typeof p.default !== 'number') fail(`${where}.params.${pname}.default`, 'must be a number');
      params[pname] = checkParam(`${where}.params.${pname}.default`, p, p.default);
    }
    for (const [pname, v] of Object.entries(decl.params?.[a.name] ?? {})) {
      const pd = paramDecls[pname];
      if (!pd) fail(`params.${a.name}.${pname}`, `is not a parameter of ${a.name} (known: ${Object.keys(paramDecls).join(', ') || 'none'})`);
      params[pname] = checkParam(`params.${a.name}.${pname}`, pd, v);
    }

    for (const [mname, m] of Object.entries(a.messages ?? {})) {
      const full = `${a.name}.${mname}`;
      const mw = `message '${full}'`;
      checkName(mw, mname);
      const mfields = Object.entries(m.fields).map(([name, type]) => {
        checkName(`${mw}.fields`, name);
        if (!isDType(type)) fail(`${mw}.fields.${name}`, `type '${String(type)}' is not one of f32|f64|i32|u32|u8`);
        return { name, type };
      });
      const d = m.delivery;
      let keys: number;
      let slots: number;
      let grid: MessageSpec['grid'];
      switch (d.type) {
        case 'direct':
        case 'bucket': {
          if (!kindNames.has(d.to)) fail(`${mw}.delivery.to`, `names no declared actor kind '${d.to}' (known: ${[...kindNames].join(', ')})`);
          checkPositiveInt(`${mw}.delivery.maxPerActor`, d.maxPerActor);
          keys = checkPositiveInt(`population.${d.to}.capacity`, popOf(d.to).capacity);
          slots = capacity * d.maxPerActor;
          if (d.type === 'bucket') {
            for (const [rf, rs] of Object.entries(d.reduce ?? {})) {
              if (!mfields.some((f) => f.name === rf)) fail(`${mw}.delivery.reduce.${rf}`, `is not a field of the message (fields: ${mfields.map((f) => f.name).join(', ')})`);
              for (const r of rs) if (!REDUCTIONS.includes(r)) fail(`${mw}.delivery.reduce.${rf}`, `'${String(r)}' is not one of ${REDUCTIONS.join('|')}`);
            }
            if (d.readRecords !== undefined && typeof d.readRecords !== 'boolean') fail(`${mw}.delivery.readRecords`, `must be true or false, got ${String(d.readRecords)}`);
          }
          break;
        }
        case 'array':
          keys = capacity;
          slots = capacity;
          break;
        case 'spatial': {
          for (const c of ['x', 'y', 'z']) {
            if (!mfields.some((f) => f.name === c && (f.type === 'f32' || f.type === 'f64'))) {
              fail(`${mw}.fields`, `a spatial message needs float fields x, y and z`);
            }
          }
          if (!(d.radius > 0)) fail(`${mw}.delivery.radius`, `must be > 0, got ${d.radius}`);
          const cs = d.cellSize ?? d.radius;
          const cellSize = (typeof cs === 'number' ? [cs, cs, cs] : Array.isArray(cs) && cs.length === 3 ? [...cs] : []) as [number, number, number];
          if (cellSize.length !== 3 || !cellSize.every((c) => typeof c === 'number' && c > 0 && Number.isFinite(c))) {
            fail(`${mw}.delivery.cellSize`, `must be a finite number > 0 or three of them [x, y, z] (or left out to use the radius), got ${JSON.stringify(d.cellSize)}`);
          }
          const dims = [0, 1, 2].map((i) => {
            const lo = d.min[i]!;
            const hi = d.max[i]!;
            if (!(hi > lo)) fail(`${mw}.delivery.max`, `must exceed min on every axis`);
            return Math.max(1, Math.ceil((hi - lo) / cellSize[i]!));
          });
          const cells = dims[0]! * dims[1]! * dims[2]!;
          if (cells > 1 << 28) fail(`${mw}.delivery`, `the grid has ${cells} cells; raise cellSize (or radius) or shrink the bounds`);
          grid = { min: [...d.min], cellSize, dims };
          keys = cells;
          slots = capacity;
          break;
        }
        case 'graph': {
          const g = graphByName.get(d.graph);
          if (!g) fail(`${mw}.delivery.graph`, `names no declared graph '${d.graph}' (known: ${[...graphByName.keys()].join(', ') || 'none'})`);
          const writer = d.direction === 'forward' ? g.from : g.to;
          if (writer !== a.name) fail(`${mw}.delivery`, `a ${d.direction} message on graph '${g.name}' must be declared by kind '${writer}'`);
          keys = g.maxEdges;
          slots = g.maxEdges;
          break;
        }
        default:
          fail(`${mw}.delivery.type`, `'${String((d as { type: unknown }).type)}' is not one of direct|bucket|array|spatial|graph`);
      }
      messages.push({ name: full, id: messages.length, sender: a.name, fields: mfields, delivery: d, keys, slots, ...(grid ? { grid } : {}) });
    }

    const fnames: string[] = [];
    for (const [fname, f] of Object.entries(a.functions)) {
      checkName(`${where}.functions`, fname);
      const fw = `function '${a.name}.${fname}'`;
      const has = (n: string): boolean => fields.some((x) => x.name === n);
      for (const r of f.reads ?? []) if (!has(r)) fail(`${fw}.reads`, `'${r}' is not a state field of ${a.name} (fields: ${fields.map((x) => x.name).join(', ')})`);
      for (const w of f.writes ?? []) if (!has(w)) fail(`${fw}.writes`, `'${w}' is not a state field of ${a.name} (fields: ${fields.map((x) => x.name).join(', ')})`);
      for (const o of f.outputs ?? []) if (!o.startsWith(`${a.name}.`)) fail(`${fw}.outputs`, `'${o}' must be a message declared by ${a.name} (write it as '${a.name}.<message>')`);
      functions.push({
        id: functions.length,
        name: `${a.name}.${fname}`,
        kind: a.name,
        kernel: f.kernel,
        reads: [...(f.reads ?? [])],
        writes: [...(f.writes ?? [])],
        inputs: [...(f.inputs ?? [])],
        outputs: [...(f.outputs ?? [])],
        activation: f.activation ?? { type: 'always' },
      });
      fnames.push(`${a.name}.${fname}`);
    }
    kinds.push({ name: a.name, id: kindId, kernels: a.kernels, capacity, count, fields, params, paramDecls, functions: fnames });
  });

  // Cross-checks on functions: inputs exist and are receivable by this kind; single writer per field.
  const msgByName = new Map(messages.map((m) => [m.name, m]));
  const writer = new Map<string, string>();
  for (const f of functions) {
    const fw = `function '${f.name}'`;
    for (const i of f.inputs) {
      const m = msgByName.get(i);
      if (!m) fail(`${fw}.inputs`, `'${i}' is not a declared message (known: ${[...msgByName.keys()].join(', ') || 'none'})`);
      const d = m.delivery;
      if ((d.type === 'direct' || d.type === 'bucket') && d.to !== f.kind) fail(`${fw}.inputs`, `'${i}' is delivered to ${d.to}, not ${f.kind}`);
      if (d.type === 'graph') {
        const g = graphByName.get(d.graph)!;
        const reader = d.direction === 'forward' ? g.to : g.from;
        if (reader !== f.kind) fail(`${fw}.inputs`, `'${i}' is read by ${reader} on graph '${g.name}', not ${f.kind}`);
      }
    }
    for (const o of f.outputs) if (!msgByName.has(o)) fail(`${fw}.outputs`, `'${o}' is not a declared message of ${f.kind}; declare it under ${f.kind}.messages`);
    for (const w of f.writes) {
      const key = `${f.kind}.${w}`;
      const prev = writer.get(key);
      if (prev) fail(`${fw}.writes`, `'${w}' is already written by '${prev}'; a field has one writer per step (split the field or merge the functions)`);
      writer.set(key, f.name);
    }
    const act = f.activation;
    if (act.type === 'every') {
      checkPositiveInt(`${fw}.activation.k`, act.k);
      // A negative or fractional offset never equals step % k: the function would silently never run.
      const off = act.offset ?? 0;
      if (!Number.isInteger(off) || off < 0) fail(`${fw}.activation.offset`, `must be a non-negative integer, got ${String(off)} (the function would never run)`);
    }
    if (act.type === 'onMessage') {
      const m = msgByName.get(act.message);
      if (!m || !f.inputs.includes(act.message)) fail(`${fw}.activation.message`, `'${act.message}' must be one of the function's inputs`);
      if (m.delivery.type !== 'direct' && m.delivery.type !== 'bucket') fail(`${fw}.activation`, `onMessage needs a direct or bucket message, '${m.name}' is ${m.delivery.type}`);
    }
  }

  const phases = derivePhases(functions, messages);
  const dt = decl.dt ?? 1;
  if (!(dt > 0)) fail('model.dt', `must be > 0, got ${dt}`);
  const spec: ModelSpec = { name: decl.name, dt, kinds, messages, functions, graphs, phases, columns: column };
  return deepFreeze(spec);
}

/**
 * Orders functions into phases. F must run after G when F reads a message G outputs, or, for two
 * functions of one kind declared G before F, when F reads a field G writes or writes a field G reads.
 * Functions with no path between them share a phase (earliest level). A cycle (only possible through
 * messages) is a {@link CheckError}.
 */
export function derivePhases(functions: readonly FunctionSpec[], messages: readonly MessageSpec[]): PhaseSpec[] {
  const n = functions.length;
  const deps: number[][] = functions.map(() => []);
  for (const f of functions) {
    for (const g of functions) {
      // A function that reads a message it writes depends on itself (the index is built after its
      // phase), so the message edge is kept for f === g and reported as a cycle of one.
      const msgDep = f.inputs.some((i) => g.outputs.includes(i));
      if (f === g) {
        if (msgDep) deps[f.id]!.push(g.id);
        continue;
      }
      // Fields of one kind follow declaration order: a function declared after the writer of a field
      // reads the new value (read after write); one declared before it reads the old value, so the
      // writer must wait for it (write after read). Either way the edge points from later to earlier.
      const reads = (x: FunctionSpec): readonly string[] => [...x.reads, ...x.writes];
      const sameKind = f.kind === g.kind;
      const rawDep = sameKind && g.id < f.id && reads(f).some((r) => g.writes.includes(r));
      const warDep = sameKind && g.id < f.id && f.writes.some((w) => reads(g).includes(w));
      if (msgDep || rawDep || warDep) deps[f.id]!.push(g.id);
    }
  }
  const level = new Array<number>(n).fill(-1);
  const visiting = new Array<boolean>(n).fill(false);
  const visit = (i: number, path: string[]): number => {
    if (level[i]! >= 0) return level[i]!;
    if (visiting[i]) {
      throw new CheckError(`functions form a cycle: ${[...path, functions[i]!.name].join(' → ')}; a message is read in the phase after it is written, so break the cycle by reading last step's state instead`);
    }
    visiting[i] = true;
    let l = 0;
    for (const d of deps[i]!) l = Math.max(l, visit(d, [...path, functions[i]!.name]) + 1);
    visiting[i] = false;
    level[i] = l;
    return l;
  };
  for (let i = 0; i < n; i++) visit(i, []);
  const maxLevel = n === 0 ? -1 : Math.max(...level);
  const phases: PhaseSpec[] = [];
  for (let l = 0; l <= maxLevel; l++) {
    const fns = functions.filter((f) => level[f.id] === l).map((f) => f.id);
    const build = messages
      .filter((m) => fns.some((id) => functions[id]!.outputs.includes(m.name)))
      .map((m) => m.id);
    phases.push({ index: l, functions: fns, buildMessages: build });
  }
  // A message read in the same step must be output by an earlier phase (guaranteed by levels).
  return phases;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
