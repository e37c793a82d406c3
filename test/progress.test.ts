// Typed progress: the tracker's arithmetic (fake clock), the log lines of long phases, and real runs
// (PostgreSQL 15, s3rver, sshd): a backup and a restore report every phase, with byte counts that
// end at the totals, and `docker logs` of a long dump shows it alive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runBackup, type BackupEvent } from '../src/core/backup/backup-service.js';
import { tableOf } from '../src/core/backup/dump-steps.js';
import { describeProgress, ProgressTracker, type Progress } from '../src/core/progress.js';
import { runRestore } from '../src/core/restore/restore-service.js';
import type { RestoreEvent } from '../src/core/restore/model.js';
import { readBackupSettings } from '../src/core/settings/backup.js';
import { readConnection } from '../src/core/settings/connection.js';
import { readS3 } from '../src/core/settings/destinations.js';
import { S3Destination } from '../src/sources/s3.js';
import { openBackupTargets } from '../src/sources/open.js';
import { progressLogger } from '../src/commands/progress-log.js';
import { formatBytes, type Output } from '../src/commands/output.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

describe('ProgressTracker and the progress log (a fake clock)', () => {
  it('reports a phase at start, at most every interval while it runs, and at its end; rate and time left over the last seconds', () => {
    let t = 0;
    const seen: Progress[] = [];
    const tracker = new ProgressTracker((p) => seen.push(p), { intervalMs: 250, now: () => t });
    const phase = tracker.phase('download', 'download:x', 'download of x', 10_000_000);
    expect(seen).toEqual([{ id: 'download:x', kind: 'download', label: 'download of x', state: 'running', bytes: 0, totalBytes: 10_000_000, elapsedMs: 0 }]);
    t = 100;
    phase.update(100_000, 'x');
    expect(seen).toHaveLength(1); // within the interval
    for (let i = 1; i <= 8; i++) {
      t = i * 500;
      phase.update(i * 500_000, 'x'); // 1 MB/s
    }
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ bytes: 4_000_000, elapsedMs: 4000, object: 'x' });
    expect(last.rate).toBeCloseTo(1_000_000, -3);
    expect(last.etaMs).toBeCloseTo(6000, -2);
    expect(describeProgress(last, formatBytes)).toBe('download of x: 3.8 MB of 9.5 MB (40%), 977 KB/s, about 6s left, x');
    t = 4100;
    phase.done();
    expect(seen.at(-1)).toMatchObject({ state: 'done', bytes: 4_000_000 });
    expect(seen.at(-1)!.etaMs).toBeUndefined();
    phase.update(5); // ignored once done
    expect(seen.at(-1)!.bytes).toBe(4_000_000);
  });

  it('logs a running phase from its first interval on, at most once per interval; nothing for short phases', () => {
    let t = 0;
    const lines: string[] = [];
    const out = { log: (m: string) => lines.push(m) } as unknown as Output;
    const log = progressLogger(out, 5000, () => t);
    const p = (elapsedMs: number, state: Progress['state'] = 'running'): Progress => ({ id: 'a', kind: 'dump-database', label: 'dump of database "a"', state, bytes: elapsedMs * 1000, elapsedMs });
    for (t = 0; t <= 16_000; t += 500) log(p(t));
    expect(lines).toEqual(['dump of database "a": 4.8 MB, 5s so far', 'dump of database "a": 9.5 MB, 10s so far', 'dump of database "a": 14 MB, 15s so far']);
    log(p(17_000, 'done'));
    expect(lines).toHaveLength(3);
  });

  it('names the table whose data pg_dump is writing', () => {
    expect(tableOf(Buffer.from('x\n-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: app\n--\n'))).toBe('table public.events');
    expect(tableOf(Buffer.from('-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: app'))).toBeUndefined(); // not at a line start
    expect(tableOf(Buffer.from('1\t2\n3\t4\n'))).toBeUndefined();
  });
});

describe('progress of real runs', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;

  beforeAll(async () => {
    [pg, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('pgb-progress-')]);
    await pg.query('CREATE DATABASE app');
    await pg.query(`CREATE TABLE events AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, 300000) g`, 'app');
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
  });

  const lastOf = (events: Progress[]) => {
    const byId = new Map<string, Progress>();
    for (const p of events) byId.set(p.id, p);
    return byId;
  };

  it('a backup reports the dumps, the upload, the push and retention, ending at their totals; the manifest records raw sizes', async () => {
    const env = { ...pg.env(), BACKUP_DIR: join(dir, 'local'), ...s3.s3Env({ S3_PREFIX: 'progress' }), ...sshd.rsyncEnv(join(sshd.remoteRoot, 'progress')) };
    const events: Progress[] = [];
    const settings = readBackupSettings({ env, flags: {} });
    const result = await runBackup({
      settings,
      sources: openBackupTargets(settings),
      conn: readConnection({ env, flags: {} }),
      signal: new AbortController().signal,
      onEvent: (e: BackupEvent) => e.type === 'progress' && events.push(e.progress),
    });
    expect(result.errors).toEqual([]);
    const last = lastOf(events);
    const total = result.manifest.files.reduce((n, f) => n + f.bytes, 0);
    expect([...last.keys()].sort()).toEqual(
      [
        'dump-globals',
        ...result.manifest.clusterDatabases.map((d) => `dump-database:${d}`),
        `upload-s3:s3://${s3.bucket}/progress`,
        `push-remote:root@127.0.0.1:${sshd.port}:${join(sshd.remoteRoot, 'progress')}`,
        `retention:s3:s3://${s3.bucket}/progress`,
        `retention:remote:root@127.0.0.1:${sshd.port}:${join(sshd.remoteRoot, 'progress')}`,
        `retention:local:${join(dir, 'local')}`,
      ].sort(),
    );
    for (const p of last.values()) expect(p.state, p.id).toBe('done');
    expect(last.get(`upload-s3:s3://${s3.bucket}/progress`)).toMatchObject({ bytes: total, totalBytes: total });
    expect(last.get(`push-remote:root@127.0.0.1:${sshd.port}:${join(sshd.remoteRoot, 'progress')}`)).toMatchObject({ bytes: total, totalBytes: total });
    // Each database file: the dump's bytes are its uncompressed size, which the manifest records.
    for (const f of result.manifest.files) {
      const raw = gunzipSync(await readFile(join(result.path, f.name))).length;
      expect(f.rawBytes, f.name).toBe(raw);
      if (f.kind === 'database') expect(last.get(`dump-database:${f.database}`)!.bytes, f.name).toBe(raw);
    }
    expect(last.get('dump-database:app')!.object).toBe('table public.events');
    // The event stream of one phase: bytes never go back.
    const app = events.filter((p) => p.id === 'dump-database:app').map((p) => p.bytes);
    expect(app).toEqual([...app].sort((a, b) => a - b));
  });

  it('a restore from S3 reports listing, download, the psql phase and the swap, ending at their totals; download and psql run at once', async () => {
    const env = { ...pg.env(), ...s3.s3Env({ S3_PREFIX: 'progress' }) };
    const source = new S3Destination(readS3({ env, flags: {} })!);
    const events: RestoreEvent[] = [];
    try {
      const summary = await runRestore({
        request: { source: 's3', folder: 'latest', type: 'database', database: 'app', targetDatabase: 'app_progress', overwrite: false, restoreDir: join(dir, 'restore') },
        source,
        conn: readConnection({ env, flags: {} }),
        signal: new AbortController().signal,
        onEvent: (e) => events.push(e),
      });
      const progress = events.flatMap((e) => (e.type === 'progress' ? [e.progress] : []));
      const last = lastOf(progress);
      const file = summary.files[0]!;
      const raw = gunzipSync(await readFile(file.path)).length;
      expect([...last.keys()].sort()).toEqual(['listing:s3', `download:${file.name}`, 'restore-database:app_progress', 'swap:app_progress'].sort());
      // One pass: the download ends while psql is at work on the same bytes, not before it starts.
      const firstRestore = progress.findIndex((p) => p.id === 'restore-database:app_progress');
      const downloadDone = progress.findIndex((p) => p.id === `download:${file.name}` && p.state === 'done');
      const restoreDone = progress.findIndex((p) => p.id === 'restore-database:app_progress' && p.state === 'done');
      expect(firstRestore).toBeLessThan(downloadDone);
      expect(downloadDone).toBeLessThan(restoreDone);
      for (const p of last.values()) expect(p.state, p.id).toBe('done');
      expect(last.get(`download:${file.name}`)).toMatchObject({ bytes: file.bytes, totalBytes: file.bytes });
      expect(last.get('restore-database:app_progress')).toMatchObject({ bytes: raw, totalBytes: raw, object: expect.stringMatching(/^(table public\.events, data|.*)$/) });
      expect(progress.some((p) => p.id === 'restore-database:app_progress' && p.object === 'table public.events, data')).toBe(true);
    } finally {
      source.destroy();
    }
  });

  it('a long dump logs progress lines on stderr without a terminal (PROGRESS_INTERVAL)', async () => {
    await pg.query('CREATE DATABASE slow');
    await pg.query(`CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, md5((g + 1)::text) AS b, md5((g + 2)::text) AS c FROM generate_series(1, 1200000) g`, 'slow');
    const r = await runCli(['backup'], baseEnv({ ...pg.env(), BACKUP_DIR: join(dir, 'slow'), BACKUP_DATABASES: 'slow', COMPRESSION_LEVEL: '9', PROGRESS_INTERVAL: '1' }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ info  dump of database "slow": \d+(\.\d)? MB, (\d+ MB\/s, )?\d+s so far(, table public\.rows)?\n/);
    const bad = await runCli(['backup'], baseEnv({ ...pg.env(), BACKUP_DIR: join(dir, 'never'), PROGRESS_INTERVAL: 'often' }));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/PROGRESS_INTERVAL="often" is not a whole number/);
  });
});
