// The KEEP_* settings (calendar rotation) as flags and help, shared by backup, schedule and prune.
import { PERIODS } from '../core/rotation.js';

/** Flags of the KEEP_* settings (every setting has one; the variables are read by every command). */
export const ROTATION_OPTIONS = Object.fromEntries(
  ['', 'local-', 's3-', 'rsync-'].flatMap((place) => PERIODS.map((period) => [`${place}keep-${period}`, { type: 'string' as const }])),
);

export const ROTATION_HELP = `Calendar rotation, on top of the days (counts; unset or 0 = rule off; UTC; only whole backups count):
  KEEP_DAILY N        the newest backup of each of the N newest days that have a backup
  KEEP_WEEKLY N       the newest of each of the N newest ISO 8601 weeks (Monday-Sunday) that have one
  KEEP_MONTHLY N      the newest of each of the N newest calendar months that have one
  LOCAL_KEEP_*, S3_KEEP_*, RSYNC_KEEP_* (e.g. S3_KEEP_MONTHLY=12) set a rule for one place and win
  over KEEP_* there (0 turns it off there). A backup is deleted only when it is older than the
  place's *_RETENTION_DAYS and no rule of that place keeps it. Days, weeks and months without a
  backup use up no count: a pause in backups never deletes the history. Seed 003's "7 daily +
  4 weekly": KEEP_DAILY=7 KEEP_WEEKLY=4 LOCAL_RETENTION_DAYS=0. Flags: --keep-daily N,
  --local-keep-weekly N, --s3-keep-monthly N, --rsync-keep-daily N, ...`;
