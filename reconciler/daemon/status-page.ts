// The status page at `/`: the DaemonStatus as one self-contained HTML page (templates/
// status.html.hbs). This module turns the status into display values (short revisions, "4 min
// ago", badge tones, truncated details); the template only lays them out. Every value goes
// through Handlebars' HTML escaping: a template that prints one raw is refused when it is loaded.
import type HandlebarsNs from 'handlebars';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import type { NodeStatus } from '../state/state-store.js';
import type { RunOutcome } from '../state/reconciler-records.js';
import { describeVerdict } from '../trust/trust-verdict.js';
import type { AppStatus, DaemonStatus } from './status-model.js';
import { backupTones, viewBackups } from './status-backups.js';
import { lazyModule } from '../../common/lazy-module.js';

/** Handlebars with its compiler, loaded with the first page served: an idle reconciler nobody looks at does not hold it (~8 MB). */
const handlebars = lazyModule<typeof HandlebarsNs>('handlebars');

/** The colour of a badge: ok green, bad red, warn amber, none grey. */
type Tone = 'ok' | 'bad' | 'warn' | 'none';

const HEALTH_TONE: Record<NodeStatus, Tone> = { healthy: 'ok', failed: 'bad', 'rolled-back': 'bad', switching: 'warn', checking: 'warn', unknown: 'none' };
const OUTCOME_TONE: Record<RunOutcome, Tone> = { applied: 'ok', unchanged: 'none', invalid: 'warn', quarantined: 'warn', interrupted: 'warn', untrusted: 'bad', failed: 'bad', error: 'bad' };
/** Instance states (systemd's ActiveState, or unreachable); any other is amber. */
const INSTANCE_TONE: Record<string, Tone> = { active: 'ok', failed: 'bad', unreachable: 'bad', inactive: 'none', unknown: 'none' };
const DETAIL_CHARS = 90;
/** The tab icon's colour per tone (hex, no #). */
const FAVICON: Record<Tone, string> = { ok: '1a7f37', bad: 'cf222e', warn: 'bf8700', none: '8c959f' };
const REFRESH_SECONDS = 10;

let template: { render: HandlebarsNs.TemplateDelegate; scriptHashes: string[] } | undefined;

/** Throws when the template prints a value unescaped ({{{x}}} or {{&x}}). */
function refuseRawOutput(source: string): void {
  const Handlebars = handlebars();
  const visitor = new Handlebars.Visitor();
  visitor.MustacheStatement = function (node: hbs.AST.MustacheStatement) {
    if (!node.escaped) throw new Error(`templates/status.html.hbs:${node.loc.start.line}: a value is printed without HTML escaping`);
  };
  visitor.accept(Handlebars.parse(source));
}

/**
 * The hashes of the template's own scripts, taken from the template (not from a rendered page, where
 * an injected script would be hashed and allowed too). A script must be static text: one that
 * printed a value would not match its hash, so the template is refused.
 */
function hashScripts(source: string): string[] {
  return [...source.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => {
    if (m[1].includes('{{')) throw new Error('templates/status.html.hbs: a <script> prints a value; pass values through data- attributes so its hash is fixed');
    return `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`;
  });
}

function loadStatusTemplate() {
  if (!template) {
    const source = readFileSync(join(packageRoot(), 'templates', 'status.html.hbs'), 'utf8');
    refuseRawOutput(source);
    template = { render: handlebars().create().compile(source, { strict: true }), scriptHashes: hashScripts(source) };
  }
  return template;
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago". */
function formatAgo(iso: string, now: Date): string {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return 'unknown';
  const s = Math.max(0, Math.floor((now.getTime() - at) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function when(iso: string, now: Date) {
  const at = Date.parse(iso);
  return { iso: Number.isFinite(at) ? new Date(at).toISOString() : iso, ago: formatAgo(iso, now) };
}

const shortRev = (rev: string | null) => (rev ? rev.slice(0, 12) : null);

/** The first line, cut to a table cell's width; `full` goes in a title attribute. */
function clip(text: string | null) {
  if (!text) return null;
  const first = text.split('\n', 1)[0];
  const cut = first.length > DETAIL_CHARS ? first.slice(0, DETAIL_CHARS - 1).trimEnd() : first;
  return { text: cut === text ? cut : `${cut}…`, full: text };
}

/** Only links a person can safely follow: http(s) URLs and paths on this server. */
function safeHref(url: string | null): string | null {
  return url && /^(https?:\/\/|\/(?![/\\]))/i.test(url) ? url : null;
}

/** Badges under the node count: how many are in each unhealthy state, and drifted. */
function noteNodes(s: DaemonStatus): { text: string; tone: Tone }[] {
  if (s.nodes.length === 0) return [{ text: 'no nodes yet', tone: 'none' }];
  const counts = new Map<NodeStatus, number>();
  for (const n of s.nodes) if (n.status !== 'healthy') counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
  const notes = [...counts].map(([status, n]) => ({ text: `${n} ${status}`, tone: HEALTH_TONE[status] ?? 'none' }));
  if (s.drift.length > 0) notes.push({ text: `${s.drift.length} drifted`, tone: 'warn' });
  return notes.length > 0 ? notes : [{ text: 'all healthy', tone: 'ok' }];
}

/** The worst of the last run, the nodes' health and drift: the colour of the tab's icon. */
function overallTone(s: DaemonStatus): Tone {
  const tones: Tone[] = [...s.nodes.map((n) => HEALTH_TONE[n.status] ?? 'none'), ...(s.runs[0] ? [OUTCOME_TONE[s.runs[0].outcome] ?? 'none'] : []), ...(s.drift.length > 0 || s.quarantined.length > 0 ? ['warn' as const] : []), ...(s.trust?.head && !s.trust.head.trusted ? ['bad' as const] : []), ...backupTones(s.backups ?? [])];
  if (s.fault) return 'bad';
  if (tones.every((t) => t === 'none')) return 'none';
  return tones.includes('bad') ? 'bad' : tones.includes('warn') ? 'warn' : 'ok';
}

/** --require-signed-by: the fetched head, when it is not applied for want of an allowed signature. */
function untrustedHead(s: DaemonStatus, now: Date) {
  const head = s.trust?.head;
  if (!head || head.trusted) return null;
  return { revision: shortRev(head.commit), full: head.commit, detail: describeVerdict(head), at: when(head.checkedAt, now) };
}

/** An instance's chip: where it runs and, when its node was asked, its state now (live-instances.ts). */
function viewInstance(i: AppStatus['instances'][number], now: Date) {
  const where = `${i.node}:${i.port}`;
  const l = i.live;
  if (!l) return { where, live: null };
  const figures = [
    ...(l.restarts ? [`${l.restarts} restart${l.restarts === 1 ? '' : 's'}`] : []),
    ...(l.memoryBytes !== null ? [`${(l.memoryBytes / 1024 / 1024).toFixed(0)} MiB`] : []),
  ];
  const title = [`${i.process}.${i.index} on ${where}: ${l.state}`, ...(l.since ? [`since ${l.since} (${formatAgo(l.since, now)})`] : []), ...figures, ...(l.error ? [l.error] : [])].join(', ');
  return { where, live: { text: [l.state, ...figures].join(' · '), tone: INSTANCE_TONE[l.state] ?? 'warn', title } };
}

function viewStatus(s: DaemonStatus, now: Date) {
  const drifted = new Map(s.drift.map((d) => [d.node, d]));
  const nodes = s.nodes.map((n) => {
    const drift = drifted.get(n.node);
    return {
      name: n.node,
      generation: n.generation === null ? null : String(n.generation),
      health: { text: n.status, tone: HEALTH_TONE[n.status] ?? 'none' },
      detail: clip(n.detail),
      revision: shortRev(n.revision),
      updated: when(n.updatedAt, now),
      drift: drift ? { detail: drift.detail } : null,
      inSync: !drift && s.lastDriftCheck !== null,
    };
  });
  const healthy = s.nodes.filter((n) => n.status === 'healthy').length;
  const apps = s.apps.map((a) => {
    const processes: { name: string; instances: ReturnType<typeof viewInstance>[] }[] = [];
    for (const i of a.instances) {
      let p = processes.find((x) => x.name === i.process);
      if (!p) processes.push((p = { name: i.process, instances: [] }));
      p.instances.push(viewInstance(i, now));
    }
    return { name: a.name, domains: a.domains, processes };
  });
  const runs = s.runs.map((r) => ({
    id: r.id,
    // A cycle still running has no finishedAt yet.
    finished: when(r.finishedAt ?? r.startedAt, now),
    outcome: { text: r.outcome, tone: OUTCOME_TONE[r.outcome] ?? 'none' },
    revision: shortRev(r.revision),
    fullRevision: r.revision,
    detail: clip(r.detail),
    planUrl: safeHref(r.planUrl),
  }));
  const last = runs[0] ?? null;
  const behind = s.fetched !== null && s.fetched.revision !== s.applied?.revision;
  const title = [s.fault ? 'error' : last ? last.outcome.text : 'no runs yet', ...(s.drift.length > 0 ? [`${s.drift.length} drifted`] : []), `skyrec ${s.branch}`].join(' · ');
  return {
    title,
    refreshSeconds: REFRESH_SECONDS,
    repo: s.repo,
    branch: s.branch,
    rendered: { iso: now.toISOString(), clock: `${now.toISOString().slice(11, 19)} UTC` },
    applied: s.applied ? { revision: shortRev(s.applied.revision), full: s.applied.revision, ...when(s.applied.at, now) } : null,
    fetched: behind ? { revision: shortRev(s.fetched!.revision), full: s.fetched!.revision, ...when(s.fetched!.at, now) } : null,
    running: s.running ? when(s.running.since, now) : null,
    queued: s.queued,
    fleet: { healthy, total: s.nodes.length, notes: noteNodes(s) },
    favicon: FAVICON[overallTone(s)],
    instanceCount: s.apps.reduce((sum, a) => sum + a.instances.length, 0),
    last,
    fault: s.fault ? { message: s.fault.message, at: when(s.fault.at, now) } : null,
    untrusted: untrustedHead(s, now),
    quarantined: s.quarantined.map((q) => ({ revision: shortRev(q.revision), full: q.revision, reason: q.reason, at: when(q.at, now) })),
    drift: s.drift.map((d) => ({ node: d.node, detail: d.detail, expected: d.expected.generation === null ? '?' : String(d.expected.generation), found: d.found.generation === null ? '?' : String(d.found.generation), at: when(d.detectedAt, now) })),
    driftChecked: s.lastDriftCheck ? when(s.lastDriftCheck, now) : null,
    nodes,
    apps,
    runs,
    notifyFailures: (s.notifications?.failures ?? []).map((f) => ({ ...f, at: when(f.at, now) })),
    backups: viewBackups(s.backups ?? [], now),
  };
}

/** The whole page, for `GET /`. */
export function renderStatusPage(status: DaemonStatus, now: Date): string {
  return loadStatusTemplate().render(viewStatus(status, now));
}

/**
 * The response headers of the page. Its content security policy lets only the template's own
 * inline script run (by hash), so even a value that slipped past escaping could run nothing.
 */
export function statusPageHeaders(): Record<string, string> {
  const scripts = loadStatusTemplate().scriptHashes;
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src ${scripts.join(' ') || "'none'"}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  };
}
