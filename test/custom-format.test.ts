// BACKUP_FORMAT=custom end to end, through the CLI, on PostgreSQL 13, 15, 17 and 18: every database
// as a pg_dump -Fc archive; restored whole by pg_restore in parallel and streamed in one pass, a
// cluster onto a fresh server, chosen tables into a new database; each compared with the source.
// Then, on one major: from S3, encrypted, a damaged archive, and a selection refused where it
// cannot apply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientTool, dumpClusterNormalized, dumpDatabaseNormalized, expectSameDump, runTool, toolEnv } from './helpers/dump-compare.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { clientBinDir, clientMajorFor } from './helpers/clients.js';
import { createRichCluster, RICH_DATABASES } from './helpers/rich-cluster.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { makeTempDir } from './helpers/tmp.js';
import { KEY, spawnCliInPty, type PtySession } from './helpers/pty.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];
const ORDERS = 'SELECT id, customer_id, amount::text, status::text, placed_at::text, ticket, note FROM sales.orders ORDER BY id';
const WEIRD = 'SELECT * FROM "Mixed Case"."Weird ""Table"" Name" ORDER BY "Id"';
const rowsOf = async (server: PgServer, sql: string, db: string) => JSON.stringify(await server.query(sql, db));
const databasesOf = async (server: PgServer) => (await server.query('SELECT datname FROM pg_database ORDER BY 1')).map((r: any) => r.datname as string);

describe.each(MAJORS)('PostgreSQL %i: custom format through pg_restore', (major) => {
  let source: PgServer;
  let target: PgServer;
  let dir: string;
  let folder: string;
  const envFor = (server: PgServer, extra: Record<string, string> = {}) =>
    baseEnv({ ...server.env(), PATH: `/usr/bin:/bin:${clientBinDir(clientMajorFor(major))}`, BACKUP_DIR: join(dir, 'local'), RESTORE_DIR: join(dir, 'restore'), ...extra });

  beforeAll(async () => {
    [source, dir] = await Promise.all([startPgServer(major), makeTempDir(`custom-${major}-`)]);
    target = await startPgServer(major, { password: source.password });
    await createRichCluster(source);
    const r = await runCli(['backup', '--json'], envFor(source, { BACKUP_FORMAT: 'custom' }));
    expect(r.code, r.stderr).toBe(0);
    folder = JSON.parse(r.stdout).folder;
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('writes one pg_dump -Fc archive per database, the globals as SQL, no cluster file; the manifest says custom', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'local', folder, 'manifest.json'), 'utf8'));
    expect(manifest.dumpFormat).toBe('custom');
    const names = manifest.files.map((f: any) => f.name).sort();
    expect(names).toContain('postgres_globals.sql.gz');
    expect(names).toContain('postgres_db_app.dump');
    expect(names).toContain('postgres_db_template1.dump');
    expect(names.some((n: string) => n.startsWith('postgres_cluster'))).toBe(false);
    // pg_restore reads them by hand too: the archive's own table of contents.
    const list = await runTool(clientTool(source, 'pg_restore'), ['-l', join(dir, 'local', folder, 'postgres_db_app.dump')], toolEnv(source));
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('TABLE DATA sales orders');
    const verify = await runCli(['verify'], envFor(source));
    expect(verify.code, verify.stderr).toBe(0);
  });

  it('restores the cluster onto a fresh server, equal to the source', async () => {
    const r = await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster' }));
    expect(r.code, r.stderr).toBe(0);
    expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), `cluster ${major}`);
  });

  it('restores a database with pg_restore --jobs=4 over an existing one, and another streamed in one pass (RESTORE_JOBS=1)', async () => {
    // (the cluster restore above put every database of the backup on the target)
    await target.query(`DROP TABLE sales.orders CASCADE`, RICH_DATABASES.app);
    const parallel = await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: RICH_DATABASES.app, RESTORE_OVERWRITE: 'true', RESTORE_JOBS: '4' }));
    expect(parallel.code, parallel.stderr).toBe(0);
    expect(parallel.stderr).toContain('pg_restore --jobs=4');
    expectSameDump(await dumpDatabaseNormalized(source, RICH_DATABASES.app), await dumpDatabaseNormalized(target, RICH_DATABASES.app), `app ${major} (parallel)`);

    await target.query(`DROP SCHEMA "schéma" CASCADE`, RICH_DATABASES.unicode);
    const streamed = await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: RICH_DATABASES.unicode, RESTORE_OVERWRITE: 'true', RESTORE_JOBS: '1' }));
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(streamed.stderr).not.toContain('pg_restore --jobs');
    expectSameDump(await dumpDatabaseNormalized(source, RICH_DATABASES.unicode), await dumpDatabaseNormalized(target, RICH_DATABASES.unicode), `unicode ${major} (streamed)`);
  });

  it('restores chosen tables (RESTORE_TABLES) into a new database with what they need, not more', async () => {
    const r = await runCli(['restore'], envFor(target, {
      RESTORE_SOURCE: 'local',
      RESTORE_TYPE: 'database',
      RESTORE_DATABASE: RICH_DATABASES.app,
      RESTORE_TARGET_DATABASE: 'app_orders',
      RESTORE_TABLES: 'sales.orders,"Mixed Case"."Weird ""Table"" Name"',
    }));
    expect(r.code, r.stderr).toBe(0);
    expect(await rowsOf(target, ORDERS, 'app_orders')).toBe(await rowsOf(source, ORDERS, RICH_DATABASES.app));
    expect(await rowsOf(target, WEIRD, 'app_orders')).toBe(await rowsOf(source, WEIRD, RICH_DATABASES.app));
    const tables = (await target.query(`SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') ORDER BY 1`, 'app_orders')).map((x: any) => x.t);
    expect(tables).toEqual(['Mixed Case.Weird "Table" Name', 'sales.orders']);
    // Its index, trigger and owned sequence came with it; the foreign key to the table left behind did not.
    const indexes = (await target.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1`, 'app_orders')).map((x: any) => x.indexname);
    expect(indexes).toEqual(['orders_customer_idx', 'orders_open_idx', 'orders_pkey']);
    expect(await target.query(`SELECT tgname FROM pg_trigger WHERE tgname = 'orders_audit'`, 'app_orders')).toHaveLength(1);
    expect(await target.query(`SELECT conname FROM pg_constraint WHERE contype = 'f'`, 'app_orders')).toEqual([]);
    expect(await target.query(`SELECT nextval('sales.orders_id_seq') AS n`, 'app_orders')).toEqual([{ n: '5001' }]);
  });
});

describe('custom format from S3, encrypted, damaged; selections refused where they cannot apply', () => {
  let pg: PgServer;
  let s3: S3Server;
  let dir: string;
  let key: string;
  let folder: string;
  const envFor = (extra: Record<string, string> = {}) =>
    baseEnv({ ...pg.env(), PATH: `/usr/bin:/bin:${clientBinDir(17)}`, BACKUP_DIR: join(dir, 'local'), RESTORE_DIR: join(dir, 'restore'), ...s3.s3Env({ S3_PREFIX: 'custom' }), ...extra });
  const orders = () => rowsOf(pg, ORDERS, 'shop');

  beforeAll(async () => {
    [pg, s3, dir] = await Promise.all([startPgServer(17), startS3Server(), makeTempDir('custom-more-')]);
    await pg.query('CREATE DATABASE shop');
    await pg.query(
      `CREATE SCHEMA sales; CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int, amount numeric, status text, placed_at timestamptz, ticket int, note text);
       INSERT INTO sales.orders (customer_id, amount, status, placed_at, ticket, note)
       SELECT g % 100, g * 1.25, 'ok', timestamptz '2024-01-01' + g * interval '1 minute', g, CASE WHEN g % 7 = 0 THEN E'line\\nbreak; DROP TABLE x; --' ELSE md5(g::text) END FROM generate_series(1, 50000) g;
       CREATE TABLE public.customers (id int PRIMARY KEY, name text); INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 100) g`,
      'shop',
    );
    key = join(dir, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const pub = execFileSync('age-keygen', ['-y', key], { encoding: 'utf8' }).trim();
    const r = await runCli(['backup', '--json'], envFor({ BACKUP_FORMAT: 'custom', BACKUP_ENCRYPTION_RECIPIENTS: pub, BACKUP_DATABASES: 'shop' }));
    expect(r.code, r.stderr).toBe(0);
    folder = JSON.parse(r.stdout).folder;
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop()]);
  });

  it('an encrypted archive on S3 restores in parallel (decrypted copy removed after) and streamed; verify reads its TOC', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'local', folder, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: any) => f.name)).toContain('postgres_db_shop.dump.age');
    const before = await orders();
    for (const jobs of ['3', '1']) {
      const r = await runCli(['restore'], envFor({ RESTORE_SOURCE: 's3', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'shop', RESTORE_TARGET_DATABASE: `shop_${jobs}`, RESTORE_JOBS: jobs, RESTORE_IDENTITY_FILE: key }));
      expect(r.code, r.stderr).toBe(0);
      expect(await rowsOf(pg, ORDERS, `shop_${jobs}`)).toBe(before);
    }
    // Only the downloaded (encrypted) file stays in RESTORE_DIR; no decrypted copy.
    const left = await readdir(join(dir, 'restore', folder));
    expect(left).toEqual(['postgres_db_shop.dump.age']);
    const verify = await runCli(['verify', '--source', 's3'], envFor({ RESTORE_IDENTITY_FILE: key }));
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stderr).toContain('ok  postgres_db_shop.dump.age');
  });

  it('the terminal screen offers the archive\'s tables: one marked is restored alone into a new database', async () => {
    const ui: PtySession = spawnCliInPty([], envFor({ RESTORE_IDENTITY_FILE: key, S3_ENABLED: 'false' }));
    try {
      await ui.waitForText(/local .*ok, 1 backup/);
      await ui.press(KEY.enter);
      await ui.waitForText(/Copy read: local/);
      await ui.press(KEY.enter);
      await ui.waitForText(/which one\?/);
      await ui.press('/', ...'shop', KEY.enter, KEY.enter);
      await ui.waitForText(/Tables: all of them \(t: pick some/);
      await ui.press('t');
      await ui.waitForText(/\[ \] sales\.orders/, 60_000);
      await ui.press('j', ' ', KEY.enter);
      let screen = await ui.waitForText(/Only the tables sales\.orders/);
      expect(screen).toMatch(/Target name: "shop_tables"/);
      await ui.press(KEY.enter);
      screen = await ui.waitForText(/Enter starts the restore/, 60_000);
      expect(screen).toMatch(/only +table sales\.orders/);
      await ui.press(KEY.enter);
      await ui.waitForText(/Done: restore of database "shop" \(only sales\.orders\) as "shop_tables"/, 120_000);
      await ui.press('q');
      expect((await ui.exited).exitCode).toBe(0);
    } finally {
      ui.kill();
    }
    expect(await rowsOf(pg, ORDERS, 'shop_tables')).toBe(await orders());
    expect(await pg.query(`SELECT to_regclass('public.customers') AS t`, 'shop_tables')).toEqual([{ t: null }]);
  });

  it('a damaged archive stops both kinds of restore with exit 3 and leaves the target as it was', async () => {
    const file = join(dir, 'local', folder, 'postgres_db_shop.dump.age');
    const bytes = await readFile(file);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
    await writeFile(file, flipped);
    try {
      await pg.query(`CREATE DATABASE shop_target; `);
      await pg.query(`CREATE TABLE keep (v text); INSERT INTO keep VALUES ('untouched')`, 'shop_target');
      for (const jobs of ['2', '1']) {
        const r = await runCli(['restore'], envFor({ RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'shop', RESTORE_TARGET_DATABASE: 'shop_target', RESTORE_OVERWRITE: 'true', RESTORE_JOBS: jobs, RESTORE_IDENTITY_FILE: key }));
        expect(r.code, `${jobs}: ${r.stderr}`).toBe(3);
        expect(await pg.query('SELECT v FROM keep', 'shop_target')).toEqual([{ v: 'untouched' }]);
        expect((await databasesOf(pg)).filter((d) => d.includes('__pgb_'))).toEqual([]);
      }
    } finally {
      await writeFile(file, bytes);
    }
  });

  it('a selection is refused with exit 2 over an existing database, for a name the archive lacks, and on a plain backup', async () => {
    const base = { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'shop', RESTORE_IDENTITY_FILE: key };
    const over = await runCli(['restore'], envFor({ ...base, RESTORE_TABLES: 'sales.orders', RESTORE_OVERWRITE: 'true' }));
    expect(over.code, over.stderr).toBe(2);
    expect(over.stderr).toMatch(/goes into a new database.*RESTORE_TARGET_DATABASE/);
    const missing = await runCli(['restore'], envFor({ ...base, RESTORE_TARGET_DATABASE: 'shop_x', RESTORE_TABLES: 'sales.nope' }));
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('has no sales.nope');
    const plain = await runCli(['backup'], envFor({ BACKUP_DIR: join(dir, 'plain'), BACKUP_DATABASES: 'shop', S3_ENABLED: 'false' }));
    expect(plain.code, plain.stderr).toBe(0);
    const onPlain = await runCli(['restore'], envFor({ ...base, BACKUP_DIR: join(dir, 'plain'), S3_ENABLED: 'false', RESTORE_TARGET_DATABASE: 'shop_y', RESTORE_TABLES: 'sales.orders' }));
    expect(onPlain.code, onPlain.stderr).toBe(2);
    expect(onPlain.stderr).toContain('needs a custom-format backup (BACKUP_FORMAT=custom)');
    expect((await databasesOf(pg)).filter((d) => d === 'shop_x' || d === 'shop_y')).toEqual([]);
  });
});
