// Custom-format archives (pg_dump -Fc, written to stdout as BACKUP_FORMAT=custom does, so without
// data offsets) read by src/core/restore/archive-toc.ts, and selective restores through
// `pg_restore -L` with the lists of src/core/restore/archive-select.ts, on real servers of each
// major with that major's client tools:
// - the TOC read equals what `pg_restore -C -l` prints (every line, hostile names included once
//   flattened the way pg_restore flattens them), whole or fed in 7-byte chunks;
// - the reader stops at the end of the TOC (a ~20 MB archive is read only a little way);
// - truncated, foreign and damaged files are refused with a VerificationError naming the file;
// - one table, one schema, two tables joined by an FK and a partitioned table are restored into
//   fresh databases and checked with SQL as a user would (rows, indexes, constraints, defaults,
//   sequences continuing, comments, grants, and nothing else).
// Synthetic archives (a small writer below) cover versions no provisioned pg_dump writes (1.12,
// 1.13, 1.15), 8-byte integers, NULL strings and a LATIN1 archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { VerificationError } from '../src/core/errors.js';
import { archiveTables, listFileText, parseSchemaList, parseTableList, selectEntries, type Selection } from '../src/core/restore/archive-select.js';
import { readArchiveToc, type ArchiveToc, type TocEntry } from '../src/core/restore/archive-toc.js';
import { clientBinDir } from './helpers/clients.js';
import { qi, ql } from './helpers/rich-cluster.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];
const execFileP = promisify(execFile);

const SRC_DB = 'toc "src" db';
const BIG_DB = 'toc big';
const READER = 'toc reader';
const H_SCHEMA = 'sch\nema "q".x,y';
const H_TABLE = 'ta ble\n"x".y,z';
const H_VIEW = 'v,iew.x "V"';
const H_COL = 'col\numn';
const H = `${qi(H_SCHEMA)}.${qi(H_TABLE)}`;
const LINES = '"My Schema"."Order Lines"';

function fixtureSql(): string {
  return [
    `CREATE SCHEMA sales;`,
    `CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE, since date DEFAULT '2020-01-01');`,
    `CREATE TABLE sales.orders (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id integer NOT NULL REFERENCES sales.customers (id), amount numeric(10,2), note text);`,
    `CREATE INDEX orders_customer_idx ON sales.orders (customer_id);`,
    `CREATE TABLE sales.events (id integer, at date NOT NULL, what text) PARTITION BY RANGE (at);`,
    `CREATE TABLE sales.events_2020 PARTITION OF sales.events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');`,
    `CREATE TABLE sales.events_2021 PARTITION OF sales.events FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');`,
    `CREATE SCHEMA "My Schema";`,
    `CREATE TABLE ${LINES} (id serial PRIMARY KEY, order_id integer REFERENCES sales.orders (id), qty integer CHECK (qty > 0), "select" text DEFAULT 'x');`,
    `CREATE INDEX "Lines by order" ON ${LINES} (order_id);`,
    `COMMENT ON TABLE ${LINES} IS 'lines; of "orders"';`,
    `GRANT SELECT ON ${LINES} TO ${qi(READER)};`,
    `CREATE SCHEMA "select";`,
    `CREATE TABLE "select"."from" (k integer PRIMARY KEY, v text);`,
    `CREATE SCHEMA ${qi(H_SCHEMA)};`,
    `COMMENT ON SCHEMA ${qi(H_SCHEMA)} IS 'hostile';`,
    `CREATE TABLE ${H} (id serial PRIMARY KEY, ${qi(H_COL)} text, code text, k integer REFERENCES "select"."from" (k), CONSTRAINT ${qi('uniq\ncode')} UNIQUE (code));`,
    `CREATE VIEW ${qi(H_SCHEMA)}.${qi(H_VIEW)} AS SELECT id, code FROM ${H};`,
    `CREATE TABLE public.plain (id integer PRIMARY KEY, t text);`,
    `COMMENT ON DATABASE ${qi(SRC_DB)} IS 'the source';`,
    `INSERT INTO sales.customers (name) SELECT 'customer ' || g FROM generate_series(1, 6) g;`,
    `DELETE FROM sales.customers WHERE id = 6;`,
    `INSERT INTO sales.orders (customer_id, amount, note) SELECT 1 + g % 5, g * 1.5, E'note\\n' || g FROM generate_series(1, 20) g;`,
    `DELETE FROM sales.orders WHERE id > 18;`,
    `INSERT INTO sales.events SELECT g, DATE '2020-06-01' + g * 30, 'event ' || g FROM generate_series(1, 15) g;`,
    `INSERT INTO ${LINES} (order_id, qty) SELECT 1 + g % 18, g FROM generate_series(1, 30) g;`,
    `DELETE FROM ${LINES} WHERE id > 27;`,
    `INSERT INTO "select"."from" VALUES (1, 'one'), (2, E'two\\ttab');`,
    `INSERT INTO ${H} (${qi(H_COL)}, code, k) VALUES (E'a\\nb', 'c1', 1), (E'\\\\.\\n\\\\connect postgres', 'c2', 2), ('x', 'c3', NULL), ('y', 'c4', 1);`,
    `DELETE FROM ${H} WHERE code = 'c4';`,
    `INSERT INTO public.plain VALUES (1, 'p');`,
  ].join('\n');
}

/** ~20 MB of hex text in 32000 rows: gzip leaves about half. */
const BIG_SQL = `CREATE TABLE big (id integer PRIMARY KEY, v text);
INSERT INTO big SELECT g, (SELECT string_agg(md5(g::text || '-' || i), '') FROM generate_series(1, 20) i) FROM generate_series(1, 32000) g;`;

/** pg_restore -l's flattening of names (sanitize_line): newlines and CRs become spaces. */
const flat = (s: string) => s.replace(/[\r\n]/g, ' ');
const SPECIAL = new Set(['ENCODING', 'STDSTRINGS', 'SEARCHPATH']);

/** The lines `pg_restore -C -l` prints for these entries. */
function expectedListLines(toc: ArchiveToc): string[] {
  return toc.entries
    .filter((e) => !SPECIAL.has(e.desc))
    .map((e) => `${e.dumpId}; ${e.tableOid} ${e.oid} ${e.desc} ${e.namespace === null ? '-' : flat(e.namespace)} ${flat(e.tag)} ${flat(e.owner ?? '')}`);
}

async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** How many bytes of the archive the reader takes, fed one byte at a time (the header and TOC). */
async function bytesTheReaderTakes(bytes: Buffer): Promise<number> {
  let taken = 0;
  async function* bytewise(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i++) {
      taken = i + 1;
      yield bytes.subarray(i, i + 1);
    }
  }
  await readArchiveToc(bytewise());
  return taken;
}

/** The error readArchiveToc throws for these bytes (fails the test when it reads them fine). */
async function refusal(bytes: Buffer | AsyncIterable<Buffer>, label = 'damaged.dump', opts: { maxTocBytes?: number } = {}): Promise<Error> {
  const input = Buffer.isBuffer(bytes) ? chunked(bytes, 4096) : bytes;
  const err = await readArchiveToc(input, { label, ...opts }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error(`${label} was read without an error`);
  return err;
}

function expectVerification(err: Error, label: string, pattern: RegExp): void {
  expect(err, err.stack).toBeInstanceOf(VerificationError);
  expect(err.message).toContain(label);
  expect(err.message).toMatch(pattern);
  expect(err.message).not.toMatch(/[\r\n]/);
}

for (const major of MAJORS) {
  describe(`PostgreSQL ${major}: custom-format archives`, () => {
    let server: PgServer;
    let dir: string;
    let bin: string;
    let srcDump: string;
    let bigDump: string;
    let toc: ArchiveToc;
    const env = (db = 'postgres') => ({ ...process.env, ...server.env(), PGDATABASE: db });

    /** pg_dump ARGS of database DB, its stdout streamed into FILE (as BACKUP_FORMAT=custom does). */
    async function dumpTo(file: string, db: string, args: string[]): Promise<void> {
      const child = spawn(join(bin, 'pg_dump'), args, { env: env(db), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exit = new Promise<number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', resolve);
      });
      await pipeline(child.stdout, createWriteStream(file));
      const code = await exit;
      if (code !== 0) throw new Error(`pg_dump ${args.join(' ')} of ${db} exited with ${code}: ${stderr}`);
    }

    async function tool(name: string, args: string[], db?: string): Promise<string> {
      try {
        const { stdout } = await execFileP(join(bin, name), args, { env: env(db), maxBuffer: 64 * 1024 * 1024 });
        return stdout;
      } catch (e) {
        const err = e as Error & { stderr?: string };
        throw new Error(`${name} ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}`);
      }
    }

    /** Restores the selection from the source archive into a fresh database DB; the ids restored. */
    async function restoreSelection(sel: Selection, db: string): Promise<number[]> {
      const { ids, missing } = selectEntries(toc, sel);
      expect(missing).toEqual([]);
      const list = join(dir, `${db}.list`);
      await writeFile(list, listFileText(ids));
      await server.query(`CREATE DATABASE ${qi(db)}`);
      await tool('pg_restore', ['--exit-on-error', '-L', list, '-d', db, srcDump]);
      return ids;
    }

    const rows = async (sql: string, db: string) => JSON.stringify(await server.query(sql, db));
    const schemasOf = async (db: string) =>
      (await server.query(`SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`, db)).map((r) => r.nspname as string);
    const constraintsOf = async (table: string, db: string) =>
      (await server.query(`SELECT conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${table.replace(/'/g, "''")}'::regclass ORDER BY 1`, db)) as Array<{ conname: string; contype: string; def: string }>;
    /** The kinds of the check, FK, primary key and unique constraints (18 also lists NOT NULL ones). */
    const keys = (cs: Array<{ contype: string }>) => cs.map((c) => c.contype).filter((t) => t !== 'n').sort();
    const indexesOf = async (table: string, db: string) =>
      rows(`SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = '${table.replace(/'/g, "''")}'::regclass ORDER BY 1`, db);
    const defaultsOf = async (table: string, db: string) =>
      rows(`SELECT attname, pg_get_expr(adbin, adrelid) AS expr FROM pg_attrdef JOIN pg_attribute ON attrelid = adrelid AND attnum = adnum WHERE adrelid = '${table.replace(/'/g, "''")}'::regclass ORDER BY 1`, db);
    /** The next value the column's sequence gives in DB, and the source's last value + its increment (1). */
    async function nextIdCheck(table: string, column: string, db: string): Promise<void> {
      const seq = `pg_get_serial_sequence('${table.replace(/'/g, "''")}', '${column}')`;
      const [src] = await server.query(`SELECT pg_sequence_last_value(${seq}::regclass)::int AS last`, SRC_DB);
      const [max] = await server.query(`SELECT max(${qi(column)})::int AS max FROM ${table}`, db);
      const [next] = await server.query(`SELECT nextval(${seq})::int AS next`, db);
      expect(next.next).toBe(src.last + 1);
      expect(next.next).toBeGreaterThan(max.max);
    }

    beforeAll(async () => {
      bin = clientBinDir(major);
      server = await startPgServer(major);
      dir = await makeTempDir(`pgb-toc${major}-`);
      await server.query(`CREATE ROLE ${qi(READER)} NOLOGIN`);
      await server.query(`CREATE DATABASE ${qi(SRC_DB)}`);
      await server.query(fixtureSql(), SRC_DB);
      await server.query(`CREATE DATABASE ${qi(BIG_DB)}`);
      await server.query(BIG_SQL, BIG_DB);
      srcDump = join(dir, 'src.dump');
      bigDump = join(dir, 'big.dump');
      await dumpTo(srcDump, SRC_DB, ['-Fc']);
      await dumpTo(bigDump, BIG_DB, ['-Fc']);
      toc = await readArchiveToc(createReadStream(srcDump), { label: srcDump });
    });

    afterAll(async () => {
      await server?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('reads the header and every TOC entry as pg_restore -l lists them', async () => {
      expect(toc.version).toBe(major >= 17 ? '1.16' : '1.14');
      expect(toc.dbname).toBe(SRC_DB);
      expect(toc.serverVersion).toBe(server.version);
      expect(toc.pgDumpVersion).toMatch(new RegExp(`^${major}\\.`));
      expect(toc.compression).toBe('gzip');
      const listed = (await tool('pg_restore', ['-C', '-l', srcDump])).split('\n').filter((l) => l !== '' && !l.startsWith(';'));
      expect(listed.length).toBeGreaterThan(40);
      expect(expectedListLines(toc)).toEqual(listed);
      // Names pg_restore -l flattens come out exactly.
      const table = toc.entries.find((e) => e.desc === 'TABLE' && e.namespace === H_SCHEMA);
      expect(table?.tag).toBe(H_TABLE);
      expect(toc.entries.find((e) => e.desc === 'SCHEMA' && e.tag === H_SCHEMA)).toBeDefined();
      expect(toc.entries.find((e) => e.desc === 'VIEW')?.tag).toBe(H_VIEW);
      expect(toc.entries.find((e) => e.desc === 'DATABASE')?.defn).toMatch(/^CREATE DATABASE "toc ""src"" db" /);
      // Definitions are not kept for anything else.
      expect(toc.entries.filter((e) => e.defn !== undefined).map((e) => e.desc)).toEqual(['DATABASE']);
      const lines = toc.entries.find((e) => e.desc === 'TABLE' && e.tag === 'Order Lines')!;
      const fk = toc.entries.find((e) => e.desc === 'FK CONSTRAINT' && e.tag === 'Order Lines Order Lines_order_id_fkey');
      expect(fk?.deps).toContain(lines.dumpId);
    });

    it('reads the same from 7-byte chunks', async () => {
      const bytes = await readFile(srcDump);
      expect(await readArchiveToc(chunked(bytes, 7), { label: 'chunks' })).toEqual(toc);
      expect(await readArchiveToc(Readable.from([bytes]), { label: 'one chunk' })).toEqual(toc);
    });

    it('lists the tables for a pick list', () => {
      const tables = archiveTables(toc);
      expect(tables).toContainEqual({ schema: H_SCHEMA, name: H_TABLE, kind: 'TABLE', hasData: true });
      expect(tables).toContainEqual({ schema: H_SCHEMA, name: H_VIEW, kind: 'VIEW', hasData: false });
      expect(tables).toContainEqual({ schema: 'sales', name: 'events', kind: 'TABLE', hasData: false });
      expect(tables.map((t) => `${t.schema}|${t.name}`)).toEqual(tables.map((t) => `${t.schema}|${t.name}`).sort());
    });

    it('stops reading at the end of the TOC: a ~20 MB archive is read only a little way', async () => {
      const size = (await stat(bigDump)).size;
      expect(size).toBeGreaterThan(8 * 1024 * 1024);
      const stream = createReadStream(bigDump, { highWaterMark: 64 * 1024 });
      let pulled = 0;
      async function* counted(): AsyncGenerator<Buffer> {
        for await (const chunk of stream) {
          pulled += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      }
      const big = await readArchiveToc(counted(), { label: bigDump });
      expect(big.entries.some((e) => e.desc === 'TABLE DATA' && e.tag === 'big')).toBe(true);
      expect(pulled).toBeLessThanOrEqual(64 * 1024);
      expect(stream.destroyed).toBe(true);

      // Byte by byte, the reader takes exactly the header and TOC: those bytes alone are enough,
      // one byte less is a truncated archive.
      const bytes = await readFile(bigDump);
      const tocLength = await bytesTheReaderTakes(bytes);
      expect(tocLength).toBeLessThan(size / 100);
      expect(await readArchiveToc(chunked(bytes.subarray(0, tocLength), 5), { label: 'cut' })).toEqual(big);
      expectVerification(await refusal(bytes.subarray(0, tocLength - 1), 'cut.dump'), 'cut.dump', /ends after \d+ bytes, inside TOC entry \d+ of \d+ .*truncated/);
    });

    it('refuses truncated, damaged and foreign files with a VerificationError naming the file', async () => {
      const bytes = await readFile(srcDump);
      const tocLength = await bytesTheReaderTakes(bytes);
      for (const cut of [0, 3, 5, 8, 20, 60, Math.floor(tocLength / 3), Math.floor(tocLength / 2), tocLength - 2]) {
        const err = await refusal(bytes.subarray(0, cut), `cut-${cut}.dump`);
        expectVerification(err, `cut-${cut}.dump`, cut < 5 ? /not a pg_dump custom-format archive/ : /ends after \d+ bytes, inside .* truncated/);
      }

      const wrongMagic = Buffer.from(bytes);
      wrongMagic[0] = 'X'.charCodeAt(0);
      expectVerification(await refusal(wrongMagic, 'magic.dump'), 'magic.dump', /is not a pg_dump custom-format archive: it does not start with "PGDMP"/);

      const plain = join(dir, 'src.sql');
      await dumpTo(plain, SRC_DB, ['-Fp']);
      expectVerification(await refusal(createReadStream(plain), plain), plain, /looks like a plain SQL dump/);

      const tar = join(dir, 'src.tar');
      await dumpTo(tar, SRC_DB, ['-Ft']);
      expectVerification(await refusal(createReadStream(tar), tar), tar, /is not a pg_dump custom-format archive/);

      const dirFormat = join(dir, 'dirformat');
      await mkdir(dirFormat);
      expectVerification(await refusal(createReadStream(dirFormat), dirFormat), dirFormat, /is a directory/);

      const directoryToc = Buffer.from(bytes);
      directoryToc[10] = 5; // the format byte of a directory-format archive's toc.dat
      expectVerification(await refusal(directoryToc, 'toc.dat'), 'toc.dat', /directory-format archive's toc\.dat, not a custom-format archive/);

      const newer = Buffer.from(bytes);
      newer[6] = 17; // archive format 1.17
      expectVerification(await refusal(newer, 'newer.dump'), 'newer.dump', /archive format version 1\.17/);

      // The dbname's length: after magic, 3 version bytes, int size, offset size, format, the
      // compression (a byte from 1.15, an int before) and 7 ints of 5 bytes.
      const absurd = Buffer.from(bytes);
      const at = 11 + (major >= 17 ? 1 : 5) + 35;
      absurd.writeUInt32LE(0x7ffffff0, at + 1);
      expectVerification(await refusal(absurd, 'absurd.dump'), 'absurd.dump', /claims 2147483632 bytes for the database name, beyond the \d+-byte limit/);

      expectVerification(await refusal(bytes, 'small-cap.dump', { maxTocBytes: 1000 }), 'small-cap.dump', /1000-byte limit for a table of contents/);
    });

    it('restores one table of a non-public schema with its serial, index, check, comment and grant, without the FK to an unselected table', async () => {
      const db = 'sel one table';
      await restoreSelection({ schemas: [], tables: parseTableList(LINES, 'RESTORE_TABLES') }, db);
      expect(await schemasOf(db)).toEqual(['My Schema', 'public']);
      expect(await rows(`SELECT * FROM ${LINES} ORDER BY id`, db)).toBe(await rows(`SELECT * FROM ${LINES} ORDER BY id`, SRC_DB));
      expect(await indexesOf(LINES, db)).toBe(await indexesOf(LINES, SRC_DB));
      expect(await defaultsOf(LINES, db)).toBe(await defaultsOf(LINES, SRC_DB));
      const source = await constraintsOf(LINES, SRC_DB);
      expect(keys(source)).toEqual(['c', 'f', 'p']);
      expect(await constraintsOf(LINES, db)).toEqual(source.filter((c) => c.contype !== 'f'));
      await nextIdCheck(LINES, 'id', db);
      expect(await rows(`SELECT obj_description('${LINES}'::regclass, 'pg_class') AS c, has_table_privilege(${ql(READER)}, ${ql(LINES)}, 'SELECT') AS g`, db)).toBe(JSON.stringify([{ c: 'lines; of "orders"', g: true }]));
      expect(await rows(`SELECT count(*)::int AS n FROM pg_class WHERE relkind IN ('r', 'p', 'v') AND relnamespace <> 'pg_catalog'::regnamespace AND relnamespace <> 'information_schema'::regnamespace`, db)).toBe('[{"n":1}]');
    });

    it('restores one schema with hostile names: tables, view, unique constraint, sequence; the FK to another schema left out', async () => {
      const db = 'sel one schema';
      const schemas = parseSchemaList('"sch\nema ""q"".x,y"', 'RESTORE_SCHEMAS');
      expect(schemas).toEqual([H_SCHEMA]);
      await restoreSelection({ schemas, tables: [] }, db);
      expect(await schemasOf(db)).toEqual(['public', H_SCHEMA].sort());
      expect(await rows(`SELECT * FROM ${H} ORDER BY id`, db)).toBe(await rows(`SELECT * FROM ${H} ORDER BY id`, SRC_DB));
      const view = `${qi(H_SCHEMA)}.${qi(H_VIEW)}`;
      expect(await rows(`SELECT * FROM ${view} ORDER BY id`, db)).toBe(await rows(`SELECT * FROM ${view} ORDER BY id`, SRC_DB));
      const source = await constraintsOf(H, SRC_DB);
      expect(keys(source)).toEqual(['f', 'p', 'u']);
      expect(await constraintsOf(H, db)).toEqual(source.filter((c) => c.contype !== 'f'));
      expect((await constraintsOf(H, db)).map((c) => c.conname)).toContain('uniq\ncode');
      await nextIdCheck(H, 'id', db);
      expect(await rows(`SELECT obj_description(oid, 'pg_namespace') AS c FROM pg_namespace WHERE nspname = ${ql(H_SCHEMA)}`, db)).toBe('[{"c":"hostile"}]');
    });

    it('restores two tables joined by an FK, keeping the FK, the identity column and the unique constraint', async () => {
      const db = 'sel two tables';
      await restoreSelection({ schemas: [], tables: parseTableList('sales.customers, Sales.Orders', 'RESTORE_TABLES') }, db);
      expect(await schemasOf(db)).toEqual(['public', 'sales']);
      for (const t of ['sales.customers', 'sales.orders']) {
        expect(await rows(`SELECT * FROM ${t} ORDER BY id`, db)).toBe(await rows(`SELECT * FROM ${t} ORDER BY id`, SRC_DB));
        expect(await constraintsOf(t, db)).toEqual(await constraintsOf(t, SRC_DB));
        expect(await indexesOf(t, db)).toBe(await indexesOf(t, SRC_DB));
        await nextIdCheck(t, 'id', db);
      }
      expect(keys(await constraintsOf('sales.orders', db))).toEqual(['f', 'p']);
      expect(await rows(`SELECT attidentity FROM pg_attribute WHERE attrelid = 'sales.orders'::regclass AND attname = 'id'`, db)).toBe('[{"attidentity":"a"}]');
      await expect(server.query(`INSERT INTO sales.orders (customer_id) VALUES (999)`, db)).rejects.toThrow(/foreign key/);
      expect(await rows(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'events'`, db)).toBe('[{"n":0}]');
    });

    it('restores a partitioned table with its partitions', async () => {
      const db = 'sel partitioned';
      await restoreSelection({ schemas: [], tables: parseTableList('sales.events', 'RESTORE_TABLES') }, db);
      expect(await rows(`SELECT tableoid::regclass::text AS part, * FROM sales.events ORDER BY id`, db)).toBe(await rows(`SELECT tableoid::regclass::text AS part, * FROM sales.events ORDER BY id`, SRC_DB));
      expect(await rows(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('customers', 'orders')`, db)).toBe('[{"n":0}]');
    });

    it('with withDatabase, pg_restore --create writes the CREATE DATABASE and its comment, and only the selection', async () => {
      const sel = { schemas: [], tables: [{ schema: 'public', name: 'plain' }] };
      const { ids, missing } = selectEntries(toc, sel, { withDatabase: true });
      expect(missing).toEqual([]);
      const list = join(dir, 'withdb.list');
      await writeFile(list, listFileText(ids));
      const sql = await tool('pg_restore', ['-C', '-L', list, '-f', '-', srcDump]);
      expect(sql).toContain(`CREATE DATABASE "toc ""src"" db"`);
      expect(sql).toContain(`COMMENT ON DATABASE "toc ""src"" db" IS 'the source';`);
      expect(sql).toContain('CREATE TABLE public.plain');
      expect(sql).not.toMatch(/CREATE TABLE sales\./);
      expect(selectEntries(toc, sel).ids).toEqual(ids.filter((id) => !['DATABASE', 'COMMENT'].includes(toc.entries.find((e) => e.dumpId === id)!.desc) || toc.entries.find((e) => e.dumpId === id)!.namespace !== null));
    });
  });
}

// ---- synthetic archives ---------------------------------------------------------------------

interface SynthOptions {
  minor: number;
  intSize?: number;
  offSize?: number;
  compression?: number;
  entries: Array<Omit<TocEntry, 'defn'> & { defn?: string | null; rawTag?: Buffer }>;
}

/** A custom-format archive as pg_dump of that format version writes it (per ReadHead / ReadToc), with some data after the TOC. */
function synthArchive(o: SynthOptions): Buffer {
  const intSize = o.intSize ?? 4;
  const offSize = o.offSize ?? 8;
  const parts: Buffer[] = [Buffer.from('PGDMP'), Buffer.from([1, o.minor, 0, intSize, offSize, 1])];
  const byte = (b: number) => parts.push(Buffer.from([b]));
  const int = (v: number) => {
    const b = Buffer.alloc(1 + intSize);
    b[0] = v < 0 ? 1 : 0;
    let m = Math.abs(v);
    for (let i = 1; i <= intSize; i++) {
      b[i] = m % 256;
      m = Math.floor(m / 256);
    }
    parts.push(b);
  };
  const str = (s: string | Buffer | null) => {
    if (s === null) return int(-1);
    const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
    int(b.length);
    parts.push(b);
  };
  if (o.minor >= 15) byte(o.compression ?? 0);
  else int(o.compression ?? 0);
  for (const v of [1, 2, 3, 4, 5, 125, 0]) int(v);
  str('synth db');
  str('16.4');
  str('16.4 (synthetic)');
  int(o.entries.length);
  for (const e of o.entries) {
    int(e.dumpId);
    int(e.hadDumper ? 1 : 0);
    str(e.tableOid);
    str(e.oid);
    str(e.rawTag ?? e.tag);
    str(e.desc);
    int({ none: 1, 'pre-data': 2, data: 3, 'post-data': 4, unknown: 9 }[e.section]);
    str(e.defn ?? null);
    str(null);
    str(e.desc === 'TABLE DATA' ? 'COPY x FROM stdin;\n' : null);
    str(e.namespace);
    str(e.tablespace);
    if (o.minor >= 14) str(e.desc === 'TABLE' ? 'heap' : null);
    if (o.minor >= 16) int(e.desc === 'TABLE' ? 'r'.charCodeAt(0) : 0);
    str(e.owner);
    str('false');
    for (const d of e.deps) str(String(d));
    str(null);
    byte(e.hadDumper ? 1 : 3);
    parts.push(Buffer.alloc(offSize));
  }
  parts.push(Buffer.from([1, 0, 0, 0, 0, 0]), Buffer.alloc(1000, 7)); // a data block that is never read
  return Buffer.concat(parts);
}

const SYNTH_ENTRIES: SynthOptions['entries'] = [
  { dumpId: 10, hadDumper: false, tableOid: '0', oid: '0', tag: 'ENCODING', desc: 'ENCODING', section: 'pre-data', namespace: null, tablespace: null, owner: null, deps: [], defn: "SET client_encoding = 'UTF8';\n" },
  { dumpId: 11, hadDumper: false, tableOid: '1262', oid: '5', tag: 'synth db', desc: 'DATABASE', section: 'pre-data', namespace: null, tablespace: null, owner: 'postgres', deps: [], defn: 'CREATE DATABASE "synth db";\n' },
  { dumpId: 2, hadDumper: false, tableOid: '2615', oid: '16385', tag: 'sch\nema é🐘', desc: 'SCHEMA', section: 'pre-data', namespace: null, tablespace: null, owner: 'ro"le', deps: [] },
  { dumpId: 300, hadDumper: false, tableOid: '1259', oid: '4294967295', tag: 't', desc: 'TABLE', section: 'pre-data', namespace: 'sch\nema é🐘', tablespace: 'fast space', owner: null, deps: [2] },
  { dumpId: 70000, hadDumper: true, tableOid: '0', oid: '16400', tag: 't', desc: 'TABLE DATA', section: 'data', namespace: 'sch\nema é🐘', tablespace: '', owner: 'postgres', deps: [300, 2] },
  { dumpId: 2147483647, hadDumper: false, tableOid: '0', oid: '0', tag: '', desc: 'WHATEVER', section: 'unknown', namespace: '', tablespace: null, owner: '', deps: [300] },
];

describe('synthetic custom-format archives', () => {
  for (const minor of [12, 13, 14, 15, 16]) {
    for (const intSize of [4, 8]) {
      it(`reads format 1.${minor} with ${intSize}-byte integers`, async () => {
        const bytes = synthArchive({ minor, intSize, offSize: intSize, compression: minor >= 15 ? 3 : -1, entries: SYNTH_ENTRIES });
        const got = await readArchiveToc(chunked(bytes, 3), { label: 'synth' });
        expect(got).toEqual({
          version: `1.${minor}`,
          dbname: 'synth db',
          serverVersion: '16.4',
          pgDumpVersion: '16.4 (synthetic)',
          compression: minor >= 15 ? 'zstd' : 'gzip',
          entries: SYNTH_ENTRIES.map(({ defn, ...e }) => (e.desc === 'DATABASE' ? { ...e, defn } : e)),
        });
      });
    }
  }

  it('decodes names in the archive encoding', async () => {
    const entries: SynthOptions['entries'] = [
      { ...SYNTH_ENTRIES[0]!, defn: "SET client_encoding = 'LATIN1';\n" },
      { ...SYNTH_ENTRIES[2]!, tag: 'café', rawTag: Buffer.from('caf\xe9', 'latin1') },
    ];
    const got = await readArchiveToc(chunked(synthArchive({ minor: 14, compression: 0, entries }), 2));
    expect(got.compression).toBe('none');
    expect(got.entries[1]!.tag).toBe('café');
  });

  it('refuses versions it does not know, impossible sizes and corrupt entries', async () => {
    const base = { entries: SYNTH_ENTRIES };
    expectVerification(await refusal(synthArchive({ ...base, minor: 11 }), 'old.dump'), 'old.dump', /format version 1\.11, which this reader does not know/);
    expectVerification(await refusal(synthArchive({ ...base, minor: 16, intSize: 0 }), 'ints.dump'), 'ints.dump', /impossible header \(integer size 0/);
    const negativeId = synthArchive({ minor: 16, entries: [{ ...SYNTH_ENTRIES[2]!, dumpId: -4 }] });
    expectVerification(await refusal(negativeId, 'id.dump'), 'id.dump', /TOC entry 1 of 1 has dump id -4/);
    const badDep = synthArchive({ minor: 16, entries: [{ ...SYNTH_ENTRIES[2]!, deps: [0] }] });
    expectVerification(await refusal(badDep, 'dep.dump'), 'dep.dump', /dependency "0" that is not a dump id/);
    const badFlag = synthArchive({ minor: 16, entries: [SYNTH_ENTRIES[2]!] });
    badFlag[badFlag.length - 1000 - 6 - 8 - 1] = 9;
    expectVerification(await refusal(badFlag, 'flag.dump'), 'flag.dump', /data offset flag 9/);
    const manyEntries = synthArchive({ minor: 16, entries: [] });
    const countAt = manyEntries.length - 1000 - 6 - 5;
    manyEntries.writeUInt32LE(100_000_000, countAt + 1);
    expectVerification(await refusal(manyEntries, 'count.dump'), 'count.dump', /claims 100000000 TOC entries/);
  });

  it('stops an aborted read', async () => {
    const controller = new AbortController();
    async function* stalls(): AsyncGenerator<Buffer> {
      yield Buffer.from('PGDMP');
      await new Promise(() => undefined);
    }
    const read = readArchiveToc(stalls(), { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(read).rejects.toMatchObject({ name: 'AbortedError' });
  });
});
