/**
 * compileModel: every validation path, phase derivation, freezing and parameter overrides.
 *
 * Oracles: the expected messages are pinned by hand (each names where the problem is and what to do),
 * the expected phases of small models are worked out by hand, and for random acyclic models a naive
 * longest-path levelling written here from the rules in ARCHITECTURE §4 / derivePhases' doc.
 */
import { describe, expect, it } from 'vitest';
import { CheckError } from '../src/errors.js';
import { compileModel, type ActorDecl, type FunctionDecl, type MessageDecl, type ModelDecl, type ModelSpec } from '../src/model.js';
import { hash32 } from '../src/rng.js';
import type { DType } from '../src/types.js';

const KERNELS = 'file:///unit/kernels.js';

/** A valid kind with one field `x` and one function `step` that writes it; `over` replaces parts. */
function actor(name: string, over: Partial<ActorDecl> = {}): ActorDecl {
  return {
    name,
    kernels: KERNELS,
    state: { x: { type: 'f32' } },
    functions: { step: { kernel: `${name}.step`, reads: ['x'], writes: ['x'] } },
    ...over,
  };
}

/** A valid model over `actors`, every kind with capacity 10; `over` replaces parts. */
function model(actors: readonly ActorDecl[], over: Partial<ModelDecl> = {}): ModelDecl {
  return {
    name: 'unit',
    actors,
    population: Object.fromEntries(actors.map((a) => [a.name, { capacity: 10 }])),
    ...over,
  };
}

/** Compiles and expects a CheckError (code E_CHECK) whose message matches `re`. */
function expectCheck(decl: ModelDecl, re: RegExp): void {
  let thrown: unknown;
  try {
    compileModel(decl);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected a CheckError matching ${String(re)}`).toBeInstanceOf(CheckError);
  expect((thrown as CheckError).code).toBe('E_CHECK');
  expect((thrown as CheckError).message).toMatch(re);
}

const arrayMsg = (fields: Record<string, DType> = { v: 'f32' }): MessageDecl => ({ fields, delivery: { type: 'array' } });
const bad = <T>(x: unknown): T => x as T;

describe('compileModel validation: each CheckError names the place and the fix', () => {
  // [what is wrong, declaration, pinned message]
  const cases: [string, () => ModelDecl, RegExp][] = [
    ['model name', () => model([actor('A')], { name: 'my model' }), /^model\.name: name 'my model' must match \/\^\[A-Za-z_\]/],
    ['actor name', () => model([actor('9A')]), /^actor '9A': name '9A' must match/],
    ['duplicate actor', () => ({ name: 'unit', actors: [actor('A'), actor('A')], population: { A: { capacity: 1 } } }), /^actor 'A': is declared twice; give each actor kind a unique name$/],
    ['population of unknown kind', () => model([actor('A')], { population: { A: { capacity: 1 }, B: { capacity: 1 } } }), /^population\.B: names no declared actor kind \(known: A\)$/],
    ['population missing', () => model([actor('A'), actor('B')], { population: { A: { capacity: 1 } } }), /^population\.B: is missing; declare \{ capacity \} for every actor kind$/],
    ['capacity 0', () => model([actor('A')], { population: { A: { capacity: 0 } } }), /^population\.A\.capacity: must be a positive integer, got 0$/],
    ['capacity 2.5', () => model([actor('A')], { population: { A: { capacity: 2.5 } } }), /^population\.A\.capacity: must be a positive integer, got 2\.5$/],
    ['count above capacity', () => model([actor('A')], { population: { A: { capacity: 10, count: 11 } } }), /^population\.A\.count: must be an integer in \[0, capacity=10\], got 11$/],
    ['count negative', () => model([actor('A')], { population: { A: { capacity: 10, count: -1 } } }), /^population\.A\.count: must be an integer in \[0, capacity=10\], got -1$/],
    ['kernels missing', () => model([actor('A', { kernels: '' })]), /^actor 'A'\.kernels: must be the URL of the module that registers its kernels$/],
    ['state field name', () => model([actor('A', { state: { 'x-1': { type: 'f32' } }, functions: {} })]), /^actor 'A'\.state: name 'x-1' must match/],
    ['state field type', () => model([actor('A', { state: { x: { type: bad<DType>('f16') } } })]), /^actor 'A'\.state\.x\.type: 'f16' is not one of f32\|f64\|i32\|u32\|u8$/],
    ['param name', () => model([actor('A', { params: { 'a b': { default: 1 } } })]), /^actor 'A'\.params: name 'a b' must match/],
    ['param default', () => model([actor('A', { params: { p: { default: bad<number>('1') } } })]), /^actor 'A'\.params\.p\.default: must be a number$/],
    ['graph name', () => model([actor('A')], { graphs: { 'g-1': { from: 'A', to: 'A', maxEdges: 4 } } }), /^graphs\.g-1: name 'g-1' must match/],
    ['graph from', () => model([actor('A')], { graphs: { g: { from: 'Z', to: 'A', maxEdges: 4 } } }), /^graphs\.g\.from: names no declared actor kind 'Z' \(known: A\)$/],
    ['graph to', () => model([actor('A')], { graphs: { g: { from: 'A', to: 'Z', maxEdges: 4 } } }), /^graphs\.g\.to: names no declared actor kind 'Z' \(known: A\)$/],
    ['graph maxEdges', () => model([actor('A')], { graphs: { g: { from: 'A', to: 'A', maxEdges: 0 } } }), /^graphs\.g\.maxEdges: must be a positive integer, got 0$/],
    ['graph field name', () => model([actor('A')], { graphs: { g: { from: 'A', to: 'A', maxEdges: 4, fields: { '1w': 'f32' } } } }), /^graphs\.g\.fields: name '1w' must match/],
    ['graph field type', () => model([actor('A')], { graphs: { g: { from: 'A', to: 'A', maxEdges: 4, fields: { w: bad<DType>('float') } } } }), /^graphs\.g\.fields\.w: type 'float' is not one of f32\|f64\|i32\|u32\|u8$/],
    ['message name', () => model([actor('A', { messages: { 'm.x': arrayMsg() } })]), /^message 'A\.m\.x': name 'm\.x' must match/],
    ['message field name', () => model([actor('A', { messages: { m: arrayMsg({ 'v v': 'f32' }) } })]), /^message 'A\.m'\.fields: name 'v v' must match/],
    ['message field type', () => model([actor('A', { messages: { m: arrayMsg({ v: bad<DType>('u64') }) } })]), /^message 'A\.m'\.fields\.v: type 'u64' is not one of f32\|f64\|i32\|u32\|u8$/],
    ['delivery type', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: bad<MessageDecl['delivery']>({ type: 'radio' }) } } })]), /^message 'A\.m'\.delivery\.type: 'radio' is not one of direct\|bucket\|array\|spatial\|graph$/],
    ['direct to unknown kind', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'Z', maxPerActor: 1 } } } })]), /^message 'A\.m'\.delivery\.to: names no declared actor kind 'Z' \(known: A\)$/],
    ['direct maxPerActor', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'A', maxPerActor: 0 } } } })]), /^message 'A\.m'\.delivery\.maxPerActor: must be a positive integer, got 0$/],
    ['bucket reduce of unknown field', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'bucket', to: 'A', maxPerActor: 1, reduce: { w: ['sum'] } } } } })]), /^message 'A\.m'\.delivery\.reduce\.w: is not a field of the message \(fields: v\)$/],
    ['bucket reduction name', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'bucket', to: 'A', maxPerActor: 1, reduce: { v: [bad<'sum'>('median')] } } } } })]), /^message 'A\.m'\.delivery\.reduce\.v: 'median' is not one of count\|sum\|mean\|std\|min\|max$/],
    ['spatial without z', () => model([actor('A', { messages: { m: { fields: { x: 'f32', y: 'f32' }, delivery: { type: 'spatial', radius: 1, min: [0, 0, 0], max: [4, 4, 4] } } } })]), /^message 'A\.m'\.fields: a spatial message needs float fields x, y and z$/],
    ['spatial with integer x', () => model([actor('A', { messages: { m: { fields: { x: 'i32', y: 'f32', z: 'f32' }, delivery: { type: 'spatial', radius: 1, min: [0, 0, 0], max: [4, 4, 4] } } } })]), /^message 'A\.m'\.fields: a spatial message needs float fields x, y and z$/],
    ['spatial radius', () => model([actor('A', { messages: { m: { fields: { x: 'f32', y: 'f32', z: 'f32' }, delivery: { type: 'spatial', radius: 0, min: [0, 0, 0], max: [4, 4, 4] } } } })]), /^message 'A\.m'\.delivery\.radius: must be > 0, got 0$/],
    ['spatial bounds', () => model([actor('A', { messages: { m: { fields: { x: 'f32', y: 'f32', z: 'f32' }, delivery: { type: 'spatial', radius: 1, min: [0, 0, 0], max: [4, 0, 4] } } } })]), /^message 'A\.m'\.delivery\.max: must exceed min on every axis$/],
    ['spatial grid too large', () => model([actor('A', { messages: { m: { fields: { x: 'f32', y: 'f32', z: 'f32' }, delivery: { type: 'spatial', radius: 0.001, min: [0, 0, 0], max: [1, 1, 1] } } } })]), /^message 'A\.m'\.delivery: the grid has 1000000000 cells; raise cellSize \(or radius\) or shrink the bounds$/],
    ['graph message on unknown graph', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'graph', graph: 'h', direction: 'forward' } } } })], { graphs: { g: { from: 'A', to: 'A', maxEdges: 4 } } }), /^message 'A\.m'\.delivery\.graph: names no declared graph 'h' \(known: g\)$/],
    ['graph message from the wrong side', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'graph', graph: 'g', direction: 'forward' } } } }), actor('B')], { graphs: { g: { from: 'B', to: 'A', maxEdges: 4 } } }), /^message 'A\.m'\.delivery: a forward message on graph 'g' must be declared by kind 'B'$/],
    ['function name', () => model([actor('A', { functions: { 'do-it': { kernel: 'k' } } })]), /^actor 'A'\.functions: name 'do-it' must match/],
    ['reads unknown field', () => model([actor('A', { functions: { f: { kernel: 'k', reads: ['y'] } } })]), /^function 'A\.f'\.reads: 'y' is not a state field of A \(fields: x\)$/],
    ['writes unknown field', () => model([actor('A', { functions: { f: { kernel: 'k', writes: ['y'] } } })]), /^function 'A\.f'\.writes: 'y' is not a state field of A \(fields: x\)$/],
    ['outputs a message of another kind', () => model([actor('A', { functions: { f: { kernel: 'k', outputs: ['B.m'] } } }), actor('B', { messages: { m: arrayMsg() } })]), /^function 'A\.f'\.outputs: 'B\.m' must be a message declared by A \(write it as 'A\.<message>'\)$/],
    ['outputs an undeclared message', () => model([actor('A', { functions: { f: { kernel: 'k', outputs: ['A.nope'] } } })]), /^function 'A\.f'\.outputs: 'A\.nope' is not a declared message of A; declare it under A\.messages$/],
    ['inputs an undeclared message', () => model([actor('A', { messages: { m: arrayMsg() }, functions: { f: { kernel: 'k', inputs: ['A.nope'] } } })]), /^function 'A\.f'\.inputs: 'A\.nope' is not a declared message \(known: A\.m\)$/],
    ['inputs a direct message of another receiver', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'B', maxPerActor: 1 } } }, functions: { f: { kernel: 'k', inputs: ['A.m'] } } }), actor('B')]), /^function 'A\.f'\.inputs: 'A\.m' is delivered to B, not A$/],
    ['inputs a graph message on the wrong side', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'graph', graph: 'g', direction: 'forward' } } }, functions: { f: { kernel: 'k', inputs: ['A.m'] } } }), actor('B')], { graphs: { g: { from: 'A', to: 'B', maxEdges: 4 } } }), /^function 'A\.f'\.inputs: 'A\.m' is read by B on graph 'g', not A$/],
    ['two writers of a field', () => model([actor('A', { functions: { f: { kernel: 'k', writes: ['x'] }, g: { kernel: 'k', writes: ['x'] } } })]), /^function 'A\.g'\.writes: 'x' is already written by 'A\.f'; a field has one writer per step \(split the field or merge the functions\)$/],
    ['every k', () => model([actor('A', { functions: { f: { kernel: 'k', activation: { type: 'every', k: 0 } } } })]), /^function 'A\.f'\.activation\.k: must be a positive integer, got 0$/],
    ['every offset', () => model([actor('A', { functions: { f: { kernel: 'k', activation: { type: 'every', k: 3, offset: -1 } } } })]), /^function 'A\.f'\.activation\.offset: must be a non-negative integer, got -1 \(the function would never run\)$/],
    ['onMessage of a message not in inputs', () => model([actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'A', maxPerActor: 1 } } }, functions: { f: { kernel: 'k', activation: { type: 'onMessage', message: 'A.m' } } } })]), /^function 'A\.f'\.activation\.message: 'A\.m' must be one of the function's inputs$/],
    ['onMessage of an array message', () => model([actor('A', { messages: { m: arrayMsg() }, functions: { f: { kernel: 'k', inputs: ['A.m'], activation: { type: 'onMessage', message: 'A.m' } } } })]), /^function 'A\.f'\.activation: onMessage needs a direct or bucket message, 'A\.m' is array$/],
    ['dt', () => model([actor('A')], { dt: 0 }), /^model\.dt: must be > 0, got 0$/],
    ['param override of an unknown parameter', () => model([actor('A', { params: { p: { default: 1 }, q: { default: 2 } } })], { params: { A: { r: 1 } } }), /^params\.A\.r: is not a parameter of A \(known: p, q\)$/],
    ['param override on a kind without parameters', () => model([actor('A')], { params: { A: { r: 1 } } }), /^params\.A\.r: is not a parameter of A \(known: none\)$/],
    ['param override NaN', () => model([actor('A', { params: { p: { default: 1 } } })], { params: { A: { p: NaN } } }), /^params\.A\.p: must be a finite number, got NaN$/],
    ['param override Infinity', () => model([actor('A', { params: { p: { default: 1 } } })], { params: { A: { p: Infinity } } }), /^params\.A\.p: must be a finite number, got Infinity$/],
    ['param override below min', () => model([actor('A', { params: { p: { default: 1, min: 0 } } })], { params: { A: { p: -0.5 } } }), /^params\.A\.p: must be ≥ 0, got -0\.5$/],
    ['param override above max', () => model([actor('A', { params: { p: { default: 1, max: 2 } } })], { params: { A: { p: 2.5 } } }), /^params\.A\.p: must be ≤ 2, got 2\.5$/],
    ['param override not an integer', () => model([actor('A', { params: { p: { default: 1, integer: true } } })], { params: { A: { p: 1.5 } } }), /^params\.A\.p: must be an integer, got 1\.5$/],
  ];

  it.each(cases)('%s', (_what, decl, re) => {
    expectCheck(decl(), re);
  });

  it('accepts the valid baseline every case above starts from', () => {
    // So that each case above fails for its own reason, not because the baseline is invalid.
    const spec = compileModel(model([actor('A', { params: { p: { default: 1, min: 0, max: 2, integer: true } } }), actor('B')], { graphs: { g: { from: 'A', to: 'B', maxEdges: 4 } } }));
    expect(spec.kinds.map((k) => k.name)).toEqual(['A', 'B']);
  });
});

describe('compileModel tables', () => {
  it('numbers columns across kinds in declaration order and sizes message lists', () => {
    const A = actor('A', {
      state: { x: { type: 'f32' }, y: { type: 'i32', initial: 7 } },
      messages: {
        d: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'B', maxPerActor: 3 } },
        a: arrayMsg(),
        s: { fields: { x: 'f32', y: 'f32', z: 'f64' }, delivery: { type: 'spatial', radius: 2, min: [0, -1, 0], max: [5, 1, 2] } },
      },
      functions: { f: { kernel: 'k', outputs: ['A.d', 'A.a', 'A.s'] } },
    });
    const B = actor('B', { state: { u: { type: 'u8' } }, functions: {} });
    const spec = compileModel(model([A, B], { population: { A: { capacity: 10, count: 4 }, B: { capacity: 6 } } }));
    expect(spec.columns).toBe(3);
    expect(spec.kinds[0]!.fields).toEqual([
      { name: 'x', type: 'f32', initial: 0, column: 0 },
      { name: 'y', type: 'i32', initial: 7, column: 1 },
    ]);
    expect(spec.kinds[1]!.fields).toEqual([{ name: 'u', type: 'u8', initial: 0, column: 2 }]);
    expect([spec.kinds[0]!.count, spec.kinds[1]!.count]).toEqual([4, 6]); // count defaults to capacity
    const [d, a, s] = spec.messages;
    // direct: keys = receiver capacity, slots = sender capacity × maxPerActor.
    expect([d!.name, d!.keys, d!.slots]).toEqual(['A.d', 6, 30]);
    expect([a!.name, a!.keys, a!.slots]).toEqual(['A.a', 10, 10]);
    // spatial: ceil(extent / radius) cells per axis, at least 1: 5/2 → 3, 2/2 → 1, 2/2 → 1.
    expect(s!.grid).toEqual({ min: [0, -1, 0], cellSize: [2, 2, 2], dims: [3, 1, 1] });
    expect([s!.keys, s!.slots]).toEqual([3, 10]);
    expect(spec.dt).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Phases

/** Function names per phase, in phase order. */
function phaseNames(spec: ModelSpec): string[][] {
  return spec.phases.map((p) => p.functions.map((id) => spec.functions[id]!.name));
}

describe('derivePhases (through compileModel)', () => {
  it('orders a message reader after its writer, and builds the index after the writing phase', () => {
    const A = actor('A', {
      messages: { m: arrayMsg() },
      functions: { read: { kernel: 'k', inputs: ['A.m'] }, publish: { kernel: 'k', outputs: ['A.m'] } },
    });
    const spec = compileModel(model([A]));
    // Declared read-then-publish: the message, not declaration order, decides.
    expect(phaseNames(spec)).toEqual([['A.publish'], ['A.read']]);
    expect(spec.phases.map((p) => p.buildMessages)).toEqual([[0], []]);
    expect(spec.phases.map((p) => p.index)).toEqual([0, 1]);
  });

  it('orders message dependencies across kinds whatever the kind order', () => {
    const B = actor('B', { functions: { listen: { kernel: 'k', inputs: ['A.m'] } } });
    const A = actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'bucket', to: 'B', maxPerActor: 2 } } }, functions: { talk: { kernel: 'k', outputs: ['A.m'] } } });
    expect(phaseNames(compileModel(model([B, A])))).toEqual([['A.talk'], ['B.listen']]);
  });

  it('read after write: a later function that reads a field an earlier one writes runs after it', () => {
    const A = actor('A', { state: { x: { type: 'f32' }, y: { type: 'f32' } }, functions: { f: { kernel: 'k', writes: ['x'] }, g: { kernel: 'k', reads: ['x'], writes: ['y'] } } });
    expect(phaseNames(compileModel(model([A])))).toEqual([['A.f'], ['A.g']]);
  });

  it('write after read: a later function that writes a field an earlier one reads runs after it', () => {
    const A = actor('A', { state: { x: { type: 'f32' }, y: { type: 'f32' } }, functions: { f: { kernel: 'k', reads: ['x'], writes: ['y'] }, g: { kernel: 'k', writes: ['x'] } } });
    expect(phaseNames(compileModel(model([A])))).toEqual([['A.f'], ['A.g']]);
  });

  it('a later writer of a field an earlier function writes too is caught as two writers, not ordered', () => {
    // (The single-writer rule comes before ordering: see the 'two writers' validation case.)
    const A = actor('A', { state: { x: { type: 'f32' } }, functions: { f: { kernel: 'k', writes: ['x'] }, g: { kernel: 'k', writes: ['x'] } } });
    expect(() => compileModel(model([A]))).toThrow(CheckError);
  });

  it('independent functions share a phase, in one kind and across kinds', () => {
    const A = actor('A', { state: { x: { type: 'f32' }, y: { type: 'f32' } }, functions: { f: { kernel: 'k', reads: ['x'], writes: ['x'] }, g: { kernel: 'k', reads: ['y'], writes: ['y'] } } });
    // B reads and writes a field also named x: fields of different kinds are different fields.
    const B = actor('B');
    const spec = compileModel(model([A, B]));
    expect(phaseNames(spec)).toEqual([['A.f', 'A.g', 'B.step']]);
    expect(spec.phases[0]!.buildMessages).toEqual([]);
  });

  it('places each function at its earliest level (longest path), a diamond in three phases', () => {
    // a → (b, c) → d through messages, and e independent: e joins phase 0.
    const A = actor('A', {
      state: {},
      messages: { ab: arrayMsg(), ac: arrayMsg(), bd: arrayMsg(), cd: arrayMsg() },
      functions: {
        d: { kernel: 'k', inputs: ['A.bd', 'A.cd'] },
        c: { kernel: 'k', inputs: ['A.ac'], outputs: ['A.cd'] },
        b: { kernel: 'k', inputs: ['A.ab'], outputs: ['A.bd'] },
        a: { kernel: 'k', outputs: ['A.ab', 'A.ac'] },
        e: { kernel: 'k' },
      },
    });
    const spec = compileModel(model([A]));
    expect(phaseNames(spec)).toEqual([['A.a', 'A.e'], ['A.c', 'A.b'], ['A.d']]);
    // Message ids follow declaration: ab 0, ac 1, bd 2, cd 3.
    expect(spec.phases.map((p) => p.buildMessages)).toEqual([[0, 1], [2, 3], []]);
  });

  it('a model with no functions has no phases', () => {
    expect(compileModel(model([actor('A', { functions: {} })])).phases).toEqual([]);
  });

  it('rejects a cycle through messages and names its path', () => {
    const A = actor('A', { messages: { m: arrayMsg() }, functions: { f: { kernel: 'k', inputs: ['B.n'], outputs: ['A.m'] } } });
    const B = actor('B', { messages: { n: arrayMsg() }, functions: { g: { kernel: 'k', inputs: ['A.m'], outputs: ['B.n'] } } });
    expectCheck(model([A, B]), /^functions form a cycle: (A\.f → B\.g → A\.f|B\.g → A\.f → B\.g); a message is read in the phase after it is written, so break the cycle by reading last step's state instead$/);
  });

  it('rejects a function that reads the message it writes (a cycle of one)', () => {
    // Its index is built after the phase that writes it, so the function would read a stale index.
    const A = actor('A', { messages: { m: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'A', maxPerActor: 1 } } }, functions: { f: { kernel: 'k', inputs: ['A.m'], outputs: ['A.m'] } } });
    expectCheck(model([A]), /^functions form a cycle: A\.f → A\.f;/);
  });

  it('rejects a cycle made of a message edge and a declaration-order field edge', () => {
    // g (declared after f) writes x, which f reads → g after f; f reads g's message → f after g.
    const A = actor('A', {
      state: { x: { type: 'f32' }, y: { type: 'f32' } },
      messages: { m: arrayMsg() },
      functions: { f: { kernel: 'k', reads: ['x'], writes: ['y'], inputs: ['A.m'] }, g: { kernel: 'k', writes: ['x'], outputs: ['A.m'] } },
    });
    expectCheck(model([A]), /^functions form a cycle: (A\.f → A\.g → A\.f|A\.g → A\.f → A\.g);/);
  });

  it('matches a naive longest-path levelling on 60 random acyclic models', () => {
    for (let trial = 0; trial < 60; trial++) {
      const { decl, fns } = randomModel(trial);
      const spec = compileModel(decl);
      const expected = naivePhases(fns);
      expect(phaseNames(spec), `trial ${trial}`).toEqual(expected);
      // Every message written in a phase is built right after that phase, and only then.
      for (const p of spec.phases) {
        const written = new Set(p.functions.flatMap((id) => spec.functions[id]!.outputs));
        expect(p.buildMessages.map((id) => spec.messages[id]!.name).sort(), `trial ${trial}`).toEqual([...written].sort());
      }
    }
  });
});

interface NaiveFn {
  name: string;
  kind: string;
  rw: string[];
  writes: string[];
  inputs: string[];
  outputs: string[];
}

/**
 * The dependency rules restated (ARCHITECTURE §4 and derivePhases' doc): F depends on an earlier-declared
 * G of its own kind when F touches (reads or writes) a field G writes or F writes a field G touches,
 * and on any G whose output F inputs. Level = longest dependency chain, computed by relaxing until stable.
 */
function naivePhases(fns: NaiveFn[]): string[][] {
  const dependsOn = (f: NaiveFn, gi: number, fi: number): boolean => {
    const g = fns[gi]!;
    if (f.inputs.some((m) => g.outputs.includes(m))) return true;
    if (f.kind !== g.kind || gi >= fi) return false;
    return f.rw.some((x) => g.writes.includes(x)) || f.writes.some((x) => g.rw.includes(x));
  };
  const level = fns.map(() => 0);
  for (let round = 0; round <= fns.length; round++) {
    fns.forEach((f, fi) => {
      fns.forEach((_g, gi) => {
        if (gi !== fi && dependsOn(f, gi, fi)) level[fi] = Math.max(level[fi]!, level[gi]! + 1);
      });
    });
  }
  const out: string[][] = [];
  fns.forEach((f, i) => (out[level[i]!] ??= []).push(f.name));
  return out;
}

/**
 * A random model of 2–3 kinds with 2–5 functions each. Functions are numbered globally in declaration
 * order and only input messages output by lower-numbered functions, so every dependency points backwards
 * and the model is acyclic. Each field gets at most one writer.
 */
function randomModel(trial: number): { decl: ModelDecl; fns: NaiveFn[] } {
  let c = 0;
  const r = (n: number): number => hash32(trial, 0x51, 0, 0, 0, c++) % n;
  const nk = 2 + r(2);
  const fns: NaiveFn[] = [];
  const actors: ActorDecl[] = [];
  const outputsSoFar: string[] = [];
  for (let k = 0; k < nk; k++) {
    const kind = `K${k}`;
    const fields = ['a', 'b', 'c', 'd'];
    const written = new Set<string>();
    const nf = 2 + r(4);
    const functions: Record<string, FunctionDecl> = {};
    const messages: Record<string, MessageDecl> = {};
    for (let i = 0; i < nf; i++) {
      const name = `f${i}`;
      const reads = fields.filter(() => r(3) === 0);
      const writes = fields.filter((f) => !written.has(f) && r(4) === 0);
      for (const w of writes) written.add(w);
      const inputs = outputsSoFar.filter(() => r(3) === 0);
      const outputs: string[] = [];
      if (r(2) === 0) {
        const m = `m${i}`;
        messages[m] = arrayMsg();
        outputs.push(`${kind}.${m}`);
      }
      functions[name] = { kernel: 'k', reads, writes, inputs, outputs };
      fns.push({ name: `${kind}.${name}`, kind, rw: [...reads, ...writes], writes, inputs, outputs });
      outputsSoFar.push(...outputs);
    }
    actors.push({ name: kind, kernels: KERNELS, state: Object.fromEntries(fields.map((f) => [f, { type: 'f32' as const }])), messages, functions });
  }
  return { decl: model(actors), fns };
}

// ---------------------------------------------------------------------------------------------
// Freezing and cloning

function unfrozenPaths(o: unknown, at: string, out: string[]): string[] {
  if (o !== null && typeof o === 'object') {
    if (!Object.isFrozen(o)) out.push(at);
    for (const [k, v] of Object.entries(o)) unfrozenPaths(v, `${at}.${k}`, out);
  }
  return out;
}

function richModel(): ModelDecl {
  const A = actor('A', {
    state: { x: { type: 'f32' }, n: { type: 'u32', initial: 3 } },
    params: { p: { default: 0.5, min: 0, max: 1, unit: '1/step' } },
    messages: {
      s: { fields: { x: 'f32', y: 'f32', z: 'f32' }, delivery: { type: 'spatial', radius: 1, min: [0, 0, 0], max: [4, 4, 4] } },
      b: { fields: { v: 'f32' }, delivery: { type: 'bucket', to: 'B', maxPerActor: 2, reduce: { v: ['sum', 'std'] } } },
      e: { fields: { w: 'f64' }, delivery: { type: 'graph', graph: 'g', direction: 'forward' } },
    },
    functions: {
      out: { kernel: 'a.out', reads: ['x'], outputs: ['A.s', 'A.b', 'A.e'] },
      move: { kernel: 'a.move', reads: ['x'], writes: ['x'], inputs: ['A.s'], activation: { type: 'every', k: 2, offset: 1 } },
    },
  });
  const B = actor('B', { functions: { sum: { kernel: 'b.sum', writes: ['x'], inputs: ['A.b', 'A.e'], activation: { type: 'onMessage', message: 'A.b' } } } });
  return model([A, B], { graphs: { g: { from: 'A', to: 'B', maxEdges: 8, fields: { weight: 'f32' } } }, params: { A: { p: 0.25 } }, dt: 0.1 });
}

describe('the compiled spec', () => {
  it('is deeply frozen: every nested object and array', () => {
    const spec = compileModel(richModel());
    expect(unfrozenPaths(spec, 'spec', [])).toEqual([]);
    expect(() => {
      (spec.kinds[0]!.params as Record<string, number>).p = 9;
    }).toThrow(TypeError);
    expect(() => {
      (spec.phases as PhaseLike[]).push({ index: 9, functions: [], buildMessages: [] });
    }).toThrow(TypeError);
  });

  it('does not change when the declaration it came from is mutated afterwards', () => {
    const decl = richModel();
    const spec = compileModel(decl);
    const before = structuredClone(spec);
    const delivery = decl.actors[0]!.messages!.s!.delivery as unknown as { radius: number; min: number[] };
    // Either the declaration was copied or it was frozen with the spec; both keep the spec intact.
    try {
      delivery.radius = 99;
      delivery.min[0] = -5;
    } catch {
      /* frozen */
    }
    expect(spec).toEqual(before);
  });

  it('survives structuredClone (plain data only), equal field by field', () => {
    const spec = compileModel(richModel());
    const clone = structuredClone(spec);
    expect(clone).toEqual(spec);
    expect(clone).not.toBe(spec);
    // JSON is plain data too: no undefined-vs-missing surprises, no functions, no classes.
    expect(JSON.parse(JSON.stringify(spec))).toEqual(clone);
  });
});

type PhaseLike = { index: number; functions: number[]; buildMessages: number[] };

describe('parameters', () => {
  const P = (over: Record<string, number> | undefined) =>
    compileModel(
      model([actor('A', { params: { rate: { default: 0.5, min: 0, max: 1 }, n: { default: 3, integer: true, min: 1 }, free: { default: -2 } } })], over ? { params: { A: over } } : {}),
    ).kinds[0]!.params;

  it('take their declared defaults', () => {
    expect(P(undefined)).toEqual({ rate: 0.5, n: 3, free: -2 });
  });

  it('take overrides, with min and max inclusive', () => {
    expect(P({ rate: 0 })).toEqual({ rate: 0, n: 3, free: -2 });
    expect(P({ rate: 1, n: 1 })).toEqual({ rate: 1, n: 1, free: -2 });
    expect(P({ n: 1e6, free: -1e9 })).toEqual({ rate: 0.5, n: 1e6, free: -1e9 });
  });

  it('reject overrides outside their bounds or not integers', () => {
    expect(() => P({ rate: 1.0000001 })).toThrow(/params\.A\.rate: must be ≤ 1/);
    expect(() => P({ rate: -1e-9 })).toThrow(/params\.A\.rate: must be ≥ 0/);
    expect(() => P({ n: 0 })).toThrow(/params\.A\.n: must be ≥ 1/);
    expect(() => P({ n: 2.5 })).toThrow(/params\.A\.n: must be an integer, got 2\.5/);
  });

  it('check declared defaults against their own bounds', () => {
    expectCheck(model([actor('A', { params: { p: { default: 5, max: 1 } } })]), /^actor 'A'\.params\.p\.default: must be ≤ 1, got 5$/);
    expectCheck(model([actor('A', { params: { p: { default: 0.5, integer: true } } })]), /^actor 'A'\.params\.p\.default: must be an integer, got 0\.5$/);
    expectCheck(model([actor('A', { params: { p: { default: NaN } } })]), /^actor 'A'\.params\.p\.default: must be a finite number, got NaN$/);
  });
});
