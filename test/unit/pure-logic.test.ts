// Unit tests of pure logic, beside the tests against real servers.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { adaptCreateDatabase, withoutCreateDatabase } from '../../src/core/backup/dump-steps.js';
import { gzipStream } from '../../src/core/backup/gzip-members.js';
import { databaseFileName, databaseOfFile, folderName, folderTime } from '../../src/core/backup/names.js';
import { planDatabases } from '../../src/core/backup/select-databases.js';
import { parseToolVersion } from '../../src/core/postgres/client-tools.js';
import { expiredBackups } from '../../src/core/retention.js';
import { redact, registerSecret } from '../../src/core/secrets.js';
import type { BackupEntry } from '../../src/core/source.js';

describe('names', () => {
  it('folder names are UTC timestamps and round-trip', () => {
    const d = new Date(Date.UTC(2025, 9, 5, 12, 0, 7));
    expect(folderName(d)).toBe('20251005_120007');
    expect(folderTime('20251005_120007')?.toISOString()).toBe(d.toISOString());
    expect(folderTime('20251345_120007')).toBeUndefined();
    expect(folderTime('.pg-backups-20251005_120007.partial')).toBeUndefined();
  });

  it('database file names keep 001 names and escape everything else reversibly', () => {
    expect(databaseFileName('mydb')).toBe('postgres_db_mydb.sql.gz');
    expect(databaseFileName('my-db_2.x')).toBe('postgres_db_my-db_2.x.sql.gz');
    for (const name of ['sales data', `it's "q"`, 'données_🐘', 'a/b', '..', '.hidden', 'key=val db', '%41']) {
      const file = databaseFileName(name);
      expect(file).toMatch(/^postgres_db_[A-Za-z0-9._%-]+\.sql\.gz$/);
      expect(file).not.toMatch(/^postgres_db_\./);
      expect(databaseOfFile(file)).toBe(name);
    }
  });
});

describe('CREATE DATABASE adaptation', () => {
  const stmt = `CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'en_US.UTF-8';`;
  const preamble = `SET x = 1;\n\n${stmt}\n\n\nALTER DATABASE app OWNER TO postgres;\n\\connect app\n`;
  it('keeps the statement for the pg_dump major', () => {
    expect(adaptCreateDatabase(preamble, 17)).toBe(preamble);
  });
  it('drops LOCALE_PROVIDER before 15 and splits LOCALE before 13', () => {
    expect(adaptCreateDatabase(preamble, 13)).toContain(`ENCODING = 'UTF8' LOCALE = 'en_US.UTF-8';`);
    expect(adaptCreateDatabase(preamble, 12)).toContain(`ENCODING = 'UTF8' LC_COLLATE = 'en_US.UTF-8' LC_CTYPE = 'en_US.UTF-8';`);
  });
  it('the cluster file does not create postgres or template1', () => {
    const out = withoutCreateDatabase(preamble);
    expect(out).not.toContain('CREATE DATABASE');
    expect(out).toContain('ALTER DATABASE app OWNER TO postgres;\n\\connect app');
  });
});

describe('parallel gzip members', () => {
  it('concatenated members are one gzip stream that gunzip reads back exactly', async () => {
    const input = Buffer.from(Array.from({ length: 50_000 }, (_, i) => `row ${i}\t${(i * 7919) % 1000}\n`).join(''));
    const chunks = Array.from({ length: Math.ceil(input.length / 7000) }, (_, i) => input.subarray(i * 7000, (i + 1) * 7000));
    const members: Buffer[] = [];
    await gzipStream(
      (async function* () {
        yield* chunks;
      })(),
      async (m) => {
        members.push(m);
      },
      { level: 6, blockSize: 64 * 1024, parallel: 3 },
    );
    expect(members.length).toBeGreaterThan(5);
    const file = Buffer.concat(members);
    expect(gunzipSync(file).equals(input)).toBe(true);
    expect(execFileSync('gunzip', ['-c'], { input: file }).equals(input)).toBe(true);
  });
});

describe('database selection', () => {
  const all = [
    { name: 'postgres', allowConnections: true, isTemplate: false },
    { name: 'template0', allowConnections: false, isTemplate: true },
    { name: 'template1', allowConnections: true, isTemplate: true },
    { name: 'b', allowConnections: true, isTemplate: false },
    { name: 'a', allowConnections: true, isTemplate: false },
    { name: 'closed', allowConnections: false, isTemplate: false },
  ];
  it('defaults to every connectable non-template database; the cluster adds template1 first', () => {
    expect(planDatabases(all, undefined, [], 'srv')).toEqual({ databases: ['a', 'b', 'postgres'], clusterDatabases: ['template1', 'a', 'b', 'postgres'], unknownExcludes: [] });
  });
  it('honours BACKUP_DATABASES and BACKUP_EXCLUDE_DATABASES', () => {
    expect(planDatabases(all, ['b', 'a'], [], 'srv').databases).toEqual(['a', 'b']);
    expect(planDatabases(all, undefined, ['postgres', 'nope'], 'srv')).toMatchObject({ databases: ['a', 'b'], unknownExcludes: ['nope'] });
    expect(() => planDatabases(all, ['closed'], [], 'srv')).toThrow(/does not allow connections/);
    expect(() => planDatabases(all, undefined, ['a', 'b', 'postgres'], 'srv')).toThrow(/no database left/);
  });
});

describe('retention', () => {
  const now = new Date(Date.UTC(2025, 0, 31, 12));
  const entry = (folder: string, status: BackupEntry['status'] = 'finished'): BackupEntry => ({
    folder,
    time: folderTime(folder)!,
    status,
    files: [],
    ...(status === 'finished' ? { manifest: { tool: { name: 'pg-backups', version: '0' } } as never } : {}),
  });
  it('deletes finished backups older than the cutoff, never the newest, never legacy ones', () => {
    const entries = [entry('20250131_110000'), entry('20250130_110000'), entry('20250120_000000'), entry('20250101_000000', 'legacy'), entry('20250102_000000', 'damaged')];
    expect(expiredBackups(entries, 1, now).map((e) => e.folder)).toEqual(['20250130_110000', '20250120_000000']);
    expect(expiredBackups(entries, 0, now).map((e) => e.folder)).toEqual(['20250130_110000', '20250120_000000']);
    expect(expiredBackups([entry('20240101_000000'), entry('20230101_000000')], 7, now).map((e) => e.folder)).toEqual(['20230101_000000']);
  });
});

describe('misc', () => {
  it('parses client tool versions', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 17.6 (Debian 17.6-1.pgdg13+1)\n')).toBe('17.6');
    expect(parseToolVersion('pg_dumpall (PostgreSQL) 18beta1')).toBe('18');
    expect(parseToolVersion('something else')).toBeUndefined();
  });
  it('redacts registered secrets and passwords in connection URIs', () => {
    registerSecret('p@ss word');
    expect(redact('failed for p@ss word and p%40ss%20word')).toBe('failed for *** and ***');
    expect(redact('postgres://bob:hunter2@db/x')).toBe('postgres://bob:***@db/x');
  });
});
