// Backups in a local folder (BACKUP_DIR).
import { createReadStream } from 'node:fs';
import { readdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ExternalError, VerificationError, messageOf } from '../core/errors.js';
import { parseManifest } from '../core/backup/manifest.js';
import { folderTime, isBackupFileName, MANIFEST_FILE } from '../core/backup/names.js';
import type { BackupEntry, BackupSource } from './source.js';

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
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ExternalError(`cannot read BACKUP_DIR ${this.dir}: ${messageOf(err)}`);
    }
    const entries: BackupEntry[] = [];
    for (const folder of names) {
      const time = folderTime(folder);
      if (!time) continue;
      const entry = await this.readEntry(folder, time);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => b.folder.localeCompare(a.folder));
  }

  private async readEntry(folder: string, time: Date): Promise<BackupEntry | undefined> {
    const path = join(this.dir, folder);
    let names: string[];
    try {
      if (!(await stat(path)).isDirectory()) return undefined;
      names = await readdir(path);
    } catch {
      return undefined;
    }
    const files: BackupEntry['files'] = [];
    for (const name of names) {
      try {
        const s = await stat(join(path, name));
        if (s.isFile()) files.push({ name, bytes: s.size });
      } catch {
        /* vanished meanwhile */
      }
    }
    if (names.includes(MANIFEST_FILE)) {
      try {
        const manifest = parseManifest(await readFile(join(path, MANIFEST_FILE), 'utf8'), path);
        return { folder, time, status: 'finished', manifest, files };
      } catch (err) {
        return { folder, time, status: 'damaged', problem: messageOf(err), files };
      }
    }
    const backupFiles = files.filter((f) => isBackupFileName(f.name));
    if (backupFiles.length === 0) return undefined;
    return { folder, time, status: 'legacy', files: backupFiles };
  }

  async openFile(folder: string, file: string): Promise<Readable> {
    const path = join(this.dir, folder, file);
    const stream = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (err) =>
        reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new VerificationError(`${path} is missing`) : new ExternalError(`cannot read ${path}: ${messageOf(err)}`)),
      );
    });
    return stream;
  }

  async remove(entry: BackupEntry): Promise<void> {
    if (entry.status !== 'finished' || !entry.manifest) throw new Error(`only finished backups are removed, not ${entry.folder}`);
    const path = join(this.dir, entry.folder);
    const removeFile = async (name: string) => {
      try {
        await unlink(join(path, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ExternalError(`cannot delete ${join(path, name)}: ${messageOf(err)}`);
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
