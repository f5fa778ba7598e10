// The nixos driver's data-move methods (NodeDriver.dataAnswers, dataBackedUp, prepareDataMove,
// closeData, restoreData, reopenData, forgetData), over ssh on the old and the new data node:
// PostgreSQL and pgBackRest (nixos-data-move.ts), `data forget` (nixos-data-forget.ts).
import { SkyrecError } from '../../../common/errors.js';
import type { DataMoveMethods } from '../local/local-data-move-driver.js';
import { nixosPostgresMoveMethods, type NixosMoveOptions } from './nixos-data-move.js';
import { forgetNixosData } from './nixos-data-forget.js';

export function nixosDataMoveMethods(o: NixosMoveOptions): DataMoveMethods {
  const pg = nixosPostgresMoveMethods(o);
  const refuseRedis = () => new SkyrecError('moving Redis data with its node is not available with the nixos driver yet');
  return {
    dataAnswers: async (node, req) => (req.addon === 'redis' ? false : pg.dataAnswers(node, req)),

    dataBackedUp: async (req) => (req.addon === 'redis' ? false : pg.dataBackedUp(req)),

    async prepareDataMove(req, living) {
      if (req.addon === 'redis') throw refuseRedis();
      return pg.prepareDataMove(req, living);
    },

    async closeData(req) {
      if (req.addon === 'redis') throw refuseRedis();
      return pg.closeData(req);
    },

    async restoreData(req) {
      if (req.addon === 'redis') throw refuseRedis();
      return { final: 'gone', rows: await pg.restoreData(req) };
    },

    // The old node's cluster never stopped: it serves again as soon as the app's instances do.
    reopenData: async () => undefined,

    forgetData: (node, req) => forgetNixosData(node, req, { ...o, liveSql: pg.liveSql }),
  };
}
