/**
 * The tiny model of the `step` bench: 1000 actors in 3 kinds, 4 functions, 1 direct message type,
 * small enough that every phase runs inline on the calling thread, so a step costs the runtime's
 * fixed overhead plus ~1000 cheap updates.
 *
 *   Pinger (500):  ping   emits Pinger.ping {x} to Ponger (i mod 300)      (phase 0)
 *                  drift  x ← x·a + b                                        (phase 1: after ping read x)
 *   Ponger (300):  pong   total ← total·½ + Σ received x                      (phase 1)
 *   Watcher (200): tick   y ← y·a + b                                        (phase 0)
 */
import { defineActor, defineModel } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

export const TINY = { pingers: 500, pongers: 300, watchers: 200 } as const;

export function tinyModel() {
  const kernels = moduleUrl(import.meta.url, './tiny.cpu');
  const affine = {
    a: { default: 0.99, description: 'multiplier' },
    b: { default: 0.01, description: 'offset' },
  };
  const Pinger = defineActor({
    name: 'Pinger',
    kernels,
    state: { x: { type: 'f32', initial: 1 } },
    params: { ...affine, pongers: { default: TINY.pongers, integer: true, min: 1, description: 'Pongers addressed' } },
    messages: { ping: { fields: { x: 'f32' }, delivery: { type: 'direct', to: 'Ponger', maxPerActor: 1 } } },
    functions: {
      ping: { kernel: 'tiny.ping', reads: ['x'], outputs: ['Pinger.ping'] },
      drift: { kernel: 'tiny.affine', writes: ['x'] },
    },
  });
  const Ponger = defineActor({
    name: 'Ponger',
    kernels,
    state: { total: { type: 'f32' } },
    functions: { pong: { kernel: 'tiny.pong', writes: ['total'], inputs: ['Pinger.ping'] } },
  });
  const Watcher = defineActor({
    name: 'Watcher',
    kernels,
    state: { x: { type: 'f32', initial: 2 } },
    params: affine,
    functions: { tick: { kernel: 'tiny.affine', writes: ['x'] } },
  });
  return defineModel({
    name: 'tiny',
    actors: [Pinger, Ponger, Watcher],
    population: { Pinger: { capacity: TINY.pingers }, Ponger: { capacity: TINY.pongers }, Watcher: { capacity: TINY.watchers } },
  });
}
