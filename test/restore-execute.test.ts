// executeRestore against real servers: real backups made by the CLI from a rich cluster on 13, 15,
// 17 and 18, restored with each restore type into fresh servers of the same major, must dump the
// same as the original. A database restore that fails, is refused or is stopped part-way leaves the
// existing database exactly as it was and no staging database behind.
import { afterAll, describe, expect, it } from 'vitest';
import { createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import pg from 'pg';
import { executeRestore, knowsRestrict, type ExecuteRestore } from '../src/core/restore/execute.js';
import { NotApplied, SqlRewriter, connectTarget } from '../src/core/restore/sql-rewrite.js';
import { exitCodeFor } from '../src/core/errors.js';
import type { Manifest } from '../src/core/backup/manifest.js';
import type { ConnectionSettings } from '../src/core/settings/connection.js';
import type { RestoreEvent } from '../src/core/restore/model.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientBinDir, clientMajorFor } from './helpers/clients.js';
import {
  clientTool,
  dumpClusterNormalized,
  dumpClusterToGzip,
  dumpDatabaseNormalized,
  dumpGlobalsNormalized,
  expectSameDump,
  normalizeDump,
  runTool,
  toolEnv,
} from './helpers/dump-compare.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { createRichCluster, RICH_DATABASES } from './helpers/rich-cluster.js';
import { makeTempDir } from './helpers/tmp.js';
import { rejection } from './helpers/rejection.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];

const servers: PgServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(major: ServerMajor, password?: string): Promise<PgServer> {
  const s = await startPgServer(major, password ? { password } : {});
  servers.push(s);
  return s;
}

interface Source {
  server: PgServer;
  folder: string;
  manifest: Manifest;
  file(kind: 'cluster' | 'globals' | string): string;
}

// One source server and one backup per major, shared by the tests of that major.
const sources = new Map<ServerMajor, Promise<Source>>();
function sourceFor(major: ServerMajor): Promise<Source> {
  let p = sources.get(major);
  if (!p) {
    p = (async () => {
      const s = await server(major);
      await createRichCluster(s);
      const backupDir = await makeTempDir(`restore-exec-${major}-`);
      const env = baseEnv({ ...s.env(), BACKUP_DIR: backupDir, PATH: `/usr/bin:/bin:${clientBinDir(clientMajorFor(major))}` });
      const r = await runCli(['backup', '--json'], env);
      if (r.code !== 0) throw new Error(`backup failed (${r.code}): ${r.stderr}`);
      const folder = (JSON.parse(r.stdout) as { path: string }).path;
      const manifest = JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as Manifest;
      const file = (kind: string) => {
        const f = manifest.files.find((x) => (kind === 'cluster' || kind === 'globals' ? x.kind === kind : x.kind === 'database' && x.database === kind));
        if (!f) throw new Error(`no file for ${kind}`);
        return join(folder, f.name);
      };
      return { server: s, folder, manifest, file };
    })();
    sources.set(major, p);
  }
  return p;
}

function connOf(s: PgServer): ConnectionSettings {
  return { host: '127.0.0.1', port: s.port, user: 'postgres', password: s.password, database: 'postgres', sslMode: 'disable', passthrough: {} };
}

function request(target: PgServer, major: ServerMajor, r: Partial<ExecuteRestore> & Pick<ExecuteRestore, 'type' | 'file'>, events?: RestoreEvent[]): ExecuteRestore {
  return {
    conn: connOf(target),
    overwrite: false,
    pgBinDir: clientBinDir(clientMajorFor(major)),
    signal: new AbortController().signal,
    onEvent: (e) => events?.push(e),
    ...r,
  };
}

async function leftovers(s: PgServer): Promise<string[]> {
  const rows = await s.query(`SELECT datname FROM pg_database WHERE datname LIKE '%\\_\\_pgb\\_%' ORDER BY 1`);
  return rows.map((r: { datname: string }) => r.datname);
}


/** The SQL of a backup file with `edit` applied, written as a new .sql.gz. */
async function editedFile(from: string, to: string, edit: (sql: string) => string): Promise<string> {
  const sql = gunzipSync(await readFile(from)).toString('utf8');
  const out = edit(sql);
  expect(out).not.toBe(sql);
  await writeFile(to, gzipSync(out, { level: 1 }));
  return to;
}

/** Plain `pg_dump` (no --create, as the old bash tool could write), normalized or gzipped to a file. */
async function plainDump(s: PgServer, db: string, gzFile?: string): Promise<string> {
  const script = gzFile ? 'set -o pipefail; "$1" -w | gzip > "$2"' : '"$1" -w';
  const r = await runTool('bash', ['-c', script, 'bash', clientTool(s, 'pg_dump'), gzFile ?? ''], toolEnv(s, { PGDATABASE: db }));
  if (r.code !== 0) throw new Error(`pg_dump of ${db} failed: ${r.stderr}`);
  return normalizeDump(r.stdout);
}

describe('executeRestore: round trips on every major', () => {
  it.concurrent.each(MAJORS)('PostgreSQL %i: cluster onto a fresh server; refused onto one that is not fresh', async (major) => {
    const src = await sourceFor(major);
    const target = await server(major, src.server.password); // the restored globals bring the source password
    const events: RestoreEvent[] = [];
    const t0 = Date.now();
    const outcome = await executeRestore(request(target, major, { type: 'cluster', file: src.file('cluster'), manifest: src.manifest }, events));
    console.log(`PostgreSQL ${major}: cluster restore ${Date.now() - t0} ms`);
    expect(outcome.type).toBe('cluster');
    expect(Number(outcome.psqlVersion.split('.')[0])).toBeGreaterThanOrEqual(src.manifest.pgDump.major);
    expect(events.filter((e) => e.type === 'step').length).toBeGreaterThan(2);
    expectSameDump(await dumpClusterNormalized(src.server), await dumpClusterNormalized(target), `cluster (PostgreSQL ${major})`);
    expectSameDump(await dumpDatabaseNormalized(src.server, 'postgres'), await dumpDatabaseNormalized(target, 'postgres'), `postgres database (PostgreSQL ${major})`);

    // Again onto the same (no longer fresh) server: refused before anything, with or without overwrite.
    const before = await dumpClusterNormalized(target);
    for (const overwrite of [false, true]) {
      const err = await rejection(executeRestore(request(target, major, { type: 'cluster', file: src.file('cluster'), manifest: src.manifest, overwrite })));
      expect(exitCodeFor(err)).toBe(2);
      expect(err.message).toMatch(/not fresh/);
      expect(err.message).toContain('"app"');
    }
    expectSameDump(before, await dumpClusterNormalized(target), 'cluster after the refused restores');

    // A legacy backup (plain pg_dumpall output, no manifest) onto another fresh server.
    const legacy = join(await makeTempDir(`restore-exec-legacy-${major}-`), 'postgres_cluster.sql.gz');
    await dumpClusterToGzip(src.server, legacy);
    const fresh = await server(major, src.server.password);
    await executeRestore(request(fresh, major, { type: 'cluster', file: legacy }));
    expectSameDump(await dumpClusterNormalized(src.server), await dumpClusterNormalized(fresh), `legacy cluster (PostgreSQL ${major})`);
    const again = await rejection(executeRestore(request(fresh, major, { type: 'cluster', file: legacy })));
    expect(exitCodeFor(again)).toBe(2);
    await fresh.stop();
  });

  it.concurrent.each(MAJORS)('PostgreSQL %i: globals, every database, one under another name, overwrite, failures and stop', async (major) => {
    const src = await sourceFor(major);
    const target = await server(major, src.server.password);
    const timings: string[] = [];
    const timed = async <T>(what: string, p: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      const r = await p();
      timings.push(`${what} ${Date.now() - t0} ms`);
      return r;
    };

    // globals
    await timed('globals', () => executeRestore(request(target, major, { type: 'globals', file: src.file('globals'), manifest: src.manifest })));
    expectSameDump(await dumpGlobalsNormalized(src.server), await dumpGlobalsNormalized(target), `globals (PostgreSQL ${major})`);
    // again: the roles exist now: refused (exit 2) unless overwrite, which updates them
    const again = await rejection(executeRestore(request(target, major, { type: 'globals', file: src.file('globals'), manifest: src.manifest })));
    expect(exitCodeFor(again)).toBe(2);
    expect(again.message).toContain('app_owner');
    await executeRestore(request(target, major, { type: 'globals', file: src.file('globals'), manifest: src.manifest, overwrite: true }));
    expectSameDump(await dumpGlobalsNormalized(src.server), await dumpGlobalsNormalized(target), `globals restored twice (PostgreSQL ${major})`);

    // every database, under its own name (postgres exists on every server: overwrite)
    for (const db of src.manifest.databases) {
      const outcome = await timed(`database ${db}`, () =>
        executeRestore(request(target, major, { type: 'database', file: src.file(db), manifest: src.manifest, database: db, overwrite: db === 'postgres' })),
      );
      expect(outcome.target).toBe(db);
      expectSameDump(await dumpDatabaseNormalized(src.server, db), await dumpDatabaseNormalized(target, db), `database ${JSON.stringify(db)} (PostgreSQL ${major})`);
    }
    expect(await leftovers(target)).toEqual([]);

    // under another name: same content (the name aside), the original untouched
    for (const [db, copy] of [[RICH_DATABASES.sales, 'sales data copy'], [RICH_DATABASES.unicode, 'copie de données_🐘']] as const) {
      await executeRestore(request(target, major, { type: 'database', file: src.file(db), manifest: src.manifest, database: db, targetDatabase: copy }));
      const restored = (await dumpDatabaseNormalized(target, copy)).split(copy).join(db);
      expectSameDump(await dumpDatabaseNormalized(src.server, db), restored, `${JSON.stringify(db)} restored as ${JSON.stringify(copy)}`);
    }

    // a legacy backup (plain pg_dump without --create, no manifest) under another name
    const legacyFile = join(await makeTempDir(`restore-exec-legacy-db-${major}-`), 'postgres_db_sales%20data.sql.gz');
    await plainDump(src.server, RICH_DATABASES.sales, legacyFile);
    await executeRestore(request(target, major, { type: 'database', file: legacyFile, database: RICH_DATABASES.sales, targetDatabase: 'sales legacy' }));
    expectSameDump(await plainDump(src.server, RICH_DATABASES.sales), await plainDump(target, 'sales legacy'), 'legacy "sales data" restored as "sales legacy"');

    // an existing database without overwrite: exit 2, untouched
    const app = RICH_DATABASES.app;
    await target.query('CREATE TABLE public.added_after_restore (x int); INSERT INTO public.added_after_restore VALUES (1);', app);
    const changed = await dumpDatabaseNormalized(target, app);
    const refused = await rejection(executeRestore(request(target, major, { type: 'database', file: src.file(app), manifest: src.manifest, database: app })));
    expect(exitCodeFor(refused)).toBe(2);
    expect(refused.message).toMatch(/already exists/);
    expect(refused.message).toContain('RESTORE_OVERWRITE');
    expectSameDump(changed, await dumpDatabaseNormalized(target, app), 'app after the refused restore');

    // overwrite replaces it, even with a session open on it
    const session = new pg.Client(target.clientConfig(app));
    session.on('error', () => {});
    await session.connect();
    await timed('overwrite app', () => executeRestore(request(target, major, { type: 'database', file: src.file(app), manifest: src.manifest, database: app, overwrite: true })));
    await session.end().catch(() => {});
    const sourceApp = await dumpDatabaseNormalized(src.server, app);
    expectSameDump(sourceApp, await dumpDatabaseNormalized(target, app), 'app after overwrite');
    expect(await leftovers(target)).toEqual([]);

    // From here on the target's app must stay exactly as it is now.
    await target.query('CREATE TABLE public.marker (x int); INSERT INTO public.marker VALUES (42);', app);
    const current = await dumpDatabaseNormalized(target, app);
    const tmp = await makeTempDir(`restore-exec-files-${major}-`);
    const untouched = async (label: string) => {
      expectSameDump(current, await dumpDatabaseNormalized(target, app), `app after ${label}`);
      expect(await leftovers(target), label).toEqual([]);
    };

    // SQL that fails half-way: exit 1, psql's message and where, the database as it was
    const failing = await editedFile(src.file(app), join(tmp, 'failing.sql.gz'), (sql) => sql.replace(/^COPY sales\.orders /m, 'SELECT 1/0;\n\nCOPY sales.orders '));
    const err1 = await rejection(executeRestore(request(target, major, { type: 'database', file: failing, database: app, manifest: src.manifest, overwrite: true })));
    expect(exitCodeFor(err1)).toBe(1);
    expect(err1.message).toMatch(/division by zero/);
    expect(err1.message).toMatch(/is as it was/);
    expect(err1.message).not.toContain(target.password);
    await untouched('a failing restore');

    // a whole gzip of truncated SQL (cut inside COPY data, then at a statement): exit 3, as it was
    const cutInCopy = await editedFile(src.file(app), join(tmp, 'cut-copy.sql.gz'), (sql) => {
      const at = sql.indexOf('COPY sales.orders ');
      return sql.slice(0, sql.indexOf('\n', sql.indexOf('\n', at) + 200) + 1);
    });
    const err2 = await rejection(executeRestore(request(target, major, { type: 'database', file: cutInCopy, database: app, manifest: src.manifest, overwrite: true })));
    expect(exitCodeFor(err2)).toBe(3);
    expect(err2.message).toMatch(/inside the data of a COPY/);
    await untouched('a restore of SQL cut inside COPY data');
    const cutAtStatement = await editedFile(src.file(app), join(tmp, 'cut-stmt.sql.gz'), (sql) => sql.slice(0, sql.search(/^CREATE INDEX /m)));
    const err3 = await rejection(executeRestore(request(target, major, { type: 'database', file: cutAtStatement, database: app, manifest: src.manifest, overwrite: true })));
    expect(exitCodeFor(err3)).toBe(3);
    expect(err3.message).toMatch(/does not end with/);
    await untouched('a restore of SQL cut at a statement');

    // a file that would reach another database: whole, but not applied (exit 1, not damage), nothing touched
    const hostile = await editedFile(src.file(app), join(tmp, 'hostile.sql.gz'), (sql) => sql.replace(/^COPY sales\.orders /m, '\\connect postgres\nCOPY sales.orders '));
    const err4 = await rejection(executeRestore(request(target, major, { type: 'database', file: hostile, database: app, manifest: src.manifest, overwrite: true })));
    expect(exitCodeFor(err4)).toBe(1);
    expect(err4.message).toMatch(/connects to database "postgres"/);
    await untouched('a restore of a file that connects elsewhere');

    // stopped while psql runs: the signal kills psql; the database as it was
    const slow = await editedFile(src.file(app), join(tmp, 'slow.sql.gz'), (sql) => sql.replace(/^COPY sales\.orders /m, 'SELECT pg_sleep(120);\n\nCOPY sales.orders '));
    const ac = new AbortController();
    const running = executeRestore({ ...request(target, major, { type: 'database', file: slow, database: app, manifest: src.manifest, overwrite: true }), signal: ac.signal });
    running.catch(() => {});
    const until = Date.now() + 60_000;
    for (;;) {
      const rows = await target.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%'`);
      if (rows.length > 0) break;
      if (Date.now() > until) throw new Error('psql never reached the pg_sleep');
      await new Promise((r) => setTimeout(r, 50));
    }
    const tStop = Date.now();
    ac.abort();
    const err5 = await rejection(running);
    timings.push(`stop ${Date.now() - tStop} ms`);
    expect(err5.name).toBe('AbortedError');
    expect(exitCodeFor(err5)).toBe(1);
    expect(err5.message).toMatch(/is as it was/);
    await untouched('a stopped restore');

    // a server older than the backup's: refused before anything
    const newer: Manifest = { ...src.manifest, server: { ...src.manifest.server, major: major + 1, version: `${major + 1}.0` } };
    const err6 = await rejection(executeRestore(request(target, major, { type: 'database', file: src.file(app), manifest: newer, database: app, overwrite: true })));
    expect(exitCodeFor(err6)).toBe(2);
    expect(err6.message).toMatch(/older major/);
    await untouched('a refused restore onto an older server');
    console.log(`PostgreSQL ${major}: ${timings.join(', ')}`);
  });
});

describe('executeRestore: stopped in the middle of a big COPY', () => {
  it.concurrent.each([13, 18] as ServerMajor[])('PostgreSQL %i: the signal kills psql; the database is as it was, no staging database left', async (major) => {
    const target = await server(major);
    await target.query('CREATE DATABASE app');
    await target.query("CREATE TABLE public.keep (x int); INSERT INTO public.keep VALUES (1), (2); COMMENT ON TABLE public.keep IS 'as it was';", 'app');
    const before = await dumpDatabaseNormalized(target, 'app');
    const file = join(await makeTempDir(`restore-exec-big-${major}-`), 'postgres_db_app.sql.gz');
    const pad = 'x'.repeat(80);
    async function* sql() {
      yield "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n";
      yield "CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'C';\n\n\\connect app\n\n";
      yield 'CREATE TABLE public.big (id integer, t text);\n\nCOPY public.big (id, t) FROM stdin;\n';
      for (let i = 0; i < 1_500_000; i += 5000) {
        let chunk = '';
        for (let j = i; j < i + 5000; j++) chunk += `${j}\t${pad}\n`;
        yield chunk;
      }
      yield '\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n';
    }
    await pipeline(Readable.from(sql()), createGzip({ level: 1 }), createWriteStream(file));
    expect((await stat(file)).size).toBeGreaterThan(100_000);

    const ac = new AbortController();
    const events: RestoreEvent[] = [];
    const running = executeRestore({ ...request(target, major, { type: 'database', file, database: 'app', overwrite: true }, events), signal: ac.signal });
    running.catch(() => {});
    const until = Date.now() + 60_000;
    for (;;) {
      const rows = await target.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY public.big%' AND datname LIKE 'app\\_\\_pgb\\_restore\\_%'`);
      if (rows.length > 0) break;
      if (Date.now() > until) throw new Error('psql never reached the COPY');
      await new Promise((r) => setTimeout(r, 20));
    }
    const tStop = Date.now();
    ac.abort();
    const err = await rejection(running);
    console.log(`PostgreSQL ${major}: big COPY stopped in ${Date.now() - tStop} ms`);
    expect(err.name).toBe('AbortedError');
    expect(err.message).toMatch(/is as it was/);
    expectSameDump(before, await dumpDatabaseNormalized(target, 'app'), 'app after the stopped restore');
    expect(await leftovers(target)).toEqual([]);
    expect(await target.query(`SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'pgb %'`)).toEqual([]);
    expect(events.some((e) => e.type === 'step' && /staging/.test(e.message))).toBe(true);
  });
});

describe('SqlRewriter', () => {
  const run = async (sql: string, opts: ConstructorParameters<typeof SqlRewriter>[0]): Promise<string> => {
    const rw = new SqlRewriter(opts);
    const out: Buffer[] = [];
    rw.on('data', (c: Buffer) => out.push(c));
    const done = new Promise<void>((res, rej) => {
      rw.on('end', res);
      rw.on('error', rej);
    });
    // byte by byte and in one piece must give the same
    for (let i = 0; i < sql.length; i += 7) rw.write(Buffer.from(sql.slice(i, i + 7), 'latin1'));
    rw.end();
    await done;
    return Buffer.concat(out).toString('latin1');
  };
  const STAGING_MARK = `ALTER DATABASE "x__pgb_restore_1" SET application_name = 'pg-backups staging x__pgb_restore_1';`;
  const db = (name: string, staging = 'x__pgb_restore_1') => ({ mode: 'database' as const, database: name, staging });

  it('moves a --create dump onto the staging name and leaves COPY data and quoted text alone', async () => {
    const sql = [
      'SET client_encoding = \'UTF8\';',
      'CREATE DATABASE "it\'s ""q""" WITH TEMPLATE = template0 ENCODING = \'UTF8\';',
      'ALTER DATABASE "it\'s ""q""" OWNER TO app;',
      '\\connect -reuse-previous=on "dbname=\'it\\\'s ""q""\'"',
      'COMMENT ON DATABASE "it\'s ""q""" IS \'multi',
      'ALTER DATABASE "q" inside a string\';',
      'GRANT CONNECT,TEMPORARY ON DATABASE "it\'s ""q""" TO readers;',
      'ALTER ROLE r IN DATABASE "it\'s ""q""" SET work_mem TO \'1MB\';',
      'COPY t (a) FROM stdin;',
      'ALTER DATABASE other SET x TO 1;',
      '\\connect other',
      '\\.',
      'CREATE FUNCTION f() RETURNS int AS $_$',
      'ALTER DATABASE other SET x = 1;',
      '$_$;',
      '-- PostgreSQL database dump complete',
      '',
    ].join('\n');
    const out = await run(sql, db(`it's "q"`));
    const lines = out.split('\n');
    expect(lines[1]).toBe('CREATE DATABASE "x__pgb_restore_1" WITH TEMPLATE = template0 ENCODING = \'UTF8\';');
    expect(lines[2]).toBe(STAGING_MARK); // the mark a later restore recognises a leftover staging database by
    expect(lines[3]).toBe('ALTER DATABASE "x__pgb_restore_1" OWNER TO app;');
    expect(lines[4]).toBe('\\connect x__pgb_restore_1');
    expect(lines[5]).toBe('COMMENT ON DATABASE "x__pgb_restore_1" IS \'multi');
    expect(lines[6]).toBe(sql.split('\n')[5]);
    expect(lines[7]).toBe('GRANT CONNECT,TEMPORARY ON DATABASE "x__pgb_restore_1" TO readers;');
    expect(lines[8]).toBe('ALTER ROLE r IN DATABASE "x__pgb_restore_1" SET work_mem TO \'1MB\';');
    expect(lines.slice(9).join('\n')).toBe(sql.split('\n').slice(8).join('\n'));
  });

  it('gives a dump without --create a staging database of its own', async () => {
    const out = await run('SET a = 1;\nCREATE TABLE t (x int);\n-- PostgreSQL database dump complete\n', db('app'));
    expect(out).toBe(`CREATE DATABASE "x__pgb_restore_1" WITH TEMPLATE = template0;\n${STAGING_MARK}\n\\connect x__pgb_restore_1\nSET a = 1;\nCREATE TABLE t (x int);\n-- PostgreSQL database dump complete\n`);
  });

  it('refuses what would reach another database, and incomplete files', async () => {
    const head = 'CREATE DATABASE app;\n\\connect app\n';
    await expect(run(`${head}ALTER DATABASE other SET x TO 1;\n`, db('app'))).rejects.toThrow(/names database "other"/);
    await expect(run(`${head}\\connect other\n`, db('app'))).rejects.toThrow(/connects to database "other"/);
    await expect(run(`${head}\\! rm -rf /\n`, db('app'))).rejects.toThrow(/psql command/);
    await expect(run(`${head}CREATE DATABASE app2;\n`, db('app'))).rejects.toThrow(/twice|names database/);
    await expect(run(`${head}COPY t FROM stdin;\n1\n`, db('app'))).rejects.toThrow(/inside the data of a COPY/);
    await expect(run(`${head}SELECT 'abc\n`, db('app'))).rejects.toThrow(/inside quoted text/);
    await expect(run(`${head}SELECT 1\n`, db('app'))).rejects.toThrow(/middle of a statement/);
    await expect(run(`${head}SELECT 1;\n`, db('app'))).rejects.toThrow(/does not end with/);
  });

  it('leaves out CREATE ROLE of existing roles and records what a cluster file creates', async () => {
    const rw = new SqlRewriter({ mode: 'cluster', existingRoles: new Set(['postgres']) });
    const out: Buffer[] = [];
    rw.on('data', (c: Buffer) => out.push(c));
    rw.end(Buffer.from('CREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER;\nCREATE ROLE "o\'brien ""ops""";\nCREATE DATABASE "sales data" WITH TEMPLATE = template0;\n-- PostgreSQL database cluster dump complete\n'));
    await new Promise((res) => rw.on('end', res));
    const text = Buffer.concat(out).toString();
    expect(text).not.toMatch(/^CREATE ROLE postgres;/m);
    expect(text).toMatch(/^ALTER ROLE postgres WITH SUPERUSER;/m);
    expect(rw.createdRoles).toEqual(['postgres', `o'brien "ops"`]);
    expect(rw.createdDatabases).toEqual(['sales data']);
  });

  it('works on whole statements: a COPY header across lines, rows that look like SQL, DATABASE as a table name', async () => {
    // Shaped like pg_dump 18 --create output (see TOC comments); only the database-level entries move.
    const sql = [
      '--',
      '-- Name: shop; Type: DATABASE; Schema: -; Owner: postgres',
      '--',
      '',
      "CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8';",
      'ALTER DATABASE shop OWNER TO postgres;',
      '',
      '\\connect shop',
      '',
      'SET client_encoding = \'UTF8\';',
      '--',
      '-- Name: DATABASE shop; Type: COMMENT; Schema: -; Owner: postgres',
      '--',
      '',
      "COMMENT ON DATABASE shop IS 'the DATABASE shop';",
      '--',
      '-- Name: shop; Type: DATABASE PROPERTIES; Schema: -; Owner: postgres',
      '--',
      '',
      'ALTER DATABASE shop CONNECTION LIMIT = 7;',
      "ALTER DATABASE shop SET work_mem TO '8MB';",
      "ALTER ROLE bob IN DATABASE shop SET work_mem TO '9MB';",
      '\\connect shop',
      '--',
      '-- Name: DATABASE; Type: TABLE; Schema: public; Owner: postgres',
      '--',
      '',
      'CREATE TABLE public."DATABASE" (',
      '    id integer,',
      '    "a',
      'b" text DEFAULT \'ALTER DATABASE x\'::text',
      ');',
      "COMMENT ON TABLE public.\"DATABASE\" IS 'ALTER DATABASE shop';",
      'CREATE FUNCTION public.f() RETURNS void LANGUAGE sql AS $$',
      'ALTER DATABASE other SET x = 1;',
      '$$;',
      '--',
      '-- Data for Name: DATABASE; Type: TABLE DATA; Schema: public; Owner: postgres',
      '--',
      '',
      'COPY public."DATABASE" (id, "a',
      'b") FROM stdin;',
      '1\t\\\\connect postgres',
      '2\tALTER DATABASE "shop" SET x = 1;',
      '3\tCREATE ROLE postgres;',
      '4\t\\! rm -rf /',
      '\\.',
      '',
      '--',
      '-- PostgreSQL database dump complete',
      '--',
      '',
    ].join('\n');
    const out = await run(sql, db('shop'));
    const expected = sql
      .replace("CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8';", `CREATE DATABASE "x__pgb_restore_1" WITH TEMPLATE = template0 ENCODING = 'UTF8';\n${STAGING_MARK}`)
      .replace('ALTER DATABASE shop OWNER', 'ALTER DATABASE "x__pgb_restore_1" OWNER')
      .split('\\connect shop').join('\\connect x__pgb_restore_1')
      .replace("COMMENT ON DATABASE shop IS", 'COMMENT ON DATABASE "x__pgb_restore_1" IS')
      .replace('ALTER DATABASE shop CONNECTION', 'ALTER DATABASE "x__pgb_restore_1" CONNECTION')
      .replace('ALTER DATABASE shop SET work_mem', 'ALTER DATABASE "x__pgb_restore_1" SET work_mem')
      .replace('IN DATABASE shop SET', 'IN DATABASE "x__pgb_restore_1" SET');
    expect(out).toBe(expected);
    // The rows and everything after the TABLE entry reach psql as they are.
    expect(out.slice(out.indexOf('-- Name: DATABASE; Type: TABLE'))).toBe(sql.slice(sql.indexOf('-- Name: DATABASE; Type: TABLE')));

    // The same rows in a cluster file: the row "CREATE ROLE postgres;" is data, not a role to leave out.
    const rw = new SqlRewriter({ mode: 'cluster', existingRoles: new Set(['postgres']) });
    const chunks: Buffer[] = [];
    rw.on('data', (c: Buffer) => chunks.push(c));
    const cluster = `CREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER;\nCREATE DATABASE shop;\n\\connect shop\n${sql.slice(sql.indexOf('COPY public'))}`.replace('-- PostgreSQL database dump complete', '-- PostgreSQL database cluster dump complete');
    rw.end(Buffer.from(cluster, 'latin1'));
    await new Promise((res, rej) => {
      rw.on('end', res);
      rw.on('error', rej);
    });
    const clusterOut = Buffer.concat(chunks).toString('latin1');
    expect(clusterOut.slice(clusterOut.indexOf('\\connect shop'))).toBe(cluster.slice(cluster.indexOf('\\connect shop')));
    expect(clusterOut.startsWith('-- (pg-backups: role postgres exists; CREATE ROLE left out')).toBe(true); // the globals' one
    expect(rw.createdRoles).toEqual(['postgres']);
  });

  it('finds the database entries by the exact text pg_dump writes, whatever the owner or a table is called; streams a huge COMMENT ON DATABASE', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const sql = [
      '--',
      '-- Name: shop; Type: DATABASE; Schema: -; Owner: o; Type: TABLE; x',
      '--',
      '',
      "CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8';",
      '\\connect shop',
      '--',
      '-- Name: DATABASE shop; Type: COMMENT; Schema: -; Owner: o; Type: TABLE; x',
      '--',
      '',
      `COMMENT ON DATABASE shop IS '${big}';`,
      '--',
      '-- Name: shop; Type: DATABASE; Schema: -; Owner: x; Type: TABLE; Schema: public; Owner: postgres',
      '--',
      '',
      'CREATE TABLE public."shop; Type: DATABASE; Schema: -; Owner: x" (id int);',
      '--',
      '-- PostgreSQL database dump complete',
      '',
    ].join('\n');
    const out = await run(sql, db('shop'));
    expect(out).toContain(`COMMENT ON DATABASE "x__pgb_restore_1" IS '${big}';`);
    expect(out).toContain('CREATE TABLE public."shop; Type: DATABASE; Schema: -; Owner: x" (id int);');
  });

  it('a globals file never connects or touches a database; a cluster file connects only to the databases it created', async () => {
    const globals = (body: string) => run(`CREATE ROLE a;\n${body}-- PostgreSQL database cluster dump complete\n`, { mode: 'globals' });
    // An older pg_dumpall wrote role names with newlines as they are into its comments.
    for (const injected of ['\\connect victim\n', 'DROP DATABASE victim;\n', 'ALTER DATABASE victim OWNER TO a;\n']) {
      const err = await rejection(globals(`-- User Config "a\n${injected}`));
      expect(err, injected).toBeInstanceOf(NotApplied);
      expect(err.message).toMatch(/which a globals file never holds/);
    }
    expect(await globals(`ALTER ROLE a IN DATABASE app SET work_mem TO '1MB';\n`)).toContain('IN DATABASE app'); // pg_dumpall writes these

    const cluster = (body: string) => run(`${body}-- PostgreSQL database cluster dump complete\n`, { mode: 'cluster' });
    const ok = await cluster('\\connect template1\n\\connect postgres\nCREATE DATABASE app;\n\\connect -reuse-previous=on "dbname=\'app\'"\n\\connect app\n');
    expect(ok).toContain('\\connect app');
    const err = await rejection(cluster('\\connect template1\n\\connect victim\n'));
    expect(err).toBeInstanceOf(NotApplied);
    expect(err.message).toMatch(/connects to database "victim", which it has not created/);
  });

  it('a whole file it will not apply is NotApplied (exit 1), not damage (exit 3)', async () => {
    const toc = '--\n-- Name: t; Type: TABLE; Schema: public; Owner: postgres\n--\n';
    const head = `CREATE DATABASE app;\n\\connect app\n${toc}`;
    for (const [body, why] of [
      ['ALTER DATABASE other SET x TO 1;\n', /database-level statement outside the entries/],
      ['\\connect other\n', /connects to database "other"/],
      ['\\! rm -rf /\n', /psql command/],
      ['COPY t FROM stdin; COPY u FROM stdin;\n', /followed by more on the same line/],
    ] as const) {
      const err = await rejection(run(`${head}${body}-- PostgreSQL database dump complete\n`, db('app')));
      expect(err, body).toBeInstanceOf(NotApplied);
      expect(exitCodeFor(err)).toBe(1);
      expect(err.message).toMatch(why);
    }
    const cut = await rejection(run(`${head}COPY t FROM stdin;\n1\n`, db('app')));
    expect(exitCodeFor(cut)).toBe(3);
  });

  it('reads pg_dump\'s \\connect forms; knows which psql understands \\restrict', () => {
    expect(connectTarget('\\connect app')).toBe('app');
    expect(connectTarget('\\connect "Mixed"')).toBe('Mixed');
    expect(connectTarget(`\\connect -reuse-previous=on "dbname='sales data'"`)).toBe('sales data');
    expect(connectTarget(`\\connect -reuse-previous=on "dbname='key=val db'"`)).toBe('key=val db');
    expect(connectTarget(`\\connect -reuse-previous=on "dbname='it\\'s ""q""'"`)).toBe(`it's "q"`);
    expect(knowsRestrict('17.6')).toBe(true);
    expect(knowsRestrict('17.5')).toBe(false);
    expect(knowsRestrict('15.18')).toBe(true);
    expect(knowsRestrict('18.0')).toBe(true);
  });
});
