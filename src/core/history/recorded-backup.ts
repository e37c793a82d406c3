// A backup run that leaves its outcome in the run history, whoever started it (`backup` by hand,
// `schedule` on start or on its cron time). A run refused because another one holds the lock is not
// recorded: it did nothing, and the other run records its own outcome.
import { stat } from 'node:fs/promises';
import { runBackup, type BackupRequest, type BackupResult } from '../backup/backup-service.js';
import { RunBusyError } from '../backup/run-lock.js';
import { describeError, isAbort, messageOf } from '../errors.js';
import type { RunRecord } from './run-record.js';
import { appendRun } from './state-file.js';

export interface RecordedRequest extends BackupRequest {
  trigger: RunRecord['trigger'];
  /** Told when the history cannot be written (the run's own outcome stands). */
  onHistoryError?: (message: string) => void;
  /**
   * Given the run's record once the history is saved (or could not be), on every path that records
   * a run; awaited, so that the run ends after it (notifications). Its failure changes nothing.
   */
  onRecord?: (record: RunRecord) => Promise<void>;
}

export async function recordedBackup(req: RecordedRequest): Promise<BackupResult> {
  const now = req.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const backupDir = req.settings.local.backupDir;
  const local = { kind: 'local' as const, location: backupDir };
  let record: RunRecord;
  let result: BackupResult;
  try {
    result = await runBackup(req);
    record = {
      trigger: req.trigger,
      outcome: result.errors.length === 0 ? 'ok' : req.signal.aborted ? 'stopped' : 'failed', // stopped while shipping: not a failure of the service
      startedAt,
      finishedAt: now().toISOString(),
      folder: result.folder,
      bytes: result.manifest.files.reduce((n, f) => n + f.bytes, 0),
      destinations: [
        { ...local, ok: true },
        ...result.shipped.map((o) => ({ kind: o.destination.kind, location: o.destination.location, ok: o.ok, ...(o.error ? { error: o.error } : {}) })),
      ],
      ...(result.errors.length > 0 ? { error: result.errors[0] } : {}),
    };
  } catch (err) {
    if (err instanceof RunBusyError) throw err;
    const stopped = isAbort(err, req.signal);
    await saveAndTell(backupDir, {
      trigger: req.trigger,
      outcome: stopped ? 'stopped' : 'failed',
      startedAt,
      finishedAt: now().toISOString(),
      destinations: [{ ...local, ok: false }],
      error: describeError(err),
    }, req);
    throw err;
  }
  await saveAndTell(backupDir, record, req);
  return result;
}

async function saveAndTell(backupDir: string, record: RunRecord, req: RecordedRequest): Promise<void> {
  await save(backupDir, record, req.onHistoryError);
  try {
    await req.onRecord?.(record);
  } catch {
    // a notification's failure is its own concern: the run's outcome stands
  }
}

/** A run that failed before BACKUP_DIR existed is not recorded: nothing creates the folder just for that. */
async function save(backupDir: string, record: RunRecord, onError?: (message: string) => void): Promise<void> {
  if (!(await stat(backupDir).then((s) => s.isDirectory(), () => false))) return;
  try {
    await appendRun(backupDir, record);
  } catch (err) {
    onError?.(messageOf(err));
  }
}
