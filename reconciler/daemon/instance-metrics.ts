// Per-instance metrics from the live states on the status (live-instances.ts): up, restarts and
// memory, labelled as `skyrec ps` names an instance. An instance whose node did not answer is
// reported down (up 0) without restarts or memory: absent figures are left out, never made up.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DaemonStatus, InstanceLive } from './status-model.js';

const LABELS = ['app', 'process', 'instance', 'node'] as const;

function eachLive(status: DaemonStatus, fn: (labels: Record<(typeof LABELS)[number], string>, live: InstanceLive) => void): void {
  for (const a of status.apps) {
    for (const i of a.instances) if (i.live) fn({ app: a.name, process: i.process, instance: String(i.index), node: i.node }, i.live);
  }
}

export function registerInstanceMetrics(registry: Registry, current: () => DaemonStatus): void {
  new Gauge({
    name: 'skyrec_instance_up',
    help: "1 when the instance's unit is active on its node now, else 0 (failed, activating, stopped, or its node did not answer).",
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset();
      eachLive(current(), (labels, live) => this.set(labels, live.state === 'active' ? 1 : 0));
    },
  });
  // systemd's NRestarts only grows while the unit's definition stays: a counter, reset on a deploy.
  new Counter({
    name: 'skyrec_instance_restarts_total',
    help: "Automatic restarts of the instance's unit (systemd's NRestarts; the local driver restarts nothing by itself: 0).",
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset();
      eachLive(current(), (labels, live) => void (live.restarts !== null && this.inc(labels, live.restarts)));
    },
  });
  new Gauge({
    name: 'skyrec_instance_memory_bytes',
    help: "Memory the instance's unit uses now (systemd's MemoryCurrent; the local driver: resident memory of its processes).",
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset();
      eachLive(current(), (labels, live) => void (live.memoryBytes !== null && this.set(labels, live.memoryBytes)));
    },
  });
}
