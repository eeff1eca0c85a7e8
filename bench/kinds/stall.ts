/**
 * `Stall`: an element-wise counter whose kernel, at step `atStep`, never returns (for 10 minutes) in the
 * call that covers actor `atActor`: a thread that is alive but stuck, for the step deadline's test.
 *
 *   tick: x ← x + 1, except the stuck call at (atStep, atActor)
 */
import { defineActor, defineModel } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

export function stallModel(n: number, atStep: number, atActor: number) {
  const Stall = defineActor({
    name: 'Stall',
    kernels: moduleUrl(import.meta.url, './stall.cpu'),
    state: { x: { type: 'f32' } },
    params: {
      atStep: { default: atStep, integer: true, description: 'step whose call gets stuck' },
      atActor: { default: atActor, integer: true, description: 'actor in the stuck call' },
    },
    functions: { tick: { kernel: 'stall.tick', reads: ['x'], writes: ['x'] } },
  });
  return defineModel({ name: 'stall', actors: [Stall], population: { Stall: { capacity: n } } });
}
