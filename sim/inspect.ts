/**
 * `simloom inspect <checkpoint>`: a checkpoint's manifest, and per-kind statistics of its state (live
 * actors; per field min, mean and max over the live slots, in f64).
 *
 * The column data is read through the untrusted loader (sim/checkpoint.ts), which needs the model the
 * checkpoint was written for: it is rebuilt from the scenario and parameters in the manifest, as
 * `resume` does. When that is impossible (no scenario recorded, the scenario is gone, or its model
 * changed since), the manifest is still shown and `statsNote` says why there are no statistics.
 */
import { compileModel } from '../src/model.js';
import { type CheckpointManifest, loadCheckpoint, readCheckpointManifest } from './checkpoint.js';
import { resolveCheckpoint } from './run.js';
import { loadScenario, parseParams } from './scenario.js';

export interface FieldStats {
  dtype: string;
  min: number;
  mean: number;
  max: number;
  /** NaN or ±Infinity values (left out of min, mean and max). */
  nonFinite: number;
}

export interface CheckpointInspection {
  dir: string;
  manifest: CheckpointManifest;
  /** Per kind: live actors and per-field statistics; null when the state could not be loaded. */
  kinds: Record<string, { count: number; fields: Record<string, FieldStats> }> | null;
  graphs: Record<string, { edges: number }>;
  /** Bytes of column data. */
  bytes: number;
  statsNote?: string;
}

export async function inspectCheckpoint(where: string): Promise<CheckpointInspection> {
  const dir = await resolveCheckpoint(where);
  const manifest = await readCheckpointManifest(dir);
  const graphs: Record<string, { edges: number }> = {};
  for (const g of manifest.graphs) graphs[g.name] = { edges: g.edges };
  let bytes = 0;
  for (const c of manifest.columns) bytes += c.bytes;
  for (const g of manifest.graphs) for (const e of [g.src, g.dst, ...g.fields]) bytes += e.bytes;
  for (const e of manifest.messages ?? []) bytes += e.bytes;
  const base = { dir, manifest, graphs, bytes };
  if (manifest.scenario === null) return { ...base, kinds: null, statsNote: 'the manifest names no scenario, so its model cannot be rebuilt to read the state' };
  let spec;
  try {
    const scenario = await loadScenario(manifest.scenario);
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(manifest.params)) set[k] = String(v);
    spec = compileModel(scenario.setup(parseParams(scenario, set)).model);
  } catch (err) {
    return { ...base, kinds: null, statsNote: `its scenario '${manifest.scenario}' cannot rebuild the model (${(err as Error).message})` };
  }
  // A CheckpointError here (damage, another model) propagates: inspect is also how one checks a checkpoint.
  const snap = await loadCheckpoint(dir, spec);
  const kinds: NonNullable<CheckpointInspection['kinds']> = {};
  for (const k of spec.kinds) {
    const fields: Record<string, FieldStats> = {};
    for (const f of k.fields) {
      const col = snap.columns.find((c) => c.key === `${k.name}.state.${f.name}`)!.data;
      let lo = Infinity;
      let hi = -Infinity;
      let sum = 0;
      let finite = 0;
      for (let i = 0; i < col.length; i++) {
        const v = col[i]!;
        if (!Number.isFinite(v)) continue;
        finite++;
        sum += v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      fields[f.name] = { dtype: f.type, min: finite > 0 ? lo : NaN, mean: finite > 0 ? sum / finite : NaN, max: finite > 0 ? hi : NaN, nonFinite: col.length - finite };
    }
    kinds[k.name] = { count: snap.counts[k.name]!, fields };
  }
  return { ...base, kinds };
}

/** The inspection as text, for a terminal. */
export function formatInspection(r: CheckpointInspection): string {
  const m = r.manifest;
  const params = Object.entries(m.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  const out: string[] = [
    `checkpoint ${r.dir}`,
    `  format ${m.format}; model ${m.model} (spec ${m.specHash.slice(0, 12)}…); step ${m.step}; seed ${m.seed}`,
    `  scenario ${m.scenario ?? '(none)'}${params ? `; params ${params}` : ''}`,
    `  written ${m.createdAt} on ${m.backend}${m.adapter ? ` (${m.adapter.name}, ${m.adapter.type})` : ''}${m.backend === 'cpu' ? ` with ${m.workers} worker(s)` : ''}; ${r.bytes} bytes of state`,
  ];
  for (const [name, g] of Object.entries(r.graphs)) out.push(`  graph ${name}: ${g.edges} edges`);
  // Array and graph messages whose writers skip steps (sim/checkpoint.ts carriedMessages).
  for (const e of m.messages ?? []) out.push(`  message column ${e.key}: ${e.length} ${e.dtype} (carried across steps)`);
  if (r.kinds === null) {
    for (const [kind, n] of Object.entries(m.counts)) out.push(`  ${kind}: ${n} actors`);
    out.push(`  no statistics: ${r.statsNote ?? ''}`);
    return out.join('\n');
  }
  const num = (v: number): string => (Number.isNaN(v) ? '-' : Number.isInteger(v) ? String(v) : v.toPrecision(6));
  for (const [kind, k] of Object.entries(r.kinds)) {
    out.push(`  ${kind}: ${k.count} actors`);
    const rows = Object.entries(k.fields).map(([f, s]) => [f, s.dtype, num(s.min), num(s.mean), num(s.max), s.nonFinite > 0 ? `${s.nonFinite} non-finite` : '']);
    const head = ['field', 'dtype', 'min', 'mean', 'max', ''];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    for (const row of [head, ...rows]) out.push(`    ${row.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()}`);
  }
  return out.join('\n');
}
