// The commands that report what was applied: status (per node, and the reconciler's view) and
// history (every rollout with its steps).
import type { Command } from 'commander';
import { openApplied } from '../apply/applied.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

export function registerStatusCommands(program: Command, ctx: Ctx): void {
  const { io, out } = ctx;
  addDriverOptions(program.command('status').description("Per node: the applied revision, generation, health and last result; and the reconciler's view when one runs on this state: followed branch, last fetched and applied commit, queue, quarantine, drift.").option('--json', 'print as JSON')).action(
    async (flags: DriverFlags & { json?: boolean }) => {
      const { StateStore } = await import('../state/state-store.js');
      const opts = driverOptions(flags, ctx);
      const store = StateStore.open(opts.stateDir);
      try {
        // Only a local ingress node's URL needs the driver (and the modules it loads).
        let driver: Promise<NodeDriver> | undefined;
        const loadDriver = () => (driver ??= import('../apply/create-driver.js').then((m) => m.createDriver(opts, ctx.log)));
        const nodes = store.listNodes();
        const rows = await Promise.all(
          nodes.map(async (n) => {
            const node = openApplied(opts.stateDir).read(n.node)?.node ?? null;
            const url = node?.ingress && opts.driver === 'local' ? (await loadDriver()).ingressUrl(node) : null;
            return { ...n, url };
          }),
        );
        const { readLoopView, readStatus, describeLoop } = await import('../daemon/status.js');
        const view = readLoopView(opts.stateDir);
        const loop = view ? { ...readStatus(store, opts.stateDir, view), alive: view.alive, pid: view.pid } : null;
        const { readBackupRecords, formatBackupLines, viewBackup } = await import('../backup/backup-record.js');
        const backups = readBackupRecords(opts.stateDir);
        if (flags.json) return out.json({ nodes: rows, reconciler: loop, backups: backups.map((r) => viewBackup(r)) });
        if (rows.length === 0) out.line('No node has been applied yet.');
        for (const r of rows) {
          out.line(`${r.node.padEnd(16)} ${r.status.padEnd(12)} generation ${String(r.generation ?? '-').padEnd(4)} ${r.revision ? r.revision.slice(0, 12) : '-'}  ${r.updatedAt}${r.url ? `  ${r.url}` : ''}`);
          if (r.detail) out.line(`${''.padEnd(16)} ${r.detail}`);
        }
        if (view && loop) for (const line of ['', ...describeLoop(loop, view)]) out.line(line);
        if (backups.length > 0) for (const line of ['', ...formatBackupLines(backups, (io.stdout as { isTTY?: boolean }).isTTY === true && io.env.NO_COLOR === undefined)]) out.line(line);
      } finally {
        store.close();
      }
    },
  );

  addDriverOptions(program.command('history').description('Every rollout, newest first, with its steps.').option('--json', 'print as JSON').option('--limit <n>', 'how many rollouts', '20')).action(
    async (flags: DriverFlags & { json?: boolean; limit: string }) => {
      const { StateStore } = await import('../state/state-store.js');
      const store = StateStore.open(driverOptions(flags, ctx).stateDir);
      try {
        const history = store.history(Number(flags.limit));
        if (flags.json) return out.json({ rollouts: history });
        for (const r of history) {
          out.line(`#${r.id} ${r.outcome.padEnd(11)} ${r.revision?.slice(0, 12) ?? '-'} ${r.startedAt} → ${r.finishedAt ?? '…'} (${r.driver})${r.detail ? `: ${r.detail}` : ''}`);
          for (const s of r.steps) out.line(`    ${s.node.padEnd(14)} ${s.kind.padEnd(8)} ${s.outcome.padEnd(7)} ${s.detail ?? ''}`);
        }
      } finally {
        store.close();
      }
    },
  );
}
