// Applying each destination's retention.
import type { BackupEntry, BackupSource, Destination } from './source.js';
import { messageOf } from './errors.js';
import { expiredBackups, isFuture } from './retention.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PruneResult {
  source: BackupSource;
  retentionDays: number;
  removed: BackupEntry[];
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
  onRemove?: (entry: BackupEntry) => void;
  /**
   * For the local copies: the other destinations. An expired local backup is deleted only if every
   * destination holds it, or it is older than that destination's own retention (so it would be gone
   * there too). A backup that never reached a destination is thus never deleted locally.
   */
  shippedTo?: Destination[];
  /** Folders never deleted, whatever their age: the backup a run has just written. */
  keep?: readonly string[];
}

export async function pruneSource(source: BackupSource, retentionDays: number, opts: PruneOptions = {}): Promise<PruneResult> {
  const now = opts.now ?? new Date();
  const entries = await source.list(opts.signal);
  let expired = expiredBackups(entries, retentionDays, now, opts.keep);
  let protectedEntries: BackupEntry[] = [];
  const warnings: string[] = [];
  if (opts.shippedTo && opts.shippedTo.length > 0 && expired.length > 0) {
    const safe = await shippedEverywhere(expired, opts.shippedTo, now, warnings, opts.signal);
    protectedEntries = expired.filter((e) => !safe.has(e.folder));
    expired = expired.filter((e) => safe.has(e.folder));
  }
  if (!opts.dryRun) {
    for (const entry of expired) {
      opts.signal?.throwIfAborted();
      await source.remove(entry, opts.signal);
      opts.onRemove?.(entry);
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
    removed: expired,
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
  destinations: Destination[],
  now: Date,
  warnings: string[],
  signal?: AbortSignal,
): Promise<Set<string>> {
  const safe = new Set(candidates.map((e) => e.folder));
  for (const destination of destinations) {
    let held: Set<string>;
    try {
      held = new Set((await destination.list(signal)).filter((e) => e.status === 'finished').map((e) => e.folder));
    } catch (err) {
      if (signal?.aborted) throw err;
      warnings.push(`kept expired local backups ${candidates.map((e) => e.folder).join(', ')}: cannot tell which backups ${destination.kind}:${destination.location} holds (${messageOf(err)})`);
      return new Set();
    }
    const cutoff = now.getTime() - destination.retentionDays * DAY_MS;
    for (const entry of candidates) {
      if (!held.has(entry.folder) && entry.time.getTime() >= cutoff) safe.delete(entry.folder);
    }
  }
  return safe;
}
