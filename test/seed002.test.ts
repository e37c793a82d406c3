// Issue 11 item 2: seed 002's old backups. Seed 002 wrote one database per run as a flat file under
// its S3 prefix: `pg_dump ... | gzip -6 > backup_YYYYMMDD_HHMMSS.sql.gz`, optionally through
// `openssl enc -aes-256-cbc -salt -pbkdf2 ... -pass "pass:$BACKUP_ENCRYPTION_KEY"` (.sql.gz.enc).
// Made here with exactly those commands from a hostile corpus database (PG 15), put into an S3 prefix
// (s3rver) and a local BACKUP_DIR beside a normal pg-backups backup, then read with the built CLI:
// list shows them, verify checks them (with the key: decrypted, gunzipped, pg_dump's closing line;
// without: says what it could not check), restore brings back a database equal to the source from
// S3 and local disk; a wrong passphrase, a missing one, a flipped byte are refused with one line and
// the target untouched; the passphrase never shows; prune leaves the files alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { baseEnv, runCli, type CliResult } from './helpers/cli.js';
import { clientTool, expectSameDump, normalizeDump, runTool, toolEnv } from './helpers/dump-compare.js';
import { corpusDatabaseSql, rolesSql, sqlishRowsSql } from './helpers/hostile-corpus.js';
import { runFixtureSql } from './helpers/fixture-sql.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';
import { KEY, endSession, spawnCliInPty } from './helpers/pty.js';
import { seed002Entry } from '../src/core/seed002.js';
import { folderTime } from '../src/core/backup/names.js';
import { retentionPlan } from '../src/core/retention.js';
import { pickBackup } from '../src/core/restore/fetch.js';
import type { BackupEntry } from '../src/core/source.js';

const PASSPHRASE = 'seed002-Pass "word" \\ é $HOME;--';
const PLAIN = 'backup_20240207_143022.sql.gz';
const ENC = 'backup_20240208_010203.sql.gz.enc';
const PREFIX = 'legacy/backups';

describe('seed 002 entries (pure logic)', () => {
  const finished = (folder: string): BackupEntry => ({ folder, time: folderTime(folder)!, status: 'finished', files: [], manifest: {} as BackupEntry['manifest'] });
  const legacy001 = (folder: string): BackupEntry => ({ folder, time: folderTime(folder)!, status: 'legacy', files: [{ name: 'postgres_cluster.sql.gz', bytes: 1 }] });
  const single = (name: string) => seed002Entry({ name, bytes: 10 })!;

  it('only backup_YYYYMMDD_HHMMSS.sql.gz[.enc] with a real date is one', () => {
    expect(single(PLAIN)).toMatchObject({ folder: PLAIN, status: 'legacy', single: { file: PLAIN, encrypted: undefined }, files: [{ name: PLAIN, bytes: 10 }] });
    expect(single(ENC)).toMatchObject({ time: new Date('2024-02-08T01:02:03Z'), single: { file: ENC, encrypted: 'openssl' } });
    for (const name of ['backup_20240231_000000.sql.gz', 'backup_20240207_143022.sql', 'backup_20240207_143022.sql.gz.age', 'xbackup_20240207_143022.sql.gz', 'backup_20240207_143022.sql.gz.enc.tmp', '20240207_143022']) {
      expect(seed002Entry({ name, bytes: 1 }), name).toBeUndefined();
    }
  });

  it('retention never expires them, whatever their age', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const entries = [finished('20251231_000000'), finished('20250101_000000'), single(PLAIN), single(ENC)];
    expect(retentionPlan(entries, { days: 1 }, now).expired.map((e) => e.folder)).toEqual(['20250101_000000']);
  });

  it('latest: a finished backup first, even when older; else the newest legacy backup by time, folder or file', () => {
    expect(pickBackup([single(ENC), finished('20200101_000000')], 'latest').folder).toBe('20200101_000000');
    expect(pickBackup([legacy001('20240101_000000'), single(PLAIN), single(ENC)], 'latest').folder).toBe(ENC);
    expect(pickBackup([legacy001('20250101_000000'), single(ENC)], 'latest').folder).toBe('20250101_000000');
    expect(pickBackup([single(PLAIN), finished('20250101_000000')], PLAIN).folder).toBe(PLAIN);
  });
});

describe('seed 002 backups: list, verify, restore, prune', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  let local: string;
  let folder: string;
  let source: string;
  const results: CliResult[] = [];

  const env = (extra: Record<string, string> = {}) =>
    baseEnv({ ...pg.env(), BACKUP_DIR: local, RESTORE_DIR: join(dir, 'restore'), ...s3.s3Env({ S3_PREFIX: PREFIX }), ...extra });
  const withKey = (extra: Record<string, string> = {}) => env({ BACKUP_ENCRYPTION_KEY: PASSPHRASE, ...extra });
  const cli = async (args: string[], e: Record<string, string>) => {
    const r = await runCli(args, e, 240_000);
    results.push(r);
    return r;
  };
  /** pg_dump --no-owner --no-acl of a database, normalized: what seed 002's files hold. */
  const plainDump = async (db: string) => {
    const r = await runTool(clientTool(pg, 'pg_dump'), ['-w', '--no-owner', '--no-acl'], toolEnv(pg, { PGDATABASE: db }));
    expect(r.code, r.stderr).toBe(0);
    return normalizeDump(r.stdout);
  };
  const databases = async () => (await pg.query('SELECT datname FROM pg_database ORDER BY 1')).map((r: { datname: string }) => r.datname);
  const restore = (extra: Record<string, string>, e = withKey) => cli(['restore', '--json'], e({ RESTORE_TYPE: 'database', ...extra }));
  const errorLines = (r: CliResult) => r.stderr.split('\n').filter((l) => /error/i.test(l));

  beforeAll(async () => {
    [pg, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('seed002-')]);
    local = join(dir, 'local');
    await mkdir(local);
    await runFixtureSql('roles', pg, rolesSql(false));
    await pg.query('CREATE DATABASE app');
    await runFixtureSql('corpus', pg, corpusDatabaseSql({ tag: 'seed002', major: pg.major, big: false }), 'app');
    source = await plainDump('app');

    // Seed 002's own commands (backup.sh): pg_dump | gzip -6, then openssl enc.
    const made = join(dir, 'made');
    await mkdir(made);
    const dump = await runTool(
      'bash',
      ['-c', 'set -o pipefail; "$1" -d "$2" --no-owner --no-acl --clean --if-exists | gzip -6 > "$3"', 'bash', clientTool(pg, 'pg_dump'), 'app', join(made, PLAIN)],
      toolEnv(pg),
    );
    expect(dump.code, dump.stderr).toBe(0);
    const enc = await runTool(
      'openssl',
      ['enc', '-aes-256-cbc', '-salt', '-pbkdf2', '-in', join(made, PLAIN), '-out', join(made, ENC), '-pass', `pass:${PASSPHRASE}`],
      process.env,
    );
    expect(enc.code, enc.stderr).toBe(0);
    for (const name of [PLAIN, ENC]) {
      await copyFile(join(made, name), join(local, name));
      await s3.client().send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${name}`, Body: await readFile(join(made, name)), Metadata: { timestamp: '2024-02-07T14:30:22Z', database: 'app', host: 'localhost' } }),
      );
    }
    // A normal pg-backups backup beside them, on both.
    const b = await cli(['backup', '--json'], env());
    expect(b.code, b.stderr).toBe(0);
    folder = JSON.parse(b.stdout).folder;
  }, 240_000);

  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
  });

  it('list --json shows each file as a seed 002 single-database backup, beside the pg-backups backup, newest first', async () => {
    const r = await cli(['list', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const backups = JSON.parse(r.stdout).backups as Array<Record<string, any>>;
    expect(backups.map((b) => b.folder)).toEqual([folder, ENC, PLAIN]);
    const enc = backups.find((b) => b.folder === ENC)!;
    expect(enc).toMatchObject({ status: 'legacy', time: '2024-02-08T01:02:03.000Z', single: { seed: '002', file: ENC, encrypted: 'openssl' } });
    expect(enc.locations.map((l: any) => l.source).sort()).toEqual(['local', 's3']);
    expect(backups.find((b) => b.folder === PLAIN)).toMatchObject({ status: 'legacy', single: { seed: '002', file: PLAIN, encrypted: null } });
    expect(backups[0]).toMatchObject({ folder, status: 'finished' });
    expect(backups[0]!.single).toBeUndefined();
    const text = await cli(['list'], env());
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${ENC.replace(/\./g, '\\.')}.*legacy.*seed 002 single-database backup, encrypted`));
  });

  it('verify with the key: decrypted, gunzipped to the end, ends as pg_dump does; without: says it checked only the size', async () => {
    for (const name of [ENC, PLAIN]) {
      const r = await cli(['verify', name, '--json'], withKey());
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.reports.map((x: any) => x.source).sort()).toEqual([local, `s3://${s3.bucket}/${PREFIX}`].sort());
      for (const report of out.reports) expect(report).toMatchObject({ ok: true, status: 'legacy', files: [{ name, ok: true }] });
      expect(out.reports[0].notes).toBeUndefined();
    }
    const without = await cli(['verify', ENC, '--json'], env());
    expect(without.code, without.stderr).toBe(0);
    expect(without.stderr).toMatch(/BACKUP_ENCRYPTION_KEY is not set: it could not be checked beyond its size/);
    expect(JSON.parse(without.stdout).reports[0].notes[0]).toMatch(/could not be checked beyond its size/);
  });

  it('restore --dry-run plans it: one database, restored under the name given; latest keeps preferring the pg-backups backup', async () => {
    const r = await cli(['restore', '--dry-run', '--json'], withKey({ RESTORE_TYPE: 'database', RESTORE_SOURCE: 's3', RESTORE_FOLDER: ENC, RESTORE_TARGET_DATABASE: 'planned' }));
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout).plan;
    expect(plan).toMatchObject({ ok: true, type: 'database', backup: { folder: ENC, status: 'legacy', single: { file: ENC, encrypted: 'openssl' } }, database: { original: 'planned', target: 'planned', exists: false }, creates: ['planned'] });
    expect(plan.files).toEqual([{ name: ENC, bytes: expect.any(Number), how: 'downloaded' }]);
    expect(plan.warnings.join('\n')).toMatch(/seed 002 file/);
    const latest = await cli(['restore', '--dry-run', '--json'], withKey({ RESTORE_TYPE: 'database', RESTORE_SOURCE: 's3', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'x' }));
    expect(latest.code, latest.stderr).toBe(0);
    expect(JSON.parse(latest.stdout).plan.backup.folder).toBe(folder);
    // A source that holds only seed 002 files: latest is the newest of them.
    const only = join(dir, 'only');
    await mkdir(only);
    for (const name of [PLAIN, ENC]) await copyFile(join(local, name), join(only, name));
    // a newer symbolic link named like one: not ours, never read, never picked
    await symlink(join(local, ENC), join(only, 'backup_20250101_000000.sql.gz.enc'));
    const onlyList = await cli(['list', '--json'], env({ BACKUP_DIR: only, S3_ENABLED: 'false' }));
    expect(JSON.parse(onlyList.stdout).backups.map((b: any) => [b.folder, b.status])).toEqual([['backup_20250101_000000.sql.gz.enc', 'foreign'], [ENC, 'legacy'], [PLAIN, 'legacy']]);
    const onlyLatest = await cli(['restore', '--dry-run', '--json'], withKey({ BACKUP_DIR: only, S3_ENABLED: 'false', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app2' }));
    expect(onlyLatest.code, onlyLatest.stderr).toBe(0);
    expect(JSON.parse(onlyLatest.stdout).plan.backup.folder).toBe(ENC);
  });

  it('restore from S3 (encrypted, in one pass) and from local disk (encrypted and plain) gives the source database back', async () => {
    const s3r = await restore({ RESTORE_SOURCE: 's3', RESTORE_FOLDER: ENC, RESTORE_TARGET_DATABASE: 'from_s3' });
    expect(s3r.code, s3r.stderr).toBe(0);
    expect(JSON.parse(s3r.stdout)).toMatchObject({ ok: true, folder: ENC, type: 'database', target: 'from_s3' });
    // the downloaded copy (as stored, encrypted) stays in RESTORE_DIR, as for other downloads
    expect(existsSync(join(dir, 'restore', ENC))).toBe(true);
    const localEnc = await restore({ RESTORE_SOURCE: 'local', RESTORE_FOLDER: ENC, RESTORE_DATABASE: 'from_local' });
    expect(localEnc.code, localEnc.stderr).toBe(0);
    const localPlain = await restore({ RESTORE_SOURCE: 'local', RESTORE_FOLDER: PLAIN, RESTORE_DATABASE: 'from_plain' }, env);
    expect(localPlain.code, localPlain.stderr).toBe(0);
    for (const db of ['from_s3', 'from_local', 'from_plain']) {
      expectSameDump(source, await plainDump(db), `app vs ${db}`);
      expect(await pg.query(sqlishRowsSql(), db)).toEqual(await pg.query(sqlishRowsSql(), 'app'));
    }
    expect((await databases()).filter((d) => d.includes('restore'))).toEqual([]); // no staging database left
  });

  it('the screen restores one, under the name typed, end to end in a pseudo-terminal', async () => {
    const ui = spawnCliInPty([], withKey());
    try {
      await ui.waitForText(/s3 .*ok, 3 backups/, 60_000);
      await ui.press(KEY.down, KEY.enter); // the encrypted one: the second row, newest first
      let screen = await ui.waitForText(/Backup backup_20240208_010203\.sql\.gz\.enc · legacy/);
      expect(screen).toMatch(/a seed 002 single-database backup, encrypted \(openssl, BACKUP_ENCRYPTION_KEY\)\n/);
      expect(screen).toMatch(/no manifest: gzip and pg_dump's closing line are checked as it is read/);
      expect(screen).toMatch(/Databases: one, whose name the file does not record/);
      expect(screen).not.toMatch(/whole cluster|Drill/);
      await ui.press(KEY.enter);
      await ui.waitForText(/Name to restore it under: _/);
      await ui.press(...'from_screen', KEY.enter);
      screen = await ui.waitForText(/Target name: "from_screen"/);
      expect(screen).toMatch(/"from_screen" does not exist on the server: it will be CREATED/);
      await ui.press(KEY.enter);
      await ui.waitForText(/Enter starts the restore/, 60_000);
      await ui.press(KEY.enter);
      screen = await ui.waitForText(/Done: restore of backup_20240208_010203\.sql\.gz\.enc \(local\) as "from_screen"|FAILED: /, 180_000);
      expect(screen).toMatch(/Done: /);
      expect(screen).toMatch(/restored database "from_screen" on postgres@127\.0\.0\.1:\d+/);
      expect(screen).toMatch(/next: check "from_screen" \(psql -d "from_screen" on /);
      await ui.press('q');
      expect((await ui.exited).exitCode).toBe(0);
    } finally {
      await endSession(ui);
    }
    expectSameDump(source, await plainDump('from_screen'), 'app vs from_screen');
  }, 300_000);

  it('the remote host (RSYNC_PATH): listed, verified and restored in one pass', async () => {
    const remotePath = join(sshd.remoteRoot, 'seed002');
    await mkdir(remotePath);
    await copyFile(join(local, ENC), join(remotePath, ENC));
    const remoteEnv = (e: Record<string, string> = {}) => withKey({ ...sshd.rsyncEnv(remotePath), ...e });
    const l = await cli(['list', '--json', '--source', 'remote'], remoteEnv());
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(l.stdout).backups).toMatchObject([{ folder: ENC, status: 'legacy', single: { file: ENC, encrypted: 'openssl' } }]);
    const v = await cli(['verify', ENC, '--source', 'remote'], remoteEnv());
    expect(v.code, v.stderr).toBe(0);
    const r = await restore({ RESTORE_SOURCE: 'remote', RESTORE_FOLDER: ENC, RESTORE_DATABASE: 'from_remote' }, remoteEnv);
    expect(r.code, r.stderr).toBe(0);
    expectSameDump(source, await plainDump('from_remote'), 'app vs from_remote');
  });

  it('a wrong passphrase: exit 3 with one clear line, the existing target as it was (S3 and local)', async () => {
    await pg.query('CREATE DATABASE victim');
    await pg.query("CREATE TABLE keep_me AS SELECT 'still here' AS v", 'victim');
    for (const from of ['s3', 'local']) {
      const r = await restore({ RESTORE_SOURCE: from, RESTORE_FOLDER: ENC, RESTORE_TARGET_DATABASE: 'victim', RESTORE_OVERWRITE: 'true' }, (e) => env({ BACKUP_ENCRYPTION_KEY: 'not-the-passphrase', ...e }));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/cannot be decrypted with BACKUP_ENCRYPTION_KEY: wrong passphrase or damaged file/);
      expect(errorLines(r)).toHaveLength(1);
      expect(await pg.query('SELECT v FROM keep_me', 'victim')).toEqual([{ v: 'still here' }]);
    }
    expect((await databases()).filter((d) => d.includes('restore'))).toEqual([]);
  });

  it('no passphrase: exit 2 naming BACKUP_ENCRYPTION_KEY, before anything is downloaded', async () => {
    const restoreDir = join(dir, 'restore-nokey');
    const r = await restore({ RESTORE_SOURCE: 's3', RESTORE_FOLDER: ENC, RESTORE_DATABASE: 'nokey', RESTORE_DIR: restoreDir }, env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/BACKUP_ENCRYPTION_KEY is not set/);
    expect(errorLines(r)).toHaveLength(1);
    expect(existsSync(restoreDir) ? await readdir(restoreDir) : []).toEqual([]);
    expect(await databases()).not.toContain('nokey');
  });

  it('a flipped byte: verify and restore exit 3, nothing created; a dump cut short fails verify', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad);
    const bytes = await readFile(join(local, ENC));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
    await writeFile(join(bad, ENC), bytes);
    const badEnv = (e: Record<string, string>) => withKey({ BACKUP_DIR: bad, S3_ENABLED: 'false', ...e });
    const v = await cli(['verify', ENC], badEnv({}));
    expect(v.code, v.stderr).toBe(3);
    expect(v.stdout).toMatch(/DAMAGED/);
    const r = await restore({ RESTORE_SOURCE: 'local', RESTORE_FOLDER: ENC, RESTORE_DATABASE: 'flipped' }, badEnv);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/is damaged/);
    expect(errorLines(r)).toHaveLength(1);
    expect(await databases()).not.toContain('flipped');
    // a plain file whose SQL was cut short (a whole gzip stream of a partial dump)
    const cut = await runTool('bash', ['-c', 'gunzip -c "$1" | head -n 200 | gzip -6 > "$2"', 'bash', join(local, PLAIN), join(bad, PLAIN)], process.env);
    expect(cut.code, cut.stderr).toBe(0);
    const vc = await cli(['verify', PLAIN], badEnv({}));
    expect(vc.code, vc.stderr).toBe(3);
    expect(vc.stdout).toMatch(/does not end with "PostgreSQL database dump complete"/);
  });

  it('usage: a cluster or globals restore of such a file, or no database name, is exit 2 with one line', async () => {
    for (const type of ['cluster', 'globals']) {
      const r = await cli(['restore'], withKey({ RESTORE_TYPE: type, RESTORE_SOURCE: 'local', RESTORE_FOLDER: ENC }));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/holds one database/);
    }
    const noName = await cli(['restore'], withKey({ RESTORE_TYPE: 'database', RESTORE_SOURCE: 'local', RESTORE_FOLDER: ENC }));
    expect(noName.code, noName.stderr).toBe(2);
    expect(noName.stderr).toMatch(/does not name its database: set RESTORE_DATABASE \(or RESTORE_TARGET_DATABASE\)/);
  });

  it('prune never deletes them (they are not ours), on local disk or S3', async () => {
    const r = await cli(['prune', '--json'], env({ LOCAL_RETENTION_DAYS: '1', S3_RETENTION_DAYS: '1' }));
    expect(r.code, r.stderr).toBe(0);
    for (const name of [PLAIN, ENC]) {
      expect(existsSync(join(local, name))).toBe(true);
      const got = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${name}` }));
      expect(Number(got.ContentLength)).toBe((await readFile(join(local, name))).length);
      await got.Body?.transformToByteArray();
    }
    const keys = (await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${PREFIX}/` }))).Contents!.map((o) => o.Key);
    expect(keys).toContain(`${PREFIX}/${ENC}`);
  });

  it('the passphrase never appears in any output', () => {
    expect(results.length).toBeGreaterThan(10);
    for (const r of results) expect(r.stdout + r.stderr).not.toContain(PASSPHRASE);
  });
});
