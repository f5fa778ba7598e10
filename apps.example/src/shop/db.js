// Just enough PostgreSQL and Redis client for the shop: one query or one command per
// connection, node: built-ins only. The example stays free of npm dependencies (and of a
// dependency hash to maintain); a real app would use `pg` and a Redis client with pools.
import net from 'node:net';
import crypto from 'node:crypto';

const TIMEOUT_MS = 5000;

/** The shop's one table. Here so that migrate.js (the release) and server.js agree on it. */
export const VISITS_TABLE =
  'CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, port integer NOT NULL, at timestamptz NOT NULL DEFAULT now())';

// ---------------------------------------------------------------- URLs

// By hand, not with new URL(): WHATWG URLs reject a user before an empty host
// (postgresql://shop@/shop?host=/run/postgresql), which is how libpq spells a socket.
// Error messages never quote the URL: it may hold a password.
function splitUrl(url) {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/i.exec(url);
  if (!m) throw new Error('not a URL of the form scheme://[user[:password]@][host][:port][/path][?query]');
  const [, scheme, authority, path, query = ''] = m;
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority.slice(at + 1));
  if (!hp) throw new Error(`${scheme} URL: cannot read its host and port`);
  return {
    scheme: scheme.toLowerCase(),
    user: decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon)),
    password: colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1)),
    host: hp[1].replace(/^\[(.*)\]$/, '$1'),
    port: hp[2] ? Number(hp[2]) : null,
    path: decodeURIComponent(path),
    params: new URLSearchParams(query),
  };
}

function pgTarget(url) {
  const u = splitUrl(url);
  if (u.scheme !== 'postgresql' && u.scheme !== 'postgres') throw new Error(`DATABASE_URL: expected postgresql://, got ${u.scheme}://`);
  const host = u.params.get('host') ?? u.host;
  const port = Number(u.params.get('port') ?? u.port ?? 5432);
  const database = u.path.slice(1) || u.user;
  // Without a user, the role named like the database: that is how skyrec names them, and
  // what peer authentication maps the app's system user to.
  const user = u.user || database;
  if (!database) throw new Error('DATABASE_URL names neither a database nor a user');
  // No host, or a directory as host: the unix socket (libpq's rule; NixOS's socket dir).
  const connect = !host || host.startsWith('/') ? { path: `${host || '/run/postgresql'}/.s.PGSQL.${port}` } : { host, port };
  return { connect, user, database, password: u.password };
}

function redisTarget(url) {
  const u = splitUrl(url);
  let connect;
  let db = u.params.get('db') ?? '';
  if (u.scheme === 'unix') connect = { path: u.path };
  else if (u.scheme === 'redis') {
    connect = { host: u.host || '127.0.0.1', port: u.port ?? 6379 };
    db = u.path.slice(1) || db;
  } else throw new Error(`REDIS_URL: expected redis:// or unix://, got ${u.scheme}://`);
  if (db && !/^\d+$/.test(db)) throw new Error('REDIS_URL: the database must be a number');
  return { connect, user: u.user, password: u.password, db: Number(db || 0) };
}

const where = (connect) => (connect.path ? `socket ${connect.path}` : `${connect.host}:${connect.port}`);

// ---------------------------------------------------------------- one connection

/**
 * Opens a connection and feeds it frame by frame to onFrame until it calls done. TCP may
 * split a frame across chunks or put several in one, so bytes are buffered and `parse`
 * says whether a whole frame is there yet ({ value, size } or null).
 */
function converse(what, connect, { parse, onConnect, onFrame }) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(connect);
    let buffered = Buffer.alloc(0);
    let finished = false;
    const done = (err, value) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        socket.end();
        resolve(value);
      }
    };
    const timer = setTimeout(() => done(new Error(`${what} at ${where(connect)} did not answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
    socket.on('connect', () => {
      try {
        onConnect(socket);
      } catch (err) {
        done(err);
      }
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        for (let frame; !finished && (frame = parse(buffered)); ) {
          buffered = buffered.subarray(frame.size);
          onFrame(frame.value, socket, done);
        }
      } catch (err) {
        done(err);
      }
    });
    socket.on('error', (err) => done(new Error(`cannot reach ${what} at ${where(connect)}: ${err.code ?? err.message}`)));
    socket.on('close', () => done(new Error(`${what} at ${where(connect)} closed the connection before answering`)));
  });
}

// ---------------------------------------------------------------- PostgreSQL

/** A frontend message: type byte (none for the startup message), Int32 length, body. */
function pgMessage(type, ...parts) {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([type ? Buffer.from(type) : Buffer.alloc(0), len, body]);
}
const cstr = (s) => `${s}\0`;
const int32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

function parsePgFrame(buf) {
  if (buf.length < 5) return null;
  const size = 1 + buf.readInt32BE(1);
  if (buf.length < size) return null;
  return { value: { type: String.fromCharCode(buf[0]), body: buf.subarray(5, size) }, size };
}

/** ErrorResponse: (field type byte, C string)* then 0. */
function pgError(body) {
  const fields = {};
  for (let i = 0; i < body.length && body[i] !== 0; ) {
    const end = body.indexOf(0, i + 1);
    fields[String.fromCharCode(body[i])] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return Object.assign(new Error(fields.M ?? 'PostgreSQL error'), { code: fields.C });
}

const md5 = (data) => crypto.createHash('md5').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

/** SCRAM-SHA-256 (RFC 5802/7677) without channel binding: gs2 header "n,,", so c=biws. */
function scram(password) {
  const nonce = crypto.randomBytes(18).toString('base64');
  // PostgreSQL ignores the SCRAM user name (it has the startup message's), so it is empty.
  const clientFirstBare = `n=,r=${nonce}`;
  let serverSignature = null;
  return {
    first: `n,,${clientFirstBare}`,
    final(serverFirst) {
      const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
      if (!attrs.r?.startsWith(nonce) || !attrs.s || !(Number(attrs.i) > 0)) throw new Error('PostgreSQL sent an invalid SCRAM challenge');
      // SASLprep is left out: it changes nothing for ASCII passwords.
      const salted = crypto.pbkdf2Sync(password, Buffer.from(attrs.s, 'base64'), Number(attrs.i), 32, 'sha256');
      const clientKey = hmac(salted, 'Client Key');
      const withoutProof = `c=biws,r=${attrs.r}`;
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const signature = hmac(sha256(clientKey), authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
      serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
      return `${withoutProof},p=${proof.toString('base64')}`;
    },
    // The server proves it knows the password too: otherwise anyone on the path could say "ok".
    verify(serverFinal) {
      const v = /(?:^|,)v=([^,]*)/.exec(serverFinal)?.[1];
      if (!serverSignature || !v || !crypto.timingSafeEqual(Buffer.from(v, 'base64'), serverSignature)) {
        throw new Error('PostgreSQL server signature does not match: not the server the password belongs to');
      }
      serverSignature = 'verified';
    },
    get pending() {
      return serverSignature !== null && serverSignature !== 'verified';
    },
  };
}

/**
 * Runs `sql` with the simple query protocol (several statements may be separated by ';';
 * they run in one implicit transaction) and returns the rows of all of them, each an array
 * of text values or null.
 */
export function pgQuery(url, sql) {
  const { connect, user, database, password } = pgTarget(url);
  const rows = [];
  let queried = false;
  let sasl = null;
  const needPassword = () => {
    if (!password) throw new Error(`PostgreSQL asks for a password for ${user} but DATABASE_URL has none`);
    return password;
  };
  return converse('PostgreSQL', connect, {
    parse: parsePgFrame,
    onConnect: (socket) =>
      socket.write(pgMessage(null, int32(196608), cstr('user'), cstr(user), cstr('database'), cstr(database), cstr('client_encoding'), cstr('UTF8'), '\0')),
    onFrame: ({ type, body }, socket, done) => {
      if (type === 'E') return done(pgError(body));
      if (type === 'R') {
        const kind = body.readInt32BE(0);
        if (kind === 0 && sasl?.pending) throw new Error('PostgreSQL skipped the SCRAM server signature');
        else if (kind === 0) return;
        else if (kind === 3) socket.write(pgMessage('p', cstr(needPassword())));
        else if (kind === 5) socket.write(pgMessage('p', cstr(`md5${md5(Buffer.concat([Buffer.from(md5(needPassword() + user)), body.subarray(4, 8)]))}`)));
        else if (kind === 10) {
          const mechanisms = body.toString('utf8', 4).split('\0');
          if (!mechanisms.includes('SCRAM-SHA-256')) throw new Error(`PostgreSQL offers only ${mechanisms.filter(Boolean).join(', ')}`);
          sasl = scram(needPassword());
          socket.write(pgMessage('p', cstr('SCRAM-SHA-256'), int32(Buffer.byteLength(sasl.first)), sasl.first));
        } else if (kind === 11) socket.write(pgMessage('p', sasl.final(body.toString('utf8', 4))));
        else if (kind === 12) sasl.verify(body.toString('utf8', 4));
        else throw new Error(`PostgreSQL asks for an authentication method this client lacks (${kind})`);
      } else if (type === 'D') {
        const row = [];
        for (let n = body.readInt16BE(0), at = 2; n > 0; n--) {
          const len = body.readInt32BE(at);
          row.push(len < 0 ? null : body.toString('utf8', at + 4, at + 4 + len));
          at += 4 + Math.max(len, 0);
        }
        rows.push(row);
      } else if (type === 'Z') {
        // ReadyForQuery: once after authentication (send the query), once after it (done).
        if (queried) {
          socket.write(pgMessage('X'));
          return done(null, { rows });
        }
        queried = true;
        socket.write(pgMessage('Q', cstr(sql)));
      }
      // Anything else (ParameterStatus, BackendKeyData, RowDescription, CommandComplete,
      // notices) carries nothing the caller needs.
    },
  });
}

// ---------------------------------------------------------------- Redis

const respCommand = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;

/** One RESP2 reply at `at`, or null when it is not all there yet. Errors are values here. */
function parseResp(buf, at = 0) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at])) {
    case '+': return { value: line, size: next - at };
    case '-': return { value: Object.assign(new Error(line), { code: line.split(' ')[0] }), size: next - at };
    case ':': return { value: Number(line), size: next - at };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, size: next - at };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString('utf8', next, next + len), size: next + len + 2 - at };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, size: next - at };
      const items = [];
      let end = next;
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, end);
        if (!item) return null;
        items.push(item.value);
        end += item.size;
      }
      return { value: items, size: end - at };
    }
    default: throw new Error('Redis sent something that is not RESP');
  }
}

/** Runs one Redis command (after AUTH and SELECT as the URL asks) and returns its reply. */
export function redisCommand(url, ...args) {
  const { connect, user, password, db } = redisTarget(url);
  const commands = [];
  if (password) commands.push(user ? ['AUTH', user, password] : ['AUTH', password]);
  if (db) commands.push(['SELECT', db]);
  commands.push(args);
  let replies = 0;
  return converse('Redis', connect, {
    parse: (buf) => parseResp(buf),
    // Pipelined: Redis answers in order, and a failed AUTH fails what follows too.
    onConnect: (socket) => socket.write(commands.map(respCommand).join('')),
    onFrame: (reply, socket, done) => {
      if (reply instanceof Error) return done(reply);
      if (++replies === commands.length) done(null, reply);
    },
  });
}
