import { listBackups, type CatalogEntry } from '../core/catalog.js';
import { AbortedError, ExternalError, UsageError, VerificationError, messageOf } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { verifyBackup, type VerifyReport } from '../core/verify.js';
import { setDecryptionKeys } from '../core/encryption/age-stream.js';
import { readDecryptionKeys } from '../core/settings/encryption.js';
import { DESTINATION_OPTIONS, EXIT_CODES_HELP, type Command, GENERAL_SETTINGS_HELP, settingInput } from './command.js';
import { formatBytes } from './output.js';
import { SERVER_HELP, SERVER_OPTION, commandScope } from './server-option.js';
import { SOURCE_HELP, selectSources } from './sources.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check every file of a backup: gzip stream, size and sha256 from the manifest',
  maxPositionals: 1,
  options: { source: { type: 'string' }, 'backup-dir': { type: 'string' }, all: { type: 'boolean' }, ...SERVER_OPTION, ...DESTINATION_OPTIONS },
  help: `Usage: pg-backups verify [FOLDER|latest] [options]

Reads every file of a backup to the end: each must be a whole gzip stream, and for backups with a
manifest its size and sha256 must match. Legacy backups (no manifest) are checked by gzip alone.
Without FOLDER, the newest backup is verified (whatever its state, so that damage shows; never a
folder dated in the future); --all verifies every backup and goes on past damaged ones. Every copy is
verified where it lives (local, S3, remote host) unless --source picks one. A folder that is not
ours (a symbolic link named like a backup) is never read. Exit 3 when any copy is damaged or
incomplete; otherwise exit 1 when a source could not be read.

Encrypted backups (*.age): without a key, the size and sha256 of the stored bytes are checked
(and a warning says the gzip streams were not); with RESTORE_IDENTITY_FILE (an age identity file,
AGE-SECRET-KEY-1...) or, for backups made with a passphrase, BACKUP_ENCRYPTION_KEY (_FILE works),
every file is also decrypted and its gzip stream read to the end. A wrong key or an altered byte:
DAMAGED, exit 3.

Seed 002 files (backup_YYYYMMDD_HHMMSS.sql.gz[.enc], FOLDER is the file name) have no manifest:
the gzip stream is read to its end and the SQL must end with pg_dump's closing line; a .enc file
is decrypted with BACKUP_ENCRYPTION_KEY first. Without the key only its size can be checked (a
warning says so; exit 0).

Options:
${SOURCE_HELP}
${SERVER_HELP}
  --all                     verify every backup on the source(s)
  --json                    the reports as JSON on stdout

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = settingInput(ctx);
    setDecryptionKeys(readDecryptionKeys(input));
    const sources = selectSources(commandScope(ctx, input).input, { localMustExist: true }).selected;
    const { backups: catalog, failures } = await listBackups(sources, ctx.signal);
    const errors = failures.map((f) => `cannot list ${f.source.kind}:${f.source.location}: ${f.error}`);
    for (const e of errors) ctx.out.error(e);
    const places = sources.map((s) => `${s.kind}:${s.location}`).join(', ');
    const wanted = ctx.positionals[0] ?? 'latest';
    let targets: CatalogEntry[];
    if (ctx.flags.all) {
      if (ctx.positionals.length > 0) throw new UsageError('verify takes a FOLDER or --all, not both; e.g. pg-backups verify --all');
      targets = catalog;
    } else if (wanted === 'latest') {
      // The newest folder pg-backups would call a backup (whatever its state: verify is there to
      // tell), never one dated in the future nor one that is not ours.
      targets = catalog.filter((b) => b.status !== 'foreign' && !b.future).slice(0, 1);
      if (targets.length === 0) {
        if (errors.length > 0) throw new ExternalError(errors.join('; '));
        throw new VerificationError(`no backup found in ${places}`);
      }
    } else {
      const found = catalog.find((b) => b.folder === wanted);
      if (!found) {
        if (errors.length > 0) throw new ExternalError(`${JSON.stringify(wanted)} is not among the backups that could be listed; ${errors.join('; ')}`);
        throw new UsageError(`FOLDER ${JSON.stringify(wanted)} is not a backup in ${places}; give a folder name as \`pg-backups list\` shows it, e.g. ${catalog[0]?.folder ?? '20250101_120000'}, or latest`);
      }
      targets = [found];
    }
    const reports: VerifyReport[] = [];
    const skipped: Array<{ folder: string; source: string; reason: string }> = [];
    for (const target of targets) {
      if (target.future) ctx.out.warn(`${target.folder} is dated in the future (a clock was wrong when it was written?); it is never picked as latest`);
      for (const copy of target.copies) {
        const where = `${copy.source.kind}:${copy.source.location}`;
        if (copy.entry.status === 'foreign') {
          const reason = copy.entry.problem ?? 'not a folder pg-backups wrote';
          if (!ctx.flags.all) throw new UsageError(`FOLDER ${target.folder} on ${where} is ${reason}; it is not verified`);
          ctx.out.print(`${target.folder} on ${copy.source.kind}: skipped: ${reason}`);
          skipped.push({ folder: target.folder, source: copy.source.kind, reason });
          continue;
        }
        ctx.out.log(`verifying ${target.folder} on ${where}`);
        try {
          const report = await verifyBackup(copy.source, copy.entry, {
            signal: ctx.signal,
            onFile: (f) => ctx.out.log(`${f.ok ? 'ok ' : 'BAD'} ${f.name} (${formatBytes(f.bytes)})${f.ok ? '' : `: ${f.problem}`}`),
          });
          reports.push(report);
          for (const note of report.notes ?? []) ctx.out.warn(`${target.folder} on ${copy.source.kind}: ${note}`);
          ctx.out.print(
            report.ok
              ? `${target.folder} on ${copy.source.kind}: good (${report.files.length} files, ${report.status})`
              : `${target.folder} on ${copy.source.kind}: DAMAGED: ${report.problems.join('; ')}`,
          );
        } catch (err) {
          if (ctx.signal.aborted || err instanceof AbortedError) throw err;
          // The source failed (network, permissions): not a verdict on the backup; the others go on.
          const line = redact(`verifying ${target.folder} on ${where} failed: ${messageOf(err)}`);
          ctx.out.error(line);
          errors.push(line);
        }
      }
    }
    const damaged = reports.some((r) => !r.ok);
    ctx.out.printJson({ ok: !damaged && errors.length === 0, reports, skipped, errors });
    return damaged ? 3 : errors.length > 0 ? 1 : 0;
  },
};
