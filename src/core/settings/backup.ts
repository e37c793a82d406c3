// Settings of a backup run and of the local destination, as plain data.
import type { KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { readKeepRules, readS3, readRemote, type RemoteSettings, type S3Settings } from './destinations.js';
import type { KeepRule } from '../rotation.js';
import type { EncryptionConfig } from '../encryption/age-stream.js';
import { readBackupEncryption } from './encryption.js';
import { readBool, readEnum, readInt, readList, readPath, type SettingInput } from './read.js';
import { DUMP_FORMATS, type DumpFormat } from '../backup/names.js';
import { readSigningKey } from './signing.js';

export interface LocalSettings {
  backupDir: string;
  retentionDays: number;
  /** LOCAL_KEEP_DAILY/WEEKLY/MONTHLY, else KEEP_*. */
  keepRules: KeepRule[];
}

export interface BackupSettings {
  local: LocalSettings;
  compressionLevel: number;
  /** BACKUP_FORMAT: plain (gzip of pg_dump's SQL, the default) or custom (pg_dump -Fc per database, no cluster file). */
  format: DumpFormat;
  /** BACKUP_ROW_COUNTS (default true): each table's rows are counted into the manifest as the dump streams (drills check them). */
  rowCounts: boolean;
  /** Databases named by BACKUP_DATABASES; undefined means every database that allows connections. */
  databases?: string[];
  excludeDatabases: string[];
  pgBinDir?: string;
  /** Enabled remote destinations (S3_ENABLED, RSYNC_ENABLED). */
  s3?: S3Settings;
  remote?: RemoteSettings;
  /** BACKUP_ENCRYPTION_RECIPIENTS or BACKUP_ENCRYPTION=true (settings/encryption.ts): files are age-encrypted. */
  encryption?: EncryptionConfig;
  /** BACKUP_SIGNING_KEY: the Ed25519 key that signs each manifest (settings/signing.ts). */
  signingKey?: KeyObject;
}

export function readLocal(input: SettingInput): LocalSettings {
  const dir = readPath(input, { name: 'BACKUP_DIR', flag: 'backup-dir', what: 'a folder', example: '/backups', ifUnset: 'for the default /backups' });
  return {
    backupDir: dir ?? '/backups',
    retentionDays: readInt(input, { name: 'LOCAL_RETENTION_DAYS', flag: 'local-retention-days' }, { min: 0, max: 36500, default: 1, example: '7' }),
    keepRules: readKeepRules(input, 'LOCAL'),
  };
}

export function readPgBinDir(input: SettingInput): string | undefined {
  return readPath(input, {
    name: 'PG_BIN_DIR',
    flag: 'pg-bin-dir',
    what: 'the folder of the PostgreSQL client tools',
    example: '/usr/lib/postgresql/17/bin',
    ifUnset: 'to look in the usual install places and PATH',
  });
}

export function readBackupSettings(input: SettingInput): BackupSettings {
  const databases = readList(input, {
    name: 'BACKUP_DATABASES',
    flag: 'databases',
    what: 'a comma-separated list of databases',
    ifUnset: 'for every database that allows connections',
  });
  // Empty has a meaning here: no database excluded (as when unset).
  const excludeDatabases = readList(input, { name: 'BACKUP_EXCLUDE_DATABASES', flag: 'exclude-databases', emptyAllowed: true }) ?? [];
  const both = databases?.filter((db) => excludeDatabases.includes(db)) ?? [];
  if (both.length > 0) {
    throw new UsageError(
      `BACKUP_EXCLUDE_DATABASES excludes ${both.map((d) => JSON.stringify(d)).join(', ')}, which BACKUP_DATABASES asks for; name each database in only one of them`,
    );
  }
  return {
    s3: readS3(input),
    remote: readRemote(input),
    local: readLocal(input),
    compressionLevel: readInt(input, { name: 'COMPRESSION_LEVEL', flag: 'compression-level' }, { min: 1, max: 9, default: 6, example: '6' }),
    format: readEnum(input, { name: 'BACKUP_FORMAT', flag: 'format', example: 'custom' }, DUMP_FORMATS) ?? 'plain',
    rowCounts: readBool(input, { name: 'BACKUP_ROW_COUNTS', flag: 'row-counts' }, true),
    databases,
    excludeDatabases,
    pgBinDir: readPgBinDir(input),
    encryption: readBackupEncryption(input),
    signingKey: readSigningKey(input),
  };
}
