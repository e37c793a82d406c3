// Proves the test harness and the dump comparison are sound, with the real PostgreSQL tools
// only (no project code): for each server major, a rich cluster dumped with
// `pg_dumpall | gzip` and restored with `gunzip -c | psql` into a fresh server of the same
// major must give identical normalized dumps, and a deliberate change must be detected.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dumpClusterNormalized,
  dumpClusterToGzip,
  dumpDatabaseNormalized,
  dumpDiffExcerpt,
  expectSameDump,
  normalizeDump,
  psqlRestore,
  runTool,
  unexpectedErrors,
} from './helpers/dump-compare.js';
import { clientMajorFor } from './helpers/clients.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { createRichCluster, RICH_DATABASES, type RichCluster } from './helpers/rich-cluster.js';
import { makeTempDir } from './helpers/tmp.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];

function timed<T>(timings: Record<string, number>, key: string, p: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  return p().finally(() => {
    timings[key] = Math.round(performance.now() - t0);
  });
}

describe('normalizeDump / expectSameDump', () => {
  it('drops comments, blank lines, \\restrict keys; keeps COPY data and literal bodies verbatim', () => {
    const dump = [
      '--',
      '-- PostgreSQL database dump',
      '--',
      '\\restrict AbC123',
      '-- Dumped from database version 17.10',
      '',
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$",
      '-- a comment inside the body',
      '',
      'SELECT 1 $_$;',
      "COMMENT ON TABLE t IS 'line one",
      '-- line two of the comment',
      "';",
      'COPY public.t (a) FROM stdin;',
      '',
      '-- not a comment: a row',
      '\\.',
      '',
      '\\unrestrict AbC123',
    ].join('\n');
    expect(normalizeDump(dump)).toBe(
      [
        'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$',
        '-- a comment inside the body',
        '',
        'SELECT 1 $_$;',
        "COMMENT ON TABLE t IS 'line one",
        '-- line two of the comment',
        "';",
        'COPY public.t (a) FROM stdin;',
        '',
        '-- not a comment: a row',
        '\\.',
        '',
      ].join('\n'),
    );
  });

  it('reports the first differing lines', () => {
    const a = 'l1\nl2\nl3\nl4\nl5\n';
    const b = 'l1\nl2\nl3 changed\nl4\nl5\n';
    expect(dumpDiffExcerpt(a, a)).toBeNull();
    expect(() => expectSameDump(a, b, 'demo')).toThrow(/demo: dumps differ[\s\S]*- l3\n\+ l3 changed/);
  });

  it('filters only the expected restore error', () => {
    const stderr =
      'psql:<stdin>:14: ERROR:  role "postgres" already exists\n' +
      'psql:<stdin>:99: ERROR:  relation "x" does not exist\n';
    expect(unexpectedErrors(stderr)).toEqual(['psql:<stdin>:99: ERROR:  relation "x" does not exist']);
  });
});

describe.each(MAJORS)('PostgreSQL %i: harness round trip with the real tools', (major) => {
  const servers: PgServer[] = [];
  const dirs: string[] = [];
  const timings: Record<string, number> = {};

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    console.log(`[harness] PostgreSQL ${major} timings (ms): ${JSON.stringify(timings)}`);
  });

  it('enforces password authentication over TCP', async () => {
    const s = await timed(timings, 'startServer', () => startPgServer(major));
    servers.push(s);
    expect(s.version.startsWith(`${major}.`)).toBe(true);
    const rows = await s.query('SELECT current_user AS u, inet_server_addr()::text AS addr');
    expect(rows[0]).toEqual({ u: 'postgres', addr: '127.0.0.1/32' });

    const wrong = new pg.Client({ ...s.clientConfig(), password: `${s.password}x` });
    wrong.on('error', () => undefined);
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    await wrong.end().catch(() => undefined);

    const hba = await s.query(`SELECT type, auth_method FROM pg_hba_file_rules ORDER BY line_number`);
    expect(hba.length).toBeGreaterThan(0);
    expect(hba.every((r: { auth_method: string }) => r.auth_method === 'scram-sha-256')).toBe(true);
  });

  it('pg_dumpall | gzip, then gunzip | psql into a fresh server gives an identical cluster', async () => {
    const dir = await makeTempDir(`pgb-harness-${major}-`);
    dirs.push(dir);
    const a = await startPgServer(major);
    servers.push(a);
    const cluster: RichCluster = await timed(timings, 'createRichCluster', () => createRichCluster(a));
    expect(cluster.databases).toEqual(expect.arrayContaining(Object.values(RICH_DATABASES)));

    const gz = join(dir, 'cluster.sql.gz');
    await timed(timings, 'pg_dumpall|gzip', () => dumpClusterToGzip(a, gz));
    let gzToRestore = gz;

    // The dump sets the postgres role's password to the source's (a SCRAM verifier), and psql
    // reconnects for every database: the target must use the same password, as in real life.
    const b = await startPgServer(major, { password: a.password });
    servers.push(b);

    if (clientMajorFor(major) > major) {
      // There is no PostgreSQL 13 client here: a 13 server is dumped by the 15 client, whose
      // CREATE DATABASE lines say LOCALE_PROVIDER = libc, which a 13 server rejects (pg_dump
      // output is only meant for servers of its own major or newer). So restored as-is into
      // a 13 server, every database but postgres is lost. Pin that down, then prove the rest
      // of the round trip by restoring with just that clause removed.
      const broken = await startPgServer(major, { password: a.password });
      servers.push(broken);
      const asIs = await psqlRestore(broken, gz);
      expect(unexpectedErrors(asIs.stderr).join('\n')).toMatch(/ERROR:\s+option "locale_provider" not recognized/);
      const fixed = join(dir, 'cluster-no-locale-provider.sql.gz');
      const sed = await runTool(
        'bash',
        ['-c', `set -o pipefail; gunzip -c -- "$1" | sed 's/ LOCALE_PROVIDER = libc / /' | gzip > "$2"`, 'bash', gz, fixed],
        process.env,
      );
      expect(sed.code, sed.stderr).toBe(0);
      gzToRestore = fixed;
    }

    const restore = await timed(timings, 'psqlRestore', () => psqlRestore(b, gzToRestore));
    expect(restore.code, restore.stderr).toBe(0);
    expect(unexpectedErrors(restore.stderr)).toEqual([]);
    expect(restore.stderr).toMatch(/ERROR:\s+role "postgres" already exists/);

    const [da, db] = await timed(timings, 'dumpClusterNormalized x2', () =>
      Promise.all([dumpClusterNormalized(a), dumpClusterNormalized(b)]),
    );
    expect(da.length).toBeGreaterThan(10_000);
    expectSameDump(da, db, `PostgreSQL ${major} pg_dumpall round trip`);

    // Each database also compares equal through pg_dump --create (awkward names passed via
    // PGDATABASE), except the postgres database: pg_dumpall without --clean does not dump the
    // postgres database's own properties (comment, GRANT, ALTER DATABASE SET), so they are
    // lost in a plain pg_dumpall | psql round trip. Its content is covered by the comparison
    // above.
    for (const name of cluster.databases) {
      const [pa, pb] = await Promise.all([dumpDatabaseNormalized(a, name), dumpDatabaseNormalized(b, name)]);
      if (name !== 'postgres') {
        expectSameDump(pa, pb, `PostgreSQL ${major} pg_dump --create ${JSON.stringify(name)}`);
        continue;
      }
      const ours = [
        "COMMENT ON DATABASE postgres IS 'the maintenance db, with a comment';",
        "ALTER DATABASE postgres SET lock_timeout TO '10s';",
        'GRANT TEMPORARY ON DATABASE postgres TO readers;',
      ];
      const lines = (s: string) => s.split('\n');
      expect(lines(pa)).toEqual(expect.arrayContaining(ours));
      for (const l of ours) expect(lines(pb)).not.toContain(l);
    }

    // The comparison is not blind: one changed value deep in a table of an awkward database
    // must be reported.
    await b.query(
      `UPDATE "Mixed Case"."Weird ""Table"" Name" SET "column with spaces" = 'changed' WHERE "Id" = 1`,
      RICH_DATABASES.sales,
    );
    const changed = await dumpClusterNormalized(b);
    expect(() => expectSameDump(da, changed, 'after an UPDATE')).toThrow(/^\+ 1\tchanged\t/m);
  });
});
