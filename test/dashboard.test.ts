/**
 * `simloom run --dashboard`, end to end in a real browser: Debian's Chromium driven by playwright-core
 * opens the dashboard of a running circles simulation (the CLI from sources, in a child process),
 * sees its plots grow as server-sent events arrive, pauses the run (the step counter stops) and
 * resumes it (it moves again), asks for a checkpoint, and checks that requests without the token,
 * with a wrong one, or with a foreign Host header are refused with 403.
 *
 * `simloom resume --dashboard` is tested through the HTTP API alone (no browser): the dashboard of a
 * resumed run answers with the run's steps, writes the checkpoint asked for with the run's own facts,
 * and that checkpoint resumes to the checksum of the uninterrupted run.
 *
 * Without Chromium the browser suite is skipped visibly, with the reason in its name (scripts/setup-browser.sh
 * installs it; SIMLOOM_CHROMIUM names another binary).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumeRun, runScenario } from '../sim/run.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chromiumPath = process.env.SIMLOOM_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const skipReason = haveChromium ? '' : ` — SKIPPED: no Chromium at ${chromiumPath} (run scripts/setup-browser.sh, or set SIMLOOM_CHROMIUM)`;

/** GET or POST with full control of the headers (fetch may not set Host). */
function status(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `cond` every 100 ms until it holds (the page's state is read through locators, not the DOM). */
async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!haveChromium)(`dashboard in headless Chromium${skipReason}`, () => {
  let tmp = '';
  let child: ChildProcess | null = null;
  let stderr = '';
  let url = '';
  let context: BrowserContext | null = null;
  let page: Page;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-dashboard-test-'));
    // Long enough never to finish during the test; n = 20000 puts worker 1 to work (≥ inlineBelow).
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'sim/cli.ts', 'run', 'circles', '--set', 'n=20000', '--workers', '2', '--steps', '100000', '--dashboard', '--no-progress', '--out', path.join(tmp, 'run')],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard URL within 60 s; stderr:\n${stderr}`)), 60_000);
      child!.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child!.on('exit', (code) => reject(new Error(`the run exited (${code}) before its dashboard came up:\n${stderr}`)));
    });
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.kill('SIGTERM'); // the run stops after its step (and writes a checkpoint)
      const t = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses requests without the token, with a wrong one, or for another host', async () => {
    const base = url.replace(/\/\?token=.*$/, '');
    const token = url.replace(/^.*token=/, '');
    const port = new URL(base).port;
    expect(await status(`${base}/`)).toBe(403);
    expect(await status(`${base}/?token=${'0'.repeat(32)}`)).toBe(403);
    expect(await status(`${base}/events`)).toBe(403);
    expect(await status(`${base}/api/pause`, { method: 'POST' })).toBe(403);
    expect(await status(`${base}/api/pause`, { method: 'POST', headers: { 'X-Simloom-Token': 'nope' } })).toBe(403);
    expect(await status(url, { headers: { Host: `attacker.example:${port}` } })).toBe(403);
    expect(await status(url)).toBe(200);
    expect(await status(`${base}/api/state`, { headers: { 'X-Simloom-Token': token } })).toBe(200);
  });

  it('shows the run, and its plots update through server-sent events', async () => {
    await page.goto(url);
    await until('status running', async () => (await page.locator('#status').textContent()) === 'running');
    const points = async (): Promise<number> => ((await page.locator('#plot-steptime').count()) > 0 ? Number(await page.locator('#plot-steptime').getAttribute('data-points')) : 0);
    await until('3 points on the step-time plot', async () => (await points()) >= 3);
    const before = await points();
    await until('more points (an SSE update)', async () => (await points()) > before);
    // Utilisation has one line per thread: host and worker 1.
    const legend = await page.locator('#plot-util').locator('xpath=..').locator('.legend').textContent();
    expect(legend).toContain('host');
    expect(legend).toContain('worker 1');
    expect(Number(await page.locator('#step').textContent())).toBeGreaterThan(0);
  });

  it('pauses the run (the step counter stops) and resumes it (it moves again)', async () => {
    await page.click('#pause');
    await until('status paused', async () => (await page.locator('#status').textContent()) === 'paused');
    const stepText = (): Promise<number> => page.locator('#step').textContent().then(Number);
    const s1 = await stepText();
    await page.waitForTimeout(1500);
    expect(await stepText()).toBe(s1);
    await page.click('#resume');
    await until('the step counter to move', async () => (await stepText()) > s1);
    expect(await page.locator('#status').textContent()).toBe('running');
  });

  it('writes a checkpoint when asked', async () => {
    await page.click('#checkpoint');
    await until('the checkpoint message', async () => /checkpoint of step \d+/.test((await page.locator('#message').textContent()) ?? ''));
    const msg = (await page.locator('#message').textContent())!;
    const step = /checkpoint of step (\d+)/.exec(msg)![1]!;
    expect(readdirSync(path.join(tmp, 'run', 'checkpoints'))).toContain(`step-${step}`);
  });
});

/** One request with the token header; resolves with the status and the parsed JSON body. */
function api(url: string, method: 'GET' | 'POST'): Promise<{ status: number; body: { state: { step: number; status: string }; message?: string } }> {
  const token = url.replace(/^.*token=/, '');
  const base = url.replace(/\/\?token=.*$/, '');
  return new Promise((resolve, reject) => {
    const req = request(`${base}${method === 'GET' ? '/api/state' : '/api/checkpoint'}`, { method, headers: { 'X-Simloom-Token': token } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as never }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('simloom resume --dashboard (HTTP API, no browser)', () => {
  it('serves the resumed run, writes the checkpoint asked for, and that checkpoint resumes like the run', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-dashboard-resume-'));
    const set = { n: '600' };
    try {
      const first = await runScenario({ scenario: 'circles', set, steps: 3, workers: 1, seed: 3, outDir: path.join(tmp, 'a'), checkpointAtEnd: true });
      const out = path.join(tmp, 'b');
      const child = spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', 'resume', first.checkpoint!, '--workers', '1', '--steps', '100000', '--dashboard', '--no-progress', '--out', out], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no dashboard URL within 60 s; stderr:\n${stderr}`)), 60_000);
          child.stderr.setEncoding('utf8').on('data', (d: string) => {
            stderr += d;
            const m = /^circles: dashboard at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})/m.exec(stderr);
            if (m) {
              clearTimeout(timer);
              resolve(m[1]!);
            }
          });
        });
        await until('the resumed run to step', async () => (await api(url, 'GET')).body.state.step > 3);
        expect((await api(url, 'GET')).body.state.status).toBe('running');
        const asked = await api(url, 'POST');
        expect(asked.status, asked.body.message).toBe(202);
        const dir = path.join(out, 'checkpoints');
        await until('the checkpoint', () => Promise.resolve(existsSync(dir) && readdirSync(dir).some((d) => /^step-\d+$/.test(d))));
        const saved = readdirSync(dir).find((d) => /^step-\d+$/.test(d))!;
        const step = Number(saved.slice('step-'.length));
        expect(step).toBeGreaterThan(3);
        const manifest = JSON.parse(readFileSync(path.join(dir, saved, 'manifest.json'), 'utf8')) as Record<string, unknown>;
        expect(manifest).toMatchObject({ scenario: 'circles', params: { n: 600 }, seed: 3, backend: 'cpu', workers: 1, step });
        child.kill('SIGINT');
        expect(await exited).toBe(0);
        expect(stdout).toMatch(/^circles: aborted by SIGINT after step \d+; checkpoint /);
        // The checkpoint the dashboard wrote resumes to the state of the uninterrupted run.
        const resumed = await resumeRun({ checkpoint: path.join(dir, saved), steps: 2, workers: 1 });
        const reference = await runScenario({ scenario: 'circles', set, steps: step + 2, workers: 1, seed: 3 });
        expect(resumed.stateChecksum).toBe(reference.stateChecksum);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
