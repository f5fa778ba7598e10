// Data moves and `data forget` go through the node driver: the nixos driver, which has no
// data-move methods yet, is refused by name (exit 2) before anything is touched; the local driver
// has every method a move needs. No fleet is deployed here.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { runCli } from '../helpers/cli.js';
import { appliedNode, writeApplied } from '../helpers/applied-fixture.js';
import { makeTempDir } from '../helpers/tools.js';
import { createLocalDriver } from '../../fleet/drivers/local/driver-local.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { startDataMoves } from '../../reconciler/backup/move-data.js';
import { exec } from '../../common/exec.js';
import { UsageError } from '../../common/errors.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
const log = pino({ level: 'silent' });
const METHODS = ['dataAnswers', 'dataBackedUp', 'prepareDataMove', 'closeData', 'restoreData', 'reopenData', 'forgetData'] as const;

describe('data moves through the node driver', () => {
  it('data forget with the nixos driver: refused, exit 2, naming the driver; the old copy is left alone', async () => {
    const tmp = makeTempDir('skyrec-forget-nixos-');
    dirs.push(tmp);
    const live = appliedNode('db-2', 1);
    live.run.postgres = [{ app: 'bench', password: false }];
    writeApplied(tmp.dir, [live, appliedNode('db-1', 1)]);
    const copy = join(tmp.dir, 'local', 'db-1', 'postgres', 'data');
    mkdirSync(copy, { recursive: true });
    writeFileSync(join(copy, 'PG_VERSION'), '15\n');
    const r = await runCli(['data', 'forget', 'bench', '--node', 'db-1', '--driver', 'nixos', '--state', tmp.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('skyrec data forget is not available with the nixos driver yet');
    expect(existsSync(join(copy, 'PG_VERSION'))).toBe(true);
    const bad = await runCli(['data', 'forget', 'bench', '--node', 'db-1', '--addon', 'mysql', '--state', tmp.dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--addon mysql: expected postgres or redis');
  });

  it('a move with the nixos driver is refused by name before the app pauses; the local driver has every data-move method', async () => {
    const tmp = makeTempDir('skyrec-move-nixos-');
    dirs.push(tmp);
    const nixos = createNixosDriver({ flakeDir: join(tmp.dir, 'flake'), exec, log, sshControlDir: join(tmp.dir, 'ssh') });
    const move = { app: 'bench', addon: 'redis' as const, from: 'db-1', to: 'db-2', restore: true };
    const err = await startDataMoves([move], { driver: nixos, targets: [], applied: [], target: { kind: 'path', path: tmp.dir, key: 'K', verify: 'weekly', ssh: null, s3: null } as never, stateDir: tmp.dir, log }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe('moving data with its node is not available with the nixos driver yet');
    expect(existsSync(join(tmp.dir, 'data-moves'))).toBe(false);
    const local = createLocalDriver({ stateDir: tmp.dir, secretsDir: null, httpPort: 0, exec, log });
    for (const m of METHODS) expect(typeof local[m], m).toBe('function');
  });
});
