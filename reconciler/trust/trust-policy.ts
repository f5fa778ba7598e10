// The keys a head must be signed by (`--require-signed-by FILE`, repeatable). Each FILE is
// either an allowed-signers file in git's format (gpg.ssh.allowedSignersFile: one
// `<principals> [options] <key type> <base64 key>` per line), for SSH signatures, or an armored
// OpenPGP public keyring (`gpg --export --armor`), for OpenPGP signatures; skyrec tells them
// apart by their content. The files are read again before each check, so a key added to one
// counts from the next new head on, without a restart.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SpecError, UsageError } from '../../common/errors.js';
import type { Problem } from '../../schema/model.js';

export type KeyFileKind = 'allowed-signers' | 'openpgp-keyring';

export interface KeyFile {
  path: string;
  kind: KeyFileKind;
  text: string;
}

export interface TrustPolicy {
  files: KeyFile[];
  /** Of every file's path and content: a verdict remembered for a commit holds while this does. */
  hash: string;
}

const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;
const PGP_PUBLIC = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const PGP_PRIVATE = '-----BEGIN PGP PRIVATE KEY BLOCK-----';

/** Reads and checks the key files; a file that is neither kind, or a malformed line, is refused at file:line:col. */
export function loadTrustPolicy(paths: string[]): TrustPolicy {
  const files: KeyFile[] = [];
  const problems: Problem[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(`--require-signed-by ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
        hint: 'give an allowed-signers file (git\'s gpg.ssh.allowedSignersFile format) or an armored OpenPGP public keyring (gpg --export --armor)',
      });
    }
    const kind: KeyFileKind = text.includes(PGP_PUBLIC) || text.includes(PGP_PRIVATE) ? 'openpgp-keyring' : 'allowed-signers';
    problems.push(...(kind === 'openpgp-keyring' ? checkKeyring(path, text) : checkAllowedSigners(path, text)));
    files.push({ path, kind, text });
  }
  if (problems.length > 0) throw new SpecError(problems, 'the --require-signed-by files');
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.path}\0${f.text}\0`);
  return { files, hash: hash.digest('hex') };
}

function checkKeyring(path: string, text: string): Problem[] {
  const at = (needle: string) => {
    const before = text.slice(0, text.indexOf(needle)).split('\n');
    return { line: before.length, col: before[before.length - 1].length + 1 };
  };
  if (text.includes(PGP_PRIVATE)) {
    return [{ file: path, ...at(PGP_PRIVATE), message: 'holds a private key: give only the public keys (gpg --export --armor KEYID), and keep the private key off the reconciler' }];
  }
  return [];
}

/** Git's allowed-signers format, as ssh-keygen(1) ALLOWED SIGNERS describes it. */
function checkAllowedSigners(path: string, text: string): Problem[] {
  const problems: Problem[] = [];
  const lines = text.split('\n');
  let keys = 0;
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const tokens = [...line.matchAll(/"[^"]*"|\S+/g)].map((m) => ({ text: m[0], col: m.index! + 1 }));
    const typeAt = tokens.findIndex((t) => KEY_TYPE.test(t.text));
    const problem = (col: number, message: string) => problems.push({ file: path, line: i + 1, col, message });
    if (typeAt === -1) return problem(tokens[0].col, `no key: expected '<principals> [options] <key type> <base64 key>' (e.g. 'alice@example.com ssh-ed25519 AAAA...'), as git's gpg.ssh.allowedSignersFile takes`);
    if (typeAt === 0) return problem(tokens[0].col, 'principals missing: the line must start with who the key belongs to (e.g. alice@example.com), then the key');
    if (typeAt > 2) return problem(tokens[1].col, `'${tokens[1].text}' is not an option list: between the principals and the key only options (namespaces="git", valid-after=...) may stand`);
    const key = tokens[typeAt + 1];
    if (!key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key.text)) return problem(key?.col ?? tokens[typeAt].col + tokens[typeAt].text.length, `the ${tokens[typeAt].text} key must follow as base64`);
    keys++;
  });
  if (problems.length === 0 && keys === 0) problems.push({ file: path, line: 1, col: 1, message: 'no key in this file: it is neither an allowed-signers file with a key nor an armored OpenPGP public keyring, so no commit could be trusted' });
  return problems;
}

export const hasKind = (policy: TrustPolicy, kind: KeyFileKind): boolean => policy.files.some((f) => f.kind === kind);
