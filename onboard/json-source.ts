// JSON files a user wrote (app.json, `heroku config --json` output), parsed with positions:
// a syntax error points at its line and column, and so can a later check of a value.
// JSON.parse decides what is JSON and gives the data; jsonc-parser, in strict mode, gives the
// offsets (V8's messages do not always carry one) and the tree that places a path.
import { findNodeAtLocation, parseTree, ParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import type { Problem, SpecPath } from '../schema/model.js';
import { positionOf } from '../schema/text-position.js';

export interface JsonFile {
  data: unknown;
  /** A problem at the value (or, with `key`, the key) at `path`. */
  problemAt(path: SpecPath, message: string, opts?: { key?: boolean }): Problem;
}

const STRICT = { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false };

/** Parses `text` as JSON; on a syntax error, the one problem at its line and column. */
export function parseJsonFile(file: string, text: string): { json: JsonFile | null; problems: Problem[] } {
  const clean = text.replace(/^\uFEFF/, '');
  let data: unknown;
  try {
    data = JSON.parse(clean);
  } catch {
    const { offset, message } = describeJsonError(clean);
    return { json: null, problems: [{ file, ...positionOf(clean, offset), message: `invalid JSON: ${message}` }] };
  }
  let root: Node | undefined;
  return {
    json: {
      data,
      problemAt(path, message, opts = {}) {
        root ??= parseTree(clean, [], STRICT);
        return { file, ...positionOf(clean, offsetOf(root, path, opts.key === true)), message };
      },
    },
    problems: [],
  };
}

/**
 * Where a path points: the start of the value (with `key`, of the last key). A path that runs
 * past the document stops at the deepest node found, so a missing property is reported at its
 * parent object, as in YAML specs.
 */
function offsetOf(root: Node | undefined, path: SpecPath, key: boolean): number {
  if (!root) return 0;
  for (let depth = path.length; depth >= 0; depth--) {
    const node = findNodeAtLocation(root, path.slice(0, depth));
    if (!node) continue;
    const property = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
    return key && depth === path.length && property ? property.offset : node.offset;
  }
  return root.offset;
}

/** Where and why a text that JSON.parse refused is not JSON, from the first error jsonc-parser reports. */
function describeJsonError(text: string): { offset: number; message: string } {
  const errors: ParseError[] = [];
  parseTree(text, errors, STRICT);
  const first = errors[0];
  if (!first) return { offset: 0, message: 'not valid JSON' };
  return { offset: first.offset, message: errorMessage(text, first) };
}

function errorMessage(text: string, { error, offset, length }: ParseError): string {
  const at = text[offset];
  const end = at === undefined;
  const before = text.slice(0, offset).trimEnd().at(-1);
  if ((error === ParseErrorCode.PropertyNameExpected || error === ParseErrorCode.ValueExpected) && before === ',' && (at === '}' || at === ']')) {
    return "a trailing ',' is not allowed in JSON";
  }
  switch (error) {
    case ParseErrorCode.PropertyNameExpected: return 'expected a double-quoted property name';
    case ParseErrorCode.ValueExpected: return end ? 'unexpected end of the file: a value is missing' : `expected a value, found ${JSON.stringify(at)}`;
    case ParseErrorCode.ColonExpected: return "expected ':' after the property name";
    case ParseErrorCode.CommaExpected: return "expected ',' between two values";
    case ParseErrorCode.CloseBraceExpected: return end ? "unexpected end of the file: expected '}'" : "expected ',' or '}'";
    case ParseErrorCode.CloseBracketExpected: return end ? "unexpected end of the file: expected ']'" : "expected ',' or ']'";
    case ParseErrorCode.EndOfFileExpected: return 'unexpected text after the JSON value';
    case ParseErrorCode.InvalidSymbol: return `unexpected ${JSON.stringify(text.slice(offset, offset + Math.max(length, 1)))}`;
    case ParseErrorCode.UnexpectedEndOfString: return 'unterminated string (a string may not hold a raw line break; write \\n)';
    case ParseErrorCode.InvalidCharacter: return 'a string may not hold a raw control character; write it escaped';
    case ParseErrorCode.InvalidEscapeCharacter: return 'invalid escape in a string';
    case ParseErrorCode.InvalidUnicode: return 'invalid \\u escape in a string';
    case ParseErrorCode.InvalidCommentToken:
    case ParseErrorCode.UnexpectedEndOfComment: return 'comments are not allowed in JSON';
    default: return 'invalid number';
  }
}
