// Backups across sources: the same folder on several sources is one backup with several copies.
import { databaseOfFile } from './backup/names.js';
import { messageOf } from './errors.js';
import { isFuture } from './retention.js';
import { redact } from './secrets.js';
import { newestFirst, type BackupEntry, type BackupSource, type EntryStatus } from './source.js';

export interface BackupCopy {
  source: BackupSource;
  entry: BackupEntry;
}

export interface CatalogEntry {
  folder: string;
  time: Date;
  /** The best status among the copies (finished > incomplete > legacy > damaged > foreign). */
  status: EntryStatus;
  /** Dated further in the future than clock skew explains: never "latest", never counted by retention. */
  future: boolean;
  manifest?: BackupEntry['manifest'];
  /** What is wrong, per copy that is not finished: "s3: postgres_db_app.sql.gz is missing". */
  problem?: string;
  databases: string[];
  bytes: number;
  copies: BackupCopy[];
}

export interface SourceFailure {
  source: BackupSource;
  error: string;
}

export interface Catalog {
  backups: CatalogEntry[];
  /** Sources that could not be read, with the reason; the others still answer. */
  failures: SourceFailure[];
}

const RANK: Record<EntryStatus, number> = { finished: 0, incomplete: 1, legacy: 2, damaged: 3, foreign: 4 };

export async function listBackups(sources: BackupSource[], signal?: AbortSignal, now: Date = new Date()): Promise<Catalog> {
  const failures: SourceFailure[] = [];
  const listed = await Promise.all(
    sources.map(async (source) => {
      try {
        return { source, entries: await source.list(signal) };
      } catch (err) {
        if (signal?.aborted) throw err;
        failures.push({ source, error: redact(messageOf(err)) });
        return { source, entries: [] as BackupEntry[] };
      }
    }),
  );
  return { backups: mergeListings(listed, now), failures };
}

/** A catalog entry whose copies name their source by any handle (the terminal UI keeps plain data). */
export type MergedEntry<S extends { kind: string }> = Omit<CatalogEntry, 'copies'> & { copies: Array<{ source: S; entry: BackupEntry }> };

/** The listings of several sources as one list, newest first: one entry per folder, its copies per source. */
export function mergeListings<S extends { kind: string }>(listed: Array<{ source: S; entries: BackupEntry[] }>, now: Date = new Date()): Array<MergedEntry<S>> {
  const byFolder = new Map<string, Array<{ source: S; entry: BackupEntry }>>();
  for (const { source, entries } of listed) {
    for (const entry of entries) {
      const copies = byFolder.get(entry.folder) ?? [];
      copies.push({ source, entry });
      byFolder.set(entry.folder, copies);
    }
  }
  const backups = [...byFolder.entries()].map(([folder, copies]): MergedEntry<S> => {
    const best = [...copies].sort((a, b) => RANK[a.entry.status] - RANK[b.entry.status])[0]!.entry;
    const problems = copies.filter((c) => c.entry.status !== 'finished' && c.entry.problem).map((c) => (copies.length > 1 ? `${c.source.kind}: ${c.entry.problem}` : c.entry.problem!));
    return {
      folder,
      time: best.time,
      status: best.status,
      future: isFuture(best.time, now),
      manifest: best.manifest,
      problem: problems.length > 0 ? problems.join('; ') : undefined,
      databases: best.manifest?.databases ?? best.files.map((f) => databaseOfFile(f.name)).filter((d): d is string => d !== undefined),
      bytes: best.manifest ? best.manifest.files.reduce((n, f) => n + f.bytes, 0) : best.files.reduce((n, f) => n + f.bytes, 0),
      copies,
    };
  });
  return backups.sort(newestFirst);
}
