// Parallel gzip: the input is cut into blocks, each block becomes one gzip member, compressed on
// the zlib thread pool several at a time, and the members are written out in order. A file of
// concatenated members is a valid gzip file (RFC 1952) that gunzip, zcat and psql pipelines read
// as one stream. Memory stays bounded: at most `parallel` blocks are in flight.
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCallback, type ZlibOptions } from 'node:zlib';

const gzip = promisify<Buffer, ZlibOptions, Buffer>(gzipCallback);

export const DEFAULT_BLOCK_SIZE = 1024 * 1024;

export interface GzipOptions {
  level: number;
  blockSize?: number;
  parallel?: number;
  signal?: AbortSignal;
}

/**
 * Compresses one buffer into one gzip member. memLevel 9 (zlib's default is 8) doubles the hash
 * table (512 KB instead of 256 KB per member in flight): ~5% less CPU at the same level and the
 * same (or a slightly smaller) output, measured with bench/backup.mjs data. The format is unchanged.
 */
export function gzipMember(data: Buffer, level: number): Promise<Buffer> {
  return gzip(data, { level, memLevel: 9, chunkSize: 256 * 1024 });
}

/** Compresses `raw` into one member and writes it to `sink`, counting its uncompressed size there. */
export async function writeMember(sink: { write(data: Buffer): Promise<void>; addRaw(bytes: number): void }, raw: Buffer, level: number): Promise<void> {
  await sink.write(await gzipMember(raw, level));
  sink.addRaw(raw.length);
}

/** Reads `source` to the end and hands each compressed member, in order, to `write`. */
export async function gzipStream(
  source: AsyncIterable<Buffer>,
  write: (member: Buffer) => Promise<void>,
  opts: GzipOptions,
): Promise<void> {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const parallel = Math.max(1, opts.parallel ?? availableParallelism() + 1);
  const inFlight: Array<Promise<Buffer>> = [];
  let parts: Buffer[] = [];
  let size = 0;

  const submit = async (block: Buffer) => {
    const member = gzipMember(block, opts.level);
    member.catch(() => {}); // awaited in order below
    inFlight.push(member);
    while (inFlight.length >= parallel) await write(await inFlight.shift()!);
  };

  try {
    for await (const chunk of source) {
      opts.signal?.throwIfAborted();
      let buf = chunk as Buffer;
      while (size + buf.length >= blockSize) {
        const take = blockSize - size;
        parts.push(buf.subarray(0, take));
        buf = buf.subarray(take);
        const block = Buffer.concat(parts);
        parts = [];
        size = 0;
        await submit(block);
      }
      if (buf.length > 0) {
        parts.push(buf);
        size += buf.length;
      }
    }
    if (size > 0) await submit(Buffer.concat(parts));
    while (inFlight.length > 0) await write(await inFlight.shift()!);
  } finally {
    // On failure, let outstanding compressions settle quietly.
    for (const p of inFlight) p.catch(() => {});
  }
}
