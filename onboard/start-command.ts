// The command that serves the app: the Procfile's web line first (what Heroku runs), else the
// ecosystem's convention, else none, with what to add.
import type { ProcfileEntry } from './procfile.js';
import type { ReadCtx } from './runtime.js';
import { readJson } from './runtime.js';
import type { Stack } from './stacks.js';
import { tomlString } from '../schema/toml-file.js';

export interface StartCommand {
  command: string | null;
  /** Where it came from, e.g. 'Procfile web' or 'package.json scripts.start'. */
  source: string | null;
  /** When there is no command: why none is needed, or what to add. */
  hint: string | null;
}

const none = (hint: string): StartCommand => ({ command: null, source: null, hint });
const ADD_PROCFILE = 'add a Procfile with a line `web: <command>`';

async function conventionalStart(stack: Stack, ctx: ReadCtx): Promise<StartCommand> {
  switch (stack) {
    case 'nodejs': {
      const pkg = await readJson(ctx, 'package.json');
      const start = (pkg?.scripts as Record<string, unknown> | undefined)?.start;
      if (typeof start === 'string' && start.trim()) return { command: 'npm start', source: `package.json scripts.start: ${start.trim()}`, hint: null };
      // npm's own default for `npm start`.
      if (ctx.entries.get('server.js') === 'file') return { command: 'node server.js', source: "npm start's default when server.js exists", hint: null };
      return none(`none: ${ADD_PROCFILE}, or scripts.start to package.json`);
    }
    case 'python':
      return none(`none: ${ADD_PROCFILE}, e.g. web: gunicorn myapp.wsgi (Python has no default)`);
    case 'go': {
      const mod = (await ctx.read('go.mod')) ?? '';
      const module = /^module[ \t]+"?([^\s"]+)"?/m.exec(mod)?.[1];
      const binary = module?.split('/').filter((s) => !/^v[0-9]+$/.test(s)).pop();
      if (binary && ctx.entries.get('main.go') === 'file') return { command: binary, source: "the binary named by go.mod's module path", hint: null };
      return none(`none: ${ADD_PROCFILE}, naming the binary of the main package`);
    }
    case 'rust': {
      const name = tomlString((await ctx.read('Cargo.toml')) ?? '', ['package', 'name'])?.value;
      if (name) return { command: name, source: 'the binary named by Cargo.toml package.name', hint: null };
      return none(`none: ${ADD_PROCFILE}, naming the binary`);
    }
    case 'static':
      return none('none needed: each web instance is a Caddy file server');
  }
}

export async function readStartCommand(stack: Stack, procfile: ProcfileEntry[] | null, ctx: ReadCtx): Promise<StartCommand> {
  const web = procfile?.find((e) => e.name === 'web');
  if (web) return { command: web.command, source: 'Procfile web', hint: null };
  return conventionalStart(stack, ctx);
}
