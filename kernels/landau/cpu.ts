/**
 * CPU kernels of `LandauModule` and `LandauControl` (see actors/landau/index.ts for the phases of a
 * step and the edge graphs, actors/landau/energies.ts for the formulas, which these loops inline).
 *
 * Every loop writes every slot of every field its function declares as written, whatever the mode,
 * because state is double-buffered: an unwritten slot would hold the value of two steps ago.
 * Gradient and energy sums run in a fixed order per module (local term and lin, then own quadratic,
 * hinge and benefit edges in edge order, then the quadratic and hinge messages received, in reply-
 * edge order), so a module's results do not depend on the partitioning.
 *
 * Speed (measured in bench/landau.bench.ts, explained in docs/landau.md):
 * - each kernel is a factory over its arrays, instantiated once per column set through
 *   {@link freshCopy}, so that V8 compiles the loops with the arrays as constants (../common/specialize.ts);
 * - edges are walked in flat loops over the partition's edge range (edges are stored sorted by
 *   source), accumulating into the owner's slot: a nested per-module loop over 0–5 edges costs a
 *   mispredicted loop exit per module, which measured 2–3× slower;
 * - one graph per coupling shape, so no loop branches on an edge type;
 * - messages travel on reply graphs, so the receiver reads them sequentially (actors/landau/index.ts).
 * The factories follow freshCopy's rules: no imported or module-level names inside, no named inner
 * functions.
 */
import { Fault, type CpuKernelContext, type GraphView, type KernelRegistration } from '../../src/kernel.js';
import type { TypedArray } from '../../src/types.js';
import { CONTROL_FIELDS, ENERGY_BLOCK, MoveMode, NOISE_STREAM } from '../../actors/landau/index.js';
import { freshCopy, InstanceCache } from '../common/specialize.js';

const CONTROL = 'LandauControl.control';

/** The control block's field names, in CONTROL_FIELDS order. */
const CONTROL_NAMES = Object.keys(CONTROL_FIELDS) as (keyof typeof CONTROL_FIELDS)[];

function control(ctx: CpuKernelContext): Readonly<Record<string, TypedArray>> {
  return ctx.columns[CONTROL]!.fields;
}

/** The move's loops: advance (synchronous), advance (asynchronous), and retry/hold/revert. */
type MoveLoops = readonly [
  advance: (start: number, end: number, m: number, sigma: number) => void,
  advanceAsync: (start: number, end: number, m: number, sigma: number, tol: number) => void,
  other: (start: number, end: number, mode: number, m: number) => void,
];

/**
 * The move: mode 0 advance, 1 retry, 2 hold, 3 revert (MoveMode). The optional columns are empty
 * arrays when the kind was declared without them (`isAsync`, `hasNoise` say which). One function per
 * loop: V8 compiles a long-running loop on the fly (on-stack replacement) together with the code
 * after it, and code that has not run yet then carries "insufficient type feedback" exits; with a
 * loop per function there is no such code, so no deoptimisation loop. The functions come back as a
 * tuple: an object's methods would get names, which esbuild's keepNames (tsx) wraps in `__name`.
 */
function makeMove(
  eta: TypedArray,
  etaPrev: TypedArray,
  grad: TypedArray,
  gradPrev: TypedArray,
  nEta: TypedArray,
  nEtaPrev: TypedArray,
  nGradPrev: TypedArray,
  published: TypedArray,
  isAsync: boolean,
  gSeen: TypedArray,
  nGSeen: TypedArray,
  active: TypedArray,
  nActive: TypedArray,
  hasNoise: boolean,
  noise: TypedArray,
): MoveLoops {
  return [
    function (start: number, end: number, m: number, sigma: number): void {
      if (hasNoise && sigma !== 0) {
        for (let i = start; i < end; i++) {
          const e = eta[i]!;
          const g = grad[i]!;
          nEtaPrev[i] = e;
          nGradPrev[i] = g;
          const x = e - m * g + sigma * noise[i]!;
          const y = x < 0 ? 0 : x > 1 ? 1 : x;
          nEta[i] = y;
          published[i] = y;
        }
        return;
      }
      for (let i = start; i < end; i++) {
        const e = eta[i]!;
        const g = grad[i]!;
        nEtaPrev[i] = e;
        nGradPrev[i] = g;
        const x = e - m * g;
        const y = x < 0 ? 0 : x > 1 ? 1 : x;
        nEta[i] = y;
        published[i] = y;
      }
    },
    function (start: number, end: number, m: number, sigma: number, tol: number): void {
      const noisy = hasNoise && sigma !== 0;
      for (let i = start; i < end; i++) {
        const e = eta[i]!;
        const g = grad[i]!;
        nEtaPrev[i] = e;
        nGradPrev[i] = g;
        const seen = gSeen[i]!;
        const moves = tol <= 0 || Math.abs(g - seen) > tol;
        nGSeen[i] = moves ? g : seen;
        nActive[i] = moves ? 1 : 0;
        let x = e;
        if (moves) {
          x = noisy ? e - m * g + sigma * noise[i]! : e - m * g;
          x = x < 0 ? 0 : x > 1 ? 1 : x;
        }
        nEta[i] = x;
        published[i] = nEta[i]!;
      }
    },
    // retry: step again from the last accepted point (same active set); hold: keep η;
    // revert: back to the last accepted point. etaPrev, gradPrev and the async state carry over.
    function (start: number, end: number, mode: number, m: number): void {
      for (let i = start; i < end; i++) {
        const base = etaPrev[i]!;
        nEtaPrev[i] = base;
        nGradPrev[i] = gradPrev[i]!;
        if (isAsync) {
          nGSeen[i] = gSeen[i]!;
          nActive[i] = active[i]!;
        }
        let x: number;
        if (mode === 1) {
          if (!isAsync || active[i] === 1) {
            x = base - m * gradPrev[i]!;
            x = x < 0 ? 0 : x > 1 ? 1 : x;
          } else {
            x = base;
          }
        } else if (mode === 3) {
          x = base;
        } else {
          x = eta[i]!;
        }
        nEta[i] = x;
        published[i] = nEta[i]!;
      }
    },
  ];
}

/**
 * The evaluation's first half, one loop per function (see makeMove): the local term and lin
 * (`weights` = [wLocalGate, wLocalSequence, wLocalConnectivity, wLocalLandau, wGateBenefit]), then
 * the own quadratic, hinge and benefit edges.
 */
type CoupleLoops = readonly [
  local: (start: number, end: number, weights: Float64Array) => void,
  quadratic: (start: number, end: number, wq: number) => void,
  hinge: (start: number, end: number, wh: number) => void,
  benefit: (start: number, end: number, wdgb: number) => void,
];

function makeCouple(
  kind: TypedArray,
  A: TypedArray,
  B: TypedArray,
  H: TypedArray,
  LIN: TypedArray,
  eta: TypedArray,
  shareG: TypedArray,
  shareE: TypedArray,
  qRow: Uint32Array,
  qSrc: Uint32Array,
  qDst: Uint32Array,
  qW: TypedArray,
  qReplyIn: Uint32Array,
  qMsg: TypedArray,
  hRow: Uint32Array,
  hSrc: Uint32Array,
  hDst: Uint32Array,
  hW: TypedArray,
  hAlpha: TypedArray,
  hBeta: TypedArray,
  hReplyIn: Uint32Array,
  hMsg: TypedArray,
  bRow: Uint32Array,
  bSrc: Uint32Array,
  bC: TypedArray,
  bP: TypedArray,
): CoupleLoops {
  // `eta` is the published η (the array message of the move): a module reads its own η from it too,
  // so that the loops stream one η array rather than two.
  // Per local kind (gate, sequence, connectivity, landau): the local energy is a·y² + b·y⁴ − h·η with
  // y = off + sgn·η (η for gate and landau, 1 − η for sequence and connectivity), so
  // dF/dη = sgn·(2a·y + 4b·y³) − h. Tables instead of a branch on the kind.
  const OFF = Float64Array.of(0, 1, 1, 0);
  const SGN = Float64Array.of(1, -1, -1, 1);
  const WL = new Float64Array(4);
  return [
    function (start: number, end: number, weights: Float64Array): void {
      WL[0] = weights[0]!;
      WL[1] = weights[1]!;
      WL[2] = weights[2]!;
      WL[3] = weights[3]!;
      const wgb = weights[4]!;
      for (let i = start; i < end; i++) {
        const x = eta[i]!;
        const k = kind[i]!;
        const sgn = SGN[k]!;
        const y = OFF[k]! + sgn * x;
        const a = A[i]!;
        const b = B[i]!;
        const h = H[i]!;
        const wl = WL[k]!;
        const y2 = y * y;
        const c = wgb * LIN[i]!;
        shareE[i] = wl * (a * y2 + b * y2 * y2 - h * x) - c * x;
        shareG[i] = wl * (sgn * (2 * a * y + 4 * b * y2 * y) - h) - c;
      }
    },
    function (start: number, end: number, wq: number): void {
      for (let e = qRow[start]!, eEnd = qRow[end]!; e < eEnd; e++) {
        const i = qSrc[e]!;
        const ww = wq * qW[e]!;
        const d = eta[i]! - eta[qDst[e]!]!;
        shareE[i]! += ww * d * d;
        shareG[i]! += 2 * ww * d;
        qMsg[qReplyIn[e]!] = -2 * ww * d;
      }
    },
    function (start: number, end: number, wh: number): void {
      for (let e = hRow[start]!, eEnd = hRow[end]!; e < eEnd; e++) {
        const i = hSrc[e]!;
        const al = hAlpha[e]!;
        const be = hBeta[e]!;
        const gap = be * eta[hDst[e]!]! - al * eta[i]!;
        if (gap > 0) {
          const ww = wh * hW[e]!;
          shareE[i]! += ww * gap * gap;
          shareG[i]! += -2 * ww * gap * al;
          hMsg[hReplyIn[e]!] = 2 * ww * gap * be;
        } else {
          hMsg[hReplyIn[e]!] = 0;
        }
      }
    },
    function (start: number, end: number, wdgb: number): void {
      for (let e = bRow[start]!, eEnd = bRow[end]!; e < eEnd; e++) {
        // c holds w·benefit: F_e = −w·benefit·η_eff, η_eff = η if p = 1 else max(0, η)^p.
        const i = bSrc[e]!;
        const x = eta[i]!;
        const p = bP[e]!;
        const ww = wdgb * bC[e]!;
        if (p === 1) {
          shareE[i]! -= ww * x;
          shareG[i]! -= ww;
        } else if (x > 0) {
          shareE[i]! -= ww * Math.pow(x, p);
          shareG[i]! -= ww * p * Math.pow(x, p - 1);
        }
      }
    },
  ];
}

/**
 * The evaluation's second half: g_j = share.g_j + Σ of the quadratic, then the hinge messages on j's
 * reply edges. Reply edges are stored sorted by their source j, so each loop reads its messages in
 * order, and the partition's reply edges are one contiguous range.
 */
type GatherLoops = readonly [
  share: (start: number, end: number) => void,
  quadratic: (start: number, end: number) => void,
  hinge: (start: number, end: number) => void,
  energy: (start: number, end: number, count: number, block: number) => void,
  /** f32 layout: state `energy` = share.energy and `gsq` = grad², for the reductions. */
  extras: (start: number, end: number) => void,
];

function makeGather(
  shareG: TypedArray,
  shareE: TypedArray,
  blockE: TypedArray,
  grad: TypedArray,
  qRow: Uint32Array,
  qSrc: Uint32Array,
  qMsg: TypedArray,
  hRow: Uint32Array,
  hSrc: Uint32Array,
  hMsg: TypedArray,
  energyOut: TypedArray,
  gsqOut: TypedArray,
): GatherLoops {
  return [
    function (start: number, end: number): void {
      for (let i = start; i < end; i++) grad[i] = shareG[i]!;
    },
    function (start: number, end: number): void {
      for (let e = qRow[start]!, eEnd = qRow[end]!; e < eEnd; e++) grad[qSrc[e]!]! += qMsg[e]!;
    },
    function (start: number, end: number): void {
      for (let e = hRow[start]!, eEnd = hRow[end]!; e < eEnd; e++) grad[hSrc[e]!]! += hMsg[e]!;
    },
    // Blocks of `block` modules starting in [start, end), summed in module order (a block may reach
    // past `end`: the shares were all written in the phase before).
    function (start: number, end: number, count: number, block: number): void {
      for (let b = Math.ceil(start / block) * block; b < end; b += block) {
        let sum = 0;
        for (let i = b, iEnd = Math.min(b + block, count); i < iEnd; i++) sum += shareE[i]!;
        blockE[b] = sum;
      }
    },
    function (start: number, end: number): void {
      for (let i = start; i < end; i++) {
        const g = grad[i]!;
        energyOut[i] = shareE[i]!;
        gsqOut[i] = g * g;
      }
    },
  ];
}

/**
 * Whether the forward graph's `reply` field maps its edges one to one onto the edges of `reply`,
 * each onto its reversal (e = i → j onto an edge j → i): then every reply message slot is written
 * once per step, by the owner of its forward edge. O(edges), once per kernel instance.
 */
function replyMatches(forward: GraphView, reply: GraphView): boolean {
  const m = forward.edges;
  if (reply.edges !== m) return false;
  const index = forward.fields.reply;
  if (index === undefined) return false;
  const seen = new Uint8Array(m);
  for (let e = 0; e < m; e++) {
    const r = index[e]!;
    if (!(r < m) || seen[r] === 1 || reply.src[r] !== forward.dst[e] || reply.dst[r] !== forward.src[e]) return false;
    seen[r] = 1;
  }
  return true;
}

const EMPTY = new Float64Array(0);

const moveInstances = new InstanceCache<object, MoveLoops>();
const coupleInstances = new InstanceCache<object, { loops: CoupleLoops; repliesMatch: boolean }>();
const gatherInstances = new InstanceCache<object, GatherLoops>();
const localWeights = new Float64Array(5);
/** Fault detail (with Fault.user) of reply graphs that do not mirror their forward graphs: edges not loaded by loadProblem. */
export const REPLY_FAULT = 1;

/**
 * The move, for every move kernel name (actors/landau/index.ts `moveKernel`): the columns decide
 * which loops run. In the f32 layout with the asynchronous mode it also writes `mg2` (gradPrev² of
 * the modules that moved, else 0), which the GPU sums; here the host reads active and gradPrev.
 */
function moveCpu(ctx: CpuKernelContext, start: number, end: number): void {
  const c = control(ctx);
  const run = moveInstances.get(ctx.state, (specialise) => {
    const s = ctx.state;
    const n = ctx.next;
    const isAsync = s.gSeen !== undefined && n.gSeen !== undefined && s.active !== undefined && n.active !== undefined;
    const make = specialise ? freshCopy(makeMove) : makeMove;
    return make(
      s.eta!,
      s.etaPrev!,
      s.grad!,
      s.gradPrev!,
      n.eta!,
      n.etaPrev!,
      n.gradPrev!,
      ctx.columns['LandauModule.eta']!.fields.eta!,
      isAsync,
      s.gSeen ?? EMPTY,
      n.gSeen ?? EMPTY,
      s.active ?? EMPTY,
      n.active ?? EMPTY,
      s.noise !== undefined,
      s.noise ?? EMPTY,
    );
  });
  const mode = c.mode![0]!;
  const tol = c.asyncTol![0]!;
  const [advance, advanceAsync, other] = run;
  if (mode === MoveMode.advance && tol > 0) advanceAsync(start, end, c.stepScale![0]!, c.noiseScale![0]!, tol);
  else if (mode === MoveMode.advance) advance(start, end, c.stepScale![0]!, c.noiseScale![0]!);
  else other(start, end, mode, c.stepScale![0]!);
  const mg2 = ctx.next.mg2;
  if (mg2 !== undefined) {
    const active = ctx.next.active!;
    const gp = ctx.next.gradPrev!;
    for (let i = start; i < end; i++) mg2[i] = active[i] === 1 ? gp[i]! * gp[i]! : 0;
  }
}

/** The gather, for `landau.gather` and `landau.gather.noise` (which draws ξ and, in the f32 layout, writes ng = ξ·g). */
function gatherCpu(ctx: CpuKernelContext, start: number, end: number): void {
  const run = gatherInstances.get(ctx.state, (specialise) => {
    const qr = ctx.graphs.quadraticReply!;
    const hr = ctx.graphs.hingeReply!;
    const make = specialise ? freshCopy(makeGather) : makeGather;
    const share = ctx.columns['LandauModule.share']!.fields;
    return make(
      share.g!,
      share.energy!,
      ctx.columns['LandauModule.energyBlock']!.fields.energy!,
      ctx.next.grad!,
      qr.rowPtr,
      qr.src,
      ctx.columns['LandauModule.quadratic']!.fields.g!,
      hr.rowPtr,
      hr.src,
      ctx.columns['LandauModule.hinge']!.fields.g!,
      ctx.next.energy ?? EMPTY,
      ctx.next.gsq ?? EMPTY,
    );
  });
  const [share, quadratic, hinge, energy, extras] = run;
  share(start, end);
  quadratic(start, end);
  hinge(start, end);
  energy(start, end, ctx.count, ENERGY_BLOCK);
  if (ctx.next.gsq !== undefined) extras(start, end);
  const noise = ctx.next.noise;
  if (noise !== undefined) {
    // ξ_i keyed by (seed, kind, module, step, stream): independent of workers and partitions.
    for (let i = start; i < end; i++) noise[i] = ctx.rng.normal(i, NOISE_STREAM, 0);
    const ng = ctx.next.ng;
    if (ng !== undefined) {
      const grad = ctx.next.grad!;
      for (let i = start; i < end; i++) ng[i] = noise[i]! * grad[i]!;
    }
  }
}

export const kernels: KernelRegistration[] = [
  {
    kernel: 'landau.control',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const out = ctx.columns[CONTROL]!.fields;
      for (let i = start; i < end; i++) {
        for (const name of CONTROL_NAMES) out[name]![i] = ctx.state[name]![i]!;
      }
    },
  },
  ...['landau.move', 'landau.move.async', 'landau.move.noise', 'landau.move.async.noise'].map((kernel): KernelRegistration => ({ kernel, backend: 'cpu', cpu: moveCpu })),
  {
    kernel: 'landau.couple',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const c = control(ctx);
      const run = coupleInstances.get(ctx.state, (specialise) => {
        const s = ctx.state;
        const share = ctx.columns['LandauModule.share']!.fields;
        const q = ctx.graphs.quadratic!;
        const h = ctx.graphs.hinge!;
        const b = ctx.graphs.benefit!;
        const qr = ctx.graphs.quadraticReply!;
        const hr = ctx.graphs.hingeReply!;
        const repliesMatch = replyMatches(q, qr) && replyMatches(h, hr);
        const make = specialise ? freshCopy(makeCouple) : makeCouple;
        const loops = make(
          s.kind!,
          s.a!,
          s.b!,
          s.h!,
          s.lin!,
          ctx.columns['LandauModule.eta']!.fields.eta!,
          share.g!,
          share.energy!,
          q.rowPtr,
          q.src,
          q.dst,
          q.fields.w!,
          q.fields.reply as Uint32Array,
          ctx.columns['LandauModule.quadratic']!.fields.g!,
          h.rowPtr,
          h.src,
          h.dst,
          h.fields.w!,
          h.fields.alpha!,
          h.fields.beta!,
          h.fields.reply as Uint32Array,
          ctx.columns['LandauModule.hinge']!.fields.g!,
          b.rowPtr,
          b.src,
          b.fields.c!,
          b.fields.p!,
        );
        return { loops, repliesMatch };
      });
      if (!run.repliesMatch) {
        ctx.fault(Fault.user, start, REPLY_FAULT);
        return;
      }
      const w = localWeights;
      w[0] = c.wLocalGate![0]!;
      w[1] = c.wLocalSequence![0]!;
      w[2] = c.wLocalConnectivity![0]!;
      w[3] = c.wLocalLandau![0]!;
      w[4] = c.wGateBenefit![0]!;
      const [local, quadratic, hinge, benefit] = run.loops;
      local(start, end, w);
      quadratic(start, end, c.wQuadratic![0]!);
      hinge(start, end, c.wHinge![0]!);
      benefit(start, end, c.wDampedGateBenefit![0]!);
    },
  },
  ...['landau.gather', 'landau.gather.noise'].map((kernel): KernelRegistration => ({ kernel, backend: 'cpu', cpu: gatherCpu })),
];
