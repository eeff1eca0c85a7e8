/**
 * The dashboard's single page (served by sim/dashboard/server.ts): live plots drawn as SVG by a few
 * lines of script, fed by server-sent events, and the pause / resume / checkpoint buttons.
 *
 * Self-contained on purpose: no script or style is fetched from anywhere (the page must work with no
 * network, and its CSP allows only this page's own nonce'd script). The token comes from the page's
 * own URL and goes with every request (EventSource cannot set headers, so it is a query parameter).
 *
 * Element ids are the contract of the end-to-end test (test/dashboard.test.ts): #step, #status,
 * #pause, #resume, #checkpoint, #message, and one `svg.plot` per chart whose `data-points` attribute
 * counts the points drawn.
 */

/** The page, with `__NONCE__` to be replaced by the response's CSP nonce. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>simloom dashboard</title>
<style nonce="__NONCE__">
  :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --accent: #2f6fdb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 16px; padding: 12px 20px; background: white; border-bottom: 1px solid var(--line); }
  h1 { font-size: 17px; margin: 0; font-weight: 600; }
  .pill { padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #e8f0fe; color: var(--accent); }
  .pill.paused { background: #fff4e0; color: #b25e00; }
  .pill.completed { background: #e6f6ec; color: #127a3a; }
  .pill.faulted, .pill.aborted, .pill.disconnected { background: #fde8e8; color: #b42318; }
  .figure { font-variant-numeric: tabular-nums; }
  .figure b { font-size: 16px; }
  .muted { color: var(--muted); }
  button { font: inherit; padding: 5px 14px; border: 1px solid #c8ccd4; border-radius: 6px; background: white; cursor: pointer; }
  button:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
  button:disabled { opacity: 0.45; cursor: default; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(430px, 1fr)); gap: 14px; padding: 16px 20px; }
  .card { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 6px; }
  .card h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
  .legend { font-size: 12px; color: var(--muted); min-height: 18px; }
  .legend span { margin-right: 12px; white-space: nowrap; }
  .legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; }
  svg.plot { width: 100%; height: 190px; display: block; }
  svg text { font-size: 10px; fill: var(--muted); }
  #message { font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1 id="title">simloom</h1>
  <span id="status" class="pill">connecting</span>
  <span class="figure">step <b id="step">0</b> <span class="muted">/ <span id="total">?</span></span></span>
  <span class="figure"><b id="msPerStep">–</b> <span class="muted">ms/step</span></span>
  <span class="figure"><b id="stepsPerSec">–</b> <span class="muted">steps/s</span></span>
  <button id="pause">Pause</button>
  <button id="resume" disabled>Resume</button>
  <button id="checkpoint">Checkpoint</button>
  <span id="message" class="muted"></span>
</header>
<main id="plots"></main>
<script nonce="__NONCE__">
(function () {
  'use strict';
  var token = new URLSearchParams(location.search).get('token') || '';
  var COLORS = ['#2f6fdb', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#1098ad', '#5c940d', '#d6336c'];
  var MAX_POINTS = 2000;
  var charts = {};
  var order = [];
  var $ = function (id) { return document.getElementById(id); };

  function chart(id, title, unit, fixedMax) {
    if (charts[id]) return charts[id];
    var card = document.createElement('div');
    card.className = 'card';
    var h = document.createElement('h2');
    h.textContent = title;
    var legend = document.createElement('div');
    legend.className = 'legend';
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'plot');
    svg.setAttribute('id', 'plot-' + id);
    svg.setAttribute('viewBox', '0 0 420 190');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('data-points', '0');
    card.appendChild(h); card.appendChild(legend); card.appendChild(svg);
    $('plots').appendChild(card);
    charts[id] = { svg: svg, legend: legend, unit: unit, fixedMax: fixedMax, series: {}, names: [] };
    order.push(id);
    return charts[id];
  }

  function push(c, name, x, y) {
    if (!(name in c.series)) { c.series[name] = []; c.names.push(name); }
    var s = c.series[name];
    if (typeof y !== 'number' || !isFinite(y)) return;
    s.push([x, y]);
    if (s.length > MAX_POINTS) s.splice(0, s.length - MAX_POINTS);
  }

  // Tick labels with as many decimals as the tick spacing needs (0.0061, 0.0065… not 0.006, 0.007).
  function fmt(v, step) {
    var a = Math.abs(v);
    if (a >= 1e6) return v.toExponential(2);
    var d = step > 0 ? Math.ceil(-Math.log10(step)) + 1 : 2;
    return v.toFixed(Math.max(0, Math.min(8, d)));
  }

  function draw(c) {
    var W = 420, H = 190, L = 56, R = 8, T = 8, B = 22;
    var xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity, n = 0;
    c.names.forEach(function (k) {
      c.series[k].forEach(function (p) {
        n++;
        if (p[0] < xmin) xmin = p[0]; if (p[0] > xmax) xmax = p[0];
        if (p[1] < ymin) ymin = p[1]; if (p[1] > ymax) ymax = p[1];
      });
    });
    if (n === 0) return;
    if (c.fixedMax !== undefined) { ymin = 0; ymax = c.fixedMax; }
    if (ymin > 0 && ymin < ymax * 0.5) ymin = 0;
    if (ymax === ymin) { ymax = ymin + (Math.abs(ymin) || 1); }
    if (xmax === xmin) xmax = xmin + 1;
    var sx = function (x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
    var sy = function (y) { return T + (1 - (y - ymin) / (ymax - ymin)) * (H - T - B); };
    var out = [];
    for (var g = 0; g <= 4; g++) {
      var yv = ymin + (ymax - ymin) * g / 4, yy = sy(yv).toFixed(1);
      out.push('<line x1="' + L + '" x2="' + (W - R) + '" y1="' + yy + '" y2="' + yy + '" stroke="#eef0f3"/>');
      out.push('<text x="' + (L - 4) + '" y="' + (+yy + 3) + '" text-anchor="end">' + fmt(yv, (ymax - ymin) / 4) + c.unit + '</text>');
    }
    out.push('<text x="' + L + '" y="' + (H - 6) + '">step ' + xmin + '</text>');
    out.push('<text x="' + (W - R) + '" y="' + (H - 6) + '" text-anchor="end">step ' + xmax + '</text>');
    var legend = [];
    c.names.forEach(function (k, i) {
      var col = COLORS[i % COLORS.length];
      var pts = c.series[k].map(function (p) { return sx(p[0]).toFixed(1) + ',' + sy(p[1]).toFixed(1); }).join(' ');
      out.push('<polyline fill="none" stroke="' + col + '" stroke-width="1.6" points="' + pts + '"/>');
      legend.push('<span><i style="background:' + col + '"></i>' + k.replace(/[<>&]/g, '') + '</span>');
    });
    c.svg.innerHTML = out.join('');
    c.svg.setAttribute('data-points', String(n));
    c.legend.innerHTML = legend.join('');
  }

  var hello = null;
  var plotOf = {};
  var lastT = null, lastStep = null;
  function onPoints(points) {
    points.forEach(function (p) {
      if (p.metrics) {
        Object.keys(p.metrics).forEach(function (k) {
          var decl = plotOf[k];
          push(decl ? chart('p-' + decl.name, decl.title, '') : chart('m-' + k, k, ''), k, p.step, p.metrics[k]);
        });
      }
      if (p.util) {
        var u = chart('util', 'Thread utilisation (busy share of the step)', '%', 100);
        p.util.forEach(function (v, i) { push(u, (hello && hello.threads[i]) || ('thread ' + i), p.step, v * 100); });
      }
      if (typeof p.msPerStep === 'number') push(chart('steptime', 'Step time (ms)', ''), 'ms/step', p.step, p.msPerStep);
      $('step').textContent = String(p.step);
      if (typeof p.msPerStep === 'number') $('msPerStep').textContent = p.msPerStep.toFixed(2);
      if (lastT !== null && p.t > lastT + 0.5) {
        $('stepsPerSec').textContent = ((p.step - lastStep) / (p.t - lastT)).toFixed(1);
        lastT = p.t; lastStep = p.step;
      } else if (lastT === null) { lastT = p.t; lastStep = p.step; }
    });
    order.forEach(function (id) { draw(charts[id]); });
  }

  function setStatus(s) {
    var el = $('status');
    el.textContent = s.status;
    el.className = 'pill ' + s.status;
    if (typeof s.step === 'number') $('step').textContent = String(s.step);
    if (typeof s.total === 'number' && s.total > 0) $('total').textContent = String(s.total);
    if (hello && s.threads && s.threads.length) hello.threads = s.threads;
    var live = s.status === 'running' || s.status === 'paused';
    $('pause').disabled = s.status !== 'running';
    $('resume').disabled = s.status !== 'paused';
    $('checkpoint').disabled = !live || !(hello && hello.checkpoints);
  }

  var es = new EventSource('/events?token=' + encodeURIComponent(token));
  es.addEventListener('hello', function (e) {
    hello = JSON.parse(e.data);
    (hello.plots || []).forEach(function (p) { p.y.forEach(function (k) { if (!plotOf[k]) plotOf[k] = p; }); });
    $('title').textContent = 'simloom · ' + hello.scenario;
    document.title = 'simloom · ' + hello.scenario;
    $('total').textContent = String(hello.total);
    if (!hello.checkpoints) $('checkpoint').title = hello.checkpointNote || '';
    setStatus(hello.state);
  });
  es.addEventListener('points', function (e) { onPoints(JSON.parse(e.data)); });
  es.addEventListener('status', function (e) { setStatus(JSON.parse(e.data)); });
  es.addEventListener('checkpoint', function (e) {
    var c = JSON.parse(e.data);
    $('message').textContent = c.ok ? ('checkpoint of step ' + c.step + ': ' + c.dir) : ('checkpoint failed: ' + c.error);
  });
  es.onerror = function () {
    var el = $('status');
    if (el.textContent !== 'completed' && el.textContent !== 'faulted' && el.textContent !== 'aborted') { el.textContent = 'disconnected'; el.className = 'pill disconnected'; }
  };

  function post(path) {
    return fetch(path, { method: 'POST', headers: { 'X-Simloom-Token': token } }).then(function (r) { return r.json(); }).then(function (j) {
      if (j.message) $('message').textContent = j.message;
      if (j.state) setStatus(j.state);
    }).catch(function (err) { $('message').textContent = String(err); });
  }
  $('pause').addEventListener('click', function () { post('/api/pause'); });
  $('resume').addEventListener('click', function () { post('/api/resume'); });
  $('checkpoint').addEventListener('click', function () { $('message').textContent = 'checkpoint requested…'; post('/api/checkpoint'); });
})();
</script>
</body>
</html>
`;
