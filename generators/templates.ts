// Loads the Handlebars templates of templates/ with skyrec's escaping helpers.
// Templates are compiled with noEscape, and a template may print a value only through a
// helper (nix, nixList, nixAttr, caddy, int, label): a bare {{value}} is refused when the template
// is compiled (template-compile.ts), so no value can reach rendered text unescaped.
// `npm run build` precompiles them (dist/generators/templates.generated.cjs); a template whose
// source changed since is compiled here instead, so an edit shows without a build.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { escapeCaddyToken, escapeNixAttr, escapeNixList, escapeNixString } from './escape.js';
import { EscapeError } from '../common/errors.js';
import { packageRoot } from '../common/paths.js';
import { precompileTemplate, templateDigest, type TemplateHelper } from './template-compile.js';

// Handlebars' runtime alone (no compiler): what precompiled templates need. Loaded with the
// first template: a render whose nodes all come from the compile cache never needs it.
const require = createRequire(import.meta.url);
type TemplateDelegate = HandlebarsTemplateDelegate;
type TemplateSpec = TemplateSpecification;

let runtime: typeof import('handlebars') | undefined;
function handlebars(): typeof import('handlebars') {
  if (runtime) return runtime;
  const HandlebarsRuntime = require('handlebars/runtime') as typeof import('handlebars');
  const hb = HandlebarsRuntime.create();
  const safe = (s: string) => new HandlebarsRuntime.SafeString(s);
  const helpers: Record<TemplateHelper, (value: unknown) => hbs.SafeString> = {
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
  return (runtime = hb);
}

/** Where `npm run build` writes the precompiled templates. */
export function generatedTemplatesPath(root = packageRoot()): string {
  return join(root, 'dist', 'generators', 'templates.generated.cjs');
}

type Precompiled = Record<string, { digest: string; spec: TemplateSpec }>;
let precompiled: Precompiled | undefined;

/** The build's precompiled templates, or none when there is no build. */
export function loadPrecompiled(path = generatedTemplatesPath()): Precompiled {
  try {
    return (require(path) as { templates: Precompiled }).templates;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return {};
    throw err;
  }
}

const cache = new Map<string, TemplateDelegate>();

/** The compiled template templates/<name>: the build's when its source is the same, else compiled now. */
export function loadTemplate(name: string): TemplateDelegate {
  let template = cache.get(name);
  if (!template) {
    const source = readFileSync(join(packageRoot(), 'templates', name), 'utf8');
    const built = (precompiled ??= loadPrecompiled())[name];
    const spec = built?.digest === templateDigest(source) ? built.spec : (new Function(`return ${precompileTemplate(name, source)}`)() as TemplateSpec);
    template = handlebars().template(spec) as TemplateDelegate;
    cache.set(name, template);
  }
  return template;
}
