// What skyrec tells the outside world about its runs: one event, the body of a generic webhook
// (schema skyrec.notification/v1, documented in the README) and the source of every chat message
// and commit status. Versioned: fields are only added within v1; a change of meaning is a v2.
import { randomUUID } from 'node:crypto';
import type { NotificationEvent } from '../../schema/spec-types.js';

export const EVENT_SCHEMA = 'skyrec.notification/v1';

/** The events of fleet.yaml's notifications, and `test` for `skyrec notify test`. */
export type EventName = NotificationEvent | 'test';

export interface NotifyEvent {
  schema: typeof EVENT_SCHEMA;
  /** Unique per event; the same on every retry (receivers can drop duplicates by it). */
  id: string;
  event: EventName;
  at: string;
  /** The config repo's commit this is about (null: not known, e.g. a failed fetch). */
  revision: string | null;
  branch: string | null;
  /** The reconcile run, and its link on the status page when settings.statusUrl is set. */
  run: { id: number; url: string | null } | null;
  /** The nodes concerned: those switched or to switch, those that failed, drifted or healed. */
  nodes: string[];
  /** The apps whose config changed (null: not known, e.g. the first deploy: every app). */
  apps: string[] | null;
  /** Nodes whose rollout failed, and why (deploy.failed). */
  failures: { node: string; detail: string }[];
  /** One line for people: what happened. */
  summary: string;
  /** More text (the invalid specs' problems, the failure), or null. */
  detail: string | null;
}

export type EventInput = Omit<NotifyEvent, 'schema' | 'id' | 'at' | 'run' | 'apps' | 'failures' | 'detail' | 'branch'> &
  Partial<Pick<NotifyEvent, 'apps' | 'failures' | 'detail' | 'branch'>> & { runId: number | null };

/** An event with its id and time; the run link is made from the status page's base URL. */
export function makeEvent(input: EventInput, statusUrl: string | null, now = new Date()): NotifyEvent {
  const { runId, ...rest } = input;
  return {
    schema: EVENT_SCHEMA,
    id: randomUUID(),
    at: now.toISOString(),
    branch: null,
    apps: null,
    failures: [],
    detail: null,
    ...rest,
    run: runId === null ? null : { id: runId, url: runUrl(statusUrl, runId) },
  };
}

/** The run's row on the status page (its rows carry id="run-<id>"). */
export function runUrl(statusUrl: string | null, runId: number): string | null {
  return statusUrl ? `${statusUrl.replace(/\/+$/, '')}/#run-${runId}` : null;
}

export const shortRev = (rev: string | null): string => (rev ? rev.slice(0, 12) : 'no revision');
