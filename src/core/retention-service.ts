// Applying retention to several places, the one way `backup` (after a run) and `prune` both do it:
// each place in turn with its own days and KEEP_* rules, the local copy last and only where every
// destination holds what it deletes, progress and warnings reported, a failure of one place
// recorded without stopping the others.
import { AbortedError, messageOf } from './errors.js';
import type { ProgressTracker } from './progress.js';
import { pruneSource, type PruneResult } from './prune.js';
import type { KeepRule } from './rotation.js';
import { redact } from './secrets.js';
import type { BackupEntry, BackupSource, Destination } from './source.js';

export interface RetentionTarget {
  source: BackupSource;
  days: number;
  /** The setting the days come from, for messages: LOCAL_RETENTION_DAYS... */
  setting: string;
  /** KEEP_DAILY/WEEKLY/MONTHLY rules there (none: the days alone). */
  rules?: readonly KeepRule[];
  /** For the local copy: the destinations that must hold what it deletes. */
  shippedTo?: Destination[];
}

export interface RetentionRun {
  now?: Date;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Folders never deleted anywhere (the backup a run has just written). */
  keep?: readonly string[];
  progress?: ProgressTracker;
  /** `reason`: why it went ("40 days old, past S3_RETENTION_DAYS=7, kept by no rule of KEEP_DAILY=7"). */
  onRemove?: (source: BackupSource, entry: BackupEntry, reason: string) => void;
  onWarning?: (source: BackupSource, message: string) => void;
}

export interface RetentionOutcome {
  results: PruneResult[];
  /** One line per place that failed, naming the setting and the place. */
  errors: string[];
}

export function where(source: BackupSource): string {
  return `${source.kind}:${source.location}`;
}

/** The retention setting of a kind of place. */
export function retentionSetting(source: BackupSource): string {
  return source.kind === 's3' ? 'S3_RETENTION_DAYS' : source.kind === 'remote' ? 'RSYNC_RETENTION_DAYS' : 'LOCAL_RETENTION_DAYS';
}

/**
 * The targets for `sources`: each destination with its own days, and the local copy (last) with the
 * destinations it must be shipped to.
 */
export function retentionTargets(
  sources: BackupSource[],
  local: { source: BackupSource; days: number; rules?: readonly KeepRule[] },
  destinations: Destination[],
): RetentionTarget[] {
  const targets: RetentionTarget[] = [];
  for (const d of destinations) if (sources.includes(d)) targets.push({ source: d, days: d.retentionDays, setting: retentionSetting(d), rules: d.keepRules });
  if (sources.includes(local.source)) {
    targets.push({ source: local.source, days: local.days, setting: 'LOCAL_RETENTION_DAYS', rules: local.rules, shippedTo: destinations });
  }
  return targets;
}

export async function applyRetention(targets: RetentionTarget[], run: RetentionRun = {}): Promise<RetentionOutcome> {
  const results: PruneResult[] = [];
  const errors: string[] = [];
  for (const target of targets) {
    const { source } = target;
    const phase = run.progress?.phase('retention', `retention:${where(source)}`, `${target.setting} on ${where(source)}`);
    try {
      const result = await pruneSource(source, target.days, {
        now: run.now,
        dryRun: run.dryRun,
        signal: run.signal,
        shippedTo: target.shippedTo,
        keep: run.keep,
        rules: target.rules,
        daysSetting: target.setting,
        onRemove: (entry, reason) => {
          run.onRemove?.(source, entry, reason);
          phase?.update(0, entry.folder);
        },
      });
      phase?.done();
      for (const message of result.warnings) run.onWarning?.(source, message);
      results.push(result);
    } catch (err) {
      phase?.failed();
      if (run.signal?.aborted) throw new AbortedError('stopped while applying retention');
      errors.push(redact(`applying ${target.setting} to ${where(source)} failed: ${messageOf(err)}`));
    }
  }
  return { results, errors };
}
