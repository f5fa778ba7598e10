// app.json and `heroku config --json` files as users write them: a syntax error and a bad value
// are each reported at the line and column an editor shows.
import { describe, expect, it } from 'vitest';
import { parseJsonFile } from '../../onboard/json-source.js';

const errorOf = (text: string) => {
  const { json, problems } = parseJsonFile('app.json', text);
  expect(json).toBeNull();
  const [p] = problems;
  return `${p.line}:${p.col}: ${p.message}`;
};

describe('parseJsonFile', () => {
  it('reports the first syntax error at its line and column, in words', () => {
    expect(errorOf('{\n  "name": "app",\n  "env": {\n    "A": "b",\n  }\n}\n')).toBe("5:3: invalid JSON: a trailing ',' is not allowed in JSON");
    expect(errorOf('{\n  "addons": ["heroku-redis",]\n}')).toBe("2:29: invalid JSON: a trailing ',' is not allowed in JSON");
    expect(errorOf('{\n  "name" "app"\n}')).toBe("2:10: invalid JSON: expected ':' after the property name");
    expect(errorOf("{\n  'name': 1\n}")).toBe('2:3: invalid JSON: unexpected "\'name\'"');
    expect(errorOf('{\n  // the app\n  "name": "app"\n}')).toBe('2:3: invalid JSON: comments are not allowed in JSON');
    expect(errorOf('{\n  "name": "app"\n')).toBe("3:1: invalid JSON: unexpected end of the file: expected '}'");
    expect(errorOf('{ "name": "app" }\n{}')).toBe('2:1: invalid JSON: unexpected text after the JSON value');
    expect(errorOf('{ "name": "a\nb" }')).toMatch(/^1:11: invalid JSON: unterminated string/);
    expect(errorOf('')).toBe('1:1: invalid JSON: unexpected end of the file: a value is missing');
  });

  it('places a later problem at the value, at its key, or at the deepest part of a path that exists', () => {
    const text = '\uFEFF{\n  "env": {\n    "A": { "required": "yes" }\n  },\n  "formation": [ { "process": "web", "quantity": -1 } ]\n}\n';
    const { json, problems } = parseJsonFile('app.json', text);
    expect(problems).toEqual([]);
    expect(json!.data).toEqual({ env: { A: { required: 'yes' } }, formation: [{ process: 'web', quantity: -1 }] });
    const at = (path: (string | number)[], key = false) => {
      const p = json!.problemAt(path, 'm', { key });
      return `${p.line}:${p.col}`;
    };
    expect(at(['env', 'A', 'required'])).toBe('3:24');
    expect(at(['env', 'A', 'required'], true)).toBe('3:12');
    expect(at(['formation', 0, 'quantity'])).toBe('5:50');
    expect(at(['env', 'B', 'value'])).toBe('2:10');
    expect(at([])).toBe('1:1');
    expect(json!.problemAt([], 'm')).toEqual({ file: 'app.json', line: 1, col: 1, message: 'm' });
  });
});
