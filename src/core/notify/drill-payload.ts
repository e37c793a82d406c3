// The JSON body of a restore drill's notification (the `webhook` format), built from the drill's
// record and, when the drill got that far, its report. Slack and Discord messages are made from it
// too. `kind: 'drill'` tells it from a backup run's body (which has no `kind`).
import { hostname } from 'node:os';
import type { DrillOutcome, DrillReport } from '../drill/drill-service.js';
import type { DrillRecord } from '../history/run-record.js';
import { TOOL_VERSION } from '../version.js';
import { placeText, redactDeep, secondsBetween, type NotifyPayload } from './payload.js';

export interface DrillNoticeEvent {
  /** The server's name, when the service backs up several. */
  server?: string;
  record: DrillRecord;
  /** Absent when the drill ended before it had one (no backup to drill, the target unreachable, a stop). */
  report?: DrillReport;
  /** Default: os.hostname(). */
  host?: string;
}

export type DrillEventName = 'drill.passed' | 'drill.failed' | 'drill.stopped';

/** At most this many differing tables per database are listed; the rest are counted. */
export const MAX_DIFFERENCES = 20;

export interface DrillDifference {
  schema: string;
  table: string;
  /** The rows the backup's manifest recorded. */
  expected: number;
  /** The rows in the restored table; null: the table is not there. */
  found: number | null;
}

export interface DrillNoticeDatabase {
  database: string;
  outcome: DrillOutcome;
  restoreSeconds: number;
  bytes: number;
  tablesChecked: number;
  counts: 'checked' | 'not recorded';
  /** The first MAX_DIFFERENCES differing tables. */
  differences: DrillDifference[];
  /** How many more tables differ than are listed. */
  differencesLeftOut: number;
  error?: string;
  /** The scratch database could not be dropped (it is named in the message). */
  cleanupError?: string;
}

export interface DrillNotifyPayload {
  event: DrillEventName;
  tool: 'pg-backups';
  version: string;
  server?: string;
  host: string;
  kind: 'drill';
  outcome: DrillRecord['outcome'];
  trigger: DrillRecord['trigger'];
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  /** The backup folder drilled; null when the drill ended before it picked one. */
  folder: string | null;
  /** Where the backup came from ("s3:s3://bucket/prefix"); null without a report. */
  source: string | null;
  /** The server the scratch databases went to (never with a password); null without a report. */
  target: string | null;
  databases: DrillNoticeDatabase[];
  tablesChecked: number;
  /** Differing tables in all (listed or not). */
  differences: number;
  /** The first error line, when the drill did not pass. */
  error?: string;
  /** One line saying all of it, for receivers that only show text. */
  summary: string;
}

/** A run's or a drill's notification body. */
export type NoticePayload = NotifyPayload | DrillNotifyPayload;

const EVENTS: Record<DrillRecord['outcome'], DrillEventName> = {
  passed: 'drill.passed',
  differences: 'drill.failed',
  damaged: 'drill.failed',
  failed: 'drill.failed',
  stopped: 'drill.stopped',
};

export function buildDrillPayload(event: DrillNoticeEvent, version = TOOL_VERSION): DrillNotifyPayload {
  const { record: r, report } = event;
  const payload: DrillNotifyPayload = {
    event: EVENTS[r.outcome],
    tool: 'pg-backups',
    version,
    ...(event.server !== undefined ? { server: event.server } : {}),
    host: event.host ?? hostname(),
    kind: 'drill',
    outcome: r.outcome,
    trigger: r.trigger,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationSeconds: secondsBetween(r.startedAt, r.finishedAt),
    folder: r.folder ?? report?.folder ?? null,
    source: report?.source ?? null,
    target: report?.target ?? null,
    databases: (report?.databases ?? []).map((d) => ({
      database: d.database,
      outcome: d.outcome,
      restoreSeconds: Math.round(d.restoreSeconds * 10) / 10,
      bytes: d.bytes,
      tablesChecked: d.tablesChecked,
      counts: d.counts,
      differences: d.differences.slice(0, MAX_DIFFERENCES).map((x) => ({ schema: x.schema, table: x.table, expected: x.expected, found: x.found })),
      differencesLeftOut: Math.max(0, d.differences.length - MAX_DIFFERENCES),
      ...(d.error !== undefined ? { error: d.error } : {}),
      ...(d.cleanupError !== undefined ? { cleanupError: d.cleanupError } : {}),
    })),
    tablesChecked: r.tablesChecked,
    differences: r.differences,
    ...(r.error !== undefined ? { error: r.error } : {}),
    summary: '',
  };
  payload.summary = drillSummary(payload, r.databases);
  return redactDeep(payload);
}

/** `"public"."orders": recorded 10, found 8` */
export function differenceText(x: DrillDifference): string {
  return `${JSON.stringify(x.schema)}.${JSON.stringify(x.table)}: recorded ${x.expected}, found ${x.found ?? 'no such table'}`;
}

/** "1 table", "41 tables". */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * "pg-backups drill of 20261201_030000 FAILED on db-1 (server main): 2 tables differ: "public"."orders": recorded 10, found 8"
 * or "... passed on db-1: 3 databases, 41 tables checked". `databaseCount`: the record's (the report may be absent).
 */
export function drillSummary(p: Omit<DrillNotifyPayload, 'summary'>, databaseCount: number): string {
  const head = `pg-backups ${p.trigger === 'schedule' ? 'scheduled drill' : 'drill'}${p.folder !== null ? ` of ${p.folder}` : ''}`;
  const where = placeText(p);
  if (p.outcome === 'passed') return oneLine(`${head} passed ${where}: ${counted(databaseCount, 'database')}, ${counted(p.tablesChecked, 'table')} checked`);
  if (p.outcome === 'stopped') return oneLine(`${head} was stopped ${where}${p.error !== undefined ? `: ${p.error}` : ''}`);
  const problems: string[] = [];
  const broken = p.databases.find((d) => d.error !== undefined);
  if (broken) problems.push(`${JSON.stringify(broken.database)} ${broken.outcome === 'damaged' ? 'is damaged' : 'could not be restored'}: ${broken.error}`);
  const differing = p.databases.find((d) => d.differences.length > 0);
  if (differing) {
    const inWhich = p.databases.length > 1 ? `${JSON.stringify(differing.database)} ` : '';
    problems.push(`${counted(p.differences, 'table')} ${p.differences === 1 ? 'differs' : 'differ'}: ${inWhich}${differenceText(differing.differences[0]!)}`);
  }
  if (problems.length === 0) problems.push(p.error ?? 'no reason recorded');
  return oneLine(`${head} FAILED ${where}: ${problems.join('; ')}`);
}

/** Line breaks (and the blanks around them) as one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
