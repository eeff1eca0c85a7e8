/**
 * Kinds of the `messages` bench: `Sender`s each emit `fanout` direct messages per step to pseudo-random
 * `Receiver`s; each receiver sums the values it received and counts them. Every record is therefore
 * written in phase 0, sorted into the per-receiver index between the phases, and read in phase 1.
 *
 *   to(i, j, step) = ⌊hash(i·fanout + j, step) · receivers / 2³²⌋      value = Sender.value[i] + j  (f32)
 *   Receiver.sum[r] = Σ value over records to r (f64, in (sender, sequence) order)   Receiver.got[r] = count
 */
import { defineActor, defineModel } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

export interface RelaySize {
  senders: number;
  receivers: number;
  /** Records each sender emits per step. */
  fanout: number;
}

/** 2^-32: maps a u32 hash times `receivers` into [0, receivers). */
export const INV_2_32 = 2 ** -32;

/**
 * Receiver of record j of sender i at `step` (same formula as the kernel `relay.send`). A multiply
 * and floor rather than `% receivers`: with a divisor V8 cannot see as a constant, `%` on doubles
 * compiles to a call to fmod, measured at 11 of the 18 ms a 1M-record send phase took.
 */
export function relayDestination(i: number, j: number, fanout: number, step: number, receivers: number): number {
  return Math.floor(((Math.imul(i * fanout + j, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0) * receivers * INV_2_32);
}

export function relayModel(size: RelaySize) {
  const kernels = moduleUrl(import.meta.url, './relay.cpu');
  const Sender = defineActor({
    name: 'Sender',
    kernels,
    state: { value: { type: 'f32', description: 'base value of the records this sender emits' } },
    params: {
      fanout: { default: size.fanout, integer: true, min: 1, description: 'records per sender per step' },
      receivers: { default: size.receivers, integer: true, min: 1, description: 'receivers addressed' },
    },
    messages: {
      note: { fields: { value: 'f32' }, delivery: { type: 'direct', to: 'Receiver', maxPerActor: size.fanout } },
    },
    functions: { send: { kernel: 'relay.send', reads: ['value'], outputs: ['Sender.note'] } },
  });
  const Receiver = defineActor({
    name: 'Receiver',
    kernels,
    state: {
      sum: { type: 'f64', description: 'sum of the values received this step' },
      got: { type: 'u32', description: 'records received this step' },
    },
    functions: { read: { kernel: 'relay.read', writes: ['sum', 'got'], inputs: ['Sender.note'] } },
  });
  return defineModel({
    name: 'relay',
    actors: [Sender, Receiver],
    population: { Sender: { capacity: size.senders }, Receiver: { capacity: size.receivers } },
  });
}
