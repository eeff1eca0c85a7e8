/**
 * The built CLI (`node dist/sim/cli.js`), spawned as a user would, in a temporary working directory.
 * `npm test` builds before running vitest; run alone, this file builds only when dist/sim/cli.js is
 * missing (a stale dist is the caller's to rebuild).
 *
 * Oracles: the output contract of ARCHITECTURE §6 (files, fields, exit codes, one-line errors), hand
 * math for circles' results (width = floor(∛n)), and the recorded-steps rule of sim/scenario.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../sim/scenario.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/sim/cli.js');
const fixture = (name: string): string => path.join(root, 'test/fixtures', name);
let cwd = '';

beforeAll(() => {
  if (!existsSync(cli)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  cwd = mkdtempSync(path.join(os.tmpdir(), 'simloom-cli-test-'));
});
afterAll(() => {
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function simloom(args: string[], dir = cwd): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);
const lastJson = <T>(r: Result): T => JSON.parse(lines(r.stdout).at(-1)!) as T;

/** Exit 2, exactly one line on stderr (matching `re` if given), no stack trace, nothing on stdout. */
function expectUsageError(r: Result, re?: RegExp): void {
  const err = lines(r.stderr);
  expect(r.code, r.stderr).toBe(2);
  expect(err, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).toBe('');
  if (re) expect(err[0]).toMatch(re);
}

describe('simloom run circles', () => {
  let out = '';
  let r: Result;
  let summary: RunSummary;

  beforeAll(async () => {
    out = path.join(cwd, 'circles-out');
    // A generous --step-deadline-ms is accepted and does not fire.
    r = await simloom(['run', 'circles', '--steps', '3', '--set', 'n=2000', '--workers', '2', '--step-deadline-ms', '60000', '--out', out, '--json']);
    summary = lastJson<RunSummary>(r);
  });

  it('exits 0 and prints the summary as JSON on the last stdout line', () => {
    expect(r.code, r.stderr).toBe(0);
    expect(summary.status).toBe('completed');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('writes summary.json (equal to the printed one) and metrics.csv, and nothing else', () => {
    expect(readdirSync(out).sort()).toEqual(['metrics.csv', 'summary.json']);
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'))).toEqual(summary);
  });

  it('fills the contract fields of the summary', () => {
    expect(summary).toMatchObject({
      status: 'completed',
      scenario: 'circles',
      steps: 3,
      backend: 'cpu',
      adapter: null,
      workers: 2,
      seed: 1,
      actors: { CirclesAgent: 2000 },
      params: { n: 2000 },
      validation: { ok: true, problems: [] },
    });
    expect(summary.wallSeconds).toBeGreaterThan(0);
    expect(summary.stateChecksum).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(summary.metrics).sort()).toEqual(['maxDrift', 'meanDrift']);
    for (const v of Object.values(summary.metrics)) expect(Number.isFinite(v)).toBe(true);
    // width = floor(∛2000) = 12 (12³ = 1728 ≤ 2000 < 13³ = 2197); radius is the default 2.
    expect(summary.results).toMatchObject({ width: 12, radius: 2 });
    // No agent moves more than repulse (0.05) in a step.
    expect(summary.metrics.maxDrift).toBeLessThanOrEqual(0.05 * (1 + 1e-6));
  });

  it('writes metrics.csv with a header and one row per recorded step (every step of a 3-step run)', () => {
    const csv = lines(readFileSync(path.join(out, 'metrics.csv'), 'utf8'));
    const header = csv[0]!.split(',');
    expect(header[0]).toBe('step');
    expect(header.slice(1).sort()).toEqual(Object.keys(summary.metrics).sort());
    const rows = csv.slice(1).map((l) => l.split(',').map(Number));
    // recordEvery defaults to max(1, floor(steps / 100)) = 1: the initial state and steps 1, 2, 3.
    expect(rows.map((row) => row[0])).toEqual([0, 1, 2, 3]);
    const last = rows.at(-1)!;
    header.slice(1).forEach((name, i) => {
      expect(last[i + 1]).toBeCloseTo(summary.metrics[name]!, 8);
    });
  });

  it('gives the same state on 1 worker, and another state for another seed', async () => {
    const one = await simloom(['run', 'circles', '--steps', '3', '--set', 'n=2000', '--workers', '1', '--out', path.join(cwd, 'w1'), '--json']);
    expect(one.code, one.stderr).toBe(0);
    expect(lastJson<RunSummary>(one).stateChecksum).toBe(summary.stateChecksum);
    const seeded = await simloom(['run', 'circles', '--steps', '3', '--set', 'n=2000', '--seed', '2', '--out', path.join(cwd, 's2'), '--json']);
    expect(seeded.code, seeded.stderr).toBe(0);
    const s2 = lastJson<RunSummary>(seeded);
    expect(s2.seed).toBe(2);
    expect(s2.stateChecksum).not.toBe(summary.stateChecksum);
  });
});

describe('simloom list', () => {
  it('lists circles with its parameters', async () => {
    const r = await simloom(['list']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^circles\s+\S/m);
    const j = await simloom(['list', '--json']);
    const rows = lastJson<{ name: string; params: Record<string, unknown> }[]>(j);
    expect(rows.find((x) => x.name === 'circles')?.params).toEqual({ n: 100_000, radius: 2, repulse: 0.05 });
  });
});

describe('a reader that closes the pipe early', () => {
  it('ends the command quietly, exit 0, no EPIPE stack trace (simloom list | head -0)', async () => {
    const r = await new Promise<Result>((resolve, reject) => {
      const p = spawn(process.execPath, [cli, 'list'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      // Our end of the pipe closes before the command writes (it loads every scenario first), so
      // its first write meets a closed pipe, as behind a `head` that has had enough.
      p.stdout.destroy();
      p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout: '', stderr }));
    });
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    expect(r.code).toBe(0);
  });
});

describe('scenarios named by file', () => {
  it('runs a .mjs scenario file given by relative path', async () => {
    const rel = path.relative(cwd, fixture('unit-cli-circles.mjs'));
    const r = await simloom(['run', rel, '--steps', '1', '--set', 'n=200', '--out', path.join(cwd, 'by-file'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<RunSummary>(r)).toMatchObject({ status: 'completed', scenario: 'circles', actors: { CirclesAgent: 200 } });
  });

  it('runs a shipped scenario named by its source file, scenarios/<name>.ts', async () => {
    const r = await simloom(['run', 'scenarios/circles.ts', '--steps', '1', '--set', 'n=200', '--out', path.join(cwd, 'by-ts'), '--json'], root);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<RunSummary>(r).scenario).toBe('circles');
  });
});

describe('resume and sweep take the output options of run', () => {
  let checkpoint = '';
  beforeAll(async () => {
    const r = await simloom(['run', 'circles', '--steps', '4', '--set', 'n=800', '--workers', '1', '--out', path.join(cwd, 'to-resume'), '--checkpoint-at-end', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    checkpoint = path.join(cwd, 'to-resume', 'checkpoints', 'step-4');
  });

  it('resume --trace --plots writes trace.json with the resumed steps and the scenario’s plots', async () => {
    const out = path.join(cwd, 'resumed-traced');
    const r = await simloom(['resume', checkpoint, '--steps', '3', '--workers', '2', '--trace', '--plots', '--out', out, '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJson<RunSummary>(r);
    expect(summary).toMatchObject({ status: 'completed', steps: 7, trace: { file: path.join(out, 'trace.json') }, plots: { files: [path.join(out, 'plots', 'drift.svg'), path.join(out, 'plots', 'drift.png')] } });
    expect(r.stderr).toMatch(/^circles: trace \S+trace\.json \(\d+ events/m);
    const trace = JSON.parse(readFileSync(path.join(out, 'trace.json'), 'utf8')) as { traceEvents: { cat?: string; ph: string; name: string; args?: { step?: number; name?: string } }[]; otherData: Record<string, unknown> };
    // Steps 4, 5 and 6 (0-based: the first step after the checkpoint of step 4 is step index 4).
    expect(trace.traceEvents.filter((e) => e.cat === 'step').map((e) => e.args?.step)).toEqual([4, 5, 6]);
    const threads = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args?.name);
    expect(threads).toContain('worker 1');
    expect(trace.otherData).toMatchObject({ scenario: 'circles', workers: 2, resumedFrom: { checkpoint, step: 4 } });
    expect(readFileSync(path.join(out, 'plots', 'drift.svg'), 'utf8')).toMatch(/^<svg /);
  });

  it('sweep --trace writes one trace.json per run, each of its own parameters', async () => {
    const out = path.join(cwd, 'sweep-traced');
    const r = await simloom(['sweep', 'circles', '--set', 'n=100,200', '--steps', '2', '--parallel', '2', '--trace', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = lastJson<{ rows: { params: { n: number }; outDir: string }[] }>(r).rows;
    expect(rows.map((x) => x.params.n)).toEqual([100, 200]);
    for (const row of rows) {
      const trace = JSON.parse(readFileSync(path.join(row.outDir, 'trace.json'), 'utf8')) as { traceEvents: { cat?: string }[]; otherData: { params: { n: number }; workers: number } };
      expect(trace.otherData.params.n).toBe(row.params.n);
      expect(trace.otherData.workers).toBe(1);
      expect(trace.traceEvents.filter((e) => e.cat === 'step')).toHaveLength(2);
    }
  });

  it('a run of a scenario file records its absolute path, so resume finds it from anywhere', async () => {
    // A scenario of the user's own (a copy of circles' declaration, not the shipped module itself).
    const own = path.join(cwd, 'my-circles.mjs');
    writeFileSync(own, `import c from ${JSON.stringify(pathToFileURL(path.join(root, 'dist/scenarios/circles.js')).href)};\nexport default { ...c, description: 'my circles' };\n`);
    const out = path.join(cwd, 'by-file-ckpt');
    const r = await simloom(['run', 'my-circles.mjs', '--steps', '2', '--set', 'n=200', '--out', out, '--checkpoint-at-end', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'checkpoints', 'step-2', 'manifest.json'), 'utf8')) as { scenario: string };
    expect(manifest.scenario).toBe(own);
    const resumed = await simloom(['resume', out, '--steps', '1', '--out', path.join(cwd, 'by-file-resumed'), '--json', '--no-progress'], os.tmpdir());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson<RunSummary>(resumed)).toMatchObject({ status: 'completed', steps: 3 });
  });

  it('a shipped scenario given by its source file is recorded by name (the checkpoint survives moving the checkout)', async () => {
    const out = path.join(cwd, 'by-ts-ckpt');
    const r = await simloom(['run', 'scenarios/circles.ts', '--steps', '1', '--set', 'n=200', '--out', out, '--checkpoint-at-end', '--no-progress'], root);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'checkpoints', 'step-1', 'manifest.json'), 'utf8')) as { scenario: string };
    expect(manifest.scenario).toBe('circles');
  });

  it('declares the shared options once: run, resume and sweep list them with the same words', async () => {
    const help = async (cmd: string): Promise<string> => (await simloom([cmd, '--help'])).stdout.replace(/\s+/g, ' ');
    const [run, resume, sweep] = [await help('run'), await help('resume'), await help('sweep')];
    for (const opt of ['--trace write OUT/trace.json', '--plots draw the scenario’s plots', '--dashboard serve live plots', '--workers <n> compute threads', '--keep <k> checkpoints kept']) {
      expect(run).toContain(opt);
      expect(resume).toContain(opt);
    }
    expect(sweep).toContain('--trace write a trace.json for every run');
    expect(sweep).toContain('--plots draw every run’s plots');
    expect(resume).toContain('--backend <b> cpu | webgpu | auto (default: the backend the checkpoint was written on)');
    expect(resume).not.toContain('--seed');
  });

  it('resume --backend with an unknown name exits 2 with one line', async () => {
    expectUsageError(await simloom(['resume', checkpoint, '--backend', 'gpu']), /--backend must be cpu, webgpu or auto, got 'gpu'$/);
  });
});

describe('errors a user can fix: exit 2, one line, no stack', () => {
  // [what, args, pinned line]: each line names the input and, where there is one, the fix.
  const cases: [string, string[], RegExp][] = [
    ['unknown scenario', ['run', 'nope'], /unknown scenario 'nope' \(available: [^)]*\bcircles\b[^)]*\); run 'simloom list' to see them$/],
    ['unknown --set key', ['run', 'circles', '--set', 'foo=1'], /--set foo: 'foo' is not a parameter of scenario 'circles' \(known: n, radius, repulse\)$/],
    ['--set without =', ['run', 'circles', '--set', 'n'], /--set expects key=value, got 'n'/],
    ['--set n=abc', ['run', 'circles', '--set', 'n=abc'], /--set n: expected a number, got 'abc'$/],
    ['--set n=-5', ['run', 'circles', '--set', 'n=-5'], /--set n: must be ≥ 1, got -5$/],
    ['--set n=2.5', ['run', 'circles', '--set', 'n=2.5'], /--set n: expected an integer, got '2\.5'$/],
    ['--steps x', ['run', 'circles', '--steps', 'x'], /--steps must be an integer ≥ 0, got 'x'/],
    ['--steps -1', ['run', 'circles', '--steps', '-1'], /--steps must be an integer ≥ 0, got '-1'/],
    ['--steps 1.5', ['run', 'circles', '--steps', '1.5'], /--steps must be an integer ≥ 0, got '1\.5'/],
    ['--workers 0', ['run', 'circles', '--workers', '0'], /--workers must be an integer ≥ 1, got '0'/],
    ['--workers two', ['run', 'circles', '--workers', 'two'], /--workers must be an integer ≥ 1, got 'two'/],
    ['--backend gpu', ['run', 'circles', '--backend', 'gpu'], /--backend must be cpu, webgpu or auto, got 'gpu'$/],
    ['--step-deadline-ms 0', ['run', 'circles', '--step-deadline-ms', '0'], /--step-deadline-ms must be an integer ≥ 1, got '0'/],
    ['--seed above u32', ['run', 'circles', '--seed', '4294967296'], /--seed must be ≤ 4294967295, got 4294967296$/],
    ['missing scenario file (relative)', ['run', './does-not-exist.js'], /scenario file '\.\/does-not-exist\.js' was not found$/],
    ['missing scenario file (absolute .ts)', ['run', '/nonexistent/dir/s.ts'], /scenario file '\/nonexistent\/dir\/s\.ts' was not found$/],
    ['unknown command', ['bogus'], /unknown command 'bogus'/],
    ['run without a scenario', ['run'], /missing required argument 'scenario'/],
  ];

  it.each(cases)('%s', async (_what, args, re) => {
    expectUsageError(await simloom(args), re);
  });

  it('a scenario file that exists but fails to import names the missing module, not the file', async () => {
    const r = await simloom(['run', fixture('unit-cli-broken-scenario.mjs')]);
    expectUsageError(r, /unit-cli-missing-dependency\.mjs/);
    expect(r.stderr).not.toMatch(/was not found/);
  });

  it('a TypeScript scenario file the built CLI cannot load says so in one line', async () => {
    expectUsageError(await simloom(['run', fixture('unit-counter/index.ts')]), /TypeScript/);
  });

  it('an unknown --backend exits 2 with one line', async () => {
    expectUsageError(await simloom(['run', 'circles', '--backend', 'cuda', '--steps', '1', '--set', 'n=10']), /--backend must be cpu, webgpu or auto/);
  });

  it('none of these errors created an output directory', () => {
    expect(readdirSync(cwd)).not.toContain('runs');
  });
});
