// What must hold before any local node switches: every secret file present, every program a
// nixpkgs package would provide found on PATH, the addon and ingress tools installed, and no
// package the local driver cannot run. Collects every problem; the caller stops the apply.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requiredSecrets, type RunProcess } from '../../../generators/render-run-spec.js';
import type { Exec } from '../../../common/exec.js';
import type { NodeTarget, PreflightProblem } from '../../node/driver.js';
import { postgresBin } from './local-addons.js';
import { BUILD_TOOLS } from './local-build.js';
import { secretFile } from './local-secrets.js';

/** The program a command runs: its first word, past `exec` and leading VAR=value assignments. */
export function programOf(command: string): string | null {
  const words = command.trim().split(/\s+/);
  for (const word of words) {
    if (word === 'exec' || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) continue;
    return word.replace(/^['"]|['"]$/g, '') || null;
  }
  return null;
}

/**
 * What `command -v` answers for a program, without a shell per program: a path is taken as it
 * is, a bare name is looked up in each PATH directory.
 */
export function isExecutableOnPath(program: string, path: string): boolean {
  const candidates = program.includes('/') ? [program] : path.split(':').filter(Boolean).map((dir) => join(dir, program));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

export async function preflightLocal(targets: NodeTarget[], opts: { secretsDir: string | null; exec: Exec }): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  const found = new Map<string, boolean>();
  const onPath = (program: string) => {
    let p = found.get(program);
    if (p === undefined) {
      p = isExecutableOnPath(program, process.env.PATH ?? '');
      found.set(program, p);
    }
    return p;
  };
  for (const target of targets) {
    const node = target.node.name;
    const spec = target.run;
    const add = (message: string) => {
      if (!problems.some((p) => p.node === node && p.message === message)) problems.push({ node, message });
    };
    for (const u of spec.unsupported) add(u.message);
    for (const { app, name } of requiredSecrets(spec)) {
      if (opts.secretsDir === null) add(`${app} needs the secret ${name}, but no secrets dir was given (--secrets-dir)`);
      else if (!existsSync(secretFile(opts.secretsDir, app, name))) add(`${app}: secret file ${secretFile(opts.secretsDir, app, name)} is missing`);
    }
    for (const build of spec.builds ?? []) {
      const tool = BUILD_TOOLS[build.stack];
      if (!onPath(tool.program)) add(`${build.path}: building stack ${build.stack} needs ${tool.program} on PATH (${tool.install})`);
    }
    const procs: RunProcess[] = [...spec.instances, ...spec.releases];
    for (const proc of procs) {
      // A process without a source folder runs a nixpkgs package: here, that program from PATH.
      if (proc.cwd !== null) continue;
      const program = programOf(proc.command);
      if (program && !onPath(program)) add(`${proc.app}: the program ${program} is not on PATH (the local driver runs nixpkgs packages from the machine's PATH; install it)`);
    }
    if (spec.postgres.length > 0) {
      const bin = postgresBin();
      const missing: string[] = [];
      for (const tool of ['initdb', 'pg_ctl', 'postgres', 'psql']) if (!(bin ? existsSync(join(bin, tool)) : onPath(tool))) missing.push(tool);
      if (missing.length > 0) add(`PostgreSQL for ${spec.postgres.map((p) => p.app).join(', ')}: ${missing.join(', ')} not found (install postgresql, or set SKYREC_PG_BIN)`);
      if (!onPath('runuser') || !onPath('setpriv')) add('PostgreSQL needs runuser and setpriv (util-linux) to run as the postgres user');
      if (!(await opts.exec(['id', '-u', 'postgres']).then(() => true, () => false))) add('PostgreSQL needs a postgres system user (installed with postgresql)');
    }
    // The local driver keeps its repository in a folder: it wires neither the sftp login key nor
    // the known hosts into its pgBackRest and restic, and Debian 12's pgBackRest (2.45) has no
    // sftp repository (2.46 and later).
    if (spec.backup?.target.kind === 'ssh') add(`backups to the ssh target ${spec.backup.target.ssh!.host} run on NixOS nodes only; the local driver backs up to a path: target (backups: { path: /var/backups/skyrec, key: ... })`);
    if (spec.redis.length > 0 && !onPath('redis-server')) add(`Redis for ${spec.redis.map((r) => r.app).join(', ')}: redis-server is not on PATH (install redis-server)`);
    if (spec.routes !== null && !onPath('caddy')) add('the ingress needs caddy on PATH (install caddy)');
  }
  if (targets.length > 0 && !onPath('nix-store')) problems.push({ node: targets[0].node.name, message: 'nix-store is not on PATH: local generations are Nix profiles (install nix)' });
  return problems;
}
