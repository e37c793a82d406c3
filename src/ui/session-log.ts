// The full log of a terminal session, in a file under RESTORE_DIR (the screen disappears on exit;
// the file stays): every step, warning, progress line and result, secrets masked.
import { appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messageOf } from '../core/errors.js';
import { redact } from '../core/secrets.js';

export interface SessionLog {
  path: string;
  /** Why the log is not under RESTORE_DIR, when it could not be written there. */
  fallback?: string;
  write(level: 'info' | 'warn' | 'error', text: string): void;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '_').replace(/\..*$/, '');
}

export function openSessionLog(restoreDir: string, now: Date = new Date()): SessionLog {
  const name = `pg-backups-session-${stamp(now)}-${process.pid}.log`;
  let path = join(restoreDir, name);
  let fallback: string | undefined;
  try {
    mkdirSync(restoreDir, { recursive: true });
    appendFileSync(path, `${now.toISOString()} info  terminal session started (pg-backups, pid ${process.pid})\n`);
  } catch (err) {
    fallback = `RESTORE_DIR ${restoreDir} cannot be written (${messageOf(err)})`;
    path = join(tmpdir(), name);
    appendFileSync(path, `${now.toISOString()} warn  ${fallback}; the log is here instead\n`);
  }
  return {
    path,
    fallback,
    write(level, text) {
      try {
        appendFileSync(path, `${new Date().toISOString()} ${level.padEnd(5)} ${redact(text)}\n`);
      } catch {
        // A full disk must not stop a restore in progress; the screen still shows the lines.
      }
    },
  };
}
