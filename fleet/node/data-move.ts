// Data that moves with its node, through the node driver (the optional data-move methods of
// NodeDriver): what an apply asks of the old and the new data node when an app's PostgreSQL or
// Redis data changes node, and what `skyrec data forget` asks of the node it left. The local
// driver runs PostgreSQL, pgBackRest, Redis and restic on this machine; the nixos driver runs
// them on the nodes over ssh (fleet/drivers/nixos/nixos-data-move.ts).
import type { BackupTarget, Node } from '../../schema/model.js';
import type { NodeRunSpec } from '../../generators/render-run-spec.js';
import type { BackupAddon } from './backup.js';

/** One addon of one app moving from one node to another. Nodes by name: `from` may have left the fleet. */
export interface DataMoveRequest {
  app: string;
  addon: BackupAddon;
  from: string;
  to: string;
  /** The fleet's backup target: a node that is gone is restored from it. */
  target: BackupTarget;
  /** What the new node runs once switched (its addons and backups), as the restore prepares it. */
  dest: Pick<NodeRunSpec, 'postgres' | 'redis'> & { backup?: NodeRunSpec['backup'] };
  /** The two nodes as the fleet (or, for one that left it, its last apply) names them: how a remote driver reaches them. */
  nodes?: DataMoveNodes;
}

export interface DataMoveNodes {
  from: Node | null;
  to: Node | null;
}

/** How the data reached the new node. */
export interface MovedData {
  /**
   * 'wal': the old node pushed its last WAL; 'snapshot': the old Redis saved a final RDB snapshot;
   * 'gone': restored from the target as the old node last stored it; 'empty': the old node is gone
   * and the target holds no Redis snapshot of it (Redis starts empty, the move says so).
   */
  final: 'wal' | 'snapshot' | 'gone' | 'empty';
  /** PostgreSQL: rows per table; Redis: { keys }. */
  rows: Record<string, number>;
}

export interface ForgetRequest {
  app: string;
  /** The copies to remove: addons whose live data is on another node. */
  addons: BackupAddon[];
  /** Other apps' PostgreSQL data stays on the node: only this app's databases go. */
  othersPostgres: boolean;
  /** The node holding the app's live PostgreSQL now: its view of the old stanza goes too. */
  livePostgres: string | null;
  /** The node the copies are on, as its last apply names it (how a remote driver reaches it). */
  node?: Node | null;
}
