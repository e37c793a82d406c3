// The preflight plan of a restore: everything that can be checked before the target is touched,
// as plain data. Nothing here writes anywhere: it lists the source, reads the head of a globals or
// cluster file when it must know the roles it creates (streamed, not stored), and asks the target
// server what it has. `restore --dry-run` prints it; the restore itself refuses to start when it
// holds a refusal; the terminal UI shows it on its confirm step.
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError, exitCodeFor, isAbort, messageOf } from '../errors.js';
import { CLUSTER_FILE, GLOBALS_FILE } from '../backup/names.js';
import { findClientTools } from '../postgres/client-tools.js';
import { inspectServer } from '../postgres/server.js';
import { isFuture } from '../retention.js';
import { redact } from '../secrets.js';
import { describeServer, type ConnectionSettings } from '../settings/connection.js';
import type { BackupEntry, BackupSource } from '../source.js';
import { withClient } from './execute-admin.js';
import { filesForRestore, pickBackup, stagedClusterFiles } from './fetch.js';
import { defaultRestoreJobs } from './execute-cluster.js';
import type { RestoreRequest, RestoreType } from './model.js';
import { scanStream } from './sql-scan.js';
import { readSourceToc } from './archive-load.js';
import { archiveTables, quoteName, selectEntries } from './archive-select.js';
import { judgeGlobals, olderServerRefusal, OVERWRITE_HINT, targetNameRefusal } from './target-checks.js';

/** Something that stops the restore, with the exit code it would end with. */
export interface PlanRefusal {
  message: string;
  exitCode: number;
}

export interface PlannedFile {
  name: string;
  bytes: number;
  /** How the restore gets it: checked where it lies (local), or downloaded into RESTORE_DIR. */
  how: 'checked in place' | 'downloaded';
}

export interface RestorePlan {
  /** No refusal: the restore would start. */
  ok: boolean;
  type: RestoreType;
  backup: {
    folder: string;
    /** kind:location */
    source: string;
    status: BackupEntry['status'];
    future: boolean;
    startedAt?: string;
    serverVersion?: string;
    pgDumpVersion?: string;
    /** A seed 002 backup: one database in one flat file (encrypted: openssl enc, BACKUP_ENCRYPTION_KEY). */
    single?: BackupEntry['single'];
    /**
     * RESTORE_VERIFY_KEY is set and the manifest's signature matches it: what that means for the
     * restore ("signed by sha256:...: files are checked against the signed manifest before psql reads them ...").
     */
    signature?: string;
  };
  files: PlannedFile[];
  /** Downloads (S3, remote host): where they go, how much, and the free space there. */
  download?: { dir: string; bytes: number; freeBytes?: number };
  /** The target server, when it answered. */
  server?: { where: string; version: string; major: number; superuser: boolean };
  psql?: { version: string; dir: string };
  /** database restores: the database in the backup and the name it lands under. */
  database?: { original: string; target: string; exists: boolean };
  /** cluster: how it runs: staged (every database from its own file, `jobs` at once) or as one psql run of the cluster file (older backups). */
  cluster?: { staged: boolean; jobs: number; databases: string[] };
  /**
   * A database of a custom-format backup: how pg_restore runs (streamed: one pass, one job, the
   * archive never stored; pg_restore: --jobs or a selection, from a local checked file), and the
   * archive's tables (its table of contents: what RESTORE_TABLES can name).
   */
  archive?: {
    mode: 'streamed' | 'pg_restore';
    jobs: number;
    selection?: string[];
    tables?: Array<{ schema: string; name: string; kind: string }>;
  };
  /** Databases that will be created on the server. */
  creates: string[];
  /** Databases that will be replaced (only with RESTORE_OVERWRITE). */
  replaces: string[];
  /** Sessions the restore will end (on a database it replaces). */
  sessions: Array<{ database: string; count: number }>;
  /** globals and cluster: roles of the backup the server has already. */
  existingRoles: string[];
  /** globals and cluster: roles and tablespaces the restore creates. */
  createsRoles: string[];
  createsTablespaces: string[];
  warnings: string[];
  refusals: PlanRefusal[];
}

/** The plan's word on a signed backup: what is checked, and what it costs. */
function signedNote(key: string, local: boolean): string {
  const cost = local
    ? 'each file is read twice (checked whole, then read by psql)'
    : 'each file is downloaded whole into RESTORE_DIR before psql starts on it (no overlap of download and restore)';
  return `signed by ${key} (RESTORE_VERIFY_KEY): files are checked against the signed manifest before psql reads them; ${cost}`;
}

export interface PlanInput {
  request: RestoreRequest;
  source: BackupSource;
  conn: ConnectionSettings;
  pgBinDir?: string;
  signal: AbortSignal;
  /** Entries already listed (the UI has them); listed from the source otherwise. */
  entries?: BackupEntry[];
}

/**
 * Plans a restore. Throws (typed) only when there is nothing to plan: the source cannot be listed,
 * no such backup, the database is not in it, the backup is damaged. Everything else that would stop
 * the restore is a refusal in the plan, all of them at once, so an operator sees every problem.
 */
export async function planRestore(input: PlanInput): Promise<{ plan: RestorePlan; entry: BackupEntry }> {
  const { request, source, conn, signal } = input;
  const where = `${source.kind} ${source.location}`;
  const warnings: string[] = [];
  const refusals: PlanRefusal[] = [];
  const refuse = (err: unknown) => refusals.push({ message: redact(messageOf(err)), exitCode: exitCodeFor(err) });

  const entries = input.entries ?? (await source.list(signal));
  const entry = pickBackup(entries, request.folder, where, { warn: (m) => warnings.push(m) });
  // A seed 002 file names no database: it is restored under RESTORE_TARGET_DATABASE, else RESTORE_DATABASE.
  const database = entry.single ? (request.database ?? request.targetDatabase) : request.database;
  const fileNames = filesForRestore(entry, request.type, database);
  const manifest = entry.manifest;
  const files: PlannedFile[] = fileNames.map((name) => ({
    name,
    bytes: manifest?.files.find((f) => f.name === name)?.bytes ?? entry.files.find((f) => f.name === name)?.bytes ?? 0,
    how: source.kind === 'local' ? 'checked in place' : 'downloaded',
  }));
  const plan: RestorePlan = {
    ok: false,
    type: request.type,
    backup: {
      folder: entry.folder,
      source: `${source.kind}:${source.location}`,
      status: entry.status,
      future: isFuture(entry.time, new Date()),
      startedAt: manifest?.startedAt,
      serverVersion: manifest?.server.version,
      pgDumpVersion: manifest?.pgDump.version,
      ...(entry.signedBy ? { signature: signedNote(entry.signedBy, source.kind === 'local') } : {}),
      ...(entry.single ? { single: entry.single } : {}),
    },
    files,
    creates: [],
    replaces: [],
    sessions: [],
    existingRoles: [],
    createsRoles: [],
    createsTablespaces: [],
    warnings,
    refusals,
  };
  // The files the restore needs, as the listing shows them: missing or of another size is damage,
  // refused now rather than after a download.
  const damagedFiles = new Set<string>();
  if (manifest) {
    for (const f of files) {
      const listed = entry.files.find((x) => x.name === f.name);
      const label = `${f.name} of backup ${entry.folder} on ${where}`;
      if (!listed) refusals.push({ message: `${label} is missing; the backup is incomplete, refusing to restore from it`, exitCode: 3 });
      else if (listed.bytes !== f.bytes) refusals.push({ message: `${label} is damaged: it has ${listed.bytes} bytes, the manifest says ${f.bytes}; refusing to restore it`, exitCode: 3 });
      else continue;
      damagedFiles.add(f.name);
    }
  }
  if (entry.single) {
    warnings.push(
      `${entry.folder} is a seed 002 file (one database, pg_dump without --create, no manifest or checksum): ${entry.single.encrypted ? 'decrypted with BACKUP_ENCRYPTION_KEY, ' : ''}its gzip stream and the closing line of pg_dump are checked as psql reads it; it is restored as ${JSON.stringify(request.targetDatabase ?? database)}`,
    );
  } else if (entry.status === 'legacy') warnings.push(`${entry.folder} is a legacy backup (no manifest): its files are checked by gzip alone, without checksums`);

  if (source.kind !== 'local') {
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    const freeBytes = await freeSpace(request.restoreDir);
    plan.download = { dir: resolve(request.restoreDir), bytes, freeBytes };
    if (freeBytes !== undefined && freeBytes < bytes) {
      refusals.push({ message: `RESTORE_DIR ${plan.download.dir} has ${freeBytes} bytes free, the download needs ${bytes}; free some space or set RESTORE_DIR to a bigger disk`, exitCode: 1 });
    }
  }

  await planArchive(plan, { request, source, entry, signal, damaged: damagedFiles, refuse, warnings });

  let target: string | undefined;
  if (request.type === 'database') {
    target = request.targetDatabase ?? database!;
    const setting = request.targetDatabase !== undefined ? 'RESTORE_TARGET_DATABASE' : 'RESTORE_DATABASE';
    const bad = targetNameRefusal(target, setting);
    if (bad) refuse(bad);
    plan.database = { original: database!, target, exists: false };
  }

  // The target server: what it runs and what it has.
  const serverWhere = describeServer(conn);
  let server;
  try {
    server = await inspectServer(conn);
  } catch (err) {
    if (isAbort(err, signal)) throw err;
    refuse(err);
  }
  if (server) {
    plan.server = { where: serverWhere, version: server.version, major: server.major, superuser: server.superuser };
    const older = olderServerRefusal(manifest?.server.major, manifest?.server.version, server, serverWhere);
    if (older) refuse(older);
    if (!server.superuser) warnings.push(`the role restoring is not a superuser: statements that need one (roles, ownership, some extensions) may fail`);
  }
  try {
    const tools = await findClientTools({
      tools: manifest?.dumpFormat === 'custom' ? ['psql', 'pg_restore'] : ['psql'],
      minMajor: manifest?.pgDump.major ?? server?.major ?? 0,
      purpose: manifest ? `a backup made with pg_dump ${manifest.pgDump.version}` : `a backup restored onto ${serverWhere}`,
      pgBinDir: input.pgBinDir,
    });
    plan.psql = { version: tools.version, dir: tools.dir };
  } catch (err) {
    refuse(err);
  }

  if (server && request.type === 'database' && target !== undefined) {
    const databases = new Set(server.databases.map((d) => d.name));
    const exists = databases.has(target);
    plan.database!.exists = exists;
    if (exists && request.selection) {
      refuse(new UsageError(`database ${JSON.stringify(target)} already exists on ${serverWhere}; a restore of chosen schemas or tables goes into a new database (RESTORE_OVERWRITE does not change that): set RESTORE_TARGET_DATABASE to a name that does not exist, e.g. RESTORE_TARGET_DATABASE=${target.replace(/[^A-Za-z0-9_]/g, '_')}_partial, then copy what you need`));
    } else if (!exists) plan.creates.push(target);
    else if (!request.overwrite) refuse(new UsageError(`database ${JSON.stringify(target)} already exists on ${serverWhere}; nothing was restored; ${OVERWRITE_HINT}`));
    else {
      plan.replaces.push(target);
      const count = await sessionsOn(conn, target);
      if (count > 0) {
        plan.sessions.push({ database: target, count });
        warnings.push(`${count} session(s) on database ${JSON.stringify(target)} will be ended when the restored copy is swapped in`);
      }
    }
  }

  if (request.type === 'cluster') {
    const staged = manifest !== undefined && stagedClusterFiles(manifest) !== undefined;
    plan.cluster = { staged, jobs: staged ? (request.jobs ?? defaultRestoreJobs()) : 1, databases: manifest?.clusterDatabases ?? [] };
    if (!staged) {
      warnings.push(`${entry.folder} ${manifest ? 'was made before pg-backups 0.2 (template1 has no file of its own)' : 'is a legacy backup'}: its cluster file is restored as one psql run, not staged; a failure part-way leaves part of the cluster on the server`);
    } else if (server) {
      // The fresh server's own postgres and template1 are replaced by the backup's.
      const has = new Set(server.databases.map((d) => d.name));
      for (const name of manifest!.clusterDatabases.filter((d) => d === 'postgres' || d === 'template1')) {
        if (!has.has(name)) continue;
        plan.replaces.push(name);
        const count = await sessionsOn(conn, name);
        if (count > 0) {
          plan.sessions.push({ database: name, count });
          warnings.push(`${count} session(s) on database ${JSON.stringify(name)} will be ended when the backup's ${name} is put in its place`);
        }
      }
    }
  }

  if (server && request.type !== 'database' && !damagedFiles.has(fileNames[0]!)) {
    const kind = request.type;
    // What the file creates: the head of the file, up to its first \connect, read from the source.
    let creates;
    try {
      const name = kind === 'globals' ? GLOBALS_FILE : CLUSTER_FILE;
      const whole = kind === 'cluster' && !manifest && source.kind === 'local'; // a legacy cluster file names its databases only further on
      const file = fileNames[0] ?? name;
      const scan = await scanStream(await source.openFile(entry.folder, file, signal), { untilFirstConnect: !whole, signal, label: `${file} of backup ${entry.folder} on ${where}`, name: file });
      creates = {
        roles: scan.createdRoles,
        tablespaces: scan.createdTablespaces,
        databases: manifest ? manifest.clusterDatabases.filter((d) => d !== 'postgres' && d !== 'template1') : scan.createdDatabases,
      };
      if (kind === 'cluster' && !manifest && !whole) warnings.push('a legacy cluster file names its databases only further on: they are checked when it is read');
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      refuse(err);
    }
    if (creates) {
      const has = await withClient(conn, conn.database, async (c) => {
        const roles = await c.query<{ n: string }>('SELECT rolname AS n FROM pg_roles');
        const spaces = await c.query<{ n: string }>('SELECT spcname AS n FROM pg_tablespace');
        const me = await c.query<{ u: string }>('SELECT current_user AS u');
        return { roles: new Set(roles.rows.map((r) => r.n)), tablespaces: new Set(spaces.rows.map((r) => r.n)), currentUser: me.rows[0]!.u };
      });
      const judged = judgeGlobals(kind, creates, { ...has, databases: new Set(server.databases.map((d) => d.name)) }, request.overwrite, serverWhere);
      plan.existingRoles = judged.existingRoles;
      plan.createsRoles = judged.creates.roles;
      plan.createsTablespaces = judged.creates.tablespaces;
      plan.creates.push(...judged.creates.databases);
      warnings.push(...judged.warnings);
      if (judged.refusal) refuse(judged.refusal);
    }
  }
  plan.ok = refusals.length === 0;
  return { plan, entry };
}

/** A database restore of a custom-format backup: how pg_restore will run, and the archive's tables. */
async function planArchive(
  plan: RestorePlan,
  ctx: { request: RestoreRequest; source: BackupSource; entry: BackupEntry; signal: AbortSignal; damaged: Set<string>; refuse: (err: unknown) => void; warnings: string[] },
): Promise<void> {
  const { request, entry, source } = ctx;
  const manifest = entry.manifest;
  const selection = request.selection;
  const picked = selection ? [...selection.schemas.map((s) => `schema ${quoteName(s)}`), ...selection.tables.map((t) => `table ${quoteName(t.schema)}.${quoteName(t.name)}`)] : undefined;
  if (request.type !== 'database') return;
  if (manifest?.dumpFormat !== 'custom') {
    if (picked) {
      ctx.refuse(new UsageError(`${selection!.tables.length > 0 ? 'RESTORE_TABLES' : 'RESTORE_SCHEMAS'} needs a custom-format backup (BACKUP_FORMAT=custom); ${entry.folder} holds plain SQL: restore the database under another name (RESTORE_TARGET_DATABASE) and copy what you need from it`));
    }
    return;
  }
  const file = plan.files[0]?.name;
  const jobs = request.jobs ?? defaultRestoreJobs();
  const mode = jobs > 1 || picked ? 'pg_restore' : 'streamed';
  plan.archive = { mode, jobs: mode === 'streamed' ? 1 : jobs, ...(picked ? { selection: picked } : {}) };
  if (mode === 'pg_restore' && source.kind !== 'local') {
    ctx.warnings.push(`pg_restore --jobs reads a local file: ${file} is downloaded whole into RESTORE_DIR before pg_restore starts (RESTORE_JOBS=1 streams it through pg_restore in one pass instead)`);
  }
  if (mode === 'pg_restore' && manifest.encryption) {
    ctx.warnings.push(`${file} is encrypted: pg_restore --jobs needs it decrypted on disk, in a private file (0600) in RESTORE_DIR, removed when the restore ends (RESTORE_JOBS=1 decrypts in memory instead)`);
  }
  if (!file || ctx.damaged.has(file)) return;
  try {
    const toc = await readSourceToc(source, entry.folder, file, ctx.signal, `${file} of backup ${entry.folder} on ${source.kind} ${source.location}`);
    plan.archive.tables = archiveTables(toc).map(({ schema, name, kind }) => ({ schema, name, kind }));
    if (selection) {
      const { missing } = selectEntries(toc, selection);
      if (missing.length > 0) ctx.refuse(new UsageError(`${file} of backup ${entry.folder} has no ${missing.join(', ')}; it has ${plan.archive.tables.length} tables (pg-backups restore --dry-run lists them)`));
    }
  } catch (err) {
    if (isAbort(err, ctx.signal)) throw err;
    ctx.refuse(err);
  }
}

async function sessionsOn(conn: ConnectionSettings, database: string): Promise<number> {
  return withClient(conn, conn.database === database ? (database === 'postgres' ? 'template1' : 'postgres') : conn.database, async (c) => {
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
    return Number(r.rows[0]?.n ?? 0);
  });
}

/** Free bytes where RESTORE_DIR is (or would be created), or undefined when unknown. */
async function freeSpace(dir: string): Promise<number | undefined> {
  let at = resolve(dir);
  for (;;) {
    try {
      const s = await statfs(at);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      const up = dirname(at);
      if (up === at) return undefined;
      at = up;
    }
  }
}
