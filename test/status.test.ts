// The run history, `status` and `healthcheck`: after a good run, after a failed one (server down),
// when the newest backup is too old; the state file is never taken for a backup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';

const STATE = '.pg-backups-state.json';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('run history, status and healthcheck', () => {
  let server: PgServer;
  let dir: string;
  let env: (backupDir: string, extra?: Record<string, string>) => Record<string, string>;
  beforeAll(async () => {
    server = await startPgServer(15);
    dir = await makeTempDir('status-');
    await server.query(`CREATE DATABASE app`);
    env = (backupDir, extra = {}) => baseEnv({ ...server.env(), BACKUP_DIR: backupDir, ...extra });
  });
  afterAll(async () => server?.stop());

  it('after a good run: status shows it and the next run; healthcheck exits 0', async () => {
    const backupDir = join(dir, 'good');
    const b = await runCli(['backup', '--json'], env(backupDir));
    expect(b.code).toBe(0);
    const { folder, manifest } = JSON.parse(b.stdout);

    const s = await runCli(['status', '--json'], env(backupDir, { BACKUP_SCHEDULE: '0 3 * * *', TZ: 'UTC' }));
    expect(s.code).toBe(0);
    const status = JSON.parse(s.stdout);
    expect(status.runs).toHaveLength(1);
    const run = status.runs[0];
    expect(run).toMatchObject({ trigger: 'backup', outcome: 'ok', folder, destinations: [{ kind: 'local', location: backupDir, ok: true }] });
    expect(run.bytes).toBe(manifest.files.reduce((n: number, f: any) => n + f.bytes, 0));
    expect(Date.parse(run.finishedAt)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
    expect(run.error).toBeUndefined();
    expect(status.next).toMatch(/T03:00:00\.000Z$/);
    expect(status.health).toMatchObject({ healthy: true, maxAgeSeconds: 2 * 86400, maxAgeFrom: 'BACKUP_SCHEDULE', newest: { folder } });

    const text = await runCli(['status'], env(backupDir, { BACKUP_SCHEDULE: '0 3 * * *', TZ: 'Europe/Berlin' }));
    expect(text.stdout).toMatch(/STARTED +TOOK +TRIGGER +OUTCOME +FOLDER/);
    expect(text.stdout).toMatch(new RegExp(`backup +ok +${folder} +\\S+ \\S+ +local:ok`));
    expect(text.stdout).toMatch(/next run: \d{4}-\d{2}-\d{2} 03:00:00 \+01:00 \(Europe\/Berlin\)/);

    const h = await runCli(['healthcheck'], env(backupDir));
    expect(h.code).toBe(0);
    expect(h.stdout.trim()).toMatch(new RegExp(`^healthy: the newest good backup, ${folder}, is \\d+s old \\(HEALTHCHECK_MAX_AGE 1d 1h\\); the last run succeeded$`));
  });

  it('the state file is never listed or pruned as a backup, and is written atomically and bounded', async () => {
    const backupDir = join(dir, 'good');
    expect((await readdir(backupDir)).filter((n) => n.includes(STATE))).toEqual([STATE]); // no temp file left
    const list = await runCli(['list', '--json'], env(backupDir));
    expect(list.code).toBe(0);
    const backups = JSON.parse(list.stdout).backups;
    expect(backups).toHaveLength(1);
    expect(backups.map((b: any) => b.folder)).not.toContain(STATE);
    // A second backup, then retention of 0 days: the older backup goes, the state file stays.
    await sleep(1100);
    expect((await runCli(['backup'], env(backupDir))).code).toBe(0);
    const prune = await runCli(['prune', '--json'], env(backupDir, { LOCAL_RETENTION_DAYS: '0' }));
    expect(prune.code).toBe(0);
    expect(prune.stdout).not.toContain(STATE);
    expect((await stat(join(backupDir, STATE))).isFile()).toBe(true);
    const names = await readdir(backupDir);
    expect(names.filter((n) => /^\d{8}_\d{6}$/.test(n))).toHaveLength(1);
    const state = JSON.parse(await readFile(join(backupDir, STATE), 'utf8'));
    expect(state.runs.map((r: any) => r.outcome)).toEqual(['ok', 'ok']);
  });

  it('when the newest backup is older than HEALTHCHECK_MAX_AGE: unhealthy, exit 1, one line saying why', async () => {
    const backupDir = join(dir, 'old');
    expect((await runCli(['backup'], env(backupDir))).code).toBe(0);
    await sleep(2500);
    const h = await runCli(['healthcheck'], env(backupDir, { HEALTHCHECK_MAX_AGE: '1s' }));
    expect(h.code).toBe(1);
    expect(h.stdout.trim().split('\n')).toHaveLength(1);
    expect(h.stdout).toMatch(/^unhealthy: the newest good backup, \d{8}_\d{6}, is \d+s old, older than HEALTHCHECK_MAX_AGE 1s$/m);
    // The default limit follows the schedule: twice its interval (every second: 2s).
    const bySchedule = await runCli(['healthcheck', '--json'], env(backupDir, { BACKUP_SCHEDULE: '* * * * * *' }));
    expect(bySchedule.code).toBe(1);
    expect(JSON.parse(bySchedule.stdout)).toMatchObject({ healthy: false, maxAgeSeconds: 2 });
    expect((await runCli(['healthcheck'], env(backupDir, { HEALTHCHECK_MAX_AGE: '1h' }))).code).toBe(0);
    const bad = await runCli(['healthcheck'], env(backupDir, { HEALTHCHECK_MAX_AGE: 'soon' }));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/HEALTHCHECK_MAX_AGE=soon is not a duration; .* e\.g\. HEALTHCHECK_MAX_AGE=25h/);
  });

  it('after a failed run (server stopped): recorded with its error, no secret; status and healthcheck work with PostgreSQL down', async () => {
    const down = await startPgServer(15);
    const backupDir = join(dir, 'failed');
    const downEnv = (extra: Record<string, string> = {}) => baseEnv({ ...down.env(), BACKUP_DIR: backupDir, ...extra });
    expect((await runCli(['backup'], downEnv())).code).toBe(0);
    await down.stop();
    const failed = await runCli(['backup'], downEnv());
    expect(failed.code).toBe(1);

    const h = await runCli(['healthcheck'], downEnv());
    expect(h.code).toBe(1);
    expect(h.stdout.trim().split('\n')).toHaveLength(1);
    expect(h.stdout, h.stderr).toMatch(/^unhealthy: the last run \(started \S+\) failed: .*127\.0\.0\.1:\d+/);

    const s = await runCli(['status', '--json'], downEnv());
    expect(s.code).toBe(0);
    const status = JSON.parse(s.stdout);
    expect(status.runs.map((r: any) => r.outcome)).toEqual(['failed', 'ok']);
    expect(status.runs[0]).toMatchObject({ trigger: 'backup', destinations: [{ kind: 'local', ok: false }] });
    expect(status.runs[0].folder).toBeUndefined();
    expect(status.runs[0].error).toMatch(/127\.0\.0\.1/);
    expect(status.health.healthy).toBe(false);
    expect(status.health.newest.folder).toBe(status.runs[1].folder); // the good backup is still there
    const text = await runCli(['status'], downEnv());
    expect(text.stdout).toMatch(/backup +failed +- +- +local:failed +.*127\.0\.0\.1/);
    expect(text.stdout).toMatch(/next run: none scheduled/);

    const state = await readFile(join(backupDir, STATE), 'utf8');
    expect(state).not.toContain(down.password);
  });

  it('a password in DATABASE_URL never reaches the history', async () => {
    const backupDir = join(dir, 'secret');
    const secret = 'sup3r-s3cret-pw';
    await mkdir(backupDir);
    const r = await runCli(['backup'], baseEnv({ BACKUP_DIR: backupDir, DATABASE_URL: `postgres://nobody:${secret}@127.0.0.1:1/postgres` }));
    expect(r.code).toBe(1);
    const state = await readFile(join(backupDir, STATE), 'utf8');
    expect(JSON.parse(state).runs).toMatchObject([{ outcome: 'failed', error: expect.stringMatching(/nobody/) }]);
    expect(state).not.toContain(secret);
  });
});
