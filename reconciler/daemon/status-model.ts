// What the reconciler shows of the fleet: the data of /api/status, the status page and the
// reconciler lines of `skyrec status`.
import type { NodeRecord } from '../state/state-store.js';
import type { NodeDrift, RunRecord } from '../state/reconciler-records.js';
import type { TrustVerdict } from '../trust/trust-verdict.js';

/** --require-signed-by: whether heads must be signed, and the verdict on the head fetched last. */
export interface HeadTrust {
  required: boolean;
  /** null: no head checked yet (or none required). */
  head: TrustVerdict | null;
}
import type { NotifyStatus } from '../notify/notify-status.js';
import type { BackupView } from '../backup/backup-record.js';

/** An app as the fleet runs it now (from the manifests of the last healthy apply of each node). */
export interface AppStatus {
  name: string;
  domains: string[];
  instances: { process: string; index: number; node: string; port: number; live?: InstanceLive }[];
}

/**
 * An instance's state now, as `skyrec ps` reads it from its node (daemon: live-instances.ts).
 * Absent where nothing asked the node (`skyrec status`); state `unreachable` when the node did not
 * answer in time, with the reason in `error`.
 */
export interface InstanceLive {
  /** systemd's ActiveState (active, failed, activating, ...), unknown, or unreachable. */
  state: string;
  since: string | null;
  restarts: number | null;
  memoryBytes: number | null;
  /** When the node answered (ISO), null when it did not. */
  checkedAt: string | null;
  error?: string;
}

export interface DaemonStatus {
  repo: string;
  branch: string;
  /** The head of the followed branch at the last fetch. */
  fetched: { revision: string; at: string } | null;
  /** The last revision a cycle applied or found already applied: what the fleet runs. */
  applied: { revision: string; at: string } | null;
  /** The cycle running now (null when idle), and whether another is queued after it. */
  running: { since: string } | null;
  queued: boolean;
  /** Revisions whose rollout failed: not applied again until a newer commit or `skyrec retry`. */
  quarantined: { revision: string; reason: string; at: string }[];
  /** Nodes found drifted at the last drift check (empty: none). */
  drift: NodeDrift[];
  lastDriftCheck: string | null;
  nodes: NodeRecord[];
  apps: AppStatus[];
  /**
   * Why the last job could not do its work or record it (the state store could not be written or
   * read, an unexpected error): null once a later cycle has recorded its run. While set, /healthz
   * answers 503.
   */
  fault: { message: string; at: string } | null;
  /** Signed heads (--require-signed-by); absent from a status read from an older loop's view. */
  trust?: HeadTrust;
  /** Newest first; `planUrl` is where the run's plan can be read (null: no plan recorded). */
  runs: (RunRecord & { planUrl: string | null })[];
  /** The notification queue (absent from a status read without it). */
  notifications?: NotifyStatus;
  /** Each app addon's backups: last success, window, failures, latest event (absent: none recorded). */
  backups?: BackupView[];
}
