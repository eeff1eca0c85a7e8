/**
 * Kernel instances specialised to their arrays.
 *
 * Why: V8's optimizing compiler (TurboFan, Node 20) reloads a typed array's data pointer and length
 * for every element access when the array is a local variable or a parameter, because it has no
 * loop-invariant code motion for them across the stores in a loop body. When the array is a
 * *constant* of the compiled function (a variable of the closure's context that V8 can treat as
 * fixed: "function context specialisation"), the pointer and length are folded into the machine
 * code. Measured on the 2-core dev machine (AMD EPYC, Node 20.20) for the Landau edge loop over 2e5
 * edges: 0.6 ms with constant arrays, 2.0–2.7 ms with the same arrays as locals.
 *
 * V8 only specialises a closure to its context while its function literal has produced a single
 * closure: a factory called twice gives the second closure generic code (measured 4–5 ms, slower
 * still). So each instance needs its own function literal: {@link freshCopy} re-evaluates the
 * factory's source with `new Function` (made unique by a serial number, since V8 caches compiled
 * sources), which gives a new literal (a new SharedFunctionInfo) per copy, and the closure it
 * returns is the only one of its literal.
 *
 * Rules for a factory passed here: it must be self-contained (no imported or module-level names,
 * only its parameters and globals such as `Math`), and define no named inner functions (tsx and
 * esbuild's `keepNames` wrap those in a `__name(…)` helper that does not exist in the copy). A
 * source that shows a bundler helper falls back to the original factory: correct, only slower.
 */

/** Bundler helpers that would be unbound in a re-evaluated copy. */
const UNBOUND = /\b(__name|__vite_ssr_\w+|__vi_import_\w+|__vi_\w+|cov_\w+)\b/;

const copies = new Map<string, number>();
let serial = 0;

/**
 * A copy of `factory` with a new function literal (so that the closures it returns are specialised
 * to their arrays by V8), or `factory` itself when its source cannot be re-evaluated on its own.
 */
export function freshCopy<F extends (...args: never[]) => unknown>(factory: F): F {
  const source = factory.toString();
  if (UNBOUND.test(source)) return factory;
  try {
    // Deliberate: a new literal per instance (see the file comment); the source is our own factory's,
    // never user input. The serial makes every source unique: V8 caches `new Function` by source
    // text, and a cache hit hands back the same literal (measured: the second copy then ran at
    // generic speed).
    // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call
    const copy = new Function(`"use strict"; /* copy ${++serial} */ return (${source});`)() as F;
    copies.set(factory.name, (copies.get(factory.name) ?? 0) + 1);
    return copy;
  } catch {
    return factory;
  }
}

/** How many specialised copies of each factory this thread made (for tests and the bench). */
export function specialisedCopies(): Readonly<Record<string, number>> {
  return Object.fromEntries(copies);
}

/**
 * One kernel instance per key object (the kernel context's `state` record, which the executor keeps
 * per parity of the kind's columns, so a double-buffered kind has two), built on first use with
 * `build(true)` (specialise). Should keys not be stable (an executor that stops caching its
 * records), instances past `limit` are built with `build(false)` (the plain factory, no copy), so a
 * step never compiles new code forever.
 */
export class InstanceCache<K extends object, V> {
  private readonly map = new WeakMap<K, V>();
  private built = 0;
  constructor(private readonly limit = 16) {}
  get(key: K, build: (specialise: boolean) => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = build(this.built < this.limit);
      this.built++;
      this.map.set(key, v);
    }
    return v;
  }
}
