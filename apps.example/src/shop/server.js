// Acme shop: the storefront's web process. No dependencies, Node 20 built-ins only.
// skyrec sets PORT per instance; DATABASE_URL and REDIS_URL come from the addons, and
// SESSION_SECRET from a systemd credential (its value is never printed or returned).
import { createHmac } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { pgQuery, redisCommand, VISITS_TABLE } from './db.js';

const app = 'shop';
const port = Number(process.env.PORT ?? 3000);
// 0.0.0.0 because the ingress Caddy may run on another node; HOST narrows it locally.
const host = process.env.HOST || '0.0.0.0';
let closing = false;

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  // While shutting down, ask keep-alive clients to reconnect (to another instance).
  if (closing) res.setHeader('connection', 'close');
  if (url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
  if (url.pathname === '/') {
    return send(res, 200, 'application/json', JSON.stringify({
      app,
      hostname: os.hostname(),
      env: { NODE_ENV: process.env.NODE_ENV ?? null, LOG_LEVEL: process.env.LOG_LEVEL ?? null, SHOP_CURRENCY: process.env.SHOP_CURRENCY ?? null },
      // Whether each is set, never the value: this page is public.
      configured: {
        DATABASE_URL: Boolean(process.env.DATABASE_URL),
        REDIS_URL: Boolean(process.env.REDIS_URL),
        SESSION_SECRET: Boolean(process.env.SESSION_SECRET),
      },
      // What the secret signs, as a session cookie's signature would be: whoever holds the value
      // can check that this instance runs with it; the page never shows the value.
      sessionSignature: process.env.SESSION_SECRET ? signSession('shop-session-check') : null,
    }) + '\n');
  }
  // Proves the addons are reachable: a row in PostgreSQL and a counter in Redis per request.
  if (url.pathname === '/visits') return visits(res);
  // A slow request, to check that a shutdown lets in-flight requests finish.
  if (url.pathname === '/slow') {
    const ms = Math.min(Number(url.searchParams.get('ms')) || 1000, 10_000);
    return setTimeout(() => send(res, 200, 'text/plain', `slept ${ms}ms\n`), ms);
  }
  send(res, 404, 'text/plain', 'not found\n');
});

async function visits(res) {
  const { DATABASE_URL, REDIS_URL } = process.env;
  const missing = ['DATABASE_URL', 'REDIS_URL'].filter((name) => !process.env[name]);
  if (missing.length > 0) return sendJson(res, 503, { error: `${missing.join(' and ')} not set: shop runs without its addons` });
  try {
    // One round trip, one implicit transaction: the count includes this visit. The release
    // creates the table too; here as well so that an instance started without it still works.
    // The port is inlined (the simple protocol has no parameters): an integer, nothing else.
    const { rows } = await pgQuery(DATABASE_URL, `${VISITS_TABLE}; INSERT INTO visits (port) VALUES (${Math.trunc(port) || 0}); SELECT count(*) FROM visits`);
    const hits = await redisCommand(REDIS_URL, 'INCR', 'shop:visits');
    sendJson(res, 200, { app, port, rows: Number(rows[0][0]), hits });
  } catch (err) {
    // The message only: the URLs hold passwords, and db.js never puts them in an error.
    console.error(`${app}: /visits: ${err.message}`);
    sendJson(res, 500, { error: err.message });
  }
}

function signSession(data) {
  return createHmac('sha256', process.env.SESSION_SECRET).update(data).digest('hex');
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value) + '\n');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8` });
  res.end(body);
}

server.listen(port, host, () => console.log(`${app}: listening on ${host}:${port}`));

// systemd sends SIGTERM on stop and restart: stop accepting, let in-flight requests
// finish, exit 0. The unref'd timer bounds the wait without keeping the process alive.
function shutdown(signal) {
  if (closing) return;
  closing = true;
  console.log(`${app}: ${signal}, closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
