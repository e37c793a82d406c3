// Settings of `pg-backups schedule`, `status` and `healthcheck`: BACKUP_SCHEDULE (in TZ),
// BACKUP_ON_START and HEALTHCHECK_MAX_AGE, as plain data.
import { UsageError, messageOf } from '../errors.js';
import { compileSchedule, longestInterval, type CronSchedule } from '../schedule/cron-schedule.js';
import { assignment, readBool, readRaw, type SettingInput } from './read.js';

export const SCHEDULE_EXAMPLE = "'0 3 * * *'";

/** BACKUP_SCHEDULE (or DRILL_SCHEDULE) with TZ, checked; undefined when unset. */
export function readSchedule(input: SettingInput, name: 'BACKUP_SCHEDULE' | 'DRILL_SCHEDULE' = 'BACKUP_SCHEDULE'): CronSchedule | undefined {
  const timezone = readTimezone(input);
  const raw = readRaw(input, { name, ...(name === 'BACKUP_SCHEDULE' ? { flag: 'schedule' } : { flag: 'drill-schedule' }), what: 'a cron expression', example: '0 3 * * *' });
  if (!raw) return undefined;
  const expression = raw.value.trim().replace(/\s+/g, ' ');
  const fields = expression.split(' ').length;
  const hint = `use 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), e.g. ${assignment(raw.origin, '0 3 * * *')} (03:00 every day) or ${assignment(raw.origin, '*/30 * * * * *')} (every 30 seconds)`;
  if (fields !== 5 && fields !== 6) {
    throw new UsageError(`${assignment(raw.origin, raw.value)} has ${fields} field${fields === 1 ? '' : 's'}; ${hint}`);
  }
  const schedule: CronSchedule = { expression, ...(timezone ? { timezone } : {}) };
  try {
    const cron = compileSchedule(schedule);
    const next = cron.nextRun();
    cron.stop();
    if (!next) throw new Error('it never fires');
  } catch (err) {
    throw new UsageError(`${assignment(raw.origin, raw.value)} is not a cron expression pg-backups can use (${messageOf(err)}); ${hint}`);
  }
  return schedule;
}

/** TZ, when set: an IANA zone name such as Europe/Berlin. */
function readTimezone(input: SettingInput): string | undefined {
  const raw = readRaw(input, { name: 'TZ', what: 'a time zone', example: 'Europe/Berlin', ifUnset: "for the machine's local time" });
  if (!raw) return undefined;
  const zone = raw.value.trim().replace(/^:/, '');
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new UsageError(`TZ=${JSON.stringify(raw.value)} is not a time zone; give an IANA name, e.g. TZ=Europe/Berlin or TZ=UTC`);
  }
  return zone;
}

export function readOnStart(input: SettingInput): boolean {
  return readBool(input, { name: 'BACKUP_ON_START', flag: 'on-start' }, true);
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** HEALTHCHECK_MAX_AGE (or DRILL_MAX_AGE) in milliseconds: `25h`, `90m`, `2d`, `1h30m`, or seconds (`3600`); undefined when unset. */
export function readMaxAge(input: SettingInput, name: 'HEALTHCHECK_MAX_AGE' | 'DRILL_MAX_AGE' = 'HEALTHCHECK_MAX_AGE'): number | undefined {
  const raw = readRaw(input, {
    name,
    flag: name === 'HEALTHCHECK_MAX_AGE' ? 'max-age' : 'drill-max-age',
    what: 'a duration',
    example: '25h',
    ifUnset: name === 'HEALTHCHECK_MAX_AGE' ? 'for twice the interval of BACKUP_SCHEDULE (25h without one)' : 'for twice the interval of DRILL_SCHEDULE (no drill check without one)',
  });
  if (!raw) return undefined;
  const text = raw.value.trim().toLowerCase();
  let seconds = 0;
  if (/^\d+$/.test(text)) seconds = Number(text);
  else if (/^(\d+[smhdw])+$/.test(text)) {
    for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(n) * UNITS[unit!]!;
  } else {
    throw new UsageError(`${assignment(raw.origin, raw.value)} is not a duration; use a number with s, m, h, d or w (or plain seconds), e.g. ${assignment(raw.origin, '25h')}`);
  }
  if (seconds <= 0) throw new UsageError(`${assignment(raw.origin, raw.value)} is not a positive duration; e.g. ${assignment(raw.origin, '25h')}`);
  return seconds * 1000;
}

/**
 * How old the newest passed drill may be, when drills are judged: DRILL_MAX_AGE, else twice the
 * longest interval of DRILL_SCHEDULE; undefined (drills not judged) when neither is set.
 */
export function readDrillMaxAge(input: SettingInput, now = new Date()): number | undefined {
  const set = readMaxAge(input, 'DRILL_MAX_AGE');
  if (set !== undefined) return set;
  const drillSchedule = readSchedule(input, 'DRILL_SCHEDULE');
  const interval = drillSchedule ? longestInterval(drillSchedule, now) : undefined;
  return interval !== undefined ? 2 * interval : undefined;
}
