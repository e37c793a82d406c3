// Connection settings: the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
// PGSSLMODE, ...) or DATABASE_URL. The model is plain data; libpqEnv() turns it into the
// environment of pg_dump/psql (the password travels only there, never in an argument list).
import { UsageError } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { emptyValueError, readEnum, readInt, readRaw, readString, type RawSetting, type SettingInput } from './read.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface ConnectionSettings {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  /** The database to connect to for discovery and globals (default postgres). */
  database: string;
  sslMode?: SslMode;
  /** Other libpq variables passed through unchanged to the client tools (PGSSLROOTCERT, PGPASSFILE, ...). */
  passthrough: Record<string, string>;
  /** How host, port and user were given, for messages ("PGHOST", "--host", "DATABASE_URL"); absent: not given. */
  origins?: { host?: string; port?: string; user?: string };
}

/**
 * libpq variables we pass through to client tools as they are, with an example for messages.
 *
 * An empty one is refused (exit 2, naming it) rather than passed on or dropped. libpq itself is not
 * consistent about empty variables: for some it means the default (PGSSLROOTCERT="" is
 * ~/.postgresql/root.crt, PGPASSFILE="" is ~/.pgpass), others it rejects (PGCONNECT_TIMEOUT,
 * PGTARGETSESSIONATTRS, PGGSSENCMODE), and PGSERVICE="" looks for a service named "". So whatever
 * we did silently would surprise someone, and an empty one is nearly always a compose file's ${VAR}
 * of an unset variable; a libpq user who meant the default loses nothing by unsetting it.
 */
const PASSTHROUGH: Record<string, string> = {
  PGSSLROOTCERT: '/etc/ssl/certs/db-ca.pem',
  PGSSLCERT: '/run/secrets/client.crt',
  PGSSLKEY: '/run/secrets/client.key',
  PGSSLCRL: '/etc/ssl/db.crl',
  PGPASSFILE: '/root/.pgpass',
  PGCONNECT_TIMEOUT: '10',
  PGAPPNAME: 'pg-backups',
  PGOPTIONS: '-c statement_timeout=0',
  PGTZ: 'UTC',
  PGCLIENTENCODING: 'UTF8',
  PGSERVICE: 'prod',
  PGSERVICEFILE: '/etc/pg_service.conf',
  PGTARGETSESSIONATTRS: 'read-write',
  PGGSSENCMODE: 'disable',
  PGKRBSRVNAME: 'postgres',
  PGREQUIRESSL: '0',
  PGSSLNEGOTIATION: 'postgres',
};

const EXAMPLE_URL = 'postgres://backup@db.example.com:5432/postgres?sslmode=require';

/**
 * The connection: the libpq variables, with DATABASE_URL (or `url`, a server's BACKUP_<NAME> URI)
 * applied over them as libpq applies a connection string.
 */
export function readConnection(input: SettingInput, url?: RawSetting): ConnectionSettings {
  const host = readRaw(input, {
    name: 'PGHOST',
    flag: 'host',
    what: "the server's host name or the folder of its Unix socket",
    example: 'db.example.com',
    ifUnset: 'for the local socket in /var/run/postgresql or /tmp (else localhost)',
  });
  const portRaw = readRaw(input, { name: 'PGPORT', flag: 'port', what: 'a port number', example: '5432', ifUnset: 'for the default 5432' });
  const user = readRaw(input, { name: 'PGUSER', flag: 'username', what: 'a role name', example: 'postgres', ifUnset: 'for the name of the OS user, as libpq does' });
  const settings: ConnectionSettings = {
    host: host?.value,
    port: portRaw ? readInt(input, { name: 'PGPORT', flag: 'port' }, { min: 1, max: 65535, example: '5432' }) : undefined,
    user: user?.value,
    // Empty has a meaning here: no password (libpq then looks in PGPASSFILE / ~/.pgpass).
    password: readString(input, { name: 'PGPASSWORD', secret: true, emptyAllowed: true }) || undefined,
    database: readString(input, { name: 'PGDATABASE', what: 'a database name', example: 'postgres', ifUnset: 'for the default postgres' }) ?? 'postgres',
    sslMode: readEnum(input, { name: 'PGSSLMODE', example: 'require', ifUnset: 'for the default prefer' }, SSL_MODES),
    passthrough: {},
    origins: { host: host?.origin, port: portRaw?.origin, user: user?.origin },
  };
  for (const [name, example] of Object.entries(PASSTHROUGH)) {
    const value = input.env[name];
    if (value === undefined) continue;
    if (value.trim() === '') throw emptyValueError({ name, what: 'a value', example, ifUnset: "for libpq's default" }, name, value !== '');
    settings.passthrough[name] = value;
  }
  const negotiation = settings.passthrough.PGSSLNEGOTIATION;
  if (negotiation !== undefined && negotiation !== 'postgres' && negotiation !== 'direct') {
    throw new UsageError(`PGSSLNEGOTIATION=${JSON.stringify(negotiation)} is not one of postgres, direct; e.g. PGSSLNEGOTIATION=postgres`);
  }
  const uri = url ?? readRaw(input, { name: 'DATABASE_URL', secret: true, what: 'a connection URI', example: EXAMPLE_URL, ifUnset: 'to use the PG* variables' });
  if (uri) applyUrl(settings, uri.value, uri.origin);
  if (settings.host !== undefined && settings.host.includes(',')) {
    const origin = settings.origins?.host ?? 'PGHOST';
    throw new UsageError(`${origin} names several hosts (${settings.host}); pg-backups connects to one server, so name one, e.g. PGHOST=db.example.com`);
  }
  return settings;
}

function applyUrl(settings: ConnectionSettings, text: string, origin: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${origin} is not a connection URI; use the form ${EXAMPLE_URL}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`${origin} must start with postgres:// or postgresql://; e.g. ${EXAMPLE_URL}`);
  }
  if (url.password) {
    const password = decodeURIComponent(url.password);
    registerSecret(password);
    settings.password = password;
  }
  const origins = (settings.origins ??= {});
  if (url.username) {
    settings.user = decodeURIComponent(url.username);
    origins.user = origin;
  }
  if (url.hostname) {
    settings.host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1');
    origins.host = origin;
  }
  if (url.port) {
    settings.port = Number(url.port);
    origins.port = origin;
  }
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (path) settings.database = path;
  for (const [key, value] of url.searchParams) {
    if (key === 'sslmode') {
      if (!(SSL_MODES as readonly string[]).includes(value)) {
        throw new UsageError(`${origin}: sslmode=${value} is not one of ${SSL_MODES.join(', ')}; e.g. ${EXAMPLE_URL}`);
      }
      settings.sslMode = value as SslMode;
    } else if (key === 'host') {
      if (value === '') throw new UsageError(`${origin}: ?host= is empty; give a host name or a socket folder, e.g. postgres:///postgres?host=/var/run/postgresql`);
      settings.host = value; // postgres:///db?host=/var/run/postgresql (a socket directory)
      origins.host = origin;
    } else if (key === 'port') {
      const port = Number(value);
      if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`${origin}: ?port=${value} is not a port number from 1 to 65535; e.g. ${EXAMPLE_URL}`);
      settings.port = port;
      origins.port = origin;
    } else if (key === 'password' || key === 'user') {
      throw new UsageError(`${origin}: put the ${key} in the URI's user part, not in ?${key}=; e.g. ${EXAMPLE_URL}`);
    } else {
      const envName = URL_PARAM_ENV[key];
      if (!envName) throw new UsageError(`${origin}: the URI parameter ${key} is not supported; supported: sslmode, host, port, ${Object.keys(URL_PARAM_ENV).join(', ')}`);
      settings.passthrough[envName] = value;
    }
  }
}

const URL_PARAM_ENV: Record<string, string> = {
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  application_name: 'PGAPPNAME',
  options: 'PGOPTIONS',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
};

/**
 * What a connection tries, resolved once the way libpq resolves it, so that node-postgres (the
 * checks) and the libpq tools (pg_dump, pg_dumpall, psql: see libpqEnv) try the same thing:
 * the user is PGUSER or else the OS user's name; the host is PGHOST or else the first of
 * /var/run/postgresql and /tmp that holds the server's socket (.s.PGSQL.<port>), else localhost.
 */
export interface ConnectionTarget {
  user: string;
  /** A host name or address, or (starting with '/') the folder of a Unix socket. */
  host: string;
  port: number;
  /** The socket file, when host is a socket folder. */
  socket?: string;
  /** Why this host when none was given: "PGHOST is not set and no socket in /var/run/postgresql or /tmp". */
  defaulted?: string;
  /** The setting to fix for the host, the port and the user: "PGHOST" (or "--host", "DATABASE_URL"). */
  hostSetting: string;
  portSetting: string;
  userSetting: string;
}

export const SOCKET_DIRS = ['/var/run/postgresql', '/tmp'];

export function resolveTarget(conn: ConnectionSettings): ConnectionTarget {
  const port = conn.port ?? 5432;
  const target: ConnectionTarget = {
    user: conn.user ?? osUserName(),
    host: conn.host ?? '',
    port,
    hostSetting: conn.origins?.host ?? 'PGHOST',
    portSetting: conn.origins?.port ?? 'PGPORT',
    userSetting: conn.origins?.user ?? 'PGUSER',
  };
  if (conn.host === undefined) {
    const dir = SOCKET_DIRS.find((d) => existsSync(`${d}/.s.PGSQL.${port}`));
    if (dir !== undefined) {
      target.host = dir;
      target.defaulted = `PGHOST is not set; the socket found in ${dir}`;
    } else {
      target.host = 'localhost';
      target.defaulted = `PGHOST is not set and no socket .s.PGSQL.${port} in ${SOCKET_DIRS.join(' or ')}`;
    }
  }
  if (target.host.startsWith('/')) target.socket = `${target.host.replace(/\/+$/, '')}/.s.PGSQL.${port}`;
  return target;
}

/** libpq's default user: the name of the OS user this runs as. */
function osUserName(): string {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // no entry in /etc/passwd (a container run with an arbitrary uid)
  }
  const uid = process.getuid?.();
  throw new UsageError(`PGUSER is not set and the OS user${uid !== undefined ? ` (uid ${uid})` : ''} has no name to use instead; set PGUSER, e.g. PGUSER=postgres`);
}

/** "app@db.internal:5433" or "postgres@socket /var/run/postgresql/.s.PGSQL.5432"; never the password. */
export function describeTarget(target: ConnectionTarget): string {
  if (target.socket) return `${target.user}@socket ${target.socket}`;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.user}@${host}:${target.port}`;
}

/** The environment for libpq client tools (pg_dump, pg_dumpall, psql): the only place the password goes. */
export function libpqEnv(conn: ConnectionSettings, database?: string): Record<string, string> {
  const target = resolveTarget(conn);
  const env: Record<string, string> = { ...conn.passthrough };
  // Host, port and user always explicit: the tools must not fall back to defaults of their own.
  env.PGHOST = target.host;
  env.PGPORT = String(target.port);
  env.PGUSER = target.user;
  if (conn.password !== undefined) env.PGPASSWORD = conn.password;
  if (conn.sslMode !== undefined) env.PGSSLMODE = conn.sslMode;
  env.PGDATABASE = database ?? conn.database;
  return env;
}

/** What a connection tries, for messages: "postgres@socket /var/run/postgresql/.s.PGSQL.5432"; never the password. */
export function describeServer(conn: ConnectionSettings): string {
  return describeTarget(resolveTarget(conn));
}
