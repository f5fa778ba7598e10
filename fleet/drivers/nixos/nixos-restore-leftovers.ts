// What a killed `skyrec restore` (or data move) leaves on a NixOS data node, cleared by the next
// one, as the local driver clears its own (local-backup-ops.ts clearLeftoverScratch): the scratch
// cluster's transient service keeps running and its folder under /var/lib/skyrec-backup/ stays
// (each restore uses a new name, so nothing else ever removes them), as do the transient units of
// its steps (pgBackRest's restore, pg_dump into the folder), named after it. Each scratch folder
// holds `owner`: the skyrec process that made it (host, pid, start time, from this machine's
// /proc). Before a restore, the folders of processes that no longer run are stopped and removed; a
// folder of this app whose process still runs makes the restore refuse (two restores of one
// database at once); one made on another host is left alone and refused too, since its process
// cannot be asked from here.
import { hostname } from 'node:os';
import type { Node } from '../../../schema/model.js';
import type { Logger } from '../../../common/log.js';
import { SkyrecError, UsageError } from '../../../common/errors.js';
import { isExited, procStat } from '../../../common/proc.js';
import type { OperateCommands } from './nixos-operate.js';
import { asRoot, type BackupPaths, type OnNode } from './nixos-backup.js';

const SH = '/bin/sh';
/** A scratch folder's (and its service's) name: nixos-restore.ts scratchPlace, transientUnit('restore-<app>'). */
const SCRATCH = /^skyrec-backup-restore-([a-z0-9]([a-z0-9-]*[a-z0-9])?)-[0-9a-f]{8}$/;

export interface ScratchOwner {
  host: string;
  pid: number;
  start: string;
}

export const currentOwner = (): ScratchOwner => ({ host: hostname(), pid: process.pid, start: procStat(process.pid)?.start ?? '' });

/** Writes the owner file into a scratch folder just made (root's, beside the cluster's own files). */
export function buildWriteOwnerArgv(node: Node, dir: string, owner: ScratchOwner): string[] {
  return asRoot(node, [SH, '-c', 'umask 077 && printf "%s\\n" "$2" > "$1/owner"', 'sh', dir, JSON.stringify(owner)]);
}

// Every scratch folder in the state folder, with its owner file's line: "<name>\t<owner json>".
const LIST = 'cd "$1" 2>/dev/null || exit 0; for d in skyrec-backup-restore-*; do [ -d "$d" ] && printf "%s\\t%s\\n" "$d" "$(head -n 1 "$d/owner" 2>/dev/null)"; done; exit 0';

export function buildListScratchArgv(node: Node, state: string): string[] {
  return asRoot(node, [SH, '-c', LIST, 'sh', state]);
}

// Stops the scratch service and every unit of its steps (systemctl takes the glob), then removes the folder.
const CLEAR = '"$1" stop -- "$2.service" "$2-*.service" 2>/dev/null; rm -rf -- "$3"';

export function buildClearScratchArgv(node: Node, ops: OperateCommands, name: string, dir: string): string[] {
  return asRoot(node, [SH, '-c', CLEAR, 'sh', ops.systemctl, name, dir]);
}

function parseOwner(text: string): ScratchOwner | null {
  try {
    const o = JSON.parse(text) as Partial<ScratchOwner>;
    return typeof o.host === 'string' && typeof o.pid === 'number' && typeof o.start === 'string' ? { host: o.host, pid: o.pid, start: o.start } : null;
  } catch {
    return null;
  }
}

/** Whether the process that made a folder still runs: on this host, the same pid and start time; elsewhere: unknown. */
function ownerState(owner: ScratchOwner | null, me: ScratchOwner): 'gone' | 'running' | 'elsewhere' {
  if (!owner) return 'gone'; // killed before it wrote its owner file
  if (owner.host !== me.host) return 'elsewhere';
  if (owner.pid === me.pid && owner.start === me.start) return 'gone'; // this process's own, from an earlier step
  const stat = procStat(owner.pid);
  return stat !== null && stat.start === owner.start && !isExited(stat) ? 'running' : 'gone';
}

export interface LeftoverOptions {
  onNode: OnNode;
  ops: OperateCommands;
  paths: BackupPaths;
  log?: Logger;
}

/** Clears what killed restores left on the node before a restore of `app`; refuses while one of `app` still runs. */
export async function clearRestoreLeftovers(o: LeftoverOptions, node: Node, app: string, state: string): Promise<string[]> {
  const me = currentOwner();
  const lines = (await o.onNode(node, buildListScratchArgv(node, state))).stdout.split('\n').filter(Boolean);
  const cleared: string[] = [];
  for (const line of lines) {
    const [name, text = ''] = line.split('\t');
    const m = SCRATCH.exec(name);
    if (!m) continue;
    const owner = parseOwner(text);
    const status = ownerState(owner, me);
    const dir = `${state}/${name}`;
    if (status !== 'gone') {
      if (m[1] !== app) continue;
      const who = status === 'running' ? `process ${owner!.pid} here` : `a skyrec on ${owner!.host} (process ${owner!.pid})`;
      throw new UsageError(`node ${node.name}: another restore of ${app} runs (${who}, its copy in ${dir}): nothing was restored`, {
        hint: status === 'running' ? 'wait for it to finish, then run this again' : `if that skyrec no longer runs, stop it by hand on ${node.host}: systemctl stop '${name}*'; rm -rf ${dir}`,
      });
    }
    await o.onNode(node, buildClearScratchArgv(node, o.ops, name, dir)).catch((err) => {
      throw new SkyrecError(`node ${node.name}: could not remove ${dir}, left by a restore that no longer runs`, { cause: err });
    });
    o.log?.warn({ node: node.name, dir }, 'removed a scratch copy a killed restore left behind');
    cleared.push(dir);
  }
  return cleared;
}
