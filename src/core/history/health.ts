// Whether the backups are healthy, from the run history and the backups in BACKUP_DIR alone (no
// server needed): the newest good backup is younger than the limit, and the last run did not fail.
import type { BackupEntry } from '../source.js';
import { newestGoodBackup } from '../retention.js';
import type { DrillRecord, RunRecord } from './run-record.js';

/** Without BACKUP_SCHEDULE: a daily backup may be a little late before it counts as missing. */
export const DEFAULT_MAX_AGE_MS = 25 * 3600 * 1000;

export interface HealthInput {
  runs: RunRecord[];
  /** Drills, oldest first, and how old the newest passed one may be (DRILL_MAX_AGE; unset: drills are not judged). */
  drills?: DrillRecord[];
  drillMaxAgeMs?: number;
  /**
   * Since when drills are scheduled (noted by `schedule`); else the oldest recorded run or drill.
   * Until a drill has passed, the service is given DRILL_MAX_AGE from then.
   */
  drillsSince?: Date;
  /** The backups listed in BACKUP_DIR. */
  entries: BackupEntry[];
  maxAgeMs: number;
  now: Date;
}

export interface Health {
  healthy: boolean;
  /** One line saying why. */
  reason: string;
  newest?: { folder: string; time: Date; ageMs: number };
  /** The last run that ended (a run stopped by a signal does not count: it neither failed nor succeeded). */
  lastRun?: RunRecord;
}

export function evaluateHealth(input: HealthInput): Health {
  const backups = evaluateBackups(input);
  if (!backups.healthy || input.drillMaxAgeMs === undefined) return backups;
  const drills = input.drills ?? [];
  const last = [...drills].reverse().find((d) => d.outcome !== 'stopped');
  if (last && last.outcome !== 'passed') {
    return { ...backups, healthy: false, reason: `the last drill (started ${last.startedAt}) ${last.outcome === 'differences' ? 'found row counts that differ' : last.outcome === 'damaged' ? 'found a damaged backup' : 'failed'}: ${last.error ?? 'no reason recorded'}` };
  }
  const passed = [...drills].reverse().find((d) => d.outcome === 'passed');
  const limit = `DRILL_MAX_AGE ${formatDuration(input.drillMaxAgeMs)}`;
  if (!passed) {
    const since = input.drillsSince ?? oldestRecorded([...input.runs, ...drills]);
    const waited = since ? Math.max(0, input.now.getTime() - since.getTime()) : 0;
    if (waited > input.drillMaxAgeMs) return { ...backups, healthy: false, reason: `no drill has passed in the ${formatDuration(waited)} since drills began (${limit})` };
    return { ...backups, reason: `${backups.reason}; no drill has passed yet, and drills began ${formatDuration(waited)} ago, within ${limit}` };
  }
  const age = Math.max(0, input.now.getTime() - Date.parse(passed.finishedAt));
  if (age > input.drillMaxAgeMs) return { ...backups, healthy: false, reason: `the newest passed drill ended ${formatDuration(age)} ago, longer than ${limit}` };
  return { ...backups, reason: `${backups.reason}; the newest drill passed ${formatDuration(age)} ago (${limit})` };
}

function oldestRecorded(records: Array<{ startedAt: string }>): Date | undefined {
  const times = records.map((r) => Date.parse(r.startedAt)).filter((t) => !Number.isNaN(t));
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

function evaluateBackups(input: HealthInput): Health {
  const { runs, maxAgeMs, now } = input;
  const lastRun = [...runs].reverse().find((r) => r.outcome !== 'stopped');
  const good = newestGoodBackup(input.entries, now);
  const newest = good ? { folder: good.folder, time: good.time, ageMs: Math.max(0, now.getTime() - good.time.getTime()) } : undefined;
  const limit = `HEALTHCHECK_MAX_AGE ${formatDuration(maxAgeMs)}`;
  const base = { ...(newest ? { newest } : {}), ...(lastRun ? { lastRun } : {}) };
  if (lastRun?.outcome === 'failed') {
    return { healthy: false, reason: `the last run (started ${lastRun.startedAt}) failed: ${lastRun.error ?? 'no reason recorded'}`, ...base };
  }
  if (!newest) return { healthy: false, reason: 'no finished backup in BACKUP_DIR yet', ...base };
  if (newest.ageMs > maxAgeMs) {
    return { healthy: false, reason: `the newest good backup, ${newest.folder}, is ${formatDuration(newest.ageMs)} old, older than ${limit}`, ...base };
  }
  return { healthy: true, reason: `the newest good backup, ${newest.folder}, is ${formatDuration(newest.ageMs)} old (${limit})${lastRun ? '; the last run succeeded' : ''}`, ...base };
}

/** `1d 2h`, `25h`, `3m 5s`: the two largest units. */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}
