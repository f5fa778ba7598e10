// backup.nix of blog's Redis data node in the fixture fleet with a backup target, rendered,
// parsed and evaluated by the REAL nix-instantiate with stand-ins for pkgs (pkgs.writeShellScript
// returns the script's text) and for the node's config: what the Redis tests on NixOS read.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { nixEvalJson, nixParse } from '../helpers/tools.js';
import { FIXTURE, makeRepo } from '../schema/repo.js';

const PKGS = `{ pgbackrest = "/nix/store/00000000000000000000000000000000-pgbackrest"; restic = "/nix/store/00000000000000000000000000000000-restic"; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/"; gnused = "/"; }`;
const CONFIG = '{ services.postgresql = { dataDir = "/var/lib/postgresql/17"; package = "/"; }; services.redis.package = "/nix/store/00000000000000000000000000000000-redis"; }';

export interface RedisBackupNix {
  node: string;
  files: Record<string, string>;
  /** The evaluated module, as JSON. */
  module: any;
}

/** `addons`: blog's addons block (default: postgres and redis); the file is written into `dir`. */
export async function renderRedisBackupNix(o: { dir: string; secretsDir: string; repoPath: string; addons?: string }): Promise<RedisBackupNix> {
  const fleet = readFileSync(join(FIXTURE, 'fleet.yaml'), 'utf8').replace('settings:\n', `settings:\n  secretsDir: ${o.secretsDir}\n`) + `backups:\n  path: ${o.repoPath}\n  key: BACKUP_KEY\n`;
  const blog = readFileSync(join(FIXTURE, 'apps', 'blog.yaml'), 'utf8').replace('addons:\n  postgres: {}\n', o.addons ?? 'addons:\n  postgres: {}\n  redis: {}\n');
  const { config, placement } = await compileFleet(worktreeSource(makeRepo({ 'fleet.yaml': fleet, 'apps/blog.yaml': blog })));
  const node = placement.data.blog.redis!.node;
  const files = renderFleet(config, placement, { revision: null }).find((n) => n.node === node)!.files;
  const file = join(o.dir, `${node}-backup.nix`);
  writeFileSync(file, files['backup.nix']);
  await nixParse([file]);
  return { node, files, module: await nixEvalJson(`import ${file} { config = ${CONFIG}; lib = { }; pkgs = ${PKGS}; }`) };
}
