// A file being written in a backup: bytes are counted and hashed as they go, the file is synced
// before it counts as written, and write errors name the file.
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { ExternalError, messageOf } from '../errors.js';
import { encryptingWriter, type EncryptionConfig } from '../encryption/age-stream.js';

export interface WrittenFile {
  name: string;
  bytes: number;
  sha256: string;
  /** The uncompressed size (what gunzip gives back). */
  rawBytes: number;
}

export class FileSink {
  private bytes = 0;
  private raw = 0;
  private readonly hash: Hash = createHash('sha256');
  /** With encryption: what is written goes through age first; size and sha256 are of the stored bytes. */
  private encrypter?: Awaited<ReturnType<typeof encryptingWriter>>;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(path: string, encryption?: EncryptionConfig): Promise<FileSink> {
    let sink: FileSink;
    try {
      sink = new FileSink(path, await open(path, 'wx', 0o640));
    } catch (err) {
      throw new ExternalError(`cannot create ${path}: ${messageOf(err)}`);
    }
    if (encryption) {
      try {
        sink.encrypter = await encryptingWriter(encryption, (data) => sink.store(data));
      } catch (err) {
        await sink.discard();
        throw new ExternalError(`cannot encrypt ${path}: ${messageOf(err)}`);
      }
    }
    return sink;
  }

  async write(data: Buffer): Promise<void> {
    if (this.encrypter) {
      try {
        await this.encrypter.write(data);
      } catch (err) {
        throw err instanceof ExternalError ? err : new ExternalError(`cannot encrypt ${this.path}: ${messageOf(err)}`);
      }
      return;
    }
    await this.store(data);
  }

  /** Writes bytes as they are stored (encrypted, when encrypting), counting and hashing them. */
  private async store(data: Buffer): Promise<void> {
    try {
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
    } catch (err) {
      throw new ExternalError(`cannot write ${this.path}: ${messageOf(err)}`);
    }
    this.hash.update(data);
    this.bytes += data.length;
  }

  /** Counts uncompressed bytes that went into what was written (the writer knows them). */
  addRaw(bytes: number): void {
    this.raw += bytes;
  }

  /** Syncs and closes the file; its size and checksum are final. */
  async finish(): Promise<WrittenFile> {
    try {
      await this.encrypter?.end();
      await this.handle.sync();
      await this.handle.close();
    } catch (err) {
      throw new ExternalError(`cannot write ${this.path}: ${messageOf(err)}`);
    }
    return { name: basename(this.path), bytes: this.bytes, sha256: this.hash.digest('hex'), rawBytes: this.raw };
  }

  async discard(): Promise<void> {
    this.encrypter?.abort();
    await this.handle.close().catch(() => {});
  }
}
