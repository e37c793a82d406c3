// Notifications of restore drills: the JSON payload (events, summaries, redaction, caps), the Slack
// and Discord messages within the services' limits, which drills notify, and one delivery to a real
// HTTP server on 127.0.0.1 (JSON body, signature, the Slack shape of a slack+ URL).
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { drillRecord } from '../../src/core/drill/drill-record.js';
import type { DrillDatabaseResult, DrillReport } from '../../src/core/drill/drill-service.js';
import type { DrillRecord } from '../../src/core/history/run-record.js';
import { discordMessage } from '../../src/core/notify/discord.js';
import { buildDrillPayload, type DrillNoticeEvent } from '../../src/core/notify/drill-payload.js';
import { messageFor, notifyDrill, wantsDrillNotice } from '../../src/core/notify/notify-run.js';
import { buildPayload } from '../../src/core/notify/payload.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/core/notify/signature.js';
import { slackMessage } from '../../src/core/notify/slack.js';
import { registerSecret } from '../../src/core/secrets.js';
import { readNotifySettings, type NotifySettings } from '../../src/core/settings/notify.js';

const FOLDER = '20261201_030000';

function database(name: string, over: Partial<DrillDatabaseResult> = {}): DrillDatabaseResult {
  return { database: name, scratch: `pgb_drill_${name}`, outcome: 'passed', restoreSeconds: 4.24, bytes: 2048, counts: 'checked', tablesChecked: 12, differences: [], ...over };
}

function report(databases: DrillDatabaseResult[]): DrillReport {
  const bad = databases.some((d) => d.outcome !== 'passed');
  return {
    ok: !bad,
    exitCode: bad ? 3 : 0,
    folder: FOLDER,
    source: 's3:s3://bucket/pg',
    target: 'postgres@127.0.0.1:5432/postgres',
    targetVersion: '17.2',
    startedAt: '2026-12-01T03:00:00.000Z',
    finishedAt: '2026-12-01T03:02:30.000Z',
    leftoversDropped: [],
    databases,
  };
}

const differing = report([
  database('app', {
    outcome: 'differences',
    differences: [
      { schema: 'public', table: 'orders', expected: 10, found: 8 },
      { schema: 'public', table: 'gone', expected: 3, found: null },
    ],
  }),
]);
const passing = report([database('app'), database('billing', { tablesChecked: 29 }), database('legacy', { counts: 'not recorded', tablesChecked: 0 })]);

function event(r: DrillReport, trigger: DrillRecord['trigger'] = 'schedule', over: Partial<DrillNoticeEvent> = {}): DrillNoticeEvent {
  return { record: drillRecord(r, trigger), report: r, host: 'db-1', ...over };
}

/** A drill that ended before it had a report (the target unreachable). */
const noReport: DrillNoticeEvent = {
  host: 'db-1',
  record: { trigger: 'drill', outcome: 'failed', startedAt: '2026-12-01T03:00:00.000Z', finishedAt: '2026-12-01T03:00:01.000Z', databases: 0, tablesChecked: 0, differences: 0, error: 'connection refused' },
};

function settings(env: Record<string, string>): NotifySettings {
  return readNotifySettings({ env, flags: {} });
}

describe('the drill payload', () => {
  it('says what the drill found, with kind "drill"; the run payload keeps its fields', () => {
    const p = buildDrillPayload(event(differing, 'schedule', { server: 'main' }), '1.2.3');
    expect(p).toEqual({
      event: 'drill.failed',
      tool: 'pg-backups',
      version: '1.2.3',
      server: 'main',
      host: 'db-1',
      kind: 'drill',
      outcome: 'differences',
      trigger: 'schedule',
      startedAt: '2026-12-01T03:00:00.000Z',
      finishedAt: '2026-12-01T03:02:30.000Z',
      durationSeconds: 150,
      folder: FOLDER,
      source: 's3:s3://bucket/pg',
      target: 'postgres@127.0.0.1:5432/postgres',
      databases: [
        {
          database: 'app',
          outcome: 'differences',
          restoreSeconds: 4.2,
          bytes: 2048,
          tablesChecked: 12,
          counts: 'checked',
          differences: [
            { schema: 'public', table: 'orders', expected: 10, found: 8 },
            { schema: 'public', table: 'gone', expected: 3, found: null },
          ],
          differencesLeftOut: 0,
        },
      ],
      tablesChecked: 12,
      differences: 2,
      error: '"app" public.orders: recorded 10, found 8',
      summary: `pg-backups scheduled drill of ${FOLDER} FAILED on db-1 (server main): 2 tables differ: "public"."orders": recorded 10, found 8`,
    });
    const run = buildPayload({ record: { trigger: 'backup', outcome: 'ok', startedAt: p.startedAt, finishedAt: p.finishedAt, destinations: [] }, host: 'h' });
    expect('kind' in run).toBe(false);
  });

  it('event names and summaries for each outcome', () => {
    const pass = buildDrillPayload(event(passing, 'drill'));
    expect(pass.event).toBe('drill.passed');
    expect(pass.summary).toBe(`pg-backups drill of ${FOLDER} passed on db-1: 3 databases, 41 tables checked`);

    const damaged = report([database('app', { outcome: 'damaged', error: 'gzip: unexpected end of file\nsecond line' }), differing.databases[0]!, database('billing')]);
    const d = buildDrillPayload(event(damaged, 'screen'));
    expect([d.event, d.outcome]).toEqual(['drill.failed', 'damaged']);
    expect(d.summary).toBe(`pg-backups drill of ${FOLDER} FAILED on db-1: "app" is damaged: gzip: unexpected end of file second line; 2 tables differ: "app" "public"."orders": recorded 10, found 8`);

    const failed = buildDrillPayload(event(report([database('app', { outcome: 'failed', error: 'pg_restore exited with 1' })])));
    expect([failed.event, failed.outcome]).toEqual(['drill.failed', 'failed']);
    expect(failed.summary).toBe(`pg-backups scheduled drill of ${FOLDER} FAILED on db-1: "app" could not be restored: pg_restore exited with 1`);

    const bare = buildDrillPayload(noReport);
    expect(bare).toMatchObject({ event: 'drill.failed', folder: null, source: null, target: null, databases: [], durationSeconds: 1 });
    expect(bare.summary).toBe('pg-backups drill FAILED on db-1: connection refused');

    const stopped = buildDrillPayload({ ...noReport, record: { ...noReport.record, outcome: 'stopped', folder: FOLDER, error: 'a backup came due' } });
    expect(stopped.event).toBe('drill.stopped');
    expect(stopped.summary).toBe(`pg-backups drill of ${FOLDER} was stopped on db-1: a backup came due`);
  });

  it('passes every string through redact(), messages included', () => {
    registerSecret('drill-hunter2-pw');
    const r = report([database('app', { outcome: 'failed', error: 'password authentication failed: drill-hunter2-pw' })]);
    const p = buildDrillPayload(event({ ...r, target: 'u@h/drill-hunter2-pw' }));
    expect(p.databases[0]!.error).toBe('password authentication failed: ***');
    for (const body of [p, slackMessage(p), discordMessage(p)]) expect(JSON.stringify(body)).not.toContain('drill-hunter2-pw');
  });

  it('lists at most 20 differing tables per database and counts the rest', () => {
    const many = Array.from({ length: 45 }, (_, i) => ({ schema: 'public', table: `t${i}`, expected: i + 1, found: i }));
    const p = buildDrillPayload(event(report([database('app', { outcome: 'differences', tablesChecked: 50, differences: many })])));
    expect(p.databases[0]!.differences).toHaveLength(20);
    expect(p.databases[0]!.differencesLeftOut).toBe(25);
    expect(p.differences).toBe(45);
    const lines = (slackMessage(p).blocks as any[]).find((b) => b.text?.text.startsWith('*Databases*')).text.text as string;
    expect(lines).toMatch(/^\*Databases\*\n• "app": differences, 50 tables checked, 45 differ \("public"\."t0": recorded 1, found 0; /);
  });
});

describe('which drills notify', () => {
  it('failures always, passes only with NOTIFY_ON=always, stops never, nothing without a URL', () => {
    const failure = settings({ NOTIFY_URL: 'https://example.com/hook' });
    const always = { ...failure, on: 'always' as const };
    const outcomes: DrillRecord['outcome'][] = ['passed', 'differences', 'damaged', 'failed', 'stopped'];
    expect(outcomes.map((o) => wantsDrillNotice(failure, o))).toEqual([false, true, true, true, false]);
    expect(outcomes.map((o) => wantsDrillNotice(always, o))).toEqual([true, true, true, true, false]);
    expect(outcomes.map((o) => wantsDrillNotice({ ...always, targets: [] }, o))).toEqual([false, false, false, false, false]);
  });
});

describe('Slack and Discord messages of drills', () => {
  const huge = `pg_restore: error: ${'x'.repeat(20_000)} <@U123> @everyone \`\`\` & more`;
  const hugeReport: DrillReport = {
    ...report(
      Array.from({ length: 40 }, (_, i) =>
        database(`db_${i}_${'n'.repeat(60)}`, i % 2 === 0
          ? { outcome: 'damaged', error: huge }
          : { outcome: 'differences', differences: Array.from({ length: 30 }, (_, j) => ({ schema: 's'.repeat(60), table: `t${j}${'x'.repeat(60)}`, expected: 1e9, found: null })) }),
      ),
    ),
    source: `s3:s3://bucket/${'p'.repeat(3000)}`,
    target: `postgres@${'h'.repeat(3000)}:5432/postgres`,
  };
  const bigEvent = event(hugeReport, 'schedule', { host: 'host-'.repeat(100), server: 'main' });

  it('Slack: the drill as text, facts, error and one line per database; within the limits, mrkdwn escaped', () => {
    const m = slackMessage(buildDrillPayload(event(differing, 'drill', { server: 'main' }), '1.2.3'));
    expect(m.text).toBe(':x: pg-backups: restore drill FAILED on db-1 (server main): "app" public.orders: recorded 10, found 8');
    expect(m.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: 'pg-backups: restore drill FAILED on db-1 (server main)', emoji: true } },
      {
        type: 'section',
        fields: [
          ['Trigger', 'pg-backups drill'],
          ['Started', '2026-12-01T03:00:00.000Z'],
          ['Took', '2m 30s'],
          ['Folder', FOLDER],
          ['Source', 's3:s3://bucket/pg'],
          ['Target', 'postgres@127.0.0.1:5432/postgres'],
          ['Tables checked', '12, 2 differ'],
        ].map(([name, value]) => ({ type: 'mrkdwn', text: `*${name}*\n${value}` })),
      },
      { type: 'section', text: { type: 'mrkdwn', text: '*Error*\n```"app" public.orders: recorded 10, found 8```' } },
      { type: 'section', text: { type: 'mrkdwn', text: '*Databases*\n• "app": differences, 12 tables checked, 2 differ ("public"."orders": recorded 10, found 8; "public"."gone": recorded 3, found no such table)' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'pg-backups 1.2.3 · drill.failed' }] },
    ]);
    const pass = slackMessage(buildDrillPayload(event(passing, 'screen')));
    expect(pass.text).toBe(':white_check_mark: pg-backups: restore drill passed on db-1');
    expect(JSON.stringify(pass.blocks)).toContain('• \\"legacy\\": passed, restore only (the backup recorded no row counts)');

    const big = slackMessage(buildDrillPayload(bigEvent));
    expect(big.text.length).toBeLessThanOrEqual(1000);
    for (const block of big.blocks as any[]) {
      if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(block.type === 'header' ? 150 : 3000);
      for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
      expect((block.fields ?? []).length).toBeLessThanOrEqual(10);
    }
    const tricky = slackMessage(buildDrillPayload(event(report([database('<@U123> & co', { outcome: 'failed', error: 'role <b> ``` x' })]))));
    expect(JSON.stringify(tricky)).not.toContain('<@U123>');
    const section = (tricky.blocks as any[]).find((b) => b.text?.text.startsWith('*Databases*')).text.text as string;
    expect(section).toBe('*Databases*\n• "&lt;@U123&gt; &amp; co": failed (role &lt;b&gt; ``` x)');
    const code = (tricky.blocks as any[]).find((b) => b.text?.text.startsWith('*Error*')).text.text as string;
    expect(code).toBe("*Error*\n```role &lt;b&gt; ''' x```");
  });

  it('Discord: content and one embed within the limits; mentions never ping', () => {
    const m = discordMessage(buildDrillPayload(event(passing, 'schedule'), '1.2.3'));
    expect(m.content).toBe('pg-backups: restore drill passed on db-1');
    expect(m.allowed_mentions).toEqual({ parse: [] });
    const ok = m.embeds[0] as any;
    expect(ok).toMatchObject({ title: 'pg-backups: restore drill passed on db-1', color: 0x2eb67d, timestamp: passing.finishedAt, footer: { text: 'pg-backups 1.2.3 · drill.passed' } });
    expect(ok.description).toBeUndefined();
    expect(ok.fields.map((f: any) => f.name)).toEqual(['Trigger', 'Started', 'Took', 'Folder', 'Source', 'Target', 'Tables checked', 'Databases']);
    expect(ok.fields.at(-1).value).toBe('"app": passed, 12 tables checked\n"billing": passed, 29 tables checked\n"legacy": passed, restore only (the backup recorded no row counts)');
    expect((discordMessage(buildDrillPayload(noReport)).embeds[0] as any).color).toBe(0xe01e5a);

    const big = discordMessage(buildDrillPayload(bigEvent));
    const e = big.embeds[0] as any;
    expect(big.content.length).toBeLessThanOrEqual(2000);
    expect(e.title.length).toBeLessThanOrEqual(256);
    expect(e.description.length).toBeLessThanOrEqual(4096);
    expect(e.description.match(/```/g)).toHaveLength(2);
    expect(e.fields.length).toBeLessThanOrEqual(25);
    for (const f of e.fields) expect(f.value.length).toBeLessThanOrEqual(1024);
    const total = e.title.length + e.description.length + e.footer.text.length + e.fields.reduce((n: number, f: any) => n + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(6000);
  });

  it('messageFor gives each format its body for a drill too', () => {
    const p = buildDrillPayload(event(differing));
    expect(messageFor('webhook', p)).toBe(p);
    expect(messageFor('slack', p)).toEqual(slackMessage(p));
    expect(messageFor('discord', p)).toEqual(discordMessage(p));
  });
});

describe('notifyDrill', () => {
  it('posts the signed JSON body and the Slack shape to a real server; passes wait for NOTIFY_ON=always', async () => {
    const received: { url: string; headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (req.url === '/bad-hook-token-123') res.writeHead(400).end('invalid_payload');
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const s = settings({ NOTIFY_URL: `${base}/json-hook-token-123 slack+${base}/slack-hook-token-123 ${base}/bad-hook-token-123`, NOTIFY_SECRET: 's' });
      const logs: string[] = [];
      const log = { info: (m: string) => logs.push(`info ${m}`), warn: (m: string) => logs.push(`warn ${m}`) };
      const ev = event(differing, 'schedule', { server: 'main' });
      await notifyDrill(s, ev, { log });

      expect(received.map((r) => r.url).sort()).toEqual(['/bad-hook-token-123', '/json-hook-token-123', '/slack-hook-token-123']);
      const json = received.find((r) => r.url === '/json-hook-token-123')!;
      expect(JSON.parse(json.body)).toEqual(buildDrillPayload(ev));
      expect(json.headers['content-type']).toBe('application/json');
      expect(json.headers[SIGNATURE_HEADER.toLowerCase()]).toBe(`sha256=${createHmac('sha256', 's').update(Buffer.from(json.body, 'utf8')).digest('hex')}`);
      expect(json.headers[TIMESTAMP_HEADER.toLowerCase()]).toMatch(/^\d{10}$/);
      const slack = JSON.parse(received.find((r) => r.url === '/slack-hook-token-123')!.body);
      expect(Object.keys(slack)).toEqual(['text', 'blocks']);
      expect(slack.text).toBe(':x: pg-backups: restore drill FAILED on db-1 (server main): "app" public.orders: recorded 10, found 8');

      logs.sort();
      expect(logs.slice(0, 2)).toEqual([`info notified ${base} (slack) of drill.failed`, `info notified ${base} (webhook) of drill.failed`]);
      expect(logs[2]).toMatch(/^warn notification of drill\.failed to http:\/\/127\.0\.0\.1:\d+ \(webhook\) not sent: answered 400 Bad Request \(invalid_payload\) \(1 attempt in [\d.]+s\); the drill's outcome stands$/);
      expect(logs).toHaveLength(3);
      expect(logs.join('\n')).not.toContain('hook-token');

      // a passed drill: nothing with NOTIFY_ON=failure (the default), a notice with always
      await notifyDrill(s, event(passing), { log });
      expect(received).toHaveLength(3);
      await notifyDrill({ ...s, on: 'always', targets: s.targets.slice(0, 1) }, event(passing), { log });
      expect(received).toHaveLength(4);
      expect(JSON.parse(received[3]!.body)).toMatchObject({ kind: 'drill', event: 'drill.passed', outcome: 'passed' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
