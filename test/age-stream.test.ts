// The age writer of backups (src/core/encryption/age-stream.ts): the library writes the header, Node's
// ChaCha20-Poly1305 the payload. Every chunk boundary of age's STREAM (64 KiB), written in odd
// pieces, must read back with Debian's age CLI and with the library, byte for byte; a changed byte
// or a cut file must not.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Decrypter } from 'age-encryption';
import { encryptingWriter } from '../src/core/encryption/age-stream.js';
import { makeTempDir } from './helpers/tmp.js';

async function encrypt(plain: Buffer, recipients: string[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const w = await encryptingWriter({ mode: 'recipients', recipients }, async (d) => {
    parts.push(Buffer.from(d));
  });
  for (let i = 0, step = 1; i < plain.length; i += step, step = (step * 7 + 13) % 100_003 || 1) await w.write(plain.subarray(i, i + step));
  await w.end();
  return Buffer.concat(parts);
}

describe('age files written with the native payload', () => {
  it('every chunk boundary decrypts with the age CLI and the library; damage does not', async () => {
    const dir = await makeTempDir('age-stream-');
    const keys = [join(dir, 'a.txt'), join(dir, 'b.txt')];
    for (const k of keys) execFileSync('age-keygen', ['-o', k], { stdio: 'ignore' });
    const pubs = keys.map((k) => execFileSync('age-keygen', ['-y', k], { encoding: 'utf8' }).trim());
    const secret = (await readFile(keys[1]!, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const K = 64 * 1024;
    for (const size of [0, 1, K - 1, K, K + 1, 2 * K, 3 * K + 17, 1_000_003]) {
      const plain = randomBytes(size);
      const enc = await encrypt(plain, pubs);
      const file = join(dir, `f${size}.age`);
      await writeFile(file, enc);
      expect(execFileSync('age', ['-d', '-i', keys[0]!, file], { maxBuffer: 1 << 26 }).equals(plain), `age CLI, ${size} bytes`).toBe(true);
      const d = new Decrypter();
      d.addIdentity(secret);
      expect(Buffer.from(await d.decrypt(new Uint8Array(enc))).equals(plain), `library, ${size} bytes`).toBe(true);
      if (size > 0) {
        const flipped = Buffer.from(enc);
        flipped[enc.length - 20]! ^= 1;
        await writeFile(file, flipped);
        expect(spawnSync('age', ['-d', '-i', keys[0]!, file]).status, `flipped, ${size}`).not.toBe(0);
        await writeFile(file, enc.subarray(0, enc.length - 1));
        expect(spawnSync('age', ['-d', '-i', keys[0]!, file]).status, `cut, ${size}`).not.toBe(0);
      }
    }
  });
});
