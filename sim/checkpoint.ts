/**
 * Checkpoints (ARCHITECTURE §7): the state of a simulation between steps, saved as a directory and
 * loaded back, with a loader that treats every byte it reads as untrusted.
 *
 *   <checkpoints>/step-<N>/manifest.json          format, spec hash, step, seed, RNG, scenario, params,
 *                                                 backend, counts, and one entry per file below
 *   <checkpoints>/step-<N>/<Kind>.state.<f>.bin    live slots of a state column, raw little-endian
 *   <checkpoints>/step-<N>/graph.<g>.src.bin       edge sources (u32), in stored (source-sorted) order
 *   <checkpoints>/step-<N>/graph.<g>.dst.bin       edge destinations (u32)
 *   <checkpoints>/step-<N>/graph.<g>.field.<f>.bin per-edge attribute columns
 *
 * A checkpoint is written into `step-<N>.tmp-<pid>/` and renamed into place, so a reader sees a
 * complete checkpoint or none. {@link loadCheckpoint} validates the manifest (zod schema, then against
 * the running model), the directory listing, every file's type and size, and every checksum before it
 * builds a snapshot; {@link Simulation.restore} then writes it. See docs/checkpoints.md.
 *
 * The RNG is counter-based, keyed by (seed, kind, actor, step, stream, counter): seed and step are all
 * the RNG state there is, recorded as `rng: { kind: 'counter', seed, step }`.
 *
 * @example
 * ```ts
 * const saved = await saveCheckpoint(sim, 'runs/c1/checkpoints', { scenario: 'circles', params });
 * await pruneCheckpoints('runs/c1/checkpoints', 3);
 * // later, in a fresh process:
 * const snap = await loadCheckpoint(saved.dir, spec);   // CheckpointError before any state is touched
 * const sim2 = await Simulation.create(spec, { seed: snap.seed });
 * sim2.restore(snap);
 * ```
 */
import { createHash } from 'node:crypto';
import { constants as fsc, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CheckError } from '../src/errors.js';
import type { MessageSpec, ModelSpec } from '../src/model.js';
import { BYTES_PER, DTYPES, type DType, type TypedArray, typedView } from '../src/types.js';

/** The format tag every manifest carries; a loader reads exactly this version. */
export const CHECKPOINT_FORMAT = 'simloom/checkpoint@1';
/** The largest step a checkpoint holds (the control block stores the step as an i32). */
export const MAX_STEP = 0x7fffffff;
/** manifest.json larger than this is refused before it is read (a real one is a few KiB per kind). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Snapshots: what a checkpoint holds, independent of files

/** Live slots of the current buffer of one state column. */
export interface SnapshotColumn {
  /** `<Kind>.state.<field>` (the region key without its buffer suffix). */
  readonly key: string;
  readonly dtype: DType;
  /** `count(kind)` elements. */
  readonly data: TypedArray;
}

/** The edges of one graph in stored order (sorted by source), with their attribute columns. */
export interface SnapshotGraph {
  readonly name: string;
  readonly edges: number;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly fields: Readonly<Record<string, TypedArray>>;
}

/**
 * The state of a simulation between steps: enough to continue bit-identically. The RNG needs no
 * counters beyond `seed` and `step` (it is counter-based).
 */
export interface StateSnapshot {
  readonly step: number;
  readonly seed: number;
  /** Live actors per kind. */
  readonly counts: Readonly<Record<string, number>>;
  readonly columns: readonly SnapshotColumn[];
  readonly graphs: readonly SnapshotGraph[];
  /**
   * The live part of every column of the model's {@link carriedMessages} (key `<Message>.columns.<f>`),
   * and only those: absent or empty when the model has none.
   */
  readonly messages?: readonly SnapshotColumn[];
}

/** What {@link saveCheckpoint} needs from a simulation, whichever backend runs it. */
export interface Checkpointable {
  readonly spec: ModelSpec;
  snapshot(): StateSnapshot | Promise<StateSnapshot>;
  /** The columns of an array or graph message (the CPU's `Simulation.messageColumns`). */
  messageColumns?(name: string): Record<string, TypedArray>;
}

/** What {@link restoreSnapshot} needs: `restore()`, and access to carried message columns. */
export interface Restorable {
  readonly spec: ModelSpec;
  restore(snap: StateSnapshot): void | Promise<void>;
  /** True when `restore()` itself writes `snap.messages` (the GPU); else they go through messageColumns. */
  readonly restoresMessages?: boolean;
  messageColumns?(name: string): Record<string, TypedArray>;
}

/** A refused checkpoint: names the file, the problem and what to do, in one line. */
export class CheckpointError extends CheckError {
  /** The file or directory at fault. */
  readonly file: string;
  constructor(file: string, problem: string, fix: string, options?: ErrorOptions) {
    super(oneLine(`checkpoint ${file}: ${problem}; ${fix}`), options);
    this.file = file;
  }
}

const DAMAGED = 're-create the checkpoint, or resume from an earlier one';

/** Control characters (from crafted names or paths) would break the one-line contract of errors. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An untrusted string, quoted and cut short, for an error message. */
function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v) : String(v);
  return oneLine(s);
}

// ---------------------------------------------------------------------------------------------
// Spec hash and file names

/**
 * A stable hash of a model spec: SHA-256 (hex) of its canonical JSON (object keys sorted), leaving out
 * what does not shape the state or the step: kernel module URLs (they differ between a run from
 * sources and a built one, and between install paths) and parameter declarations (descriptions,
 * units; the parameter values themselves are hashed). Kernel code is not hashed.
 */
export function specHash(spec: ModelSpec): string {
  const identity = { ...spec, kinds: spec.kinds.map(({ kernels: _kernels, paramDecls: _paramDecls, ...rest }) => rest) };
  return createHash('sha256').update(`simloom/spec@1\n${canonicalJson(identity)}`).digest('hex');
}

/** JSON with object keys sorted at every level and undefined members left out. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x)).join(',')}]`;
  const o = v as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(o[k])}`);
  return `{${parts.join(',')}}`;
}

/** A file of a checkpoint: a state column or a graph column, and its dtype. */
export interface CheckpointFile {
  readonly key: string;
  readonly dtype: DType;
  readonly file: string;
}

/**
 * The files a checkpoint of `spec` holds, by key, in write order: state columns kind by kind, then
 * graphs, then the columns of {@link carriedMessages} (`<Message>.columns.<f>`). The file name is `<key>.bin`; keys are made of declared names (`[A-Za-z0-9_]`) and dots, so
 * a name never holds a path separator or `..`. Two keys that differ only in letter case (fields `x`
 * and `X`) would share a file on a case-insensitive file system, so the later one gets `~<n>` before
 * `.bin`. The loader requires exactly these names.
 */
export function checkpointFiles(spec: ModelSpec): Map<string, CheckpointFile> {
  const out = new Map<string, CheckpointFile>();
  const folded = new Set<string>();
  const add = (key: string, dtype: DType): void => {
    let file = `${key}.bin`;
    for (let n = 1; folded.has(file.toLowerCase()); n++) file = `${key}~${n}.bin`;
    folded.add(file.toLowerCase());
    out.set(key, { key, dtype, file });
  };
  for (const k of spec.kinds) for (const f of k.fields) add(`${k.name}.state.${f.name}`, f.type);
  for (const g of spec.graphs) {
    add(`graph.${g.name}.src`, 'u32');
    add(`graph.${g.name}.dst`, 'u32');
    for (const f of g.fields) add(`graph.${g.name}.field.${f.name}`, f.type);
  }
  for (const m of carriedMessages(spec)) for (const f of m.fields) add(`${m.name}.columns.${f.name}`, f.type);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Messages that carry values across steps

/**
 * The array and graph messages whose columns carry values from one step into a later one: those with
 * a writer that does not run every step (activation `every` k or `onMessage`). Their columns are not
 * rebuilt every step (unlike direct, bucket and spatial lists, and unlike array and graph messages
 * written every step), so a reader between two writes reads what the last write left. A checkpoint of
 * such a model holds their live part (`<Message>.columns.<f>`), and resume writes it back; without it
 * the first reads after a resume would see zeros.
 *
 * @example
 * ```ts
 * carriedMessages(spec).map((m) => m.name);   // ['Pub.board'] when Pub.publish runs every 3 steps
 * ```
 */
export function carriedMessages(spec: ModelSpec): MessageSpec[] {
  return spec.messages.filter((m) => (m.delivery.type === 'array' || m.delivery.type === 'graph') && spec.functions.some((f) => f.outputs.includes(m.name) && f.activation.type !== 'always'));
}

/** Why a message is carried, for error messages: its writers that do not run every step. */
function carriedWhy(spec: ModelSpec, m: MessageSpec): string {
  const writers = spec.functions.filter((f) => f.outputs.includes(m.name) && f.activation.type !== 'always');
  const how = writers.map((f) => `${f.name} (${f.activation.type === 'every' ? `every ${f.activation.k} steps` : `on ${f.activation.type === 'onMessage' ? f.activation.message : '?'}`})`);
  return `${m.delivery.type} message '${m.name}' is written by ${how.join(', ')} and keeps its values between writes`;
}

/** Live length of a carried message's columns: one per live sender (array) or per edge (graph). */
function messageLength(m: MessageSpec, counts: Readonly<Record<string, number>>, edges: (graph: string) => number): number {
  return m.delivery.type === 'graph' ? edges(m.delivery.graph) : counts[m.sender]!;
}

/** The snapshot with the carried message columns a backend's own snapshot() leaves out (the CPU's). */
function withCarriedMessages(sim: Checkpointable, snap: StateSnapshot): StateSnapshot {
  const carried = carriedMessages(sim.spec);
  if (carried.length === 0 || snap.messages !== undefined) return snap;
  if (typeof sim.messageColumns !== 'function') {
    throw new CheckError(`checkpoint of model '${sim.spec.name}': ${carriedWhy(sim.spec, carried[0]!)}, so a checkpoint must hold it, but this simulation gives no access to message columns (messageColumns)`);
  }
  const edges = (g: string): number => snap.graphs.find((x) => x.name === g)?.edges ?? 0;
  const messages: SnapshotColumn[] = [];
  for (const m of carried) {
    const cols = sim.messageColumns(m.name);
    const n = messageLength(m, snap.counts, edges);
    for (const f of m.fields) messages.push({ key: `${m.name}.columns.${f.name}`, dtype: f.type, data: cols[f.name]!.subarray(0, n) });
  }
  return { ...snap, messages };
}

/**
 * Restores a snapshot into a simulation, with the columns of its {@link carriedMessages}: `restore()`
 * writes the actor state and graphs, and a backend that does not write `snap.messages` itself (the
 * CPU) gets them through `messageColumns`, zeros past the live part. Everything is checked before
 * anything is written.
 *
 * @example
 * ```ts
 * const snap = await loadCheckpoint(dir, spec);
 * const sim = await Simulation.create(spec, { seed: snap.seed });
 * await restoreSnapshot(sim, snap);
 * ```
 */
export async function restoreSnapshot(sim: Restorable, snap: StateSnapshot): Promise<void> {
  const carried = carriedMessages(sim.spec);
  const writeHere = carried.length > 0 && sim.restoresMessages !== true;
  if (writeHere && typeof sim.messageColumns !== 'function') {
    throw new CheckError(`restore of model '${sim.spec.name}': ${carriedWhy(sim.spec, carried[0]!)}, but this simulation gives no access to message columns (messageColumns)`);
  }
  checkSnapshot(sim.spec, snap);
  await sim.restore(snap);
  if (!writeHere) return;
  const data = new Map((snap.messages ?? []).map((c) => [c.key, c.data]));
  for (const m of carried) {
    const cols = sim.messageColumns!(m.name);
    for (const f of m.fields) {
      const from = data.get(`${m.name}.columns.${f.name}`)!;
      const to = cols[f.name]!;
      to.set(from);
      to.fill(0, from.length);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEX64 = /^[0-9a-f]{64}$/;
const u32 = z.int().min(0).max(0xffffffff);
const step = z.int().min(0).max(MAX_STEP);

const FileEntrySchema = z.strictObject({
  key: z.string().max(300),
  dtype: z.enum(DTYPES as [DType, ...DType[]]),
  /** Elements. */
  length: z.int().min(0),
  /** File size in bytes: length × bytes per element. */
  bytes: z.int().min(0),
  sha256: z.string().regex(HEX64),
  file: z.string().max(320),
});

const GraphEntrySchema = z.strictObject({
  name: z.string().regex(NAME).max(200),
  from: z.string().regex(NAME).max(200),
  to: z.string().regex(NAME).max(200),
  edges: z.int().min(0),
  src: FileEntrySchema,
  dst: FileEntrySchema,
  fields: z.array(FileEntrySchema).max(10_000),
});

const ParamsSchema = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/).max(100), z.union([z.number(), z.boolean(), z.string().max(1000)]))
  .refine((o) => Object.keys(o).length <= 1000, 'more than 1000 parameters');

/** manifest.json, as zod checks it (shape and ranges; {@link loadCheckpoint} checks it against the model). */
export const ManifestSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  /** {@link specHash} of the model that wrote it. */
  specHash: z.string().regex(HEX64),
  /** Model name (informational; the spec hash decides). */
  model: z.string().max(200),
  /** Steps completed: the next step to run is `step`. */
  step,
  seed: u32,
  rng: z.strictObject({ kind: z.literal('counter'), seed: u32, step }),
  scenario: z.string().max(200).nullable(),
  params: ParamsSchema,
  backend: z.enum(['cpu', 'webgpu']),
  adapter: z.strictObject({ name: z.string().max(200), type: z.enum(['hardware', 'software']) }).nullable(),
  workers: z.int().min(0).max(65_536),
  createdAt: z.string().max(64),
  counts: z.record(z.string().regex(NAME).max(200), z.int().min(0)),
  columns: z.array(FileEntrySchema).max(100_000),
  graphs: z.array(GraphEntrySchema).max(10_000),
  /** Columns of the model's carried messages (see carriedMessages); absent when it has none. */
  messages: z.array(FileEntrySchema).max(100_000).optional(),
});

export type CheckpointManifest = z.infer<typeof ManifestSchema>;
export type CheckpointFileEntry = z.infer<typeof FileEntrySchema>;

/** Run facts recorded in the manifest (none affect loading). */
export interface CheckpointMeta {
  scenario?: string | null;
  params?: Readonly<Record<string, number | boolean | string>>;
  backend?: 'cpu' | 'webgpu';
  adapter?: { name: string; type: 'hardware' | 'software' } | null;
  workers?: number;
  /** ISO time (default: now); injectable for tests. */
  createdAt?: string;
  /** fsync every file and the directory before the rename (default true: a checkpoint survives a power cut). */
  fsync?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Snapshot checks (shared by the loader and Simulation.restore)

const ARRAY_OF: Readonly<Record<DType, new (n: number) => TypedArray>> = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
};

function isArrayOf(data: unknown, dtype: DType): data is TypedArray {
  return data instanceof ARRAY_OF[dtype];
}

/**
 * Checks a snapshot against the model before anything is written: step and seed in range (and the
 * seed equal to `seed` when given), a count for every kind within its capacity, exactly one column
 * per state field with its dtype and `count` elements, and exactly the model's graphs, each within
 * maxEdges with endpoints below the live counts. Throws {@link CheckError} naming the part.
 */
export function checkSnapshot(spec: ModelSpec, snap: StateSnapshot, seed?: number): void {
  const bad = (what: string): CheckError => new CheckError(`snapshot of model '${spec.name}': ${what}`);
  if (!Number.isInteger(snap.step) || snap.step < 0 || snap.step > MAX_STEP) throw bad(`step must be an integer in [0, ${MAX_STEP}], got ${show(snap.step)}`);
  if (!Number.isInteger(snap.seed) || snap.seed < 0 || snap.seed > 0xffffffff) throw bad(`seed must be an integer in [0, 4294967295], got ${show(snap.seed)}`);
  if (seed !== undefined && snap.seed !== seed) throw bad(`it was taken with seed ${snap.seed} but this simulation has seed ${seed}; create the simulation with { seed: ${snap.seed} }`);
  const kinds = new Map(spec.kinds.map((k) => [k.name, k]));
  for (const name of Object.keys(snap.counts)) if (!kinds.has(name)) throw bad(`counts names ${show(name)}, which is not a kind of the model`);
  for (const k of spec.kinds) {
    const n = Object.hasOwn(snap.counts, k.name) ? snap.counts[k.name] : undefined;
    if (n === undefined) throw bad(`counts has no entry for kind ${k.name}`);
    if (!Number.isInteger(n) || n < 0 || n > k.capacity) throw bad(`count of ${k.name} must be an integer in [0, capacity=${k.capacity}], got ${show(n)}`);
  }
  const fields = new Map<string, { dtype: DType; kind: string }>();
  for (const k of spec.kinds) for (const f of k.fields) fields.set(`${k.name}.state.${f.name}`, { dtype: f.type, kind: k.name });
  const seen = new Set<string>();
  for (const c of snap.columns) {
    const f = fields.get(c.key);
    if (!f) throw bad(`column ${show(c.key)} is not a state field of the model`);
    if (seen.has(c.key)) throw bad(`column ${c.key} appears twice`);
    seen.add(c.key);
    if (c.dtype !== f.dtype || !isArrayOf(c.data, f.dtype)) throw bad(`column ${c.key} must be ${f.dtype} data`);
    if (c.data.length !== snap.counts[f.kind]) throw bad(`column ${c.key} has ${c.data.length} elements but ${f.kind} has ${snap.counts[f.kind]} live actors`);
  }
  for (const key of fields.keys()) if (!seen.has(key)) throw bad(`column ${key} is missing`);
  const graphs = new Map(spec.graphs.map((g) => [g.name, g]));
  const seenGraphs = new Set<string>();
  for (const sg of snap.graphs) {
    const g = graphs.get(sg.name);
    if (!g) throw bad(`graph ${show(sg.name)} is not a graph of the model`);
    if (seenGraphs.has(g.name)) throw bad(`graph ${g.name} appears twice`);
    seenGraphs.add(g.name);
    const e = sg.edges;
    if (!Number.isInteger(e) || e < 0 || e > g.maxEdges) throw bad(`graph ${g.name} must have an integer number of edges in [0, maxEdges=${g.maxEdges}], got ${show(e)}`);
    if (!(sg.src instanceof Uint32Array) || !(sg.dst instanceof Uint32Array) || sg.src.length !== e || sg.dst.length !== e) throw bad(`graph ${g.name}: src and dst must be Uint32Arrays of ${e} edges`);
    const nFrom = snap.counts[g.from]!;
    const nTo = snap.counts[g.to]!;
    const badSrc = firstAtOrAbove(sg.src, nFrom);
    if (badSrc >= 0) throw bad(`graph ${g.name}: edge ${badSrc} has source ${sg.src[badSrc]}, outside [0, ${nFrom}) of ${g.from}`);
    const badDst = firstAtOrAbove(sg.dst, nTo);
    if (badDst >= 0) throw bad(`graph ${g.name}: edge ${badDst} has destination ${sg.dst[badDst]}, outside [0, ${nTo}) of ${g.to}`);
    for (const name of Object.keys(sg.fields)) if (!g.fields.some((f) => f.name === name)) throw bad(`graph ${g.name} has no field ${show(name)}`);
    for (const f of g.fields) {
      const col = Object.hasOwn(sg.fields, f.name) ? sg.fields[f.name] : undefined;
      if (!isArrayOf(col, f.type) || col.length !== e) throw bad(`graph ${g.name}: field ${f.name} must be ${f.type} data of ${e} edges`);
    }
  }
  for (const g of spec.graphs) if (!seenGraphs.has(g.name)) throw bad(`graph ${g.name} is missing`);
  const carried = new Map<string, { m: MessageSpec; dtype: DType }>();
  for (const m of carriedMessages(spec)) for (const f of m.fields) carried.set(`${m.name}.columns.${f.name}`, { m, dtype: f.type });
  const seenMessages = new Set<string>();
  const edgesOf = (g: string): number => snap.graphs.find((x) => x.name === g)!.edges;
  for (const c of snap.messages ?? []) {
    const e = carried.get(c.key);
    if (!e) throw bad(`message column ${show(c.key)} is not a column of a message the model carries across steps`);
    if (seenMessages.has(c.key)) throw bad(`message column ${c.key} appears twice`);
    seenMessages.add(c.key);
    if (c.dtype !== e.dtype || !isArrayOf(c.data, e.dtype)) throw bad(`message column ${c.key} must be ${e.dtype} data`);
    const n = messageLength(e.m, snap.counts, edgesOf);
    if (c.data.length !== n) throw bad(`message column ${c.key} has ${c.data.length} elements, expected ${n}`);
  }
  for (const [key, e] of carried) if (!seenMessages.has(key)) throw bad(`message column ${key} is missing: ${carriedWhy(spec, e.m)}`);
}

/** Index of the first element ≥ limit, or −1. */
function firstAtOrAbove(a: Uint32Array, limit: number): number {
  for (let i = 0; i < a.length; i++) if (a[i]! >= limit) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Byte order: files are little-endian; a big-endian host swaps on the way in and out.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of every `width`-byte element, in place. */
export function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function bytesOf(data: TypedArray): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const copy = Uint8Array.from(view);
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Save

/** The outcome of {@link saveCheckpoint}. */
export interface SavedCheckpoint {
  /** The final directory, `<dir>/step-<N>`. */
  readonly dir: string;
  readonly manifest: CheckpointManifest;
  /** Bytes of column data written (manifest excluded). */
  readonly bytes: number;
}

/**
 * Writes a checkpoint of `sim` into `<dir>/step-<N>/` (N = steps completed), through
 * `step-<N>.tmp-<pid>/` and a rename, replacing an existing `step-<N>/`. The simulation must not step
 * until the promise settles (the snapshot's arrays are views of its memory); {@link beginCheckpoint}
 * returns once the columns are written, and makes them durable in the background. Throws {@link CheckpointError} naming
 * the path if the file system refuses; no partial checkpoint remains.
 */
export async function saveCheckpoint(sim: Checkpointable, dir: string, meta: CheckpointMeta = {}): Promise<SavedCheckpoint> {
  const snap = withCarriedMessages(sim, await sim.snapshot());
  checkSnapshot(sim.spec, snap);
  return writeSnapshot(sim.spec, snap, dir, meta, null);
}

/** A checkpoint whose columns are written and which is being made durable (see {@link beginCheckpoint}). */
export interface PendingCheckpoint {
  /** The step of the state it holds. */
  readonly step: number;
  /** The directory it will have, `<dir>/step-<step>`. */
  readonly dir: string;
  /** Settles when the checkpoint is in place (or with the {@link CheckpointError} that stopped it). */
  readonly done: Promise<SavedCheckpoint>;
}

/**
 * Starts a checkpoint that holds the simulation up only until its columns are written: takes the
 * snapshot (on the GPU, the download), hashes and writes every column into the page cache, and
 * returns. The simulation may then step on (the snapshot's arrays are no longer read). The slow part
 * continues in the background: the fsyncs, which wait for the disk, then the manifest and the
 * renames. `done` settles when the checkpoint is in place. The result on disk is the same as
 * {@link saveCheckpoint}'s, and no copy of the state is made. Writes of the same step in one process
 * are serialised, so a second request waits for the first.
 *
 * @example
 * ```ts
 * const pending = await beginCheckpoint(sim, 'runs/c1/checkpoints', meta);
 * await sim.run(100);                 // steps on while the files are made durable
 * const saved = await pending.done;   // throws the CheckpointError if that failed
 * ```
 */
export async function beginCheckpoint(sim: Checkpointable, dir: string, meta: CheckpointMeta = {}): Promise<PendingCheckpoint> {
  const snap = withCarriedMessages(sim, await sim.snapshot());
  checkSnapshot(sim.spec, snap);
  let release!: () => void;
  const columnsWritten = new Promise<void>((resolve) => (release = resolve));
  const done = writeSnapshot(sim.spec, snap, dir, meta, release);
  // Handled here so that a failure nobody awaits yet is not an unhandled rejection; awaiting `done` still throws it.
  done.catch(() => undefined);
  // A failure before the columns are written rejects here (columnsWritten then never settles).
  await Promise.race([columnsWritten, done]);
  return { step: snap.step, dir: path.join(dir, `step-${snap.step}`), done };
}

/** Writes of one final directory in this process, one after the other (they share a temporary name). */
const writing = new Map<string, Promise<unknown>>();

async function writeSnapshot(spec: ModelSpec, snap: StateSnapshot, dir: string, meta: CheckpointMeta, onWritten: (() => void) | null): Promise<SavedCheckpoint> {
  const final = path.join(dir, `step-${snap.step}`);
  const before = writing.get(final) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(() => writeSnapshotNow(spec, snap, dir, meta, onWritten));
  writing.set(final, mine);
  try {
    return await mine;
  } finally {
    if (writing.get(final) === mine) writing.delete(final);
  }
}


/**
 * Writes the files of a checkpoint. With `onWritten`, the column files are written without fsync and
 * `onWritten()` is called once they all are (the snapshot's arrays are no longer read after that);
 * their fsyncs, the manifest and the renames follow.
 */
async function writeSnapshotNow(spec: ModelSpec, snap: StateSnapshot, dir: string, meta: CheckpointMeta, onWritten: (() => void) | null): Promise<SavedCheckpoint> {
  const files = checkpointFiles(spec);
  const entryOf = (key: string, data: TypedArray): { entry: Omit<CheckpointFileEntry, 'sha256'>; data: TypedArray } => {
    const f = files.get(key)!;
    return { entry: { key, dtype: f.dtype, length: data.length, bytes: data.byteLength, file: f.file }, data };
  };
  const plan: { entry: Omit<CheckpointFileEntry, 'sha256'>; data: TypedArray }[] = [];
  for (const c of snap.columns) plan.push(entryOf(c.key, c.data));
  for (const g of snap.graphs) {
    plan.push(entryOf(`graph.${g.name}.src`, g.src), entryOf(`graph.${g.name}.dst`, g.dst));
    const gs = spec.graphs.find((x) => x.name === g.name)!;
    for (const f of gs.fields) plan.push(entryOf(`graph.${g.name}.field.${f.name}`, g.fields[f.name]!));
  }
  for (const c of snap.messages ?? []) plan.push(entryOf(c.key, c.data));

  const final = path.join(dir, `step-${snap.step}`);
  const tmp = `${final}.tmp-${process.pid}`;
  const fsync = meta.fsync ?? true;
  const written = new Map<string, CheckpointFileEntry>();
  let total = 0;
  await fsStep(dir, 'could not create the checkpoints directory', () => mkdir(dir, { recursive: true }));
  await fsStep(tmp, 'could not clear a leftover temporary directory', () => rm(tmp, { recursive: true, force: true }));
  await fsStep(tmp, 'could not create the temporary directory', () => mkdir(tmp));
  try {
    // Hash a column while the previous one is being written (the write runs on libuv's threads).
    let pending: Promise<void> | null = null;
    for (const p of plan) {
      const bytes = bytesOf(p.data);
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (pending) await pending;
      const target = path.join(tmp, p.entry.file);
      pending = fsStep(target, 'could not write', () => writeWhole(target, bytes, fsync && !onWritten));
      written.set(p.entry.key, { ...p.entry, sha256: sha });
      total += bytes.length;
    }
    if (pending) await pending;
    if (onWritten) {
      // Every column is in the page cache: the caller may let the simulation step on. Making the
      // files durable (the slow part: it waits for the disk) happens after that.
      onWritten();
      if (fsync) {
        for (const p of plan) {
          const target = path.join(tmp, p.entry.file);
          await fsStep(target, 'could not fsync', () => syncFile(target));
        }
      }
    }
    const entry = (key: string): CheckpointFileEntry => written.get(key)!;
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      specHash: specHash(spec),
      model: spec.name,
      step: snap.step,
      seed: snap.seed,
      rng: { kind: 'counter', seed: snap.seed, step: snap.step },
      scenario: meta.scenario ?? null,
      params: { ...(meta.params ?? {}) },
      backend: meta.backend ?? 'cpu',
      adapter: meta.adapter ? { name: meta.adapter.name, type: meta.adapter.type } : null,
      workers: meta.workers ?? 0,
      createdAt: meta.createdAt ?? new Date().toISOString(),
      counts: { ...snap.counts },
      columns: snap.columns.map((c) => entry(c.key)),
      graphs: snap.graphs.map((g) => {
        const gs = spec.graphs.find((x) => x.name === g.name)!;
        return {
          name: g.name,
          from: gs.from,
          to: gs.to,
          edges: g.edges,
          src: entry(`graph.${g.name}.src`),
          dst: entry(`graph.${g.name}.dst`),
          fields: gs.fields.map((f) => entry(`graph.${g.name}.field.${f.name}`)),
        };
      }),
      // Only for a model with carried messages: every other checkpoint keeps the manifest it always had.
      ...(snap.messages && snap.messages.length > 0 ? { messages: snap.messages.map((c) => entry(c.key)) } : {}),
    };
    // The writer obeys the reader's schema: a manifest this loader would refuse is never written.
    const self = ManifestSchema.safeParse(manifest);
    if (!self.success) throw new CheckError(`checkpoint metadata: ${describeIssue(self.error.issues[0])}; pass scenario, params and adapter values the manifest can hold`);
    const manifestPath = path.join(tmp, 'manifest.json');
    await fsStep(manifestPath, 'could not write', () => writeWhole(manifestPath, Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), fsync));
    if (fsync) await syncDir(tmp);
    // rename() cannot replace a non-empty directory: move an existing step-<N> aside first.
    const old = `${final}.old-${process.pid}`;
    const existing = await lstat(final).catch(() => null);
    if (existing) await fsStep(final, 'could not move the existing checkpoint aside', () => rename(final, old));
    await fsStep(final, 'could not rename the temporary directory into place', () => rename(tmp, final));
    if (existing) await rm(old, { recursive: true, force: true });
    if (fsync) await syncDir(dir);
    return { dir: final, manifest, bytes: total };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Runs a file-system step, turning its error into a {@link CheckpointError} that names `where`. */
async function fsStep<T>(where: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CheckError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new CheckpointError(where, `${what} (${e.code ?? e.name}: ${e.message})`, 'check the path, its permissions and the free disk space', { cause: err });
  }
}

async function writeWhole(file: string, bytes: Uint8Array, fsync: boolean): Promise<void> {
  // 'wx': the temporary directory is new, so an existing entry (a planted symlink) is an error.
  const fh = await open(file, 'wx');
  try {
    for (let off = 0; off < bytes.length; ) {
      const { bytesWritten } = await fh.write(bytes, off, Math.min(bytes.length - off, 1 << 30));
      off += bytesWritten;
    }
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a file written earlier (through a new read-only descriptor: fsync flushes the file, not the descriptor). */
async function syncFile(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so that the names in it (and a rename into it) are durable; not every file system can. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EINVAL/EPERM on file systems (and platforms) that cannot fsync a directory.
  } finally {
    await fh?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Listing and pruning

/** `step-<N>` directories under `dir`, by ascending N (symlinks and other names are ignored). */
export async function listCheckpoints(dir: string): Promise<{ step: number; dir: string }[]> {
  const names = await fsStep(dir, 'could not list the checkpoints directory', () => readdir(dir));
  const out: { step: number; dir: string }[] = [];
  for (const name of names) {
    const m = /^step-(\d{1,10})$/.exec(name);
    if (!m) continue;
    const st = await lstat(path.join(dir, name)).catch(() => null);
    if (st?.isDirectory()) out.push({ step: Number(m[1]), dir: path.join(dir, name) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The newest `step-<N>` under `dir`, or `dir` itself when it holds a manifest.json; null if neither. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  const own = await lstat(path.join(dir, 'manifest.json')).catch(() => null);
  if (own) return dir;
  const all = await listCheckpoints(dir).catch(() => []);
  return all.at(-1)?.dir ?? null;
}

/**
 * Keeps the `keep` newest `step-<N>` directories under `dir` and removes the older ones, as well as
 * temporary `step-<N>.tmp-<pid>` / `.old-<pid>` directories left by processes that are gone. (A
 * writer that died between moving an existing `step-<N>` aside and renaming its replacement into
 * place leaves only `step-<N>.old-<pid>`: that one is renamed back first, not removed.)
 * Returns the removed paths.
 */
export async function pruneCheckpoints(dir: string, keep: number): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 1) throw new CheckError(`pruneCheckpoints: keep must be a positive integer, got ${show(keep)}`);
  const removed: string[] = [];
  const names = await fsStep(dir, 'could not list the checkpoints directory', () => readdir(dir));
  for (const name of names.sort()) {
    const m = /^(step-\d{1,10})\.(tmp|old)-(\d{1,10})$/.exec(name);
    if (!m || Number(m[3]) === process.pid || processAlive(Number(m[3]))) continue;
    const p = path.join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (!st?.isDirectory()) continue;
    const final = path.join(dir, m[1]!);
    if (m[2] === 'old' && !(await lstat(final).catch(() => null))) {
      await fsStep(p, 'could not restore a checkpoint moved aside by a writer that died', () => rename(p, final));
      continue;
    }
    await fsStep(p, 'could not remove a leftover temporary directory', () => rm(p, { recursive: true, force: true }));
    removed.push(p);
  }
  const all = await listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    await fsStep(c.dir, 'could not remove an old checkpoint', () => rm(c.dir, { recursive: true, force: true }));
    removed.push(c.dir);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Load

/** A snapshot read from disk, with the manifest it came with. */
export interface LoadedSnapshot extends StateSnapshot {
  readonly dir: string;
  readonly manifest: CheckpointManifest;
}

// O_NOFOLLOW: a symlink swapped in after lstat still fails (ELOOP). O_NONBLOCK: a FIFO planted as a
// column file opens at once (and is then refused by fstat) instead of blocking the loader forever.
const OPEN_UNTRUSTED = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0);

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid';
  const where = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
  return `${where || '(top level)'}: ${issue.message}`;
}

/** Opens an untrusted file of the checkpoint: a regular file, not a symlink, of `bytes` bytes when given. */
async function openChecked(file: string, bytes?: number): Promise<{ fh: FileHandle; size: number }> {
  const st = await lstatChecked(file);
  if (bytes !== undefined && st.size !== bytes) {
    throw new CheckpointError(file, `has ${st.size} bytes but the manifest says ${bytes} (truncated, extended or replaced)`, DAMAGED);
  }
  let fh: FileHandle;
  try {
    fh = await open(file, OPEN_UNTRUSTED);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ELOOP' ? 'is a symbolic link (a checkpoint holds plain files only)' : `cannot be opened (${code ?? String(err)})`;
    throw new CheckpointError(file, problem, DAMAGED, { cause: err });
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile()) throw new CheckpointError(file, 'is not a regular file', DAMAGED);
    if (bytes !== undefined && fst.size !== bytes) throw new CheckpointError(file, `has ${fst.size} bytes but the manifest says ${bytes}`, DAMAGED);
    return { fh, size: fst.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function lstatChecked(file: string): Promise<Stats> {
  let st: Stats;
  try {
    st = await lstat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(file, code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? String(err)})`, DAMAGED, { cause: err });
  }
  if (st.isSymbolicLink()) throw new CheckpointError(file, 'is a symbolic link (a checkpoint holds plain files only)', DAMAGED);
  if (!st.isFile()) throw new CheckpointError(file, 'is not a regular file', DAMAGED);
  return st;
}

/** Reads exactly `bytes` bytes into a fresh buffer (the size was checked against the manifest first). */
async function readExactly(file: string, bytes: number): Promise<Uint8Array> {
  const { fh } = await openChecked(file, bytes);
  try {
    const buf = new Uint8Array(new ArrayBuffer(bytes));
    for (let off = 0; off < bytes; ) {
      const { bytesRead } = await fh.read(buf, off, Math.min(bytes - off, 1 << 30), off);
      if (bytesRead === 0) throw new CheckpointError(file, `ended after ${off} of ${bytes} bytes (truncated while being read)`, DAMAGED);
      off += bytesRead;
    }
    // A file that grew between fstat and here is not the file the manifest describes.
    const { bytesRead } = await fh.read(new Uint8Array(1), 0, 1, bytes);
    if (bytesRead !== 0) throw new CheckpointError(file, `is longer than the ${bytes} bytes the manifest says`, DAMAGED);
    return buf;
  } catch (err) {
    if (err instanceof CheckError) throw err;
    throw new CheckpointError(file, `could not be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, DAMAGED, { cause: err });
  } finally {
    await fh.close();
  }
}

/**
 * Reads and validates `<dir>/manifest.json` on its own (no model needed): size, UTF-8, JSON, format
 * version, and the zod schema. `simloom resume` and `inspect` read it to find the scenario, params
 * and seed before the model exists.
 */
export async function readCheckpointManifest(dir: string): Promise<CheckpointManifest> {
  const file = path.join(dir, 'manifest.json');
  // The directory itself is the user's argument and may be reached through a symlink; its entries may not.
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new CheckpointError(dir, st ? 'is not a directory' : 'does not exist', 'pass a checkpoint directory (…/checkpoints/step-<N>)');
  const mst = await lstat(file).catch(() => null);
  if (!mst) throw new CheckpointError(dir, 'holds no manifest.json, so it is not a checkpoint', 'pass a checkpoint directory (…/checkpoints/step-<N>)');
  if (mst.isFile() && mst.size > MAX_MANIFEST_BYTES) throw new CheckpointError(file, `is ${mst.size} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have`, DAMAGED);
  const { fh, size } = await openChecked(file);
  let text: string;
  try {
    if (size > MAX_MANIFEST_BYTES) throw new CheckpointError(file, `is ${size} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have`, DAMAGED);
    const buf = new Uint8Array(size);
    for (let off = 0; off < size; ) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) throw new CheckpointError(file, 'was truncated while being read', DAMAGED);
      off += bytesRead;
    }
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (err) {
    if (err instanceof CheckError) throw err;
    throw new CheckpointError(file, 'is not valid UTF-8 text', DAMAGED, { cause: err });
  } finally {
    await fh.close();
  }
  let json: unknown;
  try {
    // A '__proto__' member is never written by simloom; refuse it rather than let a schema drop it silently.
    json = JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__') throw new CheckpointError(file, "holds a '__proto__' member", DAMAGED);
      return value;
    });
  } catch (err) {
    if (err instanceof CheckError) throw err;
    const why = err instanceof RangeError ? 'it nests too deeply' : err instanceof Error ? err.message : String(err);
    throw new CheckpointError(file, `is not valid JSON (${why})`, DAMAGED, { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError(file, 'is not a JSON object', DAMAGED);
  const format = (json as { format?: unknown }).format;
  if (format !== CHECKPOINT_FORMAT) {
    const problem = typeof format === 'string' ? `has format ${show(format)}, but this simloom reads '${CHECKPOINT_FORMAT}' only` : `has no format tag '${CHECKPOINT_FORMAT}'`;
    throw new CheckpointError(file, problem, typeof format === 'string' && format.startsWith('simloom/checkpoint@') ? 'resume it with the simloom version that wrote it' : DAMAGED);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw new CheckpointError(file, `field ${describeIssue(parsed.error.issues[0])}`, DAMAGED);
  const m = parsed.data;
  if (m.rng.seed !== m.seed || m.rng.step !== m.step) throw new CheckpointError(file, `rng (seed ${m.rng.seed}, step ${m.rng.step}) disagrees with seed ${m.seed} and step ${m.step}`, DAMAGED);
  return m;
}

/**
 * Loads the checkpoint in `dir` (a `step-<N>` directory) for the model `spec`, treating every byte as
 * untrusted. Before reading any column data it checks: the manifest ({@link readCheckpointManifest}),
 * its spec hash against `spec`, counts within capacities, every column and graph against the model
 * (key, dtype, length = live count or edges, bytes = length × element size, file name = the safe
 * mapping of its key), no missing, duplicated or extra entries in the manifest or the directory, and
 * every file a regular file (not a symlink) of the stated size. Then it reads each file into a buffer
 * of that checked size, verifies its SHA-256, and checks graph endpoints against the live counts.
 * Any failure is a {@link CheckpointError} naming the file; nothing outside the returned snapshot is
 * touched, so a failed load leaves a simulation as it was.
 */
export async function loadCheckpoint(dir: string, spec: ModelSpec): Promise<LoadedSnapshot> {
  const m = await readCheckpointManifest(dir);
  const manifestFile = path.join(dir, 'manifest.json');
  const refuse = (problem: string, fix = DAMAGED): CheckpointError => new CheckpointError(manifestFile, problem, fix);
  const hash = specHash(spec);
  if (m.specHash !== hash) {
    const scenario = m.scenario === null ? '' : ` (scenario ${show(m.scenario)}, params ${show(JSON.stringify(m.params))})`;
    throw refuse(
      `was written by a different model (${show(m.model)}, spec hash ${m.specHash.slice(0, 12)}…) than the one running ('${spec.name}', ${hash.slice(0, 12)}…)`,
      `resume it with the scenario and parameters it was written with${scenario}`,
    );
  }

  // Counts: exactly the model's kinds, each within its capacity.
  const counts: Record<string, number> = {};
  for (const name of Object.keys(m.counts)) if (!spec.kinds.some((k) => k.name === name)) throw refuse(`counts names ${show(name)}, which is not a kind of model '${spec.name}'`);
  for (const k of spec.kinds) {
    if (!Object.hasOwn(m.counts, k.name)) throw refuse(`counts has no entry for kind ${k.name}`);
    const n = m.counts[k.name]!;
    if (n > k.capacity) throw refuse(`counts.${k.name} is ${n}, above the capacity ${k.capacity}`);
    counts[k.name] = n;
  }

  // Every file entry against the model's file table, before any data is read.
  const files = checkpointFiles(spec);
  const listed = new Map<string, CheckpointFileEntry>();
  const checkEntry = (e: CheckpointFileEntry, where: string, expectLength: number): void => {
    const f = files.get(e.key);
    if (!f) throw refuse(`${where} has key ${show(e.key)}, which is not a column of model '${spec.name}'`);
    if (listed.has(e.key)) throw refuse(`${where}: ${e.key} is listed twice`);
    if (e.dtype !== f.dtype) throw refuse(`${where}: ${e.key} is ${e.dtype} but the model declares ${f.dtype}`);
    if (e.length !== expectLength) throw refuse(`${where}: ${e.key} has length ${e.length}, expected ${expectLength}`);
    if (e.bytes !== e.length * BYTES_PER[e.dtype]) throw refuse(`${where}: ${e.key} has ${e.bytes} bytes, not length × ${BYTES_PER[e.dtype]} = ${e.length * BYTES_PER[e.dtype]}`);
    // The file name must be exactly the safe mapping of its key: no '..', '/', absolute paths or aliases.
    if (e.file !== f.file) throw refuse(`${where}: ${e.key} names file ${show(e.file)}, expected ${show(f.file)}`);
    listed.set(e.key, e);
  };
  const kindOf = new Map<string, string>();
  for (const k of spec.kinds) for (const f of k.fields) kindOf.set(`${k.name}.state.${f.name}`, k.name);
  m.columns.forEach((e, i) => {
    const kind = kindOf.get(e.key);
    if (kind === undefined) throw refuse(`columns[${i}] has key ${show(e.key)}, which is not a state field of model '${spec.name}'`);
    checkEntry(e, `columns[${i}]`, counts[kind]!);
  });
  for (const key of kindOf.keys()) if (!listed.has(key)) throw refuse(`column ${key} is missing from columns`);
  const graphEdges = new Map<string, number>();
  m.graphs.forEach((ge, i) => {
    const g = spec.graphs.find((x) => x.name === ge.name);
    if (!g) throw refuse(`graphs[${i}] names graph ${show(ge.name)}, which model '${spec.name}' does not have`);
    if (graphEdges.has(g.name)) throw refuse(`graphs[${i}]: graph ${g.name} is listed twice`);
    if (ge.from !== g.from || ge.to !== g.to) throw refuse(`graphs[${i}]: graph ${g.name} goes ${show(ge.from)} → ${show(ge.to)}, but the model's goes ${g.from} → ${g.to}`);
    if (ge.edges > g.maxEdges) throw refuse(`graphs[${i}]: graph ${g.name} has ${ge.edges} edges, above maxEdges ${g.maxEdges}`);
    graphEdges.set(g.name, ge.edges);
    const where = `graphs[${i}]`;
    if (ge.src.key !== `graph.${g.name}.src`) throw refuse(`${where}.src has key ${show(ge.src.key)}, expected graph.${g.name}.src`);
    if (ge.dst.key !== `graph.${g.name}.dst`) throw refuse(`${where}.dst has key ${show(ge.dst.key)}, expected graph.${g.name}.dst`);
    checkEntry(ge.src, `${where}.src`, ge.edges);
    checkEntry(ge.dst, `${where}.dst`, ge.edges);
    ge.fields.forEach((fe, j) => {
      if (!g.fields.some((f) => fe.key === `graph.${g.name}.field.${f.name}`)) throw refuse(`${where}.fields[${j}] has key ${show(fe.key)}, which is not a field of graph ${g.name}`);
      checkEntry(fe, `${where}.fields[${j}]`, ge.edges);
    });
    for (const f of g.fields) if (!listed.has(`graph.${g.name}.field.${f.name}`)) throw refuse(`${where}: field ${f.name} of graph ${g.name} is missing`);
  });
  for (const g of spec.graphs) if (!graphEdges.has(g.name)) throw refuse(`graph ${g.name} is missing from graphs`);
  const carried = new Map<string, MessageSpec>();
  for (const msg of carriedMessages(spec)) for (const f of msg.fields) carried.set(`${msg.name}.columns.${f.name}`, msg);
  (m.messages ?? []).forEach((e, i) => {
    const msg = carried.get(e.key);
    if (!msg) throw refuse(`messages[${i}] has key ${show(e.key)}, which is not a column of a message that model '${spec.name}' carries across steps`);
    checkEntry(e, `messages[${i}]`, messageLength(msg, counts, (g) => graphEdges.get(g)!));
  });
  for (const [key, msg] of carried) {
    if (!listed.has(key)) {
      throw refuse(
        `message column ${key} is missing from messages (${carriedWhy(spec, msg)}, so the steps after a resume read it)`,
        'the checkpoint was written without it (by an older simloom, or edited); run the scenario again from the start',
      );
    }
  }

  // The directory holds exactly manifest.json and the listed files; each is a plain file of its size.
  const names = await fsStep(dir, 'could not list the checkpoint directory', () => readdir(dir));
  const expected = new Set([...listed.values()].map((e) => e.file));
  for (const name of names) {
    if (name !== 'manifest.json' && !expected.has(name)) {
      throw new CheckpointError(path.join(dir, name), 'is not listed in manifest.json (a checkpoint holds manifest.json and the files it lists)', 'remove it, or re-create the checkpoint');
    }
  }
  for (const e of listed.values()) {
    const file = path.join(dir, e.file);
    const st = await lstatChecked(file);
    if (st.size !== e.bytes) throw new CheckpointError(file, `has ${st.size} bytes but the manifest says ${e.bytes} (truncated, extended or replaced)`, DAMAGED);
  }

  // Read and verify. The next file's read runs on libuv's threads while this one is hashed.
  const order = [...listed.values()];
  const data = new Map<string, TypedArray>();
  let inflight: Promise<Uint8Array> | null = order[0] ? readExactly(path.join(dir, order[0].file), order[0].bytes) : null;
  try {
    for (let i = 0; i < order.length; i++) {
      const e = order[i]!;
      const bytes = await inflight!;
      const next = order[i + 1];
      inflight = next ? readExactly(path.join(dir, next.file), next.bytes) : null;
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== e.sha256) throw new CheckpointError(path.join(dir, e.file), `has SHA-256 ${sha.slice(0, 12)}…, but the manifest says ${e.sha256.slice(0, 12)}… (corrupted)`, DAMAGED);
      if (!LITTLE_ENDIAN) swapBytes(bytes, BYTES_PER[e.dtype]);
      data.set(e.key, typedView(e.dtype, bytes.buffer, 0, e.length));
    }
  } finally {
    // Never leave a read running (and its rejection unobserved) behind a refusal.
    if (inflight) await inflight.catch(() => undefined);
  }

  const graphs: SnapshotGraph[] = spec.graphs.map((g) => {
    const src = data.get(`graph.${g.name}.src`) as Uint32Array;
    const dst = data.get(`graph.${g.name}.dst`) as Uint32Array;
    const nFrom = counts[g.from]!;
    const nTo = counts[g.to]!;
    const bs = firstAtOrAbove(src, nFrom);
    if (bs >= 0) throw new CheckpointError(path.join(dir, files.get(`graph.${g.name}.src`)!.file), `edge ${bs} has source ${src[bs]}, outside the ${nFrom} live ${g.from} actors`, DAMAGED);
    const bd = firstAtOrAbove(dst, nTo);
    if (bd >= 0) throw new CheckpointError(path.join(dir, files.get(`graph.${g.name}.dst`)!.file), `edge ${bd} has destination ${dst[bd]}, outside the ${nTo} live ${g.to} actors`, DAMAGED);
    const fields: Record<string, TypedArray> = {};
    for (const f of g.fields) fields[f.name] = data.get(`graph.${g.name}.field.${f.name}`)!;
    return { name: g.name, edges: graphEdges.get(g.name)!, src, dst, fields };
  });
  const columns: SnapshotColumn[] = [];
  for (const k of spec.kinds) for (const f of k.fields) columns.push({ key: `${k.name}.state.${f.name}`, dtype: f.type, data: data.get(`${k.name}.state.${f.name}`)! });
  const messages: SnapshotColumn[] = [...carried.keys()].map((key) => ({ key, dtype: listed.get(key)!.dtype, data: data.get(key)! }));
  const snap: LoadedSnapshot = { dir, manifest: m, step: m.step, seed: m.seed, counts, columns, graphs, ...(messages.length > 0 ? { messages } : {}) };
  try {
    checkSnapshot(spec, snap);
  } catch (err) {
    // Everything above should have caught it; keep the contract (a CheckpointError naming the file).
    throw new CheckpointError(manifestFile, err instanceof Error ? err.message : String(err), DAMAGED, { cause: err });
  }
  return snap;
}
