import type { BackupResult } from '../core/backup/backup-service.js';
import { exitCodeFor } from '../core/errors.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, DESTINATION_OPTIONS, EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, SERVERS_HELP, settingInput, type Command, type CommandContext } from './command.js';
import { formatBytes } from './output.js';
import { NOTIFY_HELP, NOTIFY_OPTIONS } from './notify-help.js';
import { ROTATION_HELP, ROTATION_OPTIONS } from './rotation-help.js';
import { prepareServerRuns, runEachServer, runSucceeded } from './server-runs.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'one backup run now: cluster, globals and every database, then local retention',
  maxPositionals: 0,
  options: {
    ...CONNECTION_OPTIONS,
    'backup-dir': { type: 'string' },
    'compression-level': { type: 'string' },
    format: { type: 'string' },
    'row-counts': { type: 'string' },
    databases: { type: 'string' },
    'exclude-databases': { type: 'string' },
    'local-retention-days': { type: 'string' },
    'pg-bin-dir': { type: 'string' },
    server: { type: 'string' },
    'backup-encryption-recipients': { type: 'string' },
    'backup-encryption': { type: 'boolean' },
    ...DESTINATION_OPTIONS,
    ...NOTIFY_OPTIONS,
    ...ROTATION_OPTIONS,
  },
  help: `Usage: pg-backups backup [options]

Dumps the whole cluster, the globals (roles, tablespaces) and every database on its own into
<BACKUP_DIR>/<YYYYMMDD_HHMMSS>/ (UTC), with manifest.json written last, then deletes local backups
older than LOCAL_RETENTION_DAYS and kept by no KEEP_* rule (never the newest one, never files
pg-backups did not write); each destination the same with its own days and rules.
Each file restores with: gunzip -c FILE | psql
The run's outcome is added to the run history, <BACKUP_DIR>/.pg-backups-state.json (see pg-backups status).

Options (a flag wins over its variable):
  --backup-dir DIR              BACKUP_DIR (default /backups)
  --compression-level N         COMPRESSION_LEVEL, gzip level 1-9 (default 6)
  --format plain|custom         BACKUP_FORMAT (default plain). custom: each database as pg_dump -Fc
                                (postgres_db_<name>.dump, compressed by pg_dump at COMPRESSION_LEVEL),
                                the globals as .sql.gz, no cluster file; restores use pg_restore (parallel,
                                RESTORE_SCHEMAS/RESTORE_TABLES); by hand: pg_restore -d DB FILE
  --row-counts BOOL             BACKUP_ROW_COUNTS (default true): each table's rows counted into
                                manifest.json as the dump streams (pg-backups drill checks them). Plain
                                format: about free. Custom: the archive is inflated once more on its way
                                (about 1.2x the plain backup's time on 2 cores); false: no counts
  --databases A,B               BACKUP_DATABASES (default: every database that allows connections, templates excluded)
  --exclude-databases A,B       BACKUP_EXCLUDE_DATABASES
  --local-retention-days N      LOCAL_RETENTION_DAYS (default 1)
  --pg-bin-dir DIR              PG_BIN_DIR: where pg_dump/pg_dumpall are (default: per-major install places, then PATH)
  BACKUP_SIGNING_KEY            secret (or BACKUP_SIGNING_KEY_FILE): an Ed25519 private key in PEM
                                (openssl genpkey -algorithm ed25519); manifest.json is then signed

Encryption at rest (age; every file is encrypted as it leaves the compressor: postgres_db_app.sql.gz.age,
nothing plaintext on any disk or destination; by hand: age -d -i key.txt FILE | gunzip | psql):
  BACKUP_ENCRYPTION_RECIPIENTS  age public keys (age1..., from age-keygen -y key.txt), separated by commas
                                or blanks, or the path of a file of them (one per line, # comments); the
                                private key (RESTORE_IDENTITY_FILE) is needed only where restores run
  BACKUP_ENCRYPTION=true        the weaker choice: a passphrase (scrypt) instead of keys, with
  BACKUP_ENCRYPTION_KEY         secret (or BACKUP_ENCRYPTION_KEY_FILE): the passphrase; it reads every backup

S3-compatible storage (the same folder goes to s3://S3_BUCKET/S3_PREFIX/<folder>/):
  S3_ENABLED=true, S3_BUCKET, S3_PREFIX, S3_REGION (us-east-1), S3_ENDPOINT (MinIO, Spaces, R2, B2, ...),
  S3_FORCE_PATH_STYLE (false; true for MinIO), S3_ACCESS_KEY + S3_SECRET_KEY (or the AWS credential chain),
  S3_RETENTION_DAYS (7)
Remote host over SSH (the same folder goes to RSYNC_PATH/<folder>/ with rsync):
  RSYNC_ENABLED=true, RSYNC_HOST, RSYNC_USER (root), RSYNC_PORT (22), RSYNC_PATH, RSYNC_SSH_KEY,
  RSYNC_KNOWN_HOSTS (~/.ssh/known_hosts; the host's key must be in it), RSYNC_RETENTION_DAYS (30)
Retries of S3 and remote transfers: RETRY_ATTEMPTS (3 retries), RETRY_DELAY (5 s, doubling)
${ROTATION_HELP}
${NOTIFY_HELP}
Every setting has a flag of the same name in lower case with dashes (e.g. --s3-bucket), except secrets.
  --json                        the result as JSON on stdout
  --quiet                       no progress lines on stderr
${CONNECTION_HELP}

${SERVERS_HELP}
  --server NAME                 back up only this one of them

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = settingInput(ctx);
    const runners = prepareServerRuns(ctx, input);
    if (runners.length === 1 && runners[0]!.scope.name === undefined) {
      // The one server of the libpq variables: today's output, a thrown error is the command's.
      const result = await runners[0]!.run('backup');
      ctx.out.printJson({ ok: result.errors.length === 0, ...resultJson(result) });
      printResult(ctx, '', result);
      return result.errors.length === 0 ? 0 : 1;
    }
    const outcomes = await runEachServer(runners, 'backup', ctx.signal);
    ctx.out.printJson({
      ok: outcomes.every(runSucceeded),
      servers: outcomes.map((o) => ({ server: o.scope.name, ok: runSucceeded(o), ...(o.result ? resultJson(o.result) : { error: o.error }) })),
    });
    for (const o of outcomes) {
      if (o.result) printResult(ctx, `${o.scope.name}: `, o.result);
      else ctx.out.error(`${o.scope.name}: no backup: ${o.error}`);
    }
    const failed = outcomes.filter((o) => !runSucceeded(o));
    if (failed.length > 0) ctx.out.print(`${failed.length} of ${outcomes.length} servers failed: ${failed.map((o) => o.scope.name).join(', ')}`);
    return failed.length === 0 ? 0 : Math.max(...failed.map((o) => (o.thrown !== undefined ? exitCodeFor(o.thrown) : 1)));
  },
};

function resultJson(result: BackupResult) {
  return {
    folder: result.folder,
    path: result.path,
    manifest: result.manifest,
    destinations: result.shipped.map((o) => ({ kind: o.destination.kind, location: o.destination.location, ok: o.ok, ...(o.error ? { error: o.error } : {}) })),
    pruned: result.prunes.flatMap((p) => p.removed.map((e) => ({ source: p.source.kind, folder: e.folder }))),
    errors: result.errors,
  };
}

function printResult(ctx: CommandContext, prefix: string, result: BackupResult): void {
  const total = result.manifest.files.reduce((n, f) => n + f.bytes, 0);
  const where = ['local', ...result.shipped.filter((o) => o.ok).map((o) => o.destination.kind)].join(', ');
  ctx.out.print(`${prefix}backup ${result.folder} finished: ${result.manifest.files.length} files, ${formatBytes(total)} in ${result.path} (on ${where})`);
  for (const error of result.errors) ctx.out.error(prefix + error);
}
