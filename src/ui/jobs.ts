// The long work of the screen (restore, verify, back up now, drill), run through the core services with
// the screen's AbortSignal; progress and log lines go out as they come, and the end as one plain
// JobResult: what was done where (success), or the one-line error and what state things are in.
import type { BackupEvent } from '../core/backup/backup-service.js';
import { AbortedError, ExternalError, VerificationError, exitCodeFor, isAbort, messageOf } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import type { RestoreEvent } from '../core/restore/model.js';
import { redact } from '../core/secrets.js';
import type { BackupEntry } from '../core/source.js';
import { formatBytes, formatDuration } from './format.js';
import type { UiServices } from './services.js';
import type { DrillReport } from '../core/drill/drill-service.js';
import { drillJob } from './drill-job.js';
import { targetOf } from './state/select.js';
import type { Job, JobResult, LogLine, RestoreChoice } from './state/types.js';

export interface JobContext {
  services: UiServices;
  signal: AbortSignal;
  /** The backup entry of the copy a restore or verify reads. */
  entry?: BackupEntry;
  logPath: string;
  now?: () => number;
  onProgress(p: Progress): void;
  onLog(line: LogLine): void;
}

/** What a job's work gives back: its lines; a drill its report, and a failing verdict without an error thrown. */
export interface WorkOutcome {
  lines: string[];
  drill?: DrillReport;
  failure?: { error: string; exitCode: number };
}

/** What a job had already made whole when it failed or was stopped. */
interface Done {
  /** A backup folder published on local disk (the shipping to the destinations came after it). */
  published?: { folder: string; path: string };
}

export async function runJob(job: Job, ctx: JobContext): Promise<JobResult> {
  const now = ctx.now ?? Date.now;
  const started = now();
  const done: Done = {};
  try {
    const out = await work(job, ctx, done);
    const elapsedMs = now() - started;
    const lines = [...out.lines, `took ${formatDuration(elapsedMs)}`];
    const drill = out.drill ? { drill: out.drill } : {};
    // Work that ran to its end with a failing verdict (a drill's differences): no error was thrown.
    if (out.failure) {
      ctx.onLog({ level: 'error', text: out.failure.error });
      return { ok: false, stopped: false, error: out.failure.error, lines: [...lines, `the full log: ${ctx.logPath}`], exitCode: out.failure.exitCode, elapsedMs, ...drill };
    }
    return { ok: true, stopped: false, lines, exitCode: 0, elapsedMs, ...drill };
  } catch (err) {
    const elapsedMs = now() - started;
    const stopped = ctx.signal.aborted || err instanceof AbortedError || isAbort(err, ctx.signal);
    const error = stopped ? `stopped before it finished (${oneLine(messageOf(err))})` : oneLine(messageOf(err));
    ctx.onLog({ level: 'error', text: error });
    return {
      ok: false,
      stopped,
      error,
      lines: [...stateAfterFailure(job, stopped, done), `the full log: ${ctx.logPath}`],
      exitCode: stopped ? 1 : exitCodeFor(err),
      elapsedMs,
    };
  }
}

function oneLine(text: string): string {
  return redact(text.split('\n')[0] ?? '');
}

async function work(job: Job, ctx: JobContext, done: Done): Promise<WorkOutcome> {
  switch (job.kind) {
    case 'restore':
      return { lines: await restore(job.choice, ctx) };
    case 'verify':
      return { lines: await verify(job, ctx) };
    case 'backup':
      return { lines: await backup(ctx, done) };
    case 'drill':
      return drillJob(job, ctx);
  }
}

async function restore(choice: RestoreChoice, ctx: JobContext): Promise<string[]> {
  const s = ctx.services;
  const summary = await s.restore(choice, ctx.signal, (e: RestoreEvent) => {
    if (e.type === 'progress') ctx.onProgress(e.progress);
    else if (e.type === 'step') ctx.onLog({ level: 'info', text: e.message });
    else if (e.type === 'warning') ctx.onLog({ level: 'warn', text: e.message });
    else if (e.type === 'verified') ctx.onLog({ level: 'info', text: `verified ${e.file}` });
  });
  const o = summary.outcome;
  const files = summary.files.map((f) => `${f.name} (${formatBytes(f.bytes)})`).join(', ');
  const lines: string[] = [];
  if (choice.type === 'database') {
    const target = targetOf(choice)!;
    lines.push(`restored database ${JSON.stringify(choice.database)}${target !== choice.database ? ` as ${JSON.stringify(target)}` : ''} on ${s.serverWhere}${choice.overwrite ? ' (it replaced the database of that name)' : ''}`);
  } else {
    lines.push(`restored the ${choice.type === 'cluster' ? 'whole cluster' : 'globals'} onto ${s.serverWhere}`);
  }
  lines.push(`from backup ${summary.folder} on ${summary.source}`);
  if (files) lines.push(`files: ${files}`);
  if (o.created && (o.created.roles.length > 0 || o.created.tablespaces.length > 0)) {
    lines.push(`created roles: ${o.created.roles.join(', ') || 'none'}; tablespaces: ${o.created.tablespaces.join(', ') || 'none'}`);
  }
  if (o.warnings.length > 0) lines.push(`${o.warnings.length} warning(s), in the log`);
  lines.push(nextStep(choice, s.serverWhere));
  return lines;
}

function nextStep(choice: RestoreChoice, where: string): string {
  if (choice.type === 'database') {
    const target = targetOf(choice)!;
    if (choice.single) return `next: check ${JSON.stringify(target)} (psql -d ${JSON.stringify(target)} on ${where}), then point the application at it`;
    if (target !== choice.database) {
      return `next: compare it with the original (psql -d ${JSON.stringify(target)} on ${where}); drop it when done: DROP DATABASE ${JSON.stringify(target)};`;
    }
    return `next: point the application at ${JSON.stringify(target)} again and check it`;
  }
  if (choice.type === 'cluster') return 'next: check the roles and their passwords, then point the applications at this server';
  return 'next: restore the databases you need (one database, from the same backup)';
}

function stateAfterFailure(job: Job, stopped: boolean, done: Done): string[] {
  const what = stopped ? 'stopped' : 'failed';
  if (job.kind === 'restore') {
    const c = job.choice;
    if (c.type === 'database') {
      const target = targetOf(c)!;
      return [
        c.overwrite
          ? `the restore ${what}: database ${JSON.stringify(target)} is as it was before; the staging database was dropped`
          : `the restore ${what}: database ${JSON.stringify(target)} was not created; the staging database was dropped`,
      ];
    }
    if (c.type === 'cluster') return [`the cluster restore ${what}: the staging databases were dropped; roles the globals created stay (the log names them)`];
    return [`the globals restore ${what}: roles created before that point stay (the log names them)`];
  }
  if (job.kind === 'backup') {
    const p = done.published;
    // Stopped or failed while shipping: the local folder was whole before the uploads began, and stays.
    if (p) return [`the backup ${what} while shipping: ${p.folder} is whole on local disk (${p.path}) and stays; no destination is left with an unfinished copy that looks finished`];
    return [`the backup ${what}: no unfinished folder is left looking finished`];
  }
  if (job.kind === 'drill') return [`the drill ${what}: its scratch databases were dropped (any the drill could not drop are named in the log); no other database was touched`];
  return [`the verify ${what}: nothing was changed`];
}

async function verify(job: Extract<Job, { kind: 'verify' }>, ctx: JobContext): Promise<string[]> {
  const entry = ctx.entry;
  if (!entry) throw new Error(`no entry for ${job.folder}`);
  const total = entry.manifest ? entry.manifest.files.reduce((n, f) => n + f.bytes, 0) : entry.files.reduce((n, f) => n + f.bytes, 0);
  const started = Date.now();
  let bytes = 0;
  const progress = (state: Progress['state'], object?: string): Progress => ({
    id: `verify:${job.folder}`,
    kind: 'verify',
    label: `verify of ${job.folder} on ${job.copy}`,
    state,
    bytes,
    totalBytes: total,
    elapsedMs: Date.now() - started,
    ...(object ? { object } : {}),
  });
  ctx.onProgress(progress('running'));
  const report = await ctx.services.verify(job.copy, entry, ctx.signal, (f) => {
    bytes += f.bytes;
    ctx.onLog({ level: f.ok ? 'info' : 'error', text: `${f.ok ? 'ok ' : 'BAD'} ${f.name} (${formatBytes(f.bytes)})${f.ok ? '' : `: ${f.problem}`}` });
    ctx.onProgress(progress('running', f.name));
  });
  ctx.onProgress(progress(report.ok ? 'done' : 'failed'));
  if (!report.ok) {
    throw new VerificationError(`${job.folder} on ${job.copy} is DAMAGED: ${report.problems.join('; ')}`);
  }
  return [`${job.folder} on ${job.copy}: good (${report.files.length} files, ${formatBytes(bytes)}, ${report.status})`, 'next: restore from it with confidence, or verify another copy'];
}

async function backup(ctx: JobContext, done: Done): Promise<string[]> {
  const result = await ctx.services.backup(ctx.signal, (e: BackupEvent) => {
    if (e.type === 'progress') ctx.onProgress(e.progress);
    else {
      if (e.type === 'finished') done.published = { folder: e.folder, path: e.path };
      const line = describeBackupEvent(e);
      if (line) ctx.onLog(line);
    }
  });
  const total = result.manifest.files.reduce((n, f) => n + f.bytes, 0);
  const where = ['local', ...result.shipped.filter((o) => o.ok).map((o) => o.destination.kind)].join(', ');
  const lines = [`backup ${result.folder}: ${result.manifest.files.length} files, ${formatBytes(total)} in ${result.path}`, `on: ${where}`];
  if (result.errors.length > 0) {
    throw new ExternalError(`backup ${result.folder} is local, but ${result.errors.join('; ')}`);
  }
  return lines;
}

function describeBackupEvent(e: Exclude<BackupEvent, { type: 'progress' }>): LogLine | undefined {
  switch (e.type) {
    case 'server':
      return { level: 'info', text: `server PostgreSQL ${e.server.version}; pg_dump ${e.tools.version}; databases: ${e.databases.join(', ')}` };
    case 'step':
      return { level: 'info', text: e.step === 'globals' ? 'dumping the globals' : `dumping database ${JSON.stringify(e.database)} (${e.index + 1}/${e.total})` };
    case 'file':
      return { level: 'info', text: `wrote ${e.file.name} (${formatBytes(e.file.bytes)})` };
    case 'finished':
      return { level: 'info', text: `backup finished: ${e.path}` };
    case 'shipping':
      return { level: 'info', text: `uploading to ${e.destination}` };
    case 'shipped':
      return e.ok ? { level: 'info', text: `${e.destination} holds the backup` } : { level: 'error', text: `${e.destination}: ${e.error ?? 'failed'}` };
    case 'retry':
      return { level: 'warn', text: `${e.destination}: ${e.message}` };
    case 'pruned':
      return { level: 'info', text: `deleted old backup ${e.folder} from ${e.source} (retention)` };
    case 'warning':
      return { level: 'warn', text: e.message };
    default:
      return undefined;
  }
}
