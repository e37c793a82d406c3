// What `status` and `healthcheck` read: the run history, the backups in BACKUP_DIR, the next run
// and the health verdict. Needs no server: only the state file and BACKUP_DIR.
import { stat } from 'node:fs/promises';
import { longestInterval, nextRuns, type CronSchedule } from '../schedule/cron-schedule.js';
import type { BackupEntry, BackupSource } from '../source.js';
import { DEFAULT_MAX_AGE_MS, evaluateHealth, type Health } from './health.js';
import type { RunRecord } from './run-record.js';
import { readHistory } from './state-file.js';

export interface HistoryReport {
  backupDir: string;
  /** Newest first. */
  runs: RunRecord[];
  next?: Date;
  /** The zone of BACKUP_SCHEDULE (TZ), for showing the next run. */
  timezone?: string;
  maxAgeMs: number;
  /** Where the limit comes from, for messages. */
  maxAgeOrigin: 'HEALTHCHECK_MAX_AGE' | 'BACKUP_SCHEDULE' | 'default';
  health: Health;
}

export async function historyReport(opts: { backupDir: string; local: BackupSource; schedule?: CronSchedule; maxAgeMs?: number; now?: Date }): Promise<HistoryReport> {
  const now = opts.now ?? new Date();
  const { backupDir, schedule } = opts;
  const interval = schedule ? longestInterval(schedule, now) : undefined;
  const maxAgeMs = opts.maxAgeMs ?? (interval !== undefined ? 2 * interval : DEFAULT_MAX_AGE_MS);
  const maxAgeOrigin = opts.maxAgeMs !== undefined ? 'HEALTHCHECK_MAX_AGE' : interval !== undefined ? 'BACKUP_SCHEDULE' : 'default';
  const next = schedule ? nextRuns(schedule, 1, now)[0] : undefined;
  const dirThere = await stat(backupDir).then((s) => s.isDirectory(), () => false);
  const runs = dirThere ? await readHistory(backupDir) : [];
  const entries: BackupEntry[] = dirThere ? await opts.local.list() : [];
  const health = dirThere
    ? evaluateHealth({ runs, entries, maxAgeMs, now })
    : { healthy: false, reason: `BACKUP_DIR ${backupDir} does not exist (no backup was ever made there)` };
  return { backupDir, runs: [...runs].reverse(), ...(next ? { next } : {}), ...(schedule?.timezone ? { timezone: schedule.timezone } : {}), maxAgeMs, maxAgeOrigin, health };
}
