#!/usr/bin/env zx
// Restore benchmark: time to recovery of `pg-backups restore` (a whole cluster, from S3) against
// the bash tool's path (seed 001: download the cluster file from S3 with the AWS CLI, gunzip -t,
// gunzip -c | psql) and against the floor (gunzip -c | psql of a file already on local disk), in
// the same run, each onto its own fresh embedded PostgreSQL 15 (a new initdb every time). Wall time,
// peak RSS of the process tree and of its root process, CPU split. The backup restored is made once
// (not measured) by `pg-backups backup` from the generated cluster of bench/backup.mjs (>= 1 GB of
// SQL at the default scale) into a local s3rver; every restore is checked against the source.
// Beside the plain restore: the same cluster restore of an age-encrypted backup (RESTORE_IDENTITY_FILE),
// and a whole database (shop, the biggest) restored from the plain backup and from a custom-format
// one (BACKUP_FORMAT=custom, pg_restore) with RESTORE_JOBS=1 and RESTORE_JOBS=4.
//
//   npm run bench:restore                          # generate, back up, measure once, clean up
//   npm run bench:restore -- --keep                # keep the cluster and its backup (reused by the next --keep run)
//   npm run bench:restore -- --keep --runs 3       # median of 3 rounds
//   npm run bench:restore -- --scale 0.05          # ~50 MB of SQL instead of ~1.1 GB (a quick try)
//   options: --work-dir DIR (BENCH_WORK_DIR), --keep (BENCH_KEEP=1), --runs N (BENCH_RUNS),
//            --scale X (BENCH_SCALE), --regenerate, --quiet-wait S,
//            --only floor,bash,pg-backups,encrypted,database,custom-j1,custom-j4 (all by default; custom = both custom runs),
//            --pg-backups PATH (another build's bin/pg-backups.cjs), --verbose
// See bench/README.md.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { argv, chalk } from 'zx';
import { DATABASES, GENERATOR_VERSION, generate, sizes } from './lib/generate.mjs';
import { children, cpuText, installExitHandlers, killChildren, measure, othersShare, removeTempDirs, state, waitQuiet } from './lib/procs.mjs';
import { S3RVER_KEY, freePort, startS3rver } from './lib/servers.mjs';
import { dirBytes, filesOf, finishedFolder, fmt, log, mb, median, root, s3rverObjects, table } from './lib/util.mjs';
import { ageKeyPair, checkVariant } from './lib/variants.mjs';

const CONTENDERS = ['floor', 'bash', 'pg-backups', 'encrypted', 'database', 'custom-j1', 'custom-j4'];
/** The backup variant a contender restores (the others restore the plain backup). */
const VARIANT_OF = { encrypted: 'age', 'custom-j1': 'custom', 'custom-j4': 'custom' };
/** The database the database restores restore: the biggest of the generated cluster. */
const RESTORED_DB = 'shop';
const opt = {
  keep: Boolean(argv.keep) || ['1', 'true', 'yes'].includes(String(process.env.BENCH_KEEP ?? '').toLowerCase()),
  runs: Math.max(1, Number(argv.runs ?? process.env.BENCH_RUNS ?? 1) || 1),
  // 1.15: ~1.1 GB of plain SQL in the cluster file (scale 1 of the generator gives ~0.97 GB).
  scale: Number(argv.scale ?? process.env.BENCH_SCALE ?? 1.15) || 1.15,
  regenerate: Boolean(argv.regenerate),
  only: String(argv.only ?? CONTENDERS.join(','))
    .split(',')
    .map((s) => s.trim())
    .flatMap((s) => (s === 'custom' ? ['custom-j1', 'custom-j4'] : s ? [s] : [])),
  verbose: Boolean(argv.verbose),
  // Before each measurement, wait (up to this many seconds) for the machine to be idle.
  quietWait: Number(argv['quiet-wait'] ?? process.env.BENCH_QUIET_WAIT ?? 120),
  pgBackups: resolve(String(argv['pg-backups'] ?? process.env.BENCH_PG_BACKUPS ?? join(root, 'bin', 'pg-backups.cjs'))),
  aws: String(argv.aws ?? process.env.BENCH_AWS ?? (existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws')),
};
for (const k of opt.only) if (!CONTENDERS.includes(k)) throw new Error(`--only: unknown contender ${JSON.stringify(k)} (known: ${CONTENDERS.join(', ')})`);
const workDir = resolve(
  argv['work-dir'] ??
    process.env.BENCH_WORK_DIR ??
    (opt.keep ? join(tmpdir(), 'pg-backups-bench-restore') : mkdtempSync(join(tmpdir(), 'pg-backups-bench-restore-'))),
);
const BUCKET = 'pg-backups-bench';
const PREFIX = 'bench';
const CLUSTER_FILE = 'postgres_cluster.sql.gz';

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path: children of ours (by process group; s3rver is one), the servers
// (the source and the current fresh target), the work dir (unless --keep) and the target's data.
const servers = new Set(); // started EmbeddedPostgres instances
let cleaned = false;
const scratch = () => [join(workDir, 'target'), join(workDir, 'restore')]; // a target's data and downloads
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killChildren('SIGTERM');
  await Promise.all([...servers].map((s) => s.stop().catch(() => {})));
  removeTempDirs();
  if (!opt.keep) rmSync(workDir, { recursive: true, force: true });
  else for (const d of scratch()) rmSync(d, { recursive: true, force: true });
}
installExitHandlers({
  cleanup,
  onExit: () => {
    if (cleaned) return;
    if (!opt.keep) rmSync(workDir, { recursive: true, force: true });
    else for (const d of scratch()) rmSync(d, { recursive: true, force: true });
  },
});

// ---------------------------------------------------------------------------------------------
let EmbeddedPostgres;
let pg;
const SERVER_FLAGS = (sockDir) => [
  '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${sockDir}`,
  // The same for the source and every target: no durability needed for throwaway clusters.
  '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
  '-c', 'max_wal_size=8GB', '-c', 'checkpoint_timeout=1h',
  '-c', 'shared_buffers=256MB', '-c', 'maintenance_work_mem=256MB',
];

/** An embedded PostgreSQL 15 on 127.0.0.1, a free port; `fresh`: a new initdb in an empty folder. */
async function startPostgres(dataDir, password, { fresh, extraFlags = [] }) {
  const sockDir = join(workDir, 'sock');
  mkdirSync(sockDir, { recursive: true });
  chmodSync(sockDir, 0o1777);
  if (fresh) rmSync(dataDir, { recursive: true, force: true });
  const port = await freePort();
  const srv = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: true, // we remove the folders ourselves
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: [...SERVER_FLAGS(sockDir), ...extraFlags],
    onLog: () => {},
  });
  servers.add(srv);
  if (fresh) await srv.initialise();
  await srv.start();
  const connect = async (database) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
    await c.connect();
    return c;
  };
  const stop = async () => {
    await srv.stop().catch(() => {});
    servers.delete(srv);
  };
  return { srv, port, password, pid: srv.process.pid, connect, stop };
}

/**
 * What a restore must reproduce, read from a server: the databases (not templates), each generated
 * table's row count and a fingerprint of its first rows (md5 of the first 2000 rows by id), the
 * number of indexes in each, the role `app` and the owner of shop.orders.
 */
async function facts(connect) {
  const c = await connect('postgres');
  const dbs = (await c.query(`SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1`)).rows.map((r) => r.datname);
  const app = (await c.query(`SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app'`)).rows[0];
  await c.end();
  const out = { databases: dbs, appRole: app ? (app.rolcanlogin ? 'login' : 'nologin') : 'missing', tables: {}, indexes: {} };
  for (const db of DATABASES) {
    if (!dbs.includes(db.name)) continue;
    const cc = await connect(db.name);
    try {
      for (const t of db.tables) {
        const key = `${db.name}.${t.name}`;
        const exists = (await cc.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [`public.${t.name}`])).rows[0].e;
        if (!exists) {
          out.tables[key] = 'missing';
          continue;
        }
        const n = (await cc.query(`SELECT count(*)::bigint AS n FROM ${t.name}`)).rows[0].n;
        let fp = '';
        if (t.pk) fp = (await cc.query(`SELECT md5(string_agg(x::text, '|' ORDER BY x.id)) AS f FROM (SELECT * FROM ${t.name} ORDER BY id LIMIT 2000) x`)).rows[0].f;
        out.tables[key] = `${n} rows${fp ? `, first rows md5 ${fp}` : ''}`;
      }
      out.indexes[db.name] = Number((await cc.query(`SELECT count(*) AS n FROM pg_indexes WHERE schemaname = 'public'`)).rows[0].n);
      if (db.name === 'shop') out.ordersOwner = (await cc.query(`SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'orders'`)).rows[0]?.tableowner ?? 'missing';
    } finally {
      await cc.end();
    }
  }
  return out;
}
/** What a database restore onto a fresh server must reproduce: that database and the globals. */
function factsOfDatabase(want, db) {
  const own = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => k === db || k.startsWith(`${db}.`)));
  return { ...want, databases: want.databases.filter((d) => d === 'postgres' || d === db), tables: own(want.tables), indexes: own(want.indexes), ordersOwner: db === 'shop' ? want.ordersOwner : undefined };
}
function compareFacts(label, want, got) {
  const diffs = [];
  const show = (v) => JSON.stringify(v);
  if (show(want.databases) !== show(got.databases)) diffs.push(`databases: want ${show(want.databases)}, got ${show(got.databases)}`);
  if (want.appRole !== got.appRole) diffs.push(`role app: want ${want.appRole}, got ${got.appRole}`);
  if (want.ordersOwner !== got.ordersOwner) diffs.push(`owner of shop.orders: want ${want.ordersOwner}, got ${got.ordersOwner}`);
  for (const [k, v] of Object.entries(want.tables)) if (got.tables[k] !== v) diffs.push(`${k}: want ${v}, got ${got.tables[k] ?? 'missing'}`);
  for (const [k, v] of Object.entries(want.indexes)) if (got.indexes[k] !== v) diffs.push(`indexes of ${k}: want ${v}, got ${got.indexes[k] ?? 'missing'}`);
  if (diffs.length) throw new Error(`${label}: the restored server differs from the source:\n  ${diffs.join('\n  ')}`);
}

/** Runs a command to its end (not measured), its output into `logFile`; throws on a non-zero exit. */
function runToEnd(label, command, args, { env, logFile }) {
  return new Promise((res, rej) => {
    const p = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(p.pid);
    let out = '';
    const keep = (d) => (out = (out + d).slice(-200_000));
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    p.on('error', rej);
    p.on('close', (code, signal) => {
      children.delete(p.pid);
      if (logFile) writeFileSync(logFile, out);
      if (code === 0) res(out);
      else rej(new Error(`${label} failed (${signal ?? `exit code ${code}`}); its output ends with:\n${out.split('\n').slice(-15).join('\n')}`));
    });
  });
}
const versionOf = (command, args = ['--version']) => runToEnd(command, command, args, { env: process.env }).then((s) => s.trim().split('\n')[0], () => '');

/** The file named `name` under `dir` (any depth) if it has `size` bytes. */
function findWhole(dir, name, size) {
  for (const [rel, n] of filesOf(dir)) if ((rel === name || rel.endsWith(`/${name}`)) && n === size) return rel;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
async function main() {
  if (!existsSync(opt.pgBackups)) throw new Error(`--pg-backups: ${opt.pgBackups} does not exist`);
  if (!existsSync(join(opt.pgBackups, '..', '..', 'dist', 'cli.js'))) throw new Error(`${opt.pgBackups}: no dist/cli.js beside it; build it first (npm run build)`);
  const psqlVersion = await versionOf('psql');
  if (!psqlVersion) throw new Error('psql is missing (Debian bookworm: apt-get install postgresql-client)');
  if (!/PostgreSQL\)\s+15\./.test(psqlVersion)) log(chalk.yellow(`warning: the benchmark restores onto PostgreSQL 15; psql on PATH is: ${psqlVersion}`));
  let awsVersion = '';
  if (opt.only.includes('bash')) {
    awsVersion = await versionOf(opt.aws);
    if (!awsVersion) throw new Error(`the bash tool's path needs the AWS CLI (${opt.aws}; Debian: apt-get install awscli), or leave it out with --only floor,pg-backups`);
  }
  ({ default: EmbeddedPostgres } = await import('epg15'));
  pg = (await import('pg')).default;

  mkdirSync(workDir, { recursive: true });
  chmodSync(workDir, 0o755); // the servers run as the OS user postgres: the folders must be traversable
  log(chalk.bold(`pg-backups restore benchmark — work dir ${workDir}${opt.keep ? ' (kept)' : ' (removed at the end)'}`));
  log(chalk.dim(`pg-backups: ${opt.pgBackups}`));

  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(PG[A-Z_]*|DATABASE_URL|BACKUP_[A-Z_]*|COMPRESSION_LEVEL|S3_[A-Z_]*|RSYNC_[A-Z_]*|RESTORE_[A-Z_]*|[A-Z]+_RETENTION_DAYS|RETRY_[A-Z_]*|AWS_[A-Z_]*)$/.test(k) && k !== 'RESTORE_JOBS') delete env[k];
  }
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

  // s3rver, on a folder of the work dir (kept with --keep: the backup on it is reused).
  log(chalk.bold('starting s3rver on 127.0.0.1'));
  const s3 = await startS3rver(BUCKET, { dir: join(workDir, 's3') });
  log(chalk.dim(`  s3rver pid ${s3.pid}, ${s3.endpoint}, objects in ${s3.dir}`));

  // ---- preparation (not measured): the generated cluster and its backup on S3 -----------------
  const dataDir = join(workDir, 'source');
  const markerFile = join(workDir, 'generated.json');
  const backupMarkerFile = join(workDir, 'backup.json');
  const passwordFile = join(workDir, 'password'); // mode 0600; for --keep only: the next run must log in
  const backupDir = join(workDir, 'backups');
  const readJson = (f) => {
    try {
      return JSON.parse(readFileSync(f, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const marker = readJson(markerFile);
  const reuseData = opt.keep && !opt.regenerate && marker?.version === GENERATOR_VERSION && marker?.scale === opt.scale && existsSync(dataDir) && existsSync(passwordFile);
  let backup = readJson(backupMarkerFile);
  // The variants the selected contenders restore, beside the plain backup: each made from the same
  // source into a local folder of its own and under its own S3 prefix. The age identity stays in
  // the work dir (mode 0600): a kept encrypted backup needs the key it was encrypted to.
  const neededVariants = [...new Set(opt.only.map((k) => VARIANT_OF[k]).filter(Boolean))];
  const ageKeys = neededVariants.includes('age') ? await ageKeyPair(join(workDir, 'age-identity.txt')) : undefined;
  const VARIANTS = {
    age: { dir: join(workDir, 'backups-age'), prefix: `${PREFIX}-age`, env: () => ({ BACKUP_ENCRYPTION_RECIPIENTS: ageKeys.recipient }) },
    custom: { dir: join(workDir, 'backups-custom'), prefix: `${PREFIX}-custom`, env: () => ({ BACKUP_FORMAT: 'custom' }) },
  };
  // The same files locally and on s3rver.
  const sameOnS3 = (dir, prefix, folder) => {
    const local = filesOf(join(dir, folder));
    const remote = s3rverObjects(s3.prefixDir(prefix));
    const want = [...local].map(([k, v]) => `${folder}/${k} ${v}`).sort().join('\n');
    return local.size > 0 && want === [...remote].map(([k, v]) => `${k} ${v}`).sort().join('\n');
  };
  // A backup of this cluster, by this pg-backups, whole: the same files locally and on s3rver.
  const backupWhole = (b, generatedAt) => {
    if (!b || !generatedAt || b.generatedAt !== generatedAt || b.pgBackups !== opt.pgBackups) return false;
    return filesOf(join(backupDir, b.folder)).get(CLUSTER_FILE) === b.clusterBytes && sameOnS3(backupDir, PREFIX, b.folder);
  };
  const variantWhole = (name, v) =>
    Boolean(v) && v.generatedAt === backup.generatedAt && v.pgBackups === opt.pgBackups && (name !== 'age' || v.recipient === ageKeys.recipient) && sameOnS3(VARIANTS[name].dir, VARIANTS[name].prefix, v.folder);
  const plainOk = reuseData && backupWhole(backup, marker.generatedAt);
  const missing = neededVariants.filter((v) => !(plainOk && variantWhole(v, backup.variants?.[v])));
  const variantFailures = {}; // variant -> why its backup failed (its contenders are then not run)
  let dbSizes;
  if (plainOk && !missing.length) {
    log(chalk.dim(`reusing the cluster generated ${marker.generatedAt} and its backup ${backup.folder} (--regenerate to make new ones)`));
    for (const v of neededVariants) log(chalk.dim(`  and its ${v} backup ${backup.variants[v].folder}`));
    dbSizes = backup.dbSizes;
  } else {
    if (!reuseData) {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(markerFile, { force: true });
      writeFileSync(passwordFile, randomBytes(16).toString('hex'), { mode: 0o600 });
    }
    rmSync(backupMarkerFile, { force: true });
    if (!plainOk) {
      rmSync(backupDir, { recursive: true, force: true });
      rmSync(s3.prefixDir(PREFIX), { recursive: true, force: true });
    }
    for (const v of plainOk ? missing : Object.keys(VARIANTS)) {
      rmSync(VARIANTS[v].dir, { recursive: true, force: true });
      rmSync(s3.prefixDir(VARIANTS[v].prefix), { recursive: true, force: true });
    }
    const password = readFileSync(passwordFile, 'utf8').trim();
    const source = await startPostgres(dataDir, password, {
      fresh: !reuseData,
      extraFlags: ['-c', 'wal_level=minimal', '-c', 'max_wal_senders=0'], // loading speed only
    });
    log(`source: embedded PostgreSQL 15 on 127.0.0.1:${source.port}`);
    /** `pg-backups backup` of the source into `dir` and the S3 prefix of `extraEnv`; the folder made. */
    const backUp = async (label, dir, extraEnv, logName) => {
      log(chalk.bold(`backing up the source to s3rver with ${label} (not measured)`));
      const t0 = Date.now();
      mkdirSync(dir, { recursive: true });
      await runToEnd(label, process.execPath, [opt.pgBackups, 'backup'], {
        env: { ...env, PGHOST: '127.0.0.1', PGPORT: String(source.port), PGUSER: 'postgres', PGPASSWORD: password, BACKUP_DIR: dir, ...extraEnv },
        logFile: join(workDir, logName),
      });
      const folder = finishedFolder(dir);
      if (!folder) throw new Error(`${label} exited 0 but left no backup folder in ${dir}`);
      log(chalk.dim(`  backup ${folder} in ${fmt((Date.now() - t0) / 1000)} s, ${fmt(mb(dirBytes(join(dir, folder))))} MB`));
      return folder;
    };
    if (plainOk) {
      log(chalk.dim(`reusing the cluster generated ${marker.generatedAt} and its backup ${backup.folder}`));
      dbSizes = backup.dbSizes;
    } else {
      let generatedAt = marker?.generatedAt;
      if (reuseData) log(chalk.dim(`reusing the cluster generated ${marker.generatedAt}`));
      else {
        log(chalk.bold(`generating the data (scale ${opt.scale}) server-side…`));
        const secs = await generate(source.connect, { scale: opt.scale });
        generatedAt = new Date().toISOString();
        writeFileSync(markerFile, JSON.stringify({ version: GENERATOR_VERSION, scale: opt.scale, generatedAt, seconds: secs }));
        log(`generated in ${fmt(secs)} s`);
      }
      dbSizes = await sizes(source.connect);
      const folder = await backUp('pg-backups backup', backupDir, s3.env(PREFIX), 'backup.log');
      checkVariant('plain', join(backupDir, folder));
      const manifest = JSON.parse(readFileSync(join(backupDir, folder, 'manifest.json'), 'utf8'));
      const entry = (manifest.files ?? []).find((f) => f.name === CLUSTER_FILE);
      const clusterBytes = statSync(join(backupDir, folder, CLUSTER_FILE)).size;
      log(chalk.dim(`  ${CLUSTER_FILE}: ${fmt(mb(clusterBytes))} MB (${fmt(mb(entry?.rawBytes ?? NaN))} MB of SQL)`));
      log(chalk.dim('  reading what every restore must reproduce from the source (row counts, first rows, indexes, roles)'));
      const want = await facts(source.connect);
      backup = { generatedAt, pgBackups: opt.pgBackups, folder, clusterBytes, clusterRaw: entry?.rawBytes, dbSizes, facts: want, variants: {} };
      if (!backupWhole(backup, generatedAt)) throw new Error(`the backup on s3rver (${s3.prefixDir(PREFIX)}) does not hold the same files as the local folder ${join(backupDir, backup.folder)}`);
    }
    backup.variants ??= {};
    for (const v of missing) {
      const V = VARIANTS[v];
      try {
        const folder = await backUp(`pg-backups backup (${v})`, V.dir, { ...s3.env(V.prefix), ...V.env() }, `backup-${v}.log`);
        // The backup is what its settings asked for: a build that ignores them fails here.
        const dbFiles = checkVariant(v, join(V.dir, folder), { databases: dbSizes.length });
        log(chalk.dim(`  checked: ${v} backup, ${dbFiles.count} database files of ${fmt(mb(dbFiles.bytes))} MB`));
        if (!sameOnS3(V.dir, V.prefix, folder)) throw new Error(`the ${v} backup on s3rver (${s3.prefixDir(V.prefix)}) does not hold the same files as the local folder ${join(V.dir, folder)}`);
        backup.variants[v] = { folder, generatedAt: backup.generatedAt, pgBackups: opt.pgBackups, recipient: ageKeys?.recipient };
      } catch (err) {
        if (state.interrupted) throw err;
        variantFailures[v] = err?.message ?? String(err);
        delete backup.variants[v];
        log(chalk.red(`  FAILED: the ${v} backup: ${variantFailures[v]}`));
      }
    }
    await source.stop();
    writeFileSync(backupMarkerFile, JSON.stringify(backup, null, 2));
  }
  const sourcePassword = readFileSync(passwordFile, 'utf8').trim();
  const localCluster = join(backupDir, backup.folder, CLUSTER_FILE);
  const clusterKey = `${PREFIX}/${backup.folder}/${CLUSTER_FILE}`;
  log(chalk.dim(`backup ${backup.folder} on s3://${BUCKET}/${PREFIX}/ ; the floor reads the local copy ${localCluster}`));

  // AWS CLI settings for the bash tool's download: s3rver's account, path-style addressing, no
  // user configuration or instance metadata.
  const awsConfig = join(workDir, 'aws-config');
  writeFileSync(awsConfig, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');

  // ---- the contenders ---------------------------------------------------------------------------
  const restoreDir = join(workDir, 'restore');
  // pg-backups restore from the S3 prefix `prefix` (a variant's backup, or the plain one);
  // `file`: the file whose whole download is the milestone "downloaded"; `database`: a database
  // restore, checked on that database alone; `vs`: the contender its wall time is compared with.
  const pgRestore = (key, label, { prefix, file, env: more = {}, variant, ...rest }) => {
    const folder = variant ? backup.variants?.[variant] : backup;
    const dir = variant ? VARIANTS[variant].dir : backupDir;
    const size = folder ? filesOf(join(dir, folder.folder)).get(file) : undefined;
    return {
      key,
      label,
      command: process.execPath,
      args: [opt.pgBackups, 'restore'],
      env: { ...s3.env(prefix), RESTORE_SOURCE: 's3', RESTORE_FOLDER: 'latest', RESTORE_TYPE: 'cluster', RESTORE_DIR: restoreDir, CI: 'true', ...more },
      milestones: [{ name: 'downloaded', test: () => size !== undefined && findWhole(restoreDir, file, size) !== undefined }],
      variant,
      ...rest,
    };
  };
  const dbFile = `postgres_db_${RESTORED_DB}.sql.gz`;
  const dbEnv = { RESTORE_TYPE: 'database', RESTORE_DATABASE: RESTORED_DB };
  const plainManifest = readJson(join(backupDir, backup.folder, 'manifest.json')) ?? {};
  // The SQL a restore replays (for SQL MB/s): the cluster file's, or the restored database's (its
  // plain dump's size, also for the custom archive, which holds the same data).
  const dbRaw = (plainManifest.files ?? []).find((f) => f.name === dbFile)?.rawBytes;
  // As the bash tool (and pg_dumpall's documentation) restore a cluster file: psql without
  // ON_ERROR_STOP, since the file's `CREATE ROLE postgres` fails on any server (we connect as that
  // role); every error line is checked after the run, and any other error fails the benchmark.
  const psqlCmd = 'psql -X -q -d postgres';
  const allowedErrors = [/^role "postgres" already exists$/];
  const contenders = [
    {
      key: 'floor',
      label: 'floor: gunzip -c local file | psql',
      command: 'bash',
      args: ['-c', `set -eo pipefail; gunzip -c "$1" | ${psqlCmd}`, 'floor', localCluster],
      allowedErrors,
    },
    {
      key: 'bash',
      label: "bash tool: aws s3 cp, gunzip -t, gunzip -c | psql",
      command: 'bash',
      args: [
        '-c',
        `set -eo pipefail; aws="$1"; endpoint="$2"; src="$3"; dir="$4"; f="$dir/${CLUSTER_FILE}"
         "$aws" --endpoint-url "$endpoint" s3 cp --only-show-errors "$src" "$f"
         gunzip -t "$f"
         gunzip -c "$f" | ${psqlCmd}`,
        'bash-tool', opt.aws, s3.endpoint, `s3://${BUCKET}/${clusterKey}`, restoreDir,
      ],
      env: {
        AWS_ACCESS_KEY_ID: S3RVER_KEY,
        AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: awsConfig,
        AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'aws-credentials-none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      },
      milestones: [{ name: 'downloaded', test: () => findWhole(restoreDir, CLUSTER_FILE, backup.clusterBytes) !== undefined }],
      allowedErrors,
    },
    pgRestore('pg-backups', 'pg-backups restore (cluster, from S3)', { prefix: PREFIX, file: CLUSTER_FILE }),
    pgRestore('encrypted', 'pg-backups restore, age-encrypted (cluster, from S3)', {
      variant: 'age',
      prefix: VARIANTS.age.prefix,
      file: `${CLUSTER_FILE}.age`,
      env: { RESTORE_IDENTITY_FILE: ageKeys?.identityFile },
      vs: 'pg-backups',
    }),
    pgRestore('database', `pg-backups restore, database ${RESTORED_DB} (from S3)`, { prefix: PREFIX, file: dbFile, env: dbEnv, database: RESTORED_DB }),
    ...[1, 4].map((jobs) =>
      pgRestore(`custom-j${jobs}`, `pg-backups restore, database ${RESTORED_DB}, custom format, RESTORE_JOBS=${jobs}`, {
        variant: 'custom',
        prefix: VARIANTS.custom.prefix,
        file: `postgres_db_${RESTORED_DB}.dump`,
        env: { ...dbEnv, RESTORE_JOBS: String(jobs) },
        database: RESTORED_DB,
        vs: 'database',
      }),
    ),
  ].filter((c) => opt.only.includes(c.key));
  // A contender that fails (its backup could not be made, its restore exits non-zero or does not
  // reproduce the source) is reported at once and left out of the next rounds; the others still
  // run, and the benchmark exits 1 after the summary.
  const failures = [];
  for (const c of contenders) {
    if (c.variant && variantFailures[c.variant]) failures.push({ key: c.key, label: c.label, message: `its ${c.variant} backup failed: ${variantFailures[c.variant]}` });
  }
  // When the restoring psql (or pg_restore) starts (not a `--version` probe of pg-backups' tool lookup).
  const probe = new Map();
  const restoringPsql = (p) => {
    if (p.comm !== 'psql' && p.comm !== 'pg_restore') return false;
    if (!probe.has(p.pid)) {
      let argv = '';
      try {
        argv = readFileSync(`/proc/${p.pid}/cmdline`, 'latin1');
      } catch {
        /* gone */
      }
      if (!argv) return false; // gone, or not exec'd yet: judged at the next sample
      probe.set(p.pid, /\0(--version|-V)(\0|$)/.test(`\0${argv}`));
    }
    return !probe.get(p.pid);
  };
  for (const c of contenders) c.milestones = [...(c.milestones ?? []), { name: 'psql', test: (tree) => tree.some(restoringPsql) }];

  const results = Object.fromEntries(contenders.map((c) => [c.key, []]));
  const targetDir = join(workDir, 'target');
  for (let run = 1; run <= opt.runs; run++) {
    for (const c of contenders) {
      if (state.interrupted) throw new Error('interrupted');
      if (failures.some((f) => f.key === c.key)) continue;
      try {
        log(chalk.bold(`run ${run}/${opt.runs}: ${c.label}`));
        // A fresh server for every restore: a new initdb, a new port. Its password is the source's:
        // the cluster file sets the role postgres' password to the source's (ALTER ROLE ... PASSWORD),
        // and the check below logs in after the restore.
        rmSync(restoreDir, { recursive: true, force: true });
        mkdirSync(restoreDir, { recursive: true });
        const target = await startPostgres(targetDir, sourcePassword, { fresh: true });
        log(chalk.dim(`  fresh target: embedded PostgreSQL 15 on 127.0.0.1:${target.port} (new initdb)`));
        let r;
        try {
          const runEnv = { ...env, PGHOST: '127.0.0.1', PGPORT: String(target.port), PGUSER: 'postgres', PGPASSWORD: target.password, ...c.env };
          if (c.database) {
            // A database restore needs its roles: the backup's globals first (not measured), as
            // an operator restoring one database onto a new server would do.
            const { RESTORE_DATABASE, RESTORE_JOBS, ...globalsEnv } = runEnv;
            await runToEnd('pg-backups restore (globals)', process.execPath, [opt.pgBackups, 'restore'], {
              env: { ...globalsEnv, RESTORE_TYPE: 'globals', RESTORE_OVERWRITE: 'true' },
              logFile: join(workDir, `${c.key}-globals.log`),
            });
            log(chalk.dim('  the globals restored first (not measured)'));
          }
          await waitQuiet(opt.quietWait);
          probe.clear();
          r = await measure(c.label, c.command, c.args, {
            env: runEnv,
            logFile: join(workDir, `${c.key}.log`),
            serverPid: target.pid,
            servers: [{ name: 's3rver', pid: s3.pid }],
            milestones: c.milestones,
            verbose: opt.verbose,
          });
          // The restore really worked: no error but the expected ones, and the same databases, rows,
          // first rows, indexes and role as the source.
          if (c.allowedErrors) {
            const errors = readFileSync(join(workDir, `${c.key}.log`), 'utf8').split('\n').filter((l) => /\b(ERROR|FATAL|PANIC):/.test(l));
            const unexpected = errors.filter((l) => !c.allowedErrors.some((re) => re.test(l.replace(/^.*?\b(ERROR|FATAL|PANIC):\s+/, ''))));
            if (unexpected.length) throw new Error(`${c.label}: psql reported errors (${errors.length} in all; see ${join(workDir, `${c.key}.log`)}):\n  ${unexpected.slice(0, 10).join('\n  ')}`);
            if (errors.length) log(chalk.dim(`  psql errors, all expected: ${errors.map((l) => l.trim()).join('; ')}`));
          }
          compareFacts(c.label, c.database ? factsOfDatabase(backup.facts, c.database) : backup.facts, await facts(target.connect));
        } finally {
          await target.stop();
          rmSync(targetDir, { recursive: true, force: true });
          rmSync(restoreDir, { recursive: true, force: true });
        }
        r.others = othersShare(r);
        results[c.key].push(r);
        const marks = Object.entries(r.marks).map(([k, v]) => `${k} at ${fmt(v, 1)} s`).join(', ');
        log(chalk.dim(`  ${fmt(r.wall, 2)} s, peak RSS ${fmt(mb(r.peakRoot))} MB root / ${fmt(mb(r.peakTree))} MB tree${marks ? `; ${marks}` : ''}; checked: same databases, rows and indexes as the source`));
        log(chalk.dim(`  machine busy ${fmt(r.busy * 100, 0)} % (others ${fmt(r.others * 100, 0)} %); CPU s: ${cpuText(r.cpu)}; server CPU s: ${cpuText(r.serverCpu)}; s3rver ${fmt(r.destServerCpu.s3rver)}; sampler ${fmt(r.selfCpu)}`));
        if (opt.verbose && Object.keys(r.rootThreads).length) log(chalk.dim(`  threads of the root process (CPU s): ${cpuText(r.rootThreads)}`));
      } catch (err) {
        if (state.interrupted) throw err;
        failures.push({ key: c.key, label: c.label, message: err?.message ?? String(err) });
        log(chalk.red(`  FAILED: ${c.label}: ${err?.message ?? err}`));
      }
    }
  }

  // --------------------------------------------------------------------------------------------
  const raw = backup.clusterRaw;
  const measured = contenders.filter((c) => results[c.key].length > 0);
  console.log('');
  console.log(chalk.bold('Machine'));
  console.log(`  ${new Date().toISOString().slice(0, 10)}, nproc ${availableParallelism()}, CPU ${cpus()[0]?.model ?? 'unknown'}, RAM ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`);
  console.log(`  ${psqlVersion}; targets: embedded PostgreSQL 15, a fresh initdb per restore (fsync=off, shared_buffers=256MB)`);
  if (awsVersion) console.log(`  ${awsVersion}; S3: s3rver on 127.0.0.1`);
  const made = plainManifest;
  console.log(`  pg-backups ${made.tool?.version ?? '?'} (${opt.pgBackups}); the backup made with pg_dump ${made.pgDump?.version ?? '?'}, gzip level ${made.compression?.level ?? '?'}`);
  console.log(chalk.bold('Data'));
  for (const d of backup.dbSizes) console.log(`  ${d.name.padEnd(10)} pg_database_size ${fmt(mb(d.dbSize)).padStart(7)} MB, tables ${fmt(mb(d.tableSize)).padStart(7)} MB`);
  const sumOf = (k) => backup.dbSizes.reduce((a, d) => a + d[k], 0);
  console.log(`  ${'total'.padEnd(10)} pg_database_size ${fmt(mb(sumOf('dbSize'))).padStart(7)} MB, tables ${fmt(mb(sumOf('tableSize'))).padStart(7)} MB`);
  console.log(`  backup ${backup.folder}: ${CLUSTER_FILE} ${fmt(mb(backup.clusterBytes))} MB gzip, ${fmt(mb(raw))} MB of SQL${raw < 1e9 ? chalk.yellow(' (under 1 GB: a small --scale)') : ''}`);
  const sizeIn = (dir, folder, name) => filesOf(join(dir, folder)).get(name);
  if (measured.some((c) => c.database)) console.log(`  ${dbFile}: ${fmt(mb(sizeIn(backupDir, backup.folder, dbFile)))} MB gzip, ${fmt(mb(dbRaw))} MB of SQL`);
  for (const [v, name] of [['age', `${CLUSTER_FILE}.age`], ['custom', `postgres_db_${RESTORED_DB}.dump`]]) {
    const b = backup.variants?.[v];
    if (b && neededVariants.includes(v)) console.log(`  ${v} backup ${b.folder} (S3 prefix ${VARIANTS[v].prefix}): ${name} ${fmt(mb(sizeIn(VARIANTS[v].dir, b.folder, name)))} MB, the folder ${fmt(mb(dirBytes(join(VARIANTS[v].dir, b.folder))))} MB`);
  }
  console.log('');

  const agg = {};
  for (const c of measured) {
    const rs = results[c.key];
    agg[c.key] = {
      wall: median(rs.map((r) => r.wall)),
      peakTree: Math.max(...rs.map((r) => r.peakTree)),
      peakRoot: Math.max(...rs.map((r) => r.peakRoot)),
      cpu: median(rs.map((r) => Object.values(r.cpu).reduce((a, b) => a + b, 0))),
      serverCpu: median(rs.map((r) => Object.values(r.serverCpu).reduce((a, b) => a + b, 0))),
      s3rverCpu: median(rs.map((r) => r.destServerCpu.s3rver ?? 0)),
      others: median(rs.map((r) => r.others)),
      downloaded: median(rs.map((r) => r.marks.downloaded ?? NaN)),
      psql: median(rs.map((r) => r.marks.psql ?? NaN)),
    };
  }
  const ratio = (a, b) => (a && b ? `${fmt(a.wall / b.wall, 2)}x` : '-');
  /** Per round: wall of contender `k` / wall of contender `ref` in the same round. */
  const perRound = (k, ref) => {
    const n = Math.min(results[k].length, results[ref].length);
    return results[k].slice(0, n).map((x, i) => x.wall / results[ref][i].wall);
  };
  const roundsText = (k, ref) => `per round: ${perRound(k, ref).map((x) => `${fmt(x, 3)}x`).join(', ')}`;
  const TARGET = { bash: 0.5, floor: 1.2, rss: 200e6 };
  const verdict = (ok) => (ok ? chalk.green('OK') : chalk.red('MISSED'));
  const head = ['', 'wall s', 'SQL MB/s', 'peak RSS MB root / tree', 'vs bash tool', 'vs floor', 'vs plain', 'psql from', 'CPU s tree', 'CPU s server', 's3rver', 'others', 'targets'];
  const rows = [head];
  for (const c of measured) {
    const a = agg[c.key];
    let targets = '';
    if (c.key === 'pg-backups') {
      const plain = (ok) => (ok ? 'OK' : 'MISSED');
      targets = [
        agg.bash ? `<=${TARGET.bash}x bash ${plain(a.wall <= TARGET.bash * agg.bash.wall)}` : '',
        agg.floor ? `<=${TARGET.floor}x floor ${plain(a.wall <= TARGET.floor * agg.floor.wall)}` : '',
        `<200 MB ${plain(a.peakTree < TARGET.rss)}`,
      ].filter(Boolean).join(', ');
    }
    rows.push([
      c.label,
      fmt(a.wall, 2),
      fmt(mb(c.database ? dbRaw : raw) / a.wall),
      `${fmt(mb(a.peakRoot))} / ${fmt(mb(a.peakTree))}`,
      c.database ? '-' : ratio(a, agg.bash),
      c.database ? '-' : ratio(a, agg.floor),
      c.vs ? ratio(a, agg[c.vs]) : '-',
      Number.isFinite(a.psql) ? `${fmt(a.psql, 1)} s` : '-',
      fmt(a.cpu),
      fmt(a.serverCpu),
      fmt(a.s3rverCpu),
      `${fmt(a.others * 100, 0)} %`,
      targets,
    ]);
  }
  console.log(chalk.bold(`Results (${opt.runs > 1 ? `median wall of ${opt.runs} runs, peak RSS = max over runs` : 'one run'}; SQL MB/s = ${fmt(mb(raw))} MB of SQL / wall${measured.some((c) => c.database) ? `, ${fmt(mb(dbRaw))} MB for the database ${RESTORED_DB}` : ''})`));
  for (const l of table(rows)) console.log(`  ${l}`);
  console.log(chalk.dim('  wall: spawn to exit; every restore goes onto its own fresh server and is then checked against the source'));
  console.log(chalk.dim('  peak RSS: max over 50 ms samples; root = the command itself (bash, or the node process of pg-backups),'));
  console.log(chalk.dim('  tree = summed RSS of the command and all its descendants (psql, gunzip, aws); the server and s3rver not in it'));
  console.log(chalk.dim('  psql from: when the first psql (pg_restore for a custom-format archive) appeared; CPU s server: the target\'s backends'));
  console.log(chalk.dim(`  vs plain: the encrypted cluster restore / the plain one; the custom-format database restores / the plain restore of ${RESTORED_DB}`));
  console.log(chalk.dim('  others: share of all cores used by processes that are neither the tree, the server, s3rver nor the sampler'));
  const noisy = measured.filter((c) => agg[c.key].others > 0.1);
  if (noisy.length) console.log(chalk.yellow(`  warning: other processes used more than 10 % of the machine during: ${noisy.map((c) => c.key).join(', ')}; the figures are noisy`));
  console.log(chalk.dim(`  per run, wall s (others' load): ${measured.map((c) => `${c.key} ${results[c.key].map((r) => `${fmt(r.wall, 1)} (${fmt(r.others * 100, 0)} %)`).join(', ')}`).join('; ')}`));
  if (agg.bash && Number.isFinite(agg.bash.downloaded)) console.log(chalk.dim(`  bash tool: download done at ${fmt(agg.bash.downloaded, 1)} s, psql from ${fmt(agg.bash.psql, 1)} s (gunzip -t in between)`));

  const pb = agg['pg-backups'];
  if (pb) {
    console.log('');
    console.log(chalk.bold('pg-backups restore'));
    if (Number.isFinite(pb.downloaded)) console.log(`  download of ${CLUSTER_FILE} done at ${fmt(pb.downloaded, 1)} s; first psql at ${fmt(pb.psql, 1)} s; exit at ${fmt(pb.wall, 1)} s`);
    if (agg.bash) {
      const r = pb.wall / agg.bash.wall;
      console.log(`  wall / bash tool: ${fmt(r, 3)}x  (target <= ${TARGET.bash}x) ${verdict(r <= TARGET.bash)}`);
      if (opt.runs > 1) console.log(chalk.dim(`    ${roundsText('pg-backups', 'bash')}`));
    }
    if (agg.floor) {
      const r = pb.wall / agg.floor.wall;
      console.log(`  wall / floor:     ${fmt(r, 3)}x  (target <= ${TARGET.floor}x) ${verdict(r <= TARGET.floor)}`);
      if (opt.runs > 1) console.log(chalk.dim(`    ${roundsText('pg-backups', 'floor')}`));
    }
    console.log(`  peak RSS, whole tree (node + psql): ${fmt(mb(pb.peakTree))} MB  (target < 200 MB) ${verdict(pb.peakTree < TARGET.rss)}`);
    console.log(`  peak RSS, the node process alone:   ${fmt(mb(pb.peakRoot))} MB`);
  }

  // The encrypted and custom-format restores beside the plain ones.
  const pairs = [
    ['encrypted', 'pg-backups', 'encrypted (age, RESTORE_IDENTITY_FILE) / plain, cluster'],
    ['custom-j1', 'database', `custom format, RESTORE_JOBS=1 / plain, database ${RESTORED_DB}`],
    ['custom-j4', 'database', `custom format, RESTORE_JOBS=4 / plain, database ${RESTORED_DB}`],
    ['custom-j4', 'custom-j1', 'custom format, RESTORE_JOBS=4 / RESTORE_JOBS=1'],
  ].filter(([k]) => agg[k]);
  if (pairs.length) {
    console.log('');
    console.log(chalk.bold('Variants beside the plain restore'));
    for (const [k, ref, what] of pairs) {
      const a = agg[k];
      const b = agg[ref];
      if (!b) {
        console.log(chalk.dim(`  ${what}: (run ${ref} too for this ratio)`));
        continue;
      }
      // With several rounds, the median of the per-round ratios (a round's runs share most of the other load).
      const per = perRound(k, ref);
      const r = per.length > 1 ? `${fmt(median(per), 3)}x (median of the per-round ratios; medians ${fmt(a.wall, 2)} / ${fmt(b.wall, 2)} s)` : `${fmt(a.wall / b.wall, 3)}x (${fmt(a.wall, 2)} / ${fmt(b.wall, 2)} s)`;
      console.log(`  ${what}: ${r}; peak RSS tree ${fmt(mb(a.peakTree))} / ${fmt(mb(b.peakTree))} MB`);
      if (opt.runs > 1) console.log(chalk.dim(`    ${roundsText(k, ref)}`));
    }
  }
  if (failures.length) {
    console.log('');
    console.log(chalk.red.bold('FAILED'));
    for (const f of failures) console.log(chalk.red(`  ${f.label}: ${f.message}`));
    throw new Error(`${failures.length} contender(s) failed: ${failures.map((f) => f.key).join(', ')}`);
  }
}

let code = 0;
try {
  await main();
} catch (err) {
  log(chalk.red(`benchmark failed: ${err?.stack ?? err}`));
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
