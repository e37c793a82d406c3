// Local retention: exactly the expired finished backups go; the newest finished backup and
// anything pg-backups did not write stay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';
import { writeFakeBackup } from './helpers/fake-backup.js';

const DAY = 24 * 3600 * 1000;
const nameAt = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

describe('LOCAL_RETENTION_DAYS', () => {
  let server: PgServer;
  let template: string; // a real finished backup folder to copy under older names
  let dir: string;

  beforeAll(async () => {
    server = await startPgServer(15);
    dir = await makeTempDir('retention-');
    const first = join(dir, 'first');
    const r = await runCli(['backup', '--json'], baseEnv({ ...server.env(), BACKUP_DIR: first }));
    expect(r.code).toBe(0);
    template = JSON.parse(r.stdout).path;
  });
  afterAll(async () => server?.stop());

  /** A copy of the real backup under the name of a backup taken `daysAgo` days ago. */
  async function oldBackup(backupDir: string, daysAgo: number): Promise<string> {
    const folder = nameAt(Date.now() - daysAgo * DAY);
    await cp(template, join(backupDir, folder), { recursive: true });
    const manifestPath = join(backupDir, folder, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    await writeFile(manifestPath, JSON.stringify({ ...manifest, folder }));
    return folder;
  }

  it('a backup run deletes expired backups, never the newest, never foreign or legacy files', async () => {
    const backupDir = join(dir, 'run');
    await mkdir(backupDir);
    const expired1 = await oldBackup(backupDir, 10);
    const expired2 = await oldBackup(backupDir, 3);
    const withForeign = await oldBackup(backupDir, 5);
    await writeFile(join(backupDir, withForeign, 'operator-notes.txt'), 'keep me');
    const legacy = nameAt(Date.now() - 40 * DAY);
    await mkdir(join(backupDir, legacy));
    await cp(join(template, 'postgres_cluster.sql.gz'), join(backupDir, legacy, 'postgres_cluster.sql.gz'));
    await writeFile(join(backupDir, 'README.txt'), 'not ours');
    await mkdir(join(backupDir, 'other-tool'));

    const r = await runCli(['backup', '--json'], baseEnv({ ...server.env(), BACKUP_DIR: backupDir, LOCAL_RETENTION_DAYS: '2' }));
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.pruned.map((p: { source: string; folder: string }) => `${p.source}:${p.folder}`).sort()).toEqual([expired1, expired2, withForeign].map((f) => `local:${f}`).sort());
    const left = (await readdir(backupDir)).sort();
    expect(left).toEqual([result.folder, legacy, withForeign, 'README.txt', 'other-tool', '.pg-backups-state.json'].sort()); // the run history is never pruned
    expect(await readdir(join(backupDir, withForeign))).toEqual(['operator-notes.txt']); // only our files went
    expect(await readdir(join(backupDir, legacy))).toEqual(['postgres_cluster.sql.gz']);
  });

  it('prune never deletes the newest finished backup, however old; --dry-run deletes nothing', async () => {
    const backupDir = join(dir, 'prune');
    await mkdir(backupDir);
    const older = await oldBackup(backupDir, 30);
    const newest = await oldBackup(backupDir, 20);
    const env = baseEnv({ BACKUP_DIR: backupDir, LOCAL_RETENTION_DAYS: '1' });

    const dry = await runCli(['prune', '--dry-run', '--json'], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).results[0]).toMatchObject({ source: 'local', dryRun: true, removed: [older], kept: [newest] });
    expect((await readdir(backupDir)).sort()).toEqual([newest, older].sort());

    const real = await runCli(['prune'], env);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(new RegExp(`deleted 1 backup\\(s\\): ${older}; kept 1`));
    expect(await readdir(backupDir)).toEqual([newest]);

    const again = await runCli(['prune', '--local-retention-days', '0'], env);
    expect(again.code).toBe(0);
    expect(await readdir(backupDir)).toEqual([newest]);
  });
});

describe('local retention with remote destinations', () => {
  it('keeps an expired local backup that a destination should hold and does not', async () => {
    const { LocalSource } = await import('../src/sources/local.js');
    const { pruneSource } = await import('../src/core/prune.js');
    const root = await makeTempDir('shipped-');
    const make = (dir: string, folder: string) => writeFakeBackup(dir, folder);
    const localDir = join(root, 'local');
    const remoteDir = join(root, 'remote');
    const now = Date.now();
    const [newest, shipped, neverShipped, tooOld] = [0.1, 4, 3, 10].map((d) => nameAt(now - d * DAY));
    for (const f of [newest!, shipped!, neverShipped!, tooOld!]) await make(localDir, f);
    for (const f of [newest!, shipped!]) await make(remoteDir, f);
    // The "remote" destination keeps 7 days: it should hold neverShipped (3 days old) but does not.
    const destination = Object.assign(new LocalSource(remoteDir), { retentionDays: 7, push: async () => {} });
    const result = await pruneSource(new LocalSource(localDir), 1, { shippedTo: [destination] });
    expect(result.removed.map((e) => e.folder).sort()).toEqual([shipped, tooOld].sort());
    expect(result.protected.map((e) => e.folder)).toEqual([neverShipped]);
    expect(result.warnings[0]).toMatch(new RegExp(`kept expired local backups ${neverShipped}: an enabled destination should hold them and does not`));
    expect((await readdir(localDir)).sort()).toEqual([newest, neverShipped].sort());
  });
});
