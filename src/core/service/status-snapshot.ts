// What the HTTP status endpoint answers from: each backed-up server's history report (run history,
// backups in its BACKUP_DIR, health verdict, the run going now), read afresh for every request, and
// one verdict over all of them: healthy only when every server is.
import { describeError } from '../errors.js';
import { historyReport, type HistoryReport } from '../history/history-report.js';
import { nextRuns, type CronSchedule } from '../schedule/cron-schedule.js';
import type { BackupSource } from '../source.js';

/** One backed-up server: its own BACKUP_DIR (BACKUP_DIR/<name> with several) and run history. */
export interface StatusTarget {
  /** Unset for the one server given the libpq way. */
  name?: string;
  backupDir: string;
}

export interface TargetStatus {
  target: StatusTarget;
  /** Absent when the history or BACKUP_DIR could not be read (`error` says why). */
  report?: HistoryReport;
  error?: string;
  healthy: boolean;
  reason: string;
}

export interface StatusSnapshot {
  now: Date;
  schedule?: CronSchedule;
  next?: Date;
  healthy: boolean;
  reason: string;
  targets: TargetStatus[];
}

export interface SnapshotOptions {
  targets: StatusTarget[];
  /** The listing of a BACKUP_DIR (a LocalSource). */
  openLocal: (backupDir: string) => BackupSource;
  schedule?: CronSchedule;
  maxAgeMs?: number;
  /** DRILL_MAX_AGE (or twice DRILL_SCHEDULE's interval): drills are judged too. */
  drillMaxAgeMs?: number;
  now: Date;
}

export async function readStatusSnapshot(opts: SnapshotOptions): Promise<StatusSnapshot> {
  const { now, schedule } = opts;
  const targets = await Promise.all(opts.targets.map((target) => readTarget(target, opts)));
  const next = schedule ? nextRuns(schedule, 1, now)[0] : undefined;
  return { now, ...(schedule ? { schedule } : {}), ...(next ? { next } : {}), ...combinedHealth(targets), targets };
}

async function readTarget(target: StatusTarget, opts: SnapshotOptions): Promise<TargetStatus> {
  try {
    const report = await historyReport({
      backupDir: target.backupDir,
      local: opts.openLocal(target.backupDir),
      now: opts.now,
      ...(opts.schedule ? { schedule: opts.schedule } : {}),
      ...(opts.maxAgeMs !== undefined ? { maxAgeMs: opts.maxAgeMs } : {}),
      ...(opts.drillMaxAgeMs !== undefined ? { drillMaxAgeMs: opts.drillMaxAgeMs } : {}),
    });
    return { target, report, healthy: report.health.healthy, reason: report.health.reason };
  } catch (err) {
    const error = describeError(err);
    return { target, error, healthy: false, reason: `cannot read the run history or the backups: ${error}` };
  }
}

/** How a server is named in messages: its name, else its BACKUP_DIR. */
export function targetLabel(target: StatusTarget): string {
  return target.name ?? target.backupDir;
}

/** One server: its own verdict and reason, word for word as `healthcheck` says them. */
function combinedHealth(targets: TargetStatus[]): { healthy: boolean; reason: string } {
  if (targets.length === 1) return { healthy: targets[0]!.healthy, reason: targets[0]!.reason };
  if (targets.length === 0) return { healthy: false, reason: 'no server is backed up' };
  const sick = targets.filter((t) => !t.healthy);
  if (sick.length === 0) return { healthy: true, reason: `every server is healthy (${targets.map((t) => targetLabel(t.target)).join(', ')})` };
  return { healthy: false, reason: sick.map((t) => `${targetLabel(t.target)}: ${t.reason}`).join('; ') };
}
