// Verifying a backup on a source: every file's gzip stream is read to the end, and for finished
// backups its size and sha256 are compared with the manifest.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { decryptStages, hasDecryptionKeys, isEncryptedName } from './encryption/age-stream.js';
import { AbortedError, VerificationError } from './errors.js';
import { CheckingStream, FileDamage, gzipProblem } from './file-check.js';
import type { BackupEntry, BackupSource } from './source.js';

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
    const check = await checkFile(source, entry.folder, file, opts.signal);
    files.push(check);
    if (!check.ok) problems.push(`${file.name}: ${check.problem}`);
    opts.onFile?.(check);
  }
  const notes =
    expected.some((f) => isEncryptedName(f.name)) && !hasDecryptionKeys()
      ? ['the files are encrypted and no RESTORE_IDENTITY_FILE (or BACKUP_ENCRYPTION_KEY) was given: sizes and sha256 of the stored bytes were checked, the gzip streams were not']
      : undefined;
  return { folder: entry.folder, source: source.location, status: entry.status, ok: problems.length === 0, problems, files, ...(notes ? { notes } : {}) };
}

async function checkFile(
  source: BackupSource,
  folder: string,
  file: { name: string; bytes?: number; sha256?: string },
  signal?: AbortSignal,
): Promise<FileCheck> {
  // An encrypted file: size and sha256 of the stored bytes; with a key also decrypted (age checks
  // every chunk) and its gzip stream read to the end.
  const encrypted = isEncryptedName(file.name);
  const check = new CheckingStream({ bytes: file.bytes, sha256: file.sha256 }, undefined, { gzip: !encrypted });
  const decrypt = encrypted && hasDecryptionKeys() ? [...decryptStages(file.name), createGunzip()] : [];
  try {
    const stream = await source.openFile(folder, file.name, signal);
    await (pipeline as (...streams: unknown[]) => Promise<void>)(stream, check, ...decrypt, new Writable({ write: (_c, _e, done) => done() }), { signal });
  } catch (err) {
    if (signal?.aborted) throw new AbortedError();
    if (err instanceof FileDamage) return { name: file.name, ok: false, bytes: check.bytes, problem: err.problem };
    if (err instanceof VerificationError) return { name: file.name, ok: false, bytes: 0, problem: /is missing$/.test(err.message) ? 'missing' : err.message };
    if (decrypt.length > 0 && (err as NodeJS.ErrnoException).code?.startsWith('Z_')) return { name: file.name, ok: false, bytes: check.bytes, problem: gzipProblem(err) };
    throw err; // the source failed (network, permissions): not a verdict on the backup
  }
  return { name: file.name, ok: true, bytes: check.bytes };
}
