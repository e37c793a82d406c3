// What `status` and `healthcheck` share: their options and settings, read into one history report
// per server (the one libpq server, or every BACKUP_<NAME> server, or the one --server names).
import { ExternalError } from '../core/errors.js';
import type { HistoryReport } from '../core/history/history-report.js';
import { readStatusSnapshot, type StatusSnapshot } from '../core/service/status-snapshot.js';
import { readLocal } from '../core/settings/backup.js';
import { readDrillMaxAge, readMaxAge, readSchedule } from '../core/settings/schedule.js';
import { LocalSource } from '../sources/local.js';
import { settingInput, type CommandContext } from './command.js';
import { SERVER_OPTION, commandScopes } from './server-option.js';

export const HISTORY_OPTIONS = {
  'backup-dir': { type: 'string' },
  schedule: { type: 'string' },
  'max-age': { type: 'string' },
  'drill-schedule': { type: 'string' },
  'drill-max-age': { type: 'string' },
  ...SERVER_OPTION,
} as const;

export const HISTORY_HELP = `  --backup-dir DIR    BACKUP_DIR (default /backups): where the backups and the run history are
  --schedule EXPR     BACKUP_SCHEDULE (cron, in TZ), as given to \`pg-backups schedule\`: for the next run
                      and the default HEALTHCHECK_MAX_AGE
  --max-age AGE       HEALTHCHECK_MAX_AGE: how old the newest good backup may be, e.g. 25h, 90m, 2d,
                      1h30m or plain seconds (default: twice the longest interval of BACKUP_SCHEDULE,
                      e.g. 12h for '0 */6 * * *'; 25h without a schedule)
  --drill-max-age AGE DRILL_MAX_AGE: with it (or with DRILL_SCHEDULE, default twice its longest interval)
                      the health also needs the last drill (pg-backups drill) to have passed, and the
                      newest passed one to be younger than this
  --server NAME       with several servers (BACKUP_<NAME>=postgresql://...): only this one; without it,
                      every server, each from its own <BACKUP_DIR>/<name>/ (healthy only when all are)`;

/** Every server's report, read afresh; `named` is false for the one libpq server (today's output). */
export async function readHistorySnapshot(ctx: CommandContext): Promise<{ snapshot: StatusSnapshot; named: boolean }> {
  const input = settingInput(ctx);
  const scopes = commandScopes(ctx, input);
  const schedule = readSchedule(input);
  const maxAgeMs = readMaxAge(input);
  // Drills are judged when they are scheduled (DRILL_SCHEDULE: twice its longest interval) or DRILL_MAX_AGE is set.
  const drillMaxAgeMs = readDrillMaxAge(input);
  const snapshot = await readStatusSnapshot({
    targets: scopes.map((scope) => ({ ...(scope.name !== undefined ? { name: scope.name } : {}), backupDir: readLocal(scope.input).backupDir })),
    openLocal: (dir) => new LocalSource(dir),
    now: new Date(),
    ...(schedule ? { schedule } : {}),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
    ...(drillMaxAgeMs !== undefined ? { drillMaxAgeMs } : {}),
  });
  return { snapshot, named: scopes.some((s) => s.name !== undefined) };
}

/** The one libpq server's report (its read error is the command's). */
export function onlyReport(snapshot: StatusSnapshot): HistoryReport {
  const target = snapshot.targets[0]!;
  if (!target.report) throw new ExternalError(target.error ?? target.reason);
  return target.report;
}

export { healthJson } from '../core/history/history-report.js';
