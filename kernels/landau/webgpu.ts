/**
 * WebGPU kernels of `LandauModule` and `LandauControl`: the WGSL twins of kernels/landau/cpu.ts, as
 * bodies of `fn kernel_item(a: u32)` over the names the runtime generates (sim/gpu/codegen.ts). They
 * run on the f32 layout of the model (actors/landau/index.ts), the one with no f64 column.
 *
 * - `landau.control`: copies the graph `control` (edge k's field `v` is control word k, set by the
 *   host before every step, actors/landau/gpu-engine.ts) into the control message, so the module
 *   kernels read the same message as on the CPU.
 * - `landau.move`: the projected update η ← clamp₀₁(η − m·g) per the control's mode (advance, retry,
 *   hold, revert), keeping the last accepted point in `etaPrev`/`gradPrev`; publishes η.
 * - `landau.couple`: per module, its local term and lin, then its own quadratic, hinge and
 *   dampedGateBenefit edges in edge order (one invocation walks its out-edge range), keeping ∂F/∂η_i
 *   and F in its share and writing ∂F_e/∂η_j on the reply edge (same graphs as the CPU).
 * - `landau.gather`: g = share.g + the quadratic, then the hinge messages on the module's reply
 *   edges, in edge order; `energy` = share.energy and `gsq` = g², which the host reduces (sum) into F
 *   and ‖∇F‖² in the same submit as the step (one readback of a few words per step).
 *
 * The sums run in the CPU's order, in f32. The move and the gather come in variants for the declared
 * features (asynchronous mode, exploration noise): `moveKernel()` in actors/landau/index.ts names them.
 */
import type { WebGpuKernelRegistration } from '../../src/kernel.js';
import { CONTROL_FIELDS, CONTROL_WORDS, moveKernel, NOISE_STREAM } from '../../actors/landau/index.js';

const CONTROL_COPY = CONTROL_WORDS.map((f, k) => {
  const v = `graph_control_v[${k}]`;
  return `  col_LandauControl_control_${f}[a] = ${CONTROL_FIELDS[f] === 'i32' ? `i32(${v})` : v};`;
}).join('\n');

/** Control words as WGSL `let`s (the module kernels read the one record of the control message). */
const ctl = (f: keyof typeof CONTROL_FIELDS): string => `col_LandauControl_control_${f}[0]`;

/**
 * The move, for the declared features (a body may only name fields the kind declares):
 * - advance: η ← clamp₀₁(η − m·g [+ σ·ξ]); asynchronous: only when |g − gSeen| > tol (tol ≤ 0: all),
 *   recording gSeen = g and active; etaPrev/gradPrev keep the point stepped from;
 * - retry: from etaPrev along gradPrev (asynchronous: the same active set); hold: η stays; revert:
 *   back to etaPrev. gSeen and active carry over in retry, hold and revert;
 * - asynchronous: mg2 = gradPrev² of a module that moved, else 0 (summed into movedGrad2).
 */
function moveWgsl(isAsync: boolean, noise: boolean): string {
  const A = (code: string): string => (isAsync ? code : '');
  const N = (code: string): string => (noise ? code : '');
  return /* wgsl */ `
fn kernel_item(a: u32) {
  // mode: 0 advance, 1 retry, 2 hold, 3 revert (MoveMode).
  let mode = ${ctl('mode')};
  let m = ${ctl('stepScale')};
  let e = state_eta[a];
  var base = e;
  var g = state_grad[a];
  var x = e;
${A(`  var seen = state_gSeen[a];
  var act = state_active[a];
  let tol = ${ctl('asyncTol')};
`)}  if (mode == 0) {
${A(`    let moves = tol <= 0.0 || abs(g - seen) > tol;
    act = select(0u, 1u, moves);
    if (moves) {
      seen = g;
`)}    var y = e - m * g;
${N(`    let sigma = ${ctl('noiseScale')};
    if (sigma != 0.0) {
      y = y + sigma * state_noise[a];
    }
`)}    x = clamp(y, 0.0, 1.0);
${A('    }\n')}  } else {
    base = state_etaPrev[a];
    g = state_gradPrev[a];
    if (mode == 1) {
      x = ${isAsync ? 'select(base, clamp(base - m * g, 0.0, 1.0), act == 1u)' : 'clamp(base - m * g, 0.0, 1.0)'};
    } else if (mode == 3) {
      x = base;
    }
  }
  next_etaPrev[a] = base;
  next_gradPrev[a] = g;
  next_eta[a] = x;
  col_LandauModule_eta_eta[a] = x;
${A(`  next_gSeen[a] = seen;
  next_active[a] = act;
  next_mg2[a] = select(0.0, g * g, act == 1u);
`)}}
`;
}

/**
 * The gather: g = share.g + the quadratic, then the hinge messages on the module's reply edges;
 * energy and gsq for the reductions; with noise, ξ from the counter-based RNG (the CPU's draw, to f32
 * rounding) and ng = ξ·g.
 */
function gatherWgsl(noise: boolean): string {
  return /* wgsl */ `
fn kernel_item(a: u32) {
  var g = col_LandauModule_share_g[a];
  for (var e = graph_quadraticReply_rowPtr[a]; e < graph_quadraticReply_rowPtr[a + 1u]; e++) {
    g += col_LandauModule_quadratic_g[e];
  }
  for (var e = graph_hingeReply_rowPtr[a]; e < graph_hingeReply_rowPtr[a + 1u]; e++) {
    g += col_LandauModule_hinge_g[e];
  }
  next_grad[a] = g;
  next_energy[a] = col_LandauModule_share_energy[a];
  next_gsq[a] = g * g;
${
  noise
    ? `  let xi = rng_normal_for(a, ${NOISE_STREAM}u, 0u);
  next_noise[a] = xi;
  next_ng[a] = xi * g;
`
    : ''
}}
`;
}

export const kernels: WebGpuKernelRegistration[] = [
  {
    kernel: 'landau.control',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
${CONTROL_COPY}
}
`,
  },
  ...[false, true].flatMap((isAsync) =>
    [false, true].map((noise): WebGpuKernelRegistration => ({ kernel: moveKernel({ async: isAsync, noise }), backend: 'webgpu', wgsl: moveWgsl(isAsync, noise) })),
  ),
  {
    kernel: 'landau.couple',
    backend: 'webgpu',
    wgsl: /* wgsl */ `
fn kernel_item(a: u32) {
  let x = col_LandauModule_eta_eta[a];
  // Local energy a·y² + b·y⁴ − h·η with y = η (gate, landau) or 1 − η (sequence, connectivity).
  let k = state_kind[a];
  var wl = ${ctl('wLocalLandau')};
  var off = 0.0;
  var sgn = 1.0;
  if (k == 0u) {
    wl = ${ctl('wLocalGate')};
  } else if (k == 1u) {
    wl = ${ctl('wLocalSequence')};
    off = 1.0;
    sgn = -1.0;
  } else if (k == 2u) {
    wl = ${ctl('wLocalConnectivity')};
    off = 1.0;
    sgn = -1.0;
  }
  let y = off + sgn * x;
  let ca = state_a[a];
  let cb = state_b[a];
  let ch = state_h[a];
  let y2 = y * y;
  let c = ${ctl('wGateBenefit')} * state_lin[a];
  var energy = wl * (ca * y2 + cb * y2 * y2 - ch * x) - c * x;
  var g = wl * (sgn * (2.0 * ca * y + 4.0 * cb * y2 * y) - ch) - c;

  let wq = ${ctl('wQuadratic')};
  for (var q = graph_quadratic_rowPtr[a]; q < graph_quadratic_rowPtr[a + 1u]; q++) {
    let ww = wq * graph_quadratic_w[q];
    let d = x - col_LandauModule_eta_eta[graph_quadratic_dst[q]];
    energy += ww * d * d;
    g += 2.0 * ww * d;
    col_LandauModule_quadratic_g[graph_quadratic_reply[q]] = -2.0 * ww * d;
  }

  let wh = ${ctl('wHinge')};
  for (var q = graph_hinge_rowPtr[a]; q < graph_hinge_rowPtr[a + 1u]; q++) {
    let al = graph_hinge_alpha[q];
    let be = graph_hinge_beta[q];
    let gap = be * col_LandauModule_eta_eta[graph_hinge_dst[q]] - al * x;
    var msg = 0.0;
    if (gap > 0.0) {
      let ww = wh * graph_hinge_w[q];
      energy += ww * gap * gap;
      g += -2.0 * ww * gap * al;
      msg = 2.0 * ww * gap * be;
    }
    col_LandauModule_hinge_g[graph_hinge_reply[q]] = msg;
  }

  // dampedGateBenefit: F = −c·η_eff with c = w·benefit, η_eff = η if p = 1 else max(0, η)^p.
  let wd = ${ctl('wDampedGateBenefit')};
  for (var q = graph_benefit_rowPtr[a]; q < graph_benefit_rowPtr[a + 1u]; q++) {
    let p = graph_benefit_p[q];
    let ww = wd * graph_benefit_c[q];
    if (p == 1.0) {
      energy -= ww * x;
      g -= ww;
    } else if (x > 0.0) {
      energy -= ww * pow(x, p);
      g -= ww * p * pow(x, p - 1.0);
    }
  }

  col_LandauModule_share_g[a] = g;
  col_LandauModule_share_energy[a] = energy;
}
`,
  },
  { kernel: 'landau.gather', backend: 'webgpu', wgsl: gatherWgsl(false) },
  { kernel: 'landau.gather.noise', backend: 'webgpu', wgsl: gatherWgsl(true) },
];
