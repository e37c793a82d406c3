// The two halves of a database restore: psql fills a staging database (a failure or a stop drops
// it and leaves the target as it was), then the staging database is put in place of the target.
// A database restore runs both at once; a cluster restore stages every database first and puts
// them in place only when all of them have been restored.
import { AbortedError, ExternalError, UsageError, VerificationError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { ClientTools } from '../postgres/client-tools.js';
import type { ServerInfo } from '../postgres/server.js';
import { describeServer, type ConnectionSettings } from '../settings/connection.js';
import type { ProgressTracker } from '../progress.js';
import { dropDatabase, dropStaleStaging, endSessionsOf, maintenanceDb, qi, sideName, swapIntoPlace, SwapRefused, withClient } from './execute-admin.js';
import { PsqlFailure, runPsqlFile, type StreamedInput } from './execute-psql.js';
import { OVERWRITE_HINT } from './target-checks.js';
import { pgRestoreInto, withListFile, type LocalArchive } from './archive-load.js';

export interface StageRequest {
  conn: ConnectionSettings;
  server: ServerInfo;
  tools: ClientTools;
  stripRestrict: boolean;
  /** The database's name in the backup. */
  original: string;
  /** The name it lands under. */
  target: string;
  /** Replace the target when it exists (otherwise that stops the restore with exit 2). */
  overwrite: boolean;
  /** A verified local .sql.gz, or a file read once and checked on its way into psql. */
  file?: string;
  input?: StreamedInput;
  /** A custom-format archive restored by pg_restore itself (parallel, or a selection). */
  archive?: LocalArchive;
  /** The file's uncompressed size, from the manifest (the total of the progress). */
  rawTotal?: number;
  signal: AbortSignal;
  tracker: ProgressTracker;
  step: (m: string) => void;
  warn: (m: string) => void;
}

export interface Staged {
  original: string;
  target: string;
  staging: string;
  /** "restore of database "x" as "y"" */
  label: string;
  /** The target existed when the restore started. */
  existed: boolean;
  /** Drops the staging database; says what state the target is in. */
  drop(): Promise<string>;
}

/** Restores the file into a new staging database. Throws typed errors that say what was left. */
export async function stageDatabase(req: StageRequest): Promise<Staged> {
  const { target, original, server } = req;
  const where = describeServer(req.conn);
  if (req.signal.aborted) throw new AbortedError();
  const staging = sideName(target, 'restore');
  const maintenance = maintenanceDb(req.conn, [staging, target]);
  const exists = await withClient(req.conn, maintenance, async (c) => {
    const r = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[target, staging]]);
    return new Set(r.rows.map((row) => row.datname));
  });
  if (exists.has(staging)) throw new ExternalError(`the staging name ${JSON.stringify(staging)} is taken on ${where}; try again`);
  if (exists.has(target) && !req.overwrite) {
    throw new UsageError(`database ${JSON.stringify(target)} already exists on ${where}; nothing was restored; ${OVERWRITE_HINT}`);
  }
  const stale = await dropStaleStaging(req.conn, maintenance, target, server.major);
  for (const name of stale.dropped) req.warn(`dropped ${JSON.stringify(name)}, the staging database of an earlier restore that was killed`);
  for (const name of stale.unmarked) {
    req.warn(`left ${JSON.stringify(name)} alone: it is named like a staging database of pg-backups but does not carry its mark; drop it by hand if it is a leftover`);
  }

  const label = `restore of database ${JSON.stringify(original)}${target !== original ? ` as ${JSON.stringify(target)}` : ''}`;
  req.step(`restoring ${JSON.stringify(original)} into the staging database ${JSON.stringify(staging)}`);
  const untouched = exists.has(target) ? `the existing database ${JSON.stringify(target)} is as it was` : `no database ${JSON.stringify(target)} was created`;
  const appName = `pgb ${staging}`;
  const drop = async (): Promise<string> => {
    req.step(`dropping the staging database ${JSON.stringify(staging)}`);
    try {
      await endSessionsOf(req.conn, maintenance, appName);
      await dropDatabase(req.conn, maintenance, staging, server.major);
      return `the staging database was dropped and ${untouched}`;
    } catch (err) {
      return redact(`${untouched}, but the staging database ${JSON.stringify(staging)} could not be dropped (${messageOf(err)}); drop it with DROP DATABASE "${staging}"`);
    }
  };
  const phase = req.tracker.phase('restore-database', `restore-database:${target}`, label);
  const fileLabel = req.input?.name ?? (req.file ?? '').split('/').pop() ?? '';
  try {
    const psql = (archive?: { path: string; args: string[] }) =>
      runPsqlFile({
        progress: { phase, rawTotal: req.rawTotal },
        tools: req.tools,
        conn: req.conn,
        database: maintenance,
        file: req.file ?? '',
        input: req.input,
        archive,
        rewrite: { mode: 'database', database: original, staging, stripRestrict: req.stripRestrict, serverMajor: server.major, label: fileLabel },
        signal: req.signal,
        label: `psql (${label})`,
        appName,
      });
    const archive = req.archive;
    // An archive restored by pg_restore: its database-level entries first (the staging database is
    // created from them, as psql would from the plain SQL), then the rest with --jobs.
    const result = archive ? await withListFile(archive.databaseEntries, (list) => psql({ path: archive.path, args: [`--use-list=${list}`] })) : await psql();
    for (const w of result.warnings) req.warn(`psql: ${w}`);
    if (archive) {
      req.step(`pg_restore --jobs=${archive.jobs}${archive.selected ? ` (${archive.selected.length} entries of the archive)` : ''} into ${JSON.stringify(staging)}`);
      await pgRestoreInto({ archive, tools: req.tools, conn: req.conn, staging, appName, signal: req.signal, label: `pg_restore (${label})` });
    }
    phase.done();
  } catch (err) {
    phase.failed();
    const after = await drop();
    if (err instanceof AbortedError) throw new AbortedError(`${label} was stopped before it finished; ${after}`);
    if (err instanceof VerificationError) throw new VerificationError(`${err.message}; ${after}`);
    if (err instanceof PsqlFailure) {
      throw new ExternalError(`${label} failed while ${req.archive ? 'pg_restore' : 'psql'} ran the backup into the staging database ${JSON.stringify(staging)}${err.where ? ` (${err.where})` : ''}: ${err.psqlMessage}${hintFor(err.psqlMessage)}; ${after}`);
    }
    throw new ExternalError(redact(`${label} failed: ${messageOf(err)}; ${after}`));
  }
  if (req.signal.aborted) {
    const after = await drop();
    throw new AbortedError(`${label} was stopped before it finished; ${after}`);
  }
  return { original, target, staging, label, existed: exists.has(target), drop };
}

/**
 * Puts a staged database in place of its target. It runs to its end once started (it is short, and
 * stopping it half-way helps nobody). A failure drops the staging database (typed error). A
 * template database replaced (template1 in a cluster restore) stays a template.
 */
export async function putInPlace(
  req: Pick<StageRequest, 'conn' | 'server' | 'overwrite' | 'tracker' | 'step' | 'warn'>,
  staged: Staged,
): Promise<void> {
  const { target, staging } = staged;
  const where = describeServer(req.conn);
  const swapPhase = req.tracker.phase('swap', `swap:${target}`, `putting ${JSON.stringify(target)} in place`);
  try {
    const wasTemplate = await withClient(req.conn, maintenanceDb(req.conn, [staging, target]), async (c) => {
      const r = await c.query<{ t: boolean }>('SELECT datistemplate AS t FROM pg_database WHERE datname = $1', [target]);
      return r.rows[0]?.t === true;
    });
    const swap = await swapIntoPlace(req.conn, { staging, target, overwrite: req.overwrite, serverMajor: req.server.major, step: req.step });
    for (const w of swap.warnings) req.warn(w);
    if (wasTemplate) {
      await withClient(req.conn, maintenanceDb(req.conn, [target]), (c) => c.query(`ALTER DATABASE ${qi(target)} IS_TEMPLATE true`));
    }
    swapPhase.done();
  } catch (err) {
    swapPhase.failed();
    const after = await staged.drop();
    if (err instanceof SwapRefused) {
      throw new UsageError(`database ${JSON.stringify(target)} appeared on ${where} while the restore ran; ${after}; ${OVERWRITE_HINT}`);
    }
    throw new ExternalError(redact(`${staged.label}: putting the restored database in place failed: ${messageOf(err)}; ${after}`));
  }
  req.step(`database ${JSON.stringify(target)} restored`);
}

export function hintFor(message: string): string {
  if (/role ".*" does not exist/.test(message)) return ' (restore the globals first: RESTORE_TYPE=globals)';
  if (/permission denied|must be superuser|must be owner/.test(message)) return ' (restore as a superuser)';
  return '';
}
