// Webhook signatures, as GitHub sends them: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
// raw body with the shared secret>`. Checked in constant time, over the bytes as received.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Bodies larger than this are refused before their signature is even checked. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** The header value a sender computes for `body`. */
export function signBody(secret: string | Buffer, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` with `secret`; any malformed header is false. */
export function verifySignature(secret: string | Buffer, body: Buffer, header: string | undefined): boolean {
  if (header === undefined || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
