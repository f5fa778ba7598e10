// The running reconciler's hold on its state directory: the directory, its database file and its
// lock must stay the ones it started with. If someone removes or replaces them, a later write
// would create a new, empty store (history and quarantines lost) beside a reconciler that no
// longer holds the lock: the reconciler stops instead.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StateDamagedError } from '../../common/errors.js';
import { RECONCILER_LOCK } from '../state/lock.js';

const identity = (path: string): string => {
  const s = statSync(path);
  return `${s.dev}:${s.ino}`;
};

export interface StateDirWatch {
  /** Throws a StateDamagedError naming what changed; returns when all is as it was at start. */
  check(): void;
}

export function watchStateDir(stateDir: string): StateDirWatch {
  const watched = [stateDir, join(stateDir, 'state.sqlite'), join(stateDir, RECONCILER_LOCK)];
  const at = new Map(watched.map((p) => [p, identity(p)]));
  return {
    check() {
      for (const path of watched) {
        let now: string | null;
        try {
          now = identity(path);
        } catch {
          now = null;
        }
        if (now === at.get(path)) continue;
        throw new StateDamagedError(`${path} was ${now === null ? 'removed' : 'replaced'} while skyrec reconcile ran; it stopped rather than start over with an empty state store`, {
          hint: `put the state directory back (or restore its copy: skyrec state restore --state ${stateDir}), then start skyrec reconcile again`,
        });
      }
      const holder = JSON.parse(readFileSync(join(stateDir, RECONCILER_LOCK), 'utf8')) as { pid: number };
      if (holder.pid !== process.pid) throw new StateDamagedError(`${join(stateDir, RECONCILER_LOCK)} now names pid ${holder.pid}, not this reconciler`);
    },
  };
}
