import { Worker } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { describe, it, expect } from 'vitest';
import { CapacityError, CheckError } from '../src/errors.js';
import { RING_CAPACITY_OPTION, RecordRing, RingSet } from '../src/ring.js';
import { hash32 } from '../src/rng.js';

/** Deterministic draws in [0, n) for the oracle tests (counter-based, like the engine's RNG). */
function draw(seed: number, counter: number, n: number): number {
  return hash32(seed, 0, 0, 0, 0, counter) % n;
}

/** Record i of a 3-field stream: every field is a function of i, so a torn or shifted record shows. */
function recordOf(i: number): [number, number, number] {
  return [i, i * 0.5 + 0.25, -i - 1];
}

describe('RecordRing', () => {
  it('pushes and drains in order, wrapping around many times, like a plain array queue', () => {
    // 7 records × 3 fields = 21 elements + 1 spare: records straddle the end of the storage at every
    // offset as the indices wrap.
    const ring = RecordRing.create(['id', 'a', 'b'], 7, 'oracle');
    const oracle: number[][] = [];
    let next = 0;
    let refusedExpected = 0;
    const flat = new Float64Array(9 * 3);
    const out = new Float64Array(7 * 3);
    for (let step = 0; step < 20_000; step++) {
      const op = draw(11, step, 5);
      if (op <= 1) {
        const rec = recordOf(next);
        const ok = op === 0 ? ring.push(rec) : ring.push(Float64Array.from(rec));
        expect(ok).toBe(oracle.length < 7);
        if (ok) {
          oracle.push(rec);
          next++;
        } else {
          refusedExpected++;
        }
      } else if (op === 2) {
        const count = draw(12, step, 10);
        for (let r = 0; r < count; r++) flat.set(recordOf(next + r), r * 3);
        const written = ring.pushMany(flat, count);
        expect(written).toBe(Math.min(count, 7 - oracle.length));
        for (let r = 0; r < written; r++) oracle.push(recordOf(next + r));
        next += written;
        refusedExpected += count - written;
      } else if (op === 3) {
        const got: number[][] = [];
        const n = ring.drain((rec) => got.push([...rec]));
        expect(n).toBe(got.length);
        expect(got).toEqual(oracle.splice(0, oracle.length));
      } else {
        // Drain part of the queue into a small array, at an offset.
        const room = draw(13, step, 4);
        const small = new Float64Array((room + 1) * 3);
        const n = ring.drain(small, 1);
        expect(n).toBe(Math.min(room, oracle.length));
        const expected = oracle.splice(0, n);
        for (let r = 0; r < n; r++) expect([...small.subarray((r + 1) * 3, (r + 2) * 3)]).toEqual(expected[r]);
      }
      expect(ring.size).toBe(oracle.length);
    }
    expect(ring.drain(out)).toBe(oracle.length);
    expect(ring.refused).toBe(refusedExpected);
    expect(next).toBeGreaterThan(10_000);
  });

  it('refuses a push when full, and pushOrThrow throws a CapacityError naming the option', () => {
    const ring = RecordRing.create(['actor', 'amplitude'], 4, 'kicks');
    for (let i = 0; i < 4; i++) ring.pushOrThrow([i, i]);
    expect(ring.size).toBe(4);
    expect(ring.free).toBe(0);
    expect(ring.push([9, 9])).toBe(false);
    let caught: unknown;
    try {
      ring.pushOrThrow([9, 9]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CapacityError);
    const err = caught as CapacityError;
    expect(err.option).toBe(RING_CAPACITY_OPTION);
    expect(err.option).toBe('ring capacity');
    expect(err.code).toBe('E_CAPACITY');
    expect(err.message).toBe(
      "input ring 'kicks' is full (4 of 4 records not yet drained): needed 5 but the capacity is 4; raise ring capacity above 5",
    );
    expect(ring.refused).toBe(2);
    // Nothing was overwritten: the four records are intact and in order.
    const got: number[][] = [];
    ring.drain((rec) => got.push([...rec]));
    expect(got).toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
    expect(ring.push([9, 9])).toBe(true);
  });

  it('never makes part of a record visible, nor writes part of one', () => {
    const ring = RecordRing.create(['id', 'a', 'b'], 2, 'partial');
    // A raw view on the same storage, to make torn writes that RecordRing itself never makes.
    const raw = new RingBuffer(ring.descriptor().sab, Float64Array);
    raw.push(new Float64Array([7, 8]));
    expect(ring.size).toBe(0);
    const out = new Float64Array(6);
    expect(ring.drain(out)).toBe(0);
    expect(ring.drain(() => expect.unreachable())).toBe(0);
    raw.push(new Float64Array([9]));
    expect(ring.size).toBe(1);
    expect(ring.drain(out)).toBe(1);
    expect([...out.subarray(0, 3)]).toEqual([7, 8, 9]);

    // Misalign the free space: one stray element leaves room for one record and 2 elements.
    raw.push(new Float64Array([1]));
    expect(ring.push(recordOf(0))).toBe(true);
    expect(raw.availableWrite()).toBe(2);
    expect(ring.push(recordOf(1))).toBe(false);
    expect(ring.pushMany(new Float64Array(6), 2)).toBe(0);
    expect(raw.availableRead()).toBe(4);
    expect(ring.refused).toBe(3);
  });

  it('pushMany writes whole records from the front and counts the rest as refused', () => {
    const ring = RecordRing.create(['id', 'a', 'b'], 5, 'many');
    const flat = new Float64Array(8 * 3);
    for (let r = 0; r < 8; r++) flat.set(recordOf(r), r * 3);
    expect(ring.pushMany(flat)).toBe(5);
    expect(ring.refused).toBe(3);
    const out = new Float64Array(5 * 3);
    expect(ring.drain(out)).toBe(5);
    expect([...out]).toEqual([...flat.subarray(0, 15)]);
  });

  it('checks its inputs and descriptors with messages that say what to fix', () => {
    expect(() => RecordRing.create([], 4)).toThrow(CheckError);
    expect(() => RecordRing.create(['a', 'a'], 4)).toThrow("field 'a' is listed twice");
    expect(() => RecordRing.create(['a'], 0, 'k')).toThrow("input ring 'k': ring capacity must be a positive integer (got 0)");
    const ring = RecordRing.create(['a', 'b'], 4, 'k');
    expect(() => ring.push([1])).toThrow("input ring 'k': a record has 2 values (a, b), got 1");
    expect(() => ring.pushMany(new Float64Array(3))).toThrow('not a multiple of 2 fields');
    expect(() => ring.pushMany(new Float64Array(4), 3)).toThrow('needs 6 values but flat holds 4');
    expect(() => new RecordRing({ ...ring.descriptor(), capacity: 5 })).toThrow('build the descriptor with RecordRing.create');
  });

  it('is rebuilt from a structured clone of its descriptor, sharing storage and counter', () => {
    const ring = RecordRing.create(['x', 'y'], 3, 'clone');
    const twin = new RecordRing(structuredClone(ring.descriptor()));
    expect(twin.push([1, 2])).toBe(true);
    expect(twin.pushMany(new Float64Array([3, 4, 5, 6, 7, 8, 9, 10]))).toBe(2);
    expect(ring.refused).toBe(2);
    const got: number[][] = [];
    expect(ring.drain((rec) => got.push([...rec]))).toBe(3);
    expect(got).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  it('carries 100,000 records from a producer thread, each once and in order', async () => {
    const total = 100_000;
    // Small on purpose: 64 records × 3 fields (+1 spare element) wraps ~1,500 times and fills often.
    const ring = RecordRing.create(['id', 'a', 'b'], 64, 'xthread');
    const ringbufUrl = import.meta.resolve('ringbuf.js');
    // Plain JS (workers cannot load our .ts sources): frames records exactly as RecordRing.pushMany
    // does, i.e. pushes only whole records, a batch of 1..7 at a time, each batch in one push.
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.ringbufUrl).then(({ RingBuffer }) => {
        const { sab, recordSize: n, total } = workerData;
        const rb = new RingBuffer(sab, Float64Array);
        const batch = new Float64Array(7 * n);
        // Atomics.wait on a private slot nobody notifies is a short sleep: when both threads share one
        // core, a spinning producer keeps it for a whole time slice while the consumer cannot make room.
        const park = new Int32Array(new SharedArrayBuffer(4));
        let idle = 0;
        let i = 0;
        while (i < total) {
          const want = Math.min(1 + (i % 7), total - i);
          for (let r = 0; r < want; r++) {
            const id = i + r;
            batch[r * n] = id; batch[r * n + 1] = id * 0.5 + 0.25; batch[r * n + 2] = -id - 1;
          }
          let sent = 0;
          while (sent < want) {
            const fit = Math.min(want - sent, Math.floor(rb.availableWrite() / n));
            if (fit === 0) {
              // Full: spin a little, then sleep 50 µs at a time, until the consumer frees a whole record.
              if (++idle % 64 === 0) Atomics.wait(park, 0, 0, 0.05);
              continue;
            }
            idle = 0;
            const wrote = rb.push(batch, fit * n, sent * n);
            if (wrote !== fit * n) throw new Error('partial push: ' + wrote + ' of ' + fit * n);
            sent += fit;
          }
          i += want;
        }
        parentPort.postMessage({ pushed: i });
      });
    `;
    const worker = new Worker(code, {
      eval: true,
      workerData: { ringbufUrl, sab: ring.descriptor().sab, recordSize: ring.recordSize, total },
    });
    let failure: Error | undefined;
    const pushed = new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { pushed: number }) => resolve(m.pushed));
      worker.once('error', (e) => {
        failure = e;
        reject(e);
      });
    });
    pushed.catch(() => undefined);

    const out = new Float64Array(64 * 3);
    let expected = 0;
    let mismatch = '';
    const park = new Int32Array(new SharedArrayBuffer(4));
    let idle = 0;
    const deadline = Date.now() + 60_000;
    while (expected < total && failure === undefined && Date.now() < deadline) {
      const n = ring.drain(out);
      for (let r = 0; r < n && mismatch === ''; r++) {
        const id = out[r * 3], a = out[r * 3 + 1], b = out[r * 3 + 2];
        if (id !== expected || a !== expected * 0.5 + 0.25 || b !== -expected - 1) {
          mismatch = `record ${expected}: got [${id}, ${a}, ${b}]`;
        }
        expected++;
      }
      if (mismatch !== '') break;
      if (n > 0) {
        idle = 0;
        continue;
      }
      // Empty. Atomics.wait on a private slot that nobody notifies is a 50 µs sleep that hands the core
      // to the producer when both threads share one; then let the event loop run so worker errors surface.
      if (++idle % 16 === 0) Atomics.wait(park, 0, 0, 0.05);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(mismatch).toBe('');
    expect(await pushed).toBe(total);
    expect(expected).toBe(total);
    expect(ring.size).toBe(0);
    await worker.terminate();
  });
});

describe('RingSet', () => {
  it('drains producers in a fixed order (0, 1, 2), whatever the order they pushed in', () => {
    const set = RingSet.create(['producer', 'seq'], 3, 8, 'sensors');
    // Producers rebuilt from a structured clone, as a producer thread would.
    const remote = new RingSet(structuredClone(set.descriptor()));
    const pushes: Array<[number, number]> = [
      [2, 0], [0, 0], [1, 0], [2, 1], [2, 2], [0, 1], [1, 1], [0, 2],
    ];
    for (const [p, seq] of pushes) expect(remote.producer(p).push([p, seq])).toBe(true);
    expect(set.size).toBe(8);
    const out = new Float64Array(16);
    expect(set.drain(out)).toBe(8);
    expect([...out]).toEqual([0, 0, 0, 1, 0, 2, 1, 0, 1, 1, 2, 0, 2, 1, 2, 2]);

    // Another interleaving of the same per-producer streams drains to the same array.
    const again = RingSet.create(['producer', 'seq'], 3, 8, 'sensors');
    for (const [p, seq] of [...pushes].sort((x, y) => y[0] - x[0] || x[1] - y[1])) again.producer(p).push([p, seq]);
    const out2 = new Float64Array(16);
    again.drain(out2);
    expect([...out2]).toEqual([...out]);
  });

  it('stops at a record that does not fit, so later producers never jump ahead', () => {
    const set = RingSet.create(['producer', 'seq'], 2, 4, 'small');
    for (let s = 0; s < 3; s++) set.producer(0).push([0, s]);
    for (let s = 0; s < 2; s++) set.producer(1).push([1, s]);
    const out = new Float64Array(2 * 2);
    expect(set.drain(out)).toBe(2);
    expect([...out]).toEqual([0, 0, 0, 1]);
    expect(set.drain(out)).toBe(2);
    expect([...out]).toEqual([0, 2, 1, 0]);
    expect(set.drain(out)).toBe(1);
    expect([...out.subarray(0, 2)]).toEqual([1, 1]);
  });

  it('counts refused pushes per producer in the shared header', () => {
    const set = RingSet.create(['v'], 2, 2, 'refusals');
    const remote = new RingSet(structuredClone(set.descriptor()));
    for (let i = 0; i < 5; i++) remote.producer(1).push([i]);
    remote.producer(0).push([0]);
    expect(set.refusedCounts()).toEqual([0, 3]);
    expect(set.refused(1)).toBe(3);
    expect(() => set.producer(1).pushOrThrow([9])).toThrow("input ring 'refusals[1]' is full");
    expect(set.refused(1)).toBe(4);
    expect(() => set.producer(2)).toThrow('producer must be in 0..1 (got 2)');
  });
});
