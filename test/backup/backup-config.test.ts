// fleet.yaml `backups:` and `addons.<a>.backup`: what a user writes, what they read back.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { worktreeSource } from '../../schema/source.js';
import { checkRepo, formatProblem } from '../../schema/validate.js';
import { FIXTURE, makeRepo, problemsWith, removeRepos } from '../schema/repo.js';

/** A host key as /etc/ssh/ssh_host_ed25519_key.pub holds it, comment included. */
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@backup-1';

afterEach(removeRepos);

const fleet = readFileSync(path.join(FIXTURE, 'fleet.yaml'), 'utf8');
const blog = readFileSync(path.join(FIXTURE, 'apps/blog.yaml'), 'utf8');
const withBackups = (text: string) => ({ 'fleet.yaml': `${fleet}backups:\n${text}` });

describe('backups: target', () => {
  test('a path target gives every postgres addon point in time, a daily base backup and 7/4/6 retention', async () => {
    const { config, problems, warnings } = await checkRepo(worktreeSource(makeRepo(withBackups('  path: /var/backups/skyrec\n  key: BACKUP_KEY\n'))));
    expect(problems).toEqual([]);
    expect(warnings).toEqual([]);
    expect(config!.fleet.backups).toEqual({ kind: 'path', path: '/var/backups/skyrec', ssh: null, s3: null, key: 'BACKUP_KEY', verify: 'weekly' });
    expect(config!.apps.find((a) => a.name === 'blog')!.backup).toEqual({
      postgres: { schedule: 'daily', retain: { daily: 7, weekly: 4, monthly: 6 }, pointInTime: true, verify: 'weekly' },
      redis: null,
    });
  });

  test('per addon settings override the defaults', async () => {
    const app = blog.replace('  postgres: {}\n', '  postgres:\n    backup: { schedule: hourly, retain: { daily: 3, weekly: 0 }, pointInTime: false, verify: daily }\n  redis: { backup: { schedule: daily } }\n');
    const { config } = await checkRepo(worktreeSource(makeRepo({ ...withBackups('  path: /b\n  key: K\n'), 'apps/blog.yaml': app })));
    expect(config!.apps.find((a) => a.name === 'blog')!.backup).toEqual({
      postgres: { schedule: 'hourly', retain: { daily: 3, weekly: 0, monthly: 6 }, pointInTime: false, verify: 'daily' },
      redis: { schedule: 'daily', retain: { daily: 7, weekly: 4, monthly: 6 }, pointInTime: false, verify: 'off' },
    });
  });

  test('verify: off per addon, the fleet default (never) otherwise, and a bad value refused at its file:line:col', async () => {
    const off = blog.replace('  postgres: {}\n', '  postgres:\n    backup: { verify: off }\n');
    const a = await checkRepo(worktreeSource(makeRepo({ ...withBackups('  path: /b\n  key: K\n'), 'apps/blog.yaml': off })));
    expect(a.config!.apps.find((x) => x.name === 'blog')!.backup!.postgres!.verify).toBe('off');
    const never = await checkRepo(worktreeSource(makeRepo(withBackups('  path: /b\n  key: K\n  verify: never\n'))));
    expect(never.config!.apps.find((x) => x.name === 'blog')!.backup!.postgres!.verify).toBe('off');
    const bad = blog.replace('  postgres: {}\n', '  postgres:\n    backup: { verify: hourly }\n');
    const { problems } = await checkRepo(worktreeSource(makeRepo({ ...withBackups('  path: /b\n  key: K\n'), 'apps/blog.yaml': bad })));
    expect(problems.map(formatProblem)).toEqual([expect.stringMatching(/^apps\/blog\.yaml:\d+:\d+: .*verify.*(weekly|daily|off)/)]);
  });

  test('validate warns about an app with data and no target, at its addons: entry', async () => {
    const { problems, warnings } = await checkRepo(worktreeSource(makeRepo()));
    expect(problems).toEqual([]);
    expect(warnings!.map(formatProblem)).toEqual([
      'apps/blog.yaml:22:3: warning: blog keeps data (postgres) but fleet.yaml has no backups: target, so nothing backs it up; add one (see the README, Backups)',
    ]);
  });

  test('credentials written into an s3 endpoint are refused at their file:line:col', async () => {
    const s3 = '  key: K\n  s3:\n    endpoint: https://AKIAX:hunter2@minio.internal:9000\n    bucket: backups\n    region: eu-1\n    accessKeyId: S3_ID\n    secretAccessKey: S3_SECRET\n';
    expect(await problemsWith(withBackups(s3))).toEqual([
      'fleet.yaml:27:15: backups.s3.endpoint has credentials written into it; remove them and name the secret files instead (accessKeyId:, secretAccessKey:), which stay on the nodes',
    ]);
  });

  test('a target without its key secret, or with two kinds, is refused', async () => {
    expect(await problemsWith(withBackups('  path: /b\n'))).toEqual(["fleet.yaml:25:3: missing required field 'key' in backups"]);
    expect(await problemsWith(withBackups(`  key: K\n  path: /b\n  ssh: { host: backup-1, path: /srv/repo, hostKey: "${HOST_KEY}" }\n`))).toEqual([
      'fleet.yaml:27:3: backups: needs exactly one target, path:, ssh: or s3: (found path and ssh)',
    ]);
  });

  test('an ssh host with a password in it is refused by its pattern', async () => {
    const problems = await problemsWith(withBackups(`  key: K\n  ssh: { host: "pg:secret@backup-1", path: /srv/repo, hostKey: "${HOST_KEY}" }\n`));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^fleet\.yaml:26:16: backups\.ssh\.host 'pg:secret@backup-1' is not valid/);
  });

  test('an ssh target whose host key is the .pub file pasted as a block (its line end, CRLF too) is that key; the login key defaults to BACKUP_SSH_KEY', async () => {
    for (const eol of ['\n', '\r\n']) {
      const yaml = `  key: K\n  ssh:\n    host: backup-1\n    path: /srv/repo\n    hostKey: |\n      ${HOST_KEY}\n`.replace(/\n/g, eol);
      const { config, problems } = await checkRepo(worktreeSource(makeRepo(withBackups(yaml))));
      expect(problems.map(formatProblem)).toEqual([]);
      expect(config!.fleet.backups!.ssh).toEqual({ host: 'backup-1', user: 'pgbackrest', hostKey: HOST_KEY, privateKey: 'BACKUP_SSH_KEY' });
    }
  });

  test("an ssh target without the host's key, or with a key that is not one, is refused at file:line:col", async () => {
    expect(await problemsWith(withBackups('  key: K\n  ssh: { host: backup-1, path: /srv/repo }\n'))).toEqual(["fleet.yaml:26:8: missing required field 'hostKey' in backups.ssh"]);
    // A fingerprint (what ssh prints when it first connects) is not the key.
    const problems = await problemsWith(withBackups('  key: K\n  ssh:\n    host: backup-1\n    path: /srv/repo\n    hostKey: SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^fleet\.yaml:29:14: backups\.ssh\.hostKey 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8' is not valid/);
  });

  test('bad retention and schedule are refused at file:line:col; nothing is normalized', async () => {
    const app = blog.replace('  postgres: {}\n', '  postgres:\n    backup: { schedule: "every minute", retain: { daily: 0, monthly: -1 } }\n');
    const { config, problems } = await checkRepo(worktreeSource(makeRepo({ ...withBackups('  path: /b\n  key: K\n'), 'apps/blog.yaml': app })));
    expect(config).toBeNull();
    const text = problems.map(formatProblem);
    expect(text).toHaveLength(3);
    expect(text[0]).toMatch(/^apps\/blog\.yaml:23:25: .*hourly.*daily.*weekly/);
    expect(text[1]).toBe('apps/blog.yaml:23:58: addons.postgres.backup.retain.daily must be at least 1, got 0');
    expect(text[2]).toMatch(/^apps\/blog\.yaml:23:70: addons\.postgres\.backup\.retain\.monthly must be at least 0/);
  });
});
