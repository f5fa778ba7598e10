// The parse-only baseline: read every spec of a repo and parse it with the same YAML library
// skyrec uses, and nothing else. Run as its own process so it pays the same startup as skyrec.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const dirs = process.argv.slice(2);
let count = 0;
for (const dir of dirs) {
  parse(readFileSync(join(dir, 'fleet.yaml'), 'utf8'));
  for (const f of readdirSync(join(dir, 'apps')).sort()) {
    parse(readFileSync(join(dir, 'apps', f), 'utf8'));
    count++;
  }
}
process.stdout.write(`${count}\n`);
