// Typed errors with stable codes. The CLI maps them to exit codes in one place
// (reconciler/cli/cli.ts); callers branch on `instanceof` or `code`, never on message text.
import type { Problem } from './problem.js';

export class SkyrecError extends Error {
  readonly code: string = 'SKYREC_ERROR';
  readonly exitCode: number = 1;
  /** What the user can do about it, printed after the reason. */
  readonly hint?: string;
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.hint = opts.hint;
  }
}

/** The config repo is invalid. Carries every problem found, in file/line order. */
export class SpecError extends SkyrecError {
  override readonly code = 'SPEC_INVALID';
  override readonly exitCode = 2;
  /** `where` names the revision that has the problems, e.g. 'base 1a2b3c4 (main)'. */
  constructor(
    readonly problems: Problem[],
    readonly where = 'the config repo',
  ) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${where}`);
  }
}

export class GitError extends SkyrecError {
  override readonly code = 'GIT_ERROR';
}

/** A value cannot be written safely into Nix, Caddy or shell text. */
export class EscapeError extends SkyrecError {
  override readonly code = 'ESCAPE_ERROR';
}

/** A user-facing usage problem (bad flag, missing directory). */
export class UsageError extends SkyrecError {
  override readonly code: string = 'USAGE';
  override readonly exitCode = 2;
}

export class CommandError extends SkyrecError {
  override readonly code = 'COMMAND_FAILED';
  constructor(
    readonly cmd: string[],
    readonly exitCode_: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${cmd[0]} failed (exit ${exitCode_ ?? 'signal'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Who holds the fleet's lock (the lock file's JSON). */
export interface LockHolder { pid: number; host: string; command: string; since: string }

/** Another apply holds the fleet's lock; running two at once would interleave switches and rollbacks. */
export class LockedError extends SkyrecError {
  override readonly code = 'LOCKED';
  override readonly exitCode = 3;
  constructor(
    readonly holder: LockHolder,
    readonly lockPath: string,
    /** Who holds it, as the message says it: 'another skyrec apply holds the lock'. */
    what = 'another skyrec apply holds the lock',
  ) {
    super(
      `${what}: pid ${holder.pid} on host ${holder.host}, \`${holder.command}\`, since ${holder.since}`,
      { hint: `wait for it to finish; if it is gone from that host, remove ${lockPath}` },
    );
  }
}

/** The state database cannot be used as it is (written by a newer skyrec, or misused by a caller). */
export class StateError extends SkyrecError {
  override readonly code: string = 'STATE_ERROR';
}

/**
 * The state database is missing, empty or damaged while the state directory shows earlier use:
 * starting over would forget quarantines and history, so skyrec refuses (exit 5).
 */
export class StateDamagedError extends StateError {
  override readonly code = 'STATE_DAMAGED';
  override readonly exitCode = 5;
}

/** A node cannot be reached over ssh; names the node and the host skyrec tried. */
export class NodeUnreachableError extends SkyrecError {
  override readonly code = 'NODE_UNREACHABLE';
  constructor(
    readonly node: string,
    readonly host: string,
    detail: string,
    opts: { cause?: unknown } = {},
  ) {
    super(`node ${node} is unreachable over ssh (${host}): ${detail}`, {
      hint: 'check that the host is up, that it accepts skyrec\'s ssh key, and the ssh options',
      cause: opts.cause,
    });
  }
}

/** switch-to-configuration failed on a node; `switchExitCode` is its exit code (2, 3, 4 documented). */
export class ActivationError extends SkyrecError {
  override readonly code = 'ACTIVATION_FAILED';
  constructor(
    readonly node: string,
    readonly switchExitCode: number | null,
    message: string,
    opts: { hint?: string; cause?: unknown } = {},
  ) {
    super(message, opts);
  }
}

/** The local driver cannot do what was asked (a tool failed to start, a path is unusable). */
export class LocalDriverError extends SkyrecError {
  override readonly code = 'LOCAL_DRIVER';
}

/** An app's release command (migrations) failed, so its instances were not (re)started. */
export class ReleaseError extends SkyrecError {
  override readonly code = 'RELEASE_FAILED';
  constructor(
    readonly app: string,
    readonly node: string,
    /** The last lines of the release's output (stdout then stderr). */
    readonly outputTail: string,
  ) {
    super(`release of ${app} failed on ${node}:\n${outputTail}`, { hint: `fix the release command of ${app} (see its output above), then apply again` });
  }
}

/** The revision failed before: applying it again needs --force. */
export class ApplyRefusedError extends SkyrecError {
  override readonly code = 'REVISION_FAILED';
}

export class PreflightError extends SkyrecError {
  override readonly code = 'PREFLIGHT';
  constructor(readonly problems: { node: string; message: string }[]) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} before any node switched:\n${problems.map((p) => `  ${p.node}: ${p.message}`).join('\n')}`, {
      hint: 'nothing was changed; fix these and apply again',
    });
  }
}

/** A rollout stopped on a node that failed its health checks (exit 4). */
export class RolloutFailedError extends SkyrecError {
  override readonly code = 'ROLLOUT_FAILED';
  override readonly exitCode = 4;
}

/**
 * The config repo lacks a file of its pinned input set (flake.nix or flake.lock), so the nixos
 * driver cannot build what the revision pins. `file` names it; the hint says how to make it.
 */
export class FlakeInputsError extends SkyrecError {
  override readonly code = 'FLAKE_INPUTS';
  override readonly exitCode = 2;
  constructor(
    readonly file: 'flake.nix' | 'flake.lock',
    message: string,
    opts: { hint?: string } = {},
  ) {
    super(message, opts);
  }
}

/** A head's signature could not be checked (ssh-keygen or gpg missing, or hung): nothing is applied. */
export class TrustCheckError extends SkyrecError {
  override readonly code = 'TRUST_CHECK';
}

/** `--require-signed-by`: the revision is not signed by an allowed key (exit 6, for CI). */
export class UntrustedRevisionError extends SkyrecError {
  override readonly code = 'UNTRUSTED_REVISION';
  override readonly exitCode = 6;
}
