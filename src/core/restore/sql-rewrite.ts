// A streaming rewriter of pg_dump / pg_dumpall plain SQL on its way to psql. It works on bytes
// (a dump is in its database's encoding, not necessarily UTF-8; every server encoding keeps ASCII
// bytes as they are), a line at a time outside COPY data, and passes COPY data through without
// holding its rows. It knows where it is: inside COPY data, inside '...', E'...', "..." and
// $tag$...$tag$ text and /* */ comments, at the start of a statement, and in which pg_dump TOC entry
// (from the "-- Name: ...; Type: ...;" comments pg_dump writes before each entry).
//
// It works on whole statements where it matters: a statement it may act on (COPY, and in the TOC
// entries it rewrites, every statement) is held until its closing ';' and judged as a whole, so a
// COPY whose column names hold newlines is recognised, and COPY data is entered only after a complete
// `COPY ... FROM stdin;`. Rows, quoted text, comments and function bodies are never changed or
// refused: whatever they hold, they reach psql byte for byte.
//
// In "database" mode it moves a pg_dump (--create or not) onto a staging database: the statements
// of the database-level TOC entries (DATABASE, DATABASE PROPERTIES, and the COMMENT, SECURITY LABEL
// and ACL of "DATABASE <name>") and the \connect lines are rewritten from the original name to the
// staging name. A \connect to another database, or a statement that starts as a database-level one
// (ALTER DATABASE ..., GRANT ... ON DATABASE ...) outside those entries, which pg_dump never writes,
// stops the restore (NotApplied: the file is whole, pg-backups will not apply it): nothing in the
// file can reach a database other than the staging one. In "globals" and "cluster" mode it leaves
// out `CREATE ROLE x;` of the globals for roles that exist (the connecting user; pg_dumpall's ALTER
// ROLE that follows still gives the role the backup's attributes) and records what the file creates.
//
// Everywhere it checks that the file is whole: it must end outside COPY data, quoted text and any
// unfinished statement, after pg_dump's (or pg_dumpall's) closing "dump complete" line; otherwise
// the stream fails with a VerificationError before psql sees its end.
import { Transform, type TransformCallback } from 'node:stream';
import { ExternalError, VerificationError } from '../errors.js';
import { adaptCreateDatabase } from '../backup/dump-steps.js';

/**
 * database/globals/cluster: restores (see above); scan: reads what a file creates; adapt: at backup
 * time, writes what a pg_dump newer than the server wrote the way the server's own major reads it.
 */
export type RewriteMode = 'database' | 'globals' | 'cluster' | 'scan' | 'adapt';

export interface RewriteOptions {
  mode: RewriteMode;
  /** database mode: the database's name in the backup. */
  database?: string;
  /** database mode: the (plain, lower-case ASCII) name to restore into instead. */
  staging?: string;
  /** globals/cluster mode: roles that exist on the target; their `CREATE ROLE x;` is left out. */
  existingRoles?: ReadonlySet<string>;
  /** Leave out `\restrict` / `\unrestrict` lines (a psql too old to know them). */
  stripRestrict?: boolean;
  /** Which closing line the file must end with (default: from the mode; scan: none). */
  endMarker?: 'database' | 'cluster' | 'none';
  /**
   * The target server's major: CREATE DATABASE options it does not know, written by a newer
   * pg_dump (LOCALE_PROVIDER before 15, LOCALE before 13), are written the way it understands.
   */
  serverMajor?: number;
  /** Longest line held outside COPY data (default 256 MiB). */
  maxLineBytes?: number;
  /** What the file is, for messages. */
  label?: string;
  /**
   * Called at the `\.` line that ends each COPY block with the COPY statement (latin1 text of its
   * bytes) and its number of data lines (rows): a backup counts each table's rows with it.
   */
  onCopyData?: (statement: string, rows: number) => void;
  /** Pass nothing on (a counter beside the real stream): the lexer runs, the output is dropped. */
  discardOutput?: boolean;
}

/** Where a pg_dump TOC entry starts in the output (for naming the step psql failed at). */
export interface TocMark {
  line: number;
  what: string;
}

/**
 * A whole file that pg-backups will not apply (it holds what pg_dump never writes, such as a
 * \connect to another database): not damage (exit 3) but a refusal with its reason (exit 1).
 */
export class NotApplied extends ExternalError {}

/**
 * The mark a staging database carries while a restore fills it: a database-level default of
 * application_name that only pg-backups sets (it names the staging database itself). A later
 * restore drops a leftover staging database only when it carries it; the swap removes it.
 */
export function stagingMark(staging: string): string {
  return `pg-backups staging ${staging}`;
}

function stagingMarkStatement(staging: string): string {
  return `ALTER DATABASE "${staging}" SET application_name = '${stagingMark(staging)}';\n`;
}

/** A COPY header longer than this is refused (pg_dump's are at most a few hundred KiB). */
const MAX_HELD_BYTES = 16 * 1024 * 1024;
/** Other statements held longer than this are judged on their start and the rest streamed. */
const SPILL_BYTES = 1024 * 1024;

const DB_MARKER = '-- PostgreSQL database dump complete';
const CLUSTER_MARKER = '-- PostgreSQL database cluster dump complete';
const MAX_TOC_MARKS = 200_000;

// An identifier as pg_dump writes it (fmtId): a bare lower-case word or a double-quoted name.
const ID = String.raw`(?:"(?:[^"]|"")*"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)`;

const RULES = {
  createDatabase: new RegExp(`^(CREATE DATABASE )(${ID})(.*)$`, 's'),
  dropDatabase: new RegExp(`^DROP DATABASE (?:IF EXISTS )?(${ID})\\s*;\\s*$`, 's'),
  alterDatabase: new RegExp(`^(ALTER DATABASE )(${ID})(\\s.*)$`, 's'),
  commentDatabase: new RegExp(`^(COMMENT ON DATABASE )(${ID})(\\s.*)$`, 's'),
  securityLabel: new RegExp(`^(SECURITY LABEL (?:FOR ${ID} )?ON DATABASE )(${ID})(\\s.*)$`, 's'),
  grantDatabase: new RegExp(`^((?:GRANT|REVOKE) [A-Za-z, ]+? ON DATABASE )(${ID})(\\s.*)$`, 's'),
  roleInDatabase: new RegExp(`^(ALTER ROLE ${ID} IN DATABASE )(${ID})(\\s.*)$`, 's'),
  // A statement that starts as a database-level one, outside the TOC entries that hold them:
  // pg_dump never writes one there, so in database mode it is refused, not applied.
  databaseLevel: new RegExp(
    String.raw`^(?:(?:CREATE|DROP|ALTER)\s+DATABASE\s|COMMENT\s+ON\s+DATABASE\s|SECURITY\s+LABEL\s+(?:FOR\s+${ID}\s+)?ON\s+DATABASE\s|(?:GRANT|REVOKE)\s+[A-Za-z_, ]+\s+ON\s+DATABASE\s|ALTER\s+(?:ROLE|USER)\s+${ID}\s+IN\s+DATABASE\s)`,
  ),
  createRole: new RegExp(`^CREATE ROLE (${ID});\\s*$`, 's'),
  createTablespace: new RegExp(`^CREATE TABLESPACE (${ID})\\s`, 's'),
  copy: /^COPY .* FROM stdin;\s*$/s,
  /** Statements held whole wherever they are: COPY (to find its data), and what globals/cluster mode records. */
  heldAnywhere: /^(?:COPY |CREATE (?:ROLE|TABLESPACE|DATABASE) |DROP DATABASE )/,
  toc: /^-- (?:Data for )?Name: (.*?); Type: ([^;]*);(?: Schema: ([^;]*);)?/,
  dumpedFrom: /^-- Dumped from database version (\d+)/,
  dumpedBy: /^-- Dumped by pg_dump(?:all)? version (\d+)/,
  setup: /^(?:SET |SELECT pg_catalog\.set_config\()/,
};

/** The name an identifier token stands for (bytes as latin1 text, decoded as UTF-8). */
export function identName(token: string): string {
  const raw = token.startsWith('"') ? token.slice(1, -1).replace(/""/g, '"') : token.toLowerCase();
  return Buffer.from(raw, 'latin1').toString('utf8');
}

/** An identifier, always double-quoted, as latin1 text of its UTF-8 bytes. */
function quoteIdent(name: string): string {
  return `"${Buffer.from(name, 'utf8').toString('latin1').replace(/"/g, '""')}"`;
}

/**
 * The database a psql `\connect` line connects to: `\connect name`, `\connect "na""me"`,
 * `\connect -reuse-previous=on "dbname='...'"` (pg_dump's forms); undefined for anything else.
 */
export function connectTarget(line: string): string | undefined {
  const m = /^\\(?:connect|c)\s+(.*?)\s*$/s.exec(line);
  if (!m) return undefined;
  let rest = m[1]!;
  const reuse = /^-reuse-previous=on\s+/.exec(rest);
  if (reuse) rest = rest.slice(reuse[0].length);
  const arg = psqlArg(rest);
  if (!arg || arg.rest.trim() !== '') return undefined;
  if (!reuse) return Buffer.from(arg.value, 'latin1').toString('utf8');
  // A libpq connection string holding only dbname.
  const cs = /^\s*dbname\s*=\s*(.*)$/s.exec(arg.value);
  if (!cs) return undefined;
  const v = cs[1]!;
  let value: string;
  if (v.startsWith("'")) {
    let out = '';
    let i = 1;
    for (; i < v.length; i++) {
      const ch = v[i]!;
      if (ch === '\\' && i + 1 < v.length) {
        out += v[++i];
        continue;
      }
      if (ch === "'") break;
      out += ch;
    }
    if (i >= v.length || v.slice(i + 1).trim() !== '') return undefined;
    value = out;
  } else {
    if (/\s/.test(v.trim())) return undefined;
    value = v.trim();
  }
  return Buffer.from(value, 'latin1').toString('utf8');
}

/** One psql meta-command argument: a "double-quoted" name (quotes doubled) or a bare word. */
function psqlArg(text: string): { value: string; rest: string } | undefined {
  if (text.startsWith('"')) {
    let out = '';
    let i = 1;
    for (;;) {
      if (i >= text.length) return undefined;
      const ch = text[i]!;
      if (ch === '"') {
        if (text[i + 1] === '"') {
          out += '"';
          i += 2;
          continue;
        }
        return { value: out, rest: text.slice(i + 1) };
      }
      out += ch;
      i++;
    }
  }
  const m = /^(\S+)(.*)$/s.exec(text);
  return m ? { value: m[1]!, rest: m[2]! } : undefined;
}

/**
 * Whether a one-line statement of a newer pg_dump stays for a server of `serverMajor`: pg_dump 17
 * and later write `SET transaction_timeout = 0;` (a setting since 17) whatever the server; the
 * server's own pg_dump writes nothing there.
 */
export function keptForServer(line: string, serverMajor: number): boolean {
  return !(serverMajor < 17 && /^SET transaction_timeout = 0;\s*$/.test(line));
}

/**
 * One statement of a newer pg_dump, as the server's own major reads it. pg_dump 15 and later write
 * LOGGED/UNLOGGED in the sequence options of an identity column (of an unlogged table, on a server
 * before 15 whose sequences are always logged), an option those servers do not have: left out, as
 * their own pg_dump would.
 */
export function adaptStatement(stmt: string, serverMajor: number): string {
  if (serverMajor >= 15 || !stmt.startsWith('ALTER TABLE ')) return stmt;
  const at = stmt.indexOf(' AS IDENTITY (\n');
  if (at < 0) return stmt;
  const options = stmt.slice(at).replace(/^( AS IDENTITY \(\n    SEQUENCE NAME (?:[^\n"]|"(?:[^"]|"")*")*\n)    (?:UN)?LOGGED\n/, '$1');
  return stmt.slice(0, at) + options;
}

const isIdentChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$\x80-\xff]/.test(c);

export class SqlRewriter extends Transform {
  /** Roles, tablespaces and databases the file creates (CREATE ROLE / TABLESPACE / DATABASE). */
  readonly createdRoles: string[] = [];
  readonly createdTablespaces: string[] = [];
  readonly createdDatabases: string[] = [];
  /** From the header comments, when present. */
  dumpedFromMajor?: number;
  dumpedByMajor?: number;
  /** Lines written so far (psql's line numbers refer to these). */
  outLines = 0;
  /** SQL bytes read so far (the file's uncompressed bytes). */
  bytesIn = 0;
  readonly tocMarks: TocMark[] = [];
  /** Set when the first \connect line has passed (scan mode uses it to stop early). */
  sawConnect = false;

  private readonly opts: RewriteOptions;
  private readonly endMarker: 'database' | 'cluster' | 'none';
  private readonly maxLine: number;
  private readonly label: string;
  // line assembly outside COPY data
  private partial: Buffer[] = [];
  private partialBytes = 0;
  // lexer state
  private inCopy = false;
  private copyLineStart = true;
  private copyHeld = '';
  /** onCopyData: the COPY statement whose data is going by, and its data lines so far. */
  private copyStatement = '';
  private copyRows = 0;
  private quote: "'" | '"' | 'E' | null = null;
  private dollarTag: string | null = null;
  private blockDepth = 0;
  private stmtStart = true;
  private endedWith: 'database' | 'cluster' | null = null;
  // a statement held whole until its closing ';' (see line())
  private pending: string[] | null = null;
  private pendingBytes = 0;
  /** Top-level ';' seen in the held statement (more than one: two statements on a line). */
  private semis = 0;
  /** The pg_dump TOC entry the stream is in (from its "-- Name: ...; Type: ...;" comment). */
  private toc: { name: string; type: string; schema?: string; database: boolean } | undefined;
  /** cluster mode: the globals end at the first \connect. */
  private inGlobals = true;
  // database mode
  private form: 'undecided' | 'create' | 'plain' = 'undecided';
  private held: string[] = [];
  private heldLines = 0;
  private createdStaging = false;
  private readonly originalLatin1: string | undefined;

  constructor(opts: RewriteOptions) {
    super();
    this.opts = opts;
    this.endMarker = opts.endMarker ?? (opts.mode === 'database' ? 'database' : opts.mode === 'scan' || opts.mode === 'adapt' ? 'none' : 'cluster');
    this.maxLine = opts.maxLineBytes ?? 256 * 1024 * 1024;
    this.label = opts.label ?? 'the backup file';
    if (opts.mode === 'database') {
      if (!opts.database || !opts.staging || !/^[a-z_][a-z0-9_]*$/.test(opts.staging)) {
        throw new Error('SqlRewriter: database mode needs the database name and a plain staging name');
      }
      this.originalLatin1 = Buffer.from(opts.database, 'utf8').toString('latin1');
    } else {
      this.form = 'create';
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytesIn += chunk.length;
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.partialBytes > 0 || this.partial.length > 0) {
        const line = Buffer.concat(this.partial).toString('latin1');
        this.partial = [];
        this.partialBytes = 0;
        this.line(line, false);
      }
      // A statement still held is unfinished: finish() says how (quoted text, comment, statement).
      if (this.inCopy && this.copyHeld !== '') this.emitRaw(this.copyHeld);
      this.finish();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private incomplete(why: string): VerificationError {
    return new VerificationError(`${this.label} is incomplete: ${why}`);
  }

  private finish(): void {
    if (this.form === 'undecided') this.decide('plain');
    if (this.inCopy) throw this.incomplete('it ends inside the data of a COPY statement');
    if (this.quote !== null || this.dollarTag !== null) throw this.incomplete('it ends inside quoted text');
    if (this.blockDepth > 0) throw this.incomplete('it ends inside a comment');
    if (!this.stmtStart || this.pending !== null) throw this.incomplete('it ends in the middle of a statement');
    if (this.endMarker !== 'none' && this.endedWith !== this.endMarker) {
      const marker = this.endMarker === 'database' ? DB_MARKER : CLUSTER_MARKER;
      throw this.incomplete(`it does not end with the line "${marker.slice(3)}" that ${this.endMarker === 'database' ? 'pg_dump' : 'pg_dumpall'} writes last`);
    }
  }

  private consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inCopy) {
        pos = this.copyScan(chunk, pos);
        continue;
      }
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) {
        const rest = chunk.subarray(pos);
        this.partial.push(rest);
        this.partialBytes += rest.length;
        if (this.partialBytes > this.maxLine) {
          throw new VerificationError(`${this.label} has a line longer than ${Math.round(this.maxLine / 1048576)} MiB outside COPY data; that is not pg_dump output`);
        }
        return;
      }
      let bytes = chunk.subarray(pos, nl);
      if (this.partial.length > 0) {
        this.partial.push(bytes);
        bytes = Buffer.concat(this.partial);
        this.partial = [];
        this.partialBytes = 0;
      }
      this.line(bytes.toString('latin1'), true);
      pos = nl + 1;
    }
  }

  /** Passes COPY data through; a line that is exactly `\.` ends it. Returns the new position. */
  private copyScan(chunk: Buffer, pos: number): number {
    while (pos < chunk.length) {
      if (this.opts.discardOutput && this.copyLineStart && this.copyHeld === '' && chunk[pos] !== 0x5c) {
        // Counting only (no output): a line that does not start with a backslash cannot end the data.
        const nl = chunk.indexOf(0x0a, pos);
        this.copyLineStart = nl >= 0;
        if (nl < 0) return chunk.length;
        this.copyRows++;
        pos = nl + 1;
        continue;
      }
      if (this.copyLineStart) {
        this.copyHeld += String.fromCharCode(chunk[pos]!);
        pos++;
        const h = this.copyHeld;
        if (h === '\\.\n' || h === '\\.\r\n') {
          this.emitRaw(h);
          this.copyHeld = '';
          this.inCopy = false;
          this.stmtStart = true;
          this.opts.onCopyData?.(this.copyStatement, this.copyRows);
          return pos;
        }
        if ('\\.\n'.startsWith(h) || '\\.\r\n'.startsWith(h)) continue;
        this.emitRaw(h);
        this.copyHeld = '';
        this.copyLineStart = h.endsWith('\n');
        if (this.copyLineStart) this.copyRows++;
        continue;
      }
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) {
        this.pass(chunk.subarray(pos));
        return chunk.length;
      }
      this.pass(chunk.subarray(pos, nl + 1));
      this.copyRows++;
      this.outLines++;
      this.copyLineStart = true;
      pos = nl + 1;
    }
    return pos;
  }

  private pass(bytes: Buffer): void {
    if (!this.opts.discardOutput) this.push(bytes);
  }

  private emitRaw(latin1: string): void {
    if (this.opts.discardOutput) return;
    for (const ch of latin1) if (ch === '\n') this.outLines++;
    this.push(Buffer.from(latin1, 'latin1'));
  }

  private out(text: string, newline: boolean): void {
    const whole = newline ? `${text}\n` : text;
    if (this.form === 'undecided') {
      this.held.push(whole);
      for (const ch of whole) if (ch === '\n') this.heldLines++;
      return;
    }
    this.emitRaw(whole);
  }

  /** Decides whether a database file creates its database (pg_dump --create) or not. */
  private decide(form: 'create' | 'plain'): void {
    if (this.form !== 'undecided') return;
    this.form = form;
    if (form === 'plain') {
      // pg_dump without --create: make the staging database first, then run the whole file in it.
      for (const mark of this.tocMarks) if (mark.line > this.outLines) mark.line += 3;
      this.emitRaw(`CREATE DATABASE "${this.opts.staging!}" WITH TEMPLATE = template0;\n${stagingMarkStatement(this.opts.staging!)}\\connect ${this.opts.staging!}\n`);
      this.createdStaging = true;
      this.sawConnect = true;
    }
    const held = this.held;
    this.held = [];
    this.heldLines = 0;
    for (const h of held) this.emitRaw(h);
  }

  private line(text: string, newline: boolean): void {
    if (this.pending !== null) {
      this.hold(text, newline);
      return;
    }
    const lineNo = this.outLines + (this.form === 'undecided' ? this.heldLines : 0) + 1;
    if (this.quote !== null || this.dollarTag !== null || this.blockDepth > 0 || !this.stmtStart) {
      this.lex(text);
      this.out(text, newline);
      return;
    }
    // At the start of a statement.
    const trimmed = text.trim();
    if (trimmed === '' || text.startsWith('--')) {
      this.comment(text, lineNo);
      this.out(text, newline);
      return;
    }
    if (text.startsWith('\\')) {
      this.meta(text, newline);
      return;
    }
    if (this.endedWith !== null) this.endedWith = null;
    if (this.opts.mode === 'globals' && /^(?:CREATE|DROP|ALTER)\s+DATABASE\s/.test(text)) {
      throw this.refuse(`it has a database statement, which a globals file never holds: ${this.shown(text)}`);
    }
    if (
      RULES.heldAnywhere.test(text) ||
      (this.opts.mode === 'database' && (this.toc === undefined || this.inDatabaseEntry() || this.form === 'undecided')) ||
      (this.opts.mode === 'adapt' && text.startsWith('ALTER TABLE '))
    ) {
      this.pending = [];
      this.pendingBytes = 0;
      this.semis = 0;
      this.hold(text, newline);
      return;
    }
    if (this.opts.mode === 'adapt' && !keptForServer(text, this.opts.serverMajor ?? Infinity)) return;
    if (this.opts.mode === 'database' && RULES.databaseLevel.test(text)) {
      throw this.refuse(`it has a database-level statement outside the entries where pg_dump writes them: ${this.shown(text)}`);
    }
    this.lex(text);
    this.out(text, newline);
  }

  /** The pg_dump entry going by, for progress: "table public.events, data", "index public.events_pkey". */
  get currentObject(): string | undefined {
    const t = this.toc;
    if (!t) return undefined;
    const name = Buffer.from(`${t.schema && t.schema !== '-' ? `${t.schema}.` : ''}${t.name}`, 'latin1').toString('utf8');
    return t.type === 'TABLE DATA' ? `table ${name}, data` : `${t.type.toLowerCase()} ${name}`;
  }

  /** Whether the stream is in a TOC entry whose statements name the database itself. */
  private inDatabaseEntry(): boolean {
    return this.toc?.database ?? false;
  }

  /**
   * Whether a TOC comment opens an entry of the database being restored: its DATABASE and DATABASE
   * PROPERTIES, and the COMMENT, SECURITY LABEL and ACL of "DATABASE <name>". Matched on the exact
   * text pg_dump writes for this database (names are free text: an owner or a table may be named
   * "x; Type: TABLE", so the fields cannot be split on "; ").
   */
  private databaseEntryOf(text: string): boolean {
    if (this.opts.mode !== 'database' || this.originalLatin1 === undefined) return false;
    const name = this.originalLatin1.replace(/[\r\n]/g, ' '); // pg_dump's sanitize_line
    const tail = '; Schema: -; Owner: ';
    for (const type of ['DATABASE', 'DATABASE PROPERTIES']) if (text.startsWith(`-- Name: ${name}; Type: ${type}${tail}`)) return true;
    for (const shown of [name, `"${name.replace(/"/g, '""')}"`]) {
      for (const type of ['COMMENT', 'SECURITY LABEL', 'ACL']) if (text.startsWith(`-- Name: DATABASE ${shown}; Type: ${type}${tail}`)) return true;
    }
    return false;
  }

  /** Adds a line to the held statement; judges the statement once its closing ';' has passed. */
  private hold(text: string, newline: boolean): void {
    this.lex(text, true);
    this.pending!.push(newline ? `${text}\n` : text);
    this.pendingBytes += text.length + 1;
    const whole = this.quote === null && this.dollarTag === null && this.blockDepth === 0 && this.stmtStart;
    if (whole) {
      this.completeStatement();
      return;
    }
    if (this.pendingBytes > SPILL_BYTES && !this.pending![0]!.startsWith('COPY ')) {
      // A long statement (a huge COMMENT ON DATABASE): judged on its start, which holds every name
      // it has, and the rest streamed as it comes.
      this.spillStatement();
      return;
    }
    if (this.pendingBytes > MAX_HELD_BYTES) {
      throw this.refuse(`it has a COPY statement longer than ${MAX_HELD_BYTES / 1048576} MiB, which pg_dump never writes: ${this.shown(this.pending![0]!)}`);
    }
  }

  /** Writes the start of a statement too long to hold, rewritten as a whole one would be; the rest streams. */
  private spillStatement(): void {
    const text = this.pending!.join('');
    this.pending = null;
    this.pendingBytes = 0;
    const stmt = this.opts.mode === 'database' ? this.databaseStatement(text) : this.opts.mode === 'adapt' ? text : this.globalStatement(text);
    this.out(stmt, false);
  }

  /** A held statement is whole: rewritten where it must be, then written on. */
  private completeStatement(): void {
    const text = this.pending!.join('');
    this.pending = null;
    this.pendingBytes = 0;
    if (this.semis > 1) {
      throw this.refuse(`it has a statement followed by more on the same line, which pg_dump never writes: ${this.shown(text)}`);
    }
    let stmt = text;
    if (this.opts.serverMajor !== undefined && stmt.startsWith('CREATE DATABASE ')) stmt = adaptCreateDatabase(stmt, this.opts.serverMajor);
    if (this.opts.mode === 'database') stmt = this.databaseStatement(stmt);
    else if (this.opts.mode === 'adapt') stmt = adaptStatement(stmt, this.opts.serverMajor ?? Infinity);
    else stmt = this.globalStatement(stmt);
    this.out(stmt, false);
    if (RULES.copy.test(stmt)) {
      if (!stmt.endsWith('\n')) throw this.incomplete('it ends right after a COPY statement, before its data');
      this.inCopy = true;
      this.copyLineStart = true;
      this.copyHeld = '';
      this.copyStatement = stmt;
      this.copyRows = 0;
    }
  }

  private comment(text: string, lineNo: number): void {
    if (text.startsWith(DB_MARKER)) this.endedWith = 'database';
    else if (text.startsWith(CLUSTER_MARKER)) this.endedWith = 'cluster';
    let m: RegExpExecArray | null;
    if (this.dumpedFromMajor === undefined && (m = RULES.dumpedFrom.exec(text))) this.dumpedFromMajor = Number(m[1]);
    if (this.dumpedByMajor === undefined && (m = RULES.dumpedBy.exec(text))) this.dumpedByMajor = Number(m[1]);
    if ((m = RULES.toc.exec(text))) {
      this.toc = { name: m[1]!, type: m[2]!, schema: m[3], database: this.databaseEntryOf(text) };
      if (this.tocMarks.length < MAX_TOC_MARKS) this.tocMarks.push({ line: lineNo, what: Buffer.from(`${m[2]} ${m[1]}`, 'latin1').toString('utf8') });
    }
  }

  private meta(text: string, newline: boolean): void {
    if (this.opts.mode === 'adapt') {
      this.out(text, newline); // pg_dump's own output on its way to the backup file: passed as it is
      return;
    }
    if (/^\\(?:un)?restrict(?:\s|$)/.test(text)) {
      if (!this.opts.stripRestrict) this.out(text, newline);
      else this.out('-- (pg-backups: \\restrict line left out for this psql)', newline);
      return;
    }
    if (/^\\encoding\s+[A-Za-z0-9_]+\s*$/.test(text)) {
      // pg_dump writes \encoding SQL_ASCII before \connect to a database with a non-ASCII name.
      this.out(text, newline);
      return;
    }
    const target = connectTarget(text);
    if (/^\\(?:connect|c)(?:\s|$)/.test(text)) {
      this.sawConnect = true;
      this.inGlobals = false;
      if (this.opts.mode === 'globals') {
        // pg_dumpall --globals-only never connects anywhere (an older pg_dumpall wrote role names with
        // newlines as they are: such a line is injected, not pg_dumpall's).
        throw this.refuse(`it has a \\connect line, which a globals file never holds: ${this.shown(text)}`);
      }
      if (this.opts.mode === 'cluster') {
        // Only to a database the file has created, or to the two every server has.
        if (target === undefined) throw this.refuse(`it has a \\connect line pg-backups cannot read: ${this.shown(text)}`);
        if (target !== 'template1' && target !== 'postgres' && !this.createdDatabases.includes(target)) {
          throw this.refuse(`it connects to database ${JSON.stringify(target)}, which it has not created`);
        }
      }
      if (this.opts.mode !== 'database') {
        this.endedWith = null;
        this.out(text, newline);
        return;
      }
      if (target === undefined) throw this.refuse(`it has a \\connect line pg-backups cannot read: ${this.shown(text)}`);
      if (target !== this.opts.database) {
        throw this.refuse(`it connects to database ${JSON.stringify(target)}, not to ${JSON.stringify(this.opts.database)}`);
      }
      if (this.form === 'undecided') throw this.refuse('it connects to its database before creating it');
      if (!this.createdStaging) throw this.refuse('it connects to its database before creating it');
      this.endedWith = null;
      this.out(`\\connect ${this.opts.staging!}`, newline);
      return;
    }
    if (text.startsWith('\\.')) throw this.refuse('it has a "\\." line outside COPY data');
    // Any other meta-command (\! runs a shell command, \o writes files, ...): pg_dump writes none.
    throw this.refuse(`it holds the psql command ${this.shown(text)}, which pg_dump never writes`);
  }

  private refuse(why: string): NotApplied {
    return new NotApplied(`${this.label} was not restored: ${why}`);
  }

  private shown(text: string): string {
    return JSON.stringify(Buffer.from(text.slice(0, 120), 'latin1').toString('utf8'));
  }

  private isOriginal(token: string): boolean {
    const raw = token.startsWith('"') ? token.slice(1, -1).replace(/""/g, '"') : token.toLowerCase();
    return raw === this.originalLatin1;
  }

  private retarget(text: string, re: RegExp, what: string): string | undefined {
    const m = re.exec(text);
    if (!m) return undefined;
    if (!this.isOriginal(m[2]!)) {
      throw this.refuse(`its ${what} names database ${JSON.stringify(identName(m[2]!))}, not ${JSON.stringify(this.opts.database)}`);
    }
    return `${m[1]}${quoteIdent(this.opts.staging!)}${m[3]}`;
  }

  private databaseStatement(text: string): string {
    if (this.form === 'undecided') {
      if (RULES.createDatabase.test(text) || RULES.dropDatabase.test(text)) this.decide('create');
      else if (!RULES.setup.test(text)) this.decide('plain');
    }
    // Before the first TOC comment (a file not written by pg_dump, or hand-made), every statement
    // is judged as one of a database-level entry.
    const entry = this.toc === undefined || this.inDatabaseEntry();
    if (!entry) {
      if (RULES.databaseLevel.test(text)) throw this.refuse(`it has a database-level statement outside the entries where pg_dump writes them: ${this.shown(text)}`);
      return text;
    }
    let m: RegExpExecArray | null;
    if ((m = RULES.dropDatabase.exec(text))) {
      // pg_dump --clean --create: the original is never dropped; the staging database is new.
      if (!this.isOriginal(m[1]!)) throw this.refuse(`it drops database ${JSON.stringify(identName(m[1]!))}`);
      return '-- (pg-backups: DROP DATABASE left out; the restore goes into a new staging database)\n';
    }
    if (RULES.createDatabase.test(text)) {
      if (this.createdStaging) throw this.refuse('it creates a database twice');
      const out = this.retarget(text, RULES.createDatabase, 'CREATE DATABASE')!;
      this.createdStaging = true;
      return `${out}${out.endsWith('\n') ? '' : '\n'}${stagingMarkStatement(this.opts.staging!)}`;
    }
    for (const [re, what] of [
      [RULES.alterDatabase, 'ALTER DATABASE'],
      [RULES.commentDatabase, 'COMMENT ON DATABASE'],
      [RULES.securityLabel, 'SECURITY LABEL ON DATABASE'],
      [RULES.grantDatabase, 'GRANT/REVOKE ON DATABASE'],
      [RULES.roleInDatabase, 'ALTER ROLE ... IN DATABASE'],
    ] as const) {
      const out = this.retarget(text, re, what);
      if (out !== undefined) return out;
    }
    if (RULES.databaseLevel.test(text)) throw this.refuse(`it has a database-level statement pg-backups cannot move to the staging database: ${this.shown(text)}`);
    return text;
  }

  private globalStatement(text: string): string {
    let m: RegExpExecArray | null;
    if ((m = RULES.createRole.exec(text))) {
      if (!this.inGlobals) return text; // not where pg_dumpall writes roles: applied as it is
      const name = identName(m[1]!);
      this.createdRoles.push(name);
      if (this.opts.existingRoles?.has(name)) {
        // psql would stop at "role already exists"; the ALTER ROLE after it sets the attributes.
        return `-- (pg-backups: role ${m[1]!.replace(/[\r\n]/g, ' ')} exists; CREATE ROLE left out, the ALTER ROLE that follows sets it up)\n`;
      }
    } else if ((m = RULES.createTablespace.exec(text))) {
      this.createdTablespaces.push(identName(m[1]!));
    } else if ((m = RULES.createDatabase.exec(text))) {
      this.createdDatabases.push(identName(m[2]!));
    }
    return text;
  }

  /** Advances the lexer over one line (outside COPY data); `count`: counts top-level ';' into semis. */
  private lex(line: string, count = false): void {
    let last = '';
    let i = 0;
    const n = line.length;
    while (i < n) {
      if (this.dollarTag !== null) {
        const end = line.indexOf(this.dollarTag, i);
        if (end < 0) return;
        i = end + this.dollarTag.length;
        this.dollarTag = null;
        last = '$';
        continue;
      }
      if (this.quote === "'" || this.quote === '"') {
        const end = line.indexOf(this.quote, i);
        if (end < 0) return;
        i = end + 1;
        last = this.quote;
        this.quote = null; // a doubled quote reopens on the next character
        continue;
      }
      if (this.quote === 'E') {
        while (i < n && line[i] !== "'") i += line[i] === '\\' ? 2 : 1;
        if (i >= n) return;
        i++;
        last = "'";
        this.quote = null;
        continue;
      }
      if (this.blockDepth > 0) {
        const open = line.indexOf('/*', i);
        const close = line.indexOf('*/', i);
        if (close < 0 && open < 0) return;
        if (open >= 0 && (close < 0 || open < close)) {
          this.blockDepth++;
          i = open + 2;
        } else {
          this.blockDepth--;
          i = close + 2;
        }
        continue;
      }
      const ch = line[i]!;
      if (ch === '-' && line[i + 1] === '-') break;
      if (ch === '/' && line[i + 1] === '*') {
        this.blockDepth = 1;
        i += 2;
        continue;
      }
      if (ch === "'") {
        const prev = line[i - 1];
        const escape = (prev === 'E' || prev === 'e') && !isIdentChar(line[i - 2]);
        this.quote = escape ? 'E' : "'";
        i++;
        continue;
      }
      if (ch === '"') {
        this.quote = '"';
        i++;
        continue;
      }
      if (ch === '$' && !isIdentChar(line[i - 1])) {
        const m = /^\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$/.exec(line.slice(i, i + 256));
        if (m) {
          this.dollarTag = m[0];
          i += m[0].length;
          continue;
        }
      }
      if (ch === ';' && count) this.semis++;
      if (ch !== ' ' && ch !== '\t' && ch !== '\r') last = ch;
      i++;
    }
    if (this.quote === null && this.dollarTag === null && this.blockDepth === 0) {
      if (last !== '') this.stmtStart = last === ';';
    } else {
      this.stmtStart = false;
    }
  }
}
