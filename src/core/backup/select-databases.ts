// Which databases a run dumps: BACKUP_DATABASES (or every database that allows connections,
// templates excluded) less BACKUP_EXCLUDE_DATABASES.
import { UsageError } from '../errors.js';
import type { DatabaseInfo } from '../postgres/server.js';

export interface DatabasePlan {
  /** Databases that get a file of their own, in dump order. */
  databases: string[];
  /** Databases in the cluster file, in dump order: template1 first (as pg_dumpall), then the others. */
  clusterDatabases: string[];
  /** Names in BACKUP_EXCLUDE_DATABASES that the server does not have (worth a warning). */
  unknownExcludes: string[];
}

export function planDatabases(all: DatabaseInfo[], wanted: string[] | undefined, exclude: string[], where: string): DatabasePlan {
  const byName = new Map(all.map((d) => [d.name, d]));
  let databases: string[];
  if (wanted) {
    const missing = wanted.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      const have = all.filter((d) => d.allowConnections && !d.isTemplate).map((d) => d.name);
      throw new UsageError(
        `BACKUP_DATABASES names ${missing.map((n) => JSON.stringify(n)).join(', ')}, which ${where} does not have; it has ${have.map((n) => JSON.stringify(n)).join(', ')}`,
      );
    }
    const closed = wanted.filter((n) => !byName.get(n)!.allowConnections);
    if (closed.length > 0) {
      throw new UsageError(`BACKUP_DATABASES names ${closed.map((n) => JSON.stringify(n)).join(', ')}, which does not allow connections (datallowconn = false) and cannot be dumped; remove it from BACKUP_DATABASES`);
    }
    databases = [...new Set(wanted)];
  } else {
    databases = all.filter((d) => d.allowConnections && !d.isTemplate).map((d) => d.name);
  }
  databases = databases.filter((n) => !exclude.includes(n)).sort(byCodePoint);
  if (databases.length === 0) {
    throw new UsageError(`no database left to back up on ${where} after BACKUP_EXCLUDE_DATABASES; exclude fewer databases`);
  }
  const template1 = byName.get('template1');
  const withTemplate1 = databases.includes('template1') || (template1?.allowConnections === true && !exclude.includes('template1'));
  const clusterDatabases = [...(withTemplate1 ? ['template1'] : []), ...databases.filter((n) => n !== 'template1')];
  return { databases, clusterDatabases, unknownExcludes: exclude.filter((n) => !byName.has(n)) };
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
