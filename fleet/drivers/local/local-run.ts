// `skyrec run` on the local driver: a one-off command with exactly what the app's instances get
// (unitEnv: the spec's env, HOST, DATABASE_URL and REDIS_URL, the secrets read from their files;
// unitCwd: the source folder in the current generation), attached to the user's terminal or pipes.
// PORT is left out: the instance it belongs to is listening on it.
import { execAttached } from '../../../common/exec.js';
import type { AttachedIo, RunRequest } from '../../node/operate.js';
import { unitCwd, unitEnv, type UnitContext } from './local-units.js';

export function runLocalCommand(ctx: UnitContext, req: RunRequest, io: AttachedIo): Promise<number> {
  const env = unitEnv(ctx, req.process);
  delete env.PORT;
  return execAttached(req.argv, { cwd: unitCwd(ctx, req.process), env, log: ctx.log, ...io });
}
