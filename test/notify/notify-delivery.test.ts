// The notification queue and its deliveries against a stand-in receiver on 127.0.0.1 (GitHub's
// and GitLab's status APIs, a Slack webhook, a generic receiver): signatures checked with
// openssl, order per target, retries with backoff, given up on 401, a hanging receiver cut by
// the timeout, the queue's bound, and no secret in what is logged or shown.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { createLineLogger } from '../../common/log.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { MAX_PENDING } from '../../reconciler/state/notify-records.js';
import { backoffDelay, DEFAULT_BACKOFF, Notifier } from '../../reconciler/notify/notifier.js';
import { makeEvent, type NotifyEvent } from '../../reconciler/notify/notify-event.js';
import type { NotifyTarget } from '../../reconciler/notify/notify-targets.js';
import { readNotifyStatus } from '../../reconciler/notify/notify-status.js';
import { makeTempDir } from '../helpers/tools.js';
import { GITHUB_TOKEN, GITLAB_TOKEN, SLACK_PATH, githubStates, gitlabStates, startReceiverStandin, type ReceiverStandin } from './receiver-standin.js';

const SHA = 'a'.repeat(40);
const HOOK_SECRET = 'hook-secret-5f2a9c';

let tmp: ReturnType<typeof makeTempDir>;
let rx: ReceiverStandin;
let secrets: string;
const stores: StateStore[] = [];
const notifiers: Notifier[] = [];
let logs: string[];

beforeAll(async () => {
  tmp = makeTempDir('skyrec-notify-');
  rx = await startReceiverStandin();
  secrets = join(tmp.dir, 'secrets');
  mkdirSync(secrets);
  // As people write them: one trailing newline, not part of the value.
  writeFileSync(join(secrets, 'HOOK_SECRET'), `${HOOK_SECRET}\n`);
  writeFileSync(join(secrets, 'GITHUB_TOKEN'), `${GITHUB_TOKEN}\n`);
  writeFileSync(join(secrets, 'GITLAB_TOKEN'), `${GITLAB_TOKEN}\n`);
  writeFileSync(join(secrets, 'WRONG_TOKEN'), 'ghp_wrongwrongwrongwrongwrongwrongwrong00\n');
  writeFileSync(join(secrets, 'SLACK_URL'), `${rx.url}${SLACK_PATH}\n`);
});
afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.stop()));
  for (const s of stores.splice(0)) s.close();
  rx.requests.length = 0;
  rx.release();
});
afterAll(async () => {
  await rx?.close();
  tmp?.cleanup();
});

function setup(name: string, opts: { timeoutMs?: number; firstMs?: number } = {}) {
  const store = StateStore.open(join(tmp.dir, name));
  stores.push(store);
  logs = [];
  const notifier = new Notifier({
    records: store.notifications,
    secretsDir: secrets,
    timeoutMs: opts.timeoutMs ?? 5000,
    backoff: { firstMs: opts.firstMs ?? 20, maxMs: 200, giveUpMs: 60_000 },
    log: createLineLogger('debug', (l) => logs.push(l)),
    userAgent: 'skyrec/test',
  });
  notifiers.push(notifier);
  notifier.start();
  return { store, notifier };
}

const event = (name: NotifyEvent['event'], summary: string = name): NotifyEvent =>
  makeEvent({ event: name, revision: SHA, branch: 'main', runId: 7, nodes: ['web-1'], summary }, 'https://skyrec.example.com');
const github = (tokenSecret = 'GITHUB_TOKEN'): NotifyTarget => ({ name: 'gh', kind: 'github', github: { apiUrl: `${rx.url}/gh`, repo: 'acme/config', tokenSecret } });
const gitlab: () => NotifyTarget = () => ({ name: 'gl', kind: 'gitlab', gitlab: { apiUrl: `${rx.url}/gl/api/v4`, project: 'acme/config', tokenSecret: 'GITLAB_TOKEN' } });
const webhook = (path = '/hook'): NotifyTarget => ({ name: 'hook', kind: 'webhook', webhook: { url: `${rx.url}${path}`, secret: 'HOOK_SECRET' } });

describe('notifications: delivery to a stand-in receiver (GitHub, GitLab, Slack, generic webhook stand-ins)', () => {
  it('signs the generic webhook body with HMAC-SHA256 of the secret without its trailing newline, as openssl computes it', async () => {
    const { notifier } = setup('sign');
    notifier.emit(event('deploy.applied'), [webhook()]);
    const [req] = await rx.waitFor('the webhook', (r) => r.length === 1);
    const { stdout } = await exec(['openssl', 'dgst', '-sha256', '-hmac', HOOK_SECRET, '-hex'], { input: req.body });
    expect(req.headers['x-skyrec-signature-256']).toBe(`sha256=${/([0-9a-f]{64})\s*$/.exec(stdout)![1]}`);
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({ schema: 'skyrec.notification/v1', event: 'deploy.applied', revision: SHA, branch: 'main', nodes: ['web-1'], run: { id: 7, url: 'https://skyrec.example.com/#run-7' } });
    expect(req.headers['x-skyrec-event']).toBe('deploy.applied');
    expect(req.headers['x-skyrec-delivery']).toBe(body.id);
  });

  it('sets GitHub and GitLab commit statuses on the commit, in the order the events were made, with the run link', async () => {
    const { notifier } = setup('order');
    notifier.emit(event('deploy.started', 'deploying'), [github(), gitlab()]);
    notifier.emit(event('deploy.applied', 'applied to 1 node(s)'), [github(), gitlab()]);
    await rx.waitFor('two statuses each', (r) => githubStates(r, SHA).length === 2 && gitlabStates(r, SHA).length === 2);
    expect(githubStates(rx.requests, SHA)).toEqual(['pending', 'success']);
    expect(gitlabStates(rx.requests, SHA)).toEqual(['pending', 'success']);
    const gh = rx.requests.find((r) => r.path.startsWith('/gh/'))!;
    expect(gh.path).toBe(`/gh/repos/acme/config/statuses/${SHA}`);
    expect(JSON.parse(gh.body)).toEqual({ state: 'pending', description: 'deploying', context: 'skyrec', target_url: 'https://skyrec.example.com/#run-7' });
    const gl = rx.requests.find((r) => r.path.startsWith('/gl/'))!;
    expect(gl.path).toBe(`/gl/api/v4/projects/acme%2Fconfig/statuses/${SHA}`);
  });

  it('sends Slack one readable message: what happened, revision, nodes, what failed, the link', async () => {
    const { notifier } = setup('slack');
    const e = makeEvent({ event: 'deploy.failed', revision: SHA, branch: 'main', runId: 3, nodes: ['web-1', 'web-2'], failures: [{ node: 'web-2', detail: 'GET /healthz answered 500 <html>' }], summary: 'deploy of aaaaaaaaaaaa failed on web-2; rolled back' }, 'https://skyrec.example.com/');
    notifier.emit(e, [{ name: 'chat', kind: 'slack', slack: { urlSecret: 'SLACK_URL' } }]);
    const [req] = await rx.waitFor('the slack message', (r) => r.length === 1);
    expect(req.path).toBe(SLACK_PATH);
    expect(JSON.parse(req.body).text).toBe(
      [':x: *deploy of aaaaaaaaaaaa failed on web-2; rolled back*', 'revision `aaaaaaaaaaaa` on main · nodes: web-1, web-2', '• web-2: GET /healthz answered 500 &lt;html&gt;', '<https://skyrec.example.com/#run-3|run 3 on the status page>'].join('\n'),
    );
  });

  it('retries a receiver answering 5xx with growing waits, keeps the later event behind it, and counts the failures', async () => {
    const { notifier, store } = setup('retry');
    rx.setMode('/gh/', '500');
    notifier.emit(event('deploy.started'), [github()]);
    notifier.emit(event('deploy.applied'), [github()]);
    await rx.waitFor('three failed attempts', (r) => r.length >= 3);
    expect(githubStates(rx.requests, SHA).every((s) => s === 'pending')).toBe(true);
    rx.setMode('/gh/', 'normal');
    await rx.waitFor('both delivered', (r) => githubStates(r, SHA).at(-1) === 'success');
    const states = githubStates(rx.requests, SHA);
    expect(states.slice(states.indexOf('success') - 1)).toEqual(['pending', 'success']);
    expect(notifier.failed.get('gh')).toBeGreaterThanOrEqual(3);
    // The receiver has the request before the notifier has its answer and records the delivery.
    await expect.poll(() => store.notifications.perTarget(), { timeout: 10_000 }).toEqual([{ target: 'gh', pending: 0, delivered: 2, failed: 0 }]);
    expect(backoffDelay(1, DEFAULT_BACKOFF)).toBe(5000);
    expect([2, 3, 4].map((n) => backoffDelay(n, DEFAULT_BACKOFF))).toEqual([10_000, 20_000, 40_000]);
    expect(backoffDelay(30, DEFAULT_BACKOFF)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  it('gives up at once on a 401 and says so with the API\'s words, never the token', async () => {
    const { notifier, store } = setup('unauthorized');
    notifier.emit(event('deploy.started'), [github('WRONG_TOKEN')]);
    await rx.waitFor('one attempt', (r) => r.length === 1);
    let status = readNotifyStatus(store.notifications);
    for (let i = 0; i < 200 && status.failures.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      status = readNotifyStatus(store.notifications);
    }
    expect(status.failures).toMatchObject([{ target: 'gh', event: 'deploy.started', state: 'failed', attempts: 1, status: 401, error: 'HTTP 401: Bad credentials' }]);
    expect(rx.requests).toHaveLength(1);
    const shown = JSON.stringify(status) + logs.join('\n');
    for (const secret of ['ghp_wrongwrong', GITHUB_TOKEN, HOOK_SECRET]) expect(shown).not.toContain(secret);
  });

  it('cuts a receiver that hangs at the timeout and tries again; another target is not held up', async () => {
    const { notifier } = setup('hang', { timeoutMs: 300, firstMs: 5000 });
    rx.setMode('/hook', 'hang');
    notifier.emit(event('deploy.started'), [webhook(), github()]);
    await rx.waitFor('github served while the webhook hangs', (r) => githubStates(r, SHA).length === 1 && r.some((x) => x.path === '/hook'));
    for (let i = 0; i < 300 && !logs.some((l) => l.includes('no answer within 0.3 s')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(logs.join('\n')).toContain('no answer within 0.3 s');
    expect(notifier.failed.get('hook')).toBe(1);
  });

  it('never keeps more than MAX_PENDING undelivered rows: the oldest are dropped and counted', () => {
    const store = StateStore.open(join(tmp.dir, 'bound'));
    stores.push(store);
    const row = { target: 'slow', config: '{}', event: '{}' };
    expect(store.notifications.enqueue(Array.from({ length: MAX_PENDING }, () => row))).toEqual([]);
    expect(store.notifications.enqueue([row, row])).toEqual(['slow', 'slow']);
    expect(store.notifications.perTarget()).toEqual([{ target: 'slow', pending: MAX_PENDING, delivered: 0, failed: 2 }]);
  });
});
