// Notifies the outcome of a run, or of a restore drill, to every NOTIFY_URL at once, in each target's
// format: failed and stopped runs always, good ones with NOTIFY_ON=always; failed drills always,
// passed ones with NOTIFY_ON=always, stopped ones never. Bounded by NOTIFY_TIMEOUT (a stopped run,
// or a stop meanwhile, by a few seconds); never throws, and a notification that cannot be sent is
// one warning line naming only scheme://host: the outcome and exit code stay as they are.
import type { DrillRecord } from '../history/run-record.js';
import { messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { NotifySettings, NotifyTarget } from '../settings/notify.js';
import { TOOL_VERSION } from '../version.js';
import { createDeadline, type Deadline } from './deadline.js';
import { discordMessage } from './discord.js';
import { buildDrillPayload, type DrillNoticeEvent, type NoticePayload } from './drill-payload.js';
import { buildPayload, type NotifyPayload, type RunEvent } from './payload.js';
import { postWithRetries } from './send.js';
import { signatureHeaders } from './signature.js';
import { slackMessage } from './slack.js';

export interface NotifyLog {
  warn(message: string): void;
  info(message: string): void;
}

export interface NotifyOptions {
  /** The process's stop signal: once it aborts, at most a few more seconds are spent. */
  signal?: AbortSignal;
  log: NotifyLog;
}

/** Whether a run with this outcome is notified. */
export function wantsNotice(settings: NotifySettings, outcome: NotifyPayload['outcome']): boolean {
  return settings.targets.length > 0 && (outcome !== 'ok' || settings.on === 'always');
}

/**
 * Whether a drill with this outcome is notified: failures always, passes only with NOTIFY_ON=always,
 * stops never (a stop comes from a backup coming due or the operator; DRILL_MAX_AGE's health check
 * catches drills that never finish).
 */
export function wantsDrillNotice(settings: NotifySettings, outcome: DrillRecord['outcome']): boolean {
  if (settings.targets.length === 0 || outcome === 'stopped') return false;
  return outcome !== 'passed' || settings.on === 'always';
}

export async function notifyRun(settings: NotifySettings, event: RunEvent, opts: NotifyOptions): Promise<void> {
  await notifyAll(settings, opts, () => (wantsNotice(settings, event.record.outcome) ? buildPayload(event) : undefined));
}

export async function notifyDrill(settings: NotifySettings, event: DrillNoticeEvent, opts: NotifyOptions): Promise<void> {
  await notifyAll(settings, opts, () => (wantsDrillNotice(settings, event.record.outcome) ? buildDrillPayload(event) : undefined));
}

/** Sends the payload `make` gives (none: nothing to notify) to every target, within the deadline; never throws. */
async function notifyAll(settings: NotifySettings, opts: NotifyOptions, make: () => NoticePayload | undefined): Promise<void> {
  let deadline: Deadline | undefined;
  try {
    const payload = make();
    if (payload === undefined) return;
    deadline = createDeadline(settings.timeoutMs, opts.signal, payload.outcome === 'stopped');
    const started = Date.now();
    await Promise.all(settings.targets.map((target) => notifyTarget(target, payload, settings.secret, deadline!, opts.log, started)));
  } catch (err) {
    opts.log.warn(`notifications were not sent: ${redact(messageOf(err))}`);
  } finally {
    deadline?.dispose();
  }
}

async function notifyTarget(target: NotifyTarget, payload: NoticePayload, secret: string | undefined, deadline: Deadline, log: NotifyLog, started: number): Promise<void> {
  const where = `${target.shown} (${target.format})`;
  try {
    const body = redact(JSON.stringify(messageFor(target.format, payload)));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `pg-backups/${TOOL_VERSION}`,
      ...(target.authorization ? { authorization: target.authorization } : {}),
      ...signatureHeaders(secret, body, new Date()),
    };
    const outcome = await postWithRetries({ url: target.url, body, headers }, deadline);
    const took = `${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'} in ${((Date.now() - started) / 1000).toFixed(1)}s`;
    if (outcome.ok) log.info(`notified ${where} of ${payload.event}${outcome.attempts > 1 ? ` (${took})` : ''}`);
    else log.warn(`notification of ${payload.event} to ${where} not sent: ${outcome.reason ?? 'unknown reason'} (${took}); the ${'kind' in payload ? 'drill' : 'run'}'s outcome stands`);
  } catch (err) {
    log.warn(`notification of ${payload.event} to ${where} not sent: ${redact(messageOf(err))}`);
  }
}

/** The body of a target's format, for a run's payload or a drill's. */
export function messageFor(format: NotifyTarget['format'], payload: NoticePayload): unknown {
  if (format === 'slack') return slackMessage(payload);
  if (format === 'discord') return discordMessage(payload);
  return payload;
}
