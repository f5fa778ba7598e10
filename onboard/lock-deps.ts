// What `skyrec import heroku` does about dependencies validation would otherwise refuse: a Python
// app with only requirements.txt gets pyproject.toml and uv.lock from uv (when uv is installed),
// and a Go app without vendor/ gets its vendorHash computed (when Go and Nix are installed).
// Without the tool, a note says the exact command to run.
import { SkyrecError } from '../common/errors.js';
import { exec as realExec, type Exec } from '../common/exec.js';
import type { LockStatus } from './lock-file.js';
import type { Stack } from './stacks.js';
import { computeVendorHash } from './vendor-hash.js';

export interface DepsContext {
  stack: Stack;
  /** The source folder, and how messages name it. */
  dir: string;
  label: string;
  lock: LockStatus;
  /** package.build of the spec being written. */
  build: Record<string, unknown>;
  notes: string[];
  exec?: Exec;
  env?: Record<string, string>;
}

/** The commands that turn requirements.txt into what skyrec builds from. */
export const UV_FROM_REQUIREMENTS: string[][] = [
  ['uv', 'init', '--bare'],
  ['uv', 'add', '-r', 'requirements.txt'],
];
const shown = (cmds: string[][]) => cmds.map((c) => c.join(' ')).join(' && ');

async function uvLock(ctx: DepsContext, exec: Exec, env: Record<string, string>): Promise<void> {
  try {
    await exec(['uv', '--version'], { env });
  } catch {
    ctx.notes.push(
      `${ctx.label} has requirements.txt, and skyrec builds Python from uv.lock; uv is not installed here: install it (https://docs.astral.sh/uv/), ` +
        `then run in ${ctx.label}: \`${shown(UV_FROM_REQUIREMENTS)}\`, and commit pyproject.toml and uv.lock`,
    );
    return;
  }
  for (const argv of UV_FROM_REQUIREMENTS) await exec(argv, { cwd: ctx.dir, env, timeout: 600_000 });
  ctx.notes.push(`ran \`${shown(UV_FROM_REQUIREMENTS)}\` in ${ctx.label}: commit the pyproject.toml and uv.lock it wrote`);
}

async function goVendorHash(ctx: DepsContext, exec: Exec, env: Record<string, string>): Promise<void> {
  try {
    const { hash, go } = await computeVendorHash({ dir: ctx.dir, label: ctx.label, exec, env });
    ctx.build.vendorHash = hash;
    ctx.notes.push(`vendorHash computed with ${go} (go mod vendor, nix hash path); if the Nix build reports a hash mismatch, use its "got:" hash`);
  } catch (err) {
    if (!(err instanceof SkyrecError)) throw err;
    const hint = err.hint;
    ctx.notes.push(`vendorHash not computed: ${err.message}${hint ? ` (${hint})` : ''}; then run \`skyrec vendor-hash ${ctx.label}\` and set package.build.vendorHash`);
  }
}

/** Fills in what the stack's dependencies need, or adds the note that says how. */
export async function prepareDeps(ctx: DepsContext): Promise<void> {
  const exec = ctx.exec ?? realExec;
  const env = { ...(process.env as Record<string, string>), ...ctx.env };
  if (ctx.stack === 'python' && ctx.lock.status === 'unsupported' && ctx.lock.file === 'requirements.txt') return uvLock(ctx, exec, env);
  if (ctx.stack === 'go' && ctx.lock.file === 'go.sum') return goVendorHash(ctx, exec, env);
}
