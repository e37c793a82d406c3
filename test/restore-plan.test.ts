// The preflight plan (planRestore, `restore --dry-run`) against real servers and a real S3 server:
// every refusal and warning, all at once, and nothing changed on the server or on disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { planRestore } from '../src/core/restore/plan.js';
import type { RestoreRequest } from '../src/core/restore/model.js';
import { readConnection } from '../src/core/settings/connection.js';
import { readS3 } from '../src/core/settings/destinations.js';
import { LocalSource } from '../src/sources/local.js';
import { S3Destination } from '../src/sources/s3.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

describe('the preflight plan of a restore', () => {
  let source: PgServer;
  let target: PgServer;
  let s3: S3Server;
  let dir: string;
  let folder: string;
  let appBytes: number;
  const opened: S3Destination[] = [];

  beforeAll(async () => {
    [source, target, s3, dir] = await Promise.all([startPgServer(15), startPgServer(15), startS3Server(), makeTempDir('pgb-plan-')]);
    await source.query(`CREATE ROLE app_owner LOGIN; CREATE ROLE reader NOLOGIN`);
    await source.query(`CREATE DATABASE app OWNER app_owner`);
    await source.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g`, 'app');
    const r = await runCli(['backup', '--json'], baseEnv({ ...source.env(), BACKUP_DIR: join(dir, 'local'), ...s3.s3Env({ S3_PREFIX: 'plan' }) }));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    folder = out.folder;
    appBytes = out.manifest.files.find((f: { name: string }) => f.name === 'postgres_db_app.sql.gz').bytes;
    // The target already has "app" and the role "reader".
    await target.query(`CREATE ROLE reader NOLOGIN`);
    await target.query(`CREATE DATABASE app`);
  });
  afterAll(async () => {
    for (const d of opened) d.destroy();
    await Promise.all([source?.stop(), target?.stop(), s3?.stop()]);
  });

  const s3Source = () => {
    const d = new S3Destination(readS3({ env: s3.s3Env({ S3_PREFIX: 'plan', RETRY_ATTEMPTS: '0' }), flags: {} })!);
    opened.push(d);
    return d;
  };
  const request = (over: Partial<RestoreRequest>): RestoreRequest => ({
    source: 's3',
    folder: 'latest',
    type: 'database',
    database: 'app',
    overwrite: false,
    restoreDir: join(dir, 'restore-never-made'),
    ...over,
  });
  const serverState = async (s: PgServer) => ({
    databases: (await s.query(`SELECT datname FROM pg_database ORDER BY 1`)).map((r: { datname: string }) => r.datname),
    roles: (await s.query(`SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1`)).map((r: { rolname: string }) => r.rolname),
  });
  const conn = (s: PgServer, extra: Record<string, string> = {}) => readConnection({ env: { ...s.env(), ...extra }, flags: {} });

  it('a database restore under a new name from S3: ok, what is downloaded and created, nothing changed', async () => {
    const before = await serverState(target);
    const { plan } = await planRestore({ request: request({ targetDatabase: 'app_restored' }), source: s3Source(), conn: conn(target), signal: new AbortController().signal });
    expect(plan).toMatchObject({
      ok: true,
      type: 'database',
      backup: { folder, source: 's3:s3://pgb-test/plan', status: 'finished', future: false, serverVersion: expect.stringMatching(/^15\./) },
      files: [{ name: 'postgres_db_app.sql.gz', bytes: appBytes, how: 'downloaded' }],
      download: { dir: join(dir, 'restore-never-made'), bytes: appBytes, freeBytes: expect.any(Number) },
      server: { version: expect.stringMatching(/^15\./), major: 15, superuser: true },
      psql: { version: expect.stringMatching(/^\d+\.\d+/) },
      database: { original: 'app', target: 'app_restored', exists: false },
      creates: ['app_restored'],
      replaces: [],
      refusals: [],
    });
    expect(await serverState(target)).toEqual(before);
    expect(existsSync(join(dir, 'restore-never-made'))).toBe(false);
  });

  it('over an existing database: refused without overwrite; with it, replaced and its sessions named', async () => {
    const refused = await planRestore({ request: request({}), source: s3Source(), conn: conn(target), signal: new AbortController().signal });
    expect(refused.plan.ok).toBe(false);
    expect(refused.plan.refusals).toEqual([{ exitCode: 2, message: expect.stringMatching(/^database "app" already exists on \S+; nothing was restored; set RESTORE_OVERWRITE=true/) }]);
    const session = new pg.Client({ ...target.clientConfig('app') });
    await session.connect();
    try {
      const { plan } = await planRestore({ request: request({ overwrite: true }), source: s3Source(), conn: conn(target), signal: new AbortController().signal });
      expect(plan).toMatchObject({ ok: true, replaces: ['app'], creates: [], sessions: [{ database: 'app', count: 1 }] });
      expect(plan.warnings).toContain('1 session(s) on database "app" will be ended when the restored copy is swapped in');
      expect(await target.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'app'`)).toEqual([{ n: 1 }]); // still there
    } finally {
      await session.end();
    }
  });

  it('globals and cluster: existing roles and databases are named; every refusal at once', async () => {
    const local = new LocalSource(join(dir, 'local'));
    const globals = await planRestore({ request: request({ source: 'local', type: 'globals', database: undefined }), source: local, conn: conn(target), signal: new AbortController().signal });
    expect(globals.plan.existingRoles).toEqual(['reader']);
    expect(globals.plan.createsRoles).toEqual(['app_owner']);
    expect(globals.plan.refusals).toEqual([{ exitCode: 2, message: expect.stringMatching(/already has role\(s\) "reader" that the globals backup creates; .*RESTORE_OVERWRITE=true/) }]);
    const overwrite = await planRestore({ request: request({ source: 'local', type: 'globals', database: undefined, overwrite: true }), source: local, conn: conn(target), signal: new AbortController().signal });
    expect(overwrite.plan.ok).toBe(true);
    expect(overwrite.plan.warnings).toContain('existing role(s) "reader" get the attributes, passwords and memberships of the backup');

    const cluster = await planRestore({ request: request({ source: 'local', type: 'cluster', database: undefined }), source: local, conn: conn(target), signal: new AbortController().signal });
    // The globals, then every database of the cluster file from its own file (template1 first, as dumped).
    expect(cluster.plan.files.map((f) => f.name)).toEqual(['postgres_globals.sql.gz', 'postgres_db_template1.sql.gz', 'postgres_db_app.sql.gz', 'postgres_db_postgres.sql.gz']);
    expect(cluster.plan.files.every((f) => f.how === 'checked in place' && f.bytes > 0)).toBe(true);
    expect(cluster.plan.cluster).toEqual({ staged: true, jobs: expect.any(Number), databases: ['template1', 'app', 'postgres'] });
    expect(cluster.plan.refusals).toEqual([{ exitCode: 2, message: expect.stringMatching(/is not fresh: it already has database\(s\) "app" and role\(s\) "reader"/) }]);

    // A backup said to come from PostgreSQL 17 (its manifest edited) onto this 15 server, with no
    // psql 17 on PATH, and the server on a wrong port: every problem is in the plan.
    const edited = join(dir, 'edited');
    await mkdir(edited);
    await cp(join(dir, 'local', folder), join(edited, '20200101_000000'), { recursive: true });
    const mpath = join(edited, '20200101_000000', 'manifest.json');
    const m = JSON.parse(await readFile(mpath, 'utf8'));
    await writeFile(mpath, JSON.stringify({ ...m, folder: '20200101_000000', server: { ...m.server, version: '17.2', versionNum: 170002, major: 17 }, pgDump: { version: '17.2', major: 17 } }));
    const path = process.env.PATH;
    process.env.PATH = '/usr/bin:/bin';
    try {
      const older = await planRestore({ request: request({ source: 'local' }), source: new LocalSource(edited), conn: conn(target), pgBinDir: undefined, signal: new AbortController().signal });
      expect(older.plan.refusals.map((r) => r.exitCode)).toEqual([2, 2, 2]);
      expect(older.plan.refusals[0]!.message).toMatch(/made from PostgreSQL 17\.2 and the server at \S+ runs PostgreSQL 15\.\d+, an older major/);
      expect(older.plan.refusals[1]!.message).toMatch(/no psql of PostgreSQL 17 or newer was found for a backup made with pg_dump 17\.2/);
      expect(older.plan.refusals[2]!.message).toMatch(/database "app" already exists/);
      const down = await planRestore({ request: request({ source: 'local', targetDatabase: 'x' }), source: local, conn: conn(target, { PGPORT: String(await freePort()) }), signal: new AbortController().signal });
      expect(down.plan.server).toBeUndefined();
      expect(down.plan.refusals).toEqual([{ exitCode: 1, message: expect.stringMatching(/cannot reach PostgreSQL .*; check PGHOST and PGPORT/) }]);
      expect(down.plan.psql).toBeDefined(); // what could be checked still was
    } finally {
      process.env.PATH = path;
    }
  });

  it('restore --dry-run prints the plan, exits with the code the restore would, and changes nothing', async () => {
    const before = await serverState(target);
    const env = (extra: Record<string, string>) =>
      baseEnv({ ...target.env(), BACKUP_DIR: join(dir, 'local'), RESTORE_DIR: join(dir, 'dry-restore'), ...s3.s3Env({ S3_PREFIX: 'plan' }), ...extra });
    const ok = await runCli(['restore', '--dry-run'], env({ RESTORE_SOURCE: 's3', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_copy' }));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^restore plan \(would start; dry run: nothing was changed\)$/m);
    expect(ok.stdout).toMatch(/^  download  .* into \S+dry-restore \(.* free\)$/m);
    expect(ok.stdout).toMatch(/^  database  "app" restored as "app_copy", into a staging database first/m);
    expect(ok.stdout).toMatch(/^  creates   database\(s\) "app_copy"$/m);

    const refused = await runCli(['restore', '--dry-run', '--json'], env({ RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster' }));
    expect(refused.code).toBe(2);
    const json = JSON.parse(refused.stdout);
    expect(json).toMatchObject({ ok: false, dryRun: true, plan: { type: 'cluster', refusals: [{ exitCode: 2 }] } });

    // The real restore refuses exactly what the plan refused, before touching anything.
    const real = await runCli(['restore'], env({ RESTORE_SOURCE: 'local', RESTORE_TYPE: 'cluster' }));
    expect(real.code).toBe(2);
    expect(real.stderr).toContain(json.plan.refusals[0].message);
    expect(await serverState(target)).toEqual(before);
    expect(existsSync(join(dir, 'dry-restore'))).toBe(false);
  });

  it('one pass from S3: damage found while psql runs stops it; the staging database and the partial download go, the target stays', async () => {
    // The backup on S3 again, under an older name, with one byte of the database file flipped in its
    // middle (same size: only the stream can tell).
    const local = join(dir, 'local', folder);
    const put = async (name: string, body: Buffer) => {
      const { PutObjectCommand } = await import('@aws-sdk/client-s3');
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `plan/20200101_000000/${name}`, Body: body }));
    };
    const manifest = JSON.parse(await readFile(join(local, 'manifest.json'), 'utf8'));
    for (const f of manifest.files as Array<{ name: string }>) {
      let body = await readFile(join(local, f.name));
      if (f.name === 'postgres_db_app.sql.gz') {
        body = Buffer.from(body);
        const at = Math.floor(body.length / 2);
        body[at] = body[at]! ^ 0x5a;
      }
      await put(f.name, body);
    }
    await put('manifest.json', Buffer.from(JSON.stringify({ ...manifest, folder: '20200101_000000' })));
    const before = await serverState(target);
    const restoreDir = join(dir, 'one-pass');
    const r = await runCli(
      ['restore'],
      baseEnv({ ...target.env(), ...s3.s3Env({ S3_PREFIX: 'plan' }), RESTORE_SOURCE: 's3', RESTORE_FOLDER: '20200101_000000', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_OVERWRITE: 'true', RESTORE_DIR: restoreDir, BACKUP_DIR: join(dir, 'local') }),
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/postgres_db_app\.sql\.gz of backup 20200101_000000 on s3 \S+ is damaged: .*; the staging database was dropped and the existing database "app" is as it was/);
    expect(r.stderr).toMatch(/into the staging database/); // psql was at work when the damage showed
    expect(await serverState(target)).toEqual(before);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(restoreDir)).toEqual([]); // no partial download left, nor its folder
  });

  it('a download that does not fit in RESTORE_DIR is refused before anything is fetched', async () => {
    const small = join(dir, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', small]);
    try {
      const { plan } = await planRestore({ request: request({ targetDatabase: 'app_small', restoreDir: join(small, 'restore') }), source: s3Source(), conn: conn(target), signal: new AbortController().signal });
      expect(plan.refusals).toEqual([{ exitCode: 1, message: expect.stringMatching(new RegExp(`^RESTORE_DIR ${small}/restore has \\d+ bytes free, the download needs ${appBytes}; free some space`)) }]);
    } finally {
      execFileSync('umount', [small]);
    }
  });
});
