// Issue 8: restores are exact, whatever the backup holds. A hostile corpus (see
// helpers/hostile-corpus.ts) is backed up with the CLI on each server major; the reference is what
// plain `gunzip -c FILE | psql` makes of the globals file and each database file on a fresh server.
// `pg-backups restore` must give the same result: every corpus database restored under another name
// (RESTORE_TYPE=database, RESTORE_TARGET_DATABASE) after the globals, and the whole cluster
// (RESTORE_TYPE=cluster) onto a fresh server. A seeded generator adds random hostile tables (on 13
// and 18; PGB_HOSTILE_SEED=<n> replays a seed). Damaged copies (a flipped byte, a file cut short)
// are refused with exit 3, leaving the target as it was and no staging database behind.
//
// Probes (single cases, each its own test so that one failing leaves the others meaningful): a
// database owned by a role named like the fields of pg_dump's TOC comments, a 17 MiB database
// comment, a user database named like a staging database, and a role name with a newline in a
// globals file written by a pg_dumpall without the CVE-2025-8715 fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { baseEnv, runCli, type CliResult } from './helpers/cli.js';
import { clientBinDir, clientMajorFor } from './helpers/clients.js';
import {
  dumpClusterNormalized,
  dumpDatabaseNormalized,
  dumpGlobalsNormalized,
  expectSameDump,
  normalizeDump,
  psqlRestore,
  unexpectedErrors,
} from './helpers/dump-compare.js';
import {
  BIG_MD5_SQL,
  BIG_ROWS,
  HOSTILE,
  PROBE,
  PWNED_MARKERS,
  SQLISH_VALUES,
  createBigCommentProbe,
  createHostileCorpus,
  createTocOwnerProbe,
  generatedCorpusSql,
  generatedDatabaseName,
  generatedDatabasePropertiesSql,
  qi,
  ql,
  sqlishRowsSql,
} from './helpers/hostile-corpus.js';
import { startPgServer, type PgServer, type ServerMajor } from './helpers/pg-server.js';
import { makeTempDir } from './helpers/tmp.js';

const MAJORS: ServerMajor[] = [13, 15, 17, 18];
/** The generated corpus and the TOC-owner probe run on the newest and the oldest major only (time). */
const GENERATED_MAJORS: ReadonlySet<ServerMajor> = new Set([13, 18]);
/** The big-comment and staging-lookalike probes: one major is enough (no client dependence). */
const NEWEST: ServerMajor = 18;
/** The CVE-2025-8715 probe: the major whose provisioned pg_dumpall is the oldest. */
const OLDEST: ServerMajor = 13;

const SEED = process.env.PGB_HOSTILE_SEED !== undefined && process.env.PGB_HOSTILE_SEED !== '' ? Number(process.env.PGB_HOSTILE_SEED) : randomInt(1, 2 ** 31 - 1);
if (!Number.isSafeInteger(SEED)) throw new Error(`PGB_HOSTILE_SEED=${process.env.PGB_HOSTILE_SEED} is not an integer`);
const SEED_NOTE = `seed ${SEED}; replay with PGB_HOSTILE_SEED=${SEED}`;

/** Older folder names for the damaged copies (the manifest names its own folder). */
const FLIPPED = '20200101_000000';
const CUT = '20200102_000000';
/** A byte of the gzip header's MTIME flipped: the gzip stream stays valid, only the sha256 can tell. */
const FLIPPED_MTIME = '20200103_000000';

const STAGING_SQL = `SELECT datname FROM pg_database WHERE datname LIKE '%\\_\\_pgb\\_restore\\_%' ORDER BY 1`;

/**
 * Role names that, in a pre-fix pg_dumpall's "-- User Config" comment, put a \connect and SQL on
 * lines of their own (in this order: pg_dumpall writes the roles sorted by name).
 */
const INJECTING_ROLES = ['a\n\\connect victim\nCREATE TABLE injected (x int); --', 'b\nDROP DATABASE victim; --'];

interface ManifestFile {
  name: string;
  kind: string;
  database?: string;
  bytes: number;
  sha256: string;
}

function describeCli(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
}

/** Dump `db` of `server` as if it were named `as` (renamed for the dump, then back). */
async function dumpRenamed(server: PgServer, db: string, as: string): Promise<string> {
  if (db === as) return dumpDatabaseNormalized(server, db);
  await server.query(`ALTER DATABASE ${qi(db)} RENAME TO ${qi(as)}`);
  try {
    return await dumpDatabaseNormalized(server, as);
  } finally {
    await server.query(`ALTER DATABASE ${qi(as)} RENAME TO ${qi(db)}`);
  }
}

/** pg_dump/pg_dumpall versions that write names with newlines into comments safely (CVE-2025-8715). */
function sanitizesComments(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const since: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };
  return major >= 18 || (since[major] !== undefined && minor >= since[major]!);
}

interface ReferenceResult {
  psql: Array<{ file: string; database?: string; code: number; stderr: string }>;
  sourceCluster: string;
  referenceCluster: string;
}

interface ClusterResult {
  freshBefore: string;
  cut: CliResult;
  freshAfter: string;
  whole: CliResult;
  restoredCluster?: string;
}

/** A promise whose rejection is reported by the test that awaits it, never as unhandled. */
function job<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

describe('normalizeDump and a COPY header that spans lines', () => {
  it('keeps the rows of its data verbatim (blank, "--", quotes) and still drops the comments after it', () => {
    const dump = ['COPY public."t', 'x" ("a', '--b") FROM stdin;', '', '-- row', "'", '\\.', '', '-- comment', '\\unrestrict k', ''].join('\n');
    expect(normalizeDump(dump)).toBe(['COPY public."t', 'x" ("a', '--b") FROM stdin;', '', '-- row', "'", '\\.', ''].join('\n'));
  });
});

describe.each(MAJORS)('PostgreSQL %i: a hostile corpus restores exactly as gunzip -c | psql restores it', (major) => {
  const servers: PgServer[] = [];
  const password = randomBytes(18).toString('base64url');
  let source: PgServer;
  /** gunzip -c | psql of the globals file and each database file. */
  let reference: PgServer;
  /** pg-backups restore: the globals, then each database under another name. */
  let dbTarget: PgServer;
  /** pg-backups restore: a cut-short cluster file (refused), then the cluster. */
  let clusterTarget: PgServer;
  /** The CVE-2025-8715 probe's own server (OLDEST only). */
  let cveServer: PgServer | undefined;
  let dir: string;
  let backupDir: string;
  let folderPath: string;
  let files: ManifestFile[];
  const timings: string[] = [];
  // Started in beforeAll as soon as the backup is there, and run beside the tests: the plain psql
  // restore of the reference, and the cluster restores onto clusterTarget (other servers than the
  // database restores'). The tests await them and judge their results.
  let referenceJob: Promise<ReferenceResult>;
  let clusterJob: Promise<ClusterResult>;
  const generated = GENERATED_MAJORS.has(major) ? { name: generatedDatabaseName(SEED, 'gen '), target: generatedDatabaseName(SEED + 1, 'gen copy '), corpus: generatedCorpusSql(SEED) } : undefined;
  const probes = { tocOwner: GENERATED_MAJORS.has(major), bigComment: major === NEWEST, lookalike: major === NEWEST, cve: major === OLDEST };
  const corpusTargets: Array<[string, string]> = [
    [HOSTILE.db, `copie "DATABASE" 'x' \\ ;-- 🐘 $y$`],
    [HOSTILE.db2, 'user_database_copy'],
  ];

  const path = () => `/usr/bin:/bin:${clientBinDir(clientMajorFor(major))}`;
  const envFor = (target: PgServer, extra: Record<string, string> = {}) =>
    baseEnv({ ...target.env(), PATH: path(), BACKUP_DIR: backupDir, RESTORE_DIR: join(dir, 'restore'), ...extra });
  const fileOf = (db: string) => {
    const f = files.find((x) => x.kind === 'database' && x.database === db);
    if (!f) throw new Error(`the manifest lists no file for database ${JSON.stringify(db)}`);
    return f.name;
  };
  const timed = async <T>(what: string, p: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await p();
    } finally {
      timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  };
  const staging = async (s: PgServer) => (await s.query(STAGING_SQL)).map((r: { datname: string }) => r.datname);
  /** Restore `db` of the backup as `target` onto dbTarget with pg-backups; it must equal the reference. */
  const restoreAsAndCompare = async (db: string, target: string, label: string) => {
    const r = await timed(`${label} (pg-backups)`, () =>
      runCli(['restore', '--json'], envFor(dbTarget, { RESTORE_TYPE: 'database', RESTORE_DATABASE: db, RESTORE_TARGET_DATABASE: target })),
    );
    expect(r.code, `${label}: ${JSON.stringify(db)} as ${JSON.stringify(target)}: ${describeCli(r)}`).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'database' });
    expectSameDump(await dumpRenamed(reference, db, target), await dumpDatabaseNormalized(dbTarget, target), `${label}: ${JSON.stringify(db)} restored as ${JSON.stringify(target)}: reference vs pg-backups (PostgreSQL ${major})`);
  };

  beforeAll(async () => {
    await Promise.all(PWNED_MARKERS.map((m) => rm(m, { force: true })));
    dir = await makeTempDir(`restore-hostile-${major}-`);
    backupDir = join(dir, 'backups');
    const started = await timed('servers', () => Promise.allSettled(Array.from({ length: probes.cve ? 5 : 4 }, () => startPgServer(major, { password }))));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value); // stopped in afterAll, whatever happens
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    [source, reference, dbTarget, clusterTarget] = servers as [PgServer, PgServer, PgServer, PgServer];
    cveServer = servers[4];

    await timed('corpus', async () => {
      // Role names with a newline only where the client writes them into comments safely.
      const work: Array<Promise<unknown>> = [createHostileCorpus(source, { newlineRoles: clientMajorFor(major) >= 15 })];
      if (probes.tocOwner) work.push(createTocOwnerProbe(source));
      if (probes.bigComment) work.push(createBigCommentProbe(source));
      if (generated) {
        work.push(
          (async () => {
            await source.query(`CREATE DATABASE ${qi(generated.name)}`);
            try {
              await source.query(generatedDatabasePropertiesSql(SEED, generated.name));
              await source.query(generated.corpus.sql, generated.name);
            } catch (e) {
              throw new Error(`generated corpus (${SEED_NOTE}): ${(e as Error).message}`);
            }
          })(),
        );
      }
      await Promise.all(work);
    });

    const r = await timed('backup', () => runCli(['backup', '--json'], envFor(source)));
    expect(r.code, describeCli(r)).toBe(0);
    const result = JSON.parse(r.stdout) as { folder: string; path: string };
    folderPath = result.path;
    files = (JSON.parse(await readFile(join(folderPath, 'manifest.json'), 'utf8')) as { files: ManifestFile[] }).files;

    // Damaged copies under older names: the manifest names its own folder, nothing else changes.
    for (const [name, damage] of [
      [FLIPPED, async (f: string) => {
        const buf = await readFile(f);
        const mid = Math.floor(buf.length / 2);
        buf[mid] = buf[mid]! ^ 0xff;
        await writeFile(f, buf);
      }],
      [CUT, async (f: string) => truncate(f, Math.floor((await stat(f)).size * 0.6))],
      [FLIPPED_MTIME, async (f: string) => {
        const buf = await readFile(f);
        buf[4] = buf[4]! ^ 0x01;
        await writeFile(f, buf);
      }],
    ] as const) {
      const copy = join(backupDir, name);
      await cp(folderPath, copy, { recursive: true });
      const manifestPath = join(copy, 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { folder: string };
      manifest.folder = name;
      await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
      await damage(join(copy, fileOf(HOSTILE.db)));
    }

    referenceJob = job(
      timed('reference: psql restores and cluster dumps', async () => {
        const psql: ReferenceResult['psql'] = [];
        for (const f of [{ name: 'postgres_globals.sql.gz', database: undefined }, ...files.filter((x) => x.kind === 'database')]) {
          const r = await psqlRestore(reference, join(folderPath, f.name));
          psql.push({ file: f.name, database: f.database, code: r.code, stderr: r.stderr });
        }
        const [sourceCluster, referenceCluster] = await Promise.all([dumpClusterNormalized(source), dumpClusterNormalized(reference)]);
        return { psql, sourceCluster, referenceCluster };
      }),
    );
    clusterJob = job(
      timed('cluster job (pg-backups)', async () => {
        const freshBefore = await dumpClusterNormalized(clusterTarget);
        const cut = await runCli(['restore'], envFor(clusterTarget, { RESTORE_FOLDER: CUT, RESTORE_TYPE: 'cluster' }));
        const freshAfter = await dumpClusterNormalized(clusterTarget);
        const whole = await runCli(['restore', '--json'], envFor(clusterTarget, { RESTORE_TYPE: 'cluster' }));
        const restoredCluster = whole.code === 0 ? await dumpClusterNormalized(clusterTarget) : undefined;
        return { freshBefore, cut, freshAfter, whole, restoredCluster };
      }),
    );
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`PostgreSQL ${major} (hostile restore; ${SEED_NOTE}): ${timings.join(', ')}`);
  });

  it('the reference: gunzip -c | psql of the globals and of each database file gives the source back', async () => {
    const ref = await referenceJob;
    for (const r of ref.psql) {
      expect(r.code, `${r.file}: ${r.stderr}`).toBe(0);
      const errors = unexpectedErrors(r.stderr).filter((l) => !/^(postgres|template1)$/.test(r.database ?? '') || !/database "(postgres|template1)" already exists/.test(l));
      expect(errors, `${r.file} (${SEED_NOTE})`).toEqual([]);
    }
    // The corpus itself round-trips through the plain path (else the comparisons below prove less).
    expectSameDump(ref.sourceCluster, ref.referenceCluster, `cluster: source vs reference (PostgreSQL ${major}; ${SEED_NOTE})`);
  });

  it('RESTORE_TYPE=globals, then each corpus database under another name: the same as the reference, byte for byte', async () => {
    const g = await timed('globals (pg-backups)', () => runCli(['restore', '--json'], envFor(dbTarget, { RESTORE_TYPE: 'globals' })));
    expect(g.code, describeCli(g)).toBe(0);
    await referenceJob; // the reference is complete (and no longer dumped) before it is compared and renamed
    expectSameDump(await dumpGlobalsNormalized(reference), await dumpGlobalsNormalized(dbTarget), `globals: reference vs pg-backups (PostgreSQL ${major})`);

    await Promise.all(corpusTargets.map(([db, target]) => restoreAsAndCompare(db, target, 'corpus')));
    for (const [db, target] of corpusTargets) {
      // Directly: the SQL-looking rows and the multi-MB values arrived byte for byte.
      const want = await source.query(sqlishRowsSql(), db);
      expect(want.map((row: { v: string }) => row.v)).toEqual([...SQLISH_VALUES]);
      expect(await dbTarget.query(sqlishRowsSql(), target)).toEqual(want);
      if (db === HOSTILE.db) {
        const big = await source.query(BIG_MD5_SQL, db);
        expect(big.map((b: { id: number }) => b.id)).toEqual([BIG_ROWS.text, BIG_ROWS.bytea, BIG_ROWS.line]);
        expect(big[0].tlen).toBeGreaterThan(5_000_000);
        expect(big[1].blen).toBe(3_000_000);
        expect(await dbTarget.query(BIG_MD5_SQL, target)).toEqual(big);
      }
    }
    expect(await staging(dbTarget)).toEqual([]);
    for (const m of PWNED_MARKERS) expect(existsSync(m), `${m}: a row ran as a psql meta-command`).toBe(false);
  });

  if (generated) {
    it(`generated corpus (${SEED_NOTE}): restored under another name, the same as the reference`, async () => {
      expect(generated.corpus.tables, SEED_NOTE).toBeGreaterThan(0);
      await restoreAsAndCompare(generated.name, generated.target, `generated corpus (${SEED_NOTE})`);
      expect(await staging(dbTarget), SEED_NOTE).toEqual([]);
    });
  }

  // Damage is found by the checks before psql, whatever the major: on the oldest and the newest.
  if (major === OLDEST || major === NEWEST) it('a database file with a flipped byte (in its middle; in its gzip header), and one cut short: exit 3, the existing target as it was, no staging database', async () => {
    const [db, target] = corpusTargets[0]!;
    const oid = async () => (await dbTarget.query(`SELECT oid::text AS oid FROM pg_database WHERE datname = ${ql(target)}`))[0]?.oid;
    const [before, beforeOid] = await Promise.all([dumpDatabaseNormalized(dbTarget, target), oid()]);
    expect(beforeOid).toBeDefined();
    for (const folder of [FLIPPED, FLIPPED_MTIME, CUT]) {
      const r = await timed(`damaged ${folder} (pg-backups)`, () =>
        runCli(['restore'], envFor(dbTarget, { RESTORE_FOLDER: folder, RESTORE_TYPE: 'database', RESTORE_DATABASE: db, RESTORE_TARGET_DATABASE: target, RESTORE_OVERWRITE: 'true' })),
      );
      expect(r.code, `${folder}: ${describeCli(r)}`).toBe(3);
      const file = fileOf(db);
      expect(r.stderr, folder).toContain(`${file} of backup ${folder}`);
      // A flipped byte keeps the size: the gzip check may see it first in the middle of the deflate
      // data, only the sha256 can see it in the header's MTIME. The cut file is short.
      const why: RegExp = {
        [FLIPPED]: /is damaged: (its sha256 [0-9a-f]{64} differs from the manifest's|not a valid gzip stream)/,
        [FLIPPED_MTIME]: /is damaged: its sha256 [0-9a-f]{64} differs from the manifest's/,
        [CUT]: /is damaged: it has \d+ bytes, the manifest says \d+/,
      }[folder]!;
      expect(r.stderr, folder).toMatch(why);
      expect(await oid(), `${JSON.stringify(target)} was replaced by the refused restore from ${folder}`).toBe(beforeOid);
      expect(await staging(dbTarget), folder).toEqual([]);
    }
    expectSameDump(before, await dumpDatabaseNormalized(dbTarget, target), `${JSON.stringify(target)} after the refused restores`);
  });

  it('RESTORE_TYPE=cluster: a cut-short database file is refused (exit 3) on a fresh server, nothing touched; the whole backup equals the reference', async () => {
    const c = await clusterJob;
    expect(c.cut.code, describeCli(c.cut)).toBe(3);
    expect(c.cut.stderr).toContain(`${fileOf(HOSTILE.db)} of backup 20200102_000000 on local`);
    expect(c.cut.stderr).toMatch(/ is damaged: it has \d+ bytes, the manifest says \d+/);
    expectSameDump(c.freshBefore, c.freshAfter, 'the fresh server after the refused cluster restore');
    expect(c.whole.code, describeCli(c.whole)).toBe(0);
    const ref = await referenceJob;
    expectSameDump(ref.referenceCluster, c.restoredCluster!, `cluster: reference vs pg-backups (PostgreSQL ${major}; ${SEED_NOTE})`);
    const want = await source.query(sqlishRowsSql(), HOSTILE.db);
    expect(await clusterTarget.query(sqlishRowsSql(), HOSTILE.db)).toEqual(want);
    expect(await clusterTarget.query(BIG_MD5_SQL, HOSTILE.db)).toEqual(await source.query(BIG_MD5_SQL, HOSTILE.db));
    expect(await staging(clusterTarget)).toEqual([]);
    for (const m of PWNED_MARKERS) expect(existsSync(m), `${m}: a row ran as a psql meta-command`).toBe(false);
  });

  if (probes.tocOwner) {
    it(`probe: a database owned by the role ${JSON.stringify(PROBE.tocRole)} (pg_dump's TOC comments then read "Owner: ${PROBE.tocRole}") restores like the reference`, async () => {
      await restoreAsAndCompare(PROBE.tocDb, 'probe_toc_owner_copy', 'TOC-owner probe');
    });
  }

  if (probes.bigComment) {
    it('probe: a database with a 17 MiB COMMENT ON DATABASE restores like the reference', async () => {
      await restoreAsAndCompare(PROBE.bigCommentDb, 'probe_big_comment_copy', 'big-comment probe');
      const [{ n }] = await dbTarget.query(`SELECT length(shobj_description(oid, 'pg_database')) AS n FROM pg_database WHERE datname = 'probe_big_comment_copy'`);
      expect(n).toBe(PROBE.bigCommentBytes);
    });
  }

  if (probes.lookalike) {
    it("probe: a restore never drops a user's database named like a staging database of its target", async () => {
      const [db, target] = corpusTargets[1]!;
      const lookalike = `${target}__pgb_restore_0123abcd`;
      await dbTarget.query(`CREATE DATABASE ${qi(lookalike)}`);
      await dbTarget.query('CREATE TABLE precious (x int); INSERT INTO precious VALUES (42);', lookalike);
      const r = await timed('lookalike probe (pg-backups)', () =>
        runCli(['restore'], envFor(dbTarget, { RESTORE_TYPE: 'database', RESTORE_DATABASE: db, RESTORE_TARGET_DATABASE: target, RESTORE_OVERWRITE: 'true' })),
      );
      expect(r.code, describeCli(r)).toBe(0);
      const left = await dbTarget.query(`SELECT datname FROM pg_database WHERE datname = ${ql(lookalike)}`);
      expect(left, `the restore of ${JSON.stringify(target)} dropped the user's database ${JSON.stringify(lookalike)}:\n${r.stderr}`).toHaveLength(1);
    });
  }

  if (probes.cve) {
    it('probe: role names with newlines, in a globals file of a pg_dumpall without the CVE-2025-8715 fix: a globals restore onto a server in use never runs the \\connect or the SQL after them', async () => {
      const server = cveServer!;
      for (const role of INJECTING_ROLES) await server.query(`CREATE ROLE ${qi(role)} NOLOGIN; ALTER ROLE ${qi(role)} SET work_mem = '1MB';`);
      await server.query('CREATE DATABASE victim');
      const cveDir = join(dir, 'cve-backups');
      const b = await timed('CVE probe backup', () => runCli(['backup', '--json'], envFor(server, { BACKUP_DIR: cveDir, BACKUP_DATABASES: 'postgres' })));
      expect(b.code, describeCli(b)).toBe(0);
      const folder = (JSON.parse(b.stdout) as { path: string }).path;
      const pgDump = (JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as { pgDump: { version: string } }).pgDump.version;
      const globals = gunzipSync(await readFile(join(folder, 'postgres_globals.sql.gz'))).toString('utf8');
      // A pre-fix pg_dumpall writes `-- User Config "a` and then the lines `\connect victim`, `CREATE TABLE ...`.
      const injected = /^\\connect victim$/m.test(globals) && /^DROP DATABASE victim; --"$/m.test(globals);
      expect(injected, `pg_dumpall ${pgDump}`).toBe(!sanitizesComments(pgDump));

      // The server is in use (it has the database "victim"); its roles exist: RESTORE_OVERWRITE.
      const r = await timed('CVE probe globals (pg-backups)', () =>
        runCli(['restore'], envFor(server, { BACKUP_DIR: cveDir, RESTORE_TYPE: 'globals', RESTORE_OVERWRITE: 'true' })),
      );
      const what = `a globals restore (exit ${r.code}) of a file from pg_dumpall ${pgDump}`;
      const victim = await server.query(`SELECT datname FROM pg_database WHERE datname = 'victim'`);
      expect(victim, `${what} dropped database "victim":\n${r.stderr}`).toHaveLength(1);
      const tables = await server.query(`SELECT relname FROM pg_class WHERE relname = 'injected'`, 'victim');
      expect(tables, `${what} connected to database "victim" and created a table there:\n${r.stderr}`).toEqual([]);
      expect(r.code, describeCli(r)).toBe(injected ? 1 : 0);
    });
  }
});
