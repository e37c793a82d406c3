// The sources a command reads: --source (or RESTORE_SOURCE for restore), or every enabled source.
import { UsageError } from '../core/errors.js';
import { readLocal } from '../core/settings/backup.js';
import { readEnum, type SettingInput } from '../core/settings/read.js';
import { LocalSource } from '../sources/local.js';
import type { BackupSource, SourceKind } from '../sources/source.js';

const KINDS = ['local', 's3', 'remote'] as const;

export function selectSources(input: SettingInput): BackupSource[] {
  const kind: SourceKind | undefined = readEnum(input, { name: 'SOURCE', flag: 'source' }, KINDS);
  if (kind === 's3' || kind === 'remote') {
    throw new UsageError(`--source ${kind}: this version of pg-backups reads local backups only; use --source local`);
  }
  return [new LocalSource(readLocal(input).backupDir)];
}

export const SOURCE_HELP = `  --source local|s3|remote  which source to read (default: every enabled source; this version: local)
  --backup-dir DIR          BACKUP_DIR (default /backups)`;
