import { formatRunTime } from '../core/schedule/cron-schedule.js';
import { formatDuration } from '../core/history/health.js';
import type { RunRecord } from '../core/history/run-record.js';
import { EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, type Command, type CommandContext } from './command.js';
import { runningJson } from '../core/history/history-report.js';
import type { HistoryReport } from '../core/history/history-report.js';
import type { TargetStatus } from '../core/service/status-snapshot.js';
import { HISTORY_HELP, HISTORY_OPTIONS, healthJson, onlyReport, readHistorySnapshot } from './history-input.js';
import { formatBytes, table } from './output.js';

const SHOWN = 10;

export const statusCommand: Command = {
  name: 'status',
  summary: 'the last backup runs (scheduled or by hand), the next scheduled one, and the health verdict',
  maxPositionals: 0,
  options: HISTORY_OPTIONS,
  help: `Usage: pg-backups status [options]

Shows the last ${SHOWN} runs of the run history (every run of \`backup\` and \`schedule\` records its
start, end, folder, size, each destination's result and the error line in
<BACKUP_DIR>/.pg-backups-state.json, the last 100 runs), whether a run is going now ("running
since ...", from the run lock <BACKUP_DIR>/.pg-backups.lock), the next scheduled run (with
BACKUP_SCHEDULE) and the verdict of \`pg-backups healthcheck\`. It reads only the run history and
BACKUP_DIR: it works while PostgreSQL is down. Exit 0 whether healthy or not (see healthcheck).
With several servers (BACKUP_<NAME>=postgresql://...) each one's runs and verdict are shown under
its name (== NAME), from its own <BACKUP_DIR>/<name>/, then the verdict over all of them.

Options:
${HISTORY_HELP}
  --json              everything as JSON on stdout (every recorded run, newest first)

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const { snapshot, named } = await readHistorySnapshot(ctx);
    if (!named) {
      const report = onlyReport(snapshot);
      ctx.out.printJson({ ok: true, backupDir: report.backupDir, next: report.next?.toISOString() ?? null, health: healthJson(report), running: runningJson(report), runs: report.runs, drills: report.drills });
      printReport(ctx, report, '');
      return 0;
    }
    ctx.out.printJson({
      ok: true,
      next: snapshot.next?.toISOString() ?? null,
      healthy: snapshot.healthy,
      reason: snapshot.reason,
      servers: snapshot.targets.map((t) => serverJson(t)),
    });
    for (const t of snapshot.targets) {
      ctx.out.print(`== ${t.target.name} (${t.target.backupDir})`);
      if (t.report) printReport(ctx, t.report, `${t.target.name}: `);
      else ctx.out.print(`${t.target.name}: unhealthy: ${t.reason}`);
      ctx.out.print('');
    }
    ctx.out.print(`${snapshot.healthy ? 'healthy' : 'unhealthy'}: ${snapshot.reason}`);
    return 0;
  },
};

function serverJson(t: TargetStatus) {
  const base = { server: t.target.name, backupDir: t.target.backupDir };
  if (!t.report) return { ...base, health: { healthy: false, reason: t.reason }, running: null, runs: [], error: t.error };
  return { ...base, health: healthJson(t.report), running: runningJson(t.report), runs: t.report.runs, drills: t.report.drills };
}

/** One server's runs, the run going now, the next run and its verdict; `prefix` names one of several. */
function printReport(ctx: CommandContext, report: HistoryReport, prefix: string): void {
  const { health } = report;
  if (report.runs.length === 0) ctx.out.print(`${prefix}no runs recorded in ${report.backupDir} yet`);
  else {
    const rows = [['STARTED', 'TOOK', 'TRIGGER', 'OUTCOME', 'FOLDER', 'SIZE', 'DESTINATIONS', 'ERROR']];
    for (const r of report.runs.slice(0, SHOWN)) rows.push(runRow(r));
    for (const line of table(rows)) ctx.out.print(line);
  }
  const drill = report.drills[0];
  if (drill) {
    const what = `${drill.databases} database(s), ${drill.tablesChecked} table(s) checked${drill.differences > 0 ? `, ${drill.differences} difference(s)` : ''}`;
    ctx.out.print(`${prefix}last drill: ${drill.outcome} (started ${drill.startedAt.replace(/\.\d+Z$/, 'Z')}, backup ${drill.folder ?? '-'}: ${what})${drill.error ? `: ${drill.error.replace(/[\x00-\x1f\x7f]/g, ' ')}` : ''}`);
  }
  if (report.running) ctx.out.print(`${prefix}running since ${formatRunTime(report.running.since, report.timezone)} (pid ${report.running.pid} on ${report.running.host}): a backup run is going now`);
  ctx.out.print(`${prefix}next run: ${report.next ? formatRunTime(report.next, report.timezone) : 'none scheduled (BACKUP_SCHEDULE is not set)'}`);
  ctx.out.print(`${prefix}${health.healthy ? 'healthy' : 'unhealthy'}: ${health.reason}`);
}

function runRow(r: RunRecord): string[] {
  const took = Date.parse(r.finishedAt) - Date.parse(r.startedAt);
  return [
    r.startedAt.replace(/\.\d+Z$/, 'Z'),
    Number.isFinite(took) ? formatDuration(took) : '-',
    r.trigger,
    r.outcome,
    r.folder ?? '-',
    r.bytes !== undefined ? formatBytes(r.bytes) : '-',
    r.destinations.map((d) => `${d.kind}:${d.ok ? 'ok' : 'failed'}`).join(', '),
    (r.error ?? '').replace(/[\x00-\x1f\x7f]/g, ' '),
  ];
}

