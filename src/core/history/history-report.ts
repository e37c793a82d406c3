// What `status` and `healthcheck` read: the run history, the backups in BACKUP_DIR, the next run
// and the health verdict. Needs no server: only the state file and BACKUP_DIR.
import { stat } from 'node:fs/promises';
import { longestInterval, nextRuns, type CronSchedule } from '../schedule/cron-schedule.js';
import type { BackupEntry, BackupSource } from '../source.js';
import { DEFAULT_MAX_AGE_MS, evaluateHealth, type Health } from './health.js';
import type { DrillRecord, RunRecord } from './run-record.js';
import { readRunning, type RunningRun } from './running.js';
import { readRunHistory } from './state-file.js';

export interface HistoryReport {
  backupDir: string;
  /** Newest first. */
  runs: RunRecord[];
  /** The recorded drills (pg-backups drill), newest first. */
  drills: DrillRecord[];
  next?: Date;
  /** The zone of BACKUP_SCHEDULE (TZ), for showing the next run. */
  timezone?: string;
  maxAgeMs: number;
  /** Where the limit comes from, for messages. */
  maxAgeOrigin: 'HEALTHCHECK_MAX_AGE' | 'BACKUP_SCHEDULE' | 'default';
  health: Health;
  /** How old the newest passed drill may be, when drills are judged (DRILL_MAX_AGE, DRILL_SCHEDULE). */
  drillMaxAgeMs?: number;
  /** The run going now (it holds BACKUP_DIR's run lock), if any. */
  running?: RunningRun;
}

export async function historyReport(opts: { backupDir: string; local: BackupSource; schedule?: CronSchedule; maxAgeMs?: number; drillMaxAgeMs?: number; now?: Date }): Promise<HistoryReport> {
  const now = opts.now ?? new Date();
  const { backupDir, schedule } = opts;
  const interval = schedule ? longestInterval(schedule, now) : undefined;
  const maxAgeMs = opts.maxAgeMs ?? (interval !== undefined ? 2 * interval : DEFAULT_MAX_AGE_MS);
  const maxAgeOrigin = opts.maxAgeMs !== undefined ? 'HEALTHCHECK_MAX_AGE' : interval !== undefined ? 'BACKUP_SCHEDULE' : 'default';
  const next = schedule ? nextRuns(schedule, 1, now)[0] : undefined;
  const dirThere = await stat(backupDir).then((s) => s.isDirectory(), () => false);
  const { runs, drills, drillsSince } = dirThere ? await readRunHistory(backupDir) : { runs: [], drills: [], drillsSince: undefined };
  const running = dirThere ? await readRunning(backupDir) : undefined;
  const entries: BackupEntry[] = dirThere ? await opts.local.list() : [];
  const health = dirThere
    ? evaluateHealth({ runs, entries, maxAgeMs, now, drills, ...(drillsSince ? { drillsSince } : {}), ...(opts.drillMaxAgeMs !== undefined ? { drillMaxAgeMs: opts.drillMaxAgeMs } : {}) })
    : { healthy: false, reason: `BACKUP_DIR ${backupDir} does not exist (no backup was ever made there)` };
  return { backupDir, runs: [...runs].reverse(), drills: [...drills].reverse(), ...(next ? { next } : {}), ...(schedule?.timezone ? { timezone: schedule.timezone } : {}), maxAgeMs, maxAgeOrigin, health, ...(opts.drillMaxAgeMs !== undefined ? { drillMaxAgeMs: opts.drillMaxAgeMs } : {}), ...(running ? { running } : {}) };
}

/** The health verdict as JSON, shared by `status --json`, `healthcheck --json` and the HTTP status endpoint. */
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

/** The run going now as JSON (null when none), shared by `status --json` and the HTTP status endpoint. */
export function runningJson(report: HistoryReport): { since: string; pid: number; host: string } | null {
  return report.running ? { since: report.running.since.toISOString(), pid: report.running.pid, host: report.running.host } : null;
}
