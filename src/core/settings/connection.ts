// Connection settings: the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
// PGSSLMODE, ...) or DATABASE_URL. The model is plain data; libpqEnv() turns it into the
// environment of pg_dump/psql (the password travels only there, never in an argument list).
import { UsageError } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { readEnum, readInt, readRaw, readString, type SettingInput } from './read.js';

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
}

/** libpq variables we pass through to client tools as they are. */
const PASSTHROUGH = [
  'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGSSLCRL', 'PGPASSFILE', 'PGCONNECT_TIMEOUT',
  'PGAPPNAME', 'PGOPTIONS', 'PGTZ', 'PGCLIENTENCODING', 'PGSERVICE', 'PGSERVICEFILE', 'PGTARGETSESSIONATTRS',
  'PGGSSENCMODE', 'PGKRBSRVNAME', 'PGREQUIRESSL', 'PGSSLNEGOTIATION',
];

const EXAMPLE_URL = 'postgres://backup@db.example.com:5432/postgres?sslmode=require';

export function readConnection(input: SettingInput): ConnectionSettings {
  const settings: ConnectionSettings = {
    host: readString(input, { name: 'PGHOST', flag: 'host' }),
    port: readRaw(input, { name: 'PGPORT', flag: 'port' })
      ? readInt(input, { name: 'PGPORT', flag: 'port' }, { min: 1, max: 65535, default: 5432, example: '5432' })
      : undefined,
    user: readString(input, { name: 'PGUSER', flag: 'username' }),
    password: readString(input, { name: 'PGPASSWORD', secret: true }),
    database: readString(input, { name: 'PGDATABASE' }) ?? 'postgres',
    sslMode: readEnum(input, { name: 'PGSSLMODE' }, SSL_MODES),
    passthrough: {},
  };
  for (const name of PASSTHROUGH) {
    const value = input.env[name];
    if (value !== undefined && value !== '') settings.passthrough[name] = value;
  }
  const url = readRaw(input, { name: 'DATABASE_URL', secret: true });
  if (url) applyUrl(settings, url.value, url.origin);
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
  if (url.username) settings.user = decodeURIComponent(url.username);
  if (url.hostname) settings.host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1');
  if (url.port) settings.port = Number(url.port);
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (path) settings.database = path;
  for (const [key, value] of url.searchParams) {
    if (key === 'sslmode') {
      if (!(SSL_MODES as readonly string[]).includes(value)) {
        throw new UsageError(`${origin}: sslmode=${value} is not one of ${SSL_MODES.join(', ')}; e.g. ${EXAMPLE_URL}`);
      }
      settings.sslMode = value as SslMode;
    } else if (key === 'host') {
      settings.host = value; // postgres:///db?host=/var/run/postgresql (a socket directory)
    } else if (key === 'port') {
      settings.port = Number(value);
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

/** The environment for libpq client tools (pg_dump, pg_dumpall, psql): the only place the password goes. */
export function libpqEnv(conn: ConnectionSettings, database?: string): Record<string, string> {
  const env: Record<string, string> = { ...conn.passthrough };
  if (conn.host !== undefined) env.PGHOST = conn.host;
  if (conn.port !== undefined) env.PGPORT = String(conn.port);
  if (conn.user !== undefined) env.PGUSER = conn.user;
  if (conn.password !== undefined) env.PGPASSWORD = conn.password;
  if (conn.sslMode !== undefined) env.PGSSLMODE = conn.sslMode;
  env.PGDATABASE = database ?? conn.database;
  return env;
}

/** "user@host:port" for messages; never the password. */
export function describeServer(conn: ConnectionSettings): string {
  const host = conn.host ?? 'the local socket';
  return `${conn.user ?? 'the default user'}@${host}:${conn.port ?? 5432}`;
}
