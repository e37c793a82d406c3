// Reads the header and table of contents (TOC) of a pg_dump custom-format archive (`pg_dump -Fc`)
// from a byte stream, without pg_restore: `pg_restore -l` cannot be parsed safely (names with
// newlines are flattened, dependencies are not shown), and the TOC sits at the start of the file,
// before any data, so reading it costs the TOC's size, not the archive's.
//
// The layout follows PostgreSQL's src/bin/pg_dump/pg_backup_archiver.c (ReadHead, ReadToc, ReadInt,
// ReadStr, ReadOffset) and pg_backup_custom.c (_ReadExtraToc):
//   header: "PGDMP", version major/minor/rev bytes, int size byte, offset size byte, format byte
//           (1 = custom), then compression (1.15+: one algorithm byte; before: an int level),
//           seven ints of the creation time, and the strings dbname, server version, pg_dump version.
//   ints:   a sign byte (non-zero = negative) then `int size` bytes of magnitude, little-endian.
//   strings: an int length (negative = NULL) then that many bytes.
//   TOC:    an int count, then per entry: dumpId, hadDumper, table OID, OID, tag, desc, section,
//           defn, dropStmt, copyStmt, namespace, tablespace, tableam (1.14+), relkind int (1.16+),
//           owner, "with OIDs" ("false"), dependency ids as strings up to a NULL, and the custom
//           format's extra data: an offset flag byte (1 not set, 2 set, 3 no data) and
//           `offset size` bytes.
// Versions read: 1.12 (PostgreSQL 9.0) to 1.16.x (17 and 18 write 1.16). Strings are decoded in the
// archive's encoding (its ENCODING entry, UTF-8 until then).
//
// Memory: definitions, drop and copy statements are skipped as they stream past (kept only for
// the DATABASE entry); the TOC as a whole may not exceed maxTocBytes (default 256 MiB).
import { AbortedError, ExternalError, VerificationError, messageOf } from '../errors.js';

export type TocSection = 'none' | 'pre-data' | 'data' | 'post-data' | 'unknown';

export interface TocEntry {
  dumpId: number;
  hadDumper: boolean;
  tableOid: string;
  oid: string;
  tag: string;
  desc: string;
  section: TocSection;
  namespace: string | null;
  tablespace: string | null;
  owner: string | null;
  deps: number[];
  /** only kept for desc DATABASE (the CREATE DATABASE statement) */
  defn?: string;
}

export interface ArchiveToc {
  /** The archive format version, e.g. "1.16" (a non-zero revision is appended: "1.16.1"). */
  version: string;
  dbname: string;
  serverVersion: string;
  pgDumpVersion: string;
  /** none, gzip, lz4, zstd (or "unknown (N)"). */
  compression: string;
  entries: TocEntry[];
}

export interface ReadArchiveTocOptions {
  /** Names the archive in error messages (a file name or a key). */
  label?: string;
  signal?: AbortSignal;
  /** The most bytes the header + TOC may take (default 256 MiB). */
  maxTocBytes?: number;
}

export const DEFAULT_MAX_TOC_BYTES = 256 * 1024 * 1024;

const MAGIC = 'PGDMP';
const FORMAT_CUSTOM = 1;
const FORMAT_NAMES: Record<number, string> = { 3: 'a tar-format archive', 5: "a directory-format archive's toc.dat" };
const MIN_VERSION = version(1, 12, 0);
const MAX_VERSION = version(1, 16, 255);
const K_VERS_1_14 = version(1, 14, 0);
const K_VERS_1_15 = version(1, 15, 0);
const K_VERS_1_16 = version(1, 16, 0);
const SECTIONS: Record<number, TocSection> = { 1: 'none', 2: 'pre-data', 3: 'data', 4: 'post-data' };
const COMPRESSIONS: Record<number, string> = { 0: 'none', 1: 'gzip', 2: 'lz4', 3: 'zstd' };
/** The fewest bytes a TOC entry can take (16 ints/strings of at least 5 bytes each): bounds the count. */
const MIN_ENTRY_BYTES = 16 * 5;

function version(major: number, minor: number, rev: number): number {
  return (major * 256 + minor) * 256 + rev;
}

/** Reads only as far as the end of the TOC from a byte stream (Readable or AsyncIterable<Buffer>), then stops reading (returns/destroys the iterator). */
export async function readArchiveToc(input: AsyncIterable<Buffer>, opts: ReadArchiveTocOptions = {}): Promise<ArchiveToc> {
  // Messages are one line, whatever the file is called.
  const label = (opts.label ?? 'the archive').replace(/[\r\n]+/g, ' ');
  const reader = new ByteReader(input[Symbol.asyncIterator](), label, opts.maxTocBytes ?? DEFAULT_MAX_TOC_BYTES, opts.signal);
  try {
    return await parse(reader, label);
  } finally {
    await reader.close();
  }
}

/** The block types of pg_backup_custom.c. */
const BLK_DATA = 1;
const BLK_BLOBS = 3;

/**
 * Reads the TOC, then every data block after it to the end of the archive (pg_backup_custom.c's
 * _StartData/_EndData, _StartLOs/_EndLOs): a table's data block is its dump id and its stored
 * chunks (an int length, the bytes, up to a length of 0); a large-object block is a dump id, then
 * per object an OID and its chunks, up to an OID of 0. `onBlock` gets each data block's stored
 * chunks (still compressed as the archive says) and reads all of them or none (then they are skipped).
 * Large-object blocks are skipped. An archive written to a pipe (as a backup writes it) has its
 * blocks in TOC order right after the TOC.
 */
export async function walkArchiveData(
  input: AsyncIterable<Buffer>,
  opts: ReadArchiveTocOptions,
  onToc: (toc: ArchiveToc) => void,
  onBlock: (dumpId: number, chunks: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const label = (opts.label ?? 'the archive').replace(/[\r\n]+/g, ' ');
  const r = new ByteReader(input[Symbol.asyncIterator](), label, opts.maxTocBytes ?? DEFAULT_MAX_TOC_BYTES, opts.signal);
  try {
    onToc(await parse(r, label));
    r.unlimit();
    for (let n = 1; ; n++) {
      r.where = `data block ${n}`;
      const type = await r.byteOrEnd();
      if (type === undefined) return;
      const dumpId = await r.int('a dump id');
      if (type === BLK_DATA) {
        const chunks = blockChunks(r, label);
        await onBlock(dumpId, chunks);
        for await (const _rest of chunks) {
          // a block onBlock did not read is skipped
        }
      } else if (type === BLK_BLOBS) {
        while ((await r.int('a large object OID')) !== 0) for await (const _chunk of blockChunks(r, label)) {
          // large objects have no rows to count
        }
      } else {
        throw new VerificationError(`${label}: ${r.where} has block type ${type} (expected ${BLK_DATA} or ${BLK_BLOBS}): the archive is damaged`);
      }
    }
  } finally {
    await r.close();
  }
}

/** A block's stored chunks, piece by piece as they arrive (a chunk is never held whole). */
async function* blockChunks(r: ByteReader, label: string): AsyncGenerator<Buffer> {
  for (;;) {
    const len = await r.int('a chunk length');
    if (len === 0) return;
    if (len < 0) throw new VerificationError(`${label}: ${r.where} has a chunk of ${len} bytes: the archive is damaged`);
    yield* r.pieces(len, 'a data chunk');
  }
}

async function parse(r: ByteReader, label: string): Promise<ArchiveToc> {
  const head = await r.startBytes(MAGIC.length);
  if (head.toString('latin1') !== MAGIC) throw new VerificationError(`${label} is not a pg_dump custom-format archive: ${whatItIs(head)}`);
  const vmaj = await r.byte('the format version');
  const vmin = await r.byte('the format version');
  const vrev = await r.byte('the format version');
  const ver = version(vmaj, vmin, vrev);
  const verText = `${vmaj}.${vmin}${vrev ? `.${vrev}` : ''}`;
  if (ver < MIN_VERSION || ver > MAX_VERSION) {
    throw new VerificationError(`${label} has archive format version ${verText}, which this reader does not know (it reads 1.12 to 1.16, written by pg_dump 9.0 to 18)`);
  }
  const intSize = await r.byte('the integer size');
  const offSize = await r.byte('the offset size');
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 16) {
    throw new VerificationError(`${label} has an impossible header (integer size ${intSize}, offset size ${offSize}): the archive is damaged`);
  }
  r.intSize = intSize;
  const format = await r.byte('the format');
  if (format !== FORMAT_CUSTOM) {
    throw new VerificationError(`${label} is ${FORMAT_NAMES[format] ?? `an archive of unknown format ${format}`}, not a custom-format archive (pg_dump -Fc)`);
  }
  let compression: string;
  if (ver >= K_VERS_1_15) {
    const algorithm = await r.byte('the compression');
    compression = COMPRESSIONS[algorithm] ?? `unknown (${algorithm})`;
  } else {
    compression = (await r.int('the compression level')) === 0 ? 'none' : 'gzip';
  }
  for (let i = 0; i < 7; i++) await r.int('the creation time');
  const dbname = (await r.str('the database name')) ?? '';
  const serverVersion = (await r.str('the server version')) ?? '';
  const pgDumpVersion = (await r.str('the pg_dump version')) ?? '';

  const count = await r.int('the number of TOC entries');
  if (count < 0 || count * MIN_ENTRY_BYTES > r.maxBytes) {
    const why = count < 0 ? 'a negative count' : `more than fit in the ${r.maxBytes}-byte limit for a table of contents`;
    throw new VerificationError(`${label} claims ${count} TOC entries, ${why}: the archive is damaged`);
  }
  const entries: TocEntry[] = [];
  for (let i = 0; i < count; i++) {
    r.where = `TOC entry ${i + 1} of ${count}`;
    entries.push(await readEntry(r, ver, offSize, label));
  }
  return { version: verText, dbname, serverVersion, pgDumpVersion, compression, entries };
}

async function readEntry(r: ByteReader, ver: number, offSize: number, label: string): Promise<TocEntry> {
  const dumpId = await r.int('a dump id');
  if (dumpId <= 0) throw new VerificationError(`${label}: ${r.where} has dump id ${dumpId}: the archive is damaged`);
  const hadDumper = (await r.int('a flag')) !== 0;
  const tableOid = (await r.str('a table OID')) ?? '0';
  const oid = (await r.str('an OID')) ?? '0';
  const tag = (await r.str('a name')) ?? '';
  const desc = (await r.str('an object type')) ?? '';
  const section = SECTIONS[await r.int('a section')] ?? 'unknown';
  // Definitions are skipped, except the CREATE DATABASE statement and the encoding.
  let defn: string | undefined;
  if (desc === 'DATABASE' || desc === 'ENCODING') defn = (await r.str('a definition')) ?? undefined;
  else await r.skipStr('a definition');
  await r.skipStr('a drop statement');
  await r.skipStr('a COPY statement');
  const namespace = await r.str('a schema name');
  const tablespace = await r.str('a tablespace name');
  if (ver >= K_VERS_1_14) await r.skipStr('a table access method');
  if (ver >= K_VERS_1_16) await r.int('a relation kind');
  const owner = await r.str('an owner');
  await r.skipStr('the WITH OIDS flag');
  const deps: number[] = [];
  for (;;) {
    const dep = await r.str('a dependency');
    if (dep === null) break;
    if (!/^[1-9][0-9]{0,9}$/.test(dep)) throw new VerificationError(`${label}: ${r.where} has a dependency ${JSON.stringify(dep.slice(0, 40))} that is not a dump id: the archive is damaged`);
    deps.push(Number(dep));
  }
  const flag = await r.byte('a data offset flag');
  if (flag < 1 || flag > 3) throw new VerificationError(`${label}: ${r.where} has data offset flag ${flag} (expected 1 to 3): the archive is damaged`);
  await r.skip(offSize, 'a data offset');
  if (desc === 'ENCODING') r.setEncoding(encodingOf(defn ?? ''));
  const entry: TocEntry = { dumpId, hadDumper, tableOid, oid, tag, desc, section, namespace, tablespace, owner, deps };
  if (desc === 'DATABASE' && defn !== undefined) entry.defn = defn;
  return entry;
}

/** A guess at what a file that is not a custom archive is, for the error message. */
function whatItIs(head: Buffer): string {
  if (head.length === 0) return 'the file is empty';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed (a compressed plain dump?)';
  if (head.subarray(0, 4).toString('latin1') === '(\xb5/\xfd') return 'it is zstd-compressed';
  const text = head.toString('latin1');
  if (/^(--|SET |\\|CREATE|\n|\r)/i.test(text)) return 'it looks like a plain SQL dump (pg_dump -Fp), which has no table of contents';
  if (head.length < MAGIC.length) return `it is only ${head.length} byte${head.length === 1 ? '' : 's'} long`;
  return 'it does not start with "PGDMP"';
}

/** The TextDecoder label for a PostgreSQL encoding name (from the ENCODING entry: SET client_encoding = 'X';). */
function encodingOf(defn: string): string {
  const name = /'([^']*)'/.exec(defn)?.[1]?.toUpperCase() ?? 'UTF8';
  const latin = /^LATIN([1-9]|10)$/.exec(name);
  if (latin) return ({ 1: 'iso-8859-1', 2: 'iso-8859-2', 3: 'iso-8859-3', 4: 'iso-8859-4', 5: 'iso-8859-9', 6: 'iso-8859-10', 7: 'iso-8859-13', 8: 'iso-8859-14', 9: 'iso-8859-15', 10: 'iso-8859-16' } as Record<string, string>)[latin[1]!]!;
  const win = /^WIN(\d+)$/.exec(name);
  if (win) return win[1] === '866' ? 'ibm866' : `windows-${win[1]}`;
  const iso = /^ISO_8859_(\d+)$/.exec(name);
  if (iso) return `iso-8859-${iso[1]}`;
  const known: Record<string, string> = { KOI8R: 'koi8-r', KOI8U: 'koi8-u', EUC_JP: 'euc-jp', EUC_KR: 'euc-kr', SJIS: 'shift_jis', GBK: 'gbk', BIG5: 'big5', GB18030: 'gb18030', EUC_CN: 'gb18030' };
  return known[name] ?? 'utf-8';
}

/**
 * Pulls chunks from the source only as needed, keeps only the bytes not yet consumed, and counts
 * what was consumed against the TOC cap. Errors name the archive and where in it the reader was.
 */
class ByteReader {
  intSize = 4;
  where = 'the header';
  private chunks: Buffer[] = [];
  private head = 0; // the first chunk not yet consumed
  private offset = 0; // into chunks[head]
  private available = 0;
  private consumed = 0;
  private ended = false;
  /** A next() of the source has not settled (only after an abort). */
  private reading = false;
  private decoder = new TextDecoder('utf-8');

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly label: string,
    public maxBytes: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** After the TOC: the data may be as long as it is (only the TOC is capped). */
  unlimit(): void {
    this.maxBytes = Number.POSITIVE_INFINITY;
  }

  /** The next byte, or undefined at the end of the source. */
  async byteOrEnd(): Promise<number | undefined> {
    if (!(await this.fill(1))) return undefined;
    return this.take(1)[0]!;
  }

  /** The next n bytes, in the pieces they arrived in (nothing copied or held beyond one piece). */
  async *pieces(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.available === 0 && !(await this.pull())) this.truncated(what);
      const chunk = this.chunks[this.head]!;
      const step = Math.min(left, chunk.length - this.offset);
      const out = chunk.subarray(this.offset, this.offset + step);
      this.drop(step);
      left -= step;
      yield out;
    }
  }

  setEncoding(label: string): void {
    try {
      this.decoder = new TextDecoder(label);
    } catch {
      this.decoder = new TextDecoder('utf-8');
    }
  }

  /** The first bytes of the file, fewer if it is shorter (for telling what the file is). */
  async startBytes(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.take(Math.min(n, this.available));
  }

  async byte(what: string): Promise<number> {
    await this.need(1, what);
    return this.take(1)[0]!;
  }

  async int(what: string): Promise<number> {
    await this.need(1 + this.intSize, what);
    const b = this.take(1 + this.intSize);
    let value = 0;
    for (let i = this.intSize; i >= 1; i--) value = value * 256 + b[i]!;
    if (value > 0x7fffffff) throw new VerificationError(`${this.label}: ${this.where} has an impossible number (${value}) for ${what}: the archive is damaged`);
    return b[0] !== 0 ? -value : value;
  }

  /** A string (null for NULL). */
  async str(what: string): Promise<string | null> {
    const len = await this.strLength(what);
    if (len < 0) return null;
    await this.need(len, what);
    return this.decoder.decode(this.take(len));
  }

  /** Skips a string without keeping it. */
  async skipStr(what: string): Promise<void> {
    const len = await this.strLength(what);
    if (len > 0) await this.skip(len, what);
  }

  async skip(n: number, what: string): Promise<void> {
    this.checkCap(n, what);
    let left = n;
    while (left > 0) {
      if (this.available === 0 && !(await this.pull())) this.truncated(what);
      const step = Math.min(left, this.available);
      this.drop(step);
      left -= step;
    }
  }

  /** Stops the source. Not awaited while a read is still pending (a stalled source, after an abort): it may never settle. */
  async close(): Promise<void> {
    this.chunks = [];
    this.head = 0;
    this.available = 0;
    let stopped: Promise<unknown> | undefined;
    try {
      stopped = this.source.return?.();
    } catch {
      return; /* the source is being torn down: nothing to do */
    }
    const quiet = stopped?.catch(() => undefined);
    if (!this.reading) await quiet;
  }

  private async strLength(what: string): Promise<number> {
    const len = await this.int(`the length of ${what}`);
    this.checkCap(len, what);
    return len;
  }

  private checkCap(n: number, what: string): void {
    if (this.consumed + n > this.maxBytes) {
      throw new VerificationError(
        `${this.label}: ${this.where} claims ${n} bytes for ${what}, beyond the ${this.maxBytes}-byte limit for a table of contents: the archive is damaged or not a pg_dump archive`,
      );
    }
  }

  private async need(n: number, what: string): Promise<void> {
    this.checkCap(n, what);
    if (!(await this.fill(n))) this.truncated(what);
  }

  private truncated(what: string): never {
    throw new VerificationError(
      `${this.label} ends after ${this.consumed + this.available} bytes, inside ${this.where} (reading ${what}): the archive is truncated or damaged`,
    );
  }

  /** Pulls until n bytes are buffered; false when the source ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.available < n) if (!(await this.pull())) return false;
    return true;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    if (this.signal?.aborted) throw new AbortedError();
    let result: IteratorResult<Buffer>;
    this.reading = true;
    try {
      result = this.signal ? await raceAbort(this.source.next(), this.signal) : await this.source.next();
      this.reading = false;
    } catch (err) {
      if (!(err instanceof AbortedError)) this.reading = false;
      if (err instanceof AbortedError || err instanceof VerificationError || err instanceof ExternalError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
        throw new VerificationError(`${this.label} is a directory (a directory-format archive?), not a custom-format archive file (pg_dump -Fc)`);
      }
      throw new ExternalError(`could not read ${this.label}: ${messageOf(err)}`);
    }
    if (result.done) {
      this.ended = true;
      return false;
    }
    const value: unknown = result.value;
    const chunk = Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value) : Buffer.from(value as Uint8Array);
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.available += chunk.length;
    }
    return true;
  }

  /** Takes n buffered bytes (n <= available). */
  private take(n: number): Buffer {
    const first = this.chunks[this.head];
    if (first && first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.drop(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head]!;
      const step = Math.min(n - filled, chunk.length - this.offset);
      chunk.copy(out, filled, this.offset, this.offset + step);
      filled += step;
      this.drop(step);
    }
    return out;
  }

  private drop(n: number): void {
    this.available -= n;
    this.consumed += n;
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[this.head]!;
      const rest = chunk.length - this.offset;
      if (left < rest) {
        this.offset += left;
        break;
      }
      left -= rest;
      this.head++;
      this.offset = 0;
    }
    // Forget consumed chunks now and then (not on every one: tiny chunks would make that quadratic).
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
