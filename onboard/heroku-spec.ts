// A Heroku app (Procfile, app.json, config vars, the detected stack) as an app spec. Pure: it
// returns the spec and, one line each, everything it could not map. Config var values are read
// only to keep public values in env; a secret's value is never copied anywhere.
import type { AppJson } from './app-json.js';
import { cronToCalendar } from './cron-schedule.js';
import type { ProcfileEntry } from './procfile.js';
import type { Stack } from './stacks.js';
import type { StartCommand } from './start-command.js';

export interface HerokuApp {
  name: string;
  stack: Stack;
  /** package.build.path: the source folder, relative to the config repo. */
  buildPath: string;
  healthPath: string;
  procfile: ProcfileEntry[];
  /** The detected start command, used when the Procfile has no web line. */
  start: StartCommand;
  app: AppJson | null;
  /** `heroku config --json`: name → value. */
  config: Record<string, string> | null;
}

export interface ImportedSpec {
  spec: Record<string, unknown>;
  /** What has no place in the spec, one line each: "<what>: <why>". */
  unmapped: string[];
  /** What was mapped with a change the user should know about. */
  notes: string[];
}

/** Names that hold credentials; the app rules refuse them in env, so they go to secrets. */
const CREDENTIAL_NAME = /^(?:.*_(?:KEY|SECRET|TOKEN)|.*PASSWORD.*|DATABASE_URL|REDIS_URL|PASSWORD|TOKEN|SECRET|API_KEY)$/i;
/** A URL with a user and password in it, e.g. postgres://u:p@host/db. */
const CREDENTIAL_URL = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PROCESS_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Config vars Heroku sets itself: its dyno metadata. */
const HEROKU_MANAGED = /^HEROKU_(APP_ID|APP_NAME|APP_DEFAULT_DOMAIN_NAME|BRANCH|DYNO_ID|PR_NUMBER|RELEASE_CREATED_AT|RELEASE_VERSION|SLUG_COMMIT|SLUG_DESCRIPTION)$/;
/** The addons' other URLs: the same database or server, named by colour or for TLS. */
const ADDON_ALIAS = /^(HEROKU_POSTGRESQL_[A-Z]+_URL|HEROKU_REDIS_[A-Z]+_URL|REDIS_TLS_URL)$/;
const ADDONS: Record<string, { addon: 'postgres' | 'redis'; envVar: string }> = {
  'heroku-postgresql': { addon: 'postgres', envVar: 'DATABASE_URL' },
  'heroku-redis': { addon: 'redis', envVar: 'REDIS_URL' },
};

function processName(type: string): string | null {
  const name = type.toLowerCase().replace(/_/g, '-');
  return PROCESS_NAME.test(name) && name.length <= 32 ? name : null;
}

export function buildHerokuSpec(h: HerokuApp): ImportedSpec {
  const unmapped: string[] = [];
  const notes: string[] = [];
  const app = h.app;

  // Addons first: they decide which config vars skyrec provides itself.
  const addons: Record<string, Record<string, never>> = {};
  const provided = new Map<string, string>();
  let scheduler = false;
  for (const { plan, as } of app?.addons ?? []) {
    const service = plan.split(':')[0];
    const known = ADDONS[service];
    if (service === 'scheduler') scheduler = true;
    else if (!known) unmapped.push(`addon ${plan}: skyrec has postgres and redis addons only`);
    else if (addons[known.addon]) unmapped.push(`addon ${plan}: a second ${known.addon} for one app is not supported`);
    else {
      addons[known.addon] = {};
      provided.set(known.envVar, known.addon);
      if (as && `${as}_URL` !== known.envVar) unmapped.push(`addon ${plan} as ${as}: skyrec sets ${known.envVar}, not ${as}_URL`);
    }
  }

  const processes: Record<string, Record<string, unknown>> = {};
  let release: string | undefined;
  for (const entry of h.procfile) {
    if (entry.name === 'release') {
      release = entry.command;
      continue;
    }
    const name = processName(entry.name);
    if (!name) {
      unmapped.push(`Procfile ${entry.name} (line ${entry.line}): not a valid process name (lowercase letters, digits, '-'; at most 32)`);
      continue;
    }
    if (processes[name]) {
      unmapped.push(`Procfile ${entry.name} (line ${entry.line}): the same process name as another line once lowercased`);
      continue;
    }
    if (name !== entry.name) notes.push(`Procfile ${entry.name} is the process ${name}`);
    processes[name] = { command: entry.command };
  }
  if (!processes.web) {
    if (h.stack === 'static') processes.web = {};
    else if (h.start.command) {
      processes.web = { command: h.start.command };
      notes.push(`web runs ${h.start.command} (${h.start.source}), as Heroku would without a Procfile web line`);
    }
  }
  for (const f of app?.formation ?? []) {
    const name = processName(f.type);
    const target = name ? processes[name] : undefined;
    if (!target) unmapped.push(`formation ${f.type}: no such process in the Procfile`);
    else if (f.quantity !== null) target.instances = f.quantity;
    if (target && f.size) unmapped.push(`formation ${f.type}.size ${f.size}: set resources.memory (per instance) instead of a dyno size`);
  }
  if (processes.web) processes.web.healthcheck = { path: h.healthPath };

  const cron: { schedule: string; command: string }[] = [];
  for (const job of app?.cron ?? []) {
    const schedule = cronToCalendar(job.schedule);
    if (schedule) cron.push({ schedule, command: job.command });
    else unmapped.push(`cron ${JSON.stringify(job.schedule)} (${job.command}): no exact systemd calendar equivalent; write cron: by hand (systemd calendar syntax)`);
  }
  if (scheduler && cron.length === 0) unmapped.push('addon scheduler: its jobs are not in app.json; add them as cron: entries (systemd calendar syntax)');

  const { env, secrets } = mapConfig(h, provided, unmapped);
  const spec: Record<string, unknown> = { name: h.name, package: { build: { stack: h.stack, path: h.buildPath } } };
  if (Object.keys(processes).length > 0) spec.processes = processes;
  else unmapped.push('processes: no Procfile and no start command detected; add processes: by hand');
  if (release) spec.release = release;
  if (cron.length > 0) spec.cron = cron;
  if (Object.keys(env).length > 0) spec.env = env;
  if (secrets.length > 0) spec.secrets = secrets;
  if (Object.keys(addons).length > 0) spec.addons = addons;
  return { spec, unmapped: unmapped.concat(app?.unmapped ?? []), notes };
}

/** app.json env and config vars → env (public values) and secrets (names). */
function mapConfig(h: HerokuApp, provided: Map<string, string>, unmapped: string[]): { env: Record<string, string>; secrets: string[] } {
  const declared = new Map((h.app?.env ?? []).map((e) => [e.name, e]));
  const names = [...new Set([...declared.keys(), ...Object.keys(h.config ?? {})])].sort();
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  for (const name of names) {
    const entry = declared.get(name);
    const fromConfig = h.config && Object.hasOwn(h.config, name) ? h.config[name] : undefined;
    const value = fromConfig ?? entry?.value ?? null;
    if (!ENV_NAME.test(name) || name.length > 128) unmapped.push(`env ${JSON.stringify(name)}: not a valid environment variable name`);
    else if (provided.has(name)) unmapped.push(`env ${name}: set by addons.${provided.get(name)}`);
    else if (name === 'PORT') unmapped.push('env PORT: skyrec sets PORT for each web instance');
    else if (HEROKU_MANAGED.test(name)) unmapped.push(`env ${name}: dyno metadata set by Heroku; no equivalent`);
    else if (ADDON_ALIAS.test(name)) unmapped.push(`env ${name}: another URL of a Heroku addon; skyrec's addons set DATABASE_URL and REDIS_URL only`);
    else if (entry?.generated || entry?.required || CREDENTIAL_NAME.test(name) || (value !== null && CREDENTIAL_URL.test(value))) secrets.push(name);
    else if (value === null) unmapped.push(`env ${name}: app.json gives no value (Heroku asks for one at setup); add it to env: or secrets:`);
    else if (value.includes('\0')) unmapped.push(`env ${name}: its value holds a NUL character`);
    else env[name] = value;
  }
  return { env, secrets };
}
