// Backups across sources: the same folder on several sources is one backup with several copies.
import { databaseOfFile } from './backup/names.js';
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

export async function listBackups(sources: BackupSource[], signal?: AbortSignal): Promise<CatalogEntry[]> {
  const byFolder = new Map<string, CatalogEntry>();
  for (const source of sources) {
    for (const entry of await source.list(signal)) {
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
  return [...byFolder.values()].sort((a, b) => b.folder.localeCompare(a.folder));
}
