// The run history in <BACKUP_DIR>/.pg-backups-state.json: a hidden name that listing and retention
// never take for a backup (they only look at YYYYMMDD_HHMMSS folders). Written atomically (a temp
// file renamed over it), at most MAX_RUNS runs long.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { RunHistory, RunRecord } from './run-record.js';

export const STATE_FILE = '.pg-backups-state.json';
export const MAX_RUNS = 100;

export function statePath(backupDir: string): string {
  return join(backupDir, STATE_FILE);
}

/** The recorded runs, oldest first; none when there is no state file yet. A damaged file is an error. */
export async function readHistory(backupDir: string): Promise<RunRecord[]> {
  const path = statePath(backupDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ExternalError(`cannot read the run history ${path}: ${messageOf(err)}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<RunHistory>;
    if (!Array.isArray(parsed.runs)) throw new Error('no list of runs');
    return parsed.runs.filter((r): r is RunRecord => typeof r === 'object' && r !== null && typeof r.startedAt === 'string' && typeof r.outcome === 'string');
  } catch (err) {
    throw new ExternalError(`the run history ${path} is damaged (${messageOf(err)}); delete it to start a new one`);
  }
}

/** Appends a run, keeping the newest MAX_RUNS. A damaged history is replaced by a new one. */
export async function appendRun(backupDir: string, run: RunRecord): Promise<void> {
  const runs = await readHistory(backupDir).catch(() => [] as RunRecord[]);
  runs.push(scrub(run));
  const history: RunHistory = { format: 1, runs: runs.slice(-MAX_RUNS) };
  const path = statePath(backupDir);
  const temp = join(backupDir, `${STATE_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(history, null, 2)}\n`, { mode: 0o640, flush: true });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw new ExternalError(`cannot write the run history ${path}: ${messageOf(err)}`);
  }
}

/** No secret reaches the file: every error line goes through redact(). */
function scrub(run: RunRecord): RunRecord {
  return {
    ...run,
    ...(run.error !== undefined ? { error: redact(run.error) } : {}),
    destinations: run.destinations.map((d) => ({ ...d, ...(d.error !== undefined ? { error: redact(d.error) } : {}) })),
  };
}
