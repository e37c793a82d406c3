// A drill's report as the run history keeps it (<BACKUP_DIR>/.pg-backups-state.json, `drills`).
import { stat } from 'node:fs/promises';
import type { DrillRecord } from '../history/run-record.js';
import { appendDrill } from '../history/state-file.js';
import type { DrillReport } from './drill-service.js';

/** `stopped`: the drill's signal aborted it (a SIGTERM, a backup that came due): neither passed nor failed. */
export function drillRecord(report: DrillReport, trigger: DrillRecord['trigger'], stopped = false): DrillRecord {
  const outcomes = report.databases.map((d) => d.outcome);
  const outcome: DrillRecord['outcome'] = stopped && !report.ok ? 'stopped' : report.ok
    ? 'passed'
    : outcomes.includes('damaged')
      ? 'damaged'
      : outcomes.includes('differences')
        ? 'differences'
        : 'failed';
  const firstError = report.databases.find((d) => d.error)?.error ?? report.databases.flatMap((d) => d.differences.map((x) => `${JSON.stringify(d.database)} ${x.schema}.${x.table}: recorded ${x.expected}, found ${x.found ?? 'no such table'}`))[0];
  return {
    trigger,
    outcome,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    folder: report.folder,
    databases: report.databases.length,
    tablesChecked: report.databases.reduce((n, d) => n + d.tablesChecked, 0),
    differences: report.databases.reduce((n, d) => n + d.differences.length, 0),
    ...(firstError !== undefined ? { error: firstError } : {}),
  };
}

/** Records the drill in BACKUP_DIR's history when that folder exists (nothing creates it just for this). */
export async function saveDrill(backupDir: string, record: DrillRecord): Promise<void> {
  if (!(await stat(backupDir).then((s) => s.isDirectory(), () => false))) return;
  await appendDrill(backupDir, record);
}
