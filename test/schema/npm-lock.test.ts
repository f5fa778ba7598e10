// package-lock.json as validation reads it for the nodejs stack: the locks npm writes that the Nix
// build (importNpmLock) cannot use are refused at their line, with the npm command that fixes them.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { problemsWith, removeRepos } from './repo.js';

afterEach(removeRepos);

const lock = (name: string) => readFileSync(new URL(`../fixtures/npm-locks/${name}`, import.meta.url), 'utf8');
const app = 'name: web\npackage:\n  build: { stack: nodejs, path: src/web }\nprocesses:\n  worker: { command: node index.js }\n';
const withLock = (text: string) => ({ 'apps/web.yaml': app, 'src/web/package.json': '{ "name": "web" }\n', 'src/web/package-lock.json': text });

describe('package-lock.json', () => {
  test('a lock npm wrote with a link to a local folder is accepted', async () => {
    expect(await problemsWith(withLock(lock('link-v3.json')))).toEqual([]);
  });

  test('lockfileVersion 1 is refused at its line with the npm command that rewrites it', async () => {
    expect(await problemsWith(withLock(lock('v1.json')))).toEqual([
      "src/web/package-lock.json:4:3: src/web/package-lock.json is lockfileVersion 1, which nixpkgs' importNpmLock cannot read (it needs the \"packages\" map of version 2 or 3); " +
        'with npm 7 or newer run `npm install --lockfile-version 3` (or `npm i --package-lock-only`) in src/web, and commit package-lock.json',
    ]);
  });

  test('the first entry without "resolved" is named at its line, with how to write the URLs back', async () => {
    expect(await problemsWith(withLock(lock('no-resolved-v3.json')))).toEqual([
      'src/web/package-lock.json:40:5: src/web/package-lock.json: "node_modules/@apidevtools/json-schema-ref-parser" has no "resolved" URL, so the Nix build (importNpmLock) would not fetch it and the offline install would fail; ' +
        'npm leaves it out when omit-lockfile-registry-resolved is set: in src/web run `npm install --package-lock-only --omit-lockfile-registry-resolved=false` ' +
        '(check `npm config get omit-lockfile-registry-resolved` and your .npmrc) and commit package-lock.json',
    ]);
  });

  test('entries that are links, bundled or the root need no URL; a lock that is not JSON says so', async () => {
    const text = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'web' },
        'node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: 'sha512-x' },
        'node_modules/a/node_modules/b': { version: '1.0.0', inBundle: true },
        'node_modules/c': { resolved: 'packages/c', link: true },
      },
    }, null, 2);
    expect(await problemsWith(withLock(text))).toEqual([]);
    expect(await problemsWith(withLock('{ "lockfileVersion": 3,\n'))).toEqual([
      expect.stringMatching(/^src\/web\/package-lock.json:1:1: package-lock.json is not valid JSON \(.*\); run `npm install --package-lock-only` in src\/web and commit it$/),
    ]);
  });
});
