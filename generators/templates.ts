// Loads the Handlebars templates of templates/ with skyrec's escaping helpers.
// Templates are compiled with noEscape, and a template may print a value only through a
// helper (nix, nixList, nixAttr, caddy, int, label): a bare {{value}} is refused when the template
// is loaded, so no value can reach rendered text unescaped.
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeCaddyToken, escapeNixAttr, escapeNixList, escapeNixString } from './escape.js';
import { EscapeError } from '../common/errors.js';
import { packageRoot } from '../common/paths.js';

const hb = Handlebars.create();
const safe = (s: string) => new Handlebars.SafeString(s);
const helpers: Record<string, (value: unknown) => Handlebars.SafeString> = {
  nix: (v) => safe(escapeNixString(String(v))),
  nixList: (v) => safe(escapeNixList((v as unknown[]).map(String))),
  nixAttr: (v) => safe(escapeNixAttr(String(v))),
  caddy: (v) => safe(escapeCaddyToken(String(v))),
  // Ports and other whole numbers: refused unless they are one.
  int: (v) => {
    if (!Number.isSafeInteger(v)) throw new EscapeError(`${JSON.stringify(v)} is not an integer`);
    return safe(String(v));
  },
  // Names that the schema restricts to [A-Za-z0-9._/-] (app, node, file names): printed as they are.
  label: (v) => {
    if (!/^[A-Za-z0-9._/-]+$/.test(String(v))) throw new EscapeError(`${JSON.stringify(v)} is not a plain name`);
    return safe(String(v));
  },
};
// A missing value is a template bug (a misspelt or out-of-scope name), never an empty string.
for (const [name, fn] of Object.entries(helpers)) {
  hb.registerHelper(name, (value: unknown) => {
    if (value === undefined) throw new Error(`template helper ${name} was given an undefined value`);
    return fn(value);
  });
}

const BLOCKS = new Set(['if', 'unless', 'each', 'with']);

/** Throws when a template prints a value without an escaping helper. */
function checkTemplate(name: string, source: string): void {
  const visitor = new Handlebars.Visitor();
  const refuse = (path: string, line: number) => {
    throw new Error(`templates/${name}:${line}: {{${path}}} prints a value without an escaping helper (${Object.keys(helpers).join(', ')})`);
  };
  visitor.MustacheStatement = function (node: hbs.AST.MustacheStatement) {
    const path = (node.path as hbs.AST.PathExpression).original;
    if (!(path in helpers) || node.params.length !== 1) refuse(path, node.loc.start.line);
  };
  const visitBlock = visitor.BlockStatement;
  visitor.BlockStatement = function (node: hbs.AST.BlockStatement) {
    const path = (node.path as hbs.AST.PathExpression).original;
    if (!BLOCKS.has(path)) refuse(path, node.loc.start.line);
    return visitBlock.call(this, node);
  };
  visitor.accept(Handlebars.parse(source));
}

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** The compiled template templates/<name>. */
export function loadTemplate(name: string): Handlebars.TemplateDelegate {
  let template = cache.get(name);
  if (!template) {
    const source = readFileSync(join(packageRoot(), 'templates', name), 'utf8');
    checkTemplate(name, source);
    template = hb.compile(source, { noEscape: true, strict: true });
    cache.set(name, template);
  }
  return template;
}
