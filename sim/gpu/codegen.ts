/**
 * WGSL generation for the webgpu backend: from a function of the frozen model spec and its kernel
 * body (`fn kernel_item(a: u32)`, registered in `kernels/<kind>/webgpu.ts`), the complete shader
 * module: a preamble of the names the body uses, the body, the entry point, and the binding table
 * that tells the runtime which buffer goes into which binding.
 *
 * Names a body may use (the same words as the CPU kernel context, see src/kernel.ts):
 *
 * | WGSL name | what | CPU twin |
 * | --- | --- | --- |
 * | `sim.step`, `sim.seed`, `sim.count`, `sim.items`, `sim.time`, `sim.dt`, `sim.count_<Kind>`, `sim.edges_<graph>` | uniforms of the step | `ctx.step`, `ctx.seed`, `ctx.count`, … |
 * | `state_<f>[i]` | current value of field f (every field of the kind) | `ctx.state.f[i]` |
 * | `next_<f>[i]` | next value of a field the function writes | `ctx.next.f[i]` |
 * | `param_<p>` | `const f32` | `ctx.params.p` |
 * | `in_<M>_<f>`, `in_<M>_sender`, `in_<M>_offsets`, `in_<M>_keys` | sorted records by (key, sender, sequence); `keys` a const | `ctx.in[M]` |
 * | `in_<M>_<f>_<op>` | bucket reduction per key (`count` u32, others f32) | `ctx.in[M].reduce.f.op` |
 * | `in_<M>_grid_min`, `_grid_dims`, `_cell_size`, `_inv_cell_size`, `_radius`; `in_<M>_cell(p) -> vec3u` | spatial grid consts; the clamped cell of a position | `ctx.in[M].grid` |
 * | `out_<M>_<f>`, `emit_<M>(sender, key) -> i32` | raw records by slot; emit reserves a slot, or faults and returns -1 | `ctx.out[M]` |
 * | `col_<M>_<f>` | array (per sender) / graph (per edge) message columns | `ctx.columns[M]` |
 * | `graph_<G>_rowPtr`, `_dst`, `_src`, `_inRowPtr`, `_inEdge`, `graph_<G>_<field>` | CSR | `ctx.graphs[G]` |
 * | `fault(code, actor, detail)` | first fault wins (atomicCompareExchangeWeak) | `ctx.fault` |
 * | `rng_uniform_for(actor, stream, counter)`, `rng_normal_for`, `rng_u32_for` | rng.wgsl bound to (seed, kind, step) | `ctx.rng` |
 *
 * `<M>` is the message's full name with the dot replaced by `_` (`CirclesAgent.location` →
 * `CirclesAgent_location`). Two generated names that collide are a {@link BackendError}.
 *
 * Columns live in blocks (sim/gpu/layout.ts: one buffer and struct per group of columns, because a
 * shader stage may bind only ~16 storage buffers): the names above are rewritten into struct members
 * (`out_M_x` → `simloom_out_M_0.f_x`; `state_x[i]` → `simloom_state_K_0.f_x[sim.cur_x + (i)]`, so
 * state names must be indexed directly). Only the blocks and bindings that the body (transitively)
 * references are bound: the pipeline layout is explicit, so an unused name costs nothing.
 *
 * Conventions a kernel body follows: write `next_<f>[a]` and emit for sender `a` only (each actor is
 * one invocation, so `emit_<M>` keeps its per-sender count without atomics); return early instead of
 * throwing; call `fault(...)` for a kernel-defined error.
 */
import { BackendError } from '../../src/errors.js';
import { Fault } from '../../src/kernel.js';
import type { FunctionSpec, KindSpec, MessageSpec, ModelSpec } from '../../src/model.js';
import type { BindingKind } from './compute.js';
import { type Block, blockStruct, type ModelLayout, wgslMessageName } from './layout.js';
import { commonWgsl } from './primitives.js';

export { wgslMessageName } from './layout.js';

/** Invocations per workgroup of a generated actor kernel. */
export const ACTOR_WG = 64;

/** Words of the fault block at the head of the metrics buffer. */
export const FAULT_WORDS = 8;
/* layout: fault block (u32): [0] code, [1] kindId, [2] actor, [3] step, [4] functionId, [5] detail, [6..8) reserved */
export const FAULT_AT = { code: 0, kind: 1, actor: 2, step: 3, fn: 4, detail: 5 } as const;

/** The fixed head of the `sim` uniform; per-kind counts, per-graph edges and the kind's column offsets follow. */
export const SIM_FIELDS = ['step', 'seed', 'count', 'items', 'time', 'dt', 'kind', 'fn_id'] as const;

/** What the runtime binds for one binding of a generated kernel. */
export type BindingResourceRef =
  | { readonly type: 'sim' }
  | { readonly type: 'fault' }
  | { readonly type: 'block'; readonly block: Block }
  | { readonly type: 'offsets'; readonly message: string };

export interface GeneratedBinding {
  readonly binding: number;
  readonly name: string;
  readonly kind: BindingKind;
  readonly resource: BindingResourceRef;
}

export interface GeneratedKernel {
  readonly label: string;
  readonly code: string;
  readonly entryPoint: string;
  readonly bindings: readonly GeneratedBinding[];
  /** Names of the `sim` uniform's u32/f32 words, in order (see {@link simFieldNames}). */
  readonly simFields: readonly string[];
}

/** A WGSL f32 literal of exactly `Math.fround(v)`. */
export function f32Literal(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) throw new BackendError(`webgpu: ${v} has no finite f32 value`);
  const s = Number.isInteger(f) && Math.abs(f) < 1e21 ? `${f}.0` : String(f);
  return `${s}f`;
}

/**
 * Words of a kind's `sim` uniform struct, in order (all 4-byte scalars; `time` and `dt` are f32):
 * the fixed head, `count_<Kind>` per kind, `edges_<graph>` per graph, then `cur_<f>` and `nxt_<f>`
 * (element offsets of the current and next half of each state column of the kind), padded to 16 bytes.
 */
export function simFieldNames(spec: ModelSpec, kind: KindSpec): string[] {
  const names: string[] = [
    ...SIM_FIELDS,
    ...spec.kinds.map((k) => `count_${k.name}`),
    ...spec.graphs.map((g) => `edges_${g.name}`),
    ...kind.fields.flatMap((f) => [`cur_${f.name}`, `nxt_${f.name}`]),
  ];
  while (names.length % 4 !== 0) names.push(`_pad${names.length}`);
  return names;
}

/** A preamble item: emitted when one of its names is referenced. */
interface Item {
  readonly names: readonly string[];
  readonly code: string;
  /** A standalone binding (`sim`, the fault buffer, offsets). */
  readonly binding?: { readonly kind: BindingKind; readonly resource: BindingResourceRef; readonly decl: (b: number) => string };
}

/** A kernel name mapped onto a block member. */
interface Alias {
  readonly block: Block;
  readonly member: string;
  /** For state: the uniform word holding the element offset of the half (`sim.cur_x`). */
  readonly base?: string;
  readonly writes: boolean;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/g;

/** WGSL with comments blanked out (so that names in comments are neither bound nor rewritten). */
function stripComments(code: string): string {
  return code.replace(/\/\/[^\n]*/g, (m) => ' '.repeat(m.length)).replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '));
}

function identifiers(code: string): Set<string> {
  return new Set(stripComments(code).match(IDENT) ?? []);
}

/**
 * Rewrites every use of an alias in `code`: `name` → `blk.member`, and for state aliases
 * `name[E]` → `blk.member[base + (E)]` (the bracket is matched, so E may nest).
 */
function rewrite(code: string, aliases: ReadonlyMap<string, Alias>, where: string): string {
  const clean = stripComments(code);
  const re = new RegExp(IDENT.source, 'g'); // own state: this function recurses
  let out = '';
  let last = 0;
  for (let m = re.exec(clean); m; m = re.exec(clean)) {
    const name = m[0];
    const alias = aliases.get(name);
    const prev = m.index > 0 ? clean[m.index - 1] : '';
    if (!alias || prev === '.' || /[0-9]/.test(prev ?? '')) continue;
    out += code.slice(last, m.index) + `${alias.block.varName}.${alias.member}`;
    last = m.index + name.length;
    if (alias.base !== undefined) {
      let j = last;
      while (j < clean.length && /\s/.test(clean[j]!)) j++;
      if (clean[j] !== '[') throw new BackendError(`webgpu: ${where}: '${name}' must be indexed directly (${name}[i]): state columns are halves of a double buffer`);
      let depth = 0;
      let k = j;
      for (; k < clean.length; k++) {
        if (clean[k] === '[') depth++;
        else if (clean[k] === ']' && --depth === 0) break;
      }
      if (k >= clean.length) throw new BackendError(`webgpu: ${where}: unbalanced '[' after '${name}'`);
      out += `[${alias.base} + (${rewrite(code.slice(j + 1, k), aliases, where)})]`;
      last = k + 1;
      re.lastIndex = k + 1;
    }
  }
  return out + code.slice(last);
}

function maxPerOf(m: MessageSpec): number {
  const d = m.delivery;
  return d.type === 'direct' || d.type === 'bucket' ? d.maxPerActor : 1;
}

/**
 * Generates the shader module of function `fn` with kernel body `body` over the blocks of `layout`.
 * `checkFinite` appends the NaN/Inf test of every written f32 field to the entry point (a bit test:
 * WGSL may assume finite float arithmetic). Throws {@link BackendError} on a name collision.
 */
export function generateKernel(spec: ModelSpec, layout: ModelLayout, fn: FunctionSpec, body: string, options: { checkFinite: boolean }): GeneratedKernel {
  const kind = spec.kinds.find((k) => k.name === fn.kind)!;
  const where = `function ${fn.name} (kernel '${fn.kernel}')`;
  const items: Item[] = [];
  const aliases = new Map<string, Alias>();
  const names = new Map<string, string>(); // generated name → what, for collisions
  const claim = (name: string, what: string): void => {
    const prev = names.get(name);
    if (prev !== undefined) {
      throw new BackendError(`webgpu: ${where}: the generated WGSL name '${name}' stands for both ${prev} and ${what}; rename a message, field or graph so that names with '.' replaced by '_' differ`);
    }
    names.set(name, what);
  };
  const section = (key: string) => {
    const s = layout.sections.get(key);
    if (!s) throw new BackendError(`webgpu: no GPU section '${key}' (internal layout error)`);
    return s;
  };
  const alias = (name: string, key: string, member: string, writes: boolean, base?: string): void => {
    claim(name, key);
    aliases.set(name, { block: section(key).block, member, writes, ...(base === undefined ? {} : { base }) });
  };
  const item = (it: Item): void => {
    for (const n of it.names) claim(n, `the preamble's ${it.names[0]!}`);
    items.push(it);
  };

  // sim uniform
  const simFields = simFieldNames(spec, kind);
  const simStruct = `struct SimParams {\n${simFields.map((n, i) => `  ${n}: ${i === 4 || i === 5 ? 'f32' : 'u32'},`).join('\n')}\n}`;
  item({ names: ['sim'], code: '', binding: { kind: 'uniform', resource: { type: 'sim' }, decl: (b) => `${simStruct}\n@group(0) @binding(${b}) var<uniform> sim: SimParams;` } });

  // fault
  item({
    names: ['simloom_fault'],
    code: '',
    binding: {
      kind: 'storage',
      resource: { type: 'fault' },
      decl: (b) => `/* layout: [code, kind, actor, step, fn, detail, -, -], then metrics results */\n@group(0) @binding(${b}) var<storage, read_write> simloom_fault: array<atomic<u32>>;`,
    },
  });
  item({
    names: ['fault'],
    code: `// First fault wins: the weak exchange may fail spuriously, so retry while the word is still 0.
fn fault(code: u32, actor: u32, detail: u32) {
  loop {
    let r = atomicCompareExchangeWeak(&simloom_fault[${FAULT_AT.code}], 0u, code);
    if (r.exchanged) {
      atomicStore(&simloom_fault[${FAULT_AT.kind}], ${kind.id}u);
      atomicStore(&simloom_fault[${FAULT_AT.actor}], actor);
      atomicStore(&simloom_fault[${FAULT_AT.step}], sim.step);
      atomicStore(&simloom_fault[${FAULT_AT.fn}], ${fn.id}u);
      atomicStore(&simloom_fault[${FAULT_AT.detail}], detail);
      return;
    }
    if (r.old_value != 0u) { return; }
  }
}`,
  });

  // state and next
  for (const f of kind.fields) {
    alias(`state_${f.name}`, `state.${kind.name}.${f.name}`, `f_${f.name}`, false, `sim.cur_${f.name}`);
    if (fn.writes.includes(f.name)) alias(`next_${f.name}`, `state.${kind.name}.${f.name}`, `f_${f.name}`, true, `sim.nxt_${f.name}`);
  }

  // params
  for (const [p, v] of Object.entries(kind.params)) item({ names: [`param_${p}`], code: `const param_${p}: f32 = ${f32Literal(v)};` });

  const msgBy = new Map(spec.messages.map((m) => [m.name, m]));
  for (const name of fn.inputs) {
    const m = msgBy.get(name)!;
    const M = wgslMessageName(m.name);
    const d = m.delivery;
    if (d.type === 'array' || d.type === 'graph') {
      for (const f of m.fields) alias(`col_${M}_${f.name}`, `col.${m.name}.${f.name}`, `f_${f.name}`, false);
      continue;
    }
    for (const f of m.fields) alias(`in_${M}_${f.name}`, `in.${m.name}.${f.name}`, `f_${f.name}`, false);
    alias(`in_${M}_sender`, `in.${m.name}.sender`, 'sender', false);
    item({
      names: [`in_${M}_offsets`],
      code: '',
      binding: {
        kind: 'read-only-storage',
        resource: { type: 'offsets', message: m.name },
        decl: (b) => `/* layout: in_${M}_offsets[k] .. in_${M}_offsets[k + 1] are the records of key k; [in_${M}_keys] = total */\n@group(0) @binding(${b}) var<storage, read> in_${M}_offsets: array<u32>;`,
      },
    });
    item({ names: [`in_${M}_keys`], code: `const in_${M}_keys: u32 = ${m.keys}u;` });
    if (d.type === 'bucket') {
      for (const [field, ops] of Object.entries(d.reduce ?? {})) {
        for (const op of ops) {
          alias(`in_${M}_${field}_${op}`, op === 'count' ? `red.${m.name}.${field}.count` : `red.${m.name}.${field}.stats`, `r_${field}_${op}`, false);
        }
      }
    }
    if (d.type === 'spatial' && m.grid) {
      const g = m.grid;
      const [x0, y0, z0] = g.min as [number, number, number];
      const [dx, dy, dz] = g.dims as [number, number, number];
      item({ names: [`in_${M}_grid_min`], code: `const in_${M}_grid_min = vec3f(${f32Literal(x0)}, ${f32Literal(y0)}, ${f32Literal(z0)});` });
      item({ names: [`in_${M}_grid_dims`], code: `const in_${M}_grid_dims = vec3u(${dx}u, ${dy}u, ${dz}u);` });
      const [cx, cy, cz] = g.cellSize;
      item({ names: [`in_${M}_cell_size`], code: `const in_${M}_cell_size = vec3f(${f32Literal(cx)}, ${f32Literal(cy)}, ${f32Literal(cz)});` });
      // The correctly rounded f32 reciprocals (WGSL's 1.0 / x is only accurate to 2.5 ULP), as cell.wgsl.
      item({ names: [`in_${M}_inv_cell_size`], code: `const in_${M}_inv_cell_size = vec3f(${f32Literal(1 / cx)}, ${f32Literal(1 / cy)}, ${f32Literal(1 / cz)});` });
      item({ names: [`in_${M}_radius`], code: `const in_${M}_radius: f32 = ${f32Literal(d.radius)};` });
      item({
        names: [`in_${M}_cell`],
        code: `// Cell coordinates of a position, clamped into the grid (as cellOf in kernels/common/cpu.ts).
fn in_${M}_cell(p: vec3f) -> vec3u {
  let c = floor((p - in_${M}_grid_min) * in_${M}_inv_cell_size);
  return vec3u(clamp(c, vec3f(0.0), vec3f(in_${M}_grid_dims) - vec3f(1.0)));
}`,
      });
    }
  }

  for (const name of fn.outputs) {
    const m = msgBy.get(name)!;
    const M = wgslMessageName(m.name);
    const d = m.delivery;
    if (d.type === 'array' || d.type === 'graph') {
      for (const f of m.fields) alias(`col_${M}_${f.name}`, `col.${m.name}.${f.name}`, `f_${f.name}`, true);
      continue;
    }
    for (const f of m.fields) alias(`out_${M}_${f.name}`, `out.${m.name}.${f.name}`, `f_${f.name}`, true);
    alias(`out_${M}_key`, `out.${m.name}.key`, 'key', true);
    alias(`out_${M}_sent`, `out.${m.name}.sent`, 'sent', true);
    const maxPer = maxPerOf(m);
    const keyCheck =
      d.type === 'direct' || d.type === 'bucket'
        ? `  // Keys are receiver ids, valid below the live count of ${d.to} (as on the CPU).\n  if (key >= sim.count_${d.to}) { fault(${Fault.address}u, sender, ${m.id}u); return -1; }\n`
        : '';
    const keyStore = d.type === 'spatial' ? '  // Spatial keys (grid cells) are computed from x, y, z when the index is built.\n' : `  out_${M}_key[slot] = key;\n`;
    item({
      names: [`emit_${M}`],
      code: `// Reserves the next record of \`sender\` (the calling actor) and returns its slot, or -1 after a fault.
fn emit_${M}(sender: u32, key: u32) -> i32 {
  let j = out_${M}_sent[sender];
  if (j >= ${maxPer}u) { fault(${Fault.capacity}u, sender, ${m.id}u); return -1; }
${keyCheck}  let slot = sender * ${maxPer}u + j;
  out_${M}_sent[sender] = j + 1u;
${keyStore}  return i32(slot);
}`,
    });
  }

  for (const g of spec.graphs) {
    for (const what of ['rowPtr', 'dst', 'src', 'inRowPtr', 'inEdge'] as const) alias(`graph_${g.name}_${what}`, `graph.${g.name}.${what}`, what, false);
    for (const f of g.fields) alias(`graph_${g.name}_${f.name}`, `graph.${g.name}.f.${f.name}`, `f_${f.name}`, false);
  }

  // RNG, bound to (seed, kind, step) like ctx.rng.
  item({ names: ['mix32', 'hash32', 'rng_uniform', 'rng_normal', 'RNG_INV24', 'RNG_K1', 'RNG_K2', 'RNG_K3', 'RNG_K4', 'RNG_K5'], code: commonWgsl('rng') });
  item({ names: ['rng_uniform_for'], code: `fn rng_uniform_for(actor: u32, stream: u32, counter: u32) -> f32 { return rng_uniform(sim.seed, ${kind.id}u, actor, sim.step, stream, counter); }` });
  item({ names: ['rng_normal_for'], code: `fn rng_normal_for(actor: u32, stream: u32, counter: u32) -> f32 { return rng_normal(sim.seed, ${kind.id}u, actor, sim.step, stream, counter); }` });
  item({ names: ['rng_u32_for'], code: `fn rng_u32_for(actor: u32, stream: u32, counter: u32) -> u32 { return hash32(sim.seed, ${kind.id}u, actor, sim.step, stream, counter); }` });
  item({ names: ['cell_of'], code: commonWgsl('cell') });
  item({
    names: ['simloom_nonfinite'],
    code: `// NaN or ±Inf by the exponent bits: WGSL lets float arithmetic assume finite values, a bit test cannot.
fn simloom_nonfinite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u; }`,
  });

  // Entry point.
  const act = fn.activation;
  const activeMsg = act.type === 'onMessage' ? wgslMessageName(act.message) : null;
  const floatWrites = fn.writes.map((w) => kind.fields.findIndex((f) => f.name === w)).filter((i) => kind.fields[i]!.type === 'f32');
  const checks = options.checkFinite ? floatWrites.map((fi) => `  if (simloom_nonfinite(next_${kind.fields[fi]!.name}[a])) { fault(${Fault.nonFinite}u, a, ${fi}u); }`).join('\n') : '';
  const keep = fn.writes.map((w) => `next_${w}[a] = state_${w}[a];`).join(' ');
  const main = `@compute @workgroup_size(${ACTOR_WG})
fn simloom_main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let a = gid.x + gid.y * nwg.x * ${ACTOR_WG}u;
  if (a >= sim.items) { return; }
${
  activeMsg
    ? `  // onMessage: launched over all receivers; one without records this step keeps its values.\n  if (in_${activeMsg}_offsets[a + 1u] == in_${activeMsg}_offsets[a]) { ${keep} return; }\n`
    : ''
}  kernel_item(a);
${checks}
}`;

  // Closure over referenced names: preamble items and blocks.
  const itemBy = new Map<string, number>();
  items.forEach((it, i) => {
    for (const n of it.names) itemBy.set(n, i);
  });
  const included = new Set<number>();
  const usedBlocks = new Map<Block, boolean>(); // block → written
  const pending = [body, main];
  while (pending.length > 0) {
    const code = pending.pop()!;
    for (const id of identifiers(code)) {
      const al = aliases.get(id);
      if (al) {
        usedBlocks.set(al.block, (usedBlocks.get(al.block) ?? false) || al.writes);
        if (al.base !== undefined) pending.push('sim');
        continue;
      }
      const i = itemBy.get(id);
      if (i === undefined || included.has(i)) continue;
      included.add(i);
      pending.push(items[i]!.code);
    }
  }

  const bindings: GeneratedBinding[] = [];
  const decls: string[] = [];
  for (const i of [...included].sort((a, b) => a - b)) {
    const b = items[i]!.binding;
    if (!b) continue;
    const n = bindings.length;
    bindings.push({ binding: n, name: items[i]!.names[0]!, kind: b.kind, resource: b.resource });
    decls.push(b.decl(n));
  }
  for (const [block, writes] of usedBlocks) {
    const n = bindings.length;
    const kindOf: BindingKind = writes ? 'storage' : 'read-only-storage';
    bindings.push({ binding: n, name: block.varName, kind: kindOf, resource: { type: 'block', block } });
    decls.push(`${blockStruct(block)}\n@group(0) @binding(${n}) var<storage, ${writes ? 'read_write' : 'read'}> ${block.varName}: ${block.structName};`);
  }
  const helpers = [...included]
    .sort((a, b) => a - b)
    .map((i) => items[i]!.code)
    .filter((c) => c.length > 0);
  const parts = [
    `// Generated by sim/gpu/codegen.ts for ${fn.name} (kernel '${fn.kernel}', kind ${kind.name} = ${kind.id}, function ${fn.id}).`,
    ...decls,
    ...helpers.map((c) => rewrite(c, aliases, where)),
    `// ---- kernel body (${fn.kernel}) ----`,
    rewrite(body, aliases, where),
    '// ---- entry point ----',
    rewrite(main, aliases, where),
  ];
  return { label: `${fn.kernel} (${fn.name})`, code: parts.join('\n'), entryPoint: 'simloom_main', bindings, simFields };
}
