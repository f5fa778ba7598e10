// `skyrec logs` and `ps` on the nixos driver: over a REAL OpenSSH server on 127.0.0.1, with
// stand-in journalctl and systemctl scripts that record their argv, refuse argv they do not
// expect, and print what the real ones print (`journalctl -o json` lines, `systemctl show`
// blocks); the credentials are real files read by the real sh and base64, as root.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { escapeShellArg } from '../../generators/escape.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { buildJournalArgv, parseCredentials, parseJournalLine, parseShow, REAL_OPERATE, SHOW_PROPERTIES } from '../../fleet/drivers/nixos/nixos-operate.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { findAppUnits } from '../../reconciler/operate/app-units.js';
import { streamAppLogs } from '../../reconciler/operate/logs.js';
import type { ShownLine } from '../../reconciler/operate/log-format.js';
import { listProcesses } from '../../reconciler/operate/ps.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { standIns } from '../helpers/stand-in.js';
import { makeTempDir } from '../helpers/tools.js';
import { makeNode } from './builders.js';

const SECRET = "s3cret 'quoted' $HOME";
const tmp = makeTempDir('skyrec-nixos-operate-');
const { standIn, recorded, reset } = standIns(tmp.dir);

// journalctl -o json: per unit, two lines at fixed times (web-1 at :01 and :03, web-2 at :02 and
// :04, the release at :00 and :05), the second holding the secret; web-1 also has systemd's own
// line about it (UNIT=, MESSAGE as bytes). --show-cursor ends with the cursor; a follow must
// start after it, and prints one new line per unit.
const JOURNALCTL = `[ "$1 $2 $3" = "-o json --no-pager" ] || { echo "stand-in journalctl: unexpected argv: $*" >&2; exit 2; }
shift 3
units=; follow=; cursor=; show=
while [ $# -gt 0 ]; do
  case "$1" in
    -u) units="$units $2"; shift 2 ;;
    --follow) follow=1; shift ;;
    --after-cursor=*) cursor="\${1#--after-cursor=}"; shift ;;
    --show-cursor) show=1; shift ;;
    --since=@*|--until=@*|--lines=*) shift ;;
    *) echo "stand-in journalctl: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$follow" ]; then
  [ "$cursor" = "s=standin;i=2" ] || { echo "stand-in journalctl: a follow must go on from the cursor the past ended with" >&2; exit 2; }
  for u in $units; do printf '{"__REALTIME_TIMESTAMP":"1700000009000000","_SYSTEMD_UNIT":"%s","MESSAGE":"followed %s"}\\n' "$u" "$u"; done
  sleep 5
  exit 0
fi
for u in $units; do
  case "$u" in
    shop-web-1.service) a=1; b=3; printf '{"__REALTIME_TIMESTAMP":"1700000001500000","UNIT":"%s","MESSAGE":[83,116,97,114,116,101,100]}\\n' "$u" ;;
    shop-web-2.service) a=2; b=4 ;;
    'shop-cron-*.service') continue ;; # no cron job has run
    *) a=0; b=5 ;;
  esac
  printf '{"__REALTIME_TIMESTAMP":"170000000%s000000","_SYSTEMD_UNIT":"%s","MESSAGE":"%s first"}\\n' "$a" "$u" "$u"
  printf '{"__REALTIME_TIMESTAMP":"170000000%s000000","_SYSTEMD_UNIT":"%s","MESSAGE":"password is %s"}\\n' "$b" "$u" ${escapeShellArg(SECRET.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}
done
[ -z "$show" ] || echo "-- cursor: s=standin;i=2"`;

const SYSTEMCTL = `[ "$1" = show ] && [ "$2" = --timestamp=unix ] && [ "$3" = -p ] && [ "$4" = ${SHOW_PROPERTIES.join(',')} ] || { echo "stand-in systemctl: unexpected argv: $*" >&2; exit 2; }
shift 4
first=1
for u; do
  [ -n "$first" ] || echo
  first=
  case "$u" in
    shop-web-1.service) printf 'Id=%s\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\nActiveEnterTimestamp=@1700000000\\nStateChangeTimestamp=@1700000000\\nNRestarts=2\\nMemoryCurrent=123456789\\nCPUUsageNSec=2500000000\\nResult=success\\n' "$u" ;;
    shop-web-2.service) printf 'Id=%s\\nLoadState=loaded\\nActiveState=failed\\nSubState=failed\\nActiveEnterTimestamp=\\nStateChangeTimestamp=@1700000100\\nNRestarts=5\\nMemoryCurrent=[not set]\\nCPUUsageNSec=[not set]\\nResult=exit-code\\n' "$u" ;;
    shop-release.service) printf 'Id=%s\\nLoadState=loaded\\nActiveState=inactive\\nSubState=dead\\nActiveEnterTimestamp=\\nStateChangeTimestamp=@1700000050\\nNRestarts=0\\nMemoryCurrent=[not set]\\nCPUUsageNSec=1000000\\nResult=success\\n' "$u" ;;
    'shop-cron-*.service') printf 'Id=shop-cron-1.service\\nLoadState=loaded\\nActiveState=inactive\\nSubState=dead\\nStateChangeTimestamp=@1700000060\\nNRestarts=0\\nResult=exit-code\\n' ;;
    *) printf 'Id=%s\\nLoadState=not-found\\nActiveState=inactive\\n' "$u" ;;
  esac
done`;

const proc = (unit: string, extra: object = {}) => ({ unit, app: 'shop', command: 'x', cwd: null, env: {}, secrets: ['SESSION_SECRET'], addons: { postgres: null, redis: null }, autoRollback: true, sourceDigest: null, ...extra });
function applied(name: string, host: string, web: number[], anchor: boolean): AppliedNode {
  return {
    node: makeNode(name, { host }),
    manifest: { node: name, revision: null, hash: 'h', system: 'x86_64-linux', ingress: false, apps: { shop: { processes: { web: web.map((i) => ({ instance: i, port: 20000 + i })) }, domains: [], anchor } } },
    run: {
      node: name, instances: web.map((i) => ({ ...proc(`shop-web-${i}`), process: 'web', index: i, port: 20000 + i, healthcheck: null })),
      releases: anchor ? [proc('shop-release')] : [], postgres: [], redis: [], sources: [], unsupported: [], routes: null, routesOfNode: [],
    },
  } as AppliedNode;
}

let sshd: TestSshd;
let driver: NodeDriver;
const nodes = () => [applied('a', 'root@127.0.0.1', [1], true), applied('b', 'root@127.0.0.1', [2], false)];

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  const creds = join(tmp.dir, 'credentials');
  for (const unit of ['shop-web-1', 'shop-web-2']) {
    mkdirSync(join(creds, `${unit}.service`), { recursive: true });
    writeFileSync(join(creds, `${unit}.service`, 'SESSION_SECRET'), SECRET + '\n');
  }
  driver = createNixosDriver({
    flakeDir: join(tmp.dir, 'flake'), exec: (await import('../../common/exec.js')).exec, sshOptions: sshd.options, sshPort: sshd.port,
    operate: { journalctl: standIn('journalctl', JOURNALCTL), systemctl: standIn('systemctl', SYSTEMCTL), credentialsDir: creds },
  });
}, 30_000);

afterAll(async () => {
  await sshd?.stop();
  tmp.cleanup();
});

beforeEach(() => reset());

// Each ssh call to the test sshd takes about a second here.
describe('nixos driver: logs and ps over a real sshd (stand-in journalctl and systemctl)', { timeout: 30_000 }, () => {
  it('argv and parsing (pure): journalctl -o json per unit, times as @epoch seconds, systemd lines and byte messages', () => {
    const node = makeNode('a', { sudo: 'sudo' });
    expect(buildJournalArgv(node, { units: ['shop-web-1', 'shop-cron-*'], since: 1_700_000_000_500, until: 1_700_000_001_200, lines: 50, follow: false }, REAL_OPERATE)).toEqual([
      'sudo', '-n', 'journalctl', '-o', 'json', '--no-pager', '-u', 'shop-web-1.service', '-u', 'shop-cron-*.service', '--since=@1700000000', '--until=@1700000002', '--lines=50',
    ]);
    expect(parseJournalLine('{"__REALTIME_TIMESTAMP":"1700000001500000","UNIT":"shop-web-1.service","MESSAGE":[83,116]}')).toEqual({ unit: 'shop-web-1', time: 1_700_000_001_500, text: 'St' });
    expect(parseJournalLine('-- cursor: x')).toBeNull();
    expect(parseShow(['x'], 'Id=x.service\nLoadState=not-found\n')[0].state).toBe('unknown');
  });

  it('stand-in journalctl: reads each node with one ssh, the exact argv, merges in time order and masks the credential read as root', async () => {
    const lines: ShownLine[] = [];
    const warnings: string[] = [];
    const result = await streamAppLogs({ driver, units: findAppUnits(nodes(), { app: 'shop' }), query: { lines: 200, follow: false }, grep: null, emit: (l) => lines.push(l), warn: (n, m) => warnings.push(`${n}: ${m}`) });
    expect(warnings).toEqual([]);
    expect(result.failed).toEqual([]);
    expect(lines.map((l) => `${l.source} ${l.text}`)).toEqual([
      'release@a shop-release.service first',
      'web.1@a shop-web-1.service first',
      'web.1@a Started',
      'web.2@b shop-web-2.service first',
      'web.1@a password is [secret]',
      'web.2@b password is [secret]',
      'release@a password is [secret]',
    ]);
    expect(lines[0].time).toBe('2023-11-14T22:13:20.000Z');
    expect(recorded().sort()).toEqual([
      'journalctl [-o] [json] [--no-pager] [-u] [shop-web-1.service] [-u] [shop-release.service] [-u] [shop-cron-*.service] [--lines=200]',
      'journalctl [-o] [json] [--no-pager] [-u] [shop-web-2.service] [--lines=200]',
    ]);
  });

  it('stand-in journalctl: --since/--until go as @epoch seconds and are cut exactly here; -n counts lines across nodes', async () => {
    const lines: ShownLine[] = [];
    await streamAppLogs({ driver, units: findAppUnits(nodes(), { app: 'shop', process: 'web' }), query: { since: 1_700_000_002_000, until: 1_700_000_003_500, follow: false }, grep: null, emit: (l) => lines.push(l), warn: () => undefined });
    expect(lines.map((l) => `${l.source} ${l.text}`)).toEqual(['web.2@b shop-web-2.service first', 'web.1@a password is [secret]']);
    expect(recorded()).toContain('journalctl [-o] [json] [--no-pager] [-u] [shop-web-2.service] [--since=@1700000002] [--until=@1700000004]');
    const last: ShownLine[] = [];
    await streamAppLogs({ driver, units: findAppUnits(nodes(), { app: 'shop' }), query: { lines: 2, follow: false }, grep: /first|password/, emit: (l) => last.push(l), warn: () => undefined });
    expect(last.map((l) => l.source)).toEqual(['web.2@b', 'release@a']);
  });

  it('stand-in journalctl: following reads the past with --show-cursor, then goes on --after-cursor, until aborted', async () => {
    const lines: ShownLine[] = [];
    const ac = new AbortController();
    const done = streamAppLogs({
      driver, units: findAppUnits(nodes(), { app: 'shop', node: 'b' }), query: { lines: 10, follow: true }, grep: null, signal: ac.signal, warn: () => undefined,
      emit: (l) => {
        lines.push(l);
        if (l.text.startsWith('followed')) ac.abort();
      },
    });
    await done;
    expect(lines.map((l) => l.text)).toEqual(['shop-web-2.service first', 'password is [secret]', 'followed shop-web-2.service']);
    expect(recorded()).toEqual([
      'journalctl [-o] [json] [--no-pager] [-u] [shop-web-2.service] [--lines=10] [--show-cursor]',
      'journalctl [-o] [json] [--no-pager] [-u] [shop-web-2.service] [--after-cursor=s=standin;i=2] [--lines=all] [--follow]',
    ]);
  });

  it('a node ssh cannot reach is reported by name while the others are read', async () => {
    const all = [...nodes(), applied('c', 'root@127.0.0.2', [3], false)];
    const warnings: string[] = [];
    const lines: ShownLine[] = [];
    const result = await streamAppLogs({ driver, units: findAppUnits(all, { app: 'shop' }), query: { lines: 200, follow: false }, grep: null, emit: (l) => lines.push(l), warn: (n, m) => warnings.push(`${n}: ${m}`) });
    expect(result.failed).toEqual(['c']);
    expect(warnings[0]).toMatch(/^c: node c is unreachable over ssh \(root@127\.0\.0\.2\)/);
    expect(lines.length).toBe(7);
  });

  it('stand-in systemctl: ps shows state, since, restarts, memory and CPU per instance, the release and cron results, and an unreachable node', async () => {
    const all = [...nodes(), applied('c', 'root@127.0.0.2', [3], false)];
    const rows = await listProcesses(driver, all, 'shop');
    expect(rows.map((r) => [r.process, r.node, r.state, r.restarts, r.memoryBytes, r.cpuSeconds, r.since, r.result])).toEqual([
      ['web.1', 'a', 'active', 2, 123456789, 2.5, '2023-11-14T22:13:20.000Z', null],
      ['release', 'a', 'inactive', 0, null, 0.001, '2023-11-14T22:14:10.000Z', 'success'],
      ['cron.1', 'a', 'inactive', 0, null, null, '2023-11-14T22:14:20.000Z', 'exit-code'],
      ['web.2', 'b', 'failed', 5, null, null, '2023-11-14T22:15:00.000Z', null],
      ['web.3', 'c', 'unreachable', null, null, null, null, null],
    ]);
    expect(rows[4].error).toMatch(/unreachable over ssh/);
    expect(recorded().sort()).toEqual([
      `systemctl [show] [--timestamp=unix] [-p] [${SHOW_PROPERTIES.join(',')}] [shop-web-1.service] [shop-release.service] [shop-cron-*.service]`,
      `systemctl [show] [--timestamp=unix] [-p] [${SHOW_PROPERTIES.join(',')}] [shop-web-2.service]`,
    ]);
  });
});

describe('masking values read from a NixOS node', () => {
  it('takes a secret as the unit script reads it with $(< file): every trailing newline dropped, inner ones kept', () => {
    const b64 = (t: string) => Buffer.from(t, 'utf8').toString('base64');
    const file = join(tmpdir(), `skyrec-secret-${process.pid}`);
    writeFileSync(file, 'two\nlines\n\n');
    const read = execFileSync('bash', ['-c', 'printf %s "$(< "$1")"', 'bash', file]).toString();
    rmSync(file);
    expect(read).toBe('two\nlines');
    expect(parseCredentials([b64('pw\n'), b64('two\nlines\n\n'), b64('\n')].join('\n') + '\n')).toEqual(['pw', read]);
  });
});
