import { pruneSource } from '../core/prune.js';
import { readLocal } from '../core/settings/backup.js';
import { EXIT_CODES_HELP, type Command } from './command.js';
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
  },
  help: `Usage: pg-backups prune [options]

Deletes finished backups older than the destination's retention: LOCAL_RETENTION_DAYS for
BACKUP_DIR. The newest finished backup is always kept, whatever its age; legacy backups, damaged
folders and files pg-backups did not write are never touched.

Options:
  --source local            which destination (this version: local)
  --backup-dir DIR          BACKUP_DIR (default /backups)
  --local-retention-days N  LOCAL_RETENTION_DAYS (default 1)
  --dry-run                 only show what would be deleted
  --json                    the result as JSON on stdout

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = { env: ctx.env, flags: ctx.flags };
    const local = readLocal(input);
    const dryRun = ctx.flags['dry-run'] === true;
    const results = [];
    for (const source of selectSources(input)) {
      const result = await pruneSource(source, local.retentionDays, {
        dryRun,
        signal: ctx.signal,
        onRemove: (e) => ctx.out.log(`deleted ${e.folder} from ${source.kind}:${source.location}`),
      });
      results.push({
        source: source.kind,
        location: source.location,
        retentionDays: result.retentionDays,
        dryRun,
        removed: result.removed.map((e) => e.folder),
        kept: result.kept.map((e) => e.folder),
      });
      const verb = dryRun ? 'would delete' : 'deleted';
      ctx.out.print(
        `${source.kind}:${source.location}: ${verb} ${result.removed.length} backup(s)${result.removed.length ? ': ' + result.removed.map((e) => e.folder).join(', ') : ''}; kept ${result.kept.length}`,
      );
    }
    ctx.out.printJson({ ok: true, results });
    return 0;
  },
};
