// One backup run at a time per BACKUP_DIR: a lock file holding the owner's pid and process start
// time. A lock whose process is gone (a run killed with SIGKILL) is stale and taken over.
import { readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ExternalError, messageOf } from '../errors.js';

export const LOCK_FILE = '.pg-backups.lock';

export interface LockInfo {
  pid: number;
  host: string;
  startTime: string;
  since: string;
}

/** Another run holds the lock of this BACKUP_DIR: the caller may skip rather than fail. Exit 1. */
export class RunBusyError extends ExternalError {}

export interface RunLock {
  release(): Promise<void>;
}

export async function acquireRunLock(dir: string): Promise<RunLock> {
  const path = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), startTime: processStartTime(process.pid) ?? '', since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ExternalError(`cannot create the lock file ${path}: ${messageOf(err)}; BACKUP_DIR must be writable`);
      }
    }
    const holder = await readLock(path);
    if (holder && isAlive(holder)) {
      throw new RunBusyError(`another pg-backups run (pid ${holder.pid}, since ${holder.since}) is writing to ${dir}; wait for it to finish`);
    }
    await rm(path, { force: true }); // stale: its process is gone
  }
  throw new ExternalError(`cannot take the lock ${path}; another run keeps taking it`);
}

export async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined; // unreadable or half-written: a run died while taking it
  }
}

/** Whether the run that wrote the lock is still going (its process is alive, not a reused pid). */
export function isAlive(lock: LockInfo): boolean {
  if (lock.host !== hostname()) return true; // another machine sharing the folder: trust it
  const start = processStartTime(lock.pid);
  if (start === undefined) return false;
  return lock.startTime === '' || start === lock.startTime; // a reused pid has another start time
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    try {
      process.kill(pid, 0);
      return '';
    } catch {
      return undefined;
    }
  }
}
