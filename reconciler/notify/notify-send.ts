// One HTTP attempt at a notification: a POST with a timeout (a receiver that hangs costs one
// timeout, never a rollout), no redirects followed (a token is never sent on to another host),
// and a result that says what happened in words safe to show: no URL, no secret.
import type { HttpRequestSpec } from './notify-targets.js';

export interface SendResult {
  ok: boolean;
  /** The HTTP status (null: no answer). */
  status: number | null;
  /** Why it failed, safe for logs and status (null when ok). */
  error: string | null;
  /** Worth another attempt later: no answer, 408, 429 or 5xx. */
  retry: boolean;
}

/** Every secret value is cut out of text that came back from a receiver. */
export function redactValues(text: string, secrets: Buffer[]): string {
  let out = text;
  for (const s of secrets) {
    const v = s.toString('utf8').trim();
    if (v.length >= 4) out = out.split(v).join('***');
  }
  return out;
}

/** The receiver's own words: a JSON `message` or `error` (as GitHub and GitLab answer), else the start of the body. */
function reasonOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    const m = parsed.message ?? parsed.error;
    if (m !== undefined) return (typeof m === 'string' ? m : JSON.stringify(m)).slice(0, 200);
  } catch {
    // not JSON: the text itself
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 200);
}

export async function sendRequest(req: HttpRequestSpec, opts: { timeoutMs: number; secrets: Buffer[]; stop?: AbortSignal }): Promise<SendResult> {
  let url: URL;
  try {
    url = new URL(req.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    return { ok: false, status: null, error: 'the target URL is not an http(s) URL', retry: false };
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  try {
    const signal = opts.stop ? AbortSignal.any([timeout, opts.stop]) : timeout;
    const res = await fetch(url, { method: 'POST', headers: req.headers, body: req.body, redirect: 'manual', signal });
    const body = await res.text();
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, error: null, retry: false };
    const reason = redactValues(reasonOf(body), opts.secrets);
    const retry = res.status === 408 || res.status === 429 || res.status >= 500;
    const what = res.status >= 300 && res.status < 400 ? 'redirected (not followed: give the final URL)' : `HTTP ${res.status}${reason ? `: ${reason}` : ''}`;
    return { ok: false, status: res.status, error: what, retry };
  } catch (err) {
    if (opts.stop?.aborted) return { ok: false, status: null, error: 'the reconciler stopped before an answer came', retry: true };
    if (timeout.aborted) return { ok: false, status: null, error: `no answer within ${Math.round(opts.timeoutMs / 100) / 10} s`, retry: true };
    const cause = (err as { cause?: { code?: string } }).cause;
    return { ok: false, status: null, error: `cannot connect: ${cause?.code ?? (err as Error).name}`, retry: true };
  }
}
