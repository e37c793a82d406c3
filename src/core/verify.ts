// Verifying a backup on a source: every file's gzip stream is read to the end, and for finished
// backups its size and sha256 are compared with the manifest.
import { createHash } from 'node:crypto';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AbortedError, messageOf } from './errors.js';
import { CLUSTER_FILE, GLOBALS_FILE, databaseFileName } from './backup/names.js';
import type { BackupEntry, BackupSource } from '../sources/source.js';

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
}

export async function verifyBackup(
  source: BackupSource,
  entry: BackupEntry,
  opts: { signal?: AbortSignal; onFile?: (check: FileCheck) => void } = {},
): Promise<VerifyReport> {
  const problems: string[] = [];
  const files: FileCheck[] = [];
  const expected: Array<{ name: string; bytes?: number; sha256?: string }> = [];

  if (entry.status === 'damaged') {
    problems.push(entry.problem ?? 'the manifest cannot be read');
  } else if (entry.status === 'finished' && entry.manifest) {
    const m = entry.manifest;
    expected.push(...m.files);
    const names = new Set(m.files.map((f) => f.name));
    for (const required of [CLUSTER_FILE, GLOBALS_FILE, ...m.databases.map(databaseFileName)]) {
      if (!names.has(required)) problems.push(`the manifest does not list ${required}`);
    }
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
  return { folder: entry.folder, source: source.location, status: entry.status, ok: problems.length === 0, problems, files };
}

async function checkFile(
  source: BackupSource,
  folder: string,
  file: { name: string; bytes?: number; sha256?: string },
  signal?: AbortSignal,
): Promise<FileCheck> {
  const hash = createHash('sha256');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const sink = new Writable({ write: (_c, _e, done) => done() });
  try {
    const stream = await source.openFile(folder, file.name, signal);
    await pipeline(stream, counter, createGunzip(), sink, { signal });
  } catch (err) {
    if (signal?.aborted) throw new AbortedError();
    const problem = /unexpected end of file/i.test(messageOf(err))
      ? 'the gzip stream ends early (truncated file)'
      : `not a valid gzip stream (${messageOf(err)})`;
    return { name: file.name, ok: false, bytes, problem: /missing/.test(messageOf(err)) ? 'missing' : problem };
  }
  if (file.bytes !== undefined && bytes !== file.bytes) {
    return { name: file.name, ok: false, bytes, problem: `size ${bytes} bytes, the manifest says ${file.bytes}` };
  }
  const sha256 = hash.digest('hex');
  if (file.sha256 !== undefined && sha256 !== file.sha256) {
    return { name: file.name, ok: false, bytes, problem: 'checksum (sha256) differs from the manifest' };
  }
  return { name: file.name, ok: true, bytes };
}
