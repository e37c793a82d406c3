// Which backups a retention of N days deletes. Pure logic, shared by every destination.
// Promises:
// - only whole pg-backups backups (status "finished": valid manifest, every file present with its
//   recorded size) are candidates; incomplete, legacy, damaged and foreign folders are never touched;
// - a folder dated in the future (beyond CLOCK_SKEW_MS) is never a candidate and never counts as
//   the newest: a folder once written under a wrong clock cannot make the real backups look old;
// - the newest whole backup that is not in the future is always kept, whatever its age;
// - folders named in `keep` (the backup a run has just written) are always kept.
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

export function expiredBackups(entries: BackupEntry[], retentionDays: number, now: Date, keep: readonly string[] = []): BackupEntry[] {
  const newest = newestGoodBackup(entries, now);
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  return entries
    .filter((e) => isGoodBackup(e, now) && e !== newest && !keep.includes(e.folder) && e.time.getTime() < cutoff)
    .sort((a, b) => b.time.getTime() - a.time.getTime());
}
