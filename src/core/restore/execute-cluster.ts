// A cluster restore onto a fresh server, staged: the globals first (roles and tablespaces, which
// cannot be staged), then every database of the cluster from its own file, RESTORE_JOBS at a time,
// each read once from its source and checked on its way into psql, into a staging database. Only
// when every one of them has been restored are they put in place under their real names (the
// fresh server's postgres and template1 replaced by the backup's). A damaged file, a failed psql
// or a stop drops every staging database: no database of the backup is left under its real name,
// and the error says which roles and tablespaces the globals created and how to remove them.
//
// The cluster file is the globals file and these database files, byte for byte (see dump-steps), so
// this applies what `gunzip -c postgres_cluster.sql.gz | psql` would, apart from the staging names
// and the CREATE DATABASE of postgres and template1, which pg_dumpall leaves out (they exist on
// every server) and which here come from the backup (its encoding and locale).
import { availableParallelism } from 'node:os';
import { AbortedError, ExternalError, UsageError, VerificationError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { Manifest } from '../backup/manifest.js';
import type { BackupEntry, BackupSource } from '../source.js';
import { describeServer, type ConnectionSettings } from '../settings/connection.js';
import type { ProgressTracker } from '../progress.js';
import { mapLimit } from '../map-limit.js';
import { qi } from './execute-admin.js';
import { executeRestore, prepareTarget, type RestoreOutcome } from './execute.js';
import { fetchForRestore, stagedClusterFiles, streamForRestore, type FetchedFile } from './fetch.js';
import type { RestoreEvent } from './model.js';
import { putInPlace, stageDatabase, type Staged } from './stage.js';

/** The databases restored at once when RESTORE_JOBS is not set: one per core, at least 2, at most 4. */
export function defaultRestoreJobs(): number {
  return Math.min(4, Math.max(2, availableParallelism()));
}

export interface ClusterRestore {
  source: BackupSource;
  entry: BackupEntry & { manifest: Manifest };
  conn: ConnectionSettings;
  restoreDir: string;
  jobs: number;
  pgBinDir?: string;
  signal: AbortSignal;
  onEvent: (e: RestoreEvent) => void;
  progress: ProgressTracker;
}

export interface ClusterOutcome extends RestoreOutcome {
  /** The databases restored, in the order of the backup. */
  databases: string[];
  files: FetchedFile[];
}

/** postgres and template1 exist on every server: their staged copies replace them, after the others. */
const EVERY_SERVER_HAS = ['postgres', 'template1'];

export async function restoreClusterStaged(run: ClusterRestore): Promise<ClusterOutcome> {
  const { source, entry, conn, signal } = run;
  const manifest = entry.manifest;
  const layout = stagedClusterFiles(manifest);
  if (!layout) throw new Error('restoreClusterStaged: the backup has no file for every database of its cluster');
  const where = describeServer(conn);
  const warnings: string[] = [];
  const step = (message: string) => run.onEvent({ type: 'step', message });
  const warn = (message: string) => {
    warnings.push(message);
    run.onEvent({ type: 'warning', message });
  };
  const target = await prepareTarget({ conn, manifest, pgBinDir: run.pgBinDir, signal }, step);
  const serverHas = new Set(target.server.databases.map((d) => d.name));

  // 1. The globals: small, fetched and checked whole, then applied (roles cannot be staged).
  const fetchOpts = { restoreDir: run.restoreDir, signal, onEvent: run.onEvent, progress: run.progress };
  const [globalsFile] = await fetchForRestore(source, entry, [layout.globals], fetchOpts);
  let globals: RestoreOutcome;
  try {
    globals = await executeRestore({
      type: 'globals',
      file: globalsFile!.path,
      manifest,
      conn,
      overwrite: false,
      pgBinDir: run.pgBinDir,
      signal,
      onEvent: run.onEvent,
      progress: run.progress,
      target,
    });
  } catch (err) {
    throw retyped(err, `${messageOf(err)}; no database was restored`);
  }
  warnings.push(...globals.warnings);
  const created = globals.created ?? { roles: [], tablespaces: [] };
  const goBack = undoHint(created);

  // 2. Every database into its staging database, `jobs` at a time. The first failure stops the others.
  const stop = new AbortController();
  const onStop = () => stop.abort();
  signal.addEventListener('abort', onStop, { once: true });
  const rawOf = (file: string) => manifest.files.find((f) => f.name === file)?.rawBytes;
  type Result = { staged?: Staged; file?: FetchedFile; error?: unknown };
  step(`restoring ${layout.databases.length} database(s) into staging databases, ${run.jobs} at a time`);
  let results: Result[];
  try {
    // The biggest files first: with several at once, the last one to finish is then a small one.
    const sizeOf = (file: string) => manifest.files.find((f) => f.name === file)?.bytes ?? 0;
    const queue = [...layout.databases].sort((a, b) => sizeOf(b.file) - sizeOf(a.file));
    results = await mapLimit(queue, Math.max(1, run.jobs), async ({ database, file }): Promise<Result> => {
      if (stop.signal.aborted) return { error: new AbortedError() };
      try {
        const streamed = await streamForRestore(source, entry, file, { ...fetchOpts, signal: stop.signal });
        let staged: Staged;
        try {
          staged = await stageDatabase({
            conn,
            server: target.server,
            tools: target.tools,
            stripRestrict: target.stripRestrict,
            original: database,
            target: database,
            // postgres and template1 are on every server: replaced. Anything else that exists stops it.
            overwrite: EVERY_SERVER_HAS.includes(database),
            input: streamed.input,
            rawTotal: rawOf(file),
            signal: stop.signal,
            tracker: run.progress,
            step,
            warn,
          });
        } catch (err) {
          await streamed.finish(false);
          throw err;
        }
        return { staged, file: await streamed.finish(true) };
      } catch (error) {
        stop.abort();
        return { error };
      }
    });
  } finally {
    signal.removeEventListener('abort', onStop);
  }

  const staged = results.flatMap((r) => (r.staged ? [r.staged] : []));
  const files = [globalsFile!, ...results.flatMap((r) => (r.file ? [r.file] : []))];
  const failure = signal.aborted ? new AbortedError() : results.find((r) => r.error !== undefined && !(r.error instanceof AbortedError))?.error ?? results.find((r) => r.error)?.error;
  if (failure !== undefined) {
    const dropped = await dropAll(staged);
    const cause = failure instanceof AbortedError && signal.aborted ? 'the cluster restore was stopped before it finished' : `the cluster restore failed: ${messageOf(failure)}`;
    throw retyped(
      signal.aborted ? new AbortedError() : failure,
      `${cause}; no database of the backup was put under its real name${dropped}${goBack}`,
    );
  }

  // 3. All restored: put them in place, the fresh server's postgres and template1 last.
  const order = [...staged.filter((s) => !EVERY_SERVER_HAS.includes(s.target)), ...EVERY_SERVER_HAS.flatMap((n) => staged.filter((s) => s.target === n))];
  const done: string[] = [];
  for (const [i, s] of order.entries()) {
    try {
      await putInPlace({ conn, server: target.server, overwrite: EVERY_SERVER_HAS.includes(s.target), tracker: run.progress, step, warn }, s);
      done.push(s.target);
    } catch (err) {
      const dropped = await dropAll(order.slice(i + 1));
      const placed = done.length > 0 ? `; in place already: ${done.map((d) => JSON.stringify(d)).join(', ')}` : '';
      throw retyped(err, `the cluster restore failed while putting the databases in place: ${messageOf(err)}${placed}${dropped}; the server holds part of the cluster: start again from a fresh server${goBack}`);
    }
  }
  for (const name of EVERY_SERVER_HAS) if (serverHas.has(name) && done.includes(name)) step(`the server's ${name} database was replaced by the backup's`);
  step(`cluster restored onto ${where}: ${done.length} database(s)`);
  return { type: 'cluster', target: where, psqlVersion: target.tools.version, warnings, created, databases: layout.databases.map((d) => d.database), files };
}

/** Drops the staging databases of a cluster restore that stops; says what could not be dropped. */
async function dropAll(staged: Staged[]): Promise<string> {
  const left: string[] = [];
  for (const s of staged) {
    const after = await s.drop();
    if (!after.startsWith('the staging database was dropped')) left.push(after);
  }
  if (staged.length === 0) return '';
  return left.length === 0 ? ' (the staging databases were dropped)' : ` (${left.join('; ')})`;
}

/** How to take back what the globals created. */
function undoHint(created: { roles: string[]; tablespaces: string[] }): string {
  if (created.roles.length === 0 && created.tablespaces.length === 0) return '; the globals created no role and no tablespace';
  const what = [
    created.roles.length > 0 ? `role(s) ${created.roles.map((r) => JSON.stringify(r)).join(', ')}` : '',
    created.tablespaces.length > 0 ? `tablespace(s) ${created.tablespaces.map((t) => JSON.stringify(t)).join(', ')}` : '',
  ].filter(Boolean);
  const sql = [...created.tablespaces.map((t) => `DROP TABLESPACE ${qi(t)};`), ...created.roles.map((r) => `DROP ROLE ${qi(r)};`)];
  const shown = sql.length > 12 ? `${sql.slice(0, 12).join(' ')} ...` : sql.join(' ');
  return `; the globals created ${what.join(' and ')}: to go back, run ${shown} (or start again from a fresh server)`;
}

/** The same kind of error (exit code) with a new message. */
function retyped(err: unknown, message: string): Error {
  const text = redact(message);
  if (err instanceof AbortedError) return new AbortedError(text);
  if (err instanceof VerificationError) return new VerificationError(text);
  if (err instanceof UsageError) return new UsageError(text);
  if (err instanceof ExternalError) return new ExternalError(text);
  return new ExternalError(text);
}
