// Issue 7 on S3 (s3rver) and on a remote host (sshd + SFTP), through the CLI: folders dated in the
// future never make the real backups look old; a backup whose files do not match its manifest is
// never the one kept nor one deleted; a symbolic link in RSYNC_PATH is never followed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, rm, symlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { baseEnv, runCli } from './helpers/cli.js';
import { daysAgo, folderFiles, writeFolder } from './helpers/fake-backup.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';
import { snapshot } from './helpers/tree.js';

const FUTURE = Array.from({ length: 12 }, (_, i) => `20990101_0000${String(i).padStart(2, '0')}`);

describe('retention and the catalog on S3 and on the remote host', () => {
  let s3: S3Server;
  let sshd: SshServer;
  let work: string;

  beforeAll(async () => {
    [s3, sshd, work] = await Promise.all([startS3Server(), startSshd(), makeTempDir('pgb-dest-retention-')]);
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), sshd?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Every object under the prefix with the sha256 of its bytes. */
  async function s3Objects(prefix: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const client = s3.client();
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const body = await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: o.Key! }))).Body!.transformToByteArray();
        out[o.Key!] = createHash('sha256').update(body).digest('hex');
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async function putS3(prefix: string, folder: string, files: Record<string, Buffer>): Promise<void> {
    for (const [name, body] of Object.entries(files)) {
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${folder}/${name}`, Body: body }));
    }
  }

  it('S3: twelve folders dated 2099 (one not matching its manifest) never push out the genuine backup; the expired one goes', async () => {
    const prefix = 'clock';
    const genuine = daysAgo(3);
    const expired = daysAgo(10);
    await putS3(prefix, genuine, folderFiles(genuine));
    await putS3(prefix, expired, folderFiles(expired));
    for (const [i, folder] of FUTURE.entries()) {
      const files = folderFiles(folder);
      if (i === 5) files['postgres_db_app.sql.gz'] = Buffer.from('not what the manifest says');
      await putS3(prefix, folder, files);
    }
    // Retries: s3rver's DeleteObjects removes keys in parallel and races on the empty folders it
    // cleans up (an occasional 500 InternalError, which real stores do not have); a retry passes.
    const env = baseEnv({ ...s3.s3Env({ S3_PREFIX: prefix, S3_RETENTION_DAYS: '0', RETRY_ATTEMPTS: '3', RETRY_DELAY: '0.05' }), BACKUP_DIR: work });
    const before = await s3Objects(`${prefix}/`);

    const list = await runCli(['list', '--source', 's3', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const backups = JSON.parse(list.stdout).backups as Array<{ folder: string; status: string; future: boolean; problem?: string }>;
    expect(backups.map((b) => [b.folder, b.status, b.future])).toEqual([
      ...[...FUTURE].reverse().map((f) => [f, f === FUTURE[5] ? 'incomplete' : 'finished', true]),
      [genuine, 'finished', false],
      [expired, 'finished', false],
    ]);
    expect(backups.find((b) => b.folder === FUTURE[5])!.problem).toMatch(/postgres_db_app\.sql\.gz has 26 bytes, the manifest says \d+/);

    const dry = await runCli(['prune', '--source', 's3', '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).results[0].removed).toEqual([expired]);
    expect(await s3Objects(`${prefix}/`)).toEqual(before);

    const pruned = await runCli(['prune', '--source', 's3', '--json'], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).results[0].removed).toEqual([expired]);
    expect(pruned.stderr).toMatch(/left 20990101_000000, .*20990101_000011 alone: dated in the future/);
    const after = await s3Objects(`${prefix}/`);
    expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([k]) => !k.startsWith(`${prefix}/${expired}/`))));

    // Again: nothing more goes; the genuine backup is the newest good one and stays.
    const again = await runCli(['prune', '--source', 's3', '--json'], env);
    expect(JSON.parse(again.stdout).results[0]).toMatchObject({ removed: [], kept: [...[...FUTURE].reverse(), genuine] });
    const verify = await runCli(['verify', '--source', 's3', '--json'], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).reports.map((r: { folder: string }) => r.folder)).toEqual([genuine]);
  });

  it('remote: a symbolic link in RSYNC_PATH is never followed, a folder with a linked file is never deleted, future folders are never the newest', async () => {
    const root = join(sshd.remoteRoot, 'hostile');
    const outside = join(work, 'outside');
    await mkdir(root, { recursive: true });
    await writeFolder(outside, '20200101_000000', folderFiles('20200101_000000'));
    await writeFolder(outside, 'loose', { 'app.sql.gz': folderFiles('20200101_000001')['postgres_db_app.sql.gz']! });
    await symlink(join(outside, '20200101_000000'), join(root, '20200101_000000'));
    const linkedFile = daysAgo(5);
    const linkedFiles = folderFiles(linkedFile);
    delete linkedFiles['postgres_db_app.sql.gz'];
    await writeFolder(root, linkedFile, linkedFiles);
    await symlink(join(outside, 'loose', 'app.sql.gz'), join(root, linkedFile, 'postgres_db_app.sql.gz'));
    const genuine = daysAgo(3);
    const expired = daysAgo(10);
    await writeFolder(root, genuine, folderFiles(genuine));
    await writeFolder(root, expired, folderFiles(expired));
    await writeFolder(root, FUTURE[0]!, folderFiles(FUTURE[0]!));
    await writeFolder(root, FUTURE[1]!, { ...folderFiles(FUTURE[1]!), 'postgres_cluster.sql.gz': Buffer.from('short') });
    const outsideBefore = await snapshot(outside);
    const env = baseEnv({ ...sshd.rsyncEnv(root), RSYNC_RETENTION_DAYS: '0', RETRY_ATTEMPTS: '0', BACKUP_DIR: work });

    const list = await runCli(['list', '--source', 'remote', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const backups = JSON.parse(list.stdout).backups as Array<{ folder: string; status: string; future: boolean; problem?: string }>;
    expect(backups.map((b) => [b.folder, b.status, b.future])).toEqual([
      [FUTURE[1], 'incomplete', true],
      [FUTURE[0], 'finished', true],
      [genuine, 'finished', false],
      [linkedFile, 'incomplete', false],
      [expired, 'finished', false],
      ['20200101_000000', 'foreign', false],
    ]);
    expect(backups.find((b) => b.folder === linkedFile)!.problem).toBe('postgres_db_app.sql.gz is a symbolic link, not a file pg-backups wrote');

    const pruned = await runCli(['prune', '--source', 'remote', '--json'], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).results[0].removed).toEqual([expired]);
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect((await lstat(join(root, '20200101_000000'))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(root, linkedFile, 'postgres_db_app.sql.gz'))).isSymbolicLink()).toBe(true);
    expect((await snapshot(root))[genuine]).toBe('dir');
    expect(Object.keys(await snapshot(root)).filter((k) => k.startsWith(expired))).toEqual([]);

    const verifyLink = await runCli(['verify', '--source', 'remote', '20200101_000000'], env);
    expect(verifyLink.code).toBe(2);
    expect(verifyLink.stderr).toMatch(/is a symbolic link, not a folder pg-backups wrote/);
    const verifyLinked = await runCli(['verify', '--source', 'remote', linkedFile, '--json'], env);
    expect(verifyLinked.code).toBe(3);
    const report = JSON.parse(verifyLinked.stdout).reports[0];
    expect(report.files.find((f: { name: string }) => f.name === 'postgres_db_app.sql.gz').problem).toMatch(/is a symbolic link, not a file pg-backups wrote; it is not read/);
    expect(await snapshot(outside)).toEqual(outsideBefore);
  });
});
