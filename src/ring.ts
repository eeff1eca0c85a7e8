/**
 * External input through SharedArrayBuffer rings (ARCHITECTURE §3): scenario events, sensor streams and
 * control enter the simulation as fixed-size records of f64 fields pushed into SPSC rings.
 *
 * - {@link RecordRing}: one producer thread, one consumer thread. A thin framing over a ringbuf.js
 *   `RingBuffer<Float64Array>`: one record is `fields.length` consecutive elements, and every write
 *   moves the ring's write index by whole records only, so a consumer never sees part of a record.
 * - {@link RingSet}: many producers as N SPSC rings (one per producer), drained in a fixed order
 *   (producer 0, then 1, …) into one flat Float64Array. Given what each producer pushed, the drained
 *   array is the same however the threads interleaved.
 *
 * Both are rebuilt in another thread from their plain, structured-clone-safe `descriptor()`: the
 * SharedArrayBuffers in it are shared, not copied, when posted or passed in `workerData`.
 *
 * Region keys (ARCHITECTURE §2): `input.<name>.ring` for a ring's SAB, `input.<name>.refused` for its
 * refused-push counter; in a set, `input.<name>.ring.<producer>` and `input.<name>.refused` (one slot
 * per producer).
 *
 * Memory ordering: ringbuf.js copies the elements with plain stores, then publishes them with
 * `Atomics.store` of its write index; the reader `Atomics.load`s that index before copying out, and
 * publishes freed space the same way through the read index. Sequentially consistent Atomics order
 * the plain copies on either side, so a record is complete in memory before its index move is visible.
 * This module adds no ordering of its own to the data path; its only Atomics calls are on the
 * refused-push counters, explained where they are made.
 *
 * @example
 * ```ts
 * const kicks = RecordRing.create(['actor', 'amplitude'], 1024, 'kicks');
 * worker.postMessage(kicks.descriptor());            // producer thread: new RecordRing(desc).push([3, 0.5])
 * const buf = new Float64Array(1024 * 2);
 * const n = kicks.drain(buf);                         // consumer: records 0..n-1 in buf, field-interleaved
 * ```
 */
import { RingBuffer } from 'ringbuf.js';
import { CapacityError, CheckError } from './errors.js';

/** The option named by {@link CapacityError}s from full rings. */
export const RING_CAPACITY_OPTION = 'ring capacity';

/** ringbuf.js stores its write index and read index (two u32) before the elements. */
const RINGBUF_INDEX_BYTES = 8;
/**
 * Most elements one ring may hold: ringbuf.js keeps its indices in u32 and computes `index + count`
 * in doubles, so any count far below 2^32 is exact; 2^30 f64 elements is 8 GiB, more than any input.
 */
const MAX_RING_ELEMENTS = 2 ** 30;
const COUNTER_BYTES = BigInt64Array.BYTES_PER_ELEMENT;

/** Where a ring counts the pushes it refused: slot `slot` of a BigInt64 array over `sab`. */
export interface RefusedCounter {
  readonly sab: SharedArrayBuffer;
  readonly slot: number;
}

/** Everything needed to rebuild a {@link RecordRing} in another thread (structured-clone safe). */
export interface RecordRingDescriptor {
  /** The ringbuf.js storage: `RingBuffer.getStorageForCapacity(capacity * fields.length, Float64Array)`. */
  readonly sab: SharedArrayBuffer;
  /** Field names of one record, in storage order. */
  readonly fields: readonly string[];
  /** Capacity in records. */
  readonly capacity: number;
  /** Name used in error messages (`input ring '<name>' is full`). Default `'input'`. */
  readonly name?: string;
  /**
   * Counter of refused pushes. When absent, the ring allocates its own; it is then shared with the
   * rings rebuilt from this ring's {@link RecordRing.descriptor}.
   */
  readonly refused?: RefusedCounter;
}

/** Everything needed to rebuild a {@link RingSet} in another thread (structured-clone safe). */
export interface RingSetDescriptor {
  readonly name: string;
  readonly fields: readonly string[];
  /** Capacity of each producer's ring, in records. */
  readonly capacity: number;
  /** Refused-push counters, one BigInt64 slot per producer. */
  readonly header: SharedArrayBuffer;
  /** One ringbuf.js storage per producer, in drain order. */
  readonly rings: readonly SharedArrayBuffer[];
}

function checkFields(fields: readonly string[], where: string): void {
  if (!Array.isArray(fields) || fields.length === 0) {
    throw new CheckError(`${where}: fields must be a non-empty array of field names`);
  }
  const seen = new Set<string>();
  for (const f of fields) {
    if (typeof f !== 'string' || f.length === 0) {
      throw new CheckError(`${where}: fields must be non-empty strings (got ${JSON.stringify(f)})`);
    }
    if (seen.has(f)) throw new CheckError(`${where}: field '${f}' is listed twice`);
    seen.add(f);
  }
}

function checkCapacity(capacity: number, recordSize: number, where: string): void {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new CheckError(`${where}: ${RING_CAPACITY_OPTION} must be a positive integer (got ${String(capacity)})`);
  }
  if (capacity * recordSize > MAX_RING_ELEMENTS) {
    throw new CheckError(
      `${where}: ${RING_CAPACITY_OPTION} ${capacity} × ${recordSize} fields exceeds ${MAX_RING_ELEMENTS} elements; ` +
        `lower ${RING_CAPACITY_OPTION} or drain more often`,
    );
  }
}

function checkCount(value: number, what: string, where: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new CheckError(`${where}: ${what} must be a non-negative integer (got ${String(value)})`);
  }
}

function ringBytes(capacity: number, recordSize: number): number {
  return RINGBUF_INDEX_BYTES + (capacity * recordSize + 1) * Float64Array.BYTES_PER_ELEMENT;
}

/**
 * A single-producer single-consumer ring of fixed-size f64 records over a SharedArrayBuffer.
 *
 * Exactly one thread may push and exactly one thread may drain (they may be the same thread). Pushes
 * write whole records or nothing; a full ring refuses (`push` returns false, `pushOrThrow` throws a
 * {@link CapacityError}) and counts the refusal in {@link RecordRing.refused}. Nothing is overwritten
 * or dropped silently.
 */
export class RecordRing {
  /** Name used in error messages. */
  readonly name: string;
  /** Field names of one record, in storage order. */
  readonly fields: readonly string[];
  /** Elements per record (`fields.length`). */
  readonly recordSize: number;
  /** Capacity in records. */
  readonly capacity: number;

  readonly #sab: SharedArrayBuffer;
  readonly #ring: RingBuffer;
  readonly #counter: RefusedCounter;
  readonly #refused: BigInt64Array;
  /** Producer-side staging for records given as plain arrays. */
  readonly #pushRecord: Float64Array;
  /** Consumer-side record handed to drain callbacks. */
  readonly #popRecord: Float64Array;

  /** Allocates a ring for `capacityRecords` records of `fields`. */
  static create(fields: readonly string[], capacityRecords: number, name = 'input'): RecordRing {
    const where = `input ring '${name}'`;
    checkFields(fields, where);
    checkCapacity(capacityRecords, fields.length, where);
    /* layout: [write_index: u32, read_index: u32, storage: f64 × (capacity·fields + 1)]
     * ringbuf.js's own layout. Records lie back to back in storage, modulo its length, so a record may
     * straddle the end; the one spare element tells a full ring from an empty one. */
    const sab = RingBuffer.getStorageForCapacity(capacityRecords * fields.length, Float64Array);
    return new RecordRing({ sab, fields: [...fields], capacity: capacityRecords, name });
  }

  /** Rebuilds a ring from its descriptor, typically in another thread. Validates every field. */
  constructor(d: RecordRingDescriptor) {
    const name = d.name ?? 'input';
    const where = `input ring '${name}'`;
    checkFields(d.fields, where);
    checkCapacity(d.capacity, d.fields.length, where);
    if (!(d.sab instanceof SharedArrayBuffer)) {
      throw new CheckError(`${where}: descriptor.sab must be a SharedArrayBuffer (use RecordRing.create)`);
    }
    const expected = ringBytes(d.capacity, d.fields.length);
    if (d.sab.byteLength !== expected) {
      throw new CheckError(
        `${where}: descriptor.sab holds ${d.sab.byteLength} bytes but ${d.capacity} records of ` +
          `${d.fields.length} fields need ${expected}; build the descriptor with RecordRing.create`,
      );
    }
    this.name = name;
    this.fields = Object.freeze([...d.fields]);
    this.recordSize = d.fields.length;
    this.capacity = d.capacity;
    this.#sab = d.sab;
    this.#ring = new RingBuffer(d.sab, Float64Array);
    if (d.refused === undefined) {
      /* layout: [refused] (BigInt64): pushes this ring refused because it was full */
      this.#counter = { sab: new SharedArrayBuffer(COUNTER_BYTES), slot: 0 };
    } else {
      const { sab, slot } = d.refused;
      if (
        !(sab instanceof SharedArrayBuffer) ||
        sab.byteLength % COUNTER_BYTES !== 0 ||
        !Number.isInteger(slot) ||
        slot < 0 ||
        (slot + 1) * COUNTER_BYTES > sab.byteLength
      ) {
        throw new CheckError(`${where}: descriptor.refused must name a BigInt64 slot inside a SharedArrayBuffer`);
      }
      this.#counter = { sab, slot };
    }
    this.#refused = new BigInt64Array(this.#counter.sab);
    this.#pushRecord = new Float64Array(this.recordSize);
    this.#popRecord = new Float64Array(this.recordSize);
  }

  /** The plain data to rebuild this ring elsewhere: `new RecordRing(ring.descriptor())`. */
  descriptor(): RecordRingDescriptor {
    return { sab: this.#sab, fields: [...this.fields], capacity: this.capacity, name: this.name, refused: this.#counter };
  }

  /**
   * Whole records available to the consumer. Read on the producer's side it may be stale (too high),
   * on the consumer's side too low; never a partial record.
   */
  get size(): number {
    return Math.floor(this.#ring.availableRead() / this.recordSize);
  }

  /** Records that can be pushed now without refusal (from the producer's side; may be stale elsewhere). */
  get free(): number {
    return Math.floor(this.#ring.availableWrite() / this.recordSize);
  }

  /** Records refused because the ring was full, since it was created (all threads). */
  get refused(): number {
    // Atomics.load, not a plain read: the producer thread adds to this 64-bit slot while we read it,
    // and a plain access to shared memory may tear. It is a statistic, so no ordering with the ring
    // data is needed.
    return Number(Atomics.load(this.#refused, this.#counter.slot));
  }

  #countRefused(records: number): void {
    // Atomics.add, not `+=`: the consumer or host reads this slot from another thread while the
    // producer writes it, and a RingSet's slots share one buffer; an atomic read-modify-write never
    // tears or loses a count. Only the count matters, not its order relative to the ring data.
    Atomics.add(this.#refused, this.#counter.slot, BigInt(records));
  }

  /**
   * Pushes one record (`record.length === fields.length`). Returns false, and counts the refusal,
   * when the ring has no room for the whole record; the caller decides whether to retry, drop or
   * fail (see {@link RecordRing.pushOrThrow}). Producer thread only.
   */
  push(record: ArrayLike<number>): boolean {
    const n = this.recordSize;
    if (record.length !== n) {
      throw new CheckError(
        `input ring '${this.name}': a record has ${n} values (${this.fields.join(', ')}), got ${record.length}`,
      );
    }
    // Only the consumer changes the free space while we run, and only upwards, so room seen here is
    // still there when ringbuf.js writes: the push below writes all n elements or we never call it.
    if (this.#ring.availableWrite() < n) {
      this.#countRefused(1);
      return false;
    }
    let src: Float64Array;
    if (record instanceof Float64Array) {
      src = record;
    } else {
      src = this.#pushRecord;
      for (let i = 0; i < n; i++) src[i] = record[i]!;
    }
    this.#checkWritten(this.#ring.push(src, n, 0), n);
    return true;
  }

  /** Pushes one record or throws a {@link CapacityError} naming `ring capacity` when the ring is full. */
  pushOrThrow(record: ArrayLike<number>): void {
    if (!this.push(record)) throw this.#fullError(1);
  }

  /**
   * Pushes up to `count` records laid out back to back in `flat` (record r, field f at
   * `flat[r * fields.length + f]`) in one index move. Returns how many whole records were written,
   * from the front; the rest are refused and counted. `count` defaults to `flat.length / fields.length`.
   * Producer thread only.
   */
  pushMany(flat: Float64Array, count?: number): number {
    const n = this.recordSize;
    const where = `input ring '${this.name}'`;
    let want: number;
    if (count === undefined) {
      if (flat.length % n !== 0) {
        throw new CheckError(`${where}: pushMany got ${flat.length} values, not a multiple of ${n} fields; pass count`);
      }
      want = flat.length / n;
    } else {
      checkCount(count, 'pushMany count', where);
      if (count * n > flat.length) {
        throw new CheckError(`${where}: pushMany count ${count} needs ${count * n} values but flat holds ${flat.length}`);
      }
      want = count;
    }
    if (want === 0) return 0;
    // As in push: the free space can only grow between this read and the write below.
    const written = Math.min(want, Math.floor(this.#ring.availableWrite() / n));
    if (written > 0) this.#checkWritten(this.#ring.push(flat, written * n, 0), written * n);
    if (written < want) this.#countRefused(want - written);
    return written;
  }

  /**
   * Reads the whole records available now, oldest first, and returns how many were read.
   *
   * - With a callback: calls it once per record with a reused `Float64Array(fields.length)`, valid only
   *   during the call (copy it to keep it). Records are taken one at a time, so if the callback throws,
   *   the records after the current one stay in the ring.
   * - With a preallocated `Float64Array`: copies records back to back into it, starting at record
   *   `atRecord`, as many as are available, fit and do not exceed `maxRecords`; the rest stay in the ring.
   *
   * Consumer thread only.
   */
  drain(into: (rec: Float64Array) => void): number;
  drain(into: Float64Array, atRecord?: number, maxRecords?: number): number;
  drain(into: Float64Array | ((rec: Float64Array) => void), atRecord = 0, maxRecords = Infinity): number {
    const n = this.recordSize;
    // Count once: records pushed while we drain wait for the next drain, so a fast producer cannot
    // keep a drain running forever.
    const available = this.size;
    if (typeof into === 'function') {
      const rec = this.#popRecord;
      for (let i = 0; i < available; i++) {
        this.#ring.pop(rec, n, 0);
        into(rec);
      }
      return available;
    }
    const where = `input ring '${this.name}'`;
    checkCount(atRecord, 'drain atRecord', where);
    if (maxRecords !== Infinity) checkCount(maxRecords, 'drain maxRecords', where);
    const room = Math.floor(into.length / n) - atRecord;
    if (room < 0) {
      throw new CheckError(`${where}: drain atRecord ${atRecord} is past the end of a ${into.length}-value array`);
    }
    const count = Math.min(available, room, maxRecords);
    if (count > 0) this.#ring.pop(into, count * n, atRecord * n);
    return count;
  }

  #checkWritten(written: number, expected: number): void {
    // Fewer elements than the room we saw means another thread pushed into this ring at the same time.
    if (written !== expected) {
      throw new CheckError(
        `input ring '${this.name}': wrote ${written} of ${expected} values; two threads pushed into one ` +
          `single-producer ring. Give each producer its own ring (RingSet)`,
      );
    }
  }

  #fullError(records: number): CapacityError {
    const waiting = this.size;
    return new CapacityError(
      `input ring '${this.name}' is full (${waiting} of ${this.capacity} records not yet drained)`,
      RING_CAPACITY_OPTION,
      waiting + records,
      this.capacity,
    );
  }
}

/**
 * N producers into one consumer, as N {@link RecordRing}s (one per producer) drained in a fixed order:
 * all available records of producer 0, then of producer 1, and so on.
 *
 * Determinism: the drained array depends only on what each producer had pushed when the drain
 * started, not on how the producers' pushes interleaved in time. A record pushed while a drain runs
 * arrives in that drain or the next; for bit-identical runs, producers finish a step's input before
 * the step drains it (or stamp records with their step and let the consumer hold back later ones).
 */
export class RingSet {
  readonly name: string;
  readonly fields: readonly string[];
  /** Elements per record (`fields.length`). */
  readonly recordSize: number;
  /** Capacity of each producer's ring, in records. */
  readonly capacity: number;
  /** Number of producers (rings). */
  readonly producers: number;

  readonly #header: SharedArrayBuffer;
  readonly #ringSabs: readonly SharedArrayBuffer[];
  readonly #rings: readonly RecordRing[];
  /** Per-drain snapshot of each ring's size, reused to avoid allocating per drain. */
  readonly #sizes: Float64Array;

  /** Allocates `producers` rings of `capacityRecords` records each. */
  static create(fields: readonly string[], producers: number, capacityRecords: number, name = 'input'): RingSet {
    const where = `input ring set '${name}'`;
    checkFields(fields, where);
    if (!Number.isInteger(producers) || producers < 1) {
      throw new CheckError(`${where}: producers must be a positive integer (got ${String(producers)})`);
    }
    checkCapacity(capacityRecords, fields.length, where);
    /* layout: [refused_0, refused_1, ..., refused_{P-1}] (BigInt64)
     * refused_p = records producer p's ring refused because it was full; written only by producer p */
    const header = new SharedArrayBuffer(producers * COUNTER_BYTES);
    const rings: SharedArrayBuffer[] = [];
    for (let p = 0; p < producers; p++) {
      /* layout of each ring: ringbuf.js's [write_index: u32, read_index: u32, storage: f64 × (capacity·fields + 1)] */
      rings.push(RingBuffer.getStorageForCapacity(capacityRecords * fields.length, Float64Array));
    }
    return new RingSet({ name, fields: [...fields], capacity: capacityRecords, header, rings });
  }

  /** Rebuilds a set from its descriptor, typically in another thread. */
  constructor(d: RingSetDescriptor) {
    const where = `input ring set '${d.name}'`;
    if (d.rings === undefined || d.rings.length === 0) {
      throw new CheckError(`${where}: descriptor.rings must list one SharedArrayBuffer per producer`);
    }
    if (!(d.header instanceof SharedArrayBuffer) || d.header.byteLength !== d.rings.length * COUNTER_BYTES) {
      throw new CheckError(
        `${where}: descriptor.header must be a SharedArrayBuffer of ${d.rings.length * COUNTER_BYTES} bytes ` +
          `(one BigInt64 per producer); build the descriptor with RingSet.create`,
      );
    }
    this.name = d.name;
    this.fields = Object.freeze([...d.fields]);
    this.recordSize = d.fields.length;
    this.capacity = d.capacity;
    this.producers = d.rings.length;
    this.#header = d.header;
    this.#ringSabs = [...d.rings];
    this.#rings = d.rings.map(
      (sab, p) =>
        new RecordRing({
          sab,
          fields: d.fields,
          capacity: d.capacity,
          name: `${d.name}[${p}]`,
          refused: { sab: d.header, slot: p },
        }),
    );
    this.#sizes = new Float64Array(this.producers);
  }

  /** The plain data to rebuild this set elsewhere: `new RingSet(set.descriptor())`. */
  descriptor(): RingSetDescriptor {
    return {
      name: this.name,
      fields: [...this.fields],
      capacity: this.capacity,
      header: this.#header,
      rings: [...this.#ringSabs],
    };
  }

  /** The ring producer `p` pushes into. Send `producer(p).descriptor()` to that producer's thread. */
  producer(p: number): RecordRing {
    if (!Number.isInteger(p) || p < 0 || p >= this.producers) {
      throw new CheckError(`input ring set '${this.name}': producer must be in 0..${this.producers - 1} (got ${String(p)})`);
    }
    return this.#rings[p]!;
  }

  /** Whole records available over all producers (a snapshot; see {@link RecordRing.size}). */
  get size(): number {
    let total = 0;
    for (const ring of this.#rings) total += ring.size;
    return total;
  }

  /** Records refused on producer `p`'s ring because it was full. */
  refused(p: number): number {
    return this.producer(p).refused;
  }

  /** Refused records per producer, in producer order. */
  refusedCounts(): number[] {
    return this.#rings.map((ring) => ring.refused);
  }

  /**
   * Drains into `out`, back to back: the records producer 0 had pushed when the drain started, then
   * producer 1's, and so on. Returns the number of records written. When `out` cannot hold them all,
   * the drain stops at the first record that does not fit and leaves it and every later producer's
   * records in their rings, so the order holds across drains. Consumer thread only.
   */
  drain(out: Float64Array): number {
    const sizes = this.#sizes;
    // Snapshot every ring first, so the result is a prefix of each producer's stream taken at about
    // the same moment, however long the copying below takes.
    for (let p = 0; p < this.producers; p++) sizes[p] = this.#rings[p]!.size;
    let at = 0;
    for (let p = 0; p < this.producers; p++) {
      const want = sizes[p]!;
      const got = this.#rings[p]!.drain(out, at, want);
      at += got;
      if (got < want) break;
    }
    return at;
  }
}
