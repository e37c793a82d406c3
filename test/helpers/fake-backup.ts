// Backup folders made without a server, for retention and catalog tests: real gzip files holding
// small SQL, and a manifest.json that passes the schema check (sizes and sha256 of the files).
// `folderFiles()` gives name -> bytes so a test can put the same folder on local disk, S3 or the
// remote host's disk, or change it first (a missing file, a wrong size, a broken manifest).
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { databaseFileName } from '../../src/core/backup/names.js';
import type { Manifest } from '../../src/core/backup/manifest.js';

const DAY = 24 * 3600 * 1000;

/** YYYYMMDD_HHMMSS (UTC) of a time. */
export function folderAt(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

/** The folder name of `days` days ago (negative: in the future). */
export function daysAgo(days: number, now = Date.now()): string {
  return folderAt(now - days * DAY);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The files of a whole backup folder, manifest included. */
export function folderFiles(folder: string, databases: string[] = ['app'], edit: (m: Manifest) => unknown = (m) => m): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  const entries: Manifest['files'] = [];
  const add = (name: string, kind: Manifest['files'][number]['kind'], sql: string, database?: string) => {
    const body = gzipSync(Buffer.from(sql));
    files[name] = body;
    entries.push({ name, kind, ...(database !== undefined ? { database } : {}), bytes: body.length, sha256: sha(body) });
  };
  add('postgres_cluster.sql.gz', 'cluster', `-- cluster ${folder}\n`);
  add('postgres_globals.sql.gz', 'globals', `-- globals ${folder}\n`);
  for (const db of databases) add(databaseFileName(db), 'database', `-- database ${db} of ${folder}\n`, db);
  const started = Date.UTC(+folder.slice(0, 4), +folder.slice(4, 6) - 1, +folder.slice(6, 8), +folder.slice(9, 11), +folder.slice(11, 13), +folder.slice(13, 15));
  const manifest: Manifest = {
    format: 'pg-backups/1',
    tool: { name: 'pg-backups', version: '0.1.0' },
    folder,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(started + 1000).toISOString(),
    server: { version: '15.18', versionNum: 150018, major: 15 },
    pgDump: { version: '15.18', major: 15 },
    compression: { format: 'gzip', level: 6 },
    dumpFormat: 'plain',
    rolePasswords: true,
    databases,
    clusterDatabases: ['postgres', ...databases],
    files: entries,
  };
  files['manifest.json'] = Buffer.from(`${JSON.stringify(edit(manifest), null, 2)}\n`);
  return files;
}

/** Writes files into <dir>/<folder>/ and returns the folder's path. */
export async function writeFolder(dir: string, folder: string, files: Record<string, Buffer | string>): Promise<string> {
  const path = join(dir, folder);
  await mkdir(path, { recursive: true });
  for (const [name, body] of Object.entries(files)) await writeFile(join(path, name), body);
  return path;
}

/** A whole backup folder on local disk. */
export function writeFakeBackup(dir: string, folder: string, databases?: string[]): Promise<string> {
  return writeFolder(dir, folder, folderFiles(folder, databases));
}
