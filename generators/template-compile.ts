// Compiling the Handlebars templates of templates/: each is checked (a value may be printed only
// through an escaping helper) and precompiled to the JavaScript that Handlebars' runtime runs.
// `npm run build` does this once for every template (build-templates.ts); templates.ts does it at
// run time only for a template whose source changed since the build. Handlebars' compiler is
// loaded only then: a process that renders from the build never loads it.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

type HandlebarsModule = typeof import('handlebars');
const require = createRequire(import.meta.url);

/** The helpers a template may print a value through; templates.ts defines them. */
export const TEMPLATE_HELPERS = ['nix', 'nixList', 'nixAttr', 'caddy', 'int', 'label'] as const;
export type TemplateHelper = (typeof TEMPLATE_HELPERS)[number];

/** Compile options: the helpers escape, so Handlebars' HTML escaping is off; a missing name is an error. */
const OPTIONS = { noEscape: true, strict: true } as const;
const BLOCKS = new Set(['if', 'unless', 'each', 'with']);

/** What a precompiled template depends on: its source, the options and Handlebars' version. */
export function templateDigest(source: string): string {
  const { version } = require('handlebars/package.json') as { version: string };
  return createHash('sha256').update(JSON.stringify({ version, OPTIONS, source })).digest('hex');
}

/** Throws when a template prints a value without an escaping helper. */
function checkTemplate(Handlebars: HandlebarsModule, name: string, source: string): void {
  const visitor = new Handlebars.Visitor();
  const helpers: readonly string[] = TEMPLATE_HELPERS;
  const refuse = (path: string, line: number) => {
    throw new Error(`templates/${name}:${line}: {{${path}}} prints a value without an escaping helper (${helpers.join(', ')})`);
  };
  visitor.MustacheStatement = function (node: hbs.AST.MustacheStatement) {
    const path = (node.path as hbs.AST.PathExpression).original;
    if (!helpers.includes(path) || node.params.length !== 1) refuse(path, node.loc.start.line);
  };
  const visitBlock = visitor.BlockStatement;
  visitor.BlockStatement = function (node: hbs.AST.BlockStatement) {
    const path = (node.path as hbs.AST.PathExpression).original;
    if (!BLOCKS.has(path)) refuse(path, node.loc.start.line);
    return visitBlock.call(this, node);
  };
  visitor.accept(Handlebars.parse(source));
}

/** The template checked and precompiled: a JavaScript object literal for Handlebars' runtime `template()`. */
export function precompileTemplate(name: string, source: string): string {
  const Handlebars = require('handlebars') as HandlebarsModule;
  checkTemplate(Handlebars, name, source);
  // A copy: Handlebars adds its defaults to the options it is given.
  return Handlebars.precompile(source, { ...OPTIONS }) as string;
}

/**
 * Every template of rendered config under `dir` (templates/), as names relative to it
 * ('init/host.nix.hbs'). The status page's HTML template has its own rules (status-page.ts).
 */
export function listTemplates(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.hbs') && !e.name.endsWith('.html.hbs') ? [relative(dir, join(d, e.name))] : []));
  return walk(dir).sort();
}
