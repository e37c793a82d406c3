#!/usr/bin/env zx
// Restore benchmark: time to recovery of `pg-backups restore` (a whole cluster, from S3) against
// the bash tool's path (seed 001: download the cluster file from S3 with the AWS CLI, gunzip -t,
// gunzip -c | psql) and against the floor (gunzip -c | psql of a file already on local disk), in
// the same run, each onto its own fresh embedded PostgreSQL 15 (a new initdb every time). Wall time,
// peak RSS of the process tree and of its root process, CPU split. The backup restored is made once
// (not measured) by `pg-backups backup` from the generated cluster of bench/backup.mjs (>= 1 GB of
// SQL at the default scale) into a local s3rver; every restore is checked against the source.
//
//   npm run bench:restore                          # generate, back up, measure once, clean up
//   npm run bench:restore -- --keep                # keep the cluster and its backup (reused by the next --keep run)
//   npm run bench:restore -- --keep --runs 3       # median of 3 rounds
//   npm run bench:restore -- --scale 0.05          # ~50 MB of SQL instead of ~1.1 GB (a quick try)
//   options: --work-dir DIR (BENCH_WORK_DIR), --keep (BENCH_KEEP=1), --runs N (BENCH_RUNS),
//            --scale X (BENCH_SCALE), --regenerate, --only floor,bash,pg-backups, --quiet-wait S,
//            --pg-backups PATH (another build's bin/pg-backups.cjs), --verbose
// See bench/README.md.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { argv, chalk } from 'zx';
import { DATABASES, GENERATOR_VERSION, generate, sizes } from './lib/generate.mjs';
import { children, installExitHandlers, killChildren, measure, removeTempDirs, state, waitQuiet } from './lib/procs.mjs';
import { S3RVER_KEY, freePort, startS3rver } from './lib/servers.mjs';
import { filesOf, finishedFolder, fmt, log, mb, median, root, s3rverObjects, table } from './lib/util.mjs';

const CONTENDERS = ['floor', 'bash', 'pg-backups'];
const opt = {
  keep: Boolean(argv.keep) || ['1', 'true', 'yes'].includes(String(process.env.BENCH_KEEP ?? '').toLowerCase()),
  runs: Math.max(1, Number(argv.runs ?? process.env.BENCH_RUNS ?? 1) || 1),
  // 1.15: ~1.1 GB of plain SQL in the cluster file (scale 1 of the generator gives ~0.97 GB).
  scale: Number(argv.scale ?? process.env.BENCH_SCALE ?? 1.15) || 1.15,
  regenerate: Boolean(argv.regenerate),
  only: String(argv.only ?? CONTENDERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
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
function run(label, command, args, { env, logFile }) {
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
const versionOf = (command, args = ['--version']) => run(command, command, args, { env: process.env }).then((s) => s.trim().split('\n')[0], () => '');

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
  // A backup of this cluster, by this pg-backups, whole: the same files locally and on s3rver.
  const backupWhole = (b, generatedAt) => {
    if (!b || !generatedAt || b.generatedAt !== generatedAt || b.pgBackups !== opt.pgBackups) return false;
    const local = filesOf(join(backupDir, b.folder));
    const remote = s3rverObjects(s3.prefixDir(PREFIX));
    const want = [...local].map(([k, v]) => `${b.folder}/${k} ${v}`).sort().join('\n');
    return local.size > 0 && local.get(CLUSTER_FILE) === b.clusterBytes && want === [...remote].map(([k, v]) => `${k} ${v}`).sort().join('\n');
  };
  let dbSizes;
  if (reuseData && backupWhole(backup, marker.generatedAt)) {
    log(chalk.dim(`reusing the cluster generated ${marker.generatedAt} and its backup ${backup.folder} (--regenerate to make new ones)`));
    dbSizes = backup.dbSizes;
  } else {
    if (!reuseData) {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(markerFile, { force: true });
      writeFileSync(passwordFile, randomBytes(16).toString('hex'), { mode: 0o600 });
    }
    rmSync(backupMarkerFile, { force: true });
    rmSync(backupDir, { recursive: true, force: true });
    rmSync(s3.prefixDir(PREFIX), { recursive: true, force: true });
    const password = readFileSync(passwordFile, 'utf8').trim();
    const source = await startPostgres(dataDir, password, {
      fresh: !reuseData,
      extraFlags: ['-c', 'wal_level=minimal', '-c', 'max_wal_senders=0'], // loading speed only
    });
    log(`source: embedded PostgreSQL 15 on 127.0.0.1:${source.port}`);
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
    log(chalk.bold('backing up the source to s3rver with pg-backups backup (not measured)'));
    const t0 = Date.now();
    mkdirSync(backupDir, { recursive: true });
    await run('pg-backups backup', process.execPath, [opt.pgBackups, 'backup'], {
      env: {
        ...env,
        PGHOST: '127.0.0.1',
        PGPORT: String(source.port),
        PGUSER: 'postgres',
        PGPASSWORD: password,
        BACKUP_DIR: backupDir,
        ...s3.env(PREFIX),
      },
      logFile: join(workDir, 'backup.log'),
    });
    const folder = finishedFolder(backupDir);
    if (!folder) throw new Error(`pg-backups backup exited 0 but left no backup folder in ${backupDir}`);
    const manifest = JSON.parse(readFileSync(join(backupDir, folder, 'manifest.json'), 'utf8'));
    const entry = (manifest.files ?? []).find((f) => f.name === CLUSTER_FILE);
    const clusterBytes = statSync(join(backupDir, folder, CLUSTER_FILE)).size;
    log(chalk.dim(`  backup ${folder} in ${fmt((Date.now() - t0) / 1000)} s; ${CLUSTER_FILE}: ${fmt(mb(clusterBytes))} MB (${fmt(mb(entry?.rawBytes ?? NaN))} MB of SQL)`));
    log(chalk.dim('  reading what every restore must reproduce from the source (row counts, first rows, indexes, roles)'));
    const want = await facts(source.connect);
    await source.stop();
    backup = { generatedAt, pgBackups: opt.pgBackups, folder, clusterBytes, clusterRaw: entry?.rawBytes, dbSizes, facts: want };
    if (!backupWhole(backup, generatedAt)) throw new Error(`the backup on s3rver (${s3.prefixDir(PREFIX)}) does not hold the same files as the local folder ${join(backupDir, backup.folder)}`);
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
    {
      key: 'pg-backups',
      label: 'pg-backups restore (cluster, from S3)',
      command: process.execPath,
      args: [opt.pgBackups, 'restore'],
      env: {
        ...s3.env(PREFIX),
        RESTORE_SOURCE: 's3',
        RESTORE_FOLDER: 'latest',
        RESTORE_TYPE: 'cluster',
        RESTORE_DIR: restoreDir,
        CI: 'true',
      },
      milestones: [{ name: 'downloaded', test: () => findWhole(restoreDir, CLUSTER_FILE, backup.clusterBytes) !== undefined }],
    },
  ].filter((c) => opt.only.includes(c.key));
  // When the restoring psql starts (not a `psql --version` probe of pg-backups' tool lookup).
  const probe = new Map();
  const restoringPsql = (p) => {
    if (p.comm !== 'psql') return false;
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
        await waitQuiet(opt.quietWait);
        probe.clear();
        const runEnv = { ...env, PGHOST: '127.0.0.1', PGPORT: String(target.port), PGUSER: 'postgres', PGPASSWORD: target.password, ...c.env };
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
        compareFacts(c.label, backup.facts, await facts(target.connect));
      } finally {
        await target.stop();
        rmSync(targetDir, { recursive: true, force: true });
        rmSync(restoreDir, { recursive: true, force: true });
      }
      const srvCpu = Object.values(r.destServerCpu).reduce((x, y) => x + y, 0);
      const ours = (Object.values(r.cpu).reduce((x, y) => x + y, 0) + Object.values(r.serverCpu).reduce((x, y) => x + y, 0) + srvCpu + r.selfCpu) / (r.wall * availableParallelism());
      r.others = Math.max(0, r.busy - ours);
      results[c.key].push(r);
      const cpuText = Object.entries(r.cpu).filter(([, s]) => s >= 0.05).map(([k, s]) => `${k} ${fmt(s)}`).join(', ');
      const srvText = Object.entries(r.serverCpu).filter(([, s]) => s >= 0.05).map(([k, s]) => `${k} ${fmt(s)}`).join(', ');
      const marks = Object.entries(r.marks).map(([k, v]) => `${k} at ${fmt(v, 1)} s`).join(', ');
      log(chalk.dim(`  ${fmt(r.wall, 2)} s, peak RSS ${fmt(mb(r.peakRoot))} MB root / ${fmt(mb(r.peakTree))} MB tree${marks ? `; ${marks}` : ''}; checked: same databases, rows and indexes as the source`));
      log(chalk.dim(`  machine busy ${fmt(r.busy * 100, 0)} % (others ${fmt(r.others * 100, 0)} %); CPU s: ${cpuText}; server CPU s: ${srvText}; s3rver ${fmt(srvCpu)}; sampler ${fmt(r.selfCpu)}`));
      if (opt.verbose && Object.keys(r.rootThreads).length) {
        const th = Object.entries(r.rootThreads).filter(([, s]) => s >= 0.05).map(([k, s]) => `${k} ${fmt(s)}`).join(', ');
        log(chalk.dim(`  threads of the root process (CPU s): ${th}`));
      }
    }
  }

  // --------------------------------------------------------------------------------------------
  const raw = backup.clusterRaw;
  console.log('');
  console.log(chalk.bold('Machine'));
  console.log(`  ${new Date().toISOString().slice(0, 10)}, nproc ${availableParallelism()}, CPU ${cpus()[0]?.model ?? 'unknown'}, RAM ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`);
  console.log(`  ${psqlVersion}; targets: embedded PostgreSQL 15, a fresh initdb per restore (fsync=off, shared_buffers=256MB)`);
  if (awsVersion) console.log(`  ${awsVersion}; S3: s3rver on 127.0.0.1`);
  const made = readJson(join(backupDir, backup.folder, 'manifest.json')) ?? {};
  console.log(`  pg-backups ${made.tool?.version ?? '?'} (${opt.pgBackups}); the backup made with pg_dump ${made.pgDump?.version ?? '?'}, gzip level ${made.compression?.level ?? '?'}`);
  console.log(chalk.bold('Data'));
  for (const d of backup.dbSizes) console.log(`  ${d.name.padEnd(10)} pg_database_size ${fmt(mb(d.dbSize)).padStart(7)} MB, tables ${fmt(mb(d.tableSize)).padStart(7)} MB`);
  const sumOf = (k) => backup.dbSizes.reduce((a, d) => a + d[k], 0);
  console.log(`  ${'total'.padEnd(10)} pg_database_size ${fmt(mb(sumOf('dbSize'))).padStart(7)} MB, tables ${fmt(mb(sumOf('tableSize'))).padStart(7)} MB`);
  console.log(`  backup ${backup.folder}: ${CLUSTER_FILE} ${fmt(mb(backup.clusterBytes))} MB gzip, ${fmt(mb(raw))} MB of SQL${raw < 1e9 ? chalk.yellow(' (under 1 GB: a small --scale)') : ''}`);
  console.log('');

  const agg = {};
  for (const c of contenders) {
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
  const TARGET = { bash: 0.5, floor: 1.2, rss: 200e6 };
  const verdict = (ok) => (ok ? chalk.green('OK') : chalk.red('MISSED'));
  const head = ['', 'wall s', 'SQL MB/s', 'peak RSS MB root / tree', 'vs bash tool', 'vs floor', 'psql from', 'CPU s tree', 'CPU s server', 's3rver', 'others', 'targets'];
  const rows = [head];
  for (const c of contenders) {
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
      fmt(mb(raw) / a.wall),
      `${fmt(mb(a.peakRoot))} / ${fmt(mb(a.peakTree))}`,
      ratio(a, agg.bash),
      ratio(a, agg.floor),
      Number.isFinite(a.psql) ? `${fmt(a.psql, 1)} s` : '-',
      fmt(a.cpu),
      fmt(a.serverCpu),
      fmt(a.s3rverCpu),
      `${fmt(a.others * 100, 0)} %`,
      targets,
    ]);
  }
  console.log(chalk.bold(`Results (${opt.runs > 1 ? `median wall of ${opt.runs} runs, peak RSS = max over runs` : 'one run'}; SQL MB/s = ${fmt(mb(raw))} MB of SQL / wall)`));
  for (const l of table(rows)) console.log(`  ${l}`);
  console.log(chalk.dim('  wall: spawn to exit; every restore goes onto its own fresh server and is then checked against the source'));
  console.log(chalk.dim('  peak RSS: max over 50 ms samples; root = the command itself (bash, or the node process of pg-backups),'));
  console.log(chalk.dim('  tree = summed RSS of the command and all its descendants (psql, gunzip, aws); the server and s3rver not in it'));
  console.log(chalk.dim('  psql from: when the first psql appeared (after the download and the checks); CPU s server: the target\'s backends'));
  console.log(chalk.dim('  others: share of all cores used by processes that are neither the tree, the server, s3rver nor the sampler'));
  const noisy = contenders.filter((c) => agg[c.key].others > 0.1);
  if (noisy.length) console.log(chalk.yellow(`  warning: other processes used more than 10 % of the machine during: ${noisy.map((c) => c.key).join(', ')}; the figures are noisy`));
  console.log(chalk.dim(`  per run, wall s (others' load): ${contenders.map((c) => `${c.key} ${results[c.key].map((r) => `${fmt(r.wall, 1)} (${fmt(r.others * 100, 0)} %)`).join(', ')}`).join('; ')}`));
  if (agg.bash && Number.isFinite(agg.bash.downloaded)) console.log(chalk.dim(`  bash tool: download done at ${fmt(agg.bash.downloaded, 1)} s, psql from ${fmt(agg.bash.psql, 1)} s (gunzip -t in between)`));

  const pb = agg['pg-backups'];
  if (pb) {
    console.log('');
    console.log(chalk.bold('pg-backups restore'));
    if (Number.isFinite(pb.downloaded)) console.log(`  download of ${CLUSTER_FILE} done at ${fmt(pb.downloaded, 1)} s; first psql at ${fmt(pb.psql, 1)} s; exit at ${fmt(pb.wall, 1)} s`);
    if (agg.bash) {
      const r = pb.wall / agg.bash.wall;
      console.log(`  wall / bash tool: ${fmt(r, 3)}x  (target <= ${TARGET.bash}x) ${verdict(r <= TARGET.bash)}`);
      if (opt.runs > 1) {
        const per = results['pg-backups'].map((x, i) => x.wall / results.bash[i].wall);
        console.log(chalk.dim(`    per round: ${per.map((x) => `${fmt(x, 3)}x`).join(', ')}`));
      }
    }
    if (agg.floor) {
      const r = pb.wall / agg.floor.wall;
      console.log(`  wall / floor:     ${fmt(r, 3)}x  (target <= ${TARGET.floor}x) ${verdict(r <= TARGET.floor)}`);
      if (opt.runs > 1) {
        const per = results['pg-backups'].map((x, i) => x.wall / results.floor[i].wall);
        console.log(chalk.dim(`    per round: ${per.map((x) => `${fmt(x, 3)}x`).join(', ')}`));
      }
    }
    console.log(`  peak RSS, whole tree (node + psql): ${fmt(mb(pb.peakTree))} MB  (target < 200 MB) ${verdict(pb.peakTree < TARGET.rss)}`);
    console.log(`  peak RSS, the node process alone:   ${fmt(mb(pb.peakRoot))} MB`);
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
