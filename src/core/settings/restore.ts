// RESTORE_* settings: the non-interactive restore (automation), the same names as seed 001.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { RESTORE_TYPES, type RestoreRequest, type RestoreType } from '../restore/model.js';
import type { SourceKind } from '../../sources/source.js';
import { readBool, readEnum, readRaw, readString, type SettingInput } from './read.js';

const SOURCES: readonly SourceKind[] = ['local', 's3', 'remote'];

/** The RESTORE_* variables (and their flags) that make a restore non-interactive. */
export const RESTORE_SETTING_NAMES = ['RESTORE_SOURCE', 'RESTORE_FOLDER', 'RESTORE_TYPE', 'RESTORE_DATABASE', 'RESTORE_TARGET_DATABASE', 'RESTORE_OVERWRITE'];

export function anyRestoreSetting(input: SettingInput): boolean {
  return RESTORE_SETTING_NAMES.some((name) => readRaw(input, { name, flag: flagOf(name) }) !== undefined);
}

function flagOf(name: string): string {
  return name.replace(/^RESTORE_/, '').toLowerCase().replace(/_/g, '-');
}

export function readRestoreRequest(input: SettingInput, enabled: SourceKind[]): RestoreRequest {
  const type = readEnum<RestoreType>(input, { name: 'RESTORE_TYPE', flag: 'type' }, RESTORE_TYPES);
  if (!type) throw new UsageError(`RESTORE_TYPE is not set; set it to ${RESTORE_TYPES.join(', ')}, e.g. RESTORE_TYPE=database RESTORE_DATABASE=app`);
  let source = readEnum(input, { name: 'RESTORE_SOURCE', flag: 'source' }, SOURCES);
  if (!source) {
    if (enabled.length > 1) throw new UsageError(`RESTORE_SOURCE is not set and several sources are enabled (${enabled.join(', ')}); choose one, e.g. RESTORE_SOURCE=${enabled[1]}`);
    source = enabled[0] ?? 'local';
  }
  if (!enabled.includes(source)) {
    throw new UsageError(`RESTORE_SOURCE=${source} is not enabled; ${source === 's3' ? 'set S3_ENABLED=true and S3_BUCKET' : 'set RSYNC_ENABLED=true, RSYNC_HOST and RSYNC_PATH'} (see pg-backups backup --help)`);
  }
  const folder = readString(input, { name: 'RESTORE_FOLDER', flag: 'folder' }) ?? 'latest';
  if (folder !== 'latest' && !/^\d{8}_\d{6}$/.test(folder)) {
    throw new UsageError(`RESTORE_FOLDER=${JSON.stringify(folder)} is not a backup folder name; use a name as \`pg-backups list\` shows it, e.g. RESTORE_FOLDER=20251005_120000, or latest`);
  }
  const database = readString(input, { name: 'RESTORE_DATABASE', flag: 'database' });
  const targetDatabase = readString(input, { name: 'RESTORE_TARGET_DATABASE', flag: 'target-database' });
  if (type === 'database' && !database) {
    throw new UsageError('RESTORE_DATABASE is not set, and RESTORE_TYPE=database needs it; e.g. RESTORE_DATABASE=app');
  }
  if (type !== 'database' && database) throw new UsageError(`RESTORE_DATABASE is set, but RESTORE_TYPE=${type} restores ${type === 'cluster' ? 'every database' : 'no database'}; use RESTORE_TYPE=database or unset RESTORE_DATABASE`);
  if (type !== 'database' && targetDatabase) throw new UsageError(`RESTORE_TARGET_DATABASE goes with RESTORE_TYPE=database, not ${type}; unset it`);
  if (targetDatabase !== undefined && (targetDatabase.length > 63 || targetDatabase.length === 0)) {
    throw new UsageError(`RESTORE_TARGET_DATABASE=${JSON.stringify(targetDatabase)} is not a database name (1 to 63 bytes); e.g. RESTORE_TARGET_DATABASE=app_restore_test`);
  }
  return {
    source,
    folder,
    type,
    database,
    targetDatabase,
    overwrite: readBool(input, { name: 'RESTORE_OVERWRITE', flag: 'overwrite' }, false),
    restoreDir: resolve(readString(input, { name: 'RESTORE_DIR', flag: 'restore-dir' }) ?? '/restore'),
  };
}
