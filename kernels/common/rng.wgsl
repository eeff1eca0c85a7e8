// Counter-based random numbers: the WGSL port of src/rng.ts. Prepend this file to any kernel that draws.
//
// Every draw is a pure function of (seed, kind, actor, step, stream, counter), so a GPU kernel and the
// CPU reference produce the same bits for the same key. WGSL u32 `*` and `+` wrap modulo 2^32 like
// `Math.imul(..) >>> 0` and `(.. + ..) >>> 0` in the TypeScript, and `>>` on u32 is the logical `>>>`.
// Mixer: Chris Wellons' "lowbias32".
//
// Names are the TypeScript ones (`mix32`, `hash32`), except that `uniform` and `normal` are `rng_uniform`
// and `rng_normal` here: `uniform` is WGSL's name for an address space (`var<uniform>`), and a function
// of that name would break every kernel that declares a uniform buffer.
//
// Agreement with src/rng.ts (tested in test/webgpu-probe.test.ts):
//   mix32, hash32: bit for bit.
//   rng_uniform:   bit for bit (24-bit values are exact in f32).
//   rng_normal:    to f32 rounding of log/sqrt/cos (the TypeScript computes it in f64).

// One round of the lowbias32 integer mixer.
fn mix32(x_in: u32) -> u32 {
  var x = x_in;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}

// Distinct odd constants per key position, so (a, b) and (b, a) hash differently. Same values as src/rng.ts.
const RNG_K1: u32 = 0x9e3779b9u;
const RNG_K2: u32 = 0x85ebca6bu;
const RNG_K3: u32 = 0xc2b2ae35u;
const RNG_K4: u32 = 0x27d4eb2fu;
const RNG_K5: u32 = 0x165667b1u;

// The 32-bit hash of a full key.
fn hash32(seed: u32, kind: u32, actor: u32, step: u32, stream: u32, counter: u32) -> u32 {
  var h = mix32(seed ^ RNG_K1);
  h = mix32(h + (kind ^ RNG_K2));
  h = mix32(h + (actor ^ RNG_K3));
  h = mix32(h + (step ^ RNG_K4));
  h = mix32(h + (stream ^ RNG_K5));
  h = mix32(h + (counter ^ RNG_K1));
  return h;
}

// 2^-24: a uniform draw keeps the top 24 bits of the hash, exactly representable in f32.
const RNG_INV24: f32 = 5.9604644775390625e-8;

// A uniform draw in [0, 1) with 24 bits; `uniform` in src/rng.ts.
fn rng_uniform(seed: u32, kind: u32, actor: u32, step: u32, stream: u32, counter: u32) -> f32 {
  return f32(hash32(seed, kind, actor, step, stream, counter) >> 8u) * RNG_INV24;
}

// A standard normal draw (Box–Muller on counters 2c and 2c+1); `normal` in src/rng.ts, in f32.
// cos(2πu) is computed as -cos(2πu - π): WGSL bounds cos's error only on [-π, π].
fn rng_normal(seed: u32, kind: u32, actor: u32, step: u32, stream: u32, counter: u32) -> f32 {
  let u1 = rng_uniform(seed, kind, actor, step, stream, 2u * counter) + RNG_INV24 * 0.5; // in (0, 1)
  let u2 = rng_uniform(seed, kind, actor, step, stream, 2u * counter + 1u);
  let pi = 3.14159265358979323846;
  return -sqrt(-2.0 * log(u1)) * cos(2.0 * pi * u2 - pi);
}
