// How a listed folder becomes a BackupEntry, the same way on every source: the manifest (already
// parsed and checked) against the files the listing shows, by name, kind and size.
import { MAX_MANIFEST_BYTES, parseManifest } from '../core/backup/manifest.js';
import { isBackupFileName, MANIFEST_FILE } from '../core/backup/names.js';
import { messageOf } from '../core/errors.js';
import type { BackupEntry } from '../core/source.js';

export interface ListedFolder {
  folder: string;
  time: Date;
  /** Regular files directly in the folder, with their sizes. */
  files: Array<{ name: string; bytes: number }>;
  /** Other names in the folder and what they are ("a symbolic link", "a folder"). */
  others?: Map<string, string>;
}

/** The entry of a folder whose manifest text was read; `where` names it in messages. */
export function entryWithManifest(listed: ListedFolder, manifestText: string, where: string): BackupEntry {
  const { folder, time, files } = listed;
  let manifest;
  try {
    manifest = parseManifest(manifestText, where, folder);
  } catch (err) {
    return { folder, time, status: 'damaged', problem: messageOf(err), files };
  }
  const sizes = new Map(files.map((f) => [f.name, f.bytes]));
  const problems: string[] = [];
  for (const f of manifest.files) {
    const bytes = sizes.get(f.name);
    const other = listed.others?.get(f.name);
    if (other) problems.push(`${f.name} is ${other}, not a file pg-backups wrote`);
    else if (bytes === undefined) problems.push(`${f.name} is missing`);
    else if (bytes !== f.bytes) problems.push(`${f.name} has ${bytes} bytes, the manifest says ${f.bytes}`);
  }
  if (problems.length > 0) return { folder, time, status: 'incomplete', manifest, problem: problems.join('; '), files };
  return { folder, time, status: 'finished', manifest, files };
}

/** The entry of a folder without manifest: a legacy backup if it holds backup files, else nothing. */
export function entryWithoutManifest(listed: ListedFolder): BackupEntry | undefined {
  const backupFiles = listed.files.filter((f) => isBackupFileName(f.name));
  if (backupFiles.length === 0) return undefined;
  return { folder: listed.folder, time: listed.time, status: 'legacy', files: backupFiles };
}

/** A name that looks like a backup folder but is not one pg-backups wrote. */
export function foreignEntry(folder: string, time: Date, what: string): BackupEntry {
  return { folder, time, status: 'foreign', problem: `${what}, not a folder pg-backups wrote; left alone`, files: [] };
}

/** The problem of a manifest.json that is not a regular file, or undefined. */
export function manifestNotAFile(listed: ListedFolder): string | undefined {
  const other = listed.others?.get(MANIFEST_FILE);
  return other ? `its ${MANIFEST_FILE} is ${other}` : undefined;
}

/** A damaged entry when the listing shows a manifest too big to be one (it is then never read). */
export function oversizedManifest(listed: ListedFolder, where: string, bytes: number): BackupEntry | undefined {
  if (bytes <= MAX_MANIFEST_BYTES) return undefined;
  return { folder: listed.folder, time: listed.time, status: 'damaged', problem: `${where}/${MANIFEST_FILE} is ${bytes} bytes, too big for a manifest; the backup is damaged`, files: listed.files };
}
