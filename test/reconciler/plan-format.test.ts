// The plan as reviewers read it: golden files for the text and markdown formats, and the rules a
// split pull-request comment must keep (under GitHub's limit, each part renders, no diff line lost).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { NodePlan, Plan } from '../../reconciler/plan/plan-model.js';
import { formatPlanJson } from '../../reconciler/plan/plan-json.js';
import { formatPlanMarkdown } from '../../reconciler/plan/plan-markdown.js';
import { describeRevision, formatPlanText, splitLines, useColor } from '../../reconciler/plan/plan-text.js';
import { makeAddon, makeDiff, makeFile, makeLongDiff, makeNodePlan, makePlan, makeRoute, makeUnit } from './plan-builders.js';

function makeFullPlan(): Plan {
  const web1 = makeNodePlan('web-1', {
    apps: { added: ['shop'], changed: ['blog'], removed: ['legacy'] },
    units: [
      makeUnit('shop-web-1', 'start'),
      makeUnit('shop-release', 'start', [], { kind: 'release' }),
      makeUnit('blog-web-1', 'restart', ['command changed', 'env LOG_LEVEL changed']),
      makeUnit('legacy-web-1', 'stop', ['app removed']),
    ],
    routes: [
      makeRoute('shop.acme.example', 'add', { added: ['10.0.0.11:20001', '10.0.0.12:20002'] }),
      makeRoute('blog.acme.example', 'change', { added: ['10.0.0.12:20003'], removed: ['10.0.0.11:20001'] }),
      makeRoute('legacy.acme.example', 'remove'),
    ],
    addons: [makeAddon('shop', 'postgres', 'create'), makeAddon('legacy', 'redis', 'remove')],
    warnings: ["legacy's Redis server on web-1 is no longer managed: it is not dropped, and its data stays on the node until you remove it by hand"],
    files: [
      makeFile('apps/shop.nix', 'add', makeDiff('apps/shop.nix', ['+{ ... }:', '+{', '+  systemd.services.shop-web-1.enable = true;', '+}'])),
      makeFile('apps/blog.nix', 'change', makeDiff('apps/blog.nix', [
        '   systemd.services.blog-web-1 = {',
        '-    environment.LOG_LEVEL = "info";',
        '+    environment.LOG_LEVEL = "debug";',
        '     serviceConfig.ExecStart = "/nix/store/…-blog/bin/blog --port 20001";',
      ], 12)),
      makeFile('caddy.json', 'change'),
    ],
  });
  const web2 = makeNodePlan('web-2', {
    apps: { changed: ['blog'] },
    units: [makeUnit('blog-web-2', 'restart', ['port 20001 → 20007'])],
    routes: [makeRoute('blog.acme.example', 'change', { reasons: ['health check path /health → /healthz'] })],
    files: [makeFile('apps/blog.nix', 'change', makeDiff('apps/blog.nix', ['-    PORT = "20001";', '+    PORT = "20007";'], 20))],
  });
  const db1 = makeNodePlan('db-1', {
    status: 'added',
    apps: { added: ['shop'] },
    units: [makeUnit('shop-worker-1', 'start')],
    addons: [makeAddon('shop', 'postgres', 'create')],
    files: [makeFile('apps/shop.nix', 'add', makeDiff('apps/shop.nix', ['+{ services.postgresql.ensureDatabases = [ "shop" ]; }']))],
  });
  const old1 = makeNodePlan('old-1', {
    status: 'removed',
    units: [makeUnit('blog-worker-1', 'stop', ['node removed'])],
    warnings: ['old-1 is gone from fleet.yaml: skyrec no longer manages it and nothing on it is stopped or deleted'],
  });
  return makePlan([web1, web2, db1, old1], { nodesUnchanged: 3 });
}

const noChanges = makePlan([], { nodesUnchanged: 5, head: { revision: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00', label: 'HEAD' } });

describe('formatPlanText', () => {
  it('lists each changing node, terraform-like, and ends with the summary', async () => {
    const text = formatPlanText(makeFullPlan(), { color: false });
    expect(text).not.toContain('\x1b');
    expect(text).toContain('  ~ restart blog-web-1 (command changed, env LOG_LEVEL changed)\n');
    expect(text).toContain('  + route shop.acme.example → 10.0.0.11:20001, 10.0.0.12:20002\n');
    expect(text).toContain('  ~ route blog.acme.example: +10.0.0.12:20003 -10.0.0.11:20001\n');
    expect(text).toContain('  - Redis server for legacy removed (no longer managed; its data stays)\n');
    expect(text).toContain("  ! legacy's Redis server on web-1 is no longer managed: it is not dropped");
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      '4 nodes change, 3 unchanged: 1 app added, 1 changed, 1 removed; 3 starts, 2 restarts, 2 stops; 4 route changes; 2 warnings.',
    );
    await expect(text).toMatchFileSnapshot('../golden/plan/full.txt');
  });

  it('colours the marks and diff lines only when asked', async () => {
    const text = formatPlanText(makeFullPlan(), { color: true });
    expect(text).toContain('\x1b[32m+\x1b[0m start shop-web-1');
    expect(text).toContain('\x1b[31m-    environment.LOG_LEVEL = "info";\x1b[0m');
    expect(text).toContain('\x1b[36m@@ -12,3 +12,3 @@\x1b[0m');
    await expect(text).toMatchFileSnapshot('../golden/plan/full.color.txt');
  });

  it('says there are no changes and counts the unchanged nodes', async () => {
    const text = formatPlanText(noChanges, { color: false });
    expect(text).toBe('Plan: origin/main (3f2a9c1) → HEAD (c0ffee0)\n\nNo changes. 5 nodes unchanged.\n');
    await expect(text).toMatchFileSnapshot('../golden/plan/no-changes.txt');
  });
});

describe('describeRevision', () => {
  const sha = '910100ef10f4dfd9985d1c55232ac3cdedac7cb7';
  it.each([
    [{ revision: sha, label: 'origin/main' }, 'origin/main (910100e)'],
    [{ revision: sha, label: sha }, '910100e'],
    [{ revision: sha, label: '910100ef1' }, '910100e'],
    [{ revision: null, label: 'working tree' }, 'working tree'],
  ])('%o → %s', (rev, expected) => {
    expect(describeRevision(rev)).toBe(expected);
  });
});

describe('useColor', () => {
  const tty = { isTTY: true };
  it.each([
    ['a TTY', tty, {}, true],
    ['a pipe', {}, {}, false],
    ['NO_COLOR set', tty, { NO_COLOR: '1' }, false],
    ['NO_COLOR empty (counts as unset)', tty, { NO_COLOR: '' }, true],
    ['TERM=dumb', tty, { TERM: 'dumb' }, false],
    ['FORCE_COLOR=1 in a pipe', {}, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=1 over NO_COLOR', {}, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    ['FORCE_COLOR=0 on a TTY', tty, { FORCE_COLOR: '0' }, false],
  ])('%s', (_name, stream, env, expected) => {
    expect(useColor(stream, env as NodeJS.ProcessEnv)).toBe(expected);
  });
});

describe('formatPlanJson', () => {
  it('prints the plan as it is, ending in a newline', async () => {
    const json = formatPlanJson(makeFullPlan());
    expect(JSON.parse(json)).toEqual(makeFullPlan());
    expect(json.endsWith('}\n')).toBe(true);
    await expect(json).toMatchFileSnapshot('../golden/plan/full.json');
  });
});

describe('formatPlanMarkdown', () => {
  it('puts the table and the warnings before the per-node sections', async () => {
    const [md, ...rest] = formatPlanMarkdown(makeFullPlan());
    expect(rest).toEqual([]);
    expect(md.startsWith('### skyrec plan\n\n')).toBe(true);
    const firstDetails = md.indexOf('<details>');
    expect(md.indexOf('| node | status |')).toBeLessThan(firstDetails);
    expect(md.indexOf('> [!WARNING]')).toBeLessThan(firstDetails);
    expect(md).toContain('<details><summary><b>web-2</b>: 1 app, 1 restart, 1 route</summary>');
    expect(parseMarkdown(md).problems).toEqual([]);
    await expect(md).toMatchFileSnapshot('../golden/plan/full.md');
  });

  it('says there are no changes in one short part', async () => {
    const parts = formatPlanMarkdown(noChanges);
    expect(parts).toEqual(['### skyrec plan\n\nPlan for origin/main (3f2a9c1) → HEAD (c0ffee0): No changes. 5 nodes unchanged.\n']);
    await expect(parts[0]).toMatchFileSnapshot('../golden/plan/no-changes.md');
  });

  it('escapes free text that would break a table, a list or the HTML around it', () => {
    const node = makeNodePlan('web-1', {
      units: [makeUnit('blog-web-1', 'restart', ['env GREETING changed: "a|b" → "<b>&"'])],
      warnings: ['data in /srv/<app>|x stays\nbehind'],
    });
    const [md] = formatPlanMarkdown(makePlan([node]));
    expect(md).toContain('(env GREETING changed: "a&#124;b" → "&lt;b&gt;&amp;")');
    expect(md).toContain('> - **web-1**: data in /srv/&lt;app&gt;&#124;x stays behind\n');
  });

  it('fences a diff with more backticks than any run inside it', () => {
    const diff = makeDiff('apps/docs.nix', ['+  text = \'\'', '+ ```', '+ ````sh', '+  \'\';']);
    const [md] = formatPlanMarkdown(makePlan([makeNodePlan('web-1', { files: [makeFile('apps/docs.nix', 'change', diff)] })]));
    expect(md).toContain('`````diff\n');
    expect(collectDiffLines([md])).toEqual(splitLines(diff));
  });

  it('splits a large plan between node sections, and only the oversized node inside', () => {
    const nodes = Array.from({ length: 300 }, (_, i) =>
      makeNodePlan(`web-${i}`, { units: [makeUnit(`app${i}-web-1`, 'restart', ['command changed'])], files: [makeFile('apps/a.nix', 'change', makeLongDiff('apps/a.nix', 2000, `n${i}`))] }),
    );
    nodes.splice(150, 0, makeNodePlan('huge-1', { files: [makeFile('apps/big.nix', 'change', makeLongDiff('apps/big.nix', 150_000))] }));
    const plan = makePlan(nodes);
    const parts = formatPlanMarkdown(plan, { limit: 65_000 });
    expect(parts.length).toBeGreaterThan(10);
    expectValidParts(plan, parts, 65_000);
    const continued = parts.flatMap((p) => [...p.matchAll(/<summary><b>([^<]+)<\/b> \(continued\)/g)].map((m) => m[1]));
    expect(new Set(continued)).toEqual(new Set(['huge-1']));
  });

  it('keeps every part valid and every diff line for any plan and limit', () => {
    const stats = { runs: 0, split: 0, splitInsideDiff: 0 };
    fc.assert(
      fc.property(arbitraryPlan(), fc.integer({ min: 2_000, max: 70_000 }), (plan, limit) => {
        const parts = formatPlanMarkdown(plan, { limit });
        expectValidParts(plan, parts, limit);
        stats.runs++;
        if (parts.length > 1) stats.split++;
        if (parts.some((p) => /\(continued\)\n\n`{3,}diff/.test(p))) stats.splitInsideDiff++;
      }),
      { numRuns: 150 },
    );
    // The property only means something if the generated plans actually need splitting.
    expect(stats.split).toBeGreaterThan(stats.runs / 4);
    expect(stats.splitInsideDiff).toBeGreaterThan(0);
  }, 30_000); // 150 plans formatted and checked: ~2 s alone, several times that on a busy 2-core machine
});

function expectValidParts(plan: Plan, parts: string[], limit: number): void {
  parts.forEach((part, i) => {
    expect(part.length).toBeLessThan(limit);
    const heading = parts.length === 1 ? '### skyrec plan\n\n' : `### skyrec plan (part ${i + 1} of ${parts.length})\n\n`;
    expect(part.startsWith(heading)).toBe(true);
    expect(parseMarkdown(part).problems).toEqual([]);
  });
  const diffs = plan.nodes.flatMap((n) => n.files).flatMap((f) => (f.diff ? splitLines(f.diff) : []));
  expect(collectDiffLines(parts)).toEqual(diffs);
}

/** The lines of every ```diff block, in order across parts: what a reader pieces back together. */
function collectDiffLines(parts: string[]): string[] {
  return parts.flatMap((p) => parseMarkdown(p).fences.filter((f) => f.info === 'diff').flatMap((f) => f.lines));
}

/**
 * Just enough CommonMark to check a part renders as meant: a backtick fence of N closes only on a
 * line of at least N backticks and nothing else (indented at most 3 spaces), and <details> tags
 * outside code balance.
 */
function parseMarkdown(md: string): { problems: string[]; fences: { info: string; lines: string[] }[] } {
  const problems: string[] = [];
  const fences: { info: string; lines: string[] }[] = [];
  let open: { len: number; info: string; lines: string[] } | null = null;
  let depth = 0;
  for (const line of md.split('\n')) {
    const fence = /^ {0,3}(`{3,})([^`]*)$/.exec(line);
    if (open) {
      if (fence && fence[1].length >= open.len && fence[2].trim() === '') {
        fences.push({ info: open.info, lines: open.lines });
        open = null;
      } else open.lines.push(line);
    } else if (fence) {
      open = { len: fence[1].length, info: fence[2].trim(), lines: [] };
    } else {
      depth += (line.match(/<details>/g) ?? []).length;
      depth -= (line.match(/<\/details>/g) ?? []).length;
      if (depth < 0) problems.push(`</details> without <details>: ${line}`);
      if (depth < 0) depth = 0;
    }
  }
  if (open) problems.push(`unclosed fence of ${open.len}`);
  if (depth !== 0) problems.push(`${depth} unclosed <details>`);
  return { problems, fences };
}

function arbitraryPlan(): fc.Arbitrary<Plan> {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/);
  const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '|', '<', '>', '&', '`', '*', '\n', '→', 'é'), maxLength: 60 });
  const diffLine = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', ' ', '`', '+', '-', '<', '>', '|', '#', '~'), maxLength: 150 }),
    fc.integer({ min: 3, max: 8 }).map((n) => ` ${'`'.repeat(n)}`),
    fc.constantFrom('</details>', '<details>', '```', '+```diff'),
  );
  const diff = fc.option(fc.array(diffLine, { maxLength: 300, size: 'max' }).map((lines) => lines.join('\n') + '\n'), { nil: undefined });
  const file = fc.record({ path: name.map((n) => `apps/${n}.nix`), action: fc.constantFrom('add' as const, 'change' as const, 'remove' as const), diff });
  const node: fc.Arbitrary<NodePlan> = fc.record({
    node: name,
    status: fc.constantFrom('added' as const, 'removed' as const, 'changed' as const),
    units: fc.array(fc.record({ unit: name, action: fc.constantFrom('start' as const, 'restart' as const, 'stop' as const), reasons: fc.array(text, { maxLength: 3 }) }), { maxLength: 5 }),
    warnings: fc.array(text, { maxLength: 3 }),
    files: fc.array(file, { maxLength: 4 }),
  }).map((n) => makeNodePlan(n.node, {
    status: n.status,
    units: n.units.map((u) => makeUnit(u.unit, u.action, u.reasons)),
    warnings: n.warnings,
    files: n.files.map((f) => makeFile(f.path, f.action, f.diff)),
  }));
  return fc.tuple(fc.array(node, { maxLength: 25, size: 'medium' }), fc.nat(100)).map(([nodes, unchanged]) => makePlan(nodes, { nodesUnchanged: unchanged }));
}
