// Webhook signatures: GitHub's X-Hub-Signature-256 scheme, checked against node:crypto's HMAC.
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { signBody, verifySignature } from '../../reconciler/daemon/webhook.js';

const SECRET = 'It\'s a Secret to Everybody';
// GitHub's documented example: this secret and body give this signature.
const BODY = Buffer.from('Hello, World!');
const GITHUB_EXAMPLE = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

describe('webhook signatures', () => {
  it("matches GitHub's documented example", () => {
    expect(signBody(SECRET, BODY)).toBe(GITHUB_EXAMPLE);
    expect(verifySignature(SECRET, BODY, GITHUB_EXAMPLE)).toBe(true);
  });

  it('refuses a missing, malformed or wrong signature, and a replayed signature on another body', () => {
    const other = Buffer.from('{"ref":"refs/heads/main"}');
    expect(verifySignature(SECRET, BODY, undefined)).toBe(false);
    expect(verifySignature(SECRET, BODY, 'sha1=0123')).toBe(false);
    expect(verifySignature(SECRET, BODY, GITHUB_EXAMPLE.toUpperCase())).toBe(false);
    expect(verifySignature('another secret', BODY, GITHUB_EXAMPLE)).toBe(false);
    expect(verifySignature(SECRET, other, GITHUB_EXAMPLE)).toBe(false);
    expect(verifySignature(SECRET, other, `sha256=${createHmac('sha256', SECRET).update(other).digest('hex')}`)).toBe(true);
  });
});
