// The status page at `/`, served by the real reconciler HTTP server on 127.0.0.1 and read in real
// headless Chromium (Debian's chromium, driven by playwright-core): what a person sees, that
// hostile data stays text, and that it refreshes in place. SKYREC_UPDATE_SCREENSHOT=1 also
// writes docs/status-page.png.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { startDaemonHttp, type DaemonHttp } from '../../reconciler/daemon/daemon-http.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { packageRoot } from '../../common/paths.js';
import { acmeStatus, calmStatus, rev } from '../helpers/status-fixture.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { freePort, makeTempDir } from '../helpers/tools.js';

let browser: Browser;
let context: BrowserContext;
let page: Page;
let daemon: DaemonHttp;
let status: DaemonStatus;
let answering = true;
const dialogs: string[] = [];

/** The text of each cell of each body row of a table. */
const rows = (p: Page, id: string) => p.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.innerText.trim())));
const background = (p: Page, selector: string) => p.locator(selector).first().evaluate((el) => getComputedStyle(el).backgroundColor);

beforeAll(async () => {
  browser = await launchChromium();
  daemon = await startDaemonHttp({
    host: '127.0.0.1',
    port: 0,
    branch: 'main',
    webhookSecret: null,
    status: () => {
      if (!answering) throw new Error('reconciler gone');
      return status;
    },
    trigger: () => undefined,
    plan: (id) => (id === 44 ? 'web-1: no change\nworker-1: restart skyrec-mailer-worker-1 (command changed)\n' : null),
    rollbacks: () => 1,
    log: pino({ level: 'silent' }),
  });
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await daemon?.close();
});
beforeEach(async () => {
  status = acmeStatus();
  answering = true;
  dialogs.length = 0;
  await context?.close();
  // The page's content security policy would stop an injected script anyway; bypass it so that
  // the hostile-data test checks the escaping itself.
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
});

describe('status page at / in headless Chromium', () => {
  it('shows the fleet at a glance: nodes, apps, runs, quarantine and drift', async () => {
    const res = await page.goto(daemon.url + '/');
    expect(res!.headers()['content-type']).toBe('text/html; charset=utf-8');
    expect(res!.headers()['content-security-policy']).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(await page.title()).toBe('quarantined · 1 drifted · skyrec main');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    // The tab's icon is red: a node was rolled back.
    expect(await page.getAttribute('link[rel=icon]', 'href')).toContain('%23cf222e');
    await expect(page.locator('header').innerText()).resolves.toContain('https://git.acme.example/ops/fleet-config.git');

    const applied = page.getByRole('region', { name: 'Applied revision' });
    expect(await applied.innerText()).toMatch(new RegExp(`${rev('api: v2 rate limits').slice(0, 12)}\\s+2 h ago · behind: head is ${rev('mailer: new queue').slice(0, 12)}`));
    expect(await page.getByRole('region', { name: 'Nodes healthy' }).innerText()).toMatch(/2 \/ 3\s+1 rolled-back 1 drifted/);

    expect(await rows(page, 'nodes')).toEqual([
      ['web-1', 'healthy', '14', rev('api: v2 rate limits').slice(0, 12), '2 h ago', 'in sync'],
      ['web-2', 'healthy', '12', rev('api: v2 rate limits').slice(0, 12), '2 h ago', 'drifted'],
      ['worker-1', 'rolled-back\nhealth check failed: mailer (worker 1)', '9', rev('api: v2 rate limits').slice(0, 12), '6 min ago', 'in sync'],
    ]);
    // Healthy green, rolled back red: different colours a person tells apart.
    expect(await background(page, '#nodes tbody tr:nth-child(1) .badge')).toBe('rgb(218, 251, 225)');
    expect(await background(page, '#nodes tbody tr:nth-child(3) .badge')).toBe('rgb(255, 235, 233)');

    const apps = await rows(page, 'apps');
    expect(apps.map((r) => r[0])).toEqual(['api', 'docs', 'mailer', 'reports', 'shop']);
    expect(apps[4]).toEqual(['shop', 'shop.acme.example\nwww.acme.example', expect.stringMatching(/^web\s+web-2:22475\s+web-1:22476\nworker\s+worker-1:22477$/)]);
    expect(apps[3][2]).toBe('no processes');

    const runs = await rows(page, 'runs');
    expect(runs.map((r) => [r[0], r[1], r[2], r[4]])).toEqual([
      ['1 min ago', 'quarantined', rev('mailer: new queue').slice(0, 12), '—'],
      ['6 min ago', 'failed', rev('mailer: new queue').slice(0, 12), 'plan'],
      ['2 h ago', 'applied', rev('api: v2 rate limits').slice(0, 12), 'plan'],
      ['3 h ago', 'invalid', rev('api: typo').slice(0, 12), '—'],
      ['2 d ago', 'applied', rev('shop: 2 instances').slice(0, 12), 'plan'],
    ]);
    expect(await page.locator('#runs a', { hasText: 'plan' }).evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['/runs/44/plan', '/runs/43/plan', '/runs/41/plan']);
    await page.locator('#runs a', { hasText: 'plan' }).first().click();
    expect(await page.locator('body').innerText()).toContain('worker-1: restart skyrec-mailer-worker-1 (command changed)');
    await page.goBack();
    // A long detail is cut in the table; the whole text is in the tooltip.
    const failed = page.locator('#runs tbody tr:nth-child(2) td.detail span');
    expect(await failed.innerText()).toMatch(/^worker-1: health check failed: .{20,}…$/);
    expect(await failed.getAttribute('title')).toBe(status.runs[1].detail);
    expect(await page.locator('#runs tbody tr:nth-child(4) td.detail span').getAttribute('title')).toContain('\napps/api.yaml:21:10');

    expect(await page.locator('#quarantine').innerText()).toContain(`${rev('mailer: new queue').slice(0, 12)}: worker-1: health check failed`);
    expect(await page.locator('#quarantine').innerText()).toContain(`skyrec retry ${rev('mailer: new queue')}`);
    expect(await page.locator('#drift').innerText()).toMatch(/web-2: active generation 13 is not 12.*\(expected generation 12, found 13; seen 3 min ago\)/);

    if (process.env.SKYREC_UPDATE_SCREENSHOT === '1') {
      mkdirSync(join(packageRoot(), 'docs'), { recursive: true });
      await page.screenshot({ path: join(packageRoot(), 'docs', 'status-page.png'), fullPage: true });
    }
  }, 30_000);

  it('a calm fleet shows no warning boxes; running and queued cycles show', async () => {
    status = { ...calmStatus(), running: { since: new Date(Date.now() - 140_000).toISOString() }, queued: true };
    await page.goto(daemon.url + '/');
    expect(await page.locator('#quarantine, #drift').count()).toBe(0);
    expect(await page.locator('main').innerText()).not.toMatch(/behind|drifted/);
    expect(await page.getByRole('region', { name: 'Reconciler' }).innerText()).toMatch(/reconciling\s+since 2 min ago · 1 more queued/);
    expect(await page.title()).toBe('applied · skyrec main');
    expect(await page.getAttribute('link[rel=icon]', 'href')).toContain('%231a7f37');
  });

  it('a new reconciler reads well: no nodes, apps or runs yet', async () => {
    status = { ...calmStatus(), fetched: null, applied: null, lastDriftCheck: null, nodes: [], apps: [], runs: [] };
    await page.goto(daemon.url + '/');
    expect(await page.title()).toBe('no runs yet · skyrec main');
    const text = await page.locator('main').innerText();
    for (const empty of ['No nodes yet', 'No apps yet', 'No runs yet', 'nothing yet', 'Drift not checked yet']) expect(text).toContain(empty);
    expect(await page.locator('table').count()).toBe(0);
  });

  it('hostile strings in the data are shown as text and run nothing', async () => {
    const s = acmeStatus();
    s.runs[0].detail = '<script>alert("run detail")</script>';
    s.runs[1].planUrl = 'javascript:alert("plan url")';
    s.quarantined[0].reason = '<img src=x onerror=alert("reason")>';
    s.nodes[2].detail = '"><svg onload=alert("node detail")>';
    s.drift[0].detail = "' onmouseover='alert(1)' x='";
    s.apps[0].domains = ['<b onclick=alert(1)>api.acme.example</b>'];
    s.branch = '</title><script>alert("branch")</script>';
    status = s;
    await page.goto(daemon.url + '/');
    await page.hover('#nodes tbody tr:nth-child(2) .badge.warn');
    expect(await page.locator('#runs tbody tr:nth-child(1) td.detail').innerText()).toBe('<script>alert("run detail")</script>');
    expect(await page.locator('#quarantine').innerText()).toContain('<img src=x onerror=alert("reason")>');
    expect(await page.locator('#nodes tbody tr:nth-child(3)').innerText()).toContain('"><svg onload=alert("node detail")>');
    expect(await page.locator('#apps tbody tr:nth-child(1)').innerText()).toContain('<b onclick=alert(1)>api.acme.example</b>');
    expect(await page.title()).toBe('quarantined · 1 drifted · skyrec </title><script>alert("branch")</script>');
    expect(await page.locator('#runs tbody tr:nth-child(2) a').count()).toBe(0);
    expect(await page.locator('main script, main img, main svg, main b').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('refreshes in place every 10 s, keeping the scroll position; says so when the reconciler stops answering', async () => {
    await page.setViewportSize({ width: 1000, height: 400 });
    await page.clock.install();
    await page.goto(daemon.url + '/');
    await page.evaluate(() => window.scrollTo(0, 300));
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    status = { ...status, runs: [{ ...status.runs[0], id: 46, outcome: 'applied', detail: 'a fix for the mailer', revision: rev('mailer: fixed') }, ...status.runs] };
    await page.clock.runFor(10_000);
    await page.getByText('a fix for the mailer').waitFor({ timeout: 5000 });
    expect(await page.title()).toBe('applied · 1 drifted · skyrec main');
    expect(await page.evaluate(() => [window.scrollY, (window as unknown as { notReloaded?: boolean }).notReloaded])).toEqual([300, true]);
    expect(await page.locator('#stale').isVisible()).toBe(false);

    answering = false;
    await page.clock.runFor(10_000);
    await page.locator('#stale').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.locator('#stale').innerText()).toContain('The reconciler is not answering');
    expect(await page.getByText('a fix for the mailer').isVisible()).toBe(true);
  }, 30_000);
});

describe('status page of the real binary: skyrec reconcile --driver local on apps.example', () => {
  const example = join(packageRoot(), 'apps.example');
  let tmp: ReturnType<typeof makeTempDir>;
  let state: string;
  let child: ChildProcess | undefined;
  let stderr = '';
  let url = '';
  let commit = '';

  beforeAll(async () => {
    tmp = makeTempDir('skyrec-status-page-');
    state = join(tmp.dir, 'state');
    const secrets = join(tmp.dir, 'secrets');
    mkdirSync(join(secrets, 'shop'), { recursive: true });
    for (const name of ['SESSION_SECRET', 'DATABASE_PASSWORD', 'REDIS_PASSWORD']) writeFileSync(join(secrets, 'shop', name), `status-page-${name}\n`);
    const repo = new TestRepo(join(tmp.dir, 'repo'));
    cpSync(example, repo.dir, { recursive: true });
    await repo.git('init', '-q', '-b', 'main');
    commit = await repo.commit('acme');
    const listen = await freePort();
    child = spawn(process.execPath, [join(packageRoot(), 'bin', 'skyrec.js'), 'reconcile', '--repo', repo.dir, '--interval', '1h', '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(await freePort()), '--listen', `127.0.0.1:${listen}`], {
      env: { ...process.env, SKYREC_CACHE_DIR: join(tmp.dir, 'cache') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (c) => (stderr += c));
    url = `http://127.0.0.1:${listen}`;
    const end = Date.now() + 150_000;
    for (;;) {
      const runs = await fetch(`${url}/api/status`).then((r) => r.json() as Promise<DaemonStatus>).then((s) => s.runs, () => []);
      const bad = runs.find((r) => ['invalid', 'failed', 'error'].includes(r.outcome));
      if (bad) throw new Error(`a cycle ended ${bad.outcome}: ${bad.detail}\n${stderr}`);
      if (runs.some((r) => r.outcome === 'applied')) break;
      if (Date.now() > end) throw new Error(`no cycle finished within 150 s\n${stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (state) await runCli(['down', '--state', state]);
    tmp?.cleanup();
  }, 60_000);

  it('shows the three nodes healthy, the deployed apps where they answer, and the applied run', async () => {
    await page.goto(url + '/');
    expect(await page.title()).toBe('applied · skyrec main');
    const nodes = await rows(page, 'nodes');
    expect(nodes.map((r) => [r[0], r[1], r[2]])).toEqual([['web-1', 'healthy', '1'], ['web-2', 'healthy', '1'], ['worker-1', 'healthy', '1']]);

    const apps = await rows(page, 'apps');
    expect(apps.map((r) => [r[0], r[1]])).toEqual([
      ['api', 'api.acme.example'],
      ['catalog', 'catalog.acme.example'],
      ['docs', 'docs.acme.example'],
      ['indexer', '—'],
      ['links', 'links.acme.example'],
      ['mailer', '—'],
      ['reports', '—'],
      ['shop', 'shop.acme.example\nwww.acme.example'],
    ]);
    const instances = (text: string) => [...text.matchAll(/([\w-]+):(\d+)/g)].map((m) => ({ node: m[1], port: Number(m[2]) }));
    const web = (i: number) => instances(apps[i][2]);
    expect(apps[0][2]).toMatch(/^web\s/);
    expect(web(0).map((i) => i.node).sort()).toEqual(['web-1', 'web-2']);
    expect(web(7).map((i) => i.node).sort()).toEqual(['web-1', 'web-2']);
    expect(instances(apps[5][2]).map((i) => i.node)).toEqual(['worker-1']);
    expect(apps[6][2]).toBe('no processes');
    // The local driver runs every node on this machine: each web instance the page lists answers on its port.
    for (const i of [...web(0), ...web(1), ...web(2), ...web(4), ...web(7)]) expect((await fetch(`http://127.0.0.1:${i.port}/`)).status, `${i.node}:${i.port}`).toBe(200);

    const runs = await rows(page, 'runs');
    expect(runs.map((r) => [r[1], r[2]])).toContainEqual(['applied', commit.slice(0, 12)]);
  }, 60_000);
});
