/**
 * `Tally`: a kind whose kernels count their own invocations, to catch a partition that runs twice (or
 * not at all) in a step. Used by test/engine-doorbell.test.ts and the doorbell stress in bench/.
 *
 *   first   (phase 0)  a ← step + 1;  calls.first[i] += 1;  emits Tally.ping {from: i} to (i + 1) mod n
 *   second  (phase 1)  b ← step + 1;  calls.second[i] += 1;  reads Tally.ping, a (the new value)
 *
 * `calls.*` are array-message columns, which the engine neither double-buffers nor clears: a plain
 * shared counter per actor, so after `s` steps every entry is exactly `s` when each actor ran once per
 * step. The kernels also check themselves and raise `Fault.user` (detail {@link TALLY_FAULT}) when an
 * actor's own stamps show a second run in the same step, a skipped step, or a missing message.
 */
import { defineActor, defineModel } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

/** `detail` of the Fault.user a Tally kernel raises: what it saw. */
export const TALLY_FAULT = {
  /** The written buffer already holds this step's stamp: the actor ran before in this step. */
  ranTwice: 1,
  /** The current buffer does not hold the previous step's stamp: a step was skipped or doubled. */
  wrongStamp: 2,
  /** `second` did not see `first`'s new value of a, or not exactly one ping from i − 1. */
  wrongInput: 3,
} as const;

export function tallyModel(n: number) {
  const Tally = defineActor({
    name: 'Tally',
    kernels: moduleUrl(import.meta.url, './tally.cpu'),
    state: { a: { type: 'i32' }, b: { type: 'i32' } },
    messages: {
      ping: { fields: { from: 'u32' }, delivery: { type: 'direct', to: 'Tally', maxPerActor: 1 } },
      callsFirst: { fields: { n: 'u32' }, delivery: { type: 'array' } },
      callsSecond: { fields: { n: 'u32' }, delivery: { type: 'array' } },
    },
    functions: {
      first: { kernel: 'tally.first', reads: ['a'], writes: ['a'], outputs: ['Tally.ping', 'Tally.callsFirst'] },
      second: { kernel: 'tally.second', reads: ['a', 'b'], writes: ['b'], inputs: ['Tally.ping'], outputs: ['Tally.callsSecond'] },
    },
  });
  return defineModel({ name: 'tally', actors: [Tally], population: { Tally: { capacity: n } } });
}
