import { listBackups, type CatalogEntry } from '../core/catalog.js';
import { ExternalError, UsageError, VerificationError } from '../core/errors.js';
import { verifyBackup, type VerifyReport } from '../core/verify.js';
import { DESTINATION_OPTIONS, EXIT_CODES_HELP, type Command } from './command.js';
import { formatBytes } from './output.js';
import { SOURCE_HELP, selectSources } from './sources.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check every file of a backup: gzip stream, size and sha256 from the manifest',
  maxPositionals: 1,
  options: { source: { type: 'string' }, 'backup-dir': { type: 'string' }, all: { type: 'boolean' }, ...DESTINATION_OPTIONS },
  help: `Usage: pg-backups verify [FOLDER|latest] [options]

Reads every file of a backup to the end: each must be a whole gzip stream, and for backups with a
manifest its size and sha256 must match. Legacy backups (no manifest) are checked by gzip alone.
Without FOLDER, the newest backup is verified; --all verifies every backup. Every copy is verified
where it lives (local, S3, remote host) unless --source picks one.

Options:
${SOURCE_HELP}
  --all                     verify every backup on the source(s)
  --json                    the reports as JSON on stdout

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const sources = selectSources({ env: ctx.env, flags: ctx.flags }).selected;
    const { backups: catalog, failures } = await listBackups(sources, ctx.signal);
    if (failures.length > 0) {
      throw new ExternalError(failures.map((f) => `cannot list ${f.source.kind}:${f.source.location}: ${f.error}`).join('; '));
    }
    const wanted = ctx.positionals[0] ?? 'latest';
    let targets: CatalogEntry[];
    if (ctx.flags.all) {
      if (ctx.positionals.length > 0) throw new UsageError('verify takes a FOLDER or --all, not both; e.g. pg-backups verify --all');
      targets = catalog;
    } else if (wanted === 'latest') {
      targets = catalog.slice(0, 1);
      if (targets.length === 0) throw new VerificationError(`no backup found in ${sources.map((s) => s.location).join(', ')}`);
    } else {
      const found = catalog.find((b) => b.folder === wanted);
      if (!found) {
        throw new UsageError(`FOLDER ${JSON.stringify(wanted)} is not a backup in ${sources.map((s) => s.location).join(', ')}; give a folder name as \`pg-backups list\` shows it, e.g. ${catalog[0]?.folder ?? '20250101_120000'}, or latest`);
      }
      targets = [found];
    }
    const reports: VerifyReport[] = [];
    for (const target of targets) {
      for (const copy of target.copies) {
        ctx.out.log(`verifying ${target.folder} on ${copy.source.kind}:${copy.source.location}`);
        const report = await verifyBackup(copy.source, copy.entry, {
          signal: ctx.signal,
          onFile: (f) => ctx.out.log(`${f.ok ? 'ok ' : 'BAD'} ${f.name} (${formatBytes(f.bytes)})${f.ok ? '' : `: ${f.problem}`}`),
        });
        reports.push(report);
        ctx.out.print(report.ok ? `${target.folder} on ${copy.source.kind}: good (${report.files.length} files, ${report.status})` : `${target.folder} on ${copy.source.kind}: DAMAGED: ${report.problems.join('; ')}`);
      }
    }
    const ok = reports.every((r) => r.ok);
    ctx.out.printJson({ ok, reports });
    return ok ? 0 : 3;
  },
};
