// A run writes into a hidden staging folder beside the finished ones and renames it into place
// only after manifest.json is written and synced: a folder named YYYYMMDD_HHMMSS is always whole.
import { access, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalError, messageOf } from '../errors.js';

const PREFIX = '.pg-backups-';
const SUFFIX = '.partial';

export function stagingPath(dir: string, folder: string): string {
  return join(dir, `${PREFIX}${folder}${SUFFIX}`);
}

/** Removes staging folders left by runs that died (call only while holding the run lock). */
export async function removeStaleStaging(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith(PREFIX) && name.endsWith(SUFFIX)) {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

export async function createStaging(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o750 });
  } catch (err) {
    throw new ExternalError(`cannot create ${path}: ${messageOf(err)}`);
  }
}

/** Makes the staging folder the finished backup folder; fails rather than replace an existing one. */
export async function publishStaging(staging: string, final: string, parent: string): Promise<void> {
  try {
    if (await exists(final)) throw new Error('a folder of that name already exists');
    await rename(staging, final);
    await syncDir(parent);
  } catch (err) {
    throw new ExternalError(`cannot move the finished backup into place at ${final}: ${messageOf(err)}`);
  }
}

export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
