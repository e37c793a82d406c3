// The database-level operations around a staged restore, on node-postgres connections to a
// maintenance database: naming, dropping a staging database, and swapping it into place.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ExternalError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import { connect } from '../postgres/connect.js';
import type { ConnectionSettings } from '../settings/connection.js';
import { stagingMark } from './sql-rewrite.js';

export function qi(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * `<target>__pgb_restore_<random>` and `<target>__pgb_old_<random>`: plain lower-case ASCII (so
 * they need no quoting anywhere and are never truncated at 63 bytes), recognisable by the target's
 * name as far as it is plain, and never an existing name (random).
 */
export function sideName(target: string, kind: 'restore' | 'old', suffix = randomBytes(4).toString('hex')): string {
  const base = target.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 30) || 'db';
  const safe = /^[a-z_]/.test(base) ? base : `db_${base}`.slice(0, 30);
  return `${safe}__pgb_${kind}_${suffix}`;
}

/** A maintenance database to work from that is none of `avoid`. */
export function maintenanceDb(conn: ConnectionSettings, avoid: string[]): string {
  for (const db of [conn.database, 'postgres', 'template1']) if (!avoid.includes(db)) return db;
  return 'template1';
}

export async function withClient<T>(conn: ConnectionSettings, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(conn, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function databaseExists(c: pg.Client, name: string): Promise<boolean> {
  const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (r.rowCount ?? 0) > 0;
}

/** Ends every other session on a database; waits (up to `ms`) until they are gone. */
async function terminateSessions(c: pg.Client, name: string, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await c.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name],
    );
    if (Number(r.rows[0]?.n ?? 0) === 0) return;
    if (Date.now() > until) throw new ExternalError(`sessions on database ${JSON.stringify(name)} did not end within ${ms / 1000} s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/**
 * Ends the server sessions of a killed psql (found by its application_name) and waits until they
 * are gone: a backend runs its current statement (CREATE DATABASE, CREATE INDEX) to the end even
 * when its client is dead, and would otherwise go on after the restore has been given up.
 */
export async function endSessionsOf(conn: ConnectionSettings, maintenance: string, appName: string, ms = 20000): Promise<void> {
  await withClient(conn, maintenance, async (c) => {
    const until = Date.now() + ms;
    for (;;) {
      const r = await c.query<{ n: string }>(
        `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [appName],
      );
      if (Number(r.rows[0]?.n ?? 0) === 0) return;
      if (Date.now() > until) throw new ExternalError(`the server sessions of the stopped psql did not end within ${ms / 1000} s`);
      await new Promise((res) => setTimeout(res, 100));
    }
  });
}

/** Drops a database if it exists, ending its sessions first. Never takes a signal: it is cleanup. */
export async function dropDatabase(conn: ConnectionSettings, maintenance: string, name: string, serverMajor: number): Promise<void> {
  await withClient(conn, maintenance, async (c) => {
    const r = await c.query<{ datistemplate: boolean; datallowconn: boolean }>(
      'SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1',
      [name],
    );
    const row = r.rows[0];
    if (!row) return;
    if (row.datistemplate) await c.query(`ALTER DATABASE ${qi(name)} IS_TEMPLATE false`);
    if (row.datallowconn) await c.query(`ALTER DATABASE ${qi(name)} ALLOW_CONNECTIONS false`);
    const until = Date.now() + 20000;
    for (;;) {
      try {
        if (serverMajor >= 13) {
          await c.query(`DROP DATABASE IF EXISTS ${qi(name)} WITH (FORCE)`);
        } else {
          await terminateSessions(c, name);
          await c.query(`DROP DATABASE IF EXISTS ${qi(name)}`);
        }
        return;
      } catch (err) {
        // 55006: still in use (a backend that has not noticed its client is gone yet)
        if ((err as { code?: string }).code !== '55006' || Date.now() > until) throw err;
        await new Promise((res) => setTimeout(res, 250));
      }
    }
  });
}

export interface SwapResult {
  /** Set when the replaced database could not be dropped and is still there under this name. */
  keptOld?: string;
  warnings: string[];
}

/**
 * Puts the staging database in place of the target. Without an existing target: one rename.
 * With one (overwrite): connections to the target are blocked and ended, then both renames run in
 * one transaction (target -> old, staging -> target), so a failure leaves the target as it was;
 * only then is the old database dropped.
 */
export async function swapIntoPlace(
  conn: ConnectionSettings,
  opts: { staging: string; target: string; overwrite: boolean; serverMajor: number; step: (m: string) => void },
): Promise<SwapResult> {
  const { staging, target } = opts;
  const maintenance = maintenanceDb(conn, [staging, target]);
  const old = sideName(target, 'old');
  const warnings: string[] = [];
  let replaced = false;
  await withClient(conn, maintenance, async (c) => {
    await removeStagingMark(c, staging);
    const r = await c.query<{ datallowconn: boolean }>('SELECT datallowconn FROM pg_database WHERE datname = $1', [target]);
    const existing = r.rows[0];
    if (!existing) {
      opts.step(`renaming ${JSON.stringify(staging)} to ${JSON.stringify(target)}`);
      await c.query(`ALTER DATABASE ${qi(staging)} RENAME TO ${qi(target)}`);
      return;
    }
    if (!opts.overwrite) {
      throw new SwapRefused(target);
    }
    opts.step(`replacing the existing database ${JSON.stringify(target)}: ending its sessions`);
    if (existing.datallowconn) await c.query(`ALTER DATABASE ${qi(target)} ALLOW_CONNECTIONS false`);
    try {
      await terminateSessions(c, target);
      opts.step(`renaming ${JSON.stringify(target)} to ${JSON.stringify(old)} and ${JSON.stringify(staging)} to ${JSON.stringify(target)} (one transaction)`);
      await c.query('BEGIN');
      try {
        await c.query(`ALTER DATABASE ${qi(target)} RENAME TO ${qi(old)}`);
        await c.query(`ALTER DATABASE ${qi(staging)} RENAME TO ${qi(target)}`);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      }
      replaced = true;
    } catch (err) {
      if (existing.datallowconn) {
        await c.query(`ALTER DATABASE ${qi(target)} ALLOW_CONNECTIONS true`).catch((e2: unknown) => {
          warnings.push(`could not allow connections to ${JSON.stringify(target)} again: ${messageOf(e2)}; run ALTER DATABASE ${qi(target)} ALLOW_CONNECTIONS true`);
        });
      }
      throw err;
    }
  });
  if (!replaced) return { warnings };
  opts.step(`dropping the replaced database (${JSON.stringify(old)})`);
  try {
    await dropDatabase(conn, maintenance, old, opts.serverMajor);
    return { warnings };
  } catch (err) {
    warnings.push(redact(`the replaced database was kept as ${JSON.stringify(old)}: dropping it failed (${messageOf(err)}); drop it with DROP DATABASE ${qi(old)}`));
    return { keptOld: old, warnings };
  }
}

export class SwapRefused extends Error {
  constructor(readonly target: string) {
    super(`database ${JSON.stringify(target)} exists`);
  }
}

/**
 * Staging databases of earlier restores into `target` that died without cleaning up (a SIGKILL):
 * named `<target>__pgb_restore_<8 hex>` with no session on them. Dropped; returns their names.
 */
export async function dropStaleStaging(conn: ConnectionSettings, maintenance: string, target: string, serverMajor: number): Promise<{ dropped: string[]; unmarked: string[] }> {
  const prefix = sideName(target, 'restore', '');
  const found = await withClient(conn, maintenance, async (c) => {
    const r = await c.query<{ datname: string; marked: boolean }>(
      `SELECT d.datname,
              EXISTS (SELECT 1 FROM pg_db_role_setting s
                       WHERE s.setdatabase = d.oid AND s.setrole = 0 AND $2 || d.datname = ANY (s.setconfig)) AS marked
         FROM pg_database d
        WHERE left(d.datname, length($1)) = $1 AND substr(d.datname, length($1) + 1) ~ '^[0-9a-f]{8}$'
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
      [prefix, `application_name=${stagingMark('')}`],
    );
    return r.rows;
  });
  // Only a database carrying pg-backups' mark is one of its staging databases; a user's database of
  // such a name is left alone.
  const dropped = found.filter((f) => f.marked).map((f) => f.datname);
  for (const name of dropped) await dropDatabase(conn, maintenance, name, serverMajor);
  return { dropped, unmarked: found.filter((f) => !f.marked).map((f) => f.datname) };
}

/** Removes the staging mark (only if it is still pg-backups' own: the dump may have set application_name). */
export async function removeStagingMark(c: pg.Client, staging: string): Promise<void> {
  const r = await c.query<{ marked: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                     WHERE d.datname = $1 AND s.setrole = 0 AND $2 = ANY (s.setconfig)) AS marked`,
    [staging, `application_name=${stagingMark(staging)}`],
  );
  if (r.rows[0]?.marked) await c.query(`ALTER DATABASE ${qi(staging)} RESET application_name`);
}
