#!/usr/bin/env zx
// Make this machine (Debian bookworm, root) ready for the test suite. Idempotent: everything is
// reused when already present, so a second run takes a few seconds.
//
//  1. Debian packages the tests need (apt-get only when something is missing).
//  2. Debian rootfs for the client majors the host lacks, under $PG_BACKUPS_DEV_CACHE (default
//     /var/cache/pg-backups-dev): rootfs/ (trixie) with postgresql-client-17 (trixie) and
//     postgresql-client-18 (sid), and rootfs-bullseye/ with postgresql-client-13 (bullseye). Each is
//     built in a temporary directory, marked complete, then renamed into place: an interrupted run
//     never leaves a half-built rootfs that looks done.
//  3. Client tool dirs <cache>/clients/<major>/bin/{pg_dump,pg_dumpall,psql,pg_restore}
//     (contract: test/helpers/clients.ts): 15 = symlinks to Debian's /usr/lib/postgresql/15/bin,
//     13, 17 and 18 = /bin/sh wrappers running the rootfs tools in a chroot.
//  4. Verifies every tool's --version major.
// Not root: installs nothing, reports what is missing and how to get it (exit 1 if anything is).
// Any failure: exit 1, with one last line `provision: FAILED: <step>: <reason>`.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { badDevices, ensureDevices, removeTree, shQuote, symlinkIfChanged, writeFileIfChanged } from './lib/fsutil.mjs';

const CACHE = path.resolve(process.env.PG_BACKUPS_DEV_CACHE || '/var/cache/pg-backups-dev');
const CLIENTS = path.join(CACHE, 'clients');
const LOG = path.join(CACHE, 'provision.log');
const MARKER = '.pg-backups-rootfs-complete'; // written last, inside the rootfs, before the rename
const MIRROR = 'http://deb.debian.org/debian';

const HOST_PACKAGES = [
  'postgresql-client', 'debootstrap', 'rsync', 'openssh-server', 'openssh-client',
  'tmux', 'procps', 'ca-certificates', 'pigz', 'awscli',
  'age', // age and age-keygen: test/encryption.test.ts decrypts backups by hand with them
  'openssl', // seed 002's `openssl enc` files (test/seed002.test.ts) and signing keys (test/signing.test.ts)
];
const TOOLS = ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore'];
const VERSION_CHECKED = ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore'];
const HOST_MAJOR = 15;
/**
 * The rootfs and what goes in each: `installs` are [suite or null for the default, package] in order.
 * A rootfs is rebuilt when a tool of one of its majors is missing.
 */
const ROOTFS_SPECS = [
  {
    name: 'rootfs',
    suite: 'trixie',
    majors: [17, 18],
    extraSources: [`deb ${MIRROR} sid main`],
    installs: [
      [null, 'postgresql-client-17'],
      ['sid', 'postgresql-client-18'],
    ],
  },
  {
    name: 'rootfs-bullseye',
    suite: 'bullseye',
    majors: [13],
    // bullseye-security (LTS) has 13.22+, with the fix of CVE-2025-8715 that bullseye's 13.16 lacks.
    extraSources: ['deb http://security.debian.org/debian-security bullseye-security main'],
    installs: [['bullseye-security', 'postgresql-client-13']],
  },
];
for (const spec of ROOTFS_SPECS) spec.path = path.join(CACHE, spec.name);
/** What a rootfs is built from: a rootfs built from another recipe is rebuilt. */
const recipeOf = (spec) => ({ suite: spec.suite, extraSources: spec.extraSources, installs: spec.installs });
const CHROOT_MAJORS = ROOTFS_SPECS.flatMap((spec) => spec.majors).sort((a, b) => a - b);
const rootfsOf = (major) => ROOTFS_SPECS.find((spec) => spec.majors.includes(major));
const hostToolPath = (tool) => `/usr/lib/postgresql/${HOST_MAJOR}/bin/${tool}`;
const chrootToolPath = (major, tool) => `/usr/lib/postgresql/${major}/bin/${tool}`;
const binDir = (major) => path.join(CLIENTS, String(major), 'bin');

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(`provision: ${msg}`);

// ---------------------------------------------------------------------------------------------
// Running commands

let currentStep = 'start';
let logFd = null; // opened on the first command that runs, so a no-op run keeps the last real log

function openLog() {
  if (logFd === null) {
    fs.mkdirSync(CACHE, { recursive: true, mode: 0o755 });
    logFd = fs.openSync(LOG, 'w');
    fs.writeSync(logFd, `scripts/provision.mjs, ${new Date().toISOString()}\n`);
  }
}

class CommandError extends Error {}

/** Run a command; output goes to the provision log (or is captured). Rejects with the tail of its output. */
function run(argv, { env = process.env, capture = false } = {}) {
  return new Promise((resolve, reject) => {
    openLog();
    fs.writeSync(logFd, `\n$ ${argv.join(' ')}\n`);
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let out = '';
    const onData = (isOut) => (buf) => {
      fs.writeSync(logFd, buf);
      if (capture && isOut) out += buf;
      tail = (tail + buf).slice(-4000);
    };
    child.stdout.on('data', onData(true));
    child.stderr.on('data', onData(false));
    child.on('error', (err) => reject(new CommandError(`${argv[0]}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(out);
      const lastLine = tail.trim().split('\n').filter((l) => l.trim()).slice(-1)[0] ?? '';
      const err = new CommandError(
        `\`${argv.slice(0, 4).join(' ')}${argv.length > 4 ? ' ...' : ''}\` ${signal ? `killed by ${signal}` : `exited ${code}`}` +
          (lastLine ? ` (${lastLine.trim()})` : ''),
      );
      err.tail = tail;
      reject(err);
    });
  });
}

/** Synchronous quick command, output captured. */
function quick(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { code: r.error ? -1 : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? r.error.message : '') };
}

// ---------------------------------------------------------------------------------------------
// Checks (shared by the root and the non-root paths)

function missingHostPackages() {
  return HOST_PACKAGES.filter((pkg) => {
    const r = quick('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg]);
    return !(r.code === 0 && r.stdout.trim() === 'installed');
  });
}

/** Why the rootfs at `root` (holding `majors`) is not usable, or null when it is complete. */
function rootfsProblem(root, majors) {
  if (!fs.existsSync(root)) return 'not built';
  if (!fs.existsSync(path.join(root, MARKER))) return 'incomplete (no completion marker)';
  const spec = ROOTFS_SPECS.find((x) => x.path === root);
  if (spec) {
    let built = null;
    try {
      built = JSON.parse(fs.readFileSync(path.join(root, MARKER), 'utf8'));
    } catch {}
    // Built from other sources or packages (an older version of this script): rebuilt. Old markers
    // of the trixie rootfs have no recipe; it is the same one.
    if (built?.recipe !== undefined && JSON.stringify(built.recipe) !== JSON.stringify(recipeOf(spec))) return 'built from another recipe';
    if (built?.recipe === undefined && spec.name !== 'rootfs') return 'built from another recipe';
  }
  for (const major of majors) {
    for (const tool of TOOLS) {
      if (!fs.existsSync(path.join(root, chrootToolPath(major, tool)))) return `incomplete (no ${chrootToolPath(major, tool)})`;
    }
  }
  return null;
}

function wrapperScript(major, tool) {
  // pg_restore reads archive and list files by path (-L, parallel -j): it runs through the rootfs's
  // own loader instead, which sees host paths (it execs nothing, unlike pg_dumpall).
  if (tool === 'pg_restore') {
    const root = rootfsOf(major).path;
    return [
      '#!/bin/sh',
      `# Generated by scripts/provision.mjs: PostgreSQL ${major} ${tool} from the Debian rootfs at ${root}.`,
      '# Runs through the rootfs loader (host paths visible); environment, streams and exit code pass through.',
      `exec ${shQuote(`${root}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`)} --library-path ${shQuote(`${root}/usr/lib/x86_64-linux-gnu`)} ${shQuote(`${root}${chrootToolPath(major, tool)}`)} "$@"`,
      '',
    ].join('\n');
  }
  return [
    '#!/bin/sh',
    `# Generated by scripts/provision.mjs: PostgreSQL ${major} ${tool} from the Debian rootfs at ${rootfsOf(major).path}.`,
    '# Runs in a chroot (needs root): stdin/stdout/stderr, environment and exit code pass through.',
    '# Host paths are not visible inside: stream through stdin/stdout, connect over TCP (127.0.0.1).',
    `exec ${CHROOT} ${shQuote(rootfsOf(major).path)} ${chrootToolPath(major, tool)} "$@"`,
    '',
  ].join('\n');
}
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => fs.existsSync(p)) ?? 'chroot';

/** Client tools that are missing or not what this script would create. */
function clientProblems() {
  const problems = [];
  for (const tool of TOOLS) {
    const link = path.join(binDir(HOST_MAJOR), tool);
    let target = null;
    try {
      target = fs.readlinkSync(link);
    } catch {}
    if (target !== hostToolPath(tool)) problems.push(link);
  }
  for (const major of CHROOT_MAJORS) {
    for (const tool of TOOLS) {
      const file = path.join(binDir(major), tool);
      let ok = false;
      try {
        ok = fs.readFileSync(file, 'utf8') === wrapperScript(major, tool) && (fs.statSync(file).mode & 0o111) !== 0;
      } catch {}
      if (!ok) problems.push(file);
    }
  }
  return problems;
}

/** Major version printed by `<bin> --version`, e.g. "pg_dump (PostgreSQL) 17.6 (Debian 17.6-0+deb13u1)". */
function versionOf(bin) {
  const r = quick(bin, ['--version'], { timeout: 30_000 });
  const m = /\(PostgreSQL\) (\d+)(\.\d+)?/.exec(r.stdout);
  if (r.code !== 0 || !m) {
    throw new Error(`\`${bin} --version\` ${r.code !== 0 ? `exited ${r.code}` : 'printed no version'}: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`);
  }
  return { major: Number(m[1]), full: `${m[1]}${m[2] ?? ''}` };
}

function verifyClients(majors) {
  const found = {};
  for (const major of majors) {
    for (const tool of VERSION_CHECKED) {
      const v = versionOf(path.join(binDir(major), tool));
      if (v.major !== major) throw new Error(`${path.join(binDir(major), tool)} is PostgreSQL ${v.full}, expected ${major}`);
      found[major] = v.full;
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Root: install / build

async function ensureHostPackages() {
  currentStep = 'checking Debian packages';
  const missing = missingHostPackages();
  if (missing.length) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    say(`installing Debian packages: ${missing.join(' ')}`);
    currentStep = 'apt-get update';
    await run(['apt-get', 'update'], { env });
    currentStep = `apt-get install ${missing.join(' ')}`;
    await run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { env });
    const still = missingHostPackages();
    if (still.length) throw new Error(`still not installed after apt-get install: ${still.join(' ')}`);
  }
  currentStep = `checking PostgreSQL ${HOST_MAJOR} client`;
  for (const tool of TOOLS) {
    if (!fs.existsSync(hostToolPath(tool))) {
      throw new Error(`${hostToolPath(tool)} is missing: postgresql-client on this host does not provide PostgreSQL ${HOST_MAJOR} (expected Debian bookworm)`);
    }
  }
  return missing;
}

/** Remove leftovers of interrupted builds (temporary dirs of processes that are gone). */
function removeStaleBuilds() {
  for (const name of fs.readdirSync(CACHE)) {
    const m = /^rootfs(?:-[a-z]+)?\.(partial|stale)-(\d+)$/.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && isProvisionAlive(pid)) continue; // a concurrent run is building it
    say(`removing leftover ${path.join(CACHE, name)}`);
    removeTree(path.join(CACHE, name));
  }
}

function isProvisionAlive(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('provision');
  } catch {
    return false;
  }
}

const chrootEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LC_ALL: 'C',
  DEBIAN_FRONTEND: 'noninteractive',
};
const inChroot = (root, argv) => run([CHROOT, root, ...argv], { env: chrootEnv });

async function ensureRootfs(spec) {
  currentStep = `checking ${spec.name}`;
  const problem = rootfsProblem(spec.path, spec.majors);
  if (!problem) return 'reused';
  removeStaleBuilds();
  if (fs.existsSync(spec.path)) {
    say(`rootfs at ${spec.path} is ${problem}: rebuilding`);
    const stale = path.join(CACHE, `${spec.name}.stale-${process.pid}`);
    fs.renameSync(spec.path, stale);
    removeTree(stale);
  }

  const tmp = path.join(CACHE, `${spec.name}.partial-${process.pid}`);
  removeTree(tmp);
  const t0 = Date.now();
  try {
    await buildRootfs(spec, tmp);
  } catch (err) {
    try {
      removeTree(tmp); // best effort; the next run removes leftovers anyway
    } catch {}
    throw err;
  }
  currentStep = `moving ${spec.name} into place`;
  try {
    fs.renameSync(tmp, spec.path);
  } catch (err) {
    // A concurrent run finished first: keep its rootfs when it is complete.
    if (!rootfsProblem(spec.path, spec.majors)) {
      removeTree(tmp);
      return 'built by a concurrent run';
    }
    throw err;
  }
  return `built in ${((Date.now() - t0) / 1000).toFixed(0)}s`;
}

/** debootstrap + clients into `tmp`; writes the completion marker last. */
async function buildRootfs(spec, tmp) {
  currentStep = `debootstrap ${spec.suite}`;
  say(`building the Debian ${spec.suite} rootfs for PostgreSQL ${spec.majors.join('/')} clients (about a minute; log: ${LOG})`);
  await run(['debootstrap', '--variant=minbase', spec.suite, tmp, MIRROR]);

  currentStep = `configuring ${spec.name}`;
  // Real device nodes: apt/dpkg scripts and the client tools use /dev/null, /dev/urandom...
  ensureDevices(tmp);
  fs.writeFileSync(
    path.join(tmp, 'etc/apt/apt.conf.d/99pg-backups'),
    [
      '// scripts/provision.mjs: the clock may be ahead of the mirror; keep the image small',
      'Acquire::Check-Valid-Until "false";',
      'Acquire::Check-Date "false";',
      'APT::Install-Recommends "false";',
      'APT::Install-Suggests "false";',
      `APT::Default-Release "${spec.suite}";`,
      '',
    ].join('\n'),
  );
  if (spec.extraSources.length > 0) fs.writeFileSync(path.join(tmp, 'etc/apt/sources.list.d/pg-backups.list'), `${spec.extraSources.join('\n')}\n`);

  await inChroot(tmp, ['apt-get', '-o', 'Acquire::Check-Valid-Until=false', 'update']);
  for (const [suite, pkg] of spec.installs) {
    currentStep = `installing ${pkg}${suite ? ` (${suite})` : ''} in ${spec.name}`;
    say(`installing ${pkg} (${suite ?? spec.suite}) in ${spec.name}`);
    await inChroot(tmp, ['apt-get', 'install', '-y', '--no-install-recommends', ...(suite ? ['-t', suite] : []), pkg]);
  }

  currentStep = `cleaning ${spec.name}`;
  await inChroot(tmp, ['apt-get', 'clean']);
  for (const dir of ['var/lib/apt/lists', 'var/cache/apt', 'var/log/apt']) {
    const p = path.join(tmp, dir);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
      for (const entry of fs.readdirSync(p)) {
        if (entry !== 'partial' && entry !== 'archives') fs.rmSync(path.join(p, entry), { recursive: true, force: true });
      }
    }
  }
  ensureDevices(tmp); // again: a maintainer script must not have replaced a node with a file

  currentStep = `finishing ${spec.name}`;
  for (const major of spec.majors) {
    for (const tool of TOOLS) {
      if (!fs.existsSync(path.join(tmp, chrootToolPath(major, tool)))) throw new Error(`${chrootToolPath(major, tool)} is missing in the new rootfs`);
    }
  }
  fs.writeFileSync(
    path.join(tmp, MARKER),
    `${JSON.stringify({ builtBy: 'scripts/provision.mjs', builtAt: new Date().toISOString(), suite: spec.suite, mirror: MIRROR, majors: spec.majors, recipe: recipeOf(spec) }, null, 2)}\n`,
  );
}

function ensureClientDirs() {
  currentStep = 'creating client tool dirs';
  const changed = [];
  const hostDir = binDir(HOST_MAJOR);
  fs.mkdirSync(hostDir, { recursive: true, mode: 0o755 });
  for (const tool of TOOLS) {
    if (symlinkIfChanged(hostToolPath(tool), path.join(hostDir, tool))) changed.push(path.join(hostDir, tool));
  }
  for (const major of CHROOT_MAJORS) {
    const dir = binDir(major);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const tool of TOOLS) {
      if (writeFileIfChanged(path.join(dir, tool), wrapperScript(major, tool), 0o755)) changed.push(path.join(dir, tool));
    }
  }
  return changed;
}

async function provisionAsRoot() {
  fs.mkdirSync(CACHE, { recursive: true, mode: 0o755 });
  const installed = await ensureHostPackages();
  const rootfs = [];
  const devices = [];
  for (const spec of ROOTFS_SPECS) {
    rootfs.push(`${spec.path} (${await ensureRootfs(spec)})`);
    currentStep = `checking device nodes in ${spec.name}`;
    devices.push(...ensureDevices(spec.path).map((d) => `${spec.name}/dev/${d}`));
  }

  const changed = ensureClientDirs();

  currentStep = 'verifying client tools';
  const versions = verifyClients([HOST_MAJOR, ...CHROOT_MAJORS]);

  say(`ready in ${elapsed()}`);
  console.log(`  Debian packages: ${installed.length ? `installed ${installed.join(' ')}` : 'all present'}`);
  for (const r of rootfs) console.log(`  rootfs:          ${r}`);
  if (devices.length) console.log(`  device nodes:    created ${devices.join(' ')}`);
  console.log(`  client tools:    ${changed.length ? `${changed.length} written` : 'unchanged'}`);
  for (const major of [HOST_MAJOR, ...CHROOT_MAJORS].sort((a, b) => a - b)) {
    console.log(`    ${major}: ${binDir(major)}  (PostgreSQL ${versions[major]}${major === HOST_MAJOR ? ', Debian host' : ', chroot'})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Not root: report only

function checkAsUser() {
  currentStep = 'checking (not root)';
  const missingPkgs = missingHostPackages();
  const rootfs = ROOTFS_SPECS.map((spec) => [spec, rootfsProblem(spec.path, spec.majors)]).filter(([, problem]) => problem);
  const clients = clientProblems();
  const devices = ROOTFS_SPECS.filter((spec) => !rootfsProblem(spec.path, spec.majors)).flatMap((spec) => badDevices(spec.path).map((d) => `${spec.name}/dev/${d}`));
  const missing = missingPkgs.length || rootfs.length || clients.length || devices.length;
  if (missing) {
    say('not running as root, so nothing was installed. Missing:');
    if (missingPkgs.length) {
      console.log(`  Debian packages: ${missingPkgs.join(' ')}`);
      console.log(`    get them: sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missingPkgs.join(' ')}`);
    }
    for (const [spec, problem] of rootfs) console.log(`  ${spec.suite} rootfs with PostgreSQL ${spec.majors.join('/')} clients at ${spec.path}: ${problem}`);
    if (devices.length) console.log(`  device nodes: ${devices.join(' ')}`);
    if (clients.length) {
      const byDir = new Map();
      for (const f of clients) byDir.set(path.dirname(f), [...(byDir.get(path.dirname(f)) ?? []), path.basename(f)]);
      for (const [dir, names] of byDir) console.log(`  client tools in ${dir}: ${names.join(' ')}`);
    }
    console.log('  fix: run the provisioning as root: sudo npx zx scripts/provision.mjs  (or sudo npm run provision)');
    return 1;
  }
  const versions = verifyClients([HOST_MAJOR]);
  say(`all present (${elapsed()}); PostgreSQL ${versions[HOST_MAJOR]} verified.`);
  console.log(`  note: the ${CHROOT_MAJORS.join('/')} wrappers in ${CLIENTS}/<major>/bin use chroot and only run as root.`);
  return 0;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (process.getuid?.() !== 0) return checkAsUser();
  await provisionAsRoot();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err?.tail) process.stderr.write(`--- last output (full log: ${LOG}) ---\n${err.tail.trimEnd().split('\n').slice(-15).join('\n')}\n---\n`);
    process.stderr.write(`provision: FAILED: ${currentStep}: ${String(err?.message ?? err).split('\n')[0]}\n`);
    process.exit(1);
  },
);
