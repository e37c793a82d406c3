// The staged cluster restore onto fresh servers: the globals, then every database (template1 and
// postgres included) into staging databases, RESTORE_JOBS at once, each file read once; put in place
// only when all are restored. A damaged file or a stop leaves no database of the backup under its
// real name, and the error says which roles were created and how to remove them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runRestore } from '../src/core/restore/restore-service.js';
import type { RestoreEvent } from '../src/core/restore/model.js';
import { readConnection } from '../src/core/settings/connection.js';
import { LocalSource } from '../src/sources/local.js';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { dumpClusterNormalized, expectSameDump } from './helpers/dump-compare.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { makeTempDir } from './helpers/tmp.js';

// (pg_dump and pg_dumpall since 13.22/14.19/15.14/16.10/17.6 refuse names with newlines)
const ROLES = ['app_owner', 'we"ird role'];
const DATABASES = ['app', 'b "quoted" name', 'big'];

describe('cluster restore, staged (PostgreSQL 15)', () => {
  let source: PgServer;
  let s3: S3Server;
  let dir: string;
  let folder: string;
  const servers: PgServer[] = [];
  const fresh = async () => {
    const s = await startPgServer(15, { password: source.password });
    servers.push(s);
    return s;
  };
  const envFor = (target: PgServer, extra: Record<string, string> = {}) =>
    baseEnv({ ...target.env(), BACKUP_DIR: join(dir, 'local'), RESTORE_DIR: join(dir, 'restore'), ...s3.s3Env({ S3_PREFIX: 'c' }), ...extra });
  const databasesOf = async (s: PgServer) => (await s.query(`SELECT datname FROM pg_database ORDER BY datname`)).map((r) => r.datname as string);
  const rolesOf = async (s: PgServer) => (await s.query(`SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname`)).map((r) => r.rolname as string);

  beforeAll(async () => {
    [source, s3, dir] = await Promise.all([startPgServer(15), startS3Server(), makeTempDir('pgb-cluster-')]);
    servers.push(source);
    await source.query(`CREATE ROLE app_owner LOGIN PASSWORD 'app-secret'; CREATE ROLE "we""ird role" NOLOGIN`);
    // template1 and postgres hold things of their own: the restore must bring them too.
    await source.query(`CREATE TABLE t1_marker (x int); INSERT INTO t1_marker VALUES (1);
      CREATE FUNCTION t1_fn() RETURNS text LANGUAGE sql AS $$ SELECT 'from template1 DATABASE' $$;
      COMMENT ON DATABASE template1 IS 'our template'`, 'template1');
    await source.query(`CREATE TABLE pg_side (v text); INSERT INTO pg_side VALUES ('\\connect app'), (E'CREATE DATABASE x;\\n')`, 'postgres');
    await source.query(`ALTER DATABASE postgres SET work_mem = '7MB'`);
    await source.query(`CREATE DATABASE app OWNER app_owner`);
    await source.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g; ALTER TABLE t OWNER TO app_owner`, 'app');
    await source.query(`CREATE DATABASE "b ""quoted"" name"`);
    await source.query(`CREATE TABLE "DATABASE" ("x; Type: DATABASE" text); INSERT INTO "DATABASE" VALUES ('ALTER DATABASE app SET x = 1;')`, 'b "quoted" name');
    await source.query(`CREATE DATABASE big`);
    await source.query(`CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, repeat(md5(g::text), 4) AS b FROM generate_series(1, 600000) g`, 'big');
    const r = await runCli(['backup', '--json'], envFor(source, { S3_ENABLED: 'true' }));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    folder = out.folder;
    expect(out.manifest.files.map((f: { name: string }) => f.name)).toContain('postgres_db_template1.sql.gz');
    expect(out.manifest.databases).not.toContain('template1');
  });
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.stop()), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('RESTORE_JOBS=3: databases restored at the same time, put in place at the end; the cluster equals the source, template1 and postgres included', async () => {
    const target = await fresh();
    const events: RestoreEvent[] = [];
    const running = new Set<string>();
    let most = 0;
    const summary = await runRestore({
      request: { source: 'local', folder: 'latest', type: 'cluster', overwrite: false, restoreDir: join(dir, 'unused'), jobs: 3 },
      source: new LocalSource(join(dir, 'local')),
      conn: readConnection({ env: target.env(), flags: {} }),
      signal: new AbortController().signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type !== 'progress' || e.progress.kind !== 'restore-database') return;
        if (e.progress.state === 'running') running.add(e.progress.id);
        else running.delete(e.progress.id);
        most = Math.max(most, running.size);
      },
    });
    expect(most).toBeGreaterThanOrEqual(2);
    expect(summary.outcome.created?.roles.sort()).toEqual([...ROLES].sort());
    // Every database went in place only after the last one was restored.
    const kinds = events.flatMap((e) => (e.type === 'progress' && e.progress.state === 'done' ? [e.progress.kind] : []));
    expect(kinds.lastIndexOf('restore-database')).toBeLessThan(kinds.indexOf('swap'));
    expect(kinds.filter((k) => k === 'swap')).toHaveLength(DATABASES.length + 2);

    expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), 'cluster: source vs staged restore');
    expect(await target.query(`SELECT datistemplate, datallowconn FROM pg_database WHERE datname = 'template1'`)).toEqual([{ datistemplate: true, datallowconn: true }]);
    expect(await target.query(`SELECT t1_fn() AS v`, 'template1')).toEqual([{ v: 'from template1 DATABASE' }]);
    await target.query(`CREATE DATABASE made_later`);
    expect(await target.query(`SELECT x FROM t1_marker`, 'made_later')).toEqual([{ x: 1 }]);
    expect(await target.query(`SELECT v FROM pg_side ORDER BY v`, 'postgres')).toEqual([{ v: 'CREATE DATABASE x;\n' }, { v: '\\connect app' }]);
    expect(await target.query(`SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'postgres'`)).toEqual([{ setconfig: ['work_mem=7MB'] }]);
    expect((await databasesOf(target)).filter((d) => d.includes('__pgb_'))).toEqual([]);
  });

  it('a database file damaged in its middle (on S3): exit 3, no database of the backup under its real name, the roles created named with the SQL that removes them; after it the server takes the backup', async () => {
    const target = await fresh();
    const [dbsBefore, rolesBefore] = await Promise.all([databasesOf(target), rolesOf(target)]);
    const key = `c/${folder}/postgres_db_big.sql.gz`;
    const good = Buffer.from(await (await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToByteArray());
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bad }));
    const restoreDir = join(dir, 'restore-damaged');
    try {
      const r = await runCli(['restore'], envFor(target, { S3_ENABLED: 'true', RESTORE_SOURCE: 's3', RESTORE_TYPE: 'cluster', RESTORE_DIR: restoreDir, RESTORE_JOBS: '4' }));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/postgres_db_big\.sql\.gz of backup \d{8}_\d{6} on s3 .* is damaged/);
      expect(r.stderr).toMatch(/no database of the backup was put under its real name \(the staging databases were dropped\)/);
      expect(r.stderr).toContain(`DROP ROLE "app_owner";`);
      expect(r.stderr).toContain(`DROP ROLE "we""ird role";`);
      // Nothing under a real name, no staging database, postgres and template1 as they were.
      expect(await databasesOf(target)).toEqual(dbsBefore);
      expect(await target.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('pg_side', 't1_marker')`)).toEqual([{ n: 0 }]);
      expect(await target.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 't1_marker'`, 'template1')).toEqual([{ n: 0 }]);
      expect((await rolesOf(target)).sort()).toEqual([...rolesBefore, ...ROLES].sort());
      // The damaged download is not kept; the good files are.
      const kept = await readdir(join(restoreDir, folder));
      expect(kept).not.toContain('postgres_db_big.sql.gz');
      expect(kept.filter((n) => n.startsWith('.'))).toEqual([]);
      expect(kept).toContain('postgres_globals.sql.gz');

      // The way back, as the error gives it; then the same server takes the good backup.
      const sql = /to go back, run (.*) \(or start again from a fresh server\)/.exec(r.stderr)![1]!;
      await target.query(sql);
      expect(await rolesOf(target)).toEqual(rolesBefore);
    } finally {
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: good }));
    }
    const again = await runCli(['restore'], envFor(target, { S3_ENABLED: 'true', RESTORE_SOURCE: 's3', RESTORE_TYPE: 'cluster', RESTORE_DIR: restoreDir }));
    expect(again.code, again.stderr).toBe(0);
    expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), 'cluster after the way back');
  });

  it('SIGTERM while the databases are restored: exit 1, every staging database dropped, nothing under a real name', async () => {
    const target = await fresh();
    const before = await databasesOf(target);
    const child = startCli(['restore'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster', RESTORE_JOBS: '2' }));
    let stderr = '';
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the restore never reached "big": ${stderr}`)), 60_000);
      child.stderr!.on('data', (d) => {
        stderr += d;
        if (/restoring "big" into the staging database/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    expect(await closed).toBe(1);
    expect(stderr).toMatch(/the cluster restore was stopped before it finished; no database of the backup was put under its real name/);
    expect(await databasesOf(target)).toEqual(before);
  });

  it('--dry-run says how the cluster is restored and that postgres and template1 are replaced', async () => {
    const target = await fresh();
    const r = await runCli(['restore', '--dry-run', '--json'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster', RESTORE_JOBS: '3' }));
    expect(r.code, r.stderr).toBe(0);
    const { plan } = JSON.parse(r.stdout);
    expect(plan.cluster).toEqual({ staged: true, jobs: 3, databases: ['template1', ...[...DATABASES, 'postgres'].sort()] });
    expect(plan.files.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['postgres_globals.sql.gz', 'postgres_db_template1.sql.gz', 'postgres_db_big.sql.gz']));
    expect([...plan.replaces].sort()).toEqual(['postgres', 'template1']);
    expect(plan.creates.sort()).toEqual([...DATABASES].sort());
    expect(plan.createsRoles.sort()).toEqual([...ROLES].sort());
    const text = await runCli(['restore', '--dry-run'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster', RESTORE_JOBS: '3' }));
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout + text.stderr).toMatch(/cluster +the globals first, then 5 database\(s\) into staging databases, 3 at a time/);
    expect(text.stdout + text.stderr).toMatch(/replaces +database "template1"/);
    expect(await databasesOf(target)).toEqual(['postgres', 'template0', 'template1']);
  });

  it('a backup made before template1 had a file of its own restores from its cluster file, with a warning', async () => {
    const target = await fresh();
    const oldDir = join(dir, 'old');
    await cp(join(dir, 'local', folder), join(oldDir, folder), { recursive: true });
    await rm(join(oldDir, folder, 'postgres_db_template1.sql.gz'));
    const manifestPath = join(oldDir, folder, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.files = manifest.files.filter((f: { name: string }) => f.name !== 'postgres_db_template1.sql.gz');
    await writeFile(manifestPath, JSON.stringify(manifest));
    const r = await runCli(['restore'], envFor(target, { BACKUP_DIR: oldDir, RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster' }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/was made before pg-backups 0\.2 \(template1 has no file of its own\): its cluster file is restored as one psql run/);
    expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), 'cluster from an older backup');
  });
});
