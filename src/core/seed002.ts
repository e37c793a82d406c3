// Seed 002's backups: one database per run, written as a flat file directly under the S3 prefix (and
// copies of that layout in a local folder or on a remote host):
//   backup_YYYYMMDD_HHMMSS.sql.gz       pg_dump -d DB | gzip -6 (plain SQL, no --create)
//   backup_YYYYMMDD_HHMMSS.sql.gz.enc   the same, through openssl enc -aes-256-cbc -salt -pbkdf2
// Each such file is listed as a backup of its own (status "legacy", `single` set), named by the file
// name itself: RESTORE_FOLDER and `verify` take that name, and it never collides with a pg-backups
// folder (YYYYMMDD_HHMMSS). pg-backups did not write these files: it never deletes them.
import { folderTime } from './backup/names.js';
import type { BackupEntry } from './source.js';

const SEED002_FILE = /^backup_(\d{8}_\d{6})\.sql\.gz(\.enc)?$/;

/** The UTC time a seed 002 file name stands for, or undefined if it is not one. */
export function seed002Time(name: string): Date | undefined {
  const m = SEED002_FILE.exec(name);
  return m ? folderTime(m[1]!) : undefined;
}

export function isSeed002File(name: string): boolean {
  return seed002Time(name) !== undefined;
}

/** The entry of a regular file at the top of a source, when it is a seed 002 backup. */
export function seed002Entry(file: { name: string; bytes: number }): BackupEntry | undefined {
  const time = seed002Time(file.name);
  if (!time) return undefined;
  return {
    folder: file.name,
    time,
    status: 'legacy',
    files: [{ name: file.name, bytes: file.bytes }],
    single: { file: file.name, encrypted: file.name.endsWith('.enc') ? 'openssl' : undefined },
  };
}

/** A symbolic link (or the like) named like a seed 002 file: shown, never read, never deleted. */
export function seed002Foreign(name: string, time: Date, what: string): BackupEntry {
  return { folder: name, time, status: 'foreign', problem: `${what} named like a seed 002 backup file; never followed, left alone`, files: [] };
}

/** How a seed 002 entry is described to people. */
export function describeSingle(single: NonNullable<BackupEntry['single']>): string {
  return `a seed 002 single-database backup${single.encrypted ? ', encrypted (openssl, BACKUP_ENCRYPTION_KEY)' : ''}`;
}
