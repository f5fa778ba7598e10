// The rendered units' dependency graph against what a deploy does on a real NixOS node. Web
// instances opt out of switch-to-configuration's restart (restartIfChanged = false) so that skyrec
// restarts them one at a time; that only holds while nothing that a deploy stops can stop them too.
// switch-to-configuration (switch-to-configuration-ng in nixos-26.05) stops or restarts every changed
// unit that does not opt out, and systemd stops a unit whose Requires=, BindsTo= or PartOf= unit
// stops (systemd.unit(5)); Wants= and After= never propagate a stop.
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { renderRepo } from '../../reconciler/pipeline/pipeline.js';
import { worktreeFiles, worktreeSource } from '../../schema/source.js';
import { evalModule, makeTempDir } from '../helpers/tools.js';

interface EvaluatedUnit {
  restartIfChanged?: boolean;
  requires?: string[];
  bindsTo?: string[];
  partOf?: string[];
  requisite?: string[];
  wants?: string[];
  after?: string[];
}

const STOP_PROPAGATING = ['requires', 'bindsTo', 'partOf'] as const;

/**
 * A stand-in for what a deploy may stop on a node, after switch-to-configuration's rule: every
 * rendered unit that does not opt out of restarts (its script holds the package and environment,
 * which change with the app), and every unit the modules name but do not define (nixpkgs' own
 * postgresql and redis units, which change when their configuration does, e.g. ensureDatabases).
 */
function unitsADeployMayStop(units: Record<string, EvaluatedUnit>): Set<string> {
  const named = Object.values(units).flatMap((u) => [...STOP_PROPAGATING, 'wants', 'after'].flatMap((k) => (u as Record<string, string[] | undefined>)[k] ?? []));
  const defined = Object.keys(units).map((u) => `${u}.service`);
  return new Set([
    ...Object.entries(units).filter(([, u]) => u.restartIfChanged !== false).map(([name]) => `${name}.service`),
    ...named.filter((n) => n.endsWith('.service') && !defined.includes(n)),
  ]);
}

/** Each `restartIfChanged = false` unit's stop-propagating dependency on a unit that a deploy may stop. */
function rollingUnitsStoppedByADeploy(units: Record<string, EvaluatedUnit>): string[] {
  const stopped = unitsADeployMayStop(units);
  return Object.entries(units)
    .filter(([, u]) => u.restartIfChanged === false)
    .flatMap(([name, u]) => STOP_PROPAGATING.flatMap((k) => (u[k] ?? []).filter((d) => stopped.has(d)).map((d) => `${name} ${k} ${d}`)));
}

describe('rendered unit graph', () => {
  it('the check finds a rolling instance that requires its release (the shape NixOS would stop with every deploy)', () => {
    expect(
      rollingUnitsStoppedByADeploy({
        'shop-web-1': { restartIfChanged: false, requires: ['shop-release.service', 'postgresql.service'] },
        'shop-release': {},
      }),
    ).toEqual(['shop-web-1 requires shop-release.service', 'shop-web-1 requires postgresql.service']);
  });

  it('apps.example: no restartIfChanged = false unit can be stopped by a deploy through requires, bindsTo or partOf', async () => {
    const example = join(packageRoot(), 'apps.example');
    const { nodes } = await renderRepo(worktreeSource(example), { revision: null, files: worktreeFiles(example) });
    const { dir, cleanup } = makeTempDir();
    try {
      let rolling = 0;
      let waitsForRelease = 0;
      for (const node of nodes) {
        const units: Record<string, EvaluatedUnit> = {};
        for (const [path, content] of Object.entries(node.files)) {
          const file = join(dir, node.node, path);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, content);
          if (/^apps\/[^/]+\.nix$/.test(path)) Object.assign(units, (await evalModule(file, example)).systemd?.services ?? {});
        }
        expect(rollingUnitsStoppedByADeploy(units), node.node).toEqual([]);
        const webs = Object.values(units).filter((u) => u.restartIfChanged === false);
        rolling += webs.length;
        waitsForRelease += webs.filter((u) => u.wants?.some((w) => w.endsWith('-release.service')) && u.after?.some((w) => w.endsWith('-release.service'))).length;
      }
      // The graph is not empty of what the rule is about: rolling web instances that wait for a release.
      expect(rolling).toBeGreaterThanOrEqual(6);
      expect(waitsForRelease).toBeGreaterThan(0);
    } finally {
      cleanup();
    }
  });
});
