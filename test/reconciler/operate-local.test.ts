// `skyrec logs` and `skyrec ps` end to end with the local driver: shop (web × 3 with PostgreSQL
// and Redis, the rolling tests' scenario) applied over two nodes by the real skyrec binary, real
// processes writing real log files, and the commands run as a user runs them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { createScenario, destroyScenario, runSkyrec, shopYaml, type Scenario } from '../helpers/rolling-scenario.js';

const REDIS_PASSWORD = 'rolling-redis-password';
// Each instance prints its REDIS_URL (with the password) once, as a careless app would.
const COMMAND = 'echo "shop: connecting to $REDIS_URL"; exec node server.js';

interface Line { time: string; node: string; unit: string; source: string; text: string }
const parseLines = (stdout: string): Line[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
const pidOf = (s: Scenario, node: string, unit: string): number => JSON.parse(readFileSync(join(s.state, 'local', node, 'run', `${unit}.pid`), 'utf8')).pid;

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Resolves once `child`'s stdout holds a line passing `ok`. */
function waitForLine(out: { text: string; child: ReturnType<typeof spawn> }, ok: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = out.text.split('\n').find(ok);
      if (line !== undefined) {
        out.child.stdout!.off('data', check);
        resolve(line);
      }
    };
    out.child.stdout!.on('data', check);
    out.child.once('exit', (code) => reject(new Error(`skyrec logs -f exited (${code}) before the line came:\n${out.text}`)));
    check();
  });
}

/** Waits (up to 30 s) until `count` of the web instances' log files on both nodes hold `text`. */
async function untilLogged(s: Scenario, text: string, count: number): Promise<void> {
  const holding = () =>
    ['web-1', 'web-2'].flatMap((node) => {
      const dir = join(s.state, 'local', node, 'logs');
      return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('shop-web-') && readFileSync(join(dir, f), 'utf8').includes(text)) : [];
    }).length;
  const deadline = Date.now() + 30_000;
  while (holding() < count) {
    if (Date.now() > deadline) throw new Error(`after 30 s, ${holding()} of ${count} instances' logs hold '${text}'`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Each test runs the binary several times; on a busy machine one run takes seconds.
describe('skyrec logs and ps, local driver, shop over two nodes', { timeout: 90_000 }, () => {
  let s: Scenario;
  const logs = (args: string[]) => runSkyrec(s, ['logs', 'shop', ...args, '--secrets-dir', s.secrets]);

  beforeAll(async () => {
    s = await createScenario({ onOneNode: false });
    await s.repo.commit('shop prints its REDIS_URL', { 'apps/shop.yaml': shopYaml({ onOneNode: false, currency: 'EUR', command: COMMAND }) });
    const r = await runSkyrec(s, ['apply', '--rev', 'HEAD']);
    expect(r.code, r.stderr).toBe(0);
    // Each instance's lines reach its log file through its stamper, a process of its own that
    // writes them as it gets to them (as journald does): on a busy machine a line can still be on
    // its way when apply returns. The tests read the logs once all three instances said they listen.
    await untilLogged(s, 'listening on', 3);
  }, 180_000);

  afterAll(async () => {
    if (s) await destroyScenario(s);
  }, 60_000);

  it('merges the lines of every instance on both nodes and the release in time order, each with process.instance@node, and masks the secret', async () => {
    const r = await logs(['--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = parseLines(r.stdout);
    const sources = new Set(lines.map((l) => l.source));
    expect([...sources].filter((x) => x.startsWith('web.')).map((x) => x.split('@')[1]).sort()).toEqual(expect.arrayContaining(['web-1', 'web-2']));
    expect([...sources].some((x) => /^release@web-[12]$/.test(x))).toBe(true);
    expect(lines.map((l) => l.time)).toEqual([...lines.map((l) => l.time)].sort());
    expect(lines.filter((l) => l.text.startsWith('skyrec: starting shop-web-'))).toHaveLength(3);
    const listening = lines.filter((l) => l.text.includes('listening on'));
    expect(listening).toHaveLength(3);
    // The password is in every instance's REDIS_URL line, and nowhere in the output.
    const connecting = lines.filter((l) => l.text.startsWith('shop: connecting to'));
    expect(connecting).toHaveLength(3);
    for (const l of connecting) expect(l.text).toContain('[secret]');
    expect(r.stdout).not.toContain(REDIS_PASSWORD);
    // The same lines as text: time, source, line.
    const text = await logs([]);
    expect(text.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+Z release@web-[12]\s+shop: migrations up to date/m);
    expect(text.stdout).not.toContain(REDIS_PASSWORD);
    expect(text.stdout).not.toContain('\x1b[');
  });

  it('filters with --grep, --since, --until, --process, --node and -n', async () => {
    const grep = parseLines((await logs(['--json', '--grep', 'listening on'])).stdout);
    expect(grep).toHaveLength(3);
    const all = parseLines((await logs(['--json'])).stdout);
    const last = all.at(-1)!;
    expect(parseLines((await logs(['--json', '--since', new Date(Date.parse(last.time) + 1).toISOString()])).stdout)).toEqual([]);
    expect(parseLines((await logs(['--json', '--since', '1h'])).stdout)).toHaveLength(all.length);
    expect(parseLines((await logs(['--json', '--until', new Date(Date.parse(all[0].time) - 1).toISOString()])).stdout)).toEqual([]);
    expect(parseLines((await logs(['--json', '-n', '2'])).stdout)).toEqual(all.slice(-2));
    const release = parseLines((await logs(['--json', '--process', 'release'])).stdout);
    expect(release.length).toBeGreaterThan(0);
    expect(release.every((l) => l.source.startsWith('release@'))).toBe(true);
    const web2 = parseLines((await logs(['--json', '--node', 'web-2', '--process', 'web'])).stdout);
    expect(web2.length).toBeGreaterThan(0);
    expect(web2.every((l) => l.node === 'web-2' && l.source.startsWith('web.'))).toBe(true);
  });

  it('answers --help for logs, ps, restart and run', async () => {
    for (const cmd of ['logs', 'ps', 'restart', 'run']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: skyrec ${cmd} `));
    }
  });

  it('names what exists for an unknown app, process, instance or node (exit 2)', async () => {
    const app = await runSkyrec(s, ['logs', 'nope']);
    expect(app.code).toBe(2);
    expect(app.stderr).toContain("no app 'nope' runs on the applied nodes; apps: shop");
    const proc = await logs(['--process', 'worker']);
    expect(proc.code).toBe(2);
    expect(proc.stderr).toContain("shop has no process 'worker'; processes: release, web");
    const inst = await logs(['--process', 'web', '--instance', '9']);
    expect(inst.code).toBe(2);
    expect(inst.stderr).toContain('shop web has no instance 9; instances: 1, 2, 3');
    const node = await logs(['--node', 'web-9']);
    expect(node.code).toBe(2);
    expect(node.stderr).toContain("shop does not run on node 'web-9'; it runs on: web-1, web-2");
  });

  it('-f shows a line written after it started, and exits 0 on SIGINT', async () => {
    const child = spawn(process.execPath, [s.bin, 'logs', 'shop', '-f', '--json', '--driver', 'local', '--state', s.state, '--secrets-dir', s.secrets], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { text: '', child };
    let stderr = '';
    child.stdout.on('data', (c) => (out.text += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitForLine(out, (l) => l.includes('listening on'));
    // An instance stopped by hand says so on its way out: a line that did not exist before.
    const victim = JSON.parse(readFileSync(join(s.state, 'applied', 'web-2.json'), 'utf8')).run.instances.find((i: { app: string }) => i.app === 'shop').unit as string;
    process.kill(pidOf(s, 'web-2', victim), 'SIGTERM');
    const line = JSON.parse(await waitForLine(out, (l) => l.includes('SIGTERM, closing'))) as Line;
    expect(line.node).toBe('web-2');
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
  });

  it('ps lists every instance with its state, and the killed one as failed; memory within 20 % of /proc', async () => {
    const r = await runSkyrec(s, ['ps', 'shop', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout).processes as { process: string; node: string; unit: string; state: string; memoryBytes: number | null; restarts: number; kind: string; result: string | null; since: string | null }[];
    const web = rows.filter((x) => x.kind === 'instance');
    expect(web).toHaveLength(3);
    // The instance the -f test stopped by hand (not through skyrec) is failed.
    const failed = web.filter((x) => x.state === 'failed');
    expect(failed.map((x) => x.node)).toEqual(['web-2']);
    for (const x of web.filter((w) => w.state === 'active')) {
      const rss = rssOf(pidOf(s, x.node, x.unit));
      expect(Math.abs(x.memoryBytes! - rss) / rss).toBeLessThan(0.2);
      expect(Date.parse(x.since!)).toBeGreaterThan(Date.now() - 600_000);
    }
    const release = rows.find((x) => x.kind === 'release')!;
    expect(release.result).toBe('success');
    const table = await runSkyrec(s, ['ps']);
    expect(table.stdout).toMatch(/^APP\s+PROCESS\s+NODE\s+PORT\s+STATE/);
    expect(table.stdout).toMatch(/shop\s+web\.\d\s+web-2\s+\d+\s+failed/);
  });

  /** The binary with the driver options before `--`, stdin as given (a pipe by default). */
  function runBin(args: string[], command: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [s.bin, ...args, '--driver', 'local', '--state', s.state, '--secrets-dir', s.secrets, '--', ...command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.stdin.end(input ?? '');
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('run with pipes: the app environment and secrets, its source folder, stdout and stderr apart, the exit code passed through', async () => {
    const r = await runBin(['run', 'shop'], ['sh', '-c', 'echo "db=${DATABASE_URL:+set} redis=${REDIS_URL:+set} port=${PORT:-none} currency=$SHOP_CURRENCY"; pwd; read line; echo "read $line"; echo oops >&2; exit 7'], 'hello\n');
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toContain('db=set redis=set port=none currency=EUR');
    expect(r.stdout).toMatch(/\/src\/shop\n/);
    expect(r.stdout).toContain('read hello');
    expect(r.stderr).toContain('oops');
    expect(r.stdout).not.toContain('oops');
    const missing = await runBin(['run', 'shop'], ['no-such-program-here']);
    expect(missing.code).toBe(127);
  });

  it('run on a real pseudo-terminal (script): the node REPL answers with the app environment, and its exit code comes back; nothing is left running', async () => {
    const cmd = [process.execPath, s.bin, 'run', 'shop', '--node', 'web-2', '--driver', 'local', '--state', s.state, '--secrets-dir', s.secrets, '--', 'node'].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = { text: '', child };
    child.stdout.on('data', (c) => (out.text += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitForLine(out, (l) => l.includes('> '));
    child.stdin.write("console.log('pid=' + process.pid, 'tty=' + process.stdin.isTTY, 'db=' + (process.env.DATABASE_URL ? 'set' : 'unset'), 'secret=' + (process.env.REDIS_URL?.includes('" + REDIS_PASSWORD + "') ? 'yes' : 'no'))\r");
    const line = await waitForLine(out, (l) => /pid=\d+ tty=true/.test(l));
    expect(line).toContain('db=set');
    expect(line).toContain('secret=yes');
    const pid = Number(/pid=(\d+)/.exec(line)![1]);
    child.stdin.write('process.exit(5)\r');
    expect(await exited).toBe(5);
    expect(() => readFileSync(`/proc/${pid}/stat`)).toThrow();
  });
});
