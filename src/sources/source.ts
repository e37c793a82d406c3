// One interface for every place backups live: local disk, S3, a remote host.
import type { Readable } from 'node:stream';
import type { Manifest } from '../core/backup/manifest.js';

export type SourceKind = 'local' | 's3' | 'remote';

/**
 * A backup folder on a source. "finished": has a pg-backups manifest. "legacy": made by the bash
 * tool (001), which wrote no manifest: *.sql.gz files only. "damaged": a manifest that cannot be read.
 */
export interface BackupEntry {
  folder: string;
  /** The UTC time the folder name stands for. */
  time: Date;
  status: 'finished' | 'legacy' | 'damaged';
  manifest?: Manifest;
  /** Why a damaged entry is damaged. */
  problem?: string;
  /** Files in the folder with their sizes (for legacy folders, the backup files only). */
  files: Array<{ name: string; bytes: number }>;
}

export interface BackupSource {
  readonly kind: SourceKind;
  /** Where, for people: "/backups", "s3://bucket/prefix", "user@host:/path". */
  readonly location: string;
  /** Finished, legacy and damaged backup folders, newest first. Partial runs are never listed. */
  list(signal?: AbortSignal): Promise<BackupEntry[]>;
  /** A stream of one file of a folder; rejects if it does not exist. */
  openFile(folder: string, file: string, signal?: AbortSignal): Promise<Readable>;
  /** Deletes a finished backup: its manifest first (so it stops looking finished), then the files it lists, then the folder if empty. */
  remove(entry: BackupEntry, signal?: AbortSignal): Promise<void>;
}

export interface PushProgress {
  file: string;
  bytes: number;
  totalBytes: number;
}

/** A place a finished local backup is shipped to (S3, a remote host). */
export interface Destination extends BackupSource {
  /** Days a backup is kept there. */
  readonly retentionDays: number;
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
