// Which backups a retention of N days deletes. Pure logic, shared by every destination.
// Promises:
// - only whole pg-backups backups (status "finished": valid manifest, every file present with its
//   recorded size) are candidates; incomplete, legacy, damaged and foreign folders are never touched;
// - a folder dated in the future (beyond CLOCK_SKEW_MS) is never a candidate and never counts as
//   the newest: a folder once written under a wrong clock cannot make the real backups look old;
// - the newest whole backup that is not in the future is always kept, whatever its age;
// - folders named in `keep` (the backup a run has just written) are always kept;
// - a backup older than the days is still kept while a KEEP_DAILY/WEEKLY/MONTHLY rule keeps it
//   (rotation.ts); only good backups count for the rules.
import { describeRules, keptByRules, type KeepRule } from './rotation.js';
import type { BackupEntry } from './source.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** How far in the future a folder's time may be and still count as now (clocks of several hosts differ a little). */
export const CLOCK_SKEW_MS = 15 * 60 * 1000;

/** Whether a folder's time lies further in the future than clock skew explains. */
export function isFuture(time: Date, now: Date): boolean {
  return time.getTime() > now.getTime() + CLOCK_SKEW_MS;
}

/** A whole backup made by pg-backups, dated no later than now (plus the skew allowance). */
export function isGoodBackup(entry: BackupEntry, now: Date): boolean {
  return entry.status === 'finished' && !isFuture(entry.time, now); // finished: a manifest that passed its check
}

/** The newest good backup (see isGoodBackup), or undefined. */
export function newestGoodBackup(entries: BackupEntry[], now: Date): BackupEntry | undefined {
  return entries.filter((e) => isGoodBackup(e, now)).sort((a, b) => b.time.getTime() - a.time.getTime())[0];
}

/** What retention does to a place's backups, with the reasons, for logs and --dry-run. */
export interface RetentionPlan {
  /** The backups to delete, newest first. */
  expired: BackupEntry[];
  /** Why each expired backup goes, by folder: "40 days old, past S3_RETENTION_DAYS=7, kept by no rule of KEEP_DAILY=7". */
  reasons: Map<string, string>;
  /** Backups past the days that a KEEP rule keeps, by folder, with the rules. */
  keptByRule: Map<string, string[]>;
}

export interface RetentionPolicy {
  days: number;
  /** The setting the days come from, for the reasons: S3_RETENTION_DAYS... (default "the retention"). */
  daysSetting?: string;
  /** KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY rules in force (none: days only). */
  rules?: readonly KeepRule[];
}

/**
 * A good backup goes when it is older than the days AND no KEEP rule keeps it; never the newest good
 * backup, nor one named in `keep`.
 */
export function retentionPlan(entries: BackupEntry[], policy: RetentionPolicy, now: Date, keep: readonly string[] = []): RetentionPlan {
  const good = entries.filter((e) => isGoodBackup(e, now));
  const newest = newestGoodBackup(entries, now);
  const rules = policy.rules ?? [];
  const byRule = keptByRules(good, rules);
  const cutoff = now.getTime() - policy.days * DAY_MS;
  const past = good.filter((e) => e !== newest && !keep.includes(e.folder) && e.time.getTime() < cutoff).sort((a, b) => b.time.getTime() - a.time.getTime());
  const expired = past.filter((e) => !byRule.has(e.folder));
  const days = `past ${policy.daysSetting ?? 'the retention'}=${policy.days}`;
  const rulesText = rules.length > 0 ? `, kept by no rule of ${describeRules(rules)}` : '';
  return {
    expired,
    reasons: new Map(expired.map((e) => [e.folder, `${Math.floor((now.getTime() - e.time.getTime()) / DAY_MS)} days old, ${days}${rulesText}`])),
    keptByRule: new Map(past.filter((e) => byRule.has(e.folder)).map((e) => [e.folder, byRule.get(e.folder)!])),
  };
}

export function expiredBackups(entries: BackupEntry[], retentionDays: number, now: Date, keep: readonly string[] = [], rules: readonly KeepRule[] = []): BackupEntry[] {
  return retentionPlan(entries, { days: retentionDays, rules }, now, keep).expired;
}
