// The terminal UI end to end, in a real pseudo-terminal, against a real PostgreSQL, s3rver and
// sshd: keys typed as an operator types them, the screen read back from a headless xterm.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientBinDir } from './helpers/clients.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { KEY, processesForPort, spawnCliInPty, type PtySession } from './helpers/pty.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

const exec = promisify(execFile);

/** Retries a check until it passes (or the time is up, with its last failure). */
async function eventually(check: () => Promise<void>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('the terminal UI in a pseudo-terminal', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  let closedPort: number;
  const sessions: PtySession[] = [];

  const env = (extra: Record<string, string> = {}) =>
    baseEnv({
      ...pg.env(),
      PATH: `${clientBinDir(15)}:/usr/bin:/bin`,
      BACKUP_DIR: join(dir, 'local'),
      RESTORE_DIR: join(dir, 'restore'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...s3.s3Env({ S3_PREFIX: 'ui' }),
      ...extra,
    });
  /** The remote host configured, but nothing listens on its port: an unreachable source. */
  const withDeadRemote = () => env({ ...sshd.rsyncEnv('/srv/none'), RSYNC_PORT: String(closedPort) });
  const open = (args: string[], e: Record<string, string>, size?: { columns: number; rows: number }) => {
    const s = spawnCliInPty(args, e, size);
    sessions.push(s);
    return s;
  };
  /** psql, as an operator checks: the one value of a query. */
  const psql = async (database: string, sql: string) => {
    const { stdout } = await exec(join(clientBinDir(15), 'psql'), ['-X', '-At', '-d', database, '-c', sql], { env: { ...process.env, ...pg.env() } });
    return stdout.trim();
  };

  beforeAll(async () => {
    [pg, s3, sshd, dir, closedPort] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('ui-e2e-'), freePort()]);
    await pg.query('CREATE DATABASE shop');
    await pg.query(`CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 1234) g`, 'shop');
    await pg.query('CREATE DATABASE big');
    await pg.query(`CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, repeat(md5(g::text), 4) AS b FROM generate_series(1, 1500000) g`, 'big');
    const r = await runCli(['backup'], env());
    expect(r.code, r.stderr).toBe(0);
  });
  afterEach(async () => {
    // A failed test leaves its session running: end it, so that the next test's checks see only its own.
    // Ctrl-C twice first (stop at once, with the cleanup), SIGKILL only if that does not end it.
    for (const s of sessions.splice(0)) {
      await s.press(KEY.ctrlC, KEY.ctrlC).catch(() => {});
      const ended = await Promise.race([s.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
      if (!ended) {
        s.kill();
        await s.exited;
      }
    }
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
  });

  it('from the first screen to a database restored under a new name from S3, while the remote host is unreachable', async () => {
    const ui = open([], withDeadRemote());
    let screen = await ui.waitForText(/local .*ok, 1 backup/);
    await ui.waitForText(/s3 .*ok, 1 backup/);
    screen = await ui.waitForText(/remote .*UNREACHABLE: /);
    expect(screen).toMatch(/Target server postgres@127\.0\.0\.1:\d+ +PostgreSQL 15\.\d+ +reachable/);
    expect(screen).toMatch(/> \d{8}_\d{6} +(just now|\dm ago) +finished +15\.\d+ +3 .* local,s3/);
    expect(screen.split('\n').at(-1)).toMatch(/Enter open/);
    await ui.press(KEY.enter);
    await ui.waitForText(/Copy read: local .*c: use the copy on s3/);
    await ui.press('c');
    await ui.waitForText(/Copy read: s3 s3:\/\/pgb-test\/ui/);
    await ui.press(KEY.enter);
    await ui.waitForText(/which one\?/);
    await ui.press('/', ...'sho', KEY.enter, KEY.enter);
    screen = await ui.waitForText(/Target name: "shop" \(the original name\)/);
    expect(screen).toMatch(/"shop" EXISTS on the server: it will be REPLACED/);
    await ui.press('n');
    screen = await ui.waitForText(/Target name: "shop_restored"/);
    expect(screen).toMatch(/does not exist on the server: it will be CREATED/);
    await ui.press(KEY.enter);
    screen = await ui.waitForText(/Enter starts the restore/, 60_000);
    expect(screen).toMatch(/file +postgres_db_shop\.sql\.gz, .* downloaded/);
    expect(screen).toMatch(/creates +database\(s\) "shop_restored"/);
    await ui.press(KEY.enter);
    screen = await ui.waitForText(/Done: restore of database "shop" as "shop_restored" from \d{8}_\d{6} \(s3\)/, 120_000);
    expect(screen).toMatch(/next: compare it with the original/);
    expect(await psql('shop_restored', 'SELECT count(*) FROM orders')).toBe('1234');
    expect(await psql('shop_restored', "SELECT item FROM orders WHERE id = 77")).toBe('item 77');
    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(0);
    // The screen is gone; the summary stays in the terminal, and the whole log in RESTORE_DIR.
    expect(ui.output()).toMatch(/pg-backups: done: restore of database "shop" as "shop_restored"/);
    const logs = (await readdir(join(dir, 'restore'))).filter((f) => f.startsWith('pg-backups-session-'));
    expect(logs.length).toBeGreaterThan(0);
    const texts = await Promise.all(logs.map((f) => readFile(join(dir, 'restore', f), 'utf8')));
    expect(texts.join('\n')).toMatch(/finished: restore of database "shop" as "shop_restored"/);
    await pg.query('DROP DATABASE shop_restored');
  });

  it('replacing an existing database: a wrong typed name is refused, the right one restores', async () => {
    await pg.query(`INSERT INTO orders VALUES (99999, 'added after the backup')`, 'shop');
    const ui = open(['restore'], env());
    await ui.waitForText(/local .*ok, 1 backup/);
    await ui.press(KEY.enter);
    await ui.waitForText(/Copy read: local/);
    await ui.press(KEY.enter, '/', ...'shop', KEY.enter, KEY.enter);
    await ui.waitForText(/"shop" EXISTS on the server: it will be REPLACED/);
    await ui.press(KEY.enter);
    let screen = await ui.waitForText(/Type its name to go ahead: shop/, 60_000);
    expect(screen).toMatch(/replaces +database "shop"/);
    await ui.press(...'shp', KEY.enter);
    screen = await ui.waitForText(/"shp" is not "shop": nothing was done; type it exactly\./);
    expect(await psql('shop', 'SELECT count(*) FROM orders')).toBe('1235');
    await ui.press(...'shop', KEY.enter);
    await ui.waitForText(/Done: restore of database "shop" from/, 120_000);
    expect(await psql('shop', 'SELECT count(*) FROM orders')).toBe('1234');
    await ui.press(KEY.esc);
    await ui.waitForText(/> \d{8}_\d{6}/);
    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(0);
  });

  it('Ctrl-C in the middle of a big restore: asked, stopped, the target as it was, no staging database, no child left, exit 1', async () => {
    await pg.query(`INSERT INTO rows VALUES (0, 'marker', 'after the backup')`, 'big');
    const before = await psql('big', 'SELECT count(*) FROM rows');
    const ui = open(['restore'], env());
    await ui.waitForText(/local .*ok, 1 backup/);
    await ui.press(KEY.enter);
    await ui.waitForText(/Copy read: local/);
    await ui.press(KEY.enter, '/', ...'big', KEY.enter, KEY.enter);
    await ui.waitForText(/"big" EXISTS/);
    await ui.press(KEY.enter);
    await ui.waitForText(/Type its name to go ahead: big/, 60_000);
    await ui.press(...'big', KEY.enter);
    // psql is at work on the staging database
    await ui.waitForText(/restore of database "big".*\n.*\[#*-+\] +\d+%/, 120_000);
    await eventually(async () => expect(await psql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_\\_pgb\\_restore\\_%'")).toBe('1'));
    expect(ui.screen()).toMatch(/restore of database "big"/);
    await ui.press(KEY.ctrlC);
    await ui.waitForText(/Stop the restore\? y: stop now/);
    await ui.press('y');
    const screen = await ui.waitForText(/STOPPED: restore of database "big"/, 60_000);
    expect(screen.replace(/\s+/g, ' ')).toMatch(/the restore stopped: database "big" is as it was before; the staging database was dropped/);
    expect(await psql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_\\_pgb\\_restore\\_%'")).toBe('0');
    expect(await psql('big', 'SELECT count(*) FROM rows')).toBe(before);
    expect(await psql('big', "SELECT b FROM rows WHERE id = 0")).toBe('after the backup');
    expect(await processesForPort(pg.port, [ui.pid])).toEqual([]);
    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(1);
    expect(ui.output()).toMatch(/pg-backups: STOPPED: restore of database "big"/);
  });

  it('a second Ctrl-C at the question stops at once with the same cleanup, and leaves with exit 1', async () => {
    const ui = open(['restore'], env());
    await ui.waitForText(/local .*ok, 1 backup/);
    await ui.press(KEY.enter);
    await ui.waitForText(/Copy read: local/);
    await ui.press(KEY.enter, '/', ...'big', KEY.enter, KEY.enter, 'n', KEY.enter);
    await ui.waitForText(/Enter starts the restore/, 60_000);
    await ui.press(KEY.enter);
    await ui.waitForText(/restore of database "big".*\n.*\[#*-+\] +\d+%/, 120_000);
    await ui.press(KEY.ctrlC);
    await ui.waitForText(/Stop the restore\?/);
    await ui.press(KEY.ctrlC);
    expect((await ui.exited).exitCode).toBe(1);
    expect(ui.output()).toMatch(/pg-backups: STOPPED: restore of database "big" as "big_restored"/);
    expect(await psql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_\\_pgb\\_restore\\_%' OR datname = 'big_restored'")).toBe('0');
    expect(await processesForPort(pg.port)).toEqual([]);
  });

  it('80x24, a resize in the middle of the list, help overlay; without a terminal, pg-backups restore stays exit 2', async () => {
    const ui = open([], env(), { columns: 80, rows: 24 });
    await ui.waitForText(/local .*ok, 1 backup/);
    for (const line of ui.screen().split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    ui.resize(100, 30);
    await ui.waitForText(/\? help$/m);
    await ui.press('?');
    await ui.waitForText(/any key: close help/);
    await ui.press('x');
    await ui.waitForText(/Enter open/);
    ui.resize(60, 16);
    const small = await ui.waitForText(/> \d{8}_\d{6}/);
    for (const line of small.split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(0);
    const piped = await runCli(['restore'], env());
    expect(piped.code).toBe(2);
    expect(piped.stderr).toMatch(/nothing to restore: no terminal to ask in/);
  });
});
