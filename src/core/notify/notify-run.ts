// Notifies the outcome of a run to every NOTIFY_URL at once, in each target's format: failed and
// stopped runs always, good ones with NOTIFY_ON=always. Bounded by NOTIFY_TIMEOUT (a stopped run,
// or a stop meanwhile, by a few seconds); never throws, and a notification that cannot be sent is
// one warning line naming only scheme://host: the run's outcome and exit code stay as they are.
import { messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { NotifySettings, NotifyTarget } from '../settings/notify.js';
import { TOOL_VERSION } from '../version.js';
import { createDeadline, type Deadline } from './deadline.js';
import { discordMessage } from './discord.js';
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

export async function notifyRun(settings: NotifySettings, event: RunEvent, opts: NotifyOptions): Promise<void> {
  let deadline: Deadline | undefined;
  try {
    if (!wantsNotice(settings, event.record.outcome)) return;
    const payload = buildPayload(event);
    deadline = createDeadline(settings.timeoutMs, opts.signal, payload.outcome === 'stopped');
    const started = Date.now();
    await Promise.all(settings.targets.map((target) => notifyTarget(target, payload, settings.secret, deadline!, opts.log, started)));
  } catch (err) {
    opts.log.warn(`notifications were not sent: ${redact(messageOf(err))}`);
  } finally {
    deadline?.dispose();
  }
}

async function notifyTarget(target: NotifyTarget, payload: NotifyPayload, secret: string | undefined, deadline: Deadline, log: NotifyLog, started: number): Promise<void> {
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
    else log.warn(`notification of ${payload.event} to ${where} not sent: ${outcome.reason ?? 'unknown reason'} (${took}); the run's outcome stands`);
  } catch (err) {
    log.warn(`notification of ${payload.event} to ${where} not sent: ${redact(messageOf(err))}`);
  }
}

/** The body of a target's format. */
export function messageFor(format: NotifyTarget['format'], payload: NotifyPayload): unknown {
  if (format === 'slack') return slackMessage(payload);
  if (format === 'discord') return discordMessage(payload);
  return payload;
}
