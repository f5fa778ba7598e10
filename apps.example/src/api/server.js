// Acme api: the public JSON API. No dependencies, Node 20 built-ins only.
// skyrec sets PORT per instance; GREETING and the rest come from the app's env.
import http from 'node:http';
import os from 'node:os';

const app = 'api';
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
      greeting: process.env.GREETING ?? null,
      version: process.env.API_VERSION ?? null,
      logLevel: process.env.LOG_LEVEL ?? null,
    }) + '\n');
  }
  // A slow request, to check that a shutdown lets in-flight requests finish.
  if (url.pathname === '/slow') {
    const ms = Math.min(Number(url.searchParams.get('ms')) || 1000, 10_000);
    return setTimeout(() => send(res, 200, 'text/plain', `slept ${ms}ms\n`), ms);
  }
  send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }) + '\n');
});

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
