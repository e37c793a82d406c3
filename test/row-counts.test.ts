// Row counts in the manifest: counted from the COPY data as the dump streams by (plain SQL, and
// pg_dump -Fc archives compressed or not), equal to count(*) of every table on 13, 15, 17 and 18,
// whatever the data and the names hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientBinDir, clientMajorFor } from './helpers/clients.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';
import { spawn } from 'node:child_process';
import { clientTool, toolEnv } from './helpers/dump-compare.js';
import { countArchiveRows } from '../src/core/backup/archive-rows.js';
import { HOSTILE_SCHEMA, HOSTILE_TABLE, ROW_FIXTURE_SQL, qi, tableCounts } from './helpers/row-fixture.js';

function manifestCounts(rows: Array<{ schema: string; table: string; rows: number }>): Map<string, number> {
  return new Map(rows.map((r) => [`${r.schema}.${r.table}`, r.rows]));
}

for (const major of [13, 15, 17, 18] as ServerMajor[]) {
  describe(`row counts in the manifest, PostgreSQL ${major}`, () => {
    let server: PgServer;
    let dir: string;
    beforeAll(async () => {
      server = await startPgServer(major);
      dir = await makeTempDir(`row-counts-${major}-`);
      await server.query('CREATE DATABASE app');
      await server.query(ROW_FIXTURE_SQL, 'app');
      // Large objects: blocks of their own in a custom-format archive (skipped by the counter), no table rows.
      await server.query(`SELECT lo_from_bytea(0, decode(repeat('0a5c2e0a', 5000), 'hex')), lo_from_bytea(0, '')`, 'app');
      await server.query(`CREATE DATABASE ${qi('other "db"')}`);
      await server.query('CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 7)', 'other "db"');
    });
    afterAll(async () => server?.stop());

    it('equal count(*) of every table, hostile data and names included', async () => {
      const env = baseEnv({ ...server.env(), BACKUP_DIR: join(dir, 'backups'), PG_BIN_DIR: clientBinDir(clientMajorFor(major)) });
      const r = await runCli(['backup', '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      const { folder } = JSON.parse(r.stdout);
      const manifest = JSON.parse(await readFile(join(dir, 'backups', folder, 'manifest.json'), 'utf8'));
      const app = manifest.files.find((f: any) => f.database === 'app');
      const expected = await tableCounts(server, 'app');
      expect(expected.get(`${HOSTILE_SCHEMA}.${HOSTILE_TABLE}`)).toBe(3);
      expect(expected.get('public.empty')).toBe(0);
      expect(expected.get('public.texts')).toBe(12);
      expect(expected.get('public.one')).toBe(6);
      expect(manifestCounts(app.rows)).toEqual(expected);
      expect(app.rows.some((x: any) => x.table === 'parts')).toBe(false); // per leaf partition
      const other = manifest.files.find((f: any) => f.database === 'other "db"');
      expect(manifestCounts(other.rows)).toEqual(await tableCounts(server, 'other "db"'));
      // The cluster and globals files have none.
      for (const f of manifest.files.filter((x: any) => x.kind !== 'database')) expect(f.rows).toBeUndefined();
      // The manifest passes the strict check (verify reads it).
      const v = await runCli(['verify', folder, '--json'], env);
      expect(v.code, v.stderr).toBe(0);
    });

    it('custom format (pg_dump -Fc, compressed and not): the same counts, read from the archive as it streams', async () => {
      const expected = await tableCounts(server, 'app');
      for (const level of ['6', '1']) {
        const backupDir = join(dir, `custom-${level}`);
        const env = baseEnv({ ...server.env(), BACKUP_DIR: backupDir, BACKUP_FORMAT: 'custom', COMPRESSION_LEVEL: level, PG_BIN_DIR: clientBinDir(clientMajorFor(major)) });
        const r = await runCli(['backup', '--json'], env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(/not in the manifest/);
        const { folder } = JSON.parse(r.stdout);
        const manifest = JSON.parse(await readFile(join(backupDir, folder, 'manifest.json'), 'utf8'));
        const app = manifest.files.find((f: any) => f.database === 'app');
        expect(manifestCounts(app.rows), `COMPRESSION_LEVEL=${level}`).toEqual(expected);
        const other = manifest.files.find((f: any) => f.database === 'other "db"');
        expect(manifestCounts(other.rows)).toEqual(await tableCounts(server, 'other "db"'));
        expect(manifest.files.find((f: any) => f.kind === 'globals').rows).toBeUndefined();
      }
      // An archive without compression (pg_dump -Z0, which a backup never writes: COMPRESSION_LEVEL is 1-9)
      // is read by the same counter: pg_dump's own output, straight into it.
      const dump = spawn(clientTool(server, 'pg_dump'), ['--format=custom', '--compress=0', '--no-password'], { env: toolEnv(server, { PGDATABASE: 'app' }), stdio: ['ignore', 'pipe', 'inherit'] });
      const counts = await countArchiveRows(dump.stdout, 'pg_dump -Z0');
      expect(counts && 'rows' in counts ? manifestCounts(counts.rows) : counts).toEqual(expected);
    });

    if (major === 15) {
      it('BACKUP_ROW_COUNTS=false: no counts in either format; a bad value stops with exit 2 naming it', async () => {
        for (const format of ['plain', 'custom']) {
          const backupDir = join(dir, `no-counts-${format}`);
          const env = baseEnv({ ...server.env(), BACKUP_DIR: backupDir, BACKUP_FORMAT: format, BACKUP_ROW_COUNTS: 'false', BACKUP_DATABASES: 'app', PG_BIN_DIR: clientBinDir(15) });
          const r = await runCli(['backup', '--json'], env);
          expect(r.code, r.stderr).toBe(0);
          const manifest = JSON.parse(await readFile(join(backupDir, JSON.parse(r.stdout).folder, 'manifest.json'), 'utf8'));
          for (const f of manifest.files) expect(f.rows, format).toBeUndefined();
        }
        const bad = await runCli(['backup'], baseEnv({ ...server.env(), BACKUP_DIR: join(dir, 'bad'), BACKUP_ROW_COUNTS: 'sometimes' }));
        expect(bad.code).toBe(2);
        expect(bad.stderr).toMatch(/BACKUP_ROW_COUNTS/);
      });
    }
  });
}
