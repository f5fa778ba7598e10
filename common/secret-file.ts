// Every secret file skyrec reads (webhook secret, git token, read token, and any later one) goes
// through readSecretFile, so that they all accept a file as people write it: `echo "$S" > file`,
// an editor, agenix or sops-nix all end the file with a newline, which is not part of the secret.
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** A secret file that cannot be used (missing, unreadable, empty or only whitespace). */
export class SecretFileError extends UsageError {
  override readonly code = 'SECRET_FILE';
  constructor(
    readonly option: string,
    readonly path: string,
    problem: string,
  ) {
    super(`${option} ${path} ${problem}`, { hint: 'give a file readable by this user that holds only the value (one trailing newline is ignored)' });
  }
}

/** The value of a secret file with one trailing LF or CRLF dropped; anything else is kept byte for byte. */
export function secretValue(bytes: Buffer): Buffer {
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0a) {
    const cut = bytes.length > 1 && bytes[bytes.length - 2] === 0x0d ? 2 : 1;
    return bytes.subarray(0, bytes.length - cut);
  }
  return bytes;
}

/**
 * Reads the secret named by `option` from `path`. Empty or whitespace-only is refused: a secret
 * nobody can guess is never blank, and an empty HMAC key would let anyone sign.
 */
export function readSecretFile(option: string, path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new SecretFileError(option, path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const value = secretValue(bytes);
  if (value.toString('utf8').trim() === '') throw new SecretFileError(option, path, bytes.length === 0 ? 'is empty' : 'holds only whitespace');
  return value;
}
