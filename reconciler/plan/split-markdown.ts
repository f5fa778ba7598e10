// Splits a markdown document into parts that each fit under a size limit (GitHub rejects a comment
// over 65,536 characters) and each render on their own: every code fence and <details> that a
// part leaves open is closed at its end and reopened, marked as continued, at the start of the next.
//
// The document is a tree. A leaf is a string that is never cut (a list item, one diff line); a
// group has the text that opens it, closes it, and reopens it in a later part. The packer keeps a
// group whole where it can: into the current part if it fits, else into a fresh part if it fits
// there, and only otherwise spreads its children over parts. So a plan breaks between node
// sections first, then between file diffs, and only then inside a diff, at a line boundary.

export interface MarkdownGroup {
  open: string;
  close: string;
  reopen: string;
  children: MarkdownBlock[];
}

export type MarkdownBlock = string | MarkdownGroup;

export interface SplitOptions {
  /** Every part, heading included, is shorter than this (in JS string length). */
  limit: number;
  /** The heading of part i (1-based) of n, ending in a blank line. */
  heading: (i: number, n: number) => string;
}

/** Marks a leaf cut short because it alone does not fit in a part; nothing the plan makes is that long. */
const CUT = ' … (cut: too long for one comment)\n';

export function splitMarkdown(blocks: MarkdownBlock[], opts: SplitOptions): string[] {
  // The heading's length depends on the number of parts; assume a digit count, repack if wrong.
  for (let digits = 1; ; digits++) {
    const widest = 10 ** digits - 1;
    const budget = opts.limit - 1 - Math.max(opts.heading(1, 1).length, opts.heading(widest, widest).length);
    if (budget < 200) throw new RangeError(`markdown limit ${opts.limit} is too small to split into parts`);
    const bodies = packBlocks(blocks, budget);
    if (bodies.length > widest) continue;
    return bodies.map((body, i) => opts.heading(i + 1, bodies.length) + body.trimEnd() + '\n');
  }
}

function packBlocks(blocks: MarkdownBlock[], budget: number): string[] {
  const parts: string[] = [];
  let cur = '';
  let stack: MarkdownGroup[] = [];
  const started = new Set<MarkdownGroup>();

  const closeLength = (path: MarkdownGroup[]) => path.reduce((n, g) => n + g.close.length, 0);
  const commonDepth = (path: MarkdownGroup[]) => {
    let k = 0;
    while (k < stack.length && k < path.length && stack[k] === path[k]) k++;
    return k;
  };
  // The text that takes the current part from the open groups in `stack` to those in `path`.
  const transition = (path: MarkdownGroup[]) => {
    const k = commonDepth(path);
    const closes = stack.slice(k).reverse().map((g) => g.close);
    const opens = path.slice(k).map((g) => (started.has(g) ? g.reopen : g.open));
    return closes.join('') + opens.join('');
  };
  const fits = (text: string, path: MarkdownGroup[]) => cur.length + text.length + closeLength(path) <= budget;
  const append = (text: string, path: MarkdownGroup[]) => {
    for (const g of path) started.add(g);
    cur += text;
    stack = path;
  };
  const breakPart = () => {
    parts.push(cur + transition([]));
    cur = '';
    stack = [];
  };

  const placeLeaf = (leaf: string, path: MarkdownGroup[]) => {
    let text = transition(path) + leaf;
    if (!fits(text, path) && cur !== '') {
      breakPart();
      text = transition(path) + leaf;
    }
    if (!fits(text, path)) text = text.slice(0, budget - closeLength(path) - CUT.length) + CUT;
    append(text, path);
  };

  const place = (block: MarkdownBlock, path: MarkdownGroup[]) => {
    if (typeof block === 'string') return placeLeaf(block, path);
    const whole = renderWhole(block);
    if (!fits(transition(path) + whole, path) && cur !== '') {
      // Would it fit on a fresh part? Measured from an empty part, where every group on the path reopens.
      const fresh = path.map((g) => (started.has(g) ? g.reopen : g.open)).join('') + whole;
      if (fresh.length + closeLength(path) <= budget) breakPart();
    }
    if (fits(transition(path) + whole, path)) return append(transition(path) + whole, path);
    const inner = [...path, block];
    for (const child of block.children) place(child, inner);
    if (stack[path.length] === block) append(transition(path), path);
  };

  for (const block of blocks) place(block, []);
  if (cur !== '') breakPart();
  return parts;
}

function renderWhole(block: MarkdownBlock): string {
  return typeof block === 'string' ? block : block.open + block.children.map(renderWhole).join('') + block.close;
}
