// What made an entry of the compile cache: a digest of skyrec's own compile code (validation,
// placement, rendering, templates). The cache outlives the process that wrote it, so a skyrec
// whose code differs in any of these never reuses what another version compiled.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../common/paths.js';

/** The folders whose code decides what a revision compiles to, relative to the code's root. */
const COMPILE_CODE = ['common', 'schema', 'fleet/placement', 'generators', 'reconciler/pipeline'];

let fingerprint: string | undefined;

export function codeFingerprint(): string {
  if (fingerprint) return fingerprint;
  const h = createHash('sha256');
  // This module's folder is reconciler/pipeline/ of the code's root: dist/, or the sources under vitest.
  const code = fileURLToPath(new URL('../../', import.meta.url));
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (!e.name.endsWith('.map')) h.update(relative(code, join(dir, e.name))).update('\0').update(readFileSync(join(dir, e.name))).update('\0');
    }
  };
  for (const dir of COMPILE_CODE) walk(join(code, dir));
  walk(join(packageRoot(), 'templates'));
  return (fingerprint = h.digest('hex'));
}
