// `skyrec data forget` on a local node: the app's PostgreSQL copy a data move left there (its
// databases dropped when the node's cluster serves other apps' data, else the node's whole
// PostgreSQL directory removed), its Redis copy, and the old stanza's view under the live node.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ForgetRequest } from '../../node/data-move.js';
import { UsageError } from '../../../common/errors.js';
import { nodeLayout } from './local-layout.js';
import { asPostgresArgv, pgTool, postgresPort, stopPostgres } from './local-addons.js';
import { clusterAnswers, type MoveIo } from './local-data-move.js';
import { forgetRedis } from './local-redis-move.js';

async function forgetPostgres(node: string, req: ForgetRequest, io: MoveIo): Promise<string[]> {
  const { app } = req;
  const layout = nodeLayout(io.stateDir, node);
  const removed: string[] = [];
  if (req.othersPostgres) {
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
  const seen = req.livePostgres ? join(nodeLayout(io.stateDir, req.livePostgres).pgDir, `from-${node}`) : null;
  if (seen && existsSync(seen)) {
    rmSync(seen, { recursive: true, force: true });
    removed.push(`directory ${seen}`);
  }
  return removed;
}

export async function forgetLocalData(node: string, req: ForgetRequest, io: MoveIo): Promise<string[]> {
  const removed = req.addons.includes('postgres') ? await forgetPostgres(node, req, io) : [];
  if (req.addons.includes('redis')) removed.push(...(await forgetRedis(node, req.app, io)));
  return removed;
}
