// Download on demand and verification before every restore, against real components: a backup made
// by the CLI from PostgreSQL 15 and shipped to s3rver (over HTTP) and to a real sshd (rsync/SFTP),
// then fetched for each restore type from each source. Damaged, incomplete, unfinished, legacy and
// hostile folders are built from the real files by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Manifest } from '../src/core/backup/manifest.js';
import { AbortedError, UsageError, VerificationError } from '../src/core/errors.js';
import type { RestoreEvent, RestoreType } from '../src/core/restore/model.js';
import { fetchForRestore, filesForRestore, pickBackup, unsafeNameReason } from '../src/core/restore/fetch.js';
import { readRemote, readS3 } from '../src/core/settings/destinations.js';
import { LocalSource } from '../src/sources/local.js';
import { RemoteDestination, partialFolderName } from '../src/sources/remote.js';
import { INCOMPLETE_MARKER, S3Destination } from '../src/sources/s3.js';
import type { BackupEntry, BackupSource } from '../src/core/source.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { folderAt as nameAt } from './helpers/fake-backup.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';
import { rejection } from './helpers/rejection.js';

const CLUSTER = 'postgres_cluster.sql.gz';
const GLOBALS = 'postgres_globals.sql.gz';
const APP = 'postgres_db_app.sql.gz';
const SALES = 'postgres_db_sales%20data.sql.gz';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Every file under dir (hidden ones too), relative, sorted; [] when dir does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isDirectory()) out.push(join(e.parentPath ?? e.path, e.name).slice(dir.length + 1));
  }
  return out.sort();
}


function catching(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an exception');
}

function flipByte(data: Buffer, at = Math.floor(data.length / 2)): Buffer {
  const copy = Buffer.from(data);
  copy[at] = copy[at]! ^ 0x5a;
  return copy;
}

describe('restore: download on demand and verification', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let work: string;
  let backupDir: string;
  let folder: string;
  let manifest: Manifest;
  let original: Map<string, Buffer>; // the backup's files as the CLI wrote them
  const opened: S3Destination[] = [];

  const s3Source = (prefix: string) => {
    const d = new S3Destination(readS3({ env: s3.s3Env({ S3_PREFIX: prefix, RETRY_ATTEMPTS: '0' }), flags: {} })!);
    opened.push(d);
    return d;
  };
  const remoteSource = (path: string) => new RemoteDestination(readRemote({ env: { ...sshd.rsyncEnv(path), RETRY_ATTEMPTS: '0', RETRY_DELAY: '0.05' }, flags: {} })!);

  /** Puts files (name -> bytes) into <prefix>/<folder>/ on S3. */
  async function putS3(prefix: string, name: string, files: Record<string, Buffer | string>): Promise<void> {
    for (const [file, body] of Object.entries(files)) {
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${name}/${file}`, Body: body }));
    }
  }
  /** The real backup's files (and manifest), changed by `edit`. */
  function backupFiles(edit: (files: Record<string, Buffer>) => void = () => {}): Record<string, Buffer> {
    const files: Record<string, Buffer> = Object.fromEntries(original);
    edit(files);
    return files;
  }
  /** Writes files into <dir>/<name>/ on local disk (the sshd's "remote" disk is local too). */
  async function putDir(dir: string, name: string, files: Record<string, Buffer | string>): Promise<void> {
    await mkdir(join(dir, name), { recursive: true });
    for (const [file, body] of Object.entries(files)) await writeFile(join(dir, name, file), body);
  }
  /** The real backup's files under another folder name, the manifest naming that folder. */
  function backupFilesAs(name: string, edit: (files: Record<string, Buffer>) => void = () => {}): Record<string, Buffer> {
    return backupFiles((f) => {
      f['manifest.json'] = manifestWith((m) => ({ ...m, folder: name }));
      edit(f);
    });
  }
  const manifestWith = (edit: (m: Manifest) => Manifest) => Buffer.from(`${JSON.stringify(edit(structuredClone(manifest)), null, 2)}\n`);

  beforeAll(async () => {
    const started = Date.now();
    [pg, s3, sshd, work] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('pgb-fetch-')]);
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE DATABASE "sales data"');
    await pg.query(`CREATE TABLE t (id int primary key, note text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g`, 'app');
    backupDir = join(work, 'local');
    const r = await runCli(['backup', '--json'], baseEnv({ ...pg.env(), BACKUP_DIR: backupDir, ...s3.s3Env({ S3_PREFIX: 'main' }), ...sshd.rsyncEnv(join(sshd.remoteRoot, 'main')) }));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { folder: string; path: string; destinations: Array<{ ok: boolean }> };
    expect(out.destinations.map((d) => d.ok)).toEqual([true, true]);
    folder = out.folder;
    manifest = JSON.parse(await readFile(join(out.path, 'manifest.json'), 'utf8')) as Manifest;
    original = new Map();
    for (const name of await readdir(out.path)) original.set(name, await readFile(join(out.path, name)));
    expect([...original.keys()]).toEqual(expect.arrayContaining([CLUSTER, GLOBALS, APP, SALES, 'manifest.json']));
    console.log(`setup (PostgreSQL 15 + s3rver + sshd + one backup to all three): ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    for (const d of opened) d.destroy();
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const cases: Array<[RestoreType, string | undefined, string]> = [
    ['cluster', undefined, CLUSTER],
    ['globals', undefined, GLOBALS],
    ['database', 'app', APP],
    ['database', 'sales data', SALES],
  ];

  for (const kind of ['local', 's3', 'remote'] as const) {
    it(`fetches each restore type from ${kind}: byte-identical, checksums verified`, async () => {
      const source: BackupSource = kind === 'local' ? new LocalSource(backupDir) : kind === 's3' ? s3Source('main') : remoteSource(join(sshd.remoteRoot, 'main'));
      const restoreDir = join(work, `restore-${kind}`);
      let t = Date.now();
      const entry = pickBackup(await source.list(), 'latest', source.location);
      expect(entry).toMatchObject({ folder, status: 'finished' });
      for (const [type, database, file] of cases) {
        const names = filesForRestore(entry, type, database);
        // A cluster restore takes the globals and every database of the cluster file from their own files.
        expect(names).toEqual(type === 'cluster' ? [GLOBALS, 'postgres_db_template1.sql.gz', APP, 'postgres_db_postgres.sql.gz', SALES] : [file]);
        const events: RestoreEvent[] = [];
        const [fetched, ...rest] = await fetchForRestore(source, entry, [file], { restoreDir, onEvent: (e) => events.push(e) });
        expect(rest).toEqual([]);
        const listed = manifest.files.find((f) => f.name === file)!;
        expect(fetched).toMatchObject({ name: file, bytes: listed.bytes, sha256: listed.sha256 });
        expect(await sha256File(fetched!.path)).toBe(listed.sha256);
        expect((await readFile(fetched!.path)).equals(original.get(file)!)).toBe(true);
        expect(events.at(-1)).toEqual({ type: 'verified', file });
        if (kind === 'local') {
          expect(fetched!.path).toBe(join(backupDir, folder, file)); // verified in place, no copy
          expect(events.some((e) => e.type === 'download')).toBe(false);
        } else {
          expect(fetched!.path).toBe(join(await realpath(restoreDir), folder, file));
          const downloads = events.filter((e) => e.type === 'download');
          expect(downloads[0]).toEqual({ type: 'download', file, bytes: 0, totalBytes: listed.bytes });
          expect(downloads.at(-1)).toEqual({ type: 'download', file, bytes: listed.bytes, totalBytes: listed.bytes });
        }
      }
      console.log(`${kind}: four fetches (cluster, globals, two databases): ${Date.now() - t} ms`);
      if (kind === 'local') {
        expect(existsSync(restoreDir)).toBe(false);
        return;
      }
      // Exactly the four files, no temp file left.
      expect(await filesUnder(restoreDir)).toEqual(cases.map(([, , f]) => join(folder, f)).sort());

      // A second fetch reuses what is there (size and sha256 checked), downloads nothing.
      t = Date.now();
      const events: RestoreEvent[] = [];
      await fetchForRestore(source, entry, [CLUSTER, APP], { restoreDir, onEvent: (e) => events.push(e) });
      expect(events.filter((e) => e.type === 'download')).toEqual([]);
      expect(events.filter((e) => e.type === 'verified').map((e) => (e as { file: string }).file)).toEqual([CLUSTER, APP]);
      console.log(`${kind}: reuse of two downloaded files: ${Date.now() - t} ms`);

      // A file there that does not match is replaced by the real one.
      await writeFile(join(restoreDir, folder, GLOBALS), flipByte(original.get(GLOBALS)!));
      const [again] = await fetchForRestore(source, entry, [GLOBALS], { restoreDir });
      expect((await readFile(again!.path)).equals(original.get(GLOBALS)!)).toBe(true);
    });
  }

  it('latest picks the newest finished backup, never an unfinished folder nor one dated in the future', async () => {
    const t = Date.now();
    // Local: an older finished copy, a newer legacy folder, a newer damaged one, a newer staging
    // folder (a run in progress, whole files and manifest inside) and a whole copy dated in 2099.
    const dir = join(work, 'latest-local');
    const legacyName = nameAt(t + 60_000);
    const damagedName = nameAt(t + 120_000);
    await putDir(dir, folder, backupFiles());
    await putDir(dir, '20200101_000000', backupFilesAs('20200101_000000'));
    await putDir(dir, legacyName, { [CLUSTER]: original.get(CLUSTER)! });
    await putDir(dir, damagedName, { ...backupFiles(), 'manifest.json': '{' });
    await putDir(dir, '20990101_000000', backupFilesAs('20990101_000000'));
    await putDir(dir, `.pg-backups-20991231_235959.partial`, backupFiles());
    const local = new LocalSource(dir);
    const entries = await local.list();
    expect(entries.map((e) => [e.folder, e.status])).toEqual([
      ['20990101_000000', 'finished'],
      [damagedName, 'damaged'],
      [legacyName, 'legacy'],
      [folder, 'finished'],
      ['20200101_000000', 'finished'],
    ]);
    const warnings: string[] = [];
    expect(pickBackup(entries, 'latest', dir, { warn: (m) => warnings.push(m) }).folder).toBe(folder);
    expect(warnings).toEqual([
      `latest: passed over 20990101_000000 on ${dir}: dated in the future (a clock was wrong when it was written?); name it in RESTORE_FOLDER to restore it anyway`,
      expect.stringMatching(new RegExp(`^latest: passed over ${damagedName} on ${dir}: it is damaged \\(.*manifest\\.json is not valid JSON`)),
      `latest: passed over ${legacyName} on ${dir}: it is legacy`,
    ]);
    expect(pickBackup(entries, 'LATEST').folder).toBe(folder);
    expect(pickBackup(entries, '20200101_000000').folder).toBe('20200101_000000');
    expect(pickBackup(entries, legacyName).status).toBe('legacy'); // named: a legacy folder is fine
    warnings.length = 0;
    expect(pickBackup(entries, '20990101_000000', dir, { warn: (m) => warnings.push(m) }).folder).toBe('20990101_000000'); // named: restored, with a warning
    expect(warnings).toEqual([expect.stringMatching(/^backup 20990101_000000 on .* is dated in the future/)]);
    const [verified] = await fetchForRestore(local, pickBackup(entries, 'latest'), [CLUSTER], { restoreDir: join(work, 'unused') });
    expect(verified!.path).toBe(join(dir, folder, CLUSTER));

    const damaged = catching(() => pickBackup(entries, damagedName, dir));
    expect(damaged).toBeInstanceOf(VerificationError);
    expect(damaged.message).toMatch(new RegExp(`^backup ${damagedName} on .* is damaged: .*manifest\\.json is not valid JSON.*; refusing to restore from it$`));
    const staging = catching(() => pickBackup(entries, '.pg-backups-20991231_235959.partial'));
    expect(staging).toBeInstanceOf(UsageError);
    expect(staging.message).toMatch(/^RESTORE_FOLDER=".pg-backups-20991231_235959.partial" is not a backup folder name/);
    const absent = catching(() => pickBackup(entries, '20991231_235959', dir));
    expect(absent).toBeInstanceOf(UsageError);
    expect(absent.message).toBe(
      `RESTORE_FOLDER=20991231_235959 is not a backup on ${dir} (the newest there: 20990101_000000, ${legacyName}, ${folder}); e.g. RESTORE_FOLDER=${legacyName}, or RESTORE_FOLDER=latest`,
    );
    const none = catching(() => pickBackup(entries.filter((e) => e.status === 'damaged' || e.folder.startsWith('2099')), 'latest', dir));
    expect(none).toBeInstanceOf(UsageError);
    expect(none.message).toBe(
      `RESTORE_FOLDER=latest: there is no finished backup on ${dir} (only damaged or incomplete ones: ${damagedName}; only ones dated in the future: 20990101_000000); make one with \`pg-backups backup\`, name a folder in RESTORE_FOLDER, or choose another RESTORE_SOURCE`,
    );
    expect(catching(() => pickBackup([], 'latest'))).toBeInstanceOf(UsageError);

    // S3: a newer folder holding every file and the incomplete marker, but no manifest (a push at work).
    await putS3('latest', folder, backupFiles());
    const { 'manifest.json': _m, ...withoutManifest } = backupFiles();
    await putS3('latest', '20991231_235959', { ...withoutManifest, [INCOMPLETE_MARKER]: JSON.stringify({ tool: 'pg-backups', folder: '20991231_235959', files: [] }) });
    const s3Entries = await s3Source('latest').list();
    expect(s3Entries.map((e) => e.folder)).toEqual([folder]);
    expect(pickBackup(s3Entries, 'latest').folder).toBe(folder);

    // Remote: a newer hidden partial folder (an rsync at work).
    const remoteDir = join(sshd.remoteRoot, 'latest');
    await putDir(remoteDir, folder, backupFiles());
    await putDir(remoteDir, partialFolderName('20991231_235959'), backupFiles());
    const remoteEntries = await remoteSource(remoteDir).list();
    expect(remoteEntries.map((e) => e.folder)).toEqual([folder]);
    expect(pickBackup(remoteEntries, 'latest').folder).toBe(folder);
    console.log(`latest on three sources: ${Date.now() - t} ms`);
  });

  /** Runs a fetch that must fail with VerificationError naming `file`, leaving no file in restoreDir. */
  async function refused(source: BackupSource, entry: BackupEntry, files: string[], restoreDir: string, file: string, pattern: RegExp): Promise<VerificationError> {
    const err = await rejection(fetchForRestore(source, entry, files, { restoreDir }));
    expect(err, err.stack).toBeInstanceOf(VerificationError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(pattern);
    expect(await filesUnder(restoreDir)).toEqual([]);
    return err as VerificationError;
  }

  it('refuses a flipped byte, a truncated file, a missing file and a missing manifest entry, leaving nothing behind', async () => {
    const t = Date.now();
    const cluster = original.get(CLUSTER)!;
    const app = original.get(APP)!;
    const damagedFiles = backupFiles((f) => {
      f[CLUSTER] = flipByte(cluster);
      f[APP] = app.subarray(0, Math.floor(app.length * 0.6));
      delete f[GLOBALS]; // listed in the manifest, not there
    });

    const localDir = join(work, 'damaged-local');
    await putDir(localDir, folder, damagedFiles);
    await putS3('damaged', folder, damagedFiles);
    const remoteDir = join(sshd.remoteRoot, 'damaged');
    await putDir(remoteDir, folder, damagedFiles);
    // The same backup with the app database's manifest entry gone (file still there): a manifest
    // that fails its check, so the whole folder is damaged.
    const older = backupFilesAs('20200101_000000', (f) => {
      f['manifest.json'] = manifestWith((m) => ({ ...m, folder: '20200101_000000', files: m.files.filter((x) => x.name !== APP) }));
    });
    // A whole folder whose cluster file has a flipped byte in the gzip header's MTIME, which gunzip
    // does not check: only the sha256 sees it.
    const mtimeFlipped = backupFilesAs('20200102_000000', (f) => {
      f[CLUSTER] = flipByte(cluster, 5);
    });
    for (const [name, files] of [['20200101_000000', older], ['20200102_000000', mtimeFlipped]] as const) {
      await putDir(localDir, name, files);
      await putS3('damaged', name, files);
      await putDir(remoteDir, name, files);
    }

    const sources: BackupSource[] = [new LocalSource(localDir), s3Source('damaged'), remoteSource(remoteDir)];
    for (const source of sources) {
      const restoreDir = join(work, `restore-damaged-${source.kind}`);
      const entries = await source.list();
      expect(entries.map((e) => [e.folder, e.status])).toEqual([
        [folder, 'incomplete'],
        ['20200102_000000', 'finished'],
        ['20200101_000000', 'damaged'],
      ]);
      const warnings: string[] = [];
      const entry = pickBackup(entries, folder, undefined, { warn: (m) => warnings.push(m) });
      expect(warnings).toEqual([`backup ${folder} is incomplete (${GLOBALS} is missing; ${APP} has ${Math.floor(app.length * 0.6)} bytes, the manifest says ${app.length}); only files that are whole and match the manifest are restored from it`]);
      const where = `backup ${folder} on ${source.kind} ${source.location}`;

      const flipped = await refused(source, entry, [CLUSTER], restoreDir, CLUSTER, /is damaged: /);
      expect(flipped.message.startsWith(`${CLUSTER} of ${where} is damaged: `)).toBe(true);
      expect(flipped.message).toMatch(/sha256 [0-9a-f]{64} differs from the manifest's|not a valid gzip stream/);

      const truncated = await refused(source, entry, filesForRestore(entry, 'database', 'app'), restoreDir, APP, /is damaged: /);
      expect(truncated.message).toMatch(new RegExp(`is damaged: it has ${Math.floor(app.length * 0.6)} bytes, the manifest says ${app.length}; the gzip stream ends early \\(truncated file\\); refusing`));

      const missing = await refused(source, entry, filesForRestore(entry, 'globals'), restoreDir, GLOBALS, /is missing .*the backup is incomplete, refusing to restore from it$/);
      expect(missing.message.startsWith(`${GLOBALS} of ${where} is missing (`)).toBe(true);

      // The good files of the same folder still come through.
      const [sales] = await fetchForRestore(source, entry, [SALES], { restoreDir });
      expect(sales!.sha256).toBe(manifest.files.find((f) => f.name === SALES)!.sha256);

      await rm(restoreDir, { recursive: true, force: true });
      const whole = pickBackup(entries, '20200102_000000');
      const mtime = await refused(source, whole, [CLUSTER], restoreDir, CLUSTER, /is damaged: its sha256 [0-9a-f]{64} differs from the manifest's [0-9a-f]{64}; refusing/);
      expect(mtime.message).not.toMatch(/gzip/);
      console.log(`${source.kind} refusals:\n  ${[flipped, truncated, missing, mtime].map((e) => e.message).join('\n  ')}`);

      // The missing manifest entry: the manifest fails its check, the folder is refused as a whole.
      const noEntry = catching(() => pickBackup(entries, '20200101_000000'));
      expect(noEntry).toBeInstanceOf(VerificationError);
      expect(noEntry.message).toMatch(new RegExp(`^backup 20200101_000000 is damaged: .*manifest\\.json does not list ${APP.replace(/\./g, '\\.')}, the file of database "app" \\(a missing manifest entry\\); the backup is damaged; refusing to restore from it$`));
      const olderEntry = entries.find((e) => e.folder === '20200101_000000')!;
      expect(catching(() => filesForRestore(olderEntry, 'database', 'app'))).toBeInstanceOf(VerificationError);
      // Asked for directly, the file is refused too, although it is there.
      await refused(source, olderEntry, [APP], restoreDir, APP, /a missing manifest entry/);

      const unknown = catching(() => filesForRestore(whole, 'database', 'nope'));
      expect(unknown).toBeInstanceOf(UsageError);
      expect(unknown.message).toBe(`RESTORE_DATABASE="nope" is not in backup 20200102_000000; it has ${manifest.databases.map((d) => JSON.stringify(d)).join(', ')}; e.g. RESTORE_DATABASE=${manifest.databases.find((d) => /^[\w.-]+$/.test(d))}`);
      expect(catching(() => filesForRestore(whole, 'database'))).toBeInstanceOf(UsageError);
    }
    console.log(`damage on three sources: ${Date.now() - t} ms`);
  });

  it('finds and fetches a legacy 001 folder (files only, no manifest) by gzip check alone', async () => {
    const t = Date.now();
    // 001 named database files with the raw name.
    const legacy = { [CLUSTER]: original.get(CLUSTER)!, [GLOBALS]: original.get(GLOBALS)!, [APP]: original.get(APP)!, 'postgres_db_sales data.sql.gz': original.get(SALES)! };
    const broken = { [CLUSTER]: Buffer.from('this is not gzip\n'), [GLOBALS]: original.get(GLOBALS)!.subarray(0, 100) };
    const localDir = join(work, 'legacy-local');
    await putDir(localDir, '20240101_000000', legacy);
    await putDir(localDir, '20230101_000000', broken);
    await putS3('legacy', '20240101_000000', legacy);
    await putS3('legacy', '20230101_000000', broken);
    const remoteDir = join(sshd.remoteRoot, 'legacy');
    await putDir(remoteDir, '20240101_000000', legacy);
    await putDir(remoteDir, '20230101_000000', broken);

    for (const source of [new LocalSource(localDir), s3Source('legacy'), remoteSource(remoteDir)]) {
      const restoreDir = join(work, `restore-legacy-${source.kind}`);
      const entries = await source.list();
      expect(entries.map((e) => [e.folder, e.status])).toEqual([
        ['20240101_000000', 'legacy'],
        ['20230101_000000', 'legacy'],
      ]);
      const entry = pickBackup(entries, 'latest'); // only legacy folders here: the newest of them
      expect(entry.folder).toBe('20240101_000000');
      const names = [...filesForRestore(entry, 'cluster'), ...filesForRestore(entry, 'globals'), ...filesForRestore(entry, 'database', 'sales data'), ...filesForRestore(entry, 'database', 'app')];
      expect(names).toEqual([CLUSTER, GLOBALS, 'postgres_db_sales data.sql.gz', APP]);
      const fetched = await fetchForRestore(source, entry, names, { restoreDir });
      for (const f of fetched) expect((await readFile(f.path)).equals(legacy[f.name as keyof typeof legacy])).toBe(true);
      if (source.kind === 'local') expect(existsSync(restoreDir)).toBe(false);
      else expect(await filesUnder(restoreDir)).toEqual(names.map((n) => join('20240101_000000', n)).sort());

      const unknown = catching(() => filesForRestore(entry, 'database', 'nope'));
      expect(unknown).toBeInstanceOf(UsageError);
      expect(unknown.message).toBe(`RESTORE_DATABASE="nope" is not in backup 20240101_000000; it has "app", "sales data"; e.g. RESTORE_DATABASE=app`);

      const bad = pickBackup(entries, '20230101_000000');
      const err = await rejection(fetchForRestore(source, bad, [CLUSTER], { restoreDir: join(work, `restore-legacy-bad-${source.kind}`) }));
      expect(err).toBeInstanceOf(VerificationError);
      expect(err.message).toMatch(/^postgres_cluster\.sql\.gz of backup 20230101_000000 on .* is damaged: not a valid gzip stream \(incorrect header check/);
      const short = await rejection(fetchForRestore(source, bad, [GLOBALS], { restoreDir: join(work, `restore-legacy-bad-${source.kind}`) }));
      expect(short).toBeInstanceOf(VerificationError);
      expect(short.message).toMatch(/^postgres_globals\.sql\.gz of .* is damaged: the gzip stream ends early \(truncated file\)/);
      expect(await filesUnder(join(work, `restore-legacy-bad-${source.kind}`))).toEqual([]);
      expect(catching(() => filesForRestore(bad, 'database', 'app'))).toBeInstanceOf(UsageError);
    }
    console.log(`legacy on three sources: ${Date.now() - t} ms`);
  });

  it('stops a download on abort and removes the partial file', async () => {
    const big = gzipSync(randomBytes(6 * 1024 * 1024), { level: 1 });
    await putS3('abort', '20240101_000000', { 'postgres_db_big.sql.gz': big });
    const remoteDir = join(sshd.remoteRoot, 'abort');
    await putDir(remoteDir, '20240101_000000', { 'postgres_db_big.sql.gz': big });
    for (const real of [s3Source('abort'), remoteSource(remoteDir)]) {
      const restoreDir = join(work, `restore-abort-${real.kind}`);
      const entry = pickBackup(await real.list(), 'latest');
      const controller = new AbortController();
      let seen = 0;
      // The real stream; the abort comes once the second chunk has gone by (mid-download).
      const source: BackupSource = {
        kind: real.kind,
        location: real.location,
        list: (s) => real.list(s),
        remove: (e, s) => real.remove(e, s),
        openFile: async (f, n, s) => {
          const stream: Readable = await real.openFile(f, n, s);
          const tap = new Transform({
            transform(chunk: Buffer, _e, done) {
              if (++seen === 2) controller.abort();
              done(null, chunk);
            },
          });
          stream.once('error', (err) => tap.destroy(err));
          tap.once('close', () => stream.destroy());
          return stream.pipe(tap);
        },
      };
      const t = Date.now();
      const err = await rejection(fetchForRestore(source, entry, ['postgres_db_big.sql.gz'], { restoreDir, signal: controller.signal }));
      expect(err).toBeInstanceOf(AbortedError);
      expect(err.message).toBe(`download of postgres_db_big.sql.gz from ${real.kind} ${real.location} was stopped; the partial file was removed`);
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(await filesUnder(restoreDir)).toEqual([]);
      console.log(`${real.kind}: abort mid-download: ${Date.now() - t} ms`);
      // Without the abort the same file comes whole.
      const [whole] = await fetchForRestore(real, entry, ['postgres_db_big.sql.gz'], { restoreDir });
      expect((await readFile(whole!.path)).equals(big)).toBe(true);
    }
  });

  it('refuses hostile file and folder names from S3 and the remote host; nothing is written outside RESTORE_DIR', async () => {
    const hostileNames = ['../../etc/x', 'a/../../x', '..', '..\\..\\x', '/etc/x', 'x\0y', '.hidden'];
    for (const name of hostileNames) expect(unsafeNameReason(name), name).toBeDefined();
    expect(unsafeNameReason('postgres_db_v1..2.sql.gz')).toBeUndefined(); // one path component

    const base = join(work, 'hostile');
    const restoreDir = join(base, 'a', 'b', 'restore');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const payload = gzipSync(Buffer.from('SELECT 1;\n'));
    const evilFile = (name: string) => ({ name, kind: 'database' as const, database: 'evil', bytes: payload.length, sha256: sha(payload) });

    // S3: manifests naming files with slashes, backslashes or "..": every one refused.
    await putS3('hostile', '20250101_000000', {
      [CLUSTER]: original.get(CLUSTER)!,
      'manifest.json': manifestWith((m) => ({ ...m, folder: '20250101_000000', files: [...m.files, evilFile('../../etc/x'), evilFile('a/../../x')] })),
    });
    await putS3('hostile', '20250102_000000', {
      [CLUSTER]: original.get(CLUSTER)!,
      'manifest.json': manifestWith((m) => ({ ...m, folder: '20250102_000000', databases: [...m.databases, 'evil'], files: [...m.files, evilFile('..\\..\\x')] })),
    });
    // Remote: the same, with real files of those names on the remote disk.
    const remoteDir = join(sshd.remoteRoot, 'hostile');
    await putDir(remoteDir, '20250101_000000', {
      'manifest.json': manifestWith((m) => ({ ...m, folder: '20250101_000000', files: [evilFile('a/../../x')] })),
    });
    await putDir(remoteDir, '20250102_000000', {
      '..\\..\\x': payload,
      [CLUSTER]: original.get(CLUSTER)!,
      'manifest.json': manifestWith((m) => ({ ...m, folder: '20250102_000000', databases: ['evil'], files: [evilFile('..\\..\\x'), ...m.files] })),
    });

    // A whole folder next to them, for the good file at the end and for the hand-made entries below.
    await putS3('hostile', '20250103_000000', backupFilesAs('20250103_000000'));
    await putDir(remoteDir, '20250103_000000', backupFilesAs('20250103_000000'));

    for (const source of [s3Source('hostile'), remoteSource(remoteDir)]) {
      const entries = await source.list();
      // Every manifest naming a file with a path separator ('/' or '\\') fails its check.
      expect(entries.map((e) => [e.folder, e.status])).toEqual([
        ['20250103_000000', 'finished'],
        ['20250102_000000', 'damaged'],
        ['20250101_000000', 'damaged'],
      ]);
      for (const damaged of entries.slice(1)) {
        expect(damaged.problem).toMatch(/\.name \(".*"\): it holds a path separator; the backup is damaged$/);
        expect(catching(() => filesForRestore(damaged, 'cluster'))).toBeInstanceOf(VerificationError);
        expect(catching(() => filesForRestore(damaged, 'database', 'evil'))).toBeInstanceOf(VerificationError);
        expect(await rejection(fetchForRestore(source, damaged, [CLUSTER], { restoreDir }))).toBeInstanceOf(VerificationError);
      }

      // An entry made by hand (as a source that let anything through would give it): every hostile
      // name refused before anything is read or written, also next to a good file.
      const finished = entries[0]!;
      const handMade: BackupEntry = {
        ...finished,
        manifest: { ...finished.manifest!, files: [...finished.manifest!.files, ...hostileNames.map(evilFile)] },
      };
      for (const name of hostileNames) {
        const e = await rejection(fetchForRestore(source, handMade, [CLUSTER, name], { restoreDir }));
        expect(e, name).toBeInstanceOf(VerificationError);
        expect(e.message).toContain(`the file name ${JSON.stringify(name)} is refused`);
      }
      const backslash = await rejection(fetchForRestore(source, handMade, ['..\\..\\x'], { restoreDir }));
      expect(backslash.message).toBe(
        `backup 20250103_000000 on ${source.kind} ${source.location}: the file name "..\\\\..\\\\x" is refused (it holds a path separator): it could write outside RESTORE_DIR; refusing to restore from it`,
      );
      for (const badFolder of ['..', '../..', '20250102_000000/../..', '']) {
        const e = await rejection(fetchForRestore(source, { ...finished, folder: badFolder }, [CLUSTER], { restoreDir }));
        expect(e, badFolder).toBeInstanceOf(VerificationError);
      }
    }
    // Nothing anywhere under the hostile test's folder: not in RESTORE_DIR, not above it.
    expect(await filesUnder(base)).toEqual([]);
    expect(existsSync(join(base, 'etc'))).toBe(false);
    expect(existsSync(join(base, 'a', 'etc'))).toBe(false);
    expect(existsSync(join(base, 'x'))).toBe(false);
    // And the good file of the same backup still comes through into RESTORE_DIR.
    const [good] = await fetchForRestore(s3Source('hostile'), pickBackup(await s3Source('hostile').list(), '20250103_000000'), [CLUSTER], { restoreDir });
    expect(await filesUnder(base)).toEqual([join('a', 'b', 'restore', '20250103_000000', CLUSTER)]);
    expect(good!.sha256).toBe(manifest.files.find((f) => f.name === CLUSTER)!.sha256);
  });
});
