// Parsing one spec: problems at the right place, hostile input refused, SpecPaths located.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, test } from 'vitest';
import { locatePath, parseYaml, type YamlFile } from '../../schema/load-yaml.js';
import type { SpecPath } from '../../schema/model.js';
import type { ConfigSource } from '../../schema/source.js';
import { loadRepo } from '../../schema/validate.js';

function parsed(text: string): YamlFile {
  const { yaml, problems } = parseYaml('apps/x.yaml', text);
  expect(problems).toEqual([]);
  return yaml!;
}

describe('parseYaml', () => {
  test('keeps the document and the plain data', () => {
    const yaml = parsed('name: x\nenv: { N: 1, B: true }\n');
    expect(yaml.data).toEqual({ name: 'x', env: { N: 1, B: true } });
    expect(yaml.doc.contents).not.toBeNull();
  });

  test('an alias to an anchor that does not exist', () => {
    expect(parseYaml('apps/x.yaml', 'a: 1\nb: *nope\n').problems).toEqual([
      {
        file: 'apps/x.yaml',
        line: 2,
        col: 4,
        message: 'alias *nope refers to no anchor; define &nope before using it',
      },
    ]);
  });

  test('a second document in one file', () => {
    expect(parseYaml('apps/x.yaml', 'name: x\n---\nname: y\n').problems).toEqual([
      {
        file: 'apps/x.yaml',
        line: 2,
        col: 1,
        message:
          "a spec file holds one YAML document; remove the second '---' and what follows, or move it to its own file",
      },
    ]);
  });

  test('a few aliases are fine', () => {
    expect(parsed('base: &b { LOG: info }\nother: *b\n').data).toEqual({
      base: { LOG: 'info' },
      other: { LOG: 'info' },
    });
  });

  test('text over 1 MiB is refused without parsing', () => {
    const { yaml, problems } = parseYaml('apps/x.yaml', `a: [${'x'.repeat(2 * 1024 * 1024)}`);
    expect(yaml).toBeNull();
    expect(problems).toEqual([
      { file: 'apps/x.yaml', line: 1, col: 1, message: 'file is 2.0 MiB; a spec may be at most 1 MiB' },
    ]);
  });

  test('multi-byte text just over 1 MiB in UTF-8 is measured in bytes', () => {
    const text = `a: "${'é'.repeat(512 * 1024)}"\n`; // 524,294 UTF-16 units, 1,048,582 bytes
    expect(parseYaml('apps/x.yaml', text).problems.map((p) => p.message)).toEqual([
      'file is 1048582 bytes; a spec may be at most 1 MiB',
    ]);
  });
});

test('loadRepo asks for the size and never reads a huge file', async () => {
  const read: string[] = [];
  const source: ConfigSource = {
    async readFile(p) {
      read.push(p);
      return p === 'fleet.yaml' ? 'nodes: [{ name: a, host: a, address: a }]\n' : 'name: big\n';
    },
    async fileSize(p) {
      return p === 'apps/big.yaml' ? 10 * 1024 * 1024 : 100;
    },
    async listDir(p) {
      return p === 'apps' ? ['big.yaml', 'README.md'] : null;
    },
    async stat() {
      return null;
    },
  };
  const loaded = await loadRepo(source);
  expect(read).toEqual(['fleet.yaml']);
  expect(loaded.appFiles).toEqual(['apps/big.yaml']);
  expect(loaded.problems).toEqual([
    { file: 'apps/big.yaml', line: 1, col: 1, message: 'file is 10.0 MiB; a spec may be at most 1 MiB' },
  ]);
});

describe('locatePath', () => {
  const yaml = parsed(
    [
      'name: x',
      'processes:',
      '  web:',
      '    command: serve',
      '    empty:',
      'domains:',
      '  - a.example.com',
      '  - b.example.com',
      'flow: { k: [1, 22] }',
      '',
    ].join('\n'),
  );
  const at = (path: SpecPath, key = false) => {
    const { line, col } = locatePath(yaml, path, { key });
    return `${line}:${col}`;
  };

  test('values, keys, list items and flow collections', () => {
    expect(at(['name'])).toBe('1:7');
    expect(at(['processes', 'web', 'command'])).toBe('4:14');
    expect(at(['processes', 'web', 'command'], true)).toBe('4:5');
    expect(at(['domains', 1])).toBe('8:5');
    expect(at(['flow', 'k', 1])).toBe('9:16');
  });

  test('an empty value points at its key; a missing one at the deepest mapping found', () => {
    expect(at(['processes', 'web', 'empty'])).toBe('5:5');
    expect(at(['processes', 'web', 'missing'])).toBe('4:5');
    expect(at(['domains', 7])).toBe('7:3');
    expect(at(['nope', 'deeper'])).toBe('1:1');
  });

  test('an empty document is 1:1', () => {
    expect(locatePath(parsed('# nothing\n'), ['name'])).toEqual({ line: 1, col: 1 });
  });

  test('every scalar of any document is located at its own text', () => {
    const key = fc.stringMatching(/^[a-z]{1,6}$/);
    const scalar = fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.stringMatching(/^s[a-z]{0,8}$/));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('map')),
      list: fc.array(tie('tree'), { maxLength: 4 }),
      map: fc.dictionary(key, tie('tree'), { maxKeys: 4 }),
    }));
    fc.assert(
      fc.property(fc.dictionary(key, tree, { minKeys: 1, maxKeys: 5 }), fc.boolean(), (value, flow) => {
        const text = stringify(value, { collectionStyle: flow ? 'flow' : 'block' });
        const doc = parsed(text);
        const lines = text.split('\n');
        for (const [path, leaf] of leaves(value)) {
          const { line, col } = locatePath(doc, path);
          expect(lines[line - 1].slice(col - 1).startsWith(String(leaf)), `${path.join('.')} in\n${text}`).toBe(true);
        }
      }),
    );
  });
});

function* leaves(value: unknown, path: SpecPath = []): Generator<[SpecPath, unknown]> {
  if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* leaves(v, [...path, i]);
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) yield* leaves(v, [...path, k]);
  else yield [path, value];
}
