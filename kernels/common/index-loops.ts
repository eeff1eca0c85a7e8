/**
 * The record loops of a message's index build, compiled once per message and thread over that
 * message's arrays.
 *
 * Why: V8's optimizing compiler (Node 20) reloads a typed array's data pointer and length at every
 * element access when the array is a parameter or a local of a loop that stores to typed arrays, and
 * folds them into the code when the array is a constant of the closure, which it does only while the
 * function literal has produced a single closure (kernels/common/specialize.ts). The shared functions
 * that sort and gather every message (kernels/common/cpu.ts countingSortByKey and gather) took their
 * arrays as parameters and also saw every element type, so each message now gets its own copies of
 * the loops below, made by `freshCopy`. Measured on the 2-core dev machine, 1M records to 64K keys,
 * one thread: counting sort 27–30 ms → 13–14 ms, gather of one f32 field 7.6–8.3 ms → 3.9–4.3 ms.
 *
 * Every loop does exactly what the shared functions do, in the same order, so the index is the same
 * bit for bit (test/index-loops.test.ts checks them against a host oracle, and every engine test runs these loops).
 *
 * The factories follow freshCopy's rules: no imported or module-level names inside, no named inner
 * functions; `maxPer` is a constant of each copy, so V8 drops the branch not taken.
 */
import { freshCopy } from './specialize.js';
import type { TypedArray } from '../../src/types.js';

/** The loops over one message's keys and senders. */
export interface MessageLoops {
  /**
   * Serial stable counting sort of the records of senders [0, senders): `offsets[0..keys]`, `perm`,
   * `sender`, as countingSortByKey gives them. Returns the number of records.
   */
  readonly sort: (senders: number) => number;
  /**
   * Split sort, step 1 over senders [s0, s1): `hist[row + k]` = this range's records of key k (row =
   * part·keys, cleared here), `perRange[r]` += its records in key range r (keys of `kchunk` each).
   */
  readonly count: (s0: number, s1: number, row: number, perRange: Float64Array, kchunk: number) => void;
  /**
   * Split sort, step 3 over senders [s0, s1): places the records at the cursors `cursor[row + k]`
   * (moving them), writing `perm`, `sender` and `dest` (raw slot → sorted position).
   */
  readonly scatter: (s0: number, s1: number, row: number) => void;
}

/** The loops over one field of a message. */
export interface FieldLoops {
  /** `sorted[i] = raw[perm[i]]` for sorted positions [start, end). */
  readonly gather: (start: number, end: number) => void;
  /** `sorted[dest[slot]] = raw[slot]` for the records of senders [s0, s1) (after `scatter`). */
  readonly scatter: (s0: number, s1: number) => void;
}

/** The arrays of one message's index (the `.raw`, `.sorted` and `.psort` regions, see sim/memory.ts). */
export interface IndexArrays {
  readonly keys: number;
  readonly maxPer: number;
  readonly sent: Uint32Array;
  readonly key: Uint32Array;
  readonly offsets: Uint32Array;
  readonly perm: Uint32Array;
  readonly sender: Uint32Array;
  /** Serial sort cursors (length ≥ keys). */
  readonly cursor: Uint32Array;
  /** Split sort histograms and cursors (parts·keys each) and raw slot → position; empty when the message never splits. */
  readonly hist: Uint32Array;
  readonly splitCursor: Uint32Array;
  readonly dest: Uint32Array;
}

export function makeMessageLoops(
  keys: number,
  maxPer: number,
  sent: Uint32Array,
  key: Uint32Array,
  offsets: Uint32Array,
  perm: Uint32Array,
  sender: Uint32Array,
  cursor: Uint32Array,
  hist: Uint32Array,
  splitCursor: Uint32Array,
  dest: Uint32Array,
): MessageLoops {
  return {
    sort: (senders: number): number => {
      offsets.fill(0, 0, keys + 1);
      if (maxPer === 1) {
        for (let s = 0; s < senders; s++) if (sent[s] !== 0) offsets[key[s]!]!++;
      } else {
        for (let s = 0; s < senders; s++) {
          const c = sent[s]!;
          const base = s * maxPer;
          for (let j = 0; j < c; j++) offsets[key[base + j]!]!++;
        }
      }
      let run = 0;
      for (let k = 0; k < keys; k++) {
        const x = offsets[k]!;
        offsets[k] = run;
        cursor[k] = run;
        run += x;
      }
      offsets[keys] = run;
      if (maxPer === 1) {
        for (let s = 0; s < senders; s++) {
          if (sent[s] === 0) continue;
          const d = cursor[key[s]!]!++;
          perm[d] = s;
          sender[d] = s;
        }
      } else {
        for (let s = 0; s < senders; s++) {
          const c = sent[s]!;
          const base = s * maxPer;
          for (let j = 0; j < c; j++) {
            const d = cursor[key[base + j]!]!++;
            perm[d] = base + j;
            sender[d] = s;
          }
        }
      }
      return run;
    },
    count: (s0: number, s1: number, row: number, perRange: Float64Array, kchunk: number): void => {
      hist.fill(0, row, row + keys);
      if (maxPer === 1) {
        for (let s = s0; s < s1; s++) {
          if (sent[s] === 0) continue;
          const k = key[s]!;
          hist[row + k]!++;
          perRange[(k / kchunk) | 0]!++;
        }
      } else {
        for (let s = s0; s < s1; s++) {
          const base = s * maxPer;
          for (let j = 0, c = sent[s]!; j < c; j++) {
            const k = key[base + j]!;
            hist[row + k]!++;
            perRange[(k / kchunk) | 0]!++;
          }
        }
      }
    },
    scatter: (s0: number, s1: number, row: number): void => {
      if (maxPer === 1) {
        for (let s = s0; s < s1; s++) {
          if (sent[s] === 0) continue;
          const d = splitCursor[row + key[s]!]!++;
          perm[d] = s;
          sender[d] = s;
          dest[s] = d;
        }
      } else {
        for (let s = s0; s < s1; s++) {
          const base = s * maxPer;
          for (let j = 0, c = sent[s]!; j < c; j++) {
            const d = splitCursor[row + key[base + j]!]!++;
            perm[d] = base + j;
            sender[d] = s;
            dest[base + j] = d;
          }
        }
      }
    },
  };
}

export function makeFieldLoops(maxPer: number, sorted: TypedArray, raw: TypedArray, perm: Uint32Array, dest: Uint32Array, sent: Uint32Array): FieldLoops {
  return {
    gather: (start: number, end: number): void => {
      for (let i = start; i < end; i++) sorted[i] = raw[perm[i]!]!;
    },
    scatter: (s0: number, s1: number): void => {
      if (maxPer === 1) {
        for (let s = s0; s < s1; s++) if (sent[s] !== 0) sorted[dest[s]!] = raw[s]!;
        return;
      }
      for (let s = s0; s < s1; s++) {
        const base = s * maxPer;
        for (let q = base, e = base + sent[s]!; q < e; q++) sorted[dest[q]!] = raw[q]!;
      }
    },
  };
}

/** The compiled loops of one message: its own, and one set per field (in the message's field order). */
export interface IndexLoops {
  readonly message: MessageLoops;
  readonly fields: readonly FieldLoops[];
}

/** Compiles the loops of one message over `a` and its fields' (sorted, raw) columns. */
export function compileIndexLoops(a: IndexArrays, fields: readonly (readonly [sorted: TypedArray, raw: TypedArray])[]): IndexLoops {
  return {
    message: freshCopy(makeMessageLoops)(a.keys, a.maxPer, a.sent, a.key, a.offsets, a.perm, a.sender, a.cursor, a.hist, a.splitCursor, a.dest),
    fields: fields.map(([sorted, raw]) => freshCopy(makeFieldLoops)(a.maxPer, sorted, raw, a.perm, a.dest, a.sent)),
  };
}
