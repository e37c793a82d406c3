// Settings taken strictly: an empty value is an error naming it (except where empty means something),
// relative paths are made absolute and said so, connection errors name what was tried as it was
// tried, template databases are never restored over, and an internal error is one line plus a log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { freePort, makeTempDir } from './helpers/tmp.js';
import { rejection } from './helpers/rejection.js';
import { ExternalError, UsageError, describeError, writeInternalErrorLog } from '../src/core/errors.js';
import { registerSecret } from '../src/core/secrets.js';
import { executeRestore } from '../src/core/restore/execute.js';

/** The error lines on stderr. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => / error /.test(l));
}

async function expectMissing(path: string): Promise<void> {
  await expect(readdir(path)).rejects.toThrow(/ENOENT/);
}

describe('an empty setting is an error naming it (exit 2), nothing created', () => {
  let dir: string;
  let emptyFile: string;
  const defaultBackupDirExisted = existsSync('/backups');
  const defaultRestoreDirExisted = existsSync('/restore');
  beforeAll(async () => {
    dir = await makeTempDir('strict-');
    emptyFile = join(dir, 'empty-secret');
    await writeFile(emptyFile, '');
  });
  afterAll(() => {
    // BACKUP_DIR="" must not have fallen back to the default folder.
    if (!defaultBackupDirExisted) expect(existsSync('/backups')).toBe(false);
    if (!defaultRestoreDirExisted) expect(existsSync('/restore')).toBe(false);
  });

  const backupCases: Array<[string, Record<string, string>, RegExp]> = [
    ['BACKUP_DIR', { BACKUP_DIR: '' }, /BACKUP_DIR is set but empty; give a folder, e.g. BACKUP_DIR=\/backups, or unset it for the default \/backups$/],
    ['COMPRESSION_LEVEL', { COMPRESSION_LEVEL: '' }, /COMPRESSION_LEVEL is set but empty; give a number from 1 to 9, e.g. COMPRESSION_LEVEL=6, or unset it for the default 6$/],
    ['PGHOST', { PGHOST: '' }, /PGHOST is set but empty; give the server's host name or the folder of its Unix socket, e.g. PGHOST=db\.example\.com, or unset it for the local socket in \/var\/run\/postgresql or \/tmp \(else localhost\)$/],
    ['PGPORT', { PGPORT: '' }, /PGPORT is set but empty; give a port number, e.g. PGPORT=5432, or unset it for the default 5432$/],
    ['PGUSER', { PGUSER: '' }, /PGUSER is set but empty; give a role name, e.g. PGUSER=postgres, or unset it for the name of the OS user/],
    ['PGDATABASE', { PGDATABASE: '' }, /PGDATABASE is set but empty; .*or unset it for the default postgres$/],
    ['PGSSLMODE', { PGSSLMODE: '' }, /PGSSLMODE is set but empty; give one of disable, allow, prefer, require, verify-ca, verify-full, e.g. PGSSLMODE=require/],
    ['PGSSLROOTCERT (a libpq variable passed through)', { PGSSLROOTCERT: '' }, /PGSSLROOTCERT is set but empty; .*or unset it for libpq's default$/],
    ['DATABASE_URL', { DATABASE_URL: '' }, /DATABASE_URL is set but empty; give a connection URI/],
    ['LOCAL_RETENTION_DAYS', { LOCAL_RETENTION_DAYS: '' }, /LOCAL_RETENTION_DAYS is set but empty; give a number from 0 to 36500, e.g. LOCAL_RETENTION_DAYS=7, or unset it for the default 1$/],
    ['BACKUP_DATABASES', { BACKUP_DATABASES: '' }, /BACKUP_DATABASES is set but empty; give a comma-separated list of databases, e.g. BACKUP_DATABASES=app,billing, or unset it for every database that allows connections$/],
    ['PG_BIN_DIR', { PG_BIN_DIR: '' }, /PG_BIN_DIR is set but empty/],
    ['S3_ENABLED', { S3_ENABLED: '' }, /S3_ENABLED is set but empty; give true or false, e.g. S3_ENABLED=true, or unset it for the default false$/],
    ['S3_BUCKET (with S3_ENABLED=true)', { S3_ENABLED: 'true', S3_BUCKET: '' }, /S3_BUCKET is set but empty; give a bucket name, e.g. S3_BUCKET=my-backups$/],
    ['S3_ENDPOINT', { S3_ENABLED: 'true', S3_BUCKET: 'my-bucket', S3_ENDPOINT: '' }, /S3_ENDPOINT is set but empty; .*or unset it for AWS S3$/],
    ['RSYNC_PATH (with RSYNC_ENABLED=true)', { RSYNC_ENABLED: 'true', RSYNC_HOST: 'backup.example.com', RSYNC_PATH: '' }, /RSYNC_PATH is set but empty; give an absolute path on the remote host, e.g. RSYNC_PATH=\/srv\/backups\/postgres$/],
    ['RSYNC_USER', { RSYNC_ENABLED: 'true', RSYNC_HOST: 'h', RSYNC_PATH: '/srv', RSYNC_USER: '' }, /RSYNC_USER is set but empty; .*or unset it for the default root$/],
    ['RETRY_DELAY', { S3_ENABLED: 'true', S3_BUCKET: 'my-bucket', RETRY_DELAY: '' }, /RETRY_DELAY is set but empty/],
    ['a _FILE variable (PGPASSWORD_FILE="")', { PGPASSWORD_FILE: '' }, /PGPASSWORD_FILE is set but empty; give the path of a file holding PGPASSWORD, e.g. PGPASSWORD_FILE=\/run\/secrets\/pgpassword, or unset it$/],
    ['LOG_FILE', { LOG_FILE: '' }, /LOG_FILE is set but empty; give a file to append the details of internal errors to/],
    ['only blanks', { COMPRESSION_LEVEL: '  ' }, /COMPRESSION_LEVEL is set but blank; give a number from 1 to 9/],
  ];

  for (const [label, settings, message] of backupCases) {
    it(`backup: ${label}`, async () => {
      const backupDir = join(dir, label.replace(/\W+/g, '_'));
      const r = await runCli(['backup'], baseEnv({ BACKUP_DIR: backupDir, PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'postgres', ...settings }));
      expect(r.code, r.stderr).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      if (settings.BACKUP_DIR === undefined) await expectMissing(backupDir);
    });
  }

  it('a flag given an empty value: names the flag', async () => {
    const r = await runCli(['backup', '--backup-dir', ''], baseEnv({ BACKUP_DIR: join(dir, 'flag') }));
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/--backup-dir is given an empty value; give a folder, e.g. --backup-dir \/backups, or leave it out for the default \/backups$/)]);
    await expectMissing(join(dir, 'flag'));
  });

  it('a _FILE whose file is empty: an error, except for a secret that may be empty', async () => {
    const r = await runCli(['backup'], baseEnv({ BACKUP_DIR: join(dir, 'file-empty'), S3_ENABLED: 'true', S3_BUCKET: 'my-bucket', S3_ACCESS_KEY: 'AKIA1234', S3_SECRET_KEY_FILE: emptyFile }));
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`S3_SECRET_KEY_FILE: ${emptyFile} is empty; put a secret access key in it, or unset S3_SECRET_KEY_FILE`))]);
    await expectMissing(join(dir, 'file-empty'));
  });

  it('a variable and its _FILE both set, even empty: set only one', async () => {
    const r = await runCli(['backup'], baseEnv({ BACKUP_DIR: join(dir, 'both'), PGPASSWORD: '', PGPASSWORD_FILE: emptyFile }));
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/PGPASSWORD and PGPASSWORD_FILE are both set; set only one/)]);
  });

  const restoreCases: Array<[string, Record<string, string>, RegExp]> = [
    ['RESTORE_TYPE', { RESTORE_TYPE: '' }, /RESTORE_TYPE is set but empty; give one of cluster, globals, database, e.g. RESTORE_TYPE=database$/],
    ['RESTORE_FOLDER', { RESTORE_FOLDER: '' }, /RESTORE_FOLDER is set but empty; give a backup folder name or latest, e.g. RESTORE_FOLDER=20251005_120000, or unset it for the newest backup \(latest\)$/],
    ['RESTORE_DIR', { RESTORE_DIR: '' }, /RESTORE_DIR is set but empty; give a folder, e.g. RESTORE_DIR=\/restore, or unset it for the default \/restore$/],
    ['RESTORE_DATABASE', { RESTORE_DATABASE: '' }, /RESTORE_DATABASE is set but empty; give the name of a database in the backup, e.g. RESTORE_DATABASE=app$/],
    ['RESTORE_TARGET_DATABASE', { RESTORE_TARGET_DATABASE: '' }, /RESTORE_TARGET_DATABASE is set but empty; .*or unset it to restore under the name in the backup$/],
    ['RESTORE_OVERWRITE', { RESTORE_OVERWRITE: '' }, /RESTORE_OVERWRITE is set but empty; give true or false/],
    ['RESTORE_SOURCE', { RESTORE_SOURCE: '' }, /RESTORE_SOURCE is set but empty; give one of local, s3, remote/],
  ];
  for (const [label, settings, message] of restoreCases) {
    it(`restore: ${label}`, async () => {
      const restoreDir = join(dir, `restore_${label}`);
      const r = await runCli(
        ['restore'],
        baseEnv({ BACKUP_DIR: join(dir, 'none'), RESTORE_DIR: restoreDir, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', PGHOST: '127.0.0.1', PGPORT: '1', ...settings }),
      );
      expect(r.code, r.stderr).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      await expectMissing(restoreDir);
    });
  }
});

describe('against a real server', () => {
  let server: PgServer;
  let s3: S3Server;
  let dir: string;
  let socketDir: string;
  let folder: string;
  const env = (extra: Record<string, string | undefined> = {}) => baseEnv({ ...server.env(), BACKUP_DIR: join(dir, 'backups'), ...extra });

  beforeAll(async () => {
    [server, s3, dir] = await Promise.all([startPgServer(15), startS3Server(), makeTempDir('strict-server-')]);
    socketDir = join(server.dataDir, '..', 'run');
    await server.query(`CREATE TABLE in_backup (x int); INSERT INTO in_backup VALUES (1)`);
    await server.query('CREATE DATABASE app');
    await server.query(`CREATE TABLE app_table (x int); INSERT INTO app_table VALUES (7)`, 'app');
    const r = await runCli(['backup', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    folder = JSON.parse(r.stdout).folder;
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), s3?.stop()]);
  });

  it('the settings that may be empty: PGPASSWORD="" (then the password file, as libpq), S3_PREFIX="" (the top), BACKUP_EXCLUDE_DATABASES="" (none)', async () => {
    const passFile = join(dir, 'pgpass');
    await writeFile(passFile, `# test\n127.0.0.1:${server.port}:*:postgres:${server.password.replace(/([:\\])/g, '\\$1')}\n`);
    await chmod(passFile, 0o600);
    const backupDir = join(dir, 'empty-allowed');
    const r = await runCli(
      ['backup', '--json'],
      env({ PGPASSWORD: '', PGPASSFILE: passFile, BACKUP_EXCLUDE_DATABASES: '', BACKUP_DIR: backupDir, ...s3.s3Env({ S3_PREFIX: '' }) }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/ error |DeprecationWarning/);
    const doc = JSON.parse(r.stdout);
    expect(doc.manifest.files.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['postgres_db_app.sql.gz', 'postgres_db_postgres.sql.gz']));
    expect(await readdir(join(backupDir, doc.folder))).toContain('manifest.json');
    const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect(listed.Contents?.map((o) => o.Key)).toContain(`${doc.folder}/manifest.json`);
  });

  it('PGPASSWORD_FILE holding nothing is an empty password, as PGPASSWORD="": without a password file, the login fails naming PGPASSWORD', async () => {
    const empty = join(dir, 'empty-pw');
    await writeFile(empty, '\n');
    const r = await runCli(['backup'], env({ PGPASSWORD: undefined, PGPASSWORD_FILE: empty, PGPASSFILE: join(dir, 'no-such-pgpass'), BACKUP_DIR: join(dir, 'empty-pw-backups') }));
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/PGPASSWORD: PostgreSQL at postgres@127\.0\.0\.1:\d+ asks for a password and none is given \(PGPASSWORD is not set or empty, and PGPASSFILE \(\S+no-such-pgpass\) has none for it\); set PGPASSWORD or PGPASSWORD_FILE$/),
    ]);
    await expectMissing(join(dir, 'empty-pw-backups'));
  });

  it('a relative BACKUP_DIR is taken from the working directory, and the log says so', async () => {
    const cwd = await makeTempDir('strict-cwd-');
    const r = await runCli(['backup', '--json'], env({ BACKUP_DIR: 'rel/backups' }), 120_000, { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warn  BACKUP_DIR=rel/backups is a relative path; using ${join(cwd, 'rel', 'backups')}`);
    expect(r.stderr.match(/is a relative path/g)).toHaveLength(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.path).toBe(join(cwd, 'rel', 'backups', doc.folder));
    expect((await stat(join(cwd, 'rel', 'backups', doc.folder, 'manifest.json'))).isFile()).toBe(true);
  });

  it('PGHOST as a socket folder: the checks and pg_dump both use the socket, and messages name it as tried', async () => {
    const ok = await runCli(['backup'], env({ PGHOST: socketDir, BACKUP_DIR: join(dir, 'socket') }));
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await runCli(['backup'], env({ PGHOST: socketDir, PGPASSWORD: 'not-the-password', BACKUP_DIR: join(dir, 'socket-wrong') }));
    expect(wrong.code).toBe(2);
    expect(errorLines(wrong.stderr)).toEqual([
      expect.stringContaining(`PGPASSWORD: cannot log in to PostgreSQL as postgres@socket ${socketDir}/.s.PGSQL.${server.port}: `),
    ]);
  });

  it('PGHOST unset and no server: names the user (the OS user, as libpq) and localhost, and why', async () => {
    const port = await freePort();
    const r = await runCli(['backup'], baseEnv({ PGPORT: String(port), BACKUP_DIR: join(dir, 'nohost') }));
    expect(r.code).toBe(1);
    const user = userInfo().username;
    const sockets = ['/var/run/postgresql', '/tmp'].map((d) => existsSync(`${d}/.s.PGSQL.${port}`));
    expect(sockets).toEqual([false, false]);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringContaining(
        `cannot reach PostgreSQL at ${user}@localhost:${port} (PGHOST is not set and no socket .s.PGSQL.${port} in /var/run/postgresql or /tmp): connection refused (ECONNREFUSED)`,
      ),
    ]);
    expect(r.stderr).toMatch(/set PGHOST to the server's host name or socket folder/);
    await expectMissing(join(dir, 'nohost'));
  });

  it('PGHOST a folder without a socket, or no folder at all: names PGHOST', async () => {
    const empty = await makeTempDir('strict-nosock-');
    const r = await runCli(['backup'], env({ PGHOST: empty, BACKUP_DIR: join(dir, 'nosock') }));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(`cannot reach PostgreSQL at postgres@socket ${empty}/\\.s\\.PGSQL\\.${server.port}: the folder ${empty} \\(PGHOST\\) holds no socket \\.s\\.PGSQL\\.${server.port}; check PGHOST and PGPORT`),
      ),
    ]);
    const missing = await runCli(['backup'], env({ PGHOST: join(empty, 'no', 'such'), BACKUP_DIR: join(dir, 'nosock') }));
    expect(missing.code).toBe(2);
    expect(errorLines(missing.stderr)).toEqual([expect.stringMatching(/^.* error PGHOST=\/\S+\/no\/such is a path .* but there is no such folder; give the socket folder, e.g. PGHOST=\/var\/run\/postgresql/)]);
    await expectMissing(join(dir, 'nosock'));
  });

  it('the host from DATABASE_URL: errors name DATABASE_URL, never the password', async () => {
    const port = await freePort();
    const r = await runCli(['backup'], baseEnv({ DATABASE_URL: `postgresql://app:Url-Secret-1@127.0.0.1:${port}/postgres`, BACKUP_DIR: join(dir, 'url') }));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`cannot reach PostgreSQL at app@127\\.0\\.0\\.1:${port}: .*check the host and port in DATABASE_URL`))]);
    expect(r.stdout + r.stderr).not.toContain('Url-Secret-1');
  });

  describe('restore targets', () => {
    const restoreEnv = (extra: Record<string, string>) =>
      env({ RESTORE_DIR: join(dir, 'restore'), RESTORE_SOURCE: 'local', RESTORE_FOLDER: folder, RESTORE_TYPE: 'database', ...extra });
    const objectsOf = async (db: string) =>
      JSON.stringify(await server.query(`SELECT c.relname, c.relkind, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1, 2, 3`, db));

    for (const template of ['template1', 'template0']) {
      it(`${template} is never restored over, even with RESTORE_OVERWRITE=true (exit 2, untouched)`, async () => {
        const before = template === 'template1' ? await objectsOf('template1') : '';
        const r = await runCli(['restore'], restoreEnv({ RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: template, RESTORE_OVERWRITE: 'true' }));
        expect(r.code).toBe(2);
        expect(errorLines(r.stderr)).toEqual([
          expect.stringMatching(new RegExp(`RESTORE_TARGET_DATABASE=${template}: pg-backups does not restore over ${template} \\(RESTORE_OVERWRITE does not change that\\): .*; choose another name, e.g. RESTORE_TARGET_DATABASE=app_restored$`)),
        ]);
        if (template === 'template1') expect(await objectsOf('template1')).toBe(before);
        const dbs = await server.query(`SELECT datname FROM pg_database WHERE datname LIKE '%pgb%'`);
        expect(dbs).toEqual([]);
      });
    }

    it('template1 as RESTORE_DATABASE (no target) and as --target-database: refused, naming how it was given', async () => {
      const a = await runCli(['restore', '--overwrite'], restoreEnv({ RESTORE_DATABASE: 'template1' }));
      expect(a.code).toBe(2);
      expect(errorLines(a.stderr)).toEqual([expect.stringMatching(/RESTORE_DATABASE=template1: pg-backups does not restore over template1 .*; restore it under another name, e.g. RESTORE_TARGET_DATABASE=template1_restored$/)]);
      const b = await runCli(['restore', '--overwrite', '--target-database', 'template1'], restoreEnv({ RESTORE_DATABASE: 'app' }));
      expect(b.code).toBe(2);
      expect(errorLines(b.stderr)).toEqual([expect.stringMatching(/--target-database template1: pg-backups does not restore over template1 .*choose another name, e.g. --target-database app_restored$/)]);
    });

    it('the restore itself refuses a template target too, before it reads anything', async () => {
      const conn = { host: '127.0.0.1', port: 1, user: 'postgres', database: 'postgres', passthrough: {} };
      const err = await rejection(
        executeRestore({ type: 'database', file: join(dir, 'does-not-exist.sql.gz'), conn, database: 'app', targetDatabase: 'template1', overwrite: true, signal: new AbortController().signal }),
      );
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toMatch(/^RESTORE_TARGET_DATABASE=template1: pg-backups does not restore over template1/);
    });

    it('postgres as the target: only with RESTORE_OVERWRITE, as any existing database', async () => {
      await server.query('CREATE TABLE after_backup (x int)');
      const refused = await runCli(['restore'], restoreEnv({ RESTORE_DATABASE: 'postgres' }));
      expect(refused.code).toBe(2);
      expect(errorLines(refused.stderr)).toEqual([expect.stringMatching(/database "postgres" already exists on postgres@127\.0\.0\.1:\d+; nothing was restored; set RESTORE_OVERWRITE=true/)]);
      expect(await server.query(`SELECT to_regclass('public.after_backup') IS NOT NULL AS there`)).toEqual([{ there: true }]);

      const replaced = await runCli(['restore'], restoreEnv({ RESTORE_DATABASE: 'postgres', RESTORE_OVERWRITE: 'true' }));
      expect(replaced.code, replaced.stderr).toBe(0);
      expect(await server.query(`SELECT to_regclass('public.after_backup') IS NOT NULL AS there`)).toEqual([{ there: false }]);
      expect(await server.query('SELECT x FROM in_backup')).toEqual([{ x: 1 }]);
      expect(await server.query(`SELECT datname FROM pg_database WHERE datname LIKE '%pgb%'`)).toEqual([]);
    });
  });
});

describe('an internal error (a bug) is one line; the details go to a log file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('strict-log-');
  });

  function bug(extra = ''): Error {
    const err = new TypeError(`Cannot read properties of undefined (reading 'files')\nsecond line${extra}`);
    err.cause = new Error('the cause of it');
    return err;
  }

  it('the line names it a bug, gives the message and the log file; the log has the stack, time and command', async () => {
    registerSecret('Log-Secret-42');
    const err = bug(' Log-Secret-42');
    const logFile = join(dir, 'sub', 'pg-backups.log');
    const logged = writeInternalErrorLog(err, { command: 'backup', flagNames: ['json', 'backup-dir'], version: '9.9.9', env: {}, logFile, now: new Date('2025-10-05T12:00:00Z') });
    expect(logged).toEqual({ path: logFile });
    const line = describeError(err, logged);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toBe(
      `internal error (a bug in pg-backups, please report it): TypeError: Cannot read properties of undefined (reading 'files') second line ***; details in ${logFile}`,
    );
    const text = await readFile(logFile, 'utf8');
    expect(text).toMatch(/^2025-10-05T12:00:00\.000Z pg-backups 9\.9\.9 \(node v\d+.*\): internal error in `pg-backups backup --json --backup-dir`\n/);
    expect(text).toMatch(/at bug \(.*settings-strict\.test\.ts:\d+:\d+\)/);
    expect(text).toMatch(/Caused by: Error: the cause of it/);
    expect(text).not.toContain('Log-Secret-42');
    expect(((await stat(logFile)).mode & 0o777).toString(8)).toBe('600');
    // Appended, not replaced.
    writeInternalErrorLog(new Error('another'), { command: 'list', version: '9.9.9', env: {}, logFile });
    expect((await readFile(logFile, 'utf8')).split('internal error in').length).toBe(3);
  });

  it('default place: $XDG_STATE_HOME, else ~/.local/state; then the temp folder when that cannot be written', async () => {
    const state = join(dir, 'state');
    expect(writeInternalErrorLog(bug(), { command: 'backup', version: '1', env: { XDG_STATE_HOME: state } })).toEqual({ path: join(state, 'pg-backups', 'pg-backups.log') });
    const home = join(dir, 'home');
    expect(writeInternalErrorLog(bug(), { command: 'backup', version: '1', env: { HOME: home } })).toEqual({ path: join(home, '.local', 'state', 'pg-backups', 'pg-backups.log') });

    const blocker = join(dir, 'a-file');
    await writeFile(blocker, '');
    const oldTmp = process.env.TMPDIR;
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    process.env.TMPDIR = tmp;
    try {
      expect(tmpdir()).toBe(tmp);
      const fell = writeInternalErrorLog(bug(), { command: 'backup', version: '1', env: {}, logFile: join(blocker, 'log') });
      expect(fell).toEqual({ path: join(tmp, 'pg-backups.log') });
      process.env.TMPDIR = join(blocker, 'tmp');
      const none = writeInternalErrorLog(bug(), { command: 'backup', version: '1', env: {}, logFile: join(blocker, 'log') });
      expect('problem' in none && none.problem).toMatch(/a-file\/log: .+; .*a-file\/tmp\/pg-backups\.log: .+/);
      const line = describeError(bug(), none);
      expect(line.split('\n')).toHaveLength(1);
      expect(line).toMatch(/^internal error \(a bug in pg-backups, please report it\): TypeError: .*; the details could not be written to a log file \(.*a-file\/log: /);
    } finally {
      if (oldTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = oldTmp;
    }
  });

  it('never through a symlink (a planted link in a shared temp folder)', async () => {
    const target = join(dir, 'victim');
    await writeFile(target, 'precious\n');
    const link = join(dir, 'link.log');
    const { symlink } = await import('node:fs/promises');
    await symlink(target, link);
    const oldTmp = process.env.TMPDIR;
    process.env.TMPDIR = join(dir, 'a-file-2');
    await writeFile(join(dir, 'a-file-2'), '');
    try {
      const r = writeInternalErrorLog(bug(), { command: 'backup', version: '1', env: {}, logFile: link });
      expect('problem' in r).toBe(true);
    } finally {
      if (oldTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = oldTmp;
    }
    expect(await readFile(target, 'utf8')).toBe('precious\n');
  });

  it('through the CLI: a bug outside any command promise is one line (also with --json), its stack in LOG_FILE', async () => {
    // A black hole: accepts the connection and never answers, so the CLI waits while the bug fires.
    const hole = createServer(() => {});
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const port = (hole.address() as AddressInfo).port;
    // The bug is brought in from outside (a preloaded module), not by a hook in pg-backups.
    const preload = join(dir, 'bug.cjs');
    await writeFile(preload, `setTimeout(() => { throw new TypeError('simulated bug with Crash-Secret-7 in it'); }, 1500);\n`);
    const logFile = join(dir, 'cli', 'crash.log');
    try {
      const r = await runCli(
        ['backup', '--json', '--backup-dir', join(dir, 'cli-backups')],
        baseEnv({ NODE_OPTIONS: `--require ${preload}`, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'app', PGPASSWORD: 'Crash-Secret-7', PGCONNECT_TIMEOUT: '30', LOG_FILE: logFile }),
      );
      expect(r.code).toBe(1);
      const line = `internal error (a bug in pg-backups, please report it): TypeError: simulated bug with *** in it; details in ${logFile}`;
      expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/ error internal error/)]);
      expect(errorLines(r.stderr)[0]!.endsWith(line)).toBe(true);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(JSON.parse(r.stdout)).toEqual({ ok: false, error: line, exitCode: 1 });
      const log = await readFile(logFile, 'utf8');
      expect(log).toMatch(/internal error in `pg-backups backup --json --backup-dir`\nTypeError: simulated bug with \*\*\* in it\n\s+at Timeout\._onTimeout \(.*bug\.cjs:1:/);
      expect(r.stdout + r.stderr + log).not.toContain('Crash-Secret-7');
      expect(log).not.toContain(join(dir, 'cli-backups'));
    } finally {
      hole.close();
    }
  });

  it('a known error stays its own one line, without any log', () => {
    expect(describeError(new ExternalError('pg_dump failed:\n  line two'))).toBe('pg_dump failed: line two');
    expect(describeError(new UsageError('X is set but empty'))).toBe('X is set but empty');
  });

  it('--help documents LOG_FILE and the empty-value rule for every command', async () => {
    for (const args of [['--help'], ['backup', '--help'], ['restore', '--help'], ['list', '--help'], ['verify', '--help'], ['prune', '--help']]) {
      const r = await runCli(args, baseEnv());
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/LOG_FILE/);
      expect(r.stdout).toMatch(/An empty setting \(NAME="" or --flag ""\) is an error, except S3_PREFIX/);
    }
  });
});
