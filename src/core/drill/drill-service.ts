// A restore drill: the newest finished backup (or a named one) on a source, each of its databases
// restored by the restore service itself (runRestore: every check a restore makes, the staging
// database, the stop on damage) into a scratch database on the drill's target server, then every
// table's rows counted and compared with the counts the manifest recorded at backup time. The
// scratch databases are dropped whatever happens: after each database, on failure and on a stop
// (the AbortSignal); a drill killed outright leaves one behind, and the next drill drops it.
//
// Called by `pg-backups drill`; a plain function of settings, a source, a signal and an event
// callback returning a plain report, so that a schedule or a screen can call it too.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { AbortedError, UsageError, exitCodeFor, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import type { BackupEntry, BackupSource } from '../source.js';
import { describeServer, type ConnectionSettings } from '../settings/connection.js';
import { connect } from '../postgres/connect.js';
import { inspectServer } from '../postgres/server.js';
import type { Manifest, ManifestFile } from '../backup/manifest.js';
import { pickBackup } from '../restore/fetch.js';
import { runRestore } from '../restore/restore-service.js';
import type { RestoreEvent } from '../restore/model.js';
import { dropDatabase, maintenanceDb, withClient } from '../restore/execute-admin.js';
import { checkRows, type RowDifference } from './row-check.js';
import { dropDrillLeftovers, markScratch, scratchName } from './scratch.js';

export interface DrillRequest {
  source: BackupSource;
  /** A folder name or "latest". */
  folder: string;
  /** Only these databases of the backup (default: every database with a file of its own). */
  databases?: string[];
  /** The server the scratch databases go to (DRILL_TARGET, else the restore connection). */
  target: ConnectionSettings;
  /** Where downloads go (a private folder is made inside and removed after); default: the system temp folder. */
  restoreDir?: string;
  pgBinDir?: string;
  signal: AbortSignal;
  onEvent?: (event: DrillEvent) => void;
}

export type DrillEvent =
  | { type: 'step'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'restore'; database: string; event: RestoreEvent }
  | { type: 'database'; result: DrillDatabaseResult };

/** passed: restored, and every count matched (or none was recorded); differences: restored, counts differ. */
export type DrillOutcome = 'passed' | 'differences' | 'damaged' | 'failed';

export interface DrillDatabaseResult {
  database: string;
  /** The scratch database it was restored into (dropped since). */
  scratch: string;
  outcome: DrillOutcome;
  /** Seconds from the start of the restore to the scratch database in place. */
  restoreSeconds: number;
  /** The database file's stored size, and its SQL size when the manifest records it. */
  bytes: number;
  rawBytes?: number;
  /** "checked": the manifest recorded row counts and they were compared; "not recorded": it has none (older backups). */
  counts: 'checked' | 'not recorded';
  tablesChecked: number;
  differences: RowDifference[];
  /** Why the restore failed (outcome damaged or failed). */
  error?: string;
  /** Set when the scratch database could not be dropped (it is named in the message). */
  cleanupError?: string;
}

export interface DrillReport {
  ok: boolean;
  /** 0 every check passed; 3 a damaged file or differing counts; 1 a restore failed (and nothing was damaged). */
  exitCode: 0 | 1 | 3;
  folder: string;
  source: string;
  /** The target server, for people (never with a password). */
  target: string;
  targetVersion: string;
  startedAt: string;
  finishedAt: string;
  /** Scratch databases of earlier, killed drills dropped before this one started. */
  leftoversDropped: string[];
  databases: DrillDatabaseResult[];
}

export async function runDrill(req: DrillRequest): Promise<DrillReport> {
  const emit = req.onEvent ?? (() => {});
  const startedAt = new Date();
  const where = `${req.source.kind}:${req.source.location}`;
  emit({ type: 'step', message: `looking for ${req.folder === 'latest' ? 'the newest finished backup' : req.folder} on ${where}` });
  const entry = pickBackup(await req.source.list(req.signal), req.folder, where, { warn: (message) => emit({ type: 'warning', message }) });
  if (!entry.manifest) {
    throw new UsageError(`${entry.folder} on ${where} is a legacy backup without a manifest; a drill needs one made by pg-backups: name one in RESTORE_FOLDER, or make one with \`pg-backups backup\``);
  }
  const manifest = entry.manifest;
  const databases = pickDatabases(manifest, req.databases, entry.folder);
  const target = req.target;
  const server = await inspectServer(target);
  const targetName = describeServer(target);
  const maintenance = maintenanceDb(target, []);
  const leftovers = await dropDrillLeftovers(target, maintenance, server.major);
  for (const name of leftovers.dropped) emit({ type: 'warning', message: `dropped ${JSON.stringify(name)} on ${targetName}, left by a drill that was killed` });
  for (const name of leftovers.unmarked) emit({ type: 'warning', message: `left ${JSON.stringify(name)} alone: it is named like a drill's scratch database but does not carry pg-backups' mark` });
  emit({ type: 'step', message: `drilling ${entry.folder} from ${where} on ${targetName} (PostgreSQL ${server.version}): ${databases.map((d) => JSON.stringify(d)).join(', ')}` });

  const workDir = await privateDir(req.restoreDir);
  const results: DrillDatabaseResult[] = [];
  try {
    for (const database of databases) {
      req.signal.throwIfAborted();
      const file = manifest.files.find((f) => f.kind === 'database' && f.database === database)!;
      const result = await drillDatabase({ req, entry, database, file, maintenance, serverMajor: server.major, workDir, emit });
      results.push(result);
      emit({ type: 'database', result });
    }
  } catch (err) {
    if (req.signal.aborted && !(err instanceof AbortedError)) throw new AbortedError(`the drill was stopped (${messageOf(req.signal.reason ?? err)}); its scratch databases were dropped`);
    throw err;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
  const damaged = results.some((r) => r.outcome === 'damaged' || r.outcome === 'differences');
  const failed = results.some((r) => r.outcome === 'failed');
  const exitCode = damaged ? 3 : failed ? 1 : 0;
  return {
    ok: exitCode === 0,
    exitCode,
    folder: entry.folder,
    source: where,
    target: targetName,
    targetVersion: server.version,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    leftoversDropped: leftovers.dropped,
    databases: results,
  };
}

function pickDatabases(manifest: Manifest, wanted: string[] | undefined, folder: string): string[] {
  const all = manifest.databases;
  if (!wanted) return all;
  const missing = wanted.filter((d) => !all.includes(d));
  if (missing.length > 0) {
    throw new UsageError(`DRILL_DATABASES names ${missing.map((d) => JSON.stringify(d)).join(', ')}, which backup ${folder} does not hold (it has ${all.map((d) => JSON.stringify(d)).join(', ') || 'no database'}); e.g. DRILL_DATABASES=${all[0] ?? 'app'}`);
  }
  return [...new Set(wanted)];
}

/** A private folder for the restore's downloads, inside RESTORE_DIR (or the system temp folder). */
async function privateDir(restoreDir: string | undefined): Promise<string> {
  const base = restoreDir ?? tmpdir();
  try {
    await mkdir(base, { recursive: true });
    return await mkdtemp(join(base, 'pgb-drill-'));
  } catch (err) {
    throw new UsageError(`RESTORE_DIR=${base} cannot hold the drill's downloads: ${messageOf(err)}; point it at a writable folder, e.g. RESTORE_DIR=/tmp, or unset it for the system temp folder`);
  }
}

interface OneDrill {
  req: DrillRequest;
  /** The backup picked (listed once for the whole drill). */
  entry: BackupEntry;
  database: string;
  file: ManifestFile;
  maintenance: string;
  serverMajor: number;
  workDir: string;
  emit: (e: DrillEvent) => void;
}

async function drillDatabase(d: OneDrill): Promise<DrillDatabaseResult> {
  const { req, database, file, emit } = d;
  const scratch = await freshScratch(req.target, d.maintenance);
  const base = {
    database,
    scratch,
    bytes: file.bytes,
    ...(file.rawBytes !== undefined ? { rawBytes: file.rawBytes } : {}),
    counts: file.rows ? ('checked' as const) : ('not recorded' as const),
    tablesChecked: 0,
    differences: [] as RowDifference[],
  };
  emit({ type: 'step', message: `restoring ${JSON.stringify(database)} into the scratch database ${JSON.stringify(scratch)}` });
  const started = Date.now();
  let restoreSeconds = 0;
  let client: pg.Client | undefined;
  let stopCounting: (() => void) | undefined;
  let result: DrillDatabaseResult;
  let cleanupError: string | undefined;
  try {
    await runRestore({
      request: { source: req.source.kind, folder: d.entry.folder, type: 'database', database, targetDatabase: scratch, overwrite: false, restoreDir: d.workDir },
      source: req.source,
      entries: [d.entry],
      conn: req.target,
      pgBinDir: req.pgBinDir,
      signal: req.signal,
      onEvent: (event) => emit({ type: 'restore', database, event }),
    });
    restoreSeconds = (Date.now() - started) / 1000;
    client = await connect(req.target, scratch);
    await markScratch(client, scratch);
    // A stop during a long count(*) closes the connection: the query fails, and the drop follows.
    const counting = client;
    stopCounting = () => void counting.end().catch(() => {});
    req.signal.addEventListener('abort', stopCounting, { once: true });
    if (!file.rows) {
      emit({ type: 'step', message: `${JSON.stringify(database)} restored in ${restoreSeconds.toFixed(1)} s; the backup recorded no row counts (made by an older pg-backups, or they could not be counted): only the restore was checked` });
      result = { ...base, outcome: 'passed', restoreSeconds };
    } else {
      emit({ type: 'step', message: `${JSON.stringify(database)} restored in ${restoreSeconds.toFixed(1)} s; counting the rows of ${file.rows.length} tables` });
      const check = await checkRows(client, file.rows, req.signal);
      result = { ...base, outcome: check.differences.length > 0 ? 'differences' : 'passed', restoreSeconds, tablesChecked: check.checked, differences: check.differences };
    }
  } catch (err) {
    if (req.signal.aborted || err instanceof AbortedError || err instanceof UsageError) throw err; // after the drop below
    restoreSeconds = restoreSeconds || (Date.now() - started) / 1000;
    const outcome = exitCodeFor(err) === 3 ? 'damaged' : 'failed';
    result = { ...base, outcome, restoreSeconds, error: redact(messageOf(err)) };
  } finally {
    if (stopCounting) req.signal.removeEventListener('abort', stopCounting);
    await client?.end().catch(() => {});
    cleanupError = await dropScratch(d, scratch);
  }
  return cleanupError ? { ...result, cleanupError } : result;
}

/** A scratch name no database has (random; checked anyway). */
async function freshScratch(conn: ConnectionSettings, maintenance: string): Promise<string> {
  return withClient(conn, maintenance, async (c) => {
    for (;;) {
      const name = scratchName();
      const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if ((r.rowCount ?? 0) === 0) return name;
    }
  });
}

/** Drops the scratch database (if the restore got as far as creating it); the message when that failed. */
async function dropScratch(d: OneDrill, scratch: string): Promise<string | undefined> {
  try {
    await dropDatabase(d.req.target, d.maintenance, scratch, d.serverMajor);
    d.emit({ type: 'step', message: `dropped the scratch database ${JSON.stringify(scratch)}` });
    return undefined;
  } catch (err) {
    const message = redact(`the scratch database ${JSON.stringify(scratch)} could not be dropped (${messageOf(err)}); the next drill drops it, or drop it with DROP DATABASE "${scratch}"`);
    d.emit({ type: 'warning', message });
    return message;
  }
}
