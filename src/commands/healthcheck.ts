import { EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, type Command } from './command.js';
import { HISTORY_HELP, HISTORY_OPTIONS, healthJson, onlyReport, readHistorySnapshot } from './history-input.js';

export const healthcheckCommand: Command = {
  name: 'healthcheck',
  summary: 'exit 0 when the newest good backup is recent enough and the last run did not fail, else 1 (for HEALTHCHECK)',
  maxPositionals: 0,
  options: HISTORY_OPTIONS,
  help: `Usage: pg-backups healthcheck [options]

For a container's HEALTHCHECK or a monitoring probe. Exit 0 when the newest good (finished) backup in
BACKUP_DIR is younger than HEALTHCHECK_MAX_AGE and the last run recorded in the run history
(<BACKUP_DIR>/.pg-backups-state.json) did not fail; exit 1 otherwise. Either way one line on stdout
says why. It reads only the run history and BACKUP_DIR: it works while PostgreSQL is down.
A run stopped by SIGTERM/SIGINT counts neither as failed nor as good.

Options:
${HISTORY_HELP}
  --json              the verdict as JSON on stdout

With several servers (BACKUP_<NAME>=postgresql://...) every one is checked in its own
<BACKUP_DIR>/<name>/: healthy only when all are, the line naming each one that is not
("unhealthy: billing: the last run ... failed: ..."); --server NAME checks one.

  HEALTHCHECK CMD pg-backups healthcheck      (in a Dockerfile; same BACKUP_DIR and BACKUP_SCHEDULE
                                               as the service)

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const { snapshot, named } = await readHistorySnapshot(ctx);
    if (!named) {
      const report = onlyReport(snapshot);
      const { health } = report;
      ctx.out.printJson({ ok: health.healthy, ...healthJson(report), lastRun: health.lastRun ?? null });
      ctx.out.print(`${health.healthy ? 'healthy' : 'unhealthy'}: ${health.reason}`);
      return health.healthy ? 0 : 1;
    }
    // Several servers: healthy only when every one is; the reason names the ones that are not.
    ctx.out.printJson({
      ok: snapshot.healthy,
      healthy: snapshot.healthy,
      reason: snapshot.reason,
      servers: snapshot.targets.map((t) => ({
        server: t.target.name,
        ...(t.report ? { ...healthJson(t.report), lastRun: t.report.health.lastRun ?? null } : { healthy: false, reason: t.reason }),
      })),
    });
    ctx.out.print(`${snapshot.healthy ? 'healthy' : 'unhealthy'}: ${snapshot.reason}`);
    return snapshot.healthy ? 0 : 1;
  },
};
