// A drill that leaves its outcome in the run history and notifies it, whoever started it
// (`pg-backups drill`, the screen, DRILL_SCHEDULE): the drill's twin of history/recorded-backup.ts.
// A drill that throws before it has a report (the source unreachable, no finished backup) is recorded
// as failed too when a schedule started it; by hand or from the screen, a refused request (exit 2,
// a typo in RESTORE_FOLDER) is the operator's to fix and is not recorded.
import { describeError, isAbort, messageOf, UsageError } from '../errors.js';
import type { DrillRecord } from '../history/run-record.js';
import { notifyDrill, type NotifyLog } from '../notify/notify-run.js';
import type { NotifySettings } from '../settings/notify.js';
import { drillRecord, saveDrill } from './drill-record.js';
import { runDrill, type DrillReport, type DrillRequest } from './drill-service.js';

export interface RecordedDrillRequest extends DrillRequest {
  trigger: DrillRecord['trigger'];
  /** Whose run history records it: the server's BACKUP_DIR (not created just for this). */
  backupDir: string;
  /** The server's name, when it is one of several (notifications name it). */
  server?: string;
  notify?: NotifySettings;
  /** Told when the history cannot be written, and of what the notifications did. */
  log: NotifyLog;
}

export async function recordedDrill(req: RecordedDrillRequest): Promise<DrillReport> {
  const startedAt = new Date().toISOString();
  let report: DrillReport;
  try {
    report = await runDrill(req);
  } catch (err) {
    const stopped = isAbort(err, req.signal);
    if (!(err instanceof UsageError) || req.trigger === 'schedule') {
      await saveAndTell(req, {
        trigger: req.trigger,
        outcome: stopped ? 'stopped' : 'failed',
        startedAt,
        finishedAt: new Date().toISOString(),
        databases: 0,
        tablesChecked: 0,
        differences: 0,
        error: describeError(err),
      });
    }
    throw err;
  }
  await saveAndTell(req, drillRecord(report, req.trigger, req.signal.aborted), report);
  return report;
}

async function saveAndTell(req: RecordedDrillRequest, record: DrillRecord, report?: DrillReport): Promise<void> {
  await saveDrill(req.backupDir, record).catch((err) => req.log.warn(`the drill could not be recorded in the run history: ${messageOf(err)}`));
  if (req.notify) {
    await notifyDrill(req.notify, { ...(req.server !== undefined ? { server: req.server } : {}), record, ...(report ? { report } : {}) }, { signal: req.signal, log: req.log });
  }
}
