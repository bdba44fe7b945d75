#!/usr/bin/env node
// Sample app for the cutover sandbox. No dependencies.
//   node server.js --port 8080 --version 1.2.3 --color blue [--host 127.0.0.1]
// Optional behaviour.json next to this file:
//   { healthStatus, crashAfterMs, crashAfterRequests, startDelayMs, errorRate, latencyMs }.
// APP_HEALTH_STATUS overrides healthStatus for one process (the AWS stand-in's failing releases).
// /health/deep answers like /health (what an ALB target group checks).
// APP_DATABASE_URL (postgres://...) makes every `GET /` a committed INSERT into its `orders`
// table, answered 200 with the row's id in X-Write-Id only once committed, 503 when the database
// refuses; `pg` is loaded from APP_PG_MODULE (a path) when the app has no node_modules.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

function arg(name, envName, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  return process.env[envName] || fallback;
}

const port = Number(arg('port', 'PORT', '8080'));
const version = arg('version', 'APP_VERSION', '0.0.0');
const color = arg('color', 'APP_COLOR', 'blue');
const host = arg('host', 'HOST', '127.0.0.1');

let behaviour = {};
const behaviourFile = path.join(__dirname, 'behaviour.json');
if (fs.existsSync(behaviourFile)) behaviour = JSON.parse(fs.readFileSync(behaviourFile, 'utf8'));

const log = (msg) => console.log(`${new Date().toISOString()} [${version} ${color}] ${msg}`);

// ---- metrics ----
// Only app requests are counted (not /health, not /metrics), so rates reflect user traffic.
// Buckets are fine between 0.05 and 0.5 s, where a canary's p99 is judged.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5];
const labelValue = (v) => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const ids = `version="${labelValue(version)}",color="${labelValue(color)}"`;
// 200 and 500 start at 0 so an error ratio is 0, not "no series", before the first error.
const byCode = new Map([[200, 0], [500, 0]]);
const bucketCounts = BUCKETS.map(() => 0);
let durationSum = 0;
let durationCount = 0;

function observe(code, seconds) {
  byCode.set(code, (byCode.get(code) || 0) + 1);
  BUCKETS.forEach((le, i) => {
    if (seconds <= le) bucketCounts[i] += 1;
  });
  durationSum += seconds;
  durationCount += 1;
}

function metricsText() {
  const lines = [
    '# HELP app_info Version and colour of this process.',
    '# TYPE app_info gauge',
    `app_info{${ids}} 1`,
    '# HELP http_requests_total App requests (not /health, /metrics) by status code.',
    '# TYPE http_requests_total counter',
  ];
  for (const [code, n] of [...byCode.entries()].sort((a, b) => a[0] - b[0])) lines.push(`http_requests_total{${ids},code="${code}"} ${n}`);
  lines.push('# HELP http_request_duration_seconds App request latency.', '# TYPE http_request_duration_seconds histogram');
  BUCKETS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{${ids},le="${le}"} ${bucketCounts[i]}`));
  lines.push(`http_request_duration_seconds_bucket{${ids},le="+Inf"} ${durationCount}`);
  lines.push(`http_request_duration_seconds_sum{${ids}} ${durationSum}`, `http_request_duration_seconds_count{${ids}} ${durationCount}`, '');
  return lines.join('\n');
}

// ---- release behaviours for app requests ----
const errorRate = Math.min(1, Math.max(0, Number(behaviour.errorRate) || 0));
const latencyMs = Math.max(0, Number(behaviour.latencyMs) || 0);
let appRequests = 0;
// Request n fails when floor(n * rate) steps up: exactly `rate` of requests over time, evenly spread.
function nextFails() {
  appRequests++;
  return Math.floor(appRequests * errorRate) > Math.floor((appRequests - 1) * errorRate);
}

// ---- optional writes to the site's database ----
let pool = null;
if (process.env.APP_DATABASE_URL) {
  const { Pool } = require(process.env.APP_PG_MODULE || 'pg');
  pool = new Pool({ connectionString: process.env.APP_DATABASE_URL, max: 4, connectionTimeoutMillis: 2000, query_timeout: 5000 });
  pool.on('error', () => undefined); // a server going away surfaces in the next query instead
}

function answerWrite(res) {
  pool.query('INSERT INTO orders DEFAULT VALUES RETURNING id').then(
    (r) => {
      const id = String(r.rows[0].id);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Write-Id': id });
      res.end(`${version} (${color}) write ${id}\n`);
    },
    (err) => {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end(`database: ${err.message}\n`);
    },
  );
}

function answerApp(url, res) {
  if (nextFails()) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('internal error (behaviour.json errorRate)\n');
  } else if (url === '/' && pool) {
    answerWrite(res);
  } else if (url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`${version} (${color})\n`);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  }
}

// ---- handlers ----
let answered = 0;
function handle(req, res) {
  const started = process.hrtime.bigint();
  const url = (req.url || '/').split('?')[0];
  const isHealth = url === '/health' || url === '/health/deep';
  const isApp = !isHealth && url !== '/metrics';
  res.on('finish', () => {
    if (isApp) observe(res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    answered++;
    if (behaviour.crashAfterRequests && answered >= behaviour.crashAfterRequests) {
      log(`crashing as told by behaviour.json (crashAfterRequests=${behaviour.crashAfterRequests})`);
      process.exit(1);
    }
  });
  res.setHeader('X-App-Version', version);
  res.setHeader('X-App-Color', color);
  if (isHealth) {
    const status = Number(process.env.APP_HEALTH_STATUS) || behaviour.healthStatus || 200;
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: status === 200 ? 'ok' : 'failing', version, color }));
  } else if (url === '/metrics') {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(metricsText());
  } else if (latencyMs > 0) {
    setTimeout(() => answerApp(url, res), latencyMs);
  } else {
    answerApp(url, res);
  }
}

const server = http.createServer(handle);

function listen() {
  server.listen(port, host, () => log(`listening on ${host}:${port}`));
}

if (behaviour.startDelayMs) setTimeout(listen, behaviour.startDelayMs);
else listen();

if (behaviour.crashAfterMs) {
  setTimeout(() => {
    log(`crashing as told by behaviour.json (crashAfterMs=${behaviour.crashAfterMs})`);
    process.exit(1);
  }, behaviour.crashAfterMs);
}

function shutdown(signal) {
  log(`${signal}: closing`);
  server.close(() => {
    log('closed');
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 10000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
