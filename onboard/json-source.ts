// JSON files a user wrote (app.json, `heroku config --json` output), parsed with positions:
// a syntax error points at its line and column, and so can a later check of a value (through
// the YAML document of the same text: JSON is YAML).
import { parseYaml, problemAt, type YamlFile } from '../schema/load-yaml.js';
import type { Problem, SpecPath } from '../schema/model.js';

export interface JsonFile {
  data: unknown;
  /** A problem at the value (or, with `key`, the key) at `path`. */
  problemAt(path: SpecPath, message: string, opts?: { key?: boolean }): Problem;
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/** Where and why a text is not JSON. V8's messages do not always carry a position, so it is found here. */
function locateJsonError(text: string): { offset: number; message: string } {
  let i = 0;
  const fail = (message: string, at = i): never => {
    throw Object.assign(new Error(message), { offset: at });
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (c: string, message: string) => (text[i] === c ? void i++ : fail(i >= text.length ? `unexpected end of the file: ${message}` : message));
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i];
      if (c === '"') return void i++;
      if (c === '\\') {
        if (/^u[0-9a-fA-F]{4}/.test(text.slice(i + 1, i + 6))) i += 6;
        else if ('"\\/bfnrt'.includes(text[i + 1] ?? 'x')) i += 2;
        else fail(`invalid escape \\${text[i + 1] ?? ''} in a string`);
      } else if (c.charCodeAt(0) < 0x20) fail('a string may not hold a raw control character or line break; write \\n');
      else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === undefined) return fail('unexpected end of the file: a value is missing');
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        ws();
        if (c === '{') {
          if (text[i] !== '"') fail(text[i] === close ? "a trailing ',' is not allowed in JSON" : 'expected a double-quoted property name');
          string();
          ws();
          expect(':', "expected ':' after the property name");
        }
        if (c === '[' && text[i] === ']') fail("a trailing ',' is not allowed in JSON");
        value();
        ws();
        if (text[i] === ',') { i++; continue; }
        return expect(close, `expected ',' or '${close}'`);
      }
    }
    if (c === '"') return string();
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
    m.lastIndex = i;
    if (m.exec(text)) return void (i = m.lastIndex);
    fail(`unexpected ${JSON.stringify(c)}`);
  };
  try {
    value();
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return { offset: 0, message: 'invalid JSON' };
  } catch (err) {
    return { offset: (err as { offset: number }).offset, message: (err as Error).message };
  }
}

/** Parses `text` as JSON; on a syntax error, the one problem at its line and column. */
export function parseJsonFile(file: string, text: string): { json: JsonFile | null; problems: Problem[] } {
  const clean = text.replace(/^\uFEFF/, '');
  let data: unknown;
  try {
    data = JSON.parse(clean);
  } catch {
    const { offset, message } = locateJsonError(clean);
    return { json: null, problems: [{ file, ...lineCol(clean, offset), message: `invalid JSON: ${message}` }] };
  }
  let yaml: YamlFile | null | undefined;
  return {
    json: {
      data,
      problemAt(path, message, opts) {
        if (yaml === undefined) yaml = parseYaml(file, clean).yaml;
        return yaml ? problemAt(yaml, path, message, opts) : { file, line: 1, col: 1, message };
      },
    },
    problems: [],
  };
}
