/**
 * Plots as files: vega-lite specs compiled by vega into SVG, and PNG copies rendered by resvg
 * (ARCHITECTURE §8). Used by `simloom run --plots` (a scenario's declared plots of its metrics) and by
 * the profile report (sim/profile.ts). No browser and no network: vega renders headless
 * (`renderer: 'none'`), resvg draws with the system's fonts.
 *
 * vega, vega-lite and resvg are loaded on first use, so a run without plots does not pay for them.
 *
 * @example
 * ```ts
 * const series = new MetricSeries();
 * series.add(0, { meanDrift: 0 });
 * series.add(1, { meanDrift: 0.2 });
 * const files = await writeScenarioPlots('runs/c1/plots', scenario, series);  // drift.svg, drift.png
 * ```
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Resvg as ResvgClass } from '@resvg/resvg-js';
import type { TopLevelSpec } from 'vega-lite';
import { CheckError } from '../src/errors.js';
import type { PlotDecl, Scenario } from './scenario.js';

/** A metrics row: the step and the metrics recorded at it. */
export type MetricRow = Readonly<Record<string, number>> & { readonly step: number };

/**
 * The recorded metrics of a run, in bounded memory: at most `maxRows` rows are kept. When full,
 * every other row is dropped and only every 2nd (then 4th…) later row is kept, so the rows stay
 * evenly spread over the whole run; the last row added is always kept.
 */
export class MetricSeries {
  private rows_: MetricRow[] = [];
  private stride = 1;
  private seen = 0;
  private last: MetricRow | null = null;

  constructor(readonly maxRows = 4000) {
    if (!Number.isInteger(maxRows) || maxRows < 2) throw new RangeError(`maxRows must be an integer ≥ 2, got ${maxRows}`);
  }

  add(step: number, metrics: Readonly<Record<string, number>>): void {
    const row: MetricRow = { ...metrics, step };
    this.last = row;
    if (this.seen++ % this.stride !== 0) return;
    this.rows_.push(row);
    if (this.rows_.length >= this.maxRows) {
      this.rows_ = this.rows_.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
  }

  /** The kept rows, in step order, ending with the last row added. */
  rows(): MetricRow[] {
    const out = [...this.rows_];
    if (this.last && out.at(-1) !== this.last) out.push(this.last);
    return out;
  }

  /** Metric names (the columns of metrics.csv after `step`). */
  columns(): string[] {
    const first = this.rows_[0] ?? this.last;
    return first ? Object.keys(first).filter((k) => k !== 'step') : [];
  }
}

/** Shared look of every chart: white background, system sans font, readable sizes. */
export const CHART_CONFIG = {
  background: 'white',
  font: 'DejaVu Sans, Liberation Sans, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e5e5e5' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, anchor: 'start' as const, offset: 10 },
  view: { stroke: '#ccc' },
};

interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, opts: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
}

let libs: Promise<{ vl: { compile(spec: TopLevelSpec): { spec: unknown } }; vega: VegaModule; Resvg: typeof ResvgClass }> | null = null;

function loadLibs(): NonNullable<typeof libs> {
  libs ??= (async () => {
    const [vl, vega, resvg] = await Promise.all([import('vega-lite'), import('vega'), import('@resvg/resvg-js')]);
    return { vl: vl as unknown as { compile(spec: TopLevelSpec): { spec: unknown } }, vega: vega as unknown as VegaModule, Resvg: resvg.Resvg };
  })();
  return libs;
}

/** Renders a vega-lite spec to SVG (text) and PNG (bytes, at twice the SVG's size). */
export async function renderChart(spec: TopLevelSpec): Promise<{ svg: string; png: Buffer }> {
  const { vl, vega, Resvg } = await loadLibs();
  const full = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const view = new vega.View(vega.parse(vl.compile(full).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, {
      background: 'white',
      fitTo: { mode: 'zoom', value: 2 },
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    })
      .render()
      .asPng();
    return { svg, png };
  } finally {
    view.finalize();
  }
}

/** Writes `<dir>/<name>.svg` and `.png`; returns both paths. */
export async function writeChart(dir: string, name: string, spec: TopLevelSpec): Promise<string[]> {
  const { svg, png } = await renderChart(spec);
  mkdirSync(dir, { recursive: true });
  const svgFile = path.join(dir, `${name}.svg`);
  const pngFile = path.join(dir, `${name}.png`);
  writeFileSync(svgFile, svg);
  writeFileSync(pngFile, png);
  return [svgFile, pngFile];
}

/** A line chart of metric columns against `step` (or another column), one colour per column. */
export function linePlotSpec(decl: PlotDecl, rows: readonly MetricRow[]): TopLevelSpec {
  const x = decl.x ?? 'step';
  const values: { x: number; series: string; value: number }[] = [];
  for (const r of rows) {
    for (const y of decl.y) {
      const v = r[y];
      if (v !== undefined && Number.isFinite(v)) values.push({ x: r[x]!, series: y, value: v });
    }
  }
  return {
    title: decl.title,
    width: 560,
    height: 240,
    data: { values },
    mark: { type: 'line', point: rows.length <= 60, strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: decl.xTitle ?? x },
      y: { field: 'value', type: 'quantitative', title: decl.yTitle ?? decl.y.join(', '), ...(decl.logY ? { scale: { type: 'log' } } : {}) },
      color: { field: 'series', type: 'nominal', title: null, legend: decl.y.length > 1 ? { orient: 'top-left' } : null },
    },
  };
}

/**
 * Checks plot declarations against the metrics a run recorded: every column named exists. Throws a
 * {@link CheckError} naming the plot, the column and the columns there are.
 */
export function checkPlots(scenarioName: string, plots: readonly PlotDecl[], columns: readonly string[]): void {
  const have = new Set(['step', ...columns]);
  const names = new Set<string>();
  for (const [i, p] of plots.entries()) {
    const where = `scenario '${scenarioName}' plots[${i}] ('${p.name}')`;
    if (!/^[A-Za-z0-9_-]+$/.test(p.name)) throw new CheckError(`${where}: name must be letters, digits, '-' or '_' (it becomes a file name)`);
    if (names.has(p.name)) throw new CheckError(`${where}: a second plot named '${p.name}'; plot names must be unique`);
    names.add(p.name);
    if (p.y.length === 0) throw new CheckError(`${where}: y names no column`);
    for (const c of [p.x ?? 'step', ...p.y]) {
      if (!have.has(c)) throw new CheckError(`${where}: '${c}' is not a column of metrics.csv (columns: ${[...have].join(', ')})`);
    }
  }
}

/**
 * The plots of a scenario (its declared `plots`, else one line chart per metric) from a run's
 * metrics, written as SVG and PNG into `dir`. Returns the files written.
 */
export async function writeScenarioPlots(dir: string, scenario: Scenario, series: MetricSeries): Promise<string[]> {
  const columns = series.columns();
  const plots: readonly PlotDecl[] = scenario.plots ?? columns.map((c) => ({ name: c, title: `${scenario.name}: ${c}`, y: [c] }));
  checkPlots(scenario.name, plots, columns);
  const rows = series.rows();
  const files: string[] = [];
  for (const p of plots) files.push(...(await writeChart(dir, p.name, linePlotSpec(p, rows))));
  return files;
}

/** {@link writeScenarioPlots} for a run's summary: the files, or the reason there are none (never throws). */
export async function plotRun(dir: string, scenario: Scenario, series: MetricSeries): Promise<{ files: string[] } | { error: string }> {
  if (series.rows().length === 0) return { error: `scenario '${scenario.name}' recorded no metrics, so there is nothing to plot` };
  try {
    return { files: await writeScenarioPlots(dir, scenario, series) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
