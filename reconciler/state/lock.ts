// One apply per fleet at a time: two applies would interleave switches and rollbacks on the same
// nodes. The lock is a file whose existence is the lock; it names its holder so a person (or the
// next skyrec on the same host) can tell whether that holder is still there.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LockedError, type LockHolder } from '../../common/errors.js';
import { isProcessAlive } from '../../common/proc.js';


export interface LockOptions {
  clock?: () => Date;
  /** Called before a stale lock is taken over; holder is null when the file was unreadable. */
  onStale?: (holder: LockHolder | null) => void;
  /** The lock file's name in the state directory (default apply.lock: one apply per fleet). */
  file?: string;
  /** How the error names the holder (default 'another skyrec apply holds the lock'). */
  what?: string;
}

type Seen = { kind: 'gone' } | { kind: 'held'; holder: LockHolder; ino: number } | { kind: 'corrupt'; ino: number };

export function acquireLock(stateDir: string, command: string, opts: LockOptions = {}): { holder: LockHolder; release(): void } {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, opts.file ?? 'apply.lock');
  const holder: LockHolder = { pid: process.pid, host: hostname(), command, since: (opts.clock ?? (() => new Date()))().toISOString() };
  let tookOverStale = false;
  // A few rounds only because the file may vanish between our failed create and our read.
  for (let round = 0; round < 5; round++) {
    const ino = tryCreate(path, holder);
    if (ino !== null) return held(path, holder, ino);
    const seen = readLock(path);
    if (seen.kind === 'gone') continue;
    const stale = seen.kind === 'corrupt' || (seen.holder.host === holder.host && !isProcessAlive(seen.holder.pid));
    if (!stale || tookOverStale) throw new LockedError(seen.kind === 'held' ? seen.holder : unreadableHolder(path), path, opts.what);
    opts.onStale?.(seen.kind === 'held' ? seen.holder : null);
    removeIfSame(path, seen.ino);
    tookOverStale = true;
  }
  const seen = readLock(path);
  throw new LockedError(seen.kind === 'held' ? seen.holder : unreadableHolder(path), path, opts.what);
}

/**
 * Creates the lock file with its contents in one step: written to a private file, then hard-linked
 * into place (link fails with EEXIST like open 'wx'). A plain open('wx') would let a racing reader
 * see the file empty, judge it corrupt and take it over. Returns the new file's inode, or null if held.
 */
function tryCreate(path: string, holder: LockHolder): number | null {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return statSync(path).ino;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

function readLock(path: string): Seen {
  let text: string;
  let ino: number;
  try {
    ino = statSync(path).ino;
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    throw e;
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    const valid = Number.isSafeInteger(h.pid) && (h.pid as number) > 0 && typeof h.host === 'string'
      && typeof h.command === 'string' && typeof h.since === 'string';
    return valid ? { kind: 'held', holder: h as LockHolder, ino } : { kind: 'corrupt', ino };
  } catch {
    return { kind: 'corrupt', ino };
  }
}

/**
 * Removes the lock file only if it is still the one judged stale: two processes taking over the
 * same stale lock must not let the slower one delete the faster one's fresh lock. Renaming first
 * makes the check and the removal one step; a fresh lock caught by mistake is linked back.
 */
function removeIfSame(path: string, staleIno: number): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (statSync(aside).ino !== staleIno) {
    try {
      linkSync(aside, path);
    } catch {
      // someone created a lock meanwhile; theirs stands
    }
  }
  unlinkSync(aside);
}

function unreadableHolder(path: string): LockHolder {
  let since = 'unknown';
  try {
    since = statSync(path).mtime.toISOString();
  } catch {
    // gone by now
  }
  return { pid: -1, host: 'unknown', command: 'unknown (unreadable lock file)', since };
}

function held(path: string, holder: LockHolder, ino: number): { holder: LockHolder; release(): void } {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', releaseOnExit);
    // Only our own file: after a takeover or a manual removal the path may name someone else's lock.
    const seen = readLock(path);
    if (seen.kind === 'held' && seen.ino === ino && seen.holder.pid === holder.pid) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };
  // Best effort: 'exit' runs on normal exit and process.exit(), not on SIGKILL or an unhandled
  // signal; those leave a lock that the next acquire on this host finds stale.
  const releaseOnExit = (): void => {
    try {
      release();
    } catch {
      // exiting anyway; the next acquire on this host finds the lock stale
    }
  };
  process.on('exit', releaseOnExit);
  return { holder, release };
}

/** The lock of `skyrec reconcile`: one reconciler per state directory, held for its whole life. */
export const RECONCILER_LOCK = 'reconciler.lock';

export function acquireReconcilerLock(stateDir: string, command: string, opts: Omit<LockOptions, 'file' | 'what'> = {}): { holder: LockHolder; release(): void } {
  return acquireLock(stateDir, command, { ...opts, file: RECONCILER_LOCK, what: 'another skyrec reconcile runs on this state directory' });
}
