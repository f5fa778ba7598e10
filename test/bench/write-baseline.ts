// What creating a render's files costs on this disk: copies a rendered --out folder to a new
// folder, file by file as `render` writes them (write-rendered.ts: a folder per node,
// writeFileSync per file), and prints the milliseconds the writing took (the reading before it
// not counted). A cold render to an empty --out pays this on top of parsing, and it varies
// with the disk's state (README, "Warm render and plan").
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [from, to] = process.argv.slice(2);
const files: [string, string][] = [];
const walk = (dir: string, rel: string): void => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(dir, e.name), join(rel, e.name));
    else files.push([join(rel, e.name), readFileSync(join(dir, e.name), 'utf8')]);
  }
};
walk(from, '');
const started = performance.now();
const dirs = new Set<string>();
for (const [path, text] of files) {
  const folder = dirname(join(to, path));
  if (!dirs.has(folder)) {
    mkdirSync(folder, { recursive: true });
    dirs.add(folder);
  }
  writeFileSync(join(to, path), text);
}
process.stdout.write(`${JSON.stringify({ files: files.length, ms: performance.now() - started })}\n`);
