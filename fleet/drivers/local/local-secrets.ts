// Secret files of the local driver: --secrets-dir/<app>/<NAME>, as sops-nix or agenix lay them
// out under settings.secretsDir on a real node. A value is read when a process or server starts
// and goes only where it is needed: never into a log line, a pid file or the generation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalDriverError } from '../../../common/errors.js';
import { secretValue } from '../../../common/secret-file.js';

export const secretFile = (secretsDir: string, app: string, name: string) => join(secretsDir, app, name);

/** The path of an app's secret file; a clear error when no secrets dir was given. */
export function requireSecretFile(secretsDir: string | null, app: string, name: string): string {
  if (secretsDir === null) throw new LocalDriverError(`${app} needs the secret ${name} but no secrets dir was given`, { hint: `pass --secrets-dir DIR with DIR/${app}/${name} in it` });
  return secretFile(secretsDir, app, name);
}

/** An app's secret value (one trailing newline dropped). */
export function readSecret(secretsDir: string | null, app: string, name: string): string {
  const file = requireSecretFile(secretsDir, app, name);
  try {
    return secretValue(readFileSync(file)).toString('utf8');
  } catch {
    throw new LocalDriverError(`${app}: the secret file ${file} cannot be read`, { hint: 'create it (one value, a trailing newline is dropped) and make it readable by root' });
  }
}
