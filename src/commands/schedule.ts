import { RunBusyError } from '../core/backup/run-lock.js';
import type { RunRecord } from '../core/history/run-record.js';
import { prepareServerRuns, runEachServer, type ServerRunner } from './server-runs.js';
import { readOnStart, readSchedule } from '../core/settings/schedule.js';
import { UsageError } from '../core/errors.js';
import { formatRunTime, nextRuns } from '../core/schedule/cron-schedule.js';
import { runScheduler } from '../core/schedule/scheduler.js';
import { readLocal } from '../core/settings/backup.js';
import { prepareStatusEndpoint, STATUS_HELP, STATUS_OPTIONS } from './status-endpoint.js';
import { backupCommand } from './backup.js';
import { prepareScheduledDrill } from './scheduled-drill.js';
import { NOTIFY_HELP } from './notify-help.js';
import { CONNECTION_HELP, EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, SERVERS_HELP, settingInput, type Command, type CommandContext } from './command.js';

export const scheduleCommand: Command = {
  name: 'schedule',
  summary: 'long-running: a backup run on start, then one per BACKUP_SCHEDULE (cron); the backup image\'s main process',
  maxPositionals: 0,
  options: { ...backupCommand.options, schedule: { type: 'string' }, 'on-start': { type: 'string' }, 'drill-schedule': { type: 'string' }, ...STATUS_OPTIONS },
  help: `Usage: pg-backups schedule [options]

Runs as a service (the backup image's main process): one backup run on start, then one at every
time of BACKUP_SCHEDULE, each exactly like \`pg-backups backup\`. It prints the next three run times
at start, and the next one after each run.

  --schedule EXPR     BACKUP_SCHEDULE (required; there is no default, so that a forgotten setting
                      stops the service instead of backing up at a time nobody chose): a cron
                      expression of 5 fields (minute hour day-of-month month day-of-week) or 6
                      (seconds first), read in the time zone TZ (default: the machine's, UTC in
                      the backup image). Examples:
                        BACKUP_SCHEDULE='0 3 * * *'      03:00 every day
                        BACKUP_SCHEDULE='0 */6 * * *'    every 6 hours
                        BACKUP_SCHEDULE='30 2 * * 1-5'   02:30 Monday to Friday
                      A time that does not exist on a DST change runs right after the gap; a time
                      that occurs twice runs once (fixed times) or on both passes (intervals).
  --on-start BOOL     BACKUP_ON_START (default true): false waits for the first scheduled time
  TZ                  the time zone of BACKUP_SCHEDULE, e.g. TZ=Europe/Berlin
  --drill-schedule EXPR  DRILL_SCHEDULE (cron, unset: no drills): a restore drill of the newest backup
                      (as pg-backups drill: DRILL_TARGET, DRILL_DATABASES) in the same one-at-a-time
                      slot: a drill due during a backup is skipped; a backup due during a drill stops
                      the drill (its scratch databases dropped) and runs; each drill is recorded in
                      the run history (status, healthcheck and /metrics; healthcheck and /healthz
                      then need the last drill passed and the newest passed one younger than
                      DRILL_MAX_AGE, default twice DRILL_SCHEDULE's longest interval) and notified
                      (a failed drill always, a passed one with NOTIFY_ON=always). With several
                      servers, each one's newest backup is drilled in turn, into its own history.

One run at a time: a time that comes due while a run is still going (or while \`pg-backups backup\`
writes to the same BACKUP_DIR) is skipped with a warning, never queued. A run that fails is logged
and recorded; the service keeps going and tries again at the next time.
Every run's outcome goes into the run history, <BACKUP_DIR>/.pg-backups-state.json: see
\`pg-backups status\` and \`pg-backups healthcheck\`.

SIGTERM or SIGINT stops the service within seconds: a run in progress is stopped as \`backup\` stops
(pg_dump killed, the unfinished folder deleted, nothing that looks finished left). Exit code 0 when
no run was going at the signal, 1 when a run was cut short.

Every option of \`pg-backups backup\` (see pg-backups backup --help) applies to each run:
BACKUP_DIR, BACKUP_DATABASES, BACKUP_FORMAT, COMPRESSION_LEVEL, LOCAL_RETENTION_DAYS, KEEP_* (rotation), S3_*, RSYNC_*,
BACKUP_ENCRYPTION_RECIPIENTS (age encryption), ...

${NOTIFY_HELP}
  Every run notifies: the one on start, each scheduled one, and one stopped by SIGTERM (as a failure).

${CONNECTION_HELP}

${STATUS_HELP}

${SERVERS_HELP}
  Each time, the servers are backed up one after the other (in name order); one that is down or
  fails is logged and recorded in its own run history, and the others still run. --server NAME: only it.

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = settingInput(ctx);
    const schedule = readSchedule(input);
    if (!schedule) {
      throw new UsageError(`BACKUP_SCHEDULE is not set; \`pg-backups schedule\` needs a cron expression, e.g. BACKUP_SCHEDULE='0 3 * * *' (03:00 every day) or BACKUP_SCHEDULE='0 */6 * * *'`);
    }
    const onStart = readOnStart(input);
    const runners = prepareServerRuns(ctx, input);
    const statusEndpoint = prepareStatusEndpoint(ctx, input, schedule);
    const drillSchedule = readSchedule(input, 'DRILL_SCHEDULE');
    const scheduledDrill = drillSchedule ? prepareScheduledDrill(ctx, input, runners) : undefined;
    const drill = drillSchedule && scheduledDrill ? { schedule: drillSchedule, run: scheduledDrill.run } : undefined;
    if (drillSchedule) ctx.out.log(`drills ${JSON.stringify(drillSchedule.expression)}; next: ${formatRunTime(nextRuns(drillSchedule, 1)[0]!, drillSchedule.timezone)}`);
    const zone = schedule.timezone ?? 'the local time zone';
    ctx.out.log(`schedule ${JSON.stringify(schedule.expression)} in ${zone}${onStart ? ', with a run now' : ' (BACKUP_ON_START=false: no run now)'}; next runs:`);
    for (const time of nextRuns(schedule, 3)) ctx.out.log(`  ${formatRunTime(time, schedule.timezone)}`);
    // One target per server, each with its own BACKUP_DIR and run history.
    const statusServer = await statusEndpoint?.start(runners.map(({ scope }) => ({ ...(scope.name !== undefined ? { name: scope.name } : {}), backupDir: readLocal(scope.input).backupDir })));
    await scheduledDrill?.begin();
    const outcome = await runScheduler({
      schedule,
      onStart,
      ...(drill ? { drill } : {}),
      signal: ctx.signal,
      log: { info: (m) => ctx.out.log(m), warn: (m) => ctx.out.warn(m), error: (m) => ctx.out.error(m) },
      run: async (trigger) => {
        ctx.out.log(trigger === 'start' ? 'backup run on start' : 'scheduled backup run');
        return runServers(ctx, runners, trigger);
      },
    }).finally(() => statusServer?.close());
    ctx.out.log(outcome.cutShort ? 'stopped; the run in progress was cut short (see above)' : 'stopped; no run was in progress');
    return outcome.cutShort ? 1 : 0;
  },
};

/**
 * One round: the one libpq server as before (a thrown error is the scheduler's to report), or every
 * named server in turn, each one's failure logged without stopping the others.
 */
async function runServers(ctx: CommandContext, runners: ServerRunner[], trigger: RunRecord['trigger']): Promise<boolean> {
  if (runners.length === 1 && runners[0]!.scope.name === undefined) {
    const result = await runners[0]!.run(trigger);
    for (const error of result.errors) ctx.out.error(error);
    if (result.errors.length === 0) ctx.out.log(`backup ${result.folder} finished`);
    return result.errors.length === 0;
  }
  const outcomes = await runEachServer(runners, trigger, ctx.signal);
  let ok = true;
  for (const o of outcomes) {
    const name = o.scope.name!;
    if (o.result) {
      for (const error of o.result.errors) ctx.out.error(`${name}: ${error}`);
      if (o.result.errors.length === 0) ctx.out.log(`${name}: backup ${o.result.folder} finished`);
      else ok = false;
    } else if (o.thrown instanceof RunBusyError) {
      ctx.out.warn(`${name}: skipped: ${o.error}`);
    } else {
      ok = false;
      ctx.out.error(`${name}: the run failed: ${o.error}`);
    }
  }
  return ok;
}
