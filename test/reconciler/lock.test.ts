// The apply lock with real files and real processes: stale holders, corrupt files and a real race.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LockedError } from '../../common/errors.js';
import { acquireLock } from '../../reconciler/state/lock.js';
import type { LockHolder } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { makeTempDir } from '../helpers/tools.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function stateDir(): string {
  const t = makeTempDir('skyrec-lock-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}

const clock = () => new Date('2026-03-01T12:00:00.000Z');

/** Acquires and releases after the test, even when it fails. */
function acquire(dir: string, command: string, opts: Parameters<typeof acquireLock>[2] = {}) {
  const lock = acquireLock(dir, command, { clock, ...opts });
  cleanups.unshift(lock.release);
  return lock;
}

/** Children can only run the compiled module; fail loudly rather than test stale code. */
function distModule(rel: string): string {
  const root = packageRoot();
  const js = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
  if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(root, rel)).mtimeMs) {
    throw new Error(`${js} is missing or older than ${rel}: run npx tsc -p tsconfig.json first`);
  }
  return pathToFileURL(js).href;
}

function runNode(script: string, args: string[] = []): Promise<{ pid: number; code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += String(d)));
    p.stderr.on('data', (d) => (stderr += String(d)));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ pid: p.pid as number, code, signal, stdout, stderr }));
  });
}

const lockFile = (dir: string) => join(dir, 'apply.lock');
const readHolder = (dir: string) => JSON.parse(readFileSync(lockFile(dir), 'utf8')) as LockHolder;

describe('acquireLock', () => {
  it('writes the holder into a lock file in a private state directory', () => {
    const dir = stateDir();
    const { holder } = acquire(dir, 'skyrec apply --rev abc');
    expect(holder).toEqual({ pid: process.pid, host: hostname(), command: 'skyrec apply --rev abc', since: '2026-03-01T12:00:00.000Z' });
    expect(readHolder(dir)).toEqual(holder);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['apply.lock']); // no temp files left behind
  });

  it('refuses a second apply while the first holds the lock, naming the holder', () => {
    const dir = stateDir();
    acquire(dir, 'skyrec apply --rev abc');
    let err: unknown;
    try {
      acquireLock(dir, 'skyrec apply --rev def');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LockedError);
    const locked = err as LockedError;
    expect(locked).toMatchObject({ code: 'LOCKED', exitCode: 3, holder: { pid: process.pid, command: 'skyrec apply --rev abc' } });
    expect(locked.message).toBe(`another skyrec apply holds the lock: pid ${process.pid} on host ${hostname()}, \`skyrec apply --rev abc\`, since 2026-03-01T12:00:00.000Z`);
    expect(locked.hint).toBe(`wait for it to finish; if it is gone from that host, remove ${lockFile(dir)}`);
    expect(readHolder(dir).command).toBe('skyrec apply --rev abc');
  });

  it('can be taken again after release, and a repeated release leaves the new holder alone', () => {
    const dir = stateDir();
    const first = acquireLock(dir, 'first');
    first.release();
    expect(existsSync(lockFile(dir))).toBe(false);
    const second = acquire(dir, 'second');
    first.release();
    expect(readHolder(dir).command).toBe('second');
    second.release();
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it('does not remove a lock that is no longer its own', () => {
    const dir = stateDir();
    const mine = acquireLock(dir, 'mine');
    // Someone removed ours by hand and another apply took the lock.
    writeFileSync(lockFile(dir), JSON.stringify({ pid: 1, host: 'elsewhere', command: 'theirs', since: 'x' }));
    mine.release();
    expect(readHolder(dir).command).toBe('theirs');
  });

  it('takes over a lock left by a process that has exited on this host', async () => {
    const dir = stateDir();
    const { pid } = await runNode('');
    const dead: LockHolder = { pid, host: hostname(), command: 'skyrec apply --rev old', since: '2026-02-01T00:00:00.000Z' };
    acquire(dir, 'probe').release(); // creates the directory
    writeFileSync(lockFile(dir), JSON.stringify(dead));
    const onStale = vi.fn();
    const { holder } = acquire(dir, 'skyrec apply --rev new', { onStale });
    expect(onStale).toHaveBeenCalledWith(dead);
    expect(holder.pid).toBe(process.pid);
    expect(readHolder(dir)).toEqual(holder);
  });

  it('takes over the lock of a holder killed with SIGKILL, which could not clean up', async () => {
    const dir = stateDir();
    const child = await runNode(`
      const { acquireLock } = await import(${JSON.stringify(distModule('reconciler/state/lock.ts'))});
      acquireLock(process.argv[1], 'skyrec apply --rev killed');
      process.kill(process.pid, 'SIGKILL');`, [dir]);
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect(readHolder(dir)).toMatchObject({ pid: child.pid, command: 'skyrec apply --rev killed' });
    const onStale = vi.fn();
    acquire(dir, 'next', { onStale });
    expect(onStale).toHaveBeenCalledWith(expect.objectContaining({ pid: child.pid }));
    expect(readHolder(dir).pid).toBe(process.pid);
  });

  it('takes over the lock of a holder that exited but is not yet reaped (a zombie)', async () => {
    // `sleep 30` never waits for the `true` its shell started: that one stays a zombie until sleep exits.
    const parent = spawn('sh', ['-c', 'true & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => parent.kill('SIGKILL'));
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d)))));
    while (!/^\s*Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!)) await new Promise((r) => setTimeout(r, 10));
    expect(() => process.kill(pid, 0)).not.toThrow(); // signal 0 alone would call it alive
    const dir = stateDir();
    acquire(dir, 'probe').release();
    writeFileSync(lockFile(dir), JSON.stringify({ pid, host: hostname(), command: 'skyrec apply --rev zombie', since: '2026-02-01T00:00:00.000Z' }));
    const onStale = vi.fn();
    acquire(dir, 'next', { onStale });
    expect(onStale).toHaveBeenCalledWith(expect.objectContaining({ pid }));
    expect(readHolder(dir).pid).toBe(process.pid);
  });

  it('releases on a normal exit without an explicit release', async () => {
    const dir = stateDir();
    const child = await runNode(`
      const { acquireLock } = await import(${JSON.stringify(distModule('reconciler/state/lock.ts'))});
      const { existsSync } = await import('node:fs');
      acquireLock(process.argv[1], 'skyrec apply');
      console.log(existsSync(process.argv[1] + '/apply.lock'));`, [dir]);
    expect(child.stdout.trim(), child.stderr).toBe('true');
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it('never takes over a lock held from another host, even with a dead pid', async () => {
    const dir = stateDir();
    const { pid } = await runNode('');
    acquire(dir, 'probe').release();
    writeFileSync(lockFile(dir), JSON.stringify({ pid, host: `not-${hostname()}`, command: 'skyrec apply', since: 'x' }));
    expect(() => acquireLock(dir, 'mine')).toThrow(LockedError);
  });

  it.each([['garbage', 'not json {'], ['empty', ''], ['wrong shape', '{"pid":"12"}']])('takes over a corrupt lock file (%s)', (_name, text) => {
    const dir = stateDir();
    acquire(dir, 'probe').release();
    writeFileSync(lockFile(dir), text);
    const onStale = vi.fn();
    acquire(dir, 'mine', { onStale });
    expect(onStale).toHaveBeenCalledWith(null);
    expect(readHolder(dir).command).toBe('mine');
  });

  it('lets exactly one of several processes racing for the lock win', async () => {
    const dir = stateDir();
    acquire(dir, 'probe').release();
    const startAt = Date.now() + 1500; // after every child has loaded, so they really race
    const script = `
      const { acquireLock } = await import(${JSON.stringify(distModule('reconciler/state/lock.ts'))});
      const [dir, startAt] = process.argv.slice(1);
      while (Date.now() < Number(startAt)) {}
      let result;
      try {
        const lock = acquireLock(dir, 'racer ' + process.pid);
        result = { won: true };
        await new Promise((r) => setTimeout(r, 1500)); // hold it while the others try
        lock.release();
      } catch (e) {
        result = { won: false, code: e.code, holderPid: e.holder?.pid };
      }
      console.log(JSON.stringify(result));`;
    const racers = await Promise.all(Array.from({ length: 6 }, () => runNode(script, [dir, String(startAt)])));
    const results = racers.map((r) => ({ pid: r.pid, ...(JSON.parse(r.stdout) as { won: boolean; code?: string; holderPid?: number }) }));
    const winners = results.filter((r) => r.won);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => !r.won)) expect(loser).toMatchObject({ code: 'LOCKED', holderPid: winners[0].pid });
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);
});
