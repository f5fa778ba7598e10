// The data a rollout works on and reports: what to deploy, what it needs, what each node ended as.
import type { Node, Settings } from '../../schema/model.js';
import type { NodeDriver, NodeTarget, SourceReader } from '../../fleet/node/driver.js';
import type { StateStore } from '../state/state-store.js';
import type { Progress } from '../../common/progress.js';
import type { Logger } from '../../common/log.js';

export interface RolloutInput {
  /** The key failures are recorded under: a commit id, or a digest of a working tree's render. */
  revision: string;
  /** Every node of the fleet, in fleet.yaml order (the ones that did not change are skipped). */
  targets: NodeTarget[];
  ingress: Node[];
  rollout: Settings['rollout'];
}

/** What a node last ran healthy: read back to check a node after a rollback, and to keep placement. */
export interface AppliedNode {
  node: Node;
  manifest: NodeTarget['rendered']['manifest'];
  run: NodeTarget['run'];
}

export interface AppliedStore {
  read(node: string): AppliedNode | null;
  /** Whether the node has applied anything, without reading it (read() !== null otherwise). */
  has?(node: string): boolean;
  write(node: string, applied: AppliedNode): void;
}

export interface RolloutDeps {
  applied: AppliedStore;
  driver: NodeDriver;
  store: StateStore;
  sources: SourceReader;
  log: Logger;
  progress: (nodes: string[]) => Progress;
  /** Aborted: finish the batch being switched, start no other (SIGTERM). */
  signal?: AbortSignal;
}

export interface NodeOutcome {
  node: string;
  result: 'switched' | 'rolled-back' | 'failed' | 'not-started' | 'unchanged';
  generation: number | null;
  failures?: string[];
  detail?: string;
}
