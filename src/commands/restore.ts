import { UsageError } from '../core/errors.js';
import { runRestore } from '../core/restore/restore-service.js';
import { planRestore } from '../core/restore/plan.js';
import { planLines } from './restore-plan-text.js';
import { progressLogger, readProgressInterval } from './progress-log.js';
import { readPgBinDir } from '../core/settings/backup.js';
import { anyRestoreSetting, readRestoreRequest, readRestoreServer } from '../core/settings/restore.js';
import { readOneServerScope, restoreConnection } from '../core/settings/servers.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, DESTINATION_OPTIONS, EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, settingInput, type Command } from './command.js';
import { formatBytes } from './output.js';
import { selectSources } from './sources.js';
import { openScreen, screenWanted } from '../ui/entry.js';
import { setDecryptionKeys } from '../core/encryption/age-stream.js';
import { readDecryptionKeys } from '../core/settings/encryption.js';

const WHAT_TO_SET = `set RESTORE_TYPE (cluster|globals|database), RESTORE_SOURCE (local|s3|remote), RESTORE_FOLDER (a folder name or latest) and, for a database, RESTORE_DATABASE; e.g. RESTORE_SOURCE=local RESTORE_FOLDER=latest RESTORE_TYPE=database RESTORE_DATABASE=app pg-backups restore`;

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restores a cluster, the globals or one database from a backup on any source',
  maxPositionals: 0,
  options: {
    ...CONNECTION_OPTIONS,
    ...DESTINATION_OPTIONS,
    source: { type: 'string' },
    folder: { type: 'string' },
    type: { type: 'string' },
    database: { type: 'string' },
    'target-database': { type: 'string' },
    overwrite: { type: 'boolean' },
    jobs: { type: 'string' },
    schemas: { type: 'string' },
    tables: { type: 'string' },
    'restore-dir': { type: 'string' },
    'backup-dir': { type: 'string' },
    'pg-bin-dir': { type: 'string' },
    'dry-run': { type: 'boolean' },
    server: { type: 'string' },
  },
  help: `Usage: pg-backups restore [options]

Restores from a backup on local disk, S3 or the remote host. Each file is read once: downloaded into
RESTORE_DIR and checked (gzip stream, size, sha256) while psql restores it into a staging database;
a damaged file stops the restore with exit 3 and nothing of it under its real name. It never asks
anything when RESTORE_* settings (or the flags) are given.

  --type cluster|globals|database  RESTORE_TYPE
  --source local|s3|remote         RESTORE_SOURCE (default: the only enabled source)
  --folder NAME|latest             RESTORE_FOLDER (default latest: the newest finished backup; a
                                   legacy one only when there is none). A seed 002 file
                                   (backup_YYYYMMDD_HHMMSS.sql.gz[.enc] directly in BACKUP_DIR,
                                   S3_PREFIX or RSYNC_PATH) is named by its file name; it holds one
                                   database and names none: RESTORE_TYPE=database only, restored
                                   under RESTORE_TARGET_DATABASE, else RESTORE_DATABASE
  --database NAME                  RESTORE_DATABASE (with --type database)
  --target-database NAME           RESTORE_TARGET_DATABASE: restore under another name (a test restore)
  --overwrite                      RESTORE_OVERWRITE=true: replace a database that exists
  --jobs N                         RESTORE_JOBS: databases of a cluster restored at once; for one
                                   database of a custom-format backup, pg_restore --jobs (default:
                                   one per core, 2 to 4; 1 streams the archive through pg_restore
                                   in one pass, without a local copy)
  --schemas A,B                    RESTORE_SCHEMAS (custom-format backups, --type database): only
                                   these schemas, into a database that does not exist yet
  --tables S.T,S.U                 RESTORE_TABLES: only these tables (schema.table, "Quoted"."Names"),
                                   with their data, indexes, constraints, defaults, sequences, triggers,
                                   comments and grants; foreign keys only to tables restored too;
                                   into a new database (RESTORE_TARGET_DATABASE)
  --restore-dir DIR                RESTORE_DIR (default /restore): where downloads go
  RESTORE_VERIFY_KEY               an Ed25519 public key (PEM, or the path of its file): a backup whose
                                   manifest is not signed by it is refused (exit 3), and each file is
                                   checked whole against the signed manifest before psql reads it
  RESTORE_IDENTITY_FILE            an age identity file (AGE-SECRET-KEY-1..., made by age-keygen): the
                                   key of an encrypted backup (*.sql.gz.age), decrypted in memory on
                                   its way into psql; unset with an encrypted backup: exit 2; not one
                                   of its recipients, or an altered file: exit 3, nothing restored
  BACKUP_ENCRYPTION_KEY            (_FILE works) the passphrase of a backup made with BACKUP_ENCRYPTION=true,
                                   and of seed 002's *.sql.gz.enc files (openssl enc -aes-256-cbc
                                   -pbkdf2), decrypted in memory on their way into psql; unset: exit
                                   2 before anything is downloaded; a wrong one: exit 3
  --backup-dir DIR                 BACKUP_DIR (default /backups): the local source
  --pg-bin-dir DIR                 PG_BIN_DIR: where psql is (default: install places, then PATH)
  --server NAME                    RESTORE_SERVER: with several servers (BACKUP_<NAME>=postgresql://...),
                                   the one whose backups (<BACKUP_DIR>/<name>/, <S3_PREFIX>/<name>/,
                                   <RSYNC_PATH>/<name>/) to restore from; the restore goes to that
                                   server's BACKUP_<NAME> unless PGHOST, --host or DATABASE_URL names
                                   another. A name without its BACKUP_<NAME> only picks the folder.
  --dry-run                        print the preflight plan (what would be downloaded, created,
                                   replaced and ended; free space; warnings; every refusal) and
                                   change nothing; exit 0 when the restore would start, else the
                                   exit code it would stop with
  --json                           a summary (or, with --dry-run, the plan) as JSON on stdout
${CONNECTION_HELP}
S3 and the remote host: the settings of \`pg-backups backup --help\`.

A database is restored into a staging database and swapped in only when the restore succeeded: a
failure part-way leaves the existing database as it was. A cluster restore is for a fresh server:
the globals first, then every database into a staging database (RESTORE_JOBS at once), all put in
place under their real names only when every one has been restored; a failure drops them all and
says which roles the globals created.

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = settingInput(ctx);
    setDecryptionKeys(readDecryptionKeys(input)); // encrypted backups: the screen and the non-interactive restore
    if (!anyRestoreSetting(input)) {
      // No RESTORE_* settings: the screen, for a person at a terminal; everything else as before.
      if (screenWanted(ctx.env) && !ctx.out.json && ctx.flags['dry-run'] !== true) return openScreen(ctx);
      throw new UsageError(`nothing to restore: no terminal to ask in, and no RESTORE_* settings; ${WHAT_TO_SET}`);
    }
    const scope = readOneServerScope(input, { ...readRestoreServer(input), folderOnly: true });
    const sources = selectSources(scope.input);
    const enabled = [sources.local, ...sources.destinations].map((s) => s.kind);
    const request = readRestoreRequest(scope.input, enabled);
    const source = [sources.local, ...sources.destinations].find((s) => s.kind === request.source)!;
    const conn = restoreConnection(scope);
    if (ctx.flags['dry-run'] === true) {
      const { plan } = await planRestore({ request, source, conn, pgBinDir: readPgBinDir(scope.input), signal: ctx.signal });
      ctx.out.printJson({ ok: plan.ok, dryRun: true, plan });
      for (const line of planLines(plan)) ctx.out.print(line);
      return plan.ok ? 0 : plan.refusals[0]!.exitCode;
    }
    const logProgress = progressLogger(ctx.out, readProgressInterval(input));
    const summary = await runRestore({
      request,
      source,
      conn,
      pgBinDir: readPgBinDir(scope.input),
      signal: ctx.signal,
      onEvent: (e) => {
        if (e.type === 'progress') logProgress(e.progress);
        else if (e.type === 'step') ctx.out.log(e.message);
        else if (e.type === 'warning') ctx.out.warn(e.message);
        else if (e.type === 'verified') ctx.out.log(`verified ${e.file}`);
        else if (e.type === 'download' && e.bytes === 0) ctx.out.log(`downloading ${e.file} (${formatBytes(e.totalBytes)})`);
      },
    });
    ctx.out.printJson({
      ok: true,
      ...(scope.name ? { server: scope.name } : {}),
      folder: summary.folder,
      source: summary.source,
      type: summary.type,
      database: request.database ?? null,
      target: summary.outcome.target,
      files: summary.files.map((f) => ({ name: f.name, path: f.path, bytes: f.bytes, sha256: f.sha256 })),
      ...(summary.outcome.created ? { createdRoles: summary.outcome.created.roles, createdTablespaces: summary.outcome.created.tablespaces } : {}),
      ...('databases' in summary.outcome ? { databases: summary.outcome.databases } : {}),
      warnings: summary.outcome.warnings,
    });
    ctx.out.print(`restored ${summary.type} ${summary.outcome.target} from ${summary.folder} (${summary.source})`);
    return 0;
  },
};
