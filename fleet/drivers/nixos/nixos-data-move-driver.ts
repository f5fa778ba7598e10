// The nixos driver's data-move methods (NodeDriver.dataAnswers, dataBackedUp, prepareDataMove,
// closeData, restoreData, reopenData, forgetData), over ssh on the old and the new data node:
// PostgreSQL and pgBackRest (nixos-data-move.ts), Redis and restic (nixos-data-move-redis.ts),
// `data forget` (nixos-data-forget.ts).
import type { DataMoveMethods } from '../local/local-data-move-driver.js';
import { nixosPostgresMoveMethods, type NixosMoveOptions } from './nixos-data-move.js';
import { nixosRedisMoveMethods } from './nixos-data-move-redis.js';
import { forgetNixosData } from './nixos-data-forget.js';

export function nixosDataMoveMethods(o: NixosMoveOptions): DataMoveMethods {
  const pg = nixosPostgresMoveMethods(o);
  const redis = nixosRedisMoveMethods(o);
  return {
    dataAnswers: (node, req) => (req.addon === 'redis' ? redis.dataAnswers(node, req) : pg.dataAnswers(node, req)),

    dataBackedUp: (req) => (req.addon === 'redis' ? redis.dataBackedUp(req) : pg.dataBackedUp(req)),

    prepareDataMove: (req, living) => (req.addon === 'redis' ? redis.prepareDataMove(req) : pg.prepareDataMove(req, living)),

    closeData: (req) => (req.addon === 'redis' ? redis.closeData(req) : pg.closeData(req)),

    async restoreData(req, snapshot) {
      if (req.addon === 'redis') return redis.restoreData(req, snapshot);
      return { final: 'gone', rows: await pg.restoreData(req) };
    },

    // PostgreSQL: the old node's cluster never stopped; it serves again as soon as the app's instances do.
    reopenData: async (req) => (req.addon === 'redis' ? redis.reopenData(req) : undefined),

    forgetData: (node, req) => forgetNixosData(node, req, { ...o, liveSql: pg.liveSql }),
  };
}
