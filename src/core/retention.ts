// Which backups a retention of N days deletes. Pure logic, shared by every destination.
// Promises: only finished pg-backups backups are candidates (legacy and damaged folders and
// anything else are never touched); the newest finished backup is always kept.
import type { BackupEntry } from '../sources/source.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export function expiredBackups(entries: BackupEntry[], retentionDays: number, now: Date): BackupEntry[] {
  const finished = entries
    .filter((e) => e.status === 'finished' && e.manifest?.tool?.name === 'pg-backups')
    .sort((a, b) => b.time.getTime() - a.time.getTime());
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  return finished.slice(1).filter((e) => e.time.getTime() < cutoff);
}
