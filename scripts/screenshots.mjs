#!/usr/bin/env node
// Regenerates the screenshots in docs/ (docs/profiling.md shows them): a profile report (a scaling
// study of circles) and the dashboard of a running circles simulation, both rendered by Debian's
// Chromium through playwright-core. Runs simloom from sources (tsx).
//
//   node scripts/screenshots.mjs [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docs = path.join(root, 'docs');
const quick = process.argv.includes('--quick');
const chromiumPath = process.env.SIMLOOM_CHROMIUM ?? '/usr/bin/chromium';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'simloom-shots-'));
const simloom = (args, opts = {}) => spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', ...args], { cwd: root, ...opts });

const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1280, height: 900 },
  deviceScaleFactor: 1,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  // 1. The profile report of a scaling study.
  const out = path.join(tmp, 'profile-run');
  const sizes = quick ? '5000,20000' : '20000,100000';
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'sim/cli.ts', 'profile', 'circles', '--steps', quick ? '5' : '12', '--workers', '1,2', '--set', `n=${sizes}`, '--out', out], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`simloom profile exited ${r.status}`);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.setViewportSize({ width: 1280, height: 1500 });
  await page.goto(pathToFileURL(path.join(out, 'report.html')).href);
  await page.screenshot({ path: path.join(docs, 'profiling-report.png') });
  const run = page.locator('section').nth(2);
  await run.screenshot({ path: path.join(docs, 'profiling-run.png') });

  // 2. The dashboard of a running simulation.
  const child = simloom(['run', 'circles', '--set', 'n=20000', '--workers', '2', '--steps', '400', '--dashboard', '--no-progress', '--out', path.join(tmp, 'dash-run')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      const m = /dashboard at (\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(stderr)));
  });
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(url);
  await page.waitForTimeout(quick ? 3000 : 9000);
  await page.screenshot({ path: path.join(docs, 'profiling-dashboard.png') });
  // The run stops after its step and writes a checkpoint into tmp: wait for it before removing tmp.
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
} finally {
  await context.close();
  rmSync(tmp, { recursive: true, force: true });
}
console.log('wrote docs/profiling-report.png, docs/profiling-run.png, docs/profiling-dashboard.png');
