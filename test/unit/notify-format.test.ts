// Pure parts of run notifications: the settings (formats by prefix and host, seed 002's names, errors
// that never show the URL), the JSON payload, Slack and Discord messages within their size limits,
// and the signature.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/core/history/run-record.js';
import { discordMessage } from '../../src/core/notify/discord.js';
import { messageFor, wantsNotice } from '../../src/core/notify/notify-run.js';
import { buildPayload } from '../../src/core/notify/payload.js';
import { retryAfter } from '../../src/core/notify/send.js';
import { signatureHeaders } from '../../src/core/notify/signature.js';
import { slackMessage } from '../../src/core/notify/slack.js';
import { UsageError } from '../../src/core/errors.js';
import { redact, registerSecret } from '../../src/core/secrets.js';
import { readNotifySettings } from '../../src/core/settings/notify.js';
import { rejection } from '../helpers/rejection.js';

const SLACK = 'https://hooks.slack.com/services/T0000AAAA/B0000BBBB/slackTokenXXXXXXXXXXXXXX1';
const DISCORD = 'https://discord.com/api/webhooks/123456789012345678/discordTokenYYYYYYYYYYYYYYYYYYYYYYYY';

function settings(env: Record<string, string>, notices: string[] = []) {
  return readNotifySettings({ env, flags: {}, notice: (m) => notices.push(m) });
}

/** The message of the UsageError that reading these settings throws. */
async function usageMessage(env: Record<string, string>): Promise<string> {
  const err = await rejection(Promise.resolve().then(() => settings(env)), 'expected a UsageError');
  expect(err).toBeInstanceOf(UsageError);
  return err.message;
}

const failed: RunRecord = {
  trigger: 'schedule',
  outcome: 'failed',
  startedAt: '2026-03-01T03:00:00.000Z',
  finishedAt: '2026-03-01T03:01:05.500Z',
  destinations: [{ kind: 'local', location: '/backups', ok: false }],
  error: 'connection to server at "127.0.0.1", port 1 failed: Connection refused',
};
const good: RunRecord = {
  trigger: 'backup',
  outcome: 'ok',
  startedAt: '2026-03-01T03:00:00.000Z',
  finishedAt: '2026-03-01T03:00:10.000Z',
  folder: '20260301_030000',
  bytes: 1536,
  destinations: [
    { kind: 'local', location: '/backups', ok: true },
    { kind: 's3', location: 's3://bucket/pg', ok: true },
  ],
};

describe('notification settings', () => {
  it('picks the format by prefix, else by host; splits on commas and blanks; no URL: no target', () => {
    const s = settings({ NOTIFY_URL: `${SLACK}, ${DISCORD}\nhttps://example.com/hook slack+https://chat.example.com/x discord+http://127.0.0.1:9/y webhook+${SLACK}` });
    expect(s.targets.map((t) => [t.format, t.shown])).toEqual([
      ['slack', 'https://hooks.slack.com'],
      ['discord', 'https://discord.com'],
      ['webhook', 'https://example.com'],
      ['slack', 'https://chat.example.com'],
      ['discord', 'http://127.0.0.1:9'],
      ['webhook', 'https://hooks.slack.com'],
    ]);
    expect(s.targets[3]!.url).toBe('https://chat.example.com/x'); // the prefix is not sent
    expect(s).toMatchObject({ on: 'failure', timeoutMs: 30_000 });
    expect(settings({}).targets).toEqual([]);
    // discordapp.com too, but only its webhook path
    expect(settings({ NOTIFY_URL: 'https://discordapp.com/api/webhooks/1/abc' }).targets[0]!.format).toBe('discord');
    expect(settings({ NOTIFY_URL: 'https://discord.com/other/1/abc' }).targets[0]!.format).toBe('webhook');
  });

  it("seed 002's WEBHOOK_URL and WEBHOOK_ON_SUCCESS; contradictions and idle settings are told", async () => {
    const s = settings({ WEBHOOK_URL: 'https://example.com/hook', WEBHOOK_ON_SUCCESS: 'true' });
    expect(s.targets.map((t) => t.format)).toEqual(['webhook']);
    expect(s.on).toBe('always');
    expect(settings({ WEBHOOK_URL: SLACK }).targets[0]!.format).toBe('slack');
    // the same URL in both is notified once
    expect(settings({ WEBHOOK_URL: SLACK, NOTIFY_URL: SLACK }).targets).toHaveLength(1);
    expect(settings({ NOTIFY_URL: SLACK, NOTIFY_ON: 'always', WEBHOOK_ON_SUCCESS: 'true' }).on).toBe('always');
    expect(await usageMessage({ NOTIFY_URL: SLACK, NOTIFY_ON: 'failure', WEBHOOK_ON_SUCCESS: 'true' })).toMatch(/NOTIFY_ON=failure and WEBHOOK_ON_SUCCESS=true disagree/);
    expect(await usageMessage({ NOTIFY_URL: SLACK, NOTIFY_ON: 'sometimes' })).toMatch(/NOTIFY_ON="sometimes" is not one of failure, always/);
    expect(await usageMessage({ NOTIFY_URL: SLACK, NOTIFY_TIMEOUT: '0' })).toMatch(/NOTIFY_TIMEOUT=0 is out of range/);
    const notices: string[] = [];
    settings({ NOTIFY_ON: 'always', NOTIFY_SECRET: 'abc' }, notices);
    expect(notices).toEqual(['NOTIFY_ON, NOTIFY_SECRET are set but neither NOTIFY_URL nor WEBHOOK_URL: no notification is sent']);
  });

  it('a bad URL stops with one line that never shows it', async () => {
    const cases: [string, RegExp][] = [
      ['ftp://files.example.com/secret-token-123456', /^NOTIFY_URL \(ftp:\/\/\.\.\.\) is not an http or https URL; e\.g\. NOTIFY_URL=https:/],
      ['hooks.slack.com/services/secret-token-123456', /^NOTIFY_URL is not a URL; give an http or https URL/],
      ['teams+https://x.example.com/secret-token-123456', /^NOTIFY_URL starts with the unknown format "teams\+"/],
      [`${SLACK},mailto:secret-token-123456@example.com`, /^NOTIFY_URL \(its 2nd URL\) \(mailto:\/\/\.\.\.\) is not an http/],
      [' , ', /^NOTIFY_URL holds no URL/],
    ];
    for (const [value, expected] of cases) {
      const message = await usageMessage({ NOTIFY_URL: value });
      expect(message).toMatch(expected);
      expect(message).not.toContain('secret-token');
    }
  });

  it('registers every URL as a secret (whole, path, token) and moves user:password into a header', () => {
    const s = settings({ NOTIFY_URL: `${SLACK} https://user:pa55word@example.com/hook?token=queryTokenZZZZZZZZZZZ` });
    expect(redact(`posting to ${SLACK}`)).toBe('posting to ***');
    expect(redact('GET /services/T0000AAAA/B0000BBBB/slackTokenXXXXXXXXXXXXXX1 failed')).toBe('GET *** failed');
    expect(redact('token slackTokenXXXXXXXXXXXXXX1')).toBe('token ***');
    expect(redact('queryTokenZZZZZZZZZZZ and pa55word')).toBe('*** and ***');
    expect(s.targets[1]!.url).toBe('https://example.com/hook?token=queryTokenZZZZZZZZZZZ');
    expect(s.targets[1]!.authorization).toBe(`Basic ${Buffer.from('user:pa55word').toString('base64')}`);
  });
});

describe('the JSON payload', () => {
  it('says what happened, with the fields receivers rely on', () => {
    const p = buildPayload({ record: failed, host: 'db-backup-1' }, '1.2.3');
    expect(p).toEqual({
      event: 'backup.failed',
      tool: 'pg-backups',
      version: '1.2.3',
      host: 'db-backup-1',
      outcome: 'failed',
      trigger: 'schedule',
      startedAt: failed.startedAt,
      finishedAt: failed.finishedAt,
      durationSeconds: 65.5,
      folder: null,
      bytes: null,
      destinations: [{ kind: 'local', location: '/backups', ok: false }],
      error: failed.error,
      summary: `pg-backups scheduled backup failed on db-backup-1: ${failed.error}`,
    });
    const ok = buildPayload({ record: good, host: 'h', server: 'prod' }, '1.2.3');
    expect(ok).toMatchObject({ event: 'backup.succeeded', server: 'prod', folder: '20260301_030000', bytes: 1536, durationSeconds: 10 });
    expect(ok.summary).toBe('pg-backups backup 20260301_030000 succeeded on h (server prod)');
    expect('error' in ok).toBe(false);
    expect(buildPayload({ record: { ...failed, outcome: 'stopped', trigger: 'start' }, host: 'h' }).event).toBe('backup.stopped');
  });

  it('passes every string through redact()', () => {
    registerSecret('hunter2-password');
    const p = buildPayload({ record: { ...failed, error: 'auth failed for password hunter2-password', destinations: [{ kind: 's3', location: 's3://b', ok: false, error: 'key hunter2-password' }] }, host: 'h' });
    expect(JSON.stringify(p)).not.toContain('hunter2-password');
    expect(p.error).toBe('auth failed for password ***');
  });

  it('which runs notify: failures and stops always, good runs only with NOTIFY_ON=always, nothing without a URL', () => {
    const s = settings({ NOTIFY_URL: SLACK });
    expect([wantsNotice(s, 'failed'), wantsNotice(s, 'stopped'), wantsNotice(s, 'ok')]).toEqual([true, true, false]);
    expect(wantsNotice({ ...s, on: 'always' }, 'ok')).toBe(true);
    expect(wantsNotice({ ...s, targets: [] }, 'failed')).toBe(false);
  });
});

describe('Slack and Discord messages', () => {
  const huge = `pg_dump: error: ${'x'.repeat(20_000)} <@U123> @everyone \`\`\` & more`;
  const hugeRecord: RunRecord = {
    ...failed,
    error: huge,
    destinations: Array.from({ length: 30 }, (_, i) => ({ kind: 's3' as const, location: `s3://bucket-${i}`, ok: false, error: huge })),
  };

  it('Slack: text for the notification, blocks within their limits, mrkdwn escaped', () => {
    const m = slackMessage(buildPayload({ record: failed, host: 'db-1' }));
    expect(m.text).toBe(':x: pg-backups: backup FAILED on db-1: connection to server at "127.0.0.1", port 1 failed: Connection refused');
    expect(JSON.stringify(m.blocks)).toContain('Connection refused');
    expect(m.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'pg-backups: backup FAILED on db-1', emoji: true } });
    expect(slackMessage(buildPayload({ record: good, host: 'db-1' })).text).toBe(':white_check_mark: pg-backups: backup succeeded on db-1');

    const big = slackMessage(buildPayload({ record: hugeRecord, host: 'db-1' }));
    expect(big.text.length).toBeLessThanOrEqual(1000);
    for (const block of big.blocks as any[]) {
      if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(block.type === 'header' ? 150 : 3000);
      for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
      expect((block.fields ?? []).length).toBeLessThanOrEqual(10);
    }
    const code = (big.blocks as any[]).find((b) => b.text?.text.startsWith('*Error*')).text.text as string;
    expect(code.endsWith('…```')).toBe(true);

    const tricky = slackMessage(buildPayload({ record: { ...failed, error: 'role <@U123> @everyone ``` & more' }, host: 'db-1' }));
    const all = JSON.stringify(tricky);
    expect(all).not.toContain('<@U123>'); // escaped: no mention, no link
    expect(tricky.text).toContain('role &lt;@U123&gt; @everyone');
    const trickyCode = (tricky.blocks as any[]).find((b) => b.text?.text.startsWith('*Error*')).text.text as string;
    expect(trickyCode).toBe("*Error*\n```role &lt;@U123&gt; @everyone ''' &amp; more```"); // its own backticks cannot end the block
  });

  it('Discord: content and one embed within the limits; mentions never ping', () => {
    const m = discordMessage(buildPayload({ record: failed, host: 'db-1' }));
    expect(m.content).toBe('pg-backups: backup FAILED on db-1: connection to server at "127.0.0.1", port 1 failed: Connection refused');
    expect(m.allowed_mentions).toEqual({ parse: [] });
    const embed = m.embeds[0] as any;
    expect(embed).toMatchObject({ title: 'pg-backups: backup FAILED on db-1', color: 0xe01e5a, timestamp: failed.finishedAt });
    expect(embed.description).toContain('Connection refused');

    const big = discordMessage(buildPayload({ record: hugeRecord, host: 'db-1' }));
    const e = big.embeds[0] as any;
    expect(big.content.length).toBeLessThanOrEqual(2000);
    expect(e.title.length).toBeLessThanOrEqual(256);
    expect(e.description.length).toBeLessThanOrEqual(4096);
    expect(e.fields.length).toBeLessThanOrEqual(25);
    for (const f of e.fields) expect(f.value.length).toBeLessThanOrEqual(1024);
    const total = e.title.length + e.description.length + e.footer.text.length + e.fields.reduce((n: number, f: any) => n + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(6000);
    expect(e.description.match(/```/g)).toHaveLength(2);
    const ok = discordMessage(buildPayload({ record: good, host: 'db-1' })).embeds[0] as any;
    expect(ok.color).toBe(0x2eb67d);
    expect(ok.fields.map((f: any) => f.name)).toEqual(['Trigger', 'Started', 'Took', 'Folder', 'Size', 'Destinations']);
    expect(ok.fields.find((f: any) => f.name === 'Size').value).toBe('1.5 KiB');
  });

  it('the webhook format is the payload itself', () => {
    const p = buildPayload({ record: good, host: 'h' });
    expect(messageFor('webhook', p)).toBe(p);
  });
});

describe('signature and Retry-After', () => {
  it('HMAC-SHA256 of the exact body bytes, hex, with the time it was sent', () => {
    const body = JSON.stringify({ a: 'é', b: 1 });
    const h = signatureHeaders('s3cret', body, new Date('2026-03-01T00:00:00Z'));
    expect(h['X-Pg-Backups-Timestamp']).toBe('1772323200');
    expect(h['X-Pg-Backups-Signature']).toBe(`sha256=${createHmac('sha256', 's3cret').update(Buffer.from(body, 'utf8')).digest('hex')}`);
    expect(signatureHeaders(undefined, body, new Date())['X-Pg-Backups-Signature']).toBeUndefined();
  });

  it('Retry-After in seconds or as a date', () => {
    expect(retryAfter('3')).toBe(3000);
    expect(retryAfter('0.5')).toBe(500);
    expect(retryAfter(null)).toBeUndefined();
    expect(retryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-03-01T00:00:00Z');
    expect(retryAfter('Sun, 01 Mar 2026 00:00:05 GMT', now)).toBe(5000);
  });
});
