// `skyrec plan --format text`: a terraform-like listing for a terminal. The sentence helpers are
// shared with the markdown format so a pull-request comment and a terminal say the same thing.
import type { AddonChange, FileChange, NodePlan, Plan, RevisionLabel, RouteChange, UnitChange } from './plan-model.js';

// Plain SGR escapes: colour is a handful of codes, not worth a dependency.
const SGR = { bold: 1, red: 31, green: 32, yellow: 33, cyan: 36 } as const;
type Style = keyof typeof SGR;
type Paint = (text: string, ...styles: Style[]) => string;

/**
 * Colour only for a person at a terminal. NO_COLOR (no-color.org: set and non-empty) and
 * TERM=dumb turn it off; FORCE_COLOR turns it on even in a pipe (CI logs render escapes) and,
 * as in Node itself, wins over NO_COLOR. FORCE_COLOR=0 or false forces it off.
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export function formatPlanText(plan: Plan, opts: { color: boolean }): string {
  const paint: Paint = opts.color
    ? (text, ...styles) => `\x1b[${styles.map((s) => SGR[s]).join(';')}m${text}\x1b[0m`
    : (text) => text;
  const lines = [paint(`Plan: ${describeRevision(plan.base)} → ${describeRevision(plan.head)}`, 'bold'), ''];
  for (const node of plan.nodes) lines.push(...formatNode(node, paint), '');
  lines.push(paint(describePlanSummary(plan), 'bold'));
  return lines.join('\n') + '\n';
}

/** 'origin/main (3f2a9c1)'; a revision asked for by hash is just its short hash; the working tree has none. */
export function describeRevision(rev: RevisionLabel): string {
  if (!rev.revision) return rev.label;
  const short = rev.revision.slice(0, 7);
  return rev.revision.startsWith(rev.label) ? short : `${rev.label} (${short})`;
}

/** '1 restart', '2 restarts'. */
export function countWord(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The closing sentence of every format; 'No changes.' when no node changes. */
export function describePlanSummary(plan: Plan): string {
  const s = plan.summary;
  const unchanged = `${countWord(s.nodesUnchanged, 'node')} unchanged`;
  if (s.nodesChanged === 0) return `No changes. ${unchanged}.`;
  // Fleet-wide causes (a new flake.lock) explain why every node is listed with so little in it.
  const causes = (plan.fleetChanges ?? []).map((c) => ` ${c}.`).join('');
  return (
    `${countWord(s.nodesChanged, 'node')} change${s.nodesChanged === 1 ? 's' : ''}, ${s.nodesUnchanged} unchanged: ` +
    `${countWord(s.appsAdded.length, 'app')} added, ${s.appsChanged.length} changed, ${s.appsRemoved.length} removed; ` +
    `${countWord(s.starts, 'start')}, ${countWord(s.restarts, 'restart')}, ${countWord(s.stops, 'stop')}; ` +
    `${countWord(s.routesChanged, 'route change')}; ${countWord(s.warnings, 'warning')}.${causes}`
  );
}

/** Named as plan-diff.ts names them in its warnings, so an addon line and its warning read alike. */
export function describeAddon(a: AddonChange): string {
  return a.addon === 'postgres' ? 'PostgreSQL database' : 'Redis server';
}

/**
 * A removed addon is only forgotten, never dropped. The loud part is the plan's own warning
 * (warnings[] carries one for every removed addon); this line says what changes.
 */
export function describeAddonRemoval(a: AddonChange): string {
  return `${describeAddon(a)} for ${a.app} removed (no longer managed; its data stays)`;
}

export function describeNodeStatus(node: NodePlan): string {
  if (node.status === 'added') return 'new node';
  if (node.status === 'removed') return 'removed from the fleet';
  return 'changed';
}

/** 'start', or 'start release' for the units a reader does not think of as the app itself. */
export function describeUnitAction(u: UnitChange): string {
  return u.kind === 'instance' ? u.action : `${u.action} ${u.kind}`;
}

function formatNode(node: NodePlan, paint: Paint): string[] {
  const add = (text: string) => `  ${paint('+', 'green')} ${text}`;
  const change = (text: string) => `  ${paint('~', 'yellow')} ${text}`;
  const remove = (text: string) => `  ${paint('-', 'red')} ${text}`;
  const warn = (text: string) => `  ${paint('!', 'bold', 'red')} ${paint(text, 'bold', 'yellow')}`;
  const out = [`${paint(node.node, 'bold')} (${describeNodeStatus(node)})`];
  out.push(...node.apps.added.map((a) => add(`app ${a}`)));
  out.push(...node.apps.changed.map((a) => change(`app ${a}`)));
  out.push(...node.apps.removed.map((a) => remove(`app ${a}`)));
  for (const u of node.units) {
    const text = `${describeUnitAction(u)} ${u.unit}${formatReasons(u.reasons)}`;
    out.push(u.action === 'start' ? add(text) : u.action === 'stop' ? remove(text) : change(text));
  }
  for (const r of node.routes) {
    if (r.action === 'add') out.push(add(`route ${r.domain} → ${r.upstreamsAdded.join(', ')}${formatReasons(r.reasons)}`));
    else if (r.action === 'remove') out.push(remove(`route ${r.domain}`));
    else out.push(change(`route ${r.domain}${formatUpstreamChange(r)}${formatReasons(r.reasons)}`));
  }
  for (const a of node.addons) {
    out.push(a.action === 'create' ? add(`${describeAddon(a)} for ${a.app} (created: this node holds its data)`) : remove(describeAddonRemoval(a)));
  }
  out.push(...node.warnings.map(warn));
  for (const f of node.files) out.push(...formatFile(f, { add, change, remove }, paint));
  return out;
}

function formatReasons(reasons: string[]): string {
  return reasons.length ? ` (${reasons.join(', ')})` : '';
}

function formatUpstreamChange(r: RouteChange): string {
  const moves = [...r.upstreamsAdded.map((u) => `+${u}`), ...r.upstreamsRemoved.map((u) => `-${u}`)];
  return moves.length ? `: ${moves.join(' ')}` : '';
}

type Marks = Record<'add' | 'change' | 'remove', (text: string) => string>;

function formatFile(f: FileChange, marks: Marks, paint: Paint): string[] {
  const head = marks[f.action](`file ${f.path}`);
  if (!f.diff) return [head];
  return [head, ...splitLines(f.diff).map((line) => `      ${paintDiffLine(line, paint)}`)];
}

function paintDiffLine(line: string, paint: Paint): string {
  if (line.startsWith('+++') || line.startsWith('---')) return paint(line, 'bold');
  if (line.startsWith('+')) return paint(line, 'green');
  if (line.startsWith('-')) return paint(line, 'red');
  if (line.startsWith('@@')) return paint(line, 'cyan');
  return line;
}

/** A diff's lines, without the empty string its final newline would leave. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
