// What `pg-backups drill` and DRILL_SCHEDULE share: one server's drill settings read and checked up
// front (the source, DRILL_*, the target, BACKUP_DIR for the history, notifications), and the start
// of a drill that is recorded and notified (core/drill/recorded-drill.ts).
import type { DrillEvent, DrillReport } from '../core/drill/drill-service.js';
import { recordedDrill } from '../core/drill/recorded-drill.js';
import type { DrillRecord } from '../core/history/run-record.js';
import { readLocal, readPgBinDir } from '../core/settings/backup.js';
import { drillTarget, readDrillSettings, type DrillSettings } from '../core/settings/drill.js';
import { readNotifySettings } from '../core/settings/notify.js';
import { restoreConnection, type ServerScope } from '../core/settings/servers.js';
import type { CommandContext } from './command.js';
import { selectSources } from './sources.js';

export interface DrillStart {
  trigger: DrillRecord['trigger'];
  /** Default: the folder the settings name (RESTORE_FOLDER, else latest). */
  folder?: string;
  signal: AbortSignal;
  onEvent: (e: DrillEvent) => void;
  log: { warn(message: string): void; info(message: string): void };
}

export interface PreparedDrill {
  scope: ServerScope;
  settings: DrillSettings;
  /** Whose run history records the drills. */
  backupDir: string;
  start(opts: DrillStart): Promise<DrillReport>;
}

/** Throws on a bad setting of this server, before anything starts. */
export function prepareDrill(ctx: CommandContext, scope: ServerScope): PreparedDrill {
  const sources = selectSources(scope.input);
  const all = [sources.local, ...sources.destinations];
  const settings = readDrillSettings(scope.input, all.map((s) => s.kind));
  const target = drillTarget(scope.input, () => restoreConnection(scope));
  const backupDir = readLocal(scope.input).backupDir;
  const pgBinDir = readPgBinDir(scope.input);
  const notify = readNotifySettings(scope.input);
  // Downloads go into RESTORE_DIR when it is given, else into the system temp folder.
  const restoreDirGiven = typeof ctx.flags['restore-dir'] === 'string' || ctx.env.RESTORE_DIR !== undefined;
  return {
    scope,
    settings,
    backupDir,
    start: (opts) =>
      recordedDrill({
        trigger: opts.trigger,
        backupDir,
        ...(scope.name !== undefined ? { server: scope.name } : {}),
        notify,
        log: opts.log,
        source: all.find((s) => s.kind === settings.source)!,
        folder: opts.folder ?? settings.folder,
        ...(settings.databases ? { databases: settings.databases } : {}),
        target,
        ...(restoreDirGiven ? { restoreDir: settings.restoreDir } : {}),
        pgBinDir,
        signal: opts.signal,
        onEvent: opts.onEvent,
      }),
  };
}
