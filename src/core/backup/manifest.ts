// manifest.json: what a finished backup holds. Written last; a folder without it is not finished.
// Plain data, no secrets: no password, no connection string.
//
// A manifest is read back from places anyone with write access can edit (a disk, a bucket, a
// remote host), so parseManifest() treats it as data from outside: one schema check of every field
// (type, range, plain file names, the folder it sits in). Anything missing, mistyped or impossible
// is a VerificationError naming the field; the backup is then "damaged" and nothing is read from it.
import { VerificationError } from '../errors.js';
import { CLUSTER_FILE, DUMP_FORMATS, FOLDER_PATTERN, GLOBALS_FILE, MANIFEST_FILE, databaseFileName, folderTime, storedName, type DumpFormat } from './names.js';
import { encryptionProblem, type ManifestEncryption } from './manifest-encryption.js';
import { signatureShapeProblem, type ManifestSignature } from './manifest-signature.js';

export const MANIFEST_FORMAT = 'pg-backups/1';

export type FileKind = 'cluster' | 'globals' | 'database';

export interface ManifestFile {
  name: string;
  kind: FileKind;
  /** For kind "database": the database's name. */
  database?: string;
  bytes: number;
  sha256: string;
  /** The uncompressed size (since 0.2; older manifests lack it): the total of a restore's progress. */
  rawBytes?: number;
  /**
   * Database files of plain-format backups: the rows of each table's COPY data, counted as the dump
   * went by (per leaf table: a partitioned table's rows are under its partitions). Absent in
   * custom-format backups (no SQL to count), in manifests written before row counts existed, and
   * when counting failed (the backup run warned).
   */
  rows?: Array<{ schema: string; table: string; rows: number }>;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  tool: { name: 'pg-backups'; version: string };
  folder: string;
  startedAt: string;
  finishedAt: string;
  server: { version: string; versionNum: number; major: number; host?: string; port?: number };
  pgDump: { version: string; major: number };
  /** plain: gzip of the SQL; custom: pg_dump -Fc's own compression (-Z level) of each archive. */
  compression: { format: 'gzip'; level: number };
  /** plain (001's layout) or custom (BACKUP_FORMAT=custom: pg_dump -Fc archives, no cluster file). */
  dumpFormat: DumpFormat;
  /** false when the connecting role was not a superuser: the globals hold the roles without passwords. */
  rolePasswords: boolean;
  /** The databases with a file of their own, in the order they were dumped. */
  databases: string[];
  /** Databases in the cluster file (adds template1 when it allows connections; since 0.2 it has a file of its own too). */
  clusterDatabases: string[];
  files: ManifestFile[];
  /** Since 0.3, with BACKUP_ENCRYPTION_RECIPIENTS or BACKUP_ENCRYPTION: every file is age-encrypted (name + .age). */
  encryption?: ManifestEncryption;
  /** BACKUP_SIGNING_KEY's Ed25519 signature over the rest (manifest-signature.ts); always the last field. */
  signature?: ManifestSignature;
}

/** The largest file a manifest may claim (1 PiB): more is not a size, it is damage. */
export const MAX_FILE_BYTES = 2 ** 50;
/** A manifest bigger than this is not one pg-backups wrote (thousands of databases fit in 1 MiB). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const FILE_KINDS: readonly FileKind[] = ['cluster', 'globals', 'database'];
/** The most tables a database file's "rows" may list. */
export const MAX_ROWS_ENTRIES = 1_000_000;

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/**
 * Parses and checks a manifest read from `where` (for messages). `folder`, when given, is the folder
 * the manifest was found in: the manifest must name that folder. Throws VerificationError (exit 3)
 * naming the first problem; never anything else, whatever the text holds.
 */
export function parseManifest(text: string, where: string, folder?: string): Manifest {
  const damaged = (problem: string) => new VerificationError(`${where}/${MANIFEST_FILE} ${problem}; the backup is damaged`);
  if (text.length > MAX_MANIFEST_BYTES) throw damaged(`is ${text.length} bytes, too big for a manifest`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw damaged(`is not valid JSON (${(err as Error).message})`);
  }
  const problem = manifestProblem(data, folder);
  if (problem) throw damaged(problem);
  return data as Manifest;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};
const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
const isText = (v: unknown, max = 200): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && !/[\x00-\x1f\x7f]/.test(v);

/** Why a parsed manifest is not one pg-backups would write, or undefined when it is. */
export function manifestProblem(data: unknown, folder?: string): string | undefined {
  if (!isObject(data)) return `is not a pg-backups manifest (format ${MANIFEST_FORMAT}): not a JSON object`;
  const m = data;
  if (m.format !== MANIFEST_FORMAT) return `is not a pg-backups manifest: "format" is ${show(m.format)}, not ${JSON.stringify(MANIFEST_FORMAT)}`;
  if (!isObject(m.tool) || m.tool.name !== 'pg-backups' || !isText(m.tool.version)) return `has a wrong "tool" (${show(m.tool)}): it must name pg-backups and its version`;

  if (typeof m.folder !== 'string' || !FOLDER_PATTERN.test(m.folder) || !folderTime(m.folder)) return `has a wrong "folder" (${show(m.folder)}): it must be a folder name YYYYMMDD_HHMMSS`;
  if (folder !== undefined && m.folder !== folder) return `names the folder ${m.folder}, but it is in ${folder}: it was copied or edited`;
  const started = isText(m.startedAt, 40) ? Date.parse(m.startedAt) : NaN;
  const finished = isText(m.finishedAt, 40) ? Date.parse(m.finishedAt) : NaN;
  if (Number.isNaN(started)) return `has a wrong "startedAt" (${show(m.startedAt)}): it must be a time such as 2025-01-01T12:00:00.000Z`;
  if (Number.isNaN(finished)) return `has a wrong "finishedAt" (${show(m.finishedAt)}): it must be a time such as 2025-01-01T12:00:00.000Z`;
  if (finished < started) return `says the backup finished (${m.finishedAt as string}) before it started (${m.startedAt as string})`;

  const s = m.server;
  if (!isObject(s) || !isText(s.version, 100) || !isCount(s.versionNum, 10_000_000) || s.versionNum === 0 || !isCount(s.major, 1000) || s.major === 0) {
    return `has a wrong "server" (${show(s)}): it needs the server's version, versionNum and major`;
  }
  const d = m.pgDump;
  if (!isObject(d) || !isText(d.version, 100) || !isCount(d.major, 1000) || d.major < s.major) {
    return `has a wrong "pgDump" (${show(d)}): it needs the version and major of the pg_dump used, at least the server's major ${s.major}`;
  }
  const c = m.compression;
  if (!isObject(c) || c.format !== 'gzip' || !isCount(c.level, 9) || c.level < 1) return `has a wrong "compression" (${show(c)}): it must be gzip with a level from 1 to 9`;
  if (!(DUMP_FORMATS as readonly unknown[]).includes(m.dumpFormat)) return `has a wrong "dumpFormat" (${show(m.dumpFormat)}): it must be "plain" or "custom"`;
  const format = m.dumpFormat as DumpFormat;
  if (typeof m.rolePasswords !== 'boolean') return `has a wrong "rolePasswords" (${show(m.rolePasswords)}): it must be true or false`;
  for (const key of ['databases', 'clusterDatabases'] as const) {
    const list = m[key];
    if (!Array.isArray(list)) return `has a wrong "${key}" (${show(list)}): it must be a list of database names`;
    const bad = list.find((n) => !isDatabaseName(n));
    if (bad !== undefined) return `has a wrong name in "${key}" (${show(bad)}): a database name is 1 to 63 bytes`;
    if (new Set(list).size !== list.length) return `lists a database twice in "${key}"`;
  }

  if (!Array.isArray(m.files)) return `has a wrong "files" (${show(m.files)}): it must be a list of files`;
  if (m.encryption !== undefined) {
    const problem = encryptionProblem(m.encryption);
    if (problem) return problem;
  }
  const enc = m.encryption !== undefined;
  const names = new Set<string>();
  const dbFiles = new Map<string, string>();
  for (const [i, f] of m.files.entries()) {
    const at = `files[${i}]`;
    if (!isObject(f)) return `has a wrong ${at} (${show(f)}): each file needs name, kind, bytes and sha256`;
    const name = f.name;
    if (typeof name !== 'string' || plainNameProblem(name)) return `has a wrong ${at}.name (${show(name)}): ${typeof name === 'string' ? plainNameProblem(name) : 'it must be a file name'}`;
    if (name === MANIFEST_FILE) return `lists itself in ${at}`;
    if (names.has(name)) return `lists ${name} twice`;
    names.add(name);
    if (typeof f.kind !== 'string' || !(FILE_KINDS as readonly string[]).includes(f.kind)) return `has a wrong ${at}.kind (${show(f.kind)}): it must be cluster, globals or database`;
    if (!isCount(f.bytes, MAX_FILE_BYTES)) return `has an impossible size for ${name} (${show(f.bytes)}): a size is a whole number of bytes from 0 to ${MAX_FILE_BYTES}`;
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) return `has a wrong sha256 for ${name} (${show(f.sha256)}): it must be 64 hex digits`;
    if (f.rawBytes !== undefined && !isCount(f.rawBytes, Number.MAX_SAFE_INTEGER)) return `has an impossible uncompressed size for ${name} (${show(f.rawBytes)})`;
    if (f.rows !== undefined) {
      const problem = rowsProblem(f.rows, f.kind);
      if (problem) return `has a wrong ${at}.rows (${name}): ${problem}`;
    }
    if (f.kind === 'cluster' && format === 'custom') return `lists a cluster file (${name}) in a custom-format backup, which has none`;
    if (f.kind === 'cluster' && name !== storedName(CLUSTER_FILE, enc)) return `calls ${name} the cluster file; it is ${storedName(CLUSTER_FILE, enc)}`;
    if (f.kind === 'globals' && name !== storedName(GLOBALS_FILE, enc)) return `calls ${name} the globals file; it is ${storedName(GLOBALS_FILE, enc)}`;
    if (f.kind === 'database') {
      if (!isDatabaseName(f.database)) return `has a wrong ${at}.database (${show(f.database)}): a database file names its database`;
      const expected = storedName(databaseFileName(f.database, format), enc);
      if (name !== expected) return `names ${name} as the file of database ${JSON.stringify(f.database)}, which is ${expected}`;
      dbFiles.set(f.database, name);
    } else if (f.database !== undefined) {
      return `gives ${name} (a ${f.kind} file) a database`;
    }
  }
  // A custom-format backup has no cluster file: its cluster is the globals and every database's archive.
  const required = format === 'custom' ? [GLOBALS_FILE] : [CLUSTER_FILE, GLOBALS_FILE];
  for (const name of required.map((n) => storedName(n, enc))) if (!names.has(name)) return `does not list ${name} (a missing manifest entry)`;
  const mustHaveFile = format === 'custom' ? [...new Set([...(m.databases as string[]), ...(m.clusterDatabases as string[])])] : (m.databases as string[]);
  for (const db of mustHaveFile) {
    if (!dbFiles.has(db)) return `does not list ${storedName(databaseFileName(db, format), enc)}, the file of database ${JSON.stringify(db)} (a missing manifest entry)`;
  }
  // A database of the cluster file may have a file without being one of the backup's databases (template1).
  const extra = [...dbFiles.keys()].find((db) => !(m.databases as string[]).includes(db) && !(m.clusterDatabases as string[]).includes(db));
  if (extra !== undefined) return `lists a file of database ${JSON.stringify(extra)}, which neither its "databases" nor its "clusterDatabases" name`;
  if (m.signature !== undefined) return signatureShapeProblem(m.signature);
  return undefined;
}

/** Why a file's "rows" is not a list of {schema, table, rows} a backup would write, or undefined. */
function rowsProblem(rows: unknown, kind: unknown): string | undefined {
  if (kind !== 'database') return 'only a database file has row counts';
  if (!Array.isArray(rows)) return `it is ${show(rows)}, not a list`;
  if (rows.length > MAX_ROWS_ENTRIES) return `it lists ${rows.length} tables, more than ${MAX_ROWS_ENTRIES}`;
  const seen = new Set<string>();
  for (const [i, r] of rows.entries()) {
    if (!isObject(r) || !isDatabaseName(r.schema) || !isDatabaseName(r.table) || !isCount(r.rows, Number.MAX_SAFE_INTEGER)) {
      return `entry ${i} (${show(r)}) must be {"schema": name, "table": name, "rows": a whole number}`;
    }
    if (Object.keys(r).length !== 3) return `entry ${i} has fields other than schema, table and rows`;
    const key = `${r.schema}\u0000${r.table}`;
    if (seen.has(key)) return `it lists ${JSON.stringify(`${r.schema}.${r.table}`)} twice`;
    seen.add(key);
  }
  return undefined;
}

/** A database, schema or table name: 1 to 63 bytes, no NUL (any other character may be in it). */
function isDatabaseName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && !v.includes('\0') && Buffer.byteLength(v, 'utf8') <= 63;
}

/**
 * Why a name from a source cannot be a plain file name inside a backup folder, or undefined: no path
 * separator, NUL or control character, not "." or "..", not hidden, at most 255 bytes.
 */
export function plainNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name === '.' || name === '..') return 'it points at a folder above';
  if (name.includes('/') || name.includes('\\')) return 'it holds a path separator';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it holds a control character';
  if (name.startsWith('.')) return 'it is a hidden name';
  if (Buffer.byteLength(name, 'utf8') > 255) return 'it is longer than 255 bytes';
  return undefined;
}
