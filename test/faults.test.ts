/**
 * Faults and declaration errors: each one surfaces as the right error class with a message that
 * names what went wrong and the fix (STYLE 8), whether the kernel ran inline or in a worker thread.
 * The misbehaving kernels are in test/fixtures/faults.ts.
 */
import { describe, expect, it } from 'vitest';
import { CapacityError, CheckError } from '../src/errors.js';
import { compileModel, defineActor, defineModel, type ActorDecl, type ModelDecl } from '../src/model.js';
import { moduleUrl } from '../src/module-url.js';
import { Simulation, type SimulationOptions } from '../sim/simulation.js';

const KERNELS = moduleUrl(import.meta.url, './fixtures/faults');

const INLINE: SimulationOptions & { label: string } = { label: 'inline', workers: 1 };
const THREADED: SimulationOptions & { label: string } = { label: 'in a worker thread', workers: 2, inlineBelow: 0 };

interface SendOptions {
  kernel: 'fault.send' | 'fault.address';
  params: Partial<Record<'actor' | 'step' | 'emits' | 'target', number>>;
  senders?: number;
  receivers?: number;
  receiverCapacity?: number;
}

/** FSrc (senders) → FDst (receivers) through a direct message with maxPerActor 2. */
function sendModel(o: SendOptions): ModelDecl {
  const senders = o.senders ?? 40;
  const receivers = o.receivers ?? 10;
  return defineModel({
    name: 'faults',
    actors: [
      defineActor({
        name: 'FSrc',
        kernels: KERNELS,
        state: {},
        params: { actor: { default: -1 }, step: { default: 0 }, emits: { default: 1 }, target: { default: 0 }, receivers: { default: receivers } },
        messages: { msg: { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'FDst', maxPerActor: 2 } } },
        functions: { send: { kernel: o.kernel, outputs: ['FSrc.msg'] } },
      }),
      defineActor({
        name: 'FDst',
        kernels: KERNELS,
        state: { got: { type: 'u32' } },
        functions: { recv: { kernel: 'fault.recv', writes: ['got'], inputs: ['FSrc.msg'] } },
      }),
    ],
    population: { FSrc: { capacity: senders }, FDst: { capacity: o.receiverCapacity ?? receivers, count: receivers } },
    params: { FSrc: o.params },
  });
}

function poisonModel(actor: number, step: number): ModelDecl {
  return defineModel({
    name: 'poison',
    actors: [
      defineActor({
        name: 'FK',
        kernels: KERNELS,
        state: { v: { type: 'f32' } },
        params: { actor: { default: -1 }, step: { default: 0 } },
        functions: { poison: { kernel: 'fault.poison', reads: ['v'], writes: ['v'] } },
      }),
    ],
    population: { FK: { capacity: 64 } },
    params: { FK: { actor, step } },
  });
}

/** Runs up to `steps` steps and returns what was thrown (and at which completed step), or null. */
async function runUntilThrow(decl: ModelDecl, opts: SimulationOptions, steps: number): Promise<{ error: unknown; step: number } | null> {
  const sim = await Simulation.create(compileModel(decl), opts);
  try {
    for (let s = 0; s < steps; s++) {
      try {
        sim.stepOnce();
      } catch (error) {
        return { error, step: sim.step };
      }
    }
    return null;
  } finally {
    await sim.close();
  }
}

async function expectThrow(decl: ModelDecl, opts: SimulationOptions, steps: number): Promise<{ error: Error; step: number }> {
  const r = await runUntilThrow(decl, opts, steps);
  expect(r, 'the run should have thrown').not.toBeNull();
  expect(r!.error).toBeInstanceOf(Error);
  return r as { error: Error; step: number };
}

describe.each([INLINE, THREADED])('kernel faults ($label)', (cfg) => {
  // Actor 33 of 40 is in partition 1 of 2, i.e. the worker thread when threaded.
  it('a sender emitting more than maxPerActor records raises CapacityError naming the option', async () => {
    const { error, step } = await expectThrow(sendModel({ kernel: 'fault.send', params: { actor: 33, step: 1, emits: 3 } }), cfg, 3);
    expect(error).toBeInstanceOf(CapacityError);
    expect(error.message).toMatch(/^FSrc actor 33 emitted more than 2 records of 'FSrc\.msg' at step 1: .*raise messages\.FSrc\.msg\.delivery\.maxPerActor above 3$/);
    expect((error as CapacityError).option).toBe('messages.FSrc.msg.delivery.maxPerActor');
    expect(step, 'the faulting step does not count as completed').toBe(1);
  });

  it('a NaN written into state raises CheckError naming kernel, kind, field, actor and step', async () => {
    const { error, step } = await expectThrow(poisonModel(37, 2), cfg, 4);
    expect(error).toBeInstanceOf(CheckError);
    expect(error.message).toMatch(/^kernel 'fault\.poison' \(function FK\.poison\) wrote a non-finite value \(NaN or Infinity\) into FK\.v of actor 37 at step 2; check the kernel's arithmetic or its inputs$/);
    expect(step).toBe(2);
  });

  it('no fault when nothing misbehaves (the fixtures are otherwise sound)', async () => {
    expect(await runUntilThrow(poisonModel(-1, 0), cfg, 3)).toBeNull();
    expect(await runUntilThrow(sendModel({ kernel: 'fault.send', params: { actor: 33, step: 0, emits: 2 } }), cfg, 3)).toBeNull();
  });

  it('a message to a receiver id beyond the receivers raises CheckError naming message, sender and step', async () => {
    const { error } = await expectThrow(sendModel({ kernel: 'fault.address', params: { actor: 33, step: 1, target: 10 } }), cfg, 3);
    expect(error).toBeInstanceOf(CheckError);
    expect(error.message).toMatch(/^kernel 'fault\.address' \(function FSrc\.send\) addressed a receiver outside \[0, 10\) \(the live FDst actors\) of 'FSrc\.msg' from FSrc actor 33 at step 1$/);
  });

  it('a message to a slot beyond the live count (but within capacity) is out of range too', async () => {
    const decl = sendModel({ kernel: 'fault.address', params: { actor: 33, step: 0, target: 12 }, receiverCapacity: 16 });
    const { error } = await expectThrow(decl, cfg, 2);
    expect(error).toBeInstanceOf(CheckError);
    expect(error.message).toMatch(/addressed a receiver outside \[0, 10\) \(the live FDst actors\) of 'FSrc\.msg' from FSrc actor 33 at step 0$/);
  });
});

describe('capacity of populations and graphs', () => {
  it('setCount above capacity raises CapacityError naming population.<Kind>.capacity', async () => {
    const sim = await Simulation.create(compileModel(poisonModel(-1, 0)), { workers: 1 });
    try {
      expect(() => sim.setCount('FK', 65)).toThrow(CapacityError);
      expect(() => sim.setCount('FK', 65)).toThrow(/^FK population: needed 65 but the capacity is 64; raise population\.FK\.capacity above 65$/);
      expect(() => sim.setCount('FK', -1)).toThrow(/count of FK must be a non-negative integer/);
      sim.setCount('FK', 64);
      expect(sim.count('FK')).toBe(64);
    } finally {
      await sim.close();
    }
  });

  it('a declared count above capacity is a CheckError at compile time', () => {
    const decl = poisonModel(-1, 0);
    expect(() => compileModel({ ...decl, population: { FK: { capacity: 64, count: 65 } } })).toThrow(/^population\.FK\.count: must be an integer in \[0, capacity=64\], got 65$/);
  });

  it('more edges than maxEdges raises CapacityError naming graphs.<name>.maxEdges', async () => {
    const base = sendModel({ kernel: 'fault.send', params: {} });
    const decl: ModelDecl = { ...base, graphs: { g: { from: 'FSrc', to: 'FDst', maxEdges: 3 } } };
    const sim = await Simulation.create(compileModel(decl), { workers: 1 });
    try {
      expect(() => sim.setGraph('g', [0, 1, 2, 3], [0, 0, 0, 0])).toThrow(CapacityError);
      expect(() => sim.setGraph('g', [0, 1, 2, 3], [0, 0, 0, 0])).toThrow(/raise graphs\.g\.maxEdges above 4/);
      expect(() => sim.setGraph('g', [0], [10])).toThrow(/^graph 'g': edge 0 has destination 10, outside \[0, 10\) of FDst$/);
    } finally {
      await sim.close();
    }
  });
});

describe('declaration errors from compileModel', () => {
  const kind = (functions: ActorDecl['functions'], messages: ActorDecl['messages'] = {}): ModelDecl =>
    defineModel({
      name: 'decl',
      actors: [defineActor({ name: 'K', kernels: KERNELS, state: { v: { type: 'f32' }, w: { type: 'f32' } }, messages, functions })],
      population: { K: { capacity: 4 } },
    });
  const m = { fields: { v: 'f32' }, delivery: { type: 'direct', to: 'K', maxPerActor: 1 } } as const;

  it('an unknown field in reads names the function, the field and the fields there are', () => {
    expect(() => compileModel(kind({ f: { kernel: 'fault.noop', reads: ['v', 'nope'] } }))).toThrow(CheckError);
    expect(() => compileModel(kind({ f: { kernel: 'fault.noop', reads: ['v', 'nope'] } }))).toThrow(/^function 'K\.f'\.reads: 'nope' is not a state field of K \(fields: v, w\)$/);
  });

  it('a field written by two functions names both and the fix', () => {
    const decl = kind({ a: { kernel: 'fault.noop', writes: ['v'] }, b: { kernel: 'fault.noop', writes: ['w', 'v'] } });
    expect(() => compileModel(decl)).toThrow(/^function 'K\.b'\.writes: 'v' is already written by 'K\.a'; a field has one writer per step \(split the field or merge the functions\)$/);
  });

  it('a message cycle names the functions on it and how to break it', () => {
    const decl = kind(
      {
        a: { kernel: 'fault.noop', inputs: ['K.m2'], outputs: ['K.m1'] },
        b: { kernel: 'fault.noop', inputs: ['K.m1'], outputs: ['K.m2'] },
      },
      { m1: m, m2: m },
    );
    expect(() => compileModel(decl)).toThrow(CheckError);
    expect(() => compileModel(decl)).toThrow(/^functions form a cycle: K\.a → K\.b → K\.a; .*break the cycle by reading last step's state instead$/);
  });

  it('an unknown input message names the function and the messages there are', () => {
    const decl = kind({ f: { kernel: 'fault.noop', inputs: ['K.nope'] }, g: { kernel: 'fault.noop', outputs: ['K.m1'] } }, { m1: m });
    expect(() => compileModel(decl)).toThrow(/^function 'K\.f'\.inputs: 'K\.nope' is not a declared message \(known: K\.m1\)$/);
  });

  it('onMessage on a message the function does not read, or on an array message, is refused with the reason', () => {
    const arr = { fields: { v: 'f32' }, delivery: { type: 'array' } } as const;
    expect(() => compileModel(kind({ f: { kernel: 'fault.noop', activation: { type: 'onMessage', message: 'K.m1' } }, g: { kernel: 'fault.noop', outputs: ['K.m1'] } }, { m1: m }))).toThrow(
      /^function 'K\.f'\.activation\.message: 'K\.m1' must be one of the function's inputs$/,
    );
    expect(() => compileModel(kind({ f: { kernel: 'fault.noop', inputs: ['K.a'], activation: { type: 'onMessage', message: 'K.a' } }, g: { kernel: 'fault.noop', outputs: ['K.a'] } }, { a: arr }))).toThrow(
      /^function 'K\.f'\.activation: onMessage needs a direct or bucket message, 'K\.a' is array$/,
    );
  });
});
