// A backup of a rich cluster on every supported major, restored file by file with
// `gunzip -c FILE | psql` into fresh servers of the same major, must dump the same as the original.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientBinDir, clientMajorFor } from './helpers/clients.js';
import {
  dumpClusterNormalized,
  dumpDatabaseNormalized,
  dumpGlobalsNormalized,
  expectSameDump,
  psqlRestore,
  unexpectedErrors,
} from './helpers/dump-compare.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { createRichCluster, type RichCluster } from './helpers/rich-cluster.js';
import { makeTempDir } from './helpers/tmp.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];

describe.each(MAJORS)('PostgreSQL %i: backup, then gunzip -c | psql of every file', (major) => {
  const servers: PgServer[] = [];
  let source: PgServer;
  let rich: RichCluster;
  let folderPath: string;
  let manifest: {
    pgDump: { major: number; version: string };
    server: { major: number; version: string };
    databases: string[];
    files: Array<{ name: string; kind: string; database?: string; bytes: number; sha256: string }>;
  };

  beforeAll(async () => {
    source = await startPgServer(major);
    servers.push(source);
    rich = await createRichCluster(source);
    const backupDir = await makeTempDir(`roundtrip-${major}-`);
    // PATH has Debian's pg_dump 15 first: for a 17 or 18 server the tool must skip it and take the
    // client of the server's major further along PATH.
    const env = baseEnv({ ...source.env(), BACKUP_DIR: backupDir, PATH: `/usr/bin:/bin:${clientBinDir(clientMajorFor(major))}` });
    const r = await runCli(['backup', '--json'], env);
    expect(r.stderr).not.toMatch(/ error /);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { folder: string; path: string };
    folderPath = result.path;
    manifest = JSON.parse(await readFile(join(folderPath, 'manifest.json'), 'utf8'));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('writes the layout of SPEC with a manifest, dumped with a client of the server major', async () => {
    expect(manifest.server.major).toBe(major);
    expect(manifest.pgDump.major).toBe(clientMajorFor(major)); // a 17 server: pg_dump 17, not Debian's 15
    expect([...manifest.databases].sort()).toEqual([...rich.databases].sort());
    const names = (await readdir(folderPath)).sort();
    expect(names).toEqual(
      [
        'manifest.json',
        'postgres_cluster.sql.gz',
        'postgres_globals.sql.gz',
        'postgres_db_app.sql.gz',
        'postgres_db_postgres.sql.gz',
        'postgres_db_template1.sql.gz', // for the staged cluster restore; not one of the backup's databases
        'postgres_db_sales%20data.sql.gz',
        'postgres_db_it%27s%20%22q%22.sql.gz',
        'postgres_db_donn%C3%A9es_%F0%9F%90%98.sql.gz',
        'postgres_db_key%3Dval%20db.sql.gz',
      ].sort(),
    );
    const manifestText = await readFile(join(folderPath, 'manifest.json'), 'utf8');
    expect(manifestText).not.toContain(source.password);
  });

  it('the cluster file restores the whole cluster', async () => {
    const target = await startPgServer(major, { password: source.password }); // the restored globals bring the source password
    servers.push(target);
    const r = await psqlRestore(target, join(folderPath, 'postgres_cluster.sql.gz'));
    expect(r.code).toBe(0);
    expect(unexpectedErrors(r.stderr)).toEqual([]);
    expectSameDump(await dumpClusterNormalized(source), await dumpClusterNormalized(target), `cluster (PostgreSQL ${major})`);
    // pg_dumpall leaves out the postgres database's own properties; the cluster file keeps them.
    expectSameDump(await dumpDatabaseNormalized(source, 'postgres'), await dumpDatabaseNormalized(target, 'postgres'), 'postgres database');
    await target.stop();
  });

  it('the globals file, then each database file, restore roles and every database', async () => {
    const target = await startPgServer(major, { password: source.password }); // the restored globals bring the source password
    servers.push(target);
    const g = await psqlRestore(target, join(folderPath, 'postgres_globals.sql.gz'));
    expect(g.code).toBe(0);
    expect(unexpectedErrors(g.stderr)).toEqual([]);
    expectSameDump(await dumpGlobalsNormalized(source), await dumpGlobalsNormalized(target), `globals (PostgreSQL ${major})`);

    for (const file of manifest.files.filter((f) => f.kind === 'database')) {
      const r = await psqlRestore(target, join(folderPath, file.name));
      expect(r.code).toBe(0);
      // postgres and template1 exist on every server: their CREATE DATABASE fails and psql goes on.
      const errors = unexpectedErrors(r.stderr).filter((l) => !/^(postgres|template1)$/.test(file.database!) || !/database "(postgres|template1)" already exists/.test(l));
      expect(errors, file.name).toEqual([]);
      expectSameDump(await dumpDatabaseNormalized(source, file.database!), await dumpDatabaseNormalized(target, file.database!), `database ${JSON.stringify(file.database)} (PostgreSQL ${major})`);
    }
    await target.stop();
  });
});
