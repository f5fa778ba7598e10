// Data moves and `data forget` go through the node driver: the local and the nixos driver have
// every method a move needs. No fleet is deployed here.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tools.js';
import { createLocalDriver } from '../../fleet/drivers/local/driver-local.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { exec } from '../../common/exec.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
const log = pino({ level: 'silent' });
const METHODS = ['dataAnswers', 'dataBackedUp', 'prepareDataMove', 'closeData', 'restoreData', 'reopenData', 'forgetData'] as const;

describe('data moves through the node driver', () => {
  it('data forget: a bad --addon is refused (exit 2) before any driver is reached', async () => {
    const tmp = makeTempDir('skyrec-forget-addon-');
    dirs.push(tmp);
    const bad = await runCli(['data', 'forget', 'bench', '--node', 'db-1', '--addon', 'mysql', '--state', tmp.dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--addon mysql: expected postgres or redis');
  });

  it('both drivers have every data-move method (the nixos driver runs them over ssh: test/backup/data-move-nixos.test.ts)', () => {
    const tmp = makeTempDir('skyrec-move-methods-');
    dirs.push(tmp);
    const nixos = createNixosDriver({ flakeDir: join(tmp.dir, 'flake'), exec, log, sshControlDir: join(tmp.dir, 'ssh') });
    const local = createLocalDriver({ stateDir: tmp.dir, secretsDir: null, httpPort: 0, exec, log });
    for (const m of METHODS) {
      expect(typeof local[m], m).toBe('function');
      expect(typeof nixos[m], m).toBe('function');
    }
  });
});
