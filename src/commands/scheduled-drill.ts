// DRILL_SCHEDULE's drill inside `pg-backups schedule`: the same drill as `pg-backups drill` (the
// newest finished backup of BACKUP_DIR, or RESTORE_SOURCE's), recorded in the run history with
// trigger "schedule". One server given the libpq way only, for now.
import { drillRecord, saveDrill } from '../core/drill/drill-record.js';
import { runDrill } from '../core/drill/drill-service.js';
import { messageOf, UsageError } from '../core/errors.js';
import { readLocal, readPgBinDir } from '../core/settings/backup.js';
import { drillTarget, readDrillSettings } from '../core/settings/drill.js';
import { restoreConnection } from '../core/settings/servers.js';
import type { CommandContext } from './command.js';
import type { ServerRunner } from './server-runs.js';
import { selectSources } from './sources.js';

/** The drill run of the scheduler; settings are checked now, before the service starts. */
export function prepareScheduledDrill(ctx: CommandContext, runners: ServerRunner[]): (signal: AbortSignal) => Promise<boolean> {
  if (runners.length !== 1 || runners[0]!.scope.name !== undefined) {
    throw new UsageError('DRILL_SCHEDULE works with one server given the libpq way for now, not with several BACKUP_<NAME> servers; unset DRILL_SCHEDULE and run pg-backups drill --server NAME from cron instead');
  }
  const scope = runners[0]!.scope;
  const sources = selectSources(scope.input);
  const all = [sources.local, ...sources.destinations];
  const settings = readDrillSettings(scope.input, all.map((s) => s.kind));
  const target = drillTarget(scope.input, () => restoreConnection(scope));
  const backupDir = readLocal(scope.input).backupDir;
  return async (signal) => {
    ctx.out.log('scheduled drill');
    const report = await runDrill({
      source: all.find((s) => s.kind === settings.source)!,
      folder: 'latest',
      databases: settings.databases,
      target,
      pgBinDir: readPgBinDir(scope.input),
      signal,
      onEvent: (e) => {
        if (e.type === 'step') ctx.out.log(`drill: ${e.message}`);
        else if (e.type === 'warning') ctx.out.warn(`drill: ${e.message}`);
      },
    });
    const record = drillRecord(report, 'schedule', signal.aborted);
    await saveDrill(backupDir, record).catch((err) => ctx.out.warn(`the drill could not be recorded in the run history: ${messageOf(err)}`));
    const line = `drill of ${report.folder}: ${record.outcome} (${record.databases} database(s), ${record.tablesChecked} table(s) checked${record.differences > 0 ? `, ${record.differences} difference(s)` : ''})${record.error ? `: ${record.error}` : ''}`;
    if (report.ok) ctx.out.log(line);
    else ctx.out.error(line);
    return report.ok;
  };
}
