// Scheduled restore verification: weekly by default per postgres addon (`addons.postgres.backup.
// verify: weekly | daily | off`), rendered on NixOS data nodes as a oneshot unit and a timer per
// frequency (parsed and evaluated by the real nix-instantiate, pkgs stood in), and what
// `skyrec reconcile` finds due for the local driver.
import { readFileSync, writeFileSync } from 'node:fs';
import path, { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { dueVerifies } from '../../reconciler/backup/verify-schedule.js';
import type { BackupRecord } from '../../reconciler/backup/backup-record.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';
import { makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';

afterEach(removeRepos);

const fleet = readFileSync(path.join(FIXTURE, 'fleet.yaml'), 'utf8');
const blog = readFileSync(path.join(FIXTURE, 'apps/blog.yaml'), 'utf8');
const PKGS = `{ pgbackrest = "/nix/store/00000000000000000000000000000000-pgbackrest"; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/nix/store/00000000000000000000000000000000-coreutils"; gnused = "/nix/store/00000000000000000000000000000000-gnused"; }`;

/** backup.nix of the data node for blog with `verify` (null: unset), evaluated. */
async function evaluate(verify: string | null, fleetVerify = '') {
  const app = verify === null ? blog : blog.replace('  postgres: {}\n', `  postgres:\n    backup: { verify: ${verify} }\n`);
  const repo = makeRepo({ 'fleet.yaml': `${fleet}backups:\n  path: /var/backups/skyrec\n  key: BACKUP_KEY\n${fleetVerify}`, 'apps/blog.yaml': app });
  const { config, placement } = await compileFleet(worktreeSource(repo));
  const node = placement.data.blog.postgres!.node;
  const { dir, cleanup } = makeTempDir('skyrec-verify-nix-');
  try {
    const file = join(dir, 'backup.nix');
    writeFileSync(file, renderFleet(config, placement, { revision: null }).find((n) => n.node === node)!.files['backup.nix']);
    await nixParse([file]);
    const module = (await nixEvalJson(`import ${file} { config.services.postgresql = { dataDir = "/var/lib/postgresql/17"; package = "/nix/store/00000000000000000000000000000000-postgresql-17"; }; lib = { }; pkgs = ${PKGS}; }`)) as any;
    return { node, module };
  } finally {
    cleanup();
  }
}

describe('scheduled verify on NixOS (backup.nix)', () => {
  it('weekly by default: a oneshot unit as the backup user with the key by LoadCredential, and its timer', async () => {
    const { node, module } = await evaluate(null);
    const unit = `skyrec-backup-verify-${node}-weekly`;
    expect(Object.keys(module.systemd.timers).sort()).toEqual([`skyrec-backup-${node}`, unit].sort());
    expect(module.systemd.timers[unit]).toEqual({ wantedBy: ['timers.target'], timerConfig: { OnCalendar: 'weekly', Persistent: true, RandomizedDelaySec: '1h' } });
    const service = module.systemd.services[unit];
    expect(service.serviceConfig).toMatchObject({ Type: 'oneshot', User: 'postgres', Group: 'postgres', LoadCredential: ['skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY'] });
    // The script restores into a scratch cluster, counts the rows, stops and removes it.
    const [script, apps] = (service.serviceConfig.ExecStart as string).split(/ (?=blog$)/);
    expect(apps).toBe('blog');
    expect(script).toContain('--db-include="$app" --type=default');
    expect(script).toContain('archive-get %f \\"%p\\"');
    expect(script).toContain('/nix/store/00000000000000000000000000000000-postgresql-17/bin');
    expect(script).toContain('-c archive_mode=off');
    expect(script).toContain('rm -rf "$dir"');
    expect(script).not.toContain('BACKUP_KEY');
    // skyrec backup verify with the nixos driver runs the same script.
    expect(module.environment.etc['skyrec/backup/verify'].source).toBe(script);
  });

  it('daily gives a daily timer; off (or the fleet saying never) gives none, and the script stays for skyrec backup verify', async () => {
    const daily = await evaluate('daily');
    expect(daily.module.systemd.timers[`skyrec-backup-verify-${daily.node}-daily`].timerConfig.OnCalendar).toBe('daily');
    expect(daily.module.systemd.timers[`skyrec-backup-verify-${daily.node}-weekly`]).toBeUndefined();
    for (const off of [await evaluate('off'), await evaluate(null, '  verify: never\n')]) {
      expect(Object.keys(off.module.systemd.timers)).toEqual([`skyrec-backup-${off.node}`]);
      expect(off.module.environment.etc['skyrec/backup/verify'].source).toContain('pg_ctl');
    }
  });
});

describe('what skyrec reconcile verifies for the local driver', () => {
  const DAY = 86_400_000;
  const now = Date.parse('2026-12-04T12:00:00Z');
  const applied = (apps: { app: string; verify: 'daily' | 'weekly' | 'off' }[]) =>
    [{ run: { backup: { postgres: apps.map((a) => ({ ...a, schedule: 'daily', retain: { daily: 7, weekly: 4, monthly: 6 }, pointInTime: true })), redis: [] } } }] as unknown as AppliedNode[];
  const record = (app: string, lastSuccess: string | null, verifiedAt: string | null): BackupRecord => ({
    app, addon: 'postgres', node: 'db-1', scheduleSeconds: 86_400, lastSuccess, lastFailure: null, failures: 0, failuresTotal: 0, lastError: null, window: null,
    lastVerify: verifiedAt ? { at: verifiedAt, ok: true } : null,
  });

  it('an app whose last verify is older than its frequency, or never ran, once a backup exists; off never', () => {
    const apps = applied([{ app: 'blog', verify: 'weekly' }, { app: 'shop', verify: 'daily' }, { app: 'wiki', verify: 'off' }, { app: 'fresh', verify: 'weekly' }]);
    const iso = (ms: number) => new Date(ms).toISOString();
    const records = [record('blog', iso(now - DAY), iso(now - 6 * DAY)), record('shop', iso(now - DAY), iso(now - DAY - 1000)), record('wiki', iso(now - DAY), null), record('fresh', null, null)];
    expect(dueVerifies(apps, records, now)).toEqual(['shop']);
    expect(dueVerifies(apps, records, now + DAY)).toEqual(['blog', 'shop']);
    expect(dueVerifies(apps, [record('blog', iso(now - DAY), null)], now)).toEqual(['blog']);
  });
});
