// BACKUP_SCHEDULE as a plain value: a cron expression (5 fields, or 6 with seconds first) in a time
// zone (TZ, else the machine's), and when it fires next. croner does the calendar work, DST included.
import { Cron } from 'croner';

export interface CronSchedule {
  expression: string;
  /** The IANA zone the expression is read in (TZ), or undefined for the machine's local time. */
  timezone?: string;
}

/** Throws croner's own error for an expression it cannot read. */
export function compileSchedule(schedule: CronSchedule): Cron {
  return new Cron(schedule.expression, { paused: true, mode: '5-or-6-parts', ...(schedule.timezone ? { timezone: schedule.timezone } : {}) });
}

/** The next `count` run times after `from`. */
export function nextRuns(schedule: CronSchedule, count: number, from: Date = new Date()): Date[] {
  const cron = compileSchedule(schedule);
  try {
    return cron.nextRuns(count, from);
  } finally {
    cron.stop();
  }
}

/** The longest gap between two of the next runs (weekday-only schedules have a longer weekend gap). */
export function longestInterval(schedule: CronSchedule, from: Date = new Date()): number | undefined {
  const runs = nextRuns(schedule, 32, from);
  let longest: number | undefined;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest ?? 0, runs[i]!.getTime() - runs[i - 1]!.getTime());
  return longest;
}

/** A run time as the operator reads it: local time in the schedule's zone with its UTC offset. */
export function formatRunTime(time: Date, timezone?: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(time);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const offset = get('timeZoneName').replace(/^GMT$/, 'GMT+00:00').replace(/^GMT/, '');
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')} ${offset}${timezone ? ` (${timezone})` : ''}`;
}
