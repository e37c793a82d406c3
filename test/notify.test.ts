// Run notifications, end to end: the built CLI backs up a real server and posts to real HTTP
// receivers on 127.0.0.1. The JSON webhook with its signature, Slack and Discord messages of a
// failed run, NOTIFY_ON, seed 002's WEBHOOK_URL, retries on 500, a receiver that hangs, a run
// stopped by SIGTERM, a bad NOTIFY_URL; no secret in any body or log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { json, startReceiver, TOKEN, type Answer, type Receiver } from './helpers/http-receiver.js';
import { join } from 'node:path';
import pg from 'pg';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { freePort, makeTempDir } from './helpers/tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECRET = 'n0tify-s3cret-value';


describe('notifications of backup runs', () => {
  let server: PgServer;
  let dir: string;
  const receivers: Receiver[] = [];
  let env: (name: string, extra?: Record<string, string>) => Record<string, string>;
  const receiver = async (answer?: Answer) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  /** No password, signing secret or URL token in any body or in stderr. */
  const expectNoSecrets = (...texts: (string | Buffer)[]) => {
    for (const text of texts) {
      const s = text.toString();
      expect(s).not.toContain(server.password);
      expect(s).not.toContain(SECRET);
      expect(s).not.toContain(TOKEN);
    }
  };

  beforeAll(async () => {
    server = await startPgServer(15);
    dir = await makeTempDir('notify-');
    await server.query(`CREATE DATABASE zzz_locked`);
    await server.query(`CREATE TABLE t (id int); INSERT INTO t VALUES (1)`, 'zzz_locked');
    env = (name, extra = {}) => baseEnv({ ...server.env(), BACKUP_DIR: join(dir, name), ...extra });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await server?.stop();
  });

  it('a good run with NOTIFY_ON=always posts the JSON webhook, signed with NOTIFY_SECRET', async () => {
    const hook = await receiver();
    const before = Math.floor(Date.now() / 1000);
    const r = await runCli(['backup', '--json'], env('good', { NOTIFY_URL: hook.url(), NOTIFY_ON: 'always', NOTIFY_SECRET: SECRET }));
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(hook.requests).toHaveLength(1);
    const req = hook.requests[0]!;
    expect(req.path).toBe(`/hooks/T000/B000/${TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^pg-backups\/\d+\.\d+\.\d+/);

    // The receiver's check: HMAC-SHA256 of the raw body with the shared secret, compared in constant time.
    const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`);
    const given = Buffer.from(String(req.headers['x-pg-backups-signature']));
    expect(given.length === expected.length && timingSafeEqual(given, expected)).toBe(true);
    const sentAt = Number(req.headers['x-pg-backups-timestamp']);
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(sentAt).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));

    const payload = json(req);
    expect(payload).toMatchObject({
      event: 'backup.succeeded',
      tool: 'pg-backups',
      outcome: 'ok',
      trigger: 'backup',
      folder: result.folder,
      bytes: result.manifest.files.reduce((n: number, f: any) => n + f.bytes, 0),
      destinations: [{ kind: 'local', location: join(dir, 'good'), ok: true }],
    });
    expect(payload.version).toBe(result.manifest.tool.version);
    expect(typeof payload.host).toBe('string');
    expect(payload.server).toBeUndefined();
    expect(payload.error).toBeUndefined();
    expect(payload.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(payload.finishedAt)).toBeGreaterThanOrEqual(Date.parse(payload.startedAt));
    const port = new URL(hook.url()).port;
    expect(r.stderr).toContain(`notified http://127.0.0.1:${port} (webhook) of backup.succeeded`);
    expectNoSecrets(req.body, r.stderr, r.stdout);
  });

  it('by default (NOTIFY_ON=failure) a good run sends nothing', async () => {
    const hook = await receiver();
    const r = await runCli(['backup'], env('quiet', { NOTIFY_URL: hook.url() }));
    expect(r.code).toBe(0);
    expect(hook.requests).toHaveLength(0);
    expect(r.stderr).not.toMatch(/notified|notification/);
  });

  it('a failed run (nothing listens on PGPORT): Slack and Discord messages with the error line', async () => {
    const hook = await receiver();
    const deadPort = String(await freePort());
    const r = await runCli(['backup'], env('failed', { PGPORT: deadPort, NOTIFY_URL: `slack+${hook.url('/slack/' + TOKEN)}, discord+${hook.url('/discord/' + TOKEN)}`, NOTIFY_SECRET: SECRET }));
    expect(r.code).toBe(1);
    expect(hook.requests).toHaveLength(2);
    const slack = json(hook.requests.find((q) => q.path.startsWith('/slack/'))!);
    const discord = json(hook.requests.find((q) => q.path.startsWith('/discord/'))!);
    const errorLine = new RegExp(`127\\.0\\.0\\.1.*${deadPort}`);

    expect(slack.text).toMatch(/^:x: pg-backups: backup FAILED on \S+: /);
    expect(slack.text).toMatch(errorLine);
    expect(slack.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    const errorBlock = slack.blocks.find((b: any) => b.text?.text?.startsWith('*Error*'));
    expect(errorBlock.text.text).toMatch(errorLine);

    expect(discord.content).toMatch(/^pg-backups: backup FAILED on \S+: /);
    expect(discord.content).toMatch(errorLine);
    expect(discord.allowed_mentions).toEqual({ parse: [] });
    expect(discord.embeds).toHaveLength(1);
    expect(discord.embeds[0]).toMatchObject({ title: expect.stringMatching(/backup FAILED/), color: 0xe01e5a });
    expect(discord.embeds[0].description).toMatch(errorLine);
    // Both signed (every format is).
    for (const q of hook.requests) expect(q.headers['x-pg-backups-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(q.body).digest('hex')}`);

    expect(r.stderr).toMatch(/notified http:\/\/127\.0\.0\.1:\d+ \(slack\) of backup\.failed/);
    expect(r.stderr).toMatch(/notified http:\/\/127\.0\.0\.1:\d+ \(discord\) of backup\.failed/);
    expectNoSecrets(...hook.requests.map((q) => q.body), r.stderr);
  });

  it("seed 002's WEBHOOK_URL with WEBHOOK_ON_SUCCESS=true notifies a good run", async () => {
    const hook = await receiver();
    const r = await runCli(['backup'], env('seed002', { WEBHOOK_URL: hook.url(), WEBHOOK_ON_SUCCESS: 'true' }));
    expect(r.code).toBe(0);
    expect(hook.requests).toHaveLength(1);
    expect(json(hook.requests[0]!)).toMatchObject({ event: 'backup.succeeded', outcome: 'ok' });
    expect(hook.requests[0]!.headers['x-pg-backups-signature']).toBeUndefined(); // no NOTIFY_SECRET: unsigned
  });

  it('a receiver answering 500 is retried with backoff, 4xx is not; the backup still exits 0', async () => {
    const flaky = await receiver((n) => (n < 2 ? (n === 0 ? 500 : 503) : 200));
    const broken = await receiver(() => 500);
    const gone = await receiver(() => 404);
    const r = await runCli(['backup'], env('retries', { NOTIFY_URL: [flaky, broken, gone].map((x) => x.url()).join(' '), NOTIFY_ON: 'always', NOTIFY_TIMEOUT: '8' }));
    expect(r.code).toBe(0);
    expect(flaky.requests).toHaveLength(3); // 500, 503, then delivered
    expect(broken.requests.length).toBeGreaterThanOrEqual(2);
    expect(gone.requests).toHaveLength(1);
    // The same body each time, and waits that grow.
    expect(new Set(flaky.requests.map((q) => q.body.toString())).size).toBe(1);
    const gaps = broken.requests.slice(1).map((q, i) => q.at - broken.requests[i]!.at);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]!);
    const port = (x: Receiver) => new URL(x.url()).port;
    expect(r.stderr).toMatch(new RegExp(`notified http://127\\.0\\.0\\.1:${port(flaky)} \\(webhook\\) of backup\\.succeeded \\(3 attempts in [\\d.]+s\\)`));
    const warnings = r.stderr.split('\n').filter((l) => / warn /.test(l));
    expect(warnings.find((l) => l.includes(`:${port(broken)} `))).toMatch(/not sent: answered 500 Internal Server Error \(answer 500\).*\(\d attempts in [\d.]+s\); the run's outcome stands$/);
    expect(warnings.find((l) => l.includes(`:${port(gone)} `))).toMatch(/not sent: answered 404 Not Found \(answer 404\) \(1 attempt in/);
    expectNoSecrets(r.stderr);
  });

  it('a receiver that never answers does not fail the backup, which ends within NOTIFY_TIMEOUT', async () => {
    const hung = await receiver(() => 'hang');
    const started = Date.now();
    const r = await runCli(['backup'], env('hang', { NOTIFY_URL: hung.url(), NOTIFY_ON: 'always', NOTIFY_TIMEOUT: '3' }), 90_000);
    expect(r.code).toBe(0);
    expect(hung.requests).toHaveLength(1);
    expect(Date.now() - hung.requests[0]!.at).toBeLessThan(3_000 + 20_000); // generous: the bound, not a timing claim
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(r.stderr).toMatch(/warn  notification of backup\.succeeded to http:\/\/127\.0\.0\.1:\d+ \(webhook\) not sent: no answer within the time bound \(NOTIFY_TIMEOUT 3s\) \(1 attempt in [\d.]+s\)/);
    expectNoSecrets(r.stderr);
  });

  it('schedule: a run stopped by SIGTERM is notified as backup.stopped, and a hanging receiver does not hold up the shutdown', async () => {
    const hook = await receiver();
    const hung = await receiver(() => 'hang');
    const locker = new pg.Client(server.clientConfig('zzz_locked'));
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE'); // the dump of zzz_locked waits for it
    try {
      const child = startCli(['schedule'], env('stopped', { BACKUP_SCHEDULE: '0 3 * * *', NOTIFY_URL: `${hook.url()},${hung.url()}`, NOTIFY_TIMEOUT: '120', NOTIFY_SECRET: SECRET }));
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      const until = Date.now() + 60_000;
      while (!stderr.includes('dumping database "zzz_locked"')) {
        if (Date.now() > until) throw new Error(`the run did not reach zzz_locked:\n${stderr}`);
        await sleep(50);
      }
      const signalled = Date.now();
      child.kill('SIGTERM');
      expect(await closed).toBe(1);
      expect(Date.now() - signalled).toBeLessThan(30_000); // far below NOTIFY_TIMEOUT=120: about 3 s at most for notifications
      expect(hook.requests).toHaveLength(1);
      expect(hung.requests).toHaveLength(1);
      const payload = json(hook.requests[0]!);
      expect(payload).toMatchObject({ event: 'backup.stopped', outcome: 'stopped', trigger: 'start', folder: null });
      expect(payload.error).toMatch(/stopped during the dump of database "zzz_locked"/);
      expect(stderr).toMatch(/warn  notification of backup\.stopped to http:\/\/127\.0\.0\.1:\d+ \(webhook\) not sent: no answer within the time bound \(3s while stopping\)/);
      expectNoSecrets(hook.requests[0]!.body, stderr);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('a bad NOTIFY_URL stops backup and schedule with exit 2 before anything is done, without showing the URL', async () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ NOTIFY_URL: `ftp://files.example.com/${TOKEN}` }, /NOTIFY_URL \(ftp:\/\/\.\.\.\) is not an http or https URL; e\.g\. NOTIFY_URL=https:\/\//],
      [{ NOTIFY_URL: `teams+https://example.com/${TOKEN}` }, /NOTIFY_URL starts with the unknown format "teams\+"/],
      [{ WEBHOOK_URL: `example.com/${TOKEN}` }, /WEBHOOK_URL is not a URL/],
      [{ NOTIFY_URL: 'https://example.com/hook', NOTIFY_TIMEOUT: 'soon' }, /NOTIFY_TIMEOUT="soon" is not a whole number/],
    ];
    for (const [extra, message] of bad) {
      for (const command of [['backup'], ['schedule']]) {
        const backupDir = join(dir, 'bad-settings');
        const r = await runCli(command, env('bad-settings', { BACKUP_SCHEDULE: '0 3 * * *', ...extra }));
        expect(r.code).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(message);
        expect(existsSync(backupDir)).toBe(false);
        expectNoSecrets(r.stderr);
      }
    }
  });
});
