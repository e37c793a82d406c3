import { runBackup, type BackupEvent } from '../core/backup/backup-service.js';
import { readBackupSettings } from '../core/settings/backup.js';
import { readConnection } from '../core/settings/connection.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, EXIT_CODES_HELP, type Command } from './command.js';
import { formatBytes, type Output } from './output.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'one backup run now: cluster, globals and every database, then local retention',
  maxPositionals: 0,
  options: {
    ...CONNECTION_OPTIONS,
    'backup-dir': { type: 'string' },
    'compression-level': { type: 'string' },
    databases: { type: 'string' },
    'exclude-databases': { type: 'string' },
    'local-retention-days': { type: 'string' },
    'pg-bin-dir': { type: 'string' },
  },
  help: `Usage: pg-backups backup [options]

Dumps the whole cluster, the globals (roles, tablespaces) and every database on its own into
<BACKUP_DIR>/<YYYYMMDD_HHMMSS>/ (UTC), with manifest.json written last, then deletes local backups
older than LOCAL_RETENTION_DAYS (never the newest one, never files pg-backups did not write).
Each file restores with: gunzip -c FILE | psql

Options (a flag wins over its variable):
  --backup-dir DIR              BACKUP_DIR (default /backups)
  --compression-level N         COMPRESSION_LEVEL, gzip level 1-9 (default 6)
  --databases A,B               BACKUP_DATABASES (default: every database that allows connections, templates excluded)
  --exclude-databases A,B       BACKUP_EXCLUDE_DATABASES
  --local-retention-days N      LOCAL_RETENTION_DAYS (default 1)
  --pg-bin-dir DIR              PG_BIN_DIR: where pg_dump/pg_dumpall are (default: per-major install places, then PATH)
  --json                        the result as JSON on stdout
  --quiet                       no progress lines on stderr
${CONNECTION_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = { env: ctx.env, flags: ctx.flags };
    const settings = readBackupSettings(input);
    const conn = readConnection(input);
    const result = await runBackup({ settings, conn, signal: ctx.signal, onEvent: (e) => logEvent(ctx.out, e) });
    const total = result.manifest.files.reduce((n, f) => n + f.bytes, 0);
    ctx.out.printJson({
      ok: result.pruneError === undefined,
      folder: result.folder,
      path: result.path,
      manifest: result.manifest,
      pruned: result.prune?.removed.map((e) => e.folder) ?? [],
      ...(result.pruneError ? { error: result.pruneError } : {}),
    });
    ctx.out.print(`backup ${result.folder} finished: ${result.manifest.files.length} files, ${formatBytes(total)} in ${result.path}`);
    if (result.pruneError) {
      ctx.out.error(result.pruneError);
      return 1;
    }
    return 0;
  },
};

function logEvent(out: Output, e: BackupEvent): void {
  switch (e.type) {
    case 'server':
      out.log(`server PostgreSQL ${e.server.version}; using pg_dump ${e.tools.version} from ${e.tools.dir} (${e.tools.origin}); databases: ${e.databases.map((d) => JSON.stringify(d)).join(', ')}`);
      break;
    case 'step':
      if (e.step === 'globals') out.log('dumping globals (roles, tablespaces)');
      else out.log(`dumping database ${JSON.stringify(e.database)} (${e.index + 1}/${e.total})${e.ownFile ? '' : ' into the cluster file only'}`);
      break;
    case 'file':
      out.log(`wrote ${e.file.name} (${formatBytes(e.file.bytes)})`);
      break;
    case 'finished':
      out.log(`backup finished: ${e.path}`);
      break;
    case 'pruned':
      out.log(`deleted old backup ${e.folder} (LOCAL_RETENTION_DAYS)`);
      break;
    case 'warning':
      out.warn(e.message);
      break;
  }
}
