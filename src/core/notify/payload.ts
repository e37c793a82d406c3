// The JSON body of a run notification (the `webhook` format), built from the run's record. Slack and
// Discord messages are made from it too, so that every format says the same thing.
import { hostname } from 'node:os';
import type { RunRecord } from '../history/run-record.js';
import { redact } from '../secrets.js';
import { TOOL_VERSION } from '../version.js';

export interface RunEvent {
  /** The server's name, when the service backs up several. */
  server?: string;
  record: RunRecord;
  /** Default: os.hostname(). */
  host?: string;
}

export type NotifyEventName = 'backup.succeeded' | 'backup.failed' | 'backup.stopped';

export interface NotifyPayload {
  event: NotifyEventName;
  tool: 'pg-backups';
  version: string;
  server?: string;
  host: string;
  outcome: RunRecord['outcome'];
  trigger: RunRecord['trigger'];
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  /** The backup folder, null when the run ended before the local backup was in place. */
  folder: string | null;
  bytes: number | null;
  destinations: { kind: string; location: string; ok: boolean; error?: string }[];
  /** The first error line, when the run did not end ok. */
  error?: string;
  /** One line saying all of it, for receivers that only show text. */
  summary: string;
}

const EVENTS: Record<RunRecord['outcome'], NotifyEventName> = { ok: 'backup.succeeded', failed: 'backup.failed', stopped: 'backup.stopped' };

export function buildPayload(event: RunEvent, version = TOOL_VERSION): NotifyPayload {
  const r = event.record;
  const host = event.host ?? hostname();
  const payload: NotifyPayload = {
    event: EVENTS[r.outcome],
    tool: 'pg-backups',
    version,
    ...(event.server !== undefined ? { server: event.server } : {}),
    host,
    outcome: r.outcome,
    trigger: r.trigger,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationSeconds: secondsBetween(r.startedAt, r.finishedAt),
    folder: r.folder ?? null,
    bytes: r.bytes ?? null,
    destinations: r.destinations.map((d) => ({ kind: d.kind, location: d.location, ok: d.ok, ...(d.error !== undefined ? { error: d.error } : {}) })),
    ...(r.error !== undefined ? { error: r.error } : {}),
    summary: '',
  };
  payload.summary = summaryLine(payload);
  return redactDeep(payload);
}

/** Seconds from start to finish, to a tenth; 0 when either time does not parse. */
export function secondsBetween(startedAt: string, finishedAt: string): number {
  const ms = Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt));
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : 0;
}

/** "on db-1 (server main)". */
export function placeText(p: { host: string; server?: string }): string {
  return `on ${p.host}${p.server !== undefined ? ` (server ${p.server})` : ''}`;
}

/** "pg-backups backup failed on db-1 (server main): <error>" */
export function summaryLine(p: Omit<NotifyPayload, 'summary'>): string {
  const where = placeText(p);
  const run = p.trigger === 'backup' ? 'backup' : p.trigger === 'start' ? 'backup run on start' : 'scheduled backup';
  if (p.outcome === 'ok') return `pg-backups ${run} ${p.folder ?? ''} succeeded ${where}`.replace(/ {2,}/g, ' ');
  const what = p.outcome === 'stopped' ? 'was stopped' : 'failed';
  return `pg-backups ${run} ${what} ${where}${p.error !== undefined ? `: ${p.error}` : ''}`;
}

/** Every string of a value passed through redact(). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
