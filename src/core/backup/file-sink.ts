// A file being written in a backup: bytes are counted and hashed as they go, the file is synced
// before it counts as written, and write errors name the file.
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { ExternalError, messageOf } from '../errors.js';

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

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(path: string): Promise<FileSink> {
    try {
      return new FileSink(path, await open(path, 'wx', 0o640));
    } catch (err) {
      throw new ExternalError(`cannot create ${path}: ${messageOf(err)}`);
    }
  }

  async write(data: Buffer): Promise<void> {
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
      await this.handle.sync();
      await this.handle.close();
    } catch (err) {
      throw new ExternalError(`cannot write ${this.path}: ${messageOf(err)}`);
    }
    return { name: basename(this.path), bytes: this.bytes, sha256: this.hash.digest('hex'), rawBytes: this.raw };
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}
