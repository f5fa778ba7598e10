// A remote URL as it may be shown or logged: without the credentials it may carry. Apart from
// git.ts so that the CLI can name a repo without loading isomorphic-git.

/** The URL without its userinfo (https://user:token@host/... → https://host/...). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
