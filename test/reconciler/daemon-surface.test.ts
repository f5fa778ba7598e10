// The HTTP surface of `skyrec reconcile` (the built binary on 127.0.0.1), as a git host, an
// operator and an attacker meet it: webhook bodies read within bounds, the read side apart from
// the hooks and behind a token and a Host allowlist, GitHub's deliveries as it sends them, methods,
// and the headers of every response.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import type { CommandError } from '../../common/errors.js';
import { TestRepo } from '../helpers/git-repo.js';
import { request, startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { signBody } from '../../reconciler/daemon/webhook.js';

const SECRET = 'surface-hook-secret';
const TOKEN = 'read-token-9f2c';
const FLEET = 'nodes:\n  - { name: web-1, host: root@10.9.8.1, address: 10.9.8.1, labels: { role: web } }\n';
const BOGUS_SIGNATURE = `sha256=${'0'.repeat(64)}`;

let tmp: ReturnType<typeof makeTempDir>;
let dir: string;
let repo: TestRepo;
let first: string;
beforeAll(async () => {
  tmp = makeTempDir('skyrec-daemon-surface-');
  dir = tmp.dir;
  repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': FLEET });
  first = await repo.commit('fleet');
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
});
afterAll(() => tmp?.cleanup());

let n = 0;
async function start(more: string[] = [], opts: { listenHost?: string; headers?: Record<string, string> } = {}): Promise<RunningReconciler> {
  const state = join(dir, `state-${n++}`);
  const r = await startReconciler(['--repo', repo.dir, '--driver', 'local', '--state', state, '--http-port', String(await freePort()), '--webhook-secret-file', join(dir, 'secret'), '--interval', '1h', '--drift-interval', '1h', ...more], {}, opts);
  await r.waitFor('the first cycle', (x) => x.applied?.revision === first && x.running === null);
  return r;
}

async function stop(r: RunningReconciler): Promise<void> {
  r.child.kill('SIGTERM');
  expect((await r.exited).code).toBe(0);
}

/** A raw connection that sends `head` and then whatever `chunks` holds, leaving the body unfinished. */
function rawRequest(port: number, head: string): { socket: net.Socket; reply: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(head);
  let text = '';
  socket.on('data', (c) => (text += c));
  const reply = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(text));
    socket.on('error', () => undefined);
  });
  return { socket, reply };
}

const hookHead = (path: string, signature: string | null) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n${signature ? `X-Hub-Signature-256: ${signature}\r\n` : ''}\r\n5\r\n{"ref\r\n`;

describe('a bounded webhook intake', () => {
  let r: RunningReconciler;
  beforeAll(async () => {
    r = await start();
  }, 60_000);
  afterAll(() => stop(r));

  it('refuses an unsigned body before reading it, and closes the connection', async () => {
    const { reply } = rawRequest(r.listen, hookHead('/hooks/github', null));
    const text = await reply;
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain('connection: close');
  });

  it('reads 8 bodies at once: a 9th gets 503 with Retry-After; a body unfinished after 10 s gets 408', async () => {
    const held = Array.from({ length: 8 }, () => rawRequest(r.listen, hookHead('/hooks/generic', BOGUS_SIGNATURE)));
    // Once all 8 are being read, a complete 9th (with a bad signature) is turned away unread.
    let ninth;
    for (let i = 0; i < 200; i++) {
      ninth = await request(r.listen, 'POST', '/hooks/generic', { body: '{}', headers: { 'x-hub-signature-256': BOGUS_SIGNATURE } });
      if (ninth.status === 503) break;
    }
    expect(ninth!.status).toBe(503);
    expect(ninth!.headers['retry-after']).toBe('5');
    const replies = await Promise.all(held.map((h) => h.reply));
    for (const text of replies) expect(text).toMatch(/^HTTP\/1\.1 408 /);
    // The slots are free again.
    expect((await request(r.listen, 'POST', '/hooks/generic', { body: '{}', headers: { 'x-hub-signature-256': BOGUS_SIGNATURE } })).status).toBe(401);
  }, 30_000);

  it('answers 413 to a body over 1 MiB, chunked or with Content-Length, and stops reading it', async () => {
    for (const chunked of [true, false]) {
      const total = 50 * 1024 * 1024;
      const result = await new Promise<{ status: number; connection?: string; written: number }>((resolve, reject) => {
        const headers: Record<string, string> = { 'x-hub-signature-256': BOGUS_SIGNATURE, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(total) }) };
        const req = http.request({ host: '127.0.0.1', port: r.listen, path: '/hooks/generic', method: 'POST', headers, agent: false }, (res) => {
          resolve({ status: res.statusCode!, connection: res.headers.connection, written: req.socket?.bytesWritten ?? 0 });
          res.resume();
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(64 * 1024, 32);
        let sent = 0;
        const pump = (): void => {
          while (sent < total && !req.destroyed) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(result.status).toBe(413);
      expect(result.connection).toBe('close');
      expect(result.written).toBeLessThan(total / 2);
    }
  }, 30_000);

  it('logs no error line for requests that go away mid-body', async () => {
    const gone = Array.from({ length: 20 }, () => rawRequest(r.listen, hookHead('/hooks/generic', BOGUS_SIGNATURE)));
    for (const g of gone) g.socket.destroy();
    await Promise.all(gone.map((g) => g.reply));
    expect((await r.get('/healthz')).status).toBe(200);
    expect(r.stderr()).not.toMatch(/"level":50/);
  });
});

describe('two audiences', () => {
  it('--listen-hooks serves only the hooks; the read side asks for the token and answers only Host names that cannot be rebound', async () => {
    const hooksPort = await freePort();
    const r = await start(['--listen-hooks', `127.0.0.1:${hooksPort}`, '--read-token-file', join(dir, 'token'), '--allowed-host', 'skyrec.internal'], { headers: { authorization: `Bearer ${TOKEN}` } });
    try {
      const bearer = { authorization: `Bearer ${TOKEN}` };
      const body = JSON.stringify({ ref: 'refs/heads/main' });
      const signed = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signBody(SECRET, Buffer.from(body)) };
      expect((await request(hooksPort, 'POST', '/hooks/github', { body, headers: signed })).status).toBe(202);
      expect((await request(hooksPort, 'GET', '/api/status', { headers: bearer })).status).toBe(404);
      expect((await request(hooksPort, 'GET', '/')).status).toBe(404);
      expect((await request(hooksPort, 'GET', '/healthz')).status).toBe(200);
      expect((await r.request('POST', '/hooks/github', { body, headers: signed })).status).toBe(404);

      for (const path of ['/', '/api/status', '/metrics', '/runs/1/plan']) {
        const refused = await r.request('GET', path);
        expect(refused.status, path).toBe(401);
        expect(refused.headers['www-authenticate']).toBe('Basic realm="skyrec", charset="UTF-8"');
        expect(refused.body).not.toContain('web-1');
      }
      expect((await r.request('GET', '/api/status', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await r.request('GET', '/api/status', { headers: bearer })).status).toBe(200);
      const basic = { authorization: `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString('base64')}` };
      expect((await r.request('GET', '/metrics', { headers: basic })).body).toContain('skyrec_reconcile_runs_total');
      expect((await r.request('GET', '/healthz')).status).toBe(200);

      const host = async (name: string) => (await r.request('GET', '/api/status', { headers: { ...bearer, host: name } })).status;
      expect(await host(`rebound.attacker.example:${r.listen}`)).toBe(421);
      expect(await host(`skyrec.internal:${r.listen}`)).toBe(200);
      expect(await host(`localhost:${r.listen}`)).toBe(200);
      expect(await host(`127.0.0.1:${r.listen}`)).toBe(200);
      expect(await host(`[::1]:${r.listen}`)).toBe(200);
      expect(r.stderr()).not.toContain('without authentication');
    } finally {
      await stop(r);
    }
  }, 60_000);

  it('warns when the read side listens beyond loopback without a token', async () => {
    const r = await start([], { listenHost: '0.0.0.0' });
    try {
      expect(r.stderr()).toContain('served beyond loopback without authentication');
    } finally {
      await stop(r);
    }
  }, 60_000);
});

describe('GitHub deliveries, methods and headers', () => {
  let r: RunningReconciler;
  beforeAll(async () => {
    r = await start();
  }, 60_000);
  afterAll(() => stop(r));

  const deliver = (event: string, body: string, type = 'application/json') =>
    r.request('POST', '/hooks/github', { body, headers: { 'content-type': type, 'x-github-event': event, 'x-hub-signature-256': signBody(SECRET, Buffer.from(body)) } });
  const form = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const cyclesRequested = () => r.stderr().split('\n').filter((l) => l.includes('"msg":"cycle requested"')).length;

  it('acts only on a push: answers ping, ignores other events, and takes the default form encoding too', async () => {
    const before = cyclesRequested();
    expect(await deliver('ping', JSON.stringify({ zen: 'Keep it logically awesome.' }))).toMatchObject({ status: 200 });
    expect(await deliver('ping', form({ zen: 'x' }), 'application/x-www-form-urlencoded')).toMatchObject({ status: 200 });
    const issue = await deliver('issues', JSON.stringify({ ref: 'refs/heads/main', action: 'opened' }));
    expect(issue.status).toBe(202);
    expect(JSON.parse(issue.body)).toEqual({ triggered: false, reason: 'issues events do not start a cycle, only push' });
    expect(cyclesRequested()).toBe(before);
    const pushed = await deliver('push', form({ ref: 'refs/heads/main' }), 'application/x-www-form-urlencoded');
    expect(pushed.status, pushed.body).toBe(202);
    expect(JSON.parse(pushed.body)).toEqual({ triggered: true });
    expect(cyclesRequested()).toBe(before + 1);
  });

  it('answers 400, never 500, to signed bodies that are not a push payload', async () => {
    for (const body of ['null', '[]', '"main"', '{"ref":7}', '{}', 'not json']) {
      const reply = await deliver('push', body);
      expect(reply.status, body).toBe(400);
    }
    expect((await deliver('push', 'ref=refs/heads/main', 'application/x-www-form-urlencoded')).status).toBe(400);
  });

  it('HEAD works where GET does; other methods get 405 with Allow', async () => {
    for (const path of ['/', '/api/status', '/metrics', '/healthz']) {
      const head = await r.request('HEAD', path);
      expect(head.status, path).toBe(200);
      expect(head.body).toBe('');
      expect(head.headers['content-type']).toBe((await r.request('GET', path)).headers['content-type']);
    }
    const del = await r.request('DELETE', '/api/status');
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, HEAD');
    const get = await r.request('GET', '/hooks/github');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  it("every response says nosniff and DENY; the page's CSP allows only the template's own script", async () => {
    const replies = await Promise.all([
      r.request('GET', '/'), r.request('GET', '/api/status'), r.request('GET', '/metrics'), r.request('GET', '/healthz'),
      r.request('GET', '/runs/999/plan'), r.request('GET', '/nothing'), r.request('POST', '/hooks/generic', { body: '{}' }),
    ]);
    for (const reply of replies) {
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['x-frame-options']).toBe('DENY');
    }
    const template = readFileSync(join(packageRoot(), 'templates', 'status.html.hbs'), 'utf8');
    const scripts = [...template.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
    expect(scripts).toHaveLength(1);
    const csp = replies[0].headers['content-security-policy'] as string;
    expect(/script-src ([^;]*)/.exec(csp)![1]).toBe(scripts[0]);
    // The page's one script is the template's, byte for byte.
    expect(replies[0].body).toContain(/<script>([\s\S]*?)<\/script>/.exec(template)![0]);
  });
});

it('a local --repo without .git is reported as such, not as an unknown revision', async () => {
  const plain = join(dir, 'not-a-repo');
  mkdirSync(plain, { recursive: true });
  writeFileSync(join(plain, 'fleet.yaml'), FLEET);
  const stdout = await exec([process.execPath, join(packageRoot(), 'bin', 'skyrec.js'), 'reconcile', '--once', '--json', '--repo', plain, '--driver', 'local', '--state', join(dir, 'state-nogit')]).then(
    () => '',
    (err: CommandError) => (expect(err.exitCode_).toBe(1), err.stdout),
  );
  const run = JSON.parse(stdout) as { outcome: string; detail: string };
  expect(run).toMatchObject({ outcome: 'error', detail: `${plain} is not a git repository: it has no .git` });
}, 30_000);
