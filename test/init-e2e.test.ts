// `pg-backups init` end to end: the wizard driven in a real pseudo-terminal as a person answers it,
// against a real PostgreSQL (password login), s3rver and sshd; then `pg-backups backup` run with
// nothing but the variables of the env file it wrote must land a backup on all three destinations.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientBinDir } from './helpers/clients.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { KEY, endSession, spawnCliInPty, type PtySession } from './helpers/pty.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

const exec = promisify(execFile);
const PATH = `${clientBinDir(15)}:/usr/bin:/bin`;

/** The question being asked: the last line inquirer marks (? asked, ✔ answered) must be "? <pattern>". */
async function question(s: PtySession, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const marked = s.screen().split('\n').filter((l) => /^[?✔✖] /.test(l));
    const last = marked.at(-1) ?? '';
    if (last.startsWith('? ') && pattern.test(last)) return s.screen();
    if (Date.now() > deadline || !s.running()) throw new Error(`the question ${pattern} was not asked${s.running() ? '' : ' (the program has exited)'}; the screen:\n${s.screen()}\n---`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Answers the question matching `pattern` with `text` (nothing: Enter takes the default). */
async function answer(s: PtySession, pattern: RegExp, text = ''): Promise<void> {
  await question(s, pattern);
  if (text !== '') await s.press(text);
  await s.press(KEY.enter);
}

/** NAME=value lines of an env file as docker reads them (comments and blank lines skipped). */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

describe('pg-backups init in a pseudo-terminal', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  const sessions: PtySession[] = [];
  const open = (args: string[]) => {
    const s = spawnCliInPty(args, baseEnv({ PATH, HOME: join(dir, 'home'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }), { columns: 240, rows: 60, cwd: dir });
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    [pg, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('init-e2e-')]);
    await pg.query('CREATE DATABASE shop');
    await pg.query(`CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 500) g`, 'shop');
  });
  afterEach(async () => {
    for (const s of sessions.splice(0)) if (s.running()) await endSession(s, { graceMs: 10_000 });
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('asks, tests and writes an env file with which pg-backups backup reaches local disk, S3 and the remote host', async () => {
    const envFile = join(dir, 'conf', 'prod.env');
    const secretsDir = join(dir, 'conf', 'prod-secrets');
    const remotePath = join(sshd.remoteRoot, 'pgb');
    const backupDir = join(dir, 'backups');
    const s = open(['init', '--output', envFile]);

    // The connection: a wrong password first shows the server's refusal and asks again.
    await answer(s, /Host name, address or socket folder \(PGHOST\)/, '127.0.0.1');
    await answer(s, /Port \(PGPORT\)/, String(pg.port));
    await answer(s, /Role to log in as \(PGUSER\)/, 'postgres');
    await answer(s, /Password \(PGPASSWORD/, 'not-the-password');
    await answer(s, /SSL \(PGSSLMODE\)/);
    let screen = await s.waitForText(/Try again/);
    expect(screen).toMatch(/✖ PGPASSWORD: cannot log in to PostgreSQL as postgres@127\.0\.0\.1:\d+: password authentication failed/);
    await answer(s, /\? Host name/);
    // An answer the settings readers refuse is refused under the question, with their message.
    await answer(s, /Port \(PGPORT\)/, '99999');
    await s.waitForText(/PGPORT=99999 is out of range; use a number from 1 to 65535, e\.g\. PGPORT=5432/);
    await s.press(...Array<string>(5).fill(KEY.backspace), KEY.enter);
    await answer(s, /Role to log in as/);
    await answer(s, /Password \(PGPASSWORD/, pg.password);
    await answer(s, /SSL \(PGSSLMODE\)/);
    screen = await question(s, /Databases to back up/);
    expect(screen).toMatch(/✔ PostgreSQL 15\.\d+; \d+ databases: postgres, shop/);
    await s.press(KEY.enter);

    // Destinations.
    await answer(s, /Folder for the backups.*\(BACKUP_DIR\)/, backupDir);
    await answer(s, /S3-compatible storage/, 'y');
    // A bucket that does not exist fails the probe: the reason, then the questions again.
    await answer(s, /Bucket \(S3_BUCKET\)/, 'no-such-bucket');
    await answer(s, /S3_PREFIX/, 'init/prod');
    await answer(s, /Region \(S3_REGION\)/);
    await answer(s, /S3_ENDPOINT/, s3.endpoint);
    await answer(s, /S3_FORCE_PATH_STYLE/);
    await answer(s, /Access key id \(S3_ACCESS_KEY/, s3.accessKey);
    await answer(s, /Secret access key \(S3_SECRET_KEY\)/, s3.secretKey);
    screen = await question(s, /Change the S3 answers and try again\?/);
    expect(screen).toMatch(/✖ S3 s3:\/\/no-such-bucket\/init\/prod: cannot write a probe object .*(NoSuchBucket|does not exist)/);
    await s.press(KEY.enter);
    await answer(s, /Bucket \(S3_BUCKET\)/, s3.bucket);
    for (const q of [/S3_PREFIX/, /Region \(S3_REGION\)/, /S3_ENDPOINT/, /S3_FORCE_PATH_STYLE/]) await answer(s, q);
    await answer(s, /Access key id \(S3_ACCESS_KEY/, s3.accessKey);
    await answer(s, /Secret access key \(S3_SECRET_KEY\)/, s3.secretKey);
    screen = await question(s, /remote host over SSH/);
    expect(screen).toMatch(/✔ wrote and deleted init\/prod\/\.pg-backups-init-probe-[0-9a-f]+/);
    await s.press('y', KEY.enter);
    await answer(s, /RSYNC_HOST/, '127.0.0.1');
    await answer(s, /RSYNC_PORT/, String(sshd.port));
    await answer(s, /RSYNC_USER/);
    await answer(s, /RSYNC_PATH/, remotePath);
    await answer(s, /RSYNC_SSH_KEY/, sshd.keyPath);
    await answer(s, /RSYNC_KNOWN_HOSTS/);
    screen = await question(s, /Is this the key of 127\.0\.0\.1\?/);
    // The fingerprint as OpenSSH prints it for the host's public key.
    const { stdout: lf } = await exec('ssh-keygen', ['-lf', join(sshd.dir, 'hostkey.pub')]);
    const fingerprint = lf.split(/\s+/)[1]!;
    expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(screen).toContain(`    ${fingerprint}`);
    expect(screen).toMatch(/offers this ssh-ed25519 key/);
    // Not accepted (Enter: No): nothing recorded, asked again; then accepted.
    await s.press(KEY.enter);
    screen = await question(s, /Change the remote host answers and try again\?/);
    expect(screen).toMatch(/Key not accepted; nothing was recorded\./);
    await s.press(KEY.enter);
    for (const q of [/RSYNC_HOST/, /RSYNC_PORT/, /RSYNC_USER/, /RSYNC_PATH/, /RSYNC_SSH_KEY/, /RSYNC_KNOWN_HOSTS/]) await answer(s, q);
    await question(s, /Is this the key of 127\.0\.0\.1\?/);
    await s.press('y', KEY.enter);

    // Schedule and retention.
    screen = await question(s, /Time zone of the schedule \(TZ\)/);
    expect(screen).toMatch(/✔ logged in; .*pgb is writable/);
    await s.press('Europe/Berlin', KEY.enter);
    await answer(s, /BACKUP_SCHEDULE/, '61 2 * * *');
    await s.waitForText(/BACKUP_SCHEDULE='61 2 \* \* \*' is not a cron expression pg-backups can use/);
    await s.press(...Array<string>(10).fill(KEY.backspace), '15 2 * * 1-5', KEY.enter);
    screen = await question(s, /Use this schedule\?/);
    expect(screen).toMatch(/Next runs: \d{4}-\d\d-\d\d 02:15:00 \+0[12]:00 \(Europe\/Berlin\), .*, .*02:15:00/);
    await s.press(KEY.enter);
    await answer(s, /LOCAL_RETENTION_DAYS/, '3');
    await answer(s, /S3_RETENTION_DAYS/);
    await answer(s, /RSYNC_RETENTION_DAYS/);
    await answer(s, /KEEP_DAILY/, '7');
    await answer(s, /KEEP_WEEKLY/, '4');
    await answer(s, /KEEP_MONTHLY/);
    const { exitCode } = await s.exited;
    const printed = s.output();
    expect(exitCode, printed.slice(-3000)).toBe(0);

    // What it printed: the docker run line and the compose snippet, and no secret.
    expect(printed).toMatch(/docker run -d --name pg-backups/);
    expect(printed).toContain(`--env-file ${envFile}`);
    expect(printed).toContain(`-v ${secretsDir}:${secretsDir}:ro`);
    expect(printed).toContain(`-v ${backupDir}:${backupDir}`);
    expect(printed).toContain(`-v ${sshd.keyPath}:${sshd.keyPath}:ro`);
    expect(printed).toMatch(/image: pg-backups-backup/);
    for (const secret of [pg.password, s3.secretKey, s3.accessKey]) expect(printed).not.toContain(secret);

    // The env file: no secret in it; secrets 0600 in a 0700 folder, named by *_FILE.
    const text = await readFile(envFile, 'utf8');
    for (const secret of [pg.password, s3.secretKey, s3.accessKey]) expect(text).not.toContain(secret);
    const written = parseEnvFile(text);
    expect(written).toMatchObject({
      PGHOST: '127.0.0.1',
      PGPORT: String(pg.port),
      PGUSER: 'postgres',
      PGPASSWORD_FILE: join(secretsDir, 'PGPASSWORD'),
      S3_ACCESS_KEY_FILE: join(secretsDir, 'S3_ACCESS_KEY'),
      S3_SECRET_KEY_FILE: join(secretsDir, 'S3_SECRET_KEY'),
      BACKUP_DIR: backupDir,
      TZ: 'Europe/Berlin',
      BACKUP_SCHEDULE_FILE: join(secretsDir, 'BACKUP_SCHEDULE'),
      LOCAL_RETENTION_DAYS: '3',
      KEEP_DAILY: '7',
      KEEP_WEEKLY: '4',
      RSYNC_KNOWN_HOSTS: join(dir, 'conf', 'known_hosts'),
    });
    expect(written.KEEP_MONTHLY).toBeUndefined();
    expect((await stat(secretsDir)).mode & 0o777).toBe(0o700);
    for (const name of ['PGPASSWORD', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'BACKUP_SCHEDULE']) {
      expect((await stat(join(secretsDir, name))).mode & 0o777, name).toBe(0o600);
    }
    expect(await readFile(join(secretsDir, 'PGPASSWORD'), 'utf8')).toBe(`${pg.password}\n`);
    expect(await readFile(join(secretsDir, 'BACKUP_SCHEDULE'), 'utf8')).toBe('15 2 * * 1-5\n');
    expect(await readFile(join(dir, 'conf', 'known_hosts'), 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);

    // The probe object is gone from the bucket.
    const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key).filter((k) => k?.includes('init-probe'))).toEqual([]);

    // pg-backups backup with nothing but the env file's variables (and PATH, for pg_dump, rsync, ssh).
    const r = await runCli(['backup'], { ...written, PATH }, 180_000, { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const [folder] = (await readdir(backupDir)).filter((f) => /^\d{8}_\d{6}$/.test(f));
    expect(folder).toBeDefined();
    const manifest = JSON.parse(await readFile(join(backupDir, folder!, 'manifest.json'), 'utf8')) as { files: Array<{ name: string }> };
    expect(manifest.files.map((f) => f.name)).toContain('postgres_db_shop.sql.gz');
    const keys = ((await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'init/prod/' }))).Contents ?? []).map((o) => o.Key);
    expect(keys).toContain(`init/prod/${folder}/manifest.json`);
    expect(keys).toContain(`init/prod/${folder}/postgres_db_shop.sql.gz`);
    expect(await readdir(join(remotePath, folder!))).toEqual(expect.arrayContaining(['manifest.json', 'postgres_db_shop.sql.gz']));
  });

  it('without a terminal it refuses with exit 2 and one line saying what to do instead', async () => {
    const r = await runCli(['init'], baseEnv({ PATH }), 60_000, { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/needs a terminal .*docker run -it .*pg-backups-backup init, or write the settings by hand \(README, "Settings"\)/);
    expect(r.stdout).toBe('');
  });

  it('Ctrl-C at a question exits 1 and writes nothing; an existing env file is kept unless replacing it is confirmed', async () => {
    const envFile = join(dir, 'stopped', 'pg-backups.env');
    let s = open(['init', '--output', envFile]);
    await answer(s, /PGHOST/, '127.0.0.1');
    await question(s, /PGPORT/);
    await s.press(KEY.ctrlC);
    expect((await s.exited).exitCode).toBe(1);
    expect(s.output()).toMatch(/stopped at a question \(Ctrl-C\); nothing was written/);
    await expect(stat(join(dir, 'stopped'))).rejects.toThrow(/ENOENT/);

    const existing = join(dir, 'existing.env');
    await writeFile(existing, 'PGHOST=keep-me\n');
    s = open(['init', '-o', existing]);
    await answer(s, /existing\.env exists\. Replace it/);
    expect((await s.exited).exitCode).toBe(1);
    expect(s.output()).toMatch(/exists and was left as it is; nothing was written/);
    expect(await readFile(existing, 'utf8')).toBe('PGHOST=keep-me\n');
  });
});
