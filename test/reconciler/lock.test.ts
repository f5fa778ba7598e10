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
import { isExited, procStat } from '../../common/proc.js';
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

/** /proc has no event for a state change: poll it, with a deadline that names what never happened. */
async function pollUntil(ready: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`gave up after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A node child whose stdout is read a line at a time and whose stdin the test writes. */
function spawnLineReader(script: string, args: string[]) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.on('error', () => {}); // a racer that lost exits at once; its stdin is closed
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.on('data', (d) => {
    buffered += String(d);
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
  const nextLine = () =>
    lines.length > 0
      ? Promise.resolve(lines.shift()!)
      : Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited.then(() => { throw new Error(`racer ${child.pid} exited before writing a line`); })]);
  return { child, nextLine, exited };
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
    // The holder is a child of a parent that never reaps: the shell starts `head`, which blocks on
    // the shell's stdin, then execs `sleep`, which never calls wait. Only once sleep runs does the
    // test release head (one byte on stdin), so the shell cannot reap it first.
    const parent = spawn('sh', ['-c', 'exec 3<&0; head -c1 <&3 >/dev/null & echo $!; exec sleep 60 3<&-'], { stdio: ['pipe', 'pipe', 'ignore'] });
    cleanups.push(() => parent.kill('SIGKILL'));
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d)))));
    await pollUntil(() => readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep', 'the shell to exec sleep');
    parent.stdin.end('x');
    await pollUntil(() => { const s = procStat(pid); return s !== null && isExited(s); }, `pid ${pid} (head) to exit unreaped`);
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
    // Each racer loads the module, says so, and waits for "go" on stdin, so they really race; the
    // winner holds the lock until every racer has answered and the test says "release".
    const script = `
      const { acquireLock } = await import(${JSON.stringify(distModule('reconciler/state/lock.ts'))});
      const { createInterface } = await import('node:readline');
      const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
      console.log('ready');
      await lines.next();
      try {
        const lock = acquireLock(process.argv[1], 'racer ' + process.pid);
        console.log(JSON.stringify({ won: true }));
        await lines.next();
        lock.release();
      } catch (e) {
        console.log(JSON.stringify({ won: false, code: e.code, holderPid: e.holder?.pid }));
      }
      process.exit(0);`;
    const racers = Array.from({ length: 6 }, () => spawnLineReader(script, [dir]));
    for (const r of racers) cleanups.push(() => r.child.kill('SIGKILL'));
    for (const r of racers) expect(await r.nextLine()).toBe('ready');
    for (const r of racers) r.child.stdin.write('go\n');
    const answers = await Promise.all(racers.map(async (r) => ({ pid: r.child.pid, ...(JSON.parse(await r.nextLine()) as { won: boolean; code?: string; holderPid?: number }) })));
    const winners = answers.filter((a) => a.won);
    expect(winners).toHaveLength(1);
    for (const loser of answers.filter((a) => !a.won)) expect(loser).toMatchObject({ code: 'LOCKED', holderPid: winners[0].pid });
    racers.find((r) => r.child.pid === winners[0].pid)!.child.stdin.end('release\n'); // the losers have exited
    await Promise.all(racers.map((r) => r.exited));
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);
});
