// The templates `npm run build` precompiles: every template of rendered config, current with its
// source (a template edited after the build is compiled again, not served stale), and still
// refused when it prints a value without an escaping helper.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../../common/paths.js';
import { listTemplates, precompileTemplate, templateDigest } from '../../generators/template-compile.js';
import { loadPrecompiled, loadTemplate } from '../../generators/templates.js';

const root = packageRoot();
const tmp = mkdtempSync(join(root, 'dist', 'templates-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('precompiled templates', () => {
  test('the build precompiles every template of rendered config, with the digest of its source', () => {
    const out = join(tmp, 'templates.generated.cjs');
    execFileSync(process.execPath, [join(root, 'dist/generators/build-templates.js'), out]);
    const built = loadPrecompiled(out);
    const names = listTemplates(join(root, 'templates'));
    expect(names).toEqual(expect.arrayContaining(['node.nix.hbs', 'app.nix.hbs', 'Caddyfile.hbs', 'local-Caddyfile.hbs', 'init/host.nix.hbs']));
    expect(names).not.toContain('status.html.hbs');
    expect(Object.keys(built).sort()).toEqual(names);
    for (const name of names) expect(built[name].digest, name).toBe(templateDigest(readFileSync(join(root, 'templates', name), 'utf8')));
    // An edit changes the digest, so the build's copy of that template is not used.
    expect(templateDigest('{{nix x}}\n')).not.toBe(templateDigest('{{nix y}}\n'));
  });

  test('a template printing a value without an escaping helper is refused, naming its file and line', () => {
    expect(() => precompileTemplate('app.nix.hbs', 'a = {{nix name}};\nb = {{name}};\n')).toThrow('templates/app.nix.hbs:2: {{name}} prints a value without an escaping helper (nix, nixList, nixAttr, caddy, int, label)');
    expect(() => precompileTemplate('x.hbs', '{{#raw}}{{/raw}}')).toThrow('templates/x.hbs:1: {{raw}}');
  });

  test('a loaded template escapes what it prints and refuses a missing value', () => {
    const host = loadTemplate('init/host.nix.hbs');
    expect(host({ node: 'web-1' })).toContain('web-1');
    expect(() => host({ node: 'web 1; rm -rf /' })).toThrow('is not a plain name');
    expect(() => host({})).toThrow();
  });
});
