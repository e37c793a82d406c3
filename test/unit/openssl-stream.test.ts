// The decryption of seed 002's `openssl enc -aes-256-cbc -salt -pbkdf2` files, proved against the
// real openssl CLI: its key derivation (openssl enc -P), and files it encrypted of several sizes,
// fed to the Transform in awkward chunk sizes. A wrong passphrase, a truncated or foreign file fail
// as FileDamage with one clear line; a missing passphrase is a usage error naming the setting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { OpensslDecrypt, WRONG_PASSPHRASE, isOpensslName, opensslKeyIv } from '../../src/core/encryption/openssl-stream.js';
import { decryptStages, setDecryptionKeys } from '../../src/core/encryption/age-stream.js';
import { FileDamage } from '../../src/core/file-check.js';
import { UsageError } from '../../src/core/errors.js';
import { makeTempDir } from '../helpers/tmp.js';

const PASSPHRASE = 'seed-002 pass: "quoted" \\ é🐘 $x';

/** Encrypts `plain` exactly as seed 002 did (the passphrase in argv is fine for a test fixture). */
function opensslEncrypt(dir: string, plain: Buffer, name: string, passphrase = PASSPHRASE): Buffer {
  const input = join(dir, `${name}.plain`);
  const output = join(dir, `${name}.enc`);
  writeFileSync(input, plain);
  execFileSync('openssl', ['enc', '-aes-256-cbc', '-salt', '-pbkdf2', '-in', input, '-out', output, '-pass', `pass:${passphrase}`]);
  return readFileSync(output);
}

/** Runs `stored` through the Transform in chunks of the sizes given (cycled); the plaintext. */
async function decrypt(stored: Buffer, passphrase: string, opts: { expectGzip?: boolean } = {}, chunks: number[] = [1, 7, 16, 5, 4096, 3]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < stored.length; i++) {
    const n = chunks[i % chunks.length]!;
    parts.push(stored.subarray(at, at + n));
    at += n;
  }
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(parts),
    new OpensslDecrypt(passphrase, opts),
    new Writable({
      write(chunk: Buffer, _e, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

async function damage(stored: Buffer, passphrase: string, opts: { expectGzip?: boolean } = {}): Promise<string> {
  try {
    await decrypt(stored, passphrase, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(FileDamage);
    return (err as FileDamage).problem;
  }
  throw new Error('decryption did not fail');
}

describe('openssl enc -aes-256-cbc -salt -pbkdf2 decryption (seed 002)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('openssl-stream-');
    execFileSync('openssl', ['version']); // the real CLI is needed (CI fails without it, never skips)
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('derives the key and IV as openssl enc does (PBKDF2-HMAC-SHA256, 10000 iterations)', () => {
    for (const saltHex of ['0102030405060708', 'ffeeddccbbaa9988', randomBytes(8).toString('hex')]) {
      const printed = execFileSync('openssl', ['enc', '-aes-256-cbc', '-pbkdf2', '-P', '-S', saltHex, '-pass', `pass:${PASSPHRASE}`], { encoding: 'utf8' });
      const key = /^key=([0-9A-F]+)$/m.exec(printed)![1]!;
      const iv = /^iv\s*=([0-9A-F]+)$/m.exec(printed)![1]!;
      const ours = opensslKeyIv(PASSPHRASE, Buffer.from(saltHex, 'hex'));
      expect(ours.key.toString('hex').toUpperCase()).toBe(key);
      expect(ours.iv.toString('hex').toUpperCase()).toBe(iv);
    }
  });

  for (const size of [0, 15, 16, 17, 1024 * 1024]) {
    it(`decrypts what openssl encrypted: ${size} bytes, in odd chunks`, async () => {
      const plain = randomBytes(size);
      const stored = opensslEncrypt(dir, plain, `size${size}`);
      expect(stored.subarray(0, 8).toString('latin1')).toBe('Salted__');
      expect((await decrypt(stored, PASSPHRASE, { expectGzip: false })).equals(plain)).toBe(true);
      expect((await decrypt(stored, PASSPHRASE, { expectGzip: false }, [stored.length || 1])).equals(plain)).toBe(true);
    });
  }

  it('a gzip stream (what seed 002 encrypted) passes the gzip check, whole', async () => {
    for (const size of [1, 100, 300_000]) {
      const gz = gzipSync(randomBytes(size), { level: 6 });
      const stored = opensslEncrypt(dir, gz, `gz${size}`);
      expect((await decrypt(stored, PASSPHRASE)).equals(gz)).toBe(true);
      expect((await decrypt(stored, PASSPHRASE, {}, [1])).equals(gz)).toBe(true);
    }
  });

  it('a wrong passphrase fails on the first block with one line', async () => {
    const gz = gzipSync(randomBytes(200_000));
    const stored = opensslEncrypt(dir, gz, 'wrong');
    expect(await damage(stored, 'not the passphrase')).toBe(WRONG_PASSPHRASE);
    expect(await damage(stored, `${PASSPHRASE} `)).toBe(WRONG_PASSPHRASE);
    expect(WRONG_PASSPHRASE).toMatch(/cannot be decrypted with BACKUP_ENCRYPTION_KEY: wrong passphrase or damaged file/);
  });

  it('a truncated, altered, empty or foreign file is damage', async () => {
    const gz = gzipSync(randomBytes(50_000));
    const stored = opensslEncrypt(dir, gz, 'damaged');
    // cut inside the last block: bad final block length
    expect(await damage(stored.subarray(0, stored.length - 1), PASSPHRASE)).toBe(WRONG_PASSPHRASE);
    // the last byte changed: the padding does not check out (or, rarely, the gunzip after this stage fails)
    const altered = Buffer.from(stored);
    altered[altered.length - 1]! ^= 0x01;
    await decrypt(altered, PASSPHRASE).then(
      (out) => expect(out.equals(gz)).toBe(false),
      (err: unknown) => expect((err as FileDamage).problem).toBe(WRONG_PASSPHRASE),
    );
    expect(await damage(Buffer.alloc(0), PASSPHRASE)).toMatch(/empty/);
    expect(await damage(stored.subarray(0, 12), PASSPHRASE)).toMatch(/shorter than the header/);
    expect(await damage(gz, PASSPHRASE)).toMatch(/does not start with "Salted__"/);
    // only the header: no ciphertext at all
    expect(await damage(stored.subarray(0, 16), PASSPHRASE)).toBe(WRONG_PASSPHRASE);
  });

  it('an empty plaintext (encrypted) is not a gzip stream when one is expected', async () => {
    const stored = opensslEncrypt(dir, Buffer.alloc(0), 'emptyplain');
    expect(await damage(stored, PASSPHRASE)).toMatch(/holds nothing once decrypted/);
    expect((await decrypt(stored, PASSPHRASE, { expectGzip: false })).length).toBe(0);
  });

  it('decryptStages: .enc files need BACKUP_ENCRYPTION_KEY (exit 2 naming it), then decrypt with it', async () => {
    expect(isOpensslName('backup_20240207_143022.sql.gz.enc')).toBe(true);
    expect(isOpensslName('backup_20240207_143022.sql.gz')).toBe(false);
    setDecryptionKeys({ identities: [] });
    expect(() => decryptStages('backup_20240207_143022.sql.gz.enc')).toThrow(UsageError);
    expect(() => decryptStages('backup_20240207_143022.sql.gz.enc')).toThrow(/BACKUP_ENCRYPTION_KEY is not set/);
    expect(decryptStages('backup_20240207_143022.sql.gz')).toEqual([]);
    setDecryptionKeys({ identities: [], passphrase: PASSPHRASE, origin: 'BACKUP_ENCRYPTION_KEY' });
    const gz = gzipSync(Buffer.from('-- PostgreSQL database dump\n'));
    const stored = opensslEncrypt(dir, gz, 'stages');
    await writeFile(join(dir, 'stages.copy'), stored);
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([await readFile(join(dir, 'stages.copy'))]),
      ...decryptStages('/restore/backup_20240207_143022.sql.gz.enc'),
      new Writable({
        write(chunk: Buffer, _e, done) {
          out.push(chunk);
          done();
        },
      }),
    );
    expect(Buffer.concat(out).equals(gz)).toBe(true);
    setDecryptionKeys({ identities: [] });
  });
});
