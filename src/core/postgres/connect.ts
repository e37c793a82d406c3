// node-postgres connections made from the connection settings, with connection failures turned
// into one-line typed errors that name what was tried (as it was tried: user, socket or host and
// port; see resolveTarget) and the setting to fix, and never the password.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { ExternalError, UsageError, messageOf } from '../errors.js';
import { redact, registerSecret } from '../secrets.js';
import { SOCKET_DIRS, describeTarget, resolveTarget, type ConnectionSettings, type ConnectionTarget } from '../settings/connection.js';

export async function connect(conn: ConnectionSettings, database?: string): Promise<pg.Client> {
  const target = resolveTarget(conn);
  const mode = conn.sslMode ?? 'prefer';
  // libpq's prefer/allow try one way and fall back to the other; node-postgres does not, so we do.
  // Over a Unix socket libpq never uses SSL, whatever the mode: neither do we.
  const attempts: Array<false | ConnectionOptions> =
    target.socket !== undefined || mode === 'disable' ? [false]
    : mode === 'allow' ? [false, { rejectUnauthorized: false }]
    : mode === 'prefer' ? [{ rejectUnauthorized: false }, false]
    : [tlsOptions(conn, mode)];
  let lastError: unknown;
  for (const ssl of attempts) {
    let client: pg.Client;
    try {
      client = new pg.Client({
        host: target.host,
        port: target.port,
        user: target.user,
        // No password anywhere: fail as libpq does ("no password supplied") if the server asks for one,
        // rather than letting node-postgres look on its own (PGPASSWORD, its deprecated ~/.pgpass reader).
        password: conn.password ?? passwordFromFile(conn, target, database ?? conn.database) ?? (() => Promise.reject(new NoPasswordGiven())),
        database: database ?? conn.database,
        ssl,
        connectionTimeoutMillis: connectTimeoutMs(conn),
        application_name: 'pg-backups',
      });
    } catch (err) {
      // node-postgres reads a few PG* variables itself and throws on a bad one
      throw connectionError(conn, database ?? conn.database, err, target);
    }
    client.on('error', () => {}); // a dropped connection surfaces on the next query instead
    try {
      await client.connect();
      return client;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => {});
      if (!isSslRefusal(err)) break;
    }
  }
  throw connectionError(conn, database ?? conn.database, lastError, target);
}

class NoPasswordGiven extends Error {
  constructor() {
    super('no password supplied');
  }
}

/**
 * The password libpq would take from its password file (PGPASSFILE, default ~/.pgpass) when none
 * is given (PGPASSWORD unset or empty): the first line host:port:database:user:password matching
 * what is tried ('*' matches anything; \\: and \\\\ escape), from a regular file that only its owner
 * can read (libpq ignores it otherwise). Done here, not by node-postgres (whose own lookup is
 * deprecated), so that the checks and the libpq tools log in the same way.
 */
export function passwordFromFile(conn: ConnectionSettings, target: ConnectionTarget, database: string): string | undefined {
  const file = conn.passthrough.PGPASSFILE ?? join(homedir(), '.pgpass');
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile() || (process.platform !== 'win32' && (st.mode & 0o077) !== 0)) return undefined;
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // A socket in a default socket folder is "localhost" to libpq.
  const hosts = new Set([target.host]);
  if (target.socket !== undefined && SOCKET_DIRS.includes(target.host.replace(/\/+$/, ''))) hosts.add('localhost');
  const wanted = [undefined, String(target.port), database, target.user];
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = splitPassLine(line);
    if (fields.length < 5) continue;
    const [host, ...rest] = fields;
    if (host !== '*' && !hosts.has(host!)) continue;
    if (!rest.slice(0, 3).every((field, i) => field === '*' || field === wanted[i + 1])) continue;
    const password = fields[4]!;
    if (password === '') return undefined;
    registerSecret(password);
    return password;
  }
  return undefined;
}

function splitPassLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) current += line[++i];
    else if (ch === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields;
}

function tlsOptions(conn: ConnectionSettings, mode: 'require' | 'verify-ca' | 'verify-full'): ConnectionOptions {
  const rootCert = conn.passthrough.PGSSLROOTCERT;
  const opts: ConnectionOptions = { rejectUnauthorized: mode !== 'require' };
  if (rootCert && mode !== 'require') opts.ca = readSslFile('PGSSLROOTCERT', rootCert, 'the CA certificate that signed the server certificate');
  if (mode === 'verify-ca') opts.checkServerIdentity = () => undefined;
  if (conn.passthrough.PGSSLCERT) opts.cert = readSslFile('PGSSLCERT', conn.passthrough.PGSSLCERT, 'the client certificate');
  if (conn.passthrough.PGSSLKEY) opts.key = readSslFile('PGSSLKEY', conn.passthrough.PGSSLKEY, "the client certificate's key");
  return opts;
}

function readSslFile(setting: string, path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${setting}=${path} cannot be read: ${messageOf(err)}; point it at ${what}, e.g. ${setting}=/run/secrets/${setting.toLowerCase().replace(/^pg/, '')}.pem`);
  }
}

function isSslRefusal(err: unknown): boolean {
  const text = messageOf(err);
  return /does not support SSL|no pg_hba\.conf entry .*(SSL|encryption)|SSL off|SSL connection/i.test(text);
}

function connectTimeoutMs(conn: ConnectionSettings): number {
  const seconds = Number(conn.passthrough.PGCONNECT_TIMEOUT ?? '15');
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 15000;
}

/**
 * One line for a failed connection: what was tried, as it was tried ("postgres@socket
 * /var/run/postgresql/.s.PGSQL.5432", "app@db.internal:5433", "root@localhost:5432 (PGHOST is not
 * set and no socket ...)"), the error, and the setting to fix: PGHOST (or --host, DATABASE_URL) for
 * the host, PGPORT for the port, PGUSER/PGPASSWORD for the login.
 */
export function connectionError(conn: ConnectionSettings, database: string, err: unknown, target = resolveTarget(conn)): Error {
  const where = describeTarget(target) + (target.defaulted && !target.socket ? ` (${target.defaulted})` : '');
  const code = (err as { code?: string } | undefined)?.code;
  const text = redact(messageOf(err));
  const host = target.hostSetting;
  const port = target.portSetting;
  const fromUrl = host === 'DATABASE_URL' || port === 'DATABASE_URL';
  const checkHostPort = fromUrl ? 'check the host and port in DATABASE_URL' : host === port ? `check ${host}` : `check ${host} and ${port}`;
  if (code === '28P01' || code === '28000') {
    return new UsageError(`PGPASSWORD: cannot log in to PostgreSQL as ${where}: ${text}; check ${target.userSetting} and PGPASSWORD (or PGPASSWORD_FILE, DATABASE_URL)`);
  }
  if (err instanceof NoPasswordGiven) {
    const file = conn.passthrough.PGPASSFILE !== undefined ? `PGPASSFILE (${conn.passthrough.PGPASSFILE})` : '~/.pgpass';
    return new UsageError(`PGPASSWORD: PostgreSQL at ${where} asks for a password and none is given (PGPASSWORD is not set or empty, and ${file} has none for it); set PGPASSWORD or PGPASSWORD_FILE`);
  }
  if (code === '3D000') {
    return new UsageError(`PGDATABASE: database ${JSON.stringify(database)} does not exist on ${where}; set PGDATABASE to an existing database, e.g. PGDATABASE=postgres`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ExternalError(`cannot reach PostgreSQL at ${where}: the host name ${JSON.stringify(target.host)} does not resolve (${code}); check ${host}`);
  }
  if (target.socket !== undefined && (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTDIR')) {
    return socketError(target, where, code);
  }
  if (target.socket !== undefined && code === 'EACCES') {
    return new ExternalError(`cannot connect to PostgreSQL at ${where}: permission denied on the socket (EACCES); run as a user allowed to use it, or connect over TCP (${host} set to a host name)`);
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || /timeout/i.test(text)) {
    const address = (err as { address?: string; port?: number }).address;
    const tried = address && address !== target.host ? ` (${target.host} is ${address})` : '';
    const why = code === 'ECONNREFUSED' ? `connection refused (ECONNREFUSED)${tried}` : `${text}${tried}`;
    const hint = target.defaulted ? `set PGHOST to the server's host name or socket folder, e.g. PGHOST=db.example.com, and PGPORT if it is not 5432` : `${checkHostPort} and that the server is running`;
    return new ExternalError(`cannot reach PostgreSQL at ${where}: ${why}; ${hint}`);
  }
  return new ExternalError(`cannot connect to PostgreSQL at ${where}: ${text}`);
}

/** A socket folder (PGHOST=/some/dir) that does not exist, is not a folder, or holds no socket for the port. */
function socketError(target: ConnectionTarget, where: string, code: string): Error {
  const dir = target.host;
  const setting = target.hostSetting;
  const shown = setting.startsWith('--') ? `${setting} ${dir}` : setting === 'DATABASE_URL' ? `the host ${dir} in DATABASE_URL` : `${setting}=${dir}`;
  let isDir: boolean | undefined;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = undefined;
  }
  if (isDir === undefined || !isDir) {
    return new UsageError(
      `${shown} is a path (it starts with /), so it names the folder of the server's Unix socket, but ${isDir === undefined ? 'there is no such folder' : 'it is not a folder'}; ${
        setting === 'DATABASE_URL'
          ? 'give the socket folder, e.g. postgres:///postgres?host=/var/run/postgresql, or the host name, e.g. postgres://backup@db.example.com/postgres'
          : `give the socket folder, e.g. ${setting.startsWith('--') ? `${setting} ` : `${setting}=`}/var/run/postgresql, or the server's host name, e.g. ${setting.startsWith('--') ? `${setting} ` : `${setting}=`}db.example.com`
      }`,
    );
  }
  if (code === 'ECONNREFUSED') {
    return new ExternalError(`cannot reach PostgreSQL at ${where}: the socket is there but nothing accepts connections on it (ECONNREFUSED; a server that stopped without removing it?); check that the server is running`);
  }
  return new ExternalError(
    `cannot reach PostgreSQL at ${where}: the folder ${dir} (${setting}) holds no socket .s.PGSQL.${target.port}; check ${setting} and ${target.portSetting} (the socket's name carries the port), and that the server is running`,
  );
}
