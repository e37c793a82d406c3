// Checking a backup file while its bytes go by: size and sha256 against the manifest, and the gzip
// stream decompressed to its end (every member, CRC and length trailers included). The same checks
// as a pass-through stream, shared by `verify` and the restore downloads, so a download is checked while it
// arrives and a damaged file is stopped at the first wrong byte it can be caught at.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { messageOf } from './errors.js';

/** What a file must be; undefined fields are not checked (legacy folders: gzip only). */
export interface ExpectedFile {
  bytes?: number;
  sha256?: string;
}

/** The file is damaged; `problem` says how ("the gzip stream ends early (truncated file)"). */
export class FileDamage extends Error {
  override readonly name = 'FileDamage';
  constructor(readonly problem: string) {
    super(problem);
  }
}

/** A zlib error as a problem, in the words `verify` uses. */
export function gzipProblem(err: unknown): string {
  const message = messageOf(err);
  return /unexpected end of file/i.test(message) ? 'the gzip stream ends early (truncated file)' : `not a valid gzip stream (${message})`;
}

/**
 * A pass-through stream that counts, hashes and gunzips what goes through it. Fails with
 * FileDamage as soon as the damage shows: more bytes than expected, or a gzip error, mid-stream;
 * a short file, a wrong sha256 or a gzip stream that does not end, at the end. After a clean end,
 * `bytes` and `sha256` hold what went through.
 */
export class CheckingStream extends Transform {
  bytes = 0;
  sha256 = '';
  private readonly hash = createHash('sha256');
  private readonly gunzip: Gunzip = createGunzip();
  private gzipError: Error | undefined;
  private gzipEnded = false;
  private flushing = false;

  /**
   * `gzip: false` leaves the gzip check to a gunzip downstream (a restore's one pass decompresses
   * the bytes anyway: decompressing twice would double its CPU); size and sha256 are still checked.
   */
  constructor(
    private readonly expected: ExpectedFile,
    private readonly onBytes?: (bytes: number) => void,
    private readonly opts: { gzip?: boolean } = {},
  ) {
    super();
    if (opts.gzip === false) this.gzipEnded = true;
    this.gunzip.on('data', () => {}); // the SQL itself is not needed: flowing, discarded
    this.gunzip.on('error', (err) => {
      this.gzipError = err;
      if (!this.flushing) this.destroy(new FileDamage(gzipProblem(err))); // mid-stream: stop now
    });
    this.gunzip.on('end', () => (this.gzipEnded = true));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const limit = this.expected.bytes;
    if (limit !== undefined && this.bytes > limit) {
      done(new FileDamage(`it is longer than the ${limit} bytes the manifest says`));
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(this.bytes);
    if (this.opts.gzip === false) done(null, chunk);
    else if (this.gunzip.write(chunk)) done(null, chunk);
    else this.gunzip.once('drain', () => done(null, chunk));
  }

  override _flush(done: TransformCallback): void {
    this.flushing = true;
    const finish = () => {
      this.sha256 = this.hash.digest('hex');
      const problems: string[] = [];
      if (this.expected.bytes !== undefined && this.bytes !== this.expected.bytes) {
        problems.push(`it has ${this.bytes} bytes, the manifest says ${this.expected.bytes}`);
      }
      else if (this.expected.sha256 !== undefined && this.sha256 !== this.expected.sha256) {
        problems.push(`its sha256 ${this.sha256} differs from the manifest's ${this.expected.sha256}`);
      }
      if (this.bytes === 0) problems.push('it is empty, not a gzip stream');
      else if (this.gzipError) problems.push(gzipProblem(this.gzipError));
      else if (!this.gzipEnded) problems.push('the gzip stream ends early (truncated file)');
      done(problems.length > 0 ? new FileDamage(problems.join('; ')) : null);
    };
    if (this.bytes === 0 || this.opts.gzip === false) {
      this.gunzip.destroy();
      finish();
      return;
    }
    if (this.gzipEnded || this.gzipError) {
      finish();
      return;
    }
    const onEnd = () => {
      this.gunzip.off('error', onError);
      finish();
    };
    const onError = () => {
      this.gunzip.off('end', onEnd);
      finish();
    };
    this.gunzip.once('end', onEnd);
    this.gunzip.once('error', onError);
    this.gunzip.end();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.gunzip.destroy();
    done(err);
  }
}
