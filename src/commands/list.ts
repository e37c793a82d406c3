import { listBackups, type CatalogEntry, type SourceFailure } from '../core/catalog.js';
import { DESTINATION_OPTIONS, EXIT_CODES_HELP, type Command, GENERAL_SETTINGS_HELP, settingInput } from './command.js';
import { formatBytes, table } from './output.js';
import { describeSingle } from '../core/seed002.js';
import { SERVER_HELP, SERVER_OPTION, commandScopes } from './server-option.js';
import { SOURCE_HELP, selectSources } from './sources.js';

export const listCommand: Command = {
  name: 'list',
  summary: 'every backup on every enabled source, newest first, with where each copy lives',
  maxPositionals: 0,
  options: { source: { type: 'string' }, 'backup-dir': { type: 'string' }, ...SERVER_OPTION, ...DESTINATION_OPTIONS },
  help: `Usage: pg-backups list [options]

Lists backups on every enabled source (local, S3, remote host), merged by folder and newest first,
with where each copy lives. A source that cannot be read is reported (exit 1); the others still
answer. Runs that did not finish are never listed. STATUS is
  finished    a valid manifest.json, and every file it names is there with its recorded size
  incomplete  a valid manifest.json, but a file it names is missing or of another size
  legacy      made by the bash tool, no manifest: verified by gzip alone; or a seed 002 file
              (backup_YYYYMMDD_HHMMSS.sql.gz[.enc] directly in BACKUP_DIR, S3_PREFIX or
              RSYNC_PATH): one database, listed under its file name (NOTE says so); .enc files
              are read with BACKUP_ENCRYPTION_KEY. Never deleted by pg-backups
  damaged     a manifest.json that cannot be read or fails its check (NOTE says why)
  not ours    a symbolic link (or the like) named like a backup folder: never read, never deleted
A folder dated more than 15 minutes in the future (a clock was wrong) is flagged in NOTE: it is
never picked as latest and never counts as the newest backup for retention.

Options:
${SOURCE_HELP}
${SERVER_HELP} (default: every server;
                            FOLDER then shows <name>/<folder>)
  --json                    the list as JSON on stdout

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = settingInput(ctx);
    const scopes = commandScopes(ctx, input).map((scope) => ({ scope, sources: selectSources(scope.input, { localMustExist: true }).selected }));
    const backups: Array<CatalogEntry & { server?: string }> = [];
    const failures: Array<SourceFailure & { server?: string }> = [];
    for (const { scope, sources } of scopes) {
      const listed = await listBackups(sources, ctx.signal);
      backups.push(...listed.backups.map((b) => ({ ...b, ...(scope.name ? { server: scope.name } : {}) })));
      failures.push(...listed.failures.map((f) => ({ ...f, ...(scope.name ? { server: scope.name } : {}) })));
    }
    for (const f of failures) ctx.out.error(`${f.server ? `${f.server}: ` : ''}cannot list ${f.source.kind}:${f.source.location}: ${f.error}`);
    ctx.out.printJson({
      ok: failures.length === 0,
      errors: failures.map((f) => ({ ...(f.server ? { server: f.server } : {}), source: f.source.kind, location: f.source.location, error: f.error })),
      backups: backups.map((b) => ({
        ...(b.server ? { server: b.server } : {}),
        folder: b.folder,
        time: b.time.toISOString(),
        status: b.status,
        future: b.future,
        serverVersion: b.manifest?.server.version ?? null,
        ...(b.manifest ? { format: b.manifest.dumpFormat, encrypted: b.manifest.encryption !== undefined } : {}),
        databases: b.databases,
        bytes: b.bytes,
        locations: b.copies.map((c) => ({ source: c.source.kind, location: c.source.location })),
        ...(b.problem ? { problem: b.problem } : {}),
        // A seed 002 file: one database in one flat file, named by the file name.
        ...singleOf(b),
        // With RESTORE_VERIFY_KEY: the key that signed it (a backup not signed by it is damaged).
        ...signedBy(b),
      })),
    });
    if (backups.length === 0) {
      ctx.out.print('no backups found');
      return failures.length === 0 ? 0 : 1;
    }
    const rows = [['FOLDER', 'STATUS', 'SERVER', 'DATABASES', 'SIZE', 'WHERE', 'NOTE']];
    for (const b of backups) {
      const m = b.manifest;
      const notes = [
        b.future ? 'dated in the future: never picked as latest' : '',
        m && m.pgDump.major > m.server.major ? `made with pg_dump ${m.pgDump.major} for a PostgreSQL ${m.server.major} server (no client of its major was found)` : '',
        singleNote(b),
        m?.dumpFormat === 'custom' ? 'custom format (pg_restore)' : '',
        m?.encryption ? `encrypted (${m.encryption.mode === 'passphrase' ? 'passphrase' : 'age keys'})` : '',
        b.problem ?? '',
      ].filter(Boolean);
      rows.push([
        b.server ? `${b.server}/${b.folder}` : b.folder,
        b.status === 'foreign' ? 'not ours' : b.status,
        b.manifest?.server.version ?? '-',
        b.status === 'foreign' ? '-' : String(singleOf(b).single ? 1 : b.databases.length),
        b.status === 'foreign' ? '-' : formatBytes(b.bytes),
        b.copies.map((c) => `${c.source.kind}:${c.source.location}`).join(', '),
        oneLine(notes.join('; ')),
      ]);
    }
    for (const line of table(rows)) ctx.out.print(line);
    return failures.length === 0 ? 0 : 1;
  },
};

/** A note on one table line: control characters (a newline in a name) shown escaped. */
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `single` of a seed 002 backup: { seed: '002', file, encrypted: 'openssl' | null }. */
function singleOf(b: CatalogEntry): { single?: { seed: '002'; file: string; encrypted: 'openssl' | null } } {
  const single = b.copies.find((c) => c.entry.single)?.entry.single;
  return single ? { single: { seed: '002', file: single.file, encrypted: single.encrypted ?? null } } : {};
}

function singleNote(b: CatalogEntry): string {
  const single = b.copies.find((c) => c.entry.single)?.entry.single;
  return single ? `${describeSingle(single)} (one database, no manifest)` : '';
}

function signedBy(b: CatalogEntry): { signedBy?: string } {
  const key = b.status === 'finished' ? b.copies.find((c) => c.entry.signedBy)?.entry.signedBy : undefined;
  return key ? { signedBy: key } : {};
}
