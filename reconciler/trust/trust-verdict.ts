// What checking a head's signature came to, as status, metrics and run records show it.
import type { SignatureFormat } from './commit-signature.js';

/** Why a head is (not) trusted; also the `reason` label of skyrec_head_untrusted. */
export type TrustReason = 'signed' | 'unsigned' | 'unknown-key' | 'bad-signature' | 'expired-key' | 'unsupported-format';

export interface TrustVerdict {
  commit: string;
  trusted: boolean;
  reason: TrustReason;
  format: SignatureFormat | null;
  /**
   * Who signed, as far as could be told: the principal and key fingerprint (SSH), or the user id
   * and fingerprint (OpenPGP); for an unknown key its fingerprint alone; null when unsigned.
   */
  signer: string | null;
  checkedAt: string;
}

/** One line for run details, logs and `skyrec status`. */
export function describeVerdict(v: TrustVerdict): string {
  const by = v.signer ?? 'an unreadable signature';
  switch (v.reason) {
    case 'signed':
      return `signed by ${by}`;
    case 'unsigned':
      return 'untrusted: the commit is not signed';
    case 'unknown-key':
      return `untrusted: signed by ${by}, a key that no --require-signed-by file allows`;
    case 'bad-signature':
      return `untrusted: the signature does not match the commit (it claims ${by})`;
    case 'expired-key':
      return `untrusted: signed by ${by}, a key that is expired, revoked or outside its valid-after/valid-before dates`;
    case 'unsupported-format':
      return `untrusted: ${v.format ?? 'an unknown'} signatures are not supported (only SSH and OpenPGP)`;
  }
}
