// The connection step's test: log in as the backups will and read the server's version and databases.
import { AbortedError } from '../errors.js';
import { inspectServer, type ServerInfo } from '../postgres/server.js';
import type { ConnectionSettings } from '../settings/connection.js';
import { untilAborted } from './abortable.js';

export async function probeServer(conn: ConnectionSettings, signal: AbortSignal): Promise<ServerInfo> {
  return untilAborted(inspectServer(conn), signal, () => new AbortedError('stopped while connecting to PostgreSQL'));
}

/** "PostgreSQL 17.2; 3 databases to back up: app, billing, postgres (templates and those refusing connections left out)" */
export function describeServerInfo(info: ServerInfo): string {
  const dumpable = info.databases.filter((d) => d.allowConnections && !d.isTemplate).map((d) => d.name);
  const skipped = info.databases.length - dumpable.length;
  return (
    `PostgreSQL ${info.version}${info.superuser ? '' : ' (this role is not a superuser: pg_dumpall may miss what it cannot read)'}; ` +
    `${dumpable.length} database${dumpable.length === 1 ? '' : 's'}: ${dumpable.join(', ') || '(none)'}` +
    (skipped > 0 ? ` (${skipped} template${skipped === 1 ? '' : 's'} or closed to connections, not dumped on their own)` : '')
  );
}
