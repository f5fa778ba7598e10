// The reconciler's memory under the webhook flood of issue 14: 500 connections on 127.0.0.1 that
// each start a chunked POST to /hooks/generic, send up to 1000 KiB of it and never finish.
// Once without a signature header, once with a well-formed (wrong) one, so that bodies are read.
// RSS of the real binary (from /proc) before, while the 500 are open, and after they close.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort } from '../helpers/tools.js';

const CONNECTIONS = 500;
const BODY_KIB = 1000;

const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);

/** Opens one connection, sends its head and up to BODY_KIB of chunks; resolves when sent or cut off. */
function attack(port: number, signed: boolean): { socket: net.Socket; sent: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  const head = `POST /hooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n${signed ? `X-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n` : ''}\r\n`;
  const chunk = Buffer.concat([Buffer.from('400\r\n'), Buffer.alloc(1024, 32), Buffer.from('\r\n')]);
  let reply = '';
  socket.on('data', (c) => (reply += String(c).slice(0, 40)));
  const sent = new Promise<string>((resolve) => {
    socket.on('error', () => resolve(reply || 'cut off'));
    socket.on('close', () => resolve(reply || 'closed'));
    let n = 0;
    const pump = (): void => {
      while (n < BODY_KIB && !socket.destroyed) {
        n++;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      resolve(reply || 'all sent, no answer yet');
    };
    socket.once('connect', () => {
      socket.write(head);
      pump();
    });
  });
  return { socket, sent };
}

async function flood(r: RunningReconciler, signed: boolean): Promise<string> {
  const pid = r.child.pid!;
  const before = rssMb(pid);
  const open = Array.from({ length: CONNECTIONS }, () => attack(r.listen, signed));
  const outcomes = await Promise.all(open.map((o) => o.sent));
  const during = rssMb(pid);
  const health = (await r.get('/healthz')).status;
  for (const o of open) o.socket.destroy();
  await Promise.all(open.map((o) => new Promise((res) => (o.socket.closed ? res(null) : o.socket.once('close', res)))));
  const after = rssMb(pid);
  // Idle, as a reconciler is between cycles: does the memory go back?
  await new Promise((res) => setTimeout(res, 10_000));
  const later = rssMb(pid);
  const tally = new Map<string, number>();
  for (const o of outcomes) {
    const key = /^HTTP\/1\.1 (\d+)/.exec(o)?.[1] ?? o;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  return `  ${signed ? 'with a signature header' : 'without a signature   '}: RSS before ${before} MB, with ${CONNECTIONS} open ${during} MB, after they closed ${after} MB, 10 s later ${later} MB; /healthz meanwhile ${health}; answers ${[...tally].map(([k, v]) => `${k} × ${v}`).join(', ')}`;
}

export async function benchHookFlood(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-flood-'));
  const repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': 'nodes:\n  - { name: web-1, host: root@10.9.4.1, address: 10.9.4.1, labels: { role: web } }\n' });
  const first = await repo.commit('fleet');
  writeFileSync(join(dir, 'secret'), 'flood-secret\n');
  const r = await startReconciler(['--repo', repo.dir, '--driver', 'local', '--state', join(dir, 'state'), '--http-port', String(await freePort()), '--webhook-secret-file', join(dir, 'secret'), '--interval', '1h', '--drift-interval', '1h']);
  try {
    await r.waitFor('the first cycle', (s) => s.applied?.revision === first && s.running === null);
    console.log(`\nwebhook flood: ${CONNECTIONS} chunked POSTs to /hooks/generic on 127.0.0.1, each up to ${BODY_KIB} KiB and never finished (real binary, node ${process.version})`);
    console.log(await flood(r, false));
    console.log(await flood(r, true));
    console.log(`  error lines logged by the reconciler: ${r.stderr().split('\n').filter((l) => l.includes('"level":50')).length}`);
  } finally {
    r.child.kill('SIGTERM');
    await r.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
