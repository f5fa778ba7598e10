// The data node's backup.nix: parsed by the real nix-instantiate and evaluated with a stand-in
// for pkgs (no nixpkgs checkout here: pkgs.writeShellScript returns the script's text, so what
// the units and archive_command run can be read). The preflight of both drivers refuses a node
// without the repository key file.
import { readFileSync, writeFileSync } from 'node:fs';
import path, { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { worktreeSource } from '../../schema/source.js';
import { exec } from '../../common/exec.js';
import { preflightLocal } from '../../fleet/drivers/local/local-preflight.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';
import { makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';

afterEach(removeRepos);

const fleet = readFileSync(path.join(FIXTURE, 'fleet.yaml'), 'utf8');
const PKGS_STANDIN = `{ pgbackrest = "/nix/store/00000000000000000000000000000000-pgbackrest"; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/nix/store/00000000000000000000000000000000-coreutils"; gnused = "/nix/store/00000000000000000000000000000000-gnused"; }`;

/** backup.nix parsed by the real nix-instantiate, then evaluated with the stand-in pkgs. */
async function parseAndEval(text: string): Promise<any> {
  const { dir, cleanup } = makeTempDir('skyrec-backup-nix-');
  try {
    const file = join(dir, 'backup.nix');
    writeFileSync(file, text);
    await nixParse([file]);
    return await nixEvalJson(`import ${file} { config.services.postgresql = { dataDir = "/var/lib/postgresql/17"; package = "/nix/store/00000000000000000000000000000000-postgresql-17"; }; lib = { }; pkgs = ${PKGS_STANDIN}; }`);
  } finally {
    cleanup();
  }
}

async function renderWith(backups: string) {
  const repo = makeRepo({ 'fleet.yaml': `${fleet}backups:\n${backups}` });
  const { config, placement } = await compileFleet(worktreeSource(repo));
  return { config, placement, nodes: renderFleet(config, placement, { revision: null }) };
}

describe('backup.nix on the data node', () => {
  it('renders on the data node only, parses, and evaluates to archiving, a timer and the key by LoadCredential', async () => {
    const { nodes, placement } = await renderWith('  path: /var/backups/skyrec\n  key: BACKUP_KEY\n');
    const dataNode = placement.data.blog.postgres!.node;
    expect(nodes.filter((n) => n.files['backup.nix']).map((n) => n.node)).toEqual([dataNode]);
    const node = nodes.find((n) => n.node === dataNode)!;
    expect(node.files['default.nix']).toContain('./backup.nix');
    const module = await parseAndEval(node.files['backup.nix']);
    const pg = module.services.postgresql.settings;
    expect(pg).toMatchObject({ archive_mode: 'on', archive_timeout: 60, wal_level: 'replica' });
    expect(pg.archive_command).toMatch(/ archive-push %p$/);
    expect(pg.archive_command).toContain('PGBACKREST_REPO1_CIPHER_PASS="$(cat "$CREDENTIALS_DIRECTORY/skyrec-backup-key")"');
    expect(pg.archive_command).toContain('--pg1-path=/var/lib/postgresql/17');
    const credential = ['skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY'];
    expect(module.systemd.services.postgresql.serviceConfig.LoadCredential).toEqual(credential);
    const unit = module.systemd.services[`skyrec-backup-${dataNode}`];
    expect(unit.serviceConfig).toMatchObject({ Type: 'oneshot', User: 'postgres', LoadCredential: credential });
    expect(unit.serviceConfig.ExecStart).toMatch(/ --type=full backup$/);
    expect(module.systemd.timers[`skyrec-backup-${dataNode}`].timerConfig).toMatchObject({ OnCalendar: 'daily', Persistent: true });
    const conf = module.environment.etc['skyrec/pgbackrest.conf'].text as string;
    expect(conf).toContain('repo1-cipher-type=aes-256-cbc');
    expect(conf).toContain('repo1-path=/var/backups/skyrec');
    expect(conf).not.toMatch(/cipher-pass/);
  });

  it('an s3 target names its credentials by secret file, never by value', async () => {
    const s3 = '  key: BACKUP_KEY\n  s3: { endpoint: s3.eu-central-1.amazonaws.com, bucket: acme-backups, region: eu-central-1, accessKeyId: S3_ID, secretAccessKey: S3_SECRET }\n';
    const { nodes } = await renderWith(s3);
    const text = nodes.find((n) => n.files['backup.nix'])!.files['backup.nix'];
    expect(text).toContain('"skyrec-backup-s3-key:/run/secrets/_skyrec/S3_ID"');
    expect(text).toContain('repo1-type=s3');
    expect(text).toContain('PGBACKREST_REPO1_S3_KEY_SECRET="$(cat "$CREDENTIALS_DIRECTORY/skyrec-backup-s3-key-secret")"');
    expect(text).toContain('repo1-s3-uri-style=host');
  });

  it('an S3-compatible endpoint that is not AWS (MinIO, R2) addresses its bucket by path unless told otherwise', async () => {
    const conf = async (s3: string) => (await renderWith(`  key: BACKUP_KEY\n  s3: { ${s3}, bucket: acme-backups, region: eu-1, accessKeyId: S3_ID, secretAccessKey: S3_SECRET }\n`)).nodes.find((n) => n.files['backup.nix'])!.files['backup.nix'];
    const minio = await conf('endpoint: "https://minio.internal:9000"');
    expect(minio).toContain('repo1-s3-endpoint=minio.internal:9000');
    expect(minio).toContain('repo1-s3-uri-style=path');
    expect(await conf('endpoint: "https://minio.internal:9000", uriStyle: host')).toContain('repo1-s3-uri-style=host');
  });

  it("an ssh target is an sftp repository (pgBackRest runs its base backups on the data node), checked against the host's key, logged in to with a key by secret name", async () => {
    const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@backup-1';
    const { nodes, placement } = await renderWith(`  key: BACKUP_KEY\n  ssh: { host: backup-1.internal, user: skyrec, path: /srv/skyrec, hostKey: "${hostKey}" }\n`);
    const node = nodes.find((n) => n.node === placement.data.blog.postgres!.node)!;
    const module = await parseAndEval(node.files['backup.nix']);
    const conf = (module.environment.etc['skyrec/pgbackrest.conf'].text as string).split('\n');
    // Not repo1-host: with a repository host, pgBackRest refuses `backup` on the database's node
    // (seen with Debian's pgBackRest: "[072]: backup command must be run on the repository host").
    expect(conf.filter((l) => l.startsWith('repo1-host'))).toEqual([]);
    expect(conf).toEqual(expect.arrayContaining(['repo1-type=sftp', 'repo1-sftp-host=backup-1.internal', 'repo1-sftp-host-user=skyrec', 'repo1-sftp-host-key-check-type=strict', 'repo1-sftp-known-host=/etc/ssh/ssh_known_hosts', 'repo1-path=/srv/skyrec']));
    // The host's key, without its comment, among the system's known hosts; root's ssh (restic's sftp) logs in with the fleet's key file.
    expect(module.programs.ssh.knownHosts['skyrec-backup-target']).toEqual({ hostNames: ['backup-1.internal'], publicKey: hostKey.split(' ').slice(0, 2).join(' ') });
    expect(module.programs.ssh.extraConfig).toBe('Host backup-1.internal\n  IdentityFile /run/secrets/_skyrec/BACKUP_SSH_KEY\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n');
    // pgBackRest (as postgres) gets the key file by LoadCredential, in archive_command and the backup unit alike.
    const credentials = ['skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY', 'skyrec-backup-ssh-key:/run/secrets/_skyrec/BACKUP_SSH_KEY'];
    expect(module.systemd.services.postgresql.serviceConfig.LoadCredential).toEqual(credentials);
    expect(module.services.postgresql.settings.archive_command).toContain('PGBACKREST_REPO1_SFTP_PRIVATE_KEY_FILE="$CREDENTIALS_DIRECTORY/skyrec-backup-ssh-key"');
  });

  it('the local driver refuses an ssh target by name (it backs up to a path)', async () => {
    const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    const { config, placement } = await renderWith(`  key: BACKUP_KEY\n  ssh: { host: backup-1.internal, path: /srv/skyrec, hostKey: "${hostKey}" }\n`);
    const { dir, cleanup } = makeTempDir('skyrec-backup-secrets-');
    try {
      const problems = await preflightLocal(nodes(config, placement), { secretsDir: dir, exec });
      const refused = problems.filter((p) => p.message.includes('ssh target'));
      expect(refused.map((p) => p.node)).toEqual([placement.data.blog.postgres!.node]);
      expect(refused[0].message).toContain('backups to the ssh target backup-1.internal run on NixOS nodes only');
    } finally {
      cleanup();
    }
  });

  it('preflight refuses a data node without the repository key file, naming the node and the path', async () => {
    const { config, placement } = await renderWith('  path: /var/backups/skyrec\n  key: BACKUP_KEY\n');
    const dataNode = placement.data.blog.postgres!.node;
    const { dir, cleanup } = makeTempDir('skyrec-backup-secrets-');
    try {
      const targets = nodes(config, placement);
      const problems = await preflightLocal(targets, { secretsDir: dir, exec });
      const key = problems.filter((p) => p.message.includes('_skyrec/BACKUP_KEY'));
      expect(key.map((p) => p.node)).toEqual([dataNode]);
      expect(key[0].message).toContain(join(dir, '_skyrec', 'BACKUP_KEY'));
    } finally {
      cleanup();
    }
  });
});

function nodes(config: Awaited<ReturnType<typeof renderWith>>['config'], placement: Awaited<ReturnType<typeof renderWith>>['placement']) {
  const rendered = renderFleet(config, placement, { revision: null });
  return config.fleet.nodes.map((node, i) => ({ node, rendered: rendered[i], revision: null, run: renderRunSpec(config, placement, node.name) }));
}
