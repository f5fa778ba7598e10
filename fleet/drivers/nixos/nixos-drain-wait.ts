// When a NixOS ingress has stopped sending to a drained instance. Caddy's POST /load returns once
// the new config runs, but the previous one still finishes (and for a moment still starts)
// requests to the instance with the old upstream list. Caddy counts each upstream's requests in
// flight (GET /reverse_proxy/upstreams, num_requests) in a pool shared by every loaded config, so
// the drain is over once that count has stayed at zero for a while. The count is read on the
// ingress node itself, over the ssh the driver already uses: one ssh session runs a loop of curl
// against the admin API (which listens on the node's localhost only) and streams one JSON answer
// per line; no per-poll ssh round trip, and nothing but curl, sh, timeout and sleep on the node.
import type { Node } from '../../../schema/model.js';
import type { Logger } from '../../../common/log.js';
import { execLines } from '../../../common/exec.js';
import { CommandError, NodeUnreachableError, SkyrecError } from '../../../common/errors.js';
import { buildSshArgv, type SshSettings } from './nixos-argv.js';
import { parseUpstreamRequests, quietTracker } from '../../node/drain-quiet.js';

/** Between two reads on the node (each is a curl start, a few milliseconds). */
const POLL_S = '0.02';

/**
 * Reads of Caddy's admin API that may fail in a row before the wait gives up. Caddy starts a new
 * admin server and stops the old one on every config load (caddy's admin.go,
 * replaceLocalAdminServer), so a read that meets the swap can be refused or reset, and the
 * rollout's wait reads while its own drain loads. A failed read is made again ADMIN_RETRY_MS later.
 */
export const ADMIN_READ_TRIES = 10;
const ADMIN_RETRY_MS = 50;

/** Streams the node's answers to GET /reverse_proxy/upstreams, one per line, until curl fails ADMIN_READ_TRIES times in a row or `seconds` pass. */
export function buildUpstreamsWatchArgv(node: Node, admin: string, seconds: number, ssh: SshSettings): string[] {
  // $1 is the URL: a word of its own, never spliced into the script. Only whole answers are
  // printed (a read reset halfway prints nothing); ADMIN_READ_TRIES failed reads in a row end it
  // with curl's exit code and message.
  const retry = (ADMIN_RETRY_MS / 1000).toFixed(2);
  const loop = `f=0; while :; do if a=$(curl -sS --max-time 2 "$1"); then f=0; printf '%s\\n' "$a"; else r=$?; f=$((f+1)); [ "$f" -lt ${ADMIN_READ_TRIES} ] || exit "$r"; sleep ${retry}; fi; sleep ${POLL_S}; done`;
  return buildSshArgv(node.host, ['timeout', String(seconds), 'sh', '-c', loop, 'skyrec-drain-wait', `http://${admin}/reverse_proxy/upstreams`], ssh);
}

export interface WaitIdleOptions {
  node: Node;
  /** The drained upstream as Caddy dials it ('10.0.0.12:20001'). */
  dial: string;
  ssh: SshSettings;
  /** Caddy's admin endpoint as the node reaches it (default localhost:2019, as rendered). */
  admin?: string;
  timeoutMs: number;
  log?: Logger;
  /**
   * Resolves once the drain has taken the upstream out (default: it has already): the session
   * starts now, and what it reads before then does not count. Rejected: the wait ends at once.
   */
  taken?: Promise<void>;
  /** Each count that counts (tests: to know the wait has seen a request in flight). */
  onCount?: (inFlight: number) => void;
}

/**
 * Waits until the ingress node's Caddy has had no request in flight to `dial` for DRAIN_QUIET_MS
 * (a dial Caddy does not know has none): true; false when `timeoutMs` passed first. Throws when
 * the node cannot be reached or its admin API cannot be read, so that the caller can fall back.
 */
export async function waitCaddyIdle(opts: WaitIdleOptions): Promise<boolean> {
  const { node, dial, timeoutMs } = opts;
  const admin = opts.admin ?? 'localhost:2019';
  const stop = new AbortController();
  let idle = false;
  let failure: Error | null = null;
  const quiet = quietTracker();
  const deadline = setTimeout(() => stop.abort(), timeoutMs);
  let out = opts.taken === undefined;
  opts.taken?.then(() => (out = true), () => stop.abort());
  const onLine = (line: string) => {
    if (stop.signal.aborted || !out || line.trim() === '') return;
    let inFlight: number;
    try {
      inFlight = parseUpstreamRequests(line).get(dial) ?? 0;
    } catch {
      failure = new SkyrecError(`node ${node.name}: Caddy's admin API answered GET /reverse_proxy/upstreams with something that is not its JSON list: ${line.slice(0, 200)}`);
      return stop.abort();
    }
    opts.onCount?.(inFlight);
    if (quiet(inFlight)) {
      idle = true;
      stop.abort();
    }
  };
  // The loop on the node ends by itself a little after the deadline, should this process vanish.
  const argv = buildUpstreamsWatchArgv(node, admin, Math.ceil(timeoutMs / 1000) + 5, opts.ssh);
  try {
    await execLines(argv, { onLine, signal: stop.signal, log: opts.log });
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    if (e.exitCode_ === 255) throw new NodeUnreachableError(node.name, node.host, e.stderr.trim().split('\n').at(-1) || 'ssh exited 255', { cause: e });
    throw new SkyrecError(`node ${node.name}: reading in-flight requests from Caddy's admin API (http://${admin}/reverse_proxy/upstreams) failed: ${e.stderr.trim().split('\n').at(-1) || `exit ${e.exitCode_ ?? 'signal'}`}`, { cause: e });
  } finally {
    clearTimeout(deadline);
  }
  if (failure) throw failure;
  if (!stop.signal.aborted) throw new SkyrecError(`node ${node.name}: the watch of Caddy's in-flight requests ended before the drain did`);
  return idle;
}
