// Backups in a local folder (BACKUP_DIR). Nothing here follows a symbolic link out of BACKUP_DIR:
// a folder or file that is a link is listed for what it is (not ours) and never read or deleted.
import { constants } from 'node:fs';
import { lstat, open, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ExternalError, UsageError, VerificationError, messageOf } from '../core/errors.js';
import { folderTime, MANIFEST_FILE } from '../core/backup/names.js';
import { entryWithManifest, entryWithoutManifest, foreignEntry, manifestNotAFile, oversizedManifest, type ListedFolder } from './entry.js';
import { newestFirst, type BackupEntry, type BackupSource } from '../core/source.js';
import { isSeed002File, seed002Entry, seed002Foreign, seed002Time } from '../core/seed002.js';

export class LocalSource implements BackupSource {
  readonly kind = 'local' as const;

  constructor(readonly dir: string) {}

  get location(): string {
    return this.dir;
  }

  async list(): Promise<BackupEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UsageError(`BACKUP_DIR ${this.dir} does not exist; point BACKUP_DIR at the folder that holds the backups, e.g. BACKUP_DIR=/backups`);
      if (code === 'ENOTDIR') throw new UsageError(`BACKUP_DIR ${this.dir} is not a folder; point BACKUP_DIR at the folder that holds the backups, e.g. BACKUP_DIR=/backups`);
      throw new ExternalError(`cannot read BACKUP_DIR ${this.dir}: ${messageOf(err)}`);
    }
    const entries: BackupEntry[] = [];
    for (const folder of names) {
      const single = seed002Time(folder);
      if (single) {
        const entry = await this.singleEntry(folder, single);
        if (entry) entries.push(entry);
        continue;
      }
      const time = folderTime(folder);
      if (!time) continue;
      const entry = await this.readEntry(folder, time);
      if (entry) entries.push(entry);
    }
    return entries.sort(newestFirst);
  }

  /** A seed 002 file at the top of BACKUP_DIR: a regular file is a backup, a link is not ours. */
  private async singleEntry(name: string, time: Date): Promise<BackupEntry | undefined> {
    try {
      const st = await lstat(join(this.dir, name));
      if (st.isSymbolicLink()) return seed002Foreign(name, time, 'a symbolic link');
      return st.isFile() ? seed002Entry({ name, bytes: st.size }) : undefined;
    } catch {
      return undefined; // vanished meanwhile
    }
  }

  private async readEntry(folder: string, time: Date): Promise<BackupEntry | undefined> {
    const path = join(this.dir, folder);
    let names: string[];
    try {
      const st = await lstat(path);
      if (st.isSymbolicLink()) return foreignEntry(folder, time, 'a symbolic link');
      if (!st.isDirectory()) return undefined;
      names = await readdir(path);
    } catch {
      return undefined; // vanished meanwhile, or unreadable: not a backup we can offer
    }
    const listed: ListedFolder = { folder, time, files: [], others: new Map() };
    for (const name of names) {
      try {
        const s = await lstat(join(path, name));
        if (s.isFile()) listed.files.push({ name, bytes: s.size });
        else listed.others!.set(name, s.isSymbolicLink() ? 'a symbolic link' : s.isDirectory() ? 'a folder' : 'not a regular file');
      } catch {
        /* vanished meanwhile */
      }
    }
    const linkedManifest = manifestNotAFile(listed);
    if (linkedManifest) return foreignEntry(folder, time, `a folder whose ${MANIFEST_FILE} is ${listed.others!.get(MANIFEST_FILE)}`);
    const manifestFile = listed.files.find((f) => f.name === MANIFEST_FILE);
    if (!manifestFile) return entryWithoutManifest(listed);
    const where = path;
    const oversized = oversizedManifest(listed, where, manifestFile.bytes);
    if (oversized) return oversized;
    let text: string;
    try {
      const stream = await this.openRegular(folder, MANIFEST_FILE);
      text = (await stream.toArray()).map((b: Buffer) => b.toString('utf8')).join('');
    } catch (err) {
      return { folder, time, status: 'damaged', problem: `cannot read ${where}/${MANIFEST_FILE}: ${messageOf(err)}`, files: listed.files };
    }
    return entryWithManifest(listed, text, where);
  }

  async openFile(folder: string, file: string): Promise<Readable> {
    return this.openRegular(folder, file);
  }

  /**
   * A stream of a regular file directly inside a real folder of BACKUP_DIR: a folder that is a
   * symbolic link, or a file that is one, is refused (VerificationError), never followed.
   */
  private async openRegular(folder: string, file: string): Promise<Readable> {
    // A seed 002 backup is the file itself, at the top of BACKUP_DIR.
    const single = isSeed002File(folder);
    const dirPath = single ? this.dir : join(this.dir, folder);
    const path = join(dirPath, file);
    if (single ? file !== folder : !folderTime(folder) || file.includes('/') || file === '.' || file === '..') throw new VerificationError(`${path} is not a file of a backup folder`);
    if (!single) await this.realFolder(dirPath);
    let handle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new VerificationError(`${path} is missing`);
      if (code === 'ELOOP') throw new VerificationError(`${path} is a symbolic link, not a file pg-backups wrote; it is not read`);
      throw new ExternalError(`cannot read ${path}: ${messageOf(err)}`);
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new VerificationError(`${path} is not a regular file`);
    }
    return handle.createReadStream();
  }

  /** Throws unless `path` is a real folder (not a symbolic link to one). */
  private async realFolder(path: string): Promise<void> {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VerificationError(`${path} is missing`);
      throw new ExternalError(`cannot read ${path}: ${messageOf(err)}`);
    }
    if (st.isSymbolicLink()) throw new VerificationError(`${path} is a symbolic link, not a folder pg-backups wrote; it is left alone`);
    if (!st.isDirectory()) throw new VerificationError(`${path} is not a folder`);
  }

  async remove(entry: BackupEntry): Promise<void> {
    if (entry.status !== 'finished' || !entry.manifest) throw new Error(`only finished backups are removed, not ${entry.folder}`);
    const path = join(this.dir, entry.folder);
    await this.realFolder(path);
    const removeFile = async (name: string) => {
      const file = join(path, name);
      try {
        // Only a regular file: a link (or anything else) of that name is not what pg-backups wrote.
        if (!(await lstat(file)).isFile()) return;
        await unlink(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ExternalError(`cannot delete ${file}: ${messageOf(err)}`);
      }
    };
    await removeFile(MANIFEST_FILE);
    for (const file of entry.manifest.files) await removeFile(file.name);
    try {
      await rmdir(path); // only if empty: files we did not write stay, and so does their folder
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw new ExternalError(`cannot delete ${path}: ${messageOf(err)}`);
    }
  }
}
