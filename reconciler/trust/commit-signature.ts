// A commit's signature as git stores it: the `gpgsig` header of the commit object (continuation
// lines start with one space), signing every byte of the object without that header. Read raw
// through isomorphic-git, so that no `git` binary (nor its safe.directory rules) is needed.
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { GitReader } from '../pipeline/git.js';
import { GitError } from '../../common/errors.js';

export type SignatureFormat = 'ssh' | 'openpgp' | 'x509';

export interface CommitSignature {
  /** The commit object without its signature header: the bytes that were signed. */
  payload: Buffer;
  /** The armored signature, or null for an unsigned commit. */
  signature: string | null;
  format: SignatureFormat | null;
}

const ARMOR: [prefix: string, format: SignatureFormat][] = [
  ['-----BEGIN SSH SIGNATURE-----', 'ssh'],
  ['-----BEGIN PGP SIGNATURE-----', 'openpgp'],
  ['-----BEGIN PGP MESSAGE-----', 'openpgp'],
  ['-----BEGIN SIGNED MESSAGE-----', 'x509'],
];

/** Splits a raw commit object into the signed payload and its signature (git's parse_signed_commit). */
export function splitCommitSignature(raw: Buffer): CommitSignature {
  const headerEnd = raw.indexOf('\n\n');
  const end = headerEnd === -1 ? raw.length : headerEnd + 1;
  const kept: Buffer[] = [];
  const sig: string[] = [];
  let inSig = false;
  let pos = 0;
  while (pos < end) {
    const nl = raw.indexOf('\n', pos);
    const lineEnd = nl === -1 || nl >= end ? end : nl + 1;
    const line = raw.subarray(pos, lineEnd);
    const text = line.toString('utf8');
    if (text.startsWith('gpgsig ')) {
      inSig = true;
      sig.push(text.slice('gpgsig '.length));
    } else if (inSig && text.startsWith(' ')) {
      sig.push(text.slice(1));
    } else {
      inSig = false;
      kept.push(line);
    }
    pos = lineEnd;
  }
  kept.push(raw.subarray(end));
  const signature = sig.length > 0 ? sig.join('') : null;
  const format = signature === null ? null : (ARMOR.find(([prefix]) => signature.startsWith(prefix))?.[1] ?? null);
  return { payload: Buffer.concat(kept), signature, format };
}

/** The signature of `commit` (a full id) in the repository `r` reads. */
export async function readCommitSignature(r: GitReader, commit: string): Promise<CommitSignature> {
  const { object, type } = await git.readObject({ fs, dir: r.dir, gitdir: r.gitdir, oid: commit, format: 'content', cache: r.cache });
  if (type !== 'commit') throw new GitError(`${commit} is a ${type}, not a commit`);
  return splitCommitSignature(Buffer.from(object as Uint8Array));
}
