// The schedule (TZ, BACKUP_SCHEDULE, with the next three runs shown) and the retention of each
// destination in use (days, and the optional KEEP_DAILY / KEEP_WEEKLY / KEEP_MONTHLY counts).
import { formatRunTime, nextRuns } from '../schedule/cron-schedule.js';
import { readLocal } from '../settings/backup.js';
import { readRemote, readS3 } from '../settings/destinations.js';
import { readInt } from '../settings/read.js';
import { readSchedule } from '../settings/schedule.js';
import { accepted, type Answers } from './answers.js';
import type { Ask } from './ask.js';

export async function scheduleStep(ask: Ask, answers: Answers): Promise<void> {
  ask.say('Schedule: when `pg-backups schedule` (the backup image) makes a backup.');
  const tz = await ask.text('Time zone of the schedule (TZ)', {
    default: answers.get('TZ') ?? 'UTC',
    validate: (v) => accepted(() => readSchedule(answers.input({ TZ: v || undefined }))),
  });
  answers.set('TZ', tz);
  for (;;) {
    const expression = await ask.text('When to back up (BACKUP_SCHEDULE: cron, 5 fields, or 6 with seconds first)', {
      default: answers.get('BACKUP_SCHEDULE') ?? '0 3 * * *',
      validate: (v) => accepted(() => readSchedule(answers.input({ BACKUP_SCHEDULE: v || undefined }))),
    });
    const schedule = readSchedule(answers.input({ BACKUP_SCHEDULE: expression }))!;
    ask.say(`Next runs: ${nextRuns(schedule, 3).map((t) => formatRunTime(t, schedule.timezone)).join(', ')}`);
    if (await ask.yesNo('Use this schedule?', true)) {
      answers.set('BACKUP_SCHEDULE', schedule.expression);
      return;
    }
  }
}

const KEEP = [
  ['KEEP_DAILY', 'day'],
  ['KEEP_WEEKLY', 'ISO week'],
  ['KEEP_MONTHLY', 'month'],
] as const;

export async function retentionStep(ask: Ask, answers: Answers): Promise<void> {
  ask.say('Retention: how long backups stay on each destination (0: never deleted).');
  const days = async (name: string, where: string, dflt: string, read: (v: string) => unknown) =>
    answers.set(name, await ask.text(`Days to keep backups ${where} (${name})`, { default: answers.get(name) ?? dflt, validate: (v) => accepted(() => read(v)) }));
  await days('LOCAL_RETENTION_DAYS', 'in BACKUP_DIR', '1', (v) => readLocal(answers.input({ LOCAL_RETENTION_DAYS: v || undefined })));
  if (answers.get('S3_ENABLED')) await days('S3_RETENTION_DAYS', 'in S3', '7', (v) => readS3(answers.input({ S3_RETENTION_DAYS: v || undefined })));
  if (answers.get('RSYNC_ENABLED')) await days('RSYNC_RETENTION_DAYS', 'on the remote host', '30', (v) => readRemote(answers.input({ RSYNC_RETENTION_DAYS: v || undefined })));
  for (const [name, period] of KEEP) {
    const count = await ask.text(`Besides, keep the newest backup of each of the last N ${period}s (${name}; Enter: not used)`, {
      default: answers.get(name),
      validate: (v) => (v === '' ? true : accepted(() => readInt(answers.input({ [name]: v }), { name }, { min: 0, max: 36500, example: '7' }))),
    });
    answers.set(name, count === '' ? undefined : count);
  }
}
