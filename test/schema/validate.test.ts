// A corpus of broken config repos, each asserting exactly what the user reads.
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { worktreeSource } from '../../schema/source.js';
import { checkRepo, locateIssue } from '../../schema/validate.js';
import { makeRepo, problemsIn, problemsWith, removeRepos } from './repo.js';

afterEach(removeRepos);

const blog = (rest: string) => `name: blog\npackage: { nixpkgs: hello }\n${rest}`;
const site = (build: string, rest = 'processes:\n  web: {}\n') => `name: site\npackage:\n  build: ${build}\n${rest}`;

describe('the fixture', () => {
  test('is valid', async () => {
    expect(await problemsWith({})).toEqual([]);
  });
});

describe('YAML syntax', () => {
  test('malformed YAML is reported at the line and column the parser stopped', async () => {
    expect(
      await problemsWith({
        'apps/blog.yaml': 'name: blog\npackage:\n  nixpkgs: [hello\nenv: {}\n',
        'apps/site.yaml': 'name: "site\n',
      }),
    ).toEqual([
      'apps/blog.yaml:4:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'apps/site.yaml:2:1: invalid YAML: Missing closing "quote',
    ]);
  });

  test('a duplicate key is an error at the second key', async () => {
    expect(
      await problemsWith({ 'apps/blog.yaml': 'name: blog\npackage:\n  nixpkgs: hello\n  nixpkgs: world\n' }),
    ).toEqual(["apps/blog.yaml:4:3: duplicate key 'nixpkgs'; a key may appear only once in a mapping"]);
  });

  test('a billion-laughs alias bomb is refused at its first alias', async () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [prev, cur] of ['ab', 'bc', 'cd', 'de', 'ef', 'fg', 'gh', 'hi']) {
      laughs.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    expect(await problemsWith({ 'apps/blog.yaml': `${laughs.join('\n')}\n` })).toEqual([
      'apps/blog.yaml:2:8: YAML aliases expand to too many values (more than 100; a "billion laughs" bomb?); write the values out instead of nesting anchors',
    ]);
  });

  test('a 10 MiB file is refused before it is read', async () => {
    const big = `name: blog\nrelease: "${'x'.repeat(10 * 1024 * 1024 - 24)}"\n`;
    expect(await problemsWith({ 'apps/blog.yaml': big })).toEqual([
      'apps/blog.yaml:1:1: file is 10.0 MiB; a spec may be at most 1 MiB',
    ]);
  });

  test('empty files and non-mappings', async () => {
    expect(await problemsWith({ 'apps/blog.yaml': '# nothing yet\n', 'apps/site.yaml': '- name: site\n' })).toEqual([
      'apps/blog.yaml:1:1: the file is empty; expected a mapping with name and package',
      'apps/site.yaml:1:1: the file must be a mapping, got a list',
    ]);
  });
});

describe('schema errors name the field and what would be valid', () => {
  test('wrong types', async () => {
    const spec = blog(
      'processes:\n  web:\n    command: blog serve\n    instances: two\n  worker:\nenv:\n  LOG_LEVEL: { level: info }\ndomains: blog.example.com\n',
    );
    expect(await problemsWith({ 'apps/blog.yaml': spec })).toEqual([
      "apps/blog.yaml:6:16: processes.web.instances must be an integer, got string 'two'",
      'apps/blog.yaml:7:3: processes.worker must be a mapping, got an empty value; write {} for an empty mapping',
      'apps/blog.yaml:9:14: env.LOG_LEVEL must be a string, number or boolean, got a mapping',
      "apps/blog.yaml:10:10: domains must be a list, got string 'blog.example.com'",
    ]);
  });

  test('unknown fields, at the key, with the valid ones', async () => {
    const spec = blog('processes:\n  web:\n    comand: blog serve\n    foo: 1\ndomain: [blog.example.com]\n');
    expect(await problemsWith({ 'apps/blog.yaml': spec })).toEqual([
      "apps/blog.yaml:5:5: unknown field 'comand' in processes.web (did you mean 'command'?); valid fields: command, instances, healthcheck",
      "apps/blog.yaml:6:5: unknown field 'foo' in processes.web; valid fields: command, instances, healthcheck",
      "apps/blog.yaml:7:1: unknown field 'domain' (did you mean 'domains'?); valid fields: name, package, processes, release, cron, env, secrets, domains, resources, addons, placement, deploy",
    ]);
  });

  test('missing required fields and packages with zero or two sources', async () => {
    expect(
      await problemsWith({
        'apps/blog.yaml': 'name: blog\nprocesses: {}\n',
        'apps/site.yaml': 'name: site\npackage: {}\n',
        'apps/shop.yaml':
          'name: shop\npackage:\n  nixpkgs: hello\n  flake: "github:acme/shop/0123456789abcdef0123456789abcdef01234567#default"\n',
      }),
    ).toEqual([
      "apps/blog.yaml:1:1: missing required field 'package'",
      'apps/shop.yaml:3:3: package needs exactly one of nixpkgs, flake, build',
      'apps/site.yaml:2:10: package needs exactly one of nixpkgs, flake, build',
    ]);
  });

  test('enums list the allowed values; limits say the limit', async () => {
    const spec = site(
      '{ stack: java, path: src/site }',
      'processes:\n  web:\n    instances: 5000\n    healthcheck: { interval: 5 }\n',
    );
    expect(await problemsWith({ 'apps/site.yaml': spec })).toEqual([
      "apps/site.yaml:3:19: package.build.stack must be one of nodejs, python, go, rust or static; got 'java'",
      'apps/site.yaml:6:16: processes.web.instances must be at most 1000, got 5000',
      'apps/site.yaml:7:30: processes.web.healthcheck.interval must be a string, got 5',
    ]);
  });

  test('an app name that is not a DNS label', async () => {
    expect(await problemsWith({ 'apps/Blog_1.yaml': 'name: Blog_1\npackage: { nixpkgs: hello }\n' })).toEqual([
      "apps/Blog_1.yaml:1:7: name 'Blog_1' is not a DNS label: use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 63 characters",
    ]);
  });

  test('domains with spaces or braces, and a domain listed twice', async () => {
    const spec = blog(
      'domains:\n  - blog example.com\n  - "{blog}.example.com"\n  - a.example.com\n  - a.example.com\n',
    );
    const hint =
      "use lowercase names like 'blog.example.com': letters, digits and '-' in dot-separated parts, without spaces, ports, wildcards or braces";
    expect(await problemsWith({ 'apps/blog.yaml': spec })).toEqual([
      `apps/blog.yaml:4:5: domains[0] 'blog example.com' is not a valid domain name: ${hint}`,
      `apps/blog.yaml:5:5: domains[1] '{blog}.example.com' is not a valid domain name: ${hint}`,
      "apps/blog.yaml:7:5: domains lists 'a.example.com' more than once",
    ]);
  });

  test('bad keys of env and processes, and a NUL in a command', async () => {
    const spec = blog('processes:\n  Web:\n    command: "a\\0b"\nenv:\n  bad-name: 1\n');
    expect(await problemsWith({ 'apps/blog.yaml': spec })).toEqual([
      "apps/blog.yaml:4:3: key 'Web' in processes is not valid: use lowercase letters and digits in words joined by single '-', starting with a letter, e.g. 'web' or 'queue-worker'",
      'apps/blog.yaml:5:14: processes.Web.command must not contain a NUL character',
      "apps/blog.yaml:7:3: key 'bad-name' in env is not valid: An environment variable name: letters, digits and '_', not starting with a digit",
    ]);
  });

  test('fleet.yaml: types, patterns and ranges', async () => {
    const fleet =
      'settings:\n  portRange: { from: 80 }\n  rollout: { healthTimeout: 1 minute }\nnodes:\n  - name: web_1\n    host: root@10.0.0.11\n';
    expect(await problemsWith({ 'fleet.yaml': fleet })).toEqual([
      "fleet.yaml:2:14: missing required field 'to' in settings.portRange",
      'fleet.yaml:2:22: settings.portRange.from must be at least 1024, got 80',
      "fleet.yaml:3:29: settings.rollout.healthTimeout '1 minute' is not valid: A duration: a number with ms, s, m or h, e.g. '5s', '250ms'",
      "fleet.yaml:5:5: missing required field 'address' in nodes[0]",
      "fleet.yaml:5:11: nodes[0].name 'web_1' is not a DNS label: use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 63 characters",
    ]);
  });
});

describe('rules across fields and files', () => {
  test('two files for one app', async () => {
    expect(await problemsWith({ 'apps/blog.yml': blog('domains: [blog.example.com]\n') })).toEqual([
      "apps/blog.yml:1:7: app 'blog' is also defined by apps/blog.yaml; keep one file per app",
    ]);
  });

  test('two files for one app, the second unparseable', async () => {
    expect(await problemsWith({ 'apps/site.yml': 'name: [site\n' })).toEqual([
      "apps/site.yml:1:1: app 'site' is also defined by apps/site.yaml; keep one file per app",
      'apps/site.yml:2:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  test('the name must equal the file name and must not be reserved', async () => {
    expect(
      await problemsWith({
        'apps/blog.yaml': 'name: blog2\npackage: { nixpkgs: hello }\n',
        'apps/postgres.yaml': 'name: postgres\npackage: { nixpkgs: hello }\n',
      }),
    ).toEqual([
      "apps/blog.yaml:1:7: name 'blog2' must equal the file name 'blog' (apps/blog.yaml); rename the file or the app",
      "apps/postgres.yaml:1:7: name 'postgres' is reserved: it would clash with a system user or unit; reserved names: root, nobody, postgres, postgresql, redis, caddy, nix, nixbld, systemd, sshd, messagebus, skyrec",
    ]);
  });

  test('two apps claiming one domain: reported on the second, naming the first', async () => {
    const spec = site(
      '{ stack: static, path: src/site }',
      'processes:\n  web: {}\ndomains: [example.com, blog.example.com]\n',
    );
    expect(await problemsWith({ 'apps/site.yaml': spec })).toEqual([
      "apps/site.yaml:6:24: domain 'blog.example.com' is already claimed by apps/blog.yaml; a domain routes to one app",
    ]);
  });

  test('placement labels that no node carries', async () => {
    expect(
      await problemsWith({
        'apps/blog.yaml': blog('placement:\n  labels: { role: cache }\n'),
        'apps/site.yaml': site(
          '{ stack: static, path: src/site }',
          'processes:\n  web: {}\nplacement: { labels: { role: db, region: eu } }\n',
        ),
      }),
    ).toEqual([
      'apps/blog.yaml:4:11: no node has labels role=cache; nodes have: region=eu, role=db, role=web',
      'apps/site.yaml:6:22: no node has labels region=eu, role=db; nodes have: region=eu, role=db, role=web',
    ]);
  });

  test('secret-looking env keys, and a name in both env and secrets', async () => {
    const spec = blog(
      'env:\n  DB_PASSWORD: hunter2\n  api_key: abc\n  TOKEN: t\n  MONKEY: ok\n  KEYBOARD: ok\n  SESSION_KEY: s\nsecrets: [SESSION_KEY]\n',
    );
    const advice =
      'looks like a secret, but env values are public (they land in the Nix store); list it under secrets: instead';
    expect(await problemsWith({ 'apps/blog.yaml': spec })).toEqual([
      `apps/blog.yaml:4:3: env key 'DB_PASSWORD' ${advice}`,
      `apps/blog.yaml:5:3: env key 'api_key' ${advice}`,
      `apps/blog.yaml:6:3: env key 'TOKEN' ${advice}`,
      "apps/blog.yaml:9:3: 'SESSION_KEY' is in both env and secrets; keep it only in secrets",
    ]);
  });

  test('build.path that escapes the repo, by pattern and by symlink', async () => {
    const repo = makeRepo({
      'apps/site.yaml': site('{ stack: static, path: ../x }'),
      'apps/docs.yaml': 'name: docs\npackage:\n  build: { stack: static, path: src/link }\n',
    });
    symlinkSync(path.dirname(repo), path.join(repo, 'src/link'));
    expect(await problemsIn(repo)).toEqual([
      "apps/docs.yaml:3:33: package.build.path 'src/link' is not a folder of the config repo (it is missing, or a link that points outside the repo)",
      "apps/site.yaml:3:33: package.build.path '../x' is not valid: give a folder inside the config repo, relative to its root, without '..', '.' or a leading '/', e.g. 'src/blog'",
    ]);
  });

  test('an app file that is a link to outside the repo is not read', async () => {
    const repo = makeRepo();
    const outside = path.join(path.dirname(repo), 'outside.yaml');
    writeFileSync(outside, 'name: evil\npackage: { nixpkgs: hello }\n');
    symlinkSync(outside, path.join(repo, 'apps/evil.yaml'));
    expect(await problemsIn(repo)).toEqual([
      'apps/evil.yaml:1:1: not a regular file inside the config repo (a folder, or a link pointing outside it)',
    ]);
  });

  test('build.path that is missing or a file', async () => {
    expect(
      await problemsWith({
        'apps/site.yaml': site('{ stack: static, path: src/nope }'),
        'apps/docs.yaml': 'name: docs\npackage:\n  build: { stack: static, path: src/site/index.html }\n',
      }),
    ).toEqual([
      "apps/docs.yaml:3:33: package.build.path 'src/site/index.html' is a file; it must be a folder of the config repo",
      "apps/site.yaml:3:33: package.build.path 'src/nope' is not a folder of the config repo (it is missing, or a link that points outside the repo)",
    ]);
  });

  test('a go source without go.mod, and exactly one of path or git', async () => {
    expect(
      await problemsWith({
        'apps/site.yaml': site('{ stack: go, path: src/site }', 'processes:\n  web: { command: site }\n'),
        'apps/docs.yaml': 'name: docs\npackage:\n  build: { stack: static }\n',
      }),
    ).toEqual([
      'apps/docs.yaml:3:3: package.build needs exactly one of path, git',
      'apps/site.yaml:3:29: stack go needs src/site/go.mod; run `go mod init <module path>` in src/site and commit it',
    ]);
  });

  test('nodejs from a path needs package-lock.json unless npmDepsHash is given or package.json declares no dependencies', async () => {
    const hash = `sha256-${'A'.repeat(43)}=`;
    const web = 'processes:\n  web: { command: npm start }\n';
    const app = (name: string, dir: string) => `name: ${name}\npackage:\n  build: { stack: nodejs, path: ${dir} }\n${web}`;
    expect(
      await problemsWith({
        'apps/site.yaml': site('{ stack: nodejs, path: src/site }', web),
        'src/site/package.json': JSON.stringify({ name: 'site', dependencies: { express: '^4.19.0' } }),
        'apps/docs.yaml': `name: docs\npackage:\n  build: { stack: nodejs, path: src/site, npmDepsHash: "${hash}" }\n${web}`,
        'apps/shop.yaml': app('shop', 'src/shop'),
        'src/shop/package-lock.json': '{ "lockfileVersion": 3, "packages": { "": { "name": "shop" } } }',
        'apps/tiny.yaml': app('tiny', 'src/tiny'),
        'src/tiny/package.json': JSON.stringify({ name: 'tiny', scripts: { start: 'node server.js' } }),
        'apps/bare.yaml': app('bare', 'src/bare'),
        'src/bare/server.js': '',
      }),
    ).toEqual([
      'apps/bare.yaml:3:33: stack nodejs needs src/bare/package.json',
      'apps/site.yaml:3:33: stack nodejs needs src/site/package-lock.json to fetch dependencies (or set package.build.npmDepsHash); run npm install in src/site and commit the lock file',
    ]);
  });

  test('commands: only the web process of a static site may omit one', async () => {
    expect(
      await problemsWith({
        'apps/site.yaml': site(
          '{ stack: static, path: src/site }',
          'processes:\n  web: {}\n  worker: { instances: 1 }\n',
        ),
        'apps/blog.yaml': blog('processes:\n  web: { instances: 2 }\n'),
      }),
    ).toEqual([
      'apps/blog.yaml:4:3: processes.web needs a command',
      'apps/site.yaml:6:3: processes.worker needs a command; only the web process of a static site may omit it',
    ]);
  });

  test('domains need a web process', async () => {
    expect(
      await problemsWith({
        'apps/blog.yaml': blog('processes:\n  worker: { command: w }\ndomains: [blog.example.com]\n'),
      }),
    ).toEqual(["apps/blog.yaml:5:1: domains need a process named 'web' to route to"]);
  });

  test('fleet rules: unique node names, port range order, capacity in range', async () => {
    const node = (name: string, extra = '') => `  - { name: ${name}, host: ${name}, address: 10.0.0.1${extra} }\n`;
    const fleet = `settings:\n  portRange: { from: 30000, to: 20000 }\nnodes:\n${node('a')}${node('b', ', capacity: { memory: 999999999999T }')}${node('a')}`;
    expect(await problemsWith({ 'fleet.yaml': fleet, 'apps/blog.yaml': null, 'apps/site.yaml': null })).toEqual([
      'fleet.yaml:2:22: settings.portRange.from (30000) must be less than to (20000)',
      "fleet.yaml:5:64: nodes[1].capacity.memory '999999999999T' is too large",
      "fleet.yaml:6:13: node name 'a' is already used by nodes[0] (line 4); node names must be unique",
    ]);
  });

  test('node addresses are IP addresses: they go into firewall rules that nftables checks without DNS', async () => {
    const fleet =
      'nodes:\n  - { name: a, host: root@a.internal, address: 10.0.0.1 }\n  - name: db\n    host: root@db.internal\n    address: db.internal\n' +
      '  - { name: v6, host: v6, address: "fd00::12" }\n  - { name: bad, host: bad, address: 10.0.0.256 }\n';
    expect(await problemsWith({ 'fleet.yaml': fleet, 'apps/blog.yaml': null, 'apps/site.yaml': null })).toEqual([
      "fleet.yaml:5:14: nodes[1].address 'db.internal' must be an IP address: it is written into firewall rules, which nftables checks at build time without DNS; write the node's private IPv4 or IPv6 address (e.g. 10.0.0.11 or fd00::11)",
      "fleet.yaml:7:38: nodes[3].address '10.0.0.256' must be an IP address: it is written into firewall rules, which nftables checks at build time without DNS; write the node's private IPv4 or IPv6 address (e.g. 10.0.0.11 or fd00::11)",
    ]);
  });

  test('a missing fleet.yaml', async () => {
    expect(await problemsWith({ 'fleet.yaml': null })).toEqual([
      'fleet.yaml:1:1: missing fleet.yaml; the config repo needs one listing at least one node',
    ]);
    expect(await problemsWith({ 'fleet.yaml': null, 'fleet.yml': 'nodes: []\n' })).toEqual([
      'fleet.yaml:1:1: missing fleet.yaml; the config repo needs one listing at least one node (found fleet.yml: rename it to fleet.yaml)',
    ]);
  });
});

describe('reporting', () => {
  test('a problem in one file does not hide problems in others', async () => {
    expect(
      await problemsWith({
        'fleet.yaml': 'nodes: [\n',
        'apps/blog.yaml': blog('processes:\n  web: { command: x, instances: -1 }\n'),
        'apps/site.yaml': site(
          '{ stack: static, path: src/site }',
          'processes:\n  web: {}\nenv: { GITHUB_TOKEN: x }\n',
        ),
      }),
    ).toEqual([
      'apps/blog.yaml:4:33: processes.web.instances must be at least 0, got -1',
      "apps/site.yaml:6:8: env key 'GITHUB_TOKEN' looks like a secret, but env values are public (they land in the Nix store); list it under secrets: instead",
      'fleet.yaml:2:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  test('locateIssue positions a placement issue at the app field', async () => {
    const { loaded } = await checkRepo(worktreeSource(makeRepo()));
    const issue = {
      app: 'blog',
      path: ['resources', 'memory'],
      message: 'needs 512M per instance; no eligible node has that much free',
    };
    expect(locateIssue(loaded, issue)).toEqual({ file: 'apps/blog.yaml', line: 20, col: 22, message: issue.message });
    expect(locateIssue(loaded, { ...issue, app: 'gone' })).toEqual({
      file: 'apps/gone.yaml',
      line: 1,
      col: 1,
      message: issue.message,
    });
  });
});

describe('addons.postgres.version', () => {
  test('names a PostgreSQL major the pinned NixOS release packages; another is refused at its line', async () => {
    const problems = await problemsWith({ 'apps/blog.yaml': blog('processes:\n  web: {}\naddons:\n  postgres: { version: 13 }\n') });
    expect(problems).toEqual(['apps/blog.yaml:6:24: addons.postgres.version must be one of 14, 15, 16, 17 or 18; got 13']);
  });

  test("the schema's majors are the release's", async () => {
    const { NIXOS_RELEASE } = await import('../../common/nixos-release.js');
    const schema = (await import('../../schema/app.schema.json', { with: { type: 'json' } })).default as any;
    expect(schema.properties.addons.properties.postgres.properties.version.enum).toEqual(NIXOS_RELEASE.postgres.majors);
    expect(NIXOS_RELEASE.postgres.majors).toContain(NIXOS_RELEASE.postgres.default);
  });
});
