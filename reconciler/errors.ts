// Typed errors with stable codes. The CLI maps them to exit codes in one place
// (reconciler/cli.ts); callers branch on `instanceof` or `code`, never on message text.
import type { Problem } from '../schema/model.js';

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
  override readonly code = 'USAGE';
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
