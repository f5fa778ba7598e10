// The configured targets (fleet.yaml's notifications) as plain data the queue stores, which
// events each one takes, and the HTTP request each kind makes of an event: pure functions, so the
// bodies are tested as data. Secret values are passed in at send time and never stored here.
import { createHmac } from 'node:crypto';
import type { FleetSpec, NotificationSpec } from '../../schema/spec-types.js';
import { STATUS_EVENTS, type NotifyKind } from '../../schema/notify-rules.js';
import { shortRev, type EventName, type NotifyEvent } from './notify-event.js';

/** A target as stored with each queued event: names of secrets, never their values. */
export type NotifyTarget = NotificationSpec & { kind: NotifyKind };

export interface HttpRequestSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The secrets a target needs, by name. */
export function secretNames(t: NotifyTarget): string[] {
  return [t.webhook?.secret, t.slack?.urlSecret, t.github?.tokenSecret, t.gitlab?.tokenSecret].filter((s): s is string => s !== undefined);
}

export function targetsOf(fleet: Pick<FleetSpec, 'notifications'>): NotifyTarget[] {
  return (fleet.notifications ?? []).map((t) => ({ ...t, kind: t.webhook ? 'webhook' : t.slack ? 'slack' : t.github ? 'github' : 'gitlab' }));
}

/** Whether the target wants the event: its event list (or its kind's default), then its app and node filters. */
export function wants(t: NotifyTarget, e: NotifyEvent): boolean {
  if (e.event === 'test') return true;
  const isStatus = t.kind === 'github' || t.kind === 'gitlab';
  const events: readonly EventName[] = t.events ?? (isStatus ? STATUS_EVENTS : []);
  if (events.length > 0 && !events.includes(e.event)) return false;
  if (isStatus && e.revision === null) return false;
  // An event whose apps are unknown (a first deploy) concerns every app; nodes likewise.
  if (t.apps && e.apps !== null && !e.apps.some((a) => t.apps!.includes(a))) return false;
  if (t.nodes && e.nodes.length > 0 && !e.nodes.some((n) => t.nodes!.includes(n))) return false;
  return true;
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes, as X-Skyrec-Signature-256 carries it. */
export function signPayload(secret: Buffer, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

type StatusState = 'pending' | 'success' | 'failure' | 'error';
const STATE: Partial<Record<EventName, StatusState>> = { 'deploy.started': 'pending', 'deploy.applied': 'success', 'deploy.failed': 'failure', 'revision.invalid': 'failure', 'deploy.error': 'error', test: 'success' };

/** GitHub allows 140 characters of description. */
const oneLine = (text: string) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 140 ? `${line.slice(0, 139)}…` : line;
};

/** The request for one event; `secret` is the value of the target's secret (null: it has none). */
export function buildRequest(t: NotifyTarget, e: NotifyEvent, secret: Buffer | null, userAgent: string): HttpRequestSpec {
  const json = { 'content-type': 'application/json', 'user-agent': userAgent };
  if (t.webhook) {
    const body = JSON.stringify(e);
    const signature: Record<string, string> = secret ? { 'x-skyrec-signature-256': signPayload(secret, body) } : {};
    return { url: t.webhook.url, headers: { ...json, 'x-skyrec-event': e.event, 'x-skyrec-delivery': e.id, ...signature }, body };
  }
  if (t.slack) return { url: secret!.toString('utf8').trim(), headers: json, body: JSON.stringify({ text: slackText(e), ...(t.slack.channel ? { channel: t.slack.channel } : {}) }) };
  const state = STATE[e.event] ?? 'pending';
  const description = oneLine(e.summary);
  // A test status goes beside the deploy status (context <context>/test), never over it.
  const context = (c: string | undefined) => `${c ?? 'skyrec'}${e.event === 'test' ? '/test' : ''}`;
  const token = secret!.toString('utf8');
  if (t.github) {
    const base = (t.github.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    return {
      url: `${base}/repos/${t.github.repo}/statuses/${e.revision}`,
      headers: { ...json, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', authorization: `Bearer ${token}` },
      body: JSON.stringify({ state, description, context: context(t.github.context), ...(e.run?.url ? { target_url: e.run.url } : {}) }),
    };
  }
  const g = t.gitlab!;
  const base = (g.apiUrl ?? 'https://gitlab.com/api/v4').replace(/\/+$/, '');
  return {
    url: `${base}/projects/${encodeURIComponent(g.project)}/statuses/${e.revision}`,
    headers: { ...json, 'private-token': token },
    body: JSON.stringify({ state: state === 'failure' || state === 'error' ? 'failed' : state, description, name: context(g.context), ...(e.run?.url ? { target_url: e.run.url } : {}) }),
  };
}

const ICON: Partial<Record<EventName, string>> = {
  'deploy.started': ':rocket:', 'deploy.applied': ':white_check_mark:', 'deploy.failed': ':x:', 'deploy.rolled-back': ':rewind:', 'deploy.error': ':warning:',
  'revision.quarantined': ':no_entry:', 'revision.invalid': ':no_entry_sign:', 'drift.found': ':warning:', 'drift.healed': ':adhesive_bandage:', test: ':wave:',
};
/** Slack's mrkdwn needs &, < and > escaped; links are <url|text>. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One readable message: what happened, the revision, the nodes, what failed, the run's link. */
export function slackText(e: NotifyEvent): string {
  const lines = [`${ICON[e.event] ?? ''} *${esc(e.summary)}*`.trim()];
  const facts = [`revision \`${shortRev(e.revision)}\`${e.branch ? ` on ${esc(e.branch)}` : ''}`, ...(e.nodes.length > 0 ? [`nodes: ${esc(e.nodes.join(', '))}`] : [])];
  lines.push(facts.join(' · '));
  for (const f of e.failures) lines.push(`• ${esc(f.node)}: ${esc(f.detail.slice(0, 300))}`);
  if (e.failures.length === 0 && e.detail) lines.push(esc(e.detail.slice(0, 500)));
  if (e.run) lines.push(e.run.url ? `<${e.run.url}|run ${e.run.id} on the status page>` : `run ${e.run.id}`);
  return lines.join('\n');
}
