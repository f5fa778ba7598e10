// `skyrec data forget APP --node X`: the copy of an app's database a data move left on its old
// node goes away, and never the live one. On the local driver: the app's databases are dropped
// from X's cluster when X still serves other apps' data; else X's whole PostgreSQL directory
// (the cluster, its archive settings and key copy) is removed. The backups stay in the target:
// the app's history before the move can still be restored from there.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AppliedNode } from '../apply/rollout-model.js';
import { UsageError } from '../../common/errors.js';
import { nodeLayout } from '../../fleet/drivers/local/local-layout.js';
import { asPostgresArgv, pgTool, postgresPort, stopPostgres } from '../../fleet/drivers/local/local-addons.js';
import { clusterAnswers, type MoveIo } from '../../fleet/drivers/local/local-data-move.js';
import { readMoveJournals } from './move-journal.js';

export interface ForgetResult {
  app: string;
  node: string;
  /** What went: 'database shop', 'database shop_before_restore', 'directory <path>'. */
  removed: string[];
}

export async function forgetData(app: string, node: string, all: AppliedNode[], io: MoveIo): Promise<ForgetResult> {
  const live = all.find((a) => a.run.postgres.some((p) => p.app === app));
  if (live?.node.name === node) {
    throw new UsageError(`${node} holds ${app}'s live database: nothing was removed`, { hint: `skyrec data forget removes the copy a data move left behind; ${app}'s data is on ${node} now` });
  }
  const moving = readMoveJournals(io.stateDir).find((j) => j.app === app);
  if (moving) {
    throw new UsageError(`${app}'s data is moving from ${moving.from} to ${moving.to} (an apply did not finish it): nothing was removed`, { hint: 'run skyrec apply again to finish the move, then forget the old copy' });
  }
  const layout = nodeLayout(io.stateDir, node);
  const removed: string[] = [];
  const othersHere = all.find((a) => a.node.name === node)?.run.postgres.filter((p) => p.app !== app) ?? [];
  if (othersHere.length > 0) {
    if (!(await clusterAnswers(io.stateDir, node, io))) throw new UsageError(`${node}'s PostgreSQL does not answer and holds other apps' data: nothing was removed`, { hint: `start it (skyrec apply), then forget ${app}'s copy` });
    const argv = asPostgresArgv(layout, [pgTool('psql'), '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-v', `app=${app}`, '-v', `kept=${app}_before_restore`, '-h', layout.pgRun, '-p', String(postgresPort(layout)), '-U', 'postgres', '-d', 'postgres']);
    const mine = "FROM pg_database WHERE datname IN (:'app', :'kept')";
    const before = (await io.exec(argv, { input: `SELECT datname ${mine} ORDER BY 1;\n`, cwd: layout.pgDir, log: io.log })).stdout.split('\n').filter(Boolean);
    await io.exec(argv, { input: `SELECT format('DROP DATABASE %I WITH (FORCE)', datname) ${mine}\\gexec\n`, cwd: layout.pgDir, log: io.log });
    removed.push(...before.map((db) => `database ${db}`));
  } else if (existsSync(layout.pgDir)) {
    await stopPostgres(layout, io.exec, io.log);
    rmSync(layout.pgDir, { recursive: true, force: true });
    removed.push(`directory ${layout.pgDir}`);
  }
  // The old node's stanza as a move saw it, beside the new node's cluster.
  const seen = live ? join(nodeLayout(io.stateDir, live.node.name).pgDir, `from-${node}`) : null;
  if (seen && existsSync(seen)) {
    rmSync(seen, { recursive: true, force: true });
    removed.push(`directory ${seen}`);
  }
  io.log.info({ app, node, removed }, 'data forgotten');
  return { app, node, removed };
}
