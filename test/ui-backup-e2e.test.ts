// "Back up now" from the terminal UI, end to end in a real pseudo-terminal, against a real
// PostgreSQL, s3rver and sshd: `b` on the backups screen, and then what an operator would check
// with their own tools: the folder on local disk, the objects in the bucket, the files on the
// remote host, every file with the size (and sha256) its manifest records. Stopping a running
// backup from the screen (Esc, then y; or Ctrl-C twice) leaves nothing that looks finished: during
// a dump nothing at all; during the uploads (S3 frozen) only what is whole, and the screen says so.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { baseEnv } from './helpers/cli.js';
import { clientBinDir } from './helpers/clients.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { KEY, endSession, processesForPort, spawnCliInPty, type PtySession } from './helpers/pty.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

const FOLDER = /^\d{8}_\d{6}$/;
/** The run history next to the backups (`pg-backups status`); not a backup. */
const STATE_FILE = '.pg-backups-state.json';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface ManifestFile {
  name: string;
  bytes: number;
  sha256: string;
}

describe('back up now from the terminal UI', () => {
  let pg15: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  let backupDir: string;
  let remoteDir: string;
  const prefix = 'screen';
  const sessions: PtySession[] = [];

  const env = () =>
    baseEnv({
      ...pg15.env(),
      PATH: `${clientBinDir(15)}:/usr/bin:/bin`,
      BACKUP_DIR: backupDir,
      RESTORE_DIR: join(dir, 'restore'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...s3.s3Env({ S3_PREFIX: prefix }),
      ...sshd.rsyncEnv(remoteDir),
      RETRY_DELAY: '0.2',
    });
  const open = () => {
    // Wide enough that the result's lines (a folder path) stay on one line each.
    const s = spawnCliInPty([], env(), { columns: 140, rows: 40 });
    sessions.push(s);
    return s;
  };

  /** What the bucket holds under the prefix: key -> size. */
  const s3Objects = async (under = `${prefix}/`): Promise<Map<string, number>> => {
    const out = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: under }));
    return new Map((out.Contents ?? []).map((o) => [o.Key!, o.Size!]));
  };
  const s3Body = async (key: string): Promise<Buffer> => {
    const out = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };
  /** Everything in a folder (names only, hidden ones included, but the run history); [] when it does not exist. */
  const names = async (path: string) => (await readdir(path).catch(() => [] as string[])).filter((n) => n !== STATE_FILE).sort();
  /** The outcomes the run history of BACKUP_DIR recorded, newest first. */
  const outcomes = async () => {
    const text = await readFile(join(backupDir, STATE_FILE), 'utf8').catch(() => '{"runs":[]}');
    return (JSON.parse(text) as { runs: Array<{ outcome: string; trigger: string }> }).runs.map((r) => `${r.trigger}:${r.outcome}`).reverse();
  };
  /** pg_dump sessions on the server (one waiting for a lock shows here until it is killed). */
  const dumpSessions = async () => Number((await pg15.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_dump'`))[0].n);

  beforeAll(async () => {
    [pg15, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('ui-backup-e2e-')]);
    backupDir = join(dir, 'backups');
    remoteDir = join(sshd.remoteRoot, 'pg');
    // A fresh installation: the folders are there, no backup yet anywhere.
    await Promise.all([mkdir(backupDir), mkdir(remoteDir)]);
    await pg15.query('CREATE DATABASE shop');
    await pg15.query(`CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 5000) g`, 'shop');
    // The last database dumped (names in order): a lock on its table makes pg_dump wait there.
    await pg15.query('CREATE DATABASE zzz_locked');
    await pg15.query('CREATE TABLE t (id int); INSERT INTO t VALUES (1)', 'zzz_locked');
  });
  afterEach(async () => {
    // A failed test leaves its session running: stopped as an operator would (Ctrl-C twice), SIGKILL if that does not end it.
    for (const s of sessions.splice(0)) await endSession(s);
  });
  afterAll(async () => {
    await Promise.all([pg15?.stop(), s3?.stop(), sshd?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a backup started from the screen lands on every enabled destination, and the list shows it on all three', async () => {
    const ui = open();
    await ui.waitForText(/local .*ok, 0 backups/);
    await ui.waitForText(/s3 .*ok, 0 backups/);
    let screen = await ui.waitForText(/remote .*ok, 0 backups/);
    expect(screen).toMatch(/no backups on the sources that answered; b backs up now/);
    expect(screen.split('\n').at(-1)).toMatch(/b back up now/);

    await ui.press('b');
    await ui.waitForText(/backup of the server now · elapsed/);
    screen = await ui.waitForText(/Done: backup of the server now/, 120_000);
    const folder = /backup (\d{8}_\d{6}): (\d+) files, .* in (\S+)/.exec(screen);
    expect(folder, screen).not.toBeNull();
    const [, name, count, path] = folder!;
    expect(path).toBe(join(backupDir, name!));
    expect(screen).toMatch(/^on: local, s3, remote$/m);

    // Local disk: the folder, its manifest, every file of the manifest with its size and sha256.
    expect(await names(backupDir)).toEqual([name]); // no staging folder, no lock file left
    expect((await outcomes())[0]).toBe('backup:ok'); // recorded in the run history, as any run
    const manifestBytes = await readFile(join(backupDir, name!, 'manifest.json'));
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as { folder: string; databases: string[]; files: ManifestFile[] };
    expect(manifest.folder).toBe(name);
    expect(manifest.databases).toEqual(expect.arrayContaining(['postgres', 'shop', 'zzz_locked']));
    expect(manifest.files.map((f) => f.name)).toEqual(expect.arrayContaining(['postgres_cluster.sql.gz', 'postgres_globals.sql.gz', 'postgres_db_shop.sql.gz']));
    expect(manifest.files).toHaveLength(Number(count));
    const expected = new Map<string, number>([...manifest.files.map((f): [string, number] => [f.name, f.bytes]), ['manifest.json', manifestBytes.length]]);
    expect(await names(join(backupDir, name!))).toEqual([...expected.keys()].sort());
    for (const f of manifest.files) {
      const local = await readFile(join(backupDir, name!, f.name));
      expect(local.length, `local ${f.name}`).toBe(f.bytes);
      expect(sha256(local), `local ${f.name}`).toBe(f.sha256);
    }

    // S3: the objects under the prefix are exactly the folder's files, with the manifest's sizes.
    const objects = await s3Objects();
    expect([...objects.keys()].sort()).toEqual([...expected.keys()].map((n) => `${prefix}/${name}/${n}`).sort());
    for (const [file, bytes] of expected) expect(objects.get(`${prefix}/${name}/${file}`), `s3 ${file}`).toBe(bytes);
    expect((await s3Body(`${prefix}/${name}/manifest.json`)).equals(manifestBytes)).toBe(true);
    for (const f of manifest.files) expect(sha256(await s3Body(`${prefix}/${name}/${f.name}`)), `s3 ${f.name}`).toBe(f.sha256);

    // The remote host: the folder under RSYNC_PATH (no partial folder beside it), the same files.
    expect(await names(remoteDir)).toEqual([name]);
    expect(await names(join(remoteDir, name!))).toEqual([...expected.keys()].sort());
    for (const [file, bytes] of expected) expect((await stat(join(remoteDir, name!, file))).size, `remote ${file}`).toBe(bytes);
    expect((await readFile(join(remoteDir, name!, 'manifest.json'))).equals(manifestBytes)).toBe(true);
    for (const f of manifest.files) expect(sha256(await readFile(join(remoteDir, name!, f.name))), `remote ${f.name}`).toBe(f.sha256);

    // Back to the list: the sources are listed again and the new backup is there, on all three.
    await ui.press(KEY.enter);
    await ui.waitForText(/local .*ok, 1 backup, newest/);
    await ui.waitForText(/s3 .*ok, 1 backup, newest/);
    await ui.waitForText(/remote .*ok, 1 backup, newest/);
    screen = await ui.waitForText(new RegExp(`> ${name} +(just now|\\dm ago) +finished +15\\.\\d+ +${manifest.databases.length} +\\S+ \\S+ +local,s3,remote`));
    expect(screen.split('\n').filter((l) => /\d{8}_\d{6}/.test(l))).toHaveLength(1);

    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(0);
    expect(ui.output()).toMatch(/pg-backups: done: backup of the server now/);
  });

  /** Runs `work` while a session holds a lock on zzz_locked.t: a backup's pg_dump waits there. */
  async function whileLocked(work: () => Promise<void>): Promise<void> {
    const locker = new pg.Client(pg15.clientConfig('zzz_locked'));
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    try {
      await work();
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
    }
  }

  /** The state of the three destinations, for "nothing changed" checks. */
  const destinations = async () => ({ local: await names(backupDir), s3: [...(await s3Objects()).keys()].sort(), remote: await names(remoteDir) });

  /** Opens the screen, presses b and waits until the run's pg_dump waits for the lock on zzz_locked. */
  async function backupWaitingForTheLock(): Promise<PtySession> {
    const ui = open();
    await ui.waitForText(/remote .*ok, \d+ backup/);
    await ui.waitForText(/local .*ok, \d+ backup/);
    await ui.press('b');
    await ui.waitForText(/dumping database "zzz_locked"/, 60_000);
    // pg_dump is connected and blocked (not just about to start).
    const deadline = Date.now() + 30_000;
    while ((await dumpSessions()) === 0) {
      if (Date.now() > deadline) throw new Error(`pg_dump never waited for the lock; the screen shows:\n${ui.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The run's staging folder is there, hidden: the stop must remove it.
    expect((await names(backupDir)).some((n) => /^\.pg-backups-\d{8}_\d{6}\.partial$/.test(n))).toBe(true);
    return ui;
  }

  /** After a stop: no new folder anywhere, no staging folder, no lock file, no pg_dump, no child process. */
  async function nothingLeft(before: Awaited<ReturnType<typeof destinations>>, ui: PtySession): Promise<void> {
    expect(await destinations()).toEqual(before);
    expect((await names(backupDir)).filter((n) => !FOLDER.test(n))).toEqual([]);
    expect((await outcomes())[0]).toBe('backup:stopped'); // the run history says it was stopped
    expect(await dumpSessions()).toBe(0);
    expect(await processesForPort(pg15.port, [ui.pid])).toEqual([]);
  }

  it('Esc during a running backup asks, y stops it: nothing that looks finished is left anywhere, exit 1', async () => {
    const before = await destinations();
    await whileLocked(async () => {
      const ui = await backupWaitingForTheLock();
      await ui.press(KEY.esc);
      await ui.waitForText(/Stop the backup\? y: stop now · n: go on/);
      // n goes on: the run is still there
      await ui.press('n');
      await ui.waitForText(/Esc or Ctrl-C stop/);
      expect(await dumpSessions()).toBe(1);
      await ui.press(KEY.esc);
      await ui.waitForText(/Stop the backup\?/);
      await ui.press('y');
      const screen = await ui.waitForText(/STOPPED: backup of the server now/, 60_000);
      expect(screen.replace(/\s+/g, ' ')).toMatch(/the backup stopped: no unfinished folder is left looking finished/);
      expect(screen).toMatch(/backup stopped during the dump of database "zzz_locked"; nothing was kept/);
      await nothingLeft(before, ui);
      // The list, listed again, has what it had.
      await ui.press(KEY.enter);
      await ui.waitForText(new RegExp(`local .*ok, ${before.local.length} backups?`));
      await ui.press('q');
      expect((await ui.exited).exitCode).toBe(1);
      expect(ui.output()).toMatch(/pg-backups: STOPPED: backup of the server now/);
    });
  });

  /** The pid of this test's s3rver (a child of the helper, found by its port). */
  async function s3rverPid(): Promise<number> {
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').then((c) => c.split('\0'), () => [] as string[]);
      if (argv.some((a) => a.endsWith('s3rver.js')) && argv[argv.indexOf('-p') + 1] === String(s3.port)) return Number(pid);
    }
    throw new Error(`no s3rver process on port ${s3.port}`);
  }

  it('Esc while the upload to S3 hangs (the server frozen): S3 keeps no part of it; what is kept is whole and listed as such', async () => {
    const before = await destinations();
    const ui = open();
    await ui.waitForText(/s3 .*ok, \d+ backup/);
    await ui.waitForText(/remote .*ok, \d+ backup/);
    await ui.waitForText(/local .*ok, \d+ backup/);
    const pid = await s3rverPid();
    process.kill(pid, 'SIGSTOP'); // accepts connections (the kernel does), answers nothing
    let frozen = true;
    try {
      await ui.press('b');
      // The dump is done and published locally, the remote host has its copy; S3 hangs.
      const deadline = Date.now() + 90_000;
      let added: string[] = [];
      for (;;) {
        added = (await names(remoteDir)).filter((n) => FOLDER.test(n) && !before.remote.includes(n));
        if (added.length > 0) break;
        if (Date.now() > deadline) throw new Error(`the remote host never got the backup; the screen shows:\n${ui.screen()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const name = added[0]!;
      let screen = await ui.waitForText(/\[\.\.\.\.\] +upload to \S*s3:\/\/pgb-test\/screen/);
      expect(screen).toMatch(/Esc or Ctrl-C stop/);
      await ui.press(KEY.esc);
      await ui.waitForText(/Stop the backup\?/);
      await ui.press('y');
      // "Stopping" shows while the pushes end; an aborted upload can end at once, straight to the result.
      await ui.waitForText(/Stopping|STOPPED: backup of the server now/);
      // The server comes back: the stopped push removes what it wrote.
      process.kill(pid, 'SIGCONT');
      frozen = false;
      screen = await ui.waitForText(/STOPPED: backup of the server now/, 120_000);
      // What state things are in: the local folder was whole before the uploads began, and stays.
      expect(screen.replace(/\s+/g, ' ')).toContain(
        `the backup stopped while shipping: ${name} is whole on local disk (${join(backupDir, name)}) and stays; no destination is left with an unfinished copy that looks finished`,
      );

      // S3: the stopped push removed what it wrote (the marker, any file; never a manifest.json).
      expect([...(await s3Objects(`${prefix}/${name}/`)).keys()]).toEqual([]);
      // Local disk and the remote host: the folder is whole, every file with its manifest's size.
      const manifestBytes = await readFile(join(backupDir, name, 'manifest.json'));
      const manifest = JSON.parse(manifestBytes.toString('utf8')) as { files: ManifestFile[] };
      for (const root of [backupDir, remoteDir]) {
        for (const f of manifest.files) expect((await stat(join(root, name, f.name))).size, `${root} ${f.name}`).toBe(f.bytes);
        expect((await readFile(join(root, name, 'manifest.json'))).equals(manifestBytes)).toBe(true);
      }
      expect((await names(backupDir)).filter((n) => !FOLDER.test(n))).toEqual([]); // no staging folder, no lock
      expect((await names(remoteDir)).filter((n) => !FOLDER.test(n))).toEqual([]); // no partial folder
      expect(await processesForPort(pg15.port, [ui.pid])).toEqual([]);

      // The list, listed again: the backup is there, finished, on local disk and the remote host only.
      await ui.press(KEY.enter);
      await ui.waitForText(/s3 .*ok, \d+ backup/);
      screen = await ui.waitForText(new RegExp(`> ${name} .* finished .* local,remote\\s*$`, 'm'));
      await ui.press('q');
      expect((await ui.exited).exitCode).toBe(1);
    } finally {
      if (frozen) process.kill(pid, 'SIGCONT');
    }
  });

  it('Ctrl-C twice during a running backup stops it at once and leaves, with the same cleanup', async () => {
    const before = await destinations();
    await whileLocked(async () => {
      const ui = await backupWaitingForTheLock();
      await ui.press(KEY.ctrlC);
      await ui.waitForText(/Stop the backup\?/);
      await ui.press(KEY.ctrlC);
      expect((await ui.exited).exitCode).toBe(1);
      expect(ui.output()).toMatch(/pg-backups: STOPPED: backup of the server now/);
      await nothingLeft(before, ui);
    });
  });
});
