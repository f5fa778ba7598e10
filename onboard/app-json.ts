// Heroku's app.json (https://devcenter.heroku.com/articles/app-json-schema), read into the
// parts an import maps, with every malformed value reported at its line and column.
import type { Problem } from '../schema/model.js';
import type { JsonFile } from './json-source.js';

export interface AppJsonEnv {
  name: string;
  /** The default value, or null when app.json gives none (Heroku then asks for one at setup). */
  value: string | null;
  /** Explicit `required: true`. */
  required: boolean;
  /** `generator: secret`: Heroku makes a random value. */
  generated: boolean;
}

export interface AppJson {
  env: AppJsonEnv[];
  formation: { type: string; quantity: number | null; size: string | null }[];
  /** Add-on plans, e.g. 'heroku-postgresql:essential-0', with the config var they attach as. */
  addons: { plan: string; as: string | null }[];
  /** Scheduled jobs, in the `cron` form app.json files for Dokku use: { command, schedule } with a crontab schedule. */
  cron: { command: string; schedule: string }[];
  /** Top-level keys that describe the app but have no place in a spec; listed as not mapped. */
  unmapped: string[];
}

/** Informational keys: they describe the repository, not how to run it. */
const DESCRIPTIVE = new Set(['name', 'description', 'keywords', 'website', 'repository', 'logo', 'success_url']);
const KNOWN = new Set([...DESCRIPTIVE, 'env', 'formation', 'addons', 'cron', 'scripts', 'buildpacks', 'environments', 'stack', 'image']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function readAppJson(json: JsonFile): { app: AppJson; problems: Problem[] } {
  const problems: Problem[] = [];
  const app: AppJson = { env: [], formation: [], addons: [], cron: [], unmapped: [] };
  const data = json.data;
  if (!isObject(data)) return { app, problems: [json.problemAt([], 'app.json must hold an object')] };

  for (const key of Object.keys(data)) {
    if (!KNOWN.has(key)) app.unmapped.push(`app.json ${key}: not a key of app.json that skyrec knows`);
    else if (!DESCRIPTIVE.has(key) && !['env', 'formation', 'addons', 'cron'].includes(key)) app.unmapped.push(describeUnmapped(key, data[key]));
  }

  if (data.env !== undefined) {
    if (!isObject(data.env)) problems.push(json.problemAt(['env'], 'env must be an object of NAME: value or NAME: { value, required, generator }'));
    else {
      for (const [name, entry] of Object.entries(data.env)) {
        if (typeof entry === 'string') app.env.push({ name, value: entry, required: false, generated: false });
        else if (!isObject(entry)) problems.push(json.problemAt(['env', name], `env ${name} must be a string or an object`));
        else {
          const { value, required, generator } = entry;
          if (value !== undefined && typeof value !== 'string') problems.push(json.problemAt(['env', name, 'value'], `env ${name}.value must be a string`));
          else if (required !== undefined && typeof required !== 'boolean') problems.push(json.problemAt(['env', name, 'required'], `env ${name}.required must be true or false`));
          else if (generator !== undefined && generator !== 'secret') problems.push(json.problemAt(['env', name, 'generator'], `env ${name}.generator must be "secret", the only generator Heroku has`));
          else app.env.push({ name, value: value ?? null, required: required === true, generated: generator === 'secret' });
        }
      }
    }
  }

  if (data.formation !== undefined) {
    // The documented form is an object by process type; early app.json files used an array.
    const entries: [string | number, unknown][] = Array.isArray(data.formation) ? [...data.formation.entries()] : isObject(data.formation) ? Object.entries(data.formation) : [];
    if (!Array.isArray(data.formation) && !isObject(data.formation)) problems.push(json.problemAt(['formation'], 'formation must be an object: { "web": { "quantity": 1 } }'));
    for (const [key, entry] of entries) {
      const type = typeof key === 'string' ? key : isObject(entry) ? entry.process : undefined;
      if (!isObject(entry) || typeof type !== 'string') {
        problems.push(json.problemAt(['formation', key], 'a formation entry must be an object with a quantity (and, in an array, a process)'));
        continue;
      }
      const { quantity, size } = entry;
      if (quantity !== undefined && !(Number.isInteger(quantity) && (quantity as number) >= 0)) problems.push(json.problemAt(['formation', key, 'quantity'], `formation ${type}.quantity must be a whole number of dynos`));
      else app.formation.push({ type, quantity: (quantity as number | undefined) ?? null, size: typeof size === 'string' ? size : null });
    }
  }

  if (data.addons !== undefined) {
    if (!Array.isArray(data.addons)) problems.push(json.problemAt(['addons'], 'addons must be an array of plan names or { "plan": ... } objects'));
    else {
      data.addons.forEach((entry, i) => {
        if (typeof entry === 'string') app.addons.push({ plan: entry, as: null });
        else if (isObject(entry) && typeof entry.plan === 'string') app.addons.push({ plan: entry.plan, as: typeof entry.as === 'string' ? entry.as : null });
        else problems.push(json.problemAt(['addons', i], 'an addon must be a plan name like "heroku-postgresql" or an object with a "plan"'));
      });
    }
  }

  if (data.cron !== undefined) {
    if (!Array.isArray(data.cron)) problems.push(json.problemAt(['cron'], 'cron must be an array of { "command": ..., "schedule": ... }'));
    else {
      data.cron.forEach((entry, i) => {
        if (isObject(entry) && typeof entry.command === 'string' && entry.command.trim() && typeof entry.schedule === 'string') app.cron.push({ command: entry.command.trim(), schedule: entry.schedule });
        else problems.push(json.problemAt(['cron', i], 'a cron job needs a "command" and a "schedule" (crontab syntax), both strings'));
      });
    }
  }
  return { app, problems };
}

function describeUnmapped(key: string, value: unknown): string {
  switch (key) {
    case 'scripts': {
      const names = isObject(value) ? Object.keys(value) : [];
      return `app.json scripts (${names.join(', ') || 'none'}): skyrec runs no deploy hooks; run a postdeploy script once by hand, or make it the release command`;
    }
    case 'buildpacks': return 'app.json buildpacks: skyrec builds with the detected stack instead';
    case 'environments': return 'app.json environments (review apps, CI): skyrec has no per-environment settings';
    case 'image': return 'app.json image: skyrec builds from source with the detected stack, not from a Heroku image';
    case 'stack': return `app.json stack: skyrec builds on the nodes' NixOS instead of a Heroku stack image`;
    default: return `app.json ${key}: no place in an app spec`;
  }
}
