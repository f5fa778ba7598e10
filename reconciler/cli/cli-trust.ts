// `--require-signed-by FILE` as `reconcile`, `plan` and `validate` take it: repeatable; each FILE
// an allowed-signers file (SSH keys, git's gpg.ssh.allowedSignersFile format) or an armored
// OpenPGP public keyring (gpg --export --armor), told apart by their content.
import { Option } from 'commander';

export const REQUIRE_SIGNED_HELP =
  'only a commit signed by an allowed key: FILE is an allowed-signers file (SSH keys, as git\'s gpg.ssh.allowedSignersFile) or an armored OpenPGP public keyring (gpg --export --armor); repeat the flag to allow both kinds';

const collect = (value: string, previous: string[]) => [...previous, value];

export function requireSignedOption(what: string): Option {
  return new Option('--require-signed-by <file>', `${what}: ${REQUIRE_SIGNED_HELP}`).argParser(collect).default([] as string[]);
}

/**
 * The key files, resolved and checked at once (a malformed one is refused at file:line:col, exit
 * 2, before anything runs); empty when the flag is not given.
 */
export async function loadKeyFiles(files: string[], resolvePath: (p: string) => string): Promise<string[]> {
  if (files.length === 0) return [];
  const paths = files.map(resolvePath);
  const { loadTrustPolicy } = await import('../trust/trust-policy.js');
  loadTrustPolicy(paths);
  return paths;
}

/** `plan`/`validate`: the verdict on `rev` of the repo in `dir`, or UntrustedRevisionError (exit 6). */
export async function requireSigned(files: string[], resolvePath: (p: string) => string, dir: string, rev: string) {
  const keyFiles = await loadKeyFiles(files, resolvePath);
  if (keyFiles.length === 0) return null;
  const [{ requireSignedRevision }, { exec }] = await Promise.all([import('../trust/head-trust.js'), import('../../common/exec.js')]);
  return requireSignedRevision({ keyFiles, dir, rev, exec });
}
