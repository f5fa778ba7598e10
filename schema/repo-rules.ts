// Rules that span entries or files: unique node names, one owner per domain, placement
// labels that some node carries. Each is a single pass with maps, so thousands of apps
// cost linear time.
import { locatePath, problemAt, type YamlFile } from './load-yaml.js';
import type { AppSpec, FleetSpec, Problem, SpecPath } from './model.js';
import { checkNotifyRules } from './notify-rules.js';
import { isIP } from 'node:net';
import { parseSize } from './normalize.js';

export interface CheckedApp {
  yaml: YamlFile;
  spec: AppSpec;
}

/** Rules inside fleet.yaml that its schema cannot express. */
export function checkFleetRules(yaml: YamlFile, fleet: FleetSpec): Problem[] {
  const problems: Problem[] = [];
  const firstByName = new Map<string, number>();
  fleet.nodes.forEach((node, i) => {
    const first = firstByName.get(node.name);
    if (first === undefined) firstByName.set(node.name, i);
    else {
      const line = locatePath(yaml, ['nodes', first, 'name']).line;
      problems.push(
        problemAt(
          yaml,
          ['nodes', i, 'name'],
          `node name '${node.name}' is already used by nodes[${first}] (line ${line}); node names must be unique`,
        ),
      );
    }
    if (isIP(node.address) === 0) problems.push(problemAt(yaml, ['nodes', i, 'address'], addressMessage(i, node.address)));
    const memory = node.capacity?.memory;
    if (memory !== undefined && Number.isNaN(parseSize(memory))) {
      problems.push(
        problemAt(yaml, ['nodes', i, 'capacity', 'memory'], `nodes[${i}].capacity.memory '${memory}' is too large`),
      );
    }
  });
  const range = fleet.settings?.portRange;
  if (range && range.from >= range.to) {
    problems.push(
      problemAt(
        yaml,
        ['settings', 'portRange', 'from'],
        `settings.portRange.from (${range.from}) must be less than to (${range.to})`,
      ),
    );
  }
  problems.push(...checkNotifyRules(yaml, fleet));
  return problems;
}

/**
 * A node's address goes into firewall rules (the addons' allowed clients). nftables checks its
 * ruleset at build time (`networking.nftables.checkRuleset`, in a sandbox without DNS) and
 * iptables resolves names at boot, where a failure aborts the firewall script: so an IP only.
 */
function addressMessage(i: number, address: string): string {
  return `nodes[${i}].address '${address}' must be an IP address: it is written into firewall rules, which nftables checks at build time without DNS; write the node's private IPv4 or IPv6 address (e.g. 10.0.0.11 or fd00::11)`;
}

/** Rules between apps, and between apps and the fleet (null when fleet.yaml is invalid). */
export function checkAcrossApps(apps: CheckedApp[], fleet: FleetSpec | null): Problem[] {
  const problems: Problem[] = [];
  const domainOwner = new Map<string, string>();
  const labelsMatch = fleet ? matchLabels(fleet) : null;

  for (const { yaml, spec } of apps) {
    (spec.domains ?? []).forEach((domain, i) => {
      const owner = domainOwner.get(domain);
      if (owner === undefined) domainOwner.set(domain, yaml.file);
      else
        problems.push(
          problemAt(
            yaml,
            ['domains', i],
            `domain '${domain}' is already claimed by ${owner}; a domain routes to one app`,
          ),
        );
    });
    const selectors: [SpecPath, Record<string, string> | undefined][] = [
      [['placement', 'labels'], spec.placement?.labels],
      [['addons', 'postgres', 'placement', 'labels'], spec.addons?.postgres?.placement?.labels],
      [['addons', 'redis', 'placement', 'labels'], spec.addons?.redis?.placement?.labels],
    ];
    for (const [path, wanted] of selectors) {
      if (!labelsMatch || !wanted || Object.keys(wanted).length === 0) continue;
      const missing = labelsMatch(wanted);
      if (missing) problems.push(problemAt(yaml, path, missing));
    }
  }
  return problems;
}

/** A checker returning null when some node carries every wanted label, else the message. */
function matchLabels(fleet: FleetSpec): (wanted: Record<string, string>) => string | null {
  const cache = new Map<string, boolean>();
  let available: string | undefined;
  return (wanted) => {
    const entries = Object.entries(wanted).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const cacheKey = JSON.stringify(entries);
    let found = cache.get(cacheKey);
    if (found === undefined) {
      found = fleet.nodes.some((node) => entries.every(([k, v]) => node.labels?.[k] === v));
      cache.set(cacheKey, found);
    }
    if (found) return null;
    available ??= describeLabels(fleet);
    return `no node has labels ${entries.map(([k, v]) => `${k}=${v}`).join(', ')}; ${available}`;
  };
}

function describeLabels(fleet: FleetSpec): string {
  const pairs = new Set<string>();
  for (const node of fleet.nodes) for (const [k, v] of Object.entries(node.labels ?? {})) pairs.add(`${k}=${v}`);
  if (pairs.size === 0) return 'no node has any labels';
  const sorted = [...pairs].sort();
  const shown = sorted.length > 20 ? [...sorted.slice(0, 20), `and ${sorted.length - 20} more`] : sorted;
  return `nodes have: ${shown.join(', ')}`;
}
