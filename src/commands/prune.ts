import { applyRetention, retentionSetting, retentionTargets, where } from '../core/retention-service.js';
import { DESTINATION_OPTIONS, EXIT_CODES_HELP, type Command, GENERAL_SETTINGS_HELP, settingInput } from './command.js';
import { prefixedOutput } from './output.js';
import { SERVER_HELP, SERVER_OPTION, commandScopes } from './server-option.js';
import { selectSources } from './sources.js';
import { ROTATION_HELP, ROTATION_OPTIONS } from './rotation-help.js';

export const pruneCommand: Command = {
  name: 'prune',
  summary: "applies each destination's retention now (--dry-run shows what would go)",
  maxPositionals: 0,
  options: {
    source: { type: 'string' },
    'backup-dir': { type: 'string' },
    'local-retention-days': { type: 'string' },
    'dry-run': { type: 'boolean' },
    ...SERVER_OPTION,
    ...DESTINATION_OPTIONS,
    ...ROTATION_OPTIONS,
  },
  help: `Usage: pg-backups prune [options]

Deletes finished backups older than each destination's retention: LOCAL_RETENTION_DAYS for
BACKUP_DIR, S3_RETENTION_DAYS on S3, RSYNC_RETENTION_DAYS on the remote host, unless a KEEP_* rule
of that place keeps them (calendar rotation, below). Only whole backups
(valid manifest, every file there with its recorded size) are deleted, and of those the newest is
always kept, whatever its age. Folders dated in the future (a wrong clock), incomplete, damaged and
legacy folders, seed 002's backup_*.sql.gz[.enc] files, symbolic links and files pg-backups did
not write are never touched (a warning
names the ones to look at). A local backup that an enabled destination should hold but does not
(its upload failed) is kept.

Options:
  --source local|s3|remote  only this destination (default: every enabled one)
  --backup-dir DIR          BACKUP_DIR (default /backups)
  --local-retention-days N  LOCAL_RETENTION_DAYS (default 1)
${SERVER_HELP} (default: every server)
  --dry-run                 only show what would be deleted, why, and which rule keeps what
  --json                    the result as JSON on stdout
  S3 and the remote host: the settings of \`pg-backups backup --help\`

${ROTATION_HELP}

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const input = settingInput(ctx);
    const dryRun = ctx.flags['dry-run'] === true;
    const scopes = commandScopes(ctx, input);
    // Every server's settings read before any is pruned: a bad one stops the command first.
    const selections = scopes.map((scope) => ({ scope, sources: selectSources(scope.input, { localMustExist: true }) }));
    const allErrors: string[] = [];
    const json: unknown[] = [];
    for (const { scope, sources } of selections) {
      const prefix = scope.name ? `${scope.name}: ` : '';
      const out = prefixedOutput(ctx.out, prefix);
      const targets = retentionTargets(sources.selected, { source: sources.local, days: sources.localRetentionDays, rules: sources.localKeepRules }, sources.destinations);
      const { results, errors } = await applyRetention(targets, {
        dryRun,
        signal: ctx.signal,
        onRemove: (source, e, reason) => out.log(`deleted ${e.folder} from ${where(source)}: ${reason}`),
        onWarning: (source, message) => out.warn(`${where(source)}: ${message}`),
      });
      for (const result of results) {
        const verb = dryRun ? 'would delete' : 'deleted';
        const removed = result.removed.map((e) => e.folder);
        ctx.out.print(`${prefix}${where(result.source)}: ${verb} ${removed.length} backup(s)${removed.length ? ': ' + removed.join(', ') : ''}; kept ${result.kept.length}`);
        if (dryRun) for (const folder of removed) ctx.out.print(`${prefix}  would delete ${folder}: ${result.reasons[folder]}`);
        for (const [folder, rules] of Object.entries(result.keptByRule)) {
          ctx.out.print(`${prefix}  kept ${folder} past ${retentionSetting(result.source)}=${result.retentionDays}: ${rules.join('; ')}`);
        }
        if (result.incomplete.length > 0) out.log(`${where(result.source)}: cleared ${result.incomplete.join(', ')}, left by uploads that did not finish`);
      }
      for (const e of errors) out.error(e);
      allErrors.push(...errors.map((e) => prefix + e));
      json.push(
        ...results.map((r) => ({
          ...(scope.name ? { server: scope.name } : {}),
          source: r.source.kind,
          location: r.source.location,
          retentionDays: r.retentionDays,
          keep: Object.fromEntries(r.rules.map((rule) => [rule.period, { count: rule.count, setting: rule.setting }])),
          dryRun,
          removed: r.removed.map((e) => e.folder),
          reasons: r.reasons,
          keptByRule: r.keptByRule,
          kept: r.kept.map((e) => e.folder),
          protected: r.protected.map((e) => e.folder),
        })),
      );
    }
    ctx.out.printJson({ ok: allErrors.length === 0, errors: allErrors, results: json });
    return allErrors.length === 0 ? 0 : 1;
  },
};
