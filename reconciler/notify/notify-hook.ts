// The notifier as the reconciler's loop uses it: one per process, delivering in the background
// from the state store's queue, and the hook the cycles and drift checks emit through.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import type { Logger } from '../../common/log.js';
import type { StateStore } from '../state/state-store.js';
import { Notifier, type Backoff } from './notifier.js';
import { createConfigReader } from './notify-config.js';
import type { NotifyHook } from './cycle-events.js';

export interface NotifySettings {
  /** Where the targets' secrets are: <secretsDir>/<name> (--notify-secrets-dir). */
  secretsDir: string;
  timeoutMs?: number;
  backoff?: Backoff;
}

export function userAgent(): string {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return `skyrec/${version}`;
}

export function createNotifier(store: StateStore, settings: NotifySettings, log: Logger): Notifier {
  return new Notifier({ records: store.notifications, secretsDir: settings.secretsDir, timeoutMs: settings.timeoutMs, backoff: settings.backoff, log: log.child({ part: 'notify' }), userAgent: userAgent() });
}

export function notifyHook(notifier: Notifier, branch: string, log: Logger): NotifyHook {
  return { branch, log, config: createConfigReader(), emit: (event, targets) => void notifier.emit(event, targets) };
}
