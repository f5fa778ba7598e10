// The nixos driver's checks before a rollout switches anything: the rendered flake, each node
// reachable over ssh with the secret files its units read, and nixos-rebuild on this machine.
import type { NodeTarget, PreflightProblem } from '../../node/driver.js';
import { NodeUnreachableError } from '../../../common/errors.js';
import { requiredSecrets } from '../../../generators/render-run-spec.js';
import { checkFlakeDir } from './nixos-flake.js';
import { buildMissingFilesArgv, type NixosPreflightProblem } from './nixos-argv.js';
import { runOnNode, type NixosRemote } from './nixos-remote.js';

export async function preflightNixos(r: NixosRemote, targets: NodeTarget[], opts: { flakeDir: string; secretsDir?: string; nixosRebuild: string }): Promise<PreflightProblem[]> {
  const problems: NixosPreflightProblem[] = [];
  const nodes = [...new Map(targets.map((x) => [x.node.name, x.node])).values()];
  // Not a node's fault either: reported once, under the first target.
  const flake = nodes.length ? await checkFlakeDir(opts.flakeDir) : null;
  if (flake) problems.push({ node: nodes[0].name, message: `${flake.message} (${flake.hint})`, error: flake });
  await Promise.all(nodes.map(async (node) => {
    try {
      await runOnNode(r, node, ['true'], r.timeouts.connectMs);
    } catch (e) {
      const error = e instanceof NodeUnreachableError ? e : new NodeUnreachableError(node.name, node.host, e instanceof Error ? e.message : String(e), { cause: e });
      problems.push({ node: node.name, message: error.message, error });
      return;
    }
    // Secret files the node's units read (LoadCredential fails the unit when one is missing).
    const { secretsDir } = opts;
    const target = targets.find((x) => x.node.name === node.name)!;
    const files = secretsDir === undefined ? [] : requiredSecrets(target.run).map((s) => ({ ...s, path: `${secretsDir}/${s.app}/${s.name}` }));
    if (files.length === 0) return;
    const missing = (await runOnNode(r, node, buildMissingFilesArgv(files.map((f) => f.path)))).stdout.split('\n');
    for (const f of files) if (missing.includes(f.path)) problems.push({ node: node.name, message: `${f.app}: secret file ${f.path} is missing` });
  }));
  try {
    await r.exec(['sh', '-c', 'command -v "$1"', 'sh', opts.nixosRebuild], { timeout: r.timeouts.commandMs, log: r.log });
  } catch {
    // Not a node's fault, so it is reported once, under the first target.
    if (nodes.length) problems.push({ node: nodes[0].name, message: `${opts.nixosRebuild} is not installed on the machine running skyrec (it deploys every node)` });
  }
  return problems.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
