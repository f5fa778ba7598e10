// What each `skyrec` command loads when it starts: every command is a new process, so a package
// loaded at import costs every command its load time (the test suite and CI spawn skyrec hundreds
// of times; an operator waits for `--help`). A command loads the large packages it uses and no
// others. The real binary runs with a preload that lists every module the process loaded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../common/paths.js';
import { runBin } from '../helpers/run-bin.js';
import { makeTempDir } from '../helpers/tools.js';

/** The packages that take tens of milliseconds or more to load. */
const HEAVY = ['yaml', 'pino', 'isomorphic-git', 'execa', 'ajv', 'better-sqlite3', 'prom-client', 'handlebars', 'smol-toml', 'diff', 'chokidar'];

let tmp: ReturnType<typeof makeTempDir>;
let preload: string;

beforeAll(() => {
  tmp = makeTempDir('skyrec-cli-startup-');
  // ES modules are seen by a loader hook (which runs on its own thread: it appends to the file),
  // CommonJS ones are in require's cache when the process exits.
  const hooks = join(tmp.dir, 'hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.SKYREC_TEST_MODULES, url + '\\n');
  return next(url, context);
}
`);
  preload = join(tmp.dir, 'preload.mjs');
  writeFileSync(preload, `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const { _cache } = createRequire(import.meta.url)('node:module');
process.on('exit', () => appendFileSync(process.env.SKYREC_TEST_MODULES, Object.keys(_cache).join('\\n') + '\\n'));
`);
});
afterAll(() => tmp?.cleanup());

let runs = 0;
/** Runs skyrec; its exit code, stdout and the heavy packages it loaded. */
async function loadedBy(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; heavy: string[] }> {
  const list = join(tmp.dir, `modules-${runs++}.txt`);
  const result = await runBin(argv, { env: { SKYREC_CACHE_DIR: join(tmp.dir, 'cache'), ...env, NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`, SKYREC_TEST_MODULES: list } });
  const modules = existsSync(list) ? readFileSync(list, 'utf8').split('\n') : [];
  const heavy = HEAVY.filter((name) => modules.some((m) => m.includes(`/node_modules/${name}/`)));
  return { code: result.code, stdout: result.stdout, stderr: result.stderr, heavy };
}

describe('what a skyrec command loads (the real binary)', { timeout: 60_000 }, () => {
  it('the preload sees a package that is loaded: render of the example repo loads the YAML parser and the templates', async () => {
    const run = await loadedBy(['render', '--repo', join(packageRoot(), 'apps.example'), '--out', join(tmp.dir, 'out'), '--no-cache']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.heavy).toEqual(expect.arrayContaining(['yaml', 'ajv', 'handlebars']));
  });

  it('--help and a command\'s --help load none of the large packages', async () => {
    for (const argv of [['--help'], ['status', '--help'], ['plan', '--help'], ['reconcile', '--help']]) {
      const run = await loadedBy(argv);
      expect(run.code, argv.join(' ')).toBe(0);
      expect(run.stdout).toContain('Usage: skyrec');
      expect(run.heavy, argv.join(' ')).toEqual([]);
    }
  });

  it('validate loads the validators but no logger, git, subprocess runner, database or metrics; with a warm parse cache, no YAML parser either', async () => {
    const repo = join(tmp.dir, 'repo');
    mkdirSync(join(repo, 'apps'), { recursive: true });
    writeFileSync(join(repo, 'fleet.yaml'), 'nodes:\n  - name: web-1\n    host: root@10.0.0.11\n    address: 10.0.0.11\n    ingress: true\n');
    writeFileSync(join(repo, 'apps', 'hello.yaml'), 'name: hello\npackage: { nixpkgs: hello }\nprocesses:\n  web: { command: "hello --port $PORT" }\ndomains: [hello.example.com]\n');
    const cold = await loadedBy(['validate', '--repo', repo]);
    expect(cold.code, cold.stderr).toBe(0);
    expect(cold.heavy).toContain('yaml');
    const warm = await loadedBy(['validate', '--repo', repo]);
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.stdout).toContain('valid (1 nodes, 1 apps, 1 instances)');
    expect(warm.heavy).toEqual(['ajv']);
  });

  it('status of a state directory nothing was applied from reads the state store only', async () => {
    const run = await loadedBy(['status', '--driver', 'local', '--state', join(tmp.dir, 'state')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('No node has been applied yet.');
    expect(run.heavy).toEqual(['better-sqlite3']);
  });
});
