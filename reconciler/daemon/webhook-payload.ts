// What a signed webhook asks for. GitHub sends JSON, or with its default "form" content type
// `payload=<url-encoded JSON>`; the signature covers the raw body either way, so the body is
// decoded only after it is verified. Only a push starts a cycle; a ping is answered; anything
// else that is not a push payload is a 400 that says what was expected.
export type HookVerdict = { status: number; body: Record<string, unknown>; trigger: boolean };

const reply = (status: number, body: Record<string, unknown>, trigger = false): HookVerdict => ({ status, body, trigger });

/** The JSON value the body carries, or a 400 verdict. */
function decode(body: Buffer, contentType: string | undefined): { value: unknown } | HookVerdict {
  let text = body.toString('utf8');
  if (/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) return reply(400, { error: 'a form-encoded webhook needs a payload field (or choose content type application/json)' });
    text = payload;
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return reply(400, { error: 'the body is not JSON (for GitHub, choose content type application/json, or the default form encoding)' });
  }
}

/** The verdict on a verified body sent to /hooks/github or /hooks/generic. */
export function judgeHook(kind: 'github' | 'generic', body: Buffer, headers: { contentType?: string; event?: string }, branch: string): HookVerdict {
  const decoded = decode(body, headers.contentType);
  if (!('value' in decoded)) return decoded;
  if (kind === 'generic') return reply(202, { triggered: true }, true);
  if (headers.event === undefined) return reply(400, { error: 'no X-GitHub-Event header: /hooks/github takes GitHub deliveries (use /hooks/generic otherwise)' });
  if (headers.event === 'ping') return reply(200, { ok: true });
  if (headers.event !== 'push') return reply(202, { triggered: false, reason: `${headers.event} events do not start a cycle, only push` });
  const value = decoded.value as { ref?: unknown } | null;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof value.ref !== 'string') {
    return reply(400, { error: 'not a push payload: expected a JSON object with a string "ref"' });
  }
  if (value.ref !== `refs/heads/${branch}`) return reply(202, { triggered: false, reason: `not a push to ${branch}` });
  return reply(202, { triggered: true }, true);
}
