// The local ingress's TCP front: listens on the node's HTTP port and relays each connection to
// Caddy's unix-socket listener. It exists because Caddy 2.6 swaps its TCP listener on every
// config reload (SO_REUSEPORT): a connection that lands in the old socket's accept queue at the
// swap is reset, which the zero-downtime rollout cannot afford, since draining an instance is a
// reload. Caddy's unix listeners are shared across reloads instead. As a second guard, a
// connection that fails before Caddy sent a single byte back is retried with the bytes the client
// sent so far: Caddy never answered, so it never proxied the request. Local driver only; on
// NixOS Caddy listens on the node's ports itself.
// Run as a detached process: node local-front.js <port> <socket path>
import net from 'node:net';
import { pathToFileURL } from 'node:url';

const RETRIES = 40;
const RETRY_DELAY_MS = 25;

export function startFront(port: number, socketPath: string): net.Server {
  return net.createServer((client) => relay(client, socketPath)).listen(port, '127.0.0.1');
}

function relay(client: net.Socket, socketPath: string): void {
  const sent: Buffer[] = [];
  let answered = false;
  let clientEnded = false;
  let upstream: net.Socket | null = null;
  let attempts = 0;

  const connect = () => {
    const u = net.connect(socketPath);
    upstream = u;
    let settled = false;
    // An error or a close before Caddy answered: try again, once per socket.
    const giveUpOrRetry = () => {
      if (settled || answered) return;
      settled = true;
      u.destroy();
      if (attempts++ < RETRIES && !client.destroyed) setTimeout(connect, RETRY_DELAY_MS);
      else client.destroy();
    };
    u.on('connect', () => {
      for (const chunk of sent) u.write(chunk);
      if (clientEnded) u.end();
    });
    u.on('data', (data) => {
      answered = true;
      sent.length = 0;
      client.write(data);
    });
    u.on('end', () => {
      if (answered) client.end();
    });
    u.on('error', () => (answered ? client.destroy() : giveUpOrRetry()));
    u.on('close', () => (answered ? client.end() : giveUpOrRetry()));
  };

  client.on('data', (data) => {
    if (!answered) sent.push(data);
    if (upstream && !upstream.connecting && !upstream.destroyed) upstream.write(data);
  });
  client.on('end', () => {
    clientEnded = true;
    if (upstream && !upstream.connecting && !upstream.destroyed) upstream.end();
  });
  client.on('error', () => upstream?.destroy());
  client.on('close', () => upstream?.destroy());
  connect();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [port, socketPath] = process.argv.slice(2);
  const server = startFront(Number(port), socketPath);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
