/**
 * Kinds of the `step` bench's large models (1M actors), with their scalar references.
 *
 * `Damped`: a 2D damped oscillator per actor, element-wise (no messages), semi-implicit Euler:
 *   a = −k·p − c·v;  v ← v + a·dt;  p ← p + v·dt    for (p, v) = (x, vx) and (y, vy)        4 f32 fields
 *
 * `Chain`: a ring of coupled 1D damped oscillators. Each step every actor sends its x to its successor
 * (direct message `Chain.pull`, i → (i+1) mod n), then integrates with the received coupling force:
 *   f = Σ_records g·(x_j − x);  a = −k·x − c·v + f;  v ← v + a·dt;  x ← x + v·dt              2 f32 fields
 *
 * State is f32 in simloom (rounded on every store); the references compute in f64.
 */
import { defineActor, defineModel } from '../../src/model.js';
import { moduleUrl } from '../../src/module-url.js';

export const OSC = { k: 4, c: 0.1, g: 0.5, dt: 0.01 } as const;

const kernels = (): string => moduleUrl(import.meta.url, './oscillator.cpu');

export function dampedModel(n: number) {
  const Damped = defineActor({
    name: 'Damped',
    kernels: kernels(),
    state: { x: { type: 'f32' }, y: { type: 'f32' }, vx: { type: 'f32' }, vy: { type: 'f32' } },
    params: {
      k: { default: OSC.k, description: 'stiffness', unit: '1/time²' },
      c: { default: OSC.c, description: 'damping', unit: '1/time' },
    },
    functions: {
      integrate: { kernel: 'damped.integrate', reads: ['x', 'y', 'vx', 'vy'], writes: ['x', 'y', 'vx', 'vy'] },
    },
  });
  return defineModel({ name: 'damped', actors: [Damped], population: { Damped: { capacity: n } }, dt: OSC.dt });
}

export function chainModel(n: number) {
  const Chain = defineActor({
    name: 'Chain',
    kernels: kernels(),
    state: { x: { type: 'f32' }, v: { type: 'f32' } },
    params: {
      k: { default: OSC.k, description: 'stiffness', unit: '1/time²' },
      c: { default: OSC.c, description: 'damping', unit: '1/time' },
      g: { default: OSC.g, description: 'coupling to the predecessor', unit: '1/time²' },
    },
    messages: { pull: { fields: { x: 'f32' }, delivery: { type: 'direct', to: 'Chain', maxPerActor: 1 } } },
    functions: {
      publish: { kernel: 'chain.publish', reads: ['x'], outputs: ['Chain.pull'] },
      integrate: { kernel: 'chain.integrate', reads: ['x', 'v'], writes: ['x', 'v'], inputs: ['Chain.pull'] },
    },
  });
  return defineModel({ name: 'chain', actors: [Chain], population: { Chain: { capacity: n } }, dt: OSC.dt });
}

/** Initial state of actor i (the same for simloom and the naive models). */
export function initialX(i: number): number {
  return Math.fround(((i % 17) - 8) * 0.125);
}
export function initialY(i: number): number {
  return Math.fround(((i % 13) - 6) * 0.25);
}
