// The non-interactive restore as automation runs it: RESTORE_* settings, no terminal, from each
// source, into real servers; damage refused with exit 3 before the target is touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { dumpClusterNormalized, dumpDatabaseNormalized, dumpGlobalsNormalized, expectSameDump } from './helpers/dump-compare.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { clientBinDir, clientMajorFor } from './helpers/clients.js';
import { createRichCluster, RICH_DATABASES } from './helpers/rich-cluster.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];

describe.each(MAJORS)('PostgreSQL %i: every restore type from every source, through the CLI', (major) => {
  let source: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  const servers: PgServer[] = [];
  const path = () => `/usr/bin:/bin:${clientBinDir(clientMajorFor(major))}`;
  const envFor = (target: PgServer, extra: Record<string, string> = {}) =>
    baseEnv({
      ...target.env(),
      PATH: path(),
      BACKUP_DIR: join(dir, 'local'),
      RESTORE_DIR: join(dir, 'restore'),
      ...s3.s3Env({ S3_PREFIX: `pg${major}` }),
      ...sshd.rsyncEnv(join(sshd.remoteRoot, `pg${major}`)),
      ...extra,
    });
  const freshTarget = async () => {
    const server = await startPgServer(major, { password: source.password });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    [source, s3, sshd, dir] = await Promise.all([startPgServer(major), startS3Server(), startSshd(), makeTempDir(`restore-${major}-`)]);
    servers.push(source);
    await createRichCluster(source);
    const r = await runCli(['backup'], envFor(source));
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.stop()), s3?.stop(), sshd?.stop()]);
  });

  // Every major from local disk; S3 and the remote host on the newest major (the download paths do
  // not depend on the major, the restore after them is local's; test/encryption.test.ts restores
  // from both on 15, test/custom-format.test.ts from S3 on 17).
  const sources = major === 18 ? (['local', 's3', 'remote'] as const) : (['local'] as const);
  for (const from of sources) {
    it(`from ${from}: the cluster onto a fresh server; the globals and a database onto another`, async () => {
      const [a, b] = await Promise.all([freshTarget(), freshTarget()]);
      const cluster = await runCli(['restore'], envFor(a, { RESTORE_SOURCE: from, RESTORE_TYPE: 'cluster' }));
      expect(cluster.code, cluster.stderr).toBe(0);
      expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(a), `cluster ${major} from ${from}`);
      expectSameDump(await dumpDatabaseNormalized(source, 'postgres'), await dumpDatabaseNormalized(a, 'postgres'), `postgres database ${major} from ${from}`);

      const globals = await runCli(['restore'], envFor(b, { RESTORE_SOURCE: from, RESTORE_TYPE: 'globals' }));
      expect(globals.code, globals.stderr).toBe(0);
      expectSameDump(await dumpGlobalsNormalized(source), await dumpGlobalsNormalized(b), `globals ${major} from ${from}`);
      for (const db of [RICH_DATABASES.unicode, RICH_DATABASES.quotes]) {
        const r = await runCli(['restore'], envFor(b, { RESTORE_SOURCE: from, RESTORE_TYPE: 'database', RESTORE_DATABASE: db }));
        expect(r.code, r.stderr).toBe(0);
        expectSameDump(await dumpDatabaseNormalized(source, db), await dumpDatabaseNormalized(b, db), `${db} ${major} from ${from}`);
      }
      await Promise.all([a.stop(), b.stop()]);
    });
  }

  if (major === 18) {
    it('a folder written by the bash tool (files only, no manifest) is found and restores', async () => {
      const target = await freshTarget();
      const legacyDir = join(dir, 'legacy-backups');
      const legacy = '20250105_120000';
      const [folder] = (await readdir(join(dir, 'local'))).filter((n) => /^\d{8}_\d{6}$/.test(n));
      await cp(join(dir, 'local', folder!), join(legacyDir, legacy), { recursive: true });
      await rm(join(legacyDir, legacy, 'manifest.json'));
      const env = envFor(target, { BACKUP_DIR: legacyDir, S3_ENABLED: 'false', RSYNC_ENABLED: 'false' });
      const list = await runCli(['list', '--json'], env);
      expect(JSON.parse(list.stdout).backups).toMatchObject([{ folder: legacy, status: 'legacy' }]);
      const r = await runCli(['restore', '--json'], { ...env, RESTORE_FOLDER: 'latest', RESTORE_TYPE: 'cluster' });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ folder: legacy, type: 'cluster' });
      expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), 'cluster from a legacy folder');
      await target.stop();
    });
  }
});

describe('pg-backups restore with RESTORE_* settings', () => {
  let source: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  let folder: string;
  const servers: PgServer[] = [];

  const envFor = (target: PgServer | undefined, extra: Record<string, string> = {}) =>
    baseEnv({
      ...(target ? target.env() : {}),
      BACKUP_DIR: join(dir, 'local'),
      RESTORE_DIR: join(dir, 'restore'),
      ...s3.s3Env({ S3_PREFIX: 'prod' }),
      ...sshd.rsyncEnv(join(sshd.remoteRoot, 'prod')),
      ...extra,
    });

  async function freshTarget(): Promise<PgServer> {
    const server = await startPgServer(15, { password: source.password }); // the globals bring the source's password
    servers.push(server);
    return server;
  }

  beforeAll(async () => {
    [source, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('restore-cli-')]);
    servers.push(source);
    await createRichCluster(source);
    await source.query('CREATE DATABASE big');
    await source.query(`CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, repeat(md5(g::text), 4) AS b FROM generate_series(1, 1500000) g`, 'big');
    const r = await runCli(['backup', '--json'], envFor(source));
    expect(r.code, r.stderr).toBe(0);
    folder = JSON.parse(r.stdout).folder;
  });
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.stop()), s3?.stop(), sshd?.stop()]);
  });

  it('an existing database needs RESTORE_OVERWRITE (exit 2, untouched); with it, it is replaced', async () => {
    const target = await freshTarget();
    const settings = { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app' };
    expect((await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'globals' }))).code).toBe(0);
    expect((await runCli(['restore'], envFor(target, settings))).code).toBe(0);
    await target.query(`CREATE TABLE app_owner_scratch (x int); INSERT INTO app_owner_scratch VALUES (42)`, 'app');
    const before = await dumpDatabaseNormalized(target, 'app');
    const refused = await runCli(['restore'], envFor(target, settings));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/RESTORE_OVERWRITE/);
    expect(await dumpDatabaseNormalized(target, 'app')).toBe(before);
    const replaced = await runCli(['restore', '--overwrite'], envFor(target, settings));
    expect(replaced.code, replaced.stderr).toBe(0);
    expectSameDump(await dumpDatabaseNormalized(source, 'app'), await dumpDatabaseNormalized(target, 'app'), 'app after overwrite');
  });

  it('a damaged file on S3 is refused with exit 3 before the target is touched', async () => {
    const target = await freshTarget();
    const key = `prod/${folder}/postgres_globals.sql.gz`;
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.from('not gzip at all') }));
    const before = await dumpGlobalsNormalized(target);
    const r = await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 's3', RESTORE_TYPE: 'globals', RESTORE_FOLDER: folder, RESTORE_DIR: join(dir, 'restore-damaged') }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/postgres_globals\.sql\.gz of backup \d{8}_\d{6} on s3 .* is damaged/);
    expect(await dumpGlobalsNormalized(target)).toBe(before);
  });

  it('a truncated file and a missing manifest entry are refused with exit 3; the target is untouched', async () => {
    const target = await freshTarget();
    const damagedDir = join(dir, 'damaged-local');
    // The backup with a database file cut in half (the manifest as it was: an incomplete folder).
    await cp(join(dir, 'local', folder), join(damagedDir, folder), { recursive: true });
    const cutFile = join(damagedDir, folder, 'postgres_db_app.sql.gz');
    await truncate(cutFile, Math.floor((await stat(cutFile)).size / 2));
    // The same backup under an older name, with the app database's manifest entry gone (a damaged manifest).
    const older = '20200101_000000';
    await cp(join(dir, 'local', folder), join(damagedDir, older), { recursive: true });
    const manifestPath = join(damagedDir, older, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.folder = older;
    manifest.files = manifest.files.filter((f: { name: string }) => f.name !== 'postgres_db_app.sql.gz');
    await writeFile(manifestPath, JSON.stringify(manifest));
    const env = envFor(target, { BACKUP_DIR: damagedDir, S3_ENABLED: 'false', RSYNC_ENABLED: 'false', RESTORE_FOLDER: folder });
    const before = await dumpClusterNormalized(target);

    const cut = await runCli(['restore'], { ...env, RESTORE_TYPE: 'cluster' });
    expect(cut.code).toBe(3);
    // Refused by the preflight plan, from the listing: the file is half the size its manifest says.
    expect(cut.stderr).toMatch(/postgres_db_app\.sql\.gz of backup \d{8}_\d{6} on local .* is damaged: it has \d+ bytes, the manifest says \d+; refusing to restore it/);
    const missing = await runCli(['restore'], { ...env, RESTORE_FOLDER: older, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app' });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/does not list postgres_db_app\.sql\.gz, the file of database "app" \(a missing manifest entry\); the backup is damaged; refusing to restore from it/);
    expect(await dumpClusterNormalized(target)).toBe(before);
  });

  it('without a terminal and without RESTORE_* settings it says what to set (exit 2)', async () => {
    const r = await runCli(['restore'], envFor(source));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to restore: no terminal to ask in, and no RESTORE_\* settings; set RESTORE_TYPE/);
  });
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a restore killed with ${signal} half-way leaves the existing database as it was`, async () => {
      const target = await freshTarget();
      const base = { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'big' };
      expect((await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'globals' }))).code).toBe(0);
      // The existing database: ten of the backup's rows (a finished overwrite would bring 1.5 million).
      await target.query('CREATE DATABASE big');
      await target.query(`CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, repeat(md5(g::text), 4) AS b FROM generate_series(1, 10) g`, 'big');
      const before = await dumpDatabaseNormalized(target, 'big');
      const child = startCli(['restore', '--overwrite'], envFor(target, base));
      let stderr = '';
      const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the restore never started: ${stderr}`)), 60_000);
        child.stderr!.on('data', (d) => {
          stderr += d;
          if (/into the staging database/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((r) => setTimeout(r, 400));
      child.kill(signal);
      const code = await closed;
      if (signal === 'SIGTERM') {
        expect(code).toBe(1);
        expect(stderr).toMatch(/ error .*stopped/i);
      }
      await new Promise((r) => setTimeout(r, 1500)); // a psql left alone by SIGKILL sees its input end
      expect(await dumpDatabaseNormalized(target, 'big')).toBe(before);
      const [{ n }] = await target.query(`SELECT count(*)::int AS n FROM rows`, 'big');
      expect(n).toBe(10);
      // The next restore clears a staging database the killed one could not drop, and succeeds.
      const again = await runCli(['restore', '--overwrite'], envFor(target, { ...base, RESTORE_DATABASE: 'app' }));
      expect(again.code, again.stderr).toBe(0);
      await runCli(['restore', '--overwrite'], envFor(target, base));
      const left = await target.query(`SELECT datname FROM pg_database WHERE datname LIKE '%pgb_restore%'`);
      expect(left).toEqual([]);
    });
  }

  it('list reports a source it cannot reach, and still lists the others (exit 1)', async () => {
    await s3.kill();
    try {
      const r = await runCli(['list', '--json'], envFor(source, { RETRY_ATTEMPTS: '0' }));
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.stdout);
      expect(doc.errors).toMatchObject([{ source: 's3', error: expect.stringMatching(/S3_ENDPOINT/) }]);
      expect(doc.backups[0].locations.map((l: { source: string }) => l.source)).toEqual(['local', 'remote']);
      expect(r.stderr).toMatch(/ error cannot list s3:s3:\/\//);
    } finally {
      await s3.restart();
    }
  });
});
