// Rules for fleet.yaml's notifications that its schema cannot say without echoing a value: a URL
// or a secret name is never quoted back in a message, since a mistake there is often a credential
// written where a name belongs (a token pasted inline, a URL with user:password@).
import { problemAt, type YamlFile } from './load-yaml.js';
import type { FleetSpec, Problem } from './model.js';

const KINDS = ['webhook', 'slack', 'github', 'gitlab'] as const;
export type NotifyKind = (typeof KINDS)[number];

/** The events a commit status can show; the others are chat and webhook events. */
export const STATUS_EVENTS = ['deploy.started', 'deploy.applied', 'deploy.failed', 'deploy.error', 'revision.invalid'] as const;

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
/** Shapes of well-known tokens (GitHub, GitLab, Slack, a JWT): a value, not a name. */
const TOKEN_SHAPE = /^(gh[pousr]_|github_pat_|glpat-|gldt-|xox[abposr]-|eyJ)|^https?:|^[A-Za-z0-9+/=_-]{40,}$/;

/** What is wrong with a URL field, without quoting it; null when it is fine. */
export function urlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL (write it as https://host/path)';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not carry credentials (user:password@): give a token or secret by name (tokenSecret, secret, urlSecret) instead';
  if (/(^|[?&])(access_token|private_token|token|key|sig|signature)=/i.test(url.search)) return 'must not carry a token in its query: give it by name (tokenSecret, secret, urlSecret) instead';
  return null;
}

/** What is wrong with a secret name, without quoting it; null when it is fine. */
export function secretNameProblem(text: string): string | null {
  if (TOKEN_SHAPE.test(text)) return 'looks like a secret value, not a name: put the value in a file in the reconciler\'s --notify-secrets-dir and write the file\'s name here';
  if (!SECRET_NAME.test(text)) return 'must be a file name of letters, digits, _ . - (starting with a letter or _)';
  return null;
}

export function checkNotifyRules(yaml: YamlFile, fleet: FleetSpec): Problem[] {
  const problems: Problem[] = [];
  const at = (path: (string | number)[], message: string) => problems.push(problemAt(yaml, ['notifications', ...path], message));
  const firstByName = new Map<string, number>();
  const statusUrl = fleet.settings?.statusUrl;
  if (statusUrl !== undefined) {
    const p = urlProblem(statusUrl);
    if (p) problems.push(problemAt(yaml, ['settings', 'statusUrl'], `settings.statusUrl ${p}`));
  }
  const nodes = new Set(fleet.nodes.map((n) => n.name));
  (fleet.notifications ?? []).forEach((t, i) => {
    const where = `notifications[${i}]`;
    if (firstByName.has(t.name)) at([i, 'name'], `${where}.name '${t.name}' is already used by notifications[${firstByName.get(t.name)}]; target names must be unique`);
    else firstByName.set(t.name, i);
    const kinds = KINDS.filter((k) => t[k] !== undefined);
    if (kinds.length !== 1) at(kinds.length === 0 ? [i] : [i, kinds[1]], `${where} needs exactly one of ${KINDS.join(', ')}${kinds.length > 1 ? `; found ${kinds.join(' and ')}` : ''}`);
    const url = (field: string, value: string | undefined, path: (string | number)[]) => {
      const p = value === undefined ? null : urlProblem(value);
      if (p) at(path, `${where}.${field} ${p}`);
    };
    const secret = (field: string, value: string | undefined, path: (string | number)[]) => {
      const p = value === undefined ? null : secretNameProblem(value);
      if (p) at(path, `${where}.${field} ${p}`);
    };
    url('webhook.url', t.webhook?.url, [i, 'webhook', 'url']);
    secret('webhook.secret', t.webhook?.secret, [i, 'webhook', 'secret']);
    secret('slack.urlSecret', t.slack?.urlSecret, [i, 'slack', 'urlSecret']);
    url('github.apiUrl', t.github?.apiUrl, [i, 'github', 'apiUrl']);
    secret('github.tokenSecret', t.github?.tokenSecret, [i, 'github', 'tokenSecret']);
    url('gitlab.apiUrl', t.gitlab?.apiUrl, [i, 'gitlab', 'apiUrl']);
    secret('gitlab.tokenSecret', t.gitlab?.tokenSecret, [i, 'gitlab', 'tokenSecret']);
    if (t.github || t.gitlab) {
      (t.events ?? []).forEach((e, j) => {
        if (!(STATUS_EVENTS as readonly string[]).includes(e)) at([i, 'events', j], `${where}.events: a commit status cannot show '${e}'; it shows ${STATUS_EVENTS.join(', ')}`);
      });
    }
    (t.nodes ?? []).forEach((n, j) => {
      if (!nodes.has(n)) at([i, 'nodes', j], `${where}.nodes: no node '${n}' in this fleet`);
    });
  });
  return problems;
}
