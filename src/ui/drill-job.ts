// A restore drill from the screen: core/drill's runDrill through UiServices, its restore progress
// as the work screen's phases (one set per database), its steps and per-database results as log
// lines, and its report kept whole for the result table. The verdict and its exit code are those
// of `pg-backups drill`: 0 every check passed, 3 damaged or counts differ, 1 a restore failed.
import type { DrillDatabaseResult, DrillEvent, DrillReport } from '../core/drill/drill-service.js';
import type { RowDifference } from '../core/drill/row-check.js';
import { formatBytes } from './format.js';
import type { JobContext, WorkOutcome } from './jobs.js';
import type { Job, LogLine } from './state/types.js';

/** Differences of one database written to the session log (all of them are in the report). */
const LOGGED_DIFFERENCES = 20;

export async function drillJob(job: Extract<Job, { kind: 'drill' }>, ctx: Pick<JobContext, 'services' | 'signal' | 'onProgress' | 'onLog'>): Promise<WorkOutcome> {
  const report = await ctx.services.drill(job.folder, job.copy, ctx.signal, (e) => onDrillEvent(e, ctx));
  const lines = [`backup ${report.folder} on ${report.source}`, `scratch databases on ${report.target} (PostgreSQL ${report.targetVersion}), ${report.databases.some((d) => d.cleanupError) ? 'not all dropped (see above)' : 'all dropped'}`];
  if (report.leftoversDropped.length > 0) lines.push(`dropped first, left by a drill that was killed: ${report.leftoversDropped.join(', ')}`);
  const verdict = drillVerdict(report);
  if (report.ok) {
    ctx.onLog({ level: 'info', text: verdict });
    return { lines, drill: report };
  }
  return { lines, drill: report, failure: { error: verdict, exitCode: report.exitCode } };
}

function onDrillEvent(e: DrillEvent, ctx: Pick<JobContext, 'onProgress' | 'onLog'>): void {
  switch (e.type) {
    case 'step':
      return ctx.onLog({ level: 'info', text: e.message });
    case 'warning':
      return ctx.onLog({ level: 'warn', text: e.message });
    case 'database':
      for (const line of resultLog(e.result)) ctx.onLog(line);
      return;
    case 'restore': {
      const r = e.event;
      const db = JSON.stringify(e.database);
      // Every database's restore has the same phases (listing, download, ...): one set of bars per database.
      if (r.type === 'progress') return ctx.onProgress({ ...r.progress, id: `${e.database}\n${r.progress.id}`, label: `${db}: ${r.progress.label}` });
      if (r.type === 'step') return ctx.onLog({ level: 'info', text: `${db}: ${r.message}` });
      if (r.type === 'warning') return ctx.onLog({ level: 'warn', text: `${db}: ${r.message}` });
      if (r.type === 'verified') return ctx.onLog({ level: 'info', text: `${db}: verified ${r.file}` });
      return;
    }
  }
}

/** A database's result as the session log keeps it: one line, then its differences and problems. */
export function resultLog(r: DrillDatabaseResult): LogLine[] {
  const level = r.outcome === 'passed' ? 'info' : 'error';
  const lines: LogLine[] = [{ level, text: `${JSON.stringify(r.database)}: ${outcomeText(r)}, restored in ${seconds(r)}, ${formatBytes(r.bytes)}, ${checkedText(r)}${r.error ? `: ${r.error}` : ''}` }];
  for (const d of r.differences.slice(0, LOGGED_DIFFERENCES)) lines.push({ level, text: `  ${differenceText(d)}` });
  if (r.differences.length > LOGGED_DIFFERENCES) lines.push({ level, text: `  ... and ${r.differences.length - LOGGED_DIFFERENCES} more (pg-backups drill --json lists them all)` });
  if (r.cleanupError) lines.push({ level: 'warn', text: r.cleanupError });
  return lines;
}

export function outcomeText(r: DrillDatabaseResult): string {
  switch (r.outcome) {
    case 'passed':
      return 'passed';
    case 'differences':
      return 'COUNTS DIFFER';
    case 'damaged':
      return 'DAMAGED';
    case 'failed':
      return 'RESTORE FAILED';
  }
}

export function seconds(r: DrillDatabaseResult): string {
  return `${r.restoreSeconds.toFixed(1)} s`;
}

/** "14 tables checked", or that the backup recorded no counts (older backups). */
export function checkedText(r: DrillDatabaseResult): string {
  if (r.outcome === 'failed' || r.outcome === 'damaged') return 'no table checked';
  if (r.counts === 'not recorded') return 'row counts not recorded (an older backup): only the restore was checked';
  return `${r.tablesChecked} tables checked, ${r.differences.length === 0 ? 'every count equal' : `${r.differences.length} differ`}`;
}

/** `public.orders: recorded 500 rows, restored 480` (short enough for a line of the result table). */
export function differenceText(d: RowDifference): string {
  return `${d.schema}.${d.table}: recorded ${d.expected} rows, ${d.found === null ? 'not in the restored database' : `restored ${d.found}`}`;
}

/** The verdict in one line, with the exit code `pg-backups drill` gives for it. */
export function drillVerdict(report: DrillReport): string {
  const dbs = report.databases;
  const of = (outcome: DrillDatabaseResult['outcome']) => `${dbs.filter((d) => d.outcome === outcome).length} of ${dbs.length} database${dbs.length === 1 ? '' : 's'}`;
  const has = (outcome: DrillDatabaseResult['outcome']) => dbs.some((d) => d.outcome === outcome);
  const exit = `(exit code ${report.exitCode})`;
  if (report.exitCode === 0) {
    const unrecorded = dbs.filter((d) => d.counts === 'not recorded').length;
    if (unrecorded === 0) return `PASSED ${exit}: every database restored and all row counts equal`;
    return `PASSED ${exit}: every database restored; ${unrecorded} of ${dbs.length} had no row counts recorded (an older backup): only their restore was checked`;
  }
  const parts: string[] = [];
  if (has('damaged')) parts.push(`${of('damaged')} damaged (a file of the backup)`);
  if (has('differences')) parts.push(`row counts differ in ${of('differences')}`);
  if (has('failed')) parts.push(`${of('failed')} did not restore`);
  const head = report.exitCode === 3 ? (has('differences') ? 'DIFFERENCES' : 'DAMAGED') : 'RESTORE FAILED';
  return `${head} ${exit}: ${parts.join('; ')}`;
}
