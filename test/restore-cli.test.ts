// The non-interactive restore as automation runs it: RESTORE_* settings, no terminal, from each
// source, into real servers; damage refused with exit 3 before the target is touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { baseEnv, runCli } from './helpers/cli.js';
import { dumpClusterNormalized, dumpDatabaseNormalized, dumpGlobalsNormalized, expectSameDump } from './helpers/dump-compare.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { createRichCluster, RICH_DATABASES } from './helpers/rich-cluster.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

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
    const r = await runCli(['backup', '--json'], envFor(source));
    expect(r.code, r.stderr).toBe(0);
    folder = JSON.parse(r.stdout).folder;
  });
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.stop()), s3?.stop(), sshd?.stop()]);
  });

  for (const from of ['local', 's3', 'remote'] as const) {
    it(`globals, then a database, from ${from}: the target dumps the same as the source`, async () => {
      const target = await freshTarget();
      const g = await runCli(['restore', '--json'], envFor(target, { RESTORE_SOURCE: from, RESTORE_FOLDER: 'latest', RESTORE_TYPE: 'globals' }));
      expect(g.code, g.stderr).toBe(0);
      expect(JSON.parse(g.stdout)).toMatchObject({ ok: true, folder, type: 'globals' });
      expectSameDump(await dumpGlobalsNormalized(source), await dumpGlobalsNormalized(target), `globals from ${from}`);
      const db = RICH_DATABASES.sales; // a name with a space
      const r = await runCli(['restore', '--json'], envFor(target, { RESTORE_SOURCE: from, RESTORE_FOLDER: folder, RESTORE_TYPE: 'database', RESTORE_DATABASE: db }));
      expect(r.code, r.stderr).toBe(0);
      expectSameDump(await dumpDatabaseNormalized(source, db), await dumpDatabaseNormalized(target, db), `${db} from ${from}`);
      expect(r.stdout + r.stderr).not.toContain(source.password);
    });
  }

  it('a whole cluster from S3 onto a fresh server', async () => {
    const target = await freshTarget();
    const r = await runCli(['restore'], envFor(target, { RESTORE_SOURCE: 's3', RESTORE_TYPE: 'cluster' }));
    expect(r.code, r.stderr).toBe(0);
    expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), 'cluster from s3');
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

  it('without a terminal and without RESTORE_* settings it says what to set (exit 2)', async () => {
    const r = await runCli(['restore'], envFor(source));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to restore: no terminal to ask in, and no RESTORE_\* settings; set RESTORE_TYPE/);
  });
});
