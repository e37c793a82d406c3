import { applyRetention, retentionTargets, where } from '../core/retention-service.js';
import { DESTINATION_OPTIONS, EXIT_CODES_HELP, type Command, GENERAL_SETTINGS_HELP, settingInput } from './command.js';
import { selectSources } from './sources.js';

export const pruneCommand: Command = {
  name: 'prune',
  summary: "applies each destination's retention now (--dry-run shows what would go)",
  maxPositionals: 0,
  options: {
    source: { type: 'string' },
    'backup-dir': { type: 'string' },
    'local-retention-days': { type: 'string' },
    'dry-run': { type: 'boolean' },
    ...DESTINATION_OPTIONS,
  },
  help: `Usage: pg-backups prune [options]

Deletes finished backups older than each destination's retention: LOCAL_RETENTION_DAYS for
BACKUP_DIR, S3_RETENTION_DAYS on S3, RSYNC_RETENTION_DAYS on the remote host. Only whole backups
(valid manifest, every file there with its recorded size) are deleted, and of those the newest is
always kept, whatever its age. Folders dated in the future (a wrong clock), incomplete, damaged and
legacy folders, symbolic links and files pg-backups did not write are never touched (a warning
names the ones to look at). A local backup that an enabled destination should hold but does not
(its upload failed) is kept.

Options:
  --source local|s3|remote  only this destination (default: every enabled one)
  --backup-dir DIR          BACKUP_DIR (default /backups)
  --local-retention-days N  LOCAL_RETENTION_DAYS (default 1)
  --dry-run                 only show what would be deleted
  --json                    the result as JSON on stdout
  S3 and the remote host: the settings of \`pg-backups backup --help\`

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const sources = selectSources(settingInput(ctx), { localMustExist: true });
    const dryRun = ctx.flags['dry-run'] === true;
    const targets = retentionTargets(sources.selected, { source: sources.local, days: sources.localRetentionDays }, sources.destinations);
    const { results, errors } = await applyRetention(targets, {
      dryRun,
      signal: ctx.signal,
      onRemove: (source, e) => ctx.out.log(`deleted ${e.folder} from ${where(source)}`),
      onWarning: (source, message) => ctx.out.warn(`${where(source)}: ${message}`),
    });
    for (const result of results) {
      const verb = dryRun ? 'would delete' : 'deleted';
      const removed = result.removed.map((e) => e.folder);
      ctx.out.print(`${where(result.source)}: ${verb} ${removed.length} backup(s)${removed.length ? ': ' + removed.join(', ') : ''}; kept ${result.kept.length}`);
      if (result.incomplete.length > 0) ctx.out.log(`${where(result.source)}: cleared ${result.incomplete.join(', ')}, left by uploads that did not finish`);
    }
    for (const e of errors) ctx.out.error(e);
    ctx.out.printJson({
      ok: errors.length === 0,
      errors,
      results: results.map((r) => ({
        source: r.source.kind,
        location: r.source.location,
        retentionDays: r.retentionDays,
        dryRun,
        removed: r.removed.map((e) => e.folder),
        kept: r.kept.map((e) => e.folder),
        protected: r.protected.map((e) => e.folder),
      })),
    });
    return errors.length === 0 ? 0 : 1;
  },
};
