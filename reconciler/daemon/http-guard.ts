// Who may read the reconciler's HTTP side. The status page, /api/status, /metrics and the plans
// show the fleet (nodes, apps, domains, ports, the repo, spec errors): with --read-token-file they
// need the token (as a bearer token, or as the password of basic auth, which browsers and
// Prometheus both send); and whatever the listener, the Host header must name this machine by
// address, a loopback name or an --allowed-host name, so that a web page whose name was rebound
// to 127.0.0.1 (DNS rebinding) cannot read them through a visitor's browser.
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type http from 'node:http';

/** Sent with every response. */
export const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The name in a Host header, without its port or IPv6 brackets, lower case. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.replace(/:\d*$/, '');
}

/**
 * An IP address cannot be rebound, nor can a loopback name; any other name must be listed.
 * A request without Host (HTTP/1.0 tools) comes from no browser, so it is let through.
 */
export function hostAllowed(header: string | undefined, allowed: string[]): boolean {
  if (header === undefined) return true;
  const name = hostName(header);
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.some((a) => a.toLowerCase() === name);
}

/** Whether the listener's address is on this machine only. */
export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

const digest = (b: Buffer) => createHash('sha256').update(b).digest();

/** The token from `Authorization: Bearer <token>` or `Basic <user:token>` (any user). */
export function authorized(req: http.IncomingMessage, token: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  let given: Buffer | null = null;
  if (bearer) given = Buffer.from(bearer[1].trim());
  else if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) given = Buffer.from(decoded.slice(colon + 1));
  }
  // Compared as digests: equal lengths for timingSafeEqual, and no length leaked.
  return given !== null && timingSafeEqual(digest(given), digest(token));
}
