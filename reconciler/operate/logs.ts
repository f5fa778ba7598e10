// `skyrec logs`: an app's lines from every node that runs it, read through each node's driver in
// parallel and merged in time order. What existed when the command started is merged whole (and
// cut to the last -n lines); when following, each new line is shown as it arrives.
import type { NodeDriver } from '../../fleet/node/driver.js';
import { mergeByTime, type LogEntry, type LogQuery } from '../../fleet/node/operate.js';
import { SkyrecError } from '../../common/errors.js';
import type { AppUnits } from './app-units.js';
import { createMasker, toShown, type ShownLine } from './log-format.js';

export interface AppLogsOptions {
  driver: NodeDriver;
  units: AppUnits;
  query: Omit<LogQuery, 'units'>;
  grep: RegExp | null;
  emit: (line: ShownLine) => void;
  /** A node that could not be read; the others go on. */
  warn: (node: string, message: string) => void;
  signal?: AbortSignal;
}

export interface AppLogsResult {
  failed: string[];
  /** Secret names whose values no node gave (so they could not be masked). */
  unmasked: boolean;
}

export async function streamAppLogs(o: AppLogsOptions): Promise<AppLogsResult> {
  const { driver, units } = o;
  if (!driver.readLogs) throw new SkyrecError(`the ${driver.kind} driver cannot read logs`);
  const failed: string[] = [];
  // The secret values are read while the lines are (on NixOS, one more ssh per node): nothing is
  // shown before the mask is ready, since every line waits for the slowest node's past anyway.
  let mask: (text: string) => string = () => '';
  let unmasked = false;
  const maskReady = Promise.all(
    units.nodes.map(async ({ node, units: us }) => {
      if (units.secretNames.length === 0 || !driver.secretValues) return [];
      const running = us.filter((u) => u.kind === 'instance').map((u) => u.unit);
      return driver.secretValues(node, { app: units.app, names: units.secretNames, units: running }).catch(() => []);
    }),
  ).then((secrets) => {
    const values = [...new Set(secrets.flat())];
    unmasked = units.secretNames.length > 0 && values.length === 0;
    mask = createMasker(values);
  });
  const keep = (l: ShownLine) => o.grep === null || o.grep.test(l.text);

  // Until every node has given its past lines, they wait here (per node), then go out merged.
  const past = new Map(units.nodes.map((n) => [n.node.name, [] as LogEntry[]]));
  const waiting = new Set(past.keys());
  const early: { node: string; e: LogEntry }[] = [];
  let live = false;
  let flushed: Promise<void> | null = null;
  const flushPast = () =>
    (flushed ??= maskReady.then(() => {
      const merged = mergeByTime([...past].map(([node, entries]) => entries.map((e) => ({ time: e.time, node, e }))));
      const shown = merged.map((x) => toShown(units.app, x.node, x.e, mask)).filter(keep);
      const lines = o.query.lines;
      for (const l of lines === undefined ? shown : shown.slice(Math.max(0, shown.length - lines))) o.emit(l);
      for (const x of mergeByTime([early.map((x) => ({ ...x, time: x.e.time }))])) {
        const l = toShown(units.app, x.node, x.e, mask);
        if (keep(l)) o.emit(l);
      }
      early.length = 0;
      live = true;
    }));
  const settle = (node: string) => {
    waiting.delete(node);
    if (waiting.size === 0) void flushPast();
  };

  await Promise.all(
    units.nodes.map(async ({ node, units: us }) => {
      let caughtUp = false;
      const sink = {
        entry(e: LogEntry) {
          if (!caughtUp) return void past.get(node.name)!.push(e);
          if (!live) return void early.push({ node: node.name, e });
          const l = toShown(units.app, node.name, e, mask);
          if (keep(l)) o.emit(l);
        },
        caughtUp() {
          caughtUp = true;
          settle(node.name);
        },
      };
      // With --grep, -n counts matching lines: every line in the window is read and cut here.
      const query: LogQuery = { ...o.query, lines: o.grep ? undefined : o.query.lines, units: us.map((u) => u.unit) };
      try {
        await driver.readLogs!(node, query, sink, o.signal);
      } catch (err) {
        failed.push(node.name);
        o.warn(node.name, (err as Error).message);
      } finally {
        settle(node.name);
      }
    }),
  );
  await flushPast();
  return { failed, unmasked };
}
