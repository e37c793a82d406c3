// `pg-backups schedule` against a real server: runs on time, never two at once (a slow run makes the
// next time skip with a warning), SIGTERM stops a run cleanly and promptly, TZ and bad expressions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { startService, startStatusService, stopWhen } from './helpers/service-process.js';
import { json, startReceiver } from './helpers/http-receiver.js';
import { parsePromText, sampleValue } from './helpers/prom-text.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

const FOLDER = /^\d{8}_\d{6}$/;
const STATE = '.pg-backups-state.json';
const finishedFolders = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter((n) => FOLDER.test(n));
const drills = async (dir: string) => JSON.parse(await readFile(join(dir, STATE), 'utf8').catch(() => '{}')).drills ?? [];
const DRILL_PASSWORD = 'dr1ll-pw-XYZ-secret';
const history = async (dir: string) => JSON.parse(await readFile(join(dir, STATE), 'utf8').catch(() => '{"runs":[]}')).runs as any[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running `pg-backups schedule`, its stderr so far, and its exit. */
const startSchedule = (env: Record<string, string>) => startService(['schedule'], env);

describe('pg-backups schedule', () => {
  let server: PgServer;
  let dir: string;
  let env: (backupDir: string, extra?: Record<string, string>) => Record<string, string>;
  beforeAll(async () => {
    server = await startPgServer(15);
    dir = await makeTempDir('schedule-');
    await server.query(`CREATE DATABASE zzz_locked`);
    await server.query(`CREATE TABLE t (id int); INSERT INTO t VALUES (1)`, 'zzz_locked');
    env = (backupDir, extra = {}) => baseEnv({ ...server.env(), BACKUP_DIR: backupDir, ...extra });
  });
  afterAll(async () => server?.stop());

  it('DRILL_SCHEDULE drills the newest backup in the same slot, records it, shows it in status, /healthz, /status and /metrics, notifies it, and leaves no scratch database', async () => {
    const backupDir = join(dir, 'drills');
    const hook = await startReceiver();
    const s = await startStatusService(env(backupDir, { BACKUP_SCHEDULE: '0 3 * * *', BACKUP_ON_START: 'true', DRILL_SCHEDULE: '*/3 * * * * *', BACKUP_DATABASES: 'postgres', TZ: 'UTC', NOTIFY_URL: hook.url(), NOTIFY_ON: 'always' }));
    try {
      await s.waitFor(/drills "\*\/3 \* \* \* \* \*"; next:/);
      const until = Date.now() + 40_000;
      while (!(await drills(backupDir)).some((d: any) => d.outcome === 'passed') && Date.now() < until) await sleep(200);
      const passed = (await drills(backupDir)).find((d: any) => d.outcome === 'passed');
      expect(passed, s.state.stderr).toMatchObject({ trigger: 'schedule', databases: 1, differences: 0 });
      expect(passed.tablesChecked).toBeGreaterThanOrEqual(0);

      // The endpoint judges drills as healthcheck does (DRILL_SCHEDULE: twice its interval, 6 s).
      const healthz = await s.request('/healthz');
      expect(healthz.status, healthz.body).toBe(200);
      expect(JSON.parse(healthz.body).reason).toMatch(/the newest drill passed .* ago \(DRILL_MAX_AGE 6s\)/);
      const status = JSON.parse((await s.request('/status')).body);
      expect(status.servers[0].drills.find((d: any) => d.outcome === 'passed')).toMatchObject({ trigger: 'schedule', folder: passed.folder });
      const metrics = parsePromText((await s.request('/metrics')).body);
      const passedEnd = Date.parse(passed.finishedAt) / 1000;
      expect(sampleValue(metrics, 'pg_backups_drill_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(passedEnd);
      expect(sampleValue(metrics, 'pg_backups_drill_last_success_duration_seconds')).toBeGreaterThan(0);
      expect(sampleValue(metrics, 'pg_backups_drill_last_passed')).toBe(1);
      expect(sampleValue(metrics, 'pg_backups_drill_last_differences')).toBe(0);
      expect(sampleValue(metrics, 'pg_backups_recorded_drills', { outcome: 'passed' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(metrics, 'pg_backups_drill_max_age_seconds')).toBe(6);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect([0, 1]).toContain(await s.closed);
    await hook.close();
    expect(s.state.stderr).toMatch(/drill of \d{8}_\d{6}: passed/);
    const left = await server.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgb_drill%'`);
    expect(left).toEqual([]);
    // NOTIFY_ON=always: the backup on start, then each drill, as its own event.
    const events = hook.requests.map((r) => json(r));
    expect(events[0]).toMatchObject({ event: 'backup.succeeded' });
    expect(events.find((e) => e.event === 'drill.passed')).toMatchObject({ kind: 'drill', outcome: 'passed', trigger: 'schedule', databases: [{ database: 'postgres', outcome: 'passed' }] });
    const health = await runCli(['healthcheck'], env(backupDir, { DRILL_MAX_AGE: '1h' }));
    expect(health.code, health.stdout).toBe(0);
    expect(health.stdout).toMatch(/the newest drill passed/);
    // schedule noted when drills began (the health check's grace until the first drill passes).
    expect(JSON.parse(await readFile(join(backupDir, STATE), 'utf8')).drillsSince).toMatch(/^\d{4}-\d\d-\d\dT/);
    const st = await runCli(['status'], env(backupDir));
    expect(st.stdout).toMatch(/last drill: passed \(started .*backup \d{8}_\d{6}: 1 database\(s\)/);
  });

  it('a drill that fails (DRILL_TARGET down) is recorded and notified by default; healthcheck fails naming it; its password shows nowhere', async () => {
    const backupDir = join(dir, 'drill-fails');
    const hook = await startReceiver();
    const target = `postgresql://drill:${DRILL_PASSWORD}@127.0.0.1:${await freePort()}/postgres`;
    const s = startSchedule(env(backupDir, { BACKUP_SCHEDULE: '0 3 * * *', DRILL_SCHEDULE: '*/2 * * * * *', BACKUP_DATABASES: 'postgres', TZ: 'UTC', NOTIFY_URL: hook.url(), DRILL_TARGET: target }));
    await stopWhen(s, () => hook.requests.some((r) => json(r).event === 'drill.failed'), 40_000);
    await hook.close();
    const bodies = hook.requests.map((r) => r.body.toString());
    const failed = hook.requests.map((r) => json(r)).find((e) => e.event === 'drill.failed');
    expect(failed, s.state.stderr).toMatchObject({ kind: 'drill', outcome: 'failed', trigger: 'schedule' });
    expect(failed.error).toMatch(/127\.0\.0\.1/);
    expect(bodies.some((b) => b.includes('backup.succeeded'))).toBe(false); // NOTIFY_ON=failure: good runs say nothing
    expect((await drills(backupDir)).at(-1)).toMatchObject({ trigger: 'schedule', outcome: 'failed' });
    const health = await runCli(['healthcheck'], env(backupDir, { DRILL_SCHEDULE: '*/2 * * * * *' }));
    expect(health.code).toBe(1);
    expect(health.stdout).toMatch(/the last drill \(started .*\) failed: /);
    for (const text of [s.state.stderr, health.stdout, health.stderr, ...bodies, await readFile(join(backupDir, STATE), 'utf8')]) expect(text).not.toContain(DRILL_PASSWORD);
  });

  it('a backup that comes due during a drill stops the drill (its scratch databases dropped) and runs; the drill is recorded as stopped', async () => {
    // Restoring this table takes ~20 s: its CHECK sleeps 0.2 s a row in any database but the original.
    await server.query('CREATE DATABASE slowdb');
    await server.query(
      `CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS $$SELECT CASE WHEN current_database() = 'slowdb' THEN true ELSE pg_sleep(0.2) IS NOT NULL END$$;
       CREATE TABLE s (id int CHECK (slow_ok(id))); INSERT INTO s SELECT generate_series(1, 100)`,
      'slowdb',
    );
    const backupDir = join(dir, 'drill-stopped');
    const s = startSchedule(env(backupDir, { BACKUP_SCHEDULE: '*/15 * * * * *', DRILL_SCHEDULE: '*/2 * * * * *', BACKUP_DATABASES: 'slowdb', DRILL_DATABASES: 'slowdb', TZ: 'UTC' }));
    const scheduledAfterStop = async () => {
      const stoppedAt = (await drills(backupDir)).find((d: any) => d.outcome === 'stopped')?.finishedAt;
      return stoppedAt !== undefined && (await history(backupDir)).some((r) => r.trigger === 'schedule' && r.outcome === 'ok' && r.finishedAt >= stoppedAt);
    };
    await stopWhen(s, scheduledAfterStop, 90_000);
    expect(await scheduledAfterStop(), s.state.stderr).toBe(true);
    expect(s.state.stderr).toMatch(/stopping the drill started at .*: a backup is due/);
    const left = await server.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgb_drill%'`);
    expect(left).toEqual([]);
  }, 150_000);

  it('a 6-field schedule every 2 seconds runs on time and records each run in the history', async () => {
    const backupDir = join(dir, 'on-time');
    const s = startSchedule(env(backupDir, { BACKUP_SCHEDULE: '*/2 * * * * *', BACKUP_ON_START: 'false', TZ: 'UTC' }));
    try {
      await s.waitFor(/next runs:/);
      expect(s.state.stderr).not.toMatch(/backup run on start/);
      const until = Date.now() + 20_000;
      while ((await history(backupDir)).length < 2 && Date.now() < until) await sleep(100);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect([0, 1]).toContain(await s.closed); // 1 only if the signal met a third run
    const runs = (await history(backupDir)).filter((r) => r.outcome !== 'stopped');
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const run of runs) {
      expect(run).toMatchObject({ trigger: 'schedule', outcome: 'ok', destinations: [{ kind: 'local', location: backupDir, ok: true }] });
      expect(run.folder).toMatch(FOLDER);
      expect(run.bytes).toBeGreaterThan(0);
      // On time: each run starts on an even second (within the second it is due).
      const started = Date.parse(run.startedAt);
      expect(Math.floor(started / 1000) % 2).toBe(0);
      expect(started % 1000).toBeLessThan(900);
    }
    expect(Date.parse(runs[1].startedAt) - Date.parse(runs[0].startedAt)).toBeGreaterThanOrEqual(1500);
    const folders = await finishedFolders(backupDir);
    for (const run of runs) expect(folders).toContain(run.folder);
  });

  it('a slow run makes the next times skip with a warning (never two at once); SIGTERM during it exits 1 promptly and keeps nothing', async () => {
    const backupDir = join(dir, 'slow');
    const locker = new pg.Client(server.clientConfig('zzz_locked'));
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE'); // pg_dump of zzz_locked waits for it
    try {
      const s = startSchedule(env(backupDir, { BACKUP_SCHEDULE: '*/2 * * * * *' }));
      await s.waitFor(/dumping database "zzz_locked"/);
      await s.waitFor(/warn  skipped the run due at .*: the on-start run started at .* is still going \(runs never overlap and are not queued\)/, 10_000);
      await s.waitFor(/warn  skipped the run due at [\s\S]*warn  skipped the run due at/, 10_000); // and again: not queued
      expect(s.state.stderr.match(/backup run on start|scheduled backup run/g)).toEqual(['backup run on start']);
      expect((await readdir(backupDir)).filter((n) => n.endsWith('.partial'))).toHaveLength(1); // one run writing
      // A manual run meanwhile is refused by the same lock.
      const manual = await runCli(['backup'], env(backupDir));
      expect(manual.code).toBe(1);
      expect(manual.stderr).toMatch(/another pg-backups run \(pid \d+, since .*\) is writing to/);

      const signalled = Date.now();
      s.child.kill('SIGTERM');
      expect(await s.closed).toBe(1);
      expect(Date.now() - signalled).toBeLessThan(5_000);
      expect(s.state.stderr).toMatch(/backup stopped during the dump of database "zzz_locked"; nothing was kept/);
      expect(s.state.stderr).toMatch(/stopped; the run in progress was cut short/);
      expect(await finishedFolders(backupDir)).toEqual([]);
      expect((await readdir(backupDir)).filter((n) => n.endsWith('.partial') || n.endsWith('.lock'))).toEqual([]);
      const runs = await history(backupDir);
      expect(runs).toHaveLength(1); // the manual run, refused by the lock, did nothing and is not recorded
      expect(runs[0]).toMatchObject({ trigger: 'start', outcome: 'stopped' });
      expect(runs[0].folder).toBeUndefined();
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('a scheduled time while `pg-backups backup` holds BACKUP_DIR is skipped with a warning', async () => {
    const backupDir = join(dir, 'manual');
    const locker = new pg.Client(server.clientConfig('zzz_locked'));
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const backup = startCli(['backup'], env(backupDir));
    let backupErr = '';
    backup.stderr!.on('data', (d) => (backupErr += d));
    const backupClosed = new Promise<number | null>((r) => backup.once('close', (code) => r(code)));
    try {
      while (!backupErr.includes('dumping database "zzz_locked"')) await sleep(50);
      const s = startSchedule(env(backupDir, { BACKUP_SCHEDULE: '*/2 * * * * *', BACKUP_ON_START: 'false' }));
      await s.waitFor(/warn  skipped the scheduled run: another pg-backups run \(pid \d+/, 10_000);
      s.child.kill('SIGTERM');
      expect(await s.closed).toBe(0);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await backupClosed).toBe(0);
    expect(await finishedFolders(backupDir)).toHaveLength(1);
  });

  it('prints the next three runs in TZ; SIGTERM while idle exits 0', async () => {
    const backupDir = join(dir, 'tz');
    const s = startSchedule(env(backupDir, { BACKUP_SCHEDULE: '0 30 2 * * *', TZ: 'Asia/Kolkata' }));
    await s.waitFor(/backup [0-9_]+ finished/);
    await s.waitFor(/next run: /);
    s.child.kill('SIGTERM');
    expect(await s.closed).toBe(0);
    const lines = s.state.stderr.split('\n');
    const at = lines.findIndex((l) => l.includes('schedule "0 30 2 * * *" in Asia/Kolkata, with a run now; next runs:'));
    expect(at).toBeGreaterThanOrEqual(0);
    const next = lines.slice(at + 1, at + 4).map((l) => l.replace(/^.*info\s+/, '').trim());
    expect(next).toHaveLength(3);
    for (const n of next) expect(n).toMatch(/^\d{4}-\d{2}-\d{2} 02:30:00 \+05:30 \(Asia\/Kolkata\)$/);
    expect(new Set(next).size).toBe(3); // three different days
    expect(s.state.stderr).toMatch(/stopped; no run was in progress/);
    expect((await history(backupDir)).map((r) => [r.trigger, r.outcome])).toEqual([['start', 'ok']]);
    // The same expression in another zone gives other UTC times.
    const ny = startSchedule(env(join(dir, 'tz-ny'), { BACKUP_SCHEDULE: '30 2 * * *', TZ: 'America/New_York', BACKUP_ON_START: 'false' }));
    await ny.waitFor(/next runs:\n.*\n.*\n.*\n/);
    ny.child.kill('SIGTERM');
    expect(await ny.closed).toBe(0);
    expect(ny.state.stderr).toMatch(/ 02:30:00 -0[45]:00 \(America\/New_York\)/);
  });

  it('a bad or missing BACKUP_SCHEDULE stops with exit 2, naming it with an example', async () => {
    const backupDir = join(dir, 'bad');
    for (const [value, why] of [
      ['61 * * * *', /BACKUP_SCHEDULE='61 \* \* \* \*' is not a cron expression pg-backups can use \(.*minute.*\); use 5 fields .* e\.g\. BACKUP_SCHEDULE='0 3 \* \* \*'/],
      ['* * * *', /BACKUP_SCHEDULE='\* \* \* \*' has 4 fields; use 5 fields .* or 6 \(seconds first\), e\.g\. BACKUP_SCHEDULE='0 3 \* \* \*'/],
      ['every day', /BACKUP_SCHEDULE='every day' has 2 fields/],
    ] as const) {
      const r = await runCli(['schedule'], env(backupDir, { BACKUP_SCHEDULE: value }));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    const missing = await runCli(['schedule'], env(backupDir));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/BACKUP_SCHEDULE is not set; .* e\.g\. BACKUP_SCHEDULE='0 3 \* \* \*'/);
    const tz = await runCli(['schedule'], env(backupDir, { BACKUP_SCHEDULE: '0 3 * * *', TZ: 'Mars/Olympus' }));
    expect(tz.code).toBe(2);
    expect(tz.stderr).toMatch(/TZ="Mars\/Olympus" is not a time zone/);
    expect(await readdir(backupDir).catch(() => 'absent')).toBe('absent'); // nothing touched
  });
});
