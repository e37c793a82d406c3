// What an operator must be able to trust: the right client for the server, and no run that fails
// (a dump error, a full disk, SIGKILL) leaves a folder that looks finished; verify finds damage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, stat, truncate, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { clientBinDir } from './helpers/clients.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';

const FOLDER = /^\d{8}_\d{6}$/;
const finishedFolders = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter((n) => FOLDER.test(n));

describe('client tools are matched to the server major', () => {
  let server: PgServer;
  let dir: string;
  beforeAll(async () => {
    server = await startPgServer(17);
    dir = await makeTempDir('clients-');
  });
  afterAll(async () => server?.stop());

  it('with only pg_dump 15 reachable, a 17 server stops the run before dumping, naming the major and how to get it', async () => {
    const backupDir = join(dir, 'none');
    const r = await runCli(['backup'], baseEnv({ ...server.env(), BACKUP_DIR: backupDir, PATH: '/usr/bin:/bin' }));
    expect(r.code).toBe(2);
    const line = r.stderr.split('\n').find((l) => / error /.test(l))!;
    expect(line).toMatch(/no pg_dump of PostgreSQL 17 or newer was found for the server at postgres@127\.0\.0\.1:\d+ \(PostgreSQL 17\.\d+\)/);
    expect(line).toMatch(/found only pg_dump 15\.\d+/);
    expect(line).toMatch(/apt-get install postgresql-client-17 .* or set PG_BIN_DIR to their bin folder, e\.g\. PG_BIN_DIR=\/usr\/lib\/postgresql\/17\/bin/);
    await expect(stat(backupDir)).rejects.toThrow(/ENOENT/); // nothing written, not even the folder
  });

  it('PG_BIN_DIR holding a too-old pg_dump is named as the setting to fix', async () => {
    const r = await runCli(['backup'], baseEnv({ ...server.env(), BACKUP_DIR: join(dir, 'old'), PG_BIN_DIR: clientBinDir(15) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PG_BIN_DIR=\S+clients\/15\/bin holds pg_dump 15\.\d+, too old for the server .*PostgreSQL 17/);
  });

  it('PG_BIN_DIR with the 17 client is used, and the manifest records it', async () => {
    const backupDir = join(dir, 'ok');
    const r = await runCli(['backup', '--json'], baseEnv({ ...server.env(), BACKUP_DIR: backupDir, PG_BIN_DIR: clientBinDir(17) }));
    expect(r.code).toBe(0);
    const { manifest } = JSON.parse(r.stdout);
    expect(manifest.pgDump.major).toBe(17);
    expect(manifest.server.major).toBe(17);
  });
});

describe('failed and interrupted runs leave nothing that looks finished', () => {
  let server: PgServer;
  let dir: string;
  let env: (backupDir: string, extra?: Record<string, string>) => Record<string, string>;
  beforeAll(async () => {
    server = await startPgServer(15);
    dir = await makeTempDir('safety-');
    await server.query(`CREATE DATABASE aaa`);
    await server.query(`CREATE DATABASE zzz_locked`);
    await server.query(`CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, 120000) g`, 'aaa');
    await server.query(`CREATE TABLE t (id int); INSERT INTO t VALUES (1)`, 'zzz_locked');
    env = (backupDir, extra = {}) => baseEnv({ ...server.env(), BACKUP_DIR: backupDir, ...extra });
  });
  afterAll(async () => server?.stop());

  /** Runs `work` while a session holds a lock on zzz_locked.t, which pg_dump waits for. */
  async function whileLocked(work: () => Promise<void>): Promise<void> {
    const locker = new pg.Client(server.clientConfig('zzz_locked'));
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    try {
      await work();
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  }

  it('SIGKILL in the middle of a dump: no finished folder; the next run succeeds and cleans up', async () => {
    const backupDir = join(dir, 'killed');
    // pg_dump waits for the lock, so the run is reliably in the middle of dumping zzz_locked.
    await whileLocked(async () => {
      const child = startCli(['backup'], env(backupDir));
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the run never reached zzz_locked: ${stderr}`)), 60_000);
        child.stderr!.on('data', (d) => {
          stderr += d;
          if (stderr.includes('dumping database "zzz_locked"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGKILL');
      await exited;
      expect(await finishedFolders(backupDir)).toEqual([]);
      const left = await readdir(backupDir);
      expect(left.some((n) => n.endsWith('.partial'))).toBe(true); // the dead run's staging, hidden
      const list = await runCli(['list', '--json'], env(backupDir));
      expect(JSON.parse(list.stdout).backups).toEqual([]);
    });
    const again = await runCli(['backup', '--json'], env(backupDir));
    expect(again.stderr).toMatch(/removed \.pg-backups-\d{8}_\d{6}\.partial, left by a run that did not finish/);
    expect(again.code).toBe(0);
    const names = await readdir(backupDir);
    expect(names.filter((n) => n.endsWith('.partial') || n.endsWith('.lock'))).toEqual([]);
    expect(await finishedFolders(backupDir)).toHaveLength(1);
    const verify = await runCli(['verify', 'latest'], env(backupDir));
    expect(verify.code).toBe(0);
  });

  it('SIGTERM in the middle of a dump: a second run is refused meanwhile; the run stops cleanly, kills pg_dump, keeps nothing', async () => {
    const backupDir = join(dir, 'terminated');
    await whileLocked(async () => {
      const child = startCli(['backup'], env(backupDir));
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
      while (!stderr.includes('dumping database "zzz_locked"')) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      // A second run on the same BACKUP_DIR meanwhile is refused, and touches nothing.
      const second = await runCli(['backup'], env(backupDir));
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/another pg-backups run \(pid \d+, since .*\) is writing to .*terminated; wait for it to finish/);
      child.kill('SIGTERM');
      expect(await closed).toBe(1);
      expect(stderr).toMatch(/ error backup stopped during the dump of database "zzz_locked"; nothing was kept/);
      expect(await readdir(backupDir)).toEqual(['.pg-backups-state.json']); // only the run history, which records the stop
      expect(JSON.parse(await readFile(join(backupDir, '.pg-backups-state.json'), 'utf8')).runs).toMatchObject([{ outcome: 'stopped' }]);
      // pg_dump was killed with the run: no session of it is left waiting for the lock.
      await new Promise((r) => setTimeout(r, 500));
      const waiting = await server.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_dump'`);
      expect(waiting[0].n).toBe(0);
    });
  });

  it('a backup role that is not a superuser: roles without passwords, a warning, and the manifest says so', async () => {
    await server.query(`CREATE ROLE backup_reader LOGIN PASSWORD 'reader-pw' IN ROLE pg_read_all_data`);
    const backupDir = join(dir, 'not-superuser');
    const r = await runCli(['backup', '--json'], baseEnv({ ...server.env(), PGUSER: 'backup_reader', PGPASSWORD: 'reader-pw', BACKUP_DIR: backupDir }));
    expect(r.stderr).toMatch(/warn  backup_reader is not a superuser: role passwords cannot be read and are left out of the globals/);
    expect(r.code).toBe(0);
    const { manifest, path } = JSON.parse(r.stdout);
    expect(manifest.rolePasswords).toBe(false);
    const globals = execFileSync('gunzip', ['-c', join(path, 'postgres_globals.sql.gz')]).toString();
    expect(globals).toMatch(/CREATE ROLE backup_reader;/);
    expect(globals).not.toMatch(/PASSWORD 'SCRAM/);
    const rows = execFileSync('gunzip', ['-c', join(path, 'postgres_db_aaa.sql.gz')], { maxBuffer: 256 * 1024 * 1024 }).toString();
    expect(rows).toMatch(/COPY public\.rows \(id, a, b\) FROM stdin;\n1\tc4ca4238a0b923820dcc509a6f75849b/);
  });

  it('a pg_dump error names the database and the step, with pg_dump\'s own message, and keeps nothing', async () => {
    const broken = await startPgServer(15);
    try {
      await broken.query(`CREATE DATABASE shop`);
      await broken.query(`CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 1000) g; CHECKPOINT`, 'shop');
      const [{ path }] = await broken.query(`SELECT pg_relation_filepath('orders') AS path`, 'shop');
      await rm(join(broken.dataDir, path)); // the table's data file is gone: reading it fails
      const backupDir = join(dir, 'dump-error');
      const r = await runCli(['backup'], baseEnv({ ...broken.env(), BACKUP_DIR: backupDir }));
      expect(r.code).toBe(1);
      const line = r.stderr.split('\n').find((l) => / error /.test(l))!;
      expect(line).toMatch(/dump of database "shop" failed: pg_dump failed \(exit code 1\): pg_dump: error: .*could not open file/);
      expect(r.stdout + r.stderr).not.toContain(broken.password);
      expect(await finishedFolders(backupDir)).toEqual([]);
      expect((await readdir(backupDir)).filter((n) => n !== '.pg-backups.lock')).toEqual(['.pg-backups-state.json']); // staging removed; the run history kept
      expect(JSON.parse(await readFile(join(backupDir, '.pg-backups-state.json'), 'utf8')).runs).toMatchObject([{ outcome: 'failed', error: expect.stringMatching(/dump of database "shop" failed/) }]);
    } finally {
      await broken.stop();
    }
  });

  it('a full disk: exit 1 naming the file and ENOSPC, no finished folder, space given back', async () => {
    const mountPoint = join(dir, 'small-disk');
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
    try {
      const r = await runCli(['backup'], env(mountPoint, { BACKUP_DATABASES: 'aaa' }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ error .*(dump of database "aaa"|writing postgres_cluster\.sql\.gz) failed: cannot write \S+: .*ENOSPC/);
      expect(await finishedFolders(mountPoint)).toEqual([]);
      expect(await readdir(mountPoint)).toEqual(['.pg-backups-state.json']); // the run history (a failed run) only
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });

  it('verify passes on a good backup and exits 3 on a flipped byte or a truncated file', async () => {
    const backupDir = join(dir, 'verify');
    const r = await runCli(['backup', '--json'], env(backupDir));
    expect(r.code).toBe(0);
    const { folder } = JSON.parse(r.stdout);
    const good = await runCli(['verify', folder, '--json'], env(backupDir));
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout).ok).toBe(true);

    const damaged = join(dir, 'damaged');
    await cp(backupDir, damaged, { recursive: true });
    const file = join(damaged, folder, 'postgres_db_aaa.sql.gz');
    const size = (await stat(file)).size;
    const handle = await open(file, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, Math.floor(size / 2));
    byte[0] = byte[0]! ^ 0x01;
    await handle.write(byte, 0, 1, Math.floor(size / 2));
    await handle.close();
    const flipped = await runCli(['verify', folder], env(damaged));
    expect(flipped.code).toBe(3);
    expect(flipped.stdout).toMatch(/DAMAGED: postgres_db_aaa\.sql\.gz: /);

    const truncated = join(dir, 'truncated');
    await cp(backupDir, truncated, { recursive: true });
    const cluster = join(truncated, folder, 'postgres_cluster.sql.gz');
    await truncate(cluster, Math.floor((await stat(cluster)).size / 3));
    const cut = await runCli(['verify', 'latest', '--json'], env(truncated));
    expect(cut.code).toBe(3);
    const report = JSON.parse(cut.stdout);
    expect(report.ok).toBe(false);
    expect(report.reports[0].problems.join('\n')).toMatch(/postgres_cluster\.sql\.gz: .*the gzip stream ends early \(truncated file\)/);

    const noManifest = join(dir, 'no-manifest');
    await cp(backupDir, noManifest, { recursive: true });
    await writeFile(join(noManifest, folder, 'manifest.json'), '{"format": "pg-backups/1", "fol');
    const broken = await runCli(['verify', folder], env(noManifest));
    expect(broken.code).toBe(3);
    expect(broken.stdout).toMatch(/manifest\.json is not valid JSON/);
  });

  it('a legacy backup (bash tool, no manifest) is listed and verified by gzip alone', async () => {
    const backupDir = join(dir, 'legacy');
    const folder = '20250105_120000';
    await mkdir(join(backupDir, folder), { recursive: true });
    execFileSync('bash', ['-c', `echo 'SELECT 1;' | gzip > postgres_cluster.sql.gz && echo 'SELECT 2;' | gzip > postgres_db_mydb.sql.gz`], { cwd: join(backupDir, folder) });
    const list = await runCli(['list', '--json'], env(backupDir));
    expect(JSON.parse(list.stdout).backups).toMatchObject([{ folder, status: 'legacy', databases: ['mydb'] }]);
    expect((await runCli(['verify', folder], env(backupDir))).code).toBe(0);
    const data = await readFile(join(backupDir, folder, 'postgres_db_mydb.sql.gz'));
    await writeFile(join(backupDir, folder, 'postgres_db_mydb.sql.gz'), data.subarray(0, data.length - 6));
    const bad = await runCli(['verify', folder], env(backupDir));
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/postgres_db_mydb\.sql\.gz: the gzip stream ends early/);
  });
});
