// The long-running loop of `pg-backups schedule`: a run on start (unless turned off), then one per
// cron time. One run at a time: a time that comes due while a run is going (here, or in another
// process holding BACKUP_DIR's lock) is skipped with a warning, never queued. When the signal
// aborts, no new run starts and the run in progress is stopped (it receives the same signal).
import type { Cron } from 'croner';
import { RunBusyError } from '../backup/run-lock.js';
import { describeError, isAbort } from '../errors.js';
import { compileSchedule, formatRunTime, nextRuns, type CronSchedule } from './cron-schedule.js';
import type { RunRecord } from '../history/run-record.js';

export interface SchedulerLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface SchedulerOptions {
  schedule: CronSchedule;
  onStart: boolean;
  signal: AbortSignal;
  /**
   * One backup run: resolves whether it ended with the backup everywhere; throws when it failed
   * before that (RunBusyError when another process holds the lock).
   */
  run: (trigger: RunRecord['trigger']) => Promise<boolean>;
  log: SchedulerLog;
  now?: () => Date;
  /**
   * DRILL_SCHEDULE: restore drills in the same one-at-a-time slot. A drill due while a backup runs is
   * skipped; a backup due while a drill runs stops the drill (which drops its scratch databases) and
   * starts once it has stopped: backups come first.
   */
  drill?: { schedule: CronSchedule; run: (signal: AbortSignal) => Promise<boolean> };
}

export interface SchedulerOutcome {
  /** A run was in progress when the signal came, and was stopped before it finished. */
  cutShort: boolean;
  runs: number;
  skipped: number;
}

export async function runScheduler(opts: SchedulerOptions): Promise<SchedulerOutcome> {
  const { schedule, signal, log } = opts;
  const now = opts.now ?? (() => new Date());
  const outcome: SchedulerOutcome = { cutShort: false, runs: 0, skipped: 0 };
  let current: { trigger: string; since: Date; done: Promise<void>; stopDrill?: AbortController } | undefined;

  const startDrill = () => {
    if (signal.aborted || !opts.drill) return;
    if (current) {
      outcome.skipped++;
      log.warn(`skipped the drill due at ${formatRunTime(now(), opts.drill.schedule.timezone)}: the ${current.trigger} run started at ${formatRunTime(current.since, schedule.timezone)} is still going`);
      return;
    }
    const stopDrill = new AbortController();
    const onAbort = () => stopDrill.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const drill = opts.drill;
    const done = (async () => {
      try {
        await drill.run(stopDrill.signal);
      } catch (err) {
        if (!isAbort(err, stopDrill.signal)) log.error(`the scheduled drill failed: ${describeError(err)}`);
      } finally {
        signal.removeEventListener('abort', onAbort);
        current = undefined;
      }
    })();
    current = { trigger: 'drill', since: now(), done, stopDrill };
  };

  const start = (trigger: RunRecord['trigger']) => {
    if (signal.aborted) return;
    if (current?.stopDrill) {
      // Backups come first: the drill stops (dropping its scratch databases), then the backup starts.
      log.warn(`stopping the drill started at ${formatRunTime(current.since, schedule.timezone)}: a backup is due`);
      current.stopDrill.abort();
      const drillDone = current.done;
      void drillDone.then(() => start(trigger));
      return;
    }
    if (current) {
      outcome.skipped++;
      log.warn(`skipped the ${trigger === 'start' ? 'run on start' : `run due at ${formatRunTime(now(), schedule.timezone)}`}: the ${current.trigger} run started at ${formatRunTime(current.since, schedule.timezone)} is still going (runs never overlap and are not queued)`);
      return;
    }
    const since = now();
    const done = (async () => {
      try {
        outcome.runs++;
        const ok = await opts.run(trigger);
        // Stopped after the local backup was in place (while shipping): still a run cut short.
        if (!ok && signal.aborted) outcome.cutShort = true;
      } catch (err) {
        if (err instanceof RunBusyError) {
          outcome.skipped++;
          log.warn(`skipped the ${trigger === 'start' ? 'run on start' : 'scheduled run'}: ${describeError(err)}`);
        } else if (isAbort(err, signal)) {
          outcome.cutShort = true;
          log.error(describeError(err));
        } else {
          log.error(`the ${trigger === 'start' ? 'run on start' : 'scheduled run'} failed: ${describeError(err)}`);
        }
      } finally {
        current = undefined;
        if (!signal.aborted) log.info(`next run: ${formatRunTime(nextRuns(schedule, 1, now())[0]!, schedule.timezone)}`);
      }
    })();
    current = { trigger: trigger === 'start' ? 'on-start' : 'scheduled', since, done };
  };

  const cron: Cron = compileSchedule(schedule);
  let drillCron: Cron | undefined;
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    if (signal.aborted) return outcome;
    cron.schedule(() => start('schedule'));
    cron.resume();
    drillCron = opts.drill ? compileSchedule(opts.drill.schedule) : undefined;
    drillCron?.schedule(() => startDrill());
    drillCron?.resume();
    if (opts.onStart) start('start');
    await stopped;
  } finally {
    cron.stop();
    drillCron?.stop();
  }
  if (current) {
    log.info(`waiting for the ${current.trigger} run to stop`);
    await current.done;
  }
  return outcome;
}
