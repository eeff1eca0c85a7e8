/**
 * SIGINT/SIGTERM during `simloom run` (ARCHITECTURE §7, issue 6), on the built CLI spawned as a user
 * would run it: the first signal finishes the current step, writes a checkpoint and exits 0 with one
 * line naming it; resuming that checkpoint ends where the uninterrupted run ends. A second signal
 * exits at once with 130. `simloom inspect` reads the checkpoint the signal left.
 *
 * `npm test` builds first; run alone, this file builds only when dist/sim/cli.js is missing (a stale
 * dist is the caller's to rebuild).
 *
 * Oracle: the uninterrupted run, in-process, on one worker (bit-identical on any worker count).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../sim/run.js';
import type { RunSummary } from '../sim/scenario.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/sim/cli.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-signals-'));
beforeAll(() => {
  if (!existsSync(cli)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(process.execPath, [cli, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Resolves once `file` exists (the run is stepping), or fails after `ms`. */
async function waitFor(file: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(file)) {
    if (Date.now() - t0 > ms) throw new Error(`${file} did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);
const SET = ['--set', 'n=3000'];

describe.each(['SIGINT', 'SIGTERM'] as const)('%s during simloom run', (sig) => {
  it('finishes the step, checkpoints, exits 0 with one line; resume ends where the uninterrupted run ends', async () => {
    const out = path.join(tmp, `run-${sig}`);
    const { child, done } = start(['run', 'circles', ...SET, '--steps', '100000', '--workers', '2', '--seed', '7', '--out', out, '--checkpoint-every', '5', '--no-progress']);
    await waitFor(path.join(out, 'checkpoints', 'step-5'));
    child.kill(sig);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    const stdout = lines(r.stdout);
    expect(stdout).toHaveLength(1);
    const m = new RegExp(`^circles: aborted by ${sig} after step (\\d+); checkpoint (\\S+) \\(continue with: simloom resume \\S+\\)$`).exec(stdout[0]!);
    expect(m, stdout[0]).not.toBeNull();
    const step = Number(m![1]);
    const checkpoint = m![2]!;
    expect(checkpoint).toBe(path.join(out, 'checkpoints', `step-${step}`));
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary).toMatchObject({ status: 'aborted', steps: step, abortedBy: sig, checkpoint });
    expect(existsSync(path.join(out, 'metrics.csv'))).toBe(true);

    const more = 7;
    const reference = await runScenario({ scenario: 'circles', set: { n: '3000' }, steps: step + more, workers: 1, seed: 7 });
    const resumed = await start(['resume', checkpoint, '--steps', String(more), '--workers', '1', '--out', path.join(tmp, `resumed-${sig}`), '--json', '--no-progress']).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    const s = JSON.parse(lines(resumed.stdout).at(-1)!) as RunSummary;
    expect(s.steps).toBe(step + more);
    expect(s.resumedFrom).toEqual({ checkpoint, step });
    expect(s.stateChecksum).toBe(reference.stateChecksum);
  });
});

describe('a second signal', () => {
  it('exits at once with 130, leaving no checkpoint of the interrupted stop', async () => {
    const out = path.join(tmp, 'twice');
    // Large enough that a step takes a while: both signals arrive while it computes.
    const { child, done } = start(['run', 'circles', '--set', 'n=300000', '--steps', '100000', '--workers', '2', '--out', out, '--checkpoint-every', '1', '--no-progress']);
    await waitFor(path.join(out, 'checkpoints', 'step-1'));
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT again: exiting now/);
    expect(existsSync(path.join(out, 'summary.json'))).toBe(false);
  });
});

describe('simloom inspect', () => {
  it('prints the manifest and per-kind statistics of a checkpoint', async () => {
    const out = path.join(tmp, 'inspect');
    const run = await start(['run', 'circles', '--set', 'n=500', '--steps', '4', '--workers', '1', '--out', out, '--checkpoint-at-end', '--no-progress']).done;
    expect(run.code, run.stderr).toBe(0);
    const r = await start(['inspect', out, '--json']).done;
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(lines(r.stdout).at(-1)!) as { dir: string; manifest: { step: number; scenario: string }; kinds: Record<string, { count: number; fields: Record<string, { min: number; mean: number; max: number }> }> };
    expect(j.dir).toBe(path.join(out, 'checkpoints', 'step-4'));
    expect(j.manifest).toMatchObject({ step: 4, scenario: 'circles' });
    expect(j.kinds.CirclesAgent!.count).toBe(500);
    const x = j.kinds.CirclesAgent!.fields.x!;
    // width = floor(∛500) = 7: positions start in [0, 7) and move by at most repulse (0.05) a step.
    expect(x.min).toBeGreaterThanOrEqual(-0.2);
    expect(x.max).toBeLessThanOrEqual(7.2);
    expect(x.min).toBeLessThanOrEqual(x.mean);
    expect(x.mean).toBeLessThanOrEqual(x.max);
    const text = await start(['inspect', path.join(out, 'checkpoints', 'step-4')]).done;
    expect(text.stdout).toMatch(/^checkpoint .*step-4\n/);
    expect(text.stdout).toMatch(/CirclesAgent: 500 actors/);
    expect(text.stdout).toMatch(/\n\s+drift\s+f32\s/);
    const bad = await start(['inspect', tmp]).done;
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toHaveLength(1);
    expect(bad.stderr).toMatch(/holds no manifest\.json/);
  });
});
