// `skyrec plan --format markdown`: a pull-request comment. A summary table and the warnings come
// first, so a reviewer sees what matters without expanding anything; then one collapsed <details>
// section per node. Long plans become several comments (split-markdown.ts).
import type { FileChange, NodePlan, Plan, RouteChange, UnitChange } from './plan-model.js';
import {
  countWord,
  describeAddon,
  describeNodeStatus,
  describePlanSummary,
  describeRevision,
  describeUnitAction,
  splitLines,
} from './plan-text.js';
import { splitMarkdown, type MarkdownBlock, type MarkdownGroup } from './split-markdown.js';

/** GitHub's comment limit is 65,536 characters; the rest is headroom. */
export const MARKDOWN_LIMIT = 65_000;

export function formatPlanMarkdown(plan: Plan, opts: { limit?: number } = {}): string[] {
  const blocks: MarkdownBlock[] = [`${escapeText(describeRevisions(plan))}: ${escapeText(describePlanSummary(plan))}\n\n`];
  if (plan.nodes.length > 0) {
    blocks.push(tabulateNodes(plan.nodes));
    const warnings = plan.nodes.flatMap((n) => n.warnings.map((w) => `> - **${escapeText(n.node)}**: ${escapeText(w)}\n`));
    if (warnings.length > 0) {
      const title = `> **${countWord(warnings.length, 'warning')}**, read before merging:\n>\n`;
      blocks.push(group(`> [!WARNING]\n${title}`, '\n', '> [!WARNING]\n> Warnings (continued):\n>\n', warnings));
    }
    blocks.push(...plan.nodes.map(sectionNode));
  }
  return splitMarkdown(blocks, {
    limit: opts.limit ?? MARKDOWN_LIMIT,
    heading: (i, n) => (n === 1 ? '### skyrec plan\n\n' : `### skyrec plan (part ${i} of ${n})\n\n`),
  });
}

/**
 * Free text (reasons, warnings, labels) goes into tables and HTML: a `|` would end a table cell
 * and `<`, `>`, `&` would be read as markup. A newline would end a list item or table row.
 */
export function escapeText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '&#124;')
    .replace(/\r?\n/g, ' ');
}

/** Names are DNS labels, domains and unit names; a code span just needs a fence its text cannot close. */
function code(text: string): string {
  const fence = '`'.repeat(longestBacktickRun(text) + 1);
  return fence.length > 1 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

function longestBacktickRun(text: string): number {
  return Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
}

function group(open: string, close: string, reopen: string, children: MarkdownBlock[]): MarkdownGroup {
  return { open, close, reopen, children };
}

function describeRevisions(plan: Plan): string {
  return `Plan for ${describeRevision(plan.base)} → ${describeRevision(plan.head)}`;
}

function tabulateNodes(nodes: NodePlan[]): MarkdownGroup {
  const header = '| node | status | apps | starts | restarts | stops | routes | warnings |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n';
  const rows = nodes.map((n) => {
    const cells = [
      `**${escapeText(n.node)}**`,
      describeNodeStatus(n),
      describeAppCounts(n) || '–',
      countUnits(n, 'start'),
      countUnits(n, 'restart'),
      countUnits(n, 'stop'),
      n.routes.length,
      n.warnings.length ? `⚠️ ${n.warnings.length}` : 0,
    ];
    return `| ${cells.join(' | ')} |\n`;
  });
  return group(header, '\n', header, rows);
}

/** '+1 ~2 -1': added, changed, removed, as in the text format. */
function describeAppCounts(n: NodePlan): string {
  const counts: [string, number][] = [['+', n.apps.added.length], ['~', n.apps.changed.length], ['-', n.apps.removed.length]];
  return counts.filter(([, c]) => c > 0).map(([mark, c]) => `${mark}${c}`).join(' ');
}

function countUnits(n: NodePlan, action: UnitChange['action']): number {
  return n.units.filter((u) => u.action === action).length;
}

/** What the collapsed section says: '2 restarts, 1 route'. */
function summarizeNode(n: NodePlan): string {
  const parts = n.status === 'changed' ? [] : [describeNodeStatus(n)];
  const apps = n.apps.added.length + n.apps.changed.length + n.apps.removed.length;
  if (apps) parts.push(countWord(apps, 'app'));
  for (const action of ['start', 'restart', 'stop'] as const) {
    const c = countUnits(n, action);
    if (c) parts.push(countWord(c, action));
  }
  if (n.routes.length) parts.push(countWord(n.routes.length, 'route'));
  if (n.addons.length) parts.push(countWord(n.addons.length, 'addon'));
  if (n.warnings.length) parts.push(`⚠️ ${countWord(n.warnings.length, 'warning')}`);
  if (parts.length === 0) parts.push(countWord(n.files.length, 'file'));
  return parts.join(', ');
}

function sectionNode(n: NodePlan): MarkdownGroup {
  const name = `<b>${escapeText(n.node)}</b>`;
  const lists: [string, string[]][] = [
    ['Apps', listApps(n)],
    ['Processes', n.units.map(describeUnit)],
    ['Routes', n.routes.map(describeRoute)],
    ['Addons', n.addons.map((a) => a.action === 'create'
      ? `- **create** ${describeAddon(a)} for ${code(a.app)} (this node holds its data)\n`
      : `- **remove** ${describeAddon(a)} for ${code(a.app)} (no longer managed; **its data stays**, see the warning)\n`)],
    ['Warnings', n.warnings.map((w) => `- ⚠️ ${escapeText(w)}\n`)],
    ['Files', n.files.filter((f) => !f.diff).map((f) => `- ${code(f.path)} (${describeFileAction(f)})\n`)],
  ];
  const children: MarkdownBlock[] = lists
    .filter(([, items]) => items.length > 0)
    .map(([title, items]) => group(`**${title}**\n\n`, '\n', `**${title}** (continued)\n\n`, items));
  children.push(...n.files.filter((f) => f.diff).map(fenceDiff));
  return group(
    `<details><summary>${name}: ${escapeText(summarizeNode(n))}</summary>\n\n`,
    '</details>\n\n',
    `<details><summary>${name} (continued)</summary>\n\n`,
    children,
  );
}

function listApps(n: NodePlan): string[] {
  const kinds: [string, string[]][] = [['added', n.apps.added], ['changed', n.apps.changed], ['removed', n.apps.removed]];
  return kinds.filter(([, apps]) => apps.length > 0).map(([kind, apps]) => `- ${kind}: ${apps.map(code).join(', ')}\n`);
}

function describeUnit(u: UnitChange): string {
  return `- **${describeUnitAction(u)}** ${code(u.unit)}${describeReasons(u.reasons)}\n`;
}

function describeRoute(r: RouteChange): string {
  const domain = code(r.domain);
  if (r.action === 'remove') return `- **remove** ${domain}\n`;
  if (r.action === 'add') return `- **add** ${domain} → ${r.upstreamsAdded.map(code).join(', ')}${describeReasons(r.reasons)}\n`;
  const moves = [...r.upstreamsAdded.map((u) => `+${code(u)}`), ...r.upstreamsRemoved.map((u) => `-${code(u)}`)];
  return `- **change** ${domain}${moves.length ? `: ${moves.join(' ')}` : ''}${describeReasons(r.reasons)}\n`;
}

function describeReasons(reasons: string[]): string {
  return reasons.length ? ` (${reasons.map(escapeText).join(', ')})` : '';
}

function describeFileAction(f: FileChange): string {
  return f.action === 'add' ? 'added' : f.action === 'remove' ? 'removed' : 'changed';
}

/** One diff line per leaf, so a diff too long for one comment is cut between lines. */
function fenceDiff(f: FileChange): MarkdownGroup {
  const lines = splitLines(f.diff ?? '');
  // A fence closes on a line of at least as many backticks, so it must outnumber any run inside.
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(f.diff ?? '') + 1));
  const label = `${code(f.path)} (${describeFileAction(f)})`;
  return group(
    `${label}\n\n${fence}diff\n`,
    `${fence}\n\n`,
    `${code(f.path)} (continued)\n\n${fence}diff\n`,
    lines.map((line) => line + '\n'),
  );
}
