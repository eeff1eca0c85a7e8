/**
 * `Poison`: element-wise counters that a test can make write one non-finite value, to check the
 * engine's finite check (Executor.checkFinite) at any actor, in an f32 and an f64 field.
 *
 *   bump: x ← x + 1 (f32), y ← y + 1 (f64); at step `atStep`, actor `atActor` writes `what` into the
 *         field `field` (0: x, 1: y) instead, with `what` 0: NaN, 1: +Infinity, 2: −Infinity.
 */
import { defineActor, defineModel } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

export interface PoisonAt {
  atStep: number;
  atActor: number;
  field: 'x' | 'y';
  what: 'NaN' | '+Inf' | '-Inf';
}

export function poisonModel(n: number, at: PoisonAt) {
  const Poison = defineActor({
    name: 'Poison',
    kernels: moduleUrl(import.meta.url, './poison.cpu'),
    state: { x: { type: 'f32' }, y: { type: 'f64' } },
    params: {
      atStep: { default: at.atStep, integer: true, description: 'step of the bad write' },
      atActor: { default: at.atActor, integer: true, description: 'actor that writes it' },
      field: { default: at.field === 'x' ? 0 : 1, integer: true, description: '0: x (f32), 1: y (f64)' },
      what: { default: ['NaN', '+Inf', '-Inf'].indexOf(at.what), integer: true, description: '0: NaN, 1: +Inf, 2: -Inf' },
    },
    functions: { bump: { kernel: 'poison.bump', reads: ['x', 'y'], writes: ['x', 'y'] } },
  });
  return defineModel({ name: 'poison', actors: [Poison], population: { Poison: { capacity: n } } });
}
