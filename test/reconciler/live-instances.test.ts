// The live instance states of the status page and /metrics, with a node that never answers: the
// page waits no longer than the bound once, then not at all, and the silent node's instances are
// shown as unreachable, never left out. A stand-in driver (its unitStatus answers from a table,
// or never) stands in for the nodes; everything else is the reconciler's own code.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { UnitStatus } from '../../fleet/node/operate.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { createLiveInstances } from '../../reconciler/daemon/live-instances.js';
import { startDaemonHttp } from '../../reconciler/daemon/daemon-http.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { calmStatus } from '../helpers/status-fixture.js';
import { request } from '../helpers/reconciler-daemon.js';

const instance = (app: string, process: string, index: number, port: number) => ({ app, process, index, port, unit: `${app}-${process}-${index}`, secrets: [], addons: {} });

/** What web-1 and web-2 last applied: api web.1 on web-1, api web.2 on web-2. */
function applied(): AppliedNode[] {
  return (['web-1', 'web-2'] as const).map((node, n) => ({
    node: { name: node, host: `root@10.0.0.${n + 1}`, address: `10.0.0.${n + 1}`, system: 'x86_64-linux', labels: {} },
    manifest: { node, apps: { api: { processes: { web: [{ instance: n + 1, port: 28001 + n }] }, domains: ['api.example'] } } },
    run: { instances: [instance('api', 'web', n + 1, 28001 + n)], releases: [] },
  })) as unknown as AppliedNode[];
}

function status(): DaemonStatus {
  return { ...calmStatus(), apps: [{ name: 'api', domains: ['api.example'], instances: [{ process: 'web', index: 1, node: 'web-1', port: 28001 }, { process: 'web', index: 2, node: 'web-2', port: 28002 }] }] };
}

/** web-1 answers (web.1 failed after 3 restarts); web-2 never does, unless `answers` says so. */
function standinDriver(calls: string[], silent = new Set(['web-2'])): NodeDriver {
  return {
    kind: 'nixos',
    async unitStatus(node, units): Promise<UnitStatus[]> {
      calls.push(node.name);
      if (silent.has(node.name)) return new Promise(() => undefined);
      return units.map((unit) => ({ unit, state: 'failed', since: '2026-12-04T10:00:00.000Z', restarts: 3, memoryBytes: null, cpuSeconds: 1.5 }));
    },
  } as NodeDriver;
}

describe('live instance states with a node that does not answer (stand-in nodes)', () => {
  it('shows the answering node as it is, the silent one as unreachable within the bound, and does not ask it again while its question is open', async () => {
    const calls: string[] = [];
    const live = createLiveInstances({ driver: standinDriver(calls), applied, nodeTimeoutMs: 300, cacheMs: 0 });
    const t0 = Date.now();
    const first = await live.decorate(status());
    expect(Date.now() - t0).toBeLessThan(3000);
    const [one, two] = first.apps[0].instances;
    expect(one.live).toMatchObject({ state: 'failed', restarts: 3, since: '2026-12-04T10:00:00.000Z' });
    expect(two.live).toMatchObject({ state: 'unreachable', restarts: null, memoryBytes: null });
    expect(two.live!.error).toMatch(/^no answer within 0\.3 s/);
    // Asked again: web-1 is asked anew, web-2's first question is still open and is not repeated.
    const second = await live.decorate(status());
    expect(second.apps[0].instances[1].live!.error).toMatch(/asked \d+ s ago/);
    expect(calls.filter((c) => c === 'web-2')).toHaveLength(1);
    expect(calls.filter((c) => c === 'web-1')).toHaveLength(2);
  });

  it('serves the live states on /api/status, the page and /metrics of the HTTP server', async () => {
    const live = createLiveInstances({ driver: standinDriver([]), applied, nodeTimeoutMs: 300 });
    const http = await startDaemonHttp({ host: '127.0.0.1', port: 0, branch: 'main', webhookSecret: null, status, live: (s) => live.decorate(s), trigger: () => undefined, plan: () => null, rollbacks: () => 0, log: pino({ level: 'silent' }) });
    try {
      const port = Number(new URL(http.url).port);
      const api = JSON.parse((await request(port, 'GET', '/api/status')).body) as DaemonStatus;
      expect(api.apps[0].instances.map((i) => i.live!.state)).toEqual(['failed', 'unreachable']);
      const metrics = (await request(port, 'GET', '/metrics')).body;
      expect(metrics).toContain('skyrec_instance_up{app="api",process="web",instance="1",node="web-1"} 0');
      expect(metrics).toContain('skyrec_instance_up{app="api",process="web",instance="2",node="web-2"} 0');
      expect(metrics).toContain('skyrec_instance_restarts_total{app="api",process="web",instance="1",node="web-1"} 3');
      expect(metrics).toMatch(/^# TYPE skyrec_instance_restarts_total counter$/m);
      // Unknown figures are left out, not reported as 0.
      expect(metrics).not.toContain('skyrec_instance_restarts_total{app="api",process="web",instance="2"');
      expect(metrics).not.toMatch(/^skyrec_instance_memory_bytes\{/m);
      const page = (await request(port, 'GET', '/')).body;
      expect(page).toMatch(/web-1:28001 <span class="badge bad" title="web\.1 on web-1:28001: failed, since 2026-12-04T10:00:00\.000Z \([^)]*\), 3 restarts">failed · 3 restarts<\/span>/);
      expect(page).toMatch(/web-2:28002 <span class="badge bad" title="web\.2 on web-2:28002: unreachable, no answer within 0\.3 s[^"]*">unreachable<\/span>/);
    } finally {
      await http.close();
    }
  });
});
