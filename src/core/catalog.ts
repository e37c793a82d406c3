// Backups across sources: the same folder on several sources is one backup with several copies.
import { databaseOfFile } from './backup/names.js';
import { messageOf } from './errors.js';
import { redact } from './secrets.js';
import type { BackupEntry, BackupSource } from '../sources/source.js';

export interface BackupCopy {
  source: BackupSource;
  entry: BackupEntry;
}

export interface CatalogEntry {
  folder: string;
  time: Date;
  status: BackupEntry['status'];
  manifest?: BackupEntry['manifest'];
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

export async function listBackups(sources: BackupSource[], signal?: AbortSignal): Promise<Catalog> {
  const byFolder = new Map<string, CatalogEntry>();
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
  for (const { source, entries } of listed) {
    for (const entry of entries) {
      const known = byFolder.get(entry.folder);
      if (known) {
        known.copies.push({ source, entry });
        continue;
      }
      byFolder.set(entry.folder, {
        folder: entry.folder,
        time: entry.time,
        status: entry.status,
        manifest: entry.manifest,
        problem: entry.problem,
        databases: entry.manifest?.databases ?? entry.files.map((f) => databaseOfFile(f.name)).filter((d): d is string => d !== undefined),
        bytes: entry.manifest ? entry.manifest.files.reduce((n, f) => n + f.bytes, 0) : entry.files.reduce((n, f) => n + f.bytes, 0),
        copies: [{ source, entry }],
      });
    }
  }
  return { backups: [...byFolder.values()].sort((a, b) => b.folder.localeCompare(a.folder)), failures };
}
