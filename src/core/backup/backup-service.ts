// One backup run: inspect the server, pick client tools, dump globals and every database into a
// staging folder, write manifest.json last, move the folder into place, apply local retention.
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, ExternalError, UsageError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import { findClientTools, knowsRestrict, type ClientTools } from '../postgres/client-tools.js';
import { inspectServer, type ServerInfo } from '../postgres/server.js';
import type { PruneResult } from '../prune.js';
import { applyRetention, retentionTargets, where } from '../retention-service.js';
import { shipBackup, type ShipOutcome } from '../ship.js';
import type { BackupSource, Destination } from '../source.js';
import { describeServer, resolveTarget, type ConnectionSettings } from '../settings/connection.js';
import type { BackupSettings } from '../settings/backup.js';
import { TOOL_VERSION } from '../version.js';
import { clusterHead, clusterTail, dumpDatabase, dumpGlobalsText, type DumpContext, type DumpCounts } from './dump-steps.js';
import type { TableRows } from './row-counts.js';
import { dumpDatabaseArchive } from './dump-archive.js';
import type { DumpFormat } from './names.js';
import { FileSink, type WrittenFile } from './file-sink.js';
import { writeMember } from './gzip-members.js';
import { ProgressTracker, type Progress } from '../progress.js';
import { MANIFEST_FORMAT, serializeManifest, type Manifest, type ManifestFile } from './manifest.js';
import { signManifest } from './manifest-signature.js';
import { CLUSTER_FILE, GLOBALS_FILE, MANIFEST_FILE, databaseFileName, folderName, storedName } from './names.js';
import { manifestEncryption } from '../encryption/age-stream.js';
import { acquireRunLock } from './run-lock.js';
import { planDatabases } from './select-databases.js';
import { createStaging, exists, publishStaging, removeStaleStaging, stagingPath, syncDir } from './staging.js';

export type BackupEvent =
  | { type: 'server'; server: ServerInfo; tools: ClientTools; databases: string[] }
  | { type: 'step'; step: 'globals' }
  | { type: 'step'; step: 'database'; database: string; index: number; total: number; ownFile: boolean }
  | { type: 'file'; file: WrittenFile }
  | { type: 'finished'; folder: string; path: string }
  | { type: 'shipping'; destination: string }
  | { type: 'shipped'; destination: string; ok: boolean; error?: string }
  | { type: 'pushing'; destination: string; file: string; bytes: number; totalBytes: number }
  | { type: 'retry'; destination: string; message: string }
  | { type: 'pruned'; source: string; folder: string; reason?: string }
  | { type: 'warning'; message: string }
  | { type: 'progress'; progress: Progress };

/** Where a run writes: BACKUP_DIR, and the enabled destinations (built from settings by the caller). */
export interface BackupTargets {
  local: BackupSource;
  destinations: Destination[];
}

export interface BackupRequest {
  settings: BackupSettings;
  sources: BackupTargets;
  conn: ConnectionSettings;
  signal: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
  now?: () => Date;
}

export interface BackupResult {
  folder: string;
  path: string;
  manifest: Manifest;
  /** One outcome per enabled remote destination (S3, remote host). */
  shipped: ShipOutcome[];
  /** Retention applied per destination, local last. */
  prunes: PruneResult[];
  /** Everything that failed after the local backup was in place, one line each; empty on full success. */
  errors: string[];
}

/** A failure of one step of a run, named for the user: `dump of database "app": pg_dump failed ...`. */
export class StepError extends ExternalError {}

export async function runBackup(req: BackupRequest): Promise<BackupResult> {
  const { settings, conn, signal } = req;
  const emit = req.onEvent ?? (() => {});
  const now = req.now ?? (() => new Date());
  const where = describeServer(conn);

  const server = await inspectServer(conn);
  const plan = planDatabases(server.databases, settings.databases, settings.excludeDatabases, where);
  for (const name of plan.unknownExcludes) emit({ type: 'warning', message: `BACKUP_EXCLUDE_DATABASES names ${JSON.stringify(name)}, which ${where} does not have` });
  const tools = await findClientTools({
    minMajor: server.major,
    purpose: `the server at ${where} (PostgreSQL ${server.version})`,
    tools: ['pg_dump', 'pg_dumpall'],
    pgBinDir: settings.pgBinDir,
  });
  emit({ type: 'server', server, tools, databases: plan.databases });
  if (tools.major > server.major) {
    const why = tools.origin === 'PG_BIN_DIR' ? 'from PG_BIN_DIR' : `(no pg_dump ${server.major} was found)`;
    emit({
      type: 'warning',
      message: `pg_dump ${tools.version} ${why} is newer than the PostgreSQL ${server.version} server; its output is adapted where it is known to differ so that the files restore into PostgreSQL ${server.major}, but a client of the server's own major is the safe choice: install postgresql-client-${server.major} or point PG_BIN_DIR at it`,
    });
  }
  if (!knowsRestrict(tools.version)) {
    emit({
      type: 'warning',
      message: `pg_dump ${tools.version} predates the fix of CVE-2025-8715 (13.22, 14.19, 15.14, 16.10, 17.6): an object name with a newline can start a line of its own in its output; update the client tools (pg-backups refuses such lines on restore, but psql by hand would run them)`,
    });
  }
  if (!server.superuser) {
    emit({ type: 'warning', message: `${resolveTarget(conn).user} is not a superuser: role passwords cannot be read and are left out of the globals; connect as a superuser for a complete backup` });
  }

  const dir = settings.local.backupDir;
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`BACKUP_DIR=${dir} cannot be created: ${messageOf(err)}; point it at a writable folder, e.g. BACKUP_DIR=/backups`);
  }
  const lock = await acquireRunLock(dir);
  try {
    for (const stale of await removeStaleStaging(dir)) emit({ type: 'warning', message: `removed ${stale}, left by a run that did not finish` });
    let started = now();
    while (await exists(join(dir, folderName(started)))) {
      await new Promise((r) => setTimeout(r, 1000 - (started.getTime() % 1000) + 5));
      started = now();
    }
    const folder = folderName(started);
    const staging = stagingPath(dir, folder);
    await createStaging(staging);
    try {
      const progress = new ProgressTracker((p) => emit({ type: 'progress', progress: p }));
      const ctx = { tools, conn, level: settings.compressionLevel, signal, serverMajor: server.major, progress, encryption: settings.encryption, noRowCounts: !settings.rowCounts };
      const dumped = await dumpAll(ctx, settings.format, staging, folder, started, server, plan, emit, now);
      // Signed last, over everything the manifest says (BACKUP_SIGNING_KEY): the signature is part of manifest.json.
      const manifest = settings.signingKey ? signManifest(dumped, settings.signingKey) : dumped;
      await writeManifest(staging, manifest);
      const path = join(dir, folder);
      await publishStaging(staging, path, dir);
      emit({ type: 'finished', folder, path });
      return await afterPublish({ folder, path, manifest }, settings, signal, emit, now, progress, req.sources);
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  } finally {
    await lock.release();
  }
}

async function dumpAll(
  ctx: DumpContext,
  format: DumpFormat,
  staging: string,
  folder: string,
  started: Date,
  server: ServerInfo,
  plan: ReturnType<typeof planDatabases>,
  emit: (e: BackupEvent) => void,
  now: () => Date,
): Promise<Manifest> {
  const files: ManifestFile[] = [];
  const sinks: FileSink[] = [];
  const open = async (name: string) => {
    // Encrypted (age) on its way out of the compressor, each file its own stream: postgres_db_app.sql.gz.age.
    const sink = await FileSink.create(join(staging, storedName(name, ctx.encryption !== undefined)), ctx.encryption);
    sinks.push(sink);
    return sink;
  };
  try {
    if (format === 'custom') await dumpArchives(ctx, open, server, plan, emit, files);
    else await dumpPlain(ctx, open, server, plan, emit, files);
  } catch (err) {
    await Promise.all(sinks.map((s) => s.discard()));
    throw err;
  }
  return {
    format: MANIFEST_FORMAT,
    tool: { name: 'pg-backups', version: TOOL_VERSION },
    folder,
    startedAt: started.toISOString(),
    finishedAt: now().toISOString(),
    server: { version: server.version, versionNum: server.versionNum, major: server.major },
    pgDump: { version: ctx.tools.version, major: ctx.tools.major },
    compression: { format: 'gzip', level: ctx.level },
    dumpFormat: format,
    ...(ctx.encryption ? { encryption: manifestEncryption(ctx.encryption) } : {}),
    rolePasswords: server.superuser,
    databases: plan.databases,
    clusterDatabases: plan.clusterDatabases,
    files,
  };
}

type OpenSink = (name: string) => Promise<FileSink>;

/** The globals' SQL, gzipped into its file (and returned for the cluster file's head). */
async function dumpGlobalsFile(ctx: DumpContext, open: OpenSink, server: ServerInfo, emit: (e: BackupEvent) => void, files: ManifestFile[]): Promise<string> {
  emit({ type: 'step', step: 'globals' });
  const globalsText = await step('dump of the globals (roles, tablespaces)', ctx.signal, () => dumpGlobalsText(ctx, { rolePasswords: server.superuser }));
  const globals = await open(GLOBALS_FILE);
  await step(`writing ${GLOBALS_FILE}`, ctx.signal, () => writeMember(globals, Buffer.from(globalsText, 'utf8'), ctx.level));
  files.push(await finish(globals, 'globals', emit));
  return globalsText;
}

/**
 * BACKUP_FORMAT=custom: the globals as SQL, then every database of the cluster (template1 too) as
 * its own archive. No cluster file: a cluster restore is the globals and every archive.
 */
async function dumpArchives(ctx: DumpContext, open: OpenSink, server: ServerInfo, plan: ReturnType<typeof planDatabases>, emit: (e: BackupEvent) => void, files: ManifestFile[]): Promise<void> {
  await dumpGlobalsFile(ctx, open, server, emit, files);
  const rowsBudget = { bytes: ROWS_BUDGET_BYTES };
  for (const [index, database] of plan.clusterDatabases.entries()) {
    emit({ type: 'step', step: 'database', database, index, total: plan.clusterDatabases.length, ownFile: true });
    const file = await open(databaseFileName(database, 'custom'));
    const counts = await step(`dump of database ${JSON.stringify(database)}`, ctx.signal, () => dumpDatabaseArchive(ctx, database, file));
    const { rawBytes: _unknown, ...written } = await finish(file, 'database', emit); // an archive's SQL size is not known
    files.push({ ...written, database, ...rowsEntry(database, counts, rowsBudget, emit) });
  }
}

async function dumpPlain(ctx: DumpContext, open: OpenSink, server: ServerInfo, plan: ReturnType<typeof planDatabases>, emit: (e: BackupEvent) => void, files: ManifestFile[]): Promise<void> {
  const cluster = await open(CLUSTER_FILE);
  const globalsText = await dumpGlobalsFile(ctx, open, server, emit, files);
  await step(`writing ${CLUSTER_FILE}`, ctx.signal, () => writeMember(cluster, Buffer.from(clusterHead(globalsText), 'utf8'), ctx.level));
  const rowsBudget = { bytes: ROWS_BUDGET_BYTES };
  for (const [index, database] of plan.clusterDatabases.entries()) {
    // template1 gets a file of its own too (not among the backup's databases): a cluster restore
    // stages every database of the cluster from its own file, template1 included.
    const ownFile = plan.databases.includes(database) || database === 'template1';
    emit({ type: 'step', step: 'database', database, index, total: plan.clusterDatabases.length, ownFile });
    const file = ownFile ? await open(databaseFileName(database)) : undefined;
    const counts = await step(`dump of database ${JSON.stringify(database)}`, ctx.signal, () => dumpDatabase(ctx, database, { file, cluster }));
    if (file) files.push({ ...(await finish(file, 'database', emit)), database, ...rowsEntry(database, counts, rowsBudget, emit) });
  }
  await step(`writing ${CLUSTER_FILE}`, ctx.signal, () => writeMember(cluster, Buffer.from(clusterTail(), 'utf8'), ctx.level));
  files.unshift(await finish(cluster, 'cluster', emit));
}

/** What the row counts of all databases may add to manifest.json (which a reader refuses above 16 MiB). */
const ROWS_BUDGET_BYTES = 8 * 1024 * 1024;

/** The manifest's `rows` of a database file; left out (with a warning) when they could not be counted. */
function rowsEntry(database: string, counts: DumpCounts, budget: { bytes: number }, emit: (e: BackupEvent) => void): { rows?: TableRows[] } {
  if (counts === undefined) return {};
  let problem = 'problem' in counts ? counts.problem : undefined;
  if ('rows' in counts) {
    const size = counts.rows.reduce((n, r) => n + JSON.stringify(r).length + 64, 0); // with the manifest's indentation
    if (size <= budget.bytes) {
      budget.bytes -= size;
      return { rows: counts.rows };
    }
    problem = `the counts of ${counts.rows.length} tables would make manifest.json too big`;
  }
  emit({ type: 'warning', message: `the rows of database ${JSON.stringify(database)} are not in the manifest (${problem}); a drill of this backup can check only that it restores` });
  return {};
}

async function finish(sink: FileSink, kind: ManifestFile['kind'], emit: (e: BackupEvent) => void): Promise<ManifestFile> {
  const written = await sink.finish();
  emit({ type: 'file', file: written });
  return { ...written, kind };
}

async function writeManifest(staging: string, manifest: Manifest): Promise<void> {
  const path = join(staging, MANIFEST_FILE);
  try {
    await writeFile(path, serializeManifest(manifest), { mode: 0o640, flush: true });
    await syncDir(staging);
  } catch (err) {
    throw new StepError(`writing ${MANIFEST_FILE}: cannot write ${path}: ${messageOf(err)}`);
  }
}

/** Runs one step; a failure is reported with the step's name and the cause's own message. */
async function step<T>(name: string, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  try {
    signal.throwIfAborted();
    return await work();
  } catch (err) {
    if (signal.aborted || err instanceof AbortedError) throw new AbortedError(`backup stopped during the ${name}; nothing was kept`);
    if (err instanceof UsageError) throw err;
    throw new StepError(redact(`${name} failed: ${messageOf(err)}`));
  }
}

/** Ships the published backup to every enabled destination, then applies each one's retention. */
async function afterPublish(
  done: { folder: string; path: string; manifest: Manifest },
  settings: BackupSettings,
  signal: AbortSignal,
  emit: (e: BackupEvent) => void,
  now: () => Date,
  progress: ProgressTracker,
  sources: BackupTargets,
): Promise<BackupResult> {
  const destinations = sources.destinations;
  const total = done.manifest.files.reduce((n, f) => n + f.bytes, 0);
  const phases = new Map(
    destinations.map((d) => [
      d,
      progress.phase(d.kind === 's3' ? 'upload-s3' : 'push-remote', `${d.kind === 's3' ? 'upload-s3' : 'push-remote'}:${d.location}`, `${d.kind === 's3' ? 'upload to' : 'push to'} ${where(d)}`, total),
    ]),
  );
  for (const d of destinations) emit({ type: 'shipping', destination: where(d) });
  const shipped = await shipBackup(done.path, done.manifest, destinations, {
    signal,
    onProgress: (d, p) => {
      emit({ type: 'pushing', destination: where(d), ...p });
      phases.get(d)?.update(p.bytes, p.file);
    },
    onRetry: (d, message) => emit({ type: 'retry', destination: where(d), message }),
    // Each destination's phase ends when it is done, not when the slowest one is.
    onDone: (outcome) => {
      const phase = phases.get(outcome.destination);
      if (outcome.ok) {
        phase?.update(total);
        phase?.done();
      } else phase?.failed();
    },
  });
  const errors: string[] = [];
  for (const outcome of shipped) {
    emit({ type: 'shipped', destination: where(outcome.destination), ok: outcome.ok, error: outcome.error });
    if (outcome.error) errors.push(outcome.error);
  }

  // A destination that did not get this backup is not pruned now: its newest copy may be all there is.
  const got = shipped.filter((o) => o.ok).map((o) => o.destination);
  const retention = await applyRetention(retentionTargets([...got, sources.local], { source: sources.local, days: settings.local.retentionDays, rules: settings.local.keepRules }, destinations), {
    now: now(),
    signal,
    keep: [done.folder], // never the backup this run has just written, whatever the clock says
    progress,
    onRemove: (source, e, reason) => emit({ type: 'pruned', source: where(source), folder: e.folder, reason }),
    onWarning: (_source, message) => emit({ type: 'warning', message }),
  });
  const prunes = retention.results;
  errors.push(...retention.errors);
  // The run reports the folder as finished only if it is still there, whole (retention keeps it; this
  // guards against anything else having removed it meanwhile).
  if (!(await exists(join(done.path, MANIFEST_FILE)))) throw new StepError(`${done.path} is gone after the run (deleted meanwhile by something else?); the backup is not there`);
  return { ...done, shipped, prunes, errors };
}
