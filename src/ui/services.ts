// What the screen reads and runs, built from the settings the CLI reads, in the same places:
// the sources (src/sources/open.ts), the target server, the restore directory. Each call takes
// the AbortSignal of the screen that started it.
import type { BackupEvent, BackupResult } from '../core/backup/backup-service.js';
import { recordedBackup } from '../core/history/recorded-backup.js';
import { inspectServer } from '../core/postgres/server.js';
import type { RestoreEvent, RestoreRequest } from '../core/restore/model.js';
import { planRestore, type RestorePlan } from '../core/restore/plan.js';
import { runRestore, type RestoreSummary } from '../core/restore/restore-service.js';
import { readBackupSettings, readLocal, readPgBinDir } from '../core/settings/backup.js';
import { describeServer, readConnection, resolveTarget, type ConnectionSettings } from '../core/settings/connection.js';
import { readPath } from '../core/settings/read.js';
import { UsageError } from '../core/errors.js';
import { restoreConnection, type ServerScope } from '../core/settings/servers.js';
import { readNotifySettings } from '../core/settings/notify.js';
import { notifyRun } from '../core/notify/notify-run.js';
import type { BackupEntry, BackupSource, SourceKind } from '../core/source.js';
import { verifyBackup, type FileCheck, type VerifyReport } from '../core/verify.js';
import { openBackupTargets, selectSources } from '../sources/open.js';
import type { ArchiveTable, RestoreChoice } from './state/types.js';
import { filesForRestore } from '../core/restore/fetch.js';
import { readSourceToc } from '../core/restore/archive-load.js';
import type { DrillEvent, DrillReport } from '../core/drill/drill-service.js';
import { recordedDrill } from '../core/drill/recorded-drill.js';
import { drillTarget } from '../core/settings/drill.js';
import { archiveTables } from '../core/restore/archive-select.js';

export interface UiServices {
  /** The server's name, when it is one of several (BACKUP_<NAME>=...). */
  serverName?: string;
  serverWhere: string;
  serverAddress: string;
  restoreDir: string;
  sources: Array<{ kind: SourceKind; location: string }>;
  inspect(): Promise<{ version: string; superuser: boolean; databases: string[] }>;
  list(kind: SourceKind, signal: AbortSignal): Promise<BackupEntry[]>;
  plan(choice: RestoreChoice, entry: BackupEntry, signal: AbortSignal): Promise<RestorePlan>;
  /** The tables of a custom-format backup's database (its archive's table of contents). */
  tables(choice: RestoreChoice, entry: BackupEntry, signal: AbortSignal): Promise<ArchiveTable[]>;
  restore(choice: RestoreChoice, signal: AbortSignal, onEvent: (e: RestoreEvent) => void): Promise<RestoreSummary>;
  verify(kind: SourceKind, entry: BackupEntry, signal: AbortSignal, onFile: (f: FileCheck) => void): Promise<VerifyReport>;
  backup(signal: AbortSignal, onEvent: (e: BackupEvent) => void): Promise<BackupResult>;
  /** Where a drill's scratch databases go, for people: DRILL_TARGET's server, or the restore target's. */
  drillWhere: string;
  /** A restore drill of one backup folder on one copy (core/drill): every database, into scratch databases. */
  drill(folder: string, kind: SourceKind, signal: AbortSignal, onEvent: (e: DrillEvent) => void): Promise<DrillReport>;
}

export const RESTORE_DIR_SPEC = { name: 'RESTORE_DIR', flag: 'restore-dir', what: 'a folder', example: '/restore', ifUnset: 'for the default /restore' };

/**
 * Reads every setting the screen needs now, so that a wrong one stops before the screen opens
 * (exit 2). `scope` is one server (settings/servers.ts): its sources, its restore target.
 */
export function createServices(scope: ServerScope): UiServices {
  const { input } = scope;
  const conn: ConnectionSettings = restoreConnection(scope);
  const selected = selectSources(input);
  const all: BackupSource[] = [selected.local, ...selected.destinations];
  const pgBinDir = readPgBinDir(input);
  const restoreDirSet = readPath(input, RESTORE_DIR_SPEC);
  const restoreDir = restoreDirSet ?? '/restore';
  const target = resolveTarget(conn);
  const drill = drillConnection(scope, conn);
  const sourceOf = (kind: SourceKind): BackupSource => {
    const s = all.find((x) => x.kind === kind);
    if (!s) throw new Error(`no ${kind} source`);
    return s;
  };
  const request = (choice: RestoreChoice): RestoreRequest => ({
    source: choice.copy,
    folder: choice.folder,
    type: choice.type,
    database: choice.database,
    targetDatabase: choice.target,
    overwrite: choice.overwrite,
    ...(choice.tables ? { selection: { schemas: [], tables: choice.tables } } : {}),
    restoreDir,
  });
  return {
    ...(scope.name ? { serverName: scope.name } : {}),
    serverWhere: describeServer(conn),
    serverAddress: `${target.host}:${target.port}`,
    restoreDir,
    sources: all.map((s) => ({ kind: s.kind, location: s.location })),
    async inspect() {
      const info = await inspectServer(conn);
      return { version: info.version, superuser: info.superuser, databases: info.databases.map((d) => d.name) };
    },
    list: (kind, signal) => sourceOf(kind).list(signal),
    async plan(choice, entry, signal) {
      const { plan } = await planRestore({ request: request(choice), source: sourceOf(choice.copy), conn, pgBinDir, signal, entries: [entry] });
      return plan;
    },
    async tables(choice, entry, signal) {
      const [file] = filesForRestore(entry, 'database', choice.database);
      const toc = await readSourceToc(sourceOf(choice.copy), entry.folder, file!, signal, `${file} of backup ${entry.folder} on ${choice.copy}`);
      return archiveTables(toc).map(({ schema, name, kind }) => ({ schema, name, kind }));
    },
    drillWhere: drill.where,
    drill: (folder, kind, signal, onEvent) =>
      // Recorded in BACKUP_DIR's run history (status, healthcheck) and notified, as `pg-backups drill`.
      recordedDrill({
        trigger: 'screen',
        backupDir: readLocal(input).backupDir,
        ...(scope.name !== undefined ? { server: scope.name } : {}),
        notify: readNotifySettings(input),
        log: { warn: (message) => onEvent({ type: 'warning', message }), info: () => {} },
        source: sourceOf(kind),
        folder,
        target: drill.conn(),
        // As the command: a private folder inside RESTORE_DIR when it is set, else in the system temp folder.
        ...(restoreDirSet ? { restoreDir: restoreDirSet } : {}),
        pgBinDir,
        signal,
        onEvent,
      }),
    restore: (choice, signal, onEvent) => runRestore({ request: request(choice), source: sourceOf(choice.copy), conn, pgBinDir, signal, onEvent }),
    verify: (kind, entry, signal, onFile) => verifyBackup(sourceOf(kind), entry, { signal, onFile }),
    backup(signal, onEvent) {
      // Read when asked for: a screen opened only to restore needs no BACKUP_* settings.
      const settings = readBackupSettings(input);
      // The backed-up server itself (its BACKUP_<NAME>), even when restores go to another one.
      const source = scope.url ? readConnection(input, scope.url) : conn;
      const notify = readNotifySettings(input);
      // Recorded in the run history like any run (status, healthcheck), and notified like one.
      return recordedBackup({
        trigger: 'backup',
        settings,
        conn: source,
        sources: openBackupTargets(settings),
        signal,
        onEvent,
        onRecord: (record) => notifyRun(notify, { server: scope.name, record }, { signal, log: { warn: (m) => onEvent({ type: 'warning', message: m }), info: () => {} } }),
      });
    },
  };
}

/**
 * The drill's server: DRILL_TARGET, else the restore target. A wrong DRILL_TARGET does not keep the
 * screen from opening for a restore: the screen says what is wrong, and a drill stops with it (exit 2).
 */
function drillConnection(scope: ServerScope, conn: ConnectionSettings): { where: string; conn: () => ConnectionSettings } {
  try {
    const target = drillTarget(scope.input, () => conn);
    const where = target === conn ? describeServer(conn) : `${describeServer(target)} (DRILL_TARGET)`;
    return { where, conn: () => target };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return {
      where: `nowhere: ${err.message}`,
      conn: () => {
        throw err;
      },
    };
  }
}
