// The local driver's data-move methods (NodeDriver.dataAnswers, dataBackedUp, prepareDataMove,
// closeData, restoreData, reopenData, forgetData): PostgreSQL and pgBackRest
// (local-data-move.ts), Redis and restic (local-redis-move.ts), on this machine.
import type { NodeDriver } from '../../node/driver.js';
import type { DataMoveRequest } from '../../node/data-move.js';
import { archiveFinal, clusterAnswers, ensureBaseBackup, prepareDestination, restoreOnto, stanzaHasBackup, type MoveIo } from './local-data-move.js';
import { closeRedis, redisAnswers, redisSnapshotStored, reopenRedis, restoreRedisOnto } from './local-redis-move.js';
import { forgetLocalData } from './local-data-forget.js';

export type DataMoveMethods = Required<Pick<NodeDriver, 'dataAnswers' | 'dataBackedUp' | 'prepareDataMove' | 'closeData' | 'restoreData' | 'reopenData' | 'forgetData'>>;

/** The app's backup settings as its new node renders them: the old node's stanza had the same. */
const pgBackups = (req: DataMoveRequest) => req.dest.backup?.postgres.filter((p) => p.app === req.app) ?? [];

export function localDataMoveMethods(io: MoveIo): DataMoveMethods {
  return {
    dataAnswers: async (node, req) => (req.addon === 'redis' ? redisAnswers(node, req.app, io) : clusterAnswers(io.stateDir, node, io)),

    dataBackedUp: (req) => (req.addon === 'redis' ? redisSnapshotStored(req, io) : stanzaHasBackup(req.from, req.to, req.target, pgBackups(req), io)),

    async prepareDataMove(req, living) {
      if (req.addon === 'redis') return { baseBackup: false };
      await prepareDestination(req.app, req.to, { postgres: req.dest.postgres, backup: req.dest.backup }, io);
      return { baseBackup: living ? await ensureBaseBackup(req.from, io) : false };
    },

    async closeData(req) {
      if (req.addon === 'redis') return closeRedis(req, io);
      await archiveFinal(req.from, io);
      return null;
    },

    async restoreData(req, snapshot) {
      if (req.addon === 'redis') {
        const { rows, restored } = await restoreRedisOnto(req, snapshot, io);
        return { final: snapshot !== null ? 'snapshot' : restored ? 'gone' : 'empty', rows };
      }
      return { final: 'gone', rows: await restoreOnto(req.app, req.from, req.to, req.target, pgBackups(req), req.dest.postgres, io) };
    },

    reopenData: async (req) => (req.addon === 'redis' ? reopenRedis(req, io) : undefined),

    forgetData: (node, req) => forgetLocalData(node, req, io),
  };
}
