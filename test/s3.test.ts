// The S3 destination against a real S3-compatible server (s3rver, a child process on 127.0.0.1)
// over HTTP: no SDK mocks. The backups pushed are real ones made by the CLI from PostgreSQL 15, or
// synthetic folders with a large random file for multipart uploads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3Destination, INCOMPLETE_MARKER } from '../src/sources/s3.js';
import { readS3 } from '../src/core/settings/destinations.js';
import { pruneSource } from '../src/core/prune.js';
import { AbortedError, ExternalError, VerificationError } from '../src/core/errors.js';
import type { Manifest } from '../src/core/backup/manifest.js';
import type { PushProgress } from '../src/core/source.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { makeTempDir } from './helpers/tmp.js';

const run = promisify(execFile);
const DAY = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
const nameAt = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
/** The Debian AWS CLI v2 (PATH may hold another one, e.g. a pyenv shim). */
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

async function getBytes(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function allKeys(client: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000, ContinuationToken: token }));
    for (const o of out.Contents ?? []) keys.push(o.Key!);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

async function streamBytes(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function mapLimit<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

describe('S3 destination (s3rver over HTTP)', () => {
  let s3: S3Server;
  let pg: PgServer;
  let work: string;
  let backupPath: string; // a real finished local backup
  let manifest: Manifest;

  const destination = (env: Record<string, string> = {}) => new S3Destination(readS3({ env: s3.s3Env(env), flags: {} })!);

  /** A copy of the real backup's manifest under another folder name (the files stay the same). */
  const renamed = (folder: string): Manifest => ({ ...manifest, folder });

  /** A synthetic finished folder with one large random gzip file (for multipart uploads). */
  async function bigBackup(folder: string, rawBytes: number): Promise<{ path: string; manifest: Manifest; data: Buffer }> {
    const path = join(work, `big-${folder}-${rawBytes}`);
    await mkdir(path, { recursive: true });
    const data = gzipSync(randomBytes(rawBytes), { level: 1 });
    const name = 'postgres_db_big.sql.gz';
    await writeFile(join(path, name), data);
    // With the real backup's cluster and globals files: a manifest must list both.
    const others = manifest.files.filter((f) => f.kind !== 'database');
    for (const f of others) await writeFile(join(path, f.name), await readFile(join(backupPath, f.name)));
    const m: Manifest = {
      ...manifest,
      folder,
      databases: ['big'],
      clusterDatabases: ['big'],
      files: [{ name, kind: 'database', database: 'big', bytes: data.length, sha256: sha256(data) }, ...others],
    };
    await writeFile(join(path, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
    return { path, manifest: m, data };
  }

  beforeAll(async () => {
    const t0 = Date.now();
    [s3, pg] = await Promise.all([startS3Server(), startPgServer(15)]);
    work = await makeTempDir('pgb-s3-test-');
    await pg.query(`CREATE DATABASE "app"`);
    await pg.query(`CREATE DATABASE "données"`);
    await pg.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g`, 'app');
    const r = await runCli(['backup', '--json'], baseEnv({ ...pg.env(), BACKUP_DIR: join(work, 'local') }));
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    backupPath = result.path;
    manifest = result.manifest;
    console.log(`setup (s3rver + PostgreSQL 15 + backup): ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    await Promise.all([s3?.stop(), pg?.stop(), work ? rm(work, { recursive: true, force: true }) : undefined]);
  });

  it('push lands byte-identical objects with metadata; the AWS CLI reads them; list and openFile see a finished backup', async () => {
    const dest = destination({ S3_PREFIX: 'pg/prod' });
    expect(dest.location).toBe(`s3://${s3.bucket}/pg/prod`);
    const progress: PushProgress[] = [];
    await dest.push(backupPath, manifest, { onProgress: (p) => progress.push(p) });
    const folder = manifest.folder;
    const client = s3.client();

    const keys = await allKeys(client, s3.bucket, 'pg/prod/');
    expect(keys).toEqual([...manifest.files.map((f) => f.name), 'manifest.json'].map((n) => `pg/prod/${folder}/${n}`).sort());
    expect(await getBytes(client, s3.bucket, `pg/prod/${folder}/manifest.json`)).toEqual(await readFile(join(backupPath, 'manifest.json')));
    for (const file of manifest.files) {
      const key = `pg/prod/${folder}/${file.name}`;
      const bytes = await getBytes(client, s3.bucket, key);
      expect(sha256(bytes), file.name).toBe(sha256(await readFile(join(backupPath, file.name))));
      expect(sha256(bytes)).toBe(file.sha256);
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
      expect(head.Metadata).toMatchObject({ timestamp: folder, 'postgres-version': '15', 'dump-format': 'plain', sha256: file.sha256 });
      if (file.kind === 'database') expect(head.Metadata?.database).toBe(file.database === 'données' ? encodeURIComponent('données') : file.database);
      else expect(head.Metadata?.database).toBeUndefined();
    }
    expect(progress.some((p) => p.file === 'postgres_cluster.sql.gz')).toBe(true);

    // An independent client: the AWS CLI from Debian downloads a file, and gzip says it is whole.
    const downloaded = join(work, 'aws-cli-cluster.sql.gz');
    await run(AWS, ['s3', 'cp', '--only-show-errors', '--endpoint-url', s3.endpoint, `s3://${s3.bucket}/pg/prod/${folder}/postgres_cluster.sql.gz`, downloaded], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_DEFAULT_REGION: s3.region, AWS_PAGER: '' },
    });
    expect(sha256(await readFile(downloaded))).toBe(manifest.files.find((f) => f.name === 'postgres_cluster.sql.gz')!.sha256);
    await run('gunzip', ['-t', downloaded]);
    const { stdout: awsList } = await run(AWS, ['s3', 'ls', '--endpoint-url', s3.endpoint, `s3://${s3.bucket}/pg/prod/${folder}/`], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_DEFAULT_REGION: s3.region, AWS_PAGER: '' },
    });
    expect(awsList).toContain('postgres_db_app.sql.gz');

    const entries = await dest.list();
    expect(entries.map((e) => [e.folder, e.status])).toEqual([[folder, 'finished']]);
    expect(entries[0]!.manifest).toEqual(manifest);
    expect(entries[0]!.files.find((f) => f.name === 'postgres_db_app.sql.gz')!.bytes).toBe(manifest.files.find((f) => f.name === 'postgres_db_app.sql.gz')!.bytes);

    const stream = await dest.openFile(folder, 'postgres_db_app.sql.gz');
    expect(sha256(await streamBytes(stream))).toBe(manifest.files.find((f) => f.name === 'postgres_db_app.sql.gz')!.sha256);
    await expect(dest.openFile(folder, 'postgres_db_nope.sql.gz')).rejects.toBeInstanceOf(VerificationError);

    // Pushing the same backup again changes nothing; a different backup under the same name is refused.
    await dest.push(backupPath, manifest);
    const other = { ...manifest, files: manifest.files.map((f, i) => (i === 0 ? { ...f, sha256: '0'.repeat(64) } : f)) };
    await expect(dest.push(backupPath, other)).rejects.toThrow(/already holds a different backup/);
    expect(await allKeys(client, s3.bucket, 'pg/prod/')).toEqual(keys);
    dest.destroy();
  });

  it('a file larger than the part size goes up in several parts, byte-identical', async () => {
    const t0 = Date.now();
    const folder = nameAt(Date.now() - 60_000);
    const big = await bigBackup(folder, 20 * MiB); // 8 MiB parts: 3 parts
    const dest = destination({ S3_PREFIX: 'multipart' });
    const seen: number[] = [];
    await dest.push(big.path, big.manifest, { onProgress: (p) => p.file === 'postgres_db_big.sql.gz' && seen.push(p.bytes) });
    // lib-storage reports once per finished part (a single PutObject reports once): 3 parts of <= 8 MiB.
    expect(seen.length).toBe(3);
    expect(seen[0]).toBeLessThan(big.data.length);
    expect(seen.at(-1)).toBe(big.data.length);
    const bytes = await getBytes(s3.client(), s3.bucket, `multipart/${folder}/postgres_db_big.sql.gz`);
    expect(bytes.length).toBe(big.data.length);
    expect(sha256(bytes)).toBe(big.manifest.files[0]!.sha256);
    expect((await dest.list()).map((e) => [e.folder, e.status])).toEqual([[folder, 'finished']]);
    dest.destroy();
    console.log(`multipart push of ${(big.data.length / MiB).toFixed(1)} MiB: ${Date.now() - t0} ms`);
  });

  it('S3 down at the start and back during the retries: push succeeds', async () => {
    const dest = destination({ S3_PREFIX: 'flaky', RETRY_ATTEMPTS: '6', RETRY_DELAY: '0.25' });
    await s3.kill();
    const retries: string[] = [];
    const t0 = Date.now();
    const pushing = dest.push(backupPath, manifest, { onRetry: (m) => retries.push(m) });
    const restarting = new Promise((r) => setTimeout(r, 1000)).then(() => s3.restart());
    await Promise.all([pushing, restarting]);
    console.log(`push with S3 down for 1 s: ${Date.now() - t0} ms, ${retries.length} retries`);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatch(/^S3 check for an existing \d{8}_\d{6} in s3:\/\/pgb-test\/flaky failed \(try 1 of 7\): cannot reach S3_ENDPOINT=http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const entries = await dest.list();
    expect(entries.map((e) => [e.folder, e.status])).toEqual([[manifest.folder, 'finished']]);
    for (const file of manifest.files) {
      expect(sha256(await getBytes(s3.client(), s3.bucket, `flaky/${manifest.folder}/${file.name}`))).toBe(file.sha256);
    }
    dest.destroy();
  });

  it('S3 killed in the middle of a multipart upload: push fails naming S3, nothing looks finished or legacy', async () => {
    const folder = nameAt(Date.now() - 120_000);
    const big = await bigBackup(folder, 48 * MiB);
    // A small file first, so that a whole backup file is already up when S3 dies.
    await cp(join(backupPath, 'postgres_globals.sql.gz'), join(big.path, 'postgres_globals.sql.gz'));
    const globals = manifest.files.find((f) => f.name === 'postgres_globals.sql.gz')!;
    const m: Manifest = { ...big.manifest, files: [globals, ...big.manifest.files] };
    const dest = destination({ S3_PREFIX: 'killed', RETRY_ATTEMPTS: '1', RETRY_DELAY: '0.2' });
    let killed: Promise<void> | undefined;
    const t0 = Date.now();
    const err = await dest
      .push(big.path, m, {
        onProgress: (p) => {
          if (p.file === 'postgres_db_big.sql.gz' && p.bytes > 0 && p.bytes < p.totalBytes) killed ??= s3.kill();
        },
      })
      .then(() => undefined, (e: unknown) => e);
    console.log(`push failing mid-multipart: ${Date.now() - t0} ms: ${(err as Error).message}`);
    expect(killed).toBeDefined();
    expect(err).toBeInstanceOf(ExternalError);
    expect((err as Error).message).toMatch(
      new RegExp(`^S3 upload of ${folder}/postgres_db_big\\.sql\\.gz to s3://pgb-test/killed failed: cannot reach S3_ENDPOINT=http://127\\.0\\.0\\.1:\\d+ \\(E[A-Z]+\\)`),
    );

    await s3.restart();
    // Whatever the failed cleanup left is hidden behind the marker: neither finished nor legacy.
    expect(await dest.list()).toEqual([]);
    const left = await allKeys(s3.client(), s3.bucket, 'killed/');
    expect(left).toContain(`killed/${folder}/${INCOMPLETE_MARKER}`);
    expect(left).not.toContain(`killed/${folder}/manifest.json`);
    // Retention of incomplete uploads: only once they are older than the cut-off, and only their files.
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `killed/${folder}/operator-notes.txt`, Body: 'keep me' }));
    expect(await dest.pruneIncomplete(new Date(Date.now() - DAY))).toEqual([]);
    expect(await dest.pruneIncomplete(new Date(Date.now() + 60_000))).toEqual([folder]);
    expect(await allKeys(s3.client(), s3.bucket, 'killed/')).toEqual([`killed/${folder}/operator-notes.txt`]);
    dest.destroy();
  });

  it('the AbortSignal stops a push in progress and leaves nothing that looks finished', async () => {
    const folder = nameAt(Date.now() - 180_000);
    const big = await bigBackup(folder, 40 * MiB);
    const dest = destination({ S3_PREFIX: 'aborted' });
    const controller = new AbortController();
    const err = await dest
      .push(big.path, big.manifest, { signal: controller.signal, onProgress: (p) => p.bytes > 0 && controller.abort() })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(await dest.list()).toEqual([]);
    // The cleanup of an abort had S3 up: nothing of the folder is left (s3rver cannot abort multipart uploads, whose parts it keeps out of sight).
    expect(await allKeys(s3.client(), s3.bucket, 'aborted/')).toEqual([]);
    dest.destroy();
  });

  it('retention beyond 1000 objects, with foreign objects: exactly the expired backups go', async () => {
    const t0 = Date.now();
    const prefix = 'retention';
    const dest = destination({ S3_PREFIX: prefix, S3_RETENTION_DAYS: '2' });
    expect(dest.retentionDays).toBe(2);
    const expired = [nameAt(Date.now() - 10 * DAY), nameAt(Date.now() - 5 * DAY), nameAt(Date.now() - 3 * DAY)];
    const kept = [nameAt(Date.now() - 1 * DAY), nameAt(Date.now() - 3600_000)];
    for (const folder of [...expired, ...kept]) await dest.push(backupPath, renamed(folder));
    const client = s3.client();
    const put = (Key: string, Body = 'not ours') => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body })).then(() => undefined);
    // Objects pg-backups did not write: inside an expired backup folder, in other folders, at the top.
    const foreign: string[] = [];
    for (let i = 0; i < 300; i++) foreign.push(`${prefix}/${expired[1]}/notes-${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < 600; i++) foreign.push(`${prefix}/other-tool/${Math.floor(i / 100)}/object-${i}.bin`);
    for (let i = 0; i < 150; i++) foreign.push(`${prefix}/readme-${i}.txt`);
    for (let i = 0; i < 50; i++) foreign.push(`${prefix}/${expired[0]}/sub/dir-${i}.txt`);
    // A legacy backup of the bash tool (no manifest), older than everything: never touched by retention.
    const legacy = nameAt(Date.now() - 40 * DAY);
    await mapLimit(foreign, 16, (key) => put(key));
    await put(`${prefix}/${legacy}/postgres_cluster.sql.gz`, 'legacy bytes');
    // A damaged backup (unreadable manifest), also old: listed as damaged, never removed.
    const damaged = nameAt(Date.now() - 20 * DAY);
    await put(`${prefix}/${damaged}/manifest.json`, '{ not json');
    await put(`${prefix}/${damaged}/postgres_cluster.sql.gz`, 'bytes');
    // Outside the prefix: never touched.
    await put(`elsewhere/${expired[0]}/manifest.json`, '{}');
    const before = await allKeys(client, s3.bucket);
    expect(before.length).toBeGreaterThan(1100);

    const listed = await dest.list();
    expect(listed.map((e) => e.folder)).toEqual([...kept, ...expired, legacy, damaged].sort().reverse());
    expect(listed.find((e) => e.folder === legacy)!.status).toBe('legacy');
    expect(listed.find((e) => e.folder === damaged)).toMatchObject({ status: 'damaged', problem: expect.stringMatching(/manifest\.json is not valid JSON/) });
    expect(listed.find((e) => e.folder === expired[1])!.files).toHaveLength(manifest.files.length + 1 + 300);

    const result = await pruneSource(dest, dest.retentionDays);
    expect(result.removed.map((e) => e.folder).sort()).toEqual([...expired].sort());
    const gone = new Set(expired.flatMap((folder) => ['manifest.json', ...manifest.files.map((f) => f.name)].map((n) => `${prefix}/${folder}/${n}`)));
    const after = await allKeys(client, s3.bucket);
    expect(after).toEqual(before.filter((k) => !gone.has(k)));
    expect((await dest.list()).map((e) => e.folder)).toEqual([...kept, legacy, damaged].sort().reverse());
    dest.destroy();
    console.log(`retention over ${before.length} objects (setup + prune): ${Date.now() - t0} ms`);
  });

  it('a wrong secret key and a missing bucket give one clear line naming the setting, without retries or the secret', async () => {
    // s3rver checks the access key id but not SigV4 signatures (lib/middleware/authentication.js:
    // "Signature version 4 calculation is unimplemented"), so a wrong secret passes there. This
    // endpoint answers every request as AWS S3 answers a wrong secret (403 SignatureDoesNotMatch).
    const secret = 'wrong-secret-Zq81xY';
    const stub = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(403, { 'content-type': 'application/xml', 'x-amz-request-id': 'TEST' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>S3RVER</AWSAccessKeyId><RequestId>TEST</RequestId><HostId>TEST</HostId></Error>',
        );
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
    const stubEndpoint = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    try {
      const wrong = destination({ S3_ENDPOINT: stubEndpoint, S3_SECRET_KEY: secret, RETRY_ATTEMPTS: '3', RETRY_DELAY: '2' });
      const retries: string[] = [];
      const t0 = Date.now();
      const pushErr = (await wrong.push(backupPath, manifest, { onRetry: (m) => retries.push(m) }).catch((e: unknown) => e)) as Error;
      expect(Date.now() - t0).toBeLessThan(2000); // not retried
      expect(retries).toEqual([]);
      expect(pushErr).toBeInstanceOf(ExternalError);
      expect(pushErr.message).toMatch(/^S3 check for an existing \d{8}_\d{6} in s3:\/\/pgb-test failed: .*S3_SECRET_KEY/);
      expect(pushErr.message).not.toContain(secret);
      const listErr = (await wrong.list().catch((e: unknown) => e)) as Error;
      expect(listErr).toBeInstanceOf(ExternalError);
      expect(listErr.message).toBe(
        'S3 listing of s3://pgb-test failed: the request signature does not match (SignatureDoesNotMatch): S3_SECRET_KEY is not the secret of S3_ACCESS_KEY',
      );
      wrong.destroy();
    } finally {
      stub.close();
    }

    // An access key s3rver does not know (this it does check).
    const unknownKey = destination({ S3_ACCESS_KEY: 'NOSUCHKEY', S3_SECRET_KEY: secret, RETRY_ATTEMPTS: '3', RETRY_DELAY: '2' });
    let t0 = Date.now();
    const keyErr = (await unknownKey.push(backupPath, manifest).catch((e: unknown) => e)) as Error;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(keyErr).toBeInstanceOf(ExternalError);
    expect(keyErr.message).toMatch(/^S3 check for an existing \d{8}_\d{6} in s3:\/\/pgb-test failed: the store does not know this access key \(InvalidAccessKeyId\); check S3_ACCESS_KEY/);
    expect(keyErr.message).not.toContain(secret);
    expect(await allKeys(s3.client(), s3.bucket, `${manifest.folder}/`)).toEqual([]);
    unknownKey.destroy();

    const missing = destination({ S3_BUCKET: 'no-such-bucket', RETRY_ATTEMPTS: '3', RETRY_DELAY: '2' });
    t0 = Date.now();
    const bucketErr = (await missing.push(backupPath, manifest).catch((e: unknown) => e)) as Error;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(bucketErr).toBeInstanceOf(ExternalError);
    expect(bucketErr.message).toContain(`S3_BUCKET=no-such-bucket does not exist at ${s3.endpoint}`);
    const listBucketErr = (await missing.list().catch((e: unknown) => e)) as Error;
    expect(listBucketErr.message).toBe(
      `S3 listing of s3://no-such-bucket failed: S3_BUCKET=no-such-bucket does not exist at ${s3.endpoint}; create the bucket or correct S3_BUCKET (and S3_ENDPOINT, S3_REGION)`,
    );
    missing.destroy();
  });
});
