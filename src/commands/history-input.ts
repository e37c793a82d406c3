// What `status` and `healthcheck` share: their options and settings, read into a history report.
import { historyReport, type HistoryReport } from '../core/history/history-report.js';
import type { Health } from '../core/history/health.js';
import { readLocal } from '../core/settings/backup.js';
import { readMaxAge, readSchedule } from '../core/settings/schedule.js';
import { LocalSource } from '../sources/local.js';
import { settingInput, type CommandContext } from './command.js';

export const HISTORY_OPTIONS = {
  'backup-dir': { type: 'string' },
  schedule: { type: 'string' },
  'max-age': { type: 'string' },
} as const;

export const HISTORY_HELP = `  --backup-dir DIR    BACKUP_DIR (default /backups): where the backups and the run history are
  --schedule EXPR     BACKUP_SCHEDULE (cron, in TZ), as given to \`pg-backups schedule\`: for the next run
                      and the default HEALTHCHECK_MAX_AGE
  --max-age AGE       HEALTHCHECK_MAX_AGE: how old the newest good backup may be, e.g. 25h, 90m, 2d,
                      1h30m or plain seconds (default: twice the longest interval of BACKUP_SCHEDULE,
                      e.g. 12h for '0 */6 * * *'; 25h without a schedule)`;

export function readHistoryReport(ctx: CommandContext): Promise<HistoryReport> {
  const input = settingInput(ctx);
  const { backupDir } = readLocal(input);
  const schedule = readSchedule(input);
  const maxAgeMs = readMaxAge(input);
  return historyReport({ backupDir, local: new LocalSource(backupDir), ...(schedule ? { schedule } : {}), ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) });
}

/** The health verdict as JSON, shared by `status --json` and `healthcheck --json`. */
export function healthJson(report: HistoryReport): { healthy: boolean; reason: string; maxAgeSeconds: number; maxAgeFrom: HistoryReport['maxAgeOrigin']; newest: { folder: string; time: string; ageSeconds: number } | null } {
  const health: Health = report.health;
  return {
    healthy: health.healthy,
    reason: health.reason,
    maxAgeSeconds: Math.round(report.maxAgeMs / 1000),
    maxAgeFrom: report.maxAgeOrigin,
    newest: health.newest ? { folder: health.newest.folder, time: health.newest.time.toISOString(), ageSeconds: Math.round(health.newest.ageMs / 1000) } : null,
  };
}
