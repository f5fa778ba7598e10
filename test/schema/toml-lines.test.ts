// The few TOML keys skyrec reads (validation and `skyrec detect`), with the offsets that put a
// problem at its line and column.
import { describe, expect, it } from 'vitest';
import { positionOf, tomlString } from '../../schema/toml-lines.js';

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
    const found = tomlString(text, 'project', 'requires-python')!;
    expect(found.value).toBe('>=3.12');
    expect(positionOf(text, found.index)).toEqual({ line: 4, col: 20 });
  });

  it('reads dotted and quoted table names, single quotes, CRLF lines and escapes', () => {
    expect(tomlString(text, 'tool.poetry.dependencies', 'python')?.value).toBe('^3.11');
    expect(tomlString(text, 'toolchain', 'channel')?.value).toBe('1.78.0');
    expect(tomlString(text, 'toolchain', 'escaped')?.value).toBe('a"b');
  });

  it('is null for a key of another table, a missing key, and a value that is not a one-line string', () => {
    expect(tomlString(text, 'toolchain', 'name')).toBeNull();
    expect(tomlString(text, 'project', 'version')).toBeNull();
    expect(tomlString('[project]\nrequires-python = [">=3.12"]\n', 'project', 'requires-python')).toBeNull();
  });
});
