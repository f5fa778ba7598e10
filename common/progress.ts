// Rollout progress: on a terminal one live line per node, redrawn in place; otherwise one
// plain line per change, which reads well in CI logs.
import type { Writable } from 'node:stream';

export type NodeState = 'waiting' | 'switching' | 'checking' | 'healthy' | 'rolling back' | 'rolled back' | 'failed' | 'skipped';

export interface Progress {
  update(node: string, state: NodeState, detail?: string): void;
  /** Leaves the live block in its final state. */
  done(): void;
}

export function createProgress(stream: Writable & { isTTY?: boolean }, nodes: string[], opts: { live?: boolean } = {}): Progress {
  const live = opts.live ?? stream.isTTY === true;
  const lines = new Map(nodes.map((n) => [n, 'waiting']));
  const width = Math.max(4, ...nodes.map((n) => n.length));
  let drawn = 0;
  const render = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A`);
    for (const [node, text] of lines) stream.write(`\x1b[2K${node.padEnd(width)}  ${text}\n`);
    drawn = lines.size;
  };
  if (live && nodes.length > 0) render();
  return {
    update(node, state, detail) {
      const text = detail ? `${state}: ${detail}` : state;
      lines.set(node, text);
      if (live) render();
      else stream.write(`${node}: ${text}\n`);
    },
    done() {
      if (live && drawn > 0) render();
    },
  };
}
