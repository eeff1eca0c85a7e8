/**
 * `simloom sweep` (issue 6): 16 parameter points × 2 seeds of circles at a tiny size on a piscina
 * pool complete, and the table is right: one row per (params, seed) in odometer order, the CSV and
 * JSON files agree with the returned rows, and a row's checksum and metrics equal those of a direct
 * runScenario with the same parameters and seed. Plus the refusals, a failing point, and the CLI.
 *
 * Oracle: runScenario on the calling thread (the same code, outside the pool).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { runScenario } from '../sim/run.js';
import type { RunSummary } from '../sim/scenario.js';
import { gridPoints, parseGrid, runSweep, type SweepResult } from '../sim/sweep.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NS = ['40', '50', '60', '70'];
const RADII = ['1', '1.5', '2', '2.5'];
const STEPS = 10;

/** A CSV line split into fields (RFC 4180 quoting). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

describe('16 points × 2 seeds of circles', () => {
  let r: SweepResult;
  const out = path.join(tmp, 'grid');

  beforeAll(async () => {
    r = await runSweep({ scenario: 'circles', grid: { n: NS, radius: RADII }, seeds: 2, parallel: 2, steps: STEPS, outDir: out });
  });

  it('completes every run, valid, in odometer order', () => {
    expect(r.rows).toHaveLength(32);
    expect(r.points).toBe(16);
    expect(r.seeds).toEqual([1, 2]);
    expect(r.counts).toEqual({ completed: 32, faulted: 0, aborted: 0, failed: 0, valid: 32 });
    r.rows.forEach((row, i) => {
      const point = Math.floor(i / 2);
      expect(row.index).toBe(i);
      expect(row.seed).toBe(1 + (i % 2));
      expect(row.params).toEqual({ n: Number(NS[Math.floor(point / 4)]), radius: Number(RADII[point % 4]), repulse: 0.05 });
      expect(row.steps).toBe(STEPS);
      expect(row.stateChecksum).toMatch(/^[0-9a-f]{16}$/);
    });
    // Different parameters or seeds, different states.
    expect(new Set(r.rows.map((x) => x.stateChecksum)).size).toBe(32);
  });

  it('a row equals a direct run with the same parameters and seed', async () => {
    for (const i of [0, 13, 31]) {
      const row = r.rows[i]!;
      const direct = await runScenario({ scenario: 'circles', set: { n: String(row.params.n), radius: String(row.params.radius) }, seed: row.seed, steps: STEPS, workers: 1 });
      expect(row.stateChecksum, `row ${i}`).toBe(direct.stateChecksum);
      expect(row.metrics, `row ${i}`).toEqual(direct.metrics);
    }
  });

  it('writes sweep.json and sweep.csv that agree with the rows, and each run its own summary', () => {
    expect(r.files).toEqual({ csv: path.join(out, 'sweep.csv'), json: path.join(out, 'sweep.json') });
    const j = JSON.parse(readFileSync(r.files!.json, 'utf8')) as SweepResult;
    expect(j.rows).toEqual(r.rows);
    const [head, ...body] = readFileSync(r.files!.csv, 'utf8').trimEnd().split('\n');
    const cols = csvFields(head!);
    expect(cols.slice(0, 5)).toEqual(['index', 'seed', 'param.n', 'param.radius', 'param.repulse']);
    expect(cols).toEqual(expect.arrayContaining(['status', 'stateChecksum', 'validationOk', 'metric.meanDrift', 'metric.maxDrift']));
    expect(body).toHaveLength(32);
    const at = (name: string): number => cols.indexOf(name);
    body.forEach((line, i) => {
      const f = csvFields(line);
      const row = r.rows[i]!;
      expect(f[at('index')]).toBe(String(i));
      expect(f[at('param.n')]).toBe(String(row.params.n));
      expect(f[at('status')]).toBe('completed');
      expect(f[at('stateChecksum')]).toBe(row.stateChecksum);
      expect(f[at('validationOk')]).toBe('true');
      // Numbers round-trip exactly.
      expect(Number(f[at('metric.meanDrift')])).toBe(row.metrics.meanDrift);
      const own = JSON.parse(readFileSync(path.join(row.outDir!, 'summary.json'), 'utf8')) as RunSummary;
      expect(own.stateChecksum).toBe(row.stateChecksum);
    });
  });
});

describe('inputs and failures', () => {
  it('parses comma lists and forms the product, the last key fastest', () => {
    const g = parseGrid({ a: '1,2', b: 'x,y,z' });
    expect(g).toEqual({ a: ['1', '2'], b: ['x', 'y', 'z'] });
    expect(gridPoints(g).map((p) => `${p.a}${p.b}`)).toEqual(['1x', '1y', '1z', '2x', '2y', '2z']);
    expect(() => parseGrid({ a: '1,,2' })).toThrow(/--set a=1,,2: a value is empty/);
  });

  it('refuses a bad value before any run starts, naming the key', async () => {
    await expect(runSweep({ scenario: 'circles', grid: { n: ['10', 'ten'] }, steps: 1 })).rejects.toThrow(new UsageError("--set n: expected a number, got 'ten'"));
    await expect(runSweep({ scenario: 'circles', grid: { n: ['10'] }, seeds: 0 })).rejects.toThrow(/--seeds must be a positive integer/);
  });

  it('a point whose setup refuses its parameters is a failed row; the others complete', async () => {
    const r = await runSweep({ scenario: 'deliveries', grid: { n: ['6'], hubs: ['3', '9'] }, steps: 2, parallel: 2 });
    expect(r.rows.map((x) => x.status)).toEqual(['completed', 'failed']);
    expect(r.rows[1]!.error).toMatch(/hubs=9: must be ≤ n/);
    expect(r.counts).toMatchObject({ completed: 1, failed: 1, valid: 1 });
  });
});

describe('simloom sweep (built CLI)', () => {
  it('writes the table and prints one line; exit 0 when every run is valid', () => {
    const cli = path.join(root, 'dist/sim/cli.js');
    if (!existsSync(cli)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    const out = path.join(tmp, 'cli');
    const r = spawnSync(process.execPath, [cli, 'sweep', 'circles', '--set', 'n=30,40', '--seeds', '2', '--parallel', '2', '--steps', '3', '--out', out, '--json'], { cwd: tmp, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/circles sweep: 4 runs \(2 point\(s\) × 2 seed\(s\)\) in [\d.]+ s on 2 thread\(s\): 4 completed, 4 valid; table in .*sweep\.csv/);
    const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as SweepResult;
    expect(j.rows.map((x) => [x.params.n, x.seed])).toEqual([
      [30, 1],
      [30, 2],
      [40, 1],
      [40, 2],
    ]);
    expect(existsSync(path.join(out, 'sweep.csv'))).toBe(true);
  });
});
