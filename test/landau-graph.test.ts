/**
 * The `simloom/landau-graph@1` format: fixtures load into the same problems as the builders, every
 * validation error names its JSON path, and the `landau-graph` scenario runs files end to end.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CouplingType, dampedBenefit, LocalKind } from '../actors/landau/energies.js';
import { LANDAU_GRAPH_FORMAT, parseLandauGraph, toLandauGraphJson } from '../actors/landau/graph-format.js';
import { baselineProblem, type LandauProblem, randomProblem, ringProblem } from '../actors/landau/problem.js';
import { DELTA_F90_TARGETS } from '../scenarios/delta-f90.js';
import type { LandauResults } from '../scenarios/landau-graph.js';
import { runScenario } from '../sim/run.js';
import { UsageError } from '../src/errors.js';

const FIXTURES = 'test/fixtures/landau';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-landau-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

function sameProblem(a: LandauProblem, b: LandauProblem): void {
  expect(a.n).toBe(b.n);
  expect(a.edges).toBe(b.edges);
  for (const k of ['kind', 'a', 'b', 'h', 'eta0', 'src', 'dst', 'type', 'w', 'alpha', 'beta', 'benefit', 'power'] as const) {
    expect(Array.from(a[k]), k).toEqual(Array.from(b[k]));
  }
}

describe('loading', () => {
  it('the baseline and ring fixtures load into exactly the built-in problems', () => {
    const base = parseLandauGraph(readFileSync(path.join(FIXTURES, 'baseline.json'), 'utf8'), 'baseline.json');
    sameProblem(base.problem, baselineProblem());
    expect(base.relax).toEqual({ stepSize: 0.05, steps: 80, lineSearch: null, onIncrease: null });
    sameProblem(parseLandauGraph(fixture('ring16.json')).problem, ringProblem(16));
  });

  it('every kind and coupling type, optional fields and defaults', () => {
    const g = parseLandauGraph(fixture('mixed.json'));
    const p = g.problem;
    expect(Array.from(p.kind)).toEqual([LocalKind.gate, LocalKind.sequence, LocalKind.connectivity, LocalKind.landau, LocalKind.gate]);
    expect(p.h[3]).toBe(0.05);
    expect(Array.from(p.type)).toEqual([0, 1, 1, 2, 2, 3, 3]);
    expect([p.alpha[1], p.beta[1], p.alpha[2], p.beta[2]]).toEqual([1.2, 0.9, 1, 1]); // hinge α, β default to 1
    expect(p.dst[4]).toBe(4); // a gate benefit without j couples to its own module
    expect(p.benefit[5]).toBe(dampedBenefit(0.1, 0.5, 1, 2));
    expect(p.benefit[6]).toBe(dampedBenefit(-0.1, 0.8, 1, 2));
    expect(p.power[5]).toBe(1.5);
    expect(g.relax).toEqual({ stepSize: 0.1, steps: 60, lineSearch: { backtrackFactor: 0.5, maxBacktrack: 5, armijoC: 1e-6 }, onIncrease: 'revert' });
  });

  it('writing and reading back gives the same problem and the same energies', () => {
    const p = randomProblem({ n: 50, degree: 4, seed: 2, mix: [0.25, 0.25, 0.25, 0.25] });
    const back = parseLandauGraph(JSON.stringify(toLandauGraphJson(p, { stepSize: 0.05, steps: 10 }))).problem;
    sameProblem(back, p);
    expect(p.type.includes(CouplingType.dampedGateBenefit)).toBe(true);
  });
});

describe('validation errors name the JSON path', () => {
  type Obj = Record<string, unknown>;
  interface Doc extends Obj {
    modules: Obj[];
    couplings: unknown[];
    relax?: Obj & { lineSearch: Obj };
  }
  type Edit = (d: Doc) => void;
  const c = (d: Doc, k: number): Obj => d.couplings[k] as Obj;
  const cases: [string, Edit, string][] = [
    ['wrong format', (d) => (d.format = 'simloom/landau-graph@2'), '$.format: must be "simloom/landau-graph@1", got "simloom/landau-graph@2"'],
    ['modules not an array', (d) => ((d as Obj).modules = {}), '$.modules: must be an array, got an object'],
    ['no modules', (d) => (d.modules = []), '$.modules: must list at least one module'],
    ['unknown kind', (d) => (d.modules[1]!.kind = 'gates'), '$.modules[1].kind: must be one of "gate", "sequence", "connectivity", "landau", got "gates"'],
    ['negative a of a gate', (d) => (d.modules[0]!.a = -1), '$.modules[0].a: must be ≥ 0, got -1'],
    ['landau b = 0', (d) => (d.modules[3]!.b = 0), '$.modules[3].b: must be > 0, got 0'],
    ['h on a gate', (d) => (d.modules[0]!.h = 0.1), '$.modules[0].h: only landau modules take h (this module is "gate")'],
    ['η0 above 1', (d) => (d.modules[2]!.eta0 = 1.5), '$.modules[2].eta0: must be ≥ 0 and ≤ 1, got 1.5'],
    ['η0 missing', (d) => delete d.modules[2]!.eta0, '$.modules[2].eta0: is required (≥ 0 and ≤ 1)'],
    ['η0 a string', (d) => (d.modules[2]!.eta0 = '0.5'), '$.modules[2].eta0: must be a finite number, got "0.5"'],
    ['a typo in a key', (d) => (d.modules[4]!.eta = 0.2), '$.modules[4].eta: is not a field here (allowed: kind, a, b, h, eta0)'],
    ['module index out of range', (d) => (c(d, 0).j = 5), '$.couplings[0].j: must be an integer module index in [0, 5), got 5'],
    ['fractional module index', (d) => (c(d, 0).i = 0.5), '$.couplings[0].i: must be an integer module index in [0, 5), got 0.5'],
    ['unknown coupling type', (d) => (c(d, 2).type = 'spring'), '$.couplings[2].type: must be one of "quadratic", "hinge", "gateBenefit", "dampedGateBenefit", got "spring"'],
    ['hinge without j', (d) => delete c(d, 1).j, '$.couplings[1].j: must be an integer module index in [0, 5), got nothing'],
    ['negative weight', (d) => (c(d, 3).w = -0.8), '$.couplings[3].w: must be ≥ 0, got -0.8'],
    ['negative hinge α', (d) => (c(d, 1).alpha = -1), '$.couplings[1].alpha: must be ≥ 0, got -1'],
    ['damped without power', (d) => delete c(d, 5).power, '$.couplings[5].power: is required (> 0)'],
    ['α on a quadratic', (d) => (c(d, 0).alpha = 2), '$.couplings[0].alpha: is not a field here (allowed: type, i, j, w)'],
    ['coupling not an object', (d) => (d.couplings[6] = [1, 2]), '$.couplings[6]: must be an object, got an array'],
    ['relax missing', (d) => delete d.relax, '$.relax: must be an object, got nothing'],
    ['fractional steps', (d) => (d.relax!.steps = 1.5), '$.relax.steps: must be an integer and ≥ 0, got 1.5'],
    ['zero step size', (d) => (d.relax!.stepSize = 0), '$.relax.stepSize: must be > 0, got 0'],
    ['backtrack factor 1', (d) => (d.relax!.lineSearch.backtrackFactor = 1), '$.relax.lineSearch.backtrackFactor: must be > 0 and < 1, got 1'],
    ['unknown policy', (d) => (d.relax!.onIncrease = 'ignore'), '$.relax.onIncrease: must be one of "revert", "compat", got "ignore"'],
    ['unknown top-level key', (d) => (d.termWeights = {}), '$.termWeights: is not a field here (allowed: format, modules, couplings, relax)'],
  ];
  it.each(cases)('%s', (_name, edit, message) => {
    const doc = fixture('mixed.json') as Doc;
    edit(doc);
    let err: unknown;
    try {
      parseLandauGraph(doc, 'mixed.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`mixed.json: ${message}`);
  });

  it('text that is not JSON', () => {
    expect(() => parseLandauGraph('{"format": ', 'broken.json')).toThrow(/^broken\.json: not valid JSON \(/);
  });
});

describe('the landau-graph scenario', () => {
  it('runs a file: results.landau holds the trace, ΔF90 both ways, counts, stop reason and etaFinal', async () => {
    const summary = await runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: path.join(FIXTURES, 'ring16.json') } });
    expect(summary.validation).toEqual({ ok: true, problems: [] });
    const r = summary.results.landau as LandauResults;
    expect(r.energyTrace).toHaveLength(81);
    expect(r.energyInit).toBeCloseTo(DELTA_F90_TARGETS.ring16.energyInit, 14);
    expect(r.deltaF90).toEqual({ withInit: 45, withoutInit: 48 });
    expect(r.acceptedSteps).toBe(80);
    expect(r.backtracks).toBe(0);
    expect(r.stopReason).toBe('completed');
    expect(r.etaFinal).toHaveLength(16);
    expect(summary.results.graph).toBe(path.join(FIXTURES, 'ring16.json'));
  });

  it('--set steps overrides the file; the line search and policy come from the file', async () => {
    const summary = await runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: path.join(FIXTURES, 'mixed.json'), steps: '7' } });
    expect(summary.validation.ok).toBe(true);
    const r = summary.results.landau as LandauResults;
    expect(r.acceptedSteps).toBe(7);
    expect(r.energyTrace).toHaveLength(8);
    expect(r.onIncrease).toBe('revert');
  });

  it('etaFinal is left out above 10,000 modules unless writeEta=true', async () => {
    const file = path.join(tmp, 'big.json');
    const p = randomProblem({ n: 10_001, degree: 2, seed: 1 });
    writeFileSync(file, JSON.stringify(toLandauGraphJson(p, { stepSize: 0.05, steps: 1 })));
    const without = await runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: file } });
    expect((without.results.landau as LandauResults).etaFinal).toBeUndefined();
    const withEta = await runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: file, writeEta: 'true' } });
    expect((withEta.results.landau as LandauResults).etaFinal).toHaveLength(10_001);
  });

  it('a bad file is a UsageError naming the file and the JSON path', async () => {
    const file = path.join(tmp, 'bad.json');
    const doc = fixture('baseline.json') as { modules: { eta0: number }[] };
    doc.modules[1]!.eta0 = -0.1;
    writeFileSync(file, JSON.stringify(doc));
    await expect(runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: file } })).rejects.toThrow(new UsageError(`${file}: $.modules[1].eta0: must be ≥ 0 and ≤ 1, got -0.1`));
    await expect(runScenario({ scenario: 'landau-graph', workers: 1, set: { graph: path.join(tmp, 'missing.json') } })).rejects.toThrow(/cannot read the file \(ENOENT\)/);
  });

  it('the format string', () => {
    expect(LANDAU_GRAPH_FORMAT).toBe('simloom/landau-graph@1');
  });
});
