import { formatRunTime } from '../core/schedule/cron-schedule.js';
import { formatDuration } from '../core/history/health.js';
import type { RunRecord } from '../core/history/run-record.js';
import { EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, type Command } from './command.js';
import { HISTORY_HELP, HISTORY_OPTIONS, healthJson, readHistoryReport } from './history-input.js';
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
<BACKUP_DIR>/.pg-backups-state.json, the last 100 runs), the next scheduled run (with
BACKUP_SCHEDULE) and the verdict of \`pg-backups healthcheck\`. It reads only the run history and
BACKUP_DIR: it works while PostgreSQL is down. Exit 0 whether healthy or not (see healthcheck).

Options:
${HISTORY_HELP}
  --json              everything as JSON on stdout (every recorded run, newest first)

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const report = await readHistoryReport(ctx);
    const { health } = report;
    ctx.out.printJson({
      ok: true,
      backupDir: report.backupDir,
      next: report.next?.toISOString() ?? null,
      health: healthJson(report),
      runs: report.runs,
    });
    if (report.runs.length === 0) ctx.out.print(`no runs recorded in ${report.backupDir} yet`);
    else {
      const rows = [['STARTED', 'TOOK', 'TRIGGER', 'OUTCOME', 'FOLDER', 'SIZE', 'DESTINATIONS', 'ERROR']];
      for (const r of report.runs.slice(0, SHOWN)) rows.push(runRow(r));
      for (const line of table(rows)) ctx.out.print(line);
    }
    ctx.out.print(`next run: ${report.next ? formatRunTime(report.next, report.timezone) : 'none scheduled (BACKUP_SCHEDULE is not set)'}`);
    ctx.out.print(`${health.healthy ? 'healthy' : 'unhealthy'}: ${health.reason}`);
    return 0;
  },
};

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

