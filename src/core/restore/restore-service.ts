// A restore from a source: pick the backup, fetch and verify the files it needs (damage stops it
// before the target is touched), then restore them. The terminal UI and the non-interactive
// command both call this.
import type { BackupEntry, BackupSource } from '../source.js';
import type { ConnectionSettings } from '../settings/connection.js';
import { executeRestore, type RestoreOutcome } from './execute.js';
import { fetchForRestore, streamForRestore, type FetchedFile } from './fetch.js';
import { defaultRestoreJobs, restoreClusterStaged } from './execute-cluster.js';
import { planRestore, type PlanRefusal } from './plan.js';
import { ProgressTracker } from '../progress.js';
import { ExternalError, UsageError, VerificationError } from '../errors.js';
import { join } from 'node:path';
import { openLocalArchive } from './archive-load.js';
import { singleRestoreFailure } from './single-damage.js';
import type { RestoreEvent, RestoreRequest } from './model.js';

export interface RestoreRun {
  request: RestoreRequest;
  source: BackupSource;
  conn: ConnectionSettings;
  pgBinDir?: string;
  signal: AbortSignal;
  onEvent?: (e: RestoreEvent) => void;
  /** Entries already listed (a drill restores the backup it picked); listed from the source otherwise. */
  entries?: BackupEntry[];
}

export interface RestoreSummary {
  folder: string;
  source: string;
  type: RestoreRequest['type'];
  files: FetchedFile[];
  outcome: RestoreOutcome;
}

export async function runRestore(run: RestoreRun): Promise<RestoreSummary> {
  const { request, source, signal } = run;
  const emit = run.onEvent ?? (() => {});
  const progress = new ProgressTracker((p) => emit({ type: 'progress', progress: p }));
  emit({ type: 'step', message: `looking for ${request.folder === 'latest' ? 'the newest backup' : request.folder} on ${source.kind}:${source.location}` });
  // The preflight plan first: whatever it refuses stops the restore before anything is downloaded or touched.
  const listing = progress.phase('listing', `listing:${source.kind}`, `listing ${source.kind}:${source.location}`);
  let planned;
  try {
    planned = await planRestore({ request, source, conn: run.conn, pgBinDir: run.pgBinDir, signal, ...(run.entries ? { entries: run.entries } : {}) });
    listing.done();
  } catch (err) {
    listing.failed();
    throw err;
  }
  const { plan, entry } = planned;
  for (const message of plan.warnings) emit({ type: 'warning', message });
  if (!plan.ok) {
    for (const extra of plan.refusals.slice(1)) emit({ type: 'warning', message: `also: ${extra.message}` });
    throw refusalError(plan.refusals[0]!);
  }
  const files = plan.files.map((f) => f.name);
  emit({ type: 'step', message: `restoring ${request.type} from ${entry.folder} (${files.join(', ')})` });
  const common = {
    manifest: entry.manifest,
    conn: run.conn,
    // A seed 002 file names no database: its name is the one it is restored under.
    database: entry.single ? (request.database ?? request.targetDatabase) : request.database,
    targetDatabase: request.targetDatabase,
    overwrite: request.overwrite,
    pgBinDir: run.pgBinDir,
    signal,
    onEvent: emit,
    progress,
  };
  if (request.type === 'database' && plan.archive?.mode === 'pg_restore') {
    // pg_restore --jobs or a selection: pg_restore reads a local, checked file (downloaded whole
    // into RESTORE_DIR from S3 or the remote host; decrypted into a private temp file there).
    const fetched = await fetchForRestore(source, entry, files, { restoreDir: request.restoreDir, signal, onEvent: emit, progress });
    const archive = await openLocalArchive({
      path: fetched[0]!.path,
      name: files[0]!,
      workDir: join(request.restoreDir, entry.folder),
      selection: request.selection,
      jobs: plan.archive.jobs,
      signal,
      label: `${files[0]!} of backup ${entry.folder}`,
    });
    try {
      const outcome = await executeRestore({ ...common, type: 'database', file: archive.path, archive });
      return { folder: entry.folder, source: `${source.kind}:${source.location}`, type: request.type, files: fetched, outcome };
    } finally {
      await archive.cleanup();
    }
  }
  if (request.type === 'database' && (entry.manifest || entry.single)) {
    // One pass: the file is read once, checked on its way into psql (and saved into RESTORE_DIR as
    // it arrives from S3 or the remote host). Damage found at its end stops psql before it has
    // read the end of its input: the staging database is dropped, the target is as it was.
    const streamed = await streamForRestore(source, entry, files[0]!, { restoreDir: request.restoreDir, signal, onEvent: emit, progress });
    let outcome;
    try {
      outcome = await executeRestore({ ...common, type: 'database', input: streamed.input });
    } catch (err) {
      await streamed.finish(false);
      throw await singleRestoreFailure(source, entry, err, signal); // a seed 002 file: damage, if it is
    }
    const file = await streamed.finish(true);
    return { folder: entry.folder, source: `${source.kind}:${source.location}`, type: request.type, files: file ? [file] : [], outcome };
  }
  if (request.type === 'cluster' && plan.cluster?.staged && entry.manifest) {
    // Staged: the globals, then every database from its own file into a staging database, several
    // at once, each read once; put in place only when all of them have been restored.
    const outcome = await restoreClusterStaged({
      source,
      entry: entry as typeof entry & { manifest: NonNullable<typeof entry.manifest> },
      conn: run.conn,
      restoreDir: request.restoreDir,
      jobs: request.jobs ?? defaultRestoreJobs(),
      pgBinDir: run.pgBinDir,
      signal,
      onEvent: emit,
      progress,
    });
    return { folder: entry.folder, source: `${source.kind}:${source.location}`, type: request.type, files: outcome.files, outcome };
  }
  // Not staged (an older backup, a legacy folder): the plan's warnings said so.
  const fetched = await fetchForRestore(source, entry, files, { restoreDir: request.restoreDir, signal, onEvent: emit, progress });
  const outcome = await executeRestore({ ...common, type: request.type, file: fetched[0]!.path });
  return { folder: entry.folder, source: `${source.kind}:${source.location}`, type: request.type, files: fetched, outcome };
}

/** The plan's refusal as the typed error of its exit code. */
export function refusalError(refusal: PlanRefusal): Error {
  if (refusal.exitCode === 2) return new UsageError(refusal.message);
  if (refusal.exitCode === 3) return new VerificationError(refusal.message);
  return new ExternalError(refusal.message);
}
