// node-postgres connections made from the connection settings, with connection failures turned
// into one-line typed errors that name the setting to fix and never the password.
import { readFileSync, existsSync } from 'node:fs';
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { ExternalError, UsageError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import { describeServer, type ConnectionSettings } from '../settings/connection.js';

export async function connect(conn: ConnectionSettings, database?: string): Promise<pg.Client> {
  const mode = conn.sslMode ?? 'prefer';
  // libpq's prefer/allow try one way and fall back to the other; node-postgres does not, so we do.
  const attempts: Array<false | ConnectionOptions> =
    mode === 'disable' ? [false]
    : mode === 'allow' ? [false, { rejectUnauthorized: false }]
    : mode === 'prefer' ? [{ rejectUnauthorized: false }, false]
    : [tlsOptions(conn, mode)];
  let lastError: unknown;
  for (const ssl of attempts) {
    const client = new pg.Client({
      host: conn.host ?? defaultSocketDir(conn.port ?? 5432),
      port: conn.port ?? 5432,
      user: conn.user ?? process.env.USER ?? 'postgres',
      password: conn.password,
      database: database ?? conn.database,
      ssl,
      connectionTimeoutMillis: connectTimeoutMs(conn),
      application_name: 'pg-backups',
    });
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
  throw connectionError(conn, database ?? conn.database, lastError);
}

function tlsOptions(conn: ConnectionSettings, mode: 'require' | 'verify-ca' | 'verify-full'): ConnectionOptions {
  const rootCert = conn.passthrough.PGSSLROOTCERT;
  const opts: ConnectionOptions = { rejectUnauthorized: mode !== 'require' };
  if (rootCert && mode !== 'require') opts.ca = readFileSync(rootCert, 'utf8');
  if (mode === 'verify-ca') opts.checkServerIdentity = () => undefined;
  if (conn.passthrough.PGSSLCERT) opts.cert = readFileSync(conn.passthrough.PGSSLCERT, 'utf8');
  if (conn.passthrough.PGSSLKEY) opts.key = readFileSync(conn.passthrough.PGSSLKEY, 'utf8');
  return opts;
}

function isSslRefusal(err: unknown): boolean {
  const text = messageOf(err);
  return /does not support SSL|no pg_hba\.conf entry .*(SSL|encryption)|SSL off|SSL connection/i.test(text);
}

function connectTimeoutMs(conn: ConnectionSettings): number {
  const seconds = Number(conn.passthrough.PGCONNECT_TIMEOUT ?? '15');
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 15000;
}

/** libpq's default when PGHOST is unset: the local socket directory. */
function defaultSocketDir(port: number): string {
  for (const dir of ['/var/run/postgresql', '/tmp']) {
    if (existsSync(`${dir}/.s.PGSQL.${port}`)) return dir;
  }
  return 'localhost';
}

export function connectionError(conn: ConnectionSettings, database: string, err: unknown): Error {
  const where = describeServer(conn);
  const code = (err as { code?: string }).code;
  const text = redact(messageOf(err));
  if (code === '28P01' || code === '28000') {
    return new UsageError(`PGPASSWORD: cannot log in to PostgreSQL as ${where}: ${text}; check PGUSER and PGPASSWORD (or PGPASSWORD_FILE, DATABASE_URL)`);
  }
  if (code === '3D000') {
    return new UsageError(`PGDATABASE: database ${JSON.stringify(database)} does not exist on ${where}; set PGDATABASE to an existing database, e.g. PGDATABASE=postgres`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ExternalError(`cannot reach PostgreSQL at ${where}: the host name does not resolve (${code}); check PGHOST`);
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || /timeout/i.test(text)) {
    return new ExternalError(`cannot reach PostgreSQL at ${where}: ${text}; check PGHOST and PGPORT and that the server is running`);
  }
  return new ExternalError(`cannot connect to PostgreSQL at ${where}: ${text}`);
}
