// OpenPGP signatures, checked by gpg against the given public keys only: a temporary GNUPGHOME
// holds them for one check (no user keyring, no key server, no agent), and gpg's machine-readable
// status lines (--status-fd) say what it found.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyFile } from './trust-policy.js';
import type { TrustVerdict } from './trust-verdict.js';
import { runTool } from './run-tool.js';
import type { Exec } from '../../common/exec.js';
import { TrustCheckError } from '../../common/errors.js';

type PgpVerdict = Pick<TrustVerdict, 'trusted' | 'reason' | 'signer'>;

export async function verifyOpenPgp(opts: { tmp: string; signature: string; payload: Buffer; files: KeyFile[]; exec: Exec }): Promise<PgpVerdict> {
  const { tmp, exec } = opts;
  const home = join(tmp, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  const gpg = ['gpg', '--homedir', home, '--batch', '--no-tty', '--no-auto-key-retrieve', '--no-auto-key-locate'];
  for (const [i, f] of opts.files.entries()) {
    const keyring = join(tmp, `keyring-${i}.asc`);
    writeFileSync(keyring, f.text);
    const imported = await runTool(exec, [...gpg, '--quiet', '--import', keyring]);
    if (!imported.ok) throw new TrustCheckError(`--require-signed-by ${f.path}: gpg cannot import it: ${imported.stderr.trim().split('\n').at(-1) ?? ''}`, { hint: 'export the keys again with gpg --export --armor KEYID' });
  }
  const sig = join(tmp, 'commit.sig');
  const payload = join(tmp, 'commit.payload');
  writeFileSync(sig, opts.signature);
  writeFileSync(payload, opts.payload);
  // Every key given is the trust: the web of trust has no say here.
  const r = await runTool(exec, [...gpg, '--status-fd', '1', '--trust-model', 'always', '--verify', sig, payload]);
  return readStatus(r.stdout);
}

/** gpg's status lines (doc/DETAILS in GnuPG) to a verdict. */
export function readStatus(status: string): PgpVerdict {
  const lines = status.split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice('[GNUPG:] '.length).split(' '));
  const find = (kw: string) => lines.find((l) => l[0] === kw);
  const uidOf = (l: string[] | undefined) => (l && l.length > 2 ? l.slice(2).join(' ') : null);
  const fpr = find('VALIDSIG')?.[10] ?? find('VALIDSIG')?.[1] ?? null;
  const who = (l: string[] | undefined) => [uidOf(l), fpr ? `key ${fpr}` : l ? `key ${l[1]}` : null].filter(Boolean).join(', ') || null;
  const bad = find('BADSIG');
  if (bad) return { trusted: false, reason: 'bad-signature', signer: who(bad) };
  const expired = find('EXPKEYSIG') ?? find('REVKEYSIG') ?? find('EXPSIG');
  if (expired) return { trusted: false, reason: 'expired-key', signer: who(expired) };
  const err = find('ERRSIG');
  if (err) {
    // rc 9: no public key, i.e. a key not given; the 8th field is its fingerprint when gpg knows it.
    const key = err[7] && err[7] !== '-' ? err[7] : err[1];
    return { trusted: false, reason: err[6] === '9' ? 'unknown-key' : 'bad-signature', signer: `key ${key}` };
  }
  const good = find('GOODSIG');
  if (good && find('VALIDSIG')) return { trusted: true, reason: 'signed', signer: who(good) };
  return { trusted: false, reason: 'bad-signature', signer: null };
}
