// Settings of a backup run and of the local destination, as plain data.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { readS3, readRemote, type RemoteSettings, type S3Settings } from './destinations.js';
import { readInt, readList, readString, type SettingInput } from './read.js';

export interface LocalSettings {
  backupDir: string;
  retentionDays: number;
}

export interface BackupSettings {
  local: LocalSettings;
  compressionLevel: number;
  /** Databases named by BACKUP_DATABASES; undefined means every database that allows connections. */
  databases?: string[];
  excludeDatabases: string[];
  pgBinDir?: string;
  /** Enabled remote destinations (S3_ENABLED, RSYNC_ENABLED). */
  s3?: S3Settings;
  remote?: RemoteSettings;
}

export function readLocal(input: SettingInput): LocalSettings {
  const dir = readString(input, { name: 'BACKUP_DIR', flag: 'backup-dir' }) ?? '/backups';
  return {
    backupDir: resolve(dir),
    retentionDays: readInt(input, { name: 'LOCAL_RETENTION_DAYS', flag: 'local-retention-days' }, { min: 0, max: 36500, default: 1, example: '7' }),
  };
}

export function readPgBinDir(input: SettingInput): string | undefined {
  const dir = readString(input, { name: 'PG_BIN_DIR', flag: 'pg-bin-dir' });
  return dir === undefined ? undefined : resolve(dir);
}

export function readBackupSettings(input: SettingInput): BackupSettings {
  const databases = readList(input, { name: 'BACKUP_DATABASES', flag: 'databases' });
  const excludeDatabases = readList(input, { name: 'BACKUP_EXCLUDE_DATABASES', flag: 'exclude-databases' }) ?? [];
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
    databases,
    excludeDatabases,
    pgBinDir: readPgBinDir(input),
  };
}
