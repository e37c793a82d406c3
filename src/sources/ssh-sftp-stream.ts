// Reading a remote file over SFTP as a stream, fast over distance: several reads in flight.
import { Readable } from 'node:stream';
import type { Client, SFTPWrapper } from 'ssh2';
import { AbortedError, VerificationError } from '../core/errors.js';
import { RemoteError } from './ssh-connection.js';
import { sftpCode } from './ssh-sftp.js';

/**
 * A Readable over an open SFTP handle that keeps several reads in flight (a plain sequential reader
 * waits a round trip per 32 KiB chunk, which is slow on a distant host). Closes the handle and the
 * connection when it ends, fails or is destroyed.
 */
export function sftpReadStream(client: Client, sftp: SFTPWrapper, handle: Buffer, size: number, path: string, where: string, signal?: AbortSignal): Readable {
  const CHUNK = 32 * 1024;
  const IN_FLIGHT = 16;
  let nextOffset = 0; // next read to issue
  let inFlight = 0;
  const ready = new Map<number, Buffer>(); // offset -> data, waiting for its turn
  let emitOffset = 0; // next byte the stream pushes
  let wanted = false;
  let closed = false;

  const stream = new Readable({
    highWaterMark: CHUNK * IN_FLIGHT,
    read() {
      wanted = true;
      pump();
    },
    destroy(err, cb) {
      finish();
      cb(err);
    },
  });

  const finish = () => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    client.removeListener('close', onClientClose);
    try {
      sftp.close(handle, () => client.end());
    } catch {
      client.end();
    }
    setTimeout(() => client.destroy(), 2000).unref();
  };
  const onAbort = () => stream.destroy(new AbortedError(`${where}: reading ${path} was stopped`));
  const onClientClose = () => {
    if (!closed) stream.destroy(new RemoteError(`${where}: the connection was lost while reading ${path}`, true));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  client.on('close', onClientClose);

  function pump(): void {
    if (closed) return;
    // Push whatever is next in order.
    while (wanted && ready.has(emitOffset)) {
      const buf = ready.get(emitOffset)!;
      ready.delete(emitOffset);
      emitOffset += buf.length;
      wanted = stream.push(buf);
    }
    if (emitOffset >= size && inFlight === 0 && ready.size === 0) {
      stream.push(null);
      finish();
      return;
    }
    while (inFlight < IN_FLIGHT && nextOffset < size && ready.size < IN_FLIGHT * 2) {
      const offset = nextOffset;
      const length = Math.min(CHUNK, size - offset);
      nextOffset += length;
      inFlight++;
      readAt(offset, length);
    }
  }

  function readAt(offset: number, length: number, got: Buffer[] = [], have = 0): void {
    const buf = Buffer.allocUnsafe(length - have);
    sftp.read(handle, buf, 0, buf.length, offset + have, (err, bytesRead) => {
      if (closed) return;
      if (err) {
        stream.destroy(new RemoteError(`${where}: reading ${path} failed: ${err.message}`, sftpCode(err) === undefined));
        return;
      }
      if (bytesRead === 0) {
        stream.destroy(new VerificationError(`${where}: ${path} ended at ${offset + have} bytes, before its ${size} bytes (changed while being read?)`));
        return;
      }
      got.push(buf.subarray(0, bytesRead));
      have += bytesRead;
      if (have < length) return readAt(offset, length, got, have); // short read: ask for the rest
      inFlight--;
      ready.set(offset, got.length === 1 ? got[0]! : Buffer.concat(got));
      pump();
    });
  }

  return stream;
}
