// `skyrec detect` on real-shaped source trees: the whole output is in test/golden/detect/, the
// facts a user acts on are asserted here too. Runs the real CLI in-process on real folders.
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { detectStack } from '../../onboard/detect.js';
import { parseProcfile } from '../../onboard/procfile.js';
import { nodeSourceFs, type SourceFs } from '../../onboard/source-fs.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tools.js';

const root = packageRoot();
const FIXTURES = 'test/fixtures/detect';
const temps: (() => void)[] = [];
afterEach(() => {
  for (const c of temps.splice(0)) c();
});

/** case → [stack, start command or null, lock status, lock file or null, also found] */
const CASES: Record<string, [string, string | null, string, string | null, string[]]> = {
  'node-lock': ['nodejs', 'npm start', 'found', 'package-lock.json', []],
  'node-no-lock': ['nodejs', 'node server.js', 'unsupported', 'yarn.lock', []],
  'node-no-deps': ['nodejs', 'node web.js', 'not-needed', null, []],
  'python-requirements': ['python', 'gunicorn --config gunicorn.conf.py gettingstarted.wsgi', 'unsupported', 'requirements.txt', []],
  'python-hashed': ['python', 'flask --app app run --host 127.0.0.1 --port $PORT', 'unsupported', 'requirements.txt', []],
  'python-uv': ['python', 'uvicorn inventory.main:app --host 127.0.0.1 --port $PORT', 'found', 'uv.lock', []],
  'python-poetry': ['python', null, 'unsupported', 'poetry.lock', []],
  'go-mod': ['go', 'linkcheck', 'found', 'go.sum', []],
  'go-vendored': ['go', 'bin/go-getting-started', 'found', 'vendor/', []],
  'go-no-sum': ['go', null, 'missing', null, []],
  'go-godeps': ['go', 'old', 'missing', null, []],
  'rust-lock': ['rust', 'thumbnailer', 'found', 'Cargo.lock', []],
  'rust-no-lock': ['rust', 'ledger', 'missing', null, []],
  static: ['static', null, 'not-needed', null, []],
  monorepo: ['nodejs', null, 'missing', null, ['python']],
  'monorepo/services/api': ['go', 'api', 'not-needed', null, []],
};

describe('skyrec detect', () => {
  it.each(Object.keys(CASES))('%s: the stack, runtime, start command and lock file, as text and JSON', async (name) => {
    const path = `${FIXTURES}/${name}`;
    const text = await runCli(['detect', path], { cwd: root });
    expect(text).toMatchObject({ code: 0, stderr: '' });
    await expect(text.stdout).toMatchFileSnapshot(`../golden/detect/${name.replace(/\//g, '--')}.txt`);

    const json = await runCli(['detect', path, '--json'], { cwd: root });
    expect(json).toMatchObject({ code: 0, stderr: '' });
    await expect(json.stdout).toMatchFileSnapshot(`../golden/detect/${name.replace(/\//g, '--')}.json`);
    const d = JSON.parse(json.stdout);
    const [stack, start, lockStatus, lockFile, also] = CASES[name];
    expect({ path: d.path, stack: d.stack, start: d.start.command, lock: d.lock.status, lockFile: d.lock.file, also: d.alsoFound.map((a: { stack: string }) => a.stack) })
      .toEqual({ path, stack, start, lock: lockStatus, lockFile, also });
    // What is missing always comes with what to add.
    if (d.lock.status === 'missing' || d.lock.status === 'unsupported') expect(d.lock.detail).toMatch(/\brun\b/);
    if (d.start.command === null) expect(d.start.hint).toMatch(/^none( needed)?: /);
    if (d.runtime && d.runtime.version === null) expect(d.runtime.hint).toMatch(/^add /);
  });

  it('reads the runtime version where each ecosystem keeps it', async () => {
    const runtime = async (name: string) => (await detectStack(join(root, FIXTURES, name)))!.runtime;
    expect(await runtime('node-lock')).toMatchObject({ version: '20.x', source: 'package.json engines.node' });
    expect(await runtime('python-hashed')).toMatchObject({ version: '3.12', source: '.python-version' });
    expect(await runtime('python-requirements')).toMatchObject({ version: '3.12.7', source: 'runtime.txt' });
    expect(await runtime('python-uv')).toMatchObject({ version: '>=3.11', source: 'pyproject.toml project.requires-python' });
    expect(await runtime('go-no-sum')).toMatchObject({ version: '1.23.4', source: "go.mod's go line" });
    expect(await runtime('rust-lock')).toMatchObject({ version: '1.82.0', source: 'rust-toolchain.toml toolchain.channel' });
    expect(await runtime('rust-no-lock')).toMatchObject({ version: 'stable', source: 'rust-toolchain' });
    expect(await runtime('static')).toBeNull();
  });

  it('reads TOML as uv and cargo do: dotted keys, inline tables, and not the keys of an [[array]] table', async () => {
    const folder = (files: Record<string, string>) => {
      const t = makeTempDir();
      temps.push(t.cleanup);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(t.dir, name), text);
      return t.dir;
    };
    const detect = async (files: Record<string, string>) => (await detectStack(folder(files)))!;
    const py = await detect({ 'pyproject.toml': 'project.name = "inventory"\nproject.requires-python = ">=3.12"\n', 'main.py': '' });
    expect(py.runtime).toMatchObject({ version: '>=3.12', source: 'pyproject.toml project.requires-python' });
    const poetry = await detect({ 'pyproject.toml': '[tool.poetry]\nname = "x"\ndependencies = { python = "^3.11", flask = "^3" }\n' });
    expect(poetry.runtime).toMatchObject({ version: '^3.11', source: 'pyproject.toml tool.poetry.dependencies.python' });
    const rust = await detect({
      'Cargo.toml': '[package]\nversion = "0.1.0"\nedition = "2021"\nname = "thumbnailer"\n\n[[bin]]\nname = "thumbnail-cli"\npath = "src/cli.rs"\n',
      'rust-toolchain.toml': 'toolchain = { channel = "1.80.1", profile = "minimal" }\n',
    });
    expect([rust.runtime, rust.start.command]).toEqual([expect.objectContaining({ version: '1.80.1' }), 'thumbnailer']);
    const binFirst = await detect({ 'Cargo.toml': '[package]\nversion = "0.1.0"\n\n[[bin]]\nname = "thumbnail-cli"\n' });
    expect(binFirst.start.command).toBeNull();
  });

  it('exits 2 naming what it looked for when no stack matches, in text and JSON', async () => {
    const r = await runCli(['detect', `${FIXTURES}/nothing`], { cwd: root });
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: no stack detected in test/fixtures/detect/nothing: looked for nodejs (package.json); python (requirements.txt, pyproject.toml, Pipfile, setup.py, uv.lock, poetry.lock); go (go.mod, Godeps/Godeps.json, vendor/vendor.json); rust (Cargo.toml); static (static.json, index.html)\n',
    });
    const j = await runCli(['detect', `${FIXTURES}/nothing`, '--json'], { cwd: root });
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toEqual({ path: `${FIXTURES}/nothing`, stack: null });
  });

  it('says so when the path is not a folder', async () => {
    const r = await runCli(['detect', `${FIXTURES}/node-lock/package.json`], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: test\/fixtures\/detect\/node-lock\/package\.json is not a folder\n/);
  });

  it('reports every malformed Procfile line as file:line:col', async () => {
    const r = await runCli(['detect', `${FIXTURES}/bad-procfile`], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').slice(0, 2)).toEqual([
      `${FIXTURES}/bad-procfile/Procfile:3:1: expected '<process type>: <command>', got "worker node worker.js"`,
      `${FIXTURES}/bad-procfile/Procfile:4:7: process type 'clock' has no command`,
    ]);
  });

  it('opens the same few files in a tree with 10,000 more files in nested folders', async () => {
    const opened = async (dir: string) => {
      const seen: string[] = [];
      const counting: SourceFs = {
        list: (p) => (seen.push(`list ${relative(dir, p) || '.'}`), nodeSourceFs.list(p)),
        read: (p) => (seen.push(`read ${relative(dir, p)}`), nodeSourceFs.read(p)),
        kind: (p) => (seen.push(`kind ${relative(dir, p) || '.'}`), nodeSourceFs.kind(p)),
      };
      const detection = await detectStack(dir, { fs: counting, label: 'app' });
      return { seen: seen.sort(), detection };
    };
    const small = makeTempDir();
    const big = makeTempDir();
    temps.push(small.cleanup, big.cleanup);
    for (const t of [small.dir, big.dir]) cpSync(join(root, FIXTURES, 'python-requirements'), t, { recursive: true });
    // The shapes that make a tree big: installed packages, build output, assets, with manifests deep inside.
    for (let d = 0; d < 100; d++) {
      const folder = join(big.dir, ['node_modules', 'static', 'vendor'][d % 3], `pkg-${d}`, 'lib');
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, '..', 'package.json'), '{ "name": "x", "dependencies": { "y": "1" } }');
      for (let f = 0; f < 99; f++) writeFileSync(join(folder, `file-${f}.py`), 'x = 1\n');
    }
    const a = await opened(small.dir);
    const b = await opened(big.dir);
    expect(b.seen).toEqual(a.seen);
    expect(a.seen).toEqual(['kind .', 'list .', 'read Procfile', 'read requirements.txt', 'read runtime.txt']);
    expect(b.detection).toEqual(a.detection);
  });
});

describe('parseProcfile', () => {
  it('skips comments and blank lines, accepts CRLF, and keeps line numbers', () => {
    expect(parseProcfile('Procfile', '# web first\r\nweb: node web.js --port $PORT\r\n\r\nworker_2:   node w.js  \r\n')).toEqual({
      entries: [
        { name: 'web', command: 'node web.js --port $PORT', line: 2 },
        { name: 'worker_2', command: 'node w.js', line: 4 },
      ],
      problems: [],
    });
  });

  it('refuses a process type defined twice and names with other characters', () => {
    const { problems } = parseProcfile('Procfile', 'web: a\n  web: b\nmy.job: c\n');
    expect(problems).toEqual([
      { file: 'Procfile', line: 2, col: 3, message: "process type 'web' is already defined on line 1" },
      { file: 'Procfile', line: 3, col: 1, message: `process type "my.job" may hold only letters, digits, '_' and '-'` },
    ]);
  });
});
