// The two kinds of dump a backup run makes, streamed from the client tool into gzip members:
// the globals (pg_dumpall --globals-only) and each database (pg_dump --create), each written once
// to its own file and, as the same compressed bytes, into the cluster file.
import { ExternalError } from '../errors.js';
import { startTool } from '../process/run-tool.js';
import type { ClientTools } from '../postgres/client-tools.js';
import { libpqEnv, type ConnectionSettings } from '../settings/connection.js';
import type { FileSink } from './file-sink.js';
import type { EncryptionConfig } from '../encryption/age-stream.js';
import { gzipStream, writeMember } from './gzip-members.js';
import type { Phase, ProgressTracker } from '../progress.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SqlRewriter, keptForServer } from '../restore/sql-rewrite.js';
import { RowCounter, dumpEncoding, type TableRows } from './row-counts.js';

const GLOBALS_LIMIT = 256 * 1024 * 1024;
const PREAMBLE_LIMIT = 4 * 1024 * 1024;
const CLUSTER_TRAILER = '--\n-- PostgreSQL database cluster dump complete\n--\n\n';

export interface DumpContext {
  tools: ClientTools;
  conn: ConnectionSettings;
  level: number;
  signal: AbortSignal;
  /** The server's major: a newer pg_dump's CREATE DATABASE is adapted to it. */
  serverMajor: number;
  /** Where the dumps report their progress. */
  progress?: ProgressTracker;
  /** BACKUP_ENCRYPTION_RECIPIENTS / BACKUP_ENCRYPTION: every file is age-encrypted as it is written. */
  encryption?: EncryptionConfig;
  /** BACKUP_ROW_COUNTS=false: no row counts in the manifest (default: counted). */
  noRowCounts?: boolean;
}

/** Roles, memberships, role settings and tablespaces, as pg_dumpall --globals-only writes them. */
export async function dumpGlobalsText(ctx: DumpContext, opts: { rolePasswords: boolean }): Promise<string> {
  const proc = startTool({
    command: ctx.tools.path('pg_dumpall'),
    // Only a superuser can read role passwords (pg_authid); anyone else gets the roles without them.
    args: ['--globals-only', '--no-password', `--database=${ctx.conn.database}`, ...(opts.rolePasswords ? [] : ['--no-role-passwords'])],
    env: libpqEnv(ctx.conn),
    label: 'pg_dumpall',
    signal: ctx.signal,
  });
  const parts: Buffer[] = [];
  let size = 0;
  const phase = ctx.progress?.phase('dump-globals', 'dump-globals', 'dump of the globals (roles, tablespaces)');
  for await (const chunk of proc.stdout) {
    size += (chunk as Buffer).length;
    phase?.update(size);
    if (size > GLOBALS_LIMIT) {
      proc.kill();
      throw new ExternalError('pg_dumpall --globals-only wrote more than 256 MB; that is not a globals dump');
    }
    parts.push(chunk as Buffer);
  }
  try {
    await proc.done;
  } catch (err) {
    phase?.failed();
    throw err;
  }
  phase?.done();
  return Buffer.concat(parts).toString('utf8');
}

/** The start of the cluster file: the globals without their closing comment. */
export function clusterHead(globals: string): string {
  const body = globals.endsWith(CLUSTER_TRAILER) ? globals.slice(0, -CLUSTER_TRAILER.length) : globals;
  return `${body}\n--\n-- Databases\n--\n\n`;
}

export function clusterTail(): string {
  return CLUSTER_TRAILER;
}

export interface DatabaseSinks {
  /** The database's own file; absent for a database dumped only into the cluster file (template1). */
  file?: FileSink;
  cluster: FileSink;
}

/** What a database's dump recorded besides its bytes: the rows of each table (see row-counts.ts). */
export type DumpCounts = { rows: TableRows[] } | { problem: string } | undefined;

/**
 * Dumps one database with pg_dump --create. The preamble (up to the first \connect) goes to each
 * sink as its own member: unchanged into the database's file, and for template1 and postgres, which
 * exist on every server, without the CREATE DATABASE statement in the cluster file (pg_dumpall
 * does not create them either). Everything after it is compressed once and written to both.
 */
export async function dumpDatabase(ctx: DumpContext, database: string, sinks: DatabaseSinks): Promise<DumpCounts> {
  const phase = ctx.progress?.phase('dump-database', `dump-database:${database}`, `dump of database ${JSON.stringify(database)}`);
  let counts: DumpCounts;
  try {
    counts = await dumpDatabaseTo(ctx, database, sinks, phase);
  } catch (err) {
    phase?.failed();
    throw err;
  }
  phase?.done();
  return counts;
}

async function dumpDatabaseTo(ctx: DumpContext, database: string, sinks: DatabaseSinks, phase: Phase | undefined): Promise<DumpCounts> {
  // The rows of each table are counted for the database's own file (the cluster file has none).
  let counter: RowCounter | undefined;
  const proc = startTool({
    command: ctx.tools.path('pg_dump'),
    args: ['--create', '--no-password', '--format=plain'],
    env: libpqEnv(ctx.conn, database), // the name goes in PGDATABASE: a name with '=' is not a connection string
    label: 'pg_dump',
    signal: ctx.signal,
  });
  try {
    const split = await splitPreamble(proc.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    if (sinks.file && !ctx.noRowCounts) counter = new RowCounter(`the dump of database ${JSON.stringify(database)}`, dumpEncoding(split.preamble.toString('latin1')));
    const preamble = adaptPreamble(split.preamble.toString('utf8'), ctx);
    const rest = split.rest;
    const header = `--\n-- Database ${JSON.stringify(database).replace(/[\r\n]/g, ' ')} dump\n--\n\n`;
    const clusterPreamble = Buffer.from(
      header + (database === 'postgres' || database === 'template1' ? withoutCreateDatabase(preamble) : preamble),
      'utf8',
    );
    if (sinks.file) await writeMember(sinks.file, Buffer.from(preamble, 'utf8'), ctx.level);
    await writeMember(sinks.cluster, clusterPreamble, ctx.level);
    const targets = sinks.file ? [sinks.file, sinks.cluster] : [sinks.cluster];
    phase?.add(split.preamble.length);
    await gzipStream(
      counted(adaptedForServer(rest, ctx), targets, phase, counter),
      async (member) => {
        await Promise.all(targets.map((t) => t.write(member)));
      },
      { level: ctx.level, signal: ctx.signal },
    );
  } catch (err) {
    proc.kill();
    await proc.done.catch(() => {});
    throw err;
  }
  await proc.done;
  return counter?.finish();
}

/**
 * The dump's bytes on their way to gzip: counted as uncompressed bytes of each file, reported
 * as progress with the table whose data is going by (pg_dump's "-- Data for Name:" comments), and
 * read by the row counter (row-counts.ts) for the manifest's per-table row counts.
 */
async function* counted(source: AsyncIterable<Buffer>, targets: FileSink[], phase: Phase | undefined, rows: RowCounter | undefined): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    for (const t of targets) t.addRaw(chunk.length);
    rows?.write(chunk);
    phase?.add(chunk.length, phase && tableOf(chunk));
    yield chunk;
  }
}

const DATA_FOR = Buffer.from('\n-- Data for Name: ');

/** "table public.events" from the last "-- Data for Name: events; Type: TABLE DATA; Schema: public;" in a chunk. */
export function tableOf(chunk: Buffer): string | undefined {
  const at = chunk.lastIndexOf(DATA_FOR);
  if (at < 0) return undefined;
  const end = chunk.indexOf(0x0a, at + DATA_FOR.length);
  const line = chunk.subarray(at + DATA_FOR.length, end < 0 ? Math.min(chunk.length, at + 1024) : end).toString('utf8');
  const m = /^(.*); Type: ([^;]+); Schema: ([^;]*);/.exec(line);
  if (!m) return undefined;
  const kind = m[2] === 'TABLE DATA' ? 'table' : m[2]!.toLowerCase();
  return `${kind} ${m[3] && m[3] !== '-' ? `${m[3]}.` : ''}${m[1]}`;
}

/**
 * The dump as the server's own major reads it. Only when the pg_dump is newer than a server before
 * 15 (no client of the server's major was found) is it streamed through the adapter, which rewrites
 * the few statements such a pg_dump writes differently (see adaptStatement); otherwise unchanged.
 */
function adaptedForServer(rest: AsyncIterable<Buffer>, ctx: DumpContext): AsyncIterable<Buffer> {
  if (ctx.tools.major <= ctx.serverMajor || ctx.serverMajor >= 17) return rest;
  const adapter = new SqlRewriter({ mode: 'adapt', serverMajor: ctx.serverMajor, label: 'the pg_dump output' });
  pipeline(Readable.from(rest), adapter).catch(() => {}); // an error reaches the reader through the adapter
  return adapter;
}

async function splitPreamble(it: AsyncIterator<Buffer>): Promise<{ preamble: Buffer; rest: AsyncIterable<Buffer> }> {
  const marker = Buffer.from('\n\\connect ');
  let buf = Buffer.alloc(0);
  for (;;) {
    const next = await it.next();
    if (next.done) return { preamble: buf, rest: fromIterator(it, undefined) };
    buf = Buffer.concat([buf, next.value]);
    const at = buf.indexOf(marker);
    const eol = at >= 0 ? buf.indexOf(0x0a, at + 1) : -1;
    if (eol >= 0) return { preamble: buf.subarray(0, eol + 1), rest: fromIterator(it, buf.subarray(eol + 1)) };
    if (buf.length > PREAMBLE_LIMIT) return { preamble: Buffer.alloc(0), rest: fromIterator(it, buf) };
  }
}

async function* fromIterator(it: AsyncIterator<Buffer>, first: Buffer | undefined): AsyncIterable<Buffer> {
  try {
    if (first && first.length > 0) yield first;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await it.return?.(); // a consumer that stops early releases the stream
  }
}

/** The preamble (SET lines and CREATE DATABASE, no data) as the server's own major reads it. */
function adaptPreamble(preamble: string, ctx: DumpContext): string {
  const adapted = adaptCreateDatabase(preamble, ctx.serverMajor);
  if (ctx.tools.major <= ctx.serverMajor) return adapted;
  return adapted
    .split('\n')
    .filter((line) => keptForServer(line, ctx.serverMajor))
    .join('\n');
}

/** Drops the CREATE DATABASE statement (one or more lines up to its semicolon). */
export function withoutCreateDatabase(preamble: string): string {
  const lines = preamble.split('\n');
  const out: string[] = [];
  let skipping = false;
  for (const line of lines) {
    if (!skipping && line.startsWith('CREATE DATABASE ')) skipping = true;
    if (skipping) {
      if (line.trimEnd().endsWith(';')) skipping = false;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

/**
 * A pg_dump newer than the server writes CREATE DATABASE options the server's own major does not
 * know. The backup must restore into a server of the same major, so the statement is written as that
 * major understands it: LOCALE_PROVIDER (15+) only ever meant libc before 15, and LOCALE (13+) is
 * LC_COLLATE plus LC_CTYPE before 13.
 */
export function adaptCreateDatabase(preamble: string, serverMajor: number): string {
  return preamble.replace(/^CREATE DATABASE .*;$/m, (stmt) => {
    let out = stmt;
    if (serverMajor < 15) out = out.replace(/ LOCALE_PROVIDER = libc\b/, '');
    if (serverMajor < 13) out = out.replace(/ LOCALE = ('(?:[^']|'')*')/, ' LC_COLLATE = $1 LC_CTYPE = $1');
    return out;
  });
}
