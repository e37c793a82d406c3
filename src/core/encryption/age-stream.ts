// age encryption of backup files, streamed (age-encryption, the TypeScript implementation of
// age-encryption.org/v1): a file's compressed bytes are encrypted on their way to the disk, and an
// encrypted file is decrypted on its way into gunzip. Neither side ever holds a plaintext file.
// `age -d -i key.txt FILE` (Debian's age package) reads what this writes.
import { Duplex, type Readable, type Transform } from 'node:stream';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { Decrypter, Encrypter } from 'age-encryption';
import { UsageError, messageOf } from '../errors.js';
import { FileDamage } from '../file-check.js';

import { ENCRYPTED_SUFFIX as AGE_SUFFIX } from '../backup/names.js';
import { isOpensslName, OpensslDecrypt } from './openssl-stream.js';
import type { ManifestEncryption } from '../backup/manifest-encryption.js';

/** How a backup run encrypts: to age public keys, or with a passphrase (scrypt, the weaker choice). */
export type EncryptionConfig = { mode: 'recipients'; recipients: string[] } | { mode: 'passphrase'; passphrase: string };


export function manifestEncryption(config: EncryptionConfig): ManifestEncryption {
  return config.mode === 'recipients' ? { format: 'age', mode: 'recipients', recipients: [...config.recipients] } : { format: 'age', mode: 'passphrase' };
}

/**
 * A writer that encrypts what it is given and hands the encrypted bytes, in order, to `out`.
 * `write` waits while the encryption is behind (backpressure); `end` writes the last chunk.
 *
 * To age keys, the header (recipient stanzas and MAC) comes from age-encryption, the payload from
 * Node's own ChaCha20-Poly1305 (OpenSSL: several times faster than the library's JavaScript, which
 * would otherwise cost a backup about 15 % more CPU); see nativeStream. The passphrase mode stays
 * with the library throughout.
 */
export async function encryptingWriter(config: EncryptionConfig, out: (data: Buffer) => Promise<void>): Promise<{ write(data: Buffer): Promise<void>; end(): Promise<void>; abort(): void }> {
  if (config.mode === 'recipients') return nativeStream(config.recipients, out);
  const e = new Encrypter();
  e.setPassphrase(config.passphrase);
  const plain = new TransformStream<Uint8Array, Uint8Array>();
  const encrypted = await e.encrypt(plain.readable);
  const writer = plain.writable.getWriter();
  const reader = encrypted.getReader();
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      await out(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  })();
  let failed: unknown;
  pump.catch((err) => {
    failed = err;
    writer.abort(err).catch(() => {});
  });
  return {
    async write(data) {
      if (failed) throw failed;
      // A copy: the caller may write the same buffer to another file (the cluster file).
      await Promise.race([writer.write(new Uint8Array(data)), pump.then(() => {})]);
      if (failed) throw failed;
    },
    async end() {
      if (failed) throw failed;
      await writer.close();
      await pump;
    },
    abort() {
      writer.abort(new Error('aborted')).catch(() => {});
      reader.cancel().catch(() => {});
    },
  };
}

/** age's STREAM chunk: 64 KiB of plaintext, each sealed with ChaCha20-Poly1305 (16-byte tag). */
const CHUNK = 64 * 1024;

/**
 * age-encryption.org/v1 to X25519 recipients with the payload sealed natively. The library makes
 * the header of an empty file (its random file key wrapped for each recipient, the header MAC, the
 * 16-byte payload nonce); a recipient of ours that wraps nothing sees the file key on its way. The
 * payload is then age's STREAM: key = HKDF-SHA256(file key, salt = nonce, info "payload"), 64 KiB
 * chunks, nonce = 11-byte big-endian counter + 1 byte set on the last chunk (which may be empty
 * only when the whole file is; a full chunk is sealed as not-last only once more data follows).
 */
async function nativeStream(recipients: string[], out: (data: Buffer) => Promise<void>): Promise<{ write(data: Buffer): Promise<void>; end(): Promise<void>; abort(): void }> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  let fileKey: Uint8Array | undefined;
  e.addRecipient({ wrapFileKey: (key: Uint8Array) => ((fileKey = key.slice()), []) });
  const empty = await e.encrypt(new Uint8Array(0)); // header, nonce, and the empty last chunk (its tag)
  if (!fileKey || empty.length < 16 + 16) throw new Error('age-encryption did not produce a file key');
  const head = Buffer.from(empty.subarray(0, empty.length - 16)); // without the library's payload
  const nonce = head.subarray(head.length - 16);
  const key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  fileKey.fill(0);
  const counter = Buffer.alloc(12);
  const seal = (plain: Buffer, last: boolean): Buffer => {
    counter[11] = last ? 1 : 0;
    const c = createCipheriv('chacha20-poly1305', key, counter, { authTagLength: 16 });
    const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    for (let i = 10; i >= 0; i--) {
      counter[i] = (counter[i]! + 1) & 0xff;
      if (counter[i] !== 0) break;
    }
    return sealed;
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (n: number): Buffer => {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const first = pending[0]!;
      if (first.length <= need) {
        parts.push(first);
        pending.shift();
        need -= first.length;
      } else {
        parts.push(first.subarray(0, need));
        pending[0] = first.subarray(need);
        need = 0;
      }
    }
    pendingBytes -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  };
  await out(head);
  let ended = false;
  return {
    async write(data) {
      if (ended) throw new Error('write after end');
      if (data.length === 0) return;
      pending.push(data); // never changed here: the caller may write the same buffer elsewhere
      pendingBytes += data.length;
      while (pendingBytes > CHUNK) await out(seal(take(CHUNK), false));
    },
    async end() {
      ended = true;
      await out(seal(take(pendingBytes), true));
      key.fill(0);
    },
    abort() {
      ended = true;
      pending = [];
      key.fill(0);
    },
  };
}

// -------------------------------------------------------------------------------------------------
// Decryption keys of this process (restore, verify): set once from the settings.

export interface DecryptionKeys {
  /** AGE-SECRET-KEY-1... lines of RESTORE_IDENTITY_FILE. */
  identities: string[];
  /** BACKUP_ENCRYPTION_KEY, for backups made in passphrase mode. */
  passphrase?: string;
  /** Where the keys came from, for messages: "RESTORE_IDENTITY_FILE=/keys/key.txt". */
  origin?: string;
}

let keys: DecryptionKeys = { identities: [] };

export function setDecryptionKeys(k: DecryptionKeys): void {
  keys = k;
}

export function hasDecryptionKeys(): boolean {
  return keys.identities.length > 0 || keys.passphrase !== undefined;
}

/** An encrypted file: age (.age), or seed 002's openssl enc (.enc). Its stored bytes are not gzip. */
export function isEncryptedName(name: string): boolean {
  return name.endsWith(AGE_SUFFIX) || isOpensslName(name);
}

/** Whether the keys given can read this file: .enc needs BACKUP_ENCRYPTION_KEY, .age any key. */
export function hasKeyFor(name: string): boolean {
  return isOpensslName(name) ? keys.passphrase !== undefined : hasDecryptionKeys();
}

/** The one line for an encrypted backup and no key (exit 2). */
export function missingKeyError(what: string, mode?: string): UsageError {
  return new UsageError(
    mode === 'passphrase'
      ? `${what} is encrypted with a passphrase and BACKUP_ENCRYPTION_KEY is not set; set it (or BACKUP_ENCRYPTION_KEY_FILE) to the passphrase the backup was made with, e.g. BACKUP_ENCRYPTION_KEY_FILE=/run/secrets/backup_key`
      : `${what} is encrypted (age) and RESTORE_IDENTITY_FILE is not set; point it at the age identity file (AGE-SECRET-KEY-1...) of one of its recipients, e.g. RESTORE_IDENTITY_FILE=/keys/backup-key.txt`,
  );
}

/** What went wrong decrypting, in the words of a damaged-file problem. */
function decryptProblem(err: unknown): string {
  const m = messageOf(err);
  if (/no identity matched/i.test(m)) return `it cannot be decrypted: none of the keys given (${keys.origin ?? 'RESTORE_IDENTITY_FILE'}) is one of its recipients (wrong key?)`;
  if (/invalid header HMAC|incorrect passphrase|scrypt/i.test(m)) return `it cannot be decrypted: its header does not authenticate with the key given (${keys.origin ?? 'the key'}): wrong key or tampered file`;
  return `it does not decrypt (age: ${m}): the file was altered or truncated`;
}

/**
 * A stored file's bytes piped through its decryption stages (and into `into`, when given), each
 * stream's error passed on to the next, so that reading the end meets any failure on the way.
 */
export function decrypting(from: Readable, name: string, into?: Transform): Readable {
  let readable: Readable = from;
  for (const stage of [...decryptStages(name), ...(into ? [into] : [])]) {
    const upstream = readable;
    upstream.on('error', (err) => stage.destroy(err));
    readable = upstream.pipe(stage);
  }
  return readable;
}

/**
 * The stages that turn a stored file's bytes into the gzip stream: none for a .sql.gz, an age
 * decryption for a .sql.gz.age. A wrong key or any altered byte fails as FileDamage.
 */
export function decryptStages(name: string): Transform[] {
  if (isOpensslName(name)) {
    // seed 002's openssl enc -aes-256-cbc -pbkdf2 file (openssl-stream.ts): BACKUP_ENCRYPTION_KEY only
    if (keys.passphrase === undefined) throw missingKeyError(name, 'passphrase');
    return [new OpensslDecrypt(keys.passphrase)];
  }
  if (!isEncryptedName(name)) return [];
  if (!hasDecryptionKeys()) throw missingKeyError(name);
  const d = new Decrypter();
  for (const id of keys.identities) d.addIdentity(id);
  if (keys.passphrase !== undefined) d.addPassphrase(keys.passphrase);
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const output = d.decrypt(input.readable);
  output.catch(() => {}); // reported by the first read
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        reader ??= (await output).getReader();
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        throw new FileDamage(decryptProblem(err));
      }
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  });
  // (the DOM and node:stream/web typings of the same classes differ)
  const pair = { readable, writable: input.writable } as unknown as Parameters<typeof Duplex.fromWeb>[0];
  return [Duplex.fromWeb(pair) as unknown as Transform];
}
