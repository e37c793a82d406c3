// `pg-backups drill`: a good backup passes and leaves no scratch database; a backup altered to drop
// rows (valid gzip, manifest checksum fixed) reports the table and the difference with exit 3; a
// SIGTERM in the middle of a restore leaves nothing behind, and a later drill clears a marked
// leftover (never an unmarked one); a drill onto a separate DRILL_TARGET of a newer major passes.
import { readDrills, readHistory } from '../src/core/history/state-file.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { baseEnv, runCli, startCli } from './helpers/cli.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';
import { ROW_FIXTURE_SQL, tableCounts } from './helpers/row-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function drillDatabases(server: PgServer): Promise<string[]> {
  const rows = await server.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgb\\_drill\\_%' ORDER BY 1`);
  return rows.map((r) => r.datname);
}

describe('pg-backups drill', () => {
  let server: PgServer;
  let target17: PgServer;
  let dir: string;
  let good: { backupDir: string; folder: string; manifest: any };
  const env = (extra: Record<string, string> = {}) => baseEnv({ ...server.env(), ...extra });

  beforeAll(async () => {
    [server, target17] = await Promise.all([startPgServer(15), startPgServer(17)]);
    dir = await makeTempDir('drill-');
    await server.query('CREATE DATABASE app');
    await server.query(ROW_FIXTURE_SQL, 'app');
    await server.query('CREATE DATABASE shop');
    await server.query('CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 500) g', 'shop');
    const backupDir = join(dir, 'good');
    const b = await runCli(['backup', '--json'], env({ BACKUP_DIR: backupDir, BACKUP_DATABASES: 'app,shop' }));
    expect(b.code, b.stderr).toBe(0);
    const { folder, manifest } = JSON.parse(b.stdout);
    good = { backupDir, folder, manifest };
  });
  afterAll(async () => Promise.all([server?.stop(), target17?.stop()]));

  it('a good backup passes: every table checked, the JSON report, no scratch database left', async () => {
    const r = await runCli(['drill', '--json'], env({ BACKUP_DIR: good.backupDir }));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, exitCode: 0, folder: good.folder, source: `local:${good.backupDir}`, leftoversDropped: [] });
    expect(report.targetVersion).toMatch(/^15\./);
    expect(report.databases.map((d: any) => d.database)).toEqual(['app', 'shop']);
    const expected = await tableCounts(server, 'app');
    for (const d of report.databases) {
      const file = good.manifest.files.find((f: any) => f.database === d.database);
      expect(d).toMatchObject({ outcome: 'passed', counts: 'checked', differences: [], bytes: file.bytes, tablesChecked: file.rows.length });
      expect(d.scratch).toMatch(/^pgb_drill_[0-9a-f]{16}$/);
      expect(d.restoreSeconds).toBeGreaterThan(0);
    }
    expect(report.databases[0].tablesChecked).toBe(expected.size);
    expect(await drillDatabases(server)).toEqual([]);
    expect(r.stderr).toMatch(/dropped the scratch database/);
    // Recorded in BACKUP_DIR's run history, beside the backup runs.
    const drills = await readDrills(good.backupDir);
    expect(drills.at(-1)).toMatchObject({ trigger: 'drill', outcome: 'passed', folder: good.folder, databases: 2, tablesChecked: report.databases[0].tablesChecked + report.databases[1].tablesChecked, differences: 0 });
    expect(await readHistory(good.backupDir)).not.toHaveLength(0);
    const healthy = await runCli(['healthcheck'], env({ BACKUP_DIR: good.backupDir, DRILL_MAX_AGE: '1h' }));
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    expect(healthy.stdout).toMatch(/the newest drill passed \d+s ago \(DRILL_MAX_AGE 1h 0s\)|the newest drill passed \d+s ago \(DRILL_MAX_AGE 1h\)/);
    const status = await runCli(['status'], env({ BACKUP_DIR: good.backupDir }));
    expect(status.stdout).toMatch(/last drill: passed \(started .*, backup \d{8}_\d{6}: 2 database\(s\), \d+ table\(s\) checked\)/);
  });

  it('a backup altered to drop rows: the table and the difference, exit 3, nothing left', async () => {
    const backupDir = join(dir, 'altered');
    await cp(good.backupDir, backupDir, { recursive: true });
    const folder = join(backupDir, good.folder);
    const sql = gunzipSync(await readFile(join(folder, 'postgres_db_shop.sql.gz'))).toString('utf8');
    const lines = sql.split('\n');
    const at = lines.findIndex((l) => l.startsWith('COPY public.orders '));
    expect(at).toBeGreaterThan(0);
    lines.splice(at + 1, 7); // seven rows gone
    const altered = gzipSync(Buffer.from(lines.join('\n'), 'utf8'));
    await writeFile(join(folder, 'postgres_db_shop.sql.gz'), altered);
    const manifestPath = join(folder, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    const entry = manifest.files.find((f: any) => f.name === 'postgres_db_shop.sql.gz');
    Object.assign(entry, { bytes: altered.length, sha256: createHash('sha256').update(altered).digest('hex'), rawBytes: Buffer.byteLength(lines.join('\n')) });
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    expect((await runCli(['verify', good.folder], env({ BACKUP_DIR: backupDir }))).code).toBe(0); // the files look whole

    const r = await runCli(['drill', '--json'], env({ BACKUP_DIR: backupDir, DRILL_DATABASES: 'shop' }));
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.databases).toHaveLength(1);
    expect(report.databases[0]).toMatchObject({
      database: 'shop',
      outcome: 'differences',
      tablesChecked: 1,
      differences: [{ schema: 'public', table: 'orders', expected: 500, found: 493 }],
    });
    expect(r.stderr).toMatch(/"public\.orders": the backup recorded 500 rows, the restored table has 493/);
    // With drills judged (DRILL_MAX_AGE), the health fails on the differing drill, naming it.
    const health = await runCli(['healthcheck'], env({ BACKUP_DIR: backupDir, DRILL_MAX_AGE: '1h' }));
    expect(health.code, health.stdout + health.stderr).toBe(1);
    expect(health.stdout + health.stderr).toMatch(/the last drill \(started .*\) found row counts that differ: "shop" public\.orders: recorded 500, found 493/);
    const unjudged = await runCli(['healthcheck'], env({ BACKUP_DIR: backupDir }));
    expect(unjudged.code, unjudged.stdout + unjudged.stderr).toBe(0);
    expect(await drillDatabases(server)).toEqual([]);
  });

  it('SIGTERM in the middle of a restore leaves no scratch database; a later drill drops a marked leftover only', async () => {
    await server.query('CREATE DATABASE big');
    await server.query(`CREATE TABLE events AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b, now() AS at FROM generate_series(1, 400000) g;
                        CREATE INDEX ON events (a); CREATE INDEX ON events (b)`, 'big');
    const backupDir = join(dir, 'big');
    const b = await runCli(['backup'], env({ BACKUP_DIR: backupDir, BACKUP_DATABASES: 'big' }));
    expect(b.code, b.stderr).toBe(0);

    const child = startCli(['drill', '--json'], env({ BACKUP_DIR: backupDir }));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    // In the middle: the restore's staging database exists and is being filled.
    for (let i = 0; i < 600 && (await drillDatabases(server)).length === 0; i++) await sleep(100);
    expect(await drillDatabases(server)).not.toEqual([]);
    await sleep(300);
    child.kill('SIGTERM');
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/SIGTERM received/);
    expect(await drillDatabases(server)).toEqual([]);

    // Leftovers of a killed drill: one marked as the drill marks them, one not.
    const marked = 'pgb_drill_0123456789abcdef';
    const unmarked = 'pgb_drill_fedcba9876543210';
    await server.query(`CREATE DATABASE ${marked}`);
    await server.query(`ALTER DATABASE ${marked} SET application_name = 'pg-backups drill ${marked}'`);
    await server.query(`CREATE DATABASE ${unmarked}`);
    const r = await runCli(['drill', '--json'], env({ BACKUP_DIR: good.backupDir, DRILL_DATABASES: 'shop' }));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).leftoversDropped).toEqual([marked]);
    expect(r.stderr).toMatch(new RegExp(`left "${unmarked}" alone`));
    expect(await drillDatabases(server)).toEqual([unmarked]);
    await server.query(`DROP DATABASE ${unmarked}`);
  });

  it('onto a separate DRILL_TARGET server of a newer major (17)', async () => {
    const url = `postgresql://postgres:${encodeURIComponent(target17.password)}@127.0.0.1:${target17.port}/postgres`;
    const r = await runCli(['drill', '--json'], env({ BACKUP_DIR: good.backupDir, DRILL_TARGET: url }));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.targetVersion).toMatch(/^17\./);
    expect(report.target).not.toContain(target17.password);
    expect(r.stdout + r.stderr).not.toContain(target17.password);
    expect(report.databases.map((d: any) => d.outcome)).toEqual(['passed', 'passed']);
    expect(await drillDatabases(target17)).toEqual([]);
    expect(await drillDatabases(server)).toEqual([]);
  });

  it('a custom-format backup: its counts (read from the archive) are checked; a backup without counts: "not recorded", exit 0', async () => {
    const backupDir = join(dir, 'custom');
    const b = await runCli(['backup'], env({ BACKUP_DIR: backupDir, BACKUP_FORMAT: 'custom', BACKUP_DATABASES: 'shop' }));
    expect(b.code, b.stderr).toBe(0);
    const r = await runCli(['drill', '--json'], env({ BACKUP_DIR: backupDir }));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).databases).toMatchObject([{ database: 'shop', outcome: 'passed', counts: 'checked', tablesChecked: 1, differences: [] }]);
    // A manifest without counts (an older pg-backups wrote none): the restore alone is checked.
    const older = join(dir, 'older');
    await cp(good.backupDir, older, { recursive: true });
    const manifestPath = join(older, good.folder, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    for (const f of manifest.files) delete f.rows;
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    const o = await runCli(['drill', '--json', '--databases', 'shop'], env({ BACKUP_DIR: older }));
    expect(o.code, o.stderr).toBe(0);
    expect(JSON.parse(o.stdout).databases).toMatchObject([{ database: 'shop', outcome: 'passed', counts: 'not recorded', tablesChecked: 0 }]);
    expect(await drillDatabases(server)).toEqual([]);
  });

  it('a file whose bytes no longer match the manifest: outcome damaged, exit 3, nothing left', async () => {
    const backupDir = join(dir, 'damaged');
    await cp(good.backupDir, backupDir, { recursive: true });
    const path = join(backupDir, good.folder, 'postgres_db_shop.sql.gz');
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(path, bytes);
    const r = await runCli(['drill', '--json'], env({ BACKUP_DIR: backupDir }));
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout);
    expect(report.databases.map((d: any) => [d.database, d.outcome])).toEqual([['app', 'passed'], ['shop', 'damaged']]);
    expect(report.databases[1].error).toMatch(/postgres_db_shop\.sql\.gz/);
    expect(await drillDatabases(server)).toEqual([]);
  });

  it('a restore that fails on the target (a role it lacks): exit 1, the reason, text report, nothing left', async () => {
    await server.query(`CREATE ROLE drill_owner`);
    await server.query(`CREATE DATABASE owned`);
    await server.query('CREATE TABLE t (a int); ALTER TABLE t OWNER TO drill_owner; INSERT INTO t VALUES (1)', 'owned');
    const backupDir = join(dir, 'owned');
    const b = await runCli(['backup'], env({ BACKUP_DIR: backupDir, BACKUP_DATABASES: 'owned' }));
    expect(b.code, b.stderr).toBe(0);
    const url = `postgresql://postgres:${encodeURIComponent(target17.password)}@127.0.0.1:${target17.port}/postgres`;
    const r = await runCli(['drill'], env({ BACKUP_DIR: backupDir, DRILL_TARGET: url }));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^"owned": failed, restored in [\d.]+ s, .*role "drill_owner" does not exist/m);
    expect(r.stdout).toMatch(/^drill of \d{8}_\d{6} \(local:.*\) on .*: FAILED$/m);
    expect(await drillDatabases(target17)).toEqual([]);
  });

  it('DRILL_DATABASES naming a database the backup lacks: exit 2 before anything', async () => {
    const r = await runCli(['drill'], env({ BACKUP_DIR: good.backupDir, DRILL_DATABASES: 'nope' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DRILL_DATABASES names "nope", which backup \d{8}_\d{6} does not hold/);
  });
});
