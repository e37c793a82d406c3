// What a restore is asked to do, as plain data (from RESTORE_* variables, flags, or the UI).
import type { SourceKind } from '../source.js';
import type { Progress } from '../progress.js';

export type RestoreType = 'cluster' | 'globals' | 'database';
export const RESTORE_TYPES: readonly RestoreType[] = ['cluster', 'globals', 'database'];

export interface RestoreRequest {
  source: SourceKind;
  /** A folder name (YYYYMMDD_HHMMSS) or "latest": the newest finished backup on that source. */
  folder: string;
  type: RestoreType;
  /** With type "database": the database in the backup. */
  database?: string;
  /** With type "database": restore under this name instead (a non-destructive test restore). */
  targetDatabase?: string;
  /** Replace a database that exists (RESTORE_OVERWRITE=true); otherwise that stops with exit 2. */
  overwrite: boolean;
  /** Where downloads from S3 or the remote host go (RESTORE_DIR). */
  restoreDir: string;
  /**
   * A cluster restore: how many databases are restored at once; a database restore of a custom-format
   * backup: pg_restore's --jobs (RESTORE_JOBS; default from the machine).
   */
  jobs?: number;
  /** With a custom-format backup and type database: only these schemas and tables (RESTORE_SCHEMAS, RESTORE_TABLES). */
  selection?: { schemas: string[]; tables: Array<{ schema: string; name: string }> };
}

/** Progress of a restore, for logs and the UI. */
export type RestoreEvent =
  | { type: 'download'; file: string; bytes: number; totalBytes: number }
  | { type: 'verified'; file: string }
  | { type: 'step'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'progress'; progress: Progress };
