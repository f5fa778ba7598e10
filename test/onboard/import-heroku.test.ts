// `skyrec import heroku` on the shapes of Heroku's getting-started apps: each spec equals its
// golden file and passes `skyrec validate` in a real config repo; malformed input writes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { cronToCalendar } from '../../onboard/cron-schedule.js';
import { runCli, stderrBesidesWarnings } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tools.js';

const root = packageRoot();
const HEROKU = join(root, 'test/fixtures/heroku');
const temps: (() => void)[] = [];
afterEach(() => {
  for (const c of temps.splice(0)) c();
});

/** A config repo (test/fixtures/valid-repo) with the Heroku app's source copied to src/<name>. */
function repoWith(fixture: string, name: string): string {
  const t = makeTempDir();
  temps.push(t.cleanup);
  const repo = join(t.dir, 'repo');
  cpSync(join(root, 'test/fixtures/valid-repo'), repo, { recursive: true });
  cpSync(join(HEROKU, fixture), join(repo, 'src', name), { recursive: true });
  return repo;
}

/** A source folder of a few files, for the malformed cases. */
function sourceWith(files: Record<string, string>): { repo: string; src: string } {
  const t = makeTempDir();
  temps.push(t.cleanup);
  const src = join(t.dir, 'src', 'app');
  mkdirSync(src, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(src, f), text);
  return { repo: t.dir, src: 'src/app' };
}

const CASES = [
  { fixture: 'node-js-getting-started', name: 'shop', args: ['--config', 'src/shop/heroku-config.json', '--health-path', '/healthz'] },
  { fixture: 'python-getting-started', name: 'django', args: [] },
  { fixture: 'go-getting-started', name: 'go-getting-started', args: [] },
];

describe('skyrec import heroku', () => {
  it.each(CASES)('$fixture: writes a spec that equals its golden and validates', async ({ fixture, name, args }) => {
    const repo = repoWith(fixture, name);
    const nameArgs = name === fixture ? [] : ['--name', name];
    const r = await runCli(['import', 'heroku', `src/${name}`, ...nameArgs, ...args], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote apps/${name}\\.yaml\\n`));
    const spec = readFileSync(join(repo, 'apps', `${name}.yaml`), 'utf8');
    await expect(spec).toMatchFileSnapshot(`../golden/heroku/${fixture}.yaml`);
    await expect(r.stderr).toMatchFileSnapshot(`../golden/heroku/${fixture}.stderr.txt`);
    const v = await runCli(['validate', '--repo', repo]);
    expect(stderrBesidesWarnings(v.stderr)).toEqual([]);
    expect(v).toMatchObject({ code: 0 });
    expect(v.stdout).toMatch(/valid \(3 nodes, 3 apps, /);
    // What the imported spec renders to: the app's NixOS module on a node that runs it.
    const out = join(repo, 'rendered');
    const rendered = await runCli(['render', '--repo', repo, '--out', out]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const node = readdirSync(out).sort().find((n) => existsSync(join(out, n, 'apps', `${name}.nix`)));
    expect(node).toBeDefined();
    await expect(readFileSync(join(out, node!, 'apps', `${name}.nix`), 'utf8')).toMatchFileSnapshot(`../golden/heroku/${fixture}.nix`);
  });

  it('maps the Procfile, app.json and config vars as a Heroku user expects', async () => {
    const repo = repoWith('node-js-getting-started', 'shop');
    const r = await runCli(['import', 'heroku', 'src/shop', '--name', 'shop', '--config', 'src/shop/heroku-config.json', '--health-path', '/healthz'], { cwd: repo });
    expect(r.code).toBe(0);
    const spec = readFileSync(join(repo, 'apps/shop.yaml'), 'utf8');
    // Formation → instances; web gets the health path asked for; the worker none.
    expect(spec).toContain('web:\n    command: npm start\n    instances: 2\n    healthcheck:\n      path: /healthz\n');
    expect(spec).toContain('worker:\n    command: node worker.js\n    instances: 1\n');
    // Credentials by name, value or app.json's word become secrets; config wins over app.json's default.
    expect(spec).toContain('secrets:\n  - PAPERTRAIL_API_TOKEN\n  - SENTRY_DSN\n  - SESSION_SECRET\n  - STRIPE_PUBLISHABLE_KEY\n');
    expect(spec).toContain('env:\n  FEATURE_FLAGS: new-checkout,dark-mode\n  LOG_LEVEL: warn\n  NODE_ENV: production\n');
    expect(spec).toContain('addons:\n  redis: {}\n');
    // Nothing dropped silently: the other addon, dyno sizes and Heroku's own vars are listed.
    for (const line of ['not mapped: addon papertrail:choklad', 'not mapped: formation web.size standard-1x', 'not mapped: env REDIS_URL: set by addons.redis', 'not mapped: env REDIS_TLS_URL', 'not mapped: app.json image']) {
      expect(r.stderr).toContain(line);
    }
  });

  it('never writes a secret value anywhere: not in the spec, not on stdout or stderr', async () => {
    const repo = repoWith('node-js-getting-started', 'shop');
    const r = await runCli(['import', 'heroku', 'src/shop', '--name', 'shop', '--config', 'src/shop/heroku-config.json'], { cwd: repo, env: { SKYREC_LOG_LEVEL: 'debug' } });
    expect(r.code).toBe(0);
    const written = readdirSync(join(repo, 'apps')).map((f) => readFileSync(join(repo, 'apps', f), 'utf8')).join('\n');
    for (const text of [written, r.stdout, r.stderr]) expect(text).not.toMatch(/do-not-leak/);
  });

  it('turns app.json release and cron into the release command and systemd timers that systemd accepts', async () => {
    const repo = repoWith('python-getting-started', 'django');
    const r = await runCli(['import', 'heroku', 'src/django', '--name', 'django'], { cwd: repo });
    expect(r.code).toBe(0);
    const spec = readFileSync(join(repo, 'apps/django.yaml'), 'utf8');
    expect(spec).toContain('release: python manage.py migrate --no-input\n');
    expect(spec).toContain('secrets:\n  - ALLOWED_HOSTS\n  - DJANGO_SECRET_KEY\n');
    // A schedule with both day fields has no exact systemd form: listed, not guessed.
    expect(r.stderr).toContain('not mapped: cron "0 0 1 * 1" (python manage.py rotate_logs)');
    expect(r.stderr).not.toContain('addon scheduler');
  });

  it('translates crontab schedules only where systemd means the same', async () => {
    const cases: [string, string | null][] = [
      ['30 3 * * *', '*-*-* 03:30:00'],
      ['*/10 * * * *', '*-*-* *:00/10:00'],
      ['0 9 * * 1-5', 'Mon..Fri *-*-* 09:00:00'],
      ['15 0 1,15 * *', '*-*-01,15 00:15:00'],
      ['0 */6 * 1-3 *', '*-01..03-* 00/6:00:00'],
      ['0 4 * * sun', 'Sun *-*-* 04:00:00'],
      ['@hourly', 'hourly'],
      ['0 0 1 * 1', null],
      ['1-10/2 * * * *', null],
      ['61 * * * *', null],
      ['* * *', null],
    ];
    for (const [cron, calendar] of cases) expect(cronToCalendar(cron), cron).toBe(calendar);
    // systemd's own parser accepts each, unchanged.
    const mapped = cases.map(([, c]) => c).filter((c): c is string => c !== null);
    const { stdout } = await exec(['systemd-analyze', 'calendar', ...mapped]);
    const normalized = [...stdout.matchAll(/Normalized form: (.*)/g)].map((m) => m[1]);
    expect(normalized).toHaveLength(mapped.length);
  });

  it('reports a malformed app.json at file:line:col and writes nothing', async () => {
    const { repo, src } = sourceWith({
      'package.json': '{ "name": "app" }\n',
      Procfile: 'web: node web.js\n',
      'app.json': '{\n  "name": "app",\n  "env": {\n    "A": "b",\n  }\n}\n',
    });
    const r = await runCli(['import', 'heroku', src], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`${src}/app.json:5:3: invalid JSON: a trailing ',' is not allowed in JSON`);
    expect(existsSync(join(repo, 'apps'))).toBe(false);
  });

  it('reports every bad value of app.json and every bad Procfile line together, and writes nothing', async () => {
    const { repo, src } = sourceWith({
      'package.json': '{ "name": "app" }\n',
      Procfile: 'web: node web.js\nworker node worker.js\n',
      'app.json': '{\n  "formation": {\n    "web": { "quantity": "two" }\n  },\n  "addons": [42]\n}\n',
    });
    const r = await runCli(['import', 'heroku', src], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${src}/Procfile:2:1: expected '<process type>: <command>', got "worker node worker.js"`,
      `${src}/app.json:3:26: formation web.quantity must be a whole number of dynos`,
      `${src}/app.json:5:14: an addon must be a plan name like "heroku-postgresql" or an object with a "plan"`,
      `3 problems in ${src}; nothing was written.`,
    ]);
    expect(existsSync(join(repo, 'apps'))).toBe(false);
  });

  it('reports a malformed --config at its position without quoting any value', async () => {
    const { repo, src } = sourceWith({ 'package.json': '{ "name": "app" }\n', 'config.json': '{\n  "API_TOKEN": "hunter2-secret",\n  "RETRIES": 3\n}\n' });
    const r = await runCli(['import', 'heroku', src, '--config', `${src}/config.json`], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`${src}/config.json:3:14: the value of RETRIES must be a string`);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('refuses to overwrite the spec without --force', async () => {
    const repo = repoWith('go-getting-started', 'go-getting-started');
    writeFileSync(join(repo, 'apps/go-getting-started.yaml'), 'mine\n');
    const r = await runCli(['import', 'heroku', 'src/go-getting-started'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/go-getting-started\.yaml exists; nothing was written\nhint: pass --force/);
    expect(readFileSync(join(repo, 'apps/go-getting-started.yaml'), 'utf8')).toBe('mine\n');
    const forced = await runCli(['import', 'heroku', 'src/go-getting-started', '--force'], { cwd: repo });
    expect(forced.code).toBe(0);
    expect(readFileSync(join(repo, 'apps/go-getting-started.yaml'), 'utf8')).toMatch(/^# Imported from a Heroku app/);
  });

  it('says where to copy a source folder that is outside the config repo', async () => {
    const { repo } = sourceWith({});
    const r = await runCli(['import', 'heroku', join(HEROKU, 'go-getting-started'), '--repo', repo, '--name', 'gogo'], { cwd: repo });
    expect(r.code).toBe(0);
    expect(readFileSync(join(repo, 'apps/gogo.yaml'), 'utf8')).toContain('path: src/gogo\n');
    expect(r.stdout).toContain(`copy ${join(HEROKU, 'go-getting-started')} to src/gogo (package.build.path), then run skyrec validate`);
  });

  it('refuses a bad name, a bad health path and a folder with no stack', async () => {
    const repo = repoWith('go-getting-started', 'go-getting-started');
    const bad = await runCli(['import', 'heroku', 'src/go-getting-started', '--name', 'Go_App'], { cwd: repo });
    expect(bad).toMatchObject({ code: 2 });
    expect(bad.stderr).toMatch(/^error: 'Go_App' is not a valid app name/);
    const path = await runCli(['import', 'heroku', 'src/go-getting-started', '--health-path', 'health"; rm -rf /'], { cwd: repo });
    expect(path.code).toBe(2);
    expect(path.stderr).toMatch(/^error: --health-path .* is not an absolute URL path/);
    const none = await runCli(['import', 'heroku', 'apps'], { cwd: repo });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: no stack detected in apps: looked for nodejs/);
  });
});

// Heroku's own apps as they are upstream (test/fixtures/heroku-real names the commits): what
// skyrec does about requirements.txt and a Go module without vendor/.
const REAL = join(root, 'test/fixtures/heroku-real');
const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));

/** A folder holding only `uv-stand-in`'s script, named uv: it checks its argv and writes what uv writes. */
function uvStandIn(): { bin: string; log: string } {
  const t = makeTempDir();
  temps.push(t.cleanup);
  const log = join(t.dir, 'argv.log');
  const project = (deps: string) => `[project]\\nname = "python-getting-started"\\nversion = "0.1.0"\\nrequires-python = ">=3.14"\\ndependencies = [${deps}]\\n`;
  const script = [
    '#!/bin/sh',
    '# uv-stand-in: models `uv init --bare` (writes pyproject.toml) and `uv add -r requirements.txt` (adds them, writes uv.lock).',
    `echo "$*" >> '${log}'`,
    'case "$*" in',
    '  --version) echo "uv 0.9.0 (uv-stand-in)" ;;',
    `  "init --bare") [ -e pyproject.toml ] && { echo "error: Project is already initialized" >&2; exit 2; }; printf '${project('')}' > pyproject.toml ;;`,
    `  "add -r requirements.txt") printf '${project('\\n    "django>=6.0,<6.1",\\n    "gunicorn>=26,<27",\\n')}' > pyproject.toml; printf 'version = 1\\nrevision = 3\\nrequires-python = ">=3.14"\\n' > uv.lock ;;`,
    '  *) echo "uv-stand-in: unexpected argv: $*" >&2; exit 2 ;;',
    'esac',
  ].join('\n');
  writeFileSync(join(t.dir, 'uv'), `${script}\n`, { mode: 0o755 });
  return { bin: t.dir, log };
}

describe('skyrec import heroku on the upstream apps', () => {
  it('python with requirements.txt and no uv: imports, and says the exact uv commands that validate then asks for', async () => {
    const t = makeTempDir();
    temps.push(t.cleanup);
    const repo = repoWith('../heroku-real/python-getting-started', 'django');
    const r = await runCli(['import', 'heroku', 'src/django', '--name', 'django'], { cwd: repo, env: { PATH: t.dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('note: src/django has requirements.txt, and skyrec builds Python from uv.lock; uv is not installed here: install it (https://docs.astral.sh/uv/), then run in src/django: `uv init --bare && uv add -r requirements.txt`, and commit pyproject.toml and uv.lock');
    const v = await runCli(['validate', '--repo', repo]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('run `uv init --bare && uv add -r requirements.txt`');
  });

  it('python with uv installed (uv-stand-in): writes pyproject.toml and uv.lock, and the repo validates as Python 3.14', async () => {
    const uv = uvStandIn();
    const repo = repoWith('../heroku-real/python-getting-started', 'django');
    const r = await runCli(['import', 'heroku', 'src/django', '--name', 'django'], { cwd: repo, env: { PATH: `${uv.bin}:${process.env.PATH}` } });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(uv.log, 'utf8')).toBe('--version\ninit --bare\nadd -r requirements.txt\n');
    expect(r.stderr).toContain('note: ran `uv init --bare && uv add -r requirements.txt` in src/django: commit the pyproject.toml and uv.lock it wrote');
    const v = await runCli(['validate', '--repo', repo]);
    expect(stderrBesidesWarnings(v.stderr)).toEqual([]);
    expect(v.code).toBe(0);
    const out = join(repo, 'rendered');
    expect((await runCli(['render', '--repo', repo, '--out', out])).code).toBe(0);
    const node = readdirSync(out).find((n) => existsSync(join(out, n, 'apps', 'django.nix')));
    expect(readFileSync(join(out, node!, 'apps', 'django.nix'), 'utf8')).toContain('pkgs.python314');
  });

  it('go without vendor/: says why vendorHash could not be computed here and the command to run', async () => {
    const repo = repoWith('../heroku-real/go-getting-started', 'go-getting-started');
    const r = await runCli(['import', 'heroku', 'src/go-getting-started'], { cwd: repo, env: { GOFLAGS: '-mod=mod', GOPROXY: 'off' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: vendorHash not computed: .*; then run `skyrec vendor-hash src\/go-getting-started` and set package.build.vendorHash/);
  });
});

describe('skyrec detect on the upstream apps', () => {
  it.each(['python-getting-started', 'go-getting-started'])('%s: text and JSON equal their goldens', async (name) => {
    const path = `test/fixtures/heroku-real/${name}`;
    const text = await runCli(['detect', path], { cwd: root });
    expect(text).toMatchObject({ code: 0, stderr: '' });
    await expect(text.stdout).toMatchFileSnapshot(`../golden/heroku-real/${name}.detect.txt`);
    const json = await runCli(['detect', path, '--json'], { cwd: root });
    await expect(json.stdout).toMatchFileSnapshot(`../golden/heroku-real/${name}.detect.json`);
  });
});

describe('skyrec vendor-hash', () => {
  it.skipIf(!onPath('go') || !onPath('nix'))('hashes the vendor folder go mod vendor writes, as buildGoModule does (offline: a local replace)', async () => {
    const repo = repoWith('../go-replace', 'links');
    const env = { GOFLAGS: '-mod=mod', GOPROXY: 'off' };
    const r = await runCli(['vendor-hash', 'src/links', '--json'], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { vendorHash: string; go: string };
    // The same folder vendored and hashed by hand, with the commands the README gives.
    const by = await exec(['sh', '-c', 'go mod vendor && nix --extra-experimental-features nix-command hash path vendor && rm -r vendor'], { cwd: join(repo, 'src/links'), env: { ...process.env, ...env } as Record<string, string> });
    expect(got).toEqual({ path: 'src/links', vendorHash: by.stdout.trim(), go: expect.stringMatching(/^go version go1\./) });
    expect(got.vendorHash).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    expect(existsSync(join(repo, 'src/links/vendor'))).toBe(false);
    const text = await runCli(['vendor-hash', 'src/links'], { cwd: repo, env });
    expect(text.stdout).toBe(`vendorHash: "${got.vendorHash}"\n`);
  });

  it('says what is missing when go or nix is not installed, and how to do it by hand', async () => {
    const t = makeTempDir();
    temps.push(t.cleanup);
    const repo = repoWith('../go-replace', 'links');
    const r = await runCli(['vendor-hash', 'src/links'], { cwd: repo, env: { PATH: t.dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: computing vendorHash needs go and nix on PATH');
    expect(r.stderr).toContain('go mod vendor && nix --extra-experimental-features nix-command hash path vendor && rm -r vendor');
  });
});
