// The reconciler's view of the fleet, as /api/status, the status page and `skyrec status` show
// it. What only the running loop knows (the followed branch, the last fetch, the job in
// progress) is also written to <state>/reconciler.json, so that `skyrec status` run beside the
// loop on the same state directory shows it too.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StateStore } from '../state/state-store.js';
import type { DaemonStatus, HeadTrust } from './status-model.js';
import { describeVerdict } from '../trust/trust-verdict.js';
import { fleetApps } from './fleet-apps.js';
import { readNotifyStatus } from '../notify/notify-status.js';
import { readBackupRecords, viewBackup } from '../backup/backup-record.js';
import { isProcessAlive } from '../../common/proc.js';

/** What the running loop knows beyond the state store. */
export interface LoopView {
  repo: string;
  branch: string;
  pid: number;
  startedAt: string;
  fetched: DaemonStatus['fetched'];
  running: DaemonStatus['running'];
  queued: boolean;
  lastDriftCheck: string | null;
  trust?: HeadTrust;
}

const viewFile = (stateDir: string) => join(stateDir, 'reconciler.json');

export function writeLoopView(stateDir: string, view: LoopView): void {
  const tmp = `${viewFile(stateDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(view, null, 2) + '\n');
  renameSync(tmp, viewFile(stateDir));
}

/** The view the loop last wrote, with whether that loop still runs; null when no loop ever ran here. */
export function readLoopView(stateDir: string): (LoopView & { alive: boolean }) | null {
  let view: LoopView;
  try {
    view = JSON.parse(readFileSync(viewFile(stateDir), 'utf8')) as LoopView;
  } catch {
    return null;
  }
  return { ...view, alive: isProcessAlive(view.pid) };
}

export function readStatus(store: StateStore, stateDir: string, view: LoopView, fault: DaemonStatus['fault'] = null): DaemonStatus {
  return {
    fault,
    repo: view.repo,
    branch: view.branch,
    fetched: view.fetched,
    applied: store.reconciler.lastSuccess(),
    running: view.running,
    queued: view.queued,
    quarantined: store.quarantined(),
    drift: store.reconciler.drift(),
    lastDriftCheck: view.lastDriftCheck,
    nodes: store.listNodes(),
    apps: fleetApps(stateDir),
    runs: store.reconciler.runs(20).map((r) => ({ ...r, planUrl: r.hasPlan ? `/runs/${r.id}/plan` : null })),
    trust: view.trust ?? { required: false, head: null },
    notifications: readNotifyStatus(store.notifications),
    backups: readBackupRecords(stateDir).map((r) => viewBackup(r)),
  };
}

/**
 * The running loop's status: read from the store, or, when the store cannot be read, the last
 * status read (or what the loop alone knows) with a fault that says why; never a throw, so that
 * the page, the API and /healthz keep answering.
 */
export function statusReader(store: StateStore, stateDir: string, view: () => LoopView, fault: () => DaemonStatus['fault']): () => DaemonStatus {
  let lastGood: DaemonStatus | null = null;
  return () => {
    try {
      lastGood = readStatus(store, stateDir, view(), fault());
      return lastGood;
    } catch (err) {
      const v = view();
      const base: DaemonStatus = lastGood ?? { fault: null, repo: v.repo, branch: v.branch, fetched: v.fetched, applied: null, running: v.running, queued: v.queued, quarantined: [], drift: [], lastDriftCheck: v.lastDriftCheck, nodes: [], apps: [], runs: [], trust: v.trust };
      return { ...base, fetched: v.fetched, running: v.running, queued: v.queued, fault: fault() ?? { message: `the state store cannot be read: ${(err as Error).message}`, at: new Date().toISOString() } };
    }
  };
}

/** `skyrec status`'s reconciler lines: what the loop follows, where it is, and what needs a person. */
export function describeLoop(status: DaemonStatus, view: LoopView & { alive: boolean }): string[] {
  const short = (rev: string | null | undefined) => (rev ? rev.slice(0, 12) : '-');
  const lines = [
    `reconciler ${view.alive ? `running (pid ${view.pid})` : `not running (pid ${view.pid} was started ${view.startedAt})`}: ${view.repo} branch ${view.branch}`,
    `  fetched  ${short(status.fetched?.revision)}${status.fetched ? ` at ${status.fetched.at}` : ''}`,
    `  applied  ${short(status.applied?.revision)}${status.applied ? ` (last seen ${status.applied.at})` : ''}`,
  ];
  if (view.alive && status.running) lines.push(`  busy since ${status.running.since}${status.queued ? ', another cycle queued' : ''}`);
  const trust = status.trust;
  if (trust?.required) lines.push(`  signed   required${trust.head ? `; head ${short(trust.head.commit)} ${describeVerdict(trust.head)}${trust.head.trusted ? '' : ', not applied'}` : ''}`);
  for (const q of status.quarantined) lines.push(`  quarantined ${short(q.revision)} since ${q.at}: ${q.reason} (skyrec retry ${short(q.revision)})`);
  if (status.drift.length === 0) lines.push(`  drift    none${status.lastDriftCheck ? ` at the last check, ${status.lastDriftCheck}` : ' found yet'}`);
  for (const d of status.drift) lines.push(`  drift    ${d.node}: ${d.detail} (found ${d.detectedAt})`);
  return lines;
}
