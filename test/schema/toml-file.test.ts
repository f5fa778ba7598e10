// The TOML files skyrec reads (validation and `skyrec detect`), parsed as TOML 1.0, with the
// offsets that put a problem at its line and column.
import { describe, expect, it } from 'vitest';
import { positionOf } from '../../schema/text-position.js';
import { readToml, tomlString, tomlValue } from '../../schema/toml-file.js';

describe('tomlString', () => {
  const text = [
    '# a comment',
    '[project]',
    'name = "shop"',
    'requires-python = ">=3.12" # the minimum',
    '',
    '[ tool . "poetry" . dependencies ]',
    "python = '^3.11'",
    '[toolchain]\r',
    'channel = "1.78.0"\r',
    'escaped = "a\\"b"',
  ].join('\n');

  it('reads a string key of a table, with the position of its first character', () => {
    const found = tomlString(text, ['project', 'requires-python'])!;
    expect(found.value).toBe('>=3.12');
    expect(positionOf(text, found.index)).toEqual({ line: 4, col: 20 });
  });

  it('reads dotted and quoted table names, single quotes, CRLF lines and escapes', () => {
    expect(tomlString(text, ['tool', 'poetry', 'dependencies', 'python'])?.value).toBe('^3.11');
    expect(tomlString(text, ['toolchain', 'channel'])?.value).toBe('1.78.0');
    expect(tomlString(text, ['toolchain', 'escaped'])?.value).toBe('a"b');
  });

  it('is null for a key of another table, a missing key, and a value that is not a string', () => {
    expect(tomlString(text, ['toolchain', 'name'])).toBeNull();
    expect(tomlString(text, ['project', 'version'])).toBeNull();
    expect(tomlString('[project]\nrequires-python = [">=3.12"]\n', ['project', 'requires-python'])).toBeNull();
  });

  // What the line-by-line reader this replaced got wrong.
  it('does not read the keys of an [[array]] table into the table before it', () => {
    const toolchain = '[toolchain]\nprofile = "minimal"\n\n[[targets]]\nchannel = "nightly"\n';
    expect(tomlString(toolchain, ['toolchain', 'channel'])).toBeNull();
    const cargo = '[package]\nversion = "0.1.0"\n\n[[bin]]\nname = "server"\n\n[[bin]]\nname = "migrate"\n';
    expect(tomlString(cargo, ['package', 'name'])).toBeNull();
    const read = readToml(cargo);
    expect('doc' in read && tomlValue(read.doc, ['bin'])).toEqual([{ name: 'server' }, { name: 'migrate' }]);
  });

  it('reads inline tables, dotted keys and multi-line strings, each at its own line and column', () => {
    const inline = '[tool]\npoetry = { name = "x", dependencies = { python = "^3.12" } }\nproject = { requires-python = ">=3.11" }\n';
    expect(tomlString(inline, ['tool', 'poetry', 'dependencies', 'python'])?.value).toBe('^3.12');
    const nested = tomlString(inline, ['tool', 'project', 'requires-python'])!;
    expect(positionOf(inline, nested.index)).toEqual({ line: 3, col: 32 });

    const dotted = '# pyproject\nproject.name = "shop"\nproject.requires-python = ">=3.13"\n[toolchain]\n"channel" = \'1.80.1\'\n';
    const req = tomlString(dotted, ['project', 'requires-python'])!;
    expect(req.value).toBe('>=3.13');
    expect(positionOf(dotted, req.index)).toEqual({ line: 3, col: 28 });
    const channel = tomlString(dotted, ['toolchain', 'channel'])!;
    expect([channel.value, positionOf(dotted, channel.index)]).toEqual(['1.80.1', { line: 5, col: 14 }]);

    const multi = '[project]\nrequires-python = """\n>=3.12"""\n';
    expect(tomlString(multi, ['project', 'requires-python'])?.value).toBe('>=3.12');
  });

  it('finds the assignment whose value matches when the same key is set in two tables', () => {
    const twice = '[tool.other]\nrequires-python = ">=3.8"\n[project]\nrequires-python = ">=3.12"\n';
    const found = tomlString(twice, ['project', 'requires-python'])!;
    expect(positionOf(twice, found.index)).toEqual({ line: 4, col: 20 });
  });
});

describe('readToml', () => {
  it('says where a text stops being TOML', () => {
    expect(readToml('[project]\nname = "x"\nrequires-python = >=3\n')).toEqual({ error: { line: 3, col: 19, message: 'not valid TOML: invalid value' } });
    expect(readToml('[package]\nname = "a"\n[package]\n')).toHaveProperty('error.line', 3);
  });
});
