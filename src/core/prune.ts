// Applying each destination's retention.
import type { BackupEntry, BackupSource, Destination } from './source.js';
import { messageOf } from './errors.js';
import { isFuture, isGoodBackup, retentionPlan } from './retention.js';
import { keptByRules, type KeepRule } from './rotation.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PruneResult {
  source: BackupSource;
  retentionDays: number;
  /** The KEEP_* rules in force there. */
  rules: readonly KeepRule[];
  removed: BackupEntry[];
  /** Why each removed backup went, by folder. */
  reasons: Record<string, string>;
  /** Backups past the days kept by a KEEP_* rule, by folder, with the rules. */
  keptByRule: Record<string, string[]>;
  kept: BackupEntry[];
  /** Expired backups kept because an enabled destination should hold them and does not. */
  protected: BackupEntry[];
  /** Why expired backups were kept, for the log. */
  warnings: string[];
  /** Folders of pushes that died, cleared (hidden leftovers, never listed as backups). */
  incomplete: string[];
  dryRun: boolean;
}

export interface PruneOptions {
  now?: Date;
  dryRun?: boolean;
  signal?: AbortSignal;
  onRemove?: (entry: BackupEntry, reason: string) => void;
  /** KEEP_DAILY/WEEKLY/MONTHLY rules: a backup past the days that a rule keeps stays. */
  rules?: readonly KeepRule[];
  /** The setting of the days, for the reasons: LOCAL_RETENTION_DAYS... */
  daysSetting?: string;
  /**
   * For the local copies: the other destinations. An expired local backup is deleted only if every
   * destination holds it, or that destination's own retention would delete it too (older than its
   * days and kept by none of its KEEP_* rules, counted as if it held the backup). A backup that
   * never reached a destination is thus never deleted locally.
   */
  shippedTo?: Destination[];
  /** Folders never deleted, whatever their age: the backup a run has just written. */
  keep?: readonly string[];
}

export async function pruneSource(source: BackupSource, retentionDays: number, opts: PruneOptions = {}): Promise<PruneResult> {
  const now = opts.now ?? new Date();
  const entries = await source.list(opts.signal);
  const rules = opts.rules ?? [];
  const plan = retentionPlan(entries, { days: retentionDays, daysSetting: opts.daysSetting, rules }, now, opts.keep);
  let expired = plan.expired;
  let protectedEntries: BackupEntry[] = [];
  const warnings: string[] = [];
  if (opts.shippedTo && opts.shippedTo.length > 0 && expired.length > 0) {
    const safe = await shippedEverywhere(expired, entries.filter((e) => isGoodBackup(e, now)), opts.shippedTo, now, warnings, opts.signal);
    protectedEntries = expired.filter((e) => !safe.has(e.folder));
    expired = expired.filter((e) => safe.has(e.folder));
  }
  if (!opts.dryRun) {
    const removed = (entry: BackupEntry) => opts.onRemove?.(entry, plan.reasons.get(entry.folder)!);
    if (source.removeAll && expired.length > 0) await source.removeAll(expired, opts.signal, removed);
    else {
      for (const entry of expired) {
        opts.signal?.throwIfAborted();
        await source.remove(entry, opts.signal);
        removed(entry);
      }
    }
  }
  // Leftovers of pushes that died (an S3 folder behind its incomplete marker) older than a day.
  const incomplete =
    'pruneIncomplete' in source && typeof source.pruneIncomplete === 'function'
      ? await (source as Destination).pruneIncomplete!(new Date(now.getTime() - DAY_MS), { signal: opts.signal, dryRun: opts.dryRun })
      : [];
  const gone = new Set(expired.map((e) => e.folder));
  if (protectedEntries.length > 0 && warnings.length === 0) {
    warnings.push(`kept expired local backups ${protectedEntries.map((e) => e.folder).join(', ')}: an enabled destination should hold them and does not`);
  }
  return {
    warnings: [...leftAlone(entries, retentionDays, now), ...warnings],
    incomplete,
    source,
    retentionDays,
    rules,
    removed: expired,
    reasons: Object.fromEntries(expired.map((e) => [e.folder, plan.reasons.get(e.folder)!])),
    keptByRule: Object.fromEntries(plan.keptByRule),
    kept: entries.filter((e) => !gone.has(e.folder)),
    protected: protectedEntries,
    dryRun: opts.dryRun ?? false,
  };
}

/** Warnings about folders retention leaves alone that an operator should look at. */
function leftAlone(entries: BackupEntry[], retentionDays: number, now: Date): string[] {
  const warnings: string[] = [];
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  const future = entries.filter((e) => e.status !== 'foreign' && isFuture(e.time, now)).map((e) => e.folder).sort();
  if (future.length > 0) {
    warnings.push(
      `left ${future.join(', ')} alone: dated in the future (a clock was wrong when ${future.length === 1 ? 'it was' : 'they were'} written?); such folders are never deleted by retention nor picked as latest; check and delete by hand`,
    );
  }
  for (const e of entries) {
    if ((e.status === 'incomplete' || e.status === 'damaged') && e.time.getTime() < cutoff && !isFuture(e.time, now)) {
      warnings.push(`left ${e.folder} alone although it is past retention: it is ${e.status} (${e.problem ?? 'not whole'}); pg-backups deletes only whole backups; check and delete by hand`);
    }
  }
  return warnings;
}

async function shippedEverywhere(
  candidates: BackupEntry[],
  /** Every good local backup: a destination's rules are counted as if it held what it misses of them. */
  localGood: BackupEntry[],
  destinations: Destination[],
  now: Date,
  warnings: string[],
  signal?: AbortSignal,
): Promise<Set<string>> {
  const safe = new Set(candidates.map((e) => e.folder));
  for (const destination of destinations) {
    let held: Set<string>;
    let heldGood: BackupEntry[];
    try {
      const listed = await destination.list(signal);
      held = new Set(listed.filter((e) => e.status === 'finished').map((e) => e.folder));
      heldGood = listed.filter((e) => isGoodBackup(e, now));
    } catch (err) {
      if (signal?.aborted) throw err;
      warnings.push(`kept expired local backups ${candidates.map((e) => e.folder).join(', ')}: cannot tell which backups ${destination.kind}:${destination.location} holds (${messageOf(err)})`);
      return new Set();
    }
    const cutoff = now.getTime() - destination.retentionDays * DAY_MS;
    // Its rules counted as if every upload had worked (what it holds and the local backups it
    // misses): would they keep a backup it misses? Then the local copy is the one to keep.
    const keptThere = keptByRules([...heldGood, ...localGood.filter((e) => !held.has(e.folder))], destination.keepRules ?? []); // ?? []: a destination made without rules
    for (const entry of candidates.filter((e) => !held.has(e.folder))) {
      if (entry.time.getTime() >= cutoff || keptThere.has(entry.folder)) safe.delete(entry.folder);
    }
  }
  return safe;
}
