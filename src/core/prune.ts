// Applying a destination's retention.
import type { BackupEntry, BackupSource } from '../sources/source.js';
import { expiredBackups } from './retention.js';

export interface PruneResult {
  source: BackupSource;
  retentionDays: number;
  removed: BackupEntry[];
  kept: BackupEntry[];
  dryRun: boolean;
}

export async function pruneSource(
  source: BackupSource,
  retentionDays: number,
  opts: { now?: Date; dryRun?: boolean; signal?: AbortSignal; onRemove?: (entry: BackupEntry) => void } = {},
): Promise<PruneResult> {
  const entries = await source.list(opts.signal);
  const expired = expiredBackups(entries, retentionDays, opts.now ?? new Date());
  if (!opts.dryRun) {
    for (const entry of expired) {
      opts.signal?.throwIfAborted();
      await source.remove(entry, opts.signal);
      opts.onRemove?.(entry);
    }
  }
  const gone = new Set(expired.map((e) => e.folder));
  return { source, retentionDays, removed: expired, kept: entries.filter((e) => !gone.has(e.folder)), dryRun: opts.dryRun ?? false };
}
