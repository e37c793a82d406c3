// Calendar rotation (KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY): which backups the rules keep. Pure logic
// over folder times, all in UTC (the time a folder name stands for).
// - KEEP_DAILY=n keeps the newest backup of each of the n newest UTC days that have a backup;
// - KEEP_WEEKLY=n the newest of each of the n newest ISO 8601 weeks that have one (weeks start on
//   Monday; week 1 of a year is the week holding its first Thursday, so 2026-12-28..2027-01-03 is
//   2026-W53 and 2024-12-30 is in 2025-W01);
// - KEEP_MONTHLY=n the newest of each of the n newest calendar months that have one.
// Periods without a backup do not use up a count: a pause in backups never deletes the history.
// Each rule counts on its own: one backup may be kept by several rules.
// The caller passes only good backups (retention.ts: isGoodBackup); the rules never see the others.

export type Period = 'daily' | 'weekly' | 'monthly';

export const PERIODS: readonly Period[] = ['daily', 'weekly', 'monthly'];

export interface KeepRule {
  period: Period;
  /** How many periods (1 or more; a rule of 0 is off and not listed). */
  count: number;
  /** The setting it comes from, for messages: KEEP_DAILY, S3_KEEP_WEEKLY... */
  setting: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The ISO 8601 week of a UTC time: its week-numbering year and week (1..53). */
export function isoWeek(time: Date): { year: number; week: number } {
  const day = Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate());
  const weekday = new Date(day).getUTCDay() || 7; // Monday 1 .. Sunday 7
  const thursday = new Date(day + (4 - weekday) * DAY_MS); // the week's Thursday decides its year
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS / 7) + 1;
  return { year, week };
}

/** The period a UTC time falls in: 2026-11-30 (daily), 2026-W49 (weekly), 2026-11 (monthly). */
export function periodOf(time: Date, period: Period): string {
  const ymd = [time.getUTCFullYear(), pad(time.getUTCMonth() + 1), pad(time.getUTCDate())];
  if (period === 'daily') return ymd.join('-');
  if (period === 'monthly') return `${ymd[0]}-${ymd[1]}`;
  const { year, week } = isoWeek(time);
  return `${year}-W${pad(week)}`;
}

/**
 * The backups the rules keep, each with why ("KEEP_WEEKLY: newest of 2026-W49"; several lines when
 * several rules keep it). `backups` are good backups only; their order does not matter.
 */
export function keptByRules<T extends { folder: string; time: Date }>(backups: readonly T[], rules: readonly KeepRule[]): Map<string, string[]> {
  const kept = new Map<string, string[]>();
  const newestFirst = [...backups].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.folder < b.folder ? 1 : -1));
  for (const rule of rules) {
    let left = rule.count;
    let last: string | undefined;
    for (const backup of newestFirst) {
      if (left <= 0) break;
      const period = periodOf(backup.time, rule.period);
      if (period === last) continue; // an older backup of a period already kept
      last = period;
      left--;
      kept.set(backup.folder, [...(kept.get(backup.folder) ?? []), `${rule.setting}: newest of ${period}`]);
    }
  }
  return kept;
}

/** "KEEP_DAILY=7, S3_KEEP_WEEKLY=4", or "" without rules. */
export function describeRules(rules: readonly KeepRule[]): string {
  return rules.map((r) => `${r.setting}=${r.count}`).join(', ');
}
