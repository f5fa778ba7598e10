// flake.nix's nixosModules.default (services.skyrec) as an operator meets it: the command the
// service runs, its credentials, state and hardening, the firewall, and the assertion messages.
// There is no nixpkgs here, so the module system is stood in (module-system-standin.nix); the
// module's script runs in a real bash, and its unit goes through real systemd's parser.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';

const ROOT = packageRoot();
const STANDIN = join(ROOT, 'test', 'flake', 'module-system-standin.nix');
const tmp = makeTempDir('skyrec-nixos-module-');
afterAll(() => tmp.cleanup());

// The package the stand-in `self` provides: its bin/skyrec prints the argv it was given.
const pkg = join(tmp.dir, 'skyrec-package');
mkdirSync(join(pkg, 'bin'), { recursive: true });
writeFileSync(join(pkg, 'bin', 'skyrec'), `#!${process.execPath}\nconsole.log(JSON.stringify(process.argv.slice(2)));\n`);
chmodSync(join(pkg, 'bin', 'skyrec'), 0o755);

const CREDS = '/run/credentials/skyrec.service';
const URL = 'https://git.example.com/acme/fleet.git';

interface Evaluated {
  config: any;
  failedAssertions: string[];
  warnings: string[];
  options: Record<string, { type: string; hasDescription: boolean; default: unknown }>;
}

let n = 0;
/** services.skyrec set to `settings` (JSON, or a Nix expression for values JSON cannot hold). */
async function evaluate(settings: Record<string, unknown>, nixSettings = '{ }'): Promise<{ default: Evaluated; skyrec: Evaluated }> {
  const file = join(tmp.dir, `settings-${n++}.json`);
  writeFileSync(file, JSON.stringify(settings));
  const expr = `import ${STANDIN} { flakeDir = ${ROOT}; packageOutPath = ${JSON.stringify(pkg)}; settings = builtins.fromJSON (builtins.readFile ${file}) // ${nixSettings}; }`;
  return (await nixEvalJson(expr)) as { default: Evaluated; skyrec: Evaluated };
}
const enabled = async (settings: Record<string, unknown>, nixSettings?: string) => (await evaluate({ enable: true, ...settings }, nixSettings)).default;

/** The argv skyrec receives: the service's script run as NixOS runs it (bash -e), with systemd's $CREDENTIALS_DIRECTORY. */
async function serviceArgv(config: any): Promise<string[]> {
  const script = join(tmp.dir, `start-${n++}`);
  writeFileSync(script, `#!/bin/bash -e\n${config.systemd.services.skyrec.script}`);
  chmodSync(script, 0o755);
  const { stdout } = await exec([script], { env: { CREDENTIALS_DIRECTORY: CREDS } });
  return JSON.parse(stdout) as string[];
}

/** The unit file NixOS writes from systemd.services.skyrec (a list is one line per item), for systemd-analyze. */
function unitFile(service: any, execStart: string): string {
  const value = (v: unknown) => (v === true ? 'true' : v === false ? 'false' : String(v));
  const lines = (section: Record<string, unknown>) =>
    Object.entries(section).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}=${value(x)}`) : [`${k}=${value(v)}`]));
  return [
    '[Unit]', `Description=${service.description}`, ...lines({ After: service.after, Wants: service.wants }),
    '[Service]', `ExecStart=${execStart}`, `Environment=PATH=${service.path.map((p: string) => `${p}/bin`).join(':')}`, ...lines(service.serviceConfig),
    '[Install]', ...lines({ WantedBy: service.wantedBy }), '',
  ].join('\n');
}

describe("flake.nix nixosModules.default (services.skyrec), under a stand-in of nixpkgs' module system", () => {
  it('flake.nix parses', async () => {
    await nixParse([join(ROOT, 'flake.nix')]);
  });

  it('declares every option with a description, and the documented defaults', async () => {
    const { options } = (await evaluate({})).default;
    expect(Object.values(options).every((o) => o.hasDescription)).toBe(true);
    expect(Object.fromEntries(Object.entries(options).map(([k, o]) => [k, o.default]))).toEqual({
      enable: false, package: pkg, repo: null, branch: 'main', interval: '30s', driftInterval: '5m', selfHeal: false, listen: '127.0.0.1:9273',
      openFirewall: false, webhookSecretFile: null, gitTokenFile: null, sshKeyFile: null, driver: 'nixos', secretsDir: null, extraArgs: [],
      listenHooks: null, allowedHosts: [], readTokenFile: null, memoryMax: '4G', requireSignedBy: [], notificationSecretFiles: {},
    });
    expect(options.driver.type).toBe('one of ["nixos","local"]');
  });

  it('adds nothing to the system until enabled; nixosModules.skyrec is the same module', async () => {
    expect((await evaluate({ repo: URL })).default.config).toEqual({});
    const both = await evaluate({ enable: true, repo: URL, selfHeal: true });
    expect(both.skyrec).toEqual(both.default);
  });

  it("runs `skyrec reconcile` with the repo, branch, interval, listen and driver, --state /var/lib/skyrec, and no --self-heal unless set", async () => {
    const { config, failedAssertions } = await enabled({ repo: URL });
    expect(failedAssertions).toEqual([]);
    expect(await serviceArgv(config)).toEqual([
      'reconcile', '--repo', URL, '--branch', 'main', '--interval', '30s', '--drift-interval', '5m', '--listen', '127.0.0.1:9273', '--driver', 'nixos', '--state', '/var/lib/skyrec',
    ]);
    expect(config.systemd.services.skyrec.serviceConfig.LoadCredential).toEqual([]);
  });

  it('passes secrets as credential paths under $CREDENTIALS_DIRECTORY, loads them with LoadCredential, and never reads them', async () => {
    const token = join(tmp.dir, 'token');
    writeFileSync(token, 'ghp_never-in-the-config\n');
    // Characters a shell or systemd would act on stay one argument.
    const repo = "https://git.example.com/acme/it's a $(touch /tmp/pwned) `id` repo;%d.git";
    const evaluated = await enabled({
      repo, branch: 'prod', interval: '1m', driftInterval: '10m', selfHeal: true, listen: '0.0.0.0:9300', driver: 'local',
      gitTokenFile: token, webhookSecretFile: '/run/secrets/skyrec/webhook', sshKeyFile: '/run/agenix/deploy-key', secretsDir: '/run/secrets/apps',
      extraArgs: ['--http-port', '8081 8082'],
    });
    expect(evaluated.failedAssertions).toEqual([]);
    expect(await serviceArgv(evaluated.config)).toEqual([
      'reconcile', '--repo', repo, '--branch', 'prod', '--interval', '1m', '--drift-interval', '10m', '--listen', '0.0.0.0:9300', '--driver', 'local', '--state', '/var/lib/skyrec',
      '--self-heal', '--secrets-dir', '/run/secrets/apps',
      '--token-file', `${CREDS}/git-token`, '--webhook-secret-file', `${CREDS}/webhook-secret`, '--ssh-key', `${CREDS}/ssh-key`,
      '--http-port', '8081 8082',
    ]);
    expect(evaluated.config.systemd.services.skyrec.serviceConfig.LoadCredential).toEqual([
      `git-token:${token}`, 'webhook-secret:/run/secrets/skyrec/webhook', 'ssh-key:/run/agenix/deploy-key',
    ]);
    expect(JSON.stringify(evaluated)).not.toContain('ghp_never-in-the-config');
  });

  it('every flag the service passes is one that the built `skyrec reconcile` accepts', async () => {
    const { config } = await enabled({ repo: URL, selfHeal: true, gitTokenFile: '/t', webhookSecretFile: '/w', sshKeyFile: '/k', secretsDir: '/s', readTokenFile: '/r', listenHooks: '0.0.0.0:9274', allowedHosts: ['deploy.example.com'] });
    const flags = (await serviceArgv(config)).filter((a) => a.startsWith('--'));
    const help = await runCli(['reconcile', '--help']);
    const accepted = new Set(help.stdout.match(/--[a-z-]+/g));
    expect(flags.filter((f) => !accepted.has(f))).toEqual([]);
    expect(flags).toHaveLength(15);
  });

  it('requireSignedBy: one --require-signed-by per key file (which the built reconcile accepts), and gpg on the PATH', async () => {
    const plain = await enabled({ repo: URL });
    expect(plain.config.systemd.services.skyrec.path.filter((p: string) => p.endsWith('-gnupg'))).toEqual([]);
    const files = ['/etc/skyrec/allowed signers', '/etc/skyrec/team.asc'];
    const { config, failedAssertions } = await enabled({ repo: URL, requireSignedBy: files });
    expect(failedAssertions).toEqual([]);
    const argv = await serviceArgv(config);
    expect(argv.slice(argv.indexOf('--require-signed-by'))).toEqual(['--require-signed-by', files[0], '--require-signed-by', files[1]]);
    expect((await runCli(['reconcile', '--help'])).stdout).toContain('--require-signed-by <file>');
    expect(config.systemd.services.skyrec.path.filter((p: string) => p.endsWith('-gnupg'))).toHaveLength(1);
  });

  it('notificationSecretFiles: each loaded as a credential under its fleet.yaml name, refused from the store', async () => {
    const { config, failedAssertions } = await enabled({ repo: URL, notificationSecretFiles: { GITHUB_TOKEN: '/run/secrets/skyrec/gh', SLACK_WEBHOOK_URL: '/run/secrets/skyrec/slack' } });
    expect(failedAssertions).toEqual([]);
    expect(config.systemd.services.skyrec.serviceConfig.LoadCredential).toEqual(['GITHUB_TOKEN:/run/secrets/skyrec/gh', 'SLACK_WEBHOOK_URL:/run/secrets/skyrec/slack']);
    // No flag: $CREDENTIALS_DIRECTORY is skyrec's default --notify-secrets-dir.
    expect((await serviceArgv(config)).filter((a) => a.startsWith('--notify'))).toEqual([]);
    const store = await enabled({ repo: URL, notificationSecretFiles: { GITHUB_TOKEN: '/nix/store/00000000000000000000000000000000-gh' } });
    expect(store.failedAssertions).toEqual([expect.stringContaining('services.skyrec.notificationSecretFiles.GITHUB_TOKEN must be a secret name')]);
  });

  it('runs as the system user skyrec in a hardened unit that keeps its state in /var/lib/skyrec and lets a switch finish on SIGTERM', async () => {
    const { config } = await enabled({ repo: URL });
    expect(config.users.users.skyrec).toMatchObject({ isSystemUser: true, group: 'skyrec', home: '/var/lib/skyrec' });
    expect(config.users.groups.skyrec).toEqual({});
    expect(config.environment.systemPackages).toEqual([pkg]);
    const service = config.systemd.services.skyrec;
    expect(service).toMatchObject({ wantedBy: ['multi-user.target'], after: ['network-online.target'], wants: ['network-online.target'], restartIfChanged: false });
    expect(service.path.map((p: string) => p.replace(/^\/nix\/store\/[0-9a-z]{32}-/, ''))).toEqual(['nix', 'openssh', 'nixos-rebuild-ng', 'git', 'bash']);
    expect(service.serviceConfig).toEqual({
      User: 'skyrec', Group: 'skyrec', StateDirectory: 'skyrec', StateDirectoryMode: '0700', LoadCredential: [],
      Restart: 'on-failure', RestartSec: '10s', KillSignal: 'SIGTERM', KillMode: 'mixed', TimeoutStopSec: '35min',
      UMask: '0077', NoNewPrivileges: true, ProtectSystem: 'strict', ProtectHome: true, PrivateTmp: true, PrivateDevices: true,
      ProtectKernelTunables: true, ProtectKernelModules: true, ProtectKernelLogs: true, ProtectControlGroups: true, ProtectClock: true, ProtectHostname: true,
      RestrictAddressFamilies: ['AF_UNIX', 'AF_INET', 'AF_INET6'], RestrictNamespaces: true, RestrictRealtime: true, RestrictSUIDSGID: true, RemoveIPC: true,
      LockPersonality: true, MemoryDenyWriteExecute: false, SystemCallArchitectures: 'native', CapabilityBoundingSet: '', MemoryMax: '4G',
    });
  });

  it("real systemd-analyze verify: systemd knows every setting of the unit, with credentials loaded", async () => {
    const { config } = await enabled({ repo: URL, gitTokenFile: '/run/secrets/t', webhookSecretFile: '/run/secrets/w', sshKeyFile: '/run/secrets/k' });
    const start = join(tmp.dir, 'skyrec-start');
    writeFileSync(start, `#!/bin/bash -e\n${config.systemd.services.skyrec.script}`);
    chmodSync(start, 0o755);
    const unit = join(tmp.dir, 'skyrec.service');
    writeFileSync(unit, unitFile(config.systemd.services.skyrec, start));
    const { stderr } = await exec(['systemd-analyze', 'verify', '--man=no', unit]);
    expect(stderr.split('\n').filter((l) => l.includes('skyrec.service'))).toEqual([]);
  });

  it('opens the listen port in the firewall only with openFirewall, and warns when skyrec listens on loopback only', async () => {
    expect((await enabled({ repo: URL })).config.networking?.firewall.allowedTCPPorts).toBeUndefined();
    const open = await enabled({ repo: URL, openFirewall: true, listen: '[::]:9300', readTokenFile: '/run/secrets/skyrec/read-token' });
    expect(open.config.networking.firewall.allowedTCPPorts).toEqual([9300]);
    expect(open.warnings).toEqual([]);
    const loopback = await enabled({ repo: URL, openFirewall: true });
    expect(loopback.config.networking.firewall.allowedTCPPorts).toEqual([9273]);
    expect(loopback.warnings).toEqual([
      'services.skyrec.openFirewall opens the port of listen = "127.0.0.1:9273", but skyrec answers on loopback only there: set it to "0.0.0.0:<port>" or an address of this machine.',
    ]);
  });

  it("the recommended setup exposes only the hooks: listenHooks's port in the firewall, the read side on loopback, the read token as a credential", async () => {
    const { config, warnings, failedAssertions } = await enabled({
      repo: URL, openFirewall: true, listenHooks: '0.0.0.0:9274', webhookSecretFile: '/run/secrets/skyrec/webhook', readTokenFile: '/run/secrets/skyrec/read-token', allowedHosts: ['deploy.example.com'], memoryMax: '2G',
    });
    expect(failedAssertions).toEqual([]);
    expect(warnings).toEqual([]);
    expect(config.networking.firewall.allowedTCPPorts).toEqual([9274]);
    const argv = await serviceArgv(config);
    expect(argv.slice(argv.indexOf('--listen'), argv.indexOf('--listen') + 2)).toEqual(['--listen', '127.0.0.1:9273']);
    expect(argv.slice(argv.indexOf('--listen-hooks'), argv.indexOf('--listen-hooks') + 2)).toEqual(['--listen-hooks', '0.0.0.0:9274']);
    expect(argv.slice(argv.indexOf('--allowed-host'), argv.indexOf('--allowed-host') + 2)).toEqual(['--allowed-host', 'deploy.example.com']);
    expect(argv.slice(argv.indexOf('--read-token-file'), argv.indexOf('--read-token-file') + 2)).toEqual(['--read-token-file', `${CREDS}/read-token`]);
    expect(config.systemd.services.skyrec.serviceConfig.LoadCredential).toEqual(['webhook-secret:/run/secrets/skyrec/webhook', 'read-token:/run/secrets/skyrec/read-token']);
    expect(config.systemd.services.skyrec.serviceConfig.MemoryMax).toBe('2G');
  });

  it('warns when the read side listens beyond loopback without a read token, and checks listenHooks', async () => {
    const open = await enabled({ repo: URL, listen: '0.0.0.0:9273' });
    expect(open.warnings).toEqual([
      'services.skyrec.listen = "0.0.0.0:9273" serves the status page, /api/status, /metrics and the plans beyond loopback without authentication: set services.skyrec.readTokenFile, or keep listen on 127.0.0.1 and set listenHooks for the webhooks.',
    ]);
    expect((await enabled({ repo: URL, listenHooks: '9274' })).failedAssertions).toEqual(['services.skyrec.listenHooks must be host:port, e.g. 0.0.0.0:9274.']);
    const loopbackHooks = await enabled({ repo: URL, openFirewall: true, listenHooks: '127.0.0.1:9274' });
    expect(loopbackHooks.warnings).toEqual([
      'services.skyrec.openFirewall opens the port of listenHooks = "127.0.0.1:9274", but skyrec answers on loopback only there: set it to "0.0.0.0:<port>" or an address of this machine.',
    ]);
  });

  it('fails with clear assertion messages: no repo, credentials in the URL (without repeating them), a relative repo, a bad listen', async () => {
    expect((await enabled({})).failedAssertions).toEqual([
      "services.skyrec.repo must be set: the config repo's http(s) URL or the absolute path of a local git repository.",
    ]);
    const withToken = await enabled({ repo: 'https://deploy:ghp_s3cret@git.example.com/acme/fleet.git' });
    expect(withToken.failedAssertions).toEqual([
      'services.skyrec.repo must not carry credentials (https://user:token@host/...): the Nix store is world-readable. Put the token in a file and set services.skyrec.gitTokenFile.',
    ]);
    expect(JSON.stringify(withToken.failedAssertions)).not.toContain('ghp_s3cret');
    expect((await enabled({ repo: 'fleet' })).failedAssertions).toEqual(['services.skyrec.repo must be an http(s) URL or an absolute path.']);
    expect((await enabled({ repo: '/srv/fleet', listen: '9273' })).failedAssertions).toEqual(['services.skyrec.listen must be host:port, e.g. 127.0.0.1:9273.']);
    expect((await enabled({ repo: '/srv/fleet', listen: 'localhost:70000' })).failedAssertions).toHaveLength(1);
  });

  it('refuses secret files given as Nix paths or store paths, which would put them in the world-readable store', async () => {
    const message = (option: string) =>
      `services.skyrec.${option} must be a path outside the Nix store, given as a string (e.g. "/run/secrets/..."): a Nix path like ./file is copied into the world-readable store.`;
    // An unquoted /run/... in Nix is a path, not a string.
    const literal = await enabled({ repo: URL }, '{ gitTokenFile = /run/secrets/skyrec-token; sshKeyFile = /run/secrets/id_ed25519; }');
    expect(literal.failedAssertions).toEqual([message('gitTokenFile'), message('sshKeyFile')]);
    const store = await enabled({ repo: URL, webhookSecretFile: '/nix/store/00000000000000000000000000000000-webhook-secret', secretsDir: '/nix/store/00000000000000000000000000000000-secrets' });
    expect(store.failedAssertions).toEqual([message('webhookSecretFile'), message('secretsDir')]);
  });

  it('rejects a value of the wrong type as the module system would', async () => {
    await expect(enabled({ repo: URL, driver: 'docker' })).rejects.toThrow(/services\.skyrec\.driver' is not of type `one of \["nixos","local"\]'/);
    await expect(enabled({ repo: URL, tokenFile: '/t' })).rejects.toThrow(/services\.skyrec\.tokenFile' does not exist/);
  });
});
