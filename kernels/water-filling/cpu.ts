/**
 * CPU kernels of the water-filling model (actors/water-filling): typed-array loops, no allocation per
 * point. They compute exactly what actors/water-filling/reference.ts computes (the tests compare them).
 *
 * - `waterFilling.point.report` / `.reportCells`: one `Point.sample` record per point keyed by its shell
 *   (+ one `Point.cellSample` record keyed by shell·C + cell in balanced mode).
 * - `waterFilling.shell.compat`: from the bucket reductions, the shell's f32 mean and prominence
 *   threshold τ(σ + 0.1), and its two possible outcomes: a point that stays (or moves laterally) ends at
 *   r_k·f_k, a promoted one at r_{k+1}·f_k (f_k = 1 − 0.02·tanh(p_k)), with the nearest shells of both
 *   radii. Every point of a shell shares them, so the point kernel only picks one.
 * - `waterFilling.point.compat`: prominence, the fixed lateral subset's step, promotion.
 * - `waterFilling.shell.balanced`: counts below, quotas out and in, exact selection thresholds
 *   (quickselect over the shell's own records in the sorted bucket list).
 * - `waterFilling.cell.publish`: occupancy of each (shell, cell) from the bucket offsets.
 * - `waterFilling.point.balanced`: lateral search, then outward/inward jumps (see reference.ts).
 */
import type { KernelRegistration } from '../../src/kernel.js';
import { TALLY_BLOCK } from '../../actors/water-filling/index.js';
import { freshCopy, InstanceCache } from '../common/specialize.js';
import { angularCellOf, nearestShell } from '../../actors/water-filling/geometry.js';
import { candidateFromFrame, COMPAT_DPHI, COMPAT_DTHETA, lateralFrame, normalCdf, OSMOTIC, shellOfRank, STREAM_CANDIDATE, STREAM_LEAVE, THETA_EPS } from '../../actors/water-filling/reference.js';

/** A candidate direction (θ, φ) of the lateral search, reused for every candidate. */
const cand = new Float64Array(2);
/** The frame of a point's lateral search (reference.ts lateralFrame), shared by its candidates. */
const frame = new Float64Array(8);

const F32_PI = Math.fround(Math.PI);
const F32_TWO_PI = Math.fround(2 * Math.PI);
const THETA_LO = Math.fround(THETA_EPS);
const THETA_HI = Math.fround(F32_PI - THETA_EPS);


/** Scratch for the selection of one shell's values (grown on demand, reused across passes). */
let scratch = new Float32Array(1024);

/** A copy of `vals[a..b)` in scratch (grown on demand, reused across passes), for {@link kthSmallest}. */
function scratchCopy(vals: Float32Array, a: number, b: number): Float32Array {
  const c = b - a;
  if (scratch.length < c) scratch = new Float32Array(Math.max(c, scratch.length * 2));
  const s = scratch.subarray(0, c);
  s.set(vals.subarray(a, b));
  return s;
}

/**
 * The k-th smallest value of `s` (k from 0), by Hoare's selection (Wirth's variant), which reorders
 * `s` but keeps it a permutation, so several selections may follow on the same copy. The same value
 * as sorting and reading index k, in O(n) instead of O(n log n): with a sort per shell, the balanced
 * publish took 11–13 ms per pass at N = 500K on 2 workers.
 */
function kthSmallest(s: Float32Array, k: number): number {
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const pivot = s[k]!;
    let i = lo;
    let j = hi;
    do {
      while (s[i]! < pivot) i++;
      while (pivot < s[j]!) j--;
      if (i <= j) {
        const t = s[i]!;
        s[i] = s[j]!;
        s[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return s[k]!;
}

/**
 * The m-th largest (`largest`) or smallest value of `vals[a..b)`, selected in `copy` (a copy of
 * those values, see {@link scratchCopy}). Returns [value, tie]: see selectThreshold in reference.ts
 * (records are in ascending sender order).
 */
function select(vals: Float32Array, copy: Float32Array, sender: Uint32Array, a: number, b: number, m: number, largest: boolean): [number, number] {
  const c = b - a;
  const value = kthSmallest(copy, largest ? c - m : m - 1);
  let beyond = 0;
  for (let j = a; j < b; j++) if (largest ? vals[j]! > value : vals[j]! < value) beyond++;
  let need = m - beyond;
  let tie = largest ? 0 : 0xffffffff;
  if (largest) {
    for (let j = a; j < b && need > 0; j++) {
      if (vals[j] === value) {
        tie = sender[j]!;
        need--;
      }
    }
  } else {
    for (let j = b - 1; j >= a && need > 0; j--) {
      if (vals[j] === value) {
        tie = sender[j]!;
        need--;
      }
    }
  }
  return [value, tie];
}

/*
 * Speed: the report, compat move and tally loops are factories over their arrays, instantiated once
 * per column set (per parity of the point columns) through freshCopy (kernels/common/specialize.ts),
 * so that V8 compiles them with the arrays as constants. The factories follow freshCopy's rules: no
 * imported or module-level names inside (constants come in as arguments), no named inner functions.
 */
const tallyInstances = new InstanceCache<object, (start: number, end: number, n: number) => void>();
const reportInstances = new InstanceCache<object, (start: number, end: number) => void>();
const compatMoveInstances = new InstanceCache<object, (start: number, end: number) => void>();
const reportCellsInstances = new InstanceCache<object, (start: number, end: number) => void>();

/**
 * Tally: the sums of blocks that start in [start, end); a block may reach into the next partition,
 * whose values the move phase wrote before this one.
 */
function makeTally(prom: Uint8Array, lat: Uint8Array, inw: Uint8Array, delta: Float32Array, oP: Float32Array, oL: Float32Array, oI: Float32Array, oD: Float32Array, block: number) {
  return (start: number, end: number, n: number): void => {
    for (let b = Math.ceil(start / block) * block; b < end; b += block) {
      const e = Math.min(n, b + block);
      // Integer sums for the 0/1 flags (one-cycle adds; the same values as float sums below 2^24).
      let p = 0;
      let l = 0;
      let w = 0;
      let d = 0;
      for (let i = b; i < e; i++) {
        p = (p + prom[i]!) | 0;
        l = (l + lat[i]!) | 0;
        w = (w + inw[i]!) | 0;
        d += delta[i]!;
      }
      oP[b] = p;
      oL[b] = l;
      oI[b] = w;
      oD[b] = d;
    }
  };
}

/** Report: one `Point.sample` record per point, keyed by its shell. */
function makeReport(shell: Uint32Array, norm: Float32Array, on: Float32Array, emit: (sender: number, key: number) => number) {
  return (start: number, end: number): void => {
    for (let i = start; i < end; i++) on[emit(i, shell[i]!)] = norm[i]!;
  };
}

/**
 * Balanced report: a `Point.sample` record per point keyed by its shell, and a `Point.cellSample`
 * record keyed by (shell, angular cell). `cellOf` is geometry.ts angularCellOf, passed in (a
 * constant of the copy, so V8 inlines it).
 */
function makeReportCells(
  shell: Uint32Array,
  norm: Float32Array,
  theta: Float32Array,
  phi: Float32Array,
  on: Float32Array,
  emit: (sender: number, key: number) => number,
  emitCell: (sender: number, key: number) => number,
  cellOf: (theta: number, phi: number, bands: number, sectors: number) => number,
  bands: number,
  sectors: number,
) {
  const C = bands * sectors;
  return (start: number, end: number): void => {
    for (let i = start; i < end; i++) {
      const k = shell[i]!;
      on[emit(i, k)] = norm[i]!;
      emitCell(i, k * C + cellOf(theta[i]!, phi[i]!, bands, sectors));
    }
  };
}

/** Compat move: prominence, the fixed lateral subset's step, promotion (see reference.ts). */
function makeCompatMove(
  r: Float32Array,
  theta: Float32Array,
  phi: Float32Array,
  shell: Uint32Array,
  norm: Float32Array,
  hashDir: Uint8Array,
  subset: Uint8Array,
  nr: Float32Array,
  nTheta: Float32Array,
  nPhi: Float32Array,
  nShell: Uint32Array,
  nProm: Uint8Array,
  nLat: Uint8Array,
  nDelta: Float32Array,
  mean: Float32Array,
  spread: Float32Array,
  rStay: Float32Array,
  rUp: Float32Array,
  kStay: Uint32Array,
  kUp: Uint32Array,
  dTheta: Float32Array,
  dPhi: Float32Array,
  thetaLo: number,
  thetaHi: number,
  twoPi: number,
) {
  return (start: number, end: number): void => {
    // Most points keep θ and φ: copy both columns in bulk (memcpy), then overwrite the lateral
    // movers' in the loop. Element stores cost about a nanosecond each in this loop, so two fewer
    // per point is most of a millisecond per 250K points.
    nTheta.set(theta.subarray(start, end), start);
    nPhi.set(phi.subarray(start, end), start);
    for (let i = start; i < end; i++) {
      const k = shell[i]!;
      // prominent & subset → lateral step; prominent otherwise → promoted; else stays.
      const prom = norm[i]! - mean[k]! > spread[k]! ? 1 : 0;
      const lat = prom & subset[i]!;
      const up = prom - lat;
      const r2 = up === 1 ? rUp[k]! : rStay[k]!;
      nr[i] = r2;
      nShell[i] = up === 1 ? kUp[k]! : kStay[k]!;
      nProm[i] = up;
      nLat[i] = lat;
      if (lat === 1) {
        const th = theta[i]!;
        const ph = phi[i]!;
        const d = hashDir[i]!;
        let t2 = Math.fround(th + dTheta[d]!);
        t2 = t2 < thetaLo ? thetaLo : t2 > thetaHi ? thetaHi : t2;
        let p2 = Math.fround(ph + dPhi[d]!);
        p2 = Math.fround(p2 - twoPi * Math.floor(p2 / twoPi));
        nTheta[i] = t2;
        nPhi[i] = p2;
        nDelta[i] = Math.abs(r2 - r[i]!) + Math.abs(t2 - th) + Math.abs(p2 - ph);
      } else {
        nDelta[i] = Math.abs(r2 - r[i]!);
      }
    }
  };
}

export const kernels: KernelRegistration[] = [
  {
    kernel: 'waterFilling.point.tally',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const run = tallyInstances.get(ctx.state, (specialise) => {
        const f = ctx.columns['Point.tally']!.fields;
        const s = ctx.state;
        return (specialise ? freshCopy(makeTally) : makeTally)(s.promoted as Uint8Array, s.lateralMoved as Uint8Array, s.inward as Uint8Array, s.delta as Float32Array, f.promoted as Float32Array, f.lateral as Float32Array, f.inward as Float32Array, f.delta as Float32Array, TALLY_BLOCK);
      });
      run(start, end, ctx.count);
    },
  },
  {
    kernel: 'waterFilling.point.report',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const run = reportInstances.get(ctx.state, (specialise) => {
        const out = ctx.out['Point.sample']!;
        return (specialise ? freshCopy(makeReport) : makeReport)(ctx.state.shell as Uint32Array, ctx.state.norm as Float32Array, out.fields.norm as Float32Array, out.emit);
      });
      run(start, end);
    },
  },
  {
    kernel: 'waterFilling.point.reportCells',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const run = reportCellsInstances.get(ctx.state, (specialise) => {
        const s = ctx.state;
        const out = ctx.out['Point.sample']!;
        const cells = ctx.out['Point.cellSample']!;
        return (specialise ? freshCopy(makeReportCells) : makeReportCells)(s.shell as Uint32Array, s.norm as Float32Array, s.theta as Float32Array, s.phi as Float32Array, out.fields.norm as Float32Array, out.emit, cells.emit, angularCellOf, ctx.params.bands!, ctx.params.sectors!);
      });
      run(start, end);
    },
  },
  {
    kernel: 'waterFilling.shell.compat',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const red = ctx.in['Point.sample']!.reduce.norm!;
      const cnt = red.count!;
      const mean = red.mean!;
      const std = red.std!;
      const radius = ctx.state.radius!;
      const cap = ctx.state.capacity!;
      const f = ctx.columns['Shell.stats']!.fields;
      const oMean = f.mean!;
      const oSpread = f.spread!;
      const rStay = f.rStay!;
      const rUp = f.rUp!;
      const kStay = f.kStay!;
      const kUp = f.kUp!;
      const nCount = ctx.next.count!;
      const nAbs = ctx.next.absOverload!;
      const nOut = ctx.next.outside!;
      const tau = ctx.params.tau!;
      const last = ctx.count - 1;
      for (let k = start; k < end; k++) {
        const c = cnt[k]!;
        const cp = cap[k]!;
        const factor = Math.fround(1 - OSMOTIC * Math.tanh((c - cp) / (cp + 1)));
        const a = Math.fround(radius[k]! * factor);
        const b = Math.fround(radius[k < last ? k + 1 : last]! * factor);
        oMean[k] = mean[k]!;
        oSpread[k] = tau * (std[k]! + 0.1);
        rStay[k] = a;
        rUp[k] = b;
        kStay[k] = nearestShell(radius, a);
        kUp[k] = nearestShell(radius, b);
        nCount[k] = c;
        nAbs[k] = Math.abs(c - cp);
        nOut[k] = 0;
      }
    },
  },
  {
    kernel: 'waterFilling.point.compat',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const run = compatMoveInstances.get(ctx.state, (specialise) => {
        const s = ctx.state;
        const n = ctx.next;
        const f = ctx.columns['Shell.stats']!.fields;
        return (specialise ? freshCopy(makeCompatMove) : makeCompatMove)(
          s.r as Float32Array,
          s.theta as Float32Array,
          s.phi as Float32Array,
          s.shell as Uint32Array,
          s.norm as Float32Array,
          s.hashDir as Uint8Array,
          s.subset as Uint8Array,
          n.r as Float32Array,
          n.theta as Float32Array,
          n.phi as Float32Array,
          n.shell as Uint32Array,
          n.promoted as Uint8Array,
          n.lateralMoved as Uint8Array,
          n.delta as Float32Array,
          f.mean as Float32Array,
          f.spread as Float32Array,
          f.rStay as Float32Array,
          f.rUp as Float32Array,
          f.kStay as Uint32Array,
          f.kUp as Uint32Array,
          COMPAT_DTHETA,
          COMPAT_DPHI,
          THETA_LO,
          THETA_HI,
          F32_TWO_PI,
        );
      });
      run(start, end);
    },
  },
  {
    kernel: 'waterFilling.shell.balanced',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const inp = ctx.in['Point.sample']!;
      const red = inp.reduce.norm!;
      const cnt = red.count!;
      const mean = red.mean!;
      const std = red.std!;
      const vals = inp.fields.norm! as Float32Array;
      const sender = inp.sender;
      const off = inp.offsets;
      const radius = ctx.state.radius!;
      const cap = ctx.state.capacity!;
      const target = ctx.state.target!;
      const f = ctx.columns['Shell.stats']!.fields;
      const nCount = ctx.next.count!;
      const nAbs = ctx.next.absOverload!;
      const nOut = ctx.next.outside!;
      const tol = ctx.params.tolerance!;
      const points = ctx.params.points!;
      const S = ctx.count;
      let below = 0;
      for (let j = 0; j < start; j++) below += cnt[j]!;
      for (let k = start; k < end; k++) {
        const c = cnt[k]!;
        const tNext = k + 1 < S ? target[k + 1]! : points;
        const up = Math.max(0, Math.min(below + c - tNext, c));
        const down = Math.max(0, Math.min(target[k]! - below, c - up));
        const a = off[k]!;
        const b = off[k + 1]!;
        const copy = up > 0 || down > 0 ? scratchCopy(vals, a, b) : scratch;
        if (up > 0) {
          const [v, t] = select(vals, copy, sender, a, b, up, true);
          f.upNorm![k] = v;
          f.upTie![k] = t;
        } else {
          f.upNorm![k] = 0;
          f.upTie![k] = 0;
        }
        if (down > 0) {
          const [v, t] = select(vals, copy, sender, a, b, down, false);
          f.downNorm![k] = v;
          f.downTie![k] = t;
        } else {
          f.downNorm![k] = 0;
          f.downTie![k] = 0;
        }
        f.mean![k] = mean[k]!;
        f.std![k] = std[k]!;
        f.count![k] = c;
        f.below![k] = below;
        f.up![k] = up;
        f.down![k] = down;
        f.target![k] = target[k]!;
        f.radius![k] = radius[k]!;
        const dev = Math.abs(c - cap[k]!);
        nCount[k] = c;
        nAbs[k] = dev;
        nOut[k] = dev > Math.max(1, tol * cap[k]!) ? 1 : 0;
        below += c;
      }
    },
  },
  {
    kernel: 'waterFilling.cell.publish',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const off = ctx.in['Point.cellSample']!.offsets;
      const out = ctx.columns['ShellCell.occupancy']!.fields.count!;
      const occ = ctx.next.occupancy!;
      for (let c = start; c < end; c++) {
        const v = off[c + 1]! - off[c]!;
        out[c] = v;
        occ[c] = v;
      }
    },
  },
  {
    kernel: 'waterFilling.point.balanced',
    backend: 'cpu',
    cpu(ctx, start, end) {
      const s = ctx.state;
      const r = s.r!;
      const theta = s.theta!;
      const phi = s.phi!;
      const shell = s.shell!;
      const norm = s.norm!;
      const n = ctx.next;
      const f = ctx.columns['Shell.stats']!.fields;
      const mean = f.mean!;
      const std = f.std!;
      const count = f.count!;
      const below = f.below!;
      const upN = f.up!;
      const downN = f.down!;
      const upNorm = f.upNorm!;
      const upTie = f.upTie!;
      const downNorm = f.downNorm!;
      const downTie = f.downTie!;
      const target = f.target! as Uint32Array;
      const radius = f.radius!;
      const occ = ctx.columns['ShellCell.occupancy']!.fields.count!;
      const p = ctx.params;
      const tau = p.tau!;
      const thr = p.lateralThreshold!;
      const K = p.candidates!;
      const rad = p.lateralRadius!;
      const bands = p.bands!;
      const sectors = p.sectors!;
      const S = p.shells!;
      const C = bands * sectors;
      const rng = ctx.rng;
      for (let i = start; i < end; i++) {
        const k = shell[i]!;
        const v = norm[i]!;
        const sd = std[k]!;
        const z = sd > 0 ? (v - mean[k]!) / sd : 0;
        const up = upN[k]! > 0 && (v > upNorm[k]! || (v === upNorm[k]! && i <= upTie[k]!));
        const down = downN[k]! > 0 && (v < downNorm[k]! || (v === downNorm[k]! && i >= downTie[k]!));
        const th = theta[i]!;
        const ph = phi[i]!;
        let th2 = th;
        let ph2 = ph;
        let k2 = k;
        let moved = false;
        let prom = 0;
        let inw = 0;
        if ((z > tau || up) && !down) {
          const base = k * C;
          const occ0 = occ[base + angularCellOf(th, ph, bands, sectors)]!;
          const m = count[k]! / C;
          if (occ0 > m && rng.uniform(i, STREAM_LEAVE, 0) < (occ0 - m) / occ0) {
            let best = occ0;
            let bt = th;
            let bp = ph;
            lateralFrame(th, ph, frame);
            for (let j = 0; j < K; j++) {
              candidateFromFrame(frame, rad, rng.uniform(i, STREAM_CANDIDATE, 2 * j), rng.uniform(i, STREAM_CANDIDATE, 2 * j + 1), cand);
              const ct = cand[0]!;
              const cp = cand[1]!;
              const oc = occ[base + angularCellOf(ct, cp, bands, sectors)]!;
              if (oc < best) {
                best = oc;
                bt = ct;
                bp = cp;
              }
            }
            if ((occ0 - 1 - best) / m > thr) {
              th2 = Math.fround(bt);
              ph2 = Math.fround(bp);
              moved = true;
            }
          }
        }
        if (!moved && (up || down)) {
          const c = count[k]!;
          const b = below[k]!;
          let rank = b + normalCdf(z) * c;
          if (up) {
            const lo = b + c - upN[k]!;
            if (rank < lo) rank = lo;
            const t = shellOfRank(target, S, rank);
            k2 = t > k + 1 ? t : k + 1;
            if (k2 > S - 1) k2 = S - 1;
            prom = 1;
          } else {
            const hi = b + downN[k]! - 1;
            if (rank > hi) rank = hi;
            const t = shellOfRank(target, S, rank);
            k2 = t < k - 1 ? t : k - 1;
            if (k2 < 0) k2 = 0;
            inw = 1;
          }
        }
        const r2 = radius[k2]!;
        n.r![i] = r2;
        n.theta![i] = th2;
        n.phi![i] = ph2;
        n.shell![i] = k2;
        n.promoted![i] = prom;
        n.lateralMoved![i] = moved ? 1 : 0;
        n.inward![i] = inw;
        n.delta![i] = Math.abs(r2 - r[i]!) + Math.abs(th2 - th) + Math.abs(ph2 - ph);
      }
    },
  },
];
