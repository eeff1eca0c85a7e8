/**
 * `simloom run --dashboard`: a local web page with live plots of a run (its metrics, each thread's
 * utilisation, the step time), fed by server-sent events, and buttons to pause and resume the run and
 * to ask for a checkpoint (issue 7).
 *
 * Security: the server listens on 127.0.0.1 only, on a port the OS picks, and every request must carry
 * the token made for this run (128 random bits; `?token=` or the `X-Simloom-Token` header), compared
 * in constant time; a request without it, or whose Host header is not this server's own address (a
 * DNS-rebinding page), gets 403. The page loads nothing from elsewhere and its CSP says so.
 *
 * The run loop (sim/run.ts) awaits {@link Dashboard.betweenSteps} after every step: it yields to the
 * event loop there (so the server answers while a CPU run, whose steps are synchronous, is going),
 * holds the run while it is paused, and saves the checkpoints asked for (sim/checkpoint.ts), between
 * two steps, where the state is whole.
 *
 * @example
 * ```ts
 * const d = await Dashboard.start({ scenario: 'circles', outDir: 'runs/c1', backend: 'cpu', workers: 2 });
 * console.log(d.url);  // http://127.0.0.1:41234/?token=…
 * await runScenario({ scenario: 'circles', outDir: 'runs/c1', ...d.runOptions() });
 * await d.close('completed');
 * ```
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type Checkpointable, saveCheckpoint } from '../checkpoint.js';
import type { BetweenSteps, RunOptions } from '../run.js';
import type { PlotDecl, Scenario } from '../scenario.js';
import type { TraceStepStats } from '../trace.js';
import { DASHBOARD_PAGE } from './page.js';

export type DashboardStatus = 'starting' | 'running' | 'paused' | 'completed' | 'faulted' | 'aborted';

export interface DashboardOptions {
  scenario: string;
  /** The run's output directory: checkpoints go to `<outDir>/checkpoints/`. */
  outDir: string;
  backend?: 'cpu' | 'webgpu' | 'auto';
  workers?: number;
  /** Points kept for a page opened late (default 2000). */
  historyPoints?: number;
  /** How often new points are pushed to the pages, ms (default 200). */
  pushMs?: number;
  /** Fixed token (tests); default: 16 random bytes, hex. */
  token?: string;
  /** The scenario's declared plots: metrics named together in one are drawn in one chart. */
  plots?: readonly PlotDecl[];
}

/** One point of the live plots: a step, its time, metrics (when recorded) and thread utilisation. */
export interface DashboardPoint {
  step: number;
  /** Seconds since the dashboard started. */
  t: number;
  msPerStep: number | null;
  metrics: Record<string, number> | null;
  /** Busy share of the step per thread (host, workers…, GPU), 0–1. */
  util: number[] | null;
}

export class Dashboard {
  readonly token: string;
  readonly url: string;
  readonly port: number;
  private readonly server: Server;
  private readonly opts: DashboardOptions;
  private readonly clients = new Set<ServerResponse>();
  private readonly history: DashboardPoint[] = [];
  private pending: DashboardPoint[] = [];
  private status: DashboardStatus = 'starting';
  private step = 0;
  private total = 0;
  private paused = false;
  private wake: (() => void) | null = null;
  private checkpointAsked = false;
  private checkpointing = false;
  private lastStats: TraceStepStats | null = null;
  private threadNames: string[] = [];
  private canCheckpoint: boolean | null = null;
  private checkpointNote = '';
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private stopSignal: AbortSignal | null = null;
  private readonly hostHeaders: Set<string>;

  private constructor(server: Server, port: number, token: string, opts: DashboardOptions) {
    this.server = server;
    this.port = port;
    this.token = token;
    this.opts = opts;
    this.url = `http://127.0.0.1:${port}/?token=${token}`;
    this.hostHeaders = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    this.timer = setInterval(() => this.push(), opts.pushMs ?? 200);
    this.timer.unref();
  }

  /** Starts the server on 127.0.0.1 and a free port. */
  static async start(opts: DashboardOptions): Promise<Dashboard> {
    const token = opts.token ?? randomBytes(16).toString('hex');
    let self: Dashboard | null = null;
    const server = createServer((req, res) => {
      if (self) self.handle(req, res);
      else res.writeHead(503).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    self = new Dashboard(server, port, token, opts);
    return self;
  }

  /** The run options that connect a run to this dashboard. */
  runOptions(): Pick<RunOptions, 'onTraceStep' | 'betweenSteps'> {
    return {
      onTraceStep: (s) => {
        this.lastStats = s;
        if (this.threadNames.length === 0) this.threadNames = s.threads.map((x) => x.name);
      },
      betweenSteps: (at) => this.betweenSteps(at),
    };
  }

  /** The run stops (SIGINT/SIGTERM) when this signal aborts: a paused run is released for it. */
  watch(signal: AbortSignal): void {
    this.stopSignal = signal;
    signal.addEventListener('abort', () => this.release(), { once: true });
  }

  /** After every step: record the point, yield, hold while paused, checkpoint when asked. */
  async betweenSteps(at: BetweenSteps): Promise<void> {
    this.step = at.step;
    this.total = at.total;
    if (this.status === 'starting') this.setStatus('running');
    if (this.canCheckpoint === null) {
      this.canCheckpoint = typeof (at.sim as Partial<Checkpointable>).snapshot === 'function';
      if (!this.canCheckpoint) this.checkpointNote = 'this simulation cannot save checkpoints (it has no snapshot())';
    }
    const s = this.lastStats;
    const point: DashboardPoint = {
      step: at.step,
      t: (performance.now() - this.started) / 1000,
      msPerStep: s ? round(s.stepMs, 3) : null,
      metrics: at.metrics,
      util: s ? s.threads.map((x) => round(x.busy, 3)) : null,
    };
    this.history.push(point);
    if (this.history.length > (this.opts.historyPoints ?? 2000)) this.history.splice(0, this.history.length - (this.opts.historyPoints ?? 2000));
    this.pending.push(point);
    // A CPU step is synchronous: this is where the server gets to answer.
    await yieldToEventLoop();
    for (;;) {
      if (this.checkpointAsked) await this.checkpoint(at);
      if (!this.paused || this.stopSignal?.aborted) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    if (this.status === 'paused') this.setStatus('running');
  }

  /** The run ended: tell the pages, and close the server. */
  async close(status: Exclude<DashboardStatus, 'starting' | 'running' | 'paused'>): Promise<void> {
    this.push();
    this.setStatus(status);
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private release(): void {
    this.wake?.();
  }

  private async checkpoint(at: BetweenSteps): Promise<void> {
    this.checkpointAsked = false;
    if (!this.canCheckpoint) {
      this.broadcast('checkpoint', { ok: false, step: at.step, error: this.checkpointNote });
      return;
    }
    this.checkpointing = true;
    try {
      // The run's own checkpoint facts (scenario as resume finds it, backend, adapter, workers); on the
      // GPU, snapshot() downloads the state first.
      const saved = await saveCheckpoint(at.sim as typeof at.sim & Checkpointable, path.join(this.opts.outDir, 'checkpoints'), at.checkpointMeta);
      this.broadcast('checkpoint', { ok: true, step: saved.manifest.step, dir: saved.dir });
    } catch (err) {
      this.broadcast('checkpoint', { ok: false, step: at.step, error: (err as Error).message });
    } finally {
      this.checkpointing = false;
    }
  }

  private setStatus(status: DashboardStatus): void {
    this.status = status;
    this.broadcast('status', this.state());
  }

  private state(): { status: DashboardStatus; step: number; total: number; checkpointing: boolean; threads: string[] } {
    return { status: this.status, step: this.step, total: this.total, checkpointing: this.checkpointing, threads: this.threadNames };
  }

  private push(): void {
    if (this.pending.length === 0) return;
    const pts = this.pending;
    this.pending = [];
    this.broadcast('points', pts);
  }

  private broadcast(event: string, data: unknown): void {
    const msg = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(msg);
  }

  /** Constant-time check of the request's token (query or header). */
  private authorised(req: IncomingMessage, url: URL): boolean {
    const host = req.headers.host ?? '';
    if (!this.hostHeaders.has(host)) return false;
    const header = req.headers['x-simloom-token'];
    const given = (typeof header === 'string' ? header : null) ?? url.searchParams.get('token') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (!this.authorised(req, url)) {
      json(res, 403, { error: 'forbidden: this dashboard needs the token printed when the run started (…/?token=…)' });
      return;
    }
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    switch (route) {
      case 'GET /': {
        const nonce = randomBytes(16).toString('base64');
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        });
        res.end(DASHBOARD_PAGE.replaceAll('__NONCE__', nonce));
        return;
      }
      case 'GET /events': {
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
        res.write(': simloom dashboard\n\n');
        const hello = {
          scenario: this.opts.scenario,
          total: this.total,
          threads: this.threadNames,
          checkpoints: this.canCheckpoint !== false,
          checkpointNote: this.checkpointNote,
          plots: (this.opts.plots ?? []).map((p) => ({ name: p.name, title: p.title, y: p.y })),
          state: this.state(),
        };
        res.write(`event: hello\ndata: ${JSON.stringify(hello)}\n\n`);
        if (this.history.length > 0) res.write(`event: points\ndata: ${JSON.stringify(this.history)}\n\n`);
        this.clients.add(res);
        req.on('close', () => this.clients.delete(res));
        return;
      }
      case 'GET /api/state':
        json(res, 200, { state: this.state(), points: this.history.length });
        return;
      case 'POST /api/pause':
        if (this.status === 'running' || this.status === 'starting') {
          this.paused = true;
          this.setStatus('paused');
          json(res, 200, { state: this.state(), message: `paused after step ${this.step}` });
        } else json(res, 409, { state: this.state(), message: `cannot pause: the run is ${this.status}` });
        return;
      case 'POST /api/resume':
        if (this.paused) {
          this.paused = false;
          this.setStatus('running');
          this.release();
          json(res, 200, { state: this.state(), message: 'resumed' });
        } else json(res, 409, { state: this.state(), message: `cannot resume: the run is ${this.status}` });
        return;
      case 'POST /api/checkpoint':
        if (this.canCheckpoint === false) {
          json(res, 409, { state: this.state(), message: this.checkpointNote });
        } else if (this.status === 'running' || this.status === 'paused' || this.status === 'starting') {
          this.checkpointAsked = true;
          this.release();
          json(res, 202, { state: this.state(), message: `checkpoint requested: it is written after the current step, into ${path.join(this.opts.outDir, 'checkpoints')}` });
        } else json(res, 409, { state: this.state(), message: `cannot checkpoint: the run is ${this.status}` });
        return;
      default:
        json(res, 404, { error: `no such endpoint: ${route}` });
    }
  }
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Starts a run's dashboard and prints its address (with the token) on stderr. */
export async function startRunDashboard(scenario: Scenario, outDir: string, backend: 'cpu' | 'webgpu' | 'auto', workers: number | undefined): Promise<Dashboard> {
  const d = await Dashboard.start({ scenario: scenario.name, outDir, backend, ...(workers !== undefined ? { workers } : {}), ...(scenario.plots ? { plots: scenario.plots } : {}) });
  process.stderr.write(`${scenario.name}: dashboard at ${d.url} (bound to 127.0.0.1; the token is made for this run, requests without it get 403)\n`);
  return d;
}
