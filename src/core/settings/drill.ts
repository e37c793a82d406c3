// DRILL_* settings (`pg-backups drill`): which backup (RESTORE_SOURCE, RESTORE_FOLDER, as a restore
// reads them), which of its databases (DRILL_DATABASES), and the server the scratch databases go to
// (DRILL_TARGET, a connection URI and a secret; default: the restore's own connection).
import { UsageError } from '../errors.js';
import type { SourceKind } from '../source.js';
import { readConnection, type ConnectionSettings } from './connection.js';
import { readList, readRaw, type SettingInput } from './read.js';
import { readRestoreRequest } from './restore.js';

export interface DrillSettings {
  source: SourceKind;
  /** A folder name or "latest" (the newest finished backup on the source). */
  folder: string;
  /** Only these databases of the backup (default: every database with a file of its own). */
  databases?: string[];
  /** Where downloads go while a database is restored (a private folder inside it, removed after). */
  restoreDir: string;
  /** How DRILL_TARGET was given ("DRILL_TARGET", "DRILL_TARGET_FILE"); absent: the restore connection. */
  targetOrigin?: string;
}

/** The restore's readers pick the source, the folder and RESTORE_DIR; the other RESTORE_* do not apply. */
export function readDrillSettings(input: SettingInput, enabled: SourceKind[]): DrillSettings {
  const env: NodeJS.ProcessEnv = { ...input.env };
  for (const name of ['RESTORE_TYPE', 'RESTORE_DATABASE', 'RESTORE_TARGET_DATABASE', 'RESTORE_OVERWRITE', 'RESTORE_SCHEMAS', 'RESTORE_TABLES', 'RESTORE_JOBS']) {
    delete env[name];
    delete env[`${name}_FILE`];
  }
  Object.assign(env, { RESTORE_TYPE: 'database', RESTORE_DATABASE: 'drill' });
  const flags = { source: input.flags.source, folder: input.flags.folder, 'restore-dir': input.flags['restore-dir'] };
  const request = readRestoreRequest({ ...input, env, flags }, enabled);
  if (request.folder !== 'latest' && !/^\d{8}_\d{6}$/.test(request.folder)) {
    throw new UsageError(`RESTORE_FOLDER=${JSON.stringify(request.folder)} is a seed 002 file, which has no manifest to drill against; give a backup folder made by pg-backups, e.g. RESTORE_FOLDER=20251005_120000, or latest`);
  }
  const databases = readList(input, { name: 'DRILL_DATABASES', flag: 'databases', example: 'app,billing', ifUnset: 'for every database of the backup' });
  const target = readRaw(input, DRILL_TARGET_SPEC);
  return { source: request.source, folder: request.folder, restoreDir: request.restoreDir, ...(databases ? { databases } : {}), ...(target ? { targetOrigin: target.origin } : {}) };
}

const DRILL_TARGET_SPEC = {
  name: 'DRILL_TARGET',
  secret: true,
  what: 'a connection URI of the server the scratch databases go to',
  example: 'postgresql://drill@scratch-db.example.com:5432/postgres',
  ifUnset: 'to drill on the server a restore goes to (the libpq variables or DATABASE_URL)',
};

/**
 * The server the drill restores onto: DRILL_TARGET (applied over the libpq variables, as libpq
 * applies a connection string: PGPASSWORD, PGSSLMODE, ... fill what it leaves out), else `fallback`.
 */
export function drillTarget(input: SettingInput, fallback: () => ConnectionSettings): ConnectionSettings {
  const target = readRaw(input, DRILL_TARGET_SPEC);
  if (!target) return fallback();
  if (!/^postgres(?:ql)?:\/\//.test(target.value)) {
    throw new UsageError(`${target.origin} is not a connection URI; give one such as DRILL_TARGET=${DRILL_TARGET_SPEC.example}, or unset it ${DRILL_TARGET_SPEC.ifUnset}`);
  }
  return readConnection(input, target);
}
