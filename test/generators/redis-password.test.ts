// A Redis password as users make them (any byte, the file ending with a newline) goes through the
// rendered NixOS units into redis.conf the way nixpkgs' redis module writes it, and a real
// redis-server then accepts the password that the app's REDIS_URL carries, and only that one.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { exec } from '../../common/exec.js';
import { placeInstances } from '../../fleet/placement/place.js';
import { renderFleet } from '../../generators/render-node.js';
import { makeApp, makeConfig, makeNode, makeProcess } from '../fleet/builders.js';
import { evalModule, freePort, makeTempDir } from '../helpers/tools.js';

// The password the client side's URL test uses, plus a backslash, a tab and a line break inside.
const HOSTILE = "p@ss:w/rd% é'\"$x \\ \t`two\nlines`";

/**
 * A stand-in for the pre-start step of nixpkgs' redis module (nixos/modules/services/databases/
 * redis.nix), which runs as root and appends the requirePassFile's text to the server's
 * redis.conf after `requirepass `, as it is.
 */
function nixpkgsRedisPrepStandin(conf: string, requirePassFile: string): Promise<unknown> {
  return exec(['bash', '-c', '{ echo -n "requirepass "; cat "$1"; } >> "$2"', 'redis-prep', requirePassFile, conf]);
}

/** AUTH then PING over RESP, as a client library does with the password of a redis:// URL. */
async function authenticate(url: string): Promise<string> {
  const u = new URL(url);
  const password = Buffer.from(decodeURIComponent(u.password), 'utf8');
  const socket = connect(Number(u.port), u.hostname);
  await once(socket, 'connect');
  const command = Buffer.concat([Buffer.from(`*2\r\n$4\r\nAUTH\r\n$${password.length}\r\n`), password, Buffer.from('\r\n*1\r\n$4\r\nPING\r\n')]);
  socket.end(command);
  let reply = '';
  for await (const chunk of socket) reply += chunk;
  return reply;
}

const children: ChildProcess[] = [];
const temp = makeTempDir();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  temp.cleanup();
});

describe('the Redis password of an addon reached over TCP', () => {
  it('arrives in redis.conf quoted, and the URL the app builds from the same secret file authenticates against a real redis-server', async () => {
    const config = makeConfig({
      nodes: [makeNode('data', { address: '127.0.0.1', labels: { role: 'app' } }), makeNode('other', { address: '127.0.0.2', labels: { role: 'app' } })],
      apps: [makeApp('shop', { package: { nixpkgs: 'hello' }, processes: [{ ...makeProcess('web', 2), command: 'exec hello' }], addons: { postgres: false, redis: true }, labels: { role: 'app' } })],
    });
    const { placement, issues } = placeInstances(config);
    expect(issues).toEqual([]);
    const dir = temp.dir;
    for (const n of renderFleet(config, placement, { revision: null })) {
      for (const [path, content] of Object.entries(n.files)) {
        mkdirSync(dirname(join(dir, n.node, path)), { recursive: true });
        writeFileSync(join(dir, n.node, path), content);
      }
    }
    const dataNode = placement.data.shop.redis!.node;
    const client = dataNode === 'data' ? 'other' : 'data';
    const data = await evalModule(join(dir, dataNode, 'apps/shop.nix'), dir);
    const remote = await evalModule(join(dir, client, 'apps/shop.nix'), dir);

    // The node's secret file, written as `echo "$PASSWORD" > file` does: with a trailing newline.
    const creds = join(dir, 'creds');
    const runtime = join(dir, 'run-skyrec-redis-shop');
    mkdirSync(creds);
    mkdirSync(runtime);
    writeFileSync(join(creds, 'REDIS_PASSWORD'), HOSTILE + '\n');
    const env = { CREDENTIALS_DIRECTORY: creds, RUNTIME_DIRECTORY: runtime, PATH: process.env.PATH! };
    await exec(['bash', '-euo', 'pipefail', '-c', data.systemd.services['redis-shop-password'].script], { env });
    const server = data.services.redis.servers.shop;
    expect(server.requirePassFile).toBe('/run/skyrec-redis-shop/requirepass');
    const quoted = readFileSync(join(runtime, 'requirepass'), 'utf8');
    expect(quoted).not.toContain('é');

    // redis.conf as the module builds it, on a free port of this machine instead of the node's.
    const port = await freePort();
    const conf = join(dir, 'redis.conf');
    writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsave ""\n`);
    await nixpkgsRedisPrepStandin(conf, join(runtime, 'requirepass'));
    const redis = spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(redis);
    let log = '';
    for await (const chunk of redis.stdout!) if ((log += chunk).includes('Ready to accept connections')) break;

    // The app's instance on the other node: its script builds REDIS_URL from the same file.
    const web = Object.keys(remote.systemd.services).find((u) => u.startsWith('shop-web-'))!;
    const script = remote.systemd.services[web].script.replace(/^exec hello$/m, `printf '%s' "$REDIS_URL"`);
    const { stdout: url } = await exec(['bash', '-euo', 'pipefail', '-c', script], { env });
    expect(url).toMatch(new RegExp(`^redis://:[^@]+@127\\.0\\.0\\.[12]:${server.port}$`));
    const reached = url.replace(/@[^@]+$/, `@127.0.0.1:${port}`);
    expect(await authenticate(reached)).toBe('+OK\r\n+PONG\r\n');
    expect(await authenticate(reached.replace(/:[^:@]+@/, `:${encodeURIComponent(HOSTILE.slice(0, -1))}@`))).toMatch(/^-WRONGPASS/);
  });
});
