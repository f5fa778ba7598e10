// fleet.yaml's notifications as users write them, wrong and right: refused at file:line:col
// without echoing a credential, and `skyrec notify test` against a stand-in receiver (GitHub,
// GitLab, Slack and generic webhook stand-ins on 127.0.0.1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { GITHUB_TOKEN, GITLAB_TOKEN, SLACK_PATH, startReceiverStandin, type ReceiverStandin } from './receiver-standin.js';

const NODES = `nodes:
  - { name: web-1, host: root@10.0.0.1, address: 10.0.0.1, ingress: true }
`;
const APP = `name: blog
package: { nixpkgs: hello }
processes: { web: { command: "hello", instances: 1 } }
`;

let tmp: ReturnType<typeof makeTempDir>;
let rx: ReceiverStandin;
beforeAll(async () => {
  tmp = makeTempDir('skyrec-notify-config-');
  rx = await startReceiverStandin();
});
afterAll(async () => {
  await rx?.close();
  tmp?.cleanup();
});

function repo(name: string, fleet: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, 'apps'), { recursive: true });
  writeFileSync(join(dir, 'fleet.yaml'), fleet);
  writeFileSync(join(dir, 'apps', 'blog.yaml'), APP);
  return dir;
}

describe('notifications in fleet.yaml', () => {
  it('refuses unknown events and missing secret names at file:line:col', async () => {
    const dir = repo('bad-schema', `${NODES}notifications:
  - name: chat
    events: [deploy.started, deploy.exploded]
    slack: { channel: ops }
  - name: gl
    gitlab: { project: acme/config }
`);
    const r = await runCli(['validate', '--repo', dir]);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('fleet.yaml:'));
    expect(lines.find((l) => l.includes('deploy.exploded'))).toMatch(/^fleet\.yaml:5:30: .*must be one of deploy\.started, /);
    expect(lines.find((l) => l.includes('urlSecret'))).toMatch(/^fleet\.yaml:6:12: /);
    expect(lines.find((l) => l.includes('tokenSecret'))).toMatch(/^fleet\.yaml:8:13: /);
  });

  it('refuses URLs with credentials and tokens written inline at file:line:col, quoting no credential', async () => {
    const dir = repo('bad-rules', `${NODES}notifications:
  - name: hook
    webhook: { url: "https://bot:hunter2-pass@hooks.example.com/skyrec" }
  - name: gh
    github: { repo: acme/config, tokenSecret: ghp_1234567890abcdefghijklmnopqrstuvwxyzAB }
  - name: gh2
    events: [drift.found]
    github: { repo: acme/config, tokenSecret: GH_TOKEN, apiUrl: "https://ghe.example.com/api/v3?access_token=sekrit-query-token" }
  - name: hook
    webhook: { url: "https://hooks.example.com/a" }
    slack: { urlSecret: SLACK }
`);
    const r = await runCli(['validate', '--repo', dir]);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('fleet.yaml:'));
    expect(lines).toEqual([
      'fleet.yaml:5:21: notifications[0].webhook.url must not carry credentials (user:password@): give a token or secret by name (tokenSecret, secret, urlSecret) instead',
      "fleet.yaml:7:47: notifications[1].github.tokenSecret looks like a secret value, not a name: put the value in a file in the reconciler's --notify-secrets-dir and write the file's name here",
      "fleet.yaml:9:14: notifications[2].events: a commit status cannot show 'drift.found'; it shows deploy.started, deploy.applied, deploy.failed, deploy.error, revision.invalid",
      'fleet.yaml:10:65: notifications[2].github.apiUrl must not carry a token in its query: give it by name (tokenSecret, secret, urlSecret) instead',
      "fleet.yaml:11:11: notifications[3].name 'hook' is already used by notifications[0]; target names must be unique",
      'fleet.yaml:13:12: notifications[3] needs exactly one of webhook, slack, github, gitlab; found webhook and slack',
    ]);
    for (const secret of ['hunter2', 'ghp_1234567890', 'sekrit-query-token']) expect(r.stderr + r.stdout).not.toContain(secret);
  });

  it('accepts the four kinds with filters', async () => {
    const dir = repo('good', `settings: { statusUrl: "https://skyrec.example.com" }
${NODES}notifications:
  - { name: chat, slack: { urlSecret: SLACK_URL }, events: [deploy.failed, revision.quarantined], apps: [blog] }
  - { name: hook, webhook: { url: "https://hooks.example.com/skyrec", secret: HOOK_SECRET }, nodes: [web-1] }
  - { name: gh, github: { apiUrl: "https://ghe.example.com/api/v3", repo: acme/config, tokenSecret: GH_TOKEN } }
  - { name: gl, gitlab: { project: "42", tokenSecret: GL_TOKEN, context: deploy } }
`);
    const r = await runCli(['validate', '--repo', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('skyrec notify test (GitHub, GitLab, Slack and generic webhook stand-ins)', () => {
  it('sends a test event to every target, says what each answered, and exits 1 when one refused', async () => {
    const secrets = join(tmp.dir, 'secrets');
    mkdirSync(secrets, { recursive: true });
    writeFileSync(join(secrets, 'SLACK_URL'), `${rx.url}${SLACK_PATH}\n`);
    writeFileSync(join(secrets, 'HOOK_SECRET'), 'notify-test-hook-secret\n');
    writeFileSync(join(secrets, 'GH_TOKEN'), `${GITHUB_TOKEN}\n`);
    writeFileSync(join(secrets, 'GL_TOKEN'), 'glpat-notTheRightOne123\n');
    const work = await TestRepo.create(join(tmp.dir, 'notify-test'), {
      'fleet.yaml': `${NODES}notifications:
  - { name: chat, slack: { urlSecret: SLACK_URL } }
  - { name: hook, webhook: { url: "${rx.url}/hook", secret: HOOK_SECRET } }
  - { name: gh, github: { apiUrl: "${rx.url}/gh", repo: acme/config, tokenSecret: GH_TOKEN } }
  - { name: gl, gitlab: { apiUrl: "${rx.url}/gl/api/v4", project: acme/config, tokenSecret: GL_TOKEN } }
`,
      'apps/blog.yaml': APP,
    });
    const sha = await work.commit('fleet');
    const r = await runCli(['notify', 'test', '--repo', work.dir, '--notify-secrets-dir', secrets, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { revision: string; results: { target: string; ok: boolean; status: number | null; error: string | null }[] };
    expect(out.revision).toBe(sha);
    expect(out.results.map((x) => [x.target, x.ok, x.status, x.error])).toEqual([
      ['chat', true, 200, null],
      ['hook', true, 204, null],
      ['gh', true, 201, null],
      ['gl', false, 401, 'HTTP 401: 401 Unauthorized'],
    ]);
    const gh = rx.requests.find((x) => x.path.startsWith('/gh/'))!;
    expect(gh.path).toBe(`/gh/repos/acme/config/statuses/${sha}`);
    expect(JSON.parse(gh.body)).toMatchObject({ state: 'success', context: 'skyrec/test' });
    expect(r.stdout + r.stderr).not.toContain('glpat-notTheRightOne123');

    const one = await runCli(['notify', 'test', 'chat', '--repo', work.dir, '--notify-secrets-dir', secrets]);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe('chat (slack): delivered, HTTP 200\n');
    expect(one.stdout).not.toContain(SLACK_PATH);
    const unknown = await runCli(['notify', 'test', 'pager', '--repo', work.dir, '--notify-secrets-dir', secrets]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no notification target 'pager' in fleet.yaml");
    expect(unknown.stderr).toContain('targets: chat, hook, gh, gl');
    void GITLAB_TOKEN;
  });
});
