// Signed manifests end to end: keys made by openssl, a real PostgreSQL, the backup on local disk and
// S3 (s3rver), the built CLI. With RESTORE_VERIFY_KEY set, list/verify/restore accept only backups
// signed by BACKUP_SIGNING_KEY, and a replaced file never reaches psql (a planted file's SQL would
// create a marker role; the role must not exist after the refused restore).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Manifest } from '../src/core/backup/manifest.js';
import { signManifest } from '../src/core/backup/manifest-signature.js';
import { folderName, folderTime } from '../src/core/backup/names.js';
import { baseEnv, runCli, type CliResult } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { makeTempDir } from './helpers/tmp.js';

const APP_FILE = 'postgres_db_app.sql.gz';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const serialize = (m: unknown) => `${JSON.stringify(m, null, 2)}\n`;

/**
 * A gzip file of exactly `size` bytes whose SQL creates role `marker`, ending like a pg_dump file so
 * that nothing but its checksum gives it away (level 0: the padding sets the size byte for byte).
 */
function plantedFile(marker: string, size: number): Buffer {
  const end = '\n--\n-- PostgreSQL database dump complete\n--\n\n';
  let pad = 0;
  for (let i = 0; i < 50; i++) {
    const gz = gzipSync(Buffer.from(`CREATE ROLE ${marker};\n-- ${'x'.repeat(pad)}${end}`), { level: 0 });
    if (gz.length === size) return gz;
    pad = Math.max(0, pad + (gz.length < size ? Math.max(1, size - gz.length) : -1));
  }
  throw new Error(`no planted file of ${size} bytes`);
}

describe('signed manifests: BACKUP_SIGNING_KEY and RESTORE_VERIFY_KEY', () => {
  let pg: PgServer;
  let s3: S3Server;
  let dir: string;
  let folder: string;
  let signing: string;
  let verify: string;
  let otherKey: string;
  let appSize: number;

  const env = (extra: Record<string, string> = {}) =>
    baseEnv({ ...pg.env(), BACKUP_DIR: join(dir, 'local'), RESTORE_DIR: join(dir, 'restore'), ...s3.s3Env({ S3_PREFIX: 'signed' }), ...extra });
  const withKey = (extra: Record<string, string> = {}) => env({ RESTORE_VERIFY_KEY: verify, ...extra });
  const restore = (db: string, extra: Record<string, string>) =>
    runCli(['restore'], withKey({ RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: db, ...extra }));
  const databases = async () => (await pg.query('SELECT datname FROM pg_database')).map((r) => r.datname as string);
  const roleExists = async (role: string) => (await pg.query(`SELECT 1 FROM pg_roles WHERE rolname = '${role}'`)).length > 0;
  const rows = async (db: string) => Number((await pg.query('SELECT count(*) AS n FROM items', db))[0].n);
  /** A copy of the signed backup in a BACKUP_DIR of its own, changed by `attack`; returns that BACKUP_DIR. */
  const attacked = async (name: string, attack: (path: string) => Promise<void>) => {
    const root = join(dir, name);
    await cp(join(dir, 'local', folder), join(root, folder), { recursive: true });
    await attack(join(root, folder));
    return root;
  };
  const manifestOf = async (path: string): Promise<Manifest> => JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8'));
  /** One refusal: the exit code, one line on stderr naming the reason, the target untouched. */
  const expectRefused = async (r: CliResult, code: number, reason: RegExp, target: string) => {
    expect(r.code, r.stderr).toBe(code);
    const errors = r.stderr.split('\n').filter((l) => /error/i.test(l));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(reason);
    expect(await databases()).not.toContain(target);
  };

  beforeAll(async () => {
    [pg, s3, dir] = await Promise.all([startPgServer(15), startS3Server(), makeTempDir('signing-')]);
    const keys = join(dir, 'keys');
    await mkdir(keys);
    signing = join(keys, 'backup-signing.pem');
    verify = join(keys, 'backup-signing.pub');
    otherKey = join(keys, 'other.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', signing]);
    execFileSync('openssl', ['pkey', '-in', signing, '-pubout', '-out', verify]);
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', otherKey]);
    await pg.query('CREATE DATABASE app');
    await pg.query(`CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g`, 'app');
    const r = await runCli(['backup', '--json'], env({ BACKUP_SIGNING_KEY_FILE: signing, S3_ENABLED: 'true' }));
    expect(r.code, r.stderr).toBe(0);
    folder = JSON.parse(r.stdout).folder;
    appSize = (await manifestOf(join(dir, 'local', folder))).files.find((f) => f.name === APP_FILE)!.bytes;
  }, 120_000);
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop()]);
  });

  it('a signed backup lists, verifies and restores from local disk and S3 with RESTORE_VERIFY_KEY', async () => {
    const manifest = await manifestOf(join(dir, 'local', folder));
    expect(manifest.signature).toMatchObject({ algorithm: 'ed25519', key: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(Object.keys(manifest).at(-1)).toBe('signature');

    const list = await runCli(['list', '--json'], withKey());
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).backups).toMatchObject([{ folder, status: 'finished', signedBy: manifest.signature!.key, locations: [{ source: 'local' }, { source: 's3' }] }]);
    const v = await runCli(['verify'], withKey()); // every copy: local and S3
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/on local: good[\s\S]*on s3: good|on s3: good[\s\S]*on local: good/);
    const plan = await runCli(['restore', '--dry-run'], withKey({ RESTORE_SOURCE: 's3', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_s3' }));
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout + plan.stderr).toMatch(/signature +signed by sha256:[0-9a-f]{64} \(RESTORE_VERIFY_KEY\): files are checked against the signed manifest before psql reads them; each file is downloaded whole/);
    for (const source of ['local', 's3']) {
      const r = await restore(`app_${source}`, { RESTORE_SOURCE: source });
      expect(r.code, r.stderr).toBe(0);
      expect(await rows(`app_${source}`)).toBe(5000);
    }
  });

  it('a staged cluster restore with RESTORE_VERIFY_KEY: every file checked first, then restored', async () => {
    const fresh = await startPgServer(15, { password: pg.password });
    try {
      const r = await runCli(['restore'], withKey({ ...fresh.env(), RESTORE_SOURCE: 's3', RESTORE_TYPE: 'cluster', RESTORE_DIR: join(dir, 'restore-cluster') }));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/postgres_db_app\.sql\.gz: checked whole against the signed manifest before psql reads it/);
      expect(Number((await fresh.query('SELECT count(*) AS n FROM items', 'app'))[0].n)).toBe(5000);
    } finally {
      await fresh.stop();
    }
  });

  it('the manual check of the README: jq and openssl pkeyutl verify the manifest', async () => {
    const path = join(dir, 'local', folder);
    const work = await makeTempDir('signing-manual-');
    const check = (manifestPath: string) => {
      execFileSync('sh', ['-c', `jq 'del(.signature)' "$1" > "$2/manifest.signed" && jq -r .signature.value "$1" | base64 -d > "$2/manifest.sig"`, 'sh', manifestPath, work]);
      try {
        return execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', verify, '-rawin', '-in', join(work, 'manifest.signed'), '-sigfile', join(work, 'manifest.sig')], { stdio: 'pipe' }).toString();
      } catch (err) {
        return `failed: ${(err as { stdout?: Buffer }).stdout?.toString() ?? ''}`;
      }
    };
    expect(check(join(path, 'manifest.json'))).toMatch(/Signature Verified Successfully/);
    const edited = await manifestOf(path);
    edited.databases = [];
    await writeFile(join(work, 'edited.json'), serialize(edited));
    expect(check(join(work, 'edited.json'))).toMatch(/^failed: .*Signature Verification Failure/s);
    // The files are bound by their sha256: sha256sum -c of the manifest's list matches.
    const list = (await manifestOf(path)).files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
    expect(execFileSync('sha256sum', ['-c', '-'], { cwd: path, input: list }).toString()).toMatch(/postgres_db_app\.sql\.gz: OK/);
    await rm(work, { recursive: true, force: true });
  });

  it('an edited manifest: damaged in list, verify exits 3, restore exits 3', async () => {
    const root = await attacked('edited', async (path) => {
      const m = await manifestOf(path);
      m.databases = m.databases.filter((d) => d !== 'postgres');
      await writeFile(join(path, 'manifest.json'), serialize(m));
    });
    const local = { BACKUP_DIR: root, S3_ENABLED: 'false' };
    const list = await runCli(['list', '--json'], withKey(local));
    expect(JSON.parse(list.stdout).backups).toMatchObject([{ folder, status: 'damaged', problem: expect.stringMatching(/manifest\.json does not match its signature by RESTORE_VERIFY_KEY/) }]);
    const v = await runCli(['verify'], withKey(local));
    expect(v.code).toBe(3);
    expect(v.stdout + v.stderr).toMatch(/changed after it was signed/);
    await expectRefused(await restore('app_edited', { ...local, RESTORE_FOLDER: folder }), 3, /is damaged: manifest\.json does not match its signature/, 'app_edited');
  });

  it('a replaced file with its sha256 put into the manifest: the signature no longer matches', async () => {
    const root = await attacked('resigned', async (path) => {
      const planted = plantedFile('pwned_resigned', appSize + 100);
      await writeFile(join(path, APP_FILE), planted);
      const m = await manifestOf(path);
      const f = m.files.find((x) => x.name === APP_FILE)!;
      Object.assign(f, { bytes: planted.length, sha256: sha(planted) });
      await writeFile(join(path, 'manifest.json'), serialize(m));
    });
    await expectRefused(await restore('app_resigned', { BACKUP_DIR: root, S3_ENABLED: 'false', RESTORE_FOLDER: folder }), 3, /manifest\.json does not match its signature/, 'app_resigned');
    expect(await roleExists('pwned_resigned')).toBe(false);
  });

  it('a replaced file of the same size, manifest untouched: caught before psql reads a byte (local and S3)', async () => {
    const planted = plantedFile('pwned_swapped', appSize);
    expect(planted.length).toBe(appSize);
    expect(gunzipSync(planted).toString()).toMatch(/^CREATE ROLE pwned_swapped;/);
    const root = await attacked('swapped', (path) => writeFile(join(path, APP_FILE), planted));
    // The listing cannot tell (same size), the signature is good: only the sha256 can, before psql.
    const list = await runCli(['list', '--json'], withKey({ BACKUP_DIR: root, S3_ENABLED: 'false' }));
    expect(JSON.parse(list.stdout).backups).toMatchObject([{ folder, status: 'finished' }]);
    await expectRefused(await restore('app_swapped_local', { BACKUP_DIR: root, S3_ENABLED: 'false' }), 3, /postgres_db_app\.sql\.gz of backup .* is damaged: .*sha256/, 'app_swapped_local');
    expect(await roleExists('pwned_swapped')).toBe(false);

    // S3: the object replaced in place; the download is checked whole before psql starts.
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `signed/${folder}/${APP_FILE}`, Body: planted }));
    try {
      await expectRefused(
        await restore('app_swapped_s3', { RESTORE_SOURCE: 's3', RESTORE_DIR: join(dir, 'restore-swapped') }),
        3,
        /postgres_db_app\.sql\.gz of backup .* on s3 .* is damaged: .*sha256/,
        'app_swapped_s3',
      );
      expect(await roleExists('pwned_swapped')).toBe(false);
    } finally {
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `signed/${folder}/${APP_FILE}`, Body: await readFile(join(dir, 'local', folder, APP_FILE)) }));
    }

    // The marker is real: without RESTORE_VERIFY_KEY and with the manifest's sha256 rewritten too (an
    // attacker's full success when nothing is signed), the planted SQL runs.
    const manifest = await manifestOf(join(root, folder));
    Object.assign(manifest.files.find((x) => x.name === APP_FILE)!, { sha256: sha(planted) });
    delete manifest.signature;
    await writeFile(join(root, folder, 'manifest.json'), serialize(manifest));
    const unprotected = await runCli(['restore'], env({ BACKUP_DIR: root, S3_ENABLED: 'false', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_unprotected' }));
    expect(unprotected.code, unprotected.stderr).toBe(0);
    expect(await roleExists('pwned_swapped')).toBe(true);
    await pg.query('DROP DATABASE app_unprotected');
    await pg.query('DROP ROLE pwned_swapped');
  });

  it('an unsigned folder planted newer than the real one: damaged, never "latest"; legacy folders too', async () => {
    // Newer than the signed backup, still in the past (a folder dated in the future is passed over anyway).
    const time = folderTime(folder)!.getTime();
    const newerFolder = folderName(new Date(time + 2000));
    const legacyFolder = folderName(new Date(time + 1000));
    const root = await attacked('planted', async (path) => {
      const newer = join(path, '..', newerFolder);
      await cp(path, newer, { recursive: true });
      const file = plantedFile('pwned_planted', appSize);
      await writeFile(join(newer, APP_FILE), file);
      const m = await manifestOf(newer);
      m.folder = newerFolder;
      Object.assign(m.files.find((x) => x.name === APP_FILE)!, { sha256: sha(file) });
      delete m.signature;
      await writeFile(join(newer, 'manifest.json'), serialize(m));
      // A legacy folder (no manifest), as the bash tool wrote them.
      const legacy = join(path, '..', legacyFolder);
      await mkdir(legacy);
      await writeFile(join(legacy, APP_FILE), plantedFile('pwned_legacy', 200));
    });
    const local = { BACKUP_DIR: root, S3_ENABLED: 'false' };
    const list = await runCli(['list', '--json'], withKey(local));
    expect(JSON.parse(list.stdout).backups).toMatchObject([
      { folder: newerFolder, status: 'damaged', problem: expect.stringMatching(/manifest\.json is not signed, and RESTORE_VERIFY_KEY requires a signature/) },
      { folder: legacyFolder, status: 'damaged', problem: expect.stringMatching(/without manifest\.json .* is not signed/) },
      { folder, status: 'finished' },
    ]);
    const v = await runCli(['verify', newerFolder], withKey(local));
    expect(v.code).toBe(3);
    // latest passes over both and restores the signed backup.
    const r = await restore('app_latest', local);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`latest: passed over ${newerFolder} .*not signed`));
    expect(await rows('app_latest')).toBe(5000);
    expect(await roleExists('pwned_planted')).toBe(false);
    // Named explicitly: refused.
    await expectRefused(await restore('app_planted', { ...local, RESTORE_FOLDER: newerFolder }), 3, /is damaged: manifest\.json is not signed/, 'app_planted');
    expect(await roleExists('pwned_planted')).toBe(false);
  });

  it('a manifest signed by another key is refused, and on S3 too', async () => {
    const foreign = createPrivateKey(await readFile(otherKey, 'utf8'));
    const root = await attacked('other-key', async (path) => {
      const file = plantedFile('pwned_other', appSize);
      await writeFile(join(path, APP_FILE), file);
      const m = await manifestOf(path);
      Object.assign(m.files.find((x) => x.name === APP_FILE)!, { sha256: sha(file) });
      await writeFile(join(path, 'manifest.json'), serialize(signManifest(m, foreign)));
    });
    await expectRefused(await restore('app_other', { BACKUP_DIR: root, S3_ENABLED: 'false', RESTORE_FOLDER: folder }), 3, /manifest\.json is signed by another key \(sha256:[0-9a-f]{64}\)/, 'app_other');
    // The same folder on S3 under another prefix.
    for (const name of ['manifest.json', APP_FILE, 'postgres_cluster.sql.gz', 'postgres_globals.sql.gz', 'postgres_db_postgres.sql.gz', 'postgres_db_template1.sql.gz']) {
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `other/${folder}/${name}`, Body: await readFile(join(root, folder, name)) }));
    }
    const s3env = { S3_PREFIX: 'other', RESTORE_SOURCE: 's3', RESTORE_FOLDER: folder, RESTORE_DIR: join(dir, 'restore-other') };
    await expectRefused(await restore('app_other_s3', s3env), 3, /signed by another key/, 'app_other_s3');
    expect(await roleExists('pwned_other')).toBe(false);
  });

  it('without RESTORE_VERIFY_KEY everything works as before: signed and unsigned backups restore', async () => {
    const unsigned = await attacked('unsigned', async (path) => {
      const m = await manifestOf(path);
      delete m.signature;
      await writeFile(join(path, 'manifest.json'), serialize(m));
    });
    for (const [db, backupDir] of [
      ['app_plain_unsigned', unsigned],
      ['app_plain_signed', join(dir, 'local')],
    ] as const) {
      const r = await runCli(['restore'], env({ BACKUP_DIR: backupDir, S3_ENABLED: 'false', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: db }));
      expect(r.code, r.stderr).toBe(0);
      expect(await rows(db)).toBe(5000);
    }
  });

  it('a bad key is a setting error (exit 2) naming it', async () => {
    await writeFile(join(dir, 'bad.pem'), 'not a key\n');
    const backup = await runCli(['backup'], env({ BACKUP_SIGNING_KEY_FILE: join(dir, 'bad.pem'), BACKUP_DIR: join(dir, 'bad') }));
    expect(backup.code).toBe(2);
    expect(backup.stderr).toMatch(/BACKUP_SIGNING_KEY_FILE is not an Ed25519 private key in PEM/);
    const list = await runCli(['list'], env({ RESTORE_VERIFY_KEY: signing }));
    expect(list.code).toBe(2);
    expect(list.stderr).toMatch(/RESTORE_VERIFY_KEY holds a private key/);
  });
});
