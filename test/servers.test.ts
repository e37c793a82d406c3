// Several servers in one service (seed 000's BACKUP_<NAME>=postgresql://...): two real servers of
// different majors and one that is down, shipped to local disk, S3 (s3rver) and a remote host (sshd).
// Each lands under its own name with its own matching client and run history; the down one fails
// alone; list, verify, prune, restore, status and healthcheck take the server's name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { json, startReceiver } from './helpers/http-receiver.js';
import { startService, stopWhen } from './helpers/service-process.js';
import { clientBinDir } from './helpers/clients.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { KEY, endSession, spawnCliInPty } from './helpers/pty.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

const FOLDER = /^\d{8}_\d{6}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A password that needs URL encoding, and must never show anywhere.
const PASSWORD = 'p@ss:w/rd %?#secret-7f3a';

describe('several servers in one service', () => {
  let pg15: PgServer;
  let pg17: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  let downPort: number;
  let env: (extra?: Record<string, string>) => Record<string, string>;
  const url = (s: { port: number }, db = 'postgres') => `postgresql://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${s.port}/${db}`;
  let folders: Record<string, string> = {};

  beforeAll(async () => {
    [pg15, pg17, s3, sshd, dir, downPort] = await Promise.all([
      startPgServer(15, { password: PASSWORD }),
      startPgServer(17, { password: PASSWORD }),
      startS3Server(),
      startSshd(),
      makeTempDir('servers-'),
      freePort(),
    ]);
    await pg15.query(`CREATE DATABASE "shop 15"`);
    await pg15.query(`CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'fifteen ' || g FROM generate_series(1, 500) g`, 'shop 15');
    await pg17.query(`CREATE DATABASE shop17`);
    await pg17.query(`CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, E'seventeen\\n' || g FROM generate_series(1, 700) g`, 'shop17');
    env = (extra = {}) =>
      baseEnv({
        // The clients of both majors on PATH: each server must get its own.
        PATH: `/usr/bin:/bin:${clientBinDir(15)}:${clientBinDir(17)}`,
        BACKUP_ALPHA: url(pg15),
        BACKUP_Beta: url(pg17),
        BACKUP_DOWN: `postgresql://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${downPort}/postgres?connect_timeout=3`,
        BACKUP_DIR: join(dir, 'local'),
        ...s3.s3Env({ S3_PREFIX: 'svc' }),
        ...sshd.rsyncEnv(join(sshd.remoteRoot, 'svc')),
        RETRY_DELAY: '0.2',
        RETRY_ATTEMPTS: '1',
        ...extra,
      });
  });
  afterAll(async () => {
    await Promise.all([pg15?.stop(), pg17?.stop(), s3?.stop(), sshd?.stop()]);
  });

  const s3Keys = async (prefix: string) =>
    ((await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();

  it('backup: each server under its name on every destination with its own major; the down one fails alone (exit 1)', async () => {
    const r = await runCli(['backup', '--json'], env());
    expect(r.code, r.stderr).toBe(1);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
    }
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.servers.map((s: any) => [s.server, s.ok])).toEqual([
      ['alpha', true],
      ['beta', true],
      ['down', false],
    ]);
    expect(out.servers[2].error).toMatch(new RegExp(`127\\.0\\.0\\.1:${downPort}`));
    expect(r.stderr).toMatch(/ error down: no backup: /);
    for (const s of out.servers.slice(0, 2)) folders[s.server] = s.folder;

    for (const [name, major] of [['alpha', 15], ['beta', 17]] as const) {
      const folder = folders[name]!;
      const local = join(dir, 'local', name, folder);
      const manifest = JSON.parse(await readFile(join(local, 'manifest.json'), 'utf8'));
      expect(manifest.server.major).toBe(major);
      expect(manifest.pgDump.major).toBe(major);
      expect(JSON.stringify(manifest)).not.toContain(PASSWORD);
      const files = (await readdir(local)).sort();
      expect(files.some((f) => f.startsWith('postgres_db_shop'))).toBe(true);
      expect(await s3Keys(`svc/${name}/${folder}/`)).toEqual(files.map((f) => `svc/${name}/${folder}/${f}`));
      expect((await readdir(join(sshd.remoteRoot, 'svc', name, folder))).sort()).toEqual(files);
    }
    // Nothing at the top of the places (today's layout is for one server given the libpq way).
    expect((await readdir(join(dir, 'local'))).sort()).toEqual(['alpha', 'beta', 'down']);
    expect(await s3Keys('svc/down/')).toEqual([]);
    expect((await readdir(join(sshd.remoteRoot, 'svc'))).sort()).toEqual(['alpha', 'beta']);
    // Each server's own run history; the down one's failure is in its own.
    const hist = async (name: string) => JSON.parse(await readFile(join(dir, 'local', name, '.pg-backups-state.json'), 'utf8')).runs;
    expect((await hist('alpha')).map((x: any) => x.outcome)).toEqual(['ok']);
    expect((await hist('beta')).map((x: any) => x.outcome)).toEqual(['ok']);
    const down = await hist('down');
    expect(down.map((x: any) => x.outcome)).toEqual(['failed']);
    expect(down[0].error).toMatch(new RegExp(`${downPort}`));
  });

  it('--server backs up one; an unknown name and PGHOST beside BACKUP_<NAME> are refused (exit 2) before anything', async () => {
    const one = await runCli(['backup', '--server', 'beta', '--json'], env());
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout).servers.map((s: any) => s.server)).toEqual(['beta']);
    const unknown = await runCli(['backup', '--server', 'gamma'], env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--server=gamma: no server of that name; the servers are alpha, beta, down/);
    const both = await runCli(['backup'], env({ PGHOST: '127.0.0.1' }));
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/PGHOST is set, and BACKUP_ALPHA names the server alpha to back up/);
  });

  it('list shows every server\'s backups by name; verify needs --server among several and checks that one', async () => {
    const list = await runCli(['list', '--json'], env());
    expect(list.code, list.stderr).toBe(0);
    const backups = JSON.parse(list.stdout).backups;
    expect(new Set(backups.map((b: any) => b.server))).toEqual(new Set(['alpha', 'beta']));
    const alpha = backups.find((b: any) => b.server === 'alpha' && b.folder === folders.alpha);
    expect(alpha.locations.map((l: any) => l.source).sort()).toEqual(['local', 'remote', 's3']);
    const text = await runCli(['list', '--server', 'alpha'], env());
    expect(text.stdout).toContain(`alpha/${folders.alpha}`);
    expect(text.stdout).not.toContain('beta/');

    const ambiguous = await runCli(['verify'], env());
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/several servers are configured \(alpha, beta, down\); name one with --server/);
    const verify = await runCli(['verify', folders.alpha!, '--server', 'alpha', '--json'], env());
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).reports.map((r: any) => r.source ?? r.kind ?? 'x')).toHaveLength(3);
  });

  it('restore RESTORE_SERVER=beta from S3 goes to that server (its BACKUP_BETA) under a new name, rows equal', async () => {
    const r = await runCli(['restore', '--json'], env({
      RESTORE_SERVER: 'Beta',
      RESTORE_SOURCE: 's3',
      RESTORE_FOLDER: folders.beta!,
      RESTORE_TYPE: 'database',
      RESTORE_DATABASE: 'shop17',
      RESTORE_TARGET_DATABASE: 'shop17_restored',
      RESTORE_DIR: join(dir, 'restore'),
    }));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, server: 'beta', folder: folders.beta });
    const rows = (db: string) => pg17.query(`SELECT string_agg(id || ':' || note, ',' ORDER BY id) AS all FROM items`, db);
    expect(await rows('shop17_restored')).toEqual(await rows('shop17'));
    // The downloads went under RESTORE_DIR/beta.
    expect(await readdir(join(dir, 'restore'))).toContain('beta');
    // Nothing landed on the other server.
    expect((await pg15.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'shop17_restored'`))[0].n).toBe(0);

    const none = await runCli(['restore'], env({ RESTORE_TYPE: 'globals', RESTORE_SOURCE: 'local' }));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name one with RESTORE_SERVER, e\.g\. RESTORE_SERVER=alpha/);
  });

  it('status and healthcheck report every server; the down one makes the service unhealthy, naming it', async () => {
    const status = await runCli(['status', '--json'], env());
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout);
    const byName = Object.fromEntries(s.servers.map((x: any) => [x.server, x]));
    expect(byName.alpha.health.healthy).toBe(true);
    expect(byName.beta.health.healthy).toBe(true);
    expect(byName.down.health.healthy).toBe(false);
    expect(byName.down.runs[0]).toMatchObject({ outcome: 'failed' });
    const text = await runCli(['status'], env());
    expect(text.stdout).toMatch(/^down: unhealthy: the last run .* failed/m);
    const health = await runCli(['healthcheck'], env());
    expect(health.code).toBe(1);
    expect(health.stdout).toMatch(/unhealthy: down: the last run/);
    const alphaOnly = await runCli(['healthcheck', '--server', 'alpha'], env());
    expect(alphaOnly.code, alphaOnly.stdout).toBe(0);
  });

  it('schedule backs up every server each time; the down one is logged, recorded and notified, the others land', async () => {
    // A webhook receiver: failures are notified (NOTIFY_ON=failure, the default), with the server's name.
    const receiver = await startReceiver();
    const hook = receiver.url('/hook');
    const schedEnv = env({ BACKUP_SCHEDULE: '*/3 * * * * *', TZ: 'UTC', BACKUP_DIR: join(dir, 'sched'), NOTIFY_URL: hook });
    const child = startCli(['schedule'], schedEnv);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const runsOf = async (name: string) =>
      JSON.parse(await readFile(join(dir, 'sched', name, '.pg-backups-state.json'), 'utf8').catch(() => '{"runs":[]}')).runs as any[];
    try {
      const until = Date.now() + 90_000;
      while (Date.now() < until) {
        const [a, b, d] = await Promise.all([runsOf('alpha'), runsOf('beta'), runsOf('down')]);
        if (a.length >= 2 && b.length >= 2 && d.length >= 2) break;
        await sleep(250);
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect([0, 1]).toContain(await closed);
    await receiver.close();
    const received = receiver.requests.map((r) => json(r));
    // (A run the SIGTERM cut short is notified as backup.stopped, whichever server it was.)
    const failures = received.filter((m) => m.event !== 'backup.stopped');
    expect(failures.length, stderr).toBeGreaterThanOrEqual(2);
    for (const message of failures) expect(message).toMatchObject({ event: 'backup.failed', server: 'down', outcome: 'failed' });
    expect(JSON.stringify(received)).not.toContain(PASSWORD);
    const [a, b, d] = await Promise.all([runsOf('alpha'), runsOf('beta'), runsOf('down')]);
    expect(a.filter((x) => x.outcome === 'ok').length, stderr).toBeGreaterThanOrEqual(2);
    expect(b.filter((x) => x.outcome === 'ok').length, stderr).toBeGreaterThanOrEqual(2);
    expect(d.filter((x) => x.outcome === 'failed').length, stderr).toBeGreaterThanOrEqual(2);
    expect(stderr).toMatch(/ error down: the run failed: /);
    expect(stderr).toMatch(/ info  alpha: backup \d{8}_\d{6} finished/);
    expect(stderr).not.toContain(PASSWORD);
    const finished = (await readdir(join(dir, 'sched', 'alpha'))).filter((n) => FOLDER.test(n));
    expect(finished.length).toBeGreaterThanOrEqual(1); // LOCAL_RETENTION_DAYS keeps at least the newest
  });

  it('DRILL_SCHEDULE drills every server\'s newest backup in turn (from S3), each into its own history; the down one fails alone, notified', async () => {
    const hook = await startReceiver();
    const drillEnv = env({ BACKUP_SCHEDULE: '0 3 * * *', DRILL_SCHEDULE: '*/2 * * * * *', RESTORE_SOURCE: 's3', TZ: 'UTC', BACKUP_DIR: join(dir, 'drills'), S3_PREFIX: 'drills', NOTIFY_URL: hook.url() });
    const s = startService(['schedule'], drillEnv);
    const drillsOf = async (name: string) => JSON.parse(await readFile(join(dir, 'drills', name, '.pg-backups-state.json'), 'utf8').catch(() => '{}')).drills ?? [];
    const done = async () => {
      const [a, b, d] = await Promise.all([drillsOf('alpha'), drillsOf('beta'), drillsOf('down')]);
      return a.some((x: any) => x.outcome === 'passed') && b.some((x: any) => x.outcome === 'passed') && d.some((x: any) => x.outcome === 'failed');
    };
    await stopWhen(s, done, 90_000);
    await hook.close();
    expect(await done(), s.state.stderr).toBe(true);
    expect((await drillsOf('alpha')).find((x: any) => x.outcome === 'passed')).toMatchObject({ trigger: 'schedule', differences: 0 });
    expect(s.state.stderr).toMatch(/ info  alpha: drill of \d{8}_\d{6}: passed/);
    expect(s.state.stderr).toMatch(/ info  beta: drill of \d{8}_\d{6}: passed/);
    expect(s.state.stderr).toMatch(/ error down: the drill failed: /);
    const failed = hook.requests.map((r) => json(r)).filter((m) => m.event === 'drill.failed');
    expect(failed.length, s.state.stderr).toBeGreaterThanOrEqual(1);
    for (const m of failed) expect(m).toMatchObject({ server: 'down', kind: 'drill', outcome: 'failed' });
    // Each server's scratch databases went to that server, and none is left.
    for (const server of [pg15, pg17]) expect(await server.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgb_drill%'`)).toEqual([]);
    expect(s.state.stderr).not.toContain(PASSWORD);
  });

  it('the screen asks which server first, then shows that server\'s backups on every source', async () => {
    const { CI: _ci, ...noCi } = env({ RESTORE_DIR: join(dir, 'screen-restore') });
    const ui = spawnCliInPty([], noCi);
    try {
      let screen = await ui.waitForText(/Which server's backups\?/);
      expect(screen).toMatch(/1\s+alpha\s+postgres@127\.0\.0\.1:\d+/);
      expect(screen).toMatch(/3\s+down/);
      expect(screen).not.toContain(PASSWORD);
      await ui.press(KEY.down, KEY.enter);
      // beta's places: its own local folder and svc/beta on S3; the target is beta's own server (17).
      screen = await ui.waitForText(/local .*\/local\/beta ok, \d+ backups?/, 60_000);
      screen = await ui.waitForText(/s3 +s3:\/\/\S+\/svc\/beta +ok, \d+ backups?/, 60_000);
      screen = await ui.waitForText(new RegExp(`Target server postgres@127\\.0\\.0\\.1:${pg17.port} +PostgreSQL 17`));
      expect(screen).toContain(join(dir, 'local', 'beta'));
      expect(screen).toContain('svc/beta');
      expect(screen).not.toMatch(/alpha/);
      await ui.press('q');
      await ui.exited;
    } finally {
      await endSession(ui);
    }
  });
});
