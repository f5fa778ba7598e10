// `npm run bench` (backup-latency part, BENCH_ONLY=backup-latency): how much a running backup
// slows the app down. shop on a local node (real PostgreSQL, pgBackRest, Caddy) serves
// GET /visits (a PostgreSQL insert and count, and a Redis INCR) to a few clients in a closed loop
// through the ingress, first with nothing else running, then while `skyrec backup shop` takes a
// full backup of a database of ~512 MB (BENCH_QUICK=1: ~20 MB), in a process of its own. Prints
// p50, p99 and max latency and the requests that failed, for both.
import http from 'node:http';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { QUICK } from './bench-size.js';
import { createBackupScenario, type BackupScenario } from '../helpers/backup-scenario.js';

const MB = 1024 * 1024;
const CLIENTS = 4;

interface Sample {
  ms: number[];
  failed: number;
}

function request(agent: http.Agent, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/visits', headers: { host: 'shop.test' }, agent, timeout: 30_000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

/** CLIENTS closed-loop clients until `until` settles (or `ms` pass). */
async function load(port: number, until: Promise<unknown>): Promise<Sample> {
  const sample: Sample = { ms: [], failed: 0 };
  let done = false;
  void until.finally(() => (done = true));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (!done) {
        const started = performance.now();
        const ok = await request(agent, port);
        if (ok) sample.ms.push(performance.now() - started);
        else sample.failed++;
      }
    }),
  );
  agent.destroy();
  return sample;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function report(what: string, s: Sample, seconds: number): void {
  const sorted = [...s.ms].sort((a, b) => a - b);
  console.log(`  ${what.padEnd(26)} ${String(s.ms.length).padStart(6)} requests in ${seconds.toFixed(1)} s  p50 ${pct(sorted, 50).toFixed(1).padStart(6)} ms  p99 ${pct(sorted, 99).toFixed(1).padStart(7)} ms  max ${(sorted.at(-1) ?? NaN).toFixed(0).padStart(6)} ms  failed ${s.failed}`);
}

async function fill(s: BackupScenario, targetMb: number): Promise<number> {
  // Rows of ~1 KB of poorly compressible text, so the backup reads, compresses and encrypts real work.
  const rows = Math.round((targetMb * MB) / 1200);
  await s.psql('CREATE TABLE blobs (id bigserial PRIMARY KEY, body text NOT NULL);');
  for (let done = 0; done < rows; done += 100_000) {
    await s.psql(`INSERT INTO blobs (body) SELECT string_agg(md5(random()::text), '') FROM generate_series(1, least(${rows - done}, 100000)) g, generate_series(1, 32) k GROUP BY g;`);
  }
  return Number(await s.psql("SELECT pg_database_size('shop');"));
}

export async function benchBackupLatency(): Promise<void> {
  const targetMb = QUICK ? 20 : 512;
  console.log(`\nbackup-latency: GET /visits of shop (${CLIENTS} clients, closed loop, through Caddy) without and during a full backup of a ~${targetMb} MB database (local driver)`);
  const s = await createBackupScenario();
  try {
    const bytes = await fill(s, targetMb);
    // Warm up: the app's connections, Caddy's, the table.
    await load(s.httpPort, new Promise((r) => setTimeout(r, 1000)));
    const backupArgv = ['node', join(packageRoot(), 'bin', 'skyrec.js'), 'backup', 'shop', '--driver', 'local', '--state', s.state, '--secrets-dir', s.secrets, '--http-port', String(s.httpPort)];
    // The baseline lasts as long as the backup does (measured first, without load).
    const probe = performance.now();
    await exec(backupArgv, { timeout: 3_600_000 });
    const backupMs = performance.now() - probe;
    let started = performance.now();
    const quiet = await load(s.httpPort, new Promise((r) => setTimeout(r, backupMs)));
    report('without a backup', quiet, (performance.now() - started) / 1000);
    started = performance.now();
    const backup = exec(backupArgv, { timeout: 3_600_000 });
    const during = await load(s.httpPort, backup);
    await backup;
    report(`during a full backup`, during, (performance.now() - started) / 1000);
    console.log(`  (database ${(bytes / MB).toFixed(0)} MB; a backup alone took ${(backupMs / 1000).toFixed(1)} s)`);
  } finally {
    await s.destroy();
  }
}
