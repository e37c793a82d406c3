// The scratch databases of a drill: named `pgb_drill_<16 hex>` (plain lower-case ASCII, random, so
// never a name that exists), marked once restored with a database-level default of application_name
// that only pg-backups sets, and dropped when the drill is done with them. A drill that was killed
// (SIGKILL) leaves one behind; the next drill onto that server drops every database named like a
// scratch database that carries the mark (or, still half-restored, the staging mark of the restore)
// and has no session on it. A database of such a name without a mark is never dropped: it is listed.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { ConnectionSettings } from '../settings/connection.js';
import { dropDatabase, qi, withClient } from '../restore/execute-admin.js';
import { stagingMark } from '../restore/sql-rewrite.js';

export const SCRATCH_PREFIX = 'pgb_drill_';
const SCRATCH_NAME = /^pgb_drill_[0-9a-f]{16}$/;

export function scratchName(): string {
  return `${SCRATCH_PREFIX}${randomBytes(8).toString('hex')}`;
}

/** The mark of a scratch database (the value of its application_name default). */
export function drillMark(scratch: string): string {
  return `pg-backups drill ${scratch}`;
}

/** Marks the scratch database the client is connected to as the drill's own. */
export async function markScratch(c: pg.Client, scratch: string): Promise<void> {
  if (!SCRATCH_NAME.test(scratch)) throw new Error(`not a scratch database name: ${scratch}`);
  await c.query(`ALTER DATABASE ${qi(scratch)} SET application_name = '${drillMark(scratch)}'`);
}

/**
 * Leftovers of killed drills on the server: scratch databases with the drill's mark, and staging
 * databases of their restores (`pgb_drill_<hex>__pgb_restore_<8 hex>`) with the restore's mark, with
 * no session on them. Drops them; returns what was dropped and what was left alone (no mark).
 */
export async function dropDrillLeftovers(conn: ConnectionSettings, maintenance: string, serverMajor: number): Promise<{ dropped: string[]; unmarked: string[] }> {
  const found = await withClient(conn, maintenance, async (c) => {
    const r = await c.query<{ datname: string; marked: boolean }>(
      `SELECT d.datname,
              EXISTS (SELECT 1 FROM pg_db_role_setting s
                       WHERE s.setdatabase = d.oid AND s.setrole = 0
                         AND ($1 || d.datname = ANY (s.setconfig) OR $2 || d.datname = ANY (s.setconfig))) AS marked
         FROM pg_database d
        WHERE d.datname ~ '^pgb_drill_[0-9a-f]{16}(__pgb_restore_[0-9a-f]{8})?$'
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
      [`application_name=${drillMark('')}`, `application_name=${stagingMark('')}`],
    );
    return r.rows;
  });
  // Each mark names the database it is on: a mark copied into another database does not count.
  const dropped = found.filter((f) => f.marked).map((f) => f.datname);
  for (const name of dropped) await dropDatabase(conn, maintenance, name, serverMajor);
  return { dropped, unmarked: found.filter((f) => !f.marked).map((f) => f.datname) };
}
