// Encryption at rest with age: backups encrypted on their way out of the compressor, on local disk,
// S3 (s3rver) and a remote host (sshd + rsync); no plaintext on any of them; restores from each
// source, by hand with Debian's age CLI, and in passphrase mode; a wrong, missing or tampered key
// refused with one line and the target untouched; verify with and without the identity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Decrypter } from 'age-encryption';
import { baseEnv, runCli, type CliResult } from './helpers/cli.js';
import { clientTool, runTool, toolEnv } from './helpers/dump-compare.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { makeTempDir } from './helpers/tmp.js';

const MARKER = 'ZEBRA-MARKER-7781-plaintext';
const PASSPHRASE = 'correct-horse-battery-staple-9931';
const AGE_HEADER = 'age-encryption.org/v1\n';

/** Every regular file under `root`, recursively. */
async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function hasAge(): boolean {
  try {
    execFileSync('age-keygen', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The error lines of a failed run: exactly one is expected. */
const errorLines = (r: CliResult) => r.stderr.split('\n').filter((l) => /error/i.test(l));

describe('encrypted backups (age)', () => {
  let pg: PgServer;
  let s3: S3Server;
  let sshd: SshServer;
  let dir: string;
  let folder: string;
  let key1: string;
  let key2: string;
  let wrongKey: string;
  let pub1: string;
  let pub2: string;
  let original: string;
  let secretLines: string[];

  const tableOf = async (server: PgServer, db: string) =>
    JSON.stringify(await server.query(`SELECT id, note, amount::text FROM secrets ORDER BY id`, db));
  const databases = async (server: PgServer) => (await server.query(`SELECT datname FROM pg_database ORDER BY 1`)).map((r: any) => r.datname as string);
  const envFor = (extra: Record<string, string> = {}) =>
    baseEnv({
      ...pg.env(),
      BACKUP_DIR: join(dir, 'local'),
      RESTORE_DIR: join(dir, 'restore'),
      ...s3.s3Env({ S3_PREFIX: 'enc' }),
      ...sshd.rsyncEnv(join(sshd.remoteRoot, 'enc')),
      ...extra,
    });
  const keygen = async (name: string) => {
    const path = join(dir, name);
    execFileSync('age-keygen', ['-o', path], { stdio: 'ignore' });
    const text = await readFile(path, 'utf8');
    return { path, pub: execFileSync('age-keygen', ['-y', path], { encoding: 'utf8' }).trim(), secret: text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))! };
  };

  beforeAll(async () => {
    [pg, s3, sshd, dir] = await Promise.all([startPgServer(15), startS3Server(), startSshd(), makeTempDir('encryption-')]);
    if (!hasAge()) throw new Error('Debian\'s age package (age, age-keygen) is needed: apt-get install age, or run scripts/provision.mjs');
    await pg.query('CREATE DATABASE app');
    // ~5 MB of SQL: many age chunks (64 KiB) per file; the marker in every 100th row.
    await pg.query(
      `CREATE TABLE secrets AS SELECT g AS id, CASE WHEN g % 100 = 0 THEN '${MARKER}' ELSE md5(g::text) || md5(random()::text) END AS note, (g * 1.5)::numeric AS amount FROM generate_series(1, 60000) g`,
      'app',
    );
    original = await tableOf(pg, 'app');
    const [k1, k2, wrong] = await Promise.all([keygen('key1.txt'), keygen('key2.txt'), keygen('wrong.txt')]);
    [key1, key2, wrongKey, pub1, pub2] = [k1.path, k2.path, wrong.path, k1.pub, k2.pub];
    secretLines = [k1.secret, k2.secret, wrong.secret, PASSPHRASE];
    // Two recipients, from a file with comments: either identity reads the backup (rotation).
    const recipients = join(dir, 'recipients.txt');
    await writeFile(recipients, `# backup keys\n${pub1} # current\n\n${pub2}\n`);
    const r = await runCli(['backup', '--json'], envFor({ BACKUP_ENCRYPTION_RECIPIENTS: recipients }));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    folder = out.folder;
    for (const s of secretLines) expect(r.stdout + r.stderr).not.toContain(s);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
  });

  it('no plaintext byte on local disk, S3 or the remote host; the manifest records the public keys', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'local', folder, 'manifest.json'), 'utf8'));
    expect(manifest.encryption).toEqual({ format: 'age', mode: 'recipients', recipients: [pub1, pub2] });
    expect(manifest.files.map((f: any) => f.name).sort()).toEqual(
      ['postgres_cluster.sql.gz.age', 'postgres_db_app.sql.gz.age', 'postgres_db_postgres.sql.gz.age', 'postgres_db_template1.sql.gz.age', 'postgres_globals.sql.gz.age'].sort(),
    );
    const roots = { local: join(dir, 'local'), s3: s3.dir, remote: join(sshd.remoteRoot, 'enc') };
    for (const [where, root] of Object.entries(roots)) {
      const all = await filesUnder(root);
      const backupFiles = all.filter((p) => /postgres_.*\.sql\.gz/.test(p));
      expect(backupFiles.length, `${where}: ${all.join(', ')}`).toBeGreaterThanOrEqual(5);
      for (const p of all) {
        const bytes = await readFile(p);
        // Not the row, not any key or passphrase: neither in the files nor in S3's object metadata.
        expect(bytes.includes(MARKER), `${p} holds the row value`).toBe(false);
        for (const s of secretLines) expect(bytes.includes(s), `${p} holds a key`).toBe(false);
      }
      for (const p of backupFiles.filter((x) => !/metadata|\.json$|\.md5$/.test(x))) {
        const bytes = await readFile(p);
        // Stored as age files: no gzip stream (gzip's Huffman coding would hide a marker anyway).
        expect(bytes.subarray(0, AGE_HEADER.length).toString('latin1'), p).toBe(AGE_HEADER);
        expect(() => gunzipSync(bytes), p).toThrow();
      }
    }
    // Stored size and sha256 in the manifest are those of the encrypted bytes.
    const app = manifest.files.find((f: any) => f.database === 'app');
    const stored = await readFile(join(dir, 'local', folder, app.name));
    expect(stored.length).toBe(app.bytes);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(app.sha256);
    expect(app.rawBytes).toBeGreaterThan(app.bytes);
  });

  for (const from of ['local', 's3', 'remote'] as const) {
    it(`restores database app from ${from}, equal to the original; downloads stay encrypted`, async () => {
      const target = `app_from_${from}`;
      const identity = from === 'remote' ? key2 : key1; // the second recipient's identity reads it too
      const r = await runCli(['restore'], envFor({ RESTORE_SOURCE: from, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: target, RESTORE_IDENTITY_FILE: identity }));
      expect(r.code, r.stderr).toBe(0);
      expect(await tableOf(pg, target)).toBe(original);
      for (const s of secretLines) expect(r.stdout + r.stderr).not.toContain(s);
      if (from !== 'local') {
        const copy = await readFile(join(dir, 'restore', folder, 'postgres_db_app.sql.gz.age'));
        expect(copy.subarray(0, AGE_HEADER.length).toString('latin1')).toBe(AGE_HEADER);
        expect(copy.includes(MARKER)).toBe(false);
      }
    });
  }

  it('by hand: age -d -i key.txt FILE | gunzip | psql gives the original', async () => {
    const fresh = await startPgServer(15, { password: pg.password });
    try {
      const file = join(dir, 'local', folder, 'postgres_db_app.sql.gz.age');
      const r = await runTool('bash', ['-c', 'set -o pipefail; age -d -i "$1" "$2" | gunzip | "$3" -X -w -q -v ON_ERROR_STOP=1', 'bash', key1, file, clientTool(fresh, 'psql')], toolEnv(fresh, { PGDATABASE: 'postgres' }));
      expect(r.code, r.stderr).toBe(0);
      expect(await tableOf(fresh, 'app')).toBe(original);
      // The cluster file is an age file of its own, and holds the database too.
      const cluster = await runTool('bash', ['-c', 'set -o pipefail; age -d -i "$1" "$2" | gunzip | grep -c "$3"', 'bash', key2, join(dir, 'local', folder, 'postgres_cluster.sql.gz.age'), MARKER], toolEnv(fresh));
      expect(cluster.code, cluster.stderr).toBe(0);
      expect(Number(cluster.stdout.trim())).toBe(600);
    } finally {
      await fresh.stop();
    }
  });

  it('a cluster restore (staged, from S3) and a globals restore onto fresh servers decrypt each file', async () => {
    const [a, b] = await Promise.all([startPgServer(15, { password: pg.password }), startPgServer(15, { password: pg.password })]);
    try {
      const cluster = await runCli(['restore'], { ...envFor({ RESTORE_SOURCE: 's3', RESTORE_TYPE: 'cluster', RESTORE_IDENTITY_FILE: key1 }), ...a.env() });
      expect(cluster.code, cluster.stderr).toBe(0);
      expect(await tableOf(a, 'app')).toBe(original);
      const globals = await runCli(['restore'], { ...envFor({ RESTORE_SOURCE: 'local', RESTORE_TYPE: 'globals', RESTORE_IDENTITY_FILE: key2 }), ...b.env() });
      expect(globals.code, globals.stderr).toBe(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('verify: without a key sizes and sha256 (and says so); with it also decryption and gzip; a wrong key is DAMAGED', async () => {
    const without = await runCli(['verify', folder, '--json'], envFor());
    expect(without.code, without.stderr).toBe(0);
    expect(without.stderr).toMatch(/no RESTORE_IDENTITY_FILE .* the gzip streams were not/);
    const withKey = await runCli(['verify', folder, '--json'], envFor({ RESTORE_IDENTITY_FILE: key1 }));
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(withKey.stderr).not.toMatch(/gzip streams were not/);
    expect(JSON.parse(withKey.stdout).reports).toHaveLength(3); // local, S3, remote
    const wrong = await runCli(['verify', folder, '--source', 'local'], envFor({ RESTORE_IDENTITY_FILE: wrongKey }));
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toMatch(/DAMAGED: .*none of the keys given .* is one of its recipients/);
  });

  it('a missing identity: exit 2 naming RESTORE_IDENTITY_FILE; a wrong one: exit 3; one line each, target untouched', async () => {
    const before = await databases(pg);
    const base = { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_refused' };
    const missing = await runCli(['restore'], envFor(base));
    expect(missing.code, missing.stderr).toBe(2);
    expect(errorLines(missing)).toHaveLength(1);
    expect(errorLines(missing)[0]).toMatch(/encrypted \(age\) and RESTORE_IDENTITY_FILE is not set/);
    const wrong = await runCli(['restore'], envFor({ ...base, RESTORE_IDENTITY_FILE: wrongKey }));
    expect(wrong.code, wrong.stderr).toBe(3);
    expect(errorLines(wrong)).toHaveLength(1);
    expect(errorLines(wrong)[0]).toMatch(/cannot be decrypted: none of the keys given/);
    for (const s of secretLines) expect(wrong.stderr).not.toContain(s);
    expect(await databases(pg)).toEqual(before);
    // Not a key file: exit 2, naming the setting, without echoing the file.
    const notKey = await runCli(['restore'], envFor({ ...base, RESTORE_IDENTITY_FILE: join(dir, 'recipients.txt') }));
    expect(notKey.code).toBe(2);
    expect(errorLines(notKey)[0]).toMatch(/RESTORE_IDENTITY_FILE=.* is not an age identity file/);
  });

  it('a flipped byte in an encrypted file (with the manifest fixed up to match): exit 3, one line, target untouched', async () => {
    const tampered = join(dir, 'tampered');
    await cp(join(dir, 'local', folder), join(tampered, folder), { recursive: true });
    const name = 'postgres_db_app.sql.gz.age';
    const path = join(tampered, folder, name);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(path, bytes);
    const manifestPath = join(tampered, folder, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.files.find((f: any) => f.name === name).sha256 = createHash('sha256').update(bytes).digest('hex');
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    const before = await databases(pg);
    const env = envFor({ BACKUP_DIR: tampered, S3_ENABLED: 'false', RSYNC_ENABLED: 'false', RESTORE_IDENTITY_FILE: key1 });
    const r = await runCli(['restore'], { ...env, RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_tampered' });
    expect(r.code, r.stderr).toBe(3);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/postgres_db_app\.sql\.gz\.age .*is damaged: it does not decrypt/);
    expect(await databases(pg)).toEqual(before);
    // verify with the key says DAMAGED for that file; without it the sha256 (fixed up) passes.
    const v = await runCli(['verify', folder], { ...env });
    expect(v.code).toBe(3);
    expect(v.stdout).toMatch(/DAMAGED: postgres_db_app\.sql\.gz\.age: it does not decrypt/);
  });

  it('a file swapped in from another backup (same keys, decrypts fine): exit 3 on its sha256, target untouched', async () => {
    const swapped = join(dir, 'swapped');
    await cp(join(dir, 'local', folder), join(swapped, folder), { recursive: true });
    // A second backup of the same data with the same recipient: another age file key, other bytes.
    const other = await runCli(['backup', '--json'], envFor({ BACKUP_DIR: join(dir, 'other'), S3_ENABLED: 'false', RSYNC_ENABLED: 'false', BACKUP_ENCRYPTION_RECIPIENTS: pub1 }));
    expect(other.code, other.stderr).toBe(0);
    const name = 'postgres_db_app.sql.gz.age';
    await cp(join(dir, 'other', JSON.parse(other.stdout).folder, name), join(swapped, folder, name));
    const before = await databases(pg);
    const env = envFor({ BACKUP_DIR: swapped, S3_ENABLED: 'false', RSYNC_ENABLED: 'false', RESTORE_IDENTITY_FILE: key1 });
    const r = await runCli(['restore'], { ...env, RESTORE_SOURCE: 'local', RESTORE_FOLDER: folder, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_swapped' });
    expect(r.code, r.stderr).toBe(3);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toMatch(/postgres_db_app\.sql\.gz\.age .*(has \d+ bytes, the manifest says|sha256)/);
    expect(await databases(pg)).toEqual(before);
  });

  it('passphrase mode (the weaker choice): round trip; the passphrase is nowhere; no passphrase: exit 2', async () => {
    const backupDir = join(dir, 'passphrase');
    const keyFile = join(dir, 'passphrase.txt');
    await writeFile(keyFile, `${PASSPHRASE}\n`);
    // scrypt costs about a second of CPU per file (by design): only database app and what a cluster needs.
    const env = baseEnv({ ...pg.env(), BACKUP_DIR: backupDir, RESTORE_DIR: join(dir, 'restore-pass'), BACKUP_DATABASES: 'app', BACKUP_ENCRYPTION: 'true', BACKUP_ENCRYPTION_KEY_FILE: keyFile });
    const b = await runCli(['backup', '--json'], env);
    expect(b.code, b.stderr).toBe(0);
    const pfolder = JSON.parse(b.stdout).folder;
    const manifest = JSON.parse(await readFile(join(backupDir, pfolder, 'manifest.json'), 'utf8'));
    expect(manifest.encryption).toEqual({ format: 'age', mode: 'passphrase' });
    for (const p of await filesUnder(backupDir)) {
      const bytes = await readFile(p);
      expect(bytes.includes(PASSPHRASE), p).toBe(false);
      expect(bytes.includes(MARKER), p).toBe(false);
    }
    // age's CLI reads a passphrase only from a terminal: the library decrypts here instead.
    const d = new Decrypter();
    d.addPassphrase(PASSPHRASE);
    const sql = gunzipSync(await d.decrypt(await readFile(join(backupDir, pfolder, 'postgres_db_app.sql.gz.age')))).toString('utf8');
    expect(sql.split(MARKER)).toHaveLength(601);

    const restore = { RESTORE_SOURCE: 'local', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_from_passphrase' };
    const r = await runCli(['restore'], { ...env, ...restore });
    expect(r.code, r.stderr).toBe(0);
    expect(await tableOf(pg, 'app_from_passphrase')).toBe(original);
    expect(r.stdout + r.stderr + b.stderr).not.toContain(PASSPHRASE);

    const { BACKUP_ENCRYPTION_KEY_FILE: _drop, ...noKey } = env;
    const missing = await runCli(['restore'], { ...noKey, ...restore, RESTORE_TARGET_DATABASE: 'app_nokey' });
    expect(missing.code).toBe(2);
    expect(errorLines(missing)[0]).toMatch(/encrypted with a passphrase and BACKUP_ENCRYPTION_KEY is not set/);
    const wrong = await runCli(['restore'], { ...noKey, ...restore, RESTORE_TARGET_DATABASE: 'app_wrongkey', BACKUP_ENCRYPTION_KEY: 'not-the-passphrase' });
    expect(wrong.code, wrong.stderr).toBe(3);
    expect(errorLines(wrong)).toHaveLength(1);
    expect(wrong.stderr).not.toContain('not-the-passphrase');
    expect((await databases(pg)).filter((n) => /nokey|wrongkey/.test(n))).toEqual([]);
  });

  it('bad encryption settings: exit 2 with one line naming the setting', async () => {
    const env = baseEnv({ ...pg.env(), BACKUP_DIR: join(dir, 'bad') });
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ BACKUP_ENCRYPTION_RECIPIENTS: 'age1notakey' }, /BACKUP_ENCRYPTION_RECIPIENTS holds "age1notakey", not an age X25519 public key; give public keys such as age1/],
      [{ BACKUP_ENCRYPTION_RECIPIENTS: `${pub1 ?? 'age1x'}`, BACKUP_ENCRYPTION: 'true', BACKUP_ENCRYPTION_KEY: PASSPHRASE }, /BACKUP_ENCRYPTION_RECIPIENTS and BACKUP_ENCRYPTION=true are both set/],
      [{ BACKUP_ENCRYPTION: 'true' }, /BACKUP_ENCRYPTION=true needs BACKUP_ENCRYPTION_KEY/],
      [{ BACKUP_ENCRYPTION_RECIPIENTS: join(dir, 'no-such-file') }, /BACKUP_ENCRYPTION_RECIPIENTS is neither age public keys nor a readable file/],
    ];
    for (const [extra, message] of cases) {
      const r = await runCli(['backup'], { ...env, ...extra });
      expect(r.code, r.stderr).toBe(2);
      expect(errorLines(r)).toHaveLength(1);
      expect(errorLines(r)[0]).toMatch(message);
      expect(r.stderr).not.toContain(PASSPHRASE);
    }
    if (key1) {
      const secret = (await readFile(key1, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
      const r = await runCli(['backup'], { ...env, BACKUP_ENCRYPTION_RECIPIENTS: secret });
      expect(r.code).toBe(2);
      expect(errorLines(r)).toHaveLength(1);
      expect(r.stderr).toMatch(/BACKUP_ENCRYPTION_RECIPIENTS holds a private key \(AGE-SECRET-KEY-\.\.\.\), which belongs only where restores run/);
      expect(r.stderr).not.toContain(secret);
    }
  });
});
