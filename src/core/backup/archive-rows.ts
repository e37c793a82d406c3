// Row counts of BACKUP_FORMAT=custom: pg_dump's archive, as it streams from pg_dump into its file,
// is also read by walkArchiveData (restore/archive-toc.ts): the table of contents names each TABLE
// DATA entry's schema and table, and each data block is that table's COPY data (zlib-compressed
// unless COMPRESSION_LEVEL=0), one row per line, ended by the line `\.` where pg_dump writes it.
// The lines are counted as they are inflated; nothing is held beyond one piece. As for plain dumps,
// counting is advisory: anything unexpected leaves the database's counts out (with a warning), never
// fails the backup, and never holds it up (the counter's input is drained whatever happens).
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflate } from 'node:zlib';
import { messageOf } from '../errors.js';
import { walkArchiveData, type ArchiveToc } from '../restore/archive-toc.js';
import type { DumpCounts } from './dump-steps.js';
import { MAX_COUNTED_TABLES, type TableRows } from './row-counts.js';

const NL = 0x0a;

/** Counts COPY text rows: lines up to the line `\.` (a row's own newlines are written as \n). */
export class CopyLineCounter {
  rows = 0;
  private ended = false;
  /** The current line's first two bytes and its length so far (enough to tell `\.`). */
  private first = -1;
  private second = -1;
  private length = 0;

  add(buf: Buffer): void {
    let at = 0;
    while (at < buf.length && !this.ended) {
      const nl = buf.indexOf(NL, at);
      const end = nl < 0 ? buf.length : nl;
      for (let i = at; i < end && this.length + (i - at) < 2; i++) {
        if (this.length + (i - at) === 0) this.first = buf[i]!;
        else this.second = buf[i]!;
      }
      this.length += end - at;
      if (nl < 0) return;
      if (this.length === 2 && this.first === 0x5c && this.second === 0x2e) this.ended = true;
      else this.rows++;
      this.first = this.second = -1;
      this.length = 0;
      at = nl + 1;
    }
  }

  /** A last line without its newline is a row too (pg_dump always ends rows with one). */
  finish(): number {
    if (!this.ended && this.length > 0) this.rows++;
    return this.rows;
  }
}

/** Reads an archive stream to its end and returns its tables' row counts (or why it could not). */
export async function countArchiveRows(input: AsyncIterable<Buffer>, label: string): Promise<DumpCounts> {
  let toc: ArchiveToc | undefined;
  const tables = new Map<number, { schema: string; table: string }>();
  const counts: TableRows[] = [];
  await walkArchiveData(
    input,
    { label },
    (t) => {
      toc = t;
      for (const e of t.entries) if (e.desc === 'TABLE DATA' && e.namespace !== null) tables.set(e.dumpId, { schema: e.namespace, table: e.tag });
      if (tables.size > MAX_COUNTED_TABLES) throw new Error(`more than ${MAX_COUNTED_TABLES} tables`);
      if (t.compression !== 'none' && t.compression !== 'gzip') throw new Error(`its ${t.compression} compression is not read here`);
    },
    async (dumpId, chunks) => {
      const table = tables.get(dumpId);
      if (!table) return;
      const lines = new CopyLineCounter();
      if (toc!.compression === 'none') {
        for await (const piece of chunks) lines.add(piece);
      } else {
        await pipeline(batched(chunks), createInflate(), new Writable({ write: (b: Buffer, _e, cb) => (lines.add(b), cb()) }));
      }
      counts.push({ ...table, rows: lines.finish() });
    },
  );
  return { rows: counts };
}

/** Pieces gathered into writes of about 256 KiB: zlib works each write on its own thread-pool turn. */
async function* batched(pieces: AsyncIterable<Buffer>, size = 256 * 1024): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let bytes = 0;
  for await (const piece of pieces) {
    parts.push(piece);
    bytes += piece.length;
    if (bytes >= size) {
      yield Buffer.concat(parts, bytes);
      parts = [];
      bytes = 0;
    }
  }
  if (bytes > 0) yield Buffer.concat(parts, bytes);
}

/**
 * A counter fed chunk by chunk as the backup writes them: write() waits while the counter is behind
 * (backpressure), and never once it has given up. finish() ends its input and gives the counts.
 */
export function archiveRowCounter(label: string): { write(chunk: Buffer): Promise<void>; finish(): Promise<DumpCounts>; stop(): void } {
  const input = new PassThrough({ highWaterMark: 1024 * 1024 });
  input.on('error', () => {}); // a write after the counter gave up: nothing to report
  let gaveUp = false;
  const result: Promise<DumpCounts> = countArchiveRows(input, label).catch((err: unknown) => {
    gaveUp = true;
    input.resume(); // from now on every byte written is dropped
    return { problem: `the archive could not be read for counting (${messageOf(err)})` };
  });
  return {
    async write(chunk) {
      if (gaveUp || input.destroyed) return;
      if (!input.write(chunk)) await Promise.race([once(input, 'drain').catch(() => undefined), result]);
    },
    async finish() {
      if (!input.destroyed) input.end();
      return result;
    },
    stop() {
      input.destroy();
    },
  };
}
