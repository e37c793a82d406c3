// A picture of a folder tree for "nothing here changed" checks: every path (links not followed) with
// the sha256 of its content, "dir", or the link's target.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (path: string, rel: string) => {
    const st = await lstat(path);
    if (st.isSymbolicLink()) out[rel] = `link -> ${await readlink(path)}`;
    else if (st.isDirectory()) {
      out[rel] = 'dir';
      for (const name of (await readdir(path)).sort()) await walk(join(path, name), rel ? `${rel}/${name}` : name);
    } else out[rel] = createHash('sha256').update(await readFile(path)).digest('hex');
  };
  await walk(dir, '');
  return out;
}
