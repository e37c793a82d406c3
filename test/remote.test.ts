// The remote-host destination against a real OpenSSH server and rsync on 127.0.0.1 (no mocks):
// pushes land byte-identical and appear only when whole; host keys are checked; failures are one
// clear line; retention deletes exactly the expired backups' files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { AbortedError, ExternalError, VerificationError } from '../src/core/errors.js';
import type { Manifest } from '../src/core/backup/manifest.js';
import { pruneSource } from '../src/core/prune.js';
import { readRemote } from '../src/core/settings/destinations.js';
import { RemoteDestination, partialFolderName } from '../src/sources/remote.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { freePort, makeTempDir } from './helpers/tmp.js';
import { rejection } from './helpers/rejection.js';

const exec = promisify(execFile);
const DAY = 24 * 3600 * 1000;
const nameAt = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function folderHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await sha256File(join(dir, name));
  return out;
}


describe('remote destination (rsync over SSH, SFTP)', () => {
  let sshd: SshServer;
  let server: PgServer;
  let dir: string;
  let localBackup: string; // a real finished backup folder made by the CLI
  let manifest: Manifest;

  beforeAll(async () => {
    const started = Date.now();
    [sshd, server, dir] = await Promise.all([startSshd(), startPgServer(15), makeTempDir('pgb-remote-')]);
    const r = await runCli(['backup', '--json'], baseEnv({ ...server.env(), BACKUP_DIR: join(dir, 'local') }));
    expect(r.code, r.stderr).toBe(0);
    localBackup = JSON.parse(r.stdout).path;
    manifest = JSON.parse(await readFile(join(localBackup, 'manifest.json'), 'utf8'));
    console.log(`setup (sshd + PostgreSQL 15 + one backup): ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    await Promise.all([sshd?.stop(), server?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function destination(path: string, extra: Record<string, string> = {}): RemoteDestination {
    const settings = readRemote({ env: { ...sshd.rsyncEnv(path), RETRY_ATTEMPTS: '1', RETRY_DELAY: '0.05', ...extra }, flags: {} });
    return new RemoteDestination(settings!);
  }

  /** No folder under `path` looks like a finished backup (named YYYYMMDD_HHMMSS). */
  async function finishedLooking(path: string): Promise<string[]> {
    if (!existsSync(path)) return [];
    return (await readdir(path)).filter((n) => /^\d{8}_\d{6}$/.test(n));
  }

  it('push lands byte-identical, appears only when whole, lists as finished, streams back', async () => {
    const path = join(sshd.remoteRoot, 'plain', 'nested'); // missing: created
    const dest = destination(path);
    expect(dest.location).toBe(`root@127.0.0.1:${sshd.port}:${path}`);
    const progress: string[] = [];
    let t = Date.now();
    await dest.push(localBackup, manifest, { onProgress: (p) => progress.push(p.file) });
    console.log(`push of ${manifest.files.length + 1} files: ${Date.now() - t} ms`);

    expect(await readdir(path)).toEqual([manifest.folder]); // no partial left
    expect(await folderHashes(join(path, manifest.folder))).toEqual(await folderHashes(localBackup));
    expect(progress.sort()).toEqual([...manifest.files.map((f) => f.name), 'manifest.json'].sort());

    t = Date.now();
    const list = await dest.list();
    console.log(`list: ${Date.now() - t} ms`);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ folder: manifest.folder, status: 'finished' });
    expect(list[0]!.manifest?.files.map((f) => f.sha256)).toEqual(manifest.files.map((f) => f.sha256));
    const localSizes = Object.fromEntries(await Promise.all((await readdir(localBackup)).map(async (n) => [n, (await stat(join(localBackup, n))).size])));
    expect(Object.fromEntries(list[0]!.files.map((f) => [f.name, f.bytes]))).toEqual(localSizes);

    // openFile: the exact bytes, and they gunzip to SQL.
    for (const file of manifest.files) {
      const hash = createHash('sha256');
      await pipeline(await dest.openFile(manifest.folder, file.name), hash);
      expect(hash.digest('hex'), file.name).toBe(file.sha256);
    }
    let sql = '';
    const gunzip = createGunzip();
    gunzip.on('data', (d: Buffer) => (sql += d.toString('utf8')));
    await pipeline(await dest.openFile(manifest.folder, 'postgres_globals.sql.gz'), gunzip);
    expect(sql).toContain('CREATE ROLE');

    // A stream destroyed early closes its connection too (the test would hang otherwise).
    const early = await dest.openFile(manifest.folder, 'postgres_cluster.sql.gz');
    early.destroy();

    const missing = await rejection(dest.openFile(manifest.folder, 'postgres_db_nope.sql.gz'));
    expect(missing).toBeInstanceOf(VerificationError);
    expect(missing.message).toBe(`remote ${dest.location}: ${path}/${manifest.folder}/postgres_db_nope.sql.gz is missing`);

    // The same backup again: already there, nothing changes. Another backup under its name: refused.
    await dest.push(localBackup, manifest, {});
    const remoteManifest = join(path, manifest.folder, 'manifest.json');
    const original = await readFile(remoteManifest);
    await writeFile(remoteManifest, JSON.stringify({ ...manifest, finishedAt: 'another run' }));
    const other = await rejection(dest.push(localBackup, manifest, {}));
    await writeFile(remoteManifest, original);
    expect(other.message).toMatch(/already exists and holds another backup; not replacing it$/);
  });

  it('a RSYNC_PATH with spaces works, with a hashed known_hosts file and key paths with spaces', async () => {
    const path = join(sshd.remoteRoot, 'with space', "it's $HOME (really)");
    // Key and known_hosts in a folder whose name ssh would otherwise split or expand (space, %).
    const odd = join(dir, 'ssh files %d');
    await mkdir(odd);
    await cp(sshd.keyPath, join(odd, 'my key'));
    await cp(sshd.hashedKnownHostsPath, join(odd, 'known hosts'));
    const dest = destination(path, { RSYNC_KNOWN_HOSTS: join(odd, 'known hosts'), RSYNC_SSH_KEY: join(odd, 'my key') });
    await dest.push(localBackup, manifest, {});
    expect(await folderHashes(join(path, manifest.folder))).toEqual(await folderHashes(localBackup));
    expect((await dest.list()).map((e) => [e.folder, e.status])).toEqual([[manifest.folder, 'finished']]);
  });

  it('a wrong SSH key is refused with a message naming RSYNC_SSH_KEY, nothing written', async () => {
    const [stranger] = await sshd.makeKey('stranger');
    const path = join(sshd.remoteRoot, 'wrong-key');
    const dest = destination(path, { RSYNC_SSH_KEY: stranger, RETRY_ATTEMPTS: '3' });
    const t = Date.now();
    const err = await rejection(dest.push(localBackup, manifest, {}));
    console.log(`wrong key refused in ${Date.now() - t} ms: ${err.message}`);
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.message).toContain(`remote ${dest.location}: RSYNC_SSH_KEY ${stranger} was refused by root@127.0.0.1:${sshd.port}`);
    expect(err.message).not.toContain('gave up'); // not retried
    expect(err.message).not.toMatch(/PRIVATE KEY|AAAA/);
    expect(existsSync(path)).toBe(false);
    expect((await rejection(dest.list())).message).toContain('was refused by');

    const missingKey = await rejection(destination(path, { RSYNC_SSH_KEY: join(dir, 'no-such-key') }).push(localBackup, manifest, {}));
    expect(missingKey.message).toMatch(/RSYNC_SSH_KEY: .*no-such-key does not exist/);
  });

  it('an unknown host key is refused with instructions; a changed one louder; nothing written', async () => {
    const { stdout } = await exec('ssh-keygen', ['-lf', join(sshd.dir, 'hostkey.pub')]);
    const fingerprint = stdout.split(/\s+/)[1]!;
    expect(fingerprint).toMatch(/^SHA256:/);
    const [, otherPub] = await sshd.makeKey('other-host');
    const otherKey = otherPub.split(' ').slice(0, 2).join(' ');

    const unknownFile = join(dir, 'known_hosts_unknown');
    await writeFile(unknownFile, `# other hosts only\nbackup.example.com ${sshd.hostPublicKey}\n127.0.0.1 ${sshd.hostPublicKey}\n[127.0.0.1]:1 ${otherKey}\n`);
    const path = join(sshd.remoteRoot, 'unknown-host');
    for (const file of [unknownFile, join(dir, 'no-known-hosts-file')]) {
      const dest = destination(path, { RSYNC_KNOWN_HOSTS: file, RETRY_ATTEMPTS: '3' });
      const err = await rejection(dest.push(localBackup, manifest, {}));
      expect(err).toBeInstanceOf(ExternalError);
      expect(err.message).toBe(
        `remote ${dest.location}: host key of 127.0.0.1:${sshd.port} not found in ${file} (RSYNC_KNOWN_HOSTS); the server offers the ssh-ed25519 key ${fingerprint}. ` +
          `Check that fingerprint with the server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server) and add it with: ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${file}`,
      );
      expect((await rejection(dest.list())).message).toContain('not found in');
    }

    const changedFile = join(dir, 'known_hosts_changed');
    await writeFile(changedFile, `[127.0.0.1]:${sshd.port} ${otherKey}\n`);
    const changed = destination(path, { RSYNC_KNOWN_HOSTS: changedFile });
    const err = await rejection(changed.push(localBackup, manifest, {}));
    console.log(err.message);
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.message).toContain(`HOST KEY OF 127.0.0.1:${sshd.port} HAS CHANGED: the server offers the ssh-ed25519 key ${fingerprint}`);
    expect(err.message).toContain('Someone may be intercepting the connection');
    expect(err.message).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${changedFile}`);
    expect(existsSync(path)).toBe(false);

    // The same key for the host under a wildcard pattern is accepted (and revoked is refused).
    const wildcard = join(dir, 'known_hosts_wildcard');
    await writeFile(wildcard, `[127.0.0.*]:${sshd.port},!10.0.0.1 ${sshd.hostPublicKey}\n`);
    expect(await destination(path, { RSYNC_KNOWN_HOSTS: wildcard }).list()).toEqual([]);
    const revoked = join(dir, 'known_hosts_revoked');
    await writeFile(revoked, `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n@revoked * ${sshd.hostPublicKey}\n`);
    expect((await rejection(destination(path, { RSYNC_KNOWN_HOSTS: revoked }).list())).message).toMatch(/is marked @revoked/);
  });

  it('an unreachable host fails after the retries, naming RSYNC_HOST and RSYNC_PORT', async () => {
    const port = await freePort(); // nothing listens there
    const path = join(sshd.remoteRoot, 'unreachable');
    const dest = destination(path, { RSYNC_PORT: String(port), RETRY_ATTEMPTS: '2', RETRY_DELAY: '0.05' });
    const retries: string[] = [];
    const t = Date.now();
    const err = await rejection(dest.push(localBackup, manifest, { onRetry: (m) => retries.push(m) }));
    console.log(`unreachable: ${Date.now() - t} ms: ${err.message}`);
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.message).toBe(
      `remote root@127.0.0.1:${port}:${path}: cannot reach 127.0.0.1:${port} (connection refused); check RSYNC_HOST and RSYNC_PORT (gave up after 3 tries)`,
    );
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatch(/try 1 of 3 failed, trying again in 0\.1 s$/);
  });

  it('a push stopped half-way leaves nothing that looks finished, and no partial folder', async () => {
    // A bigger backup: the real files plus 300 MB of incompressible data.
    const big = join(dir, 'big');
    await cp(localBackup, big, { recursive: true });
    const bigFile = 'postgres_db_big.sql.gz';
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const c = randomBytes(1024 * 1024);
      hash.update(c);
      chunks.push(c);
    }
    await writeFile(join(big, bigFile), Buffer.concat(chunks));
    const folder = nameAt(Date.now() - 3600_000);
    const bigManifest: Manifest = {
      ...manifest,
      folder,
      files: [...manifest.files, { name: bigFile, kind: 'database', database: 'big', bytes: 300 * 1024 * 1024, sha256: hash.digest('hex') }],
    };
    await writeFile(join(big, 'manifest.json'), JSON.stringify(bigManifest, null, 2));

    const path = join(sshd.remoteRoot, 'stopped');
    const dest = destination(path);
    const controller = new AbortController();
    const partial = join(path, partialFolderName(folder));
    const watcher = (async () => {
      while (!controller.signal.aborted) {
        if (existsSync(join(partial, bigFile)) || (existsSync(partial) && (await readdir(partial)).some((n) => n.includes(bigFile)))) {
          controller.abort();
          return Date.now();
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      return Date.now();
    })();
    const t = Date.now();
    const err = await rejection(dest.push(big, bigManifest, { signal: controller.signal }));
    const abortedAt = await watcher;
    console.log(`stopped push: aborted after ${abortedAt - t} ms, push returned ${Date.now() - abortedAt} ms later: ${err.message}`);
    expect(err).toBeInstanceOf(AbortedError);
    expect(await finishedLooking(path)).toEqual([]);
    expect(await readdir(path)).toEqual([]); // the partial folder was removed too
    expect(await dest.list()).toEqual([]);

    // The next push of the same backup goes through.
    await dest.push(big, bigManifest, {});
    expect(await readdir(path)).toEqual([folder]);
    expect(await sha256File(join(path, folder, bigFile))).toBe(bigManifest.files.at(-1)!.sha256);
    await rm(big, { recursive: true });
  });

  it('a push that cannot create RSYNC_PATH names the step; stale partial folders go at the next push', async () => {
    const blocker = join(sshd.remoteRoot, 'a-file');
    await writeFile(blocker, 'not a folder');
    const dest = destination(join(blocker, 'backups'));
    const err = await rejection(dest.push(localBackup, manifest, {}));
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.message).toBe(`remote ${dest.location}: cannot create RSYNC_PATH ${blocker}/backups: ${blocker} exists and is not a directory`);

    // rsync itself failing (its partial folder is blocked by a file): its own message, the step named.
    const blockedPath = join(sshd.remoteRoot, 'blocked');
    await mkdir(blockedPath);
    await writeFile(join(blockedPath, partialFolderName(manifest.folder)), 'in the way');
    const blocked = destination(blockedPath, { RETRY_ATTEMPTS: '3' });
    const rsyncErr = await rejection(blocked.push(localBackup, manifest, {}));
    console.log(rsyncErr.message);
    expect(rsyncErr).toBeInstanceOf(ExternalError);
    expect(rsyncErr.message).toMatch(new RegExp(`^remote ${blocked.location.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: rsync of ${manifest.folder} failed \\(exit code \\d+\\): .*rsync`));
    expect(await finishedLooking(blockedPath)).toEqual([]);

    const path = join(sshd.remoteRoot, 'stale');
    const stale = join(path, partialFolderName('20200101_000000'));
    const fresh = join(path, partialFolderName('20200102_000000'));
    await mkdir(stale, { recursive: true });
    await mkdir(fresh, { recursive: true });
    await writeFile(join(stale, 'postgres_cluster.sql.gz'), 'half');
    await writeFile(join(fresh, 'postgres_cluster.sql.gz'), 'in progress elsewhere');
    const old = new Date(Date.now() - DAY);
    await utimes(join(stale, 'postgres_cluster.sql.gz'), old, old);
    await utimes(stale, old, old);
    await writeFile(join(path, 'foreign.txt'), 'not ours');
    await destination(path).push(localBackup, manifest, {});
    expect((await readdir(path)).sort()).toEqual([partialFolderName('20200102_000000'), manifest.folder, 'foreign.txt'].sort());
  });

  it('retention deletes exactly the expired finished backups; never the newest, foreign files or legacy folders', async () => {
    const path = join(sshd.remoteRoot, 'retention');
    await mkdir(path);
    const place = async (daysAgo: number) => {
      const folder = nameAt(Date.now() - daysAgo * DAY);
      await cp(localBackup, join(path, folder), { recursive: true });
      await writeFile(join(path, folder, 'manifest.json'), JSON.stringify({ ...manifest, folder }));
      return folder;
    };
    const expired1 = await place(10);
    const expired2 = await place(3);
    const withForeign = await place(5);
    await writeFile(join(path, withForeign, 'operator-notes.txt'), 'keep me');
    const kept = await place(1);
    const legacy = nameAt(Date.now() - 40 * DAY);
    await mkdir(join(path, legacy));
    await cp(join(localBackup, 'postgres_cluster.sql.gz'), join(path, legacy, 'postgres_cluster.sql.gz'));
    const damaged = nameAt(Date.now() - 20 * DAY);
    await mkdir(join(path, damaged));
    await writeFile(join(path, damaged, 'manifest.json'), '{not json');
    await writeFile(join(path, 'README.txt'), 'not ours');
    await mkdir(join(path, 'other-tool'));
    const oldPartial = partialFolderName(nameAt(Date.now() - 30 * DAY));
    await mkdir(join(path, oldPartial));

    const dest = destination(path);
    const listed = await dest.list();
    expect(listed.map((e) => [e.folder, e.status])).toEqual([
      [kept, 'finished'],
      [expired2, 'finished'],
      [withForeign, 'finished'],
      [expired1, 'finished'],
      [damaged, 'damaged'],
      [legacy, 'legacy'],
    ]);
    expect(listed.find((e) => e.status === 'damaged')?.problem).toMatch(/not valid JSON/);

    const t = Date.now();
    const result = await pruneSource(dest, 2);
    console.log(`prune of 3 backups: ${Date.now() - t} ms`);
    expect(result.removed.map((e) => e.folder).sort()).toEqual([expired1, expired2, withForeign].sort());
    expect((await readdir(path)).sort()).toEqual(
      [kept, withForeign, legacy, damaged, 'README.txt', 'other-tool', oldPartial].sort(),
    );
    expect(await readdir(join(path, withForeign))).toEqual(['operator-notes.txt']);
    expect(await readdir(join(path, legacy))).toEqual(['postgres_cluster.sql.gz']);
    expect(await folderHashes(join(path, kept))).toEqual(
      Object.fromEntries(Object.entries(await folderHashes(localBackup)).filter(([n]) => n !== 'manifest.json').concat([['manifest.json', await sha256File(join(path, kept, 'manifest.json'))]])),
    );

    // The newest is kept however old it is.
    const onlyOld = join(sshd.remoteRoot, 'retention-newest');
    await mkdir(onlyOld);
    const p = async (daysAgo: number) => {
      const folder = nameAt(Date.now() - daysAgo * DAY);
      await cp(localBackup, join(onlyOld, folder), { recursive: true });
      await writeFile(join(onlyOld, folder, 'manifest.json'), JSON.stringify({ ...manifest, folder }));
      return folder;
    };
    const older = await p(30);
    const newest = await p(20);
    const r2 = await pruneSource(destination(onlyOld), 1);
    expect(r2.removed.map((e) => e.folder)).toEqual([older]);
    expect(await readdir(onlyOld)).toEqual([newest]);
  });
});
