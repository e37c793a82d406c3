// Whether a backup run is going now in a BACKUP_DIR, from its run lock (<BACKUP_DIR>/.pg-backups.lock,
// see backup/run-lock.ts): a lock whose process is gone (a run killed with SIGKILL) is no run.
import { join } from 'node:path';
import { isAlive, LOCK_FILE, readLock } from '../backup/run-lock.js';

export interface RunningRun {
  /** When the run took the lock. */
  since: Date;
  pid: number;
  host: string;
}

/** The run holding the lock of `backupDir`, if one is going. */
export async function readRunning(backupDir: string): Promise<RunningRun | undefined> {
  const lock = await readLock(join(backupDir, LOCK_FILE));
  if (!lock || typeof lock.pid !== 'number' || typeof lock.since !== 'string' || typeof lock.host !== 'string') return undefined;
  const since = new Date(lock.since);
  if (Number.isNaN(since.getTime()) || !isAlive(lock)) return undefined;
  return { since, pid: lock.pid, host: lock.host };
}
