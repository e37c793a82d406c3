// manifest.json: what a finished backup holds. Written last; a folder without it is not finished.
// Plain data, no secrets: no password, no connection string.
import { VerificationError } from '../errors.js';
import { MANIFEST_FILE } from './names.js';

export const MANIFEST_FORMAT = 'pg-backups/1';

export type FileKind = 'cluster' | 'globals' | 'database';

export interface ManifestFile {
  name: string;
  kind: FileKind;
  /** For kind "database": the database's name. */
  database?: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  tool: { name: 'pg-backups'; version: string };
  folder: string;
  startedAt: string;
  finishedAt: string;
  server: { version: string; versionNum: number; major: number; host?: string; port?: number };
  pgDump: { version: string; major: number };
  compression: { format: 'gzip'; level: number };
  dumpFormat: 'plain';
  /** false when the connecting role was not a superuser: the globals hold the roles without passwords. */
  rolePasswords: boolean;
  /** The databases with a file of their own, in the order they were dumped. */
  databases: string[];
  /** Databases in the cluster file (adds template1 when it allows connections). */
  clusterDatabases: string[];
  files: ManifestFile[];
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** Parses a manifest; a malformed one makes the backup unusable (exit 3). */
export function parseManifest(text: string, where: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new VerificationError(`${where}/${MANIFEST_FILE} is not valid JSON (${(err as Error).message}); the backup is damaged`);
  }
  const m = data as Partial<Manifest>;
  const ok =
    m !== null && typeof m === 'object' &&
    m.format === MANIFEST_FORMAT &&
    typeof m.folder === 'string' &&
    typeof m.finishedAt === 'string' &&
    Array.isArray(m.files) &&
    m.files.every((f) => f && typeof f.name === 'string' && typeof f.bytes === 'number' && typeof f.sha256 === 'string' && !f.name.includes('/'));
  if (!ok) throw new VerificationError(`${where}/${MANIFEST_FILE} is not a pg-backups manifest (format ${MANIFEST_FORMAT}); the backup is damaged`);
  return m as Manifest;
}
