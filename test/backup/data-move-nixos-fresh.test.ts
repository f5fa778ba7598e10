// A PostgreSQL data move with the nixos driver onto a node that runs no PostgreSQL yet (a new
// database node joins): the node is first switched to its generation without blog's instances,
// the data is restored into the PostgreSQL that generation started, then the node switches to its
// full generation. Real: OpenSSH on 127.0.0.1, PostgreSQL, pgBackRest. Stand-ins (a STAND-IN
// nixos-rebuild switch, nix-env, switch-to-configuration, systemd-run, systemctl): see
// test/helpers/nixos-fresh-move.ts.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/data-move-nixos-fresh.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readlinkSync } from 'node:fs';
import { readMoveJournals } from '../../reconciler/backup/move-journal.js';
import { FRESH, startFreshMove, type FreshMove } from '../helpers/nixos-fresh-move.js';

let s: FreshMove;

beforeAll(async () => {
  s = await startFreshMove('posts');
  await s.old.sql('blog', 'CREATE TABLE posts (id serial PRIMARY KEY, body text NOT NULL); ALTER TABLE posts OWNER TO blog;');
}, 180_000);

afterAll(async () => {
  await s?.destroy();
});

describe('nixos driver: a PostgreSQL data move onto a node with no PostgreSQL yet (real sshd, PostgreSQL, pgBackRest; stand-in nixos-rebuild, nix-env, switch-to-configuration, systemd-run, systemctl)', { timeout: 300_000 }, () => {
  it('the intermediate switch fails: the node is rolled back, blog never paused and keeps serving from its old node, nothing journalled', async () => {
    await s.old.sql('blog', "INSERT INTO posts (body) SELECT 'before' FROM generate_series(1, 40);");
    s.failNextSwitch();
    const err = (await s.move().catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`${FRESH}'s intermediate generation (its new one without blog's instances`);
    expect(err.message).toContain('failed and was rolled back');
    expect(readlinkSync(s.profile)).toBe('system-1-link');
    expect(s.recorded()).toEqual(['activated gen-1']);
    expect(s.old.recorded().some((c) => c.includes('[stop]') && c.includes('blog-web-1'))).toBe(false);
    expect(s.stopped()).toBe(false);
    expect(readMoveJournals(s.state)).toEqual([]);
    expect(Number(await s.old.sql('blog', 'SELECT count(*) FROM posts;'))).toBe(40);
  });

  it('the node first runs its generation without blog\'s instances; every row arrives; the only generation with blog\'s instance starts on all of them', async () => {
    s.forgetRecorded();
    // Written after the old node's first base backup (the move takes it) and never archived by the test: only the final WAL carries them.
    await s.old.sql('blog', "INSERT INTO posts (body) SELECT 'last' FROM generate_series(1, 25);");
    expect(s.freshRuns()).toBe(false);
    const session = await s.move();
    // Journalled before that switch: an apply killed during it moves the data the next time.
    expect(s.journalsAtStage()).toEqual([expect.objectContaining({ app: 'blog', addon: 'postgres', from: s.old.name, to: FRESH, phase: 'staging' })]);
    expect(s.stopped()).toBe(true); // paused until the rollout is done
    // The apply's rollout: the node switches to its full generation.
    await s.writeFiles(s.freshTarget(false));
    await session.driver.switchNode(s.freshTarget(false), {} as never);
    const [report] = await session.finish({ outcome: 'succeeded' } as never);
    expect(report).toMatchObject({ app: 'blog', from: s.old.name, to: FRESH, final: 'wal', baseBackup: true, rows: { 'public.posts': 65 } });
    // (Generation 2, the first attempt, was rolled back before it recorded anything.) The intermediate
    // generation started PostgreSQL with the empty database ensureDatabases makes, and no instance of blog.
    const gens = s.recorded().filter((l) => l.startsWith('generation'));
    expect(gens).toEqual([expect.stringMatching(/^generation \d+: blog instances 0, blog's rows none$/), expect.stringMatching(/^generation \d+: blog instances 1, blog's rows 65$/)]);
    expect(await s.sqlFresh('blog', 'SELECT body, count(*) FROM posts GROUP BY body ORDER BY body;')).toBe('before|40\nlast|25');
    // The empty database the intermediate generation created is kept, as any replaced one.
    expect(await s.sqlFresh('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'blog_before_restore';")).toBe('1');
    expect(await s.sqlFresh('postgres', "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'blog';")).toBe('blog');
    expect(s.stopped()).toBe(false);
    expect(readMoveJournals(s.state)).toEqual([]);
    expect(s.old.recorded().find((c) => c.includes('[restore]'))).toContain(`[--stanza=${s.old.name}]`);
  });
});
