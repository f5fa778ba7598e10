// How each app reaches its addons from each node. An addon's data lives on one data node
// (Placement.data); instances there use its unix socket, instances on other nodes (its
// *remote clients*) reach it over TCP at the data node's address with a password. The
// password is a secret file on every node involved, like any other secret, and is only
// needed once an addon has a remote client. The NixOS module, the local driver, validate and
// preflight all read this one description, so they cannot disagree.
import { ADDON_NAMES, type AddonName, type App, type Config, type Node, type Placement } from '../schema/model.js';
import { escapeShellArg } from './escape.js';

/** The secret holding each addon's password: <secretsDir>/<app>/<name> on the nodes involved. */
export const PASSWORD_SECRET: Record<AddonName, string> = { postgres: 'DATABASE_PASSWORD', redis: 'REDIS_PASSWORD' };

export interface AddonAccess {
  addon: AddonName;
  /** The node holding the data. */
  node: string;
  address: string;
  /** postgres: 5432; redis: the app's own server's TCP port. */
  port: number;
  /** The nodes, other than the data node, with an instance, release or cron job of the app: sorted by name. */
  remoteClients: { node: string; address: string }[];
  /** A password is set and used: the addon has a remote client. */
  password: boolean;
  /** postgres: the major version of the data node's server. */
  version?: number;
}

/** The nodes that run something of each app: its instances' nodes and its anchor. */
export function clientNodes(placement: Placement): Map<string, Set<string>> {
  const clients = new Map<string, Set<string>>();
  const add = (app: string, node: string) => (clients.get(app) ?? clients.set(app, new Set()).get(app)!).add(node);
  for (const i of placement.instances) add(i.app, i.node);
  for (const [app, node] of Object.entries(placement.anchors)) add(app, node);
  return clients;
}

/** Every addon of `app`, with where it lives and who reaches it over TCP. */
export function addonAccess(app: App, placement: Placement, nodes: Map<string, Node>, clients: Map<string, Set<string>>): AddonAccess[] {
  const data = placement.data[app.name] ?? {};
  return ADDON_NAMES.flatMap((addon) => {
    const d = data[addon];
    if (!app.addons[addon] || !d) return [];
    const remoteClients = [...(clients.get(app.name) ?? [])]
      .filter((n) => n !== d.node)
      .sort()
      .map((n) => ({ node: n, address: nodes.get(n)!.address }));
    return [{ addon, node: d.node, address: nodes.get(d.node)!.address, port: d.port, remoteClients, password: remoteClients.length > 0, ...(d.version === undefined ? {} : { version: d.version }) }];
  });
}

/** Each app's addon access, for a whole fleet. */
export function indexAddons(config: Config, placement: Placement): Map<string, AddonAccess[]> {
  const nodes = new Map(config.fleet.nodes.map((n) => [n.name, n]));
  const clients = clientNodes(placement);
  return new Map(config.apps.filter((a) => a.addons.postgres || a.addons.redis).map((a) => [a.name, addonAccess(a, placement, nodes, clients)]));
}

export interface RequiredSecret {
  app: string;
  name: string;
  /** The nodes that read it. */
  nodes: string[];
  /** Why, for people: 'shop: postgres on web-1 is reached over TCP from web-2'. */
  reason: string;
}

/** The addon passwords the fleet needs, and on which nodes (the data node and its remote clients). */
export function requiredAddonSecrets(addons: Map<string, AddonAccess[]>): RequiredSecret[] {
  const out: RequiredSecret[] = [];
  for (const [app, list] of addons) {
    for (const a of list) {
      if (!a.password) continue;
      const nodes = [a.node, ...a.remoteClients.map((c) => c.node)].sort();
      out.push({ app, name: PASSWORD_SECRET[a.addon], nodes, reason: `${app}: ${a.addon} on ${a.node} is reached over TCP from ${a.remoteClients.map((c) => c.node).join(', ')}` });
    }
  }
  return out;
}

/**
 * The bash lines that set an app role's password on the data node, run as the postgres
 * superuser. The value is read by psql itself from `fileWord` (a shell word naming the secret
 * file), so it is never in an argv, the Nix store or a rendered file; format() quotes it.
 */
export function postgresPasswordScript(role: string, fileWord: string): string[] {
  return [
    `psql -X -q -v ON_ERROR_STOP=1 -v role=${escapeShellArg(role)} -d postgres <<'SKYREC_SQL'`,
    ...postgresPasswordSql(fileWord).trimEnd().split('\n'),
    'SKYREC_SQL',
  ];
}

/** The psql input of postgresPasswordScript, for a psql started with `-v role=<role>`. */
export function postgresPasswordSql(fileWord: string): string {
  return [`\\set pw \`cat ${fileWord}\``, `SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw')\\gexec`, ''].join('\n');
}

/**
 * Bash: prints $1 as one redis.conf double-quoted string, every byte other than a letter or a
 * digit as \xHH, which Redis' config parser (sdssplitargs) reads back byte for byte. nixpkgs'
 * redis module appends the text of `requirePassFile` to redis.conf after `requirepass ` as it is,
 * so a password with a space, a quote or a backslash must reach that file quoted.
 */
const REDIS_QUOTE_FUNCTION =
  'skyrec_redis_quote() { local LC_ALL=C s="$1" out="" c i; for ((i = 0; i < ${#s}; i++)); do c="${s:i:1}"; ' +
  'case "$c" in [A-Za-z0-9]) out+="$c" ;; *) printf -v c \'\\\\x%02X\' "\'$c"; out+="$c" ;; esac; done; printf \'"%s"\\n\' "$out"; }';

/**
 * The bash lines that write the Redis password from `fileWord` (a shell word naming the secret
 * file) into `outWord`, quoted for redis.conf. The value is read as the apps read it (`$(< file)`:
 * trailing newlines dropped), so both sides agree on the password.
 */
export function redisPasswordQuoteScript(fileWord: string, outWord: string): string[] {
  return [REDIS_QUOTE_FUNCTION, `skyrec_redis_quote "$(< ${fileWord})" > ${outWord}`];
}
