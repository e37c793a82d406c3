// What the wizard has gathered so far: settings as environment variables, secrets apart. Answers
// are checked by running the very settings readers the commands run (core/settings/*) over the
// answers so far plus the new one, so the wizard cannot write a file the commands refuse.
import { UsageError } from '../errors.js';
import type { SettingInput } from '../settings/read.js';
import type { EnvEntry } from './env-file.js';

/** The order of the env file's lines. */
const ORDER = [
  'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE', 'BACKUP_DATABASES',
  'BACKUP_DIR', 'LOCAL_RETENTION_DAYS',
  'S3_ENABLED', 'S3_BUCKET', 'S3_PREFIX', 'S3_REGION', 'S3_ENDPOINT', 'S3_FORCE_PATH_STYLE', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_RETENTION_DAYS',
  'RSYNC_ENABLED', 'RSYNC_HOST', 'RSYNC_PORT', 'RSYNC_USER', 'RSYNC_PATH', 'RSYNC_SSH_KEY', 'RSYNC_KNOWN_HOSTS', 'RSYNC_RETENTION_DAYS',
  'TZ', 'BACKUP_SCHEDULE', 'KEEP_DAILY', 'KEEP_WEEKLY', 'KEEP_MONTHLY',
];

export const SECRET_NAMES = new Set(['PGPASSWORD', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']);

export class Answers {
  private readonly values = new Map<string, string>();

  /** Sets (or with undefined, removes) a setting. */
  set(name: string, value: string | undefined): void {
    if (value === undefined) this.values.delete(name);
    else this.values.set(name, value);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** Removes every setting starting with `prefix` (a destination turned off). */
  clear(prefix: string): void {
    for (const name of [...this.values.keys()]) if (name.startsWith(prefix)) this.values.delete(name);
  }

  /** The answers as a settings reader's input, with `extra` on top (an answer being checked). */
  input(extra: Record<string, string | undefined> = {}): SettingInput {
    const env: NodeJS.ProcessEnv = Object.fromEntries(this.values);
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return { env, flags: {} };
  }

  entries(): EnvEntry[] {
    const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
    return [...this.values.entries()].sort(([a], [b]) => rank(a) - rank(b)).map(([name, value]) => ({ name, value, secret: SECRET_NAMES.has(name) }));
  }
}

/** Runs a settings reader: true when it accepts, else its one-line message (for the question). */
export function accepted(read: () => unknown): true | string {
  try {
    read();
    return true;
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
}

/** accepted() for async checks. */
export async function acceptedAsync(read: () => Promise<unknown>): Promise<true | string> {
  try {
    await read();
    return true;
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
}
