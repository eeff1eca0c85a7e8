/// <reference types="@webgpu/types" />
/**
 * GPU memory layout of a model for the webgpu backend: columns packed into "blocks", one GPU buffer
 * and one WGSL struct each, so that a kernel binds a block once instead of one buffer per column.
 *
 * Why: Dawn caps `maxStorageBuffersPerShaderStage` (16 on lavapipe), and one buffer per column runs
 * out fast: the parity model's `absorb` reads 3 messages and writes 10 fields (22 buffers). With blocks
 * a kernel binds about one buffer per kind it touches and per message it reads or writes.
 *
 * | block | sections (struct members) | kernel names mapped onto it |
 * | --- | --- | --- |
 * | `state_<Kind>_<b>` | per field `f_<f>`: both buffers of the column, `2 * capacityPadded` elements; the current one starts at `sim.cur_<f>`, the next at `sim.nxt_<f>` | `state_<f>[i]` → `blk.f_<f>[sim.cur_<f> + (i)]`, `next_<f>[i]` → `…[sim.nxt_<f> + (i)]` |
 * | `out_<M>_<b>` | raw fields `f_<f>` by slot, `key` by slot (spatial: in a block `key_<M>` of its own, written by the cell kernel), `sent` by sender | `out_<M>_<f>`, `out_<M>_key`, `out_<M>_sent` |
 * | `in_<M>_<b>` | sorted fields `f_<f>`, `sender` | `in_<M>_<f>`, `in_<M>_sender` |
 * | `red_<M>_<b>` | per reduced field: `r_<f>_count`, then `r_<f>_sum/mean/std/min/max` (the five stat rows, contiguous) | `in_<M>_<f>_<op>` |
 * | `col_<M>_<b>` | array/graph message fields `f_<f>` | `col_<M>_<f>` |
 * | `graph_<G>_<b>` | `rowPtr`, `dst`, `src`, `inRowPtr`, `inEdge`, fields `f_<f>` | `graph_<G>_<…>` |
 *
 * Offsets (`in_<M>_offsets`) and the sort's scratch keep buffers of their own. Every section starts at
 * a multiple of {@link SECTION_ALIGN} bytes, so the shared primitives can bind a section as a buffer
 * range; state columns are padded to a multiple of 64 elements so that each of their two halves is
 * aligned too. A block is filled up to the device's largest binding; a larger model spills into more
 * blocks (`_1`, `_2`, …), so at 10M actors each column is a block of its own.
 *
 * Parity (which half of a state column is current) lives in the `sim` uniform, not in the binding, so
 * a kernel's bind group never changes: it is built once.
 */
import { BackendError } from '../../src/errors.js';
import type { KindSpec, MessageSpec, ModelSpec } from '../../src/model.js';
import type { DType } from '../../src/types.js';

/** Byte alignment of every section (the largest minStorageBufferOffsetAlignment WebGPU allows). */
export const SECTION_ALIGN = 256;
/** Elements per alignment unit (4-byte elements). */
const ALIGN_ELEMS = SECTION_ALIGN / 4;

export type WgslScalar = 'f32' | 'i32' | 'u32';

export interface Member {
  readonly name: string;
  readonly type: WgslScalar;
  readonly length: number;
}

/** A placed section: contiguous members starting at an aligned byte offset of its block. */
export interface Section {
  readonly key: string;
  readonly block: Block;
  /** Byte offset of the first member in the block. */
  readonly offset: number;
  readonly members: readonly (Member & { readonly offset: number })[];
  readonly bytes: number;
}

export interface Block {
  /** WGSL variable name, e.g. `simloom_state_P_0`. */
  readonly varName: string;
  /** WGSL struct name. */
  readonly structName: string;
  readonly label: string;
  readonly sections: Section[];
  bytes: number;
}

export interface ModelLayout {
  readonly blocks: readonly Block[];
  /** Sections by key: `state.<Kind>.<f>`, `out.<M>.<f|key|sent>`, `in.<M>.<f|sender>`, `red.<M>.<f>.count|stats`, `col.<M>.<f>`, `graph.<G>.<what|f>`. */
  readonly sections: ReadonlyMap<string, Section>;
  /** Padded capacity of each kind (state columns hold two halves of this many elements). */
  readonly padded: ReadonlyMap<string, number>;
}

/** The WGSL element type of a column of `dtype` (4 bytes per element: u8 widened, f64 refused). */
export function wgslScalar(dtype: DType): WgslScalar {
  switch (dtype) {
    case 'f32':
      return 'f32';
    case 'i32':
      return 'i32';
    case 'u32':
    case 'u8':
      return 'u32';
    case 'f64':
      throw new BackendError(`webgpu: f64 columns are CPU-only (WGSL has no f64)`);
  }
}

export function padCapacity(n: number): number {
  return Math.max(ALIGN_ELEMS, Math.ceil(n / ALIGN_ELEMS) * ALIGN_ELEMS);
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** A WGSL identifier for a message's full name: the dot becomes `_`. */
export function wgslMessageName(name: string): string {
  return name.replace(/\./g, '_');
}

/** Packs groups of sections into blocks of at most `maxBytes` each. */
class Packer {
  readonly blocks: Block[] = [];
  readonly sections = new Map<string, Section>();
  constructor(private readonly maxBytes: number) {}

  /** Places `groups` (each a list of sections: key + members) into blocks named `<base>_<i>`. */
  pack(base: string, label: string, groups: readonly { key: string; members: readonly Member[] }[]): void {
    let block: Block | undefined;
    let i = 0;
    const open = (): Block => {
      const b: Block = { varName: `simloom_${base}_${i}`, structName: `Simloom_${base}_${i}`, label: `${label} block ${i}`, sections: [], bytes: 0 };
      i++;
      this.blocks.push(b);
      return b;
    };
    for (const g of groups) {
      const bytes = g.members.reduce((a, m) => a + 4 * Math.max(1, m.length), 0);
      if (bytes > this.maxBytes) {
        throw new BackendError(
          `webgpu: ${label} section ${g.key} needs ${bytes} bytes, more than one binding of this device holds (maxStorageBufferBindingSize ${this.maxBytes}); lower the capacity`,
        );
      }
      if (!block || alignUp(block.bytes, SECTION_ALIGN) + bytes > this.maxBytes) block = open();
      const offset = alignUp(block.bytes, SECTION_ALIGN);
      let at = offset;
      const members = g.members.map((m) => {
        const placed = { ...m, length: Math.max(1, m.length), offset: at };
        at += 4 * placed.length;
        return placed;
      });
      const section: Section = { key: g.key, block, offset, members, bytes };
      block.sections.push(section);
      block.bytes = at;
      this.sections.set(g.key, section);
    }
  }
}

/** Lays out every GPU-resident column of `spec` into blocks of at most `maxBindingBytes`. */
export function layoutModel(spec: ModelSpec, maxBindingBytes: number): ModelLayout {
  const packer = new Packer(Math.floor(maxBindingBytes / SECTION_ALIGN) * SECTION_ALIGN);
  const padded = new Map<string, number>();
  const kindBy = new Map<string, KindSpec>(spec.kinds.map((k) => [k.name, k]));
  for (const k of spec.kinds) {
    const cap = padCapacity(k.capacity);
    padded.set(k.name, cap);
    packer.pack(
      `state_${k.name}`,
      `${k.name} state`,
      k.fields.map((f) => ({ key: `state.${k.name}.${f.name}`, members: [{ name: `f_${f.name}`, type: wgslScalar(f.type), length: 2 * cap }] })),
    );
  }
  for (const m of spec.messages) layoutMessage(packer, m, kindBy);
  for (const g of spec.graphs) {
    const from = kindBy.get(g.from)!.capacity;
    const to = kindBy.get(g.to)!.capacity;
    const arrays: [string, number][] = [
      ['rowPtr', from + 1],
      ['dst', g.maxEdges],
      ['src', g.maxEdges],
      ['inRowPtr', to + 1],
      ['inEdge', g.maxEdges],
    ];
    packer.pack(`graph_${g.name}`, `graph ${g.name}`, [
      ...arrays.map(([name, length]) => ({ key: `graph.${g.name}.${name}`, members: [{ name, type: 'u32' as const, length }] })),
      ...g.fields.map((f) => ({ key: `graph.${g.name}.f.${f.name}`, members: [{ name: `f_${f.name}`, type: wgslScalar(f.type), length: g.maxEdges }] })),
    ]);
  }
  return { blocks: packer.blocks, sections: packer.sections, padded };
}

function layoutMessage(packer: Packer, m: MessageSpec, kindBy: ReadonlyMap<string, KindSpec>): void {
  const M = wgslMessageName(m.name);
  const d = m.delivery;
  const field = (prefix: string, f: { name: string; type: DType }) => ({ key: `${prefix}.${m.name}.${f.name}`, members: [{ name: `f_${f.name}`, type: wgslScalar(f.type), length: m.slots }] });
  if (d.type === 'array' || d.type === 'graph') {
    packer.pack(`col_${M}`, `${m.name} columns`, m.fields.map((f) => field('col', f)));
    return;
  }
  const senders = kindBy.get(m.sender)!.capacity;
  const key = { key: `out.${m.name}.key`, members: [{ name: 'key', type: 'u32' as const, length: m.slots }] };
  packer.pack(`out_${M}`, `${m.name} raw records`, [
    ...m.fields.map((f) => field('out', f)),
    ...(d.type === 'spatial' ? [] : [key]),
    { key: `out.${m.name}.sent`, members: [{ name: 'sent', type: 'u32', length: senders }] },
  ]);
  // Spatial keys are written by the cell kernel, which reads x, y, z from the raw block: a dispatch may
  // not bind one buffer both read-only and writable, so they get a block of their own.
  if (d.type === 'spatial') packer.pack(`key_${M}`, `${m.name} cell keys`, [key]);
  packer.pack(`in_${M}`, `${m.name} sorted records`, [
    ...m.fields.map((f) => field('in', f)),
    { key: `in.${m.name}.sender`, members: [{ name: 'sender', type: 'u32', length: m.slots }] },
  ]);
  if (d.type === 'bucket' && d.reduce && Object.keys(d.reduce).length > 0) {
    const groups: { key: string; members: Member[] }[] = [];
    for (const f of Object.keys(d.reduce)) {
      groups.push({ key: `red.${m.name}.${f}.count`, members: [{ name: `r_${f}_count`, type: 'u32', length: m.keys }] });
      // The five rows of SegmentReducePlan's stats output, contiguous: row r of key k at r * keys + k.
      groups.push({
        key: `red.${m.name}.${f}.stats`,
        members: ['sum', 'mean', 'std', 'min', 'max'].map((op) => ({ name: `r_${f}_${op}`, type: 'f32' as const, length: m.keys })),
      });
    }
    packer.pack(`red_${M}`, `${m.name} reductions`, groups);
  }
}

/** The WGSL struct declaration of a block (padding members fill the gaps between sections). */
export function blockStruct(block: Block): string {
  const lines: string[] = [];
  let at = 0;
  let pad = 0;
  for (const s of block.sections) {
    if (s.offset > at) lines.push(`  _pad${pad++}: array<u32, ${(s.offset - at) / 4}>,`);
    for (const m of s.members) lines.push(`  ${m.name}: array<${m.type}, ${m.length}>,`);
    at = s.offset + s.members.reduce((a, m) => a + 4 * m.length, 0);
  }
  return `struct ${block.structName} {\n${lines.join('\n')}\n}`;
}

/** A section (or one member of it) as a buffer range for a binding. */
export function sectionRange(section: Section, buffer: GPUBuffer, member?: string, elementOffset = 0, elements?: number): { buffer: GPUBuffer; offset: number; size: number } {
  const m = member === undefined ? section.members[0]! : section.members.find((x) => x.name === member);
  if (!m) throw new BackendError(`webgpu: no member ${member ?? ''} in section ${section.key}`);
  const first = member === undefined ? section.offset : m.offset;
  const size = member === undefined && elements === undefined ? section.bytes : 4 * Math.max(1, elements ?? m.length);
  return { buffer, offset: first + 4 * elementOffset, size };
}
