// Row counts at backup time: the plain SQL of a database's dump, on its way to gzip, also goes
// through a SqlRewriter that passes nothing on (discardOutput) and reports each COPY block it ends
// (onCopyData): the table the COPY statement names and its number of data lines. pg_dump writes one
// row per line (a newline inside a value is written as \n), and the block ends at the line `\.`; the
// rewriter's lexer knows when a `COPY ... FROM stdin;` is a statement of its own and not text in a
// function body, a quoted string or a comment, so only real COPY blocks are counted. No query, no
// second pass: the bytes are read once, COPY data with Buffer.indexOf.
//
// Partitioned tables: pg_dump writes the rows of each leaf partition under the leaf's name, so the
// counts are per leaf table (a partitioned parent has no entry). Counting is advisory: anything
// this counter cannot read leaves the database's counts out of the manifest (with a warning), never
// fails the backup.
import { messageOf } from '../errors.js';
import { SqlRewriter, identName } from '../restore/sql-rewrite.js';

export interface TableRows {
  schema: string;
  table: string;
  rows: number;
}

/** More tables than this in one database: the counts are left out (the manifest must stay small). */
export const MAX_COUNTED_TABLES = 100_000;
/** A line outside COPY data longer than this (held whole by the lexer) stops the counting: memory stays bounded. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

// An identifier as pg_dump writes it (fmtId): a double-quoted name or a bare lower-case word.
const ID = String.raw`(?:"(?:[^"]|"")*"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)`;
const COPY_TARGET = new RegExp(`^COPY (${ID})\\.(${ID})[ (]`, 's');

/**
 * The table a pg_dump COPY statement (latin1 text of its bytes) fills: `COPY "My ""S"""."t,1" (a)
 * FROM stdin;` is schema `My "S"`, table `t,1`. pg_dump (since 10.3) always qualifies the name.
 */
export function copyTarget(statement: string): { schema: string; table: string } | undefined {
  const m = COPY_TARGET.exec(statement);
  if (!m) return undefined;
  return { schema: identName(m[1]!), table: identName(m[2]!) };
}

/**
 * Whether the names of a COPY statement read back exactly as UTF-8 (the drill looks them up over a
 * UTF-8 connection): always when they are ASCII; otherwise only in a UTF8 dump, as valid UTF-8.
 */
function namesReadable(statement: string, target: { schema: string; table: string }, encoding: string): boolean {
  const head = COPY_TARGET.exec(statement)![0];
  if (!/[\x80-\xff]/.test(head)) return true;
  if (encoding !== 'UTF8') return false;
  return !`${target.schema}${target.table}`.includes('\uFFFD');
}

/** The dump's encoding, from pg_dump's `SET client_encoding = 'UTF8';` (UTF8 when it has none). */
export function dumpEncoding(preamble: string): string {
  return /^SET client_encoding = '([A-Za-z0-9_]+)';$/m.exec(preamble)?.[1]?.toUpperCase() ?? 'UTF8';
}

export class RowCounter {
  private readonly counts = new Map<string, TableRows>();
  private readonly lexer: SqlRewriter;
  private problem: string | undefined;
  private readonly done: Promise<void>;

  constructor(
    label: string,
    /** The dump's encoding (dumpEncoding): names with other than ASCII are read only from a UTF8 dump. */
    private readonly encoding = 'UTF8',
  ) {
    this.lexer = new SqlRewriter({
      mode: 'adapt',
      endMarker: 'none',
      discardOutput: true,
      maxLineBytes: MAX_LINE_BYTES,
      label,
      onCopyData: (statement, rows) => this.add(statement, rows),
    });
    this.done = new Promise<void>((resolve) => {
      this.lexer.on('error', (err) => {
        this.problem ??= messageOf(err);
        resolve();
      });
      this.lexer.on('finish', () => resolve());
    });
    this.lexer.resume(); // nothing is pushed; this only lets the stream end
  }

  /** The next bytes of the dump, as they go to gzip. */
  write(chunk: Buffer): void {
    if (this.problem === undefined && !this.lexer.destroyed) this.lexer.write(chunk);
  }

  /** The counts, in dump order; or why there are none. */
  async finish(): Promise<{ rows: TableRows[] } | { problem: string }> {
    if (!this.lexer.destroyed) this.lexer.end();
    await this.done;
    if (this.problem !== undefined) return { problem: this.problem };
    return { rows: [...this.counts.values()] };
  }

  private add(statement: string, rows: number): void {
    if (this.problem !== undefined) return;
    const target = copyTarget(statement);
    if (!target) {
      this.problem = `a COPY statement does not name a schema-qualified table: ${JSON.stringify(statement.slice(0, 120))}`;
      return;
    }
    if (!namesReadable(statement, target, this.encoding)) {
      this.problem = `table ${JSON.stringify(`${target.schema}.${target.table}`)} has a name with characters other than ASCII in a ${this.encoding} database, which the counts cannot name exactly`;
      return;
    }
    const key = `${target.schema}\u0000${target.table}`;
    const seen = this.counts.get(key);
    if (seen) seen.rows += rows;
    else if (this.counts.size >= MAX_COUNTED_TABLES) this.problem = `it has more than ${MAX_COUNTED_TABLES} tables with data`;
    else this.counts.set(key, { ...target, rows });
  }
}
