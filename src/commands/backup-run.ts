// A backup run as `backup` and `schedule` start it: settings read and checked once, up front; each
// run logs its events on stderr and records its outcome in the run history.
import type { BackupResult } from '../core/backup/backup-service.js';
import { recordedBackup } from '../core/history/recorded-backup.js';
import type { RunRecord } from '../core/history/run-record.js';
import { readBackupSettings } from '../core/settings/backup.js';
import { readConnection } from '../core/settings/connection.js';
import type { SettingInput } from '../core/settings/read.js';
import { openBackupTargets } from '../sources/open.js';
import { logBackupEvent } from './backup-events.js';
import type { CommandContext } from './command.js';
import { progressLogger, readProgressInterval } from './progress-log.js';

export type BackupRunner = (trigger: RunRecord['trigger']) => Promise<BackupResult>;

/** Reads the settings of a backup run (throwing on a bad one) and returns what starts a run. */
export function prepareBackupRun(ctx: CommandContext, input: SettingInput): BackupRunner {
  const settings = readBackupSettings(input);
  const conn = readConnection(input);
  const logProgress = progressLogger(ctx.out, readProgressInterval(input));
  return (trigger) =>
    recordedBackup({
      trigger,
      settings,
      conn,
      sources: openBackupTargets(settings),
      signal: ctx.signal,
      onEvent: (e) => (e.type === 'progress' ? logProgress(e.progress) : logBackupEvent(ctx.out, e)),
      onHistoryError: (m) => ctx.out.warn(`the run history was not updated: ${m}`),
    });
}
