// Decryption of seed 002's encrypted backups, streamed, with Node's crypto only (no openssl process,
// so the passphrase is never in an argument list). Seed 002 made them with
//   openssl enc -aes-256-cbc -salt -pbkdf2 -in backup.sql.gz -out backup_....sql.gz.enc -pass "pass:$KEY"
// which writes "Salted__", an 8-byte random salt, then the AES-256-CBC ciphertext (PKCS#7 padding).
// The key and IV are PBKDF2-HMAC-SHA256 of the passphrase and the salt with openssl's defaults for
// -pbkdf2 (10000 iterations, `-md` sha256, 8-byte salt: see the openssl-enc manual): 48 bytes, the
// first 32 the key, the last 16 the IV.
//
// CBC has no authentication: a wrong passphrase shows only as padding that does not check out at the
// end, or as plaintext that is not what it should be. These files always hold a gzip stream, so the
// first plaintext bytes are checked against gzip's magic (1f 8b 08) at once: a wrong passphrase is
// caught on the first block rather than after the whole download. Whatever slips through (about 1 in
// 2^24 keys) fails in the gunzip behind this stage, also as damage.
import { createDecipheriv, pbkdf2Sync, type Decipher } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FileDamage } from '../file-check.js';

/** The suffix seed 002 gave its encrypted files: backup_YYYYMMDD_HHMMSS.sql.gz.enc. */
export const OPENSSL_SUFFIX = '.enc';
/** openssl enc's default iteration count with -pbkdf2 (and no -iter). */
export const OPENSSL_PBKDF2_ITERATIONS = 10_000;

const MAGIC = Buffer.from('Salted__', 'latin1');
const SALT_BYTES = 8;
const HEADER_BYTES = MAGIC.length + SALT_BYTES;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

/** The problem of a file that does not decrypt: the words every message about it uses. */
export const WRONG_PASSPHRASE = 'it cannot be decrypted with BACKUP_ENCRYPTION_KEY: wrong passphrase or damaged file';

export function isOpensslName(name: string): boolean {
  return name.endsWith(OPENSSL_SUFFIX);
}

/** The key and IV openssl enc -aes-256-cbc -pbkdf2 derives from a passphrase and a salt. */
export function opensslKeyIv(passphrase: string, salt: Buffer): { key: Buffer; iv: Buffer } {
  const derived = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, OPENSSL_PBKDF2_ITERATIONS, 48, 'sha256');
  return { key: derived.subarray(0, 32), iv: derived.subarray(32, 48) };
}

/**
 * A Transform from the stored bytes of an `openssl enc -aes-256-cbc -salt -pbkdf2` file to its
 * plaintext. Fails with FileDamage (WRONG_PASSPHRASE, or why the file is not one) on a wrong
 * passphrase, bad padding, a truncated or altered file. `expectGzip` (default true): the plaintext
 * must start as a gzip stream does.
 */
export class OpensslDecrypt extends Transform {
  private header: Buffer[] = [];
  private headerBytes = 0;
  private decipher: Decipher | undefined;
  /** Plaintext bytes not yet passed on while the gzip magic is checked. */
  private start: Buffer | undefined;

  constructor(
    private readonly passphrase: string,
    private readonly opts: { expectGzip?: boolean } = {},
  ) {
    super();
    if (opts.expectGzip !== false) this.start = Buffer.alloc(0);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let data = chunk;
    if (!this.decipher) {
      this.header.push(chunk);
      this.headerBytes += chunk.length;
      if (this.headerBytes < HEADER_BYTES) return done();
      const all = Buffer.concat(this.header);
      this.header = [];
      if (!all.subarray(0, MAGIC.length).equals(MAGIC)) {
        return done(new FileDamage('it is not a file of openssl enc with a salt (it does not start with "Salted__"): not what seed 002 wrote, or damaged'));
      }
      const { key, iv } = opensslKeyIv(this.passphrase, all.subarray(MAGIC.length, HEADER_BYTES));
      this.decipher = createDecipheriv('aes-256-cbc', key, iv);
      data = all.subarray(HEADER_BYTES);
    }
    let plain: Buffer;
    try {
      plain = this.decipher.update(data);
    } catch {
      return done(new FileDamage(WRONG_PASSPHRASE));
    }
    done(this.pass(plain));
  }

  override _flush(done: TransformCallback): void {
    if (!this.decipher) {
      return done(new FileDamage(this.headerBytes === 0 ? 'it is empty, not an encrypted file' : `it has ${this.headerBytes} bytes, shorter than the header of openssl enc (truncated file)`));
    }
    let last: Buffer;
    try {
      last = this.decipher.final(); // checks the padding: a wrong passphrase or a damaged end
    } catch {
      return done(new FileDamage(WRONG_PASSPHRASE));
    }
    const failed = this.pass(last);
    if (failed) return done(failed);
    if (this.start !== undefined) return done(new FileDamage(this.start.length === 0 ? 'it holds nothing once decrypted, not a gzip stream' : WRONG_PASSPHRASE));
    done();
  }

  /** Hands plaintext on, after the gzip magic check; returns the damage if the check fails. */
  private pass(plain: Buffer): FileDamage | null {
    if (this.start !== undefined) {
      this.start = Buffer.concat([this.start, plain]);
      if (this.start.length < GZIP_MAGIC.length) return null;
      if (!this.start.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC)) return new FileDamage(WRONG_PASSPHRASE);
      plain = this.start;
      this.start = undefined;
    }
    if (plain.length > 0) this.push(plain);
    return null;
  }
}
