// A backup run as `backup` and `schedule` start it: settings read and checked once, up front; each
// run logs its events on stderr and records its outcome in the run history.
import type { BackupResult } from '../core/backup/backup-service.js';
import { recordedBackup } from '../core/history/recorded-backup.js';
import type { RunRecord } from '../core/history/run-record.js';
import { readBackupSettings } from '../core/settings/backup.js';
import { readNotifySettings } from '../core/settings/notify.js';
import { notifyRun } from '../core/notify/notify-run.js';
import { backupConnection, serverPrefix, type ServerScope } from '../core/settings/servers.js';
import { openBackupTargets } from '../sources/open.js';
import { logBackupEvent } from './backup-events.js';
import type { CommandContext } from './command.js';
import { prefixedOutput } from './output.js';
import { progressLogger, readProgressInterval } from './progress-log.js';

export type BackupRunner = (trigger: RunRecord['trigger']) => Promise<BackupResult>;

/**
 * Reads the settings of one server's backup runs (throwing on a bad one) and returns what starts a
 * run; the log lines of one of several servers start with its name.
 */
export function prepareBackupRun(ctx: CommandContext, scope: ServerScope): BackupRunner {
  const { input } = scope;
  const settings = readBackupSettings(input);
  const conn = backupConnection(scope);
  const out = prefixedOutput(ctx.out, serverPrefix(scope));
  const logProgress = progressLogger(out, readProgressInterval(input));
  const notify = readNotifySettings(input);
  return (trigger) =>
    recordedBackup({
      trigger,
      settings,
      conn,
      sources: openBackupTargets(settings),
      signal: ctx.signal,
      onEvent: (e) => (e.type === 'progress' ? logProgress(e.progress) : logBackupEvent(out, e)),
      onHistoryError: (m) => out.warn(`the run history was not updated: ${m}`),
      onRecord: (record) => notifyRun(notify, { server: scope.name, record }, { signal: ctx.signal, log: { warn: (m) => out.warn(m), info: (m) => out.log(m) } }),
    });
}
