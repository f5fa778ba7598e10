// What skyrec's nodejs build needs from package-lock.json. Apps build with nixpkgs'
// `importNpmLock` (pkgs/build-support/node/import-npm-lock/default.nix), which reads only the
// lock's `packages` map (lockfileVersion 2 and 3; a version 1 lock has none and fails to
// evaluate) and fetches an entry only from its `resolved` URL with its `integrity` hash: an entry
// without `resolved` is not fetched, and the offline `npm ci` in the build then fails.
// skyrec's own flake.nix rebuilds the missing URLs for its own lock (`withRegistryUrls`); the
// app renderer does not, so validation refuses such entries and says how to write them.
import type { Problem } from './model.js';
import { positionOf } from './text-position.js';

interface LockEntry {
  resolved?: unknown;
  integrity?: unknown;
  link?: unknown;
  inBundle?: unknown;
}

const V1 =
  'which nixpkgs\' importNpmLock cannot read (it needs the "packages" map of version 2 or 3); ' +
  'with npm 7 or newer run `npm install --lockfile-version 3` (or `npm i --package-lock-only`) in';
const NO_RESOLVED =
  'has no "resolved" URL, so the Nix build (importNpmLock) would not fetch it and the offline install would fail; ' +
  'npm leaves it out when omit-lockfile-registry-resolved is set: in';

/** The `packages` entry that needs a download but names no URL to download it from, or null. */
function firstUnresolved(packages: Record<string, LockEntry>): string | null {
  for (const [path, entry] of Object.entries(packages)) {
    // The root (""), workspace folders and links are the app's own files; bundled ones come inside their parent.
    if (path === '' || !path.includes('node_modules/') || entry.link === true || entry.inBundle === true) continue;
    if (typeof entry.resolved !== 'string' || entry.resolved === '') return path;
  }
  return null;
}

/** Problems of `file` (a package-lock.json's path in the config repo) with text `text`; dir is its folder. */
export function checkNpmLock(file: string, dir: string, text: string): Problem[] {
  let lock: { lockfileVersion?: unknown; packages?: unknown };
  try {
    lock = JSON.parse(text.replace(/^\uFEFF/, '')) as typeof lock;
  } catch (err) {
    return [{ file, line: 1, col: 1, message: `package-lock.json is not valid JSON (${(err as Error).message}); run \`npm install --package-lock-only\` in ${dir} and commit it` }];
  }
  const at = (index: number) => positionOf(text, Math.max(index, 0));
  const packages = lock.packages;
  if (lock.lockfileVersion === 1 || packages === null || typeof packages !== 'object') {
    const what = lock.lockfileVersion === 1 ? 'is lockfileVersion 1' : 'has no "packages" map';
    return [{ file, ...at(text.indexOf('"lockfileVersion"')), message: `${file} ${what}, ${V1} ${dir}, and commit package-lock.json` }];
  }
  const path = firstUnresolved(packages as Record<string, LockEntry>);
  if (path === null) return [];
  return [{
    file,
    ...at(text.indexOf(`${JSON.stringify(path)}:`)),
    message:
      `${file}: "${path}" ${NO_RESOLVED} ${dir} run \`npm install --package-lock-only --omit-lockfile-registry-resolved=false\` ` +
      '(check `npm config get omit-lockfile-registry-resolved` and your .npmrc) and commit package-lock.json',
  }];
}
