// One interface for every place backups live: local disk, S3, a remote host.
import type { Readable } from 'node:stream';
import type { Manifest } from './backup/manifest.js';
import type { KeepRule } from './rotation.js';

export type SourceKind = 'local' | 's3' | 'remote';

/**
 * A backup folder on a source, as its listing shows it (no file is read but the manifest):
 * - "finished": a valid pg-backups manifest, and every file it names is there, a regular file of
 *   the size it records (a whole backup);
 * - "incomplete": a valid manifest, but a file it names is missing, of another size, or not a
 *   regular file (`problem` says which);
 * - "legacy": made by the bash tool (001), which wrote no manifest: *.sql.gz files only; or a
 *   flat file of seed 002 (`single` set: see src/core/seed002.ts);
 * - "damaged": a manifest that cannot be read or fails the schema check (`problem` says why);
 * - "foreign": not something pg-backups wrote, such as a symbolic link named like a backup folder.
 *   Shown, never read as a backup, never deleted.
 */
export type EntryStatus = 'finished' | 'incomplete' | 'legacy' | 'damaged' | 'foreign';

export interface BackupEntry {
  folder: string;
  /** The UTC time the folder name stands for. */
  time: Date;
  status: EntryStatus;
  /** For finished and incomplete entries. */
  manifest?: Manifest;
  /** Why an entry is incomplete, damaged or foreign. */
  problem?: string;
  /** Files in the folder with their sizes (for legacy folders, the backup files only). */
  files: Array<{ name: string; bytes: number }>;
  /**
   * Set when RESTORE_VERIFY_KEY is and the manifest's signature was checked against it (the key id):
   * a restore then checks each file whole against the manifest before psql reads a byte of it.
   * With RESTORE_VERIFY_KEY set, a backup not signed by it is "damaged" (src/sources/signed.ts).
   */
  signedBy?: string;
  /**
   * A seed 002 backup (src/core/seed002.ts): one database in one flat file at the top of the source,
   * no manifest; `folder` is the file name. Status "legacy"; never deleted by pg-backups.
   */
  single?: { file: string; encrypted: 'openssl' | undefined };
}

/** Newest first: by time, then by folder name (the order of YYYYMMDD_HHMMSS names). */
export function newestFirst(a: { time: Date; folder: string }, b: { time: Date; folder: string }): number {
  return b.time.getTime() - a.time.getTime() || b.folder.localeCompare(a.folder);
}

export interface BackupSource {
  readonly kind: SourceKind;
  /** Where, for people: "/backups", "s3://bucket/prefix", "user@host:/path". */
  readonly location: string;
  /** Finished, legacy and damaged backup folders, newest first. Partial runs are never listed. */
  list(signal?: AbortSignal): Promise<BackupEntry[]>;
  /** A stream of one file of a folder; rejects if it does not exist. */
  openFile(folder: string, file: string, signal?: AbortSignal): Promise<Readable>;
  /**
   * Deletes a finished backup: its manifest first (so it stops looking finished), then the files it
   * lists, then the folder if empty. Only regular files inside a real folder (never through a
   * symbolic link), and only the names the manifest lists; anything else stays.
   */
  remove(entry: BackupEntry, signal?: AbortSignal): Promise<void>;
  /** The same for several, where a source does that better at once (one connection); in order. */
  removeAll?(entries: BackupEntry[], signal?: AbortSignal, onRemoved?: (entry: BackupEntry) => void): Promise<void>;
}

/** Progress of a push: the file at work, and the bytes of the whole push done and in all. */
export interface PushProgress {
  file: string;
  bytes: number;
  totalBytes: number;
}

/** A place a finished local backup is shipped to (S3, a remote host). */
export interface Destination extends BackupSource {
  /** Days a backup is kept there. */
  readonly retentionDays: number;
  /** KEEP_DAILY/WEEKLY/MONTHLY rules there (S3_KEEP_*, RSYNC_KEEP_* or KEEP_*): what they keep stays past the days. */
  readonly keepRules: readonly KeepRule[];
  /**
   * Copies a finished local backup folder (`localPath`, whose manifest is `manifest`) here. The
   * manifest goes last, and only once every file is whole: until then the folder never looks
   * finished, and a failure leaves nothing that does. Transient failures are retried per the policy.
   */
  push(localPath: string, manifest: Manifest, opts: { signal?: AbortSignal; onProgress?: (p: PushProgress) => void; onRetry?: (message: string) => void }): Promise<void>;
  /**
   * Clears what pushes that died left behind (hidden, never listed) when older than `olderThan`;
   * returns the folders cleared. Destinations that clean up at the next push need not have it.
   */
  pruneIncomplete?(olderThan: Date, opts: { signal?: AbortSignal; dryRun?: boolean }): Promise<string[]>;
}
