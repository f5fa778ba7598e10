// ssh-keygen and gpg answer "no" with an exit code: here that is a verdict, not an error. A tool
// that cannot be started, or hangs, is an error: the head is then neither trusted nor applied.
import { CommandError, TrustCheckError } from '../../common/errors.js';
import type { Exec } from '../../common/exec.js';

const PACKAGE: Record<string, string> = { 'ssh-keygen': 'openssh (ssh-keygen 8.2 or newer)', gpg: 'gnupg' };

export async function runTool(exec: Exec, argv: string[], input?: Buffer): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const r = await exec(argv, { input: input ?? '', timeout: 30_000 });
    return { ok: true, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    if (err.exitCode_ === null) {
      throw new TrustCheckError(`cannot check the head's signature: ${argv[0]} ${err.stderr.includes('timed out') ? err.stderr.trim() : 'could not be started'}`, {
        hint: `install ${PACKAGE[argv[0]] ?? argv[0]} where skyrec runs`,
      });
    }
    return { ok: false, stdout: err.stdout, stderr: err.stderr };
  }
}
