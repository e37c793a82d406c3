// RESTORE_* settings: the non-interactive restore (automation), the same names as seed 001.
import { UsageError } from '../errors.js';
import { RESTORE_TYPES, type RestoreRequest, type RestoreType } from '../restore/model.js';
import { isSeed002File } from '../seed002.js';
import type { SourceKind } from '../source.js';
import { parseSchemaList, parseTableList } from '../restore/archive-select.js';
import { assignment, readBool, readEnum, readInt, readPath, readRaw, type SettingInput, type SettingSpec } from './read.js';

const SOURCES: readonly SourceKind[] = ['local', 's3', 'remote'];

/** The RESTORE_* variables (and their flags) that make a restore non-interactive. */
const SPECS = {
  RESTORE_SOURCE: { name: 'RESTORE_SOURCE', flag: 'source', what: `one of ${SOURCES.join(', ')}`, example: 'local', ifUnset: 'for the only enabled source' },
  RESTORE_FOLDER: { name: 'RESTORE_FOLDER', flag: 'folder', what: 'a backup folder name or latest', example: '20251005_120000', ifUnset: 'for the newest backup (latest)' },
  RESTORE_TYPE: { name: 'RESTORE_TYPE', flag: 'type', what: `one of ${RESTORE_TYPES.join(', ')}`, example: 'database' },
  RESTORE_DATABASE: { name: 'RESTORE_DATABASE', flag: 'database', what: 'the name of a database in the backup', example: 'app' },
  RESTORE_TARGET_DATABASE: { name: 'RESTORE_TARGET_DATABASE', flag: 'target-database', what: 'a database name', example: 'app_restored', ifUnset: 'to restore under the name in the backup' },
  RESTORE_OVERWRITE: { name: 'RESTORE_OVERWRITE', flag: 'overwrite', what: 'true or false', example: 'true', ifUnset: 'for the default false' },
  RESTORE_JOBS: { name: 'RESTORE_JOBS', flag: 'jobs', what: 'a number of databases restored at once (pg_restore jobs for a custom-format database), 1 to 32', example: '4', ifUnset: 'for the default (one per core, 2 to 4)' },
  RESTORE_SCHEMAS: { name: 'RESTORE_SCHEMAS', flag: 'schemas', what: 'a comma-separated list of schemas', example: 'sales,"My Schema"', ifUnset: 'for the whole database' },
  RESTORE_TABLES: { name: 'RESTORE_TABLES', flag: 'tables', what: 'a comma-separated list of schema.table', example: 'public.orders,sales.items', ifUnset: 'for the whole database' },
} satisfies Record<string, SettingSpec>;

export const RESTORE_SETTING_NAMES = Object.keys(SPECS);

/**
 * RESTORE_SERVER (--server): which of several servers (BACKUP_<NAME>=postgresql://...) to restore
 * from. Not one of the settings that make a restore non-interactive: the screen honours it too.
 */
export function readRestoreServer(input: SettingInput): { only?: string; onlyOrigin?: string } {
  const raw = readRaw(input, { name: 'RESTORE_SERVER', flag: 'server', what: 'the name of a server', example: 'prod', ifUnset: 'when there is one server' });
  return raw ? { only: raw.value, onlyOrigin: raw.origin } : { onlyOrigin: 'RESTORE_SERVER' };
}

export function anyRestoreSetting(input: SettingInput): boolean {
  return Object.values(SPECS).some((spec) => readRaw(input, spec) !== undefined);
}

/**
 * template0 and template1 are never restored over, overwrite or not: template0 is the pristine
 * template PostgreSQL keeps unchanged (it does not even accept connections), and template1 is the
 * template every CREATE DATABASE copies, so a backup restored over it would land in every database
 * created afterwards. `setting` is how the name was given ("RESTORE_TARGET_DATABASE", "--database").
 */
export function templateTargetError(target: string, setting: string): UsageError | undefined {
  if (target !== 'template0' && target !== 'template1') return undefined;
  const why = target === 'template0'
    ? 'template0 is the pristine template PostgreSQL keeps unchanged'
    : 'template1 is the template every new database is copied from, so the backup would land in every database created later';
  const fix = /TARGET|target/.test(setting)
    ? `choose another name, e.g. ${assignment(setting, 'app_restored')}`
    : `restore it under another name, e.g. RESTORE_TARGET_DATABASE=${target}_restored`;
  return new UsageError(`${assignment(setting, target)}: pg-backups does not restore over ${target} (RESTORE_OVERWRITE does not change that): ${why}; ${fix}`);
}

export function readRestoreRequest(input: SettingInput, enabled: SourceKind[]): RestoreRequest {
  const type = readEnum<RestoreType>(input, SPECS.RESTORE_TYPE, RESTORE_TYPES);
  if (!type) throw new UsageError(`RESTORE_TYPE is not set; set it to ${RESTORE_TYPES.join(', ')}, e.g. RESTORE_TYPE=database RESTORE_DATABASE=app`);
  let source = readEnum(input, SPECS.RESTORE_SOURCE, SOURCES);
  if (!source) {
    if (enabled.length > 1) throw new UsageError(`RESTORE_SOURCE is not set and several sources are enabled (${enabled.join(', ')}); choose one, e.g. RESTORE_SOURCE=${enabled[1]}`);
    source = enabled[0] ?? 'local';
  }
  if (!enabled.includes(source)) {
    throw new UsageError(`RESTORE_SOURCE=${source} is not enabled; ${source === 's3' ? 'set S3_ENABLED=true and S3_BUCKET' : 'set RSYNC_ENABLED=true, RSYNC_HOST and RSYNC_PATH'} (see pg-backups backup --help)`);
  }
  const folder = readRaw(input, SPECS.RESTORE_FOLDER)?.value ?? 'latest';
  // seed 002's flat files are named by their file name: backup_YYYYMMDD_HHMMSS.sql.gz[.enc]
  const single = isSeed002File(folder);
  if (folder !== 'latest' && !/^\d{8}_\d{6}$/.test(folder) && !single) {
    throw new UsageError(`RESTORE_FOLDER=${JSON.stringify(folder)} is not a backup folder name; use a name as \`pg-backups list\` shows it, e.g. RESTORE_FOLDER=20251005_120000, or latest`);
  }
  const database = readRaw(input, SPECS.RESTORE_DATABASE);
  const targetDatabase = readRaw(input, SPECS.RESTORE_TARGET_DATABASE);
  if (type === 'database' && !database && single && !targetDatabase) {
    throw new UsageError(
      `RESTORE_FOLDER=${folder} is a seed 002 file, which does not name its database: set RESTORE_DATABASE (or RESTORE_TARGET_DATABASE) to the name to restore it under, e.g. RESTORE_DATABASE=app`,
    );
  }
  if (type === 'database' && !database && !single) {
    throw new UsageError('RESTORE_DATABASE is not set, and RESTORE_TYPE=database needs it; e.g. RESTORE_DATABASE=app');
  }
  if (type !== 'database' && database) throw new UsageError(`RESTORE_DATABASE is set, but RESTORE_TYPE=${type} restores ${type === 'cluster' ? 'every database' : 'no database'}; use RESTORE_TYPE=database or unset RESTORE_DATABASE`);
  if (type !== 'database' && targetDatabase) throw new UsageError(`RESTORE_TARGET_DATABASE goes with RESTORE_TYPE=database, not ${type}; unset it`);
  if (targetDatabase !== undefined && Buffer.byteLength(targetDatabase.value, 'utf8') > 63) {
    throw new UsageError(`RESTORE_TARGET_DATABASE=${JSON.stringify(targetDatabase.value)} is not a database name (1 to 63 bytes); e.g. RESTORE_TARGET_DATABASE=app_restore_test`);
  }
  const schemas = readRaw(input, SPECS.RESTORE_SCHEMAS);
  const tables = readRaw(input, SPECS.RESTORE_TABLES);
  const picked = schemas ?? tables;
  if (picked && type !== 'database') throw new UsageError(`${picked.origin} picks part of one database; it goes with RESTORE_TYPE=database, not ${type}`);
  const selection = picked
    ? { schemas: schemas ? parseSchemaList(schemas.value, schemas.origin) : [], tables: tables ? parseTableList(tables.value, tables.origin) : [] }
    : undefined;
  const into = targetDatabase ?? database;
  if (type === 'database' && into) {
    const refused = templateTargetError(into.value, into.origin);
    if (refused) throw refused;
  }
  return {
    source,
    folder,
    type,
    database: database?.value,
    targetDatabase: targetDatabase?.value,
    overwrite: readBool(input, SPECS.RESTORE_OVERWRITE, false),
    jobs: readInt(input, SPECS.RESTORE_JOBS, { min: 1, max: 32, example: '4' }),
    ...(selection ? { selection } : {}),
    restoreDir:
      readPath(input, { name: 'RESTORE_DIR', flag: 'restore-dir', what: 'a folder', example: '/restore', ifUnset: 'for the default /restore' }) ?? '/restore',
  };
}
