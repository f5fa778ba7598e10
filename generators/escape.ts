// Escaping for the three languages skyrec writes: Nix, Caddyfile and POSIX shell.
// Every value from a spec that lands in rendered text goes through one of these.
// Handlebars' own HTML escaping is wrong for all three, so templates are compiled
// with noEscape and may only print values through these helpers (see templates.ts).
import { EscapeError } from '../common/errors.js';

const NIX_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', $: '\\$', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A Nix double-quoted string literal that evaluates to exactly `value`. */
export function escapeNixString(value: string): string {
  if (value.includes('\0')) throw new EscapeError('a NUL byte cannot be written into a Nix string');
  return `"${value.replace(/[\\"$\n\r\t]/g, (c) => NIX_ESCAPES[c])}"`;
}

const NIX_KEYWORDS = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or']);

/** An attribute name: bare when it is a plain identifier, quoted otherwise. */
export function escapeNixAttr(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) && !NIX_KEYWORDS.has(name) ? name : escapeNixString(name);
}

/** A Nix list of string literals on one line: [ "a" "b" ]. */
export function escapeNixList(values: readonly string[]): string {
  return values.length === 0 ? '[ ]' : `[ ${values.map(escapeNixString).join(' ')} ]`;
}

// Characters that are safe in a bare Caddyfile token. Braces are excluded everywhere because
// Caddy expands {placeholders} and {$ENV} even inside quotes; backslashes and control
// characters have no faithful quoted form in Caddy 2.6's lexer.
const CADDY_BARE = /^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]+$/;
const CADDY_UNSAFE = /[{}\\\u0000-\u001f\u007f]/;

/** A Caddyfile token that Caddy reads back as exactly `value`, or an EscapeError. */
export function escapeCaddyToken(value: string): string {
  if (value === '') throw new EscapeError('an empty value cannot be written into a Caddyfile');
  if (CADDY_UNSAFE.test(value)) {
    throw new EscapeError(`${JSON.stringify(value)} cannot be written into a Caddyfile: braces, backslashes and control characters are not allowed`);
  }
  if (CADDY_BARE.test(value) && !value.startsWith('#')) return value;
  return `"${value.replace(/"/g, '\\"')}"`;
}

/** A POSIX shell word that the shell reads as exactly `value`. */
export function escapeShellArg(value: string): string {
  if (value.includes('\0')) throw new EscapeError('a NUL byte cannot be passed through a shell');
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
