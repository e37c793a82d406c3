// A backup run ships to local disk, S3 (s3rver over HTTP) and a remote host (real sshd + rsync),
// and one destination failing never costs the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const DAY = 24 * 3600 * 1000;
const nameAt = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

describe('a backup run with S3 and a remote host enabled', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;

  beforeAll(async () => {
    [pg, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('destinations-')]);
    await pg.query('CREATE DATABASE shop');
    // ~20 MB of incompressible rows: the files go to S3 as real multipart uploads (8 MiB parts).
    await pg.query(
      `CREATE TABLE blobs AS SELECT g AS id, decode(md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex') AS data FROM generate_series(1, 400000) g`,
      'shop',
    );
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
  });

  const envFor = (name: string, extra: Record<string, string> = {}) =>
    baseEnv({
      ...pg.env(),
      BACKUP_DIR: join(dir, name, 'local'),
      ...s3.s3Env({ S3_PREFIX: `runs/${name}` }),
      ...sshd.rsyncEnv(join(sshd.remoteRoot, name)),
      RETRY_DELAY: '0.2',
      ...extra,
    });

  async function s3Object(key: string): Promise<Buffer> {
    const out = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  async function s3Keys(prefix: string): Promise<string[]> {
    const out = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  }

  it('lands byte-identical on local disk, S3 and the remote host; list merges them; verify passes everywhere', async () => {
    const env = envFor('happy');
    const r = await runCli(['backup', '--json'], env);
    expect(r.stderr).not.toMatch(/ error /);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.destinations).toEqual([
      { kind: 's3', location: `s3://${s3.bucket}/runs/happy`, ok: true },
      { kind: 'remote', location: expect.stringContaining(join(sshd.remoteRoot, 'happy')), ok: true },
    ]);
    const folder: string = result.folder;
    const localFiles = (await readdir(result.path)).sort();
    expect(localFiles).toContain('postgres_db_shop.sql.gz');
    expect(await s3Keys(`runs/happy/${folder}/`)).toEqual(localFiles.map((f) => `runs/happy/${folder}/${f}`));
    expect(await readdir(join(sshd.remoteRoot, 'happy'))).toEqual([folder]);
    for (const file of localFiles) {
      const local = await readFile(join(result.path, file));
      expect(sha256(await s3Object(`runs/happy/${folder}/${file}`)), `S3 ${file}`).toBe(sha256(local));
      expect(sha256(await readFile(join(sshd.remoteRoot, 'happy', folder, file))), `remote ${file}`).toBe(sha256(local));
    }

    // An independent client (Debian's AWS CLI) downloads it, and gunzip -t passes.
    const download = join(dir, 'aws-download.sql.gz');
    execFileSync('/usr/bin/aws', ['--endpoint-url', s3.endpoint, 's3', 'cp', `s3://${s3.bucket}/runs/happy/${folder}/postgres_db_shop.sql.gz`, download], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_DEFAULT_REGION: s3.region },
    });
    execFileSync('gunzip', ['-t', download]);

    const list = await runCli(['list', '--json'], env);
    expect(list.code).toBe(0);
    const { backups } = JSON.parse(list.stdout);
    expect(backups).toHaveLength(1);
    expect(backups[0].locations.map((l: { source: string }) => l.source)).toEqual(['local', 's3', 'remote']);
    const text = await runCli(['list'], env);
    expect(text.stdout).toMatch(new RegExp(`${folder}\\s+finished\\s+15\\.\\d+\\s+2\\s+\\S+ MB\\s+local:.*, s3:s3://${s3.bucket}/runs/happy, remote:`));

    for (const source of ['s3', 'remote']) {
      const v = await runCli(['verify', 'latest', '--source', source, '--json'], env);
      expect(v.code, v.stderr).toBe(0);
      expect(JSON.parse(v.stdout).reports).toHaveLength(1);
    }
    const all = await runCli(['verify', '--json'], env);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).reports).toHaveLength(3);
  });

  it('S3 down at the start and back during the retries: the run succeeds', async () => {
    const env = envFor('flaky', { RETRY_ATTEMPTS: '6', RETRY_DELAY: '0.5' });
    await s3.kill();
    try {
      const child = startCli(['backup', '--json'], env);
      let stderr = '';
      let stdout = '';
      child.stdout!.on('data', (d) => (stdout += d));
      const code = new Promise<number | null>((resolve) => child.once('close', resolve));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no S3 retry seen: ${stderr}`)), 60_000);
        child.stderr!.on('data', (d) => {
          stderr += d;
          if (/warn  s3:.*trying again/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await s3.restart();
      expect(await code, stderr).toBe(0);
      const result = JSON.parse(stdout);
      expect(result.destinations.every((d: { ok: boolean }) => d.ok)).toBe(true);
      expect(await s3Keys(`runs/flaky/${result.folder}/manifest.json`)).toEqual([`runs/flaky/${result.folder}/manifest.json`]);
    } finally {
      if (!s3.running()) await s3.restart();
    }
  });

  it('S3 killed in the middle of a multipart upload: exit 1 naming S3, nothing finished on S3, local and remote intact', async () => {
    const name = 'killed';
    const localDir = join(dir, name, 'local');
    // An expired local backup that S3 never got: local retention must keep it (S3 should hold it).
    const first = await runCli(['backup', '--json'], baseEnv({ ...pg.env(), BACKUP_DIR: localDir, BACKUP_DATABASES: 'postgres' }));
    expect(first.code).toBe(0);
    const old = nameAt(Date.now() - 2 * DAY);
    await cp(JSON.parse(first.stdout).path, join(localDir, old), { recursive: true });
    const manifestPath = join(localDir, old, 'manifest.json');
    await writeFile(manifestPath, JSON.stringify({ ...JSON.parse(await readFile(manifestPath, 'utf8')), folder: old }));

    const env = envFor(name, { RETRY_ATTEMPTS: '0' });
    const child = startCli(['backup', '--json'], env);
    let stderr = '';
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const code = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`never saw a multipart upload under way: ${stderr}`)), 120_000);
        child.stderr!.on('data', (d) => {
          stderr += d;
          // The first progress report of a big file comes when its first 8 MiB part is stored.
          if (/uploading postgres_(cluster|db_shop)\.sql\.gz \(\d+(\.\d)? MB\) to s3:/.test(stderr)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await s3.kill();
      expect(await code).toBe(1);
    } finally {
      if (!s3.running()) await s3.restart();
    }
    const errors = stderr.split('\n').filter((l) => / error /.test(l));
    expect(errors, stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/upload to S3 failed: S3 upload of \d{8}_\d{6}\/postgres_\S+\.sql\.gz to s3:\/\/\S+\/runs\/killed failed: .*S3_ENDPOINT/);
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(false);
    expect(result.destinations.map((d: { kind: string; ok: boolean }) => [d.kind, d.ok])).toEqual([['s3', false], ['remote', true]]);

    // Nothing on S3 looks like a backup: neither finished nor legacy.
    const onS3 = await runCli(['list', '--source', 's3', '--json'], env);
    expect(onS3.code).toBe(0);
    expect(JSON.parse(onS3.stdout).backups).toEqual([]);
    // Local and remote copies are whole.
    for (const source of ['local', 'remote']) {
      const v = await runCli(['verify', result.folder, '--source', source], env);
      expect(v.code, `${source}: ${v.stdout}${v.stderr}`).toBe(0);
    }
    // The expired local backup stays: S3 should hold it and does not.
    expect(stderr).toMatch(new RegExp(`warn  kept expired local backups ${old}: cannot tell which backups s3:s3://\\S+ holds`));
    expect(await readdir(localDir)).toContain(old);
  });

  it('remote failures (wrong key, unknown host key, unreachable) exit 1 naming the remote; S3 and local get the backup', async () => {
    const [strangerKey] = await sshd.makeKey('stranger');
    const emptyKnownHosts = join(dir, 'empty_known_hosts');
    await writeFile(emptyKnownHosts, '');
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['wrong-key', { RSYNC_SSH_KEY: strangerKey }, /RSYNC_SSH_KEY \S+stranger was refused by root@127\.0\.0\.1:\d+/],
      ['unknown-host', { RSYNC_KNOWN_HOSTS: emptyKnownHosts }, /host key of 127\.0\.0\.1:\d+ not found in \S+ \(RSYNC_KNOWN_HOSTS\); .*ssh-keyscan -p \d+ 127\.0\.0\.1/],
      ['unreachable', { RSYNC_PORT: '1', RETRY_ATTEMPTS: '1' }, /cannot reach 127\.0\.0\.1:1 .*check RSYNC_HOST and RSYNC_PORT/],
    ];
    for (const [name, extra, message] of cases) {
      const env = envFor(name, { BACKUP_DATABASES: 'postgres', ...extra });
      const r = await runCli(['backup', '--json'], env);
      expect(r.code, name).toBe(1);
      const errors = r.stderr.split('\n').filter((l) => / error /.test(l));
      expect(errors, name).toHaveLength(1);
      expect(errors[0]).toMatch(/upload to the remote host failed: remote /);
      expect(errors[0]).toMatch(message);
      const result = JSON.parse(r.stdout);
      expect(result.destinations.map((d: { kind: string; ok: boolean }) => [d.kind, d.ok]), name).toEqual([['s3', true], ['remote', false]]);
      expect((await runCli(['verify', result.folder, '--source', 's3'], env)).code, name).toBe(0);
      expect((await runCli(['verify', result.folder, '--source', 'local'], env)).code, name).toBe(0);
      expect(await readdir(join(sshd.remoteRoot, name)).catch(() => [])).toEqual([]);
      expect(r.stdout + r.stderr).not.toContain(pg.password);
    }
  });
});
