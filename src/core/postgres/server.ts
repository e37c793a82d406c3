// What the server is: its version and its databases.
import { ExternalError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { ConnectionSettings } from '../settings/connection.js';
import { connect } from './connect.js';

export interface DatabaseInfo {
  name: string;
  allowConnections: boolean;
  isTemplate: boolean;
}

export interface ServerInfo {
  /** e.g. "17.2" */
  version: string;
  versionNum: number;
  major: number;
  superuser: boolean;
  databases: DatabaseInfo[];
}

export async function inspectServer(conn: ConnectionSettings): Promise<ServerInfo> {
  const client = await connect(conn);
  try {
    const v = await client.query<{ server_version: string; server_version_num: string; rolsuper: boolean }>(
      `SELECT current_setting('server_version') AS server_version,
              current_setting('server_version_num') AS server_version_num,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS rolsuper`,
    );
    const row = v.rows[0]!;
    const versionNum = Number(row.server_version_num);
    // datconnlimit = -2 marks a database whose DROP was interrupted (PostgreSQL 15.4+): not dumpable.
    const dbs = await client.query<{ datname: string; datallowconn: boolean; datistemplate: boolean }>(
      `SELECT datname, datallowconn, datistemplate FROM pg_database WHERE datconnlimit <> -2 ORDER BY datname`,
    );
    return {
      version: row.server_version.split(' ')[0]!,
      versionNum,
      major: majorOf(versionNum),
      superuser: row.rolsuper === true,
      databases: dbs.rows.map((d) => ({ name: d.datname, allowConnections: d.datallowconn, isTemplate: d.datistemplate })),
    };
  } catch (err) {
    throw new ExternalError(redact(`cannot read the server's version and databases: ${messageOf(err)}`));
  } finally {
    await client.end().catch(() => {});
  }
}

/** 170002 -> 17; 90624 -> 9 (any 9.x client is older than every supported one, which is all we need). */
export function majorOf(versionNum: number): number {
  return Math.floor(versionNum / 10000);
}
