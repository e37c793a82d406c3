// Names in a backup folder, as the layout of 001 defines them.

export const CLUSTER_FILE = 'postgres_cluster.sql.gz';
export const GLOBALS_FILE = 'postgres_globals.sql.gz';
export const MANIFEST_FILE = 'manifest.json';
const DB_PREFIX = 'postgres_db_';
const DB_SUFFIX = '.sql.gz';
/** BACKUP_FORMAT=custom: a database's file is pg_dump's custom-format archive (compressed inside). */
const DUMP_SUFFIX = '.dump';

/** How databases are dumped: plain SQL through gzip (seed 001's layout), or pg_dump -Fc archives. */
export type DumpFormat = 'plain' | 'custom';
export const DUMP_FORMATS: readonly DumpFormat[] = ['plain', 'custom'];

/** A custom-format archive (postgres_db_app.dump, or .dump.age): restored through pg_restore. */
export function isArchiveName(stored: string): boolean {
  return plainName(stored).endsWith(DUMP_SUFFIX);
}
/** The suffix of an encrypted file (age): postgres_db_app.sql.gz.age. */
export const ENCRYPTED_SUFFIX = '.age';

/** The name a file is stored under: with ENCRYPTED_SUFFIX when the backup is encrypted. */
export function storedName(name: string, encrypted: boolean): string {
  return encrypted ? `${name}${ENCRYPTED_SUFFIX}` : name;
}

/** The name without ENCRYPTED_SUFFIX. */
export function plainName(name: string): string {
  return name.endsWith(ENCRYPTED_SUFFIX) ? name.slice(0, -ENCRYPTED_SUFFIX.length) : name;
}

/** A finished backup folder: YYYYMMDD_HHMMSS (UTC). */
export const FOLDER_PATTERN = /^\d{8}_\d{6}$/;

export function folderName(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}_${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
}

/** The UTC time a folder name stands for, or undefined if it is not a backup folder name. */
export function folderTime(name: string): Date | undefined {
  if (!FOLDER_PATTERN.test(name)) return undefined;
  const d = new Date(
    Date.UTC(+name.slice(0, 4), +name.slice(4, 6) - 1, +name.slice(6, 8), +name.slice(9, 11), +name.slice(11, 13), +name.slice(13, 15)),
  );
  return Number.isNaN(d.getTime()) || folderName(d) !== name ? undefined : d;
}

/**
 * The file of one database. Letters, digits, '.', '_' and '-' stay as they are (so a name that 001
 * wrote, such as postgres_db_mydb.sql.gz, is unchanged); every other byte of the UTF-8 name becomes
 * %XX, which keeps any name unique, reversible and safe on every filesystem.
 */
export function databaseFileName(database: string, format: DumpFormat = 'plain'): string {
  let out = '';
  for (const byte of Buffer.from(database, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._-]/.test(c) && !(out === '' && c === '.') ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${DB_PREFIX}${out}${format === 'custom' ? DUMP_SUFFIX : DB_SUFFIX}`;
}

/** The database a postgres_db_*.sql.gz (or .dump) file holds (the inverse of databaseFileName). */
export function databaseOfFile(stored: string): string | undefined {
  const file = plainName(stored);
  const suffix = [DB_SUFFIX, DUMP_SUFFIX].find((s) => file.endsWith(s));
  if (!file.startsWith(DB_PREFIX) || !suffix) return undefined;
  const escaped = file.slice(DB_PREFIX.length, -suffix.length);
  try {
    return decodeURIComponent(escaped);
  } catch {
    return escaped;
  }
}

export function isBackupFileName(file: string): boolean {
  const plain = plainName(file);
  return plain === CLUSTER_FILE || plain === GLOBALS_FILE || databaseOfFile(plain) !== undefined;
}
