// Backups on a remote host over SSH (RSYNC_*): the protocol. Pushed into a hidden partial folder
// that is renamed into place only when whole; listed, read and deleted over SFTP. The transports
// are rsync.ts (the push), ssh-connection.ts / ssh-sftp.ts / ssh-sftp-stream.ts (SFTP). Host keys are
// always checked against RSYNC_KNOWN_HOSTS, by ssh2 and by the ssh that rsync runs.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Client, FileEntryWithStats, SFTPWrapper } from 'ssh2';
import type { Manifest } from '../core/backup/manifest.js';
import { FOLDER_PATTERN, folderTime, MANIFEST_FILE } from '../core/backup/names.js';
import { AbortedError, ExternalError, UsageError, VerificationError, messageOf } from '../core/errors.js';
import { withRetry } from '../core/retry.js';
import type { RemoteSettings } from '../core/settings/destinations.js';
import type { KeepRule } from '../core/rotation.js';
import { mapLimit } from '../core/map-limit.js';
import { sftpReadStream } from './ssh-sftp-stream.js';
import { rsyncInto } from './rsync.js';
import { entryWithManifest, entryWithoutManifest, foreignEntry, manifestNotAFile, oversizedManifest, type ListedFolder } from './entry.js';
import { newestFirst, type BackupEntry, type Destination, type PushProgress } from '../core/source.js';
import { isSeed002File, seed002Entry, seed002Foreign, seed002Time } from '../core/seed002.js';
import { connectSsh, isTransientRemote, loadPrivateKey, openSftp, RemoteError, withSsh } from './ssh-connection.js';
import { isNoSuchFile, mkdirp, removeTree, rjoin, sftpCode, sftpOps, SFTP_FAILURE, type SftpOps } from './ssh-sftp.js';

/** A hidden partial folder untouched for this long belongs to a push that died: the next push deletes it. */
export const STALE_PARTIAL_MS = 6 * 3600 * 1000;
const PARTIAL_PATTERN = /^\.pg-backups-(\d{8}_\d{6})\.partial$/;

export function partialFolderName(folder: string): string {
  return `.pg-backups-${folder}.partial`;
}

export class RemoteDestination implements Destination {
  readonly kind = 'remote' as const;
  readonly location: string;
  readonly retentionDays: number;
  readonly keepRules: readonly KeepRule[];

  constructor(readonly settings: RemoteSettings) {
    const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
    this.location = `${settings.user}@${host}:${settings.port === 22 ? '' : `${settings.port}:`}${settings.path}`;
    this.retentionDays = settings.retentionDays;
    this.keepRules = settings.keepRules;
  }

  /** The prefix of every message: names the destination. */
  private get where(): string {
    return `remote ${this.location}`;
  }

  /**
   * Checks the settings that need no network (RSYNC_SSH_KEY exists and is usable), throwing a
   * UsageError; for commands that validate everything before touching anything.
   */
  async checkSettings(): Promise<void> {
    await loadPrivateKey(this.settings);
  }

  /** Connects (host key, login) and checks that RSYNC_PATH is a readable folder or absent. */
  async check(signal?: AbortSignal): Promise<void> {
    await this.retrying('check', signal, () =>
      this.withSftp(signal, async (ops) => {
        const st = await ops.statIfExists(this.settings.path).catch((err) => {
          throw this.sftpError(err, `cannot read RSYNC_PATH ${this.settings.path}`);
        });
        if (st && !st.isDirectory()) throw new RemoteError(`${this.where}: RSYNC_PATH ${this.settings.path} is not a directory`);
      }),
    );
  }

  // ---------------------------------------------------------------- list, read, remove

  async list(signal?: AbortSignal): Promise<BackupEntry[]> {
    return this.retrying('list', signal, () =>
      this.withSftp(signal, async (ops) => {
        let names: FileEntryWithStats[];
        try {
          names = await ops.readdir(this.settings.path);
        } catch (err) {
          if (isNoSuchFile(err)) return [];
          throw this.sftpError(err, `cannot list ${this.settings.path}`);
        }
        const candidates = names.filter((e) => folderTime(e.filename) !== undefined);
        const entries = await mapLimit(candidates, 8, (e) => this.readEntry(ops, e));
        // seed 002's flat files at the top of RSYNC_PATH (a link named like one is not ours)
        for (const e of names) {
          const time = seed002Time(e.filename);
          if (time && e.attrs.isSymbolicLink()) entries.push(seed002Foreign(e.filename, time, 'a symbolic link'));
          else if (time && e.attrs.isFile()) entries.push(seed002Entry({ name: e.filename, bytes: e.attrs.size }));
        }
        return entries.filter((e): e is BackupEntry => e !== undefined).sort(newestFirst);
      }),
    );
  }

  private async readEntry(ops: SftpOps, e: FileEntryWithStats): Promise<BackupEntry | undefined> {
    const folder = e.filename;
    const time = folderTime(folder)!;
    const path = rjoin(this.settings.path, folder);
    // readdir's attributes are lstat's: a link named like a backup folder is shown, never followed.
    if (e.attrs.isSymbolicLink()) return foreignEntry(folder, time, 'a symbolic link');
    if (!e.attrs.isDirectory()) return undefined;
    let names: FileEntryWithStats[];
    try {
      names = await ops.readdir(path);
    } catch (err) {
      if (sftpCode(err) !== undefined) return undefined; // vanished or unreadable: not a backup we can offer
      throw this.sftpError(err, `cannot list ${path}`);
    }
    const listed: ListedFolder = { folder, time, files: [], others: new Map() };
    for (const n of names) {
      if (n.filename === '.' || n.filename === '..') continue;
      if (n.attrs.isFile()) listed.files.push({ name: n.filename, bytes: n.attrs.size });
      else listed.others!.set(n.filename, n.attrs.isSymbolicLink() ? 'a symbolic link' : n.attrs.isDirectory() ? 'a folder' : 'not a regular file');
    }
    const linkedManifest = manifestNotAFile(listed);
    if (linkedManifest) return foreignEntry(folder, time, `a folder whose ${linkedManifest.replace(/^its /, '')}`);
    const manifestEntry = listed.files.find((f) => f.name === MANIFEST_FILE);
    if (!manifestEntry) return entryWithoutManifest(listed);
    const where = `${this.location}/${folder}`;
    const oversized = oversizedManifest(listed, where, manifestEntry.bytes);
    if (oversized) return oversized;
    let text: string;
    try {
      text = (await ops.readFile(rjoin(path, MANIFEST_FILE))).toString('utf8');
    } catch (err) {
      if (sftpCode(err) === undefined) throw this.sftpError(err, `cannot read ${path}/${MANIFEST_FILE}`);
      return { folder, time, status: 'damaged', problem: `cannot read ${where}/${MANIFEST_FILE}: ${err instanceof Error ? err.message : String(err)}`, files: listed.files };
    }
    return entryWithManifest(listed, text, where);
  }

  async openFile(folder: string, file: string, signal?: AbortSignal): Promise<Readable> {
    checkName(folder, 'folder');
    checkName(file, 'file');
    // A seed 002 backup is the file itself, at the top of RSYNC_PATH.
    const single = isSeed002File(folder);
    if (single && file !== folder) throw new VerificationError(`${this.where}: ${file} is not the file of ${folder}`);
    const path = single ? rjoin(this.settings.path, file) : rjoin(this.settings.path, folder, file);
    return this.retrying(`read ${folder}/${file}`, signal, async () => {
      const client = await connectSsh(this.settings, this.where, { signal });
      try {
        const sftp = await openSftp(client, this.where);
        const ops = sftpOps(sftp);
        if (!single) await this.realFolder(ops, rjoin(this.settings.path, folder));
        const st = await ops.lstat(path).catch((err) => {
          if (isNoSuchFile(err)) throw new VerificationError(`${this.where}: ${path} is missing`);
          throw this.sftpError(err, `cannot read ${path}`);
        });
        if (st.isSymbolicLink()) throw new VerificationError(`${this.where}: ${path} is a symbolic link, not a file pg-backups wrote; it is not read`);
        if (!st.isFile()) throw new VerificationError(`${this.where}: ${path} is not a file`);
        const handle = await new Promise<Buffer>((resolve, reject) =>
          sftp.open(path, 'r', (err, h) => (err ? reject(this.sftpError(err, `cannot open ${path}`)) : resolve(h))),
        );
        return sftpReadStream(client, sftp, handle, st.size, path, this.where, signal);
      } catch (err) {
        client.end();
        throw err;
      }
    });
  }

  async remove(entry: BackupEntry, signal?: AbortSignal): Promise<void> {
    await this.removeAll([entry], signal);
  }

  /**
   * Deletes several finished backups over one SSH session (a prune of a year of folders would
   * otherwise open hundreds); a retry after a dropped connection goes on with the ones not yet gone.
   */
  async removeAll(entries: BackupEntry[], signal?: AbortSignal, onRemoved?: (entry: BackupEntry) => void): Promise<void> {
    for (const entry of entries) {
      if (entry.status !== 'finished' || !entry.manifest) throw new Error(`only finished backups are removed, not ${entry.folder}`);
      checkName(entry.folder, 'folder');
      for (const f of entry.manifest.files) checkName(f.name, 'file');
    }
    const done = new Set<string>();
    await this.retrying(entries.length === 1 ? `delete ${entries[0]!.folder}` : `delete ${entries.length} backups`, signal, () =>
      this.withSftp(signal, async (ops) => {
        for (const entry of entries) {
          if (done.has(entry.folder)) continue;
          signal?.throwIfAborted();
          await this.removeFolder(ops, entry);
          done.add(entry.folder);
          onRemoved?.(entry);
        }
      }),
    );
  }

  private async removeFolder(ops: SftpOps, entry: BackupEntry): Promise<void> {
    const manifest = entry.manifest!;
    const path = rjoin(this.settings.path, entry.folder);
    await this.realFolder(ops, path);
    const unlink = async (name: string) => {
      try {
        // Only a regular file: a link (or anything else) of that name is not what pg-backups wrote.
        if (!(await ops.lstat(rjoin(path, name))).isFile()) return;
        await ops.unlink(rjoin(path, name));
      } catch (err) {
        if (!isNoSuchFile(err)) throw this.sftpError(err, `cannot delete ${rjoin(path, name)}`);
      }
    };
    await unlink(MANIFEST_FILE); // first: from here on the folder no longer looks finished
    for (const f of manifest.files) await unlink(f.name);
    try {
      await ops.rmdir(path); // only if empty: files we did not write stay, and so does their folder
    } catch (err) {
      const code = sftpCode(err);
      if (code !== SFTP_FAILURE && !isNoSuchFile(err)) throw this.sftpError(err, `cannot delete ${path}`);
    }
  }

  /** Throws unless `path` is a real folder on the remote host (not a symbolic link to one). */
  private async realFolder(ops: SftpOps, path: string): Promise<void> {
    const st = await ops.lstat(path).catch((err) => {
      if (isNoSuchFile(err)) throw new VerificationError(`${this.where}: ${path} is missing`);
      throw this.sftpError(err, `cannot read ${path}`);
    });
    if (st.isSymbolicLink()) throw new VerificationError(`${this.where}: ${path} is a symbolic link, not a folder pg-backups wrote; it is left alone`);
    if (!st.isDirectory()) throw new VerificationError(`${this.where}: ${path} is not a folder`);
  }

  // ---------------------------------------------------------------- push

  async push(
    localPath: string,
    manifest: Manifest,
    opts: { signal?: AbortSignal; onProgress?: (p: PushProgress) => void; onRetry?: (message: string) => void } = {},
  ): Promise<void> {
    const { signal } = opts;
    const folder = manifest.folder;
    if (!FOLDER_PATTERN.test(folder)) throw new Error(`push: ${JSON.stringify(folder)} is not a backup folder name`);
    for (const f of manifest.files) checkName(f.name, 'file');
    const localManifest = await readFile(join(localPath, MANIFEST_FILE));
    const partial = partialFolderName(folder);
    const partialPath = rjoin(this.settings.path, partial);
    const finalPath = rjoin(this.settings.path, folder);
    const expected = new Map<string, number>(manifest.files.map((f) => [f.name, f.bytes]));
    expected.set(MANIFEST_FILE, localManifest.length);
    let touched = false;
    try {
      await this.retrying(
        `push of ${folder}`,
        signal,
        async () => {
          // 1. RSYNC_PATH exists, the folder is not there yet, stale partial folders go.
          const already = await this.withSftp(signal, async (ops) => {
            await mkdirp(ops, this.settings.path).catch((err) => {
              throw this.sftpError(err, `cannot create RSYNC_PATH ${this.settings.path}`);
            });
            if (await this.existingCopy(ops, finalPath, localManifest)) return true;
            await this.removeStalePartials(ops, partial);
            return false;
          });
          if (already) return;
          // 2. rsync everything into the hidden partial folder.
          touched = true;
          await rsyncInto({ settings: this.settings, where: this.where, localPath, partialPath, folder, expected, signal, onProgress: opts.onProgress });
          // 3. Every file whole (sizes as in the manifest), then the rename that makes it finished.
          await this.withSftp(signal, async (ops) => {
            let names: FileEntryWithStats[];
            try {
              names = await ops.readdir(partialPath);
            } catch (err) {
              throw this.sftpError(err, `cannot list ${partialPath} after rsync`, true);
            }
            const sizes = new Map(names.filter((n) => n.attrs.isFile()).map((n) => [n.filename, n.attrs.size]));
            for (const [name, bytes] of expected) {
              const got = sizes.get(name);
              if (got !== bytes) {
                throw new RemoteError(`${this.where}: after rsync of ${folder}, ${name} has ${got === undefined ? 'not arrived' : `${got} bytes instead of ${bytes}`}`, true);
              }
            }
            if (await ops.statIfExists(finalPath)) throw new RemoteError(`${this.where}: ${finalPath} appeared during the push; not replacing it`);
            try {
              await ops.rename(partialPath, finalPath);
            } catch (err) {
              throw this.sftpError(err, `cannot rename ${partialPath} to ${finalPath}`);
            }
          });
        },
        opts.onRetry,
      );
    } catch (err) {
      if (touched) await this.removePartialBestEffort(partialPath);
      throw err;
    }
  }

  /** Whether the folder is already there: the same backup (same manifest) is success, another one a refusal. */
  private async existingCopy(ops: SftpOps, finalPath: string, localManifest: Buffer): Promise<boolean> {
    const st = await ops.statIfExists(finalPath).catch((err) => {
      throw this.sftpError(err, `cannot read ${finalPath}`);
    });
    if (!st) return false;
    const remote = await ops.readFile(rjoin(finalPath, MANIFEST_FILE)).catch(() => undefined);
    if (remote && remote.equals(localManifest)) return true;
    throw new RemoteError(`${this.where}: ${finalPath} already exists and holds another backup; not replacing it`);
  }

  private async removeStalePartials(ops: SftpOps, current: string): Promise<void> {
    let names: FileEntryWithStats[];
    try {
      names = await ops.readdir(this.settings.path);
    } catch {
      return;
    }
    const now = Date.now();
    for (const e of names) {
      if (!PARTIAL_PATTERN.test(e.filename) || e.filename === current || !e.attrs.isDirectory()) continue;
      const path = rjoin(this.settings.path, e.filename);
      try {
        // Untouched for hours: the folder and everything in it (a transfer in progress writes a file).
        let newest = e.attrs.mtime * 1000;
        for (const inner of await ops.readdir(path)) newest = Math.max(newest, inner.attrs.mtime * 1000);
        if (now - newest > STALE_PARTIAL_MS) await removeTree(ops, path);
      } catch {
        /* best effort: the next push tries again */
      }
    }
  }

  private async removePartialBestEffort(partialPath: string): Promise<void> {
    const work = this.withSftp(undefined, (ops) => removeTree(ops, partialPath), 5_000).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, 15_000)))]);
    clearTimeout(timer);
  }

  // ---------------------------------------------------------------- helpers

  private async withSftp<T>(signal: AbortSignal | undefined, work: (ops: SftpOps, sftp: SFTPWrapper) => Promise<T>, readyTimeoutMs?: number): Promise<T> {
    return withSsh(this.settings, this.where, { signal, readyTimeoutMs }, async (client: Client) => {
      const sftp = await openSftp(client, this.where);
      return work(sftpOps(sftp), sftp);
    });
  }

  private sftpError(err: unknown, what: string, transient?: boolean): Error {
    if (err instanceof ExternalError || err instanceof VerificationError || err instanceof AbortedError || err instanceof UsageError) return err;
    const status = sftpCode(err);
    const text = err instanceof Error ? err.message : String(err);
    // A status code is the server's answer (permission denied, no space...); none means the channel died.
    return new RemoteError(`${this.where}: ${what}: ${text}`, transient ?? status === undefined);
  }

  private async retrying<T>(what: string, signal: AbortSignal | undefined, work: () => Promise<T>, onRetry?: (message: string) => void): Promise<T> {
    const policy = this.settings.retry;
    try {
      return await withRetry(work, {
        policy,
        signal,
        what,
        isTransient: isTransientRemote,
        onRetry: (info) =>
          onRetry?.(`${messageOf(info.error)}; ${what}: try ${info.attempt} of ${info.of} failed, trying again in ${(info.waitMs / 1000).toFixed(1)} s`),
      });
    } catch (err) {
      if (isTransientRemote(err) && policy.attempts > 0) throw new RemoteError(`${(err as Error).message} (gave up after ${policy.attempts + 1} tries)`, true);
      throw err;
    }
  }
}

function checkName(name: string, what: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) throw new VerificationError(`${JSON.stringify(name)} is not a valid ${what} name`);
}

