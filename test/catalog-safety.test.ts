// Issue 7 on local disk, through the CLI against a real PostgreSQL 15: a symbolic link into an
// archive, a folder dated in the future, hand-edited manifests and a missing BACKUP_DIR. pg-backups
// must keep what it promised to keep, touch nothing outside BACKUP_DIR, never print a stack trace,
// and exit with the code SPEC gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, lstat, mkdir, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli, type CliResult } from './helpers/cli.js';
import { daysAgo } from './helpers/fake-backup.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';
import { snapshot } from './helpers/tree.js';

const APP_FILE = 'postgres_db_app.sql.gz';

/** No stack trace and no internal error anywhere in what the CLI printed. */
function expectNoCrash(r: CliResult): void {
  expect(r.stdout + r.stderr).not.toMatch(/internal error|TypeError|\n\s+at .*\(.*:\d+:\d+\)/);
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => / error /.test(l));

describe('the catalog and retention in a hostile BACKUP_DIR (local disk, PostgreSQL 15)', () => {
  let server: PgServer;
  let work: string;
  let template: string; // a real finished backup made by the CLI

  beforeAll(async () => {
    [server, work] = await Promise.all([startPgServer(15), makeTempDir('pgb-catalog-')]);
    await server.query('CREATE DATABASE app');
    await server.query(`CREATE TABLE "user" (id int primary key, note text); INSERT INTO "user" VALUES (1, 'DROP DATABASE app;'), (2, E'\\\\connect postgres\\nCREATE ROLE x;')`, 'app');
    const r = await runCli(['backup', '--json'], baseEnv({ ...server.env(), BACKUP_DIR: join(work, 'seed') }));
    expect(r.code, r.stderr).toBe(0);
    template = JSON.parse(r.stdout).path;
  });
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A copy of the real backup under another folder name, its manifest naming that folder. */
  async function copyBackup(dir: string, folder: string, edit: (m: Record<string, unknown>) => unknown = (m) => m): Promise<string> {
    const path = join(dir, folder);
    await cp(template, path, { recursive: true });
    const manifest = JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8'));
    await writeFile(join(path, 'manifest.json'), JSON.stringify(edit({ ...manifest, folder }), null, 2));
    return path;
  }

  const env = (extra: Record<string, string>) => baseEnv({ ...server.env(), ...extra });

  it('prune never follows a symbolic link out of BACKUP_DIR; list, verify and restore leave it alone', async () => {
    const archive = join(work, 'archive');
    const dir = join(work, 'symlinked');
    await mkdir(dir, { recursive: true });
    await copyBackup(archive, '20200101_000000');
    await cp(join(template, APP_FILE), join(archive, 'loose-app-file.sql.gz'));
    await symlink(join(archive, '20200101_000000'), join(dir, '20200101_000000'));
    // A real folder whose database file is a link into the archive: not whole, never deleted through.
    const linkedFile = daysAgo(5);
    await copyBackup(dir, linkedFile);
    await rm(join(dir, linkedFile, APP_FILE));
    await symlink(join(archive, 'loose-app-file.sql.gz'), join(dir, linkedFile, APP_FILE));
    const newest = daysAgo(0.5);
    await copyBackup(dir, newest);
    const archiveBefore = await snapshot(archive);
    const e = env({ BACKUP_DIR: dir, LOCAL_RETENTION_DAYS: '1' });

    const pruned = await runCli(['prune', '--json'], e);
    expectNoCrash(pruned);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).results[0].removed).toEqual([]);
    expect(pruned.stderr).toMatch(new RegExp(`left ${linkedFile} alone although it is past retention: it is incomplete \\(${APP_FILE} is a symbolic link, not a file pg-backups wrote\\)`));
    expect(await snapshot(archive)).toEqual(archiveBefore);
    expect((await lstat(join(dir, '20200101_000000'))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(dir, linkedFile, APP_FILE))).isSymbolicLink()).toBe(true);

    const list = await runCli(['list', '--json'], e);
    expectNoCrash(list);
    expect(list.code).toBe(0);
    const backups = JSON.parse(list.stdout).backups as Array<{ folder: string; status: string; problem?: string }>;
    expect(backups.map((b) => [b.folder, b.status])).toEqual([
      [newest, 'finished'],
      [linkedFile, 'incomplete'],
      ['20200101_000000', 'foreign'],
    ]);
    expect(backups[2]!.problem).toMatch(/a symbolic link, not a folder pg-backups wrote; left alone/);
    const text = await runCli(['list'], e);
    expect(text.stdout).toMatch(/20200101_000000\s+not ours\s+-\s+-\s+-\s+local:\S+\s+a symbolic link/);

    const named = await runCli(['verify', '20200101_000000'], e);
    expectNoCrash(named);
    expect(named.code).toBe(2);
    expect(errorLines(named.stderr)).toEqual([expect.stringMatching(/FOLDER 20200101_000000 on local:\S+ is a symbolic link, not a folder pg-backups wrote; left alone; it is not verified$/)]);

    const all = await runCli(['verify', '--all', '--json'], e);
    expectNoCrash(all);
    expect(all.code).toBe(3); // the linked file
    const verified = JSON.parse(all.stdout);
    expect(verified.skipped).toEqual([{ folder: '20200101_000000', source: 'local', reason: expect.stringMatching(/symbolic link/) }]);
    expect(verified.reports.map((r: { folder: string; ok: boolean }) => [r.folder, r.ok])).toEqual([
      [newest, true],
      [linkedFile, false],
    ]);
    const bad = verified.reports[1].files.find((f: { name: string }) => f.name === APP_FILE);
    expect(bad.problem).toMatch(/is a symbolic link, not a file pg-backups wrote; it is not read/);

    const restore = await runCli(['restore'], env({ BACKUP_DIR: dir, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'from_link', RESTORE_FOLDER: '20200101_000000' }));
    expectNoCrash(restore);
    expect(restore.code).toBe(2);
    expect(errorLines(restore.stderr)).toEqual([expect.stringMatching(/RESTORE_FOLDER=20200101_000000 on local \S+ is a symbolic link/)]);
    expect(await server.query(`SELECT 1 FROM pg_database WHERE datname = 'from_link'`)).toEqual([]);
    expect(await snapshot(archive)).toEqual(archiveBefore);
  });

  it('a folder dated in the future: the run keeps what it just wrote, latest ignores the future folder, retention never counts it', async () => {
    const dir = join(work, 'future');
    await mkdir(dir);
    const future = '20990101_000000';
    await copyBackup(dir, future);
    const older = daysAgo(2);
    await copyBackup(dir, older);

    const run = await runCli(['backup', '--json'], env({ BACKUP_DIR: dir, LOCAL_RETENTION_DAYS: '0' }));
    expectNoCrash(run);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    // Retention 0 deletes the older genuine backup (as it should), never the new one, never the 2099 folder.
    expect(result.pruned).toEqual([{ source: 'local', folder: older }]);
    expect((await readdir(dir)).filter((n) => /^\d{8}_\d{6}$/.test(n)).sort()).toEqual([result.folder, future].sort());
    expect(await readdir(join(dir, result.folder))).toContain('manifest.json');
    expect(run.stderr).toMatch(/left 20990101_000000 alone: dated in the future/);

    const list = JSON.parse((await runCli(['list', '--json'], env({ BACKUP_DIR: dir }))).stdout);
    expect(list.backups.map((b: { folder: string; status: string; future: boolean }) => [b.folder, b.status, b.future])).toEqual([
      [future, 'finished', true],
      [result.folder, 'finished', false],
    ]);
    const text = await runCli(['list'], env({ BACKUP_DIR: dir }));
    expect(text.stdout).toMatch(/20990101_000000\s+finished.*dated in the future: never picked as latest/);

    const latest = await runCli(['restore', '--json'], env({ BACKUP_DIR: dir, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_latest' }));
    expectNoCrash(latest);
    expect(latest.code, latest.stderr).toBe(0);
    expect(JSON.parse(latest.stdout).folder).toBe(result.folder);
    expect(latest.stderr).toMatch(/latest: passed over 20990101_000000 on local \S+: dated in the future/);

    const named = await runCli(['restore', '--json'], env({ BACKUP_DIR: dir, RESTORE_FOLDER: future, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_future' }));
    expect(named.code, named.stderr).toBe(0);
    expect(JSON.parse(named.stdout).folder).toBe(future);
    expect(named.stderr).toMatch(/backup 20990101_000000 on local \S+ is dated in the future .*restoring it because RESTORE_FOLDER names it/);
    expect(await server.query(`SELECT count(*)::int AS n FROM "user"`, 'app_future')).toEqual([{ n: 2 }]);

    // prune alone, retention 0, with only the future folder and one genuine backup: the genuine one stays.
    const pruneDir = join(work, 'future-prune');
    await mkdir(pruneDir);
    await copyBackup(pruneDir, future);
    const genuine = daysAgo(3);
    await copyBackup(pruneDir, genuine);
    const pruned = await runCli(['prune', '--json'], env({ BACKUP_DIR: pruneDir, LOCAL_RETENTION_DAYS: '0' }));
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).results[0]).toMatchObject({ removed: [], kept: [future, genuine] });
    expect((await readdir(pruneDir)).sort()).toEqual([future, genuine].sort());
  });

  it('hand-edited manifests: list says damaged, verify --all goes on (exit 3), restore refuses them (exit 3); good backups still verify and restore', async () => {
    const dir = join(work, 'manifests');
    await mkdir(dir);
    const good = daysAgo(3);
    await copyBackup(dir, good);
    // Newer than the good one, so that a naive "latest" would take them.
    const broken: Array<[string, (m: Record<string, unknown>) => unknown, RegExp]> = [
      ['databases null', (m) => ({ ...m, databases: null }), /"databases" \(null\): it must be a list of database names/],
      ['negative size', (m) => ({ ...m, files: (m.files as Array<Record<string, unknown>>).map((f, i) => (i === 0 ? { ...f, bytes: -5 } : f)) }), /impossible size for postgres_cluster\.sql\.gz \(-5\)/],
      ['absurd size', (m) => ({ ...m, files: (m.files as Array<Record<string, unknown>>).map((f, i) => (i === 0 ? { ...f, bytes: 1e17 } : f)) }), /impossible size for postgres_cluster\.sql\.gz \(100000000000000000\)/],
      ['folder of another place', (m) => ({ ...m, folder: '20200101_000000' }), /names the folder 20200101_000000, but it is in \d{8}_\d{6}: it was copied or edited/],
      ['no tool', (m) => ({ ...m, tool: undefined }), /has a wrong "tool" \(missing\)/],
      ['a path as a file name', (m) => ({ ...m, files: [...(m.files as object[]), { name: '../../etc/passwd', kind: 'cluster', bytes: 1, sha256: '0'.repeat(64) }] }), /files\[\d+\]\.name \("\.\.\/\.\.\/etc\/passwd"\): it holds a path separator/],
      ['an array', () => [], /not a JSON object/],
      ['files of null', (m) => ({ ...m, files: [null] }), /files\[0\] \(null\)/],
      ['sha256 a number', (m) => ({ ...m, files: (m.files as Array<Record<string, unknown>>).map((f) => ({ ...f, sha256: 42 })) }), /wrong sha256 for postgres_cluster\.sql\.gz \(42\)/],
    ];
    const folders: string[] = [];
    for (const [i, [, edit]] of broken.entries()) {
      const folder = daysAgo(2 - i * 0.1);
      folders.push(folder);
      await copyBackup(dir, folder, edit);
    }
    const notJson = daysAgo(0.5);
    await copyBackup(dir, notJson);
    await writeFile(join(dir, notJson, 'manifest.json'), '{"format": "pg-backups/1", ');
    const truncated = daysAgo(0.4); // a valid manifest, a file cut short: incomplete
    await copyBackup(dir, truncated);
    await truncate(join(dir, truncated, APP_FILE), 10);
    const e = env({ BACKUP_DIR: dir, LOCAL_RETENTION_DAYS: '1' });

    const list = await runCli(['list', '--json'], e);
    expectNoCrash(list);
    expect(list.code).toBe(0);
    const listed = new Map((JSON.parse(list.stdout).backups as Array<{ folder: string; status: string; problem?: string }>).map((b) => [b.folder, b]));
    expect(listed.get(good)!.status).toBe('finished');
    for (const [i, [label, , problem]] of broken.entries()) {
      expect(listed.get(folders[i]!), label).toMatchObject({ status: 'damaged', problem: expect.stringMatching(problem) });
    }
    expect(listed.get(notJson)).toMatchObject({ status: 'damaged', problem: expect.stringMatching(/manifest\.json is not valid JSON/) });
    expect(listed.get(truncated)).toMatchObject({ status: 'incomplete', problem: `${APP_FILE} has 10 bytes, the manifest says ${(await lstat(join(template, APP_FILE))).size}` });

    for (const json of [false, true]) {
      const all = await runCli(json ? ['verify', '--all', '--json'] : ['verify', '--all'], e);
      expectNoCrash(all);
      expect(all.code).toBe(3);
      if (json) {
        const reports = JSON.parse(all.stdout).reports as Array<{ folder: string; ok: boolean }>;
        expect(reports).toHaveLength(broken.length + 3);
        expect(reports.filter((r) => r.ok).map((r) => r.folder)).toEqual([good]);
      } else {
        expect(all.stdout).toMatch(new RegExp(`${good} on local: good`));
        for (const folder of [...folders, notJson, truncated]) expect(all.stdout).toMatch(new RegExp(`${folder} on local: DAMAGED: `));
      }
    }
    const latestVerify = await runCli(['verify'], e);
    expect(latestVerify.code).toBe(3); // the newest folder is the truncated one: verify says so
    expect(latestVerify.stdout).toMatch(new RegExp(`${truncated} on local: DAMAGED: ${APP_FILE}: it has 10 bytes`));

    for (const folder of [folders[0]!, folders[3]!, notJson]) {
      const r = await runCli(['restore', '--json'], env({ BACKUP_DIR: dir, RESTORE_FOLDER: folder, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'never_made' }));
      expectNoCrash(r);
      expect(r.code).toBe(3);
      expect(errorLines(r.stderr)).toHaveLength(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 3, error: expect.stringMatching(new RegExp(`^backup ${folder} on local \\S+ is damaged: .*; refusing to restore from it$`)) });
    }
    const truncatedRestore = await runCli(['restore'], env({ BACKUP_DIR: dir, RESTORE_FOLDER: truncated, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'never_made' }));
    expect(truncatedRestore.code).toBe(3);
    expect(await server.query(`SELECT 1 FROM pg_database WHERE datname = 'never_made'`)).toEqual([]);

    const latest = await runCli(['restore', '--json'], env({ BACKUP_DIR: dir, RESTORE_TYPE: 'database', RESTORE_DATABASE: 'app', RESTORE_TARGET_DATABASE: 'app_good' }));
    expectNoCrash(latest);
    expect(latest.code, latest.stderr).toBe(0);
    expect(JSON.parse(latest.stdout).folder).toBe(good);
    expect(latest.stderr).toMatch(new RegExp(`latest: passed over ${truncated} on local \\S+: it is incomplete`));
    expect(await server.query(`SELECT note FROM "user" ORDER BY id`, 'app_good')).toEqual([{ note: 'DROP DATABASE app;' }, { note: '\\connect postgres\nCREATE ROLE x;' }]);

    // Retention: nothing but whole backups is ever deleted; the damaged ones are named for a person to look at.
    const before = await snapshot(dir);
    const pruned = await runCli(['prune', '--json'], e);
    expectNoCrash(pruned);
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout).results[0].removed).toEqual([]); // the good one is the newest whole backup
    expect(await snapshot(dir)).toEqual(before);
    expect(pruned.stderr).toMatch(new RegExp(`left ${folders[0]} alone although it is past retention: it is damaged`));
  });

  it('list, verify and prune say that BACKUP_DIR does not exist (exit 2), instead of "no backups found"', async () => {
    const missing = join(work, 'no-such-dir');
    for (const args of [['list'], ['verify'], ['verify', '--all'], ['prune'], ['list', '--source', 'local']]) {
      const r = await runCli(args, env({ BACKUP_DIR: missing }));
      expectNoCrash(r);
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorLines(r.stderr)).toEqual([expect.stringContaining(`BACKUP_DIR ${missing} does not exist; point BACKUP_DIR at the folder that holds the backups`)]);
      expect(r.stdout).not.toMatch(/no backups found/);
    }
    const restore = await runCli(['restore'], env({ BACKUP_DIR: missing, RESTORE_TYPE: 'globals' }));
    expect(restore.code).toBe(2);
    expect(restore.stderr).toMatch(/BACKUP_DIR \S+ does not exist/);
  });
});
