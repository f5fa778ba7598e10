// Property tests with the real Nix, Caddy and bash: for arbitrary strings, what each reads
// back from skyrec's escaped text equals the input, or the escaper refuses the string.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeCaddyToken, escapeNixAttr, escapeNixList, escapeNixString, escapeShellArg } from '../../generators/escape.js';
import { EscapeError } from '../../common/errors.js';
import { exec } from '../../common/exec.js';
import { caddyAdapt, makeTempDir, nixEvalJson } from '../helpers/tools.js';

// Strings rich in what breaks naive escaping: interpolations, quotes, backslashes, newlines, unicode.
const nasty = fc.oneof(
  fc.string({ unit: fc.constantFrom('$', '{', '}', "'", '"', '\\', '\n', '\r', '\t', '`', ' ', '#', ';', 'a', 'é', '😀', '\u0001', '%') }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('${x}', "''", "'''", "''${", '\\${x}', '$${x}', '"; rm -rf / #', '{$HOME}', '{env.HOME}', '\\', 'a\\', '"', '`'),
);
const noNul = nasty.filter((s) => !s.includes('\0'));

describe('Nix escaping (real nix-instantiate --eval)', () => {
  it('reads back every string exactly, as values and attribute names', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(noNul, { minLength: 1, maxLength: 60 }), async (values) => {
          const file = join(dir, 'values.nix');
          const attrs = values.map((v, i) => `${escapeNixAttr(`k${i}-${v}`)} = ${escapeNixString(v)};`).join('\n');
          writeFileSync(file, `{ list = ${escapeNixList(values)}; attrs = { ${attrs} }; }`);
          const back = (await nixEvalJson(`import ${file}`)) as { list: string[]; attrs: Record<string, string> };
          expect(back.list).toEqual(values);
          expect(back.attrs).toEqual(Object.fromEntries(values.map((v, i) => [`k${i}-${v}`, v])));
        }),
        { numRuns: 8 },
      );
    } finally {
      cleanup();
    }
  });

  it('refuses a NUL byte with a clear error instead of writing it', () => {
    expect(() => escapeNixString('a\0b')).toThrow(EscapeError);
  });
});

describe('Caddyfile escaping (real caddy adapt)', () => {
  it('reads back every string it accepts, and refuses braces, backslashes and control characters', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(nasty, { minLength: 1, maxLength: 60 }), async (values) => {
        const accepted = values.filter((v) => {
          try {
            escapeCaddyToken(v);
            return true;
          } catch (e) {
            expect(e).toBeInstanceOf(EscapeError);
            expect(/[{}\\\u0000-\u001f\u007f]/.test(v) || v === '').toBe(true);
            return false;
          }
        });
        if (accepted.length === 0) return;
        const lines = accepted.map((v, i) => `\tvars k${i} ${escapeCaddyToken(v)}`).join('\n');
        const json = await caddyAdapt(`example.com {\n${lines}\n\trespond ok\n}\n`);
        const handlers = JSON.stringify(json.apps.http.servers.srv0.routes);
        // Caddy may adapt consecutive `vars` lines into one handler or several: merge them.
        const vars = Object.assign({}, ...[...handlers.matchAll(/\{"handler":"vars"[^}]*\}/g)].map((m) => JSON.parse(m[0])));
        expect(accepted.map((_, i) => vars[`k${i}`])).toEqual(accepted);
      }),
      { numRuns: 8 },
    );
  });
});

describe('shell escaping (real bash)', () => {
  it('reads back every string exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(noNul, { minLength: 1, maxLength: 60 }), async (values) => {
        const script = values.map((v) => `printf '%s\\0' ${escapeShellArg(v)}`).join('\n');
        const { stdout } = await exec(['bash', '-c', script]);
        expect(stdout.split('\0').slice(0, -1)).toEqual(values);
      }),
      { numRuns: 8 },
    );
  });
});
