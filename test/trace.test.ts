/**
 * Traces (sim/trace.ts), the profile report computed from them (sim/profile.ts) and scenario plots
 * (sim/plots.ts), on circles: small populations with `inlineBelow: 0`, so every phase and gather runs
 * on the worker threads too.
 *
 * Oracles: the Chrome trace event format itself (JSON, `ph` kinds, per-thread slices that nest: any
 * two slices of a thread are nested or disjoint), the host's own step slices as the time frame in
 * which every worker slice must fall (a worker whose clock were converted wrongly would land
 * outside), counts of events and drops restated from the file, and every figure of the profile
 * report recomputed here from the raw events with the rules written in sim/profile.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../src/model.js';
import { probeWebGpu } from '../sim/gpu/device.js';
import { checkPlots, MetricSeries } from '../sim/plots.js';
import { analyzeTrace, cmdProfile, expandSets, readTrace, type TraceEvent, type TraceFile } from '../sim/profile.js';
import { runScenario } from '../sim/run.js';
import { loadScenario, parseParams, type RunSummary } from '../sim/scenario.js';
import { EV, Tracer, TraceWriter } from '../sim/trace.js';

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'simloom-trace-test-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => path.join(tmpRoot, `run-${dirs++}`);

const xs = (t: TraceFile): TraceEvent[] => t.traceEvents.filter((e) => e.ph === 'X');
const ns = (us: number): number => Math.round(us * 1000);

/** Any two X slices of one thread are nested or disjoint (integer ns, as written). */
function expectNesting(events: readonly TraceEvent[]): void {
  const byTid = new Map<number, TraceEvent[]>();
  for (const e of events) byTid.set(e.tid!, [...(byTid.get(e.tid!) ?? []), e]);
  for (const [tid, list] of byTid) {
    const sorted = [...list].sort((a, b) => ns(a.ts) - ns(b.ts) || ns(b.dur!) - ns(a.dur!));
    const stack: { end: number; name: string }[] = [];
    for (const e of sorted) {
      const start = ns(e.ts);
      const end = start + ns(e.dur!);
      while (stack.length > 0 && stack.at(-1)!.end <= start) stack.pop();
      const top = stack.at(-1);
      if (top && end > top.end) throw new Error(`thread ${tid}: '${e.name}' [${start}, ${end}] overlaps '${top.name}' ending at ${top.end} without nesting`);
      stack.push({ end, name: e.name });
    }
  }
}

describe('trace.json of a cpu run with 3 threads', () => {
  let dir = '';
  let trace: TraceFile;
  let summary: RunSummary;
  beforeAll(async () => {
    dir = freshDir();
    summary = await runScenario({ scenario: 'circles', steps: 6, workers: 3, inlineBelow: 0, set: { n: '3000' }, outDir: dir, trace: true });
    trace = JSON.parse(readFileSync(path.join(dir, 'trace.json'), 'utf8')) as TraceFile;
  });

  it('is JSON in the trace event format, with one named track per thread', () => {
    expect(Array.isArray(trace.traceEvents)).toBe(true);
    for (const e of trace.traceEvents) {
      expect(['X', 'M', 'C', 's', 'f']).toContain(e.ph);
      expect(e.pid).toBe(1);
      if (e.ph !== 'M') expect(Number.isFinite(e.ts)).toBe(true);
      if (e.ph === 'X') {
        expect(e.dur).toBeGreaterThanOrEqual(0);
        expect(typeof e.tid).toBe('number');
        expect(typeof e.cat).toBe('string');
      }
    }
    const threads = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => (e.args as { name: string }).name);
    expect(threads).toEqual(['host (partition 0)', 'worker 1', 'worker 2']);
    // Every thread has slices; the workers have phase slices with kernels in them.
    for (const tid of [2, 3]) {
      const mine = xs(trace).filter((e) => e.tid === tid);
      expect(mine.some((e) => e.cat === 'phase')).toBe(true);
      expect(mine.some((e) => e.cat === 'kernel')).toBe(true);
      expect(mine.some((e) => e.cat === 'gather')).toBe(true);
    }
  });

  it('has phase, kernel, index and wait slices that nest correctly on every thread', () => {
    expectNesting(xs(trace));
    const steps = xs(trace).filter((e) => e.cat === 'step');
    expect(steps.map((e) => e.args!.step)).toEqual([0, 1, 2, 3, 4, 5]);
    const host = xs(trace).filter((e) => e.tid === 1);
    for (const cat of ['phase', 'kernel', 'wait', 'index', 'sort', 'gather', 'reduce']) expect(host.some((e) => e.cat === cat), cat).toBe(true);
  });

  it('puts every worker slice inside a host step (one time origin for all threads)', () => {
    const steps = xs(trace).filter((e) => e.cat === 'step');
    for (const e of xs(trace).filter((x) => x.tid !== 1)) {
      const inside = steps.some((s) => ns(e.ts) >= ns(s.ts) && ns(e.ts) + ns(e.dur!) <= ns(s.ts) + ns(s.dur!));
      expect(inside, `${e.name} at ${e.ts} on thread ${e.tid}`).toBe(true);
    }
    // And the kernels of a phase on a worker start after the host's phase (its doorbell) started.
    const hostPhases = xs(trace).filter((e) => e.tid === 1 && e.cat === 'phase');
    for (const e of xs(trace).filter((x) => x.tid !== 1 && x.cat === 'phase')) {
      expect(hostPhases.some((h) => h.args!.phase === e.args!.phase && ns(e.ts) >= ns(h.ts) && ns(e.ts) + ns(e.dur!) <= ns(h.ts) + ns(h.dur!))).toBe(true);
    }
  });

  it('has flow arrows output → index build → input, each end inside a slice of its thread', () => {
    const starts = trace.traceEvents.filter((e) => e.ph === 's');
    const ends = trace.traceEvents.filter((e) => e.ph === 'f');
    expect(starts.length).toBeGreaterThan(0);
    expect(ends.map((e) => e.id).sort()).toEqual(starts.map((e) => e.id).sort());
    const within = (e: TraceEvent): TraceEvent | undefined => xs(trace).find((x) => x.tid === e.tid && (x.cat === 'kernel' || x.cat === 'index') && ns(e.ts) >= ns(x.ts) && ns(e.ts) <= ns(x.ts) + ns(x.dur!));
    for (const e of [...starts, ...ends]) expect(within(e), `flow ${e.id} ${e.ph}`).toBeDefined();
    // Per step: 3 output kernels → the index, the index → 3 input kernels.
    expect(starts.length).toBe(6 * 6);
    const toIndex = starts.filter((s) => within(s)!.cat === 'kernel');
    expect(toIndex.length).toBe(6 * 3);
  });

  it('has the counters, and totals that match the file', () => {
    const counters = trace.traceEvents.filter((e) => e.ph === 'C');
    for (const name of ['messages per step', 'messages/s', 'active actors', 'queue depth', 'bytes copied']) expect(counters.filter((c) => c.name === name)).toHaveLength(6);
    for (const c of counters.filter((x) => x.name === 'queue depth')) expect(c.args).toEqual({ 'CirclesAgent.location': 3000 });
    for (const c of counters.filter((x) => x.name === 'active actors')) expect(c.args).toEqual({ CirclesAgent: 3000 });
    // gather: 3000 records × (x, y, z f32 + the u32 sender id)
    for (const c of counters.filter((x) => x.name === 'bytes copied')) expect(c.args!.gather).toBe(3000 * 16);
    expect(summary.trace!.droppedEvents).toBe(0);
    expect(summary.trace!.events).toBe(trace.traceEvents.length);
    expect(trace.otherData!.droppedEvents).toBe(0);
    expect(trace.otherData!.scenario).toBe('circles');
  });
});

describe('bounded trace memory: drops are counted, never silent', () => {
  it('counts records past a ring’s capacity', async () => {
    const sc = await loadScenario('circles');
    const spec = compileModel(sc.setup(parseParams(sc, { n: '10' })).model);
    const t = new Tracer(spec, { file: null, capacity: 16 });
    t.allocate(2);
    const w = new TraceWriter(t.threadInit(1));
    for (let i = 0; i < 20; i++) w.slice(EV.kernel, 0, 1, i, i + 1);
    t.endStep(0, null);
    for (let i = 0; i < 5; i++) w.slice(EV.kernel, 0, 1, i, i + 1);
    t.endStep(1, null);
    expect(t.close()).toMatchObject({ droppedFromRings: 4, droppedEvents: 4, steps: 2 });
  });

  it('counts events past maxEvents and still writes valid JSON', async () => {
    const dir = freshDir();
    const s = await runScenario({ scenario: 'circles', steps: 4, workers: 2, inlineBelow: 0, set: { n: '1000' }, outDir: dir, trace: { maxEvents: 40 } });
    const t = readTrace(path.join(dir, 'trace.json'));
    expect(t.traceEvents).toHaveLength(40);
    expect(s.trace!.droppedFromFile).toBeGreaterThan(0);
    expect(s.trace!.droppedEvents).toBe(s.trace!.droppedFromFile);
    expect(t.otherData!.droppedEvents).toBe(s.trace!.droppedEvents);
  });
});

/** Median as sim/profile.ts takes it. */
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

describe('the profile report matches the trace', () => {
  let trace: TraceFile;
  beforeAll(async () => {
    const dir = freshDir();
    await runScenario({ scenario: 'circles', steps: 8, workers: 2, inlineBelow: 0, set: { n: '4000' }, outDir: dir, trace: true });
    trace = readTrace(path.join(dir, 'trace.json'));
  });

  it('recomputes steps, step times, kernel time per function and thread, utilisation, waits and messages', () => {
    const r = analyzeTrace(trace);
    const steps = xs(trace).filter((e) => e.cat === 'step').sort((a, b) => a.ts - b.ts);
    expect(r.stepsTraced).toBe(8);
    expect(r.warmupSteps).toBe(1);
    const used = steps.slice(1);
    expect(r.steps).toBe(7);
    const inUsed = (e: TraceEvent): boolean => used.some((s) => e.ts >= s.ts && e.ts <= s.ts + s.dur!);
    const perStep = (us: number): number => us / 1000 / used.length;
    expect(r.stepMs.median).toBeCloseTo(median(used.map((s) => s.dur! / 1000)), 3);
    expect(r.wallMs).toBeCloseTo(used.reduce((a, s) => a + s.dur!, 0) / 1000, 3);
    // Kernel time per function and thread.
    for (const p of r.phases) {
      for (const k of p.kernels) {
        [1, 2].forEach((tid, i) => {
          const us = xs(trace).filter((e) => e.cat === 'kernel' && e.tid === tid && e.args!.fn === k.fn && inUsed(e)).reduce((a, e) => a + e.dur!, 0);
          expect(k.perThreadMs[i]).toBeCloseTo(perStep(us), 3);
        });
      }
    }
    expect(r.phases.map((p) => p.kernels.map((k) => k.fn))).toEqual([['CirclesAgent.output'], ['CirclesAgent.move']]);
    // Utilisation: leaf work slices over the analysed steps' wall time.
    const wall = used.reduce((a, s) => a + s.dur!, 0);
    for (const t of r.threadStats) {
      const busy = xs(trace).filter((e) => e.tid === t.tid && ['kernel', 'gather', 'sort', 'reduce', 'copy'].includes(e.cat!) && inUsed(e)).reduce((a, e) => a + e.dur!, 0);
      expect(t.utilisation).toBeCloseTo(busy / wall, 3);
      expect(t.busyMs).toBeCloseTo(perStep(busy), 3);
    }
    // Barrier wait: the host's wait slices.
    const waits = xs(trace).filter((e) => e.tid === 1 && e.cat === 'wait' && inUsed(e)).reduce((a, e) => a + e.dur!, 0);
    expect(r.barrierWaitMs).toBeCloseTo(perStep(waits), 3);
    // Messages: the counters of the analysed steps.
    const mps = trace.traceEvents.filter((e) => e.ph === 'C' && e.name === 'messages per step' && used.some((s) => e.ts >= s.ts && e.ts <= s.ts + s.dur! + 1));
    expect(mps).toHaveLength(7);
    expect(r.messagesPerStep).toBe(4000);
    // The breakdown divides the mean step time.
    expect(r.breakdown.reduce((a, b) => a + b.ms, 0)).toBeCloseTo(r.wallMs / r.steps, 1);
    expect(r.bottleneck.length).toBeGreaterThan(20);
    expect(r.bottleneck.split(/\.\s/).length).toBe(1); // one sentence
  });
});

describe('simloom profile', () => {
  it('writes report.html, report.json and plots whose numbers are those of each run’s trace (scaling study)', async () => {
    const out = freshDir();
    const write = process.stdout.write.bind(process.stdout);
    let printed = '';
    process.stdout.write = ((s: string) => {
      printed += s;
      return true;
    });
    try {
      await cmdProfile('circles', { steps: 4, backend: 'cpu', workers: '1,2', seed: 1, set: { n: '2000' }, out });
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toMatch(/bottleneck {3}\S/);
    expect(printed).toMatch(/scaling study \(median step time\):\n +run +threads/);
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Bottleneck.');
    const json = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as {
      runs: { label: string; dir: string; report: ReturnType<typeof analyzeTrace> }[];
      scaling: { workers: number; speedup: number; nsPerActor: number; msPerStep: number }[];
    };
    expect(json.runs.map((r) => r.label)).toEqual(['w1', 'w2']);
    for (const r of json.runs) expect(r.report).toEqual(analyzeTrace(readTrace(path.join(r.dir, 'trace.json'))));
    expect(json.scaling[0]!.speedup).toBe(1);
    expect(json.scaling[1]!.speedup).toBeCloseTo(json.scaling[0]!.msPerStep / json.scaling[1]!.msPerStep, 2);
    expect(json.scaling[1]!.nsPerActor).toBeCloseTo((json.scaling[1]!.msPerStep * 1e6) / 2000, 1);
    for (const f of ['cost-per-actor', 'speedup', 'w1-breakdown', 'w2-timeline', 'w2-per-thread', 'w2-utilisation']) {
      expect(existsSync(path.join(out, 'plots', `${f}.svg`)), f).toBe(true);
      expect(readFileSync(path.join(out, 'plots', `${f}.png`)).subarray(1, 4).toString()).toBe('PNG');
    }
  });

  it('expands --set lists into every combination', () => {
    expect(expandSets({ n: '1,2', radius: '3' })).toEqual([
      { n: '1', radius: '3' },
      { n: '2', radius: '3' },
    ]);
    expect(() => expandSets({ n: '1,,2' })).toThrow(/empty value/);
  });
});

describe('run --plots', () => {
  it('draws circles’ declared plot as SVG and PNG', async () => {
    const dir = freshDir();
    const s = await runScenario({ scenario: 'circles', steps: 3, workers: 1, set: { n: '500' }, outDir: dir, plots: true });
    expect(s.plots).toEqual({ files: [path.join(dir, 'plots', 'drift.svg'), path.join(dir, 'plots', 'drift.png')] });
    const svg = readFileSync(path.join(dir, 'plots', 'drift.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('meanDrift');
    expect(readFileSync(path.join(dir, 'plots', 'drift.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it.for([
    ['circles', { n: '500' }],
    ['deliveries', { n: '600', hubs: '5' }],
  ] as const)('%s: every declared plot is a well-formed SVG whose lines are the recorded metrics, with a PNG at twice its size', async ([name, set]) => {
    const scenario = await loadScenario(name);
    const decls = scenario.plots ?? [];
    expect(decls.length, `${name} declares its main plots`).toBeGreaterThan(0);
    const dir = freshDir();
    const steps = 7;
    const s = await runScenario({ scenario: name, steps, workers: 1, set, outDir: dir, plots: true, recordEvery: 1 });
    expect(s.plots).toEqual({ files: decls.flatMap((d) => ['svg', 'png'].map((e) => path.join(dir, 'plots', `${d.name}.${e}`))) });
    // The oracle: metrics.csv, as the run wrote it.
    const [head, ...body] = readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n');
    const cols = head!.split(',');
    const rows = body.map((l) => l.split(',').map(Number));
    expect(rows).toHaveLength(steps + 1);
    for (const d of decls) {
      const svg = readFileSync(path.join(dir, 'plots', `${d.name}.svg`), 'utf8');
      expectWellFormedXml(svg);
      const size = /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="(\d+)" height="(\d+)"/.exec(svg);
      expect(size, `${d.name}.svg: root element`).not.toBeNull();
      const png = readFileSync(path.join(dir, 'plots', `${d.name}.png`));
      expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([2 * Number(size![1]), 2 * Number(size![2])]);
      // One line per declared column, through one vertex per recorded row, at heights that are an
      // affine image of the column's values (vega's linear y scale; 0.01 px for its rounding).
      const lines = [...svg.matchAll(/<path aria-label="[^"]*series: (\w+)" role="graphics-symbol" aria-roledescription="line mark" d="([^"]+)"/g)];
      expect(lines.map((m) => m[1]).sort(), d.name).toEqual([...d.y].sort());
      const ys = lines.map((m) => [...m[2]!.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((v) => [Number(v[1]), Number(v[2])] as const));
      const vs = lines.map((m) => rows.map((r) => r[cols.indexOf(m[1]!)]!));
      for (const [i, pts] of ys.entries()) {
        expect(pts, `${d.name}: ${lines[i]![1]}`).toHaveLength(rows.length);
        for (let k = 1; k < pts.length; k++) expect(pts[k]![0]).toBeGreaterThan(pts[k - 1]![0]);
      }
      // The y scale is shared by the lines of a plot: fit it on the extremes of all of them.
      const allV = vs.flat();
      const allY = ys.flatMap((p) => p.map((q) => q[1]));
      const lo = Math.min(...allV);
      const hi = Math.max(...allV);
      const yAt = (v: number): number => allY[allV.indexOf(v)]!;
      for (const [i, pts] of ys.entries()) {
        for (const [k, [, y]] of pts.entries()) {
          const want = hi === lo ? yAt(lo) : yAt(lo) + ((vs[i]![k]! - lo) / (hi - lo)) * (yAt(hi) - yAt(lo));
          expect(Math.abs(y - want), `${d.name}: ${lines[i]![1]} at row ${k}`).toBeLessThanOrEqual(0.01);
        }
      }
      if (hi > lo) expect(yAt(hi)).toBeLessThan(yAt(lo)); // larger values are drawn higher
    }
  });

  it('refuses a plot of a column the run did not record, naming it and the columns there are', () => {
    expect(() => checkPlots('x', [{ name: 'p', title: 't', y: ['nope'] }], ['a', 'b'])).toThrow("scenario 'x' plots[0] ('p'): 'nope' is not a column of metrics.csv (columns: step, a, b)");
    expect(() => checkPlots('x', [{ name: 'a b', title: 't', y: ['a'] }], ['a'])).toThrow(/file name/);
  });

  it('keeps a bounded, evenly spread series of metrics rows, always with the last', () => {
    const s = new MetricSeries(8);
    for (let i = 0; i <= 100; i++) s.add(i, { v: i });
    const rows = s.rows();
    expect(rows.length).toBeLessThanOrEqual(9);
    expect(rows[0]!.step).toBe(0);
    expect(rows.at(-1)!.step).toBe(100);
  });
});

const probe = await probeWebGpu();
if (probe.ok) probe.destroy();
describe.skipIf(!probe.ok)(`trace of a webgpu run${probe.ok ? '' : ` — SKIPPED: ${probe.reason}`}`, () => {
  it('has a GPU queue track whose phase slices nest and carry the flows', async () => {
    const dir = freshDir();
    await runScenario({ scenario: 'circles', steps: 3, backend: 'webgpu', set: { n: '1000' }, outDir: dir, trace: true });
    const t = readTrace(path.join(dir, 'trace.json'));
    const names = t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => (e.args as { name: string }).name);
    expect(names).toEqual(['host (partition 0)', 'GPU queue']);
    const gpu = xs(t).filter((e) => e.tid === 1000);
    expect(gpu.length).toBeGreaterThanOrEqual(3);
    expectNesting(xs(t));
    const r = analyzeTrace(t);
    expect(r.backend).toBe('webgpu');
    expect(r.gpuMs).toBeGreaterThan(0);
    expect(r.messagesPerStep).toBeNull();
  });
});

/**
 * Checks XML well-formedness the way a parser would: one root element, every start tag closed by the
 * matching end tag in order, quoted attributes, no stray '<' or '&' in text.
 */
function expectWellFormedXml(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  const token = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|([^<]+)|(<)/g;
  for (const m of xml.matchAll(token)) {
    if (m[6] !== undefined) throw new Error(`malformed tag at ${m.index}: ${xml.slice(m.index, m.index + 60)}`);
    if (m[5] !== undefined) {
      if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(m[5])) throw new Error(`bare '&' in text at ${m.index}`);
      if (stack.length === 0 && m[5].trim() !== '') throw new Error(`text outside the root element at ${m.index}`);
      continue;
    }
    if (m[2] === undefined) continue; // a comment
    if (m[1] === '/') {
      const open = stack.pop();
      if (open !== m[2]) throw new Error(`</${m[2]}> at ${m.index} closes <${open ?? 'nothing'}>`);
    } else {
      if (stack.length === 0) roots++;
      if (m[4] !== '/') stack.push(m[2]);
    }
  }
  expect(stack, 'unclosed elements').toEqual([]);
  expect(roots, 'root elements').toBe(1);
}
