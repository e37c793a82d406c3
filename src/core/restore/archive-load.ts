// A custom-format archive restored by pg_restore itself into a staging database: what a parallel
// (RESTORE_JOBS > 1) or selective (RESTORE_SCHEMAS, RESTORE_TABLES) restore needs, both of which
// pg_restore does only from a seekable local file.
//
// Two steps, both into the staging database only:
// 1. the archive's database-level entries (CREATE DATABASE with its encoding and locale, ALTER
//    DATABASE ... SET, its comment and grants) as SQL, `pg_restore --create -L <those> -f -`, through
//    the plain restore's road (SqlRewriter renames them onto the staging database, psql runs them);
// 2. everything else (or the selection), `pg_restore --dbname=<staging> --jobs=N --exit-on-error
//    [-L <selection>]`: pg_restore without --create leaves the database-level entries out itself.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackupSource } from '../source.js';
import { AbortedError, ExternalError, UsageError, VerificationError, messageOf } from '../errors.js';
import { decrypting, decryptStages, isEncryptedName } from '../encryption/age-stream.js';
import { plainName } from '../backup/names.js';
import type { ClientTools } from '../postgres/client-tools.js';
import { startTool } from '../process/run-tool.js';
import { redact } from '../secrets.js';
import { libpqEnv, type ConnectionSettings } from '../settings/connection.js';
import { readArchiveToc, type ArchiveToc } from './archive-toc.js';
import { listFileText, selectEntries, type Selection } from './archive-select.js';
import { PsqlFailure, psqlMessage } from './execute-psql.js';

/** An archive ready for pg_restore: a local, checked, plaintext file and its table of contents. */
export interface LocalArchive {
  path: string;
  toc: ArchiveToc;
  /** The entries to restore (a selection), or undefined for everything. */
  selected?: number[];
  /** The database-level entries (step 1). */
  databaseEntries: number[];
  jobs: number;
  /** Removes what was made for the restore (a decrypted copy). */
  cleanup(): Promise<void>;
}

/**
 * The archive at `path` (checked already) made ready: decrypted into a private temp file in
 * `workDir` when it is encrypted (pg_restore cannot seek in a stream), its TOC read, the selection
 * resolved against it (names it does not have: UsageError, exit 2).
 */
export async function openLocalArchive(opts: { path: string; name: string; workDir: string; selection?: Selection; jobs: number; signal: AbortSignal; label: string }): Promise<LocalArchive> {
  let path = opts.path;
  let cleanup = async () => {};
  if (isEncryptedName(opts.name)) {
    await mkdir(opts.workDir, { recursive: true, mode: 0o700 });
    path = join(opts.workDir, `.pg-backups-${randomBytes(6).toString('hex')}-${plainName(opts.name)}`);
    cleanup = () => rm(path, { force: true });
    try {
      await (pipeline as (...streams: unknown[]) => Promise<void>)(createReadStream(opts.path), ...decryptStages(opts.name), createWriteStream(path, { mode: 0o600, flags: 'wx' }), { signal: opts.signal });
    } catch (err) {
      await cleanup();
      if (opts.signal.aborted) throw new AbortedError();
      if (err instanceof VerificationError || err instanceof UsageError) throw err;
      throw new ExternalError(redact(`decrypting ${opts.label} into ${opts.workDir} failed: ${messageOf(err)}`));
    }
  }
  try {
    const toc = await readArchiveToc(createReadStream(path), { label: opts.label, signal: opts.signal });
    const databaseEntries = selectEntries(toc, { schemas: [], tables: [] }, { withDatabase: true }).ids;
    let selected: number[] | undefined;
    if (opts.selection && (opts.selection.schemas.length > 0 || opts.selection.tables.length > 0)) {
      const picked = selectEntries(toc, opts.selection);
      if (picked.missing.length > 0) {
        throw new UsageError(`${opts.label} has no ${picked.missing.join(', ')}; check RESTORE_SCHEMAS / RESTORE_TABLES against \`pg-backups restore --dry-run\` (it lists the archive's tables)`);
      }
      selected = picked.ids;
    }
    return { path, toc, selected, databaseEntries, jobs: opts.jobs, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Runs `work` with a private list file for pg_restore -L holding `ids`. */
export async function withListFile<T>(ids: number[], work: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pg-backups-list-'));
  try {
    const file = join(dir, 'restore.list');
    await writeFile(file, listFileText(ids), { mode: 0o600 });
    return await work(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Step 2: pg_restore into the staging database (already created by step 1). */
export async function pgRestoreInto(opts: { archive: LocalArchive; tools: ClientTools; conn: ConnectionSettings; staging: string; appName: string; signal: AbortSignal; label: string }): Promise<void> {
  const { archive } = opts;
  const run = async (list?: string) => {
    const env = libpqEnv(opts.conn, opts.staging);
    env.PGAPPNAME = opts.appName;
    const proc = startTool({
      command: opts.tools.path('pg_restore'),
      args: ['--exit-on-error', '--no-password', `--jobs=${archive.jobs}`, `--dbname=${opts.staging}`, ...(list ? [`--use-list=${list}`] : []), archive.path],
      env,
      label: opts.label,
      signal: opts.signal,
      stdout: 'ignore',
    });
    try {
      await proc.done;
    } catch (err) {
      if (err instanceof AbortedError || opts.signal.aborted) throw new AbortedError(`${opts.label} was stopped`);
      // "pg_restore: error: could not execute query: ERROR: ..." with its DETAIL (the "Command was:" echo stops it)
      throw new PsqlFailure(redact(psqlMessage(proc.stderrText()) ?? messageOf(err)), undefined);
    }
  };
  if (archive.selected) await withListFile(archive.selected, run);
  else await run();
}

/** The TOC of an archive on a source, read from the head of the file (decrypted on its way). */
export async function readSourceToc(source: BackupSource, folder: string, name: string, signal: AbortSignal, label: string): Promise<ArchiveToc> {
  const stream = await source.openFile(folder, name, signal);
  const readable = decrypting(stream, name);
  try {
    return await readArchiveToc(readable, { label, signal });
  } finally {
    stream.destroy();
    readable.destroy();
  }
}
