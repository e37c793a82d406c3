// The HTTP status endpoint of `pg-backups schedule` (STATUS_PORT): /healthz, /status and /metrics
// after a good run, during a run, after a failed one and when the newest backup is too old, read by
// a real HTTP client from the built CLI running as a child process against a real PostgreSQL server.
// STATUS_TOKEN is enforced; neither the token nor the server's password appears in any answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { baseEnv, runCli } from './helpers/cli.js';
import { daysAgo, writeFakeBackup } from './helpers/fake-backup.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { parsePromText, sampleValue, type PromText } from './helpers/prom-text.js';
import { startStatusService, type Answer } from './helpers/service-process.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

const STATE = '.pg-backups-state.json';
const history = async (dir: string) => JSON.parse(await readFile(join(dir, STATE), 'utf8')).runs as any[];
/** The same reason with its ages left out (a second may pass between two readings). */
const sameReason = (reason: string) => reason.replace(/is \d+[smhd]( \d+[smhd])? old/g, 'is N old');

/** Every answer's status line, headers and body, as one text to search for secrets. */
const everything = (answers: Answer[]) => answers.map((a) => `${a.status}\n${[...a.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${a.body}`).join('\n');

describe('HTTP status endpoint of pg-backups schedule', () => {
  let server: PgServer;
  let dir: string;
  let env: (backupDir: string, extra?: Record<string, string>) => Record<string, string>;
  beforeAll(async () => {
    server = await startPgServer(15);
    dir = await makeTempDir('status-http-');
    await server.query(`CREATE DATABASE app`);
    await server.query(`CREATE DATABASE zzz_locked`);
    await server.query(`CREATE TABLE t (id int); INSERT INTO t VALUES (1)`, 'zzz_locked');
    env = (backupDir, extra = {}) => baseEnv({ ...server.env(), BACKUP_DIR: backupDir, BACKUP_SCHEDULE: '0 3 * * *', TZ: 'UTC', ...extra });
  });
  afterAll(async () => server?.stop());

  it('after a good run: /healthz 200 as healthcheck, /status is the history, /metrics agrees with it; the token is required everywhere', async () => {
    const backupDir = join(dir, 'good');
    const token = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'status-token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const svc = await startStatusService(env(backupDir, { STATUS_TOKEN_FILE: tokenFile }));
    try {
      await svc.waitFor(/backup \d{8}_\d{6} finished/);
      await svc.waitFor(/next run: /);
      const auth = { headers: { Authorization: `Bearer ${token}` } };

      // No token, a wrong one, another scheme: 401 on every path, known or not.
      for (const path of ['/healthz', '/status', '/metrics', '/nope']) {
        const missing = await svc.request(path);
        expect(missing.status).toBe(401);
        expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="pg-backups"');
        const wrong = await svc.request(path, { headers: { Authorization: `Bearer ${token.slice(0, -1)}x` } });
        expect(wrong.status).toBe(401);
        expect(wrong.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
        expect((await svc.request(path, { headers: { Authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` } })).status).toBe(401);
        expect((await svc.request(path, { headers: { Authorization: `Bearer ${token}${token}` } })).status).toBe(401);
      }

      const healthz = await svc.request('/healthz', auth);
      expect(healthz.status).toBe(200);
      expect(healthz.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const health = JSON.parse(healthz.body);
      const cli = await runCli(['healthcheck', '--json'], env(backupDir));
      expect(cli.code).toBe(0);
      const cliHealth = JSON.parse(cli.stdout);
      expect(health).toMatchObject({ healthy: true, servers: [{ name: null, healthy: true }] });
      expect(sameReason(health.reason)).toBe(sameReason(cliHealth.reason));
      expect(health.reason).toMatch(/^the newest good backup, \d{8}_\d{6}, is \d+s old \(HEALTHCHECK_MAX_AGE 2d\); the last run succeeded$/);

      const runs = await history(backupDir);
      expect(runs).toHaveLength(1);
      const run = runs[0];
      const status = await svc.request('/status', auth);
      expect(status.status).toBe(200);
      const body = JSON.parse(status.body);
      expect(body).toMatchObject({ healthy: true, running: false, schedule: { expression: '0 3 * * *', timezone: 'UTC' } });
      expect(body.next).toMatch(/T03:00:00\.000Z$/);
      expect(body.servers).toHaveLength(1);
      expect(body.servers[0]).toMatchObject({ name: null, backupDir, healthy: true, running: null, health: { healthy: true, maxAgeSeconds: 2 * 86400, maxAgeFrom: 'BACKUP_SCHEDULE', newest: { folder: run.folder } } });
      expect(body.servers[0].runs).toEqual([...runs].reverse());
      expect(run).toMatchObject({ trigger: 'start', outcome: 'ok' });

      const metrics = await svc.request('/metrics', auth);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const m = parsePromText(metrics.body);
      const v = (name: string, labels: Record<string, string> = {}) => sampleValue(m, `pg_backups_${name}`, labels);
      const finished = Date.parse(run.finishedAt) / 1000;
      expect(v('last_success_timestamp_seconds')).toBe(finished);
      expect(v('last_run_timestamp_seconds')).toBe(finished);
      expect(v('last_run_duration_seconds')).toBe((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000);
      expect(v('last_run_bytes')).toBe(run.bytes);
      expect(run.bytes).toBeGreaterThan(0);
      expect([v('recorded_runs', { outcome: 'ok' }), v('recorded_runs', { outcome: 'failed' }), v('recorded_runs', { outcome: 'stopped' })]).toEqual([1, 0, 0]);
      expect(v('destination_last_success_timestamp_seconds', { destination: 'local', location: backupDir })).toBe(finished);
      expect(v('destination_last_run_ok', { destination: 'local', location: backupDir })).toBe(1);
      expect(v('healthy')).toBe(1);
      expect(v('running')).toBe(0);
      expect(v('max_age_seconds')).toBe(2 * 86400);
      expect(v('newest_backup_age_seconds')).toBeGreaterThanOrEqual(0);
      expect(v('newest_backup_age_seconds')).toBeLessThan(600);
      expect(v('next_run_timestamp_seconds')).toBe(Date.parse(body.next) / 1000);
      for (const name of new Set(m.samples.map((s) => s.name))) expect(m.type.get(name)).toBe('gauge');

      // HEAD: the headers of GET, no body. Other methods 405, unknown paths 404.
      const head = await svc.request('/metrics', { ...auth, method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
      expect(head.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
      expect((await svc.request('/healthz', { ...auth, method: 'HEAD' })).status).toBe(200);
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const r = await svc.request('/status', { ...auth, method });
        expect(r.status).toBe(405);
        expect(r.headers.get('allow')).toBe('GET, HEAD');
      }
      expect((await svc.request('/nope', auth)).status).toBe(404);
      expect((await svc.request('/healthz/', auth)).status).toBe(404);
      expect((await svc.request('/metrics?x=1', auth)).status).toBe(200);

      expect(svc.answers.length).toBeGreaterThan(20);
      const all = everything(svc.answers);
      expect(all).not.toContain(token);
      expect(all).not.toContain(server.password);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
    expect(svc.state.stderr).not.toContain(token);
    expect(svc.state.stderr).toMatch(/stopped; no run was in progress/);
  });

  it('during a run: /status and /metrics say a run is going, and so does `pg-backups status` (running since)', async () => {
    const backupDir = join(dir, 'running');
    const locker = new pg.Client(server.clientConfig('zzz_locked'));
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE'); // pg_dump of zzz_locked waits for it
    let svc: Awaited<ReturnType<typeof startStatusService>> | undefined;
    try {
      svc = await startStatusService(env(backupDir));
      await svc.waitFor(/dumping database "zzz_locked"/);
      const status = JSON.parse((await svc.request('/status')).body);
      expect(status.running).toBe(true);
      expect(status.servers[0].running).toMatchObject({ pid: svc.child.pid });
      const since = Date.parse(status.servers[0].running.since);
      expect(since).toBeLessThanOrEqual(Date.now());
      expect(status.servers[0].runs).toEqual([]);
      const m = parsePromText((await svc.request('/metrics')).body);
      expect(sampleValue(m, 'pg_backups_running')).toBe(1);
      expect(sampleValue(m, 'pg_backups_last_success_timestamp_seconds')).toBe(0);

      const cli = await runCli(['status', '--json'], env(backupDir));
      expect(cli.code).toBe(0);
      expect(JSON.parse(cli.stdout).running).toMatchObject({ pid: svc.child.pid, since: status.servers[0].running.since });
      const text = await runCli(['status'], env(backupDir));
      expect(text.stdout).toMatch(new RegExp(`^running since \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} \\+00:00 \\(UTC\\) \\(pid ${svc.child.pid} on \\S+\\): a backup run is going now$`, 'm'));
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    await svc.waitFor(/backup \d{8}_\d{6} finished/);
    await svc.waitFor(/next run: /);
    const after = JSON.parse((await svc.request('/status')).body);
    expect(after.running).toBe(false);
    expect(after.servers[0].running).toBeNull();
    expect(sampleValue(parsePromText((await svc.request('/metrics')).body), 'pg_backups_running')).toBe(0);
    const text = await runCli(['status', '--json'], env(backupDir));
    expect(JSON.parse(text.stdout).running).toBeNull();
    expect(await svc.stop()).toBe(0);
    expect(everything(svc.answers)).not.toContain(server.password);
  });

  it('after a failed run (nothing listens on PGPORT): /healthz 503 with the reason of healthcheck, the failure in /status and /metrics', async () => {
    const backupDir = join(dir, 'failed');
    await mkdir(backupDir);
    const deadPort = String(await freePort());
    const secret = `pw-${randomBytes(12).toString('hex')}`;
    const svc = await startStatusService(env(backupDir, { PGPORT: deadPort, PGPASSWORD: secret }));
    try {
      await svc.waitFor(/the run on start failed: /);
      await svc.waitFor(/next run: /);
      const healthz = await svc.request('/healthz');
      expect(healthz.status).toBe(503);
      const health = JSON.parse(healthz.body);
      expect(health.healthy).toBe(false);
      expect(health.reason).toMatch(new RegExp(`^the last run \\(started \\S+\\) failed: .*127\\.0\\.0\\.1:${deadPort}`));
      const cli = await runCli(['healthcheck'], env(backupDir, { PGPORT: deadPort }));
      expect(cli.code).toBe(1);
      expect(cli.stdout.trim()).toBe(`unhealthy: ${health.reason}`);

      const runs = await history(backupDir);
      expect(runs.map((r) => r.outcome)).toEqual(['failed']);
      const status = JSON.parse((await svc.request('/status')).body);
      expect(status).toMatchObject({ healthy: false, reason: health.reason, running: false });
      expect(status.servers[0].runs).toEqual(runs);
      expect(status.servers[0].runs[0]).toMatchObject({ outcome: 'failed', destinations: [{ kind: 'local', ok: false }] });
      expect(status.servers[0].health.newest).toBeNull();

      const m = parsePromText((await svc.request('/metrics')).body);
      const v = (name: string, labels: Record<string, string> = {}) => sampleValue(m, `pg_backups_${name}`, labels);
      expect(v('healthy')).toBe(0);
      expect(v('last_success_timestamp_seconds')).toBe(0);
      expect(v('last_run_timestamp_seconds')).toBe(Date.parse(runs[0].finishedAt) / 1000);
      expect(v('last_run_bytes')).toBe(0);
      expect([v('recorded_runs', { outcome: 'ok' }), v('recorded_runs', { outcome: 'failed' }), v('recorded_runs', { outcome: 'stopped' })]).toEqual([0, 1, 0]);
      expect(v('destination_last_success_timestamp_seconds', { destination: 'local', location: backupDir })).toBe(0);
      expect(v('destination_last_run_ok', { destination: 'local', location: backupDir })).toBe(0);
      expect(v('newest_backup_age_seconds')).toBeUndefined();
      expect(everything(svc.answers)).not.toContain(secret);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('when the newest backup is older than HEALTHCHECK_MAX_AGE: /healthz 503 saying so, its age in /metrics', async () => {
    const backupDir = join(dir, 'old');
    await mkdir(backupDir);
    const folder = daysAgo(3);
    await writeFakeBackup(backupDir, folder);
    const svc = await startStatusService(env(backupDir, { BACKUP_ON_START: 'false', HEALTHCHECK_MAX_AGE: '1h' }));
    try {
      const healthz = await svc.request('/healthz');
      expect(healthz.status).toBe(503);
      const health = JSON.parse(healthz.body);
      expect(health.reason).toMatch(new RegExp(`^the newest good backup, ${folder}, is 3d( \\d+[hms])? old, older than HEALTHCHECK_MAX_AGE 1h$`));
      const cli = await runCli(['healthcheck'], env(backupDir, { HEALTHCHECK_MAX_AGE: '1h' }));
      expect(cli.code).toBe(1);
      expect(sameReason(cli.stdout.trim())).toBe(sameReason(`unhealthy: ${health.reason}`));
      expect((await svc.request('/healthz', { method: 'HEAD' })).status).toBe(503);

      const status = JSON.parse((await svc.request('/status')).body);
      expect(status.servers[0]).toMatchObject({ healthy: false, runs: [], health: { maxAgeSeconds: 3600, maxAgeFrom: 'HEALTHCHECK_MAX_AGE', newest: { folder } } });

      const m = parsePromText((await svc.request('/metrics')).body);
      const age = sampleValue(m, 'pg_backups_newest_backup_age_seconds')!;
      expect(age).toBeGreaterThanOrEqual(3 * 86400 - 5);
      expect(age).toBeLessThan(3 * 86400 + 600);
      expect(sampleValue(m, 'pg_backups_max_age_seconds')).toBe(3600);
      expect(sampleValue(m, 'pg_backups_healthy')).toBe(0);
      expect(sampleValue(m, 'pg_backups_last_run_duration_seconds')).toBeUndefined(); // no run recorded
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('a secret that reached the history file anyway (an older writer) is masked in every answer, quotes and backslashes included', async () => {
    const backupDir = join(dir, 'leaky');
    await mkdir(backupDir);
    const secret = `s3"cr\\et-${randomBytes(6).toString('hex')}`;
    const at = new Date(Date.now() - 60_000).toISOString();
    const leaked = { trigger: 'backup', outcome: 'failed', startedAt: at, finishedAt: at, destinations: [{ kind: 's3', location: 's3://b/p', ok: false, error: `denied for ${secret}` }], error: `login failed with password ${secret}` };
    await writeFile(join(backupDir, STATE), JSON.stringify({ format: 1, runs: [leaked] }));
    const svc = await startStatusService(env(backupDir, { BACKUP_ON_START: 'false', PGPASSWORD: secret }));
    try {
      const healthz = await svc.request('/healthz');
      expect(healthz.status).toBe(503);
      expect(JSON.parse(healthz.body).reason).toMatch(/failed: login failed with password \*\*\*$/);
      const status = JSON.parse((await svc.request('/status')).body);
      expect(status.servers[0].runs[0]).toMatchObject({ error: 'login failed with password ***', destinations: [{ error: 'denied for ***' }] });
      await svc.request('/metrics');
      const all = everything(svc.answers);
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), secret.replace(/\\/g, '\\\\').replace(/"/g, '\\"')]) expect(all).not.toContain(form);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('several servers (BACKUP_<NAME>): one target each; healthy only when every one is; metrics labelled server="<name>"', async () => {
    const backupDir = join(dir, 'several');
    const deadPort = await freePort();
    const url = (port: number) => `postgresql://postgres:${server.password}@127.0.0.1:${port}/postgres`;
    const svc = await startStatusService(baseEnv({ BACKUP_DIR: backupDir, BACKUP_SCHEDULE: '0 3 * * *', TZ: 'UTC', BACKUP_ONE: url(server.port), BACKUP_TWO: url(deadPort) }));
    try {
      await svc.waitFor(/one: backup \d{8}_\d{6} finished/);
      await svc.waitFor(/two: the run failed: /);
      await svc.waitFor(/next run: /);
      const healthz = await svc.request('/healthz');
      expect(healthz.status).toBe(503);
      const health = JSON.parse(healthz.body);
      expect(health.servers).toMatchObject([{ name: 'one', healthy: true }, { name: 'two', healthy: false }]);
      expect(health.reason).toBe(`two: ${health.servers[1].reason}`);
      expect(health.servers[1].reason).toMatch(new RegExp(`^the last run \\(started \\S+\\) failed: .*127\\.0\\.0\\.1:${deadPort}`));

      const status = JSON.parse((await svc.request('/status')).body);
      expect(status.servers.map((s: any) => [s.name, s.backupDir, s.runs.map((r: any) => r.outcome)])).toEqual([
        ['one', join(backupDir, 'one'), ['ok']],
        ['two', join(backupDir, 'two'), ['failed']],
      ]);
      expect(status.servers[0].runs).toEqual(await history(join(backupDir, 'one')));

      const m = parsePromText((await svc.request('/metrics')).body);
      expect(sampleValue(m, 'pg_backups_healthy', { server: 'one' })).toBe(1);
      expect(sampleValue(m, 'pg_backups_healthy', { server: 'two' })).toBe(0);
      expect(sampleValue(m, 'pg_backups_recorded_runs', { server: 'two', outcome: 'failed' })).toBe(1);
      expect(sampleValue(m, 'pg_backups_last_success_timestamp_seconds', { server: 'one' })).toBe(Date.parse(status.servers[0].runs[0].finishedAt) / 1000);
      expect(sampleValue(m, 'pg_backups_destination_last_run_ok', { server: 'one', destination: 'local', location: join(backupDir, 'one') })).toBe(1);
      expect(sampleValue(m, 'pg_backups_healthy')).toBeUndefined(); // every sample names its server
      expect(everything(svc.answers)).not.toContain(server.password);
    } finally {
      await svc.stop();
    }
  });

  it('a STATUS_PORT in use stops the service with exit 1 before any run; bad settings exit 2 naming them', async () => {
    const backupDir = join(dir, 'busy');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runCli(['schedule'], env(backupDir, { STATUS_PORT: String(port), STATUS_HOST: '127.0.0.1' }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error STATUS_PORT=${port}: 127\\.0\\.0\\.1:${port} is already in use by another program; choose a free port, e\\.g\\. STATUS_PORT=\\d+`));
      expect(r.stderr).not.toMatch(/backup run on start/);
      expect(await readFile(join(backupDir, STATE), 'utf8').catch(() => 'absent')).toBe('absent');
    } finally {
      blocker.close();
    }
    for (const [extra, why] of [
      [{ STATUS_PORT: '70000' }, /STATUS_PORT=70000 is out of range; use a number from 1 to 65535, e\.g\. STATUS_PORT=9187/],
      [{ STATUS_PORT: 'http' }, /STATUS_PORT="http" is not a whole number; .* e\.g\. STATUS_PORT=9187/],
      [{ STATUS_PORT: '9187', STATUS_HOST: 'not an address' }, /STATUS_HOST='not an address' is not an address to listen on; .* e\.g\. STATUS_HOST=0\.0\.0\.0/],
      [{ STATUS_PORT: '9187', STATUS_TOKEN: 'has blank-s3cr3t' }, /STATUS_TOKEN: the token holds a blank or a character that cannot go in an HTTP header; .* e\.g\. STATUS_TOKEN=/],
    ] as const) {
      const bad = await runCli(['schedule'], env(backupDir, extra));
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(why);
      expect(bad.stderr).not.toContain('has blank-s3cr3t');
    }
    const flag = await runCli(['schedule', '--status-port', '0'], env(backupDir));
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--status-port 0 is out of range|--status-port=0 is out of range/);
    const help = await runCli(['schedule', '--help'], baseEnv());
    expect(help.code).toBe(0);
    for (const name of ['STATUS_PORT', 'STATUS_HOST', 'STATUS_TOKEN', '/healthz', '/status', '/metrics', 'HEALTHCHECK_MAX_AGE']) expect(help.stdout).toContain(name);
  });
});
