import type { DrillDatabaseResult } from '../core/drill/drill-service.js';
import { setDecryptionKeys } from '../core/encryption/age-stream.js';
import { readDecryptionKeys } from '../core/settings/encryption.js';
import { readRestoreServer } from '../core/settings/restore.js';
import { readOneServerScope } from '../core/settings/servers.js';
import { prepareDrill } from './drill-setup.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, DESTINATION_OPTIONS, GENERAL_SETTINGS_HELP, settingInput, type Command } from './command.js';
import { formatBytes } from './output.js';
import { progressLogger, readProgressInterval } from './progress-log.js';
import { restoreCommand } from './restore.js';

export const drillCommand: Command = {
  name: 'drill',
  summary: 'restores the newest backup into scratch databases and checks every table has the rows it recorded',
  maxPositionals: 0,
  options: {
    ...CONNECTION_OPTIONS,
    ...DESTINATION_OPTIONS,
    // The restore's own flags for picking the backup and the tools (the same meaning).
    ...Object.fromEntries(['source', 'folder', 'restore-dir', 'backup-dir', 'pg-bin-dir', 'server'].map((name) => [name, restoreCommand.options[name]!])),
    databases: { type: 'string' },
  },
  help: `Usage: pg-backups drill [options]

A restore drill: proves that a backup restores, with the rows it should have. Takes the newest
finished backup on a source (or RESTORE_FOLDER), restores each of its databases (or DRILL_DATABASES)
with the restore itself (every check of \`pg-backups restore\`: gzip stream, size, sha256, signature,
the staging database) into a scratch database on DRILL_TARGET named pgb_drill_<16 hex digits>, then
counts the rows of every table (SELECT count(*) FROM ONLY ...) and compares them with the counts the
backup recorded as it dumped (manifest.json, "rows" of each database file; per leaf table of a
partitioned table). Reports per database: time to restore, bytes, tables checked, differences.

The scratch databases are dropped whatever happens: after each database, when a restore fails, and
on SIGTERM/SIGINT. Each one is marked (a database default of application_name) once restored; a drill
killed outright (SIGKILL) leaves one behind, and the next drill onto that server drops every
database named pgb_drill_<hex> (or the staging database of its restore) that carries pg-backups'
mark and has no session; it never drops a database it did not create and mark. Run one drill at a
time per target server.

A backup without row counts (made before row counts existed, or whose counts could not be read) is drilled
too: the restore is checked and the counts are reported as "not recorded".

Each drill is recorded in BACKUP_DIR's run history (pg-backups status shows the last one;
healthcheck judges drills with DRILL_MAX_AGE) and notified (below). DRILL_SCHEDULE runs drills
inside \`pg-backups schedule\` (see pg-backups schedule --help).

  --source local|s3|remote  RESTORE_SOURCE (default: the only enabled source)
  --folder NAME|latest      RESTORE_FOLDER (default latest: the newest finished backup)
  --databases A,B           DRILL_DATABASES: only these databases of the backup (default: every
                            database with a file of its own)
  DRILL_TARGET              (or DRILL_TARGET_FILE; a secret: no flag) a connection URI of the server
                            the scratch databases go to, e.g.
                            DRILL_TARGET=postgresql://drill@scratch-db:5432/postgres; PGUSER,
                            PGPASSWORD, PGSSLMODE, ... fill what it leaves out. Default: the server a
                            restore goes to (the connection below). It needs a role that may create
                            databases (CREATEDB, and superuser for backups holding what only a
                            superuser may create), and room for the largest database of the backup.
  --restore-dir DIR         RESTORE_DIR: downloads from S3 or the remote host go to a private folder
                            inside it, removed after the drill (default: the system temp folder)
  --backup-dir DIR          BACKUP_DIR (default /backups): the local source
  --pg-bin-dir DIR          PG_BIN_DIR: where psql is (default: install places, then PATH)
  --server NAME             RESTORE_SERVER: with several servers, whose backups to drill
  RESTORE_IDENTITY_FILE, BACKUP_ENCRYPTION_KEY, RESTORE_VERIFY_KEY: as for \`pg-backups restore\`
  NOTIFY_URL, NOTIFY_ON, NOTIFY_SECRET, NOTIFY_TIMEOUT  as for \`pg-backups backup\`: a drill that did not
                            pass is notified (event drill.failed), a passed one with NOTIFY_ON=always
                            (drill.passed); a notification never changes the exit code
  PROGRESS_INTERVAL         seconds between progress lines of a long restore (default 5; 0: none)
  --json                    the report as JSON on stdout (logs stay on stderr)
  Other RESTORE_* settings (RESTORE_TYPE, RESTORE_DATABASE, RESTORE_TARGET_DATABASE, ...) do not apply.
${CONNECTION_HELP}
S3 and the remote host: the settings of \`pg-backups backup --help\`.

${GENERAL_SETTINGS_HELP}

Exit codes:
  0  every database restored, and every table has the rows the backup recorded (or none were recorded)
  1  a restore failed (the target server, the network, a client tool), and nothing was found damaged;
     or the drill was stopped
  2  bad usage or settings (the message names the setting and shows a good value)
  3  a file of the backup is damaged, or a table's rows differ from the backup's count
`,
  async run(ctx) {
    const input = settingInput(ctx);
    setDecryptionKeys(readDecryptionKeys(input));
    const drill = prepareDrill(ctx, readOneServerScope(input, { ...readRestoreServer(input), folderOnly: true }));
    const logProgress = progressLogger(ctx.out, readProgressInterval(input));
    // Recorded in BACKUP_DIR's run history (status shows the last drill) and notified; their failure changes nothing.
    const report = await drill.start({
      trigger: 'drill',
      signal: ctx.signal,
      log: { warn: (m) => ctx.out.warn(m), info: (m) => ctx.out.log(m) },
      onEvent: (e) => {
        if (e.type === 'step') ctx.out.log(e.message);
        else if (e.type === 'warning') ctx.out.warn(e.message);
        else if (e.type === 'database') logResult(ctx.out, e.result);
        else if (e.event.type === 'progress') logProgress(e.event.progress);
        else if (e.event.type === 'warning') ctx.out.warn(`${JSON.stringify(e.database)}: ${e.event.message}`);
        else if (e.event.type === 'step') ctx.out.log(e.event.message);
        else if (e.event.type === 'verified') ctx.out.log(`verified ${e.event.file}`);
        else if (e.event.bytes === 0) ctx.out.log(`downloading ${e.event.file} (${formatBytes(e.event.totalBytes)})`);
      },
    });
    ctx.out.printJson({ ...(drill.scope.name ? { server: drill.scope.name } : {}), ...report });
    for (const r of report.databases) ctx.out.print(resultLine(r));
    ctx.out.print(`drill of ${report.folder} (${report.source}) on ${report.target}: ${report.ok ? 'passed' : 'FAILED'}`);
    return report.exitCode;
  },
};

function resultLine(r: DrillDatabaseResult): string {
  const head = `${JSON.stringify(r.database)}: ${r.outcome}, restored in ${r.restoreSeconds.toFixed(1)} s, ${formatBytes(r.bytes)}`;
  const counts = r.counts === 'not recorded' ? 'row counts not recorded' : `${r.tablesChecked} tables checked, ${r.differences.length} differ`;
  return `${head}, ${counts}${r.error ? `: ${r.error}` : ''}`;
}

function logResult(out: { log(m: string): void; error(m: string): void }, r: DrillDatabaseResult): void {
  const say = r.outcome === 'passed' ? out.log : out.error;
  say(resultLine(r));
  for (const d of r.differences.slice(0, 50)) {
    say(`  ${JSON.stringify(`${d.schema}.${d.table}`)}: the backup recorded ${d.expected} rows, the restored table has ${d.found === null ? 'no such table' : `${d.found}`}`);
  }
  if (r.differences.length > 50) say(`  ... and ${r.differences.length - 50} more (see --json)`);
}
