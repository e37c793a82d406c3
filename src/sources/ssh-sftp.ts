// Promise wrappers over the few ssh2 SFTP calls the remote destination uses.
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_NO_SUCH_FILE = 2;
export const SFTP_PERMISSION_DENIED = 3;
export const SFTP_FAILURE = 4;

export function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNoSuchFile(err: unknown): boolean {
  return sftpCode(err) === SFTP_NO_SUCH_FILE;
}

function call<T>(fn: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

export const sftpOps = (sftp: SFTPWrapper) => ({
  readdir: (path: string) => call<FileEntryWithStats[]>((cb) => sftp.readdir(path, cb as never)),
  stat: (path: string) => call<Stats>((cb) => sftp.stat(path, cb as never)),
  lstat: (path: string) => call<Stats>((cb) => sftp.lstat(path, cb as never)),
  mkdir: (path: string) => call<void>((cb) => sftp.mkdir(path, cb as never)),
  rmdir: (path: string) => call<void>((cb) => sftp.rmdir(path, cb as never)),
  unlink: (path: string) => call<void>((cb) => sftp.unlink(path, cb as never)),
  rename: (from: string, to: string) => call<void>((cb) => sftp.rename(from, to, cb as never)),
  readFile: (path: string) => call<Buffer>((cb) => sftp.readFile(path, cb as never)),
  /** Stats, or undefined if the path does not exist. */
  statIfExists: async (path: string): Promise<Stats | undefined> => {
    try {
      return await call<Stats>((cb) => sftp.stat(path, cb as never));
    } catch (err) {
      if (isNoSuchFile(err)) return undefined;
      throw err;
    }
  },
});

export type SftpOps = ReturnType<typeof sftpOps>;

/** Joins remote (POSIX) path parts. */
export function rjoin(dir: string, ...parts: string[]): string {
  return [dir.replace(/\/+$/, ''), ...parts].join('/') || '/';
}

/** mkdir -p over SFTP. */
export async function mkdirp(ops: SftpOps, path: string): Promise<void> {
  const parts = path.split('/').filter(Boolean);
  let current = '';
  for (const part of parts) {
    current += `/${part}`;
    const st = await ops.statIfExists(current);
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${current} exists and is not a directory`), { code: SFTP_FAILURE });
      continue;
    }
    try {
      await ops.mkdir(current);
    } catch (err) {
      const again = await ops.statIfExists(current); // made meanwhile by someone else?
      if (!again?.isDirectory()) throw err;
    }
  }
}

/** rm -r over SFTP (depth-limited; symlinks are unlinked, never followed). */
export async function removeTree(ops: SftpOps, path: string, depth = 0): Promise<void> {
  if (depth > 8) throw new Error(`${path}: too deeply nested to delete`);
  let entries: FileEntryWithStats[];
  try {
    entries = await ops.readdir(path);
  } catch (err) {
    if (isNoSuchFile(err)) return;
    throw err;
  }
  for (const e of entries) {
    if (e.filename === '.' || e.filename === '..') continue;
    const child = rjoin(path, e.filename);
    if (e.attrs.isDirectory()) await removeTree(ops, child, depth + 1);
    else {
      try {
        await ops.unlink(child);
      } catch (err) {
        if (!isNoSuchFile(err)) throw err;
      }
    }
  }
  try {
    await ops.rmdir(path);
  } catch (err) {
    if (!isNoSuchFile(err)) throw err;
  }
}
