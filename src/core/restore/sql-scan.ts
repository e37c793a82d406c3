// Reading what a .sql.gz creates without restoring it: the roles, tablespaces and databases of a
// globals or cluster file (up to its first \connect, or to its end), from any stream of its bytes
// (a local file, or a file on S3 or the remote host read on demand).
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AbortedError, VerificationError, messageOf } from '../errors.js';
import { NotApplied, SqlRewriter } from './sql-rewrite.js';
import { FileDamage } from '../file-check.js';
import { decryptStages } from '../encryption/age-stream.js';

export interface ScanOptions {
  /** Stop at the first \connect (the globals part of a cluster file). */
  untilFirstConnect: boolean;
  signal: AbortSignal;
  /** The file's name, for messages. */
  label: string;
  /** The file's own name: a .age file is decrypted on its way into gunzip. */
  name?: string;
}

/** Scans a local .sql.gz. */
export function scanFile(file: string, opts: Omit<ScanOptions, 'label'>): Promise<SqlRewriter> {
  return scanStream(createReadStream(file), { ...opts, label: file.split('/').pop() ?? file, name: file });
}

/** Scans a stream of .sql.gz bytes; the stream is consumed (or destroyed when the scan stops early). */
export async function scanStream(gz: Readable, opts: ScanOptions): Promise<SqlRewriter> {
  const rw = new SqlRewriter({ mode: 'scan', label: opts.label });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      if (opts.untilFirstConnect && rw.sawConnect) stop.abort();
      cb();
    },
  });
  try {
    await (pipeline as (...streams: unknown[]) => Promise<void>)(gz, ...decryptStages(opts.name ?? ''), createGunzip(), rw, sink, { signal: stop.signal });
  } catch (err) {
    if (opts.signal.aborted) throw new AbortedError();
    if (!stop.signal.aborted) {
      if (err instanceof VerificationError || err instanceof NotApplied) throw err;
      if (err instanceof FileDamage) throw new VerificationError(`${opts.label} is damaged: ${err.problem}`);
      throw new VerificationError(`${opts.label} is damaged: ${messageOf(err)}`);
    }
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    gz.destroy();
  }
  return rw;
}
