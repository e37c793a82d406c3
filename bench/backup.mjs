#!/usr/bin/env zx
// Backup benchmark: pg-backups against the floor (pg_dump > /dev/null) and the seed 001 shell
// pipeline (pg_dumpall | gzip, pg_dumpall -g | gzip, pg_dump DB | gzip for each database), on a
// generated cluster of realistic, not overly compressible data (>= 1 GB over 3 databases) served
// by an embedded PostgreSQL 15. Wall time, throughput, peak RSS of the process tree, CPU split.
// A fourth contender ("destinations") runs the same backup with S3 (a local s3rver) and a remote
// host (a private sshd, rsync over ssh) enabled, and times the upload phase. Three more run the
// local backup encrypted with age (an X25519 recipient made for the run; seed 002's passphrase
// mode) and in pg_dump's custom format (BACKUP_FORMAT=custom), each compared with the plain one.
//
//   npm run bench                          # generate, measure once, clean up
//   npm run bench -- --keep                # keep the generated cluster (reused by the next --keep run)
//   npm run bench -- --keep --runs 3       # median of 3 rounds
//   npm run bench -- --scale 0.1           # ~130 MB instead of ~1.3 GB (a quick try)
//   options: --work-dir DIR (BENCH_WORK_DIR), --keep (BENCH_KEEP=1), --runs N (BENCH_RUNS),
//            --scale X (BENCH_SCALE), --regenerate, --quiet-wait S (BENCH_QUIET_WAIT), --verbose,
//            --pg-backups PATH (BENCH_PG_BACKUPS: another build's bin/pg-backups.cjs),
//            --only floor,seed,pg-backups,encrypted,passphrase,custom,destinations (all by default)
// See bench/README.md.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { argv, chalk } from 'zx';
import { GENERATOR_VERSION, generate, sizes } from './lib/generate.mjs';
import { children, cpuText, installExitHandlers, killChildren, measure, othersShare, removeTempDirs, state, tempDirs, waitQuiet } from './lib/procs.mjs';
import { execFileP, freePort, startS3rver, startServer } from './lib/servers.mjs';
import { dirBytes, filesOf, finishedFolder, fmt, log, mb, median, root, s3rverObjects, table } from './lib/util.mjs';
import { ageKeyPair, benchPassphrase, checkVariant } from './lib/variants.mjs';

const CONTENDERS = ['floor', 'seed', 'pg-backups', 'encrypted', 'passphrase', 'custom', 'destinations'];
/** The most encryption may add to the plain backup's wall time (issue 11): reported, not asserted. */
const ENCRYPTION_TARGET = 1.1;

const opt = {
  keep: Boolean(argv.keep) || ['1', 'true', 'yes'].includes(String(process.env.BENCH_KEEP ?? '').toLowerCase()),
  runs: Math.max(1, Number(argv.runs ?? process.env.BENCH_RUNS ?? 1) || 1),
  scale: Number(argv.scale ?? process.env.BENCH_SCALE ?? 1) || 1,
  regenerate: Boolean(argv.regenerate),
  only: String(argv.only ?? CONTENDERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
  onlyGiven: argv.only !== undefined,
  verbose: Boolean(argv.verbose),
  // Before each measurement, wait (up to this many seconds) for the machine to be idle: on a shared
  // VM, other load slows the parallel contender (pg-backups) much more than the serial ones.
  quietWait: Number(argv['quiet-wait'] ?? process.env.BENCH_QUIET_WAIT ?? 120),
  level: Number(process.env.COMPRESSION_LEVEL ?? 6),
  pgBackups: resolve(String(argv['pg-backups'] ?? process.env.BENCH_PG_BACKUPS ?? join(root, 'bin', 'pg-backups.cjs'))),
};
for (const k of opt.only) if (!CONTENDERS.includes(k)) throw new Error(`--only: unknown contender ${JSON.stringify(k)} (known: ${CONTENDERS.join(', ')})`);
const workDir = resolve(
  argv['work-dir'] ?? process.env.BENCH_WORK_DIR ?? (opt.keep ? join(tmpdir(), 'pg-backups-bench') : mkdtempSync(join(tmpdir(), 'pg-backups-bench-'))),
);

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path: children of ours (by process group), the server, the temp dir.
let server;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killChildren('SIGTERM');
  if (server) await server.stop().catch(() => {});
  removeTempDirs();
  if (!opt.keep) rmSync(workDir, { recursive: true, force: true });
}
installExitHandlers({
  cleanup,
  onExit: () => {
    if (!opt.keep && !cleaned) rmSync(workDir, { recursive: true, force: true });
  },
});

// Remote host: a private OpenSSH server on 127.0.0.1 (random free port, generated ed25519 host and
// client keys, a known_hosts file for [127.0.0.1]:PORT, key-only login as the current user, root
// here), and a temp folder standing for the remote disk.
async function startSshd() {
  for (const tool of ['/usr/sbin/sshd', 'ssh-keygen', 'rsync', 'ssh']) {
    const found = tool.startsWith('/') ? existsSync(tool) : await execFileP('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false);
    if (!found) throw new Error(`${tool} is missing (Debian: apt-get install openssh-server openssh-client rsync)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pg-backups-bench-sshd-'));
  tempDirs.add(dir);
  chmodSync(dir, 0o700);
  const remote = join(dir, 'remote');
  mkdirSync(remote);
  mkdirSync('/run/sshd', { recursive: true });
  const keyPair = async (name) => {
    const path = join(dir, name);
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `pg-backups-bench-${name}`, '-f', path]);
    return [path, readFileSync(`${path}.pub`, 'utf8').trim()];
  };
  const [hostKey, hostPub] = await keyPair('hostkey');
  const [clientKey, clientPub] = await keyPair('client');
  writeFileSync(join(dir, 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 });
  const port = await freePort();
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const user = userInfo().username;
  const args = [
    '-D', '-e', '-f', '/dev/null', '-p', String(port),
    '-o', 'ListenAddress=127.0.0.1',
    '-h', hostKey,
    '-o', `AuthorizedKeysFile=${join(dir, 'authorized_keys')}`,
    '-o', `PidFile=${join(dir, 'sshd.pid')}`,
    '-o', 'StrictModes=no', // keys under /tmp fail the ownership check
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'PermitRootLogin=prohibit-password',
    '-o', 'UsePAM=no',
    '-o', 'Subsystem=sftp internal-sftp',
    '-o', 'MaxStartups=50',
    '-o', 'MaxSessions=50',
  ];
  const srv = await startServer('sshd', '/usr/sbin/sshd', args, port);
  return {
    ...srv,
    dir,
    remote,
    env: (path) => ({
      RSYNC_ENABLED: 'true',
      RSYNC_HOST: '127.0.0.1',
      RSYNC_PORT: String(port),
      RSYNC_USER: user,
      RSYNC_PATH: path,
      RSYNC_SSH_KEY: clientKey,
      RSYNC_KNOWN_HOSTS: knownHosts,
    }),
  };
}

async function main() {
  if (!existsSync(opt.pgBackups)) throw new Error(`--pg-backups: ${opt.pgBackups} does not exist`);
  if (!existsSync(join(opt.pgBackups, '..', '..', 'dist', 'cli.js'))) throw new Error(`${opt.pgBackups}: no dist/cli.js beside it; build it first (npm run build)`);
  const pgDumpVersion = await new Promise((res) => {
    const p = spawn('pg_dump', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    p.stdout.on('data', (d) => (s += d));
    p.on('error', () => res(''));
    p.on('close', () => res(s.trim()));
  });
  if (!/PostgreSQL\)\s+15\./.test(pgDumpVersion)) log(chalk.yellow(`warning: the benchmark serves PostgreSQL 15; pg_dump on PATH is: ${pgDumpVersion || 'missing'}`));
  const { default: EmbeddedPostgres } = await import('epg15');
  const pg = (await import('pg')).default;

  mkdirSync(workDir, { recursive: true });
  chmodSync(workDir, 0o755);
  const sockDir = join(workDir, 'sock');
  mkdirSync(sockDir, { recursive: true });
  chmodSync(sockDir, 0o1777);
  const dataDir = join(workDir, 'data');
  const markerFile = join(workDir, 'generated.json');
  const passwordFile = join(workDir, 'password'); // mode 0600; for --keep only: the next run must log in
  let marker;
  try {
    marker = JSON.parse(readFileSync(markerFile, 'utf8'));
  } catch {
    marker = undefined;
  }
  const reuse = opt.keep && !opt.regenerate && marker?.version === GENERATOR_VERSION && marker?.scale === opt.scale && existsSync(dataDir) && existsSync(passwordFile);
  if (!reuse) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(markerFile, { force: true });
    writeFileSync(passwordFile, randomBytes(16).toString('hex'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = await freePort();
  server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: true, // we remove the work dir ourselves (unless --keep)
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${sockDir}`,
      // Loading speed only: the measured dumps only read. No durability needed for a throwaway cluster.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0', '-c', 'max_wal_size=8GB', '-c', 'checkpoint_timeout=1h',
      '-c', 'shared_buffers=256MB', '-c', 'maintenance_work_mem=256MB',
    ],
    onLog: () => {},
  });
  const connect = async (database) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
    await c.connect();
    return c;
  };

  log(chalk.bold(`pg-backups backup benchmark — work dir ${workDir}${opt.keep ? ' (kept)' : ' (removed at the end)'}`));
  if (!reuse) await server.initialise();
  await server.start();
  const serverPid = server.process.pid;
  log(`embedded PostgreSQL 15 on 127.0.0.1:${port}; client: ${pgDumpVersion}`);

  if (reuse) {
    log(chalk.dim(`reusing the cluster generated ${marker.generatedAt} (--regenerate to make a new one)`));
  } else {
    log(chalk.bold(`generating the data (scale ${opt.scale}) server-side…`));
    const secs = await generate(connect, { scale: opt.scale });
    writeFileSync(markerFile, JSON.stringify({ version: GENERATOR_VERSION, scale: opt.scale, generatedAt: new Date().toISOString(), seconds: secs }));
    log(`generated in ${fmt(secs)} s`);
  }
  const dbSizes = await sizes(connect);
  const databases = dbSizes.map((d) => d.name);

  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(PG[A-Z_]*|DATABASE_URL|BACKUP_[A-Z_]*|COMPRESSION_LEVEL|S3_[A-Z_]*|RSYNC_[A-Z_]*|[A-Z]+_RETENTION_DAYS|RETRY_[A-Z_]*)$/.test(k)) delete env[k];
  Object.assign(env, { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: password });

  // Warm-up (not measured as a contender): every database through pg_dump once, counting bytes.
  // Puts the data in the page cache and gives the plain-SQL size each database dumps to.
  log(chalk.bold('warm-up: pg_dump of every database, counting the plain SQL bytes'));
  const dumpBytes = {};
  const warm0 = Date.now();
  for (const db of databases) {
    dumpBytes[db] = await new Promise((res, rej) => {
      const p = spawn('pg_dump', ['--no-password', db], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
      children.add(p.pid);
      let n = 0;
      p.stdout.on('data', (d) => (n += d.length));
      p.on('error', rej);
      p.on('close', (code) => {
        children.delete(p.pid);
        code === 0 ? res(n) : rej(new Error(`pg_dump ${db} failed (exit code ${code})`));
      });
    });
  }
  const totalDump = Object.values(dumpBytes).reduce((a, b) => a + b, 0);
  log(chalk.dim(`  ${fmt(mb(totalDump))} MB of plain SQL in ${fmt((Date.now() - warm0) / 1000)} s`));

  // The destinations contender ships to servers of its own, started once (not measured, like
  // PostgreSQL): s3rver and a private sshd, both on 127.0.0.1.
  let dest;
  if (opt.only.includes('destinations')) {
    try {
      log(chalk.bold('starting the destinations: s3rver and a private sshd on 127.0.0.1'));
      const s3 = await startS3rver('pg-backups-bench');
      const sshd = await startSshd();
      dest = { s3, sshd };
      log(chalk.dim(`  s3rver pid ${s3.pid} (${s3.dir}), sshd pid ${sshd.pid} (${sshd.remote})`));
    } catch (err) {
      if (opt.onlyGiven) throw err;
      log(chalk.yellow(`skipping the destinations contender: ${err.message}`));
      opt.only = opt.only.filter((k) => k !== 'destinations');
    }
  }

  const outDir = join(workDir, 'out');
  const dbArgs = databases;
  const level = String(opt.level);
  // Keys made for this run, reaching pg-backups through its environment only: an age X25519
  // identity (in a temp folder, removed at the end) whose public key the encrypted contender
  // encrypts to, and a random passphrase for seed 002's passphrase mode.
  let keys = {};
  if (opt.only.includes('encrypted') || opt.only.includes('passphrase')) {
    const dir = mkdtempSync(join(tmpdir(), 'pg-backups-bench-keys-'));
    tempDirs.add(dir);
    chmodSync(dir, 0o700);
    keys = { ...(await ageKeyPair(join(dir, 'age-identity.txt'))), passphrase: benchPassphrase() };
  }
  /** `pg-backups backup` into a fresh folder of the out dir, with `env` on top of the run's. */
  const pgBackups = (key, label, more = {}) => ({
    key,
    label,
    command: process.execPath,
    args: [opt.pgBackups, 'backup', '--backup-dir', join(outDir, key), '--compression-level', level],
    out: join(outDir, key),
    ...more,
  });
  const contenders = [
    {
      key: 'floor',
      label: 'floor: pg_dump > /dev/null, each DB',
      command: 'bash',
      args: ['-c', 'set -eo pipefail; for db in "$@"; do pg_dump --no-password "$db" > /dev/null; done', 'floor', ...dbArgs],
    },
    {
      key: 'seed',
      label: `seed 001: pg_dumpall|gzip -${level}, -g|gzip, pg_dump|gzip each`,
      command: 'bash',
      args: [
        '-c',
        `set -eo pipefail; out="$1"; shift
         pg_dumpall --no-password | gzip -${level} > "$out/cluster.sql.gz"
         pg_dumpall --no-password -g | gzip -${level} > "$out/globals.sql.gz"
         for db in "$@"; do pg_dump --no-password "$db" | gzip -${level} > "$out/$db.sql.gz"; done`,
        'seed', join(outDir, 'seed'), ...dbArgs,
      ],
      out: join(outDir, 'seed'),
    },
    pgBackups('pg-backups', 'pg-backups backup', { variant: 'plain' }),
    pgBackups('encrypted', 'pg-backups, age X25519 recipient', { variant: 'age', env: { BACKUP_ENCRYPTION_RECIPIENTS: keys.recipient } }),
    pgBackups('passphrase', 'pg-backups, age passphrase', { variant: 'passphrase', env: { BACKUP_ENCRYPTION: 'true', BACKUP_ENCRYPTION_KEY: keys.passphrase } }),
    // No cluster file in a custom-format backup: every database is written once.
    pgBackups('custom', 'pg-backups, BACKUP_FORMAT=custom', { variant: 'custom', env: { BACKUP_FORMAT: 'custom' }, copies: 1 }),
    pgBackups('destinations', 'pg-backups + S3 + remote', { destinations: true }),
  ].filter((c) => opt.only.includes(c.key));

  const results = Object.fromEntries(contenders.map((c) => [c.key, []]));
  // A contender that fails (exits non-zero, or its backup is not what its settings asked for) is
  // reported at once and left out of the next rounds; the others still run, and the benchmark
  // exits 1 after the summary.
  const failures = [];
  for (let run = 1; run <= opt.runs; run++) {
    for (const c of contenders) {
      if (failures.some((f) => f.key === c.key)) continue;
      try {
        await measureContender(c, run);
      } catch (err) {
        if (state.interrupted) throw err;
        failures.push({ key: c.key, label: c.label, message: err?.message ?? String(err) });
        log(chalk.red(`  FAILED: ${c.label}: ${err?.message ?? err}`));
      }
    }
  }
  async function measureContender(c, run) {
    rmSync(outDir, { recursive: true, force: true });
    if (c.out) mkdirSync(c.out, { recursive: true });
    log(chalk.bold(`run ${run}/${opt.runs}: ${c.label}`));
    await waitQuiet(opt.quietWait);
    let runEnv = c.env ? { ...env, ...c.env } : env;
    let servers = [];
    let milestones = [];
    let shipped;
    if (c.destinations) {
      // A fresh S3 prefix and remote folder per round: each holds exactly this round's backup.
      const prefix = `bench-run${run}`;
      const remotePath = join(dest.sshd.remote, `run${run}`);
      runEnv = { ...env, ...dest.s3.env(prefix), ...dest.sshd.env(remotePath) };
      servers = [
        { name: 's3rver', pid: dest.s3.pid },
        { name: 'sshd', pid: dest.sshd.pid },
      ];
      let folder;
      milestones = [
        { name: 'local', test: () => (folder ??= finishedFolder(c.out)) !== undefined },
        { name: 's3', test: () => folder !== undefined && existsSync(join(dest.s3.prefixDir(prefix), folder, 'manifest.json._S3rver_object')) },
        { name: 'remote', test: () => folder !== undefined && existsSync(join(remotePath, folder)) },
      ];
      shipped = () => {
        // The backup really arrived: the same files, of the same sizes, locally, in s3rver's
        // folder and on the "remote disk"; nothing hidden (markers, partial folders) left over.
        const name = finishedFolder(c.out);
        if (!name) throw new Error(`${c.label}: no finished backup folder in ${c.out}`);
        const local = filesOf(join(c.out, name));
        const s3 = s3rverObjects(dest.s3.prefixDir(prefix));
        const remote = filesOf(remotePath);
        const want = [...local].map(([k, v]) => `${name}/${k} ${v}`).sort().join('\n');
        const show = (m) => [...m].map(([k, v]) => `${k} ${v}`).sort().join('\n');
        if (show(s3) !== want) throw new Error(`${c.label}: S3 does not hold the local backup.\nlocal:\n${want}\nS3 (${dest.s3.prefixDir(prefix)}):\n${show(s3)}`);
        if (show(remote) !== want) throw new Error(`${c.label}: the remote folder does not hold the local backup.\nlocal:\n${want}\nremote (${remotePath}):\n${show(remote)}`);
        const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
        const out = { folder: name, files: local.size, local: sum(local), s3: sum(s3), remote: sum(remote) };
        // Free the disk for the next round (s3rver keeps running; its bucket stays).
        rmSync(dest.s3.prefixDir(prefix), { recursive: true, force: true });
        rmSync(remotePath, { recursive: true, force: true });
        return out;
      };
    }
    const r = await measure(c.label, c.command, c.args, { env: runEnv, logFile: join(workDir, `${c.key}.log`), serverPid, servers, milestones, verbose: opt.verbose });
    r.outBytes = c.out ? dirBytes(c.out) : 0;
    if (c.variant) {
      // The backup is what its settings asked for (encrypted, custom archives), not a plain
      // backup of a build that ignores them; and the bytes of its databases' own files.
      const folder = finishedFolder(c.out);
      if (!folder) throw new Error(`${c.label}: exit 0 but no finished backup folder in ${c.out}`);
      r.dbFiles = checkVariant(c.variant, join(c.out, folder), { databases: databases.length });
      log(chalk.dim(`  checked: ${c.variant} backup, ${r.dbFiles.count} database files of ${fmt(mb(r.dbFiles.bytes))} MB, ${fmt(mb(r.outBytes))} MB in all`));
    }
    if (shipped) {
      r.shipped = shipped();
      const m = r.marks;
      const at = (k) => (m[k] === undefined ? '-' : `${fmt(m[k], 1)} s`);
      log(chalk.dim(`  arrived: ${r.shipped.files} files, local ${fmt(mb(r.shipped.local))} MB = S3 ${fmt(mb(r.shipped.s3))} MB = remote ${fmt(mb(r.shipped.remote))} MB; local backup done at ${at('local')}, S3 at ${at('s3')}, remote at ${at('remote')}, exit at ${fmt(r.wall, 1)} s; peak RSS dump phase ${fmt(mb(r.peakBefore))} MB, upload phase ${fmt(mb(r.peakAfter))} MB (node alone ${fmt(mb(r.rootAfter))} MB); s3rver ${fmt(r.destServerCpu.s3rver)} CPU s, sshd ${fmt(r.destServerCpu.sshd)} CPU s`));
    }
    r.others = othersShare(r);
    results[c.key].push(r);
    log(chalk.dim(`  ${fmt(r.wall, 2)} s, peak RSS ${fmt(mb(r.peakTree))} MB, machine busy ${fmt(r.busy * 100, 0)} % (others ${fmt(r.others * 100, 0)} %); CPU s: ${cpuText(r.cpu)}; server CPU s: ${cpuText(r.serverCpu)}; sampler ${fmt(r.selfCpu)}`));
    if (opt.verbose && Object.keys(r.rootThreads).length) log(chalk.dim(`  threads of the root process (CPU s): ${cpuText(r.rootThreads)}`));
  }
  rmSync(outDir, { recursive: true, force: true });

  // --------------------------------------------------------------------------------------------
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  console.log('');
  console.log(chalk.bold('Machine'));
  console.log(`  ${new Date().toISOString().slice(0, 10)}, nproc ${availableParallelism()}, CPU ${cpuModel}, RAM ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`);
  console.log(`  ${pgDumpVersion}, server: embedded PostgreSQL 15, gzip level ${level}; pg-backups: ${opt.pgBackups}`);
  console.log(chalk.bold('Data'));
  for (const d of dbSizes) console.log(`  ${d.name.padEnd(10)} pg_database_size ${fmt(mb(d.dbSize)).padStart(7)} MB, tables ${fmt(mb(d.tableSize)).padStart(7)} MB, plain dump ${fmt(mb(dumpBytes[d.name] ?? 0)).padStart(7)} MB`);
  const sum = (k) => dbSizes.reduce((a, d) => a + d[k], 0);
  console.log(`  ${'total'.padEnd(10)} pg_database_size ${fmt(mb(sum('dbSize'))).padStart(7)} MB, tables ${fmt(mb(sum('tableSize'))).padStart(7)} MB, plain dump ${fmt(mb(totalDump)).padStart(7)} MB`);
  console.log('');
  const measured = contenders.filter((c) => results[c.key].length > 0);
  const agg = {};
  for (const c of measured) {
    const rs = results[c.key];
    agg[c.key] = {
      wall: median(rs.map((r) => r.wall)),
      peakTree: Math.max(...rs.map((r) => r.peakTree)),
      peakRoot: Math.max(...rs.map((r) => r.peakRoot)),
      outBytes: median(rs.map((r) => r.outBytes)),
      dbBytes: median(rs.map((r) => r.dbFiles?.bytes ?? NaN)),
      cpu: median(rs.map((r) => Object.values(r.cpu).reduce((a, b) => a + b, 0))),
      serverCpu: median(rs.map((r) => Object.values(r.serverCpu).reduce((a, b) => a + b, 0))),
      busy: median(rs.map((r) => r.busy)),
      others: median(rs.map((r) => r.others)),
    };
    if (c.destinations) {
      const markOf = (k) => median(rs.map((r) => r.marks[k] ?? NaN));
      Object.assign(agg[c.key], {
        marks: { local: markOf('local'), s3: markOf('s3'), remote: markOf('remote') },
        peakBefore: Math.max(...rs.map((r) => r.peakBefore)),
        peakAfter: Math.max(...rs.map((r) => r.peakAfter)),
        rootAfter: Math.max(...rs.map((r) => r.rootAfter)),
        s3rverCpu: median(rs.map((r) => r.destServerCpu.s3rver)),
        sshdCpu: median(rs.map((r) => r.destServerCpu.sshd)),
        shipped: rs[rs.length - 1].shipped,
      });
    }
  }
  const head = ['', 'wall s', 'MB/s', 'peak RSS MB', 'output MB', 'gzip ratio', 'CPU s (tree)', 'CPU s (server)', 'machine busy', 'others'];
  const rows = [head];
  for (const c of measured) {
    const a = agg[c.key];
    rows.push([
      c.label,
      fmt(a.wall, 2),
      fmt(mb(totalDump) / a.wall),
      fmt(mb(a.peakTree)),
      c.out ? fmt(mb(a.outBytes)) : '-',
      c.out && a.outBytes ? `${fmt(((c.copies ?? 2) * totalDump) / a.outBytes, 2)}x` : '-',
      fmt(a.cpu),
      fmt(a.serverCpu),
      `${fmt(a.busy * 100, 0)} %`,
      `${fmt(a.others * 100, 0)} %`,
    ]);
  }
  console.log(chalk.bold(`Results (${opt.runs > 1 ? `median wall of ${opt.runs} runs, peak RSS = max over runs` : 'one run'}; MB/s = ${fmt(mb(totalDump))} MB of plain SQL / wall)`));
  for (const l of table(rows)) console.log(`  ${l}`);
  console.log(chalk.dim('  peak RSS: max over 50 ms samples of the summed RSS of the command and all its descendants (the server excluded)'));
  console.log(chalk.dim('  machine busy: share of all cores busy during the run (/proc/stat); others: the part of it not used by the'));
  console.log(chalk.dim('  measured tree, the server or this script\'s sampling: other load on the machine, which slows the parallel contender most'));
  const noisy = measured.filter((c) => agg[c.key].others > 0.1);
  if (noisy.length) console.log(chalk.yellow(`  warning: other processes used more than 10 % of the machine during: ${noisy.map((c) => c.key).join(', ')}; the figures are noisy`));
  console.log(chalk.dim('  gzip ratio: 2 x plain SQL / output bytes (every database is written twice: its own file and the cluster file;'));
  console.log(chalk.dim('  once for BACKUP_FORMAT=custom, which has no cluster file: 1 x plain SQL / output, pg_dump -Fc\'s compression)'));
  console.log(chalk.dim(`  per run, wall s (others' load): ${measured.map((c) => `${c.key} ${results[c.key].map((r) => `${fmt(r.wall, 1)} (${fmt(r.others * 100, 0)} %)`).join(', ')}`).join('; ')}`));
  const pb = agg['pg-backups'];
  if (pb) {
    console.log('');
    console.log(chalk.bold('pg-backups'));
    if (agg.seed) {
      const r = pb.wall / agg.seed.wall;
      console.log(`  wall / seed pipeline: ${fmt(r, 3)}x  (target <= 0.3x) ${r <= 0.3 ? chalk.green('OK') : chalk.red('MISSED')}`);
      if (opt.runs > 1) {
        const per = results['pg-backups'].map((x, i) => x.wall / results.seed[i].wall);
        console.log(chalk.dim(`    per round: ${per.map((x) => `${fmt(x, 3)}x`).join(', ')} (median ${fmt(median(per), 3)}x)`));
      }
    }
    if (agg.floor) console.log(`  wall / floor:         ${fmt(pb.wall / agg.floor.wall, 2)}x`);
    const ok = pb.peakTree < 200e6;
    console.log(`  peak RSS, whole tree (node + pg_dump): ${fmt(mb(pb.peakTree))} MB  (target < 200 MB) ${ok ? chalk.green('OK') : chalk.red('MISSED')}`);
    console.log(`  peak RSS, the node process alone:      ${fmt(mb(pb.peakRoot))} MB`);
  }
  const d = agg.destinations;
  if (d) {
    const sh = d.shipped;
    const bytes = mb(sh.local);
    console.log('');
    console.log(chalk.bold('pg-backups + S3 + remote'));
    console.log(`  exit 0; the backup arrived: ${sh.files} files, local ${fmt(bytes)} MB = S3 ${fmt(mb(sh.s3))} MB (s3rver's folder) = remote ${fmt(mb(sh.remote))} MB (RSYNC_PATH)`);
    if (pb) {
      const up = d.wall - pb.wall;
      console.log(`  upload phase = wall - local-only pg-backups wall: ${fmt(d.wall, 2)} - ${fmt(pb.wall, 2)} = ${fmt(up, 2)} s; ${fmt(2 * bytes)} MB shipped (${fmt(bytes)} MB to each destination): ${fmt((2 * bytes) / up)} MB/s`);
    } else {
      console.log(chalk.dim('  (run the pg-backups contender too for the upload phase as wall - local-only wall)'));
    }
    const m = d.marks;
    const since = (k) => m[k] - m.local;
    console.log(`  seen in the sampling: local backup finished at ${fmt(m.local, 1)} s; then S3 done after ${fmt(since('s3'), 1)} s (${fmt(bytes / since('s3'))} MB/s), remote after ${fmt(since('remote'), 1)} s (${fmt(bytes / since('remote'))} MB/s), exit after ${fmt(d.wall - m.local, 1)} s`);
    console.log(`  peak RSS of the tree (node, pg_dump, rsync, ssh; not s3rver, not sshd): dump phase ${fmt(mb(d.peakBefore))} MB, upload phase ${fmt(mb(d.peakAfter))} MB (target < 200 MB) ${d.peakTree < 200e6 ? chalk.green('OK') : chalk.red('MISSED')}`);
    console.log(`  peak RSS of the node process alone: ${fmt(mb(d.peakRoot))} MB, in the upload phase ${fmt(mb(d.rootAfter))} MB`);
    console.log(`  CPU s of the servers (on the same cores): s3rver ${fmt(d.s3rverCpu)}, sshd + its sessions (rsync --server) ${fmt(d.sshdCpu)}`);
  }
  printVariants(agg, results);
  if (failures.length) {
    console.log('');
    console.log(chalk.red.bold('FAILED'));
    for (const f of failures) console.log(chalk.red(`  ${f.label}: ${f.message}`));
    throw new Error(`${failures.length} contender(s) failed: ${failures.map((f) => f.key).join(', ')}`);
  }
}

/** The encrypted and custom-format backups beside the plain one: wall time and bytes ratios. */
function printVariants(agg, results) {
  const variants = ['encrypted', 'passphrase', 'custom'].filter((k) => agg[k]);
  if (!variants.length) return;
  console.log('');
  console.log(chalk.bold('pg-backups variants / the plain backup'));
  const pb = agg['pg-backups'];
  if (!pb) {
    console.log(chalk.dim('  (run the pg-backups contender too for the ratios: --only pg-backups,' + variants.join(',') + ')'));
    return;
  }
  const perRound = (k) => {
    const n = Math.min(results[k].length, results['pg-backups'].length);
    return results[k].slice(0, n).map((x, i) => x.wall / results['pg-backups'][i].wall);
  };
  const rounds = (k) => (opt.runs > 1 ? chalk.dim(`; per round ${perRound(k).map((x) => `${fmt(x, 3)}x`).join(', ')}`) : '');
  // The ratio judged: with several rounds, the median of the per-round ratios (a round's two runs
  // follow each other, so they share most of the other load); with one, the ratio of the walls.
  const judged = (k) => (perRound(k).length > 1 ? { r: median(perRound(k)), how: 'median of the per-round ratios' } : { r: agg[k].wall / pb.wall, how: 'ratio of the walls' });
  for (const [k, what] of [['encrypted', 'age, X25519 recipient'], ['passphrase', 'age, passphrase (scrypt, once per file)']]) {
    const a = agg[k];
    if (!a) continue;
    const { r, how } = judged(k);
    const verdict = r <= ENCRYPTION_TARGET ? chalk.green('meets it') : chalk.red('MISSES it');
    console.log(`  ${k} (${what}) / plain wall: ${fmt(r, 3)}x (${how}; medians ${fmt(a.wall, 2)} / ${fmt(pb.wall, 2)} s), encryption costs ${fmt((r - 1) * 100, 1)} % (target <= ${fmt((ENCRYPTION_TARGET - 1) * 100, 0)} % at level ${opt.level}: ${verdict})${rounds(k)}`);
    // CPU is steadier than wall on a shared machine; where the cores are saturated it becomes wall time.
    console.log(chalk.dim(`    CPU s of the tree ${fmt(a.cpu)} (plain ${fmt(pb.cpu)}: ${a.cpu >= pb.cpu ? '+' : ''}${fmt((a.cpu / pb.cpu - 1) * 100, 0)} %); peak RSS ${fmt(mb(a.peakTree))} MB (plain ${fmt(mb(pb.peakTree))} MB); output ${fmt(mb(a.outBytes))} MB (plain ${fmt(mb(pb.outBytes))} MB)`));
  }
  const c = agg.custom;
  if (c) {
    const { r, how } = judged('custom');
    console.log(`  custom / plain wall:  ${fmt(r, 3)}x (${how}; medians ${fmt(c.wall, 2)} / ${fmt(pb.wall, 2)} s)${rounds('custom')}`);
    console.log(`  custom / plain bytes: ${fmt(mb(c.outBytes))} / ${fmt(mb(pb.outBytes))} MB = ${fmt(c.outBytes / pb.outBytes, 3)}x (a custom backup has no cluster file: every database is written once, not twice)`);
    console.log(`  databases' files only: ${fmt(mb(c.dbBytes))} MB of pg_dump -Fc archives / ${fmt(mb(pb.dbBytes))} MB of .sql.gz = ${fmt(c.dbBytes / pb.dbBytes, 3)}x`);
    console.log(chalk.dim(`    peak RSS ${fmt(mb(c.peakTree))} MB (plain ${fmt(mb(pb.peakTree))} MB)`));
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
