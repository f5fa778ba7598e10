// Notifications end to end: `skyrec reconcile` as a real process following a local config repo,
// deploying with the local driver (real git, Nix profiles, processes, Caddy, HTTP), reporting to a
// stand-in receiver on 127.0.0.1 for GitHub's and GitLab's status APIs, Slack and a generic webhook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { GITHUB_TOKEN, GITLAB_TOKEN, SLACK_PATH, githubStates, gitlabStates, startReceiverStandin, webhookEvents, type ReceiverStandin } from './receiver-standin.js';

const HOOK_SECRET = 'e2e-hook-secret-81f3';
const fleet = (rx: string) => `settings:
  statusUrl: "https://skyrec.example.com"
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 6s }
nodes:
  - { name: web-1, host: root@10.9.7.1, address: 10.9.7.1, ingress: true }
notifications:
  - { name: gh, github: { apiUrl: "${rx}/gh", repo: acme/config, tokenSecret: GH_TOKEN } }
  - { name: gl, gitlab: { apiUrl: "${rx}/gl/api/v4", project: acme/config, tokenSecret: GL_TOKEN } }
  - { name: chat, slack: { urlSecret: SLACK_URL }, events: [deploy.failed, revision.quarantined] }
  - { name: hook, webhook: { url: "${rx}/hook", secret: HOOK_SECRET } }
`;
const api = (greeting: string, health = '/healthz') => `name: api
package: { build: { stack: nodejs, path: src/api } }
processes:
  web:
    command: node server.js
    instances: 1
    healthcheck: { path: ${health}, interval: 1s }
env: { GREETING: ${JSON.stringify(greeting)} }
domains: [api.notify.example]
`;

let tmp: ReturnType<typeof makeTempDir>;
let rx: ReceiverStandin;
let repo: TestRepo;
let state: string;
let secrets: string;
let args: string[];
let r: RunningReconciler | undefined;

const applied = (rev: string) => (s: { applied: { revision: string } | null; running: unknown }) => s.applied?.revision === rev && s.running === null;
const eventsFor = (rev: string) => webhookEvents(rx.requests).filter((e) => e.revision === rev).map((e) => e.event);

async function stop(x: RunningReconciler): Promise<void> {
  x.child.kill('SIGTERM');
  expect(await x.exited, x.stderr()).toEqual({ code: 0, signal: null });
}

beforeAll(async () => {
  tmp = makeTempDir('skyrec-notify-e2e-');
  rx = await startReceiverStandin();
  repo = await TestRepo.create(join(tmp.dir, 'repo'), { 'fleet.yaml': fleet(rx.url), 'apps/api.yaml': api('one') });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(repo.dir, 'src', 'api'), { recursive: true });
  state = join(tmp.dir, 'state');
  secrets = join(tmp.dir, 'notify-secrets');
  mkdirSync(secrets);
  writeFileSync(join(secrets, 'GH_TOKEN'), `${GITHUB_TOKEN}\n`);
  writeFileSync(join(secrets, 'GL_TOKEN'), `${GITLAB_TOKEN}\n`);
  writeFileSync(join(secrets, 'SLACK_URL'), `${rx.url}${SLACK_PATH}\n`);
  writeFileSync(join(secrets, 'HOOK_SECRET'), `${HOOK_SECRET}\n`);
  const port = await freePort();
  args = ['--repo', repo.dir, '--driver', 'local', '--state', state, '--http-port', String(port), '--interval', '500ms', '--notify-secrets-dir', secrets, '--notify-retry', '200ms'];
}, 30_000);

afterAll(async () => {
  if (r && r.child.exitCode === null) {
    r.child.kill('SIGTERM');
    await r.exited;
  }
  await runCli(['down', '--driver', 'local', '--state', state]);
  await rx?.close();
  tmp?.cleanup();
}, 60_000);

describe('skyrec reconcile reports to a stand-in receiver (GitHub and GitLab status APIs, Slack, generic webhook stand-ins)', () => {
  it('sets pending then success on exactly the applied commit; a health-failing commit gets failure and its quarantine is sent', async () => {
    const first = await repo.commit('api one');
    r = await startReconciler(args);
    await r.waitFor('the first commit applied', applied(first));
    await rx.waitFor('success on the first commit', (q) => githubStates(q, first).includes('success') && gitlabStates(q, first).includes('success') && eventsFor(first).includes('deploy.applied'));
    expect(githubStates(rx.requests, first)).toEqual(['pending', 'success']);
    expect(gitlabStates(rx.requests, first)).toEqual(['pending', 'success']);
    expect(rx.requests.filter((q) => /\/statuses\//.test(q.path) && !q.path.endsWith(first))).toEqual([]);
    expect(eventsFor(first)).toEqual(['deploy.started', 'deploy.applied']);
    const gh = JSON.parse(rx.requests.filter((q) => q.path.startsWith('/gh/')).at(-1)!.body);
    expect(gh).toMatchObject({ state: 'success', context: 'skyrec', description: `skyrec applied ${first.slice(0, 12)} to 1 node(s)` });
    expect(gh.target_url).toMatch(/^https:\/\/skyrec\.example\.com\/#run-\d+$/);

    const bad = await repo.commit('api: a health path that fails', { 'apps/api.yaml': api('bad', '/nope') });
    await r.waitFor('the bad commit quarantined', (s) => s.quarantined.some((q) => q.revision === bad) && s.running === null, 90_000);
    await rx.waitFor('failure and the quarantine sent', (q) => githubStates(q, bad).includes('failure') && eventsFor(bad).includes('revision.quarantined') && q.some((x) => x.path === SLACK_PATH && x.body.includes('quarantined')));
    expect(githubStates(rx.requests, bad)).toEqual(['pending', 'failure']);
    expect(gitlabStates(rx.requests, bad)).toEqual(['pending', 'failed']);
    expect(eventsFor(bad)).toEqual(['deploy.started', 'deploy.failed', 'deploy.rolled-back', 'revision.quarantined']);
    const failed = webhookEvents(rx.requests).find((e) => e.event === 'deploy.failed') as unknown as { failures: { node: string; detail: string }[] };
    expect(failed.failures.map((f) => f.node)).toEqual(['web-1']);
    const slack = rx.requests.filter((x) => x.path === SLACK_PATH).map((x) => JSON.parse(x.body).text as string);
    expect(slack).toHaveLength(2);
    expect(slack[0]).toContain(`failed on web-1; rolled back`);
    expect(slack[0]).toContain('• web-1: ');
    expect(slack[1]).toContain(`${bad.slice(0, 12)} is quarantined`);
  }, 180_000);

  it('keeps what a receiver that is down did not take, across a reconciler restart, and delivers it when the receiver is back', async () => {
    await rx.stop();
    const three = await repo.commit('api three', { 'apps/api.yaml': api('three') });
    await r!.waitFor('the third commit applied while the receiver is down', applied(three), 90_000);
    const down = await r!.waitFor('failed attempts counted', (s) => (s.notifications?.failures ?? []).some((f) => f.target === 'gh' && f.error.startsWith('cannot connect')));
    expect(down.notifications!.targets.find((t) => t.target === 'gh')!.pending).toBe(2);
    const metrics = (await r!.get('/metrics')).body;
    expect(metrics).toMatch(/^skyrec_notifications_failed_total\{target="gh"\} [1-9]/m);
    expect(metrics).toMatch(/^skyrec_notifications_pending\{target="gh"\} 2$/m);
    expect((await r!.get('/')).body).toContain('Notifications not delivered');
    await stop(r!);

    r = await startReconciler(args);
    await rx.start();
    await rx.waitFor('pending then success on the third commit, after the restart', (q) => githubStates(q, three).includes('success') && gitlabStates(q, three).includes('success') && eventsFor(three).includes('deploy.applied'));
    expect(githubStates(rx.requests, three)).toEqual(['pending', 'success']);
    expect(gitlabStates(rx.requests, three)).toEqual(['pending', 'success']);
    expect(eventsFor(three)).toEqual(['deploy.started', 'deploy.applied']);
  }, 180_000);

  it('finishes a rollout while a receiver hangs, stops without waiting for it, and delivers in order once it answers', async () => {
    await stop(r!);
    r = await startReconciler([...args, '--notify-timeout', '120s']);
    rx.setMode('/hook', 'hang');
    const four = await repo.commit('api four', { 'apps/api.yaml': api('four') });
    await r.waitFor('the fourth commit applied', applied(four), 90_000);
    // The rollout ended while the webhook's first event is still unanswered.
    expect(rx.hanging()).toBe(1);
    expect(eventsFor(four)).toEqual(['deploy.started']);
    await rx.waitFor('the other targets served meanwhile', (q) => githubStates(q, four).includes('success'));
    // A stop cuts the attempt in flight (well before its 120 s timeout); the event stays queued.
    r.child.kill('SIGTERM');
    const exited = await Promise.race([r.exited, new Promise((res) => setTimeout(() => res('still running 30 s after SIGTERM'), 30_000))]);
    expect(exited, r.stderr()).toEqual({ code: 0, signal: null });
    const first = r;
    rx.setMode('/hook', 'normal');
    r = await startReconciler(args);
    await rx.waitFor('the webhook served after it answers', () => eventsFor(four).includes('deploy.applied'));
    expect(eventsFor(four)).toEqual(['deploy.started', 'deploy.started', 'deploy.applied']);
    await stop(r);
    for (const x of [first, r]) {
      for (const secret of [GITHUB_TOKEN, GITLAB_TOKEN, HOOK_SECRET, SLACK_PATH]) {
        expect(x.stderr()).not.toContain(secret);
        expect(x.stdout()).not.toContain(secret);
      }
    }
  }, 180_000);
});
