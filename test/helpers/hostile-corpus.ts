// A hostile corpus for restore tests: names and contents chosen to break anything that reads
// pg_dump's plain SQL line by line instead of as psql does. Identifiers (schemas, tables, columns,
// constraints, functions, types, roles) with newlines, CR, tabs, quotes, backslashes, unicode and SQL
// keywords; rows, comments, defaults, CHECK constraints, function bodies, settings and large objects
// whose text looks like SQL statements and psql meta-commands; multi-MB values and lines; a COPY
// header that spans lines; database-level properties on a database with a hostile name.
//
// Also a seeded generator of random hostile tables (see generatedCorpusSql), replayable by seed.
//
// Valid on PostgreSQL 13..18. No UNLOGGED table with an identity column (13 has a separate
// problem with those). No database name with a newline or CR: pg_dump refuses to dump one
// ("database name contains a newline or carriage return").
import type { PgServer } from './pg-server.js';
import { prng, runFixtureSql } from './fixture-sql.js';
import { qi, ql } from './rich-cluster.js';

export { qi, ql };

/** Names of the hostile corpus. */
export const HOSTILE = {
  /** A database name with a quote, double quotes, a backslash, `;`, `--`, `$x$`, `/*`, unicode and DATABASE. */
  db: `it's "DATABASE" \\ x;--é🐘 $x$ /* dbname=p`,
  /**
   * A second corpus database: a keyword, upper case and a dot (pg_dump's "simple" \connect form);
   * it has standard_conforming_strings = off, so pg_dump writes its literals with doubled backslashes.
   */
  db2: 'User.DATABASE',
  /**
   * A role with quotes, a backslash, `;`, `--`, unicode and DATABASE. No newline: pg_dumpall before
   * 13.22/15.14/17.6 writes role names into `--` comments as they are (CVE-2025-8715), so the line
   * after the newline is SQL or a meta-command to psql (see the test of that case).
   */
  role: `ro'le "DATABASE" \\ x;-- é🐘`,
  /** Grants on the hostile database with the grant option to role3 (pg_dump: SET SESSION AUTHORIZATION). */
  grantor: `grantor "DATABASE" 'x'`,
  /** The same with a newline, where pg_dumpall sanitizes comments (see newlineRoles). */
  grantorNewline: `grantor\n\\connect postgres "DATABASE" 'x'`,
  grantee: `grantee 'q' \\ DATABASE`,
  schema: `sch\nema 'q' "dq" \\ é🐘 DATABASE`,
  table: `ta\nble 'DATABASE' "x" \\ é`,
  /** A table name with lines `\.` and `\connect postgres` in it. */
  dotTable: 't\n\\.\n\\connect postgres',
  /** A column name with a newline: the COPY header spans lines. */
  column: `col\numn "q" 'DATABASE' \\ é`,
  /** A column name with a tab and a CR. */
  tabColumn: 'tab\tcr\rcol',
  enumType: `ty\npe 'DATABASE'`,
  domain: `dom\n'x' \\`,
  func: `fn\n'DATABASE' "COPY" \\`,
  view: `v\niew "select" DATABASE`,
  sequence: `seq\n'DATABASE' ""`,
  index: 'idx\n\\connect postgres',
} as const;

/** Values that look like SQL statements or psql meta-commands, and awkward characters. */
export const SQLISH_VALUES: readonly string[] = [
  '\\connect postgres',
  '\\! echo pwned',
  '\\! touch /tmp/pgb-hostile-pwned',
  '\\.',
  '\\\\.',
  'ALTER DATABASE x SET y = 1;',
  'CREATE ROLE postgres;',
  'DROP DATABASE postgres;',
  '-- a line that starts like a comment',
  '/* a block comment that never ends',
  '*/ the end of a comment that never began',
  '\\connect postgres\n\\! echo pwned\n\\.\nDROP DATABASE postgres;\n',
  '\n\\connect postgres\n',
  'tab\there\rcr\nlf\\back\\slash',
  '\r\n\\.\r\n',
  '$$ $tag$ an unterminated dollar quote',
  "'an unbalanced quote",
  '"an unbalanced double quote',
  'E\'\\\' an E string',
  '-- PostgreSQL database dump complete',
  '-- PostgreSQL database cluster dump complete',
  '-- Name: x; Type: DATABASE; Schema: -; Owner: postgres',
  '\\unrestrict abc',
  '\\restrict abc',
  'COPY public.t (a) FROM stdin;',
  'SET search_path = evil;',
  '\\N',
  '',
  'é🐘 日本語 \u00a0 \u2028 \ufeff',
  ';',
  'SELECT 1; SELECT 2;',
];

/** The marker file the `\! touch` row would create if it were ever run as a meta-command. */
export const PWNED_MARKERS = ['/tmp/pgb-hostile-pwned', '/var/cache/pg-backups-dev/rootfs/tmp/pgb-hostile-pwned'];

/** The multi-MB values of the big table (row ids) and how they are built. */
export const BIG_ROWS = {
  /** ~5 MB of text with newlines, tabs, CR, backslashes and `\connect` lines. */
  text: 1,
  /** 3 MB of NUL-free binary. */
  bytea: 2,
  /** ~2 MB in one line, no newline. */
  line: 3,
} as const;

const BIG_TABLE = `"DATABASE"."select"`;
/** SELECT of the md5 of each big value, for direct checks. */
export const BIG_MD5_SQL = `SELECT id, md5(coalesce("DATABASE", '')) AS t, md5(coalesce("COPY", ''::bytea)) AS b, length("DATABASE") AS tlen, length("COPY") AS blen FROM ${BIG_TABLE} ORDER BY id`;

/** SELECT of the SQL-looking rows of the main table, for direct checks. */
export function sqlishRowsSql(): string {
  return `SELECT id, ${qi(HOSTILE.column)} AS v, "select" AS s, "user" AS b FROM ${qi(HOSTILE.schema)}.${qi(HOSTILE.table)} WHERE id <= ${SQLISH_VALUES.length} ORDER BY id`;
}

const lines = (...xs: string[]) => xs.join('\n');

/** The schema and data of one corpus database. `big`: also the multi-MB rows. */
export function corpusDatabaseSql(opts: { tag: string; major: number; big: boolean }): string {
  const H = HOSTILE;
  const S = qi(H.schema);
  const T = `${S}.${qi(H.table)}`;
  const role = qi(H.role);
  const sqlishComment = "E'ALTER DATABASE postgres SET work_mem = ''1MB'';\\n\\\\connect postgres\\n\\\\! echo pwned\\n\\\\.\\nDROP DATABASE postgres;\\n-- c\\n/* open'";
  const out: string[] = [];
  out.push(
    `SET client_min_messages = warning;`,
    `CREATE SCHEMA ${S} AUTHORIZATION ${role};`,
    `CREATE SCHEMA "DATABASE";`,
    `CREATE SCHEMA "select";`,
    `COMMENT ON SCHEMA ${S} IS ${sqlishComment};`,
    `CREATE TYPE "DATABASE".${qi(H.enumType)} AS ENUM ('a\nb', 'it''s', '\\connect postgres', 'DROP DATABASE postgres;', '-- c', '$$');`,
    `COMMENT ON TYPE "DATABASE".${qi(H.enumType)} IS 'CREATE ROLE postgres;';`,
    `CREATE TYPE "select"."user" AS ("table" text, "COPY" integer, ${qi('col\nx')} text);`,
    `CREATE DOMAIN "DATABASE".${qi(H.domain)} AS text CONSTRAINT ${qi('chk\nDATABASE')} CHECK (VALUE <> 'ALTER DATABASE x SET y = 1;' AND VALUE <> E'\\\\connect postgres');`,
    `CREATE SEQUENCE ${S}.${qi(H.sequence)} START 7 INCREMENT 3;`,
    `SELECT setval('${S.replace(/'/g, "''")}.${qi(H.sequence).replace(/'/g, "''")}', 42);`,
    lines(
      `CREATE TABLE ${T} (`,
      `  id integer GENERATED BY DEFAULT AS IDENTITY CONSTRAINT ${qi(`pk\n'DATABASE' "x"`)} PRIMARY KEY,`,
      `  ${qi(H.column)} text,`,
      `  "DATABASE" text DEFAULT 'ALTER DATABASE postgres SET work_mem = ''1MB'';' CONSTRAINT ${qi('chk DATABASE\n--')} CHECK ("DATABASE" <> 'DROP DATABASE postgres;'),`,
      `  "select" text COLLATE "C" DEFAULT E'\\n\\\\connect postgres\\n',`,
      `  "user" bytea,`,
      `  "table" "DATABASE".${qi(H.enumType)},`,
      `  "COPY" text[],`,
      `  ${qi(H.tabColumn)} "select"."user",`,
      `  dom "DATABASE".${qi(H.domain)}`,
      `);`,
    ),
    `COMMENT ON TABLE ${T} IS ${sqlishComment};`,
    `COMMENT ON COLUMN ${T}."DATABASE" IS 'DROP DATABASE postgres;';`,
    `COMMENT ON COLUMN ${T}.${qi(H.column)} IS E'\\\\connect postgres\\n\\\\.';`,
    `COMMENT ON CONSTRAINT ${qi('chk DATABASE\n--')} ON ${T} IS 'ALTER DATABASE x SET y = 1;';`,
    `GRANT SELECT, INSERT ON ${T} TO ${role};`,
    `GRANT USAGE ON SCHEMA "DATABASE" TO ${role};`,
    `CREATE INDEX ${qi(H.index)} ON ${T} (("select" || E'\\n\\\\connect postgres\\n'));`,
  );
  // The SQL-looking rows: ids 1..n, in the same order as SQLISH_VALUES.
  const labels = ['a\nb', "it's", '\\connect postgres', 'DROP DATABASE postgres;', '-- c', '$$'];
  SQLISH_VALUES.forEach((v, i) => {
    out.push(
      `INSERT INTO ${T} (id, ${qi(H.column)}, "select", "user", "table", "COPY", ${qi(H.tabColumn)}, dom) OVERRIDING SYSTEM VALUE VALUES (` +
        `${i + 1}, ${ql(v)}, ${ql(v)}, convert_to(${ql(v)}, 'UTF8'), ${ql(labels[i % labels.length]!)}, ARRAY[${ql(v)}, NULL, ''], ROW(${ql(v)}, ${i}, ${ql(v)}), ${ql(`ok ${v}`)});`,
    );
  });
  out.push(
    `SELECT setval(pg_get_serial_sequence('${T.replace(/'/g, "''")}', 'id'), ${SQLISH_VALUES.length});`,
    `INSERT INTO ${T} (${qi(H.column)}, "user") SELECT 'NUL-free binary', decode(string_agg(lpad(to_hex(g), 2, '0'), '' ORDER BY g), 'hex') FROM generate_series(1, 255) g;`,
    `INSERT INTO ${T} (${qi(H.column)}, "select") VALUES (NULL, NULL);`,
    `INSERT INTO ${T} (${qi(H.column)}) SELECT 'row ' || g || E'\\t${opts.tag}\\n\\\\connect postgres' FROM generate_series(1, 200) g;`,
  );

  // A table whose name holds `\.` and `\connect` lines; a table and a column named like COPY syntax;
  // a table with no columns (its COPY rows are empty lines).
  out.push(
    `CREATE TABLE public.${qi(H.dotTable)} (${qi('\\.')} text, ${qi('\\connect postgres')} integer);`,
    `INSERT INTO public.${qi(H.dotTable)} VALUES ('\\.', 1), (E'\\\\.\\n\\\\.', 2);`,
    `CREATE TABLE public."COPY" ("FROM stdin;" text, ${qi('a\nFROM stdin;')} text, ${qi('b;')} text);`,
    `INSERT INTO public."COPY" VALUES ('FROM stdin;', E'\\\\.\\nCOPY x FROM stdin;', ';'), (NULL, '', E'\\\\N');`,
    `CREATE TABLE "select"."table" ();`,
    `INSERT INTO "select"."table" DEFAULT VALUES;`,
    `INSERT INTO "select"."table" DEFAULT VALUES;`,
    `INSERT INTO "select"."table" DEFAULT VALUES;`,
  );

  // Functions: nested dollar tags, a body with lines starting `\connect`, a body holding `$$` and
  // `$_$` (pg_dump must pick another tag), a BEGIN ATOMIC body (14+), a body with a 1 MB line.
  out.push(
    lines(
      `CREATE FUNCTION ${S}.${qi(H.func)}(${qi('a"rg')} text DEFAULT 'ALTER DATABASE x SET y = 1;') RETURNS text LANGUAGE plpgsql AS $outer$`,
      `DECLARE`,
      `  s text := $inner$ALTER DATABASE postgres SET x = 1; $$ nested $$ $q$ not closed here $inner$;`,
      `BEGIN`,
      `-- a comment line in the body: DROP DATABASE postgres;`,
      `/* a block comment`,
      `\\connect postgres`,
      `*/`,
      `  RETURN s || $q$`,
      `\\connect postgres`,
      `\\! echo pwned`,
      `\\.`,
      `$q$ || ${qi('a"rg')};`,
      `END`,
      `$outer$;`,
    ),
    `COMMENT ON FUNCTION ${S}.${qi(H.func)}(text) IS ${sqlishComment};`,
    lines(
      `CREATE FUNCTION "select"."COPY"() RETURNS text LANGUAGE sql AS $fn$`,
      `SELECT '`,
      `\\connect postgres`,
      `$_$ $$ $__$ '::text`,
      `$fn$;`,
    ),
    `CREATE FUNCTION public."long"() RETURNS text LANGUAGE sql AS $$SELECT '${"a;--/*\\.''\"$ ".repeat(100_000)}'::text$$;`,
  );
  if (opts.major >= 14) {
    out.push(
      `CREATE FUNCTION "select".${qi('atomic\nDATABASE')}() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT E'ALTER DATABASE postgres SET y = 1;\\n\\\\connect postgres\\n'::text AS x; SELECT 'x;'::text AS y; END;`,
    );
  }
  out.push(
    `CREATE VIEW "DATABASE".${qi(H.view)} AS SELECT id, "DATABASE", E'\\n\\\\connect postgres\\n' AS "COPY", ${qi(H.column)} FROM ${T};`,
    `COMMENT ON VIEW "DATABASE".${qi(H.view)} IS 'DROP DATABASE postgres;';`,
  );

  // Large objects (one with meta-command lines, one binary with NUL, CR, LF and "\."), a comment, an owner, a grant.
  out.push(
    lines(
      `DO $do$ DECLARE o oid; p oid; BEGIN`,
      `  o := lo_from_bytea(0, convert_to(E'\\\\connect postgres\\n\\\\! echo pwned\\n\\\\.\\nALTER DATABASE x SET y = 1;\\n', 'UTF8'));`,
      `  EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', o, E'ALTER DATABASE postgres SET y = 1;\\n\\\\connect postgres');`,
      `  EXECUTE format('ALTER LARGE OBJECT %s OWNER TO %I', o, ${ql(H.role)});`,
      `  p := lo_from_bytea(0, decode(repeat('00ff0d0a5c2e0a', 100000), 'hex'));`,
      `  EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO %I', p, ${ql(H.role)});`,
      `END $do$;`,
    ),
  );

  // A very long line outside COPY data: a 1 MB single-line comment.
  out.push(`COMMENT ON TABLE "select"."table" IS '${'ALTER DATABASE x SET y = 1; \\connect postgres -- '.repeat(20_000)}';`);

  if (opts.big) {
    out.push(
      `CREATE TABLE ${BIG_TABLE} (id integer PRIMARY KEY, "DATABASE" text, "COPY" bytea);`,
      `INSERT INTO ${BIG_TABLE} (id, "DATABASE") SELECT ${BIG_ROWS.text}, string_agg(md5(g::text) || CASE WHEN g % 1000 = 0 THEN E'\\n\\\\connect postgres\\n\\\\.\\n-- c\\n' WHEN g % 97 = 0 THEN E'\\t\\r\\n\\\\' ELSE '' END, '' ORDER BY g) FROM generate_series(1, 160000) g;`,
      `INSERT INTO ${BIG_TABLE} (id, "COPY") SELECT ${BIG_ROWS.bytea}, decode(string_agg(replace(md5(g::text), '00', '01'), '' ORDER BY g), 'hex') FROM generate_series(1, 187500) g;`,
      `INSERT INTO ${BIG_TABLE} (id, "DATABASE") VALUES (${BIG_ROWS.line}, repeat('a;--/*\\.''"$$ \\connect postgres ', 70000));`,
    );
  }
  return out.join('\n');
}

/** Database-level properties of a corpus database (run in the postgres database). */
export function databasePropertiesSql(db: string, newlineRoles: boolean): string {
  const D = qi(db);
  const role = qi(HOSTILE.role);
  const grantor = qi(grantorOf(newlineRoles));
  return lines(
    `ALTER DATABASE ${D} OWNER TO ${role};`,
    `COMMENT ON DATABASE ${D} IS E'ALTER DATABASE postgres SET work_mem = ''1MB'';\\n\\\\connect postgres\\nDROP DATABASE postgres;\\n-- c\\n/* x';`,
    `ALTER DATABASE ${D} SET search_path = ${qi(HOSTILE.schema)}, "DATABASE", public;`,
    `ALTER DATABASE ${D} SET work_mem = '3MB';`,
    `ALTER DATABASE ${D} SET "pgb.hostile" = E'ALTER DATABASE postgres SET y = 1;\\n\\\\connect postgres\\n-- c';`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${D} FROM PUBLIC;`,
    `GRANT CONNECT, TEMPORARY ON DATABASE ${D} TO ${role} WITH GRANT OPTION;`,
    `GRANT CREATE ON DATABASE ${D} TO ${role};`,
    `ALTER ROLE ${role} IN DATABASE ${D} SET search_path = ${qi(HOSTILE.schema)}, public;`,
    `ALTER ROLE ${role} IN DATABASE ${D} SET "pgb.x" = E'\\\\connect postgres\\nDROP DATABASE postgres;';`,
    `ALTER ROLE postgres IN DATABASE ${D} SET work_mem = '5MB';`,
    `GRANT CONNECT ON DATABASE ${D} TO ${grantor} WITH GRANT OPTION;`,
    `SET ROLE ${grantor};`,
    `GRANT CONNECT ON DATABASE ${D} TO ${qi(HOSTILE.grantee)};`,
    `RESET ROLE;`,
  );
}

/** The role that grants on the hostile database: with a newline in its name when `newlineRoles`. */
export function grantorOf(newlineRoles: boolean): string {
  return newlineRoles ? HOSTILE.grantorNewline : HOSTILE.grantor;
}

/** The roles of the corpus (the globals). */
export function rolesSql(newlineRoles: boolean): string {
  const role = qi(HOSTILE.role);
  return lines(
    `CREATE ROLE ${qi(grantorOf(newlineRoles))} NOLOGIN;`,
    `CREATE ROLE ${qi(HOSTILE.grantee)} NOLOGIN;`,
    `CREATE ROLE ${role} LOGIN PASSWORD 'pw''"\\' CONNECTION LIMIT 3;`,
    `COMMENT ON ROLE ${role} IS E'CREATE ROLE postgres;\\n\\\\connect postgres\\n';`,
    `ALTER ROLE ${role} SET "pgb.y" = E'multi\\n\\\\connect postgres\\n';`,
  );
}

const run = (server: PgServer, sql: string, db = 'postgres') => runFixtureSql('hostile corpus', server, sql, db);

/**
 * Creates the hostile corpus: the roles, both databases with their properties and content.
 * `newlineRoles`: a role name with a newline too (only where the pg_dumpall in use writes role names
 * into comments safely: 13.22/14.19/15.14/16.10/17.6 or newer).
 */
export async function createHostileCorpus(server: PgServer, opts: { newlineRoles: boolean }): Promise<string[]> {
  await run(server, rolesSql(opts.newlineRoles));
  await Promise.all([HOSTILE.db, HOSTILE.db2].map((db) => run(server, `CREATE DATABASE ${qi(db)}`)));
  await run(server, databasePropertiesSql(HOSTILE.db, opts.newlineRoles));
  await run(server, `COMMENT ON DATABASE ${qi(HOSTILE.db2)} IS '\\connect postgres';\nALTER DATABASE ${qi(HOSTILE.db2)} SET work_mem = '2MB';`);
  await Promise.all([
    run(server, corpusDatabaseSql({ tag: 'hostile', major: server.major, big: true }), HOSTILE.db),
    run(server, corpusDatabaseSql({ tag: 'second', major: server.major, big: false }), HOSTILE.db2),
  ]);
  // After the data went in (the corpus SQL is written for standard strings).
  await run(server, `ALTER DATABASE ${qi(HOSTILE.db2)} SET standard_conforming_strings = off;\nALTER DATABASE ${qi(HOSTILE.db2)} SET escape_string_warning = off;`);
  return [HOSTILE.db, HOSTILE.db2];
}

// ---- probes: single cases that once broke the restore -----------------------------------

export const PROBE = {
  /** A role whose name holds what follows the name in pg_dump's TOC comments. */
  tocRole: 'o; Type: TABLE; x',
  /** A database owned by it: its TOC comments read "...; Owner: o; Type: TABLE; x". */
  tocDb: 'probe toc owner',
  /** A database with a 17 MiB comment (COMMENT ON DATABASE is one statement, one line). */
  bigCommentDb: 'probe big comment',
  bigCommentBytes: 17 * 1024 * 1024,
} as const;

export async function createTocOwnerProbe(server: PgServer): Promise<void> {
  await run(server, `CREATE ROLE ${qi(PROBE.tocRole)} NOLOGIN`);
  await run(server, `CREATE DATABASE ${qi(PROBE.tocDb)} OWNER ${qi(PROBE.tocRole)}`);
  await run(server, `COMMENT ON DATABASE ${qi(PROBE.tocDb)} IS 'owned by a role named like a TOC comment';\nALTER DATABASE ${qi(PROBE.tocDb)} SET work_mem = '4MB';`);
  await run(server, `CREATE TABLE t (a text); INSERT INTO t VALUES ('\\connect postgres'); ALTER TABLE t OWNER TO ${qi(PROBE.tocRole)};`, PROBE.tocDb);
}

export async function createBigCommentProbe(server: PgServer): Promise<void> {
  await run(server, `CREATE DATABASE ${qi(PROBE.bigCommentDb)}`);
  const unit = 'ALTER DATABASE x SET y = 1; -- ';
  const text = unit.repeat(Math.ceil(PROBE.bigCommentBytes / unit.length)).slice(0, PROBE.bigCommentBytes);
  await run(server, `COMMENT ON DATABASE ${qi(PROBE.bigCommentDb)} IS ${ql(text)}`);
}

// ---- the seeded generator ----------------------------------------------------------------

export { prng };

/** Pieces of hostile text. */
export const NASTY = [
  "'", "''", '"', '""', '\\', '\\\\', '\n', '\r', '\r\n', '\t', ';', '$', '$$', '$x$', '$_$', '--', '/*', '*/', ' ',
  'é', '🐘', '日本', '\u00a0', 'DATABASE', 'select', 'COPY', 'FROM stdin;', 'user', 'table', '\\connect postgres', '\\.',
  '\\!', '\\N', 'ALTER DATABASE x SET y = 1;', 'DROP DATABASE postgres;', 'CREATE ROLE postgres;', 'E\'', ':foo', ':\'foo\'',
  'a', 'b', 'Z', '0', '_',
  // what pg_dump writes in its TOC comments after a name: "-- Name: x; Type: TABLE; Schema: s; Owner: o"
  '; Type: DATABASE;', '; Type: TABLE DATA;', ' Schema: -;', ' Owner: ', '-- Name: ', 'DATABASE PROPERTIES',
];

/** Pieces that make a role name read like the fields of a TOC comment (see PROBE.tocRole): not in owner names. */
const TOC_PIECES = new Set(['; Type: DATABASE;', '; Type: TABLE DATA;', ' Schema: -;', ' Owner: ', '-- Name: ', 'DATABASE PROPERTIES']);

/** Truncate a string to at most `max` UTF-8 bytes, on a character boundary. */
export function truncateBytes(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch, 'utf8') > max) break;
    out += ch;
  }
  return out;
}

export interface Generated {
  seed: number;
  /** The SQL that builds the tables (run in the generated database). */
  sql: string;
  tables: number;
  rows: number;
}

type ColType = 'text' | 'integer' | 'bytea' | 'text[]' | 'jsonb' | 'varchar(300)' | 'boolean';
const TYPES: ColType[] = ['text', 'integer', 'bytea', 'text[]', 'jsonb', 'varchar(300)', 'boolean'];

/** Random tables with random hostile names, columns, comments, defaults, checks, rows and functions. */
export function generatedCorpusSql(seed: number): Generated {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const text = (maxPieces: number, alphabet: readonly string[] = NASTY) => {
    const n = int(maxPieces + 1);
    let s = '';
    for (let i = 0; i < n; i++) s += pick(alphabet);
    return s;
  };
  const ident = (prefix: string) => truncateBytes(prefix + text(12), 63);
  const value = (t: ColType): string => {
    if (rnd() < 0.1) return 'NULL';
    switch (t) {
      case 'integer':
        return String(int(2_000_000_000) - 1_000_000_000);
      case 'boolean':
        return rnd() < 0.5 ? 'true' : 'false';
      case 'bytea': {
        const n = int(300);
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = 1 + int(255);
        return `'\\x${b.toString('hex')}'::bytea`;
      }
      case 'text[]':
        return `ARRAY[${Array.from({ length: int(4) }, () => (rnd() < 0.2 ? 'NULL' : ql(text(8)))).concat(ql(text(3))).join(', ')}]::text[]`;
      case 'jsonb':
        return `${ql(JSON.stringify({ [text(4)]: text(10), k: [text(5), int(100), null] }))}::jsonb`;
      case 'varchar(300)':
        return ql(text(20).slice(0, 300));
      default:
        return ql(rnd() < 0.05 ? text(20).repeat(1000) : text(30));
    }
  };
  const out: string[] = ['SET client_min_messages = warning;'];
  const schema = ident('s ');
  out.push(`CREATE SCHEMA ${qi(schema)};`, `COMMENT ON SCHEMA ${qi(schema)} IS ${ql(text(20))};`);
  const nTables = 6 + int(7);
  let rows = 0;
  for (let t = 0; t < nTables; t++) {
    const table = `${qi(rnd() < 0.5 ? schema : 'public')}.${qi(ident(`t${t} `))}`;
    const nCols = 1 + int(6);
    const cols: Array<{ name: string; type: ColType }> = [];
    const defs: string[] = [];
    for (let c = 0; c < nCols; c++) {
      const name = ident(`c${c} `);
      const type = pick(TYPES);
      cols.push({ name, type });
      let def = `${qi(name)} ${type}`;
      if (type === 'text' && rnd() < 0.3) def += ` DEFAULT ${ql(text(10))}`;
      if (type === 'text' && rnd() < 0.3) def += ` CONSTRAINT ${qi(ident(`k${c} `))} CHECK (${qi(name)} <> ${ql(text(10) + '\u0001')})`;
      defs.push(def);
    }
    out.push(`CREATE TABLE ${table} (\n  ${defs.join(',\n  ')}\n);`);
    if (rnd() < 0.6) out.push(`COMMENT ON TABLE ${table} IS ${ql(text(25))};`);
    if (rnd() < 0.4) out.push(`COMMENT ON COLUMN ${table}.${qi(cols[0]!.name)} IS ${ql(text(25))};`);
    const nRows = int(25);
    for (let r = 0; r < nRows; r++) {
      out.push(`INSERT INTO ${table} (${cols.map((c) => qi(c.name)).join(', ')}) VALUES (${cols.map((c) => value(c.type)).join(', ')});`);
    }
    rows += nRows;
  }
  // Functions whose bodies hold random text (in a string and in a comment line), with a tag not in it.
  const nFuncs = 1 + int(3);
  for (let f = 0; f < nFuncs; f++) {
    const body = `\n-- ${text(10).replace(/[\r\n]/g, ' ')}\nSELECT ${ql(text(30))}::text\n`;
    let tag = '$f$';
    while (body.includes(tag)) tag = `$f${int(1e9)}$`;
    out.push(`CREATE FUNCTION ${qi(schema)}.${qi(ident(`f${f} `))}() RETURNS text LANGUAGE sql AS ${tag}${body}${tag};`);
  }
  return { seed, sql: out.join('\n'), tables: nTables, rows };
}

/**
 * Database-level properties of the generated database with random text (run in the postgres
 * database): an owner role with a random name, a comment, settings of the database and of the role
 * in it, a grant. Role names without newline or CR (see HOSTILE.role).
 */
export function generatedDatabasePropertiesSql(seed: number, db: string): string {
  const rnd = prng(seed ^ 0x2545f491);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const text = (n: number, alphabet: readonly string[] = NASTY) => Array.from({ length: n }, () => pick(alphabet)).join('');
  const roleAlphabet = NASTY.filter((p) => !/[\r\n]/.test(p) && !TOC_PIECES.has(p));
  const role = truncateBytes(`gen role ${text(10, roleAlphabet)}`, 63);
  const D = qi(db);
  return lines(
    `CREATE ROLE ${qi(role)} NOLOGIN;`,
    `ALTER DATABASE ${D} OWNER TO ${qi(role)};`,
    `COMMENT ON DATABASE ${D} IS ${ql(text(40))};`,
    `ALTER DATABASE ${D} SET "pgb.generated" = ${ql(text(30))};`,
    `ALTER ROLE ${qi(role)} IN DATABASE ${D} SET "pgb.generated_role" = ${ql(text(30))};`,
    `GRANT CREATE ON DATABASE ${D} TO ${qi(role)} WITH GRANT OPTION;`,
  );
}

/** A random database name from the nasty alphabet, without newline or CR (pg_dump refuses those). */
export function generatedDatabaseName(seed: number, prefix: string): string {
  const rnd = prng(seed ^ 0x5bd1e995);
  const alphabet = NASTY.filter((p) => !/[\r\n]/.test(p));
  let s = prefix;
  for (let i = 0; i < 8; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return truncateBytes(s, 63);
}
