// Which backup and which of its files a restore needs, and those files made available as verified
// local files: checked in place on local disk, or downloaded from S3 / the remote host into
// RESTORE_DIR with the size, sha256 and gzip stream checked while they arrive. A damaged or
// incomplete backup stops here (VerificationError, exit 3), before any target is touched.
//
// Choices:
// - "latest" is the newest finished backup (with a manifest). Legacy folders (001's, no manifest)
//   are picked by "latest" only when the source holds no finished backup at all; damaged ones never.
//   A folder named explicitly may be finished or legacy; a damaged one is refused (exit 3).
//   Seed 002's flat files (src/core/seed002.ts) are legacy backups named by their file name: "latest"
//   picks the newest legacy backup by time, folder or file, only when no finished backup is there.
// - A seed 002 file holds one database and names none: only RESTORE_TYPE=database, restored under
//   RESTORE_TARGET_DATABASE, else RESTORE_DATABASE; read once, decrypted (.enc) on its way into psql.
// - Downloads go to <RESTORE_DIR>/<folder>/<file> through a hidden temp name in the same folder
//   (.pg-backups-<random>.part), renamed into place only once whole and checked. A file already
//   there is reused when its size and sha256 match the manifest; otherwise it is deleted and fetched
//   again (always, for legacy folders, which have no sha256 to compare with).
// - Files are fetched one after the other; files already fetched and verified stay when a later one
//   turns out damaged (they are good, and a later restore reuses them); the damaged one never stays.
// - Names coming from a source are checked before any path is built from them: no '/', '\', NUL or
//   control characters, not "." or "..", not hidden (leading '.'), at most 255 bytes; and the path
//   built must resolve to exactly <RESTORE_DIR>/<folder>/<file>. A name such as "a..b" (no
//   separator) is one path component and allowed: database "v1..2" has such a file.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm, rmdir, statfs, unlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortedError, ExternalError, UsageError, VerificationError, isAbort, messageOf } from '../errors.js';
import { CLUSTER_FILE, FOLDER_PATTERN, GLOBALS_FILE, databaseFileName, databaseOfFile, isArchiveName, storedName } from '../backup/names.js';
import { plainNameProblem, type Manifest, type ManifestFile } from '../backup/manifest.js';
import type { BackupEntry, BackupSource } from '../source.js';
import type { RestoreEvent, RestoreType } from './model.js';
import { isFuture } from '../retention.js';
import type { ProgressTracker } from '../progress.js';
import type { StreamedInput } from './execute-psql.js';
import { CheckingStream, FileDamage, type ExpectedFile } from '../file-check.js';
import { hasDecryptionKeys, hasKeyFor, isEncryptedName, missingKeyError } from '../encryption/age-stream.js';
import { describeSingle, isSeed002File } from '../seed002.js';
import { newestFirst } from '../source.js';

/**
 * The checks of a file's stored bytes: an encrypted one (.age) is not a gzip stream until it is
 * decrypted; its size and sha256 are checked here, its gzip stream (and age's own authentication)
 * when psql's pass decrypts and gunzips it, before anything is put in place.
 */
const storedCheck = (name: string) => ({ gzip: !isEncryptedName(name) && !isArchiveName(name) });

export interface FetchedFile {
  name: string;
  /** The verified local file: in BACKUP_DIR for the local source, in RESTORE_DIR otherwise. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface FetchOptions {
  restoreDir: string;
  signal?: AbortSignal;
  onEvent?: (e: RestoreEvent) => void;
  /** Phases 'download' and 'verify', one per file. */
  progress?: ProgressTracker;
}

/** Temp names of downloads in progress (hidden; never a backup file name). */
const PART_PREFIX = '.pg-backups-';
const PART_SUFFIX = '.part';
/** A 'download' event at most this often (plus the first and the last). */
const PROGRESS_INTERVAL_MS = 250;

// -------------------------------------------------------------------------------------------------
// Which files

/**
 * The files a restore of this type needs: cluster: the cluster file; globals: the globals file;
 * database: that database's file. Throws VerificationError (exit 3) when the backup is damaged or a
 * finished backup's manifest does not list the file it should (a missing manifest entry), and
 * UsageError (exit 2) when the database is not in the backup (naming RESTORE_DATABASE and the
 * databases it has). Legacy folders (no manifest) are read by file name.
 */
export function filesForRestore(entry: BackupEntry, type: RestoreType, database?: string): string[] {
  const where = `backup ${entry.folder}`;
  if (entry.status === 'damaged' || entry.status === 'foreign') throw damagedEntry(entry, where);
  if (type !== 'cluster' && type !== 'globals' && type !== 'database') {
    throw new UsageError(`RESTORE_TYPE=${JSON.stringify(String(type))} is not a restore type; use cluster, globals or database, e.g. RESTORE_TYPE=database`);
  }
  if (entry.single) return singleFile(entry.single, where, type, database);
  if (entry.status === 'finished' || entry.status === 'incomplete') {
    const manifest = entry.manifest;
    if (!manifest) throw new VerificationError(`${where} is marked finished but has no manifest; refusing to restore from it`);
    const listed = (name: string) => manifest.files.find((f) => f.name === name);
    // An encrypted backup without a key to read it: exit 2 before anything is fetched.
    if (manifest.encryption && !hasDecryptionKeys()) throw missingKeyError(where, manifest.encryption.mode);
    if (type === 'cluster') {
      const staged = stagedClusterFiles(manifest);
      if (staged) return [staged.globals, ...staged.databases.map((d) => d.file)];
    }
    if (type !== 'database') {
      const name = storedName(type === 'cluster' ? CLUSTER_FILE : GLOBALS_FILE, manifest.encryption !== undefined);
      if (!listed(name)) throw missingEntry(where, name);
      return [name];
    }
    const has = manifest.databases.length > 0 ? manifest.databases : manifest.files.map((f) => f.database).filter((d): d is string => d !== undefined);
    if (database === undefined || database === '') throw needsDatabase(where, has);
    const canonical = storedName(databaseFileName(database, manifest.dumpFormat), manifest.encryption !== undefined);
    const file: ManifestFile | undefined = listed(canonical) ?? manifest.files.find((f) => f.kind === 'database' && f.database === database);
    if (file) return [file.name];
    if (manifest.databases.includes(database)) throw missingEntry(where, canonical);
    throw notInBackup(where, database, has);
  }
  // legacy: the files as named by 001's tool (raw database names) or by this one (escaped)
  const names = entry.files.map((f) => f.name);
  if (type !== 'database') {
    const name = type === 'cluster' ? CLUSTER_FILE : GLOBALS_FILE;
    if (!names.includes(name)) {
      throw new VerificationError(`${where} (a legacy folder, without manifest) has no ${name}; it is incomplete, refusing to restore from it`);
    }
    return [name];
  }
  const has = names.map(databaseOfFile).filter((d): d is string => d !== undefined).sort();
  if (database === undefined || database === '') throw needsDatabase(where, has);
  const name =
    names.find((n) => n === databaseFileName(database)) ?? names.find((n) => n === `postgres_db_${database}.sql.gz`) ?? names.find((n) => databaseOfFile(n) === database);
  if (!name) throw notInBackup(where, database, has);
  return [name];
}

/**
 * The files of a staged cluster restore: the globals, then the file of each database of the cluster
 * file, in the order they were dumped (the cluster file is made of exactly these bytes). Undefined
 * when one is missing from the manifest: a backup made before pg-backups 0.2 has no file of its own
 * for template1, and is restored from the cluster file as one psql run.
 */
export function stagedClusterFiles(manifest: Manifest): { globals: string; databases: Array<{ database: string; file: string }> } | undefined {
  const globals = manifest.files.find((f) => f.kind === 'globals');
  if (!globals || manifest.clusterDatabases.length === 0) return undefined;
  const databases: Array<{ database: string; file: string }> = [];
  for (const database of manifest.clusterDatabases) {
    const file = manifest.files.find((f) => f.kind === 'database' && f.database === database);
    if (!file) return undefined;
    databases.push({ database, file: file.name });
  }
  return { globals: globals.name, databases };
}

/**
 * The file of a seed 002 backup: one database, named nowhere in it; `database` is the name it is
 * restored under (RESTORE_TARGET_DATABASE, else RESTORE_DATABASE). Usage errors (exit 2) for another
 * type, no name, or an encrypted file without BACKUP_ENCRYPTION_KEY (before anything is fetched).
 */
function singleFile(single: NonNullable<BackupEntry['single']>, where: string, type: RestoreType, database: string | undefined): string[] {
  if (type !== 'database') {
    throw new UsageError(
      `${where} is ${describeSingle(single)}: it holds one database, not ${type === 'cluster' ? 'a cluster' : 'the globals'}; restore it with RESTORE_TYPE=database and the name to restore it under, e.g. RESTORE_TYPE=database RESTORE_DATABASE=app`,
    );
  }
  if (database === undefined || database === '') {
    throw new UsageError(`${where} is ${describeSingle(single)}, whose file does not name its database: set RESTORE_DATABASE (or RESTORE_TARGET_DATABASE) to the name to restore it under, e.g. RESTORE_DATABASE=app`);
  }
  if (single.encrypted && !hasKeyFor(single.file)) throw missingKeyError(where, 'passphrase');
  return [single.file];
}

function missingEntry(where: string, name: string): VerificationError {
  return new VerificationError(`the manifest of ${where} does not list ${name} (a missing manifest entry); the backup is incomplete, refusing to restore from it`);
}

function damagedEntry(entry: BackupEntry, where: string): VerificationError {
  return new VerificationError(`${where} is damaged: ${entry.problem ?? 'its manifest cannot be read'}; refusing to restore from it`);
}

function quoteList(names: string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function needsDatabase(where: string, has: string[]): UsageError {
  const example = has.find((d) => /^[A-Za-z0-9_.-]+$/.test(d)) ?? 'mydb';
  return new UsageError(
    `RESTORE_TYPE=database needs RESTORE_DATABASE, the database to restore; ${where} has ${has.length > 0 ? quoteList(has) : 'no database file'}; e.g. RESTORE_DATABASE=${example}`,
  );
}

function notInBackup(where: string, database: string, has: string[]): UsageError {
  if (has.length === 0) {
    return new UsageError(`RESTORE_DATABASE=${JSON.stringify(database)} is not in ${where}, which has no database file; use RESTORE_TYPE=cluster or another RESTORE_FOLDER`);
  }
  const example = has.find((d) => /^[A-Za-z0-9_.-]+$/.test(d));
  return new UsageError(
    `RESTORE_DATABASE=${JSON.stringify(database)} is not in ${where}; it has ${quoteList(has)}${example ? `; e.g. RESTORE_DATABASE=${example}` : ''}`,
  );
}

// -------------------------------------------------------------------------------------------------
// Which backup

/**
 * The backup a restore uses: the folder named, or for "latest" the newest whole backup (status
 * "finished") that is not dated in the future; a legacy folder only when the source holds no whole
 * backup at all. Newer folders passed over (incomplete, damaged, dated in the future) are named in a
 * warning. A folder named explicitly may be finished, incomplete (the files needed are checked when
 * fetched) or legacy, and may be dated in the future (with a warning); a damaged one is refused
 * (VerificationError, exit 3), a foreign one (a symbolic link, not ours) too (UsageError, exit 2).
 * UsageError (exit 2) naming RESTORE_FOLDER when there is no such backup. `where` (the source, for
 * people) makes the messages name it.
 */
export function pickBackup(
  entries: BackupEntry[],
  folder: string,
  where?: string,
  opts: { now?: Date; warn?: (message: string) => void } = {},
): BackupEntry {
  const on = where ? ` on ${where}` : '';
  const now = opts.now ?? new Date();
  const warn = opts.warn ?? (() => {});
  const sorted = [...entries].sort(newestFirst);
  const usable = sorted.filter((e) => (e.status === 'finished' && e.manifest !== undefined) || e.status === 'legacy');
  const wanted = folder.trim();
  if (wanted.toLowerCase() === 'latest') {
    const present = usable.filter((e) => !isFuture(e.time, now));
    const picked = present.find((e) => e.status === 'finished') ?? present.find((e) => e.status === 'legacy');
    if (picked) {
      for (const e of sorted.filter((x) => x.status !== 'foreign' && newestFirst(x, picked) < 0)) {
        warn(
          isFuture(e.time, now)
            ? `latest: passed over ${e.folder}${on}: dated in the future (a clock was wrong when it was written?); name it in RESTORE_FOLDER to restore it anyway`
            : `latest: passed over ${e.folder}${on}: it is ${e.status}${e.problem ? ` (${e.problem})` : ''}`,
        );
      }
      return picked;
    }
    const damaged = sorted.filter((e) => e.status === 'damaged' || e.status === 'incomplete').map((e) => e.folder);
    const future = usable.filter((e) => isFuture(e.time, now)).map((e) => e.folder);
    const also = [
      damaged.length > 0 ? `only damaged or incomplete ones: ${damaged.slice(0, 3).join(', ')}` : '',
      future.length > 0 ? `only ones dated in the future: ${future.slice(0, 3).join(', ')}` : '',
    ].filter(Boolean);
    throw new UsageError(
      `RESTORE_FOLDER=latest: there is no finished backup${on}${also.length > 0 ? ` (${also.join('; ')})` : ''}; make one with \`pg-backups backup\`, name a folder in RESTORE_FOLDER, or choose another RESTORE_SOURCE`,
    );
  }
  const example = usable.find((e) => !isFuture(e.time, now))?.folder ?? '20250101_120000';
  if (!FOLDER_PATTERN.test(wanted) && !isSeed002File(wanted)) {
    throw new UsageError(
      `RESTORE_FOLDER=${JSON.stringify(folder)} is not a backup folder name; give one as \`pg-backups list\` shows it (YYYYMMDD_HHMMSS, or a seed 002 file name backup_YYYYMMDD_HHMMSS.sql.gz[.enc]), e.g. RESTORE_FOLDER=${example}, or RESTORE_FOLDER=latest`,
    );
  }
  const found = sorted.find((e) => e.folder === wanted);
  if (found?.status === 'damaged') throw damagedEntry(found, `backup ${found.folder}${on}`);
  if (found?.status === 'foreign') {
    throw new UsageError(`RESTORE_FOLDER=${wanted}${on} is ${found.problem ?? 'not a folder pg-backups wrote'}; it is not restored from; e.g. RESTORE_FOLDER=${example}, or RESTORE_FOLDER=latest`);
  }
  if (found?.status === 'incomplete') {
    warn(`backup ${found.folder}${on} is incomplete (${found.problem ?? 'not whole'}); only files that are whole and match the manifest are restored from it`);
    return found;
  }
  if (!found || !usable.includes(found)) {
    const newest = usable.slice(0, 3).map((e) => e.folder);
    throw new UsageError(
      `RESTORE_FOLDER=${wanted} is not a backup${on}${newest.length > 0 ? ` (the newest there: ${newest.join(', ')})` : ' (it holds none)'}; e.g. RESTORE_FOLDER=${example}, or RESTORE_FOLDER=latest`,
    );
  }
  if (isFuture(found.time, now)) warn(`backup ${found.folder}${on} is dated in the future (a clock was wrong when it was written?); restoring it because RESTORE_FOLDER names it`);
  return found;
}

// -------------------------------------------------------------------------------------------------
// Names that stay where they belong

/** Why a folder or file name from a source must not become part of a local path, or undefined. */
export function unsafeNameReason(name: string): string | undefined {
  return plainNameProblem(name);
}

function checkName(name: string, what: 'folder' | 'file', where: string): void {
  const reason = unsafeNameReason(name);
  if (reason) {
    throw new VerificationError(`${where}: the ${what} name ${JSON.stringify(name)} is refused (${reason}): it could write outside RESTORE_DIR; refusing to restore from it`);
  }
  if (what === 'folder' && !FOLDER_PATTERN.test(name) && !isSeed002File(name)) {
    throw new VerificationError(`${where}: the folder name ${JSON.stringify(name)} is not a backup folder name (YYYYMMDD_HHMMSS); refusing to restore from it`);
  }
}

/** `root/folder[/file]`, after proving that it resolves to exactly that under root. */
function inside(root: string, where: string, ...parts: string[]): string {
  const path = resolve(root, ...parts);
  const rel = relative(root, path);
  if (rel === '' || isAbsolute(rel) || rel.split(sep)[0] === '..' || rel !== parts.join(sep)) {
    throw new VerificationError(`${where}: ${JSON.stringify(parts.join('/'))} resolves outside ${root}; refusing to restore from it`);
  }
  return path;
}

// -------------------------------------------------------------------------------------------------
// Fetching

/**
 * Makes the needed files available as verified local files:
 * - local source: verified in place (no copy);
 * - S3/remote: streamed into <restoreDir>/<folder>/<file> (through a temp name, renamed when whole),
 *   sha256 and size checked against the manifest while it arrives, and the gzip stream checked; a
 *   file already there with the right size and sha256 is reused.
 * Damage (checksum, size, truncated/invalid gzip, missing file, a file the manifest does not list)
 * is a VerificationError naming the file (exit 3), the partial download removed. A name from a
 * source that could write outside restoreDir is refused (VerificationError). Legacy folders: gzip
 * check only. Progress: 'download', 'verified' (and 'step' for reuse and in-place checks). The
 * signal stops a download and removes the partial file (AbortedError). Network and disk failures
 * are ExternalError (exit 1).
 */
export async function fetchForRestore(source: BackupSource, entry: BackupEntry, files: string[], opts: FetchOptions): Promise<FetchedFile[]> {
  const { signal } = opts;
  const where = `backup ${entry.folder} on ${source.kind} ${source.location}`;
  checkName(entry.folder, 'folder', where);
  if (entry.status === 'damaged' || entry.status === 'foreign') throw damagedEntry(entry, where);
  if ((entry.status === 'finished' || entry.status === 'incomplete') && !entry.manifest) throw new VerificationError(`${where} is marked finished but has no manifest; refusing to restore from it`);
  const wanted = [...new Set(files)];
  if (wanted.length === 0) throw new Error('fetchForRestore: no file asked for');

  // Every name and its expectation first: nothing is read or written for a backup that names a bad file.
  const plan = wanted.map((name) => {
    checkName(name, 'file', where);
    return { name, expected: expectationOf(entry, name, where), listedBytes: entry.files.find((f) => f.name === name)?.bytes };
  });
  signal?.throwIfAborted();

  if (source.kind === 'local') {
    const dir = (source as BackupSource & { dir?: unknown }).dir;
    if (typeof dir !== 'string') throw new Error('fetchForRestore: a local source without dir');
    const out: FetchedFile[] = [];
    for (const item of plan) out.push(await verifyInPlace(source, entry, item.name, item.expected, inside(resolve(dir), where, entry.folder, item.name), where, opts));
    return out;
  }

  const root = await prepareRoot(opts.restoreDir);
  const folderDir = inside(root, where, entry.folder);
  const createdFolder = await prepareFolder(folderDir);
  const out: FetchedFile[] = [];
  try {
    const toDownload: typeof plan = [];
    for (const item of plan) {
      const target = inside(root, where, entry.folder, item.name);
      const reused = await reuseExisting(target, item.name, item.expected, opts);
      if (reused) out.push(reused);
      else toDownload.push(item);
    }
    await checkFreeSpace(folderDir, toDownload.map((i) => i.expected.bytes ?? i.listedBytes ?? 0));
    for (const item of toDownload) {
      const target = inside(root, where, entry.folder, item.name);
      out.push(await download(source, entry, item.name, item.expected, item.listedBytes, folderDir, target, where, opts));
    }
  } catch (err) {
    if (createdFolder) await rmdir(folderDir).catch(() => {}); // only if empty: files that are good stay
    throw err;
  }
  // Back in the order asked for.
  return wanted.map((name) => out.find((f) => f.name === name)!);
}

function expectationOf(entry: BackupEntry, name: string, where: string): ExpectedFile {
  if (entry.status === 'legacy' || !entry.manifest) return {}; // legacy: gzip only
  const file = entry.manifest!.files.find((f) => f.name === name);
  if (!file) throw new VerificationError(`the manifest of ${where} does not list ${name} (a missing manifest entry); the backup is incomplete, refusing to restore from it`);
  return { bytes: file.bytes, sha256: file.sha256 };
}

async function prepareRoot(restoreDir: string): Promise<string> {
  if (!restoreDir) throw new UsageError('RESTORE_DIR is empty; set it to a folder for downloads, e.g. RESTORE_DIR=/restore');
  const abs = resolve(restoreDir);
  try {
    await mkdir(abs, { recursive: true, mode: 0o700 });
    return await realpath(abs);
  } catch (err) {
    throw new ExternalError(`cannot use RESTORE_DIR ${abs}: ${messageOf(err)}`);
  }
}

/** Creates <root>/<folder> (0700) unless there; it must be a real folder, not a link. Returns whether it was created. */
async function prepareFolder(path: string): Promise<boolean> {
  let created = false;
  try {
    await mkdir(path, { mode: 0o700 });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ExternalError(`cannot create ${path} in RESTORE_DIR: ${messageOf(err)}`);
  }
  const st = await lstat(path);
  if (!st.isDirectory()) throw new ExternalError(`${path} in RESTORE_DIR is not a folder (a link or a file is in the way); move it away`);
  return created;
}

async function checkFreeSpace(dir: string, sizes: number[]): Promise<void> {
  const needed = sizes.reduce((a, b) => a + b, 0);
  if (needed === 0) return;
  let free: number;
  try {
    const s = await statfs(dir);
    free = Number(s.bavail) * Number(s.bsize);
  } catch {
    return; // unknown: the write fails clearly if the disk fills
  }
  if (free < needed) {
    throw new ExternalError(`RESTORE_DIR has ${free} bytes free at ${dir}, the download needs ${needed}; free some space or set RESTORE_DIR to a bigger disk`);
  }
}

function damageError(name: string, where: string, problem: string, removed: boolean): VerificationError {
  return new VerificationError(`${name} of ${where} is damaged: ${problem}; refusing to restore it${removed ? ' (the partial download was removed)' : ''}`);
}

/** A VerificationError of the source (missing file, short read) as one that names the file. */
function sourceVerificationError(name: string, where: string, err: VerificationError): VerificationError {
  if (/is missing/.test(err.message)) {
    return new VerificationError(`${name} of ${where} is missing (${err.message}); the backup is incomplete, refusing to restore from it`);
  }
  return new VerificationError(`${name} of ${where} cannot be read whole (${err.message}); the backup is damaged, refusing to restore from it`);
}

const discard = () => new Writable({ write: (_c, _e, done) => done() });

async function verifyInPlace(
  source: BackupSource,
  entry: BackupEntry,
  name: string,
  expected: ExpectedFile,
  path: string,
  where: string,
  opts: FetchOptions,
): Promise<FetchedFile> {
  const { signal } = opts;
  opts.onEvent?.({ type: 'step', message: `checking ${path} (${expected.sha256 ? 'size, sha256 and gzip stream' : 'gzip stream; a legacy backup has no checksums'})` });
  const phase = opts.progress?.phase('verify', `verify:${name}`, `check of ${name}`, expected.bytes ?? entry.files.find((f) => f.name === name)?.bytes);
  const checker = new CheckingStream(expected, (bytes) => phase?.update(bytes, name), storedCheck(name));
  try {
    const stream = await source.openFile(entry.folder, name, signal);
    await pipeline(stream, checker, discard(), { signal });
    phase?.done();
  } catch (err) {
    phase?.failed();
    if (isAbort(err, signal)) throw new AbortedError(`checking ${path} was stopped before it finished`);
    if (err instanceof FileDamage) throw damageError(name, where, err.problem, false);
    if (err instanceof VerificationError) throw sourceVerificationError(name, where, err);
    if (err instanceof ExternalError) throw err;
    throw new ExternalError(`cannot read ${path}: ${messageOf(err)}`);
  }
  opts.onEvent?.({ type: 'verified', file: name });
  return { name, path, bytes: checker.bytes, sha256: checker.sha256 };
}

/** A file already in RESTORE_DIR that matches the manifest (size, sha256, gzip); anything else there is deleted. */
async function reuseExisting(target: string, name: string, expected: ExpectedFile, opts: FetchOptions): Promise<FetchedFile | undefined> {
  let st;
  try {
    st = await lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ExternalError(`cannot read ${target}: ${messageOf(err)}`);
  }
  if (st.isDirectory()) throw new ExternalError(`${target} in RESTORE_DIR is a folder, in the way of the download of ${name}; move it away`);
  if (st.isFile() && expected.sha256 !== undefined && st.size === expected.bytes) {
    const checker = new CheckingStream(expected, undefined, storedCheck(name));
    try {
      await pipeline(createReadStream(target), checker, discard(), { signal: opts.signal });
      opts.onEvent?.({ type: 'step', message: `reusing ${target}: already downloaded, size and sha256 match the manifest` });
      opts.onEvent?.({ type: 'verified', file: name });
      return { name, path: target, bytes: checker.bytes, sha256: checker.sha256 };
    } catch (err) {
      if (isAbort(err, opts.signal)) throw new AbortedError(`checking ${target} was stopped before it finished`);
      // not the right file: fetched again below
    }
  }
  opts.onEvent?.({ type: 'step', message: `replacing ${target}: ${expected.sha256 ? 'it does not match the manifest' : 'a legacy backup has no checksum to compare it with'}` });
  try {
    await unlink(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ExternalError(`cannot delete ${target} in RESTORE_DIR: ${messageOf(err)}`);
  }
  return undefined;
}

async function download(
  source: BackupSource,
  entry: BackupEntry,
  name: string,
  expected: ExpectedFile,
  listedBytes: number | undefined,
  folderDir: string,
  target: string,
  where: string,
  opts: FetchOptions,
): Promise<FetchedFile> {
  const { signal } = opts;
  const totalBytes = expected.bytes ?? listedBytes ?? 0;
  const temp = join(folderDir, `${PART_PREFIX}${randomBytes(8).toString('hex')}${PART_SUFFIX}`);
  let last = 0;
  const progress = (bytes: number, force = false) => {
    const now = Date.now();
    if (!force && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    opts.onEvent?.({ type: 'download', file: name, bytes, totalBytes });
  };
  progress(0, true);
  const phase = opts.progress?.phase('download', `download:${name}`, `download of ${name} from ${source.kind} ${source.location}`, totalBytes || undefined);
  const checker = new CheckingStream(expected, (bytes) => {
    progress(bytes);
    phase?.update(bytes, name);
  }, storedCheck(name));
  let tempCreated = false;
  try {
    const stream = await source.openFile(entry.folder, name, signal);
    const sink = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
    tempCreated = true;
    await pipeline(stream, checker, sink, { signal });
    await rename(temp, target);
    phase?.done();
  } catch (err) {
    phase?.failed();
    if (tempCreated) await rm(temp, { force: true }).catch(() => {});
    if (isAbort(err, signal)) throw new AbortedError(`download of ${name} from ${source.kind} ${source.location} was stopped; the partial file was removed`);
    if (err instanceof FileDamage) throw damageError(name, where, err.problem, tempCreated);
    if (err instanceof VerificationError) throw sourceVerificationError(name, where, err);
    if (err instanceof ExternalError || err instanceof UsageError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.path === temp || e.path === target || e.syscall === 'rename') {
      throw new ExternalError(`cannot write ${target} in RESTORE_DIR: ${messageOf(err)}`);
    }
    throw new ExternalError(`download of ${name} of ${where} failed: ${messageOf(err)}; the partial file was removed`);
  }
  progress(checker.bytes, true);
  opts.onEvent?.({ type: 'verified', file: name });
  return { name, path: target, bytes: checker.bytes, sha256: checker.sha256 };
}

// -------------------------------------------------------------------------------------------------
// One pass: a file checked on its way into psql

export interface StreamedFile {
  input: StreamedInput;
  /**
   * After the restore: `ok` keeps the copy (downloads are renamed into RESTORE_DIR) and returns the
   * file as fetched; otherwise the partial copy goes. Only call with `ok` once psql read the whole
   * stream: the checks have passed by then (a failed check stops the stream before its end).
   */
  finish(ok: boolean): Promise<FetchedFile | undefined>;
}

/**
 * A file of a finished backup, for a restore that reads it once: from a local source as it lies,
 * from S3 or the remote host as it is downloaded; its size, sha256 and gzip stream checked while it
 * goes into psql, and a download saved into <RESTORE_DIR>/<folder>/<file> as it passes (through a
 * hidden temp name, renamed only when whole and checked). Damage shows as FileDamage in the stream.
 */
export async function streamForRestore(source: BackupSource, entry: BackupEntry, name: string, opts: FetchOptions): Promise<StreamedFile> {
  const where = `backup ${entry.folder} on ${source.kind} ${source.location}`;
  checkName(entry.folder, 'folder', where);
  checkName(name, 'file', where);
  if (!entry.manifest && !entry.single) throw new Error('streamForRestore: a backup with a manifest (or a seed 002 file) is needed');
  const expected = expectationOf(entry, name, where);
  if (entry.signedBy) return checkedFirst(source, entry, name, expected, where, opts);
  const size = expected.bytes ?? entry.files.find((f) => f.name === name)?.bytes ?? 0;
  // A seed 002 backup is a file at the top of its source: its copy goes to <RESTORE_DIR>/<file>.
  const at = entry.single ? [name] : [entry.folder, name];
  let checker: CheckingStream | undefined;
  const local = source.kind === 'local';
  const phase = () =>
    local
      ? opts.progress?.phase('verify', `verify:${name}`, `check of ${name}`, size)
      : opts.progress?.phase('download', `download:${name}`, `download of ${name} from ${source.kind} ${source.location}`, size);
  let running: ReturnType<typeof phase>;
  const open = async (signal: AbortSignal) => {
    try {
      return await source.openFile(entry.folder, name, signal);
    } catch (err) {
      if (err instanceof VerificationError) throw sourceVerificationError(name, where, err);
      throw err;
    }
  };

  /** A new check for a run: size and sha256 (psql's gunzip checks the gzip stream), reported as a phase. */
  const startCheck = (): CheckingStream => {
    running = phase();
    checker = new CheckingStream(expected, (bytes) => running?.update(bytes, name), { gzip: false });
    checker.once('finish', () => running?.done()); // every byte arrived, size and sha256 as the manifest says
    return checker;
  };
  const input = (stages: () => Transform[]): StreamedInput => ({ name, label: `${name} of ${where}`, size, open, stages });

  if (local) {
    const dir = (source as BackupSource & { dir?: unknown }).dir;
    if (typeof dir !== 'string') throw new Error('streamForRestore: a local source without dir');
    const path = inside(resolve(dir), where, ...at);
    const what = !entry.manifest ? 'gzip stream and its closing line; no checksum to compare with' : isArchiveName(name) ? 'size and sha256; pg_restore reads the archive' : 'size, sha256 and gzip stream';
    opts.onEvent?.({ type: 'step', message: `checking ${path} (${what}) as psql reads it` });
    return {
      input: input(() => [startCheck()]),
      finish: async (ok) => {
        if (!ok || !checker) {
          running?.failed();
          return undefined;
        }
        running?.done();
        opts.onEvent?.({ type: 'verified', file: name });
        return { name, path, bytes: checker.bytes, sha256: checker.sha256 };
      },
    };
  }

  const root = await prepareRoot(opts.restoreDir);
  const folderDir = entry.single ? root : inside(root, where, entry.folder);
  const target = inside(root, where, ...at);
  const createdFolder = entry.single ? false : await prepareFolder(folderDir);
  const temp = join(folderDir, `${PART_PREFIX}${randomBytes(8).toString('hex')}${PART_SUFFIX}`);
  opts.onEvent?.({ type: 'download', file: name, bytes: 0, totalBytes: size });
  return {
    input: input(() => [startCheck(), new SaveCopy(temp, target)]),
    finish: async (ok) => {
      if (ok && checker) {
        try {
          await rename(temp, target);
        } catch (err) {
          await rm(temp, { force: true }).catch(() => {});
          running?.failed();
          throw new ExternalError(`cannot write ${target} in RESTORE_DIR: ${messageOf(err)}`);
        }
        running?.done();
        opts.onEvent?.({ type: 'download', file: name, bytes: checker.bytes, totalBytes: size });
        opts.onEvent?.({ type: 'verified', file: name });
        return { name, path: target, bytes: checker.bytes, sha256: checker.sha256 };
      }
      running?.failed();
      await rm(temp, { force: true }).catch(() => {});
      if (createdFolder) await rmdir(folderDir).catch(() => {}); // only if empty
      return undefined;
    },
  };
}

/**
 * RESTORE_VERIFY_KEY's way (a backup whose signature was checked, entry.signedBy): the file is
 * fetched whole first, as fetchForRestore() does (downloaded into RESTORE_DIR, or read where it lies
 * on local disk), and its size and sha256 checked against the signed manifest; only then does psql
 * read it, from the checked copy, checked again on the way. A replaced file thus never reaches psql,
 * at the cost of RESTORE_DIR space for downloads and one more read of each file.
 */
async function checkedFirst(source: BackupSource, entry: BackupEntry, name: string, expected: ExpectedFile, where: string, opts: FetchOptions): Promise<StreamedFile> {
  opts.onEvent?.({ type: 'step', message: `${name}: checked whole against the signed manifest before psql reads it` });
  const [file] = await fetchForRestore(source, entry, [name], opts);
  const checked = file!;
  const local = source.kind === 'local';
  return {
    input: {
      name,
      label: `${name} of ${where}`,
      size: checked.bytes,
      // local: through the source again (no symbolic link followed); else the checked copy in RESTORE_DIR
      open: async (signal) => (local ? source.openFile(entry.folder, name, signal) : createReadStream(checked.path)),
      stages: () => [new CheckingStream(expected, undefined, { gzip: false })],
    },
    finish: async (ok) => (ok ? checked : undefined),
  };
}

/** Writes what passes through into a file (the download's copy), with backpressure. */
class SaveCopy extends Transform {
  private readonly out: WriteStream;

  constructor(
    path: string,
    private readonly shownAs: string,
  ) {
    super();
    this.out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    this.out.on('error', (err) => this.destroy(new ExternalError(`cannot write ${this.shownAs} in RESTORE_DIR: ${messageOf(err)}`)));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.out.write(chunk)) done(null, chunk);
    else this.out.once('drain', () => done(null, chunk));
  }

  override _flush(done: TransformCallback): void {
    this.out.end(() => done());
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.out.destroy();
    done(err);
  }
}
