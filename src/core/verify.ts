// Verifying a backup on a source: every file's gzip stream is read to the end, and for finished
// backups its size and sha256 are compared with the manifest. A seed 002 file has neither manifest
// nor checksum: it is decrypted (.enc, with BACKUP_ENCRYPTION_KEY) and gunzipped to its end, and
// must end with pg_dump's closing line; without the key only its size can be checked.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { decryptStages, hasKeyFor, isEncryptedName } from './encryption/age-stream.js';
import { AbortedError, VerificationError } from './errors.js';
import { CheckingStream, FileDamage, gzipProblem } from './file-check.js';
import type { BackupEntry, BackupSource } from './source.js';
import { isArchiveName } from './backup/names.js';
import { archiveTocCheck } from './restore/archive-check.js';

export interface FileCheck {
  name: string;
  ok: boolean;
  bytes: number;
  problem?: string;
}

export interface VerifyReport {
  folder: string;
  source: string;
  status: BackupEntry['status'];
  ok: boolean;
  problems: string[];
  files: FileCheck[];
  /** What was not checked, e.g. the gzip streams of encrypted files when no key was given. */
  notes?: string[];
}

export async function verifyBackup(
  source: BackupSource,
  entry: BackupEntry,
  opts: { signal?: AbortSignal; onFile?: (check: FileCheck) => void } = {},
): Promise<VerifyReport> {
  const problems: string[] = [];
  const files: FileCheck[] = [];
  const expected: Array<{ name: string; bytes?: number; sha256?: string }> = [];

  if (entry.status === 'damaged' || entry.status === 'foreign') {
    // The manifest failed its check (it is not read further), or the folder is not ours (never read).
    problems.push(entry.problem ?? 'the manifest cannot be read');
  } else if (entry.manifest) {
    // finished or incomplete: every file the manifest names, each checked (a missing one says so).
    expected.push(...entry.manifest.files);
  } else {
    expected.push(...entry.files.map((f) => ({ name: f.name })));
  }

  for (const file of expected) {
    opts.signal?.throwIfAborted();
    const check = await checkFile(source, entry.folder, file, opts.signal, entry.single !== undefined);
    files.push(check);
    if (!check.ok) problems.push(`${file.name}: ${check.problem}`);
    opts.onFile?.(check);
  }
  const unread = expected.some((f) => isEncryptedName(f.name) && !hasKeyFor(f.name));
  const notes = !unread
    ? undefined
    : entry.single
      ? [`${entry.single.file} is encrypted (openssl, seed 002) and BACKUP_ENCRYPTION_KEY is not set: it could not be checked beyond its size (seed 002 wrote no checksum); its content was not read`]
      : ['the files are encrypted and no RESTORE_IDENTITY_FILE (or BACKUP_ENCRYPTION_KEY) was given: sizes and sha256 of the stored bytes were checked, the gzip streams were not'];
  return { folder: entry.folder, source: source.location, status: entry.status, ok: problems.length === 0, problems, files, ...(notes ? { notes } : {}) };
}

async function checkFile(
  source: BackupSource,
  folder: string,
  file: { name: string; bytes?: number; sha256?: string },
  signal?: AbortSignal,
  single = false,
): Promise<FileCheck> {
  // An encrypted file: size and sha256 of the stored bytes; with a key also decrypted (age checks
  // every chunk) and its gzip stream read to the end. A seed 002 file: its SQL must end as pg_dump's does.
  const encrypted = isEncryptedName(file.name);
  const readable = !encrypted || hasKeyFor(file.name);
  const tail = single && readable ? new DumpTail() : undefined;
  // A custom-format archive (.dump): its header and table of contents are read (its data is
  // pg_dump's own compression, covered by the sha256).
  const archive = readable && isArchiveName(file.name) ? archiveTocCheck() : undefined;
  const check = new CheckingStream({ bytes: file.bytes, sha256: file.sha256 }, undefined, { gzip: !encrypted && !tail && !isArchiveName(file.name) });
  const decrypt = archive ? decryptStages(file.name) : readable && (encrypted || tail) ? [...decryptStages(file.name), createGunzip()] : [];
  try {
    const stream = await source.openFile(folder, file.name, signal);
    await (pipeline as (...streams: unknown[]) => Promise<void>)(stream, check, ...decrypt, archive ?? tail ?? new Writable({ write: (_c, _e, done) => done() }), { signal });
    if (tail && !tail.complete()) return { name: file.name, ok: false, bytes: check.bytes, problem: `its SQL does not end with "${DUMP_COMPLETE.slice(3)}", the line pg_dump writes last: the dump is incomplete` };
  } catch (err) {
    if (signal?.aborted) throw new AbortedError();
    if (err instanceof FileDamage) return { name: file.name, ok: false, bytes: check.bytes, problem: err.problem };
    if (err instanceof VerificationError) return { name: file.name, ok: false, bytes: 0, problem: /is missing$/.test(err.message) ? 'missing' : err.message };
    if (decrypt.length > 0 && (err as NodeJS.ErrnoException).code?.startsWith('Z_')) return { name: file.name, ok: false, bytes: check.bytes, problem: gzipProblem(err) };
    throw err; // the source failed (network, permissions): not a verdict on the backup
  }
  return { name: file.name, ok: true, bytes: check.bytes };
}

const DUMP_COMPLETE = '-- PostgreSQL database dump complete';

/** A sink that keeps the last bytes of the SQL, to check it ends with pg_dump's closing line. */
class DumpTail extends Writable {
  private last = Buffer.alloc(0);

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const both = Buffer.concat([this.last, chunk]);
    this.last = both.subarray(Math.max(0, both.length - 256));
    done();
  }

  /** Whether the SQL's last non-blank line is pg_dump's closing comment (\\unrestrict lines may follow it). */
  complete(): boolean {
    const lines = this.last.toString('latin1').split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== '--' && !l.startsWith('\\unrestrict '));
    return lines.at(-1) === DUMP_COMPLETE;
  }
}
