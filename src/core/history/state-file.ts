// The run history in <BACKUP_DIR>/.pg-backups-state.json: a hidden name that listing and retention
// never take for a backup (they only look at YYYYMMDD_HHMMSS folders). Written atomically (a temp
// file renamed over it), at most MAX_RUNS runs long.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { DrillRecord, RunHistory, RunRecord } from './run-record.js';

export const STATE_FILE = '.pg-backups-state.json';
export const MAX_RUNS = 100;

export function statePath(backupDir: string): string {
  return join(backupDir, STATE_FILE);
}

/** The recorded runs, oldest first; none when there is no state file yet. A damaged file is an error. */
export async function readHistory(backupDir: string): Promise<RunRecord[]> {
  return (await readState(backupDir)).runs;
}

/** The recorded drills, oldest first. */
export async function readDrills(backupDir: string): Promise<DrillRecord[]> {
  return (await readState(backupDir)).drills;
}

/** Everything the state file holds, read once: runs and drills (oldest first), and since when `schedule` drills here (see RunHistory.drillsSince). */
export async function readRunHistory(backupDir: string): Promise<{ runs: RunRecord[]; drills: DrillRecord[]; drillsSince?: Date }> {
  const { runs, drills, drillsSince } = await readState(backupDir);
  return { runs, drills, ...(drillsSince !== undefined ? { drillsSince: new Date(drillsSince) } : {}) };
}

interface State {
  runs: RunRecord[];
  drills: DrillRecord[];
  drillsSince?: string;
}

const EMPTY = (): State => ({ runs: [], drills: [] });

async function readState(backupDir: string): Promise<State> {
  const path = statePath(backupDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY();
    throw new ExternalError(`cannot read the run history ${path}: ${messageOf(err)}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<RunHistory>;
    if (!Array.isArray(parsed.runs)) throw new Error('no list of runs');
    const isRecord = (r: unknown): r is { startedAt: string; outcome: string } =>
      typeof r === 'object' && r !== null && typeof (r as { startedAt?: unknown }).startedAt === 'string' && typeof (r as { outcome?: unknown }).outcome === 'string';
    return {
      runs: parsed.runs.filter((r): r is RunRecord => isRecord(r)),
      drills: Array.isArray(parsed.drills) ? parsed.drills.filter((d): d is DrillRecord => isRecord(d)) : [],
      ...(typeof parsed.drillsSince === 'string' && !Number.isNaN(Date.parse(parsed.drillsSince)) ? { drillsSince: parsed.drillsSince } : {}),
    };
  } catch (err) {
    throw new ExternalError(`the run history ${path} is damaged (${messageOf(err)}); delete it to start a new one`);
  }
}

/** Appends a run, keeping the newest MAX_RUNS (and the drills). A damaged history is replaced by a new one. */
export async function appendRun(backupDir: string, run: RunRecord): Promise<void> {
  const state = await readState(backupDir).catch(EMPTY);
  state.runs.push(scrub(run));
  await writeState(backupDir, state);
}

/** Appends a drill, keeping the newest MAX_RUNS drills (and the runs). */
export async function appendDrill(backupDir: string, drill: DrillRecord): Promise<void> {
  const state = await readState(backupDir).catch(EMPTY);
  state.drills.push(drill.error !== undefined ? { ...drill, error: redact(drill.error) } : drill);
  await writeState(backupDir, state);
}

/** Notes that drills are scheduled from now on, unless an earlier time is noted already. */
export async function markDrillsSince(backupDir: string, now: Date): Promise<void> {
  const state = await readState(backupDir);
  if (state.drillsSince !== undefined) return;
  await writeState(backupDir, { ...state, drillsSince: now.toISOString() });
}

async function writeState(backupDir: string, state: State): Promise<void> {
  const history: RunHistory = {
    format: 1,
    runs: state.runs.slice(-MAX_RUNS),
    ...(state.drills.length > 0 ? { drills: state.drills.slice(-MAX_RUNS) } : {}),
    ...(state.drillsSince !== undefined ? { drillsSince: state.drillsSince } : {}),
  };
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
