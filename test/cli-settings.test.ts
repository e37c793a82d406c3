// Bad settings, a wrong password and an unreachable host: the exit code and one clear line of
// SPEC, nothing written, and the password nowhere in the output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

const SECRET = 'Sup3r-S3cret-pw!';

/** The single error line on stderr. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => / error /.test(l));
}

describe('settings are validated before anything is touched (exit 2)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('settings-');
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['COMPRESSION_LEVEL out of range', { COMPRESSION_LEVEL: '12' }, /COMPRESSION_LEVEL=12 is out of range; use a number from 1 to 9, e.g. COMPRESSION_LEVEL=6/],
    ['COMPRESSION_LEVEL not a number', { COMPRESSION_LEVEL: 'fast' }, /COMPRESSION_LEVEL="fast" is not a whole number/],
    ['LOCAL_RETENTION_DAYS negative', { LOCAL_RETENTION_DAYS: '-1' }, /LOCAL_RETENTION_DAYS=-1 is out of range/],
    ['PGPORT not a port', { PGPORT: '99999' }, /PGPORT=99999 is out of range; use a number from 1 to 65535/],
    ['PGSSLMODE unknown', { PGSSLMODE: 'sometimes' }, /PGSSLMODE="sometimes" is not one of disable, allow, prefer, require, verify-ca, verify-full/],
    ['DATABASE_URL malformed', { DATABASE_URL: `mysql://u:${SECRET}@h/db` }, /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//],
    ['PGPASSWORD and PGPASSWORD_FILE both', { PGPASSWORD: SECRET, PGPASSWORD_FILE: '/run/secrets/pw' }, /PGPASSWORD and PGPASSWORD_FILE are both set; set only one/],
    ['PGPASSWORD_FILE unreadable', { PGPASSWORD_FILE: '/nonexistent/pw' }, /PGPASSWORD_FILE: cannot read \/nonexistent\/pw/],
    ['contradictory database lists', { BACKUP_DATABASES: 'app,billing', BACKUP_EXCLUDE_DATABASES: 'billing' }, /BACKUP_EXCLUDE_DATABASES excludes "billing", which BACKUP_DATABASES asks for/],
    ['S3 without a bucket', { S3_ENABLED: 'true' }, /S3_BUCKET is not set, and S3_ENABLED=true needs it; e.g. S3_BUCKET=my-backups/],
    ['S3 with half the credentials', { S3_ENABLED: 'true', S3_BUCKET: 'my-bucket', S3_SECRET_KEY: SECRET }, /S3_ACCESS_KEY is not set, but S3_SECRET_KEY is; set both, or neither/],
    ['S3 endpoint not a URL', { S3_ENABLED: 'true', S3_BUCKET: 'my-bucket', S3_ENDPOINT: 'minio:9000' }, /S3_ENDPOINT="minio:9000" is not an http\(s\) URL/],
    ['remote path relative', { RSYNC_ENABLED: 'true', RSYNC_HOST: 'backup.example.com', RSYNC_PATH: 'backups' }, /RSYNC_PATH="backups" must be an absolute path/],
    ['remote without a host', { RSYNC_ENABLED: 'true', RSYNC_PATH: '/srv/b' }, /RSYNC_HOST is not set, and RSYNC_ENABLED=true needs it/],
    ['retry delay not a number', { S3_ENABLED: 'true', S3_BUCKET: 'my-bucket', RETRY_DELAY: 'soon' }, /RETRY_DELAY="soon" is not a number of seconds from 0 to 3600/],
    ['boolean typo', { S3_ENABLED: 'ture' }, /S3_ENABLED="ture" is not a boolean; use true or false/],
  ];

  for (const [label, settings, message] of cases) {
    it(label, async () => {
      const backupDir = join(dir, label.replace(/\W+/g, '_'));
      const r = await runCli(['backup'], baseEnv({ BACKUP_DIR: backupDir, PGHOST: '127.0.0.1', PGPORT: '1', ...settings }));
      expect(r.code).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      await expect(readdir(backupDir)).rejects.toThrow(/ENOENT/); // nothing touched
    });
  }

  it('a flag wins over its variable, and is validated the same way', async () => {
    const r = await runCli(['backup', '--compression-level', '0'], baseEnv({ COMPRESSION_LEVEL: '6', BACKUP_DIR: join(dir, 'flag') }));
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/--compression-level=0 is out of range; use a number from 1 to 9, e.g. --compression-level 6/);
  });

  it('an unknown option and an unknown command are usage errors', async () => {
    const a = await runCli(['backup', '--compresion-level', '3'], baseEnv());
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/Unknown option '--compresion-level'.*see pg-backups backup --help/);
    const b = await runCli(['bakup'], baseEnv());
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown command "bakup"/);
  });

  it('--json reports the error as JSON on stdout, the log line on stderr', async () => {
    const r = await runCli(['backup', '--json'], baseEnv({ COMPRESSION_LEVEL: '0', BACKUP_DIR: join(dir, 'json') }));
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, exitCode: 2 });
    expect(doc.error).toMatch(/COMPRESSION_LEVEL=0 is out of range/);
  });

  it('--help works for every command and documents the exit codes', async () => {
    for (const args of [['--help'], ['backup', '--help'], ['list', '--help'], ['verify', '--help'], ['prune', '--help']]) {
      const r = await runCli(args, baseEnv());
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: pg-backups/);
      expect(r.stdout).toMatch(/3 +verification found a damaged or incomplete backup/);
    }
  });
});

describe('connection failures', () => {
  let server: PgServer;
  let dir: string;
  beforeAll(async () => {
    server = await startPgServer(15, { password: SECRET });
    dir = await makeTempDir('conn-');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a wrong password: exit 2, names PGPASSWORD, never prints the password', async () => {
    const wrong = 'Wr0ng-' + SECRET;
    const backupDir = join(dir, 'wrong-pw');
    const r = await runCli(['backup'], baseEnv({ ...server.env(), PGPASSWORD: wrong, BACKUP_DIR: backupDir }));
    expect(r.code).toBe(2);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PGPASSWORD: cannot log in to PostgreSQL as postgres@127\.0\.0\.1:\d+: password authentication failed for user "postgres"/);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(SECRET);
    }
    await expect(readdir(backupDir)).rejects.toThrow(/ENOENT/);
  });

  it('a wrong password in DATABASE_URL and in PGPASSWORD_FILE is never printed either', async () => {
    const wrong = 'An0ther-wrong';
    const url = `postgresql://postgres:${encodeURIComponent(wrong)}@127.0.0.1:${server.port}/postgres`;
    const r1 = await runCli(['backup', '--json'], baseEnv({ DATABASE_URL: url, BACKUP_DIR: join(dir, 'url') }));
    expect(r1.code).toBe(2);
    expect(r1.stdout + r1.stderr).not.toContain(wrong);
    const pwFile = join(dir, 'pw');
    await writeFile(pwFile, `${wrong}\n`);
    const r2 = await runCli(['backup'], baseEnv({ ...server.env(), PGPASSWORD: undefined, PGPASSWORD_FILE: pwFile, BACKUP_DIR: join(dir, 'file') }));
    expect(r2.code).toBe(2);
    expect(r2.stdout + r2.stderr).not.toContain(wrong);
  });

  it('a host name that does not resolve: exit 1, names it and PGHOST (as --host when given so)', async () => {
    const r = await runCli(['backup', '--host', 'no-such-host.invalid'], baseEnv({ PGPORT: '5433', PGUSER: 'app', PGPASSWORD: SECRET, PGCONNECT_TIMEOUT: '5', BACKUP_DIR: join(dir, 'dns') }));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/cannot reach PostgreSQL at app@no-such-host\.invalid:5433: the host name "no-such-host\.invalid" does not resolve \((ENOTFOUND|EAI_AGAIN)\); check --host$/),
    ]);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('an unreachable server: exit 1, names PGHOST and PGPORT', async () => {
    const port = await freePort();
    const backupDir = join(dir, 'unreachable');
    const r = await runCli(['backup'], baseEnv({ PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: SECRET, BACKUP_DIR: backupDir }));
    expect(r.code).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`cannot reach PostgreSQL at postgres@127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\); check PGHOST and PGPORT and that the server is running$`));
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    await expect(readdir(backupDir)).rejects.toThrow(/ENOENT/);
  });

  it('a database in BACKUP_DATABASES that does not exist: exit 2, names it', async () => {
    const r = await runCli(['backup'], baseEnv({ ...server.env(), BACKUP_DATABASES: 'postgres,nosuchdb', BACKUP_DIR: join(dir, 'nodb') }));
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/BACKUP_DATABASES names "nosuchdb", which postgres@127\.0\.0\.1:\d+ does not have; it has "postgres"/);
  });
});
