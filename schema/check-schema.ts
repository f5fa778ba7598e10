// JSON Schema validation of one parsed file, with ajv's errors rewritten for people:
// each names the field, says what would be valid, and points at the offending value.
import type { ErrorObject } from 'ajv';
import appSchema from './app.schema.json' with { type: 'json' };
import fleetSchema from './fleet.schema.json' with { type: 'json' };
import { problemAt, type YamlFile } from './load-yaml.js';
import type { Problem, SpecPath } from './model.js';
import { listWords, quoteValue } from './problems.js';
import { specValidators, type SpecKind } from './validators.js';

export type { SpecKind };

// Compiled once (at build time when current, validators.ts): validating thousands of files costs one generated function call each.
const rootRequired = { app: appSchema.required, fleet: fleetSchema.required };

/** Better words for patterns whose schema description does not explain them. */
const patternHints: Record<string, { what?: string; explain: string }> = {
  [appSchema.properties.name.pattern]: {
    what: 'is not a DNS label',
    explain:
      "use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 63 characters",
  },
  [appSchema.properties.domains.items.pattern]: {
    what: 'is not a valid domain name',
    explain:
      "use lowercase names like 'blog.example.com': letters, digits and '-' in dot-separated parts, without spaces, ports, wildcards or braces",
  },
  [appSchema.properties.processes.propertyNames.pattern]: {
    explain:
      "use lowercase letters and digits in words joined by single '-', starting with a letter, e.g. 'web' or 'queue-worker'",
  },
  [appSchema.definitions.labels.propertyNames.pattern]: {
    explain: "use letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most 63 characters",
  },
  [appSchema.definitions.labels.additionalProperties.pattern]: {
    explain: "use letters, digits, '.', '_' and '-', at most 63 characters",
  },
  [appSchema.definitions.build.properties.path.pattern]: {
    explain:
      "give a folder inside the config repo, relative to its root, without '..', '.' or a leading '/', e.g. 'src/blog'",
  },
  [appSchema.definitions.build.properties.git.properties.url.pattern]: {
    explain: 'give an https://, http://, ssh:// or git:// URL without spaces',
  },
  [appSchema.definitions.duration.pattern]: { explain: appSchema.definitions.duration.description },
  [appSchema.definitions.size.pattern]: { explain: appSchema.definitions.size.description },
};
const NUL_PATTERN = '^[^\\u0000]*$';

/** Check one file against its schema; every error becomes a positioned Problem. */
export function checkSchema(kind: SpecKind, yaml: YamlFile): Problem[] {
  const validate = specValidators()[kind];
  if (validate(yaml.data)) return [];
  const errors = validate.errors ?? [];
  // A value of the wrong type makes its other errors noise; report the type alone.
  const mistyped = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const problems: Problem[] = [];
  for (const err of errors) {
    if (err.keyword === 'propertyNames') continue; // the inner error says which name and why
    if (err.keyword !== 'type' && mistyped.has(err.instancePath)) continue;
    const path = toSpecPath(err.instancePath);
    const { at = path, key = false, message } = explainError(kind, err, path);
    problems.push(problemAt(yaml, at, message, { key }));
  }
  return problems;
}

/** ajv's instancePath ('/processes/web/0') as a SpecPath (['processes', 'web', 0]). */
export function toSpecPath(instancePath: string): SpecPath {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((seg) => (/^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : seg.replace(/~1/g, '/').replace(/~0/g, '~')));
}

/** 'processes.web.instances', 'nodes[1].name', 'env["a.b"]'. */
export function describePath(path: SpecPath): string {
  return path
    .map((seg, i) =>
      typeof seg === 'number'
        ? `[${seg}]`
        : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)
          ? (i === 0 ? '' : '.') + seg
          : `[${JSON.stringify(seg)}]`,
    )
    .join('');
}

interface Explained {
  at?: SpecPath;
  key?: boolean;
  message: string;
}

function explainError(kind: SpecKind, err: ErrorObject, path: SpecPath): Explained {
  const label = describePath(path);
  const params = err.params as Record<string, any>;
  const parent = (err.parentSchema ?? {}) as Record<string, any>;
  const fields = Object.keys(parent.properties ?? {});
  switch (err.keyword) {
    case 'type':
      if (path.length === 0 && err.data == null)
        return { message: `the file is empty; expected a mapping with ${listWords(rootRequired[kind], 'and')}` };
      return {
        message:
          `${label || 'the file'} must be ${typeNoun(params.type)}, got ${describeValue(err.data)}` +
          (params.type === 'object' && err.data === null ? '; write {} for an empty mapping' : ''),
      };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const hint = closest(field, fields);
      const where = label ? ` in ${label}` : '';
      const valid = fields.length ? `valid fields: ${fields.join(', ')}` : 'it takes no fields';
      const message = `unknown field ${quoteValue(field)}${where}${hint ? ` (did you mean '${hint}'?)` : ''}; ${valid}`;
      return { at: [...path, field], key: true, message };
    }
    case 'required':
      return { message: `missing required field '${params.missingProperty}'${label ? ` in ${label}` : ''}` };
    case 'minProperties':
    case 'maxProperties':
      if (parent.minProperties === 1 && parent.maxProperties === 1)
        return { message: `${label} needs exactly one of ${fields.join(', ')}` };
      return { message: `${label} ${err.message}` };
    case 'pattern':
      return explainPattern(err, path, label, String(params.pattern), parent.description);
    case 'enum':
      return {
        message: `${label} must be one of ${listWords(params.allowedValues.map(String))}; got ${quoteValue(err.data)}`,
      };
    case 'minimum':
      return { message: `${label} must be at least ${params.limit}, got ${quoteValue(err.data)}` };
    case 'maximum':
      return { message: `${label} must be at most ${params.limit}, got ${quoteValue(err.data)}` };
    case 'minLength':
      return {
        message:
          params.limit === 1
            ? `${label} must not be empty`
            : `${label} must be at least ${params.limit} characters long`,
      };
    case 'maxLength':
      return { message: `${label} must be at most ${params.limit} characters long` };
    case 'minItems':
      return { message: `${label} must have at least ${params.limit} ${params.limit === 1 ? 'entry' : 'entries'}` };
    case 'uniqueItems': {
      const later = Math.max(params.i, params.j);
      const item = (err.data as unknown[])[later];
      return { at: [...path, later], message: `${label} lists ${quoteValue(item)} more than once` };
    }
    default:
      return { message: `${label || 'the file'} ${err.message}` };
  }
}

function explainPattern(
  err: ErrorObject,
  path: SpecPath,
  label: string,
  pattern: string,
  description?: string,
): Explained {
  const name = (err as ErrorObject & { propertyName?: string }).propertyName;
  const hint = patternHints[pattern];
  const explain = (hint?.explain ?? description ?? `it must match ${pattern}`).replace(/\.$/, '');
  if (name !== undefined) {
    return { at: [...path, name], key: true, message: `key ${quoteValue(name)} in ${label} is not valid: ${explain}` };
  }
  if (pattern === NUL_PATTERN) return { message: `${label} must not contain a NUL character` };
  return { message: `${label} ${quoteValue(err.data)} ${hint?.what ?? 'is not valid'}: ${explain}` };
}

function typeNoun(type: string | string[]): string {
  const plain: Record<string, string> = { object: 'mapping', array: 'list', boolean: 'boolean (true or false)' };
  if (Array.isArray(type)) return `a ${listWords(type.map((t) => (t === 'boolean' ? 'boolean' : (plain[t] ?? t))))}`;
  return type === 'integer' ? 'an integer' : `a ${plain[type] ?? type}`;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${quoteValue(value)}`;
  return String(value);
}

/** A valid field the user probably meant: same letters in another case, or one or two edits away. */
function closest(word: string, options: string[]): string | undefined {
  const lower = word.toLowerCase();
  return (
    options.find((o) => o.toLowerCase() === lower) ??
    options.find((o) => word.length > 3 && editDistance(lower, o.toLowerCase()) <= 2)
  );
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
