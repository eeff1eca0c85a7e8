/**
 * The JSON graph format `simloom/landau-graph@1`, validated on load. Every problem names the JSON path
 * of the offending value and says what is expected, e.g.
 *   `graph.json: $.couplings[3].j: must be an integer module index in [0, 16), got 16`.
 *
 * ```json
 * { "format": "simloom/landau-graph@1",
 *   "modules": [{"kind": "gate"|"sequence"|"connectivity"|"landau", "a", "b", "h"?, "eta0"}],
 *   "couplings": [{"type": "quadratic", "i", "j", "w"},
 *                 {"type": "hinge", "i", "j", "w", "alpha"?, "beta"?},
 *                 {"type": "gateBenefit", "i", "j"?, "w", "delta"},
 *                 {"type": "dampedGateBenefit", "i", "j"?, "w", "delta", "damping", "power",
 *                  "positiveScale", "negativeScale"}],
 *   "relax": {"stepSize", "steps", "lineSearch"?: {"backtrackFactor", "maxBacktrack", "armijoC"},
 *             "onIncrease"?: "revert"|"compat"} }
 * ```
 * Rules beyond the shape: gate, sequence and connectivity modules need a, b ≥ 0; landau modules need
 * b > 0 (a may be negative) and are the only ones that take h (default 0); η0 ∈ [0, 1]; weights are
 * ≥ 0; hinge α, β ≥ 0 (default 1); power > 0; damping and the scales ≥ 0. lineSearch fields default
 * to backtrackFactor 0.5, maxBacktrack 5, armijoC 1e-6. Unknown keys are errors (they are usually
 * typos).
 */
import { UsageError } from '../../src/errors.js';
import { COUPLING_TYPES, type CouplingTypeName, CouplingType, LOCAL_KINDS, type LocalKindName, LocalKind } from './energies.js';
import { type LandauProblem, ProblemBuilder } from './problem.js';

export const LANDAU_GRAPH_FORMAT = 'simloom/landau-graph@1';

export interface LineSearchSpec {
  backtrackFactor: number;
  maxBacktrack: number;
  armijoC: number;
}

export const DEFAULT_LINE_SEARCH: Readonly<LineSearchSpec> = Object.freeze({ backtrackFactor: 0.5, maxBacktrack: 5, armijoC: 1e-6 });

/** The `relax` block of a graph file. */
export interface RelaxSpec {
  stepSize: number;
  steps: number;
  lineSearch: LineSearchSpec | null;
  onIncrease: 'revert' | 'compat' | null;
}

export interface LandauGraph {
  problem: LandauProblem;
  relax: RelaxSpec;
}

type Json = unknown;

class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, what: string): never {
    throw new UsageError(`${this.source}: ${path}: ${what}`);
  }

  object(path: string, v: Json): Record<string, Json> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `must be an object, got ${describe(v)}`);
    return v as Record<string, Json>;
  }

  keys(path: string, o: Record<string, Json>, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(`${path}.${k}`, `is not a field here (allowed: ${allowed.join(', ')})`);
    }
  }

  number(path: string, v: Json, rule?: { min?: number; minExclusive?: number; max?: number; maxExclusive?: number; integer?: boolean }): number {
    if (v === undefined) this.fail(path, `is required${rule ? ` (${ruleText(rule)})` : ''}`);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, `must be a finite number, got ${describe(v)}`);
    if (rule) {
      const ok =
        (rule.min === undefined || v >= rule.min) &&
        (rule.minExclusive === undefined || v > rule.minExclusive) &&
        (rule.max === undefined || v <= rule.max) &&
        (rule.maxExclusive === undefined || v < rule.maxExclusive) &&
        (!rule.integer || Number.isInteger(v));
      if (!ok) this.fail(path, `must be ${ruleText(rule)}, got ${v}`);
    }
    return v;
  }

  optionalNumber(path: string, v: Json, fallback: number, rule?: Parameters<Checker['number']>[2]): number {
    return v === undefined ? fallback : this.number(path, v, rule);
  }

  index(path: string, v: Json, n: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n) {
      this.fail(path, `must be an integer module index in [0, ${n}), got ${describe(v)}`);
    }
    return v;
  }

  choice<T extends string>(path: string, v: Json, choices: readonly T[]): T {
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      this.fail(path, `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  array(path: string, v: Json): Json[] {
    if (!Array.isArray(v)) this.fail(path, `must be an array, got ${describe(v)}`);
    return v as Json[];
  }
}

function ruleText(r: { min?: number; minExclusive?: number; max?: number; maxExclusive?: number; integer?: boolean }): string {
  const parts: string[] = [];
  if (r.integer) parts.push('an integer');
  if (r.min !== undefined) parts.push(`≥ ${r.min}`);
  if (r.minExclusive !== undefined) parts.push(`> ${r.minExclusive}`);
  if (r.max !== undefined) parts.push(`≤ ${r.max}`);
  if (r.maxExclusive !== undefined) parts.push(`< ${r.maxExclusive}`);
  return parts.join(' and ') || 'a number';
}

function describe(v: Json): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

const MODULE_KEYS = ['kind', 'a', 'b', 'h', 'eta0'] as const;
const COUPLING_KEYS: Record<CouplingTypeName, readonly string[]> = {
  quadratic: ['type', 'i', 'j', 'w'],
  hinge: ['type', 'i', 'j', 'w', 'alpha', 'beta'],
  gateBenefit: ['type', 'i', 'j', 'w', 'delta'],
  dampedGateBenefit: ['type', 'i', 'j', 'w', 'delta', 'damping', 'power', 'positiveScale', 'negativeScale'],
};

/**
 * Parses and validates a `simloom/landau-graph@1` document: JSON text (a string) or an already parsed value.
 * `source` names the input in error messages (usually the file name). Throws {@link UsageError}.
 */
export function parseLandauGraph(input: Json, source = 'landau graph'): LandauGraph {
  const c = new Checker(source);
  let doc: Json = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input) as Json;
    } catch (err) {
      throw new UsageError(`${source}: not valid JSON (${(err as Error).message})`);
    }
  }
  const root = c.object('$', doc);
  c.keys('$', root, ['format', 'modules', 'couplings', 'relax']);
  if (root.format !== LANDAU_GRAPH_FORMAT) c.fail('$.format', `must be ${JSON.stringify(LANDAU_GRAPH_FORMAT)}, got ${describe(root.format)}`);

  const b = new ProblemBuilder();
  const modules = c.array('$.modules', root.modules);
  if (modules.length === 0) c.fail('$.modules', 'must list at least one module');
  modules.forEach((raw, idx) => {
    const p = `$.modules[${idx}]`;
    const m = c.object(p, raw);
    c.keys(p, m, MODULE_KEYS);
    const kindName = c.choice<LocalKindName>(`${p}.kind`, m.kind, LOCAL_KINDS);
    const kind = LocalKind[kindName];
    let a: number;
    let bb: number;
    let h = 0;
    if (kind === LocalKind.landau) {
      a = c.number(`${p}.a`, m.a);
      bb = c.number(`${p}.b`, m.b, { minExclusive: 0 });
      h = c.optionalNumber(`${p}.h`, m.h, 0);
    } else {
      a = c.number(`${p}.a`, m.a, { min: 0 });
      bb = c.number(`${p}.b`, m.b, { min: 0 });
      if (m.h !== undefined) c.fail(`${p}.h`, `only landau modules take h (this module is ${JSON.stringify(kindName)})`);
    }
    const eta0 = c.number(`${p}.eta0`, m.eta0, { min: 0, max: 1 });
    b.module({ kind, a, b: bb, h, eta0 });
  });
  const n = modules.length;

  const couplings = root.couplings === undefined ? [] : c.array('$.couplings', root.couplings);
  couplings.forEach((raw, idx) => {
    const p = `$.couplings[${idx}]`;
    const o = c.object(p, raw);
    const typeName = c.choice<CouplingTypeName>(`${p}.type`, o.type, COUPLING_TYPES);
    c.keys(p, o, COUPLING_KEYS[typeName]);
    const i = c.index(`${p}.i`, o.i, n);
    const w = c.number(`${p}.w`, o.w, { min: 0 });
    switch (CouplingType[typeName]) {
      case CouplingType.quadratic:
        b.quadratic(i, c.index(`${p}.j`, o.j, n), w);
        break;
      case CouplingType.hinge:
        b.hinge(i, c.index(`${p}.j`, o.j, n), w, c.optionalNumber(`${p}.alpha`, o.alpha, 1, { min: 0 }), c.optionalNumber(`${p}.beta`, o.beta, 1, { min: 0 }));
        break;
      case CouplingType.gateBenefit: {
        const j = o.j === undefined ? undefined : c.index(`${p}.j`, o.j, n);
        b.gateBenefit(i, j, w, c.number(`${p}.delta`, o.delta));
        break;
      }
      default: {
        const j = o.j === undefined ? undefined : c.index(`${p}.j`, o.j, n);
        b.dampedGateBenefit(i, j, {
          w,
          delta: c.number(`${p}.delta`, o.delta),
          damping: c.number(`${p}.damping`, o.damping, { min: 0 }),
          power: c.number(`${p}.power`, o.power, { minExclusive: 0 }),
          positiveScale: c.number(`${p}.positiveScale`, o.positiveScale, { min: 0 }),
          negativeScale: c.number(`${p}.negativeScale`, o.negativeScale, { min: 0 }),
        });
      }
    }
  });

  const r = c.object('$.relax', root.relax);
  c.keys('$.relax', r, ['stepSize', 'steps', 'lineSearch', 'onIncrease']);
  const stepSize = c.number('$.relax.stepSize', r.stepSize, { minExclusive: 0 });
  const steps = c.number('$.relax.steps', r.steps, { min: 0, integer: true });
  let lineSearch: LineSearchSpec | null = null;
  if (r.lineSearch !== undefined && r.lineSearch !== null) {
    const ls = c.object('$.relax.lineSearch', r.lineSearch);
    c.keys('$.relax.lineSearch', ls, ['backtrackFactor', 'maxBacktrack', 'armijoC']);
    lineSearch = {
      backtrackFactor: c.optionalNumber('$.relax.lineSearch.backtrackFactor', ls.backtrackFactor, DEFAULT_LINE_SEARCH.backtrackFactor, { minExclusive: 0, maxExclusive: 1 }),
      maxBacktrack: c.optionalNumber('$.relax.lineSearch.maxBacktrack', ls.maxBacktrack, DEFAULT_LINE_SEARCH.maxBacktrack, { min: 0, integer: true }),
      armijoC: c.optionalNumber('$.relax.lineSearch.armijoC', ls.armijoC, DEFAULT_LINE_SEARCH.armijoC, { minExclusive: 0, maxExclusive: 1 }),
    };
  }
  const onIncrease = r.onIncrease === undefined ? null : c.choice('$.relax.onIncrease', r.onIncrease, ['revert', 'compat'] as const);
  return { problem: b.build(), relax: { stepSize, steps, lineSearch, onIncrease } };
}

/** Writes a problem (and its relax block) as a `simloom/landau-graph@1` document. */
export function toLandauGraphJson(problem: LandauProblem, relax: Partial<RelaxSpec> & { stepSize: number; steps: number }): Record<string, unknown> {
  const modules = [];
  for (let i = 0; i < problem.n; i++) {
    const kind = LOCAL_KINDS[problem.kind[i]!]!;
    modules.push({ kind, a: problem.a[i], b: problem.b[i], ...(kind === 'landau' ? { h: problem.h[i] } : {}), eta0: problem.eta0[i] });
  }
  const couplings = [];
  for (let e = 0; e < problem.edges; e++) {
    const type = COUPLING_TYPES[problem.type[e]!]!;
    const base = { type, i: problem.src[e], j: problem.dst[e], w: problem.w[e] };
    switch (type) {
      case 'quadratic':
        couplings.push(base);
        break;
      case 'hinge':
        couplings.push({ ...base, alpha: problem.alpha[e], beta: problem.beta[e] });
        break;
      case 'gateBenefit':
        couplings.push({ ...base, delta: problem.benefit[e] });
        break;
      default:
        // The folded benefit is written back as δ with damping 1 and unit scales (same energy).
        couplings.push({ ...base, delta: problem.benefit[e], damping: 1, power: problem.power[e], positiveScale: 1, negativeScale: 1 });
    }
  }
  return {
    format: LANDAU_GRAPH_FORMAT,
    modules,
    couplings,
    relax: {
      stepSize: relax.stepSize,
      steps: relax.steps,
      ...(relax.lineSearch ? { lineSearch: relax.lineSearch } : {}),
      ...(relax.onIncrease ? { onIncrease: relax.onIncrease } : {}),
    },
  };
}
