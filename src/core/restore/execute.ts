// Restores one verified local .sql.gz with psql: the whole cluster (onto a fresh server), the
// globals (roles and tablespaces), or one database, safely: a database is restored into a staging
// database and swapped into place only when psql has finished without an error, so a restore that
// fails or is stopped part-way leaves the existing target exactly as it was.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { decrypting } from '../encryption/age-stream.js';
import { AbortedError, ExternalError, UsageError, VerificationError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { Manifest } from '../backup/manifest.js';
import { findClientTools, knowsRestrict, type ClientTools } from '../postgres/client-tools.js';
import { inspectServer, type ServerInfo } from '../postgres/server.js';
import { describeServer, type ConnectionSettings } from '../settings/connection.js';
import type { RestoreEvent, RestoreType } from './model.js';
import { endSessionsOf, withClient } from './execute-admin.js';
import { PsqlFailure, runPsqlFile, type StreamedInput } from './execute-psql.js';
import { judgeGlobals, olderServerRefusal, targetNameRefusal } from './target-checks.js';
import { scanFile } from './sql-scan.js';
import { ProgressTracker } from '../progress.js';
import { hintFor, putInPlace, stageDatabase } from './stage.js';
import type { LocalArchive } from './archive-load.js';

export interface ExecuteRestore {
  type: RestoreType;
  /** A verified local .sql.gz (globals, cluster, legacy backups). */
  file?: string;
  /** A database file read once, checked on its way into psql (needs a manifest). */
  input?: StreamedInput;
  /** A custom-format archive restored by pg_restore itself (parallel or a selection); `file` is its path. */
  archive?: LocalArchive;
  /** Absent for legacy backups. */
  manifest?: Manifest;
  conn: ConnectionSettings;
  /** type database: the name in the backup. */
  database?: string;
  /** type database: restore under this name (default: database). */
  targetDatabase?: string;
  overwrite: boolean;
  pgBinDir?: string;
  signal: AbortSignal;
  onEvent?: (e: RestoreEvent) => void;
  /** Where the psql phase and the swap report their progress (default: through onEvent). */
  progress?: ProgressTracker;
  /** The target as prepareTarget() found it (a caller that restores several files checks it once). */
  target?: RestoreTarget;
}

export interface RestoreOutcome {
  type: RestoreType;
  /** The database restored (type database), or the server (cluster, globals). */
  target: string;
  psqlVersion: string;
  warnings: string[];
  /** globals and cluster: the roles and tablespaces the restore created. */
  created?: { roles: string[]; tablespaces: string[] };
}


export interface RestoreTarget {
  server: ServerInfo;
  tools: ClientTools;
  /** psql before 17.6 does not know \restrict: those lines are left out. */
  stripRestrict: boolean;
  currentUser: string;
}

/**
 * What a restore checks on its target before it touches it: the server answers and is not older
 * than the backup's, a psql at least as new as the pg_dump that made the file is found.
 */
export async function prepareTarget(
  req: { conn: ConnectionSettings; manifest?: Manifest; pgBinDir?: string; file?: string; signal: AbortSignal },
  step: (m: string) => void,
): Promise<RestoreTarget> {
  // The versions come from the manifest; a legacy file says them in its header comments.
  let header: Header = {};
  if (!req.manifest && req.file) {
    step('reading the backup file header');
    header = await readHeader(req.file, req.signal);
  }
  const where = describeServer(req.conn);
  step(`checking the server at ${where}`);
  const server = await inspectServer(req.conn);
  const older = olderServerRefusal(req.manifest?.server.major ?? header.dumpedFromMajor, req.manifest?.server.version, server, where);
  if (older) throw older;
  const minMajor = req.manifest?.pgDump.major ?? Math.max(server.major, header.dumpedByMajor ?? 0);
  const tools = await findClientTools({
    tools: req.manifest?.dumpFormat === 'custom' ? ['psql', 'pg_restore'] : ['psql'],
    minMajor,
    purpose: req.manifest
      ? `a backup made with pg_dump ${req.manifest.pgDump.version}`
      : `a backup restored onto ${where} (PostgreSQL ${server.version})`,
    pgBinDir: req.pgBinDir,
  });
  step(`using psql ${tools.version} from ${tools.dir}`);
  const currentUser = await withClient(req.conn, req.conn.database, async (c) => {
    const r = await c.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]!.u;
  });
  return { server, tools, stripRestrict: !knowsRestrict(tools.version), currentUser };
}

export async function executeRestore(req: ExecuteRestore): Promise<RestoreOutcome> {
  const emit = req.onEvent ?? (() => {});
  const step = (message: string) => emit({ type: 'step', message });
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    emit({ type: 'warning', message });
  };
  if (req.signal.aborted) throw new AbortedError();
  const tracker = req.progress ?? new ProgressTracker((progress) => emit({ type: 'progress', progress }));
  if (req.file === undefined && req.input === undefined) throw new Error('executeRestore: a file or an input is needed');
  if (req.input && req.type !== 'database') throw new Error('executeRestore: a streamed input is for database restores'); // (with a manifest, or a seed 002 file)
  const fileName = req.input?.name ?? fileLabel(req.file!);
  const rawTotal = req.manifest?.files.find((f) => f.name === fileName)?.rawBytes;

  let target: string | undefined;
  if (req.type === 'database') {
    if (!req.database) throw new UsageError('RESTORE_DATABASE is not set; a database restore needs the name of the database in the backup, e.g. RESTORE_DATABASE=app');
    target = req.targetDatabase ?? req.database;
    const setting = req.targetDatabase !== undefined ? 'RESTORE_TARGET_DATABASE' : 'RESTORE_DATABASE';
    // Refused before anything is read or touched (the settings reader refuses it too; this guards every caller).
    const refused = targetNameRefusal(target, setting);
    if (refused) throw refused;
  }
  const prepared = req.target ?? (await prepareTarget(req, step));
  const ctx: Ctx = { ...prepared, step, warn, tracker, rawTotal };
  const where = describeServer(req.conn);
  if (req.type === 'database') {
    await restoreDatabase(req, { ...ctx, target: target! });
    return { type: 'database', target: target!, psqlVersion: prepared.tools.version, warnings };
  }
  const created = await restoreGlobalsOrCluster(req, ctx);
  return { type: req.type, target: where, psqlVersion: prepared.tools.version, warnings, created };
}

interface Ctx extends RestoreTarget {
  tracker: ProgressTracker;
  /** The file's uncompressed size, from the manifest. */
  rawTotal?: number;
  step: (m: string) => void;
  warn: (m: string) => void;
}

async function restoreDatabase(req: ExecuteRestore, ctx: Ctx & { target: string }): Promise<void> {
  const common = { conn: req.conn, server: ctx.server, overwrite: req.overwrite, tracker: ctx.tracker, step: ctx.step, warn: ctx.warn };
  const staged = await stageDatabase({
    ...common,
    tools: ctx.tools,
    stripRestrict: ctx.stripRestrict,
    original: req.database!,
    target: ctx.target,
    file: req.file,
    input: req.input,
    archive: req.archive,
    rawTotal: ctx.rawTotal,
    signal: req.signal,
  });
  await putInPlace(common, staged);
}

async function restoreGlobalsOrCluster(req: ExecuteRestore, ctx: Ctx): Promise<{ roles: string[]; tablespaces: string[] }> {
  const { step } = ctx;
  const where = describeServer(req.conn);
  const kind = req.type as 'globals' | 'cluster';
  // What the file would create, against what the server has: a cluster restore is for a fresh
  // server, and the globals create roles that must not exist yet (overwrite: update them instead).
  step(`reading what the ${kind} file creates`);
  const scan = await scanFile(req.file!, { untilFirstConnect: kind === 'globals' || req.manifest !== undefined, signal: req.signal });
  const have = await withClient(req.conn, req.conn.database, async (c) => {
    const roles = await c.query<{ n: string }>('SELECT rolname AS n FROM pg_roles');
    const spaces = await c.query<{ n: string }>('SELECT spcname AS n FROM pg_tablespace');
    return { roles: new Set(roles.rows.map((r) => r.n)), tablespaces: new Set(spaces.rows.map((r) => r.n)) };
  });
  const judged = judgeGlobals(
    kind,
    {
      roles: scan.createdRoles,
      tablespaces: scan.createdTablespaces,
      databases: req.manifest ? req.manifest.clusterDatabases.filter((d) => d !== 'postgres' && d !== 'template1') : scan.createdDatabases,
    },
    { ...have, databases: new Set(ctx.server.databases.map((d) => d.name)), currentUser: ctx.currentUser },
    req.overwrite,
    where,
  );
  if (judged.refusal) throw judged.refusal;
  for (const w of judged.warnings) ctx.warn(w);
  const existingRoles = new Set(judged.skipCreate);

  step(`restoring the ${kind} onto ${where} with psql`);
  const appName = `pgb restore ${kind} ${randomBytes(6).toString('hex')}`;
  const progress = { phase: ctx.tracker.phase(kind === 'globals' ? 'restore-globals' : 'restore-cluster', `restore-${kind}`, `restore of the ${kind}`), rawTotal: ctx.rawTotal };
  try {
    const result = await runPsqlFile({
      progress,
      tools: ctx.tools,
      conn: req.conn,
      database: req.conn.database,
      file: req.file!,
      rewrite: { mode: kind, existingRoles, stripRestrict: ctx.stripRestrict, serverMajor: ctx.server.major, label: fileLabel(req.file!) },
      signal: req.signal,
      label: `psql (restore of the ${kind})`,
      appName,
    });
    for (const w of result.warnings) ctx.warn(`psql: ${w}`);
    progress.phase.done();
  } catch (err) {
    progress.phase.failed();
    await endSessionsOf(req.conn, req.conn.database, appName).catch(() => {});
    const state = await partialState(req, ctx.server, kind);
    if (err instanceof AbortedError) throw new AbortedError(`the ${kind} restore was stopped before it finished; ${state}`);
    if (err instanceof VerificationError) throw new VerificationError(`${err.message}; ${state}`);
    if (err instanceof PsqlFailure) {
      throw new ExternalError(`the ${kind} restore failed${err.where ? ` (${err.where})` : ''}: ${err.psqlMessage}${hintFor(err.psqlMessage)}; ${state}`);
    }
    throw new ExternalError(redact(`the ${kind} restore failed: ${messageOf(err)}; ${state}`));
  }
  step(`${kind} restored onto ${where}`);
  return { roles: judged.creates.roles, tablespaces: judged.creates.tablespaces };
}

/** What a failed globals/cluster restore left behind (they cannot run in one transaction). */
async function partialState(req: ExecuteRestore, before: ServerInfo, kind: 'globals' | 'cluster'): Promise<string> {
  if (kind === 'globals') return 'the roles and tablespaces created before the error are still there (CREATE TABLESPACE cannot run in a transaction, so the globals are not restored in one)';
  try {
    const now = await inspectServer(req.conn);
    const had = new Set(before.databases.map((d) => d.name));
    const added = now.databases.map((d) => d.name).filter((n) => !had.has(n));
    return `the server holds part of the cluster${added.length > 0 ? `, including the new database(s) ${added.map((n) => JSON.stringify(n)).join(', ')}` : ''}; start again from a fresh server`;
  } catch {
    return 'the server holds part of the cluster; start again from a fresh server';
  }
}


function fileLabel(file: string): string {
  return file.split('/').pop() ?? file;
}

export { knowsRestrict } from '../postgres/client-tools.js';

interface Header {
  dumpedFromMajor?: number;
  dumpedByMajor?: number;
}

/** The "Dumped from/by" comments of the first 64 KiB of SQL. */
async function readHeader(file: string, signal: AbortSignal): Promise<Header> {
  const gunzip = createGunzip();
  const source = createReadStream(file);
  decrypting(source, file, gunzip); // an encrypted (.age) file: decrypted in memory on its way
  let text = '';
  try {
    for await (const chunk of gunzip) {
      text += (chunk as Buffer).toString('latin1');
      if (text.length >= 64 * 1024 || signal.aborted) break;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new ExternalError(`cannot read ${file}: ${messageOf(err)}`);
    if (text === '') throw new VerificationError(`${fileLabel(file)} is damaged: gunzip failed (${messageOf(err)})`);
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  if (signal.aborted) throw new AbortedError();
  const from = /^-- Dumped from database version (\d+)/m.exec(text);
  const by = /^-- Dumped by pg_dump(?:all)? version (\d+)/m.exec(text);
  return { dumpedFromMajor: from ? Number(from[1]) : undefined, dumpedByMajor: by ? Number(by[1]) : undefined };
}
